//! The git transport of the write-back loop ([`crate::write_back`]): where
//! the work tree is, how the branch tip is read, how history is read for the
//! newer-wins guard, and how the branch is swapped.
//!
//! Where the work happens:
//! - `repository` unset: the checkout in the work directory (as
//!   actions/checkout leaves it, possibly shallow). Every attempt first
//!   fetches the branch's tip; the first edits HEAD as it is when HEAD is
//!   that tip, otherwise the work tree is reset to the tip (`reset --hard`:
//!   tracked files only, untracked files stay). A branch that is gone on the
//!   remote is an error: the checkout never re-creates it. Afterwards the
//!   checkout is clean, on the branch, at the pushed commit.
//! - `repository` set: a fresh repository in a temporary directory plus a
//!   one-branch fetch (depth 1 over the network; libgit2 cannot fetch
//!   shallowly from a local path), deleted when the run ends, also by a
//!   signal or the `timeout` watchdog ([`crate::cleanup`]).
//!
//! The swap is a compare-and-swap from the tip the edit ran on (see
//! [`remote::push`]): over the network `receive-pack` checks the old value
//! and we check, before sending objects, that the advertised old value is
//! that tip; to a path, git's own `receive-pack` runs with a lease, so the
//! remote's hooks run too.
//!
//! Either way nothing about the remote or the token is written to
//! `.git/config`: HTTP(S) remotes are spoken to by our own client
//! ([`smart_http`]), which puts the token only in the `Authorization`
//! header of requests to the origin named; a local remote is an anonymous
//! in-memory libgit2 remote that needs no credentials.

pub(crate) mod commit;
pub mod history;
pub(crate) mod remote;
mod smart_http;

use std::path::{Path, PathBuf};

use git2::{Oid, Repository, ResetType};

use crate::config::{Mode, WriteBackOptions};
use crate::edit::EditReport;
use crate::guard::RunId;
use crate::secret::Secret;
use crate::workspace::WorkspaceError;
pub use crate::write_back::WriteBackSite;
use crate::write_back::{
    Destination, Publish, Tally, Tip, Transport, WriteBackError, WriteBackResult,
};
use remote::{PushOutcome, RemoteLocation};

pub use crate::write_back::message::{GitHubContext, short_digest};

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
    #[error("no git repository at {path}: {why}")]
    NoRepositoryAt { path: PathBuf, why: String },
    #[error("{url} answered HTTP {status} to {operation}{}", remote_suffix(body))]
    Denied {
        url: String,
        operation: &'static str,
        status: u16,
        body: String,
    },
    #[error("pushing to {url} with git failed: {why}")]
    GitCli { url: String, why: String },
    #[error(
        "{source}\nthe token in `token` cannot reach {repository}: GITHUB_TOKEN only reaches the workflow's own repository ({workflow_repository})"
    )]
    OutOfReach {
        repository: String,
        workflow_repository: String,
        source: Box<GitError>,
    },
    #[error("reading history of {file} for the newer-wins guard: {source}")]
    History {
        file: String,
        #[source]
        source: git2::Error,
    },
}

fn remote_suffix(messages: &str) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!("\nthe server said:\n{messages}")
    }
}

impl GitError {
    pub(crate) fn hint(&self) -> Option<String> {
        let hint = match self {
            GitError::OutOfReach { repository, .. } => {
                return Some(format!(
                    "to write to {repository}, set `app-id` and `app-private-key` (a GitHub App installed on {repository}), or pass a fine-grained PAT with `Contents: Read and write` on {repository} as `token`"
                ));
            }
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
            GitError::NoRepositoryAt { .. } => {
                "check the path: `repository` (or the checkout's `origin`) must name an existing git repository on this machine"
            }
            GitError::Denied { status: 404, .. } => {
                "check `repository`: the server says it does not exist, or the token cannot see it (a token for another repository needs access to it: a fine-grained PAT or GitHub App token)"
            }
            GitError::Denied { status, .. } if *status == 429 || *status >= 500 => {
                "the git server failed or is rate limiting: re-run the job (a bump that did land is found and not made twice); if it persists, check the server's status page"
            }
            GitError::Denied { .. } => {
                "the server refused this token for the repository: it needs `contents: write` there (a fine-grained PAT or GitHub App installation token for another repository); read the server's words above"
            }
            GitError::GitCli { .. } => {
                "pushing to a repository on this machine runs git's own receive-pack (so its hooks run and the branch is swapped atomically): install git, or push over HTTPS"
            }
            GitError::History { .. } => {
                "fetch more history (actions/checkout `fetch-depth: 0`), or set `newer-wins: false`"
            }
        };
        Some(hint.to_string())
    }
}

