//! What one run learns from the process environment, read once in `main`
//! and passed down, so no stage reads a global in the middle of a run.
//!
//! The runner's variables (`GITHUB_*`, `RUNNER_TEMP`, the OIDC request),
//! the event payload (parsed here, once, for both the event gate and the
//! self-trigger guard) and the endpoint overrides tests point at local
//! servers. Inputs are not here: they are [`crate::config::RawInputs`].
//!
//! Left in the process environment on purpose: `GITHUB_ACTIONS` (how
//! output is printed, [`crate::actions::in_actions`]), the step's
//! `GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY` files, written by the runner
//! contract in [`crate::actions`], and `DOCKER_CONFIG`/`HOME` for the
//! registry client's Docker config, which `resolve` reads the same way.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::actions::EnvFile;
use crate::auth::{self, AuthError, Endpoints, GateEnv, OidcRequest, StageEnv};
use crate::guard::{GuardError, RunId, TriggerCommit};
use crate::write_back::message::GitHubContext;

/// The environment of one run.
#[derive(Debug, Clone)]
pub struct RunEnv {
    /// `GITHUB_SERVER_URL`, `GITHUB_API_URL`, `GITHUB_REPOSITORY`,
    /// `GITHUB_RUN_ID`, `GITHUB_SHA`, `GITHUB_RUN_NUMBER`.`GITHUB_RUN_ATTEMPT`.
    pub github: GitHubContext,
    /// `GITHUB_REF`.
    pub git_ref: Option<String>,
    /// `GITHUB_ACTOR`.
    pub actor: Option<String>,
    /// `GITHUB_WORKFLOW`.
    pub workflow: Option<String>,
    /// `GITHUB_EVENT_NAME`.
    pub event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`.
    pub event_path: Option<PathBuf>,
    /// The payload at `event_path`, parsed once, or why it could not be.
    pub event: Option<Result<Value, String>>,
    /// `GITOPS_BUMP_OIDC_ISSUER`: the one issuer a token may come from.
    pub oidc_issuer: Option<String>,
    /// `Err` holds the missing variables when the runner gave no OIDC request.
    pub oidc: Result<OidcRequest, String>,
    /// STS and IAM Credentials, or their overrides.
    pub endpoints: Endpoints,
    pub runner_temp: Option<PathBuf>,
    /// `GITHUB_WORKSPACE`.
    pub workspace: Option<PathBuf>,
    /// `GITHUB_ENV` and `GITHUB_STATE`.
    pub env_file: Option<EnvFile>,
    pub state_file: Option<EnvFile>,
    /// `GITHUB_ACTIONS=true`: later steps exist.
    pub in_actions: bool,
    /// `DOCKER_CONFIG` and `HOME`: the Docker config whose logins the one
    /// written for `docker-registries` carries over.
    pub docker_config: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl RunEnv {
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads every variable through `lookup`; an empty value counts as unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let path = |k: &str| var(k).map(PathBuf::from);
        let event_path = path("GITHUB_EVENT_PATH");
        let event = event_path.as_deref().map(read_event);
        RunEnv {
            github: GitHubContext {
                server_url: var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
                api_url: var("GITHUB_API_URL")
                    .filter(|v| !v.trim().is_empty())
                    .unwrap_or_else(|| crate::github_api::rest::DEFAULT_API_URL.into()),
                repository: var("GITHUB_REPOSITORY"),
                run_id: var("GITHUB_RUN_ID"),
                sha: var("GITHUB_SHA"),
                run: RunId::from_lookup(&lookup),
            },
            git_ref: var("GITHUB_REF"),
            actor: var("GITHUB_ACTOR"),
            workflow: var("GITHUB_WORKFLOW"),
            event_name: var("GITHUB_EVENT_NAME"),
            event_path,
            event,
            oidc_issuer: var("GITOPS_BUMP_OIDC_ISSUER"),
            oidc: OidcRequest::from_lookup(&lookup).map_err(|e| match e {
                AuthError::OidcUnavailable { missing } => missing,
                other => other.to_string(),
            }),
            endpoints: Endpoints::from_lookup(&lookup),
            runner_temp: path("RUNNER_TEMP"),
            workspace: path("GITHUB_WORKSPACE"),
            env_file: path("GITHUB_ENV").map(EnvFile::new),
            state_file: path("GITHUB_STATE").map(EnvFile::new),
            in_actions: var("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
            docker_config: path("DOCKER_CONFIG"),
            home: path("HOME"),
        }
    }

    /// What the auth stage reads: the event facts for the gates, the OIDC
    /// request, the endpoints and where to leave credentials.
    pub fn auth(&self) -> StageEnv {
        StageEnv {
            gate: GateEnv {
                event_name: self.event_name.clone(),
                event_path: self.event_path.clone(),
                event_payload: self.event.clone(),
                claims: None,
                audience: None,
                repository: self.github.repository.clone(),
                issuers: auth::gate_issuers(
                    self.oidc_issuer.as_deref(),
                    Some(self.github.server_url.as_str()),
                ),
            },
            oidc: self.oidc.clone(),
            endpoints: self.endpoints.clone(),
            runner_temp: self.runner_temp.clone(),
            workspace: self.workspace.clone(),
            env_file: self.env_file.clone(),
            state_file: self.state_file.clone(),
            in_actions: self.in_actions,
            docker_config: self.docker_config.clone(),
            home: self.home.clone(),
        }
    }

    /// The commit that started this run (a `push` event's `head_commit`),
    /// from the payload already parsed.
    pub(crate) fn trigger_commit(&self) -> Result<Option<TriggerCommit>, GuardError> {
        let (Some(path), Some(event)) = (&self.event_path, &self.event) else {
            return Ok(None);
        };
        match event {
            Ok(event) => Ok(TriggerCommit::from_event(event)),
            Err(why) => Err(GuardError::Event {
                path: path.display().to_string(),
                why: why.clone(),
            }),
        }
    }
}

/// The event payload, or why it could not be read: the gate and the guard
/// word their errors around this reason.
fn read_event(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> RunEnv {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RunEnv::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn empty_variables_count_as_unset_and_defaults_apply() {
        let e = env(&[("GITHUB_REPOSITORY", ""), ("GITHUB_SERVER_URL", "")]);
        assert_eq!(e.github.repository, None);
        assert_eq!(e.github.server_url, "https://github.com");
        assert_eq!(
            e.github.api_url,
            crate::github_api::rest::DEFAULT_API_URL.to_string()
        );
        assert!(e.event.is_none() && e.trigger_commit().unwrap().is_none());
        assert_eq!(
            e.oidc.unwrap_err(),
            "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        );
        assert!(!e.in_actions);
    }

    #[test]
    fn the_event_is_parsed_once_for_the_gate_and_the_guard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(
            &path,
            r#"{"head_commit":{"author":{"name":"bot","email":"b@x"},"modified":["a.yaml"]}}"#,
        )
        .unwrap();
        let e = env(&[
            ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_RUN_NUMBER", "12"),
            ("GITHUB_RUN_ATTEMPT", "3"),
        ]);
        // The file is gone: both readers use the payload already parsed.
        std::fs::remove_file(&path).unwrap();
        let trigger = e.trigger_commit().unwrap().unwrap();
        assert_eq!(trigger.author_name, "bot");
        assert_eq!(trigger.files, vec!["a.yaml"]);
        let gate = e.auth().gate;
        assert_eq!(gate.event_name.as_deref(), Some("push"));
        assert!(matches!(gate.event_payload, Some(Ok(_))));
        assert_eq!(e.github.run, RunId::parse("12.3"));

        let missing = env(&[("GITHUB_EVENT_PATH", path.to_str().unwrap())]);
        let err = missing.trigger_commit().unwrap_err().to_string();
        assert!(err.contains("event.json"), "{err}");
    }
}
