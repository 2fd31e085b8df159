//! Write-back through the GitHub API (`commit-via: api`): no clone, and a
//! commit GitHub signs itself ("Verified"), which satisfies branch
//! protection's "require signed commits" without a signing key on the runner.
//!
//! One attempt:
//! 1. read the branch head (`GET /repos/{o}/{r}/git/ref/heads/{branch}`);
//! 2. list the files under the configured paths from the recursive tree of
//!    that commit (directories contribute their `.yaml`/`.yml` files, as in
//!    the edit engine; files named explicitly are taken as they are);
//! 3. download each through the blobs API into a temporary directory;
//! 4. run the edit there, exactly as the git write-back does on a checkout;
//! 5. send the changed files' new bytes with the GraphQL
//!    `createCommitOnBranch` mutation, with `expectedHeadOid` = the head read
//!    in step 1 as a compare-and-swap.
//!
//! When another pipeline moved the branch in between, GitHub answers
//! "Expected branch to point to …": the attempt is repeated from step 1 on
//! the new head (so the edit is re-applied to the newest files), after an
//! exponential backoff with full jitter, up to `max_attempts` times.
//!
//! # Size limits
//! - The contents API returns file bodies inline only up to 1 MB; the blobs
//!   API, used here, serves files up to 100 MB.
//! - A recursive tree listing is truncated above 100,000 entries or 7 MB;
//!   a truncated listing is an error (name narrower `paths`).
//! - GitHub documents no byte limit for a GraphQL request body, but large
//!   mutations time out; each file is therefore held to `max_file_size`
//!   (the edit engine's 10 MiB by default) both when read and when sent, and
//!   a larger file fails before anything is committed.
//!
//! # Identity
//! The commit's author and committer are the token's identity (the App's
//! bot, or the user of a PAT); `author-name`/`author-email` do not apply.
//! `GITHUB_TOKEN` works too, for the workflow's own repository.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use reqwest::Method;
use serde_json::{Value, json};

use super::rest::{Api, RestError, url_component};
use crate::edit::{EditError, EditReport};
use crate::git::WriteBackResult;
use crate::guard::{self, RunId};
use crate::secret::Secret;

/// The blobs API's per-file limit.
pub const BLOB_API_MAX_SIZE: u64 = 100 * 1024 * 1024;

/// GitHub's answer when `expectedHeadOid` is not the branch head.
const HEAD_MOVED: &str = "Expected branch to point to";

#[derive(Debug, thiserror::Error)]
pub enum ApiCommitError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    App(#[from] super::app::AppError),
    #[error("{0}")]
    Setup(String),
    #[error("branch {branch} does not exist in {repository}")]
    NoBranch { repository: String, branch: String },
    #[error(
        "{path} in {repository} is {size} bytes, above the {limit}-byte limit for API write-back"
    )]
    FileTooLarge {
        repository: String,
        path: String,
        size: u64,
        limit: u64,
    },
    #[error("the tree of {repository} at {oid} is too large for one listing (GitHub truncated it)")]
    TreeTruncated { repository: String, oid: String },
    #[error("the path {path:?} from the API escapes the repository")]
    UnsafePath { path: String },
    #[error("{path} matches nothing at {oid} in {repository}")]
    PathNotFound {
        repository: String,
        path: String,
        oid: String,
    },
    #[error("createCommitOnBranch on {repository}:{branch} failed: {message}")]
    Mutation {
        repository: String,
        branch: String,
        message: String,
    },
    #[error(
        "{repository}:{branch} kept moving: gave up after {attempts} attempt(s), each lost to another commit"
    )]
    Contention {
        repository: String,
        branch: String,
        attempts: u32,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ApiCommitError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ApiCommitError::Rest(e) => return e.hint(),
            ApiCommitError::Edit(e) => return e.hint(),
            ApiCommitError::App(e) => return e.hint(),
            ApiCommitError::Setup(_) => {
                "set `repository: owner/name` and a credential: `app-id` + `app-private-key`, or `token`".into()
            }
            ApiCommitError::NoBranch { .. } => {
                "create the branch first, or set `branch` to an existing one".into()
            }
            ApiCommitError::FileTooLarge { .. } => {
                "use commit-via: git for large files, or narrow `paths` to the manifests".into()
            }
            ApiCommitError::TreeTruncated { .. } => {
                "name narrower `paths`, or use commit-via: git".into()
            }
            ApiCommitError::UnsafePath { .. } => "report this: GitHub sent an unexpected path".into(),
            ApiCommitError::PathNotFound { .. } => {
                "paths are relative to the repository root; check their spelling and the branch".into()
            }
            ApiCommitError::Mutation { message, .. } if message.contains("protected") => {
                "a branch rule blocks direct commits: use mode: pull-request, or allow the App to bypass the rule".into()
            }
            ApiCommitError::Mutation { .. } => {
                "the token needs `contents: write` on the repository (App: Contents: Read and write)".into()
            }
            ApiCommitError::Contention { .. } => {
                "raise max-attempts, or serialise bumps with a workflow `concurrency` group".into()
            }
            ApiCommitError::Io { .. } => "check free space in the runner's temp directory".into(),
        })
    }
}

