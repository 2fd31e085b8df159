//! OCI distribution client: resolve tags to digests, verify digests and
//! platforms, wait for a just-pushed image.
//!
//! A small client of the OCI distribution API, on the run's one reqwest
//! client: `HEAD` a manifest with every manifest type in `Accept`, take the
//! registry's digest (or hash the body when it sends none), list an index's
//! platforms, and speak the registry auth challenge (Basic and Bearer
//! tokens). Errors keep the registry's own code and message, and say which
//! credential source was used, never the credential.

mod challenge;
mod client;
mod credentials;
mod manifest;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, header};
use sha2::{Digest as _, Sha256};
use tracing::debug;

use crate::reference::{Digest, Reference};
use crate::secret::Secret;

pub use credentials::{CredentialSource, registry_host};

use client::{Authorization, Client, Endpoint, RegistrySays};

/// Where registry credentials come from, tried in this order.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// `registry-username` / `registry-password`, for one registry only.
    pub explicit: Option<ExplicitLogin>,
    /// The `token` input, used for ghcr.io.
    pub github_token: Option<Secret>,
    /// The Google access token from the auth stage, for *.pkg.dev and gcr.io.
    pub google_access_token: Option<Secret>,
    /// Read `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`).
    pub docker_config: bool,
}

/// Credentials the user gave for one registry (`registry` input, or the
/// single registry `images` names). No other host is ever offered them.
#[derive(Debug, Clone)]
pub struct ExplicitLogin {
    /// host[:port], as [`registry_host`] normalizes it.
    pub registry: String,
    pub username: String,
    pub password: Secret,
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

/// What a "not found" was missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Tag(String),
    Digest(String),
    Repository,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "{reference}: {} ({registry_says}){}",
        describe_missing(missing, reference),
        waited_suffix(*waited)
    )]
    NotFound {
        reference: String,
        missing: Missing,
        /// The registry's error code and message, e.g. `MANIFEST_UNKNOWN: manifest unknown`.
        registry_says: String,
        waited: Duration,
    },
    #[error(
        "unauthorized: {registry} refused access to scope {scope} with {credentials}{}: {detail}",
        helper.as_ref().map(|h| format!(" (credential helper {h:?} is not supported)")).unwrap_or_default()
    )]
    Unauthorized {
        registry: String,
        scope: String,
        credentials: CredentialSource,
        detail: String,
        helper: Option<String>,
    },
    #[error("denied: {registry} refused scope {scope} to {credentials}: {detail}")]
    Denied {
        registry: String,
        scope: String,
        credentials: CredentialSource,
        detail: String,
    },
    #[error(
        "rate limited: {registry} answered 429 Too Many Requests for {url} after {attempts} attempt(s){}",
        retry_after.map(|d| format!(" (Retry-After: {}s)", d.as_secs())).unwrap_or_default()
    )]
    RateLimited {
        registry: String,
        url: String,
        retry_after: Option<Duration>,
        attempts: u32,
    },
    #[error("registry {registry} failed: {detail} for {url} after {attempts} attempt(s)")]
    ServerError {
        registry: String,
        url: String,
        detail: String,
        attempts: u32,
    },
    #[error("registry {registry} is unreachable at {url} after {attempts} attempt(s): {cause}")]
    Unreachable {
        registry: String,
        url: String,
        cause: String,
        attempts: u32,
    },
    #[error(
        "timeout: registry {registry} did not answer {url} within {}s ({attempts} attempt(s))",
        timeout.as_secs_f32()
    )]
    Timeout {
        registry: String,
        url: String,
        timeout: Duration,
        attempts: u32,
    },
    #[error("registry {registry} speaks plain HTTP only, and plain HTTP is not allowed for it")]
    PlainHttpOnly { registry: String },
    #[error(
        "registry {registry} sends credentials to the token service {realm} over plain HTTP, which is not allowed for it"
    )]
    InsecureRealm { registry: String, realm: String },
    #[error(
        "registry {registry}: {url} redirected from HTTPS to plain HTTP; refused (the answer would travel unencrypted)"
    )]
    InsecureRedirect { registry: String, url: String },
    #[error(
        "registry {registry} sent more than {} for {url}; refused",
        crate::http::human_size(*limit)
    )]
    BodyTooLarge {
        registry: String,
        url: String,
        limit: usize,
    },
    #[error("registry {registry} asks for an unsupported authentication scheme {scheme:?}")]
    UnsupportedChallenge { registry: String, scheme: String },
    #[error("{reference} resolves to {found}, but the expected digest is {expected}")]
    ExpectedDigestMismatch {
        reference: String,
        expected: String,
        found: String,
    },
    #[error(
        "{reference} lacks platform(s) {}; it provides {}",
        missing.join(", "),
        if available.is_empty() { "none".to_string() } else { available.join(", ") }
    )]
    MissingPlatforms {
        reference: String,
        missing: Vec<String>,
        available: Vec<String>,
    },
    #[error("registry {registry} sent an unexpected response: {what}")]
    BadResponse { registry: String, what: String },
    #[error("cannot read the Docker config file {}: {why}", path.display())]
    DockerConfig { path: PathBuf, why: String },
    #[error("cannot set up the HTTP client: {0}")]
    ClientSetup(String),
}

