//! Git write-back: commit the edit and push it, re-applying the edit on the
//! new tip when another pipeline won the race; or open a pull request.
//!
//! INTERFACE (fixed by the foundation; the write-back issue fills it in).

use std::path::Path;

use crate::config::Config;
use crate::edit::{EditError, EditReport};

/// What the write-back did.
#[derive(Debug, Clone, Default)]
pub struct WriteBackResult {
    pub changed: bool,
    pub commit_sha: Option<String>,
    pub attempts: u32,
    pub pull_request_url: Option<String>,
    pub pull_request_number: Option<u64>,
    /// The edit as applied on the tip that was finally pushed.
    pub report: EditReport,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("not implemented yet: git write-back")]
    NotImplemented,
    #[error(transparent)]
    Edit(#[from] EditError),
}

impl GitError {
    pub fn hint(&self) -> Option<String> {
        None
    }
}

/// Runs `edit` in the work tree (a checkout or a fresh clone), commits and
/// pushes. `edit` is called again on every retry, on the new tip.
pub fn write_back(
    config: &Config,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
) -> Result<WriteBackResult, GitError> {
    let _ = (config, edit);
    Err(GitError::NotImplemented)
}
