//! The wait stage: after the push, did THIS commit reach the cluster and is
//! it healthy? It nudges Argo CD to look now, then watches the
//! Applications (and/or the commit statuses and check runs a deployer like
//! Flux posts to GitHub) until they report our commit healthy, fail, or
//! `deploy-timeout` passes. No cluster credentials: Argo CD's REST API with
//! a token, and the GitHub API.
//!
//! Every loop here is bounded by the deadline; every request by a timeout.

mod ancestry;
pub(crate) mod argocd;
pub(crate) mod commit_checks;
pub(crate) mod merge;
mod stage;

use std::time::{Duration, Instant};

use crate::config::WaitOptions;
use crate::secret::Secret;

pub(crate) use ancestry::GitAncestry;
use argocd::{AppName, AppStatus, ArgoCd, Refresh};
pub use stage::{DeployOutcome, Pushed, after_push, command, not_waited_reason};

/// What one poll concluded for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not there yet; the sentence says where it is.
    Waiting(String),
    /// Our commit (or one containing it) is applied; health still pending.
    Synced {
        revision: String,
        why: String,
    },
    Healthy {
        revision: String,
    },
    Failed(Observation),
}

/// A failed state as the deployer reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub state: String,
    pub message: String,
    /// The resources (or checks) that are not fine, one line each.
    pub resources: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{what}: could not reach Argo CD at {server}: {why}")]
    Unreachable {
        what: String,
        server: String,
        why: String,
    },
    #[error("Argo CD at {server} rejected the token (401): {message}")]
    ArgoUnauthorized { server: String, message: String },
    #[error("{what}: Argo CD answered 403: {message}")]
    ArgoForbidden {
        what: String,
        app: Option<String>,
        message: String,
    },
    #[error("{what}: Argo CD answered 404: {message}")]
    ArgoNotFound {
        what: String,
        app: Option<String>,
        message: String,
    },
    #[error("{what}: Argo CD answered {status}: {message}")]
    ArgoStatus {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what}: the answer is not what Argo CD sends: {why}")]
    BadAnswer { what: String, why: String },
    #[error("no Application matches the label selector {selector:?}")]
    NoApplications { selector: String },
    #[error("{what}: {message}")]
    GitHub {
        what: String,
        status: Option<u16>,
        message: String,
    },
    #[error("{target}: {} for commit {}{}{}", .observed.state, argocd::short(.commit), message_part(&.observed.message), resources_part(&.observed.resources))]
    Failed {
        target: String,
        commit: String,
        observed: Observation,
    },
    #[error("commit {} was not deployed within {} s (input `deploy-timeout`); last seen: {}", argocd::short(.commit), .waited.as_secs(), .last.join("; "))]
    TimedOut {
        commit: String,
        waited: Duration,
        last: Vec<String>,
    },
    #[error("the wait needs {what}")]
    NeedsContext { what: &'static str },
    /// The App's read-only token for the wait could not be minted.
    #[error(transparent)]
    App(#[from] crate::github_api::app::AppError),
    #[error("starting the async runtime: {0}")]
    Runtime(String),
}

fn message_part(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

fn resources_part(rs: &[String]) -> String {
    if rs.is_empty() {
        String::new()
    } else {
        format!("\n  {}", rs.join("\n  "))
    }
}

impl DeployError {
    pub(crate) fn hint(&self) -> Option<String> {
        Some(match self {
            DeployError::Unreachable { .. } => "check `argocd-server` (the URL of the Argo CD API server, as the argocd CLI's --server, with https://) and that this runner can reach it (a self-hosted runner inside the network, or a public ingress)".into(),
            DeployError::ArgoUnauthorized { .. } => "`argocd-token` is not a valid Argo CD token (expired, revoked, or for another Argo CD): generate one with `argocd account generate-token --account <ci-account>` or a project role token (`argocd proj role create-token`), store it as a secret".into(),
            DeployError::ArgoForbidden { app, .. } => format!(
                "the token's account lacks `applications, get` on {} in Argo CD's RBAC (argocd-rbac-cm: `p, role:ci, applications, get, <project>/<app>, allow`); Argo CD also answers 403, not 404, for an Application that does not exist (check the name, and the namespace as NAMESPACE/NAME for apps outside Argo CD's namespace)",
                app.as_deref().map_or("the Applications".to_string(), |a| format!("Application {a}"))
            ),
            DeployError::ArgoNotFound { .. } => "no such Application: check `argocd-applications` (and NAMESPACE/NAME for an Application outside Argo CD's namespace)".into(),
            DeployError::ArgoStatus { .. } | DeployError::BadAnswer { .. } => "is `argocd-server` the Argo CD API server (not the UI behind an auth proxy)? Its REST API answers JSON under /api/v1".into(),
            DeployError::NoApplications { .. } => "the selector matches Application labels (metadata.labels), as `argocd app list -l`; the token's account must also be allowed `applications, get` on them, or they are not listed".into(),
            DeployError::GitHub { status: Some(401), .. } => "the token was rejected; `token` (usually github.token) must be valid for the repository written".into(),
            DeployError::GitHub { status: Some(403 | 404), .. } => "the token cannot read this repository's statuses: give the job `statuses: read` and `checks: read` (with a GitHub App token: the App needs those permissions on the repository written)".into(),
            DeployError::GitHub { .. } => "check GITHUB_API_URL and the runner's network".into(),
            DeployError::Failed { target, .. } if target.starts_with("Application") => "the commit is pushed; fix the manifests (or roll back with a new bump) — Argo CD's UI and `argocd app get` show the same state".into(),
            DeployError::Failed { .. } => "the commit is pushed; the deployer reported a failure on it (see the status's details link on the commit)".into(),
            DeployError::TimedOut { .. } => "the commit is pushed. If the revision never changed, Argo CD did not see it: check the Application's source repo/targetRevision and that `argocd-refresh` is not `none`; if it is OutOfSync with no operation, enable automated sync; if it is Progressing, raise `deploy-timeout`. Flux posts statuses only on the commit it applied: a newer commit on the branch gets them instead".into(),
            DeployError::App(e) => return e.hint(),
            DeployError::NeedsContext { .. } | DeployError::Runtime(_) => return None,
        })
    }
}

/// What the wait saw, for outputs and the summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployReport {
    pub deployed: bool,
    /// Healthy, Degraded, Progressing… (Argo CD), or success/failure
    /// (statuses), or `skipped`.
    pub health: String,
    pub synced_revision: String,
    pub seconds_to_synced: Option<f64>,
    pub seconds_to_healthy: Option<f64>,
    /// Why nothing was waited on.
    pub skipped: Option<String>,
    /// One line per target: name and last state.
    pub targets: Vec<(String, String)>,
}

impl DeployReport {
    pub(crate) fn skipped(reason: impl Into<String>) -> DeployReport {
        DeployReport {
            health: "skipped".into(),
            skipped: Some(reason.into()),
            ..Default::default()
        }
    }

    /// Step outputs, names as in `action.yml`.
    pub fn entries(&self) -> Vec<(String, String)> {
        let secs = |s: Option<f64>| s.map(|s| format!("{s:.1}")).unwrap_or_default();
        vec![
            (
                "deployed".into(),
                if self.skipped.is_some() {
                    String::new()
                } else {
                    self.deployed.to_string()
                },
            ),
            ("health".into(), self.health.clone()),
            ("synced-revision".into(), self.synced_revision.clone()),
            ("seconds-to-synced".into(), secs(self.seconds_to_synced)),
            ("seconds-to-healthy".into(), secs(self.seconds_to_healthy)),
        ]
    }

    /// The job summary's section.
    pub fn summary_markdown(&self) -> String {
        use crate::print::code_span;
        let mut md = String::from("\n#### Deploy\n\n");
        if let Some(reason) = &self.skipped {
            md.push_str(&format!("Not waited on: {}\n", code_span(reason, false)));
            return md;
        }
        let secs = |s: Option<f64>| s.map_or("–".to_string(), |s| format!("{s:.1} s"));
        md.push_str("| deployed | health | synced revision | push → synced | push → healthy |\n|---|---|---|---|---|\n");
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            self.deployed,
            code_span(&self.health, true),
            code_span(&argocd::short(&self.synced_revision), true),
            secs(self.seconds_to_synced),
            secs(self.seconds_to_healthy),
        ));
        if !self.targets.is_empty() {
            md.push('\n');
            for (name, state) in &self.targets {
                md.push_str(&format!(
                    "- {} {}\n",
                    code_span(name, false),
                    code_span(state, false)
                ));
            }
        }
        md
    }
}

