//! A local stand-in for the three endpoints of keyless auth: the runner's
//! OIDC token endpoint, Google STS and IAM Credentials. It logs every
//! request verbatim and answers with defaults or scripted responses, so
//! tests can assert exactly what a client sent.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};

pub const REQUEST_TOKEN: &str = "FAKE-ACTIONS-REQUEST-TOKEN-5f2c";
pub const STS_TOKEN: &str = "ya29.FAKE-STS-FEDERATED-TOKEN-81ad";
pub const IMPERSONATED_TOKEN: &str = "ya29.FAKE-IMPERSONATED-TOKEN-c3e9";
pub const IMPERSONATED_EXPIRY: &str = "2031-05-06T07:08:09Z";

/// Which endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Oidc,
    Sts,
    Introspect,
    GenerateAccessToken,
    /// A project-scoped API a later step calls (gcloud compute).
    Compute,
    Unknown,
}

impl Route {
    fn of(method: &str, path: &str) -> Route {
        let path = path.split('?').next().unwrap_or("");
        match (method, path) {
            ("GET", "/oidc") => Route::Oidc,
            ("POST", "/v1/token") => Route::Sts,
            ("POST", "/v1/introspect") => Route::Introspect,
            ("POST", p) if p.ends_with(":generateAccessToken") => Route::GenerateAccessToken,
            ("GET", p) if p.starts_with("/compute/v1/projects/") => Route::Compute,
            _ => Route::Unknown,
        }
    }
}

/// One logged request. Header names are lowercase.
#[derive(Debug, Clone)]
pub struct Request {
    pub route: Route,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Query parameters, decoded, in order.
    pub fn query(&self) -> Vec<(String, String)> {
        let q = self.path.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded(q)
    }

    /// The body as decoded form fields, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded(&self.body)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn form_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct State {
    log: Vec<Request>,
    scripted: HashMap<Route, VecDeque<(u16, String)>>,
    claims: Value,
    issued: u32,
}

/// The running server; stopped and joined on drop.
pub struct FakeGoogle {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl FakeGoogle {
    pub fn start() -> FakeGoogle {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            claims: json!({
                "sub": "repo:octo/app:ref:refs/heads/main",
                "repository": "octo/app",
                "repository_owner": "octo",
                "ref": "refs/heads/main",
                "event_name": "push",
                "workflow_ref": "octo/app/.github/workflows/deploy.yml@refs/heads/main",
                "iss": "https://token.actions.githubusercontent.com",
            }),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                // Bounded: each connection has read/write timeouts, and the
                // loop ends when `stop` is set (Drop wakes accept()).
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(s) = stream {
                        let _ = handle(s, &state);
                    }
                }
            })
        };
        FakeGoogle {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Claims merged into every JWT the OIDC endpoint issues.
    pub fn set_claims(&self, extra: Value) {
        let mut st = self.state.lock().unwrap();
        if let (Value::Object(base), Value::Object(extra)) = (&mut st.claims, extra) {
            for (k, v) in extra {
                base.insert(k, v);
            }
        }
    }

    /// The next answer of `route` will be this one (queued in order).
    pub fn script(&self, route: Route, status: u16, body: impl Into<String>) {
        self.state
            .lock()
            .unwrap()
            .scripted
            .entry(route)
            .or_default()
            .push_back((status, body.into()));
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn requests_to(&self, route: Route) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.route == route)
            .collect()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// Every token value this server handed out, to check none leaks.
    pub fn issued_secrets(&self) -> Vec<String> {
        let mut v = vec![
            REQUEST_TOKEN.to_string(),
            STS_TOKEN.to_string(),
            IMPERSONATED_TOKEN.to_string(),
        ];
        for r in self.requests() {
            for (k, val) in r.form() {
                if k == "subject_token" {
                    v.push(val);
                }
            }
        }
        v
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for _ in 0..200 {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let request = Request {
        route: Route::of(&method, &path),
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, answer) = respond(&request, state);
    state.lock().unwrap().log.push(request);
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    out.flush()
}

fn respond(request: &Request, state: &Mutex<State>) -> (u16, String) {
    let mut st = state.lock().unwrap();
    if let Some(answer) = st
        .scripted
        .get_mut(&request.route)
        .and_then(VecDeque::pop_front)
    {
        return answer;
    }
    match request.route {
        Route::Oidc => {
            if request.header("authorization") != Some(&format!("Bearer {REQUEST_TOKEN}")) {
                return (401, r#"{"message":"bad request token"}"#.into());
            }
            let audience = request
                .query()
                .into_iter()
                .find(|(k, _)| k == "audience")
                .map(|(_, v)| v)
                .unwrap_or_default();
            st.issued += 1;
            let mut claims = st.claims.clone();
            let t = now();
            claims["aud"] = json!(audience);
            claims["iat"] = json!(t);
            claims["nbf"] = json!(t);
            claims["exp"] = json!(t + 300);
            claims["jti"] = json!(format!("jti-{}", st.issued));
            let jwt = format!(
                "{}.{}.{}",
                b64url(br#"{"alg":"RS256","typ":"JWT","kid":"test"}"#),
                b64url(claims.to_string().as_bytes()),
                b64url(format!("fake-signature-{}", st.issued).as_bytes())
            );
            (200, json!({"count": 1, "value": jwt}).to_string())
        }
        Route::Sts => (
            200,
            json!({
                "access_token": STS_TOKEN,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 3599
            })
            .to_string(),
        ),
        Route::Introspect => (
            200,
            json!({
                "active": true,
                "username": "principal://iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/gh-pool/subject/repo:octo/app:ref:refs/heads/main",
                "exp": now() + 3600
            })
            .to_string(),
        ),
        Route::GenerateAccessToken => (
            200,
            json!({"accessToken": IMPERSONATED_TOKEN, "expireTime": IMPERSONATED_EXPIRY})
                .to_string(),
        ),
        Route::Compute => (
            200,
            json!({"kind": "compute#instanceAggregatedList", "items": {}}).to_string(),
        ),
        Route::Unknown => (404, r#"{"error":"not found"}"#.into()),
    }
}