/// Where to commit.
#[derive(Debug, Clone)]
pub struct ApiTarget {
    pub api: Api,
    pub owner: String,
    pub repo: String,
    pub branch: String,
    pub token: Secret,
}

impl ApiTarget {
    fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// The same target with a new HTTP client: a reqwest client's pooled
    /// connections belong to the runtime that opened them, so each runtime
    /// gets its own.
    fn with_own_client(&self) -> ApiTarget {
        ApiTarget {
            api: Api::new(self.api.base()),
            ..self.clone()
        }
    }
}

/// The current-thread runtime the blocking entry points run on.
fn runtime() -> Result<tokio::runtime::Runtime, ApiCommitError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ApiCommitError::Io {
            context: "starting the async runtime".into(),
            source,
        })
}

/// How to commit.
#[derive(Debug, Clone)]
pub struct ApiCommitOptions {
    /// Files or directories to read, relative to the repository root.
    pub paths: Vec<PathBuf>,
    /// The full message: the first line becomes the headline.
    pub message: String,
    pub max_attempts: u32,
    pub max_file_size: u64,
    /// First backoff step; each retry doubles the ceiling (full jitter).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// The newer-wins guard: `Some` turns it on, with this run's identity
    /// (`None` inside when unknown: semver still decides). The run's
    /// trailers are added to the message whenever the run is known.
    pub newer_wins: Option<Option<RunId>>,
    /// This run, for the `Bumped-By-Run` trailer.
    pub run: Option<RunId>,
}

impl ApiCommitOptions {
    pub fn new(paths: Vec<PathBuf>, message: String, max_attempts: u32) -> Self {
        ApiCommitOptions {
            paths,
            message,
            max_attempts,
            max_file_size: crate::edit::DEFAULT_MAX_FILE_SIZE,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            newer_wins: None,
            run: None,
        }
    }
}

/// What an API write-back did.
#[derive(Debug, Clone, Default)]
pub struct ApiWriteBack {
    pub result: WriteBackResult,
    /// Set when the newer-wins guard refused the change; nothing was committed.
    pub skipped_reason: Option<String>,
}

/// Reads the files under `options.paths` at the branch head, runs `edit` on
/// a copy in a temporary directory, and commits the changed files with
/// `createCommitOnBranch`; repeats on the new head when the branch moved.
/// Blocking: it runs its own current-thread runtime.
pub fn write_back(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
) -> Result<ApiWriteBack, ApiCommitError> {
    let fixed = |_: &EditReport| options.message.clone();
    write_back_with_message(target, options, edit, &fixed)
}

