//! The GitHub Actions runner contract: workflow commands on stdout
//! (`::add-mask::`, `::group::`, annotations) and the environment files
//! (`GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_STATE`, `GITHUB_STEP_SUMMARY`).
//!
//! Outside Actions the same calls degrade to plain output, and masks print
//! nothing: echoing `::add-mask::TOKEN` to a terminal would show the token.
//!
//! A leaf: it knows the runner, not this program, so it uses nothing of the
//! crate but [`crate::secret`] (a known secret is redacted from any command
//! it writes). The GitHub API client is [`crate::github_api`].

pub mod commands;
pub mod files;

pub use commands::{Annotation, Level, annotate, group, mask};
pub use files::{EnvFile, write_delimited};

/// True when running as a GitHub Actions step.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}
