//! A real bare git repository driven with the git CLI's plumbing, so the
//! fake API serves true history, content and compare-and-swap ref updates.

use std::path::{Path, PathBuf};

use crate::git::{git, git_with};

pub struct BareRepo {
    pub path: PathBuf,
}

/// Who commits with plumbing here unless a commit says otherwise.
const HUMAN: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Test Human"),
    ("GIT_AUTHOR_EMAIL", "human@example.com"),
    ("GIT_COMMITTER_NAME", "Test Human"),
    ("GIT_COMMITTER_EMAIL", "human@example.com"),
];

/// [`git_with`] in `repo` as [`HUMAN`], plus `env`.
fn git_as_human(repo: &Path, args: &[&str], env: &[(&str, &str)], input: Option<&[u8]>) -> String {
    let env: Vec<(&str, &str)> = HUMAN.iter().chain(env).copied().collect();
    git_with(repo, args, &env, input)
}

impl BareRepo {
    pub fn init(path: &Path) -> BareRepo {
        crate::git::init_bare(path);
        BareRepo {
            path: path.to_path_buf(),
        }
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_as_human(&self.path, args, &[], None)
    }

    /// Commits `files` (path, content) on top of `branch` with plumbing and
    /// moves the branch with a compare-and-swap. Returns the new commit.
    pub fn commit(&self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        self.commit_by(branch, files, message, ("Test Human", "human@example.com"))
    }

    /// Like [`BareRepo::commit`], authored by `author` (name, email).
    pub fn commit_by(
        &self,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
        author: (&str, &str),
    ) -> String {
        let index_dir = tempfile::tempdir().unwrap();
        let index = index_dir.path().join("index");
        let index = index.to_str().unwrap();
        let env = [("GIT_INDEX_FILE", index)];
        let reference = format!("refs/heads/{branch}");
        // Empty when the branch does not exist yet.
        let parent = git(
            &self.path,
            &["for-each-ref", "--format=%(objectname)", &reference],
        );
        if !parent.is_empty() {
            git_as_human(&self.path, &["read-tree", &parent], &env, None);
        }
        for (path, content) in files {
            let sha = git_as_human(
                &self.path,
                &["hash-object", "-w", "--stdin"],
                &[],
                Some(content.as_bytes()),
            );
            git_as_human(
                &self.path,
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("100644,{sha},{path}"),
                ],
                &env,
                None,
            );
        }
        let tree = git_as_human(&self.path, &["write-tree"], &env, None);
        let mut args = vec!["commit-tree", tree.as_str(), "-F", "-"];
        if !parent.is_empty() {
            args.extend(["-p", parent.as_str()]);
        }
        let who = [
            ("GIT_AUTHOR_NAME", author.0),
            ("GIT_AUTHOR_EMAIL", author.1),
        ];
        let commit = git_as_human(&self.path, &args, &who, Some(message.as_bytes()));
        let old = if parent.is_empty() {
            "0000000000000000000000000000000000000000".to_string()
        } else {
            parent
        };
        git_as_human(
            &self.path,
            &["update-ref", &reference, &commit, &old],
            &[],
            None,
        );
        commit
    }

    pub fn head(&self, branch: &str) -> String {
        self.git(&["rev-parse", &format!("refs/heads/{branch}")])
    }

    pub fn show(&self, rev: &str, path: &str) -> String {
        self.git(&["show", &format!("{rev}:{path}")])
    }

    pub fn message(&self, rev: &str) -> String {
        self.git(&["log", "-1", "--format=%B", rev])
    }

    /// The `head_commit` part of a `push` event for `rev`, as the runner
    /// writes it to `GITHUB_EVENT_PATH`.
    pub fn push_event(&self, rev: &str) -> serde_json::Value {
        let name = self.git(&["log", "-1", "--format=%an", rev]);
        let email = self.git(&["log", "-1", "--format=%ae", rev]);
        let (mut added, mut modified, mut removed) = (vec![], vec![], vec![]);
        let changes = self.git(&[
            "diff-tree",
            "--root",
            "--no-commit-id",
            "-r",
            "--name-status",
            rev,
        ]);
        for line in changes.lines() {
            let (status, path) = line.split_once('\t').unwrap();
            match status {
                "A" => added.push(path.to_string()),
                "D" => removed.push(path.to_string()),
                _ => modified.push(path.to_string()),
            }
        }
        serde_json::json!({
            "ref": "refs/heads/main",
            "after": self.git(&["rev-parse", rev]),
            "head_commit": {
                "id": self.git(&["rev-parse", rev]),
                "message": self.message(rev),
                "author": {"name": name, "email": email},
                "added": added, "modified": modified, "removed": removed,
            }
        })
    }

    pub fn count(&self, rev: &str) -> usize {
        self.git(&["rev-list", "--count", rev]).parse().unwrap()
    }
}
