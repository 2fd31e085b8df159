//! What the remote must look like after racing runs, judged with the
//! reference git CLI on the bare repository itself: reported commits are
//! on the branch, the branch only ever moved forward (its reflog), and the
//! object store is sound. Every violation of a round is collected, then
//! reported at once.

use std::path::Path;

use test_support::git::{git, git_output};

/// The violations of one round, named by what the round was.
pub struct Violations {
    what: String,
    found: Vec<String>,
}

impl Violations {
    pub fn new(what: String) -> Violations {
        Violations {
            what,
            found: Vec::new(),
        }
    }

    pub fn push(&mut self, violation: String) {
        self.found.push(violation);
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// `Err` with every violation, one a line, under the round's name.
    pub fn into_result(self) -> Result<(), String> {
        if self.found.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{}: {} violation(s):\n  {}",
            self.what,
            self.found.len(),
            self.found.join("\n  ")
        ))
    }
}

/// Asserts once for every round's violations.
pub fn assert_all(results: Vec<Result<(), String>>) {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Whether the git CLI succeeds (a question, not a precondition).
pub fn git_succeeds(dir: &Path, args: &[&str]) -> bool {
    git_output(dir, args).status.success()
}

pub fn is_ancestor(bare: &Path, old: &str, new: &str) -> bool {
    git_succeeds(bare, &["merge-base", "--is-ancestor", old, new])
}

/// Makes git record every move of every ref in the bare repository
/// (`logs/refs/heads/main`), whoever moves it.
pub fn enable_reflog(bare: &Path) {
    git(bare, &["config", "core.logAllRefUpdates", "always"]);
}

/// The (old, new) pairs of `refs/heads/main`'s reflog, oldest first.
pub fn reflog(bare: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(bare.join("logs/refs/heads/main"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.to_string()))
        })
        .collect()
}

pub fn commit_count(bare: &Path) -> usize {
    git(bare, &["rev-list", "--count", "refs/heads/main"])
        .parse()
        .expect("a count")
}

/// The branch at the start of a round, to judge the round against.
pub struct Before {
    pub count: usize,
    pub reflog_len: usize,
}

impl Before {
    pub fn take(bare: &Path) -> Before {
        Before {
            count: commit_count(bare),
            reflog_len: reflog(bare).len(),
        }
    }
}

/// The branch gained exactly `commits` commits; every move since `before`
/// went forward (each new entry's old value is an ancestor of its new one,
/// and each entry starts where the previous one ended: nothing moved the
/// branch without a trace); `git fsck --strict` is clean.
pub fn history(bare: &Path, before: &Before, commits: usize, v: &mut Violations) {
    let count = commit_count(bare);
    if count != before.count + commits {
        v.push(format!(
            "the branch gained {} commit(s), expected exactly {commits} (one per bump)",
            count as i64 - before.count as i64
        ));
    }
    let log = reflog(bare);
    let new_entries = log.len().saturating_sub(before.reflog_len);
    if new_entries < commits {
        v.push(format!(
            "the remote's reflog recorded {new_entries} move(s) of main for {commits} bump(s)"
        ));
    }
    let zero = "0".repeat(40);
    for (k, (old, new)) in log.iter().enumerate().skip(before.reflog_len) {
        if *old != zero && !is_ancestor(bare, old, new) {
            v.push(format!(
                "non-fast-forward move of main in the remote's reflog: {old} -> {new}"
            ));
        }
        if let Some((_, previous_new)) = k.checked_sub(1).map(|p| &log[p])
            && previous_new != old
        {
            v.push(format!(
                "main moved from {previous_new} to {old} without a reflog entry (a ref rewritten behind git's back)"
            ));
        }
    }
    let tip = git(bare, &["rev-parse", "refs/heads/main"]);
    if log.last().is_some_and(|(_, new)| *new != tip) {
        v.push(format!(
            "main is at {tip}, but its reflog ends elsewhere (a ref rewritten behind git's back)"
        ));
    }
    fsck(bare, v);
}

pub fn fsck(bare: &Path, v: &mut Violations) {
    let out = git_output(bare, &["fsck", "--strict", "--no-dangling"]);
    if !out.status.success() {
        v.push(format!(
            "git fsck --strict on the remote: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
}

/// A reported `commit-sha` exists in the remote and is on the branch.
pub fn commit_on_branch(bare: &Path, label: &str, sha: &str, v: &mut Violations) {
    if sha.is_empty() {
        v.push(format!("{label}: changed=true but no commit-sha"));
    } else if !is_ancestor(bare, sha, "refs/heads/main") {
        v.push(format!(
            "{label}: reported commit-sha {sha} is not an ancestor of the final tip (lost update)"
        ));
    }
}

/// `gitops-bump-*` entries directly under `tmpdir` (temporary clones left
/// behind).
pub fn temp_clones(tmpdir: &Path) -> Vec<String> {
    std::fs::read_dir(tmpdir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("gitops-bump-"))
                .collect()
        })
        .unwrap_or_default()
}