fn describe_missing(missing: &Missing, reference: &str) -> String {
    let repository = reference
        .split_once('/')
        .map_or(reference, |(_, r)| r)
        .split(['@', ':'])
        .next()
        .unwrap_or(reference);
    match missing {
        Missing::Tag(tag) => {
            format!("not found: tag {tag:?} does not exist in repository {repository}")
        }
        Missing::Digest(d) => {
            format!("not found: the registry has no manifest {d} in repository {repository}")
        }
        Missing::Repository => format!("not found: repository {repository} does not exist"),
    }
}

/// The host[:port] of a token realm URL, for messages.
fn realm_host(realm: &str) -> String {
    match reqwest::Url::parse(realm) {
        Ok(u) => match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
            None => u.host_str().unwrap_or("").to_string(),
        },
        Err(_) => realm.to_string(),
    }
}

fn waited_suffix(waited: Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!(" (still missing after waiting {}s)", waited.as_secs())
    }
}

impl RegistryError {
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            RegistryError::NotFound { missing, waited, .. } => match (missing, waited.is_zero()) {
                (_, true) => "check the name and tag; if CI pushes the image in a parallel job, set `wait: 2m` to poll until it appears".to_string(),
                (Missing::Repository, false) => "the repository never appeared: check the image name the build pushes to, or raise `wait`".to_string(),
                (_, false) => "the image never appeared: check that the build pushed this tag, or raise `wait`".to_string(),
            },
            RegistryError::Unauthorized { credentials, helper, .. } => match (credentials, helper) {
                (_, Some(_)) => "credential helpers are not run; log in with docker/login-action (which writes `auths` to the Docker config) or set `registry-username`/`registry-password`".to_string(),
                (CredentialSource::Anonymous, None) => "no credentials were found for this registry: run docker/login-action before this step, or set `registry-username`/`registry-password` (for ghcr.io pass `token` and grant `permissions: packages: read`)".to_string(),
                (CredentialSource::GithubToken, None) => "grant the workflow `permissions: packages: read`, and give this repository access to the package in its settings".to_string(),
                (CredentialSource::GoogleAccessToken, None) => "grant the service account roles/artifactregistry.reader on the repository".to_string(),
                _ => "check the username and password/token; registry tokens expire and may lack the `read:packages`/pull permission".to_string(),
            },
            RegistryError::Denied { .. } => "the credentials are valid but may not pull this repository: grant pull/read access (ghcr.io: `permissions: packages: read` and package access; Artifact Registry: roles/artifactregistry.reader)".to_string(),
            RegistryError::RateLimited { .. } => "authenticate to get a higher pull limit (docker/login-action or `registry-username`), or retry later".to_string(),
            RegistryError::ServerError { .. } => "the registry is failing; retry the job later".to_string(),
            RegistryError::Unreachable { registry, .. } => format!(
                "check the registry host {registry:?}, network access from the runner and its TLS certificate; a registry that speaks plain HTTP must be listed in `insecure-registries`"
            ),
            RegistryError::Timeout { .. } => "the registry is slow or unreachable; check network access, or retry later".to_string(),
            RegistryError::PlainHttpOnly { registry } => format!(
                "if this registry is meant to be used over plain HTTP, add `insecure-registries: {registry}` (CLI: --insecure-registries {registry})"
            ),
            RegistryError::InsecureRealm { realm, .. } => format!(
                "the password would go in clear to {}; if plain HTTP is intended, list that host[:port] in `insecure-registries` (listing the registry alone does not cover its token service)",
                realm_host(realm)
            ),
            RegistryError::InsecureRedirect { .. } => "gitops-bump never follows a redirect from HTTPS to HTTP; fix the registry's (or its proxy's) redirect".to_string(),
            RegistryError::BodyTooLarge { .. } => "a registry answer this large is not a manifest, token or error; check the registry (or the proxy in front of it)".to_string(),
            RegistryError::UnsupportedChallenge { .. } => "use a registry that supports Basic or Bearer token authentication".to_string(),
            RegistryError::ExpectedDigestMismatch { reference, expected, .. } => {
                let name = reference.split(['@']).next().unwrap_or(reference);
                let name = name.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map_or(name, |(n, _)| n);
                format!(
                    "the tag points at another build than this one's push: if this push is not visible in the registry yet, set `wait` (e.g. 2m) and the tag is polled until it points here; if a newer build has moved the tag since, a moving tag cannot name this build: bump by digest instead (`{name}@{expected}`)"
                )
            }
            RegistryError::MissingPlatforms { .. } => "build the image for the missing platforms (docker/build-push-action `platforms:`), or change the `platforms` input".to_string(),
            RegistryError::BadResponse { .. } => "this registry does not follow the OCI distribution API here; report it with the output of `gitops-bump -v resolve REF`".to_string(),
            RegistryError::DockerConfig { .. } => "fix or remove the file, or point DOCKER_CONFIG at a valid one".to_string(),
            RegistryError::ClientSetup(_) => "check the system TLS libraries".to_string(),
        };
        Some(hint)
    }
}

