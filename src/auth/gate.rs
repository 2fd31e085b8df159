//! Production gates, checked before any credential is used or any push made:
//!
//! - untrusted events: `pull_request_target` and pull requests from forks
//!   run code or inputs an outsider controls ("pwn requests"); with deploy
//!   credentials in reach, that outsider can deploy.
//! - `require-environment`: the job must run in a GitHub environment (where
//!   reviewers and branch rules apply), proven by the OIDC token's
//!   `environment` claim, which the workflow cannot forge. The claim is
//!   believed only from a token whose issuer, audience, lifetime and
//!   repository are this job's (docs/auth.md says why the signature is not
//!   verified).
//!
//! Everything here is pure: the caller passes the event and the claims in.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::AuthError;
use super::oidc::Claims;
use crate::config::{Config, Mode};

/// The event facts the gates need, read once from `GITHUB_EVENT_NAME` and
/// `GITHUB_EVENT_PATH`.
#[derive(Debug, Clone, Default)]
pub struct GateEnv {
    pub event_name: Option<String>,
    pub event_path: Option<PathBuf>,
    /// The parsed payload, or why it could not be read.
    pub event_payload: Option<Result<Value, String>>,
    /// The OIDC token's claims, when a token was fetched.
    pub claims: Option<Claims>,
    /// The audience that token was requested for.
    pub audience: Option<String>,
    /// `GITHUB_REPOSITORY`: the token must name it.
    pub repository: Option<String>,
    /// Issuers a token may come from (see [`issuers`]).
    pub issuers: Vec<String>,
}

impl GateEnv {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let event_name = lookup("GITHUB_EVENT_NAME").filter(|v| !v.is_empty());
        let event_path = lookup("GITHUB_EVENT_PATH")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let event_payload = event_path.as_deref().map(read_payload);
        GateEnv {
            event_name,
            event_path,
            event_payload,
            claims: None,
            audience: None,
            repository: lookup("GITHUB_REPOSITORY").filter(|v| !v.is_empty()),
            issuers: issuers(
                lookup("GITOPS_BUMP_OIDC_ISSUER").as_deref(),
                lookup("GITHUB_SERVER_URL").as_deref(),
            ),
        }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

/// GitHub's OIDC issuer on github.com.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// Clock difference tolerated between the runner and GitHub.
const CLOCK_SKEW_SECS: i64 = 60;

/// The issuers a job's OIDC token may come from: `GITOPS_BUMP_OIDC_ISSUER`
/// when set (exactly); else GitHub's, with an enterprise's custom issuer
/// path (`{GITHUB_ISSUER}/<slug>`) and, on GitHub Enterprise Server,
/// `$GITHUB_SERVER_URL/_services/token`.
pub fn issuers(configured: Option<&str>, server_url: Option<&str>) -> Vec<String> {
    if let Some(issuer) = configured.map(str::trim).filter(|i| !i.is_empty()) {
        return vec![issuer.trim_end_matches('/').to_string()];
    }
    let mut issuers = vec![GITHUB_ISSUER.to_string()];
    if let Some(server) = server_url
        .map(|s| s.trim().trim_end_matches('/'))
        .filter(|s| !s.is_empty() && *s != "https://github.com")
    {
        issuers.push(format!("{server}/_services/token"));
    }
    issuers
}

fn issuer_allowed(iss: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| {
        iss == a
            || (a == GITHUB_ISSUER
                && iss.strip_prefix(GITHUB_ISSUER).is_some_and(|rest| {
                    rest.strip_prefix('/').is_some_and(|slug| {
                        !slug.is_empty()
                            && slug
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    })
                }))
    })
}

