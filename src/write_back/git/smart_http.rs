//! git's smart-HTTP protocol (protocol v0, stateless RPC), spoken by us
//! over the process's one HTTP client ([`crate::http`]) instead of
//! libgit2's transport: fetch one branch (shallow, deepened, or
//! incremental) and push one ref as a compare-and-swap.
//!
//! Why our own: libgit2's HTTP transport writes each request in several
//! small segments without `TCP_NODELAY`, so every POST waited on the
//! server's delayed ACK (about 40 ms each on loopback, one round trip on a
//! real network), answers a 401 challenge on every request, and spends two
//! `upload-pack` runs on a depth-1 fetch. Here a fetch is one advertisement
//! and one `upload-pack` POST (skipped when the tip is already here), a push
//! one advertisement and one `receive-pack` POST, the token is sent
//! preemptively once the origin asked for it, and git objects stay in
//! libgit2's hands: the received pack is indexed by its object database,
//! the pack sent is built by its pack builder.
//!
//! The token rules are those of [`super::remote`]: it goes only to the
//! origin the user named, over HTTPS unless that origin is listed in
//! `insecure-git-origins`, and never before the server asked for it (a
//! redirect that leads elsewhere never sees it).

use std::collections::BTreeSet;
use std::io::Write;

use git2::{Oid, Repository};

use super::GitError;
use super::history::shallow_roots;
use super::remote::{
    Origin, PushOutcome, RemoteLocation, TOKEN_USER, classify_refusal, may_send_token,
};
use crate::http::GaveUp;
use crate::secret::Secret;

/// How our git requests introduce themselves: git hosts tell git clients
/// by a `git/` prefix, as they see libgit2's `git/2.0 (libgit2 …)`.
const GIT_USER_AGENT: &str = concat!("git/2.0 (gitops-bump/", env!("CARGO_PKG_VERSION"), ")");

/// Largest ref advertisement or push report we read.
const ADVERTISEMENT_LIMIT: usize = 64 * 1024 * 1024;
/// Haves sent at most: the newest local tips, enough to find common history.
const MAX_HAVES: usize = 64;
/// Largest server message (band 2, hooks) we keep.
const MESSAGES_LIMIT: usize = 4096;

/// A conversation with one remote: where its requests go (the URL after
/// the first request's redirects) and whether the token goes along.
struct Session<'a> {
    location: &'a RemoteLocation,
    token: Option<&'a Secret>,
    base: String,
    /// The server asked for credentials once: send them with every request.
    send_token: bool,
}

/// A ref advertisement: the refs and the capabilities of the service.
struct Advertisement {
    refs: Vec<(String, Oid)>,
    capabilities: Vec<String>,
}

impl Advertisement {
    fn get(&self, name: &str) -> Option<Oid> {
        self.refs.iter().find(|(n, _)| n == name).map(|(_, o)| *o)
    }

    fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// The branch HEAD names (`symref=HEAD:refs/heads/main`).
    fn default_branch(&self) -> Option<String> {
        self.capabilities.iter().find_map(|c| {
            c.strip_prefix("symref=HEAD:refs/heads/")
                .map(str::to_string)
        })
    }

    /// The capabilities of ours the server offers, as the first line sends them.
    fn ask(&self, wanted: &[&str]) -> String {
        let mut asked: Vec<String> = wanted
            .iter()
            .filter(|c| self.has(c))
            .map(|c| c.to_string())
            .collect();
        asked.push(format!("agent={}", crate::http::USER_AGENT));
        asked.join(" ")
    }
}

/// Which way a request goes, for messages.
#[derive(Clone, Copy)]
enum Service {
    UploadPack,
    ReceivePack,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::UploadPack => "git-upload-pack",
            Service::ReceivePack => "git-receive-pack",
        }
    }

    fn operation(self) -> &'static str {
        match self {
            Service::UploadPack => "read",
            Service::ReceivePack => "push to",
        }
    }
}

/// The origins (scheme, host, port) that asked this process for
/// credentials: git servers ask on every request, so once is enough to know.
static ASKED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// `scheme://host:port` of `url`, as the token rules compare origins.
fn origin(url: &str) -> Option<String> {
    Origin::of(url).map(|o| o.to_string())
}

