//! Talking to the remote: where it is, how we authenticate, fetching one
//! branch and pushing one ref, and telling a lost race from a real refusal.
//!
//! Three ways to reach a remote, one contract (fetch a branch's tip; swap
//! the branch from the exact tip the edit ran on, or fail with the server's
//! words):
//! - `https://` (and `http://` for origins listed in `insecure-git-origins`):
//!   our own smart-HTTP client ([`super::smart_http`]); `receive-pack`
//!   swaps the ref under its lock from the old value we send.
//! - a path or `file://`: fetched by libgit2's local transport, pushed by
//!   git's own `receive-pack` (`git push --force-with-lease`), so the
//!   remote's hooks run and the swap is atomic, exactly as `git push`.
//! - ssh: not supported; said so before anything is done.
//!
//! Nothing (no remote, no credential helper, no token) is written to
//! `.git/config`: the token goes only into the `Authorization` header of
//! requests to the origin the user named ([`may_send_token`]).

use std::path::PathBuf;

use git2::{AutotagOption, Direction, FetchOptions, Repository};

use super::GitError;
use crate::secret::Secret;

/// HTTPS user name GitHub expects with an installation or `GITHUB_TOKEN`.
pub(super) const TOKEN_USER: &str = "x-access-token";

/// Where the repository to write to lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteLocation {
    /// What we connect to (a URL or a local path); never holds a token.
    pub url: String,
    /// Local paths and `file://` URLs: libgit2 cannot fetch them shallowly.
    pub local: bool,
    /// The user listed this origin in `insecure-git-origins`: the token may
    /// go to it over plain HTTP.
    pub insecure_http: bool,
}

impl RemoteLocation {
    /// Resolves the `repository` input: `owner/name` on the GitHub server,
    /// any URL, or a local path (`./owner/name` forces a path).
    pub(crate) fn from_input(repository: &str, server_url: &str) -> Result<Self, GitError> {
        let repository = repository.trim();
        if let Some((scheme, rest)) = repository.split_once("://") {
            if let Some(authority) = rest.split('/').next()
                && authority.contains('@')
                && matches!(scheme, "http" | "https")
            {
                return Err(GitError::CredentialsInUrl {
                    url: redact_url(repository),
                });
            }
            return Ok(RemoteLocation {
                url: repository.to_string(),
                local: scheme == "file",
                insecure_http: false,
            });
        }
        if is_owner_slash_name(repository) {
            return Ok(RemoteLocation {
                url: format!(
                    "{}/{}.git",
                    server_url.trim_end_matches('/'),
                    repository.trim_end_matches(".git")
                ),
                local: false,
                insecure_http: false,
            });
        }
        if looks_like_scp(repository) {
            return Ok(RemoteLocation {
                url: repository.to_string(),
                local: false,
                insecure_http: false,
            });
        }
        Ok(RemoteLocation {
            url: PathBuf::from(repository).to_string_lossy().into_owned(),
            local: true,
            insecure_http: false,
        })
    }

    /// The `origin` of an existing checkout.
    pub(crate) fn origin_of(repo: &Repository) -> Result<Self, GitError> {
        let path = repo.path().to_path_buf();
        let origin = repo
            .find_remote("origin")
            .map_err(|_| GitError::NoOrigin { path: path.clone() })?;
        let url = match origin.pushurl() {
            Ok(Some(push)) => push,
            _ => origin.url().map_err(|_| GitError::NoOrigin { path })?,
        }
        .to_string();
        let local = url.starts_with("file://") || !(url.contains("://") || looks_like_scp(&url));
        Ok(RemoteLocation {
            url,
            local,
            insecure_http: false,
        })
    }

    /// Allows the token over plain HTTP when this location's origin is one
    /// of `origins` (the `insecure-git-origins` input: `http://host:port`
    /// or `host:port`).
    pub(crate) fn allowing_insecure(mut self, origins: &[String]) -> Self {
        let ours = Origin::of(&self.url);
        self.insecure_http = ours.as_ref().is_some_and(|ours| {
            ours.scheme == "http"
                && origins.iter().any(|o| {
                    let o = o.trim().trim_end_matches('/');
                    let with_scheme = if o.contains("://") {
                        o.to_string()
                    } else {
                        format!("http://{o}")
                    };
                    Origin::of(&with_scheme).as_ref() == Some(ours)
                })
        });
        self
    }