/// [`write_back`] with the message rendered from each attempt's edit
/// report (for templates such as `{summary}`); `options.message` is unused.
pub fn write_back_with_message(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
    message: &dyn Fn(&EditReport) -> String,
) -> Result<ApiWriteBack, ApiCommitError> {
    let rt = runtime()?;
    let target = target.with_own_client();
    rt.block_on(write_back_async(&target, options, edit, message))
}

/// The async form of [`write_back_with_message`].
pub async fn write_back_async(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
    message: &dyn Fn(&EditReport) -> String,
) -> Result<ApiWriteBack, ApiCommitError> {
    let max_attempts = options.max_attempts.max(1);
    for attempt in 1..=max_attempts {
        let head = branch_head(target).await?;
        let workdir = tempfile::tempdir().map_err(|source| ApiCommitError::Io {
            context: "creating a temporary directory for the files".into(),
            source,
        })?;
        download_paths(target, options, &head, workdir.path()).await?;
        let report = edit(workdir.path())?;
        if report.files.is_empty() {
            return Ok(ApiWriteBack {
                result: WriteBackResult {
                    changed: false,
                    attempts: attempt,
                    report,
                    ..Default::default()
                },
                skipped_reason: None,
            });
        }
        if let Some(this_run) = options.newer_wins {
            // The guard is synchronous; fetch the history it may ask for first.
            let mut last_runs = std::collections::BTreeMap::new();
            if this_run.is_some() {
                for change in &report.changes {
                    let key = (change.file.clone(), change.image.clone());
                    if needs_history(change) && !last_runs.contains_key(&key) {
                        let run =
                            last_bumped_run(target, &head, &change.file, &change.image).await?;
                        last_runs.insert(key, run);
                    }
                }
            }
            let reason = guard::stale_reason(&report.changes, this_run, |c| {
                Ok::<_, ApiCommitError>(
                    last_runs
                        .get(&(c.file.clone(), c.image.clone()))
                        .copied()
                        .flatten(),
                )
            })?;
            if let Some(reason) = reason {
                return Ok(ApiWriteBack {
                    result: WriteBackResult {
                        changed: false,
                        attempts: attempt,
                        ..Default::default()
                    },
                    skipped_reason: Some(reason),
                });
            }
        }
        let message = match options.run {
            Some(run) => {
                let images: BTreeSet<&str> =
                    report.changes.iter().map(|c| c.image.as_str()).collect();
                let images: Vec<&str> = images.into_iter().collect();
                guard::append_trailers(&message(&report), &images, run)
            }
            None => message(&report),
        };
        let additions = read_additions(target, options, workdir.path(), &report.files)?;
        match create_commit(target, &head, &message, additions).await? {
            CommitOutcome::Created(oid) => {
                return Ok(ApiWriteBack {
                    result: WriteBackResult {
                        changed: true,
                        commit_sha: Some(oid),
                        attempts: attempt,
                        report,
                        ..Default::default()
                    },
                    skipped_reason: None,
                });
            }
            CommitOutcome::HeadMoved if attempt < max_attempts => {
                tokio::time::sleep(backoff(options, attempt)).await;
            }
            CommitOutcome::HeadMoved => {}
        }
    }
    Err(ApiCommitError::Contention {
        repository: target.repository(),
        branch: target.branch.clone(),
        attempts: max_attempts,
    })
}

fn needs_history(change: &crate::edit::Change) -> bool {
    guard::needs_history(
        guard::ImageValue {
            tag: change.old_tag.as_deref(),
            digest: change.old_digest.as_deref(),
        },
        guard::ImageValue {
            tag: change.new_tag.as_deref(),
            digest: change.new_digest.as_deref(),
        },
    )
}

/// The pull request `mode: pull-request` opens through the API.
#[derive(Debug, Clone)]
pub struct PullRequestSpec {
    /// The branch the bump is committed to; reset to the base head on every
    /// run, so the pull request always holds one bump on the newest base.
    pub head_branch: String,
    pub title: String,
    pub body: String,
}

