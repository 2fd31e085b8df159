//! Commit statuses and check runs on our commit: how Flux's
//! notification-controller (context `kustomization/<name>/<id>`), Argo CD
//! notifications and other deployers report to GitHub.
//!
//! Reads `GET /repos/{owner}/{repo}/commits/{sha}/status` (the combined
//! status: the latest status per context) and
//! `GET /repos/{owner}/{repo}/commits/{sha}/check-runs`. Whether they say
//! "deployed" is a pure function ([`judge`]) of both answers.

use reqwest::Method;
use serde_json::Value;

use super::{DeployError, Observation, Verdict};
use crate::github_api::rest::Api;
use crate::secret::Secret;

/// One report on the commit, from either API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    /// The status's `context` or the check run's `name`.
    pub name: String,
    pub outcome: Outcome,
    /// `description`, or the check run's `output.title`.
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pending,
    Success,
    Failure,
}

/// A context pattern: `*` matches any run of characters, anything else
/// itself (so `kustomization/apps/*` matches Flux's
/// `kustomization/apps/1a2b3c4d`).
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    if !name.ends_with(last) {
        return false;
    }
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The checks in a combined-status answer and a check-runs answer.
pub(crate) fn checks(combined: &Value, runs: &Value) -> Vec<Check> {
    let mut out = Vec::new();
    for s in combined["statuses"].as_array().into_iter().flatten() {
        let outcome = match s["state"].as_str().unwrap_or_default() {
            "success" => Outcome::Success,
            "failure" | "error" => Outcome::Failure,
            _ => Outcome::Pending,
        };
        out.push(Check {
            name: s["context"].as_str().unwrap_or_default().to_string(),
            outcome,
            description: s["description"].as_str().unwrap_or_default().to_string(),
        });
    }
    for r in runs["check_runs"].as_array().into_iter().flatten() {
        let outcome = match (
            r["status"].as_str().unwrap_or_default(),
            r["conclusion"].as_str().unwrap_or_default(),
        ) {
            ("completed", "success" | "neutral" | "skipped") => Outcome::Success,
            ("completed", _) => Outcome::Failure,
            _ => Outcome::Pending,
        };
        out.push(Check {
            name: r["name"].as_str().unwrap_or_default().to_string(),
            outcome,
            description: r["output"]["title"]
                .as_str()
                .or(r["conclusion"].as_str())
                .unwrap_or_default()
                .to_string(),
        });
    }
    out
}

/// Succeeds when every pattern matches at least one check and every
/// matching check succeeded; fails as soon as one matching check failed.
pub(crate) fn judge(patterns: &[String], checks: &[Check], sha: &str) -> Verdict {
    let mine: Vec<&Check> = checks
        .iter()
        .filter(|c| patterns.iter().any(|p| matches(p, &c.name)))
        .collect();
    let failed: Vec<String> = mine
        .iter()
        .filter(|c| c.outcome == Outcome::Failure)
        .map(|c| format!("{}: {}", c.name, c.description))
        .collect();
    if !failed.is_empty() {
        return Verdict::Failed(Observation {
            state: "a commit status or check run failed".into(),
            message: String::new(),
            resources: failed,
        });
    }
    let missing: Vec<&String> = patterns
        .iter()
        .filter(|p| !mine.iter().any(|c| matches(p, &c.name)))
        .collect();
    let pending: Vec<&str> = mine
        .iter()
        .filter(|c| c.outcome == Outcome::Pending)
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() || !pending.is_empty() {
        let mut why = Vec::new();
        if !missing.is_empty() {
            let m: Vec<String> = missing.iter().map(|p| format!("{p:?}")).collect();
            why.push(format!("nothing reported yet for {}", m.join(", ")));
        }
        if !pending.is_empty() {
            why.push(format!("pending: {}", pending.join(", ")));
        }
        return Verdict::Waiting(why.join("; "));
    }
    Verdict::Healthy {
        revision: sha.to_string(),
    }
}

