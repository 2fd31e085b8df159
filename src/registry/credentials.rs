//! Which credentials to present to which registry, and where they came from.
//!
//! The order matches what users expect from docker/login-action and
//! google-github-actions/auth: explicit inputs first, then the tokens the run
//! already holds for the registries they belong to, then whatever `docker
//! login` left in the Docker config file.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Credentials, ExplicitLogin, RegistryError};
use crate::secret::Secret;

/// GitHub's container registry, which accepts the workflow's GITHUB_TOKEN.
const GITHUB_CONTAINER_REGISTRY: &str = "ghcr.io";
/// Username Google registries expect in front of an OAuth access token.
const GOOGLE_TOKEN_USERNAME: &str = "oauth2accesstoken";
/// Username for the GitHub token; GHCR accepts any non-empty one.
const GITHUB_TOKEN_USERNAME: &str = "x-access-token";

/// Where a credential came from; shown in errors instead of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// No credential: anonymous access.
    Anonymous,
    Explicit,
    GithubToken,
    GoogleAccessToken,
    DockerConfig(PathBuf),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Anonymous => f.write_str("no credentials (anonymous)"),
            CredentialSource::Explicit => {
                f.write_str("the `registry-username`/`registry-password` inputs")
            }
            CredentialSource::GithubToken => f.write_str("the `token` input (GITHUB_TOKEN)"),
            CredentialSource::GoogleAccessToken => {
                f.write_str("the Google access token from the auth stage")
            }
            CredentialSource::DockerConfig(p) => {
                write!(f, "the Docker config file {}", p.display())
            }
        }
    }
}

impl CredentialSource {
    /// Whether this credential may go to a registry listed in
    /// `insecure-registries` (plain HTTP). The run's own GitHub and Google
    /// tokens belong to registries that only speak HTTPS: listing one of
    /// those by mistake must not send the token in clear.
    pub(crate) fn may_travel_in_clear(&self) -> bool {
        matches!(
            self,
            CredentialSource::Explicit | CredentialSource::DockerConfig(_)
        )
    }
}

/// A username and password for one registry, with their origin.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub username: String,
    pub password: Secret,
    pub source: CredentialSource,
}

impl Login {
    /// The `Authorization: Basic` header value.
    pub(crate) fn basic_header(&self) -> Secret {
        let raw = format!("{}:{}", self.username, self.password.expose());
        Secret::new(format!("Basic {}", BASE64.encode(raw)))
    }
}

/// What the credential sources yielded for one registry.
#[derive(Debug, Clone)]
pub(crate) enum Lookup {
    Found(Login),
    /// Nothing configured; `helper` names a Docker credential helper that
    /// would have been responsible, so the error can say we do not run it.
    None {
        helper: Option<String>,
    },
}

/// Picks the credential for `registry` (a host[:port] as written in the
/// image reference) from the configured sources, in order.
///
/// Every source is bound to hosts: explicit credentials to the one registry
/// they were given for, the GitHub token to ghcr.io, the Google token to
/// Google's registries, Docker config entries to their key. A registry named
/// only by repository content gets nothing else: anonymous access.
pub(crate) fn lookup(credentials: &Credentials, registry: &str) -> Result<Lookup, RegistryError> {
    let host = config_host(registry);
    if let Some(ExplicitLogin {
        registry: bound,
        username,
        password,
    }) = &credentials.explicit
        && config_host(bound) == host
    {
        return Ok(Lookup::Found(Login {
            username: username.clone(),
            password: password.clone(),
            source: CredentialSource::Explicit,
        }));
    }
    if host == GITHUB_CONTAINER_REGISTRY
        && let Some(token) = credentials.github_token.as_ref().filter(|t| !t.is_empty())
    {
        return Ok(Lookup::Found(Login {
            username: GITHUB_TOKEN_USERNAME.into(),
            password: token.clone(),
            source: CredentialSource::GithubToken,
        }));
    }
    if is_google_registry(&host)
        && let Some(token) = credentials
            .google_access_token
            .as_ref()
            .filter(|t| !t.is_empty())
    {
        return Ok(Lookup::Found(Login {
            username: GOOGLE_TOKEN_USERNAME.into(),
            password: token.clone(),
            source: CredentialSource::GoogleAccessToken,
        }));
    }
    if credentials.docker_config
        && let Some(path) = docker_config_path()
    {
        return from_docker_config(&path, registry);
    }
    Ok(Lookup::None { helper: None })
}

