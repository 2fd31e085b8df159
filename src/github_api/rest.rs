//! A small GitHub REST/GraphQL client: the process's one reqwest client,
//! the API base URL (`GITHUB_API_URL`, so GHES and test servers work), the
//! headers GitHub asks for, and timeouts on every call.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::secret::Secret;

pub(crate) const DEFAULT_API_URL: &str = "https://api.github.com";
const API_VERSION: &str = "2022-11-28";
/// Bounds each call, connecting included.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("{what}: could not reach the GitHub API at {url}: {source}")]
    Transport {
        what: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: GitHub answered {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: GitHub's answer is not the JSON expected: {why}")]
    Body { what: String, why: String },
}

impl RestError {
    /// The HTTP status, when GitHub answered.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            RestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            RestError::Transport { .. } => Some(
                "check GITHUB_API_URL (GHES: https://HOST/api/v3) and the runner's network".into(),
            ),
            RestError::Status { status: 401, .. } => {
                Some("the credential was rejected: it may have expired or been revoked".into())
            }
            RestError::Status { status: 403, .. } | RestError::Status { status: 404, .. } => Some(
                "the token cannot see this resource: check the repository name and the token's permissions".into(),
            ),
            _ => None,
        }
    }
}

/// The GitHub API at one base URL.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    /// A client for `base` (`https://api.github.com`, `https://HOST/api/v3`).
    pub fn new(base: &str) -> Api {
        let client = crate::http::client()
            // Building fails only when the TLS backend cannot initialise;
            // the default client has the same backend and no timeouts.
            .unwrap_or_default();
        Api {
            base: base.trim_end_matches('/').to_string(),
            client,
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The GraphQL endpoint: `{api}/graphql`, except on GHES where the REST
    /// base is `https://HOST/api/v3` and GraphQL lives at `https://HOST/api/graphql`.
    pub(crate) fn graphql_url(&self) -> String {
        graphql_url(&self.base)
    }

    /// Sends one request and returns the status and JSON body (`Null` when
    /// empty). Non-2xx statuses are returned, not turned into errors, so
    /// callers can name what a 404 or 422 means for them.
    pub async fn call(
        &self,
        what: &str,
        method: Method,
        path_or_url: &str,
        bearer: &Secret,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), RestError> {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        };
        let mut request = self
            .client
            .request(method, &url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .bearer_auth(bearer.expose())
            .timeout(CALL_TIMEOUT);
        if let Some(b) = body {
            request = request.json(b);
        }
        let transport = |source| RestError::Transport {
            what: what.to_string(),
            url: url.clone(),
            source,
        };
        let response = crate::http::send(request).await.map_err(transport)?;
        let status = response.status();
        let bytes = crate::http::read_body(response, crate::http::MAX_API_BODY)
            .await
            .map_err(|e| match e {
                crate::http::BodyError::Transport(source) => transport(source),
                e @ crate::http::BodyError::TooLarge { .. } => RestError::Body {
                    what: what.to_string(),
                    why: e.to_string(),
                },
            })?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(value) => value,
                // A refusal from a proxy or an outage page is still an
                // answer with a status; its text is what the caller can show.
                Err(_) if !status.is_success() => {
                    Value::String(String::from_utf8_lossy(&bytes).into_owned())
                }
                Err(e) => {
                    return Err(RestError::Body {
                        what: what.to_string(),
                        why: format!("{e} (status {status})"),
                    });
                }
            }
        };
        Ok((status, value))
    }

    /// Like [`Api::call`], but any non-2xx status is an error carrying
    /// GitHub's `message`.
    pub(crate) async fn call_ok(
        &self,
        what: &str,
        method: Method,
        path_or_url: &str,
        bearer: &Secret,
        body: Option<&Value>,
    ) -> Result<Value, RestError> {
        let (status, value) = self.call(what, method, path_or_url, bearer, body).await?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(status_error(what, status, &value))
        }
    }
}

/// The error for a non-2xx answer, with GitHub's own `message`.
pub(crate) fn status_error(what: &str, status: StatusCode, body: &Value) -> RestError {
    RestError::Status {
        what: what.to_string(),
        status: status.as_u16(),
        message: body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message"))
            .to_string(),
    }
}

/// Percent-encodes `s` for a URL path or query value; `/` stays as it is
/// (file paths, branch names).
pub(crate) fn url_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// See [`Api::graphql_url`].
pub(crate) fn graphql_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// Splits `owner/name`, `https://HOST/owner/name(.git)` or
/// `git@HOST:owner/name.git` into owner and name.
pub(crate) fn owner_and_name(repository: &str) -> Option<(String, String)> {
    let s = repository.trim().trim_end_matches('/');
    let s = s.strip_suffix(".git").unwrap_or(s);
    let path = if let Some((_, rest)) = s.split_once("://") {
        rest.split_once('/')?.1
    } else if let Some((_, rest)) = s.split_once(':').filter(|_| s.contains('@')) {
        rest
    } else {
        s
    };
    let mut parts = path.rsplitn(3, '/');
    let name = parts.next()?;
    let owner = parts.next()?;
    let valid = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    (valid(owner) && valid(name)).then(|| (owner.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_lives_next_to_rest_and_beside_v3_on_ghes() {
        let cases = [
            ("https://api.github.com", "https://api.github.com/graphql"),
            ("https://api.github.com/", "https://api.github.com/graphql"),
            (
                "https://ghe.example.com/api/v3",
                "https://ghe.example.com/api/graphql",
            ),
            (
                "https://ghe.example.com/api/v3/",
                "https://ghe.example.com/api/graphql",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/graphql"),
        ];
        for (base, want) in cases {
            assert_eq!(graphql_url(base), want, "{base}");
        }
    }

    #[test]
    fn repositories_split_into_owner_and_name() {
        let cases = [
            ("org/gitops", Some(("org", "gitops"))),
            ("https://github.com/org/gitops.git", Some(("org", "gitops"))),
            ("https://github.com/org/gitops/", Some(("org", "gitops"))),
            ("git@github.com:org/gitops.git", Some(("org", "gitops"))),
            ("gitops", None),
            ("org/", None),
            ("org/../x", None),
            ("org/a b", None),
        ];
        for (s, want) in cases {
            assert_eq!(
                owner_and_name(s),
                want.map(|(o, n)| (o.to_string(), n.to_string())),
                "{s}"
            );
        }
    }
}