/// Enough to overlap round trips, few enough not to trip registry limits.
const MAX_CONCURRENT_RESOLVES: usize = 8;

/// Resolves each reference (concurrently), checking `expected` digests and
/// required `platforms`.
pub async fn resolve_all(
    options: &RegistryOptions,
    references: &[Reference],
    platforms: &[String],
    expected: Option<&Digest>,
) -> Result<Vec<Resolved>, RegistryError> {
    let client = Arc::new(Client::new(options)?);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_RESOLVES));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, reference) in references.iter().enumerate() {
        let (client, reference, platforms) =
            (client.clone(), reference.clone(), platforms.to_vec());
        let slots = slots.clone();
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _slot = slots.acquire().await;
            (index, resolve_one(&client, &reference, &platforms).await)
        });
    }
    let mut results: Vec<Option<Result<Resolved, RegistryError>>> =
        references.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(result),
            // A panicking task is a bug; surface it rather than hide it.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    // Report the first failing reference in the order the user gave them.
    let resolved = results
        .into_iter()
        .flatten()
        .collect::<Result<Vec<_>, _>>()?;
    let mut resolved = resolved;
    if let (Some(expected), Some(reference)) = (expected, references.first()) {
        resolved[0] =
            wait_for_expected(&client, reference, platforms, expected, &resolved[0]).await?;
    }
    Ok(resolved)
}