    /// An `http://` or `https://` remote, which our own smart-HTTP client
    /// talks to ([`super::smart_http`]).
    pub(crate) fn is_http(&self) -> bool {
        let url = self.url.to_ascii_lowercase();
        !self.local && (url.starts_with("http://") || url.starts_with("https://"))
    }

    /// An ssh remote (`ssh://`, `git@host:path`) is refused up front:
    /// only HTTPS and paths on this machine are spoken to.
    fn check_reachable(&self) -> Result<(), GitError> {
        if self.local || self.is_http() {
            return Ok(());
        }
        Err(GitError::Remote {
            url: self.display(),
            source: git2::Error::from_str(
                "only https:// URLs (http:// for origins in `insecure-git-origins`) and paths on this machine are supported, not ssh",
            ),
        })
    }

    /// The URL with any user info removed, for messages.
    pub(crate) fn display(&self) -> String {
        redact_url(&self.url)
    }

    /// The directory of a remote on this machine (a path or `file://`).
    pub(crate) fn local_path(&self) -> Option<PathBuf> {
        if !self.local {
            return None;
        }
        Some(match self.url.strip_prefix("file://") {
            Some(path) => PathBuf::from(percent_decode(path)),
            None => PathBuf::from(&self.url),
        })
    }

    /// A remote on this machine must be a git repository that exists: say
    /// so before anything else (libgit2 would answer "unsupported URL
    /// protocol" for a missing path).
    pub(crate) fn check_local(&self) -> Result<(), GitError> {
        let Some(path) = self.local_path() else {
            return Ok(());
        };
        if !path.exists() {
            return Err(GitError::NoRepositoryAt {
                path,
                why: "the path does not exist".into(),
            });
        }
        Repository::open(&path)
            .map(|_| ())
            .map_err(|e| GitError::NoRepositoryAt {
                path,
                why: e.message().to_string(),
            })
    }
}

/// `%20` and friends in a `file://` URL's path.
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `owner/name` (GitHub's grammar), which we read as a repository on the
/// server rather than a relative path.
fn is_owner_slash_name(s: &str) -> bool {
    let Some((owner, name)) = s.split_once('/') else {
        return false;
    };
    let part_ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    part_ok(owner) && part_ok(name)
}

/// `git@host:owner/name.git`: a colon before any slash, and not a Windows drive.
fn looks_like_scp(s: &str) -> bool {
    match (s.find(':'), s.find('/')) {
        (Some(colon), slash) => colon > 1 && slash.is_none_or(|slash| colon < slash),
        _ => false,
    }
}

/// Scheme, host and port of a URL: what the token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// `None` for paths and scp-like `host:path` locations.
    pub(super) fn of(url: &str) -> Option<Origin> {
        let parsed = reqwest::Url::parse(url).ok()?;
        let host = parsed.host_str()?.to_ascii_lowercase();
        Some(Origin {
            scheme: parsed.scheme().to_ascii_lowercase(),
            host,
            port: parsed.port_or_known_default(),
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}://{}:{p}", self.scheme, self.host),
            None => write!(f, "{}://{}", self.scheme, self.host),
        }
    }
}

/// Whether the token may answer a credentials request from `asked_by`
/// while we talk to `location`: same origin, and HTTPS unless the user
/// allowed this origin over plain HTTP. `Err` says why not.
pub(super) fn may_send_token(location: &RemoteLocation, asked_by: &str) -> Result<(), String> {
    let (Some(expected), Some(asking)) = (Origin::of(&location.url), Origin::of(asked_by)) else {
        return Err(format!(
            "{} is not an http(s) URL the token was given for",
            redact_url(asked_by)
        ));
    };
    if asking != expected {
        return Err(format!(
            "the server sent us to {asking}, but the token is only for {expected}"
        ));
    }
    match asking.scheme.as_str() {
        "https" => Ok(()),
        "http" if location.insecure_http => Ok(()),
        "http" => Err(format!(
            "{asking} is plain HTTP, where the token would travel in clear; list it in `insecure-git-origins` if that is intended"
        )),
        other => Err(format!("the token is not sent over {other}://")),
    }
}

/// Drops `user:password@` from a URL so it can be shown.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => url.to_string(),
    }
}

