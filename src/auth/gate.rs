//! Production gates, checked before any credential is used or any push made:
//!
//! - untrusted events: `pull_request_target`, pull requests from forks,
//!   `workflow_run` after a fork's run and `issue_comment` on a pull request
//!   run code, inputs or artifacts an outsider controls ("pwn requests");
//!   with deploy credentials in reach, that outsider can deploy.
//! - `require-environment`: the job must run in a GitHub environment (where
//!   reviewers and branch rules apply), proven by the OIDC token's
//!   `environment` claim, which the workflow cannot forge. The claim is
//!   believed only from a token whose issuer, audience, lifetime and
//!   repository are this job's (docs/auth.md says why the signature is not
//!   verified).
//!
//! Everything here is pure: the caller passes the event and the claims in.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::AuthError;
use super::oidc::Claims;
use crate::config::AuthOptions;

/// The event facts the gates need, from the run's environment
/// ([`crate::run_env::RunEnv::auth`]).
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

/// GitHub's OIDC issuer on github.com.
pub(crate) const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
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
pub(crate) fn check_token(
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
///
/// Judged from the payload, not the name alone: `workflow_run` is trusted
/// only when the run that triggered it built this repository's own code, and
/// a pull request event only when its head is this repository.
pub(crate) fn untrusted_reason(
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
    let judged_by_payload = PULL_REQUEST_EVENTS.contains(&event_name)
        || event_name == "workflow_run"
        || event_name == "issue_comment";
    if !judged_by_payload {
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
    match event_name {
        "workflow_run" => workflow_run_reason(payload),
        "issue_comment" => issue_comment_reason(payload),
        _ => pull_request_reason(event_name, payload),
    }
}

fn full_name<'a>(payload: &'a Value, pointer: &str) -> Option<&'a str> {
    payload.pointer(pointer).and_then(Value::as_str)
}