/// `mode: pull-request` through the API: resets `pr.head_branch` to the head
/// of `target.branch` (the base; created when missing), commits the edit on
/// it with `createCommitOnBranch` (Verified), then opens a pull request into
/// the base, or updates the title and body of the open one for that branch.
/// The newer-wins guard does not apply: a reviewer decides.
pub fn pull_request(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    pr: &PullRequestSpec,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
    message: &dyn Fn(&EditReport) -> String,
) -> Result<ApiWriteBack, ApiCommitError> {
    let rt = runtime()?;
    let base = target.with_own_client();
    rt.block_on(async {
        let base_head = branch_head(&base).await?;
        reset_branch(&base, &pr.head_branch, &base_head).await?;
        let on_head_branch = ApiTarget {
            branch: pr.head_branch.clone(),
            ..base.clone()
        };
        let mut options = options.clone();
        options.newer_wins = None;
        let mut out = write_back_async(&on_head_branch, &options, edit, message).await?;
        if out.result.changed {
            let (number, url) = open_or_update_pull_request(&base, pr).await?;
            out.result.pull_request_number = Some(number);
            out.result.pull_request_url = Some(url);
        }
        Ok(out)
    })
}

/// Points `branch` at `oid`: creates it, or force-moves it.
async fn reset_branch(target: &ApiTarget, branch: &str, oid: &str) -> Result<(), ApiCommitError> {
    let what = format!(
        "resetting branch {branch} of {} to {oid}",
        target.repository()
    );
    let (status, body) = target
        .api
        .call(
            &what,
            Method::PATCH,
            &format!(
                "/repos/{}/{}/git/refs/heads/{branch}",
                target.owner, target.repo
            ),
            &target.token,
            Some(&json!({"sha": oid, "force": true})),
        )
        .await?;
    if status.is_success() {
        return Ok(());
    }
    // GitHub answers 422 "Reference does not exist" for a missing branch.
    if status != reqwest::StatusCode::UNPROCESSABLE_ENTITY
        && status != reqwest::StatusCode::NOT_FOUND
    {
        return Err(super::rest::status_error(&what, status, &body).into());
    }
    target
        .api
        .call_ok(
            &what,
            Method::POST,
            &format!("/repos/{}/{}/git/refs", target.owner, target.repo),
            &target.token,
            Some(&json!({"ref": format!("refs/heads/{branch}"), "sha": oid})),
        )
        .await?;
    Ok(())
}

async fn open_or_update_pull_request(
    base: &ApiTarget,
    pr: &PullRequestSpec,
) -> Result<(u64, String), ApiCommitError> {
    let what = format!("finding the open pull request from {}", pr.head_branch);
    let open = base
        .api
        .call_ok(
            &what,
            Method::GET,
            &format!(
                "/repos/{}/{}/pulls?state=open&head={}&base={}",
                base.owner,
                base.repo,
                url_component(&format!("{}:{}", base.owner, pr.head_branch)),
                url_component(&base.branch)
            ),
            &base.token,
            None,
        )
        .await?;
    let fields = json!({"title": pr.title, "body": pr.body});
    let answer = match open.as_array().and_then(|a| a.first()) {
        Some(existing) => {
            let number = existing["number"].as_u64().unwrap_or_default();
            base.api
                .call_ok(
                    &format!("updating pull request #{number}"),
                    Method::PATCH,
                    &format!("/repos/{}/{}/pulls/{number}", base.owner, base.repo),
                    &base.token,
                    Some(&fields),
                )
                .await?
        }
        None => {
            let mut create = fields.clone();
            create["head"] = Value::String(pr.head_branch.clone());
            create["base"] = Value::String(base.branch.clone());
            base.api
                .call_ok(
                    &format!("opening a pull request from {}", pr.head_branch),
                    Method::POST,
                    &format!("/repos/{}/{}/pulls", base.owner, base.repo),
                    &base.token,
                    Some(&create),
                )
                .await?
        }
    };
    match (answer["number"].as_u64(), answer["html_url"].as_str()) {
        (Some(n), Some(url)) => Ok((n, url.to_string())),
        _ => Err(RestError::Body {
            what: "reading the pull request".into(),
            why: "no number or html_url".into(),
        }
        .into()),
    }
}

