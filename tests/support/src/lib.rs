//! What the integration test targets share, as one library instead of
//! files included across targets: our binary with a clean environment
//! ([`bin()`]), the git CLI ([`git()`]), one child-process guard
//! ([`Process`]), the real servers the tests start on 127.0.0.1 (registry,
//! smart-HTTP git, fake Google, fake GitHub, fault proxies) and the
//! fixtures built on them.
//!
//! The Python servers are files in `servers/`, found from this crate's
//! manifest directory ([`process::server_script`]).

pub mod action;
pub mod bare_repo;
pub mod bin;
pub mod cases;
pub mod fixture;
pub mod git;
pub mod git_http;
pub mod github;
pub mod google;
pub mod markdown;
pub mod process;
pub mod registry;
pub mod runner;

pub use bin::{bin, run_bin};
pub use cases::{Case, check_cases};
pub use git::git;
pub use process::{Process, Server};
