//! Reading beneath the root. [`Root`] is also the handle `write.rs`
//! replaces files through.

use std::fs;
use std::path::{Path, PathBuf};

use super::WorkspaceError;
use super::walk::Candidate;

/// The root directory as an open handle. Paths are resolved beneath it
/// (cap-std: no `..` or link leads out), so the files the walk found are
/// read and replaced inside the root even if a directory on the way is
/// swapped for a link to somewhere else afterwards.
pub(crate) struct Root {
    pub(super) dir: cap_std::fs::Dir,
    real: PathBuf,
}

impl Root {
    pub(crate) fn open(root: &Path) -> Result<Root, WorkspaceError> {
        let io = |source| WorkspaceError::Io {
            path: root.display().to_string(),
            action: "opening the root directory",
            source,
        };
        let real = fs::canonicalize(root).map_err(io)?;
        let dir =
            cap_std::fs::Dir::open_ambient_dir(&real, cap_std::ambient_authority()).map_err(io)?;
        Ok(Root { dir, real })
    }

    /// `real` relative to the root (candidates' real paths are inside it).
    pub(super) fn relative<'p>(&self, real: &'p Path) -> &'p Path {
        real.strip_prefix(&self.real).unwrap_or(real)
    }

    /// Opens a candidate for reading, beneath the root.
    fn open_file(&self, candidate: &Candidate) -> std::io::Result<fs::File> {
        Ok(self.dir.open(self.relative(&candidate.real))?.into_std())
    }

    /// Reads a candidate into `buffer`, refusing large ones before reading.
    pub(crate) fn read(
        &self,
        candidate: &Candidate,
        limit: u64,
        buffer: &mut Vec<u8>,
    ) -> Result<(), WorkspaceError> {
        use std::io::Read;
        let io = |action, source| WorkspaceError::Io {
            path: candidate.display.clone(),
            action,
            source,
        };
        let file = self.open_file(candidate).map_err(|e| io("opening", e))?;
        let meta = file.metadata().map_err(|e| io("reading", e))?;
        if !meta.is_file() {
            return Err(WorkspaceError::NotARegularFile {
                path: candidate.display.clone(),
                what: "not a regular file",
            });
        }
        if meta.len() > limit {
            return Err(WorkspaceError::TooLarge {
                path: candidate.display.clone(),
                size: meta.len(),
                limit,
            });
        }
        buffer.clear();
        // `take` guards against a file that grows while we read it.
        file.take(limit + 1)
            .read_to_end(buffer)
            .map_err(|e| io("reading", e))?;
        if buffer.len() as u64 > limit {
            return Err(WorkspaceError::TooLarge {
                path: candidate.display.clone(),
                size: buffer.len() as u64,
                limit,
            });
        }
        Ok(())
    }
}