/// `commit-via: api` for a run: resolves the repository (`repository`, else
/// `GITHUB_REPOSITORY`) and branch (`branch`, else the default branch),
/// creates an App installation token when `app-id` is set (else uses
/// `token`), commits with the newer-wins guard in push mode, and revokes the
/// App token before returning, on success and on failure.
///
/// `api` is usually [`Api::from_env`]; `run` is [`RunId::from_env`];
/// `message` renders the commit message from the edit report. The message
/// keeps a `[skip ci]` marker whenever the credential would start workflows.
/// In `mode: pull-request`, `pull_request_spec` names the branch and text and
/// [`pull_request`] is used instead.
pub fn write_back_for_config(
    config: &crate::config::Config,
    api: &Api,
    run: Option<RunId>,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
    message: &dyn Fn(&EditReport) -> String,
    pull_request_spec: Option<&PullRequestSpec>,
) -> Result<ApiWriteBack, ApiCommitError> {
    let pr_spec = match (config.mode, pull_request_spec) {
        (crate::config::Mode::PullRequest, None) => {
            return Err(ApiCommitError::Setup(
                "mode: pull-request needs a pull request branch, title and body".into(),
            ));
        }
        (crate::config::Mode::PullRequest, Some(p)) => Some(p),
        _ => None,
    };
    let rt = runtime()?;
    let repository = config
        .repository
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiCommitError::Setup("no repository to commit to".into()))?;
    let (owner, repo) = super::rest::owner_and_name(&repository).ok_or_else(|| {
        ApiCommitError::Setup(format!(
            "repository {repository:?} is not owner/name or a GitHub URL"
        ))
    })?;
    let app_token = match &config.app {
        Some(app) => Some(rt.block_on(super::app::installation_token(
            api,
            app,
            &owner,
            &repo,
            &super::app::permissions_for(config.mode),
        ))?),
        None => None,
    };
    let token = match (&app_token, &config.token) {
        (Some(t), _) => t.secret().clone(),
        (None, Some(t)) => t.clone(),
        (None, None) => {
            return Err(ApiCommitError::Setup(
                "commit-via: api needs a credential".into(),
            ));
        }
    };
    let branch = match &config.branch {
        Some(b) => b.clone(),
        None => rt.block_on(default_branch(api, &token, &owner, &repo))?,
    };
    let target = ApiTarget {
        api: api.clone(),
        owner,
        repo,
        branch,
        token,
    };
    let mut options =
        ApiCommitOptions::new(config.paths.clone(), String::new(), config.max_attempts);
    options.run = run;
    if config.newer_wins && config.mode == crate::config::Mode::Push {
        options.newer_wins = Some(run);
    }
    let credential = guard::Credential::of(config);
    let with_marker = |r: &EditReport| guard::ensure_skip_marker(&message(r), credential);
    let result = match pr_spec {
        Some(p) => pull_request(&target, &options, p, edit, &with_marker),
        None => write_back_with_message(&target, &options, edit, &with_marker),
    };
    if let Some(t) = app_token {
        // Same runtime as the token's creation: its pooled connections live
        // there. Revocation failing must not hide the write-back's own result.
        if let Err(e) = rt.block_on(t.revoke()) {
            crate::print::line(crate::print::Stream::Stderr, &format!("warning: {e}"));
        }
    }
    result
}