/// Both answers for `sha` in `owner/name`.
pub(crate) async fn fetch(
    api: &Api,
    token: &Secret,
    repository: &str,
    sha: &str,
) -> Result<Vec<Check>, DeployError> {
    let get = |what: &'static str, path: String| async move {
        let (status, value) = api
            .call(what, Method::GET, &path, token, None)
            .await
            .map_err(|e| DeployError::GitHub {
                what: what.to_string(),
                status: e.status(),
                message: e.to_string(),
            })?;
        if status.is_success() {
            return Ok(value);
        }
        let message = value["message"]
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        Err(DeployError::GitHub {
            what: what.to_string(),
            status: Some(status.as_u16()),
            message: format!("GitHub answered {}: {message}", status.as_u16()),
        })
    };
    let combined = get(
        "reading the commit statuses",
        format!("/repos/{repository}/commits/{sha}/status?per_page=100"),
    )
    .await?;
    let runs = get(
        "reading the check runs",
        format!("/repos/{repository}/commits/{sha}/check-runs?per_page=100"),
    )
    .await?;
    Ok(checks(&combined, &runs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns() {
        let cases = [
            ("kustomization/apps/*", "kustomization/apps/1a2b3c4d", true),
            (
                "kustomization/apps/*",
                "kustomization/infra/1a2b3c4d",
                false,
            ),
            ("kustomization/*/*", "kustomization/apps/1a2b", true),
            ("argocd/*", "argocd/guestbook", true),
            ("deploy", "deploy", true),
            ("deploy", "deploy-prod", false),
            ("*", "anything", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(matches(pattern, name), want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn verdicts() {
        let combined = |state: &str| {
            json!({"state": state, "statuses": [
                {"context": "kustomization/apps/0c9c2e41", "state": state,
                 "description": "Health check failed for Deployment/dev/app"},
                {"context": "ci/test", "state": "failure", "description": "not ours"}]})
        };
        let runs = |status: &str, conclusion: Value| {
            json!({"total_count": 1, "check_runs": [
                {"name": "argocd/guestbook", "status": status, "conclusion": conclusion,
                 "output": {"title": "Healthy"}}]})
        };
        let p = |ps: &[&str]| ps.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = [
            (
                combined("pending"),
                runs("completed", json!("success")),
                p(&["kustomization/apps/*"]),
                "waiting",
            ),
            (
                combined("success"),
                runs("completed", json!("success")),
                p(&["kustomization/apps/*"]),
                "healthy",
            ),
            (
                combined("failure"),
                runs("completed", json!("success")),
                p(&["kustomization/apps/*"]),
                "failed",
            ),
            (
                combined("error"),
                runs("completed", json!("success")),
                p(&["kustomization/*"]),
                "failed",
            ),
            (
                combined("success"),
                runs("in_progress", Value::Null),
                p(&["kustomization/*", "argocd/*"]),
                "waiting",
            ),
            (
                combined("success"),
                runs("completed", json!("success")),
                p(&["kustomization/*", "argocd/*"]),
                "healthy",
            ),
            (
                combined("success"),
                runs("completed", json!("timed_out")),
                p(&["argocd/*"]),
                "failed",
            ),
            // Nothing reported yet for a pattern: wait.
            (
                combined("success"),
                json!({"check_runs": []}),
                p(&["flux/*"]),
                "waiting",
            ),
        ];
        for (c, r, patterns, want) in cases {
            let got = judge(&patterns, &checks(&c, &r), "abc");
            let kind = match got {
                Verdict::Waiting(_) => "waiting",
                Verdict::Healthy { .. } => "healthy",
                Verdict::Failed(_) => "failed",
                Verdict::Synced { .. } => "synced",
            };
            assert_eq!(kind, want, "{patterns:?} {c} {r}");
        }
    }
}
