//! The GitHub Actions runtime contract: workflow commands on stdout
//! (`::add-mask::`, `::group::`, annotations) and the environment files
//! (`GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_STEP_SUMMARY`).
//!
//! Outside Actions the same calls degrade to plain output, and masks print
//! nothing: echoing `::add-mask::TOKEN` to a terminal would show the token.

pub mod api_commit;
pub mod app;
pub mod commands;
pub mod files;
pub mod outputs;
pub mod rest;
pub mod summary;

pub use commands::{Annotation, Level, annotate, group, mask};
pub use files::{EnvFile, write_delimited};

/// True when running as a GitHub Actions step.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}
