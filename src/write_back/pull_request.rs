//! Pull-request mode: a deterministic branch per bump and one open pull
//! request per branch, created the first time and updated afterwards; the
//! same for both transports (git and the GitHub API).
//!
//! Only the documented REST calls we need: list pulls by head, create,
//! update, add labels.

use reqwest::Method;
use serde_json::{Value, json};

use super::message::GitHubContext;
use crate::edit::EditReport;
use crate::github_api::rest::{Api, RestError, url_component};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum PullRequestError {
    #[error("cannot tell which GitHub repository to open the pull request in")]
    NoApiRepository,
    #[error("GitHub API {method} {url} failed{}: {message}", status_suffix(*status))]
    Api {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    #[error("starting the HTTP runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

fn status_suffix(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        format!(" with HTTP {status}")
    }
}

impl PullRequestError {
    pub(crate) fn hint(&self) -> Option<String> {
        let hint = match self {
            PullRequestError::NoApiRepository => {
                "set `repository` to owner/name, or run inside GitHub Actions (GITHUB_REPOSITORY)"
            }
            PullRequestError::Api { status: 401, .. } => {
                "check `token`; it was not accepted by the API"
            }
            // GitHub's words when the repository (or organization) setting
            // is off: no token permission can fix that.
            PullRequestError::Api {
                status: 403,
                message,
                ..
            } if message.contains("not permitted to create or approve pull requests") => {
                "the repository (or organization) setting \"Allow GitHub Actions to create and approve pull requests\" is off: turn it on under Settings -> Actions -> General -> Workflow permissions, or use a GitHub App (`app-id`) or a PAT"
            }
            PullRequestError::Api { status: 403, .. }
            | PullRequestError::Api { status: 404, .. } => {
                "give the token `pull-requests: write` (and `contents: write`) on the repository"
            }
            PullRequestError::Api { status: 422, .. } => {
                "check that the base branch exists and differs from the pull request branch"
            }
            PullRequestError::Api { .. } => "check GITHUB_API_URL and the API's status",
            PullRequestError::Runtime(_) => "check the runner's resources",
        };
        Some(hint.to_string())
    }
}

/// Where the pull request of a run goes, decided before any attempt.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Our branch, e.g. `gitops-bump/main/ghcr.io-org-app`.
    pub head: String,
    /// `owner/name` the pull request is opened in.
    pub repository: String,
    pub api_url: String,
    pub token: Option<Secret>,
    pub labels: Vec<String>,
    pub context: GitHubContext,
}

/// An opened (or updated) pull request.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub url: String,
    pub number: u64,
}

impl Plan {
    /// Opens the pull request from `head` into `base`, or updates the open
    /// one, titled from the commit message.
    pub(crate) fn open_or_update(
        &self,
        base: &str,
        message: &str,
        report: &EditReport,
    ) -> Result<Opened, PullRequestError> {
        let (title, body) = title_and_body(message, report, &self.context);
        let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        let (url, number) = open_or_update(
            &self.api_url,
            self.token.as_ref(),
            &PullRequest {
                repository: &self.repository,
                head: &self.head,
                base,
                title: &title,
                body: &body,
                labels: &labels,
            },
        )?;
        Ok(Opened { url, number })
    }
}

/// `gitops-bump/<base>/<what>`: the same bump against the same base always
/// lands on the same branch, so a second run updates the pull request
/// instead of opening another one. `what` is the promotion target or the
/// image names.
pub(crate) fn branch_name(base: &str, images: &[&str], promote_to: Option<&str>) -> String {
    let what = match promote_to {
        Some(target) => format!("promote-{}", slug(target)),
        None => {
            let mut names: Vec<String> = images.iter().map(|i| slug(i)).collect();
            names.sort();
            names.dedup();
            names.join("+")
        }
    };
    let what = if what.is_empty() {
        "images".to_string()
    } else {
        what
    };
    let what = if what.len() > 100 {
        // Long lists of images: keep a readable prefix and make it unique.
        use sha2::Digest;
        let hash = sha2::Sha256::digest(what.as_bytes());
        let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("{}-{hex}", &what[..80])
    } else {
        what
    };
    format!("gitops-bump/{}/{what}", slug(base))
}

