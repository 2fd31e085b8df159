//! What can go wrong around the edit: the paths, the files as files, and a
//! request that matches nothing; a problem inside a file's text is the edit
//! core's [`EditError`], carried with its place.

use std::path::Path;

use crate::edit::EditError;
use crate::location::Location;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A file's text could not be edited (at a file:line:column).
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error("{path}: the path leaves the root directory")]
    PathOutsideRoot { path: String },
    #[error("{path}: a symbolic link leads outside the root directory")]
    SymlinkOutsideRoot { path: String },
    #[error("{path}: is {what}, not a file or directory")]
    NotARegularFile { path: String, what: &'static str },
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: the file has {size} bytes, more than the limit of {limit}")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: {action}: {source}")]
    Io {
        path: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("no manifest refers to {}", .images.join(", "))]
    NoMatch { images: Vec<String> },
}

impl WorkspaceError {
    /// The same error with its file shown under `base` (`set-image` on
    /// paths outside the current directory shows them with their directory).
    pub fn shown_under(mut self, base: &Path) -> Self {
        use WorkspaceError::*;
        match &mut self {
            Edit(e) => e.at.file = base.join(&e.at.file).display().to_string(),
            PathOutsideRoot { path: file }
            | SymlinkOutsideRoot { path: file }
            | NotARegularFile { path: file, .. }
            | NotFound { path: file }
            | TooLarge { path: file, .. }
            | Io { path: file, .. } => *file = base.join(&*file).display().to_string(),
            NoMatch { .. } => {}
        }
        self
    }

    /// Where the problem is, when it is inside a file's text.
    pub(crate) fn location(&self) -> Option<Location> {
        match self {
            WorkspaceError::Edit(e) => Some(e.at.clone()),
            _ => None,
        }
    }

    pub(crate) fn hint(&self) -> Option<String> {
        use WorkspaceError::*;
        Some(match self {
            Edit(e) => e.error.hint(),
            PathOutsideRoot { .. } => "give paths inside the repository (relative to it, without `..` leading out)".into(),
            SymlinkOutsideRoot { .. } => "replace the link with the file, or point it inside the repository".into(),
            NotARegularFile { .. } => "give a manifest file or a directory".into(),
            NotFound { .. } => "check the path: it is relative to the repository root".into(),
            TooLarge { .. } => "raise --max-file-size, or exclude the file (generated manifests rarely need bumping)".into(),
            Io { .. } => "check the file's permissions and the disk".into(),
            NoMatch { .. } => format!(
                "check the image name for typos (names match after normalization: nginx = docker.io/library/nginx), add a marker comment, or {}",
                if crate::actions::in_actions() {
                    format!("set {}", crate::config::setting("allow-no-match", "true"))
                } else {
                    "pass --allow-no-match (`gitops-bump run`: --allow-no-match true)".into()
                }
            ),
        })
    }
}