/// Whether `claims` belong to a token GitHub issued for this job and this
/// request: issuer, audience, `exp`/`nbf` (with [`CLOCK_SKEW_SECS`]) and
/// `repository`. Checked before any claim (like `environment`) is believed.
pub fn check_token(
    claims: &Claims,
    issuers: &[String],
    audience: &str,
    repository: Option<&str>,
    now: i64,
) -> Result<(), AuthError> {
    let bad = |claim: &'static str, why: String| Err(AuthError::UntrustedToken { claim, why });
    match claims.iss.as_deref() {
        Some(iss) if issuer_allowed(iss, issuers) => {}
        Some(iss) => {
            return bad(
                "iss",
                format!("issuer {iss:?} is not {}", issuers.join(" or ")),
            );
        }
        None => return bad("iss", "the token names no issuer".into()),
    }
    let audiences = claims.aud.as_deref().unwrap_or_default();
    if !audiences.split(' ').any(|a| a == audience) {
        return bad(
            "aud",
            format!("audience {audiences:?} is not the requested {audience:?}"),
        );
    }
    match claims.exp {
        Some(exp) if now <= exp + CLOCK_SKEW_SECS => {}
        Some(exp) => {
            return bad("exp", format!("the token expired {}s ago", now - exp));
        }
        None => return bad("exp", "the token has no expiry".into()),
    }
    if let Some(nbf) = claims.nbf
        && now + CLOCK_SKEW_SECS < nbf
    {
        return bad(
            "nbf",
            format!("the token is not valid for another {}s", nbf - now),
        );
    }
    let Some(expected) = repository else {
        return bad(
            "repository",
            "GITHUB_REPOSITORY is not set, so the token cannot be tied to this repository".into(),
        );
    };
    match claims.repository.as_deref() {
        Some(r) if r.eq_ignore_ascii_case(expected) => Ok(()),
        other => bad(
            "repository",
            format!(
                "the token is for repository {}, this job runs in {expected}",
                other.map_or("(none)".to_string(), |r| format!("{r:?}"))
            ),
        ),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn read_payload(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// How the event was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// Not in Actions (no event): a person at a terminal.
    Local,
    Trusted,
    /// Untrusted, but `allow-untrusted-events: true`.
    AllowedUntrusted,
    /// Untrusted, but this run neither authenticates nor pushes.
    NotNeeded,
}

/// What the gates checked, for the log and `auth google --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub event: Option<String>,
    pub trust: Trust,
    /// The `environment` claim, when `require-environment` was checked.
    pub environment: Option<String>,
}

const PULL_REQUEST_EVENTS: &[&str] = &[
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
];

/// Why an event is untrusted, or `None` when it is trusted.
pub fn untrusted_reason(
    event_name: &str,
    payload: Option<&Result<Value, String>>,
) -> Option<String> {
    if event_name == "pull_request_target" {
        return Some(
            "`pull_request_target` runs with the base repository's secrets and write token \
             while the pull request's author controls its inputs (and its code, if the job checks \
             it out)"
                .into(),
        );
    }
    if !PULL_REQUEST_EVENTS.contains(&event_name) {
        return None;
    }
    let payload = match payload {
        Some(Ok(p)) => p,
        Some(Err(why)) => {
            return Some(format!(
                "`{event_name}`: the event payload could not be read ({why}), so a fork cannot be ruled out"
            ));
        }
        None => {
            return Some(format!(
                "`{event_name}`: GITHUB_EVENT_PATH is not set, so a fork cannot be ruled out"
            ));
        }
    };
    let base = payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str);
    let head_repo = payload.pointer("/pull_request/head/repo");
    let head = head_repo
        .and_then(|r| r.get("full_name"))
        .and_then(Value::as_str);
    let head_is_fork = head_repo
        .and_then(|r| r.get("fork"))
        .and_then(Value::as_bool);
    match (head, base) {
        (Some(h), Some(b)) if !h.eq_ignore_ascii_case(b) => Some(format!(
            "`{event_name}` from the fork `{h}` into `{b}`: its code is written by someone outside the repository"
        )),
        // Same repository: `fork` may still be true when the repository is
        // itself a fork of another, so it does not count here.
        (Some(_), Some(_)) => None,
        // A deleted head repository, or a payload without names: only the
        // fork flag is left; absent, refuse rather than guess.
        _ if head_is_fork == Some(false) => None,
        _ => Some(format!(
            "`{event_name}`: the payload does not show the head repository is this repository (deleted fork?)"
        )),
    }
}

/// True when this run would use credentials or push.
pub fn uses_credentials_or_pushes(config: &Config) -> bool {
    let writes = !(config.mode == Mode::None && config.repository.is_none());
    config.google.is_some() || config.require_environment.is_some() || (writes && !config.dry_run)
}

/// The event gate alone: no network, no token.
pub fn check_event(config: &Config, env: &GateEnv) -> Result<Trust, AuthError> {
    let Some(event) = env.event_name.as_deref() else {
        return Ok(Trust::Local);
    };
    let Some(why) = untrusted_reason(event, env.event_payload.as_ref()) else {
        return Ok(Trust::Trusted);
    };
    if !uses_credentials_or_pushes(config) {
        Ok(Trust::NotNeeded)
    } else if config.allow_untrusted_events {
        Ok(Trust::AllowedUntrusted)
    } else {
        Err(AuthError::UntrustedEvent {
            event: event.to_string(),
            why,
        })
    }
}