/// A moving tag (`latest`, a branch name) that does not point at this
/// build's digest yet: the push may not be visible yet (a registry that
/// replicates, a CDN), which `wait` covers by polling; or a newer build
/// moved the tag since, which no waiting fixes and the error says so.
async fn wait_for_expected(
    client: &Client,
    reference: &Reference,
    platforms: &[String],
    expected: &Digest,
    first: &Resolved,
) -> Result<Resolved, RegistryError> {
    let started = Instant::now();
    let mut current = first.clone();
    let mut poll = 0;
    while current.digest != expected.as_str() {
        let remaining = client.wait().saturating_sub(started.elapsed());
        if remaining.is_zero() {
            return Err(RegistryError::ExpectedDigestMismatch {
                reference: reference.to_string(),
                expected: expected.to_string(),
                found: current.digest,
            });
        }
        let delay = crate::retry::Backoff::WAIT.delay(poll).min(remaining);
        debug!(reference = %reference, ?delay, "tag not at the expected digest yet; waiting");
        tokio::time::sleep(delay).await;
        poll += 1;
        current = resolve_one(client, reference, platforms).await?;
    }
    Ok(current)
}

/// A manifest the registry has: what `HEAD` (or `GET`) said about it.
struct Found {
    digest: String,
    media_type: String,
    /// The body, when we had to fetch it.
    body: Option<Vec<u8>>,
}