/// Runs `edit` in the work tree (a checkout or a fresh clone), commits and
/// pushes through the write-back loop. `edit` is called again on every
/// retry, on the new tip.
pub fn write_back_with(
    config: &WriteBackOptions,
    options: &WriteBackSite,
    edit: &mut dyn FnMut(&Path) -> Result<EditReport, WorkspaceError>,
) -> Result<WriteBackResult, WriteBackError> {
    let mut edit = |root: &Path| edit(root).map_err(WriteBackError::from);
    write_back_counted(config, options, &mut edit, &mut Tally::default())
}

/// [`write_back_with`], counting attempts into `tally` (read on failure).
///
/// The credential comes from [`crate::github_api::app::with_write_credential`],
/// the same helper the API write-back uses: with `app-id`, an installation
/// token for the repository written (revoked at the end, also on failure),
/// given to git as `x-access-token`; else `token`.
pub(crate) fn write_back_counted(
    config: &WriteBackOptions,
    options: &WriteBackSite,
    edit: &mut crate::write_back::Edit<'_>,
    tally: &mut Tally,
) -> Result<WriteBackResult, WriteBackError> {
    let written = written_repository(config, options);
    let api = crate::github_api::rest::Api::new(&options.context.api_url);
    crate::github_api::app::with_write_credential(config, &api, written.as_deref(), |credential| {
        write_back_as(config, options, written.as_deref(), credential, edit, tally)
            .map_err(|e| out_of_reach(e, credential, written.as_deref(), &options.context))
    })
}

fn write_back_as(
    config: &WriteBackOptions,
    options: &WriteBackSite,
    written: Option<&str>,
    credential: &crate::github_api::app::RepoCredential,
    edit: &mut crate::write_back::Edit<'_>,
    tally: &mut Tally,
) -> Result<WriteBackResult, WriteBackError> {
    let token = credential.secret();
    let workspace = Workspace::prepare(config, options, token)?;
    if config.mode == Mode::None {
        let mut transport = GitTransport::new(workspace, config)?;
        transport.checkout_tip(false)?;
        let report = edit(transport.root())?;
        return Ok(WriteBackResult {
            changed: !report.files.is_empty(),
            report,
            ..WriteBackResult::default()
        });
    }
    let message = crate::write_back::message::ConfigMessage::new(config, &options.context);
    let render = |report: &EditReport| message.render(report);
    let images: Vec<&str> = config.images.iter().map(String::as_str).collect();
    let plan = crate::write_back::plan_for(
        config,
        &options.context,
        written,
        token.cloned(),
        &render,
        &workspace.branch,
        &images,
    )?;
    let mut transport = GitTransport::new(workspace, config)?;
    let mut result = crate::write_back::run(&plan, &mut transport, edit, tally)?;
    result.repository = written.map(str::to_string);
    Ok(result)
}

