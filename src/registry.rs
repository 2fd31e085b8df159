//! OCI distribution client: resolve tags to digests, verify digests and
//! platforms, wait for a just-pushed image.
//!
//! INTERFACE (fixed by the foundation; the registry issue fills it in).

use std::time::Duration;

use crate::reference::{Digest, Reference};
use crate::secret::Secret;

/// Where registry credentials come from, tried in this order.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// `registry-username` / `registry-password`.
    pub explicit: Option<(String, Secret)>,
    /// The `token` input, used for ghcr.io.
    pub github_token: Option<Secret>,
    /// The Google access token from the auth stage, for *.pkg.dev and gcr.io.
    pub google_access_token: Option<Secret>,
    /// Read `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`).
    pub docker_config: bool,
}

#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub credentials: Credentials,
    /// host:port allowed over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Keep polling for a missing image this long.
    pub wait: Duration,
    /// Per-request timeout.
    pub request_timeout: Duration,
}

/// What the registry says about one reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resolved {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: String,
    pub media_type: String,
    /// `os/arch[/variant]` of each index entry; empty for a single manifest.
    pub platforms: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("not implemented yet: registry verification")]
    NotImplemented,
}

impl RegistryError {
    pub fn hint(&self) -> Option<String> {
        None
    }
}

/// Resolves each reference (concurrently), checking `expected` digests and
/// required `platforms`.
pub async fn resolve_all(
    options: &RegistryOptions,
    references: &[Reference],
    platforms: &[String],
    expected: Option<&Digest>,
) -> Result<Vec<Resolved>, RegistryError> {
    let _ = (options, references, platforms, expected);
    Err(RegistryError::NotImplemented)
}