/// Artifact Registry (`REGION-docker.pkg.dev`) and Container Registry
/// (`gcr.io`, `REGION.gcr.io`) take a Google access token.
pub(crate) fn is_google_registry(registry: &str) -> bool {
    let host = registry.split(':').next().unwrap_or(registry);
    host.ends_with(".pkg.dev") || host == "gcr.io" || host.ends_with(".gcr.io")
}

/// Validates and normalizes a `registry` input: `host[:port]`, lower case,
/// Docker Hub's aliases as `docker.io`; a scheme or trailing slash is
/// dropped, a path is refused (credentials belong to a host, not a path).
pub fn registry_host(input: &str) -> Result<String, String> {
    let trimmed = input.trim();
    let bare = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    let (host, port) = match bare.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (bare, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    if !host_ok || !port_ok {
        return Err("expected a registry host[:port] like ghcr.io or registry.example:5000".into());
    }
    Ok(config_host(bare))
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

#[derive(serde::Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
}

#[derive(serde::Deserialize, Default)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// Reads the Docker config file; a missing file simply means no credential.
pub(crate) fn from_docker_config(path: &Path, registry: &str) -> Result<Lookup, RegistryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Lookup::None { helper: None });
        }
        Err(e) => {
            return Err(RegistryError::DockerConfig {
                path: path.to_path_buf(),
                why: e.to_string(),
            });
        }
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|e| RegistryError::DockerConfig {
            path: path.to_path_buf(),
            why: format!("invalid JSON: {e}"),
        })?;
    let wanted = config_host(registry);
    let entry = config
        .auths
        .iter()
        .find(|(key, _)| config_host(key) == wanted);
    let Some((key, entry)) = entry else {
        let helper = config
            .cred_helpers
            .iter()
            .find(|(key, _)| config_host(key) == wanted)
            .map(|(_, h)| h.clone())
            .or(config.creds_store);
        return Ok(Lookup::None { helper });
    };
    let bad = |why: &str| RegistryError::DockerConfig {
        path: path.to_path_buf(),
        why: format!("entry {key:?}: {why}"),
    };
    let (username, password) = match (&entry.username, &entry.password, &entry.auth) {
        (Some(u), Some(p), _) if !u.is_empty() => (u.clone(), p.clone()),
        (_, _, Some(auth)) if !auth.is_empty() => {
            let decoded = BASE64
                .decode(auth.trim())
                .map_err(|_| bad("`auth` is not valid base64"))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| bad("`auth` is not UTF-8 after decoding"))?;
            let (u, p) = decoded
                .split_once(':')
                .ok_or_else(|| bad("`auth` must decode to USERNAME:PASSWORD"))?;
            (u.to_string(), p.to_string())
        }
        _ => {
            // docker login with a credential store leaves an empty entry.
            let helper = config
                .cred_helpers
                .get(key.as_str())
                .cloned()
                .or(config.creds_store);
            return Ok(Lookup::None { helper });
        }
    };
    Ok(Lookup::Found(Login {
        username,
        password: Secret::new(password),
        source: CredentialSource::DockerConfig(path.to_path_buf()),
    }))
}