fn pull_request_reason(event_name: &str, payload: &Value) -> Option<String> {
    let base = full_name(payload, "/repository/full_name");
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

/// Events whose runs may build code or artifacts an outsider controls even
/// when the head repository is this one: a `workflow_run` they trigger
/// inherits that.
const UNTRUSTED_TRIGGERS: &[&str] = &["pull_request_target", "issue_comment"];

/// `workflow_run` runs with this repository's secrets after *any* run of
/// the named workflow, including one a fork's pull request started; its
/// `branches:` filter matches the fork's branch name. The triggering run's
/// head repository decides.
fn workflow_run_reason(payload: &Value) -> Option<String> {
    let Some(run) = payload.get("workflow_run").filter(|r| r.is_object()) else {
        return Some(
            "`workflow_run`: the payload has no `workflow_run`, so the triggering run cannot be \
             shown to come from this repository"
                .into(),
        );
    };
    let trigger = run.get("event").and_then(Value::as_str).unwrap_or("(none)");
    let base = full_name(payload, "/repository/full_name")
        .or_else(|| full_name(run, "/repository/full_name"));
    let head = full_name(run, "/head_repository/full_name");
    match (head, base) {
        (Some(h), Some(b)) if !h.eq_ignore_ascii_case(b) => Some(format!(
            "`workflow_run` after a `{trigger}` run from the fork `{h}` into `{b}`: that run built \
             code written by someone outside the repository, and its artifacts and outputs are theirs"
        )),
        (Some(_), Some(_)) if UNTRUSTED_TRIGGERS.contains(&trigger) => Some(format!(
            "`workflow_run` after a `{trigger}` run: that event lets an outsider control what the \
             run builds, so its artifacts and outputs cannot be trusted"
        )),
        (Some(_), Some(_)) => None,
        _ => Some(format!(
            "`workflow_run` after a `{trigger}` run: the payload does not show the triggering \
             run's head repository is this repository (deleted fork?)"
        )),
    }
}

/// `issue_comment` on a pull request: the payload names the pull request
/// but not its head repository, so a fork cannot be ruled out.
fn issue_comment_reason(payload: &Value) -> Option<String> {
    if payload.pointer("/issue/pull_request").is_some() {
        let number = payload
            .pointer("/issue/number")
            .and_then(Value::as_u64)
            .map_or(String::new(), |n| format!(" #{n}"));
        return Some(format!(
            "`issue_comment` on pull request{number}: anyone may comment, and the payload does not \
             name the pull request's head repository, so its code may be a fork's"
        ));
    }
    if payload.get("issue").is_none() {
        return Some(
            "`issue_comment`: the payload has no `issue`, so a pull request from a fork cannot be \
             ruled out"
                .into(),
        );
    }
    None
}

/// The event gate alone: no network, no token.
pub(crate) fn check_event(config: &AuthOptions, env: &GateEnv) -> Result<Trust, AuthError> {
    let Some(event) = env.event_name.as_deref() else {
        return Ok(Trust::Local);
    };
    let Some(why) = untrusted_reason(event, env.event_payload.as_ref()) else {
        return Ok(Trust::Trusted);
    };
    if !config.uses_credentials_or_pushes() {
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
pub(crate) fn check_environment(required: &str, claims: &Claims) -> Result<(), AuthError> {
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
/// `require-environment` is set (see [`super::oidc_audience`]).
pub fn check_gates(config: &AuthOptions, env: &GateEnv) -> Result<GateReport, AuthError> {
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
            ("workflow_run", None, false),
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

    /// A `workflow_run` payload as GitHub's webhook docs show it, cut to
    /// the fields the gate reads (and a few it must ignore).
    fn workflow_run(event: &str, head: Option<&str>, prs: Value, base: &str) -> Value {
        json!({
            "action": "completed",
            "workflow_run": {
                "id": 30433642,
                "name": "ci",
                "event": event,
                "status": "completed",
                "conclusion": "success",
                "head_branch": "main",
                "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
                "pull_requests": prs,
                "head_repository": head.map(|h| json!({"full_name": h, "fork": h != base})),
                "repository": {"full_name": base, "fork": false},
            },
            "workflow": {"name": "ci", "path": ".github/workflows/ci.yml"},
            "repository": {"full_name": base, "fork": false},
        })
    }

    fn issue_comment(on_pull_request: bool) -> Value {
        let mut issue = json!({"number": 7, "title": "t", "state": "open"});
        if on_pull_request {
            issue["pull_request"] = json!({
                "url": "https://api.github.com/repos/o/r/pulls/7",
                "html_url": "https://github.com/o/r/pull/7",
            });
        }
        json!({"action": "created", "issue": issue, "comment": {"id": 1, "body": "/deploy"},
               "repository": {"full_name": "o/r"}})
    }

    #[test]
    fn payloads_that_can_carry_a_forks_code_are_refused() {
        let same_pr = json!([{"number": 7, "head": {"repo": {"name": "r"}}}]);
        // (event, payload, the exact reason or None when trusted)
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            (
                "workflow_run",
                workflow_run("push", Some("o/r"), json!([]), "o/r"),
                None,
            ),
            (
                "workflow_run",
                workflow_run("pull_request", Some("o/r"), same_pr, "o/r"),
                None,
            ),
            (
                "workflow_run",
                workflow_run("pull_request", Some("evil/r"), json!([]), "o/r"),
                Some(
                    "`workflow_run` after a `pull_request` run from the fork `evil/r` into `o/r`: \
                     that run built code written by someone outside the repository, and its \
                     artifacts and outputs are theirs",
                ),
            ),
            // A fork's branch named like ours passes `branches: [main]`.
            (
                "workflow_run",
                workflow_run("push", Some("evil/r"), json!([]), "o/r"),
                Some(
                    "`workflow_run` after a `push` run from the fork `evil/r` into `o/r`: that run \
                     built code written by someone outside the repository, and its artifacts and \
                     outputs are theirs",
                ),
            ),
            (
                "workflow_run",
                workflow_run("pull_request", None, json!([]), "o/r"),
                Some(
                    "`workflow_run` after a `pull_request` run: the payload does not show the \
                     triggering run's head repository is this repository (deleted fork?)",
                ),
            ),
            (
                "workflow_run",
                workflow_run("pull_request_target", Some("o/r"), json!([]), "o/r"),
                Some(
                    "`workflow_run` after a `pull_request_target` run: that event lets an \
                     outsider control what the run builds, so its artifacts and outputs cannot \
                     be trusted",
                ),
            ),
            (
                "workflow_run",
                workflow_run("issue_comment", Some("o/r"), json!([]), "o/r"),
                Some(
                    "`workflow_run` after a `issue_comment` run: that event lets an outsider \
                     control what the run builds, so its artifacts and outputs cannot be trusted",
                ),
            ),
            (
                "workflow_run",
                json!({"repository": {"full_name": "o/r"}}),
                Some(
                    "`workflow_run`: the payload has no `workflow_run`, so the triggering run \
                     cannot be shown to come from this repository",
                ),
            ),
            ("issue_comment", issue_comment(false), None),
            (
                "issue_comment",
                issue_comment(true),
                Some(
                    "`issue_comment` on pull request #7: anyone may comment, and the payload \
                     does not name the pull request's head repository, so its code may be a fork's",
                ),
            ),
            (
                "issue_comment",
                json!({}),
                Some(
                    "`issue_comment`: the payload has no `issue`, so a pull request from a fork \
                     cannot be ruled out",
                ),
            ),
            (
                "pull_request_target",
                pr(Some("o/r"), Some(false), "o/r"),
                Some(
                    "`pull_request_target` runs with the base repository's secrets and write \
                     token while the pull request's author controls its inputs (and its code, if \
                     the job checks it out)",
                ),
            ),
            (
                "pull_request",
                pr(Some("evil/r"), Some(true), "o/r"),
                Some(
                    "`pull_request` from the fork `evil/r` into `o/r`: its code is written by \
                     someone outside the repository",
                ),
            ),
            ("merge_group", json!({}), None),
        ];
        for (event, payload, want) in cases {
            let got = untrusted_reason(event, Some(&Ok(payload.clone())));
            assert_eq!(got.as_deref(), want, "{event} {payload}");
        }
        assert_eq!(
            untrusted_reason("workflow_run", None).as_deref(),
            Some("`workflow_run`: GITHUB_EVENT_PATH is not set, so a fork cannot be ruled out")
        );
    }

    #[test]
    fn gates_combine_event_and_environment() {
        let mut raw = crate::config::RawInputs::default();
        raw.set("require-environment", "production".into());
        let config = crate::config::Config::for_auth(&raw).unwrap();
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
            match (check_gates(&config.auth, &env), want) {
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