/// How a push ended when the server did not refuse it outright.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    Pushed,
    /// Someone else moved the branch first: fetch, re-apply, retry.
    LostRace(String),
    /// The branch's lock was held (another push at that moment, or a stale
    /// lock file); the server's words.
    Locked(String),
}

/// Messages that mean "the branch moved under you", from git's own
/// `push` and from the server (two pushes meeting inside receive-pack).
fn is_lost_race(message: &str) -> bool {
    [
        "non-fast-forward",
        "non-fastforward",
        "fetch first",
        "failed to update ref",
        "cannot lock ref",
        "stale info",
        "incorrect old value",
        "not present locally",
    ]
    .iter()
    .any(|p| message.contains(p))
}

/// A remote that lives only in memory: nothing is written to `.git/config`.
fn anonymous_remote<'r>(
    repo: &'r Repository,
    location: &RemoteLocation,
) -> Result<git2::Remote<'r>, GitError> {
    repo.remote_anonymous(&location.url)
        .map_err(|source| GitError::Remote {
            url: location.display(),
            source,
        })
}

/// Fetches `branch` and returns its tip. `depth` asks for that many
/// commits (a shallow fetch, or deepening an already shallow repository)
/// over HTTP(S); local remotes are always fetched whole (libgit2's local
/// transport cannot cut history).
///
/// No ref of the checkout is touched and FETCH_HEAD is not written: a
/// checkout keeps its `origin/*` refs and their reflogs as they were, so a
/// run that fails changes nothing in it.
pub(crate) fn fetch_branch(
    repo: &Repository,
    location: &RemoteLocation,
    branch: &str,
    token: Option<&Secret>,
    depth: Option<i32>,
) -> Result<git2::Oid, GitError> {
    fetch(repo, location, Some(branch), token, depth).map(|(_, tip)| tip)
}

/// [`fetch_branch`] for `branch`, or for the remote's default branch (what
/// its HEAD names) when `None`: one connection serves both the lookup and
/// the fetch, so not knowing the branch costs no extra round trip.
pub(crate) fn fetch(
    repo: &Repository,
    location: &RemoteLocation,
    branch: Option<&str>,
    token: Option<&Secret>,
    depth: Option<i32>,
) -> Result<(String, git2::Oid), GitError> {
    if location.is_http() {
        return super::smart_http::fetch(repo, location, branch, token, depth);
    }
    location.check_reachable()?;
    // A remote on this machine, through libgit2's local transport, which
    // always copies whole history (it cannot fetch shallowly) and needs no
    // credentials.
    // Directly under refs/: removing it leaves no empty directory behind.
    let tracking = "refs/gitops-bump-tip".to_string();
    let mut remote = anonymous_remote(repo, location)?;
    let remote_error = |source| GitError::Remote {
        url: location.display(),
        source,
    };
    let mut connection = remote
        .connect_auth(Direction::Fetch, None, None)
        .map_err(remote_error)?;
    let branch = match branch {
        Some(b) => b.to_string(),
        None => connection
            .default_branch()
            .ok()
            .and_then(|head| {
                head.as_str()
                    .ok()
                    .and_then(|h| h.strip_prefix("refs/heads/"))
                    .map(str::to_string)
            })
            .ok_or(GitError::NoDefaultBranch {
                url: location.display(),
            })?,
    };
    let refspec = format!("+refs/heads/{branch}:{tracking}");
    let mut options = FetchOptions::new();
    options
        .download_tags(AutotagOption::None)
        .update_fetchhead(false);
    // A branch deleted on the remote must not be read from an earlier fetch.
    if let Ok(mut stale) = repo.find_reference(&tracking) {
        let _ = stale.delete();
    }
    connection
        .remote()
        .fetch(&[&refspec], Some(&mut options), None)
        .map_err(|source| GitError::Fetch {
            url: location.display(),
            branch: branch.clone(),
            source,
        })?;
    drop(connection);
    let tip = repo
        .refname_to_id(&tracking)
        .map_err(|_| GitError::NoSuchBranch {
            url: location.display(),
            branch: branch.clone(),
        })?;
    if let Ok(mut ours) = repo.find_reference(&tracking) {
        let _ = ours.delete();
    }
    Ok((branch, tip))
}

