//! The wait section: after the push, what to watch until the commit runs
//! healthy (Argo CD Applications, commit statuses / check runs), how long,
//! and where the commit was written (for statuses and ancestry checks).

use std::time::Duration;

use super::{ConfigError, GitHubApp, Mode, RawInputs, WriteBackOptions};
use crate::secret::Secret;

/// What the wait stage is asked to do; present only when `argocd-server`
/// or `deploy-statuses` is set.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub argocd: Option<ArgoTarget>,
    /// Context / check-run name patterns on our commit.
    pub statuses: Vec<String>,
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// The repository the commit was written to.
    pub site: WaitSite,
    /// The write-back's mode: only a push puts the commit on the deployed
    /// branch right away.
    pub mode: Mode,
    /// A dry run pushes nothing to wait for.
    pub dry_run: bool,
    /// Pull-request mode: how long to wait for the merge before waiting for
    /// the deploy of the merge commit; `None`: pull-request mode does not
    /// wait.
    pub merge_timeout: Option<Duration>,
}

/// An Argo CD server and the Applications on it to wait on.
#[derive(Debug, Clone)]
pub struct ArgoTarget {
    /// The server URL without a trailing `/`.
    pub server: String,
    pub token: Secret,
    pub applications: Vec<AppName>,
    pub selector: Option<String>,
    pub refresh: Refresh,
}

/// Where the commit lives: the same inputs the write-back reads.
#[derive(Debug, Clone, Default)]
pub struct WaitSite {
    /// `repository`: owner/name or a git URL; `None` is the checkout's origin.
    pub repository: Option<String>,
    pub branch: Option<String>,
    /// `token`: reads statuses and check runs, and fetches for ancestry.
    pub token: Option<Secret>,
    /// `app-id`: the wait reads with an installation token of its own,
    /// read-only and scoped to the repository written, instead of `token`.
    pub app: Option<GitHubApp>,
    pub insecure_git_origins: Vec<String>,
}

impl WaitOptions {
    /// The wait after a run's write-back; `None` when no wait is asked for.
    pub(super) fn from_raw(
        raw: &RawInputs,
        write_back: &WriteBackOptions,
    ) -> Result<Option<Self>, ConfigError> {
        let site = WaitSite {
            repository: write_back.repository.clone(),
            branch: write_back.branch.clone(),
            token: write_back.token.clone(),
            app: write_back.app.clone(),
            insecure_git_origins: write_back.insecure_git_origins.clone(),
        };
        targets(raw, site, write_back.mode, write_back.dry_run)
    }

    /// `gitops-bump wait`: the wait alone, for a commit pushed earlier; it
    /// must say what to wait on.
    pub fn for_command(raw: &RawInputs) -> Result<Self, ConfigError> {
        raw.check_names()?;
        let site = WaitSite {
            repository: raw.optional("repository"),
            branch: raw.optional("branch"),
            token: raw.secret("token"),
            app: super::write_back::app(raw)?,
            insecure_git_origins: raw.list("insecure-git-origins"),
        };
        targets(raw, site, Mode::Push, false)?.ok_or(ConfigError::Missing {
            input: "argocd-server",
            why: "say what to wait on: argocd-server with argocd-applications (or argocd-selector), and/or deploy-statuses",
        })
    }
}

/// The commit `gitops-bump wait --commit` waits for: a full commit id.
pub fn parse_commit(commit: &str) -> Result<String, ConfigError> {
    let commit = commit.trim().to_ascii_lowercase();
    if matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(commit);
    }
    Err(invalid(
        "commit",
        &commit,
        "expected a full commit id (40 or 64 hex digits), e.g. the bump's commit-sha output",
    ))
}

fn invalid(input: &'static str, value: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        input,
        value: value.to_string(),
        why: why.into(),
    }
}

