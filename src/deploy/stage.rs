//! The wait as a pipeline stage (after the write-back) and as the
//! `gitops-bump wait` command: what it waits on, and when it does not.

use std::sync::Arc;
use std::time::Instant;

use super::{DeployError, DeployReport, DeployWait, GitAncestry, WaitContext};
use crate::config::{Config, ConfigError, Mode, RawInputs};
use crate::git::remote::RemoteLocation;
use crate::github_api::rest::Api;
use crate::outputs::Outputs;
use crate::secret::Secret;

/// The wait's result, kept with the other outputs: a failed wait still
/// reports the commit that was pushed.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    pub report: DeployReport,
    pub failure: Option<Arc<DeployError>>,
}

/// Runs after the write-back when `config.deploy` is set; `None` when no
/// wait was asked for.
pub fn after_write_back(
    config: &Config,
    outputs: &Outputs,
    workdir: &std::path::Path,
    rt: &tokio::runtime::Runtime,
) -> Option<DeployOutcome> {
    let wait = config.deploy.as_ref()?;
    let pushed_at = Instant::now();
    let skip = |reason: &str| {
        crate::actions::annotate(&crate::actions::Annotation::new(
            crate::actions::Level::Notice,
            format!("deploy not waited on: {reason}"),
        ));
        crate::print::line(
            crate::print::Stream::Stderr,
            &format!("deploy: not waited on: {reason}"),
        );
        Some(DeployOutcome {
            report: DeployReport::skipped(reason),
            failure: None,
        })
    };
    if config.dry_run {
        return skip("dry run, nothing was pushed");
    }
    match config.mode {
        Mode::PullRequest => {
            return skip(
                "pull-request mode: the commit reaches the deployed branch only when the pull request is merged; wait in a workflow on that push (`gitops-bump wait --commit <merge sha>`)",
            );
        }
        Mode::None => return skip("mode: none pushes nothing"),
        Mode::Push => {}
    }
    let Some(commit) = outputs.commit_sha.as_deref() else {
        return skip(match &outputs.skipped_reason {
            Some(_) => "the bump was skipped, nothing was pushed",
            None => "nothing to change, nothing was pushed",
        });
    };
    let location = remote_of(config, workdir);
    let mut ancestry = GitAncestry::new(location, config.branch.clone(), config.token.clone());
    let repository = outputs.repository.clone().or_else(|| {
        std::env::var("GITHUB_REPOSITORY")
            .ok()
            .filter(|r| !r.is_empty())
    });
    let (report, failure) = run(
        wait,
        commit,
        pushed_at,
        repository.as_deref(),
        config.token.as_ref(),
        &mut ancestry,
        rt,
    );
    Some(DeployOutcome {
        report,
        failure: failure.map(Arc::new),
    })
}

/// The remote the write-back wrote to, for ancestry checks.
fn remote_of(config: &Config, workdir: &std::path::Path) -> Option<RemoteLocation> {
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
    let location = match &config.repository {
        Some(r) => RemoteLocation::from_input(r, &server).ok()?,
        None => RemoteLocation::origin_of(&git2::Repository::discover(workdir).ok()?).ok()?,
    };
    Some(location.allowing_insecure(&config.insecure_git_origins))
}

/// One wait, shown as a stage (a `::group::` in Actions, a spinner on a
/// terminal).
pub fn run(
    wait: &DeployWait,
    commit: &str,
    pushed_at: Instant,
    repository: Option<&str>,
    token: Option<&Secret>,
    ancestry: &mut GitAncestry,
    rt: &tokio::runtime::Runtime,
) -> (DeployReport, Option<DeployError>) {
    let stage = crate::progress::stage(&format!(
        "Wait for the deploy of {}",
        super::argocd::short(commit)
    ));
    let started = Instant::now();
    let api = Api::from_env();
    let mut contains = |revision: &str, ours: &str| ancestry.contains(revision, ours);
    let mut cx = WaitContext {
        commit,
        pushed_at,
        repository,
        github_token: token,
        api: &api,
        ancestry: &mut contains,
    };
    let (report, failure) = rt.block_on(super::wait(wait, &mut cx));
    let what = match (&failure, report.deployed) {
        (None, true) => format!("healthy: {}", report.health),
        (Some(DeployError::TimedOut { .. }), _) => "timed out".to_string(),
        _ => format!("failed: {}", report.health),
    };
    stage.done("deploy", started, &what);
    (report, failure)
}

/// The inputs of `gitops-bump wait`: a wait must be asked for.
pub fn command_wait(raw: &RawInputs) -> Result<DeployWait, ConfigError> {
    DeployWait::from_raw(raw)?.ok_or(ConfigError::Missing {
        input: "argocd-server",
        why: "say what to wait on: argocd-server with argocd-applications (or argocd-selector), and/or deploy-statuses",
    })
}

/// `gitops-bump wait --commit SHA`: waits, then writes the outputs and the
/// summary section (in Actions) or prints the outputs.
pub fn command(wait: &DeployWait, raw: &RawInputs, commit: &str) -> Result<(), crate::Error> {
    let commit = commit.trim().to_ascii_lowercase();
    if !(matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ConfigError::Invalid {
            input: "commit",
            value: commit.clone(),
            why:
                "expected a full commit id (40 or 64 hex digits), e.g. the bump's commit-sha output"
                    .into(),
        }
        .into());
    }
    let get = |n: &'static str| Some(raw.get(n)).filter(|v| !v.is_empty());
    let token = get("token").map(Secret::new);
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
    let location = match get("repository") {
        Some(r) => RemoteLocation::from_input(r, &server).ok(),
        None => git2::Repository::discover(".")
            .ok()
            .and_then(|repo| RemoteLocation::origin_of(&repo).ok()),
    }
    .map(|l| l.allowing_insecure(&raw_list(raw, "insecure-git-origins")));
    let repository = get("repository")
        .filter(|r| RemoteLocation::from_input(r, &server).is_ok_and(|l| !l.local))
        .and_then(crate::github_api::rest::owner_and_name)
        .map(|(o, n)| format!("{o}/{n}"))
        .or_else(|| {
            std::env::var("GITHUB_REPOSITORY")
                .ok()
                .filter(|r| !r.is_empty())
        });
    let mut ancestry = GitAncestry::new(location, get("branch").map(str::to_string), token.clone());
    let rt = crate::pipeline::runtime()?;
    let (report, failure) = run(
        wait,
        &commit,
        Instant::now(),
        repository.as_deref(),
        token.as_ref(),
        &mut ancestry,
        &rt,
    );
    let entries = report.entries();
    match crate::actions::EnvFile::from_env("GITHUB_OUTPUT") {
        Some(_) => {
            crate::outputs::append_to_step(&entries)?;
            if let Some(file) = crate::actions::EnvFile::from_env("GITHUB_STEP_SUMMARY") {
                file.append_text(&format!("### gitops-bump\n{}", report.summary_markdown()))
                    .map_err(|e| crate::Error::io("writing the job summary", e))?;
            }
        }
        None => {
            for (k, v) in &entries {
                crate::print::line(crate::print::Stream::Stdout, &format!("{k}={v}"));
            }
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn raw_list(raw: &RawInputs, name: &'static str) -> Vec<String> {
    crate::config::INPUTS
        .iter()
        .find(|i| i.name == name)
        .map(|i| i.split.apply(raw.get(name)))
        .unwrap_or_default()
}