/// Lower-case `[a-z0-9._-]`, runs of anything else become one `-`; safe in
/// a ref name (no `..`, no leading or trailing separator).
fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let keep = c.is_ascii_alphanumeric() || c == '_' || (c == '.' && !out.ends_with('.'));
        if keep {
            out.push(c);
        } else if c != '.' && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(['-', '.']).to_string()
}

/// Title and body of the pull request.
pub(crate) fn title_and_body(
    commit_message: &str,
    report: &EditReport,
    context: &GitHubContext,
) -> (String, String) {
    let subject = commit_message.lines().next().unwrap_or_default();
    // `[skip ci]` belongs on the direct push; the pull request should run CI.
    let title = subject.replace("[skip ci]", "").trim().to_string();
    let mut body = String::from("| File | Line | Old | New |\n|---|---|---|---|\n");
    for c in &report.changes {
        body.push_str(&format!(
            "| `{}` | {} | `{}` | `{}` |\n",
            c.file, c.line, c.old, c.new
        ));
    }
    if let Some(url) = context.run_url() {
        body.push_str(&format!("\nWorkflow run: {url}\n"));
    }
    body.push_str(
        "\nOpened by gitops-bump. A later run for the same images updates this pull request.\n",
    );
    (title, body)
}

/// What to open or update.
pub(crate) struct PullRequest<'a> {
    pub repository: &'a str,
    pub head: &'a str,
    pub base: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub labels: &'a [&'a str],
}

/// Creates the pull request or updates the open one for the same head
/// branch. Returns its HTML URL and number.
pub(crate) fn open_or_update(
    api_url: &str,
    token: Option<&Secret>,
    pr: &PullRequest<'_>,
) -> Result<(String, u64), PullRequestError> {
    let api = Api::new(api_url);
    let token = token.ok_or_else(|| PullRequestError::Api {
        method: "POST",
        url: format!("{}/repos/{}/pulls", api.base(), pr.repository),
        status: 0,
        message: "no `token` was given for the GitHub API".into(),
    })?;
    let pulls = Pulls { api, token };
    crate::http::block_on(pulls.open_or_update(pr)).map_err(PullRequestError::Runtime)?
}

/// The pull-request calls, made with the crate's one GitHub client; its
/// errors become [`PullRequestError::Api`] with GitHub's own message.
struct Pulls<'a> {
    api: Api,
    token: &'a Secret,
}

