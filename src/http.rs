//! The process's one async runtime and one HTTP client, and what every
//! request of ours shares with a hostile server: a cap on the body we read,
//! and a redirect policy that never downgrades to HTTP.
//!
//! One client for registry, Google and GitHub calls, built once, sending
//! every request through [`execute`]. It is two reqwest clients inside,
//! because building a TLS-capable one costs the system CA bundle, parsed
//! (twice, by OpenSSL through native-tls) before the first connection,
//! about 50 ms: plain `http://` requests go through a client whose TLS is
//! never used, and the TLS client is built on the first `https://` request,
//! once per process. A plain-HTTP registry so costs no TLS setup at all.
//!
//! A registry, token service or API answer is read in chunks and refused
//! the moment it passes its cap, so a server sending a gigabyte costs us at
//! most the cap in memory, never the gigabyte (`.bytes()` would buffer it
//! all). The caps are documented in the README ("Security").

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How every request of ours introduces itself.
pub(crate) const USER_AGENT: &str = concat!("gitops-bump/", env!("CARGO_PKG_VERSION"));

/// Connecting takes at most this long; each caller bounds the whole request
/// with its own timeout ([`reqwest::RequestBuilder::timeout`]).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The process's one async runtime: `main` blocks on it, and every request
/// runs on it ([`execute`]). One worker thread keeps it running while the
/// main thread is blocked elsewhere (in libgit2, or in a `Drop`), so a
/// pooled connection, which is a task of the runtime that opened it, is
/// always served; a current-thread runtime would serve it only while
/// someone blocks on that runtime.
pub(crate) fn runtime() -> std::io::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("gitops-bump-io")
        .enable_all()
        .build()?;
    // Two threads racing here: the loser's runtime is dropped unused.
    Ok(RUNTIME.get_or_init(|| built))
}

/// Runs `future` to completion on the process's runtime. Like
/// [`tokio::runtime::Runtime::block_on`], it must not be called from
/// inside a runtime.
pub fn block_on<F: Future>(future: F) -> std::io::Result<F::Output> {
    Ok(runtime()?.block_on(future))
}

/// The process's client, to build requests with; [`send`] and [`execute`]
/// send them through its plain or its TLS half, by the URL.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    static PLAIN: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = PLAIN.get() {
        return Ok(client.clone());
    }
    let built = plain_client(plain_redirect_policy())?;
    Ok(PLAIN.get_or_init(|| built).clone())
}

/// The TLS half of the process's client, built on the first HTTPS request.
fn tls_client() -> Result<reqwest::Client, reqwest::Error> {
    static TLS: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = TLS.get() {
        return Ok(client.clone());
    }
    let built = tls_client_with(redirect_policy())?;
    Ok(TLS.get_or_init(|| built).clone())
}

/// A client for `url` alone, with `redirect` instead of our policy, for
/// the rare caller that needs another one (and says why). It shares the
/// process's TLS setup; send with its own `send`.
pub(crate) fn client_for(
    url: &str,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client, reqwest::Error> {
    if url.starts_with("https://") {
        tls_client_with(redirect)
    } else {
        plain_client(redirect)
    }
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
}

/// A client for `http://` URLs. reqwest has no client without TLS, so its
/// TLS is one that costs nothing to build and trusts nobody: rustls with
/// an empty root store. [`execute`] never gives it an `https://` URL.
fn plain_client(redirect: reqwest::redirect::Policy) -> Result<reqwest::Client, reqwest::Error> {
    static UNUSED_TLS: OnceLock<rustls::ClientConfig> = OnceLock::new();
    let tls = UNUSED_TLS
        .get_or_init(|| {
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| {
                rustls::ClientConfig::builder_with_protocol_versions(rustls::DEFAULT_VERSIONS)
            })
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        })
        .clone();
    builder()
        .tls_backend_preconfigured(tls)
        .redirect(redirect)
        .build()
}

/// A client for `https://` URLs: native-tls (OpenSSL), whose connector, and
/// so the parsed system CA bundle, is built once per process.
fn tls_client_with(redirect: reqwest::redirect::Policy) -> Result<reqwest::Client, reqwest::Error> {
    static CONNECTOR: OnceLock<native_tls::TlsConnector> = OnceLock::new();
    let connector = match CONNECTOR.get() {
        Some(connector) => connector.clone(),
        None => {
            // What reqwest's own native-tls setup asks for: HTTP/1.1 by ALPN.
            let built = native_tls::TlsConnector::builder()
                .request_alpns(&["http/1.1"])
                .build();
            match built {
                Ok(built) => CONNECTOR.get_or_init(|| built).clone(),
                // Let reqwest build its own and report why that fails.
                Err(_) => return builder().redirect(redirect).build(),
            }
        }
    };
    builder()
        .tls_backend_preconfigured(connector)
        .redirect(redirect)
        .build()
}

/// [`redirect_policy`] for the plain half, which stops at a redirect to
/// HTTPS: [`execute`] then sends the request through the TLS half.
fn plain_redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.url().scheme() == "https" {
            attempt.stop()
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(TooManyRedirects)
        } else {
            attempt.follow()
        }
    })
}

