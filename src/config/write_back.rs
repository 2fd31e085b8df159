//! The write-back section: where the change goes (a push, a pull request
//! or the work tree), as whom, with which message, and how hard to retry.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, EditOptions, RawInputs};
use crate::secret::Secret;

/// Where a run writes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Push,
    PullRequest,
    None,
}

/// How the commit reaches the branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitVia {
    /// Clone, commit locally, push (signed only if the runner signs).
    Git,
    /// `createCommitOnBranch` through the GraphQL API: no clone, and GitHub
    /// signs the commit, which satisfies "require signed commits".
    Api,
}

/// A GitHub App to authenticate as; present only when `app-id` is set.
#[derive(Debug, Clone)]
pub struct GitHubApp {
    /// The App ID or client ID: the JWT's `iss`.
    pub app_id: String,
    pub private_key: Secret,
    pub installation_id: Option<u64>,
}

/// What the write-back stage is asked to do.
#[derive(Debug, Clone)]
pub struct WriteBackOptions {
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub token: Option<Secret>,
    /// Origins the git token may reach over plain HTTP.
    pub insecure_git_origins: Vec<String>,
    pub commit_message: String,
    pub author_name: String,
    pub author_email: String,
    pub mode: Mode,
    pub max_attempts: u32,
    /// No write-back attempt starts after this long.
    pub retry_deadline: Duration,
    pub dry_run: bool,
    /// Labels for pull requests.
    pub labels: Vec<String>,
    pub app: Option<GitHubApp>,
    pub commit_via: CommitVia,
    pub newer_wins: bool,
    /// The names of the images set (`images`), which name the pull
    /// request's branch.
    pub images: Vec<String>,
    /// `promote-to`, which names the pull request's branch too.
    pub promote_to: Option<PathBuf>,
    /// The paths the edit reads and writes: `promote-to` and `promote-from`
    /// for a promotion, else `paths`. The API transport downloads these.
    pub edited_paths: Vec<PathBuf>,
}

impl WriteBackOptions {
    pub(super) fn from_raw(raw: &RawInputs, edit: &EditOptions) -> Result<Self, ConfigError> {
        let mode = match raw.get("mode") {
            "push" => Mode::Push,
            "pull-request" => Mode::PullRequest,
            "none" => Mode::None,
            other => {
                return Err(ConfigError::Invalid {
                    input: "mode",
                    value: other.to_string(),
                    why: "expected push, pull-request or none".into(),
                });
            }
        };
        let max_attempts = raw
            .get("max-attempts")
            .parse::<u32>()
            .ok()
            .filter(|n| (0..=1000).contains(n))
            .ok_or_else(|| ConfigError::Invalid {
                input: "max-attempts",
                value: raw.get("max-attempts").to_string(),
                why: "expected a whole number from 0 (no limit but `retry-deadline`) to 1000"
                    .into(),
            })?;
        let retry_deadline = raw.duration("retry-deadline")?;
        let commit_message = raw.get("commit-message").to_string();
        crate::template::validate(&commit_message).map_err(|e| ConfigError::Invalid {
            input: "commit-message",
            value: commit_message.clone(),
            why: e.to_string(),
        })?;
        // Checked here, not at commit time: by then the files are edited.
        for name in ["author-name", "author-email"] {
            let value = raw.get(name);
            if value.contains(['<', '>', '\n', '\r', '\0']) {
                return Err(ConfigError::Invalid {
                    input: name,
                    value: value.to_string(),
                    why: "a git identity cannot contain `<`, `>` or line breaks".into(),
                });
            }
        }
        if mode == Mode::None && raw.optional("repository").is_some() {
            return Err(ConfigError::Conflict {
                a: "mode",
                b: "repository",
                why: "mode: none edits the checked-out work tree and leaves the change there; a cloned `repository` would be thrown away (use mode: push or pull-request, or check the repository out first)",
            });
        }
        let app = app(raw)?;
        let commit_via = match raw.get("commit-via") {
            "git" => CommitVia::Git,
            "api" => CommitVia::Api,
            other => {
                return Err(ConfigError::Invalid {
                    input: "commit-via",
                    value: other.to_string(),
                    why: "expected git or api".into(),
                });
            }
        };
        let edited_paths = match &edit.promote {
            Some((from, to)) => vec![to.clone(), from.clone()],
            None => edit.paths.clone(),
        };
        Ok(WriteBackOptions {
            repository: raw.optional("repository"),
            branch: raw.optional("branch"),
            token: raw.secret("token"),
            insecure_git_origins: raw.list("insecure-git-origins"),
            commit_message,
            author_name: raw.get("author-name").to_string(),
            author_email: raw.get("author-email").to_string(),
            mode,
            max_attempts,
            retry_deadline,
            dry_run: raw.boolean("dry-run")?,
            labels: raw.list("labels"),
            app,
            commit_via,
            newer_wins: raw.boolean("newer-wins")?,
            images: edit.images.iter().map(|s| s.name.clone()).collect(),
            promote_to: edit.promote.as_ref().map(|(_, to)| to.clone()),
            edited_paths,
        })
    }

    /// False for `mode: none` in the checkout: the change stays in the work
    /// tree, nothing is cloned, committed or pushed.
    pub(crate) fn commits(&self) -> bool {
        !(self.mode == Mode::None && self.repository.is_none())
    }

    /// True when this run would push (or open a pull request).
    pub(crate) fn pushes(&self) -> bool {
        self.commits() && !self.dry_run
    }
}

pub(super) fn app(raw: &RawInputs) -> Result<Option<GitHubApp>, ConfigError> {
    let app_id = raw.optional("app-id");
    let key = raw.optional("app-private-key");
    let installation = raw.optional("app-installation-id");
    let (app_id, key) = match (app_id, key) {
        (None, None) => {
            if installation.is_some() {
                return Err(ConfigError::Conflict {
                    a: "app-installation-id",
                    b: "app-id",
                    why: "an installation ID needs the App's ID and private key",
                });
            }
            return Ok(None);
        }
        (Some(_), None) => {
            return Err(ConfigError::Missing {
                input: "app-private-key",
                why: "app-id needs the App's private key (a PEM secret)",
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Missing {
                input: "app-id",
                why: "app-private-key needs the App's ID (or client ID)",
            });
        }
        (Some(id), Some(key)) => (id, key),
    };
    if app_id.contains(char::is_whitespace) {
        return Err(ConfigError::Invalid {
            input: "app-id",
            value: app_id,
            why: "expected the App's numeric ID or its client ID".into(),
        });
    }
    // Secrets pasted as one line carry literal `\n`; PEM needs newlines.
    let pem = key.replace("\\n", "\n");
    if !pem.trim_start().starts_with("-----BEGIN") {
        return Err(ConfigError::Invalid {
            input: "app-private-key",
            value: "***".into(),
            why: "expected a PEM private key starting with -----BEGIN (download it from the App's settings)".into(),
        });
    }
    let installation_id = match installation {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| ConfigError::Invalid {
            input: "app-installation-id",
            value: s.clone(),
            why: "expected a number (from the installation's settings URL)".into(),
        })?),
    };
    Ok(Some(GitHubApp {
        app_id,
        private_key: Secret::new(pem),
        installation_id,
    }))
}
