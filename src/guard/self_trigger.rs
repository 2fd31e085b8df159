//! The self-trigger guard: a bump commit must not start the pipeline that
//! bumps again. Two policies, both pure:
//!
//! - the credential that pushes decides whether the commit message keeps a
//!   skip marker such as `[skip ci]` (`GITHUB_TOKEN` pushes never start
//!   workflows; App installation tokens and personal access tokens do);
//! - a run started by our own bump commit (our author, only the configured
//!   paths touched) stops with a reason instead of bumping again.
//!
//! The trigger commit is parsed from the event payload here; reading the
//! payload (`GITHUB_EVENT_PATH`) is the run environment's, once per run
//! ([`crate::run_env::RunEnv::trigger_commit`]).

use std::path::PathBuf;

use crate::secret::Secret;

/// The kind of credential that pushes, which decides whether its pushes
/// start workflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The job's `GITHUB_TOKEN`: its pushes never trigger workflows.
    GithubToken,
    /// A GitHub App installation token: its pushes do.
    AppToken,
    /// A personal access token (or any other user credential): its pushes do.
    PersonalToken,
}

impl Credential {
    pub(crate) fn triggers_workflows(self) -> bool {
        !matches!(self, Credential::GithubToken)
    }

    /// The credential a run pushes with: the App when one is configured
    /// (`app_configured`), else the kind of `token` by its prefix. An
    /// installation token made by an earlier step (create-github-app-token)
    /// looks like `GITHUB_TOKEN` (`ghs_`), so with one of those keep
    /// `[skip ci]` in the message.
    pub(crate) fn of(app_configured: bool, token: Option<&Secret>) -> Credential {
        if app_configured {
            return Credential::AppToken;
        }
        match token {
            Some(t)
                if ["ghp_", "github_pat_", "gho_", "ghu_"]
                    .iter()
                    .any(|p| t.expose().starts_with(p)) =>
            {
                Credential::PersonalToken
            }
            _ => Credential::GithubToken,
        }
    }
}

/// Markers GitHub honours to skip `push` and `pull_request` workflows.
pub const SKIP_MARKERS: &[&str] = &[
    "[skip ci]",
    "[ci skip]",
    "[no ci]",
    "[skip actions]",
    "[actions skip]",
];

/// Keeps a skip marker in the message when the credential would start
/// workflows; with `GITHUB_TOKEN` the message is left as the user wrote it.
pub fn ensure_skip_marker(message: &str, credential: Credential) -> String {
    let lower = message.to_ascii_lowercase();
    let has_marker = SKIP_MARKERS.iter().any(|m| lower.contains(m));
    if !credential.triggers_workflows() || has_marker {
        return message.to_string();
    }
    let mut lines: Vec<&str> = message.lines().collect();
    let headline = format!(
        "{} [skip ci]",
        lines.first().copied().unwrap_or("").trim_end()
    );
    if lines.is_empty() {
        return headline;
    }
    lines[0] = &headline;
    lines.join("\n")
}

/// The commit that started this run, from a `push` event payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TriggerCommit {
    pub author_name: String,
    pub author_email: String,
    /// Files the commit added, modified or removed.
    pub files: Vec<String>,
}

impl TriggerCommit {
    /// Reads `head_commit` from the event JSON; `None` when the event has
    /// none (not a push, or a branch deletion).
    pub(crate) fn from_event(event: &serde_json::Value) -> Option<TriggerCommit> {
        let head = event.get("head_commit").filter(|h| !h.is_null())?;
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let mut files = Vec::new();
        for key in ["added", "modified", "removed"] {
            if let Some(list) = head.get(key).and_then(|l| l.as_array()) {
                files.extend(list.iter().filter_map(|f| f.as_str()).map(str::to_string));
            }
        }
        Some(TriggerCommit {
            author_name: text(&head["author"]["name"]),
            author_email: text(&head["author"]["email"]),
            files,
        })
    }
}

/// True when the run was started by our own bump: the trigger commit's
/// author is the configured bot identity and it touched only the configured
/// paths. Such a run stops with a notice instead of bumping again.
pub fn is_self_trigger(
    trigger: &TriggerCommit,
    author_name: &str,
    author_email: &str,
    paths: &[PathBuf],
) -> bool {
    let same_author = trigger.author_email.eq_ignore_ascii_case(author_email)
        && trigger.author_name == author_name;
    same_author && !trigger.files.is_empty() && trigger.files.iter().all(|f| under_any(f, paths))
}

/// Why this run must stop instead of bumping, when the commit that started
/// it is our own bump (see [`is_self_trigger`]); `None` when no commit
/// started it (not a push event, or outside Actions).
pub fn self_trigger_reason(
    trigger: Option<&TriggerCommit>,
    author_name: &str,
    author_email: &str,
    paths: &[PathBuf],
) -> Option<String> {
    let trigger = trigger?;
    is_self_trigger(trigger, author_name, author_email, paths).then(|| {
        format!(
            "this run was started by a bump commit from {} <{}> that only touched the configured paths; not bumping again (no CI loop)",
            trigger.author_name, trigger.author_email
        )
    })
}