fn remember_asked(url: &str) {
    if let (Some(origin), Ok(mut asked)) = (origin(url), ASKED.lock())
        && !asked.contains(&origin)
    {
        asked.push(origin);
    }
}

fn asked_before(url: &str) -> bool {
    origin(url).is_some_and(|o| ASKED.lock().is_ok_and(|asked| asked.contains(&o)))
}

/// A push redirected to another origin: refused, so the commit lands
/// where the user said or nowhere.
#[derive(Debug)]
struct PushRedirected {
    to: String,
}

impl std::fmt::Display for PushRedirected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server redirected the push to {}; a push goes only to the origin of `repository` (or of the checkout's origin)",
            super::remote::redact_url(&self.to)
        )
    }
}

impl std::error::Error for PushRedirected {}

/// A failure below the protocol: the connection, or a malformed answer.
fn remote_error(location: &RemoteLocation, why: impl std::fmt::Display) -> GitError {
    GitError::Remote {
        url: location.display(),
        source: git2::Error::from_str(&why.to_string()),
    }
}

/// reqwest's error with its causes: "error sending request" alone says nothing.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    // The URL reqwest names never holds the token: it goes only in a header.
    text
}

impl<'a> Session<'a> {
    fn new(location: &'a RemoteLocation, token: Option<&'a Secret>) -> Session<'a> {
        Session {
            location,
            token,
            base: location.url.trim_end_matches('/').to_string(),
            send_token: false,
        }
    }

    /// The client for `service`: a fetch follows redirects as every request
    /// of ours does (the token rules judge where it lands); a push follows
    /// them only within the origin the user named, so a commit can never
    /// land on another server.
    fn client(&self, service: Service) -> Result<reqwest::Client, reqwest::Error> {
        match service {
            Service::UploadPack => crate::http::client(),
            Service::ReceivePack => {
                let named = origin(&self.location.url);
                let policy = reqwest::redirect::Policy::custom(move |attempt| {
                    let to = origin(attempt.url().as_str());
                    if to.is_none() || to != named {
                        let to = to.unwrap_or_else(|| attempt.url().to_string());
                        attempt.error(PushRedirected { to })
                    } else if attempt.previous().len() >= 5 {
                        attempt.stop()
                    } else {
                        attempt.follow()
                    }
                });
                crate::http::client_for(&self.location.url, policy)
            }
        }
    }

    /// Sends a request built by `build` for `url`, answering a 401 once
    /// with the token (where the token may go), and returns a 2xx answer.
    /// Any other answer is the error users see: the status and the
    /// server's words (GitHub explains a 403 or 404 in the body).
    async fn send(
        &mut self,
        service: Service,
        retryable: bool,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, GitError> {
        let client = self
            .client(service)
            .map_err(|e| remote_error(self.location, describe(&e)))?;
        // An origin that asked this process for the token before gets it
        // with the first request of a new conversation too.
        if !self.send_token
            && self.token.is_some()
            && asked_before(url)
            && may_send_token(self.location, url).is_ok()
        {
            self.send_token = true;
        }
        // Reads may be sent again after a 5xx, a 429 or a dropped
        // connection; a push may not (the server may have applied it).
        let retries = if retryable {
            crate::retry::MAX_RETRIES
        } else {
            0
        };
        loop {
            let token = self.token.filter(|_| self.send_token);
            let make = || {
                let request = build(&client, url);
                match token {
                    Some(token) => request.basic_auth(TOKEN_USER, Some(token.expose())),
                    None => request,
                }
            };
            let sent = match service {
                Service::UploadPack => {
                    crate::http::send_retrying(retries, make, crate::http::execute).await
                }
                Service::ReceivePack => {
                    crate::http::send_retrying(retries, make, |r| client.execute(r)).await
                }
            };
            let response = match sent {
                Ok(response)
                | Err(GaveUp::RateLimited { response, .. })
                | Err(GaveUp::ServerError { response, .. }) => response,
                Err(GaveUp::Transport { error, .. }) | Err(GaveUp::Build(error)) => {
                    return Err(remote_error(self.location, describe(&error)));
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status.as_u16() == 401 {
                if self.send_token {
                    return Err(GitError::Auth {
                        url: self.location.display(),
                        operation: service.operation(),
                        message: "the server rejected the credentials".into(),
                    });
                }
                let asked_by = response.url().to_string();
                let Some(_) = self.token else {
                    return Err(GitError::Auth {
                        url: self.location.display(),
                        operation: service.operation(),
                        message: "the server asked for credentials and no `token` was given".into(),
                    });
                };
                if let Err(why) = may_send_token(self.location, &asked_by) {
                    return Err(GitError::TokenWithheld {
                        url: self.location.display(),
                        asked_by: super::remote::redact_url(&asked_by),
                        why,
                    });
                }
                remember_asked(&asked_by);
                self.send_token = true;
                continue;
            }
            let body = crate::http::read_body(response, MESSAGES_LIMIT)
                .await
                .unwrap_or_default();
            return Err(GitError::Denied {
                url: self.location.display(),
                operation: service.operation(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).trim().to_string(),
            });
        }
    }

    /// `GET info/refs?service=…`: the refs and capabilities. A redirect of
    /// this first request moves the whole conversation (as git does), and
    /// the token rules then judge the new origin.
    async fn advertisement(&mut self, service: Service) -> Result<Advertisement, GitError> {
        let url = format!("{}/info/refs?service={}", self.base, service.name());
        let response = self
            .send(
                service,
                true,
                |client, url| {
                    client
                        .get(url)
                        .header("User-Agent", GIT_USER_AGENT)
                        .header("Accept", "*/*")
                        .header("Pragma", "no-cache")
                },
                &url,
            )
            .await?;
        let landed = response.url().as_str().to_string();
        if let Some(base) = landed
            .split('?')
            .next()
            .and_then(|u| u.strip_suffix("/info/refs"))
        {
            self.base = base.to_string();
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = crate::http::read_body(response, ADVERTISEMENT_LIMIT)
            .await
            .map_err(|e| remote_error(self.location, e))?;
        let expected = format!("application/x-{}-advertisement", service.name());
        if !content_type.starts_with(&expected) {
            return Err(remote_error(
                self.location,
                format!(
                    "the server does not speak git's smart HTTP protocol (answered `{content_type}` to {}/info/refs)",
                    super::remote::redact_url(&self.base)
                ),
            ));
        }
        parse_advertisement(&body, service).map_err(|why| remote_error(self.location, why))
    }

    /// `POST git-<service>` with `body`; the answer's body, read as it comes.
    async fn rpc(&mut self, service: Service, body: Vec<u8>) -> Result<PktStream, GitError> {
        let url = format!("{}/{}", self.base, service.name());
        let name = service.name();
        // A fetch may be sent again; a push may have been applied.
        let retryable = matches!(service, Service::UploadPack);
        let response = self
            .send(
                service,
                retryable,
                |client, url| {
                    client
                        .post(url)
                        .header("User-Agent", GIT_USER_AGENT)
                        .header("Content-Type", format!("application/x-{name}-request"))
                        .header("Accept", format!("application/x-{name}-result"))
                        .body(body.clone())
                },
                &url,
            )
            .await?;
        Ok(PktStream::new(response))
    }
}

/// Fetches `branch` (or the remote's default branch) and returns it with
/// its tip. `depth` cuts history (a shallow fetch) or deepens a shallow
/// repository to that many commits behind the tip.
pub(super) fn fetch(
    repo: &Repository,
    location: &RemoteLocation,
    branch: Option<&str>,
    token: Option<&Secret>,
    depth: Option<i32>,
) -> Result<(String, Oid), GitError> {
    let mut session = Session::new(location, token);
    crate::http::block_on(fetch_with(&mut session, repo, branch, depth))
        .map_err(|e| remote_error(location, e))?
}

async fn fetch_with(
    session: &mut Session<'_>,
    repo: &Repository,
    branch: Option<&str>,
    depth: Option<i32>,
) -> Result<(String, Oid), GitError> {
    let location = session.location;
    let advertised = session.advertisement(Service::UploadPack).await?;
    let branch = match branch {
        Some(b) => b.to_string(),
        None => advertised
            .default_branch()
            .ok_or_else(|| GitError::NoDefaultBranch {
                url: location.display(),
            })?,
    };
    let tip = advertised
        .get(&format!("refs/heads/{branch}"))
        .ok_or_else(|| GitError::NoSuchBranch {
            url: location.display(),
            branch: branch.clone(),
        })?;
    let shallow = shallow_roots(repo);
    let deepen = depth.filter(|d| *d > 0);
    let have_tip = repo.find_commit(tip).is_ok();
    // The tip is here already: nothing to ask for, unless history behind a
    // shallow cut is wanted.
    if have_tip && (deepen.is_none_or(|d| d <= 1) || shallow.is_empty()) {
        return Ok((branch, tip));
    }
    let fail = |why: String| GitError::Fetch {
        url: location.display(),
        branch: branch.clone(),
        source: git2::Error::from_str(&why),
    };
    let capabilities = advertised.ask(&["side-band-64k", "ofs-delta", "shallow", "no-progress"]);
    let mut request = Vec::new();
    pkt(
        &mut request,
        format!("want {tip} {capabilities}\n").as_bytes(),
    );
    if advertised.has("shallow") {
        for root in &shallow {
            pkt(&mut request, format!("shallow {root}\n").as_bytes());
        }
        if let Some(depth) = deepen {
            pkt(&mut request, format!("deepen {depth}\n").as_bytes());
        }
    }
    request.extend_from_slice(b"0000");
    for have in haves(repo) {
        pkt(&mut request, format!("have {have}\n").as_bytes());
    }
    pkt(&mut request, b"done\n");
    let mut answer = session.rpc(Service::UploadPack, request).await?;
    // Shallow lines (when we are or become shallow), ACK or NAK lines,
    // then the pack: side-band packets, or the bare pack after `PACK`.
    let sideband = advertised.has("side-band-64k");
    let mut shallow_now: BTreeSet<Oid> = shallow.iter().copied().collect();
    let mut pending = None;
    loop {
        if !sideband && answer.starts_with(b"PACK").await.map_err(&fail)? {
            break;
        }
        match answer.next().await.map_err(&fail)? {
            Pkt::Flush => {}
            Pkt::End => return Err(fail("the server's answer ended before the pack".into())),
            Pkt::Data(data) if sideband && matches!(data.first(), Some(1..=3)) => {
                pending = Some(data);
                break;
            }
            Pkt::Data(line) => {
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if let Some(oid) = line.strip_prefix("shallow ") {
                    shallow_now.insert(parse_oid(oid).map_err(&fail)?);
                } else if let Some(oid) = line.strip_prefix("unshallow ") {
                    shallow_now.remove(&parse_oid(oid).map_err(&fail)?);
                } else if line == "NAK" || line.starts_with("ACK ") {
                    continue;
                } else if let Some(message) = line.strip_prefix("ERR ") {
                    return Err(fail(format!("the server said: {message}")));
                } else {
                    return Err(fail(format!("unexpected line from upload-pack: {line:?}")));
                }
            }
        }
    }
    let odb = repo.odb().map_err(|e| fail(e.message().to_string()))?;
    let mut writer = odb
        .packwriter()
        .map_err(|e| fail(e.message().to_string()))?;
    let mut header = Vec::with_capacity(12);
    loop {
        let data = if sideband {
            let packet = match pending.take() {
                Some(data) => Pkt::Data(data),
                None => answer.next().await.map_err(&fail)?,
            };
            match packet {
                Pkt::Flush | Pkt::End => break,
                Pkt::Data(data) => match band_of(data).map_err(&fail)? {
                    Band::Data(pack) => pack,
                    Band::Message(_) => continue,
                    Band::Error(message) => {
                        return Err(fail(format!(
                            "the server said: {}",
                            String::from_utf8_lossy(&message).trim()
                        )));
                    }
                },
            }
        } else {
            match answer.raw().await.map_err(&fail)? {
                Some(data) => data,
                None => break,
            }
        };
        if header.len() < 12 {
            header.extend(data.iter().take(12 - header.len()));
        }
        writer.write_all(&data).map_err(|e| fail(e.to_string()))?;
    }
    // `PACK`, version, object count: an empty pack (nothing we lack) is
    // not indexed.
    let objects = header
        .get(8..12)
        .map_or(0, |n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]));
    if objects > 0 {
        writer.commit().map_err(|e| fail(e.message().to_string()))?;
    }
    write_shallow(repo, &shallow_now).map_err(|e| GitError::Workspace {
        what: "recording the shallow history in .git/shallow",
        source: e,
    })?;
    if repo.find_commit(tip).is_err() {
        return Err(fail(format!(
            "the server's pack did not contain the tip {tip}"
        )));
    }
    Ok((branch, tip))
}

/// Pushes `commit` to `refs/heads/<branch>`: from `expect` exactly (a
/// compare-and-swap that never creates the branch), or forced when `expect`
/// is `None` (our own pull-request branches).
pub(super) fn push(
    repo: &Repository,
    location: &RemoteLocation,
    commit: Oid,
    branch: &str,
    token: Option<&Secret>,
    expect: Option<Oid>,
) -> Result<PushOutcome, GitError> {
    let mut session = Session::new(location, token);
    crate::http::block_on(push_with(&mut session, repo, commit, branch, expect))
        .map_err(|e| remote_error(location, e))?
}

async fn push_with(
    session: &mut Session<'_>,
    repo: &Repository,
    commit: Oid,
    branch: &str,
    expect: Option<Oid>,
) -> Result<PushOutcome, GitError> {
    let location = session.location;
    let target = format!("refs/heads/{branch}");
    let advertised = session.advertisement(Service::ReceivePack).await?;
    let now = advertised.get(&target);
    // The compare-and-swap, checked before any object is sent; receive-pack
    // checks it again under the ref's lock.
    if let Some(expect) = expect {
        match now {
            None => {
                return Err(GitError::NoSuchBranch {
                    url: location.display(),
                    branch: branch.to_string(),
                });
            }
            Some(now) if now != expect => {
                return Ok(PushOutcome::LostRace(format!(
                    "the branch moved to {}",
                    &now.to_string()[..12]
                )));
            }
            Some(_) => {}
        }
    }
    let old = now.unwrap_or(Oid::ZERO_SHA1);
    if old == commit {
        return Ok(PushOutcome::Pushed);
    }
    let failed = |why: String, messages: String| GitError::Push {
        url: location.display(),
        branch: branch.to_string(),
        source: git2::Error::from_str(&why),
        remote_messages: messages,
    };
    let pack =
        build_pack(repo, commit).map_err(|e| failed(e.message().to_string(), String::new()))?;
    if !advertised.has("report-status") {
        return Err(failed(
            "the server does not report the result of a push (no `report-status`)".into(),
            String::new(),
        ));
    }
    let capabilities = advertised.ask(&["report-status", "side-band-64k", "quiet"]);
    let mut request = Vec::new();
    pkt(
        &mut request,
        format!("{old} {commit} {target}\0{capabilities}").as_bytes(),
    );
    request.extend_from_slice(b"0000");
    request.extend_from_slice(&pack);
    let mut answer = session.rpc(Service::ReceivePack, request).await?;
    let sideband = advertised.has("side-band-64k");
    let mut messages = String::new();
    // Side-band 1 carries the report as pkt-lines, possibly split across
    // packets; without side-band the report's lines are the packets.
    let mut report = Vec::new();
    let mut lines = Vec::new();
    let mut fatal = None;
    let keep = |messages: &mut String, text: &[u8]| {
        for line in String::from_utf8_lossy(text)
            .split(['\n', '\r'])
            .map(str::trim)
        {
            if !line.is_empty() && messages.len() < MESSAGES_LIMIT {
                messages.push_str(line);
                messages.push('\n');
            }
        }
    };
    loop {
        let packet = answer
            .next()
            .await
            .map_err(|why| failed(why, messages.trim().to_string()))?;
        match packet {
            Pkt::End => break,
            Pkt::Flush if !sideband => break,
            Pkt::Flush => {}
            Pkt::Data(data) if !sideband => {
                lines.push(String::from_utf8_lossy(&data).trim_end().to_string());
            }
            Pkt::Data(data) => {
                match band_of(data).map_err(|why| failed(why, messages.trim().to_string()))? {
                    // The report, itself pkt-lines, possibly split across packets.
                    Band::Data(inner) => report.extend_from_slice(&inner),
                    Band::Message(text) => keep(&mut messages, &text),
                    Band::Error(text) => {
                        keep(&mut messages, &text);
                        fatal = Some(String::from_utf8_lossy(&text).trim().to_string());
                    }
                }
            }
        }
    }
    let messages = messages.trim().to_string();
    if sideband {
        lines = parse_report(&report);
    }
    let unpack = lines.iter().find_map(|l| l.strip_prefix("unpack "));
    let status = lines.iter().find_map(|l| {
        if let Some(rest) = l.strip_prefix("ok ") {
            (rest.trim() == target).then_some(Ok(()))
        } else if let Some(rest) = l.strip_prefix("ng ") {
            let (name, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            (name == target).then(|| Err(reason.to_string()))
        } else {
            None
        }
    });
    match (unpack, status) {
        (Some("ok"), Some(Ok(()))) => Ok(PushOutcome::Pushed),
        (_, Some(Err(reason))) => classify_refusal(location, branch, &reason, &messages),
        (Some(unpack), _) if unpack != "ok" => Err(failed(
            format!("the server could not unpack what we sent: {unpack}"),
            messages,
        )),
        _ => Err(failed(
            fatal.unwrap_or_else(|| "the server's answer has no result for the branch".into()),
            messages,
        )),
    }
}

/// The pack of what `commit` adds to its parent, which the remote has:
/// every commit we push is made on a tip we fetched. The objects are picked
/// by comparing the trees, not by walking history, which in a shallow
/// repository would run into the missing commits behind the cut.
fn build_pack(repo: &Repository, commit: Oid) -> Result<Vec<u8>, git2::Error> {
    let new = repo.find_commit(commit)?;
    let mut builder = repo.packbuilder()?;
    builder.insert_object(commit, None)?;
    let base = match new.parent_ids().next() {
        Some(parent) => Some(repo.find_commit(parent)?.tree()?),
        None => None,
    };
    insert_changed(repo, &mut builder, &new.tree()?, base.as_ref())?;
    let mut buf = git2::Buf::new();
    builder.write_buf(&mut buf)?;
    Ok(buf.to_vec())
}

/// Adds `tree` and everything under it that `base` (the same directory in
/// the parent) does not have.
fn insert_changed(
    repo: &Repository,
    builder: &mut git2::PackBuilder<'_>,
    tree: &git2::Tree<'_>,
    base: Option<&git2::Tree<'_>>,
) -> Result<(), git2::Error> {
    if base.is_some_and(|b| b.id() == tree.id()) {
        return Ok(());
    }
    builder.insert_object(tree.id(), None)?;
    for entry in tree.iter() {
        let before = base.and_then(|b| {
            b.get_name_bytes(entry.name_bytes())
                .map(|e| (e.id(), e.kind()))
        });
        if before.map(|(id, _)| id) == Some(entry.id()) {
            continue;
        }
        match entry.kind() {
            Some(git2::ObjectType::Tree) => {
                let sub = repo.find_tree(entry.id())?;
                let old = match before {
                    Some((id, Some(git2::ObjectType::Tree))) => Some(repo.find_tree(id)?),
                    _ => None,
                };
                insert_changed(repo, builder, &sub, old.as_ref())?;
            }
            Some(git2::ObjectType::Blob) => builder.insert_object(entry.id(), None)?,
            // A submodule's commit lives in another repository.
            _ => {}
        }
    }
    Ok(())
}

/// Commits we have, newest refs first, for the server to find common
/// history and send only what is new.
fn haves(repo: &Repository) -> Vec<Oid> {
    let mut out = Vec::new();
    if let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) {
        out.push(head.id());
    }
    if let Ok(refs) = repo.references() {
        for r in refs.flatten() {
            let name = r.name().unwrap_or_default();
            if !(name.starts_with("refs/heads/") || name.starts_with("refs/remotes/")) {
                continue;
            }
            if let Ok(c) = r.peel_to_commit()
                && !out.contains(&c.id())
            {
                out.push(c.id());
            }
            if out.len() >= MAX_HAVES {
                break;
            }
        }
    }
    out
}

/// Records the shallow roots as git does: `.git/shallow`, replaced
/// atomically, removed when history is whole.
fn write_shallow(repo: &Repository, roots: &BTreeSet<Oid>) -> std::io::Result<()> {
    let path = repo.path().join("shallow");
    let now: BTreeSet<Oid> = shallow_roots(repo).into_iter().collect();
    if &now == roots {
        return Ok(());
    }
    if roots.is_empty() {
        return std::fs::remove_file(&path).or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        });
    }
    let lock = repo.path().join("shallow.lock");
    let text: String = roots.iter().map(|o| format!("{o}\n")).collect();
    std::fs::write(&lock, text)?;
    std::fs::rename(&lock, &path)
}