/// Sends a request built with [`client`] ([`execute`]).
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let (_, request) = request.build_split();
    execute(request?).await
}

/// Sends `request` with the process's client: an `https://` URL through
/// its TLS half; an `http://` one through its plain half, and when that is
/// redirected to HTTPS, sent again from the start through the TLS half,
/// which follows the same redirects one client used to follow.
///
/// It runs on the process's runtime, whichever runtime awaits the answer:
/// a pooled connection is a task of the runtime that opened it, so every
/// connection belongs to the one that always runs (a test, or a `Drop`,
/// may await on a runtime of its own).
pub(crate) async fn execute(
    request: reqwest::Request,
) -> Result<reqwest::Response, reqwest::Error> {
    on_runtime(route(request)).await
}

async fn route(request: reqwest::Request) -> Result<reqwest::Response, reqwest::Error> {
    if request.url().scheme() == "https" {
        return tls_client()?.execute(request).await;
    }
    let again = request.try_clone();
    let response = client()?.execute(request).await?;
    match again {
        Some(again) if redirects_to_https(&response) => tls_client()?.execute(again).await,
        _ => Ok(response),
    }
}

/// Whether `response` is a redirect reqwest follows, to an HTTPS URL.
fn redirects_to_https(response: &reqwest::Response) -> bool {
    use reqwest::StatusCode;
    let followed = [
        StatusCode::MOVED_PERMANENTLY,
        StatusCode::FOUND,
        StatusCode::SEE_OTHER,
        StatusCode::TEMPORARY_REDIRECT,
        StatusCode::PERMANENT_REDIRECT,
    ];
    followed.contains(&response.status())
        && response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| response.url().join(l).ok())
            .is_some_and(|to| to.scheme() == "https")
}

/// Runs `future` as a task of the process's runtime and awaits it here.
async fn on_runtime<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Ok(runtime) = runtime() else {
        return future.await;
    };
    let mut task = AbortOnDrop(runtime.spawn(future));
    match (&mut task.0).await {
        Ok(output) => output,
        // The task panicked: the panic goes on here.
        Err(e) => std::panic::resume_unwind(
            e.try_into_panic()
                .unwrap_or_else(|e| Box::new(e.to_string())),
        ),
    }
}

/// A spawned request is cancelled with the future that awaits it, as an
/// unspawned one would be.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Registry manifests, config blobs, token and error bodies. The
/// distribution spec lets registries refuse manifests above 4 MiB; a config
/// blob or a token is far smaller.
pub(crate) const MAX_REGISTRY_BODY: usize = 4 * 1024 * 1024;
/// GitHub OIDC, Google STS and IAM answers: a few KiB in practice.
pub(crate) const MAX_AUTH_BODY: usize = 1024 * 1024;
/// GitHub REST and GraphQL answers, including a base64 blob of a manifest
/// at the 10 MiB file limit.
pub(crate) const MAX_API_BODY: usize = 32 * 1024 * 1024;

/// Redirects followed at most; reqwest's default is also 10.
const MAX_REDIRECTS: usize = 10;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The server sent more than `limit` bytes.
    TooLarge {
        limit: usize,
    },
    Transport(reqwest::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(
                f,
                "the response body is larger than {} (the limit for this kind of answer); refused",
                human_size(*limit)
            ),
            BodyError::Transport(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::TooLarge { .. } => None,
            BodyError::Transport(e) => Some(e),
        }
    }
}

/// How a request retried by [`send_retrying`] ended, when it did not end
/// with an answer to hand back.
#[derive(Debug)]
pub(crate) enum GaveUp {
    /// The request could not be built.
    Build(reqwest::Error),
    /// Still 429 after `attempts`, or asked to wait longer than we wait.
    RateLimited {
        url: String,
        retry_after: Option<Duration>,
        attempts: u32,
        response: reqwest::Response,
    },
    /// Still a 5xx after `attempts`: the last answer, its body unread.
    ServerError {
        url: String,
        attempts: u32,
        response: reqwest::Response,
    },
    /// A connection failure or timeout after `attempts`, or at once when
    /// it is not one a retry can cure.
    Transport {
        url: String,
        error: reqwest::Error,
        attempts: u32,
    },
}