impl Pulls<'_> {
    async fn open_or_update(
        &self,
        pr: &PullRequest<'_>,
    ) -> Result<(String, u64), PullRequestError> {
        let owner = pr.repository.split('/').next().unwrap_or_default();
        let pulls = format!("/repos/{}/pulls", pr.repository);
        let head = format!("{owner}:{}", pr.head);
        let existing = self.find_open(&pulls, &head).await?;
        let created = match existing {
            Some(number) => {
                let path = format!("{pulls}/{number}");
                let body = json!({ "title": pr.title, "body": pr.body, "base": pr.base });
                self.send(Method::PATCH, &path, Some(&body)).await?
            }
            None => {
                let body = json!({
                    "title": pr.title, "body": pr.body, "head": pr.head, "base": pr.base,
                    "maintainer_can_modify": true,
                });
                match self.send(Method::POST, &pulls, Some(&body)).await {
                    Ok(v) => v,
                    // Another run opened it between our list and create.
                    Err(PullRequestError::Api { status: 422, .. }) => {
                        match self.find_open(&pulls, &head).await? {
                            Some(number) => {
                                let path = format!("{pulls}/{number}");
                                let body = json!({ "title": pr.title, "body": pr.body });
                                self.send(Method::PATCH, &path, Some(&body)).await?
                            }
                            None => {
                                return Err(self
                                    .send(Method::POST, &pulls, Some(&body))
                                    .await
                                    .err()
                                    .unwrap_or_else(|| PullRequestError::Api {
                                        method: "POST",
                                        url: self.url(&pulls),
                                        status: 422,
                                        message: "validation failed".into(),
                                    }));
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let number = created["number"]
            .as_u64()
            .ok_or_else(|| PullRequestError::Api {
                method: "POST",
                url: self.url(&pulls),
                status: 200,
                message: "the response has no pull request `number`".into(),
            })?;
        let url = created["html_url"].as_str().unwrap_or_default().to_string();
        if !pr.labels.is_empty() {
            let path = format!("/repos/{}/issues/{number}/labels", pr.repository);
            let body = json!({ "labels": pr.labels });
            self.send(Method::POST, &path, Some(&body)).await?;
        }
        Ok((url, number))
    }

    async fn find_open(&self, pulls: &str, head: &str) -> Result<Option<u64>, PullRequestError> {
        let query = format!("?head={}&state=open", url_component(head));
        let list = self.call(Method::GET, pulls, &query, None).await?;
        Ok(list
            .as_array()
            .and_then(|a| a.first())
            .and_then(|p| p["number"].as_u64()))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, PullRequestError> {
        self.call(method, path, "", body).await
    }

    /// One call to `path` + `query`; errors name the method and `path`
    /// (without the query).
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&Value>,
    ) -> Result<Value, PullRequestError> {
        let name = match method.as_str() {
            "POST" => "POST",
            "PATCH" => "PATCH",
            _ => "GET",
        };
        let fail = |status: u16, message: String| PullRequestError::Api {
            method: name,
            url: self.url(path),
            status,
            message,
        };
        let what = format!("{name} {path}");
        let answer = self
            .api
            .call(&what, method, &format!("{path}{query}"), self.token, body)
            .await;
        let (status, value) = match answer {
            Ok(answer) => answer,
            Err(RestError::Transport { source, .. }) => {
                return Err(fail(0, source.without_url().to_string()));
            }
            Err(RestError::Status {
                status, message, ..
            }) => return Err(fail(status, message)),
            Err(RestError::Body { why, .. }) => return Err(fail(0, why)),
        };
        if status.is_success() {
            return Ok(value);
        }
        Err(fail(status.as_u16(), refusal_message(&value)))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base())
    }
}

/// GitHub's `message` and each of its `errors[].message` ("Validation
/// Failed: A pull request already exists"), else the start of the text.
fn refusal_message(answer: &Value) -> String {
    let mut message = answer["message"].as_str().unwrap_or("").to_string();
    if let Some(errors) = answer["errors"].as_array() {
        for e in errors {
            if let Some(m) = e["message"].as_str() {
                message.push_str(": ");
                message.push_str(m);
            }
        }
    }
    if message.is_empty() {
        message = match answer {
            Value::String(text) => text.chars().take(300).collect(),
            Value::Null => String::new(),
            other => other.to_string().chars().take(300).collect(),
        };
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_deterministic_and_ref_safe() {
        let cases: &[(&str, &[&str], Option<&str>, &str)] = &[
            (
                "main",
                &["ghcr.io/org/app"],
                None,
                "gitops-bump/main/ghcr.io-org-app",
            ),
            (
                "main",
                &["ghcr.io/org/worker", "ghcr.io/org/app"],
                None,
                "gitops-bump/main/ghcr.io-org-app+ghcr.io-org-worker",
            ),
            (
                "release/1.x",
                &["App..Name"],
                None,
                "gitops-bump/release-1.x/app.name",
            ),
            (
                "main",
                &[],
                Some("overlays/prod/"),
                "gitops-bump/main/promote-overlays-prod",
            ),
        ];
        for (base, images, promote, want) in cases {
            let got = branch_name(base, images, *promote);
            assert_eq!(&got, want);
            assert!(
                git2::Reference::is_valid_name(&format!("refs/heads/{got}")),
                "{got}"
            );
        }
        let many: Vec<String> = (0..30)
            .map(|i| format!("ghcr.io/org/service-{i}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let long = branch_name("main", &many, None);
        assert!(long.len() < 120, "{long}");
        assert_ne!(long, branch_name("main", &many[1..], None));
    }

    #[test]
    fn refusals_show_githubs_messages_or_the_start_of_the_text() {
        let long_page = "<html>".repeat(100);
        let cases = [
            (
                json!({"message": "Validation Failed",
                       "errors": [{"message": "A pull request already exists for org:b."}]}),
                "Validation Failed: A pull request already exists for org:b.".to_string(),
            ),
            (json!({"message": "Not Found"}), "Not Found".to_string()),
            (
                json!({"documentation_url": "x"}),
                r#"{"documentation_url":"x"}"#.to_string(),
            ),
            (
                Value::String("Bad Gateway".into()),
                "Bad Gateway".to_string(),
            ),
            (
                Value::String(long_page.clone()),
                long_page[..300].to_string(),
            ),
            (Value::Null, String::new()),
        ];
        for (answer, want) in cases {
            assert_eq!(refusal_message(&answer), want, "{answer}");
        }
    }
}