async fn default_branch(
    api: &Api,
    token: &Secret,
    owner: &str,
    repo: &str,
) -> Result<String, ApiCommitError> {
    let what = format!("reading the default branch of {owner}/{repo}");
    let body = api
        .call_ok(
            &what,
            Method::GET,
            &format!("/repos/{owner}/{repo}"),
            token,
            None,
        )
        .await?;
    body["default_branch"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            RestError::Body {
                what,
                why: "no default_branch".into(),
            }
            .into()
        })
}

/// Full jitter: a uniform wait in `[0, min(max, base·2^(attempt−1))]`, so
/// racing pipelines spread out instead of colliding again in lockstep.
fn backoff(options: &ApiCommitOptions, attempt: u32) -> Duration {
    let ceiling = options
        .backoff_base
        .saturating_mul(1u32 << (attempt - 1).min(16))
        .min(options.backoff_max);
    let ms = ceiling.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

async fn branch_head(target: &ApiTarget) -> Result<String, ApiCommitError> {
    let what = format!(
        "reading the head of {}:{}",
        target.repository(),
        target.branch
    );
    let (status, body) = target
        .api
        .call(
            &what,
            Method::GET,
            &format!(
                "/repos/{}/{}/git/ref/heads/{}",
                target.owner, target.repo, target.branch
            ),
            &target.token,
            None,
        )
        .await?;
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(ApiCommitError::NoBranch {
            repository: target.repository(),
            branch: target.branch.clone(),
        });
    }
    if !status.is_success() {
        return Err(super::rest::status_error(&what, status, &body).into());
    }
    body["object"]["sha"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            RestError::Body {
                what,
                why: "no object.sha".into(),
            }
            .into()
        })
}

/// A blob to download: its path in the repository, its id and size.
struct BlobEntry {
    path: String,
    sha: String,
    size: u64,
}

/// True when `entry` (a blob path) is selected by one of `paths`: named
/// exactly, or a `.yaml`/`.yml` file under a named directory.
fn selected(entry: &str, paths: &[String]) -> bool {
    let is_yaml = entry.ends_with(".yaml") || entry.ends_with(".yml");
    paths.iter().any(|p| {
        if p.is_empty() {
            is_yaml
        } else {
            entry == p || (is_yaml && entry.starts_with(&format!("{p}/")))
        }
    })
}

/// `paths` as `/`-separated repository paths (`.` and `./x` normalised).
fn normalise_paths(paths: &[PathBuf]) -> Result<Vec<String>, ApiCommitError> {
    paths
        .iter()
        .map(|p| {
            let mut parts = Vec::new();
            for c in p.components() {
                match c {
                    Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                    Component::CurDir => {}
                    _ => {
                        return Err(ApiCommitError::UnsafePath {
                            path: p.display().to_string(),
                        });
                    }
                }
            }
            Ok(parts.join("/"))
        })
        .collect()
}

async fn download_paths(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    head: &str,
    root: &Path,
) -> Result<(), ApiCommitError> {
    let what = format!("listing the files of {} at {head}", target.repository());
    let tree = target
        .api
        .call_ok(
            &what,
            Method::GET,
            &format!(
                "/repos/{}/{}/git/trees/{head}?recursive=1",
                target.owner, target.repo
            ),
            &target.token,
            None,
        )
        .await?;
    if tree["truncated"].as_bool() == Some(true) {
        return Err(ApiCommitError::TreeTruncated {
            repository: target.repository(),
            oid: head.to_string(),
        });
    }
    let paths = normalise_paths(&options.paths)?;
    let limit = options.max_file_size.min(BLOB_API_MAX_SIZE);
    let mut blobs = Vec::new();
    for entry in tree["tree"].as_array().into_iter().flatten() {
        if entry["type"].as_str() != Some("blob") {
            continue;
        }
        let (Some(path), Some(sha)) = (entry["path"].as_str(), entry["sha"].as_str()) else {
            continue;
        };
        if selected(path, &paths) {
            blobs.push(BlobEntry {
                path: path.to_string(),
                sha: sha.to_string(),
                size: entry["size"].as_u64().unwrap_or(0),
            });
        }
    }
    for p in &paths {
        let found = blobs
            .iter()
            .any(|b| p.is_empty() || b.path == *p || b.path.starts_with(&format!("{p}/")));
        if !found {
            return Err(ApiCommitError::PathNotFound {
                repository: target.repository(),
                path: p.clone(),
                oid: head.to_string(),
            });
        }
    }
    for blob in &blobs {
        if blob.size > limit {
            return Err(ApiCommitError::FileTooLarge {
                repository: target.repository(),
                path: blob.path.clone(),
                size: blob.size,
                limit,
            });
        }
        let bytes = download_blob(target, blob).await?;
        let dest = safe_join(root, &blob.path)?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ApiCommitError::Io {
                context: format!("creating {}", parent.display()),
                source,
            })?;
        }
        std::fs::write(&dest, bytes).map_err(|source| ApiCommitError::Io {
            context: format!("writing {}", dest.display()),
            source,
        })?;
    }
    Ok(())
}