/// Sends the request `make` builds through `send`, retrying 429 (after
/// its `Retry-After`), 5xx answers and connection failures up to
/// `retries` times with [`Backoff::TRANSIENT`] between them. Never retries
/// any other status: 401/403/404 are answers, not accidents. Only for
/// requests that may be sent twice (a push is not one).
pub(crate) async fn send_retrying<F, Fut>(
    retries: u32,
    make: impl Fn() -> reqwest::RequestBuilder,
    send: F,
) -> Result<reqwest::Response, GaveUp>
where
    F: Fn(reqwest::Request) -> Fut,
    Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    use crate::retry::{Backoff, MAX_RETRY_AFTER, parse_retry_after};
    let mut attempt = 0;
    loop {
        let request = make().build().map_err(GaveUp::Build)?;
        let (method, url) = (request.method().clone(), shown_url(request.url()));
        let retry_in = match send(request).await {
            Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                tracing::debug!(%method, url, status = 429, "request rate limited");
                let after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
                if attempt >= retries || after.is_some_and(|a| a > MAX_RETRY_AFTER) {
                    return Err(GaveUp::RateLimited {
                        url,
                        retry_after: after,
                        attempts: attempt + 1,
                        response: r,
                    });
                }
                after.unwrap_or_else(|| Backoff::TRANSIENT.delay(attempt))
            }
            Ok(r) if r.status().is_server_error() => {
                tracing::debug!(%method, url, status = r.status().as_u16(), "server error");
                if attempt >= retries {
                    return Err(GaveUp::ServerError {
                        url,
                        attempts: attempt + 1,
                        response: r,
                    });
                }
                Backoff::TRANSIENT.delay(attempt)
            }
            Ok(r) => {
                tracing::debug!(%method, url, status = r.status().as_u16(), "request");
                return Ok(r);
            }
            Err(error) => {
                tracing::debug!(%method, url, %error, "request failed");
                let transient = error.is_connect() || error.is_timeout() || error.is_request();
                if attempt >= retries || !transient {
                    return Err(GaveUp::Transport {
                        url,
                        error,
                        attempts: attempt + 1,
                    });
                }
                Backoff::TRANSIENT.delay(attempt)
            }
        };
        attempt += 1;
        tokio::time::sleep(retry_in).await;
    }
}

/// A URL for logs and errors: without query (token requests carry account
/// names there) and without user info.
pub(crate) fn shown_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// `4 MiB`, `1 MiB`: how the limits read in messages and docs.
pub(crate) fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads `response`'s body, refusing it once it passes `limit` bytes.
/// A `Content-Length` above the limit is refused before reading anything.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Follows redirects (registries send blob downloads to storage hosts) but
/// never from HTTPS to plain HTTP, where the answer, and any header a
/// client re-sends, would travel in clear. reqwest already drops
/// `Authorization` when a redirect leaves the host.
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() != "https"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if downgrade {
            let to = attempt.url().clone();
            attempt.error(DowngradeRefused { to })
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(TooManyRedirects)
        } else {
            attempt.follow()
        }
    })
}

/// Whether `e` is a redirect [`redirect_policy`] refused as a downgrade.
pub(crate) fn is_downgrade(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<DowngradeRefused>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// An HTTPS request redirected to a plain-HTTP URL.
#[derive(Debug)]
pub(crate) struct DowngradeRefused {
    to: reqwest::Url,
}

impl fmt::Display for DowngradeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut to = self.to.clone();
        to.set_query(None);
        let _ = to.set_username("");
        let _ = to.set_password(None);
        write!(
            f,
            "refused a redirect from HTTPS to plain HTTP ({to}): the answer would travel unencrypted"
        )
    }
}

impl std::error::Error for DowngradeRefused {}

#[derive(Debug)]
struct TooManyRedirects;

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {MAX_REDIRECTS} redirects")
    }
}

impl std::error::Error for TooManyRedirects {}

#[cfg(test)]
mod tests {
    use super::human_size;
    use std::io::{BufRead, BufReader, Write};

    /// Serves `answers` HTTP/1.1 requests on 127.0.0.1 with `response`.
    fn serve(answers: usize, response: String) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(answers) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                stream.write_all(response.as_bytes()).unwrap();
            }
        });
        format!("http://{addr}/v2/")
    }

    #[test]
    fn a_plain_request_redirected_to_https_fails_as_with_one_client() {
        // Nothing listens on the target: the error says how far it went.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to = format!("https://{}/v2/", closed.local_addr().unwrap());
        drop(closed);
        let response = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        // Once for one TLS-capable client, as before; twice for ours.
        let url = serve(3, response);
        let chain = |e: &reqwest::Error| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        };
        let one = reqwest::Client::builder()
            .redirect(super::redirect_policy())
            .build()
            .unwrap();
        let (before, ours) = super::block_on(async {
            let before = one.get(&url).send().await.unwrap_err();
            let ours = super::send(super::client().unwrap().get(&url))
                .await
                .unwrap_err();
            (chain(&before), chain(&ours))
        })
        .unwrap();
        assert_eq!(ours, before);
        assert!(before.contains("tcp connect error"), "{before}");
    }

    #[test]
    fn a_plain_answer_is_read_without_tls() {
        let url = serve(1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".into());
        let client = super::client().unwrap();
        let body = super::block_on(async {
            let response = super::send(client.get(&url)).await.unwrap();
            response.text().await.unwrap()
        })
        .unwrap();
        assert_eq!(body, "ok");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        let cases = [
            (4 * 1024 * 1024, "4 MiB"),
            (1024, "1 KiB"),
            (1536, "1536 bytes"),
            (10, "10 bytes"),
        ];
        for (bytes, want) in cases {
            assert_eq!(human_size(bytes), want);
        }
    }
}
