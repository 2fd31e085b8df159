//! Turning an edit into a git commit: a tree that differs from the parent
//! only in the files the edit changed, the signature, and the unified diff
//! for dry runs. The message comes from [`crate::write_back::message`].

use std::path::{Component, Path};

use git2::build::TreeUpdateBuilder;
use git2::{DiffFormat, DiffOptions, FileMode, Oid, Repository, Signature, Tree};

use super::GitError;

/// Checks a path reported by the edit: relative, `/`-separated, inside the
/// work tree. The edit engine promises this; we check because we are about
/// to read and commit whatever it names.
pub(crate) fn checked_path(file: &str) -> Result<&Path, GitError> {
    let path = Path::new(file);
    let inside = !file.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if inside {
        Ok(path)
    } else {
        Err(GitError::PathOutsideRepository {
            path: file.to_string(),
        })
    }
}

/// A tree equal to `base` except for `files`, read from the work tree.
/// Built without the index, so anything else a user staged stays out.
pub(crate) fn tree_with_files(
    repo: &Repository,
    workdir: &Path,
    base: &Tree<'_>,
    files: &[String],
) -> Result<Oid, GitError> {
    let mut update = TreeUpdateBuilder::new();
    for file in files {
        let relative = checked_path(file)?;
        let absolute = workdir.join(relative);
        match std::fs::symlink_metadata(&absolute) {
            Ok(meta) => {
                let bytes = std::fs::read(&absolute).map_err(|source| GitError::Read {
                    path: file.clone(),
                    source,
                })?;
                let blob = repo.blob(&bytes).map_err(GitError::Commit)?;
                let mode = match base.get_path(relative) {
                    Ok(entry) if entry.filemode() == i32::from(FileMode::BlobExecutable) => {
                        FileMode::BlobExecutable
                    }
                    Ok(_) => FileMode::Blob,
                    Err(_) if is_executable(&meta) => FileMode::BlobExecutable,
                    Err(_) => FileMode::Blob,
                };
                update.upsert(file.as_str(), blob, mode);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                update.remove(file.as_str());
            }
            Err(source) => {
                return Err(GitError::Read {
                    path: file.clone(),
                    source,
                });
            }
        }
    }
    update.create_updated(repo, base).map_err(GitError::Commit)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Author and committer, stamped now.
pub(crate) fn signature(name: &str, email: &str) -> Result<Signature<'static>, GitError> {
    Signature::now(name, email).map_err(|source| GitError::Identity {
        name: name.to_string(),
        email: email.to_string(),
        source,
    })
}

/// The unified diff between two trees, limited to `files`.
pub(crate) fn unified_diff(
    repo: &Repository,
    old: &Tree<'_>,
    new: &Tree<'_>,
    files: &[String],
) -> Result<String, GitError> {
    let mut options = DiffOptions::new();
    for f in files {
        options.pathspec(f);
    }
    options.disable_pathspec_match(true);
    let diff = repo
        .diff_tree_to_tree(Some(old), Some(new), Some(&mut options))
        .map_err(GitError::Commit)?;
    let mut out = String::new();
    diff.print(DiffFormat::Patch, |_delta, _hunk, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin());
        }
        out.push_str(&String::from_utf8_lossy(line.content()));
        true
    })
    .map_err(GitError::Commit)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_stay_inside_the_work_tree() {
        for ok in ["a.yaml", "apps/prod/kustomization.yaml"] {
            assert!(checked_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../a.yaml", "/etc/passwd", "apps/../../x", "./a.yaml"] {
            assert!(checked_path(bad).is_err(), "{bad}");
        }
    }
}