async fn download_blob(target: &ApiTarget, blob: &BlobEntry) -> Result<Vec<u8>, ApiCommitError> {
    let what = format!("downloading {} from {}", blob.path, target.repository());
    let body = target
        .api
        .call_ok(
            &what,
            Method::GET,
            &format!(
                "/repos/{}/{}/git/blobs/{}",
                target.owner, target.repo, blob.sha
            ),
            &target.token,
            None,
        )
        .await?;
    let content = body["content"].as_str().unwrap_or_default();
    if body["encoding"].as_str() != Some("base64") {
        return Err(RestError::Body {
            what,
            why: "blob encoding is not base64".into(),
        }
        .into());
    }
    // GitHub wraps the base64 text at 60 columns.
    let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).map_err(|e| {
        RestError::Body {
            what,
            why: format!("blob content is not base64: {e}"),
        }
        .into()
    })
}

/// Joins a repository path onto `root`, refusing absolute paths and `..`.
fn safe_join(root: &Path, path: &str) -> Result<PathBuf, ApiCommitError> {
    let rel = Path::new(path);
    let ok = !path.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        return Err(ApiCommitError::UnsafePath {
            path: path.to_string(),
        });
    }
    Ok(root.join(rel))
}

fn read_additions(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    root: &Path,
    files: &[String],
) -> Result<Vec<Value>, ApiCommitError> {
    files
        .iter()
        .map(|file| {
            let path = safe_join(root, file)?;
            let bytes = std::fs::read(&path).map_err(|source| ApiCommitError::Io {
                context: format!("reading the edited {file}"),
                source,
            })?;
            if bytes.len() as u64 > options.max_file_size {
                return Err(ApiCommitError::FileTooLarge {
                    repository: target.repository(),
                    path: file.clone(),
                    size: bytes.len() as u64,
                    limit: options.max_file_size,
                });
            }
            Ok(json!({"path": file, "contents": STANDARD.encode(bytes)}))
        })
        .collect()
}

enum CommitOutcome {
    Created(String),
    HeadMoved,
}

const CREATE_COMMIT: &str = "mutation($input: CreateCommitOnBranchInput!) { \
createCommitOnBranch(input: $input) { commit { oid url } } }";

