//! The edit engine: a pure function from file bytes and an edit request to
//! new bytes plus the list of changes, and a thin shell that walks paths,
//! reads files and writes them atomically.
//!
//! INTERFACE (fixed by the foundation; the engine fills it in).

use std::path::{Path, PathBuf};

use crate::error::Location;
use crate::spec::ImageSpec;

/// What to change.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub specs: Vec<ImageSpec>,
    /// Extra Helm values key paths holding an image (`app.image`).
    pub values_paths: Vec<String>,
    /// Succeed even when a SPEC matches nothing.
    pub allow_no_match: bool,
    /// Files larger than this are an error (default 10 MiB).
    pub max_file_size: u64,
}

pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Which kind of target a change was made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Kustomization,
    Workload,
    HelmValues,
    Compose,
    ArgoCd,
    Marker,
}

/// One edited scalar.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Path relative to the edit root, `/`-separated.
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub kind: TargetKind,
    /// The SPEC's NAME as given (`ghcr.io/org/app`).
    pub image: String,
    /// The scalar before and after (a full reference, a tag, a digest or a name).
    pub old: String,
    pub new: String,
    pub old_tag: Option<String>,
    pub old_digest: Option<String>,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub new_digest: Option<String>,
}

/// The result of editing a set of files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditReport {
    pub changes: Vec<Change>,
    /// Files whose bytes changed, relative to the root, sorted.
    pub files: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("not implemented yet: the edit engine")]
    NotImplemented,
}

impl EditError {
    pub fn location(&self) -> Option<Location> {
        None
    }

    pub fn hint(&self) -> Option<String> {
        None
    }
}

/// Applies `request` to every supported file under `paths` (relative to
/// `root`, which they may not escape). With `write == false` nothing is
/// written (for `--check` and dry runs). Either every changed file is
/// written or none is.
pub fn apply(
    root: &Path,
    paths: &[PathBuf],
    request: &EditRequest,
    write: bool,
) -> Result<EditReport, EditError> {
    let _ = (root, paths, request, write);
    Err(EditError::NotImplemented)
}