/// The repository written to, as `owner/name` (for the App token, the pull
/// request and the summary's links): the `repository` input, else the
/// checkout's `origin` (which may be another repository than the
/// workflow's), else `GITHUB_REPOSITORY`.
fn written_repository(config: &WriteBackOptions, options: &WriteBackSite) -> Option<String> {
    let named = match &config.repository {
        Some(repository) => Some(repository.clone()),
        None => Repository::discover(&options.workdir)
            .ok()
            .and_then(|repo| {
                let origin = repo.find_remote("origin").ok()?;
                origin.url().ok().map(str::to_string)
            }),
    };
    // A repository on this machine (a path, `file://`) is no GitHub
    // repository: its last two path segments must not become a link.
    let on_a_server = |r: &String| {
        RemoteLocation::from_input(r, &options.context.server_url).is_ok_and(|l| !l.local)
    };
    named
        .filter(on_a_server)
        .as_deref()
        .and_then(crate::github_api::rest::owner_and_name)
        .map(|(owner, name)| format!("{owner}/{name}"))
        .or_else(|| options.context.repository.clone())
}

/// A refusal from the server while writing to another repository than the
/// workflow's with `token` is, in a workflow, nearly always `GITHUB_TOKEN`
/// being used where it has no access: say so instead of the generic words.
fn out_of_reach(
    error: WriteBackError,
    credential: &crate::github_api::app::RepoCredential,
    written: Option<&str>,
    context: &GitHubContext,
) -> WriteBackError {
    let (Some(repository), Some(workflow)) = (written, context.repository.as_deref()) else {
        return error;
    };
    if credential.is_app()
        || credential.secret().is_none()
        || repository.eq_ignore_ascii_case(workflow)
    {
        return error;
    }
    match error {
        WriteBackError::Git(
            source @ (GitError::Denied {
                status: 403 | 404, ..
            }
            | GitError::Auth { .. }
            | GitError::Remote { .. }),
        ) => WriteBackError::Git(GitError::OutOfReach {
            repository: repository.to_string(),
            workflow_repository: workflow.to_string(),
            source: Box::new(source),
        }),
        other => other,
    }
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
    let mut dirs = vec![git_dir.join("refs")];
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
    token: Option<Secret>,
    /// The checkout's HEAD is the target branch: the first attempt may edit
    /// it as it is, once the remote confirms it is the tip.
    head_is_branch: bool,
    /// Fetch one commit deep (deepened on demand for the guard).
    shallow: bool,
    /// A tip fetched while preparing, for the first attempt.
    prefetched: Option<Oid>,
    /// The repository holds a fetched tip already.
    fetched_once: bool,
    /// Keeps a fresh clone alive until the run ends; deleted on drop.
    _temp: Option<TempClone>,
}

/// A fresh clone's directory. Deleted on drop, and also when the process
/// is ended by a signal it can catch (see [`crate::cleanup`]).
struct TempClone {
    dir: tempfile::TempDir,
}

impl TempClone {
    fn new() -> Result<TempClone, GitError> {
        let dir = tempfile::Builder::new()
            .prefix("gitops-bump-")
            .tempdir()
            .map_err(|source| GitError::Workspace {
                what: "creating a temporary directory for the clone",
                source,
            })?;
        crate::cleanup::register(dir.path());
        Ok(TempClone { dir })
    }
}

impl Drop for TempClone {
    fn drop(&mut self) {
        crate::cleanup::unregister(self.dir.path());
    }
}

