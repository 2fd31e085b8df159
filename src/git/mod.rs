//! Git write-back: commit the edit and push it, re-applying the edit on the
//! new tip when another pipeline won the race; or open a pull request.
//!
//! The retry is correct because the edit is a pure function of the files:
//! after a lost race we fetch the new tip, reset the work tree to it and run
//! the same edit again, so another pipeline's bump of a different image is
//! kept and a concurrent bump of the same image ends with our value (or
//! becomes a no-op). We never rebase or merge, so there are no conflicts.
//!
//! Where the work happens:
//! - `repository` unset: the checkout in the work directory (as
//!   actions/checkout leaves it, possibly shallow). The first attempt edits
//!   HEAD when HEAD is the target branch; a retry fetches the branch and
//!   resets the work tree to its tip (`reset --hard`: tracked files only,
//!   untracked files stay). Afterwards the checkout is clean, on the branch,
//!   at the pushed commit.
//! - `repository` set: a fresh repository in a temporary directory plus a
//!   one-branch fetch (depth 1 over the network; libgit2 cannot fetch
//!   shallowly from a local path), which is deleted when the run ends.
//!
//! Either way the remote is an anonymous in-memory remote and the token
//! reaches libgit2 only through the credentials callback, so nothing about
//! it is written to `.git/config`.

pub mod commit;
pub mod pull_request;
pub mod remote;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::{Oid, Repository, ResetType};

use crate::config::{Config, Mode};
use crate::edit::{EditError, EditReport};
use remote::{PushOutcome, RemoteLocation};

pub use commit::short_digest;

/// What the write-back did.
#[derive(Debug, Clone, Default)]
pub struct WriteBackResult {
    pub changed: bool,
    pub commit_sha: Option<String>,
    pub attempts: u32,
    pub pull_request_url: Option<String>,
    pub pull_request_number: Option<u64>,
    /// The edit as applied on the tip that was finally pushed.
    pub report: EditReport,
    /// The unified diff of the changed files (always computed; printed to
    /// stderr on dry runs).
    pub diff: String,
    /// The branch that was pushed (the pull request's head in that mode).
    pub pushed_branch: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not inside a git repository: {}", source.message())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("the repository at {path} has no `origin` remote to push to")]
    NoOrigin { path: PathBuf },
    #[error("the checkout at {path} is on a detached HEAD and no branch was given")]
    DetachedHead { path: PathBuf },
    #[error("repository URL {url} contains credentials")]
    CredentialsInUrl { url: String },
    #[error("could not {operation} {url}: authentication failed ({message})")]
    Auth {
        url: String,
        operation: &'static str,
        message: String,
    },
    /// The credentials callback refused to hand the token to this URL.
    #[error("the token was not sent to {asked_by} (while talking to {url}): {why}")]
    TokenWithheld {
        url: String,
        asked_by: String,
        why: String,
    },
    #[error("could not reach {url}: {}", source.message())]
    Remote {
        url: String,
        #[source]
        source: git2::Error,
    },
    #[error("{url} does not say which branch is its default")]
    NoDefaultBranch { url: String },
    #[error("branch `{branch}` does not exist in {url}")]
    NoSuchBranch { url: String, branch: String },
    #[error("fetching branch `{branch}` from {url} failed: {}", source.message())]
    Fetch {
        url: String,
        branch: String,
        #[source]
        source: git2::Error,
    },
    #[error("{what}: {source}")]
    Workspace {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("checking out {what} failed: {}", source.message())]
    Checkout {
        what: String,
        #[source]
        source: git2::Error,
    },
    #[error("the edit reported the path {path:?}, which is outside the work tree")]
    PathOutsideRepository { path: String },
    #[error("reading {path} from the work tree failed: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("author {name} <{email}> is not a valid git identity: {}", source.message())]
    Identity {
        name: String,
        email: String,
        #[source]
        source: git2::Error,
    },
    #[error("creating the commit failed: {}", .0.message())]
    Commit(#[source] git2::Error),
    #[error("commit message template: {0}")]
    Template(#[from] crate::template::TemplateError),
    #[error(
        "{url} refused the push to `{branch}`: {reason}{}",
        remote_suffix(remote_messages)
    )]
    Rejected {
        url: String,
        branch: String,
        reason: String,
        remote_messages: String,
    },
    #[error(
        "pushing to `{branch}` at {url} failed: {}{}",
        source.message(),
        remote_suffix(remote_messages)
    )]
    Push {
        url: String,
        branch: String,
        #[source]
        source: git2::Error,
        remote_messages: String,
    },
    #[error(
        "gave up pushing to `{branch}` after {attempts} attempt(s) in {} s: other pushes kept winning (last: {last})",
        elapsed.as_secs()
    )]
    RaceLost {
        branch: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error("cannot tell which GitHub repository to open the pull request in")]
    NoApiRepository,
    #[error("GitHub API {method} {url} failed{}: {message}", status_suffix(*status))]
    Api {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    #[error(transparent)]
    Edit(#[from] EditError),
}

fn remote_suffix(messages: &str) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!("\nthe server said:\n{messages}")
    }
}