/// Pushes `commit` to `refs/heads/<branch>`. With `expect`, the push is a
/// compare-and-swap: it lands only if the branch is at `expect` when the
/// server updates it, and a branch that does not exist is never created.
/// Without it (our own pull-request branches) the branch is forced.
///
/// A lost race or a held lock is an `Ok`; any other refusal is an error
/// carrying the server's words.
pub(crate) fn push(
    repo: &Repository,
    location: &RemoteLocation,
    commit: git2::Oid,
    branch: &str,
    token: Option<&Secret>,
    expect: Option<git2::Oid>,
) -> Result<PushOutcome, GitError> {
    if location.local {
        return push_local(repo, location, commit, branch, expect);
    }
    location.check_reachable()?;
    super::smart_http::push(repo, location, commit, branch, token, expect)
}

/// A push to a repository on this machine, through git's own
/// `receive-pack`, exactly as `git push` to that path: the remote's hooks
/// run, and `--force-with-lease` makes the update a compare-and-swap under
/// the ref lock. libgit2's local transport would force the ref with no
/// expected old value and run no hook.
fn push_local(
    repo: &Repository,
    location: &RemoteLocation,
    commit: git2::Oid,
    branch: &str,
    expect: Option<git2::Oid>,
) -> Result<PushOutcome, GitError> {
    let target = format!("refs/heads/{branch}");
    let mut command = std::process::Command::new("git");
    command
        .arg("--git-dir")
        .arg(repo.path())
        .args(["push", "--porcelain", "--no-verify"]);
    match expect {
        Some(expect) => {
            command.arg(format!("--force-with-lease={target}:{expect}"));
        }
        None => {
            command.arg("--force");
        }
    }
    command
        .arg(&location.url)
        .arg(format!("{commit}:{target}"))
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(std::process::Stdio::null());
    let out = command.output().map_err(|e| GitError::GitCli {
        url: location.display(),
        why: format!("could not run git: {e}"),
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let messages = remote_lines(&stderr);
    // `<flag>\t<from>:<to>\t<summary>`, one line for our ref.
    let status = stdout.lines().find_map(|line| {
        let mut fields = line.split('\t');
        let flag = fields.next()?;
        let refs = fields.next()?;
        let summary = fields.next().unwrap_or_default();
        refs.ends_with(&format!(":{target}"))
            .then(|| (flag.to_string(), summary.to_string()))
    });
    match status {
        Some((flag, _)) if out.status.success() && flag != "!" => Ok(PushOutcome::Pushed),
        Some((_, summary)) => {
            // `[rejected] (stale info)`: the lease failed, the branch moved
            // or is gone (the next attempt's fetch tells which).
            let reason = summary
                .split_once(" (")
                .map(|(_, r)| r.trim_end_matches(')'))
                .unwrap_or(&summary);
            let reason = if summary.starts_with("[rejected]") && reason == "stale info" {
                "the branch moved (stale info)"
            } else {
                reason
            };
            classify_refusal(location, branch, reason, &messages)
        }
        None => Err(GitError::GitCli {
            url: location.display(),
            why: crate::print::cut(stderr.trim(), 2000).into_owned(),
        }),
    }
}

/// What a remote said on stderr (`remote: …` lines), without the prefix.
fn remote_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("remote:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A refused ref update, from the server's reason and messages: a lost race
/// or a held lock are retried, anything else (a hook, a protected branch)
/// fails at once with the server's words.
pub(super) fn classify_refusal(
    location: &RemoteLocation,
    branch: &str,
    reason: &str,
    messages: &str,
) -> Result<PushOutcome, GitError> {
    let ref_update_failed = reason.contains("update ref") || reason.contains("lock");
    if ref_update_failed && is_lock_held(messages) {
        let line = messages
            .lines()
            .find(|l| is_lock_held(l))
            .unwrap_or(messages);
        return Ok(PushOutcome::Locked(line.to_string()));
    }
    if is_lost_race(reason) || (ref_update_failed && is_lost_race(messages)) {
        return Ok(PushOutcome::LostRace(reason.to_string()));
    }
    Err(GitError::Rejected {
        url: location.display(),
        branch: branch.to_string(),
        reason: reason.to_string(),
        remote_messages: messages.to_string(),
    })
}

/// git's words when a ref's lock file already exists (held by another
/// writer past git's own 100 ms wait, or left by a crashed one).
fn is_lock_held(message: &str) -> bool {
    (message.contains("Unable to create") && message.contains("File exists"))
        || message.contains("failed to lock file")
        || message.contains("failed to create locked file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_inputs_resolve_to_locations() {
        let server = "https://git.example.test";
        let cases = [
            (
                "org/gitops",
                "https://git.example.test/org/gitops.git",
                false,
            ),
            (
                "org/gitops.git",
                "https://git.example.test/org/gitops.git",
                false,
            ),
            (
                "http://127.0.0.1:8080/org/repo.git",
                "http://127.0.0.1:8080/org/repo.git",
                false,
            ),
            ("file:///srv/repo.git", "file:///srv/repo.git", true),
            ("./org/gitops", "./org/gitops", true),
            ("/srv/git/repo.git", "/srv/git/repo.git", true),
            (
                "git@host.test:org/repo.git",
                "git@host.test:org/repo.git",
                false,
            ),
        ];
        for (input, url, local) in cases {
            let got = RemoteLocation::from_input(input, server).unwrap();
            assert_eq!(
                got,
                RemoteLocation {
                    url: url.to_string(),
                    local,
                    insecure_http: false,
                },
                "{input}"
            );
        }
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_shown() {
        for input in [
            "https://x-access-token:ghs_secret@host.test/org/repo.git",
            "http://ghs_secret@127.0.0.1:1/repo.git",
        ] {
            let e = RemoteLocation::from_input(input, "https://h.test").unwrap_err();
            let text = format!("{e} {e:?} {}", e.hint().unwrap_or_default());
            assert!(!text.contains("ghs_secret"), "{text}");
            assert!(text.contains("***@"), "{text}");
        }
    }

    #[test]
    fn race_messages_are_recognised() {
        let races = [
            "failed to update ref",
            "cannot lock ref 'refs/heads/main': is at 1 but expected 2",
            "fetch first",
            "cannot push non-fastforward reference",
            "cannot push because a reference that you are trying to update on the remote contains commits that are not present locally.",
        ];
        for m in races {
            assert!(is_lost_race(m), "{m}");
        }
        for m in [
            "pre-receive hook declined",
            "protected branch hook declined",
            "permission denied",
        ] {
            assert!(!is_lost_race(m), "{m}");
        }
    }

    #[test]
    fn the_token_goes_only_to_the_named_origin_and_over_https() {
        let location = |url: &str, insecure: &[&str]| {
            let insecure: Vec<String> = insecure.iter().map(|s| s.to_string()).collect();
            RemoteLocation::from_input(url, "https://h.test")
                .unwrap()
                .allowing_insecure(&insecure)
        };
        let https = location("https://git.example.test/org/repo.git", &[]);
        let http = location("http://127.0.0.1:8080/repo.git", &[]);
        let http_allowed = location("http://127.0.0.1:8080/repo.git", &["127.0.0.1:8080"]);
        let http_allowed_url = location(
            "http://127.0.0.1:8080/repo.git",
            &["http://127.0.0.1:8080/"],
        );
        let other_port_listed = location("http://127.0.0.1:8080/repo.git", &["127.0.0.1:9090"]);
        // (location, asked by, sent?)
        let cases = [
            (&https, "https://git.example.test/org/repo.git", true),
            (&https, "https://GIT.example.test:443/org/repo.git", true),
            (&https, "https://git.example.test/other/repo.git", true),
            (&https, "https://evil.example.test/org/repo.git", false),
            (&https, "https://git.example.test:8443/org/repo.git", false),
            (&https, "http://git.example.test/org/repo.git", false),
            (&https, "git.example.test:org/repo.git", false),
            (&http, "http://127.0.0.1:8080/repo.git", false),
            (&http_allowed, "http://127.0.0.1:8080/repo.git", true),
            (&http_allowed_url, "http://127.0.0.1:8080/repo.git", true),
            (&http_allowed, "http://127.0.0.1:8081/repo.git", false),
            (&http_allowed, "http://localhost:8080/repo.git", false),
            (&other_port_listed, "http://127.0.0.1:8080/repo.git", false),
        ];
        for (location, asked_by, sent) in cases {
            let got = may_send_token(location, asked_by);
            assert_eq!(
                got.is_ok(),
                sent,
                "{} asked by {asked_by}: {got:?}",
                location.url
            );
        }
        // Listing an https origin as insecure changes nothing.
        assert!(!location("https://h.test/r.git", &["https://h.test"]).insecure_http);
    }
}
