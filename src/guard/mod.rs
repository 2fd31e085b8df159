//! Guards that stop a run from doing harm by bumping: the newer-wins guard
//! (an older build finishing late must not roll production back) and the
//! self-trigger guard (a bump commit must not start the pipeline that bumps
//! again).
//!
//! Each guard is a policy that decides from plain values and neither reads
//! nor prints: `semver` orders tags, `newer_wins` decides whether a change
//! moves forward, `self_trigger` decides whether a skip marker is kept and
//! whether this run was started by our own bump. What they decide on is
//! gathered elsewhere: the history by the write-back transports
//! ([`crate::write_back::git::history`], the commits API), the trailers by
//! [`crate::write_back::message`], the event payload by the run's
//! environment ([`crate::run_env::RunEnv::trigger_commit`], parsed once), and
//! the caller reports a skipped run. [`read_trigger_commit`] below, the one
//! function here that reads a file, reads an event file for a caller
//! without a `RunEnv`.
//!
//! # Newer wins
//!
//! A run never replaces a value newer than its own. When both the deployed
//! tag and the new tag are semantic versions (an optional `v` prefix,
//! pre-release ordering per semver 2.0, build metadata ignored) they are
//! compared. Otherwise (commit SHAs, `latest`, digests only) the order is the
//! workflow run that made each value: every bump commit carries the trailers
//!
//! ```text
//! Bumped-Image: ghcr.io/org/app
//! Bumped-By-Run: 1234.1
//! ```
//!
//! (`GITHUB_RUN_NUMBER`.`GITHUB_RUN_ATTEMPT`), and the last commit that
//! changed a file's value for an image is found by walking history. Run
//! numbers only grow within one workflow, so a smaller number is an older
//! build. History is read only when tags cannot be compared and this run's
//! number is known (outside Actions only semantic versions decide).
//!
//! A stale run changes nothing, exits 0, sets `changed=false` and the
//! `skipped-reason` output, and writes a `::notice`.
//!
//! ## Rolling back on purpose
//!
//! The guard would refuse a rollback too, so a rollback turns it off:
//!
//! ```yaml
//! - uses: org/gitops-bump@v1
//!   with:
//!     images: ghcr.io/org/app:v1.4.2   # the known-good version
//!     paths: overlays/prod
//!     newer-wins: false                # allow going back
//! ```
//!
//! Run it from a `workflow_dispatch` workflow with the version as an input;
//! the next regular build moves forward again because its version (or run
//! number) is newer than the one the rollback deployed.
//!
//! ## Where it runs
//!
//! In the write-back loop ([`crate::write_back::run`]), in push mode (a pull
//! request is reviewed by a person), on every attempt, after the edit ran on
//! the fresh tip: the history of that tip is read by the transport (git: a
//! walk, deepening a shallow clone with the same authenticated fetch, or in
//! the remote itself when it is on this machine; the API: the commits API).
//! So the guard decides on the branch as it is when we publish, and a lost
//! race re-decides on the new tip.
//!
//! # Self-trigger
//!
//! `GITHUB_TOKEN` pushes never start workflows, but App installation tokens
//! and personal access tokens do. With those credentials the commit message
//! must keep a skip marker such as `[skip ci]`, and a run that was itself
//! started by our own bump commit (same author, touching only the configured
//! paths) stops with a notice instead of bumping again.

mod newer_wins;
mod self_trigger;
mod semver;

use std::fmt;
use std::path::Path;

pub use newer_wins::{Decision, ImageValue, decide, needs_history, stale_reason};
pub use self_trigger::{
    Credential, SKIP_MARKERS, TriggerCommit, ensure_skip_marker, is_self_trigger,
    self_trigger_reason,
};

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("reading the event payload {path}: {why}")]
    Event { path: String, why: String },
}

impl GuardError {
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            GuardError::Event { .. } => Some(
                "GITHUB_EVENT_PATH should point to the runner's event JSON; unset it outside Actions"
                    .into(),
            ),
        }
    }
}

/// A workflow run: `GITHUB_RUN_NUMBER` and `GITHUB_RUN_ATTEMPT`. Ordered by
/// number, then attempt: a re-run of an old build is still an old build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId {
    pub number: u64,
    pub attempt: u32,
}

impl RunId {
    /// Parses `1234.2` (or `1234`, attempt 1).
    pub fn parse(s: &str) -> Option<RunId> {
        let s = s.trim();
        let (number, attempt) = match s.split_once('.') {
            Some((n, a)) => (n, a),
            None => (s, "1"),
        };
        let valid = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !valid(number) || !valid(attempt) {
            return None;
        }
        Some(RunId {
            number: number.parse().ok()?,
            attempt: attempt.parse().ok()?,
        })
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<RunId> {
        let number = lookup("GITHUB_RUN_NUMBER")?;
        let attempt = lookup("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
        RunId::parse(&format!("{}.{}", number.trim(), attempt.trim()))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.number, self.attempt)
    }
}

/// Reads the commit that started the run from a runner event file (the
/// JSON at `GITHUB_EVENT_PATH`); `None` when the event names none.
pub fn read_trigger_commit(path: &Path) -> Result<Option<TriggerCommit>, GuardError> {
    let event_err = |why: String| GuardError::Event {
        path: path.display().to_string(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| event_err(e.to_string()))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| event_err(e.to_string()))?;
    Ok(TriggerCommit::from_event(&event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_parse_and_order_by_number_then_attempt() {
        let cases = [
            ("12.1", Some((12, 1))),
            ("12", Some((12, 1))),
            (" 7.3 ", Some((7, 3))),
            ("12.", None),
            ("a.1", None),
            ("-1.1", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                RunId::parse(s),
                want.map(|(number, attempt)| RunId { number, attempt }),
                "{s:?}"
            );
        }
        let r = |s| RunId::parse(s).unwrap();
        assert!(r("9.2") < r("10.1"));
        assert!(r("10.1") < r("10.2"));
        let env = |k: &str| match k {
            "GITHUB_RUN_NUMBER" => Some("41".to_string()),
            _ => None,
        };
        assert_eq!(RunId::from_lookup(env), Some(r("41.1")));
        assert_eq!(RunId::from_lookup(|_| None), None);
    }

    /// The policies decide from plain values: nothing in them reads the
    /// file system, the environment, a process, the network or git, reads
    /// the config, or prints. The edge is [`read_trigger_commit`] above.
    #[test]
    fn the_policies_read_nothing_and_print_nothing() {
        const FORBIDDEN: [&str; 16] = [
            "std::fs",
            "std::env",
            "fs::",
            "env::var",
            "std::io",
            "std::process",
            "std::net",
            "git2",
            "crate::config",
            "crate::actions",
            "crate::github",
            "crate::outputs",
            "crate::print",
            "println!",
            "eprintln!",
            "tokio",
        ];
        let policies = [
            ("semver.rs", include_str!("semver.rs")),
            ("newer_wins.rs", include_str!("newer_wins.rs")),
            ("self_trigger.rs", include_str!("self_trigger.rs")),
        ];
        let mut found = Vec::new();
        for (file, text) in policies {
            for (n, line) in text.lines().enumerate() {
                for word in FORBIDDEN.iter().filter(|w| line.contains(*w)) {
                    found.push(format!("src/guard/{file}:{}: {word}", n + 1));
                }
            }
        }
        assert!(found.is_empty(), "I/O in a policy:\n{}", found.join("\n"));
    }
}
