//! The wait as a pipeline stage (after the push) and as the
//! `gitops-bump wait` command: what it waits on, and when it does not.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::merge::Merge;
use super::{DeployError, DeployReport, GitAncestry, WaitContext};
use crate::config::{Mode, WaitOptions, WaitSite};
use crate::github_api::rest::Api;
use crate::print::{self, Stream};
use crate::progress::{self, Show};
use crate::run_env::RunEnv;
use crate::write_back::git::remote::RemoteLocation;

/// The wait's result, kept with the other outputs: a failed wait still
/// reports the commit that was pushed.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    pub report: DeployReport,
    pub failure: Option<Arc<DeployError>>,
}

/// What the write-back left for the wait to watch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pushed<'a> {
    /// The commit written (on the pull request's branch in pull-request
    /// mode).
    pub commit_sha: Option<&'a str>,
    /// `owner/name` of the repository written, when on GitHub.
    pub repository: Option<&'a str>,
    pub pull_request_number: Option<u64>,
    /// A guard skipped the bump.
    pub skipped: bool,
}

/// Why a run does not wait although a wait was asked for, or `None` when
/// it does. Said as a notice and in the summary, never silently.
pub fn not_waited_reason(wait: &WaitOptions, pushed: &Pushed<'_>) -> Option<String> {
    if wait.dry_run {
        return Some("dry run, nothing was pushed".into());
    }
    match wait.mode {
        Mode::PullRequest if wait.merge_timeout.is_none() => {
            let pr = pushed
                .pull_request_number
                .map_or("the pull request".to_string(), |n| {
                    format!("pull request #{n}")
                });
            return Some(format!(
                "pull-request mode does not wait: the commit reaches the deployed branch only when {pr} is merged; set `deploy-merge-timeout` to wait for the merge, or wait in a workflow on that push (`gitops-bump wait --commit <merge commit>`)"
            ));
        }
        Mode::PullRequest
            if pushed.commit_sha.is_some() && pushed.pull_request_number.is_none() =>
        {
            return Some("no pull request to wait on".into());
        }
        Mode::None => return Some("mode: none pushes nothing".into()),
        Mode::PullRequest | Mode::Push => {}
    }
    match (pushed.commit_sha, pushed.skipped) {
        (Some(_), _) => None,
        (None, true) => Some("the bump was skipped, nothing was pushed".into()),
        (None, false) => Some("nothing to change, nothing was pushed".into()),
    }
}

/// The outcome of a run that does not wait, after saying why.
fn not_waited(reason: String) -> DeployOutcome {
    crate::actions::annotate(
        &crate::actions::Annotation::new(
            crate::actions::Level::Notice,
            format!("deploy not waited on: {reason}"),
        )
        .titled("gitops-bump"),
    );
    print::line(Stream::Stderr, &format!("deploy: not waited on: {reason}"));
    DeployOutcome {
        report: DeployReport::skipped(reason),
        failure: None,
    }
}

/// The wait stage of a run, right after the push (or, in pull-request
/// mode with `deploy-merge-timeout`, after the merge).
pub fn after_push(
    wait: &WaitOptions,
    env: &RunEnv,
    pushed: &Pushed<'_>,
    workdir: &Path,
) -> DeployOutcome {
    if let Some(reason) = not_waited_reason(wait, pushed) {
        return not_waited(reason);
    }
    let repository = pushed
        .repository
        .map(str::to_string)
        .or_else(|| env.github.repository.clone());
    let waited = with_read_credential(wait, env, repository.as_deref(), |wait| {
        wait_with(wait, env, pushed, workdir, repository.as_deref())
    });
    waited.unwrap_or_else(failed_before_waiting)
}

/// Runs `wait_on` with the wait's GitHub credential in `site.token`: with
/// `app-id`, a token of its own, read-only ([`read_permissions`]), scoped
/// to `repository` and revoked when the wait ends (the write-back's token
/// is revoked already, and could not read statuses); else `token`.
fn with_read_credential<T>(
    wait: &WaitOptions,
    env: &RunEnv,
    repository: Option<&str>,
    wait_on: impl FnOnce(&WaitOptions) -> T,
) -> Result<T, DeployError> {
    let api = Api::new(&env.github.api_url);
    crate::github_api::app::with_credential(
        wait.site.app.as_ref(),
        wait.site.token.as_ref(),
        &api,
        repository,
        &read_permissions(wait),
        |credential| {
            let mut wait = wait.clone();
            wait.site.token = credential.secret().cloned();
            Ok(wait_on(&wait))
        },
    )
}

/// The repository permissions the wait reads with: the branch's history
/// (is the deployed revision a descendant of ours?), statuses and check
/// runs when it waits on them, the pull request when it waits for the
/// merge.
fn read_permissions(wait: &WaitOptions) -> Vec<(&'static str, &'static str)> {
    let mut permissions = vec![("contents", "read")];
    if !wait.statuses.is_empty() {
        permissions.extend([("statuses", "read"), ("checks", "read")]);
    }
    if wait.mode == Mode::PullRequest && wait.merge_timeout.is_some() {
        permissions.push(("pull_requests", "read"));
    }
    permissions
}

/// A wait that failed before it could watch anything.
fn failed_before_waiting(e: DeployError) -> DeployOutcome {
    DeployOutcome {
        report: DeployReport {
            health: "unknown".into(),
            ..DeployReport::default()
        },
        failure: Some(Arc::new(e)),
    }
}

