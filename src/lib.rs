//! gitops-bump: verify a pushed container image and bump it in GitOps
//! manifests with a race-safe, keyless git write-back.

pub mod actions;
pub mod auth;
pub mod cleanup;
pub mod config;
pub mod edit;
pub mod error;
pub mod github_api;
pub mod guard;
pub mod http;
pub mod location;
pub mod outputs;
pub mod pipeline;
pub mod print;
pub mod progress;
pub mod promote;
pub mod reference;
pub mod registry;
pub mod retry;
pub mod run_env;
pub mod secret;
pub mod spec;
pub mod template;
pub mod verify;
pub mod workspace;
pub mod write_back;

pub use error::Error;
