//! The HTTP side of the registry client: one shared reqwest client, the
//! per-registry endpoint (scheme and auth challenge), per-scope tokens, and
//! requests with timeouts and bounded retries.
//!
//! Caches are keyed so that resolving many images costs one `/v2/` ping per
//! registry, one token per repository scope, and one `HEAD` per image.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use tokio::sync::OnceCell;
use tracing::debug;

use super::challenge::Challenge;
use super::credentials::{self, CredentialSource, Login, Lookup};
use super::{RegistryError, RegistryOptions};
use crate::http::GaveUp;
use crate::retry;
use crate::secret::Secret;

/// Where a registry's API lives and what it asks of clients.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The host[:port] as written in image references.
    pub registry: String,
    /// `https://host[:port]` (or `http://` for an insecure registry).
    pub base: String,
    pub challenge: Option<Challenge>,
    pub login: Option<Login>,
    /// A Docker credential helper we would have needed (not supported).
    pub helper: Option<String>,
}

impl Endpoint {
    pub(crate) fn source(&self) -> CredentialSource {
        self.login
            .as_ref()
            .map_or(CredentialSource::Anonymous, |l| l.source.clone())
    }
}

/// The `Authorization` header for one repository scope.
#[derive(Debug, Clone)]
pub(crate) struct Authorization {
    pub header: Option<Secret>,
    pub bearer: bool,
}

/// An error body as the distribution spec defines it.
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Debug, serde::Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The registry's own words about a failure: `CODE: message`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RegistrySays {
    pub code: String,
    pub message: String,
}

impl RegistrySays {
    pub(crate) fn parse(body: &[u8]) -> RegistrySays {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        match parsed.errors.into_iter().next() {
            Some(e) => RegistrySays {
                code: e.code,
                message: e.message,
            },
            None => RegistrySays::default(),
        }
    }

    pub(crate) fn render(&self, status: StatusCode) -> String {
        match (self.code.is_empty(), self.message.is_empty()) {
            (true, true) => format!("HTTP {}", status.as_u16()),
            (false, true) => format!("HTTP {}, {}", status.as_u16(), self.code),
            (true, false) => format!("HTTP {}: {}", status.as_u16(), self.message),
            (false, false) => format!("HTTP {}, {}: {}", status.as_u16(), self.code, self.message),
        }
    }
}

/// A shared, cached view of the registries one run talks to.
pub(crate) struct Client {
    http: reqwest::Client,
    options: RegistryOptions,
    endpoints: Mutex<HashMap<String, Cell<Arc<Endpoint>>>>,
    /// Keyed by (registry, scope).
    tokens: Mutex<HashMap<(String, String), Cell<Authorization>>>,
}

type Cell<T> = Arc<OnceCell<T>>;

fn cell<K: std::hash::Hash + Eq, T>(map: &Mutex<HashMap<K, Cell<T>>>, key: K) -> Cell<T> {
    // A poisoned lock only means another task panicked mid-insert; the map
    // itself is still a valid cache.
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(key).or_default().clone()
}

/// The API host for a registry name: Docker Hub's API is not on `docker.io`.
fn api_host(registry: &str) -> &str {
    if registry == crate::reference::DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        registry
    }
}

impl Client {
    pub(crate) fn new(options: &RegistryOptions) -> Result<Client, RegistryError> {
        let http = crate::http::client().map_err(|e| RegistryError::ClientSetup(e.to_string()))?;
        Ok(Client {
            http,
            options: options.clone(),
            endpoints: Mutex::default(),
            tokens: Mutex::default(),
        })
    }

    pub(crate) fn wait(&self) -> Duration {
        self.options.wait
    }

    fn is_insecure(&self, host: &str) -> bool {
        self.options.insecure_registries.iter().any(|allowed| {
            let allowed = allowed
                .trim()
                .trim_start_matches("http://")
                .trim_end_matches('/');
            allowed.eq_ignore_ascii_case(host)
        })
    }

    /// The endpoint of `registry`, discovered once per run.
    pub(crate) async fn endpoint(&self, registry: &str) -> Result<Arc<Endpoint>, RegistryError> {
        cell(&self.endpoints, registry.to_string())
            .get_or_try_init(|| async { self.discover(registry).await.map(Arc::new) })
            .await
            .cloned()
    }