/// The host[:port] a Docker config key refers to: keys may carry a scheme
/// and a path (`https://index.docker.io/v1/`), and Docker Hub has aliases.
fn config_host(key: &str) -> String {
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or(without_scheme)
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            crate::reference::DOCKER_HUB.to_string()
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(json: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        (dir, path)
    }

    #[test]
    fn docker_config_entries_match_by_host() {
        let auth = BASE64.encode("user:pa:ss");
        let json = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{auth}"}},
                "http://127.0.0.1:5000": {{"auth": "{auth}"}},
                "ghcr.io": {{"username": "u2", "password": "p2"}},
                "empty.example": {{}}
            }}, "credHelpers": {{"helper.example": "gcloud"}}, "credsStore": "desktop"}}"#
        );
        let (_dir, path) = write_config(&json);
        type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, Option<&'a str>);
        let cases: [Case; 6] = [
            ("docker.io", Some(("user", "pa:ss")), None),
            ("127.0.0.1:5000", Some(("user", "pa:ss")), None),
            ("ghcr.io", Some(("u2", "p2")), None),
            ("helper.example", None, Some("gcloud")),
            ("empty.example", None, Some("desktop")),
            ("other.example", None, Some("desktop")),
        ];
        for (registry, want_login, want_helper) in cases {
            match from_docker_config(&path, registry).unwrap() {
                Lookup::Found(l) => {
                    assert_eq!(
                        Some((l.username.as_str(), l.password.expose())),
                        want_login,
                        "{registry}"
                    );
                    assert_eq!(l.source, CredentialSource::DockerConfig(path.clone()));
                }
                Lookup::None { helper } => {
                    assert_eq!(want_login, None, "{registry}");
                    assert_eq!(helper.as_deref(), want_helper, "{registry}");
                }
            }
        }
    }

    #[test]
    fn broken_docker_config_is_an_error_naming_the_problem() {
        let cases = [
            ("{not json", "invalid JSON"),
            (
                r#"{"auths":{"r.example":{"auth":"!!!"}}}"#,
                "not valid base64",
            ),
            (
                &format!(
                    r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
                    BASE64.encode("nocolon")
                ),
                "USERNAME:PASSWORD",
            ),
        ];
        for (json, want) in cases {
            let (_dir, path) = write_config(json);
            let err = from_docker_config(&path, "r.example")
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn sources_apply_in_order_and_only_to_their_registries() {
        let creds = |explicit: bool| Credentials {
            explicit: explicit.then(|| ExplicitLogin {
                registry: "127.0.0.1:5000".into(),
                username: "me".into(),
                password: Secret::new("pw"),
            }),
            github_token: Some(Secret::new("ghs_x")),
            google_access_token: Some(Secret::new("ya29.x")),
            docker_config: false,
        };
        let cases = [
            (false, "ghcr.io", Some(CredentialSource::GithubToken)),
            (
                false,
                "europe-docker.pkg.dev",
                Some(CredentialSource::GoogleAccessToken),
            ),
            (false, "gcr.io", Some(CredentialSource::GoogleAccessToken)),
            (
                false,
                "eu.gcr.io",
                Some(CredentialSource::GoogleAccessToken),
            ),
            (false, "notgcr.io", None),
            (false, "127.0.0.1:5000", None),
            (false, "GHCR.IO", Some(CredentialSource::GithubToken)),
            (false, "ghcr.io.evil.example", None),
            (false, "ghcr.io:5000", None),
            (false, "pkg.dev.evil.example", None),
            // Explicit credentials only where they were given; every other
            // registry keeps its own source or stays anonymous.
            (true, "ghcr.io", Some(CredentialSource::GithubToken)),
            (true, "127.0.0.1:5000", Some(CredentialSource::Explicit)),
            (true, "127.0.0.1:5001", None),
            (true, "127.0.0.1", None),
            (true, "other.example", None),
        ];
        for (explicit, registry, want) in cases {
            let got = match lookup(&creds(explicit), registry).unwrap() {
                Lookup::Found(l) => Some(l.source),
                Lookup::None { .. } => None,
            };
            assert_eq!(got, want, "{registry}");
        }
    }

    #[test]
    fn registry_inputs_normalize_to_a_host() {
        let cases = [
            ("ghcr.io", Ok("ghcr.io")),
            ("GHCR.io", Ok("ghcr.io")),
            (
                "https://registry.example:5000/",
                Ok("registry.example:5000"),
            ),
            ("index.docker.io", Ok("docker.io")),
            ("127.0.0.1:5000", Ok("127.0.0.1:5000")),
            ("registry.example/team", Err(())),
            ("user@registry.example", Err(())),
            ("registry.example:", Err(())),
            ("registry.example:99999", Err(())),
            ("", Err(())),
        ];
        for (input, want) in cases {
            let got = registry_host(input).ok();
            assert_eq!(got.as_deref(), want.ok(), "{input}");
        }
    }

    #[test]
    fn the_runs_own_tokens_never_travel_in_clear() {
        let cases = [
            (CredentialSource::Explicit, true),
            (
                CredentialSource::DockerConfig(PathBuf::from("c.json")),
                true,
            ),
            (CredentialSource::GithubToken, false),
            (CredentialSource::GoogleAccessToken, false),
            (CredentialSource::Anonymous, false),
        ];
        for (source, clear) in cases {
            assert_eq!(source.may_travel_in_clear(), clear, "{source}");
        }
    }
}