fn targets(
    raw: &RawInputs,
    site: WaitSite,
    mode: Mode,
    dry_run: bool,
) -> Result<Option<WaitOptions>, ConfigError> {
    let statuses = raw.list("deploy-statuses");
    let argocd = match raw.optional("argocd-server") {
        None => {
            for dependent in ["argocd-token", "argocd-applications", "argocd-selector"] {
                if raw.optional(dependent).is_some() {
                    return Err(ConfigError::Conflict {
                        a: dependent,
                        b: "argocd-server",
                        why: "name the Argo CD server (https://argocd.example.com) to wait on Applications",
                    });
                }
            }
            None
        }
        Some(server) => Some(argo_target(raw, &server)?),
    };
    if argocd.is_none() && statuses.is_empty() {
        return Ok(None);
    }
    let timeout = raw.duration("deploy-timeout")?;
    if timeout.is_zero() {
        return Err(invalid(
            "deploy-timeout",
            raw.get("deploy-timeout"),
            "must be at least 1s",
        ));
    }
    let poll_interval = raw.duration("deploy-poll-interval")?;
    if poll_interval < Duration::from_millis(100) {
        return Err(invalid(
            "deploy-poll-interval",
            raw.get("deploy-poll-interval"),
            "must be at least 100ms",
        ));
    }
    let merge_timeout = match raw.optional("deploy-merge-timeout") {
        None => None,
        Some(_) => Some(raw.duration("deploy-merge-timeout")?).filter(|d| !d.is_zero()),
    };
    Ok(Some(WaitOptions {
        argocd,
        statuses,
        timeout,
        poll_interval,
        site,
        mode,
        dry_run,
        merge_timeout,
    }))
}

fn argo_target(raw: &RawInputs, server: &str) -> Result<ArgoTarget, ConfigError> {
    let server = allowed_server(server).map_err(|why| invalid("argocd-server", server, why))?;
    let token = raw.secret("argocd-token").ok_or(ConfigError::Missing {
        input: "argocd-token",
        why: "an Argo CD API token (a project role or local account token with `applications, get` on the Applications; `argocd account generate-token`), from a secret",
    })?;
    let mut applications = Vec::new();
    for a in raw.list("argocd-applications") {
        applications
            .push(AppName::parse(&a).map_err(|why| invalid("argocd-applications", &a, why))?);
    }
    let selector = raw.optional("argocd-selector");
    if applications.is_empty() == selector.is_none() {
        return Err(ConfigError::Conflict {
            a: "argocd-applications",
            b: "argocd-selector",
            why: "name the Applications to wait on, or give a label selector (e.g. app.kubernetes.io/part-of=shop), not both",
        });
    }
    let refresh = Refresh::parse(raw.get("argocd-refresh")).ok_or_else(|| {
        invalid(
            "argocd-refresh",
            raw.get("argocd-refresh"),
            "expected normal, hard or none",
        )
    })?;
    Ok(ArgoTarget {
        server,
        token,
        applications,
        selector,
        refresh,
    })
}

/// Whether a token may travel to `url`: HTTPS, or plain HTTP on this
/// machine's loopback (a port-forward to argocd-server, or a test).
fn allowed_server(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a URL with credentials in it; give the token in `argocd-token`".into());
    }
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        "http" => Err("the token would travel in clear over plain HTTP; use https:// (plain HTTP is allowed for 127.0.0.1 and localhost only, e.g. a `kubectl port-forward`)".into()),
        other => Err(format!("scheme {other:?}; expected https://")),
    }
}

/// `refresh` query values Argo CD accepts; `None` skips the nudge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    None,
    Normal,
    Hard,
}

impl Refresh {
    pub(crate) fn parse(s: &str) -> Option<Refresh> {
        match s {
            "none" | "false" => Some(Refresh::None),
            "normal" | "true" => Some(Refresh::Normal),
            "hard" => Some(Refresh::Hard),
            _ => None,
        }
    }

    /// The `refresh` query value; `None` for no nudge.
    pub(crate) fn query(self) -> Option<&'static str> {
        match self {
            Refresh::None => None,
            Refresh::Normal => Some("normal"),
            Refresh::Hard => Some("hard"),
        }
    }
}

/// One Application: `name`, or `namespace/name` for an Application outside
/// Argo CD's own namespace (the `appNamespace` query parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName {
    pub namespace: Option<String>,
    pub name: String,
}

impl AppName {
    pub(crate) fn parse(s: &str) -> Result<AppName, String> {
        let valid = |p: &str| {
            !p.is_empty()
                && p.len() <= 253
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        let (namespace, name) = match s.split_once('/') {
            Some((ns, name)) => (Some(ns.to_string()), name),
            None => (None, s),
        };
        if !valid(name) || namespace.as_deref().is_some_and(|ns| !valid(ns)) {
            return Err(
                "expected an Application name (lowercase letters, digits, `-`, `.`), or NAMESPACE/NAME"
                    .into(),
            );
        }
        Ok(AppName {
            namespace,
            name: name.to_string(),
        })
    }
}

impl std::fmt::Display for AppName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawInputs {
        let mut raw = RawInputs::default();
        for (k, v) in pairs {
            raw.set(k, v.to_string());
        }
        raw
    }