/// True when `file` (`/`-separated, relative to the repository root) is one
/// of `paths` or inside one of them.
fn under_any(file: &str, paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| {
        let p = p.to_string_lossy();
        let p = p.trim_start_matches("./").trim_end_matches('/');
        p.is_empty() || p == "." || file == p || file.starts_with(&format!("{p}/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_marker_is_kept_only_for_credentials_that_trigger_workflows() {
        let cases = [
            (
                "chore: bump app",
                Credential::GithubToken,
                "chore: bump app",
            ),
            (
                "chore: bump app",
                Credential::AppToken,
                "chore: bump app [skip ci]",
            ),
            (
                "chore: bump app\n\nbody",
                Credential::PersonalToken,
                "chore: bump app [skip ci]\n\nbody",
            ),
            (
                "chore: bump [CI SKIP]",
                Credential::AppToken,
                "chore: bump [CI SKIP]",
            ),
            (
                "bump\n\n[skip actions]",
                Credential::AppToken,
                "bump\n\n[skip actions]",
            ),
            ("", Credential::AppToken, " [skip ci]"),
        ];
        for (message, credential, want) in cases {
            assert_eq!(ensure_skip_marker(message, credential), want, "{message:?}");
        }
    }

    #[test]
    fn credentials_are_classified_by_the_app_then_the_token_prefix() {
        // (app configured, token, credential)
        let cases = [
            (false, None, Credential::GithubToken),
            (false, Some("ghs_abc"), Credential::GithubToken),
            (false, Some("ghp_abc"), Credential::PersonalToken),
            (false, Some("github_pat_abc"), Credential::PersonalToken),
            (false, Some("gho_abc"), Credential::PersonalToken),
            (false, Some("ghu_abc"), Credential::PersonalToken),
            (true, Some("ghs_abc"), Credential::AppToken),
            (true, None, Credential::AppToken),
        ];
        for (app, token, want) in cases {
            let token = token.map(|t| Secret::new(t.to_string()));
            assert_eq!(Credential::of(app, token.as_ref()), want, "{app} {token:?}");
        }
    }

    #[test]
    fn self_trigger_reason_names_our_bump_commit() {
        let paths = [PathBuf::from("apps/prod")];
        let ours = TriggerCommit {
            author_name: "bot".into(),
            author_email: "bot@example.com".into(),
            files: vec!["apps/prod/k.yaml".into()],
        };
        let reason = self_trigger_reason(Some(&ours), "bot", "bot@example.com", &paths).unwrap();
        assert!(reason.contains("bot <bot@example.com>"), "{reason}");
        let theirs = TriggerCommit {
            author_name: "alice".into(),
            ..ours.clone()
        };
        assert_eq!(
            self_trigger_reason(Some(&theirs), "bot", "bot@example.com", &paths),
            None
        );
        assert_eq!(
            self_trigger_reason(None, "bot", "bot@example.com", &paths),
            None
        );
    }

    #[test]
    fn self_trigger_needs_our_author_and_only_our_paths() {
        let event = |name: &str, email: &str, files: &[&str]| {
            serde_json::json!({
                "head_commit": {
                    "author": {"name": name, "email": email},
                    "added": [],
                    "modified": files,
                    "removed": [],
                }
            })
        };
        let bot = ("gitops-bot", "bot@example.com");
        let paths = [PathBuf::from("overlays/prod"), PathBuf::from("./base/")];
        let cases = [
            (
                event(bot.0, bot.1, &["overlays/prod/kustomization.yaml"]),
                true,
            ),
            (event(bot.0, "BOT@example.com", &["base/deploy.yaml"]), true),
            (
                event(bot.0, bot.1, &["overlays/prod/a.yaml", "src/main.rs"]),
                false,
            ),
            (event(bot.0, bot.1, &["overlays/production/a.yaml"]), false),
            (
                event("alice", "alice@example.com", &["overlays/prod/a.yaml"]),
                false,
            ),
            (event(bot.0, bot.1, &[]), false),
        ];
        for (i, (ev, want)) in cases.into_iter().enumerate() {
            let t = TriggerCommit::from_event(&ev).unwrap();
            assert_eq!(is_self_trigger(&t, bot.0, bot.1, &paths), want, "case {i}");
        }
        let whole_repo = [PathBuf::from(".")];
        let t = TriggerCommit::from_event(&event(bot.0, bot.1, &["src/x.rs"])).unwrap();
        assert!(is_self_trigger(&t, bot.0, bot.1, &whole_repo));
        assert_eq!(
            TriggerCommit::from_event(&serde_json::json!({"head_commit": null})),
            None
        );
        assert_eq!(
            TriggerCommit::from_event(&serde_json::json!({"pull_request": {}})),
            None
        );
    }
}