fn parse_oid(text: &str) -> Result<Oid, String> {
    Oid::from_str(text.trim()).map_err(|_| format!("not an object id: {text:?}"))
}

/// Appends `data` as one pkt-line.
fn pkt(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:04x}", data.len() + 4).as_bytes());
    out.extend_from_slice(data);
}

/// The lines of a report-status carried in side-band 1 (pkt-lines), up
/// to anything malformed.
fn parse_report(data: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = data;
    while let Ok((line, after)) = split_pkt(rest) {
        if let Some(line) = line {
            lines.push(String::from_utf8_lossy(line).trim_end().to_string());
        }
        rest = after;
    }
    lines
}

/// The length a pkt-line's four hex digits give (0 to 3: a special packet).
fn pkt_len(head: &[u8]) -> Result<usize, String> {
    std::str::from_utf8(head)
        .ok()
        .and_then(|h| usize::from_str_radix(h, 16).ok())
        .ok_or_else(|| format!("not a pkt-line length: {:?}", String::from_utf8_lossy(head)))
}

/// The refs and capabilities of an `info/refs` answer.
fn parse_advertisement(body: &[u8], service: Service) -> Result<Advertisement, String> {
    let mut refs = Vec::new();
    let mut capabilities = Vec::new();
    let mut rest = body;
    let mut first = true;
    let mut seen_service = false;
    while !rest.is_empty() {
        let (packet, after) = split_pkt(rest)?;
        rest = after;
        let Some(line) = packet else {
            if seen_service && !first {
                break;
            }
            continue;
        };
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.starts_with(b"# service=") {
            if line != format!("# service={}", service.name()).as_bytes() {
                return Err(format!(
                    "the server announced {:?}",
                    String::from_utf8_lossy(line)
                ));
            }
            seen_service = true;
            continue;
        }
        if let Some(message) = line.strip_prefix(b"ERR ") {
            return Err(format!(
                "the server said: {}",
                String::from_utf8_lossy(message)
            ));
        }
        let (text, caps) = match line.iter().position(|b| *b == 0) {
            Some(nul) => (&line[..nul], Some(&line[nul + 1..])),
            None => (line, None),
        };
        if first {
            if let Some(caps) = caps {
                capabilities = String::from_utf8_lossy(caps)
                    .split(' ')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            first = false;
        }
        let text = String::from_utf8_lossy(text);
        let (oid, name) = text
            .split_once(' ')
            .ok_or_else(|| format!("a malformed ref line: {text:?}"))?;
        if name == "capabilities^{}" || name.ends_with("^{}") {
            continue;
        }
        refs.push((name.to_string(), parse_oid(oid)?));
    }
    if !seen_service {
        return Err("the server's ref advertisement has no service line".into());
    }
    Ok(Advertisement { refs, capabilities })
}

/// One pkt-line off the front of `data`: `None` for a flush.
fn split_pkt(data: &[u8]) -> Result<(Option<&[u8]>, &[u8]), String> {
    if data.len() < 4 {
        return Err("the server's answer is cut short".into());
    }
    let len = pkt_len(&data[..4])?;
    if len < 4 {
        return Ok((None, &data[4..]));
    }
    if data.len() < len {
        return Err("the server's answer is cut short".into());
    }
    Ok((Some(&data[4..len]), &data[len..]))
}

/// A side-band packet, by the band its first byte names.
enum Band {
    /// Band 1: the data (a pack, or a push's report).
    Data(Vec<u8>),
    /// Band 2: progress and messages (a hook's output).
    Message(Vec<u8>),
    /// Band 3: a fatal error.
    Error(Vec<u8>),
}

fn band_of(mut packet: Vec<u8>) -> Result<Band, String> {
    let Some(&band) = packet.first() else {
        return Err("an empty side-band packet".into());
    };
    let payload = packet.split_off(1);
    match band {
        1 => Ok(Band::Data(payload)),
        2 => Ok(Band::Message(payload)),
        3 => Ok(Band::Error(payload)),
        other => Err(format!("a malformed side-band packet (band {other})")),
    }
}

/// A packet of a streamed answer.
enum Pkt {
    Flush,
    Data(Vec<u8>),
    /// The answer ended.
    End,
}

/// pkt-lines read from an answer as it arrives, so a large pack never sits
/// whole in memory.
struct PktStream {
    response: reqwest::Response,
    buf: Vec<u8>,
    done: bool,
}

impl PktStream {
    fn new(response: reqwest::Response) -> PktStream {
        PktStream {
            response,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Appends the next chunk of the answer to the buffer; `false` at its end.
    async fn read_more(&mut self) -> Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        match self.response.chunk().await {
            Ok(Some(chunk)) => {
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            Ok(None) => {
                self.done = true;
                Ok(false)
            }
            Err(e) => Err(format!("the connection failed: {}", describe(&e))),
        }
    }

    async fn fill(&mut self, want: usize) -> Result<bool, String> {
        while self.buf.len() < want {
            if !self.read_more().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn next(&mut self) -> Result<Pkt, String> {
        if !self.fill(4).await? {
            return if self.buf.is_empty() {
                Ok(Pkt::End)
            } else {
                Err("the server's answer is cut short".into())
            };
        }
        let len = pkt_len(&self.buf[..4])?;
        if len < 4 {
            self.buf.drain(..4);
            return Ok(Pkt::Flush);
        }
        if !self.fill(len).await? {
            return Err("the server's answer is cut short".into());
        }
        let data = self.buf[4..len].to_vec();
        self.buf.drain(..len);
        Ok(Pkt::Data(data))
    }

    /// Whether the answer continues with `prefix`.
    async fn starts_with(&mut self, prefix: &[u8]) -> Result<bool, String> {
        Ok(self.fill(prefix.len()).await? && self.buf.starts_with(prefix))
    }

    /// The rest of the answer as it comes, for a pack sent without side-band.
    async fn raw(&mut self) -> Result<Option<Vec<u8>>, String> {
        if self.buf.is_empty() && !self.read_more().await? {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut self.buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertisements_are_parsed_with_their_capabilities() {
        let oid = "1111111111111111111111111111111111111111";
        let other = "2222222222222222222222222222222222222222";
        let mut body = Vec::new();
        pkt(&mut body, b"# service=git-upload-pack\n");
        body.extend_from_slice(b"0000");
        pkt(
            &mut body,
            format!(
                "{oid} HEAD\0multi_ack side-band-64k symref=HEAD:refs/heads/main agent=git/2\n"
            )
            .as_bytes(),
        );
        pkt(&mut body, format!("{oid} refs/heads/main\n").as_bytes());
        pkt(&mut body, format!("{other} refs/tags/v1\n").as_bytes());
        pkt(&mut body, format!("{oid} refs/tags/v1^{{}}\n").as_bytes());
        body.extend_from_slice(b"0000");
        let ad = parse_advertisement(&body, Service::UploadPack).expect("parses");
        assert_eq!(ad.get("refs/heads/main"), Oid::from_str(oid).ok());
        assert_eq!(ad.get("refs/tags/v1"), Oid::from_str(other).ok());
        assert_eq!(ad.default_branch().as_deref(), Some("main"));
        assert!(ad.has("side-band-64k") && !ad.has("shallow"));
        assert_eq!(
            ad.ask(&["side-band-64k", "shallow"]),
            format!("side-band-64k agent={}", crate::http::USER_AGENT)
        );
        // An empty repository advertises its capabilities on a placeholder.
        let mut empty = Vec::new();
        pkt(&mut empty, b"# service=git-receive-pack\n");
        empty.extend_from_slice(b"0000");
        pkt(
            &mut empty,
            b"0000000000000000000000000000000000000000 capabilities^{}\0report-status\n",
        );
        empty.extend_from_slice(b"0000");
        let ad = parse_advertisement(&empty, Service::ReceivePack).expect("parses");
        assert!(ad.refs.is_empty() && ad.has("report-status"));
        // The wrong service, or no service line, is not git's smart HTTP.
        assert!(parse_advertisement(&empty, Service::UploadPack).is_err());
        assert!(parse_advertisement(b"0000", Service::UploadPack).is_err());
        assert!(parse_advertisement(b"00", Service::UploadPack).is_err());
    }

    #[test]
    fn a_push_report_in_side_band_is_read_line_by_line() {
        let mut report = Vec::new();
        pkt(&mut report, b"unpack ok\n");
        pkt(&mut report, b"ng refs/heads/main failed to update ref\n");
        report.extend_from_slice(b"0000");
        assert_eq!(
            parse_report(&report),
            vec!["unpack ok", "ng refs/heads/main failed to update ref"]
        );
    }
}
