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
//! "Expected branch to point to …": a lost race, and the write-back loop
//! ([`crate::write_back::run`], shared with git) starts again from step 1 on
//! the new head, so the edit is re-applied to the newest files.
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

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::edit::EditReport;
use crate::github_api::rest::{Api, RestError, url_component};
use crate::guard::RunId;
use crate::secret::Secret;
use crate::workspace::WorkspaceError;
use crate::write_back::message::GitHubContext;
use crate::write_back::{
    Destination, Plan, Publish, RetryBudget, Tally, Tip, Transport, WriteBackError, WriteBackResult,
};

/// The blobs API's per-file limit.
pub(crate) const BLOB_API_MAX_SIZE: u64 = 100 * 1024 * 1024;

/// GitHub's answer when `expectedHeadOid` is not the branch head.
const HEAD_MOVED: &str = "Expected branch to point to";

#[derive(Debug, thiserror::Error)]
pub enum ApiCommitError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    App(#[from] crate::github_api::app::AppError),
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
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ApiCommitError {
    pub(crate) fn hint(&self) -> Option<String> {
        Some(match self {
            ApiCommitError::Rest(e) => return e.hint(),
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
}

/// The process's runtime ([`crate::http::runtime`]), which the blocking
/// entry points run on.
fn runtime() -> Result<&'static tokio::runtime::Runtime, ApiCommitError> {
    crate::http::runtime().map_err(|source| ApiCommitError::Io {
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
            newer_wins: None,
            run: None,
        }
    }
}

/// The GitHub API as a write-back transport: the files under the paths are
/// downloaded at the branch head into a temporary directory, and the edit
/// is committed with `createCommitOnBranch`, whose `expectedHeadOid` is the
/// compare-and-swap.
pub(crate) struct ApiTransport {
    target: ApiTarget,
    paths: Vec<String>,
    max_file_size: u64,
    runtime: &'static tokio::runtime::Runtime,
    /// The files of the current attempt.
    files: Option<tempfile::TempDir>,
    root: PathBuf,
}

impl ApiTransport {
    pub(crate) fn new(
        target: &ApiTarget,
        options: &ApiCommitOptions,
    ) -> Result<Self, ApiCommitError> {
        Ok(ApiTransport {
            target: target.clone(),
            paths: normalise_paths(&options.paths)?,
            max_file_size: options.max_file_size,
            runtime: runtime()?,
            files: None,
            root: PathBuf::new(),
        })
    }
}

impl Transport for ApiTransport {
    fn branch(&self) -> &str {
        &self.target.branch
    }

    fn location(&self) -> String {
        format!("{} (GitHub API)", self.target.repository())
    }

    fn checkout_tip(&mut self, _exact: bool) -> Result<Tip, WriteBackError> {
        let head = self.runtime.block_on(branch_head(&self.target))?;
        let files = tempfile::tempdir().map_err(|source| ApiCommitError::Io {
            context: "creating a temporary directory for the files".into(),
            source,
        })?;
        self.runtime.block_on(download_paths(
            &self.target,
            &self.paths,
            self.max_file_size,
            &head,
            files.path(),
        ))?;
        self.root = files.path().to_path_buf();
        self.files = Some(files);
        Ok(Tip {
            id: head,
            in_place: false,
        })
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn last_bumped_run(
        &mut self,
        tip: &Tip,
        file: &str,
        image: &str,
    ) -> Result<Option<RunId>, WriteBackError> {
        Ok(self
            .runtime
            .block_on(last_bumped_run(&self.target, &tip.id, file, image))?)
    }

    fn discard(&mut self, _report: &EditReport) -> Result<(), WriteBackError> {
        // The files are a copy; the next attempt downloads afresh.
        Ok(())
    }

    fn preview(&mut self, _tip: &Tip, _report: &EditReport) -> Result<String, WriteBackError> {
        Ok(String::new())
    }

    fn publish(
        &mut self,
        tip: &Tip,
        report: &EditReport,
        message: &str,
        to: &Destination,
    ) -> Result<Publish, WriteBackError> {
        let additions =
            read_additions(&self.target, self.max_file_size, &self.root, &report.files)?;
        let outcome = self.runtime.block_on(async {
            match to {
                Destination::Branch => {
                    create_commit(&self.target, &tip.id, message, additions).await
                }
                Destination::PullRequestBranch(head) => {
                    // Our branch: one bump on the newest base, every time.
                    reset_branch(&self.target, head, &tip.id).await?;
                    let on_head = ApiTarget {
                        branch: head.clone(),
                        ..self.target.clone()
                    };
                    create_commit(&on_head, &tip.id, message, additions).await
                }
            }
        })?;
        Ok(match outcome {
            CommitOutcome::Created(commit) => Publish::Landed {
                commit,
                diff: String::new(),
            },
            CommitOutcome::HeadMoved => Publish::LostRace("the branch head moved".into()),
        })
    }
}

/// The plan for a direct use of the API write-back (no config): the
/// message is `options.message` as a template, with this run's trailers.
fn plan_for_options<'a>(
    options: &ApiCommitOptions,
    message: &'a dyn Fn(&EditReport) -> Result<String, crate::template::TemplateError>,
) -> Plan<'a> {
    Plan {
        message,
        newer_wins: options.newer_wins,
        dry_run: false,
        budget: RetryBudget {
            max_attempts: options.max_attempts,
            ..RetryBudget::default()
        },
        pull_request: None,
    }
}

/// Reads the files under `options.paths` at the branch head, runs `edit` on
/// a copy in a temporary directory, and commits the changed files with
/// `createCommitOnBranch`; repeats on the new head when the branch moved.
pub fn write_back(
    target: &ApiTarget,
    options: &ApiCommitOptions,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, WorkspaceError>,
) -> Result<WriteBackResult, WriteBackError> {
    let context = GitHubContext {
        run: options.run,
        ..GitHubContext::default()
    };
    let message =
        |r: &EditReport| crate::write_back::message::render(&options.message, r, &context);
    let plan = plan_for_options(options, &message);
    let mut transport = ApiTransport::new(target, options)?;
    let mut edit = |root: &Path| edit(root).map_err(WriteBackError::from);
    crate::write_back::run(&plan, &mut transport, &mut edit, &mut Tally::default())
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
        return Err(crate::github_api::rest::status_error(&what, status, &body).into());
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

/// `commit-via: api` for a run: resolves the repository (`repository`, else
/// `GITHUB_REPOSITORY`) and branch (`branch`, else the default branch),
/// authenticates with [`crate::github_api::app::with_write_credential`] (an App
/// installation token when `app-id` is set, revoked at the end; else
/// `token`) and runs the write-back loop through the API.
pub fn write_back_for_config(
    config: &crate::config::WriteBackOptions,
    api: &Api,
    options: &crate::write_back::WriteBackSite,
    edit: &mut crate::write_back::Edit<'_>,
    tally: &mut Tally,
) -> Result<WriteBackResult, WriteBackError> {
    let rt = runtime()?;
    let repository = config
        .repository
        .clone()
        .or_else(|| options.context.repository.clone())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiCommitError::Setup("no repository to commit to".into()))?;
    let (owner, repo) = crate::github_api::rest::owner_and_name(&repository).ok_or_else(|| {
        ApiCommitError::Setup(format!(
            "repository {repository:?} is not owner/name or a GitHub URL"
        ))
    })?;
    let written = format!("{owner}/{repo}");
    crate::github_api::app::with_write_credential(config, api, Some(&written), |credential| {
        let token = credential
            .secret()
            .cloned()
            .ok_or_else(|| ApiCommitError::Setup("commit-via: api needs a credential".into()))?;
        let branch = match &config.branch {
            Some(b) => b.clone(),
            None => rt.block_on(default_branch(api, &token, &owner, &repo))?,
        };
        let target = ApiTarget {
            api: api.clone(),
            owner: owner.clone(),
            repo: repo.clone(),
            branch,
            token: token.clone(),
        };
        // A promotion edits `promote-to` and reads `promote-from` on the
        // same tip: both are downloaded.
        let mut api_options = ApiCommitOptions::new(config.edited_paths.clone(), String::new(), 0);
        api_options.max_file_size = crate::edit::DEFAULT_MAX_FILE_SIZE;
        let message = crate::write_back::message::ConfigMessage::new(config, &options.context);
        let render = |r: &EditReport| message.render(r);
        let images: Vec<&str> = config.images.iter().map(String::as_str).collect();
        let plan = crate::write_back::plan_for(
            config,
            &options.context,
            Some(&written),
            Some(token.clone()),
            &render,
            &target.branch,
            &images,
        )?;
        let mut transport = ApiTransport::new(&target, &api_options)?;
        let mut result = crate::write_back::run(&plan, &mut transport, edit, tally)?;
        result.repository = Some(written.clone());
        Ok(result)
    })
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
        return Err(crate::github_api::rest::status_error(&what, status, &body).into());
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
    paths: &[String],
    max_file_size: u64,
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
    let limit = max_file_size.min(BLOB_API_MAX_SIZE);
    let mut blobs = Vec::new();
    for entry in tree["tree"].as_array().into_iter().flatten() {
        if entry["type"].as_str() != Some("blob") {
            continue;
        }
        let (Some(path), Some(sha)) = (entry["path"].as_str(), entry["sha"].as_str()) else {
            continue;
        };
        if selected(path, paths) {
            blobs.push(BlobEntry {
                path: path.to_string(),
                sha: sha.to_string(),
                size: entry["size"].as_u64().unwrap_or(0),
            });
        }
    }
    for p in paths {
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
    max_file_size: u64,
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
            if bytes.len() as u64 > max_file_size {
                return Err(ApiCommitError::FileTooLarge {
                    repository: target.repository(),
                    path: file.clone(),
                    size: bytes.len() as u64,
                    limit: max_file_size,
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
pub(crate) async fn last_bumped_run(
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
        .find_map(|m| super::message::bumped_by_run(m, image)))
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
    fn query_values_are_percent_encoded() {
        assert_eq!(url_component("a b/c&d.yaml"), "a%20b/c%26d.yaml");
    }
}