/// Where the wait reports progress: one line per change of state.
fn progress(line: &str) {
    crate::print::line(crate::print::Stream::Stderr, line);
}

/// One thing being waited on.
enum Target {
    App(AppName),
    Statuses,
}

impl Target {
    fn label(&self) -> String {
        match self {
            Target::App(a) => format!("Application {a}"),
            Target::Statuses => "commit statuses".into(),
        }
    }
}

/// Everything a wait needs besides its inputs.
pub(crate) struct WaitContext<'a> {
    /// The commit pushed.
    pub commit: &'a str,
    /// When it was pushed: timings count from here.
    pub pushed_at: Instant,
    /// `owner/name` on GitHub, for statuses.
    pub repository: Option<&'a str>,
    pub github_token: Option<&'a Secret>,
    pub api: &'a crate::github_api::rest::Api,
    /// Answers "does this revision contain our commit?".
    pub ancestry: &'a mut dyn FnMut(&str, &str) -> Option<bool>,
}

/// Nudges, then polls until every target reports our commit healthy, one
/// fails, or the deadline passes. On failure the report is still returned
/// (for the outputs) with the error.
pub(crate) async fn wait(
    wait: &WaitOptions,
    cx: &mut WaitContext<'_>,
) -> (DeployReport, Option<DeployError>) {
    let mut report = DeployReport::default();
    let result = wait_inner(wait, cx, &mut report).await;
    match result {
        Ok(()) => (report, None),
        Err(e) => {
            report.deployed = false;
            if let DeployError::Failed { observed, .. } = &e
                && let Some(h) = observed.state.strip_prefix("health ")
            {
                report.health = h.to_string();
            }
            (report, Some(e))
        }
    }
}