/// Resolves one reference, polling while it is missing if `wait` is set.
async fn resolve_one(
    client: &Client,
    reference: &Reference,
    platforms: &[String],
) -> Result<Resolved, RegistryError> {
    let endpoint = client.endpoint(&reference.name.registry).await?;
    let started = Instant::now();
    let mut poll = 0;
    let found = loop {
        match find_manifest(client, &endpoint, reference).await {
            Ok(found) => break found,
            Err(RegistryError::NotFound {
                reference: r,
                missing,
                registry_says,
                ..
            }) => {
                let waited = started.elapsed();
                let remaining = client.wait().saturating_sub(waited);
                if remaining.is_zero() {
                    return Err(RegistryError::NotFound {
                        reference: r,
                        missing,
                        registry_says,
                        waited: if client.wait().is_zero() {
                            Duration::ZERO
                        } else {
                            waited
                        },
                    });
                }
                let delay = crate::retry::Backoff::WAIT.delay(poll).min(remaining);
                debug!(reference = %reference, ?delay, "image not found yet; waiting");
                tokio::time::sleep(delay).await;
                poll += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let (digest, media_type, platforms_found) =
        describe(client, &endpoint, reference, found, platforms).await?;
    Ok(Resolved {
        registry: reference.name.registry.clone(),
        repository: reference.name.repository.clone(),
        tag: reference.tag.clone(),
        digest,
        media_type,
        platforms: platforms_found,
    })
}

/// `HEAD` the manifest; on a failure status, `GET` it for the registry's
/// error body (a `HEAD` has none) to say precisely what is wrong.
async fn find_manifest(
    client: &Client,
    endpoint: &Endpoint,
    reference: &Reference,
) -> Result<Found, RegistryError> {
    let repository = &reference.name.repository;
    let path = format!(
        "/v2/{repository}/manifests/{}",
        reference.manifest_reference()
    );
    let mut authorization = client.authorization(endpoint, repository).await?;
    let mut response = client
        .request(endpoint, Method::HEAD, &path, &authorization)
        .await?;
    if response.status() == StatusCode::UNAUTHORIZED && authorization.bearer {
        // The cached token may have expired while we waited: fetch one more.
        client.forget_token(endpoint, repository);
        authorization = client.authorization(endpoint, repository).await?;
        response = client
            .request(endpoint, Method::HEAD, &path, &authorization)
            .await?;
    }
    let status = response.status();
    if status.is_success() {
        let headers = response.headers();
        let digest = headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let media_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| manifest::bare_media_type(v).to_string())
            .unwrap_or_default();
        return match digest {
            Some(digest) if Digest::parse(&digest).is_ok() => Ok(Found {
                digest,
                media_type,
                body: None,
            }),
            // No usable digest header: the digest is the hash of the body.
            _ => fetch_manifest(client, endpoint, reference, &path, &authorization).await,
        };
    }
    let error_response = client
        .request(endpoint, Method::GET, &path, &authorization)
        .await?;
    let error_status = error_response.status();
    let body = client.body(&endpoint.registry, error_response).await?;
    let mut says = RegistrySays::parse(&body);
    if status == StatusCode::NOT_FOUND
        && says.code != "NAME_UNKNOWN"
        && let Some(repository_says) =
            missing_repository(client, endpoint, repository, &authorization).await?
    {
        says = repository_says;
    }
    Err(status_error(
        endpoint,
        reference,
        if error_status.is_client_error() {
            error_status
        } else {
            status
        },
        &says,
    ))
}

/// Registries answer a manifest request in an unknown repository with
/// `MANIFEST_UNKNOWN`, like a missing tag; the tag list tells them apart.
/// Returns the registry's words when the repository does not exist.
async fn missing_repository(
    client: &Client,
    endpoint: &Endpoint,
    repository: &str,
    authorization: &Authorization,
) -> Result<Option<RegistrySays>, RegistryError> {
    let path = format!("/v2/{repository}/tags/list?n=1");
    let response = client
        .request(endpoint, Method::GET, &path, authorization)
        .await?;
    if response.status() != StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let body = client.body(&endpoint.registry, response).await?;
    let says = RegistrySays::parse(&body);
    Ok((says.code == "NAME_UNKNOWN").then_some(says))
}

/// `GET` the manifest and hash exactly the bytes the registry sent.
async fn fetch_manifest(
    client: &Client,
    endpoint: &Endpoint,
    reference: &Reference,
    path: &str,
    authorization: &Authorization,
) -> Result<Found, RegistryError> {
    let response = client
        .request(endpoint, Method::GET, path, authorization)
        .await?;
    let status = response.status();
    let header_digest = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| manifest::bare_media_type(v).to_string())
        .unwrap_or_default();
    let body = client.body(&endpoint.registry, response).await?;
    if !status.is_success() {
        return Err(status_error(
            endpoint,
            reference,
            status,
            &RegistrySays::parse(&body),
        ));
    }
    let digest = format!("sha256:{:x}", Sha256::digest(&body));
    if let Some(claimed) = header_digest.filter(|d| d.starts_with("sha256:"))
        && claimed != digest
    {
        return Err(RegistryError::BadResponse {
            registry: endpoint.registry.clone(),
            what: format!("manifest {path} hashes to {digest}, but the registry says {claimed}"),
        });
    }
    let media_type = match manifest::declared_media_type(&body) {
        Some(declared) if !manifest::is_known(&content_type) => declared,
        _ => content_type,
    };
    Ok(Found {
        digest,
        media_type,
        body: Some(body),
    })
}

/// Turns a failure status into the error that names the cause.
fn status_error(
    endpoint: &Endpoint,
    reference: &Reference,
    status: StatusCode,
    says: &RegistrySays,
) -> RegistryError {
    let scope = client::pull_scope(&reference.name.repository);
    let detail = says.render(status);
    match status {
        StatusCode::NOT_FOUND => RegistryError::NotFound {
            reference: reference.to_string(),
            missing: if says.code == "NAME_UNKNOWN" {
                Missing::Repository
            } else if let Some(d) = &reference.digest {
                Missing::Digest(d.to_string())
            } else {
                Missing::Tag(reference.manifest_reference())
            },
            registry_says: detail,
            waited: Duration::ZERO,
        },
        StatusCode::UNAUTHORIZED => RegistryError::Unauthorized {
            registry: endpoint.registry.clone(),
            scope,
            credentials: endpoint.source(),
            detail,
            helper: endpoint.helper.clone(),
        },
        StatusCode::FORBIDDEN => RegistryError::Denied {
            registry: endpoint.registry.clone(),
            scope,
            credentials: endpoint.source(),
            detail,
        },
        _ if says.code == "DENIED" => RegistryError::Denied {
            registry: endpoint.registry.clone(),
            scope,
            credentials: endpoint.source(),
            detail,
        },
        _ => RegistryError::BadResponse {
            registry: endpoint.registry.clone(),
            what: format!("manifest request for {reference} answered {detail}"),
        },
    }
}

/// Completes what we know about a found manifest: verifies a pinned
/// digest, lists an index's platforms, and checks the required ones.
async fn describe(
    client: &Client,
    endpoint: &Endpoint,
    reference: &Reference,
    found: Found,
    required: &[String],
) -> Result<(String, String, Vec<String>), RegistryError> {
    if let Some(pinned) = &reference.digest
        && pinned.as_str() != found.digest
    {
        return Err(RegistryError::BadResponse {
            registry: endpoint.registry.clone(),
            what: format!("asked for manifest {pinned}, got {}", found.digest),
        });
    }
    let repository = &reference.name.repository;
    let mut found = found;
    let needs_body = manifest::is_index(&found.media_type)
        || !required.is_empty()
        || found.media_type.is_empty();
    if needs_body && found.body.is_none() {
        // By digest, so a tag moving in between cannot mix two manifests.
        let by_digest = Reference {
            digest: Digest::parse(&found.digest).ok(),
            ..reference.clone()
        };
        let path = format!("/v2/{repository}/manifests/{}", found.digest);
        let authorization = client.authorization(endpoint, repository).await?;
        let fetched = fetch_manifest(client, endpoint, &by_digest, &path, &authorization).await?;
        if fetched.digest != found.digest {
            return Err(RegistryError::BadResponse {
                registry: endpoint.registry.clone(),
                what: format!("manifest {} hashes to {}", found.digest, fetched.digest),
            });
        }
        if found.media_type.is_empty() {
            found.media_type = fetched.media_type;
        }
        found.body = fetched.body;
    }
    let body = found.body.as_deref().unwrap_or_default();
    let bad = |what: String| RegistryError::BadResponse {
        registry: endpoint.registry.clone(),
        what,
    };
    let index_platforms = if manifest::is_index(&found.media_type) {
        manifest::index_platforms(body).map_err(bad)?
    } else {
        Vec::new()
    };
    if !required.is_empty() {
        let available = if manifest::is_index(&found.media_type) {
            index_platforms.clone()
        } else {
            vec![config_platform(client, endpoint, repository, body).await?]
        };
        let missing: Vec<String> = required
            .iter()
            .filter(|w| !available.iter().any(|a| manifest::platform_matches(w, a)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(RegistryError::MissingPlatforms {
                reference: reference.to_string(),
                missing,
                available,
            });
        }
    }
    Ok((found.digest, found.media_type, index_platforms))
}

/// The platform of a single-platform image, from its config blob.
async fn config_platform(
    client: &Client,
    endpoint: &Endpoint,
    repository: &str,
    manifest_body: &[u8],
) -> Result<String, RegistryError> {
    let bad = |what: String| RegistryError::BadResponse {
        registry: endpoint.registry.clone(),
        what,
    };
    let digest = manifest::config_digest(manifest_body).map_err(bad)?;
    let authorization = client.authorization(endpoint, repository).await?;
    let path = format!("/v2/{repository}/blobs/{digest}");
    let response = client
        .request(endpoint, Method::GET, &path, &authorization)
        .await?;
    let status = response.status();
    let body = client.body(&endpoint.registry, response).await?;
    if !status.is_success() {
        return Err(bad(format!(
            "config blob {digest} answered {}",
            RegistrySays::parse(&body).render(status)
        )));
    }
    manifest::config_platform(&body).map_err(bad)
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Tag(t) => write!(f, "tag {t}"),
            Missing::Digest(d) => write!(f, "digest {d}"),
            Missing::Repository => f.write_str("repository"),
        }
    }
}