/// The environment gate: the token's `environment` claim must equal
/// `required` exactly (GitHub environment names are matched as written).
pub fn check_environment(required: &str, claims: &Claims) -> Result<(), AuthError> {
    if claims.environment.as_deref() == Some(required) {
        return Ok(());
    }
    Err(AuthError::EnvironmentMismatch {
        required: required.to_string(),
        actual: claims.environment.clone(),
        git_ref: claims.git_ref.clone(),
        event_name: claims.event_name.clone(),
    })
}

/// Both gates. `env.claims` must hold the OIDC claims when
/// `require-environment` is set (see [`super::oidc_audience_for_gates`]).
pub fn check_gates(config: &Config, env: &GateEnv) -> Result<GateReport, AuthError> {
    let trust = check_event(config, env)?;
    let mut environment = None;
    if let Some(required) = &config.require_environment {
        let claims = env
            .claims
            .as_ref()
            .ok_or_else(|| AuthError::EnvironmentUnproven {
                required: required.clone(),
            })?;
        check_token(
            claims,
            &env.issuers,
            env.audience.as_deref().unwrap_or_default(),
            env.repository.as_deref(),
            now_secs(),
        )?;
        check_environment(required, claims)?;
        environment = claims.environment.clone();
    }
    Ok(GateReport {
        event: env.event_name.clone(),
        trust,
        environment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pr(head: Option<&str>, fork: Option<bool>, base: &str) -> Value {
        let mut repo = serde_json::Map::new();
        if let Some(h) = head {
            repo.insert("full_name".into(), json!(h));
        }
        if let Some(f) = fork {
            repo.insert("fork".into(), json!(f));
        }
        json!({"pull_request": {"head": {"repo": repo}}, "repository": {"full_name": base}})
    }

    type Payload = Option<Result<Value, String>>;

    #[test]
    fn events_are_judged_by_name_and_payload() {
        let cases: Vec<(&str, Payload, bool)> = vec![
            ("push", None, true),
            ("workflow_dispatch", None, true),
            ("workflow_run", None, true),
            (
                "pull_request_target",
                Some(Ok(pr(Some("o/r"), Some(false), "o/r"))),
                false,
            ),
            (
                "pull_request",
                Some(Ok(pr(Some("o/r"), Some(false), "o/r"))),
                true,
            ),
            (
                "pull_request",
                Some(Ok(pr(Some("O/R"), Some(false), "o/r"))),
                true,
            ),
            // A repository that is itself a fork opening a PR from its own branch.
            (
                "pull_request",
                Some(Ok(pr(Some("o/r"), Some(true), "o/r"))),
                true,
            ),
            (
                "pull_request",
                Some(Ok(pr(Some("evil/r"), Some(true), "o/r"))),
                false,
            ),
            (
                "pull_request_review",
                Some(Ok(pr(Some("evil/r"), Some(true), "o/r"))),
                false,
            ),
            (
                "pull_request_review_comment",
                Some(Ok(pr(Some("evil/r"), None, "o/r"))),
                false,
            ),
            ("pull_request", Some(Ok(pr(None, Some(true), "o/r"))), false),
            ("pull_request", Some(Ok(pr(None, Some(false), "o/r"))), true),
            ("pull_request", Some(Ok(json!({}))), false),
            ("pull_request", Some(Err("no such file".into())), false),
            ("pull_request", None, false),
        ];
        for (event, payload, trusted) in cases {
            assert_eq!(
                untrusted_reason(event, payload.as_ref()).is_none(),
                trusted,
                "{event} {payload:?}"
            );
        }
    }

    #[test]
    fn gates_combine_event_and_environment() {
        let mut raw = crate::config::RawInputs::default();
        raw.set("require-environment", "production".into());
        let config = Config::for_auth(&raw).unwrap();
        let claims = |e: &str| {
            Some(Claims {
                environment: Some(e.into()),
                iss: Some(GITHUB_ISSUER.into()),
                aud: Some("gitops-bump".into()),
                exp: Some(now_secs() + 300),
                repository: Some("octo/app".into()),
                ..Claims::default()
            })
        };
        // Ok(environment reported) or Err(part of the message).
        type Want = Result<&'static str, &'static str>;
        let cases: [(Option<&str>, Option<Claims>, Want); 4] = [
            (None, claims("production"), Ok("production")),
            (Some("push"), claims("production"), Ok("production")),
            (Some("push"), None, Err("none was fetched")),
            (
                Some("pull_request_target"),
                claims("production"),
                Err("untrusted event"),
            ),
        ];
        for (event, claims, want) in cases {
            let env = GateEnv {
                event_name: event.map(str::to_string),
                claims,
                audience: Some("gitops-bump".into()),
                repository: Some("octo/app".into()),
                issuers: issuers(None, None),
                ..GateEnv::default()
            };
            match (check_gates(&config, &env), want) {
                (Ok(r), Ok(e)) => assert_eq!(r.environment.as_deref(), Some(e)),
                (Err(err), Err(part)) => assert!(err.to_string().contains(part), "{err}"),
                (got, want) => panic!("{event:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn environment_must_match_exactly() {
        let claims = |e: Option<&str>| Claims {
            environment: e.map(str::to_string),
            git_ref: Some("refs/heads/main".into()),
            ..Claims::default()
        };
        let cases = [
            (Some("production"), true),
            (Some("Production"), false),
            (Some("staging"), false),
            (None, false),
        ];
        for (env, ok) in cases {
            let got = check_environment("production", &claims(env));
            assert_eq!(got.is_ok(), ok, "{env:?}");
            if let Err(e) = got {
                let hint = e.hint().unwrap();
                assert!(hint.contains("environment: production"), "{hint}");
            }
        }
    }

    #[test]
    fn a_token_is_believed_only_when_it_is_this_jobs() {
        let now = 1_000_000;
        let good = Claims {
            iss: Some(GITHUB_ISSUER.into()),
            aud: Some("gitops-bump".into()),
            exp: Some(now + 300),
            nbf: Some(now - 5),
            repository: Some("octo/app".into()),
            environment: Some("production".into()),
            ..Claims::default()
        };
        let with = |f: fn(&mut Claims)| {
            let mut c = good.clone();
            f(&mut c);
            c
        };
        let github = issuers(None, None);
        let ghes = issuers(None, Some("https://ghes.example.test/"));
        let configured = issuers(Some("https://issuer.example.test"), None);
        // (what, claims, allowed issuers, Ok or the refused claim)
        type Case<'a> = (&'a str, Claims, &'a [String], Result<(), &'a str>);
        let cases: Vec<Case> = vec![
            ("good", good.clone(), &github, Ok(())),
            (
                "other issuer",
                with(|c| c.iss = Some("https://evil.example.test".into())),
                &github,
                Err("iss"),
            ),
            ("no issuer", with(|c| c.iss = None), &github, Err("iss")),
            (
                "issuer prefix trick",
                with(|c| c.iss = Some(format!("{GITHUB_ISSUER}.evil.example"))),
                &github,
                Err("iss"),
            ),
            (
                "enterprise slug",
                with(|c| c.iss = Some(format!("{GITHUB_ISSUER}/octo-corp"))),
                &github,
                Ok(()),
            ),
            (
                "GHES issuer",
                with(|c| c.iss = Some("https://ghes.example.test/_services/token".into())),
                &ghes,
                Ok(()),
            ),
            (
                "GHES issuer on github.com",
                with(|c| c.iss = Some("https://ghes.example.test/_services/token".into())),
                &github,
                Err("iss"),
            ),
            (
                "configured issuer only",
                good.clone(),
                &configured,
                Err("iss"),
            ),
            (
                "other audience",
                with(|c| c.aud = Some("sts.amazonaws.com".into())),
                &github,
                Err("aud"),
            ),
            (
                "audience list",
                with(|c| c.aud = Some("x gitops-bump".into())),
                &github,
                Ok(()),
            ),
            ("no audience", with(|c| c.aud = None), &github, Err("aud")),
            (
                "expired",
                with(|c| c.exp = Some(1_000_000 - 61)),
                &github,
                Err("exp"),
            ),
            (
                "expired within skew",
                with(|c| c.exp = Some(1_000_000 - 59)),
                &github,
                Ok(()),
            ),
            ("no expiry", with(|c| c.exp = None), &github, Err("exp")),
            (
                "not yet valid",
                with(|c| c.nbf = Some(1_000_000 + 61)),
                &github,
                Err("nbf"),
            ),
            (
                "other repository",
                with(|c| c.repository = Some("evil/app".into())),
                &github,
                Err("repository"),
            ),
            (
                "no repository",
                with(|c| c.repository = None),
                &github,
                Err("repository"),
            ),
        ];
        for (what, claims, allowed, want) in cases {
            let got = check_token(&claims, allowed, "gitops-bump", Some("octo/app"), now);
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(AuthError::UntrustedToken { claim, .. }), Err(want)) => {
                    assert_eq!(claim, want, "{what}")
                }
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
        let unset = check_token(&good, &github, "gitops-bump", None, now);
        assert!(matches!(
            unset,
            Err(AuthError::UntrustedToken {
                claim: "repository",
                ..
            })
        ));
    }
}