impl Workspace {
    fn prepare(
        config: &WriteBackOptions,
        options: &WriteBackSite,
        token: Option<&Secret>,
    ) -> Result<Workspace, GitError> {
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
                location.check_local()?;
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
                Ok(Workspace {
                    head_is_branch: current.as_deref() == Some(branch.as_str()),
                    shallow: repo.is_shallow(),
                    repo,
                    location,
                    branch,
                    token: token.cloned(),
                    prefetched: None,
                    fetched_once: false,
                    _temp: None,
                })
            }
            Some(repository) => {
                let location = RemoteLocation::from_input(repository, &options.context.server_url)?
                    .allowing_insecure(&config.insecure_git_origins);
                location.check_local()?;
                let temp = TempClone::new()?;
                // A fresh repository plus a one-branch fetch is a shallow,
                // single-branch clone that leaves no remote in the config.
                // No template: its sample hooks are never run and cost a copy.
                let mut init = git2::RepositoryInitOptions::new();
                init.external_template(false);
                let repo = Repository::init_opts(temp.dir.path(), &init).map_err(|source| {
                    GitError::Checkout {
                        what: "a new repository".into(),
                        source,
                    }
                })?;
                // The first fetch also learns the default branch.
                let (branch, tip) =
                    remote::fetch(&repo, &location, config.branch.as_deref(), token, Some(1))?;
                Ok(Workspace {
                    repo,
                    location,
                    branch,
                    token: token.cloned(),
                    head_is_branch: false,
                    shallow: true,
                    prefetched: Some(tip),
                    fetched_once: true,
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

    /// Fetches the branch's tip (depth 1 in a shallow workspace).
    fn fetch_tip(&mut self) -> Result<Oid, GitError> {
        if let Some(tip) = self.prefetched.take() {
            return Ok(tip);
        }
        // After the first fetch the repository has a recent tip, so a plain
        // incremental fetch brings only the new commits, in one request
        // fewer than a shallow one (no shallow negotiation round). The
        // history stays cut where it was; the guard deepens it on demand.
        let depth = (self.shallow && !self.fetched_once).then_some(1);
        self.fetched_once = true;
        remote::fetch_branch(
            &self.repo,
            &self.location,
            &self.branch,
            self.token.as_ref(),
            depth,
        )
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

/// The git transport: a checkout or a fresh clone, pushed with a
/// compare-and-swap from the tip the edit ran on.
struct GitTransport {
    workspace: Workspace,
    root: PathBuf,
    author_name: String,
    author_email: String,
    /// The first tip is HEAD when the checkout is on the branch and the
    /// remote agrees.
    first: bool,
    /// Commits fetched behind the tip so far, for the newer-wins guard.
    depth: u32,
}

impl GitTransport {
    fn new(workspace: Workspace, config: &WriteBackOptions) -> Result<GitTransport, GitError> {
        let root = workspace.root()?;
        Ok(GitTransport {
            workspace,
            root,
            author_name: config.author_name.clone(),
            author_email: config.author_email.clone(),
            first: true,
            depth: 1,
        })
    }

    fn oid(tip: &Tip) -> Result<Oid, GitError> {
        Oid::from_str(&tip.id).map_err(GitError::Commit)
    }

    /// Commits `report.files` on top of `parent` (moving `update_ref` when
    /// given) and returns the commit and the diff.
    fn commit(
        &self,
        parent: Oid,
        report: &EditReport,
        message: &str,
        update_ref: Option<&str>,
    ) -> Result<(Oid, String), GitError> {
        let repo = &self.workspace.repo;
        let parent = repo.find_commit(parent).map_err(GitError::Commit)?;
        let base = parent.tree().map_err(GitError::Commit)?;
        let tree_id = commit::tree_with_files(repo, &self.root, &base, &report.files)?;
        let tree = repo.find_tree(tree_id).map_err(GitError::Commit)?;
        let diff = commit::unified_diff(repo, &base, &tree, &report.files)?;
        let signature = commit::signature(&self.author_name, &self.author_email)?;
        let id = repo
            .commit(
                update_ref,
                &signature,
                &signature,
                message,
                &tree,
                &[&parent],
            )
            .map_err(GitError::Commit)?;
        Ok((id, diff))
    }
}

impl Transport for GitTransport {
    fn branch(&self) -> &str {
        &self.workspace.branch
    }

    fn location(&self) -> String {
        self.workspace.location.display()
    }

    fn checkout_tip(&mut self, exact: bool) -> Result<Tip, WriteBackError> {
        let tip = self.workspace.fetch_tip()?;
        let first = std::mem::replace(&mut self.first, false);
        let head = self
            .workspace
            .repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .map(|c| c.id());
        if first && !exact && self.workspace.head_is_branch && head == Some(tip) {
            return Ok(Tip {
                id: tip.to_string(),
                in_place: true,
            });
        }
        self.workspace.check_out(tip)?;
        Ok(Tip {
            id: tip.to_string(),
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
        let start = Self::oid(tip)?;
        let file = Path::new(file);
        // A remote on this machine has the whole history: read it there
        // (libgit2 cannot deepen a shallow fetch from a local path).
        if let Some(path) = self.workspace.location.local_path() {
            let remote = Repository::open(&path).map_err(|source| GitError::NotARepository {
                path: path.clone(),
                source,
            })?;
            return Ok(history::last_bumped_run(&remote, start, file, image, HISTORY_LIMIT)?.run());
        }
        // Deepen a shallow copy until the walk reaches the bump, the root,
        // or the bound; the same authenticated fetch as the tip's.
        loop {
            // libgit2 reads the shallow grafts when a repository is opened:
            // reopen to see the deepened history.
            let repo = Repository::open(self.workspace.repo.path()).map_err(|source| {
                GitError::NotARepository {
                    path: self.workspace.repo.path().to_path_buf(),
                    source,
                }
            })?;
            match history::last_bumped_run(&repo, start, file, image, HISTORY_LIMIT)? {
                history::LastBump::Shallow if (self.depth as usize) < HISTORY_LIMIT => {
                    self.depth = (self.depth.max(25) * 4).min(HISTORY_LIMIT as u32);
                    remote::fetch_branch(
                        &self.workspace.repo,
                        &self.workspace.location,
                        &self.workspace.branch,
                        self.workspace.token.as_ref(),
                        Some(self.depth as i32),
                    )?;
                }
                found => return Ok(found.run()),
            }
        }
    }

    fn discard(&mut self, report: &EditReport) -> Result<(), WriteBackError> {
        Ok(restore(&self.workspace.repo, &report.files)?)
    }

    fn preview(&mut self, tip: &Tip, report: &EditReport) -> Result<String, WriteBackError> {
        let (_, diff) = self.commit(Self::oid(tip)?, report, "dry run", None)?;
        Ok(diff)
    }

    fn publish(
        &mut self,
        tip: &Tip,
        report: &EditReport,
        message: &str,
        to: &Destination,
    ) -> Result<Publish, WriteBackError> {
        let parent = Self::oid(tip)?;
        let repo = &self.workspace.repo;
        let (remote_branch, expect) = match to {
            Destination::Branch => (self.workspace.branch.clone(), Some(parent)),
            Destination::PullRequestBranch(head) => (head.clone(), None),
        };
        let local_ref = format!("refs/heads/{remote_branch}");
        let (id, diff) = match to {
            Destination::Branch => {
                let committed = self.commit(parent, report, message, Some(&local_ref))?;
                // Point HEAD at the branch (it may have been detached) and
                // stage the files so the checkout is clean whatever happens
                // next.
                repo.set_head(&local_ref).map_err(GitError::Commit)?;
                stage(repo, &report.files)?;
                committed
            }
            Destination::PullRequestBranch(_) => {
                let (id, diff) = self.commit(parent, report, message, None)?;
                repo.reference(&local_ref, id, true, "gitops-bump: pull request branch")
                    .map_err(GitError::Commit)?;
                // The change lives on the pull-request branch only: the
                // checkout stays on the base branch, as the base is on the
                // remote, so a second bump in the same job starts from the
                // base again instead of stacking on this one.
                restore(repo, &report.files)?;
                (id, diff)
            }
        };
        let outcome = remote::push(
            repo,
            &self.workspace.location,
            id,
            &remote_branch,
            self.workspace.token.as_ref(),
            expect,
        )?;
        Ok(match outcome {
            PushOutcome::Pushed => Publish::Landed {
                commit: id.to_string(),
                diff,
            },
            PushOutcome::LostRace(why) => Publish::LostRace(why),
            PushOutcome::Locked(why) => Publish::Locked(why),
        })
    }
}

/// Commits read at most when looking for the last bump of an image.
const HISTORY_LIMIT: usize = 10_000;

/// The branch HEAD points to, if any.
fn current_branch(repo: &Repository) -> Option<String> {
    let head = repo.head().ok()?;
    if !head.is_branch() {
        return None;
    }
    head.shorthand().ok().map(str::to_string)
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
