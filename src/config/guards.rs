//! The guards section: what tells a run started by our own bump commit
//! (which must stop, not bump again) from any other.

use std::path::PathBuf;

use super::{EditOptions, WriteBackOptions};

/// What the self-trigger guard compares the trigger commit with.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// The identity our bump commits carry (`author-name`, `author-email`).
    pub author_name: String,
    pub author_email: String,
    /// The paths a bump touches (`paths`).
    pub paths: Vec<PathBuf>,
}

impl GuardOptions {
    pub(super) fn new(edit: &EditOptions, write_back: &WriteBackOptions) -> Self {
        GuardOptions {
            author_name: write_back.author_name.clone(),
            author_email: write_back.author_email.clone(),
            paths: edit.paths.clone(),
        }
    }
}
