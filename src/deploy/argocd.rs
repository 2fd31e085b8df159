//! Argo CD: the nudge (`GET /api/v1/applications/{name}?refresh=normal`)
//! and what one Application's status says about our commit.
//!
//! Only the documented REST API is used (the swagger's
//! `ApplicationService_Get` and `_List`), with a bearer token: no cluster
//! credentials, no gRPC. Reading the status is a pure function
//! ([`judge`]) so every state Argo CD can report is a table test.

use std::time::Duration;

use serde_json::Value;

use super::{DeployError, Observation, Verdict};
pub(crate) use crate::config::{AppName, Refresh};
use crate::secret::Secret;

/// How much of an Application answer we read: a big app's status lists
/// every resource, a few MiB at most.
const MAX_APP_BODY: usize = 16 * 1024 * 1024;

/// The Argo CD API server at one URL, with one token.
pub(crate) struct ArgoCd<'a> {
    /// Bounds each request, connecting included.
    pub request_timeout: Duration,
    pub server: String,
    pub token: &'a Secret,
}

impl ArgoCd<'_> {
    /// `GET /api/v1/applications/{name}`; with `refresh`, Argo CD first
    /// marks the Application for refresh (the controller re-reads git now
    /// instead of at its next poll) and answers once that is done.
    pub(crate) async fn get(&self, app: &AppName, refresh: Refresh) -> Result<Value, DeployError> {
        let mut url = format!(
            "{}/api/v1/applications/{}",
            self.server,
            path_segment(&app.name)
        );
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(r) = refresh.query() {
            query.push(("refresh", r));
        }
        if let Some(ns) = &app.namespace {
            query.push(("appNamespace", ns));
        }
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", path_segment(v)))
                .collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let what = match refresh {
            Refresh::None => format!("reading Application {app}"),
            _ => format!("refreshing Application {app}"),
        };
        self.call(&what, &url, Some(app)).await
    }

    /// The names of the Applications a label selector matches.
    pub(crate) async fn select(&self, selector: &str) -> Result<Vec<AppName>, DeployError> {
        let url = format!(
            "{}/api/v1/applications?selector={}",
            self.server,
            path_segment(selector)
        );
        let what = format!("listing Applications with selector {selector:?}");
        let list = self.call(&what, &url, None).await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let mut names = Vec::new();
        for item in items {
            let name = item["metadata"]["name"].as_str().unwrap_or_default();
            let namespace = item["metadata"]["namespace"].as_str();
            if let Ok(mut app) = AppName::parse(name) {
                // Applications in Argo CD's own namespace are named alone,
                // which works whatever that namespace is called.
                app.namespace = namespace
                    .filter(|ns| !ns.is_empty() && *ns != "argocd")
                    .map(str::to_string);
                names.push(app);
            }
        }
        if names.is_empty() {
            return Err(DeployError::NoApplications {
                selector: selector.to_string(),
            });
        }
        Ok(names)
    }

    async fn call(
        &self,
        what: &str,
        url: &str,
        app: Option<&AppName>,
    ) -> Result<Value, DeployError> {
        let unreachable = |why: String| DeployError::Unreachable {
            what: what.to_string(),
            server: self.server.clone(),
            why,
        };
        let client = crate::http::client().map_err(|e| unreachable(e.to_string()))?;
        let request = client
            .get(url)
            .bearer_auth(self.token.expose())
            .header("Accept", "application/json")
            .timeout(self.request_timeout);
        let response = crate::http::send(request)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = crate::http::read_body(response, MAX_APP_BODY)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let message = value["message"]
            .as_str()
            .or(value["error"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        match status {
            200..=299 if value.is_object() => Ok(value),
            200..=299 => Err(DeployError::BadAnswer {
                what: what.to_string(),
                why: "not a JSON object".into(),
            }),
            401 => Err(DeployError::ArgoUnauthorized {
                server: self.server.clone(),
                message,
            }),
            403 => Err(DeployError::ArgoForbidden {
                what: what.to_string(),
                app: app.map(ToString::to_string),
                message,
            }),
            404 => Err(DeployError::ArgoNotFound {
                what: what.to_string(),
                app: app.map(ToString::to_string),
                message,
            }),
            _ => Err(DeployError::ArgoStatus {
                what: what.to_string(),
                status,
                message,
            }),
        }
    }
}

/// Percent-encodes everything but unreserved characters.
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What one Application's status says, reduced to what we wait on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AppStatus {
    /// `status.sync.status`: Synced, OutOfSync, Unknown.
    pub sync: String,
    /// `status.sync.revision`, or every `status.sync.revisions` entry of a
    /// multi-source Application: the revisions the last comparison used.
    pub revisions: Vec<String>,
    /// `status.health.status`: Healthy, Progressing, Degraded, Suspended,
    /// Missing, Unknown.
    pub health: String,
    pub health_message: String,
    /// `status.operationState.phase`: Running, Succeeded, Failed, Error,
    /// Terminating; empty when no operation ran.
    pub phase: String,
    pub operation_message: String,
    /// The revision(s) the operation synced (`syncResult.revision(s)`).
    pub operation_revisions: Vec<String>,
    /// `syncResult.resources` whose status is not Synced, as
    /// `Kind namespace/name: message`.
    pub failed_resources: Vec<String>,
    /// `status.resources` whose health is neither Healthy nor absent.
    pub unhealthy_resources: Vec<String>,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn revisions(one: &Value, many: &Value) -> Vec<String> {
    let mut out: Vec<String> = many
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(r) = one.as_str().filter(|r| !r.is_empty()) {
        out.insert(0, r.to_string());
    }
    out
}

fn resource_name(r: &Value) -> String {
    let ns = r["namespace"].as_str().filter(|n| !n.is_empty());
    let name = text(&r["name"]);
    match ns {
        Some(ns) => format!("{} {ns}/{name}", text(&r["kind"])),
        None => format!("{} {name}", text(&r["kind"])),
    }
}

impl AppStatus {
    /// Reads an Application object as `GET /api/v1/applications/{name}`
    /// answers it.
    pub(crate) fn from_app(app: &Value) -> AppStatus {
        let status = &app["status"];
        let op = &status["operationState"];
        let result = &op["syncResult"];
        let failed_resources = result["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| {
                        let s = r["status"].as_str().unwrap_or_default();
                        let hook = r["hookPhase"].as_str().unwrap_or_default();
                        s == "SyncFailed" || matches!(hook, "Failed" | "Error")
                    })
                    .map(|r| format!("{}: {}", resource_name(r), text(&r["message"])))
                    .collect()
            })
            .unwrap_or_default();
        let unhealthy_resources = status["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| {
                        let h = r["health"]["status"].as_str().unwrap_or("Healthy");
                        h != "Healthy"
                    })
                    .map(|r| {
                        let msg = text(&r["health"]["message"]);
                        let h = text(&r["health"]["status"]);
                        if msg.is_empty() {
                            format!("{} ({h})", resource_name(r))
                        } else {
                            format!("{} ({h}): {msg}", resource_name(r))
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        AppStatus {
            sync: text(&status["sync"]["status"]),
            revisions: revisions(&status["sync"]["revision"], &status["sync"]["revisions"]),
            health: text(&status["health"]["status"]),
            health_message: text(&status["health"]["message"]),
            phase: text(&op["phase"]),
            operation_message: text(&op["message"]),
            operation_revisions: revisions(&result["revision"], &result["revisions"]),
            failed_resources,
            unhealthy_resources,
        }
    }

    /// One line for progress and timeout messages.
    pub(crate) fn describe(&self) -> String {
        let revision = self
            .revisions
            .first()
            .map_or("no revision".to_string(), |r| short(r));
        let mut s = format!(
            "sync {} at {revision}, health {}",
            or_unknown(&self.sync),
            or_unknown(&self.health)
        );
        if !self.phase.is_empty() {
            s.push_str(&format!(", operation {}", self.phase));
        }
        s
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "Unknown" } else { s }
}

pub(crate) fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// Whether `revision` is our commit or one that contains it; `contains`
/// answers the second question (from git history), `None` when it cannot.
pub(crate) type Contains<'a> = dyn FnMut(&str) -> Option<bool> + 'a;

/// What `status` says about `ours`: still waiting (and why), synced, or
/// failed. Pure; the caller polls.
pub(crate) fn judge(status: &AppStatus, ours: &str, contains: &mut Contains<'_>) -> Verdict {
    let is_ours = |r: &String, contains: &mut Contains<'_>| {
        r.eq_ignore_ascii_case(ours) || contains(r) == Some(true)
    };
    let op_ours = status
        .operation_revisions
        .iter()
        .any(|r| is_ours(r, contains));
    // A failed sync of our revision (or a newer one) is final: Argo CD's
    // automated sync does not retry the same revision unless told to.
    if matches!(status.phase.as_str(), "Failed" | "Error") && op_ours {
        return Verdict::Failed(Observation {
            state: format!("sync {}", status.phase),
            message: status.operation_message.clone(),
            resources: status.failed_resources.clone(),
        });
    }
    let synced_rev = status.revisions.iter().find(|r| is_ours(r, contains));
    let Some(revision) = synced_rev else {
        return Verdict::Waiting(match status.revisions.first() {
            Some(_) => format!("{}, not our commit {} yet", status.describe(), short(ours)),
            None => status.describe(),
        });
    };
    if status.sync != "Synced" || status.phase == "Running" {
        let mut why = status.describe();
        if status.sync == "OutOfSync" && status.phase.is_empty() {
            why.push_str(" (no sync operation: is automated sync enabled for it?)");
        }
        return Verdict::Waiting(why);
    }
    match status.health.as_str() {
        "Healthy" => Verdict::Healthy {
            revision: revision.clone(),
        },
        "Degraded" => Verdict::Failed(Observation {
            state: "health Degraded".into(),
            message: status.health_message.clone(),
            resources: status.unhealthy_resources.clone(),
        }),
        _ => Verdict::Synced {
            revision: revision.clone(),
            why: status.describe(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OURS: &str = "1111111111111111111111111111111111111111";
    const OLD: &str = "0000000000000000000000000000000000000000";
    const NEWER: &str = "2222222222222222222222222222222222222222";

    fn app(sync: &str, rev: &str, health: &str, phase: &str) -> Value {
        json!({"status": {
            "sync": {"status": sync, "revision": rev},
            "health": {"status": health, "message": "Deployment app exceeded its progress deadline"},
            "operationState": {"phase": phase, "message": "one or more objects failed to apply",
                "syncResult": {"revision": rev, "resources": [
                    {"kind": "Deployment", "namespace": "dev", "name": "app", "status": "SyncFailed",
                     "message": "spec.replicas: Invalid value"}]}},
            "resources": [
                {"kind": "Deployment", "namespace": "dev", "name": "app",
                 "health": {"status": "Degraded", "message": "progress deadline exceeded"}},
                {"kind": "Service", "namespace": "dev", "name": "app"}]}})
    }

    fn kind(v: &Verdict) -> &'static str {
        match v {
            Verdict::Waiting(_) => "waiting",
            Verdict::Synced { .. } => "synced",
            Verdict::Healthy { .. } => "healthy",
            Verdict::Failed(_) => "failed",
        }
    }

    #[test]
    fn states_as_argo_cd_reports_them() {
        let cases = [
            // Still on the old commit, healthy: not ours, keep waiting.
            (app("Synced", OLD, "Healthy", "Succeeded"), "waiting"),
            // Compared to ours, not yet applied.
            (app("OutOfSync", OURS, "Healthy", "Succeeded"), "waiting"),
            (app("Synced", OURS, "Progressing", "Running"), "waiting"),
            (app("Synced", OURS, "Progressing", "Succeeded"), "synced"),
            (app("Synced", OURS, "Healthy", "Succeeded"), "healthy"),
            (app("Synced", OURS, "Degraded", "Succeeded"), "failed"),
            (app("OutOfSync", OURS, "Healthy", "Failed"), "failed"),
            // A failed sync of an older commit is not our failure.
            (app("OutOfSync", OLD, "Healthy", "Failed"), "waiting"),
            // A newer commit that contains ours.
            (app("Synced", NEWER, "Healthy", "Succeeded"), "healthy"),
        ];
        for (value, want) in cases {
            let status = AppStatus::from_app(&value);
            let mut contains = |r: &str| Some(r == NEWER);
            let got = judge(&status, OURS, &mut contains);
            assert_eq!(kind(&got), want, "{status:?}: {got:?}");
        }
    }

    #[test]
    fn a_failure_names_the_message_and_the_resources() {
        let status = AppStatus::from_app(&app("Synced", OURS, "Degraded", "Succeeded"));
        let Verdict::Failed(o) = judge(&status, OURS, &mut |_| None) else {
            panic!()
        };
        assert_eq!(o.message, "Deployment app exceeded its progress deadline");
        assert_eq!(
            o.resources,
            ["Deployment dev/app (Degraded): progress deadline exceeded"]
        );
        let status = AppStatus::from_app(&app("OutOfSync", OURS, "Healthy", "Failed"));
        let Verdict::Failed(o) = judge(&status, OURS, &mut |_| None) else {
            panic!()
        };
        assert_eq!(o.state, "sync Failed");
        assert_eq!(
            o.resources,
            ["Deployment dev/app: spec.replicas: Invalid value"]
        );
    }

    #[test]
    fn multi_source_revisions_count() {
        let v = json!({"status": {"sync": {"status": "Synced", "revisions": ["v1.2.0", OURS]},
                       "health": {"status": "Healthy"}}});
        let status = AppStatus::from_app(&v);
        assert_eq!(kind(&judge(&status, OURS, &mut |_| None)), "healthy");
    }
}