async fn create_commit(
    target: &ApiTarget,
    head: &str,
    message: &str,
    additions: Vec<Value>,
) -> Result<CommitOutcome, ApiCommitError> {
    let (headline, body) = match message.trim_end().split_once('\n') {
        Some((h, b)) => (h.trim_end(), b.trim_matches('\n')),
        None => (message.trim_end(), ""),
    };
    let mut message_input = json!({"headline": headline});
    if !body.is_empty() {
        message_input["body"] = Value::String(body.to_string());
    }
    let request = json!({
        "query": CREATE_COMMIT,
        "variables": {"input": {
            "branch": {
                "repositoryNameWithOwner": target.repository(),
                "branchName": target.branch,
            },
            "message": message_input,
            "expectedHeadOid": head,
            "fileChanges": {"additions": additions},
        }},
    });
    let what = format!(
        "committing to {}:{} through the GraphQL API",
        target.repository(),
        target.branch
    );
    let answer = target
        .api
        .call_ok(
            &what,
            Method::POST,
            &target.api.graphql_url(),
            &target.token,
            Some(&request),
        )
        .await?;
    if let Some(errors) = answer["errors"].as_array().filter(|e| !e.is_empty()) {
        let messages: Vec<&str> = errors
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        if messages.iter().any(|m| m.contains(HEAD_MOVED)) {
            return Ok(CommitOutcome::HeadMoved);
        }
        return Err(ApiCommitError::Mutation {
            repository: target.repository(),
            branch: target.branch.clone(),
            message: messages.join("; "),
        });
    }
    answer["data"]["createCommitOnBranch"]["commit"]["oid"]
        .as_str()
        .map(|oid| CommitOutcome::Created(oid.to_string()))
        .ok_or_else(|| {
            RestError::Body {
                what,
                why: "no data.createCommitOnBranch.commit.oid".into(),
            }
            .into()
        })
}

/// The run recorded by the newest bump commit for `image` among the commits
/// that changed `file`, read through `GET /repos/{o}/{r}/commits?path=…`
/// (one page of 100: older bumps than that are not consulted).
pub async fn last_bumped_run(
    target: &ApiTarget,
    head: &str,
    file: &str,
    image: &str,
) -> Result<Option<RunId>, ApiCommitError> {
    let what = format!("reading the history of {file} in {}", target.repository());
    let query = format!(
        "/repos/{}/{}/commits?sha={head}&path={}&per_page=100",
        target.owner,
        target.repo,
        url_component(file)
    );
    let commits = target
        .api
        .call_ok(&what, Method::GET, &query, &target.token, None)
        .await?;
    Ok(commits
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["commit"]["message"].as_str())
        .find_map(|m| guard::bumped_by_run(m, image)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_yaml_under_directories_and_named_files() {
        let paths = normalise_paths(&[
            PathBuf::from("./overlays/prod"),
            PathBuf::from("values.txt"),
        ])
        .unwrap();
        let cases = [
            ("overlays/prod/kustomization.yaml", true),
            ("overlays/prod/deep/app.yml", true),
            ("overlays/prod/README.md", false),
            ("overlays/production/kustomization.yaml", false),
            ("values.txt", true),
            ("base/deploy.yaml", false),
        ];
        for (entry, want) in cases {
            assert_eq!(selected(entry, &paths), want, "{entry}");
        }
        let root = normalise_paths(&[PathBuf::from(".")]).unwrap();
        assert!(selected("a/b.yaml", &root) && !selected("a/b.json", &root));
        assert!(normalise_paths(&[PathBuf::from("../other")]).is_err());
        assert!(normalise_paths(&[PathBuf::from("/etc")]).is_err());
    }

    #[test]
    fn api_paths_cannot_escape_the_work_dir() {
        let root = Path::new("/tmp/x");
        for bad in ["../a", "/etc/passwd", "a/../../b", ""] {
            assert!(safe_join(root, bad).is_err(), "{bad}");
        }
        assert_eq!(safe_join(root, "a/b.yaml").unwrap(), root.join("a/b.yaml"));
    }

    #[test]
    fn backoff_stays_within_the_growing_ceiling() {
        let mut o = ApiCommitOptions::new(vec![], String::new(), 5);
        o.backoff_base = Duration::from_millis(100);
        o.backoff_max = Duration::from_millis(1000);
        for (attempt, ceiling_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (30, 1000),
        ] {
            for _ in 0..50 {
                assert!(backoff(&o, attempt) <= Duration::from_millis(ceiling_ms));
            }
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_component("a b/c&d.yaml"), "a%20b/c%26d.yaml");
    }
}
