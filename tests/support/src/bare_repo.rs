//! A real bare git repository driven with the git CLI's plumbing, so the
//! fake API serves true history, content and compare-and-swap ref updates.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct BareRepo {
    pub path: PathBuf,
}

pub fn git(dir: &Path, args: &[&str], env: &[(&str, &str)], input: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut cmd = Command::new("git");
    cmd.env("GIT_DIR", dir)
        .env("GIT_AUTHOR_NAME", "Test Human")
        .env("GIT_AUTHOR_EMAIL", "human@example.com")
        .env("GIT_COMMITTER_NAME", "Test Human")
        .env("GIT_COMMITTER_EMAIL", "human@example.com")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(bytes) = input {
        stdin.write_all(bytes).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

impl BareRepo {
    pub fn init(path: &Path) -> BareRepo {
        let out = Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success());
        BareRepo {
            path: path.to_path_buf(),
        }
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.path, args, &[], None)
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
        let parent = Command::new("git")
            .env("GIT_DIR", &self.path)
            .args(["rev-parse", "--verify", "-q", &reference])
            .output()
            .unwrap();
        let parent = String::from_utf8(parent.stdout).unwrap().trim().to_string();
        if !parent.is_empty() {
            git(&self.path, &["read-tree", &parent], &env, None);
        }
        for (path, content) in files {
            let sha = git(
                &self.path,
                &["hash-object", "-w", "--stdin"],
                &[],
                Some(content.as_bytes()),
            );
            git(
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
        let tree = git(&self.path, &["write-tree"], &env, None);
        let mut args = vec!["commit-tree", tree.as_str(), "-F", "-"];
        if !parent.is_empty() {
            args.extend(["-p", parent.as_str()]);
        }
        let who = [
            ("GIT_AUTHOR_NAME", author.0),
            ("GIT_AUTHOR_EMAIL", author.1),
        ];
        let commit = git(&self.path, &args, &who, Some(message.as_bytes()));
        let old = if parent.is_empty() {
            "0000000000000000000000000000000000000000".to_string()
        } else {
            parent
        };
        git(
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