fn status_suffix(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        format!(" with HTTP {status}")
    }
}

impl GitError {
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            GitError::NotARepository { .. } => {
                "run actions/checkout first, or set `repository` to the repository to clone"
            }
            GitError::NoOrigin { .. } => {
                "add an `origin` remote, or set `repository` to the repository to push to"
            }
            GitError::DetachedHead { .. } => {
                "set `branch` to the branch to commit to (actions/checkout leaves a detached HEAD for tags and pull requests)"
            }
            GitError::CredentialsInUrl { .. } => {
                "remove the user and password from the URL and pass the token in the `token` input; it is then given to git only through a credentials callback"
            }
            GitError::Auth { .. } => {
                "check `token`: it must be valid and allowed to write contents (`permissions: contents: write`; a fine-grained PAT or GitHub App token for another repository)"
            }
            GitError::TokenWithheld { .. } => {
                "the token goes only to the origin (scheme, host, port) of `repository` or the checkout's origin, and over plain HTTP only to origins listed in `insecure-git-origins`; a server that redirects elsewhere does not get it"
            }
            GitError::Remote { .. } => {
                "check the `repository` input and that the server is reachable from the runner"
            }
            GitError::NoDefaultBranch { .. } => {
                "set `branch`: the remote's HEAD names no existing branch (an empty repository?)"
            }
            GitError::NoSuchBranch { .. } => "check the `branch` input; the branch must exist",
            GitError::Fetch { .. } => "check the network and that `branch` exists",
            GitError::Workspace { .. } | GitError::Checkout { .. } => {
                "check free disk space and permissions of the work directory"
            }
            GitError::PathOutsideRepository { .. } => {
                "this is a bug in the edit engine; please report it with the inputs used"
            }
            GitError::Read { .. } => "check the file's permissions",
            GitError::Identity { .. } => "set `author-name` and `author-email` to non-empty values",
            GitError::Commit(_) => "check that the repository is not corrupt (`git fsck`)",
            GitError::Template(_) => "fix `commit-message`; write `{{` for a literal brace",
            GitError::Rejected { reason, .. }
            | GitError::Push {
                remote_messages: reason,
                ..
            } if reason.contains("protected") || reason.contains("hook declined") => {
                "the branch is protected or a server hook refused the commit: allow this token to push (a ruleset bypass for the bot) or use `mode: pull-request`"
            }
            GitError::Rejected { .. } | GitError::Push { .. } => {
                "read the server's message above; `mode: pull-request` avoids pushing to a protected branch"
            }
            GitError::RaceLost { .. } => {
                "raise `max-attempts`, or serialize the deploy jobs with a `concurrency:` group"
            }
            GitError::NoApiRepository => {
                "set `repository` to owner/name, or run inside GitHub Actions (GITHUB_REPOSITORY)"
            }
            GitError::Api { status: 401, .. } => "check `token`; it was not accepted by the API",
            GitError::Api { status: 403, .. } | GitError::Api { status: 404, .. } => {
                "give the token `pull-requests: write` (and `contents: write`) on the repository"
            }
            GitError::Api { status: 422, .. } => {
                "check that the base branch exists and differs from the pull request branch"
            }
            GitError::Api { .. } => "check GITHUB_API_URL and the API's status",
            GitError::Edit(e) => return e.hint(),
        };
        Some(hint.to_string())
    }
}