/// [`after_push`] with the credential chosen: the merge (pull-request
/// mode), then the deploy.
fn wait_with(
    wait: &WaitOptions,
    env: &RunEnv,
    pushed: &Pushed<'_>,
    workdir: &Path,
    repository: Option<&str>,
) -> DeployOutcome {
    let commit = match (wait.mode, wait.merge_timeout, pushed.pull_request_number) {
        (Mode::PullRequest, Some(bound), Some(number)) => {
            match merged_commit(wait, env, repository, number, bound) {
                Ok(Merge::Merged(sha)) => sha,
                Ok(Merge::Closed) => {
                    return not_waited(format!(
                        "pull request #{number} was closed without being merged"
                    ));
                }
                Ok(Merge::Open) => {
                    return not_waited(format!(
                        "pull request #{number} was not merged within {} s (input `deploy-merge-timeout`); wait in a workflow on the merge's push (`gitops-bump wait --commit <merge commit>`)",
                        bound.as_secs()
                    ));
                }
                Err(e) => return failed_before_waiting(e),
            }
        }
        _ => match pushed.commit_sha {
            Some(commit) => commit.to_string(),
            None => return not_waited("nothing was pushed".into()),
        },
    };
    let pushed_at = Instant::now();
    let location = remote_of(&wait.site, env, workdir);
    let mut ancestry =
        GitAncestry::new(location, wait.site.branch.clone(), wait.site.token.clone());
    let (report, failure) = run(wait, env, &commit, pushed_at, repository, &mut ancestry);
    DeployOutcome {
        report,
        failure: failure.map(Arc::new),
    }
}

/// Pull-request mode: waits, as a stage of its own, for the pull request
/// to be merged.
fn merged_commit(
    wait: &WaitOptions,
    env: &RunEnv,
    repository: Option<&str>,
    number: u64,
    bound: std::time::Duration,
) -> Result<Merge, DeployError> {
    let (Some(repository), Some(token)) = (repository, wait.site.token.as_ref()) else {
        return Err(DeployError::NeedsContext {
            what: "the repository on GitHub and `token` to watch the pull request",
        });
    };
    let api = Api::new(&env.github.api_url);
    progress::stage(
        Show::Stage,
        "merge",
        &format!("Wait for pull request #{number} to be merged"),
        || {
            crate::http::block_on(super::merge::wait_for_merge(
                &api,
                token,
                repository,
                number,
                wait.poll_interval,
                bound,
            ))
            .map_err(|e| DeployError::Runtime(e.to_string()))?
        },
        |merge| match merge {
            Merge::Merged(sha) => format!("merged as {}", super::argocd::short(sha)),
            Merge::Closed => "closed without being merged".into(),
            Merge::Open => "still open".into(),
        },
    )
}

/// The remote the commit was written to, for ancestry checks: `repository`,
/// else the checkout's `origin`.
fn remote_of(site: &WaitSite, env: &RunEnv, workdir: &Path) -> Option<RemoteLocation> {
    let location = match &site.repository {
        Some(r) => RemoteLocation::from_input(r, &env.github.server_url).ok()?,
        None => RemoteLocation::origin_of(&git2::Repository::discover(workdir).ok()?).ok()?,
    };
    Some(location.allowing_insecure(&site.insecure_git_origins))
}

/// One wait, shown as a stage (a `::group::` in Actions, a spinner on a
/// terminal).
fn run(
    wait: &WaitOptions,
    env: &RunEnv,
    commit: &str,
    pushed_at: Instant,
    repository: Option<&str>,
    ancestry: &mut GitAncestry,
) -> (DeployReport, Option<DeployError>) {
    let api = Api::new(&env.github.api_url);
    let mut contains = |revision: &str, ours: &str| ancestry.contains(revision, ours);
    let mut cx = WaitContext {
        commit,
        pushed_at,
        repository,
        github_token: wait.site.token.as_ref(),
        api: &api,
        ancestry: &mut contains,
    };
    let title = format!("Wait for the deploy of {}", super::argocd::short(commit));
    let waited = progress::stage(
        Show::Stage,
        "deploy",
        &title,
        || {
            crate::http::block_on(super::wait(wait, &mut cx))
                .map_err(|e| DeployError::Runtime(e.to_string()))
        },
        |(report, failure)| match (failure, report.deployed) {
            (None, true) => format!("healthy: {}", report.health),
            (Some(DeployError::TimedOut { .. }), _) => "timed out".to_string(),
            _ => format!("failed: {}", report.health),
        },
    );
    match waited {
        Ok(result) => result,
        Err(e) => (DeployReport::default(), Some(e)),
    }
}

/// `gitops-bump wait --commit SHA`: the wait alone, for a commit pushed
/// earlier (another job, or a merged pull request). The caller writes the
/// outputs and turns the failure into the exit code.
pub fn command(
    wait: &WaitOptions,
    env: &RunEnv,
    commit: &str,
) -> (DeployReport, Option<DeployError>) {
    let workdir = Path::new(".");
    let location = remote_of(&wait.site, env, workdir);
    // Statuses live on GitHub: `repository` when it names a GitHub
    // repository, else the workflow's.
    let repository = wait
        .site
        .repository
        .as_deref()
        .filter(|r| RemoteLocation::from_input(r, &env.github.server_url).is_ok_and(|l| !l.local))
        .and_then(crate::github_api::rest::owner_and_name)
        .map(|(o, n)| format!("{o}/{n}"))
        .or_else(|| env.github.repository.clone());
    let started = Instant::now();
    let waited = with_read_credential(wait, env, repository.as_deref(), |wait| {
        let token = wait.site.token.clone();
        let mut ancestry = GitAncestry::new(location, wait.site.branch.clone(), token);
        run(
            wait,
            env,
            commit,
            started,
            repository.as_deref(),
            &mut ancestry,
        )
    });
    waited.unwrap_or_else(|e| (DeployReport::default(), Some(e)))
}