    /// Pings `/v2/` to learn the auth challenge, and checks the scheme.
    async fn discover(&self, registry: &str) -> Result<Endpoint, RegistryError> {
        let host = api_host(registry);
        let insecure = self.is_insecure(registry) || self.is_insecure(host);
        let base = format!("{}://{host}", if insecure { "http" } else { "https" });
        let ping = format!("{base}/v2/");
        let response = match self
            .send(registry, retry::MAX_RETRIES, || self.http.get(&ping))
            .await
        {
            Ok(r) => r,
            // An HTTPS failure against a server that answers plain HTTP
            // deserves a precise error, not "connection reset".
            Err(RegistryError::Unreachable { .. } | RegistryError::Timeout { .. })
                if !insecure && self.speaks_plain_http(host).await =>
            {
                return Err(RegistryError::PlainHttpOnly {
                    registry: registry.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        let challenge = if response.status() == StatusCode::UNAUTHORIZED {
            let header = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Some(Challenge::parse(header))
        } else {
            None
        };
        if let Some(Challenge::Unsupported(scheme)) = &challenge {
            return Err(RegistryError::UnsupportedChallenge {
                registry: registry.to_string(),
                scheme: scheme.clone(),
            });
        }
        let (login, helper) = match credentials::lookup(&self.options.credentials, registry)? {
            Lookup::Found(login) if insecure && !login.source.may_travel_in_clear() => (None, None),
            Lookup::Found(login) => (Some(login), None),
            Lookup::None { helper } => (None, helper),
        };
        debug!(registry, base = %base, challenge = ?challenge, source = %login.as_ref().map_or(CredentialSource::Anonymous, |l| l.source.clone()), "registry endpoint");
        Ok(Endpoint {
            registry: registry.to_string(),
            base,
            challenge,
            login,
            helper,
        })
    }

    /// Whether `host` answers plain HTTP, to explain a failed HTTPS attempt.
    async fn speaks_plain_http(&self, host: &str) -> bool {
        let probe = crate::http::send(
            self.http
                .get(format!("http://{host}/v2/"))
                .timeout(self.options.request_timeout.min(Duration::from_secs(5))),
        )
        .await;
        probe.is_ok()
    }

    /// The authorization for pulling `repository`, fetched once per scope.
    pub(crate) async fn authorization(
        &self,
        endpoint: &Endpoint,
        repository: &str,
    ) -> Result<Authorization, RegistryError> {
        let scope = pull_scope(repository);
        cell(&self.tokens, (endpoint.registry.clone(), scope.clone()))
            .get_or_try_init(|| self.authorize(endpoint, &scope))
            .await
            .cloned()
    }

    /// Forgets a cached token (it expired or was refused), so the next
    /// [`Client::authorization`] fetches a new one.
    pub(crate) fn forget_token(&self, endpoint: &Endpoint, repository: &str) {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(endpoint.registry.clone(), pull_scope(repository)));
    }

    async fn authorize(
        &self,
        endpoint: &Endpoint,
        scope: &str,
    ) -> Result<Authorization, RegistryError> {
        match &endpoint.challenge {
            None | Some(Challenge::Unsupported(_)) => Ok(Authorization {
                header: None,
                bearer: false,
            }),
            Some(Challenge::Basic) => Ok(Authorization {
                header: endpoint.login.as_ref().map(Login::basic_header),
                bearer: false,
            }),
            Some(Challenge::Bearer { realm, service }) => {
                let token = self
                    .fetch_token(endpoint, realm, service.as_deref(), scope)
                    .await?;
                Ok(Authorization {
                    header: Some(Secret::new(format!("Bearer {}", token.expose()))),
                    bearer: true,
                })
            }
        }
    }

    /// The distribution token flow: `GET realm?service=…&scope=…`, with the
    /// credentials as Basic auth when we have some, anonymously otherwise.
    async fn fetch_token(
        &self,
        endpoint: &Endpoint,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<Secret, RegistryError> {
        let realm_url = reqwest::Url::parse(realm).map_err(|e| RegistryError::BadResponse {
            registry: endpoint.registry.clone(),
            what: format!("token realm {realm:?} is not a URL: {e}"),
        })?;
        let realm_host = super::realm_host(realm);
        // Credentials go over plain HTTP only to a host the user listed:
        // the realm is the registry's choice, and listing the registry does
        // not vouch for whatever host it names.
        if realm_url.scheme() != "https" && !self.is_insecure(&realm_host) {
            return Err(RegistryError::InsecureRealm {
                registry: endpoint.registry.clone(),
                realm: realm.to_string(),
            });
        }
        let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
        if let Some(service) = service {
            query.push(("service", service));
        }
        let response = self
            .send(&endpoint.registry, retry::MAX_RETRIES, || {
                let request = self.http.get(realm_url.clone()).query(&query);
                match &endpoint.login {
                    Some(login) => {
                        request.header(header::AUTHORIZATION, login.basic_header().expose())
                    }
                    None => request,
                }
            })
            .await?;
        let status = response.status();
        let body = self.body(&endpoint.registry, response).await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let says = RegistrySays::parse(&body);
            return Err(RegistryError::Unauthorized {
                registry: endpoint.registry.clone(),
                scope: scope.to_string(),
                credentials: endpoint.source(),
                detail: format!(
                    "the token service refused the credentials ({})",
                    says.render(status)
                ),
                helper: endpoint.helper.clone(),
            });
        }
        if !status.is_success() {
            return Err(RegistryError::BadResponse {
                registry: endpoint.registry.clone(),
                what: format!(
                    "token service answered {}",
                    RegistrySays::parse(&body).render(status)
                ),
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
                registry: endpoint.registry.clone(),
                what: format!("token service sent invalid JSON: {e}"),
            })?;
        match parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
        {
            Some(t) => {
                debug!(registry = %endpoint.registry, scope, "obtained a registry token");
                Ok(Secret::new(t))
            }
            None => Err(RegistryError::BadResponse {
                registry: endpoint.registry.clone(),
                what: "token service answered without a token".into(),
            }),
        }
    }

    /// A manifest or blob request with the Accept list and authorization.
    pub(crate) async fn request(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        authorization: &Authorization,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = format!("{}{path}", endpoint.base);
        self.send(&endpoint.registry, retry::MAX_RETRIES, || {
            let request = self
                .http
                .request(method.clone(), &url)
                .header(header::ACCEPT, super::manifest::ACCEPT);
            match &authorization.header {
                Some(h) => request.header(header::AUTHORIZATION, h.expose()),
                None => request,
            }
        })
        .await
    }

    /// Reads a response body within the request timeout.
    pub(crate) async fn body(
        &self,
        registry: &str,
        response: reqwest::Response,
    ) -> Result<Vec<u8>, RegistryError> {
        let url = crate::http::shown_url(response.url());
        crate::http::read_body(response, crate::http::MAX_REGISTRY_BODY)
            .await
            .map_err(|e| match e {
                crate::http::BodyError::TooLarge { limit } => RegistryError::BodyTooLarge {
                    registry: registry.to_string(),
                    url,
                    limit,
                },
                crate::http::BodyError::Transport(e) => {
                    transport_error(registry, &url, &e, self.options.request_timeout, 1)
                }
            })
    }

    /// Sends a request, retrying 429 (after `Retry-After`), 5xx and
    /// connection failures up to `retries` times
    /// ([`crate::http::send_retrying`]), and says what failed in the
    /// registry's terms.
    async fn send(
        &self,
        registry: &str,
        retries: u32,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let timeout = self.options.request_timeout;
        let sent =
            crate::http::send_retrying(retries, || make().timeout(timeout), crate::http::execute)
                .await;
        match sent {
            Ok(response) => Ok(response),
            Err(gave_up) => Err(registry_error(gave_up, registry, timeout).await),
        }
    }
}

/// The registry's error for a request [`crate::http::send_retrying`] gave
/// up on.
async fn registry_error(gave_up: GaveUp, registry: &str, timeout: Duration) -> RegistryError {
    match gave_up {
        GaveUp::Build(e) => RegistryError::BadResponse {
            registry: registry.to_string(),
            what: format!("could not build a request: {e}"),
        },
        GaveUp::RateLimited {
            url,
            retry_after,
            attempts,
            ..
        } => RegistryError::RateLimited {
            registry: registry.to_string(),
            url,
            retry_after,
            attempts,
        },
        GaveUp::ServerError {
            url,
            attempts,
            response,
        } => {
            let status = response.status();
            let body = crate::http::read_body(response, crate::http::MAX_REGISTRY_BODY)
                .await
                .unwrap_or_default();
            RegistryError::ServerError {
                registry: registry.to_string(),
                url,
                detail: RegistrySays::parse(&body).render(status),
                attempts,
            }
        }
        GaveUp::Transport {
            url,
            error,
            attempts,
        } => transport_error(registry, &url, &error, timeout, attempts),
    }
}

/// `repository:<name>:pull`, the only scope resolving needs.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

fn transport_error(
    registry: &str,
    url: &str,
    e: &reqwest::Error,
    timeout: Duration,
    attempts: u32,
) -> RegistryError {
    if crate::http::is_downgrade(e) {
        RegistryError::InsecureRedirect {
            registry: registry.to_string(),
            url: url.to_string(),
        }
    } else if e.is_timeout() {
        RegistryError::Timeout {
            registry: registry.to_string(),
            url: url.to_string(),
            timeout,
            attempts,
        }
    } else {
        RegistryError::Unreachable {
            registry: registry.to_string(),
            url: url.to_string(),
            cause: error_chain(e),
            attempts,
        }
    }
}

/// The innermost causes, which say what actually failed ("Connection
/// refused", "certificate verify failed") where the outer error does not.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