/// What we know about the workflow run and the GitHub server.
#[derive(Debug, Clone, Default)]
pub struct GitHubContext {
    /// `GITHUB_SERVER_URL`, for `owner/name` repositories and run links.
    pub server_url: String,
    /// `GITHUB_API_URL`.
    pub api_url: String,
    /// `GITHUB_REPOSITORY`.
    pub repository: Option<String>,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_SHA`.
    pub sha: Option<String>,
    /// `GITHUB_RUN_NUMBER`.`GITHUB_RUN_ATTEMPT`, recorded in a
    /// `Bumped-By-Run` trailer for the newer-wins guard.
    pub run: Option<crate::guard::RunId>,
}

impl GitHubContext {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        GitHubContext {
            server_url: var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            api_url: var("GITHUB_API_URL")
                .unwrap_or_else(|| crate::github::rest::DEFAULT_API_URL.into()),
            repository: var("GITHUB_REPOSITORY"),
            run_id: var("GITHUB_RUN_ID"),
            sha: var("GITHUB_SHA"),
            run: crate::guard::RunId::from_env(),
        }
    }

    pub fn run_url(&self) -> Option<String> {
        match (&self.repository, &self.run_id) {
            (Some(repo), Some(run)) if !self.server_url.is_empty() => Some(format!(
                "{}/{repo}/actions/runs/{run}",
                self.server_url.trim_end_matches('/')
            )),
            _ => None,
        }
    }
}

/// Exponential backoff with full jitter (sleep a random time between zero
/// and the exponential ceiling), which spreads racing pipelines apart
/// instead of waking them together; bounded in total time.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No new attempt starts after this much time.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            deadline: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `next` (2, 3, ...).
    fn delay(&self, next: u32) -> Duration {
        let exponent = next.saturating_sub(2).min(16);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=millis))
    }
}

/// Everything besides the config that a write-back depends on.
#[derive(Debug, Clone)]
pub struct WriteBackOptions {
    /// The checkout to use when `repository` is unset (the current directory).
    pub workdir: PathBuf,
    pub context: GitHubContext,
    pub retry: RetryPolicy,
    pub labels: Vec<String>,
}

impl WriteBackOptions {
    pub fn from_env(workdir: &Path) -> Self {
        WriteBackOptions {
            workdir: workdir.to_path_buf(),
            context: GitHubContext::from_env(),
            retry: RetryPolicy::default(),
            labels: pull_request::DEFAULT_LABELS
                .iter()
                .map(|l| l.to_string())
                .collect(),
        }
    }
}

/// Runs `edit` in the work tree (a checkout or a fresh clone), commits and
/// pushes. `edit` is called again on every retry, on the new tip.
pub fn write_back(
    config: &Config,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
) -> Result<WriteBackResult, GitError> {
    let workdir = std::env::current_dir().map_err(|source| GitError::Workspace {
        what: "reading the current directory",
        source,
    })?;
    write_back_with(config, &WriteBackOptions::from_env(&workdir), edit)
}

/// [`write_back`] with the work directory, the GitHub context and the retry
/// policy given explicitly (tests, and callers that are not in Actions).
pub fn write_back_with(
    config: &Config,
    options: &WriteBackOptions,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
) -> Result<WriteBackResult, GitError> {
    let workspace = Workspace::prepare(config, options)?;
    let root = workspace.root()?;
    if config.mode == Mode::None {
        workspace.sync(&workspace.start)?;
        let report = edit(&root)?;
        return Ok(WriteBackResult {
            changed: !report.files.is_empty(),
            report,
            ..WriteBackResult::default()
        });
    }
    if config.mode == Mode::PullRequest {
        return pull_request_flow(config, options, &workspace, &root, edit);
    }
    push_flow(config, options, &workspace, &root, edit)
}

/// Removes lock files an interrupted run (killed mid-commit or mid-reset)
/// left in the checkout: libgit2 refuses to write the index or a branch while
/// they exist, so a re-run could never complete the bump. One write-back per
/// checkout is the supported use, so a lock here is stale, not a concurrent
/// writer; each removal is reported.
fn clear_stale_locks(repo: &Repository) {
    let git_dir = repo.path();
    let mut locks = vec![
        git_dir.join("index.lock"),
        git_dir.join("HEAD.lock"),
        git_dir.join("packed-refs.lock"),
    ];
    let mut dirs = vec![git_dir.join("refs").join("heads")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(path),
                Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "lock") => {
                    locks.push(path)
                }
                _ => {}
            }
        }
    }
    for lock in locks.iter().filter(|l| l.is_file()) {
        if std::fs::remove_file(lock).is_ok() {
            crate::print::line(
                crate::print::Stream::Stderr,
                &format!(
                    "warning: removed {} left by an interrupted run",
                    lock.display()
                ),
            );
        }
    }
}

/// The repository we edit in, where it pushes to, and the branch.
struct Workspace {
    repo: Repository,
    location: RemoteLocation,
    branch: String,
    token: Option<crate::secret::Secret>,
    /// Where the first attempt starts.
    start: Start,
    /// Keeps a fresh clone alive until the run ends; deleted on drop.
    _temp: Option<tempfile::TempDir>,
}

/// The commit the first attempt edits.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// The checkout's HEAD is already the target branch: edit it as it is.
    CurrentHead,
    /// Fetch the branch's tip from the remote.
    RemoteTip,
    /// This tip, already fetched.
    Fetched(Oid),
}

impl Workspace {
    fn prepare(config: &Config, options: &WriteBackOptions) -> Result<Workspace, GitError> {
        let token = config.token.as_ref();
        match &config.repository {
            None => {
                let repo = Repository::discover(&options.workdir).map_err(|source| {
                    GitError::NotARepository {
                        path: options.workdir.clone(),
                        source,
                    }
                })?;
                clear_stale_locks(&repo);
                let location = RemoteLocation::origin_of(&repo)?
                    .allowing_insecure(&config.insecure_git_origins);
                let current = current_branch(&repo);
                let branch = match (&config.branch, &current) {
                    (Some(b), _) => b.clone(),
                    (None, Some(c)) => c.clone(),
                    (None, None) => {
                        return Err(GitError::DetachedHead {
                            path: options.workdir.clone(),
                        });
                    }
                };
                let start = if current.as_deref() == Some(branch.as_str()) {
                    Start::CurrentHead
                } else {
                    Start::RemoteTip
                };
                Ok(Workspace {
                    repo,
                    location,
                    branch,
                    token: config.token.clone(),
                    start,
                    _temp: None,
                })
            }
            Some(repository) => {
                let location = RemoteLocation::from_input(repository, &options.context.server_url)?
                    .allowing_insecure(&config.insecure_git_origins);
                let temp = tempfile::Builder::new()
                    .prefix("gitops-bump-")
                    .tempdir()
                    .map_err(|source| GitError::Workspace {
                        what: "creating a temporary directory for the clone",
                        source,
                    })?;
                // A fresh repository plus a one-branch fetch is a shallow,
                // single-branch clone that leaves no remote in the config.
                let repo = Repository::init(temp.path()).map_err(|source| GitError::Checkout {
                    what: "a new repository".into(),
                    source,
                })?;
                // The first fetch also learns the default branch.
                let (branch, tip) =
                    remote::fetch_branch(&repo, &location, config.branch.as_deref(), token, true)?;
                Ok(Workspace {
                    repo,
                    location,
                    branch,
                    token: config.token.clone(),
                    start: Start::Fetched(tip),
                    _temp: Some(temp),
                })
            }
        }
    }

    fn root(&self) -> Result<PathBuf, GitError> {
        self.repo
            .workdir()
            .map(Path::to_path_buf)
            .ok_or_else(|| GitError::NotARepository {
                path: self.repo.path().to_path_buf(),
                source: git2::Error::from_str("the repository is bare"),
            })
    }

    fn shallow(&self) -> bool {
        self._temp.is_some() || self.repo.is_shallow()
    }

    /// Makes the work tree the starting point of an attempt and returns the
    /// parent commit for the next commit.
    fn sync(&self, start: &Start) -> Result<Oid, GitError> {
        match start {
            Start::CurrentHead => self
                .repo
                .head()
                .and_then(|h| h.peel_to_commit())
                .map(|c| c.id())
                .map_err(|source| GitError::Checkout {
                    what: "HEAD".into(),
                    source,
                }),
            Start::RemoteTip => {
                let (_, tip) = remote::fetch_branch(
                    &self.repo,
                    &self.location,
                    Some(&self.branch),
                    self.token.as_ref(),
                    self.shallow(),
                )?;
                self.check_out(tip)?;
                Ok(tip)
            }
            Start::Fetched(tip) => {
                self.check_out(*tip)?;
                Ok(*tip)
            }
        }
    }

    /// Puts the work tree, index and local branch at `tip`, like
    /// `git checkout -B <branch> <tip> --force`. Untracked files stay.
    fn check_out(&self, tip: Oid) -> Result<(), GitError> {
        let fail = |source| GitError::Checkout {
            what: format!("{} at {tip}", self.branch),
            source,
        };
        let commit = self.repo.find_commit(tip).map_err(fail)?;
        let local = format!("refs/heads/{}", self.branch);
        let head_is_branch = self
            .repo
            .head()
            .ok()
            .and_then(|h| h.name().ok().map(|n| n == local))
            .unwrap_or(false);
        if head_is_branch {
            return self
                .repo
                .reset(commit.as_object(), ResetType::Hard, None)
                .map_err(fail);
        }
        let mut checkout = git2::build::CheckoutBuilder::new();
        checkout.force();
        self.repo
            .checkout_tree(commit.as_object(), Some(&mut checkout))
            .map_err(fail)?;
        self.repo
            .reference(&local, tip, true, "gitops-bump: start from the remote tip")
            .map_err(fail)?;
        self.repo.set_head(&local).map_err(fail)
    }
}

/// The branch HEAD points to, if any.
fn current_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    head.shorthand().ok().map(str::to_string)
}

/// Commits `report.files` on top of `parent` (moving `update_ref` when
/// given) and returns the commit and the diff.
fn commit_edit(
    config: &Config,
    options: &WriteBackOptions,
    workspace: &Workspace,
    root: &Path,
    parent: Oid,
    report: &EditReport,
    update_ref: Option<&str>,
) -> Result<(Oid, String), GitError> {
    let repo = &workspace.repo;
    let parent = repo.find_commit(parent).map_err(GitError::Commit)?;
    let base = parent.tree().map_err(GitError::Commit)?;
    let tree_id = commit::tree_with_files(repo, root, &base, &report.files)?;
    let tree = repo.find_tree(tree_id).map_err(GitError::Commit)?;
    let diff = commit::unified_diff(repo, &base, &tree, &report.files)?;
    let message = commit::message(&config.commit_message, report, &options.context)?;
    let signature = commit::signature(&config.author_name, &config.author_email)?;
    let id = repo
        .commit(
            update_ref,
            &signature,
            &signature,
            &message,
            &tree,
            &[&parent],
        )
        .map_err(GitError::Commit)?;
    Ok((id, diff))
}

/// Stages the committed files so `git status` is clean afterwards.
fn stage(repo: &Repository, files: &[String]) -> Result<(), GitError> {
    let mut index = repo.index().map_err(GitError::Commit)?;
    for f in files {
        let path = commit::checked_path(f)?;
        let staged = match repo.workdir().map(|w| w.join(path).exists()) {
            Some(true) => index.add_path(path),
            _ => index.remove_path(path),
        };
        staged.map_err(GitError::Commit)?;
    }
    index.write().map_err(GitError::Commit)
}

/// Puts the edited files back as they are in HEAD (dry runs leave nothing).
fn restore(repo: &Repository, files: &[String]) -> Result<(), GitError> {
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.force();
    for f in files {
        checkout.path(f.as_str());
    }
    repo.checkout_head(Some(&mut checkout))
        .map_err(|source| GitError::Checkout {
            what: "the edited files from HEAD".into(),
            source,
        })
}

fn push_flow(
    config: &Config,
    options: &WriteBackOptions,
    workspace: &Workspace,
    root: &Path,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
) -> Result<WriteBackResult, GitError> {
    let started = Instant::now();
    let branch = &workspace.branch;
    let local_ref = format!("refs/heads/{branch}");
    let mut start = workspace.start;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let parent = workspace.sync(&start)?;
        let report = edit(root)?;
        if report.files.is_empty() && matches!(start, Start::CurrentHead) {
            // "Nothing to change" must hold for the branch on the remote,
            // not just this checkout: a killed run leaves its edit in the
            // work tree or its commit unpushed. Confirm on the remote tip.
            start = Start::RemoteTip;
            attempt -= 1;
            continue;
        }
        if report.files.is_empty() {
            return Ok(WriteBackResult {
                attempts: attempt,
                report,
                ..WriteBackResult::default()
            });
        }
        if config.dry_run {
            let (_, diff) = commit_edit(config, options, workspace, root, parent, &report, None)?;
            crate::print::lines(crate::print::Stream::Stderr, &diff);
            restore(&workspace.repo, &report.files)?;
            return Ok(WriteBackResult {
                changed: true,
                attempts: 0,
                report,
                diff,
                ..WriteBackResult::default()
            });
        }
        let (id, diff) = commit_edit(
            config,
            options,
            workspace,
            root,
            parent,
            &report,
            Some(&local_ref),
        )?;
        // Point HEAD at the branch (it may have been detached) and stage
        // the files so the checkout is clean whatever happens next.
        workspace
            .repo
            .set_head(&local_ref)
            .map_err(GitError::Commit)?;
        stage(&workspace.repo, &report.files)?;
        match remote::push(
            &workspace.repo,
            &workspace.location,
            &local_ref,
            branch,
            config.token.as_ref(),
            false,
        )? {
            PushOutcome::Pushed => {
                return Ok(WriteBackResult {
                    changed: true,
                    commit_sha: Some(id.to_string()),
                    attempts: attempt,
                    report,
                    diff,
                    pushed_branch: Some(branch.clone()),
                    ..WriteBackResult::default()
                });
            }
            PushOutcome::LostRace(last) => {
                let delay = options.retry.delay(attempt + 1);
                let out_of_time = started.elapsed() + delay > options.retry.deadline;
                if attempt >= config.max_attempts || out_of_time {
                    return Err(GitError::RaceLost {
                        branch: branch.clone(),
                        attempts: attempt,
                        elapsed: started.elapsed(),
                        last,
                    });
                }
                crate::print::line(
                    crate::print::Stream::Stderr,
                    &format!(
                        "push to {branch} lost a race ({last}); retrying on the new tip in {} ms (attempt {}/{})",
                        delay.as_millis(),
                        attempt + 1,
                        config.max_attempts
                    ),
                );
                std::thread::sleep(delay);
                start = Start::RemoteTip;
            }
        }
    }
}

fn pull_request_flow(
    config: &Config,
    options: &WriteBackOptions,
    workspace: &Workspace,
    root: &Path,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, EditError>,
) -> Result<WriteBackResult, GitError> {
    let base = &workspace.branch;
    let parent = workspace.sync(&workspace.start)?;
    let report = edit(root)?;
    if report.files.is_empty() {
        return Ok(WriteBackResult {
            attempts: 1,
            report,
            ..WriteBackResult::default()
        });
    }
    let mut images: Vec<&str> = config.images.iter().map(|s| s.name.as_str()).collect();
    if images.is_empty() {
        images = report.changes.iter().map(|c| c.image.as_str()).collect();
    }
    let promote_to = config
        .promote
        .as_ref()
        .map(|(_, to)| to.to_string_lossy().into_owned());
    let head = pull_request::branch_name(base, &images, promote_to.as_deref());
    let head_ref = format!("refs/heads/{head}");
    let (id, diff) = commit_edit(config, options, workspace, root, parent, &report, None)?;
    if config.dry_run {
        crate::print::lines(crate::print::Stream::Stderr, &diff);
        restore(&workspace.repo, &report.files)?;
        return Ok(WriteBackResult {
            changed: true,
            report,
            diff,
            ..WriteBackResult::default()
        });
    }
    let repo = &workspace.repo;
    repo.reference(&head_ref, id, true, "gitops-bump: pull request branch")
        .map_err(GitError::Commit)?;
    repo.set_head(&head_ref).map_err(GitError::Commit)?;
    stage(repo, &report.files)?;
    // The branch is ours: force it to this single commit on the base tip.
    match remote::push(
        repo,
        &workspace.location,
        &head_ref,
        &head,
        config.token.as_ref(),
        true,
    )? {
        PushOutcome::Pushed => {}
        PushOutcome::LostRace(last) => {
            return Err(GitError::RaceLost {
                branch: head,
                attempts: 1,
                elapsed: Duration::ZERO,
                last,
            });
        }
    }
    let repository = pull_request::owner_and_name(config.repository.as_deref(), &options.context)
        .ok_or(GitError::NoApiRepository)?;
    let message = commit::message(&config.commit_message, &report, &options.context)?;
    let (title, body) = pull_request::title_and_body(&message, &report, &options.context);
    let labels: Vec<&str> = options.labels.iter().map(String::as_str).collect();
    let (url, number) = pull_request::open_or_update(
        &options.context.api_url,
        config.token.as_ref(),
        &pull_request::PullRequest {
            repository: &repository,
            head: &head,
            base,
            title: &title,
            body: &body,
            labels: &labels,
        },
    )?;
    Ok(WriteBackResult {
        changed: true,
        commit_sha: Some(id.to_string()),
        attempts: 1,
        pull_request_url: Some(url),
        pull_request_number: Some(number),
        report,
        diff,
        pushed_branch: Some(head),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            deadline: Duration::from_secs(60),
        };
        // (attempt about to start, ceiling)
        let cases = [
            (2, 100),
            (3, 200),
            (4, 400),
            (5, 800),
            (6, 1000),
            (40, 1000),
        ];
        for (next, ceiling) in cases {
            let delays: Vec<Duration> = (0..200).map(|_| policy.delay(next)).collect();
            let max = delays.iter().max().copied().unwrap_or_default();
            assert!(max <= Duration::from_millis(ceiling), "{next}: {max:?}");
            // Full jitter: spread over the whole range, not bunched at the top.
            let low = delays
                .iter()
                .filter(|d| **d < Duration::from_millis(ceiling / 2))
                .count();
            assert!(
                (20..=180).contains(&low),
                "{next}: {low} of 200 in the lower half"
            );
        }
    }

    #[test]
    fn run_links_need_the_repository_and_the_run() {
        let mut context = GitHubContext {
            server_url: "https://git.example.test/".into(),
            repository: Some("org/ci".into()),
            run_id: Some("7".into()),
            ..GitHubContext::default()
        };
        assert_eq!(
            context.run_url().as_deref(),
            Some("https://git.example.test/org/ci/actions/runs/7")
        );
        context.run_id = None;
        assert_eq!(context.run_url(), None);
    }
}
