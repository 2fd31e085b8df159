//! Production gates, checked before any credential is used or any push made:
//!
//! - untrusted events: `pull_request_target` and pull requests from forks
//!   run code or inputs an outsider controls ("pwn requests"); with deploy
//!   credentials in reach, that outsider can deploy.
//! - `require-environment`: the job must run in a GitHub environment (where
//!   reviewers and branch rules apply), proven by the OIDC token's
//!   `environment` claim, which the workflow cannot forge.
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
        }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
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
}