    #[test]
    fn inputs_are_checked_before_anything_runs() {
        let server = ("argocd-server", "https://argocd.example.com");
        let token = ("argocd-token", "argocd-test-token");
        let apps = ("argocd-applications", "guestbook");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[server, apps], "input `argocd-token` is required"),
            (&[server, token], "argocd-applications"),
            (
                &[server, token, apps, ("argocd-selector", "a=b")],
                "not both",
            ),
            (
                &[("argocd-server", "http://argocd.example.com"), token, apps],
                "in clear",
            ),
            (
                &[server, token, apps, ("argocd-refresh", "soft")],
                "expected normal, hard or none",
            ),
            (
                &[server, token, ("argocd-applications", "Guest_book")],
                "Application name",
            ),
            (&[token], "argocd-server"),
            (
                &[server, token, apps, ("deploy-timeout", "0s")],
                "at least 1s",
            ),
            (
                &[server, token, apps, ("deploy-poll-interval", "10ms")],
                "at least 100ms",
            ),
            (&[], "say what to wait on"),
            (
                &[("deploy-statuses", "a/*"), ("no-such-input", "x")],
                "unknown input `no-such-input`",
            ),
        ];
        for (pairs, want) in cases {
            let err = WaitOptions::for_command(&raw(pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{pairs:?}: {err}");
        }
        let w = WaitOptions::for_command(&raw(&[
            ("argocd-server", "http://127.0.0.1:8080/"),
            token,
            ("argocd-applications", "a, team/b"),
            ("repository", "org/gitops"),
        ]))
        .unwrap();
        let a = w.argocd.unwrap();
        assert_eq!(a.server, "http://127.0.0.1:8080");
        assert_eq!(a.applications.len(), 2);
        assert_eq!(a.refresh, Refresh::Normal);
        assert_eq!(w.timeout, Duration::from_secs(300));
        assert_eq!(w.site.repository.as_deref(), Some("org/gitops"));
    }

    #[test]
    fn a_run_waits_only_when_asked_and_knows_its_write_back() {
        use super::super::Config;
        let c = Config::from_raw(&raw(&[("images", "ghcr.io/o/app:v1")])).unwrap();
        assert!(c.wait.is_none());
        let c = Config::from_raw(&raw(&[
            ("images", "ghcr.io/o/app:v1"),
            ("mode", "pull-request"),
            ("branch", "main"),
            ("deploy-statuses", "kustomization/apps/*"),
        ]))
        .unwrap();
        let w = c.wait.unwrap();
        assert_eq!(w.mode, Mode::PullRequest);
        assert_eq!(w.merge_timeout, None);
        assert_eq!(w.statuses, vec!["kustomization/apps/*"]);
        assert_eq!(w.site.branch.as_deref(), Some("main"));
        let c = Config::from_raw(&raw(&[
            ("images", "ghcr.io/o/app:v1"),
            ("mode", "pull-request"),
            ("deploy-statuses", "kustomization/apps/*"),
            ("deploy-merge-timeout", "15m"),
        ]))
        .unwrap();
        assert_eq!(
            c.wait.unwrap().merge_timeout,
            Some(Duration::from_secs(900))
        );
        let err = Config::from_raw(&raw(&[
            ("images", "ghcr.io/o/app:v1"),
            ("deploy-statuses", "kustomization/apps/*"),
            ("deploy-merge-timeout", "soon"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("`deploy-merge-timeout`"), "{err}");
        let err = Config::from_raw(&raw(&[
            ("images", "ghcr.io/o/app:v1"),
            ("argocd-token", "t"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("`argocd-server`"), "{err}");
    }

    #[test]
    fn application_names() {
        let cases = [
            ("guestbook", Ok("guestbook")),
            ("team-a/guestbook", Ok("team-a/guestbook")),
            ("Guestbook", Err(())),
            ("a/b/c", Err(())),
            ("", Err(())),
        ];
        for (input, want) in cases {
            let got = AppName::parse(input).map(|a| a.to_string()).map_err(|_| ());
            assert_eq!(got, want.map(str::to_string), "{input}");
        }
    }
}
