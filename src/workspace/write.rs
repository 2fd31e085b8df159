//! The all-or-nothing write: every changed file is staged next to itself
//! before any is replaced, so a failure leaves every original intact.

use std::path::PathBuf;

use super::WorkspaceError;
use super::root::Root;

impl Root {
    /// Replaces every file with its new bytes: all temporary files first
    /// (next to each file, with its permissions), then all renames, so a
    /// failure while writing leaves every original intact. `pending` holds
    /// (real path, display path, bytes).
    pub(crate) fn replace_all(
        &self,
        pending: &[(PathBuf, String, Vec<u8>)],
    ) -> Result<(), WorkspaceError> {
        use std::io::Write;
        let mut staged = Staged::default();
        for (n, (real, display, bytes)) in pending.iter().enumerate() {
            let io = |action, source| WorkspaceError::Io {
                path: display.clone(),
                action,
                source,
            };
            let relative = self.relative(real);
            let name = relative
                .file_name()
                .map(PathBuf::from)
                .ok_or_else(|| io("writing", std::io::ErrorKind::InvalidInput.into()))?;
            let dir = match relative.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(parent) => self.dir.open_dir(parent),
                None => self.dir.try_clone(),
            }
            .map_err(|e| io("opening the directory", e))?;
            let perms = dir
                .symlink_metadata(&name)
                .map_err(|e| io("reading permissions", e))?;
            if !perms.is_file() {
                return Err(WorkspaceError::NotARegularFile {
                    path: display.clone(),
                    what: "no longer a regular file",
                });
            }
            let tmp = PathBuf::from(format!(".gitops-bump-{}-{n}.tmp", std::process::id()));
            let mut file = dir
                .open_with(
                    &tmp,
                    cap_std::fs::OpenOptions::new().write(true).create_new(true),
                )
                .map_err(|e| io("creating a temporary file", e))?;
            staged
                .files
                .push((dir.try_clone().map_err(|e| io("writing", e))?, tmp.clone()));
            file.write_all(bytes).map_err(|e| io("writing", e))?;
            file.set_permissions(perms.permissions())
                .map_err(|e| io("setting permissions", e))?;
            file.sync_all().map_err(|e| io("writing", e))?;
            staged.renames.push((dir, tmp, name, display.clone()));
        }
        for (dir, tmp, name, display) in staged.renames.drain(..) {
            dir.rename(&tmp, &dir, &name)
                .map_err(|source| WorkspaceError::Io {
                    path: display.clone(),
                    action: "replacing",
                    source,
                })?;
        }
        staged.files.clear();
        Ok(())
    }
}

/// Temporary files not yet renamed; removed if the write stops early.
#[derive(Default)]
struct Staged {
    files: Vec<(cap_std::fs::Dir, PathBuf)>,
    renames: Vec<(cap_std::fs::Dir, PathBuf, PathBuf, String)>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (dir, tmp) in &self.files {
            let _ = dir.remove_file(tmp);
        }
    }
}
