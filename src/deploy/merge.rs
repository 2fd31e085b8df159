//! Pull-request mode: the commit reaches the deployed branch only when the
//! pull request is merged. With `deploy-merge-timeout` the wait first
//! watches the pull request (`GET /repos/{owner}/{repo}/pulls/{number}`)
//! until it is merged, closed, or the bound passes; the deploy then waited
//! for is the merge commit GitHub made.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::DeployError;
use crate::github_api::rest::Api;
use crate::secret::Secret;

/// How a pull request ended up, as far as the wait is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Merge {
    /// Merged: the commit on the base branch (merge, squash or rebase).
    Merged(String),
    /// Closed without being merged: nothing to deploy.
    Closed,
    /// Still open when the bound passed.
    Open,
}

/// What one answer says; `None` while it is open.
pub(crate) fn judge(pull: &Value) -> Option<Merge> {
    let merged = pull["merged"].as_bool().unwrap_or(false);
    match (merged, pull["merge_commit_sha"].as_str()) {
        (true, Some(sha)) if !sha.is_empty() => Some(Merge::Merged(sha.to_string())),
        // Merged but the commit not reported yet: ask again.
        (true, _) => None,
        (false, _) if pull["state"].as_str() == Some("closed") => Some(Merge::Closed),
        (false, _) => None,
    }
}

/// Polls the pull request every `every` until it is merged or closed, or
/// `bound` passes.
pub(crate) async fn wait_for_merge(
    api: &Api,
    token: &Secret,
    repository: &str,
    number: u64,
    every: Duration,
    bound: Duration,
) -> Result<Merge, DeployError> {
    let deadline = Instant::now() + bound;
    let what = format!("reading pull request #{number}");
    let mut said = false;
    // Bounded: each pass ends, or sleeps toward the deadline checked here.
    loop {
        let (status, pull) = api
            .call(
                &what,
                Method::GET,
                &format!("/repos/{repository}/pulls/{number}"),
                token,
                None,
            )
            .await
            .map_err(|e| DeployError::GitHub {
                what: what.clone(),
                status: e.status(),
                message: e.to_string(),
            })?;
        if !status.is_success() {
            let message = pull["message"]
                .as_str()
                .map_or_else(|| pull.to_string(), str::to_string);
            return Err(DeployError::GitHub {
                what,
                status: Some(status.as_u16()),
                message: format!("GitHub answered {}: {message}", status.as_u16()),
            });
        }
        if let Some(end) = judge(&pull) {
            return Ok(end);
        }
        if !said {
            super::progress(&format!(
                "pull request #{number}: open; waiting up to {} s for the merge (input `deploy-merge-timeout`)",
                bound.as_secs()
            ));
            said = true;
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Merge::Open);
        }
        tokio::time::sleep(every.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pull_request_is_merged_closed_or_still_open() {
        let sha = "1111111111111111111111111111111111111111";
        let cases = [
            (json!({"state": "open", "merged": false}), None),
            (
                json!({"state": "closed", "merged": true, "merge_commit_sha": sha}),
                Some(Merge::Merged(sha.into())),
            ),
            (json!({"state": "closed", "merged": true}), None),
            (
                json!({"state": "closed", "merged": false, "merge_commit_sha": sha}),
                Some(Merge::Closed),
            ),
            // An open pull request's merge_commit_sha is a test merge, not ours.
            (
                json!({"state": "open", "merged": false, "merge_commit_sha": sha}),
                None,
            ),
        ];
        for (pull, want) in cases {
            assert_eq!(judge(&pull), want, "{pull}");
        }
    }
}