async fn wait_inner(
    wait: &WaitOptions,
    cx: &mut WaitContext<'_>,
    report: &mut DeployReport,
) -> Result<(), DeployError> {
    let deadline = Instant::now() + wait.timeout;
    let request_timeout = Duration::from_secs(30).min(wait.timeout.max(Duration::from_secs(1)));
    let mut targets: Vec<Target> = Vec::new();
    let argo = wait.argocd.as_ref().map(|a| {
        (
            a,
            ArgoCd {
                request_timeout,
                server: a.server.clone(),
                token: &a.token,
            },
        )
    });
    if let Some((target, api)) = &argo {
        let apps = match &target.selector {
            Some(s) => api.select(s).await?,
            None => target.applications.clone(),
        };
        // The nudge: each Application re-reads git now, not at its next
        // poll (3 minutes by default). The answer is the first observation.
        for app in &apps {
            let value = api.get(app, target.refresh).await?;
            let status = AppStatus::from_app(&value);
            if target.refresh != Refresh::None {
                progress(&format!(
                    "Application {app}: asked Argo CD to refresh ({})",
                    status.describe()
                ));
            }
        }
        targets.extend(apps.into_iter().map(Target::App));
    }
    if !wait.statuses.is_empty() {
        if cx.repository.is_none() {
            return Err(DeployError::NeedsContext {
                what: "the repository (owner/name on GitHub) to read commit statuses from",
            });
        }
        if cx.github_token.is_none() {
            return Err(DeployError::NeedsContext {
                what: "`token` to read commit statuses and check runs",
            });
        }
        targets.push(Target::Statuses);
    }
    let n = targets.len();
    let mut last: Vec<String> = vec![String::new(); n];
    let mut synced_at: Vec<Option<f64>> = vec![None; n];
    let mut healthy_at: Vec<Option<f64>> = vec![None; n];
    let mut revision: Vec<String> = vec![String::new(); n];
    let mut health: Vec<String> = vec![String::new(); n];
    // Bounded: every pass either finishes, fails, or sleeps toward the
    // deadline checked at its top.
    loop {
        for (i, target) in targets.iter().enumerate() {
            if healthy_at[i].is_some() {
                continue;
            }
            let (verdict, state_line, h) = match target {
                Target::App(app) => {
                    let (_, api) = argo.as_ref().ok_or(DeployError::NeedsContext {
                        what: "an Argo CD server",
                    })?;
                    let value = api.get(app, Refresh::None).await?;
                    let status = AppStatus::from_app(&value);
                    let commit = cx.commit;
                    let ancestry = &mut *cx.ancestry;
                    let mut contains = |r: &str| ancestry(r, commit);
                    let v = argocd::judge(&status, commit, &mut contains);
                    (v, status.describe(), status.health.clone())
                }
                Target::Statuses => {
                    let (Some(repository), Some(token)) = (cx.repository, cx.github_token) else {
                        continue;
                    };
                    let checks = commit_checks::fetch(cx.api, token, repository, cx.commit).await?;
                    let v = commit_checks::judge(&wait.statuses, &checks, cx.commit);
                    let h = match &v {
                        Verdict::Healthy { .. } => "success",
                        Verdict::Failed(_) => "failure",
                        _ => "pending",
                    };
                    let line = match &v {
                        Verdict::Waiting(w) => w.clone(),
                        _ => h.to_string(),
                    };
                    (v, line, h.to_string())
                }
            };
            health[i] = h;
            let since_push = cx.pushed_at.elapsed().as_secs_f64();
            match verdict {
                Verdict::Failed(observed) => {
                    last[i] = state_line;
                    report.targets = labels(&targets, &last);
                    report.health = health[i].clone();
                    return Err(DeployError::Failed {
                        target: target.label(),
                        commit: cx.commit.to_string(),
                        observed,
                    });
                }
                Verdict::Healthy { revision: r } => {
                    synced_at[i].get_or_insert(since_push);
                    healthy_at[i] = Some(since_push);
                    revision[i] = r;
                    progress(&format!(
                        "{}: healthy at {} ({since_push:.1} s after the push)",
                        target.label(),
                        argocd::short(&revision[i])
                    ));
                }
                Verdict::Synced { revision: r, why } => {
                    if synced_at[i].is_none() {
                        synced_at[i] = Some(since_push);
                        progress(&format!(
                            "{}: synced to {} ({since_push:.1} s after the push); waiting for health",
                            target.label(),
                            argocd::short(&r)
                        ));
                    }
                    revision[i] = r;
                    if last[i] != why {
                        progress(&format!("{}: {why}", target.label()));
                    }
                }
                Verdict::Waiting(why) => {
                    if last[i] != why {
                        progress(&format!("{}: {why}", target.label()));
                    }
                }
            }
            last[i] = if healthy_at[i].is_some() {
                format!("healthy at {}", argocd::short(&revision[i]))
            } else {
                state_line
            };
        }
        report.targets = labels(&targets, &last);
        report.synced_revision = revision
            .iter()
            .find(|r| !r.is_empty())
            .cloned()
            .unwrap_or_default();
        report.health = health
            .iter()
            .find(|h| !matches!(h.as_str(), "Healthy" | "success"))
            .or(health.first())
            .cloned()
            .unwrap_or_default();
        report.seconds_to_synced = max_all(&synced_at);
        report.seconds_to_healthy = max_all(&healthy_at);
        if healthy_at.iter().all(Option::is_some) {
            report.deployed = true;
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(DeployError::TimedOut {
                commit: cx.commit.to_string(),
                waited: wait.timeout,
                last: labels(&targets, &last)
                    .into_iter()
                    .map(|(t, s)| format!("{t}: {s}"))
                    .collect(),
            });
        }
        tokio::time::sleep(wait.poll_interval.min(deadline - now)).await;
    }
}

fn labels(targets: &[Target], last: &[String]) -> Vec<(String, String)> {
    targets
        .iter()
        .zip(last)
        .map(|(t, s)| (t.label(), s.clone()))
        .collect()
}

/// The time the last of all targets got there; `None` until all did.
fn max_all(times: &[Option<f64>]) -> Option<f64> {
    times
        .iter()
        .try_fold(0.0_f64, |acc, t| t.map(|t| acc.max(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_and_summary() {
        let r = DeployReport {
            deployed: true,
            health: "Healthy".into(),
            synced_revision: "1111111111111111111111111111111111111111".into(),
            seconds_to_synced: Some(1.25),
            seconds_to_healthy: Some(3.0),
            skipped: None,
            targets: vec![("Application guestbook".into(), "healthy".into())],
        };
        let e = r.entries();
        assert_eq!(e[0], ("deployed".into(), "true".into()));
        assert_eq!(e[3], ("seconds-to-synced".into(), "1.2".into()));
        assert!(
            r.summary_markdown()
                .contains("| true | `Healthy` | `111111111111` | 1.2 s | 3.0 s |")
        );
        let s = DeployReport::skipped("pull-request mode");
        assert_eq!(s.entries()[0], ("deployed".into(), String::new()));
    }
}
