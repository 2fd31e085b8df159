//! "Does the revision Argo CD synced contain our commit?" When another
//! pipeline pushed on top of ours before the controller looked, Argo CD
//! deploys that newer commit, and ours is deployed with it.
//!
//! Answered from git history: the branch is fetched (once per unknown
//! revision) into a scratch repository and `graph_descendant_of` decides.

use std::collections::HashMap;

use git2::{Oid, Repository};

use crate::secret::Secret;
use crate::write_back::git::remote::{RemoteLocation, fetch};

/// Fetches the written branch on demand to compare commits.
pub(crate) struct GitAncestry {
    location: Option<RemoteLocation>,
    branch: Option<String>,
    token: Option<Secret>,
    scratch: Option<(tempfile::TempDir, Repository)>,
    known: HashMap<(String, String), Option<bool>>,
}

impl GitAncestry {
    /// For the repository the write-back wrote to: `repository`, else the
    /// checkout's `origin`.
    pub(crate) fn new(
        location: Option<RemoteLocation>,
        branch: Option<String>,
        token: Option<Secret>,
    ) -> GitAncestry {
        GitAncestry {
            location,
            branch,
            token,
            scratch: None,
            known: HashMap::new(),
        }
    }

    /// Whether `revision` is `ours` or a descendant of it; `None` when
    /// history cannot tell (no remote, fetch failed, not a commit id).
    pub(crate) fn contains(&mut self, revision: &str, ours: &str) -> Option<bool> {
        let key = (revision.to_string(), ours.to_string());
        if let Some(answer) = self.known.get(&key) {
            return *answer;
        }
        let (answer, lasting) = self.decide(revision, ours);
        // History never changes: an answer, or "not on the branch" after a
        // fetch that worked, holds; a failed fetch is tried again.
        if lasting {
            self.known.insert(key, answer);
        }
        answer
    }

    fn decide(&mut self, revision: &str, ours: &str) -> (Option<bool>, bool) {
        let (Ok(revision), Ok(ours)) = (Oid::from_str(revision), Oid::from_str(ours)) else {
            // A chart version of a multi-source Application, say.
            return (None, true);
        };
        if revision == ours {
            return (Some(true), true);
        }
        let Some(location) = self.location.clone() else {
            return (None, true);
        };
        if self.scratch.is_none() {
            let Ok(dir) = tempfile::tempdir() else {
                return (None, false);
            };
            let Ok(repo) = Repository::init_bare(dir.path()) else {
                return (None, false);
            };
            self.scratch = Some((dir, repo));
        }
        let Some((_, repo)) = self.scratch.as_ref() else {
            return (None, false);
        };
        let present = |repo: &Repository| {
            repo.find_commit(revision).is_ok() && repo.find_commit(ours).is_ok()
        };
        if !present(repo) {
            let fetched = fetch(
                repo,
                &location,
                self.branch.as_deref(),
                self.token.as_ref(),
                None,
            );
            if let Err(e) = fetched {
                tracing::debug!("ancestry fetch failed: {e}");
                return (None, false);
            }
            if !present(repo) {
                return (Some(false), true);
            }
        }
        (repo.graph_descendant_of(revision, ours).ok(), true)
    }
}
