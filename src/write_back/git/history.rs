//! The newer-wins guard's evidence in git: the workflow run that last bumped
//! an image in a file, read from the `Bumped-Image`/`Bumped-By-Run`
//! trailers along first-parent history. The decision itself is
//! [`crate::guard::stale_reason`]; this walk is what the git transport's
//! [`crate::write_back::Transport::last_bumped_run`] runs (deepening a
//! shallow clone when the walk reaches its boundary).

use std::path::Path;

use super::GitError;
use crate::guard::RunId;
use crate::write_back::message::bumped_by_run;

/// What walking history found for one file and image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastBump {
    /// The newest commit that changed the file and names the image.
    Found { run: RunId, commit: String },
    /// History was walked to its root: no bump commit for this image.
    NotFound,
    /// The walk hit a shallow boundary first: deepen the fetch and ask again.
    Shallow,
}

impl LastBump {
    /// The run, when one was found; history that ends without a bump (or
    /// cannot be deepened further) is no evidence.
    pub(crate) fn run(&self) -> Option<RunId> {
        match self {
            LastBump::Found { run, .. } => Some(*run),
            LastBump::NotFound | LastBump::Shallow => None,
        }
    }
}

/// Walks first-parent history from `start` and returns the run recorded by
/// the newest commit that changed `file` and names `image` in its trailers.
/// Commits that changed the file by hand (no trailers) are skipped: only a
/// bump records which build it deployed. At most `max_commits` commits are
/// read, so a huge repository costs a bounded walk.
pub fn last_bumped_run(
    repo: &git2::Repository,
    start: git2::Oid,
    file: &Path,
    image: &str,
    max_commits: usize,
) -> Result<LastBump, GitError> {
    let err = |source| GitError::History {
        file: file.display().to_string(),
        source,
    };
    let shallow_roots = shallow_roots(repo);
    let mut walk = repo.revwalk().map_err(err)?;
    walk.push(start).map_err(err)?;
    walk.simplify_first_parent().map_err(err)?;
    for oid in walk.take(max_commits) {
        let oid = oid.map_err(err)?;
        let commit = repo.find_commit(oid).map_err(err)?;
        // A shallow root's parent is missing, so whether it changed the
        // file is unknown: deepen instead of guessing.
        if shallow_roots.contains(&oid) {
            return Ok(LastBump::Shallow);
        }
        let here = blob_at(&commit, file);
        let before = commit.parent(0).ok().and_then(|p| blob_at(&p, file));
        let message = String::from_utf8_lossy(commit.message_bytes());
        if here != before
            && let Some(run) = bumped_by_run(&message, image)
        {
            return Ok(LastBump::Found {
                run,
                commit: oid.to_string(),
            });
        }
    }
    Ok(LastBump::NotFound)
}

fn blob_at(commit: &git2::Commit<'_>, file: &Path) -> Option<git2::Oid> {
    commit.tree().ok()?.get_path(file).ok().map(|e| e.id())
}

/// The grafted roots of a shallow clone, listed in `.git/shallow` (none
/// when the file is absent: history is whole). Read from the file each
/// time, so a fetch that just cut or deepened history is seen at once.
pub(super) fn shallow_roots(repo: &git2::Repository) -> Vec<git2::Oid> {
    std::fs::read_to_string(repo.path().join("shallow"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| git2::Oid::from_str(l.trim()).ok())
        .collect()
}
