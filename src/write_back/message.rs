//! The commit message: the user's template filled from the edit, and the
//! trailer block every bump commit carries. Both transports (git and the
//! GitHub API) and the pull-request title use this one renderer. The
//! newer-wins guard's trailers are read back here too ([`bumped_by_run`]),
//! by both transports' history.

use std::collections::BTreeMap;

use crate::edit::{Change, EditReport};
use crate::guard::{Credential, RunId};
use crate::template::TemplateError;

/// Trailer naming the image a bump commit changed (one line per image).
pub(crate) const TRAILER_IMAGE: &str = "Bumped-Image";
/// Trailer naming the workflow run that made a bump commit.
pub(crate) const TRAILER_RUN: &str = "Bumped-By-Run";

/// The commit message of a run: the `commit-message` template with the
/// trailers, keeping a skip marker when the credential would start
/// workflows (see [`crate::guard::ensure_skip_marker`]).
pub(crate) struct ConfigMessage<'a> {
    template: &'a str,
    context: &'a GitHubContext,
    credential: Credential,
}

impl<'a> ConfigMessage<'a> {
    pub(crate) fn new(
        config: &'a crate::config::WriteBackOptions,
        context: &'a GitHubContext,
    ) -> Self {
        ConfigMessage {
            template: &config.commit_message,
            context,
            credential: Credential::of(config.app.is_some(), config.token.as_ref()),
        }
    }

    pub(crate) fn render(&self, report: &EditReport) -> Result<String, TemplateError> {
        let text = render(self.template, report, self.context)?;
        Ok(crate::guard::ensure_skip_marker(&text, self.credential))
    }
}

/// What we know about the workflow run and the GitHub server.
#[derive(Debug, Clone, Default)]
pub struct GitHubContext {
    /// `GITHUB_SERVER_URL`, for `owner/name` repositories and run links.
    pub server_url: String,
    /// `GITHUB_API_URL`.
    pub api_url: String,
    /// `GITHUB_REPOSITORY`.
    pub repository: Option<String>,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_SHA`.
    pub sha: Option<String>,
    /// `GITHUB_RUN_NUMBER`.`GITHUB_RUN_ATTEMPT`, recorded in a
    /// `Bumped-By-Run` trailer for the newer-wins guard.
    pub run: Option<RunId>,
}

impl GitHubContext {
    pub(crate) fn run_url(&self) -> Option<String> {
        match (&self.repository, &self.run_id) {
            (Some(repo), Some(run)) if !self.server_url.is_empty() => Some(format!(
                "{}/{repo}/actions/runs/{run}",
                self.server_url.trim_end_matches('/')
            )),
            _ => None,
        }
    }
}

/// Placeholder values for the commit-message and pull-request templates.
pub(crate) fn template_vars(
    report: &EditReport,
    context: &GitHubContext,
) -> BTreeMap<&'static str, String> {
    let mut vars = BTreeMap::new();
    if let Some(first) = report.changes.first() {
        vars.insert("image", first.image.clone());
        vars.insert(
            "new_name",
            first
                .new_name
                .clone()
                .unwrap_or_else(|| first.image.clone()),
        );
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        vars.insert("tag", opt(&first.new_tag));
        vars.insert("digest", opt(&first.new_digest));
        vars.insert(
            "short_digest",
            first
                .new_digest
                .as_deref()
                .map(short_digest)
                .unwrap_or_default(),
        );
        vars.insert("previous_tag", opt(&first.old_tag));
        vars.insert("previous_digest", opt(&first.old_digest));
    }
    vars.insert("summary", summary(&report.changes));
    vars.insert("bumps", bumps(&report.changes));
    vars.insert("files", report.files.join(", "));
    if let Some(url) = context.run_url() {
        vars.insert("run_url", url);
    }
    if let Some(sha) = &context.sha {
        vars.insert("sha", sha.clone());
    }
    vars
}

/// `sha256:0123456789ab` — enough to recognise a digest in a one-line title.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => format!("{algorithm}:{}", &hex[..hex.len().min(12)]),
        None => digest[..digest.len().min(12)].to_string(),
    }
}

/// Each image once: `name to tag (short digest)`, comma separated.
fn summary(changes: &[Change]) -> String {
    let mut seen = Vec::new();
    for c in changes {
        let name = c.new_name.as_deref().unwrap_or(&c.image);
        let target = match (&c.new_tag, &c.new_digest) {
            (Some(t), Some(d)) => format!("{t} ({})", short_digest(d)),
            (Some(t), None) => t.clone(),
            (None, Some(d)) => short_digest(d),
            (None, None) => c.new.clone(),
        };
        let line = format!("{name} to {target}");
        if !seen.contains(&line) {
            seen.push(line);
        }
    }
    seen.join(", ")
}

/// One line per distinct bump: `- name: old -> new`.
fn bumps(changes: &[Change]) -> String {
    let mut seen = Vec::new();
    for c in changes {
        let line = format!("- {}: {} -> {}", c.image, c.old, c.new);
        if !seen.contains(&line) {
            seen.push(line);
        }
    }
    seen.join("\n")
}

/// The rendered template plus a trailer block, so tools (and people) can
/// find bump commits with `git log --grep` or `git interpret-trailers`;
/// the only writer of trailers. `Bumped-Image`/`Bumped-By-Run` (read back by
/// the newer-wins guard) are written when the run is known.
pub(crate) fn render(
    template: &str,
    report: &EditReport,
    context: &GitHubContext,
) -> Result<String, TemplateError> {
    let vars = template_vars(report, context);
    let body = crate::template::render(template, &vars)?;
    let mut out = body.trim_end().to_string();
    out.push_str("\n\nBumped-By: gitops-bump");
    let mut digests = Vec::new();
    for c in &report.changes {
        if let Some(d) = &c.new_digest {
            let trailer = format!(
                "Image-Digest: {}@{d}",
                c.new_name.as_deref().unwrap_or(&c.image)
            );
            if !digests.contains(&trailer) {
                digests.push(trailer);
            }
        }
    }
    for t in digests {
        out.push('\n');
        out.push_str(&t);
    }
    if let Some(url) = context.run_url() {
        out.push_str("\nWorkflow-Run: ");
        out.push_str(&url);
    }
    if let Some(run) = context.run {
        let mut images: Vec<&str> = report.changes.iter().map(|c| c.image.as_str()).collect();
        images.dedup();
        out.push('\n');
        out.push_str(format_trailers(&images, run).trim_end());
    }
    out.push('\n');
    Ok(out)
}

/// The trailer block for a bump commit: one `Bumped-Image` line per image,
/// then `Bumped-By-Run`. Appended after a blank line by [`append_trailers`].
pub(crate) fn format_trailers(images: &[&str], run: RunId) -> String {
    let mut s = String::new();
    for image in images {
        s.push_str(&format!("{TRAILER_IMAGE}: {image}\n"));
    }
    s.push_str(&format!("{TRAILER_RUN}: {run}\n"));
    s
}

/// Adds the trailers to a commit message, separated by a blank line as git
/// expects (`git interpret-trailers` reads only the last paragraph).
pub fn append_trailers(message: &str, images: &[&str], run: RunId) -> String {
    format!("{}\n\n{}", message.trim_end(), format_trailers(images, run))
}

/// `(key, value)` pairs of the message's last paragraph, when every line of
/// it is a `Key: value` trailer.
pub(crate) fn parse_trailers(message: &str) -> Vec<(String, String)> {
    let paragraph = message.trim_end().rsplit("\n\n").next().unwrap_or_default();
    let mut out = Vec::new();
    for line in paragraph.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            return Vec::new();
        };
        let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !key_ok {
            return Vec::new();
        }
        out.push((key.to_string(), value.trim().to_string()));
    }
    out
}

/// The run recorded in a bump commit for `image`, if the commit names it.
pub(crate) fn bumped_by_run(message: &str, image: &str) -> Option<RunId> {
    let trailers = parse_trailers(message);
    let names_image = trailers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(TRAILER_IMAGE) && v == image);
    if !names_image {
        return None;
    }
    trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(TRAILER_RUN))
        .and_then(|(_, v)| RunId::parse(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::TargetKind;

    fn change(image: &str, old: &str, tag: &str, digest: Option<&str>) -> Change {
        Change {
            file: "apps/app.yaml".into(),
            line: 3,
            column: 12,
            kind: TargetKind::Workload,
            image: image.into(),
            old: format!("{image}:{old}"),
            new: format!("{image}:{tag}"),
            old_tag: Some(old.into()),
            old_digest: None,
            new_name: None,
            new_tag: Some(tag.into()),
            new_digest: digest.map(str::to_string),
        }
    }

    #[test]
    fn messages_fill_placeholders_and_add_trailers() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let report = EditReport {
            changes: vec![
                change("ghcr.io/org/app", "v1", "v2", Some(d)),
                change("ghcr.io/org/app", "v1", "v2", Some(d)),
                change("ghcr.io/org/worker", "1.0", "1.1", None),
            ],
            files: vec!["apps/app.yaml".into()],
            warnings: Vec::new(),
        };
        let context = GitHubContext {
            server_url: "https://git.example.test".into(),
            repository: Some("org/ci".into()),
            run_id: Some("42".into()),
            sha: Some("abc123".into()),
            ..GitHubContext::default()
        };
        let cases = [
            (
                "bump {summary} [skip ci]",
                "bump ghcr.io/org/app to v2 (sha256:0123456789ab), ghcr.io/org/worker to 1.1 [skip ci]",
            ),
            (
                "{image}:{previous_tag} -> {tag} {short_digest} in {files} from {sha}",
                "ghcr.io/org/app:v1 -> v2 sha256:0123456789ab in apps/app.yaml from abc123",
            ),
            (
                "x\n\n{bumps}",
                "x\n\n- ghcr.io/org/app: ghcr.io/org/app:v1 -> ghcr.io/org/app:v2\n- ghcr.io/org/worker: ghcr.io/org/worker:1.0 -> ghcr.io/org/worker:1.1",
            ),
        ];
        let trailers = format!(
            "\n\nBumped-By: gitops-bump\nImage-Digest: ghcr.io/org/app@{d}\nWorkflow-Run: https://git.example.test/org/ci/actions/runs/42\n"
        );
        for (template, want) in cases {
            assert_eq!(
                render(template, &report, &context).unwrap(),
                format!("{want}{trailers}"),
                "{template}"
            );
        }
    }

    #[test]
    fn run_links_need_the_repository_and_the_run() {
        let mut context = GitHubContext {
            server_url: "https://git.example.test/".into(),
            repository: Some("org/ci".into()),
            run_id: Some("7".into()),
            ..GitHubContext::default()
        };
        assert_eq!(
            context.run_url().as_deref(),
            Some("https://git.example.test/org/ci/actions/runs/7")
        );
        context.run_id = None;
        assert_eq!(context.run_url(), None);
    }

    #[test]
    fn trailers_round_trip_and_only_count_for_the_named_image() {
        let run = RunId::parse("310.2").unwrap();
        let msg = append_trailers(
            "chore(deploy): bump app to abc [skip ci]\n",
            &["ghcr.io/org/app", "ghcr.io/org/worker"],
            run,
        );
        assert_eq!(
            msg,
            "chore(deploy): bump app to abc [skip ci]\n\nBumped-Image: ghcr.io/org/app\nBumped-Image: ghcr.io/org/worker\nBumped-By-Run: 310.2\n"
        );
        let cases = [
            (msg.as_str(), "ghcr.io/org/app", Some(run)),
            (msg.as_str(), "ghcr.io/org/worker", Some(run)),
            (msg.as_str(), "ghcr.io/org/other", None),
            ("fix: manual edit\n\nBumped-By-Run: 5.1\n", "app", None),
            // Trailers only count in the last paragraph, all lines trailers.
            (
                "bump\n\nBumped-Image: app\nBumped-By-Run: 5.1\n\nmore text",
                "app",
                None,
            ),
            (
                "bump\n\nBumped-Image: app\nnot a trailer\nBumped-By-Run: 5.1",
                "app",
                None,
            ),
            (
                "bump\n\nbumped-image: app\nbumped-by-run: 6",
                "app",
                RunId::parse("6.1"),
            ),
        ];
        for (message, image, want) in cases {
            assert_eq!(bumped_by_run(message, image), want, "{message:?} {image}");
        }
    }

    #[test]
    fn the_credential_comes_from_the_config() {
        let config = |pairs: &[(&str, &str)]| {
            let mut raw = crate::config::RawInputs::default();
            raw.set("images", "app:v1".into());
            for (k, v) in pairs {
                raw.set(k, v.to_string());
            }
            crate::config::Config::from_raw(&raw).unwrap()
        };
        let key = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----";
        let cases = [
            (vec![], Credential::GithubToken),
            (vec![("token", "ghs_abc")], Credential::GithubToken),
            (vec![("token", "ghp_abc")], Credential::PersonalToken),
            (vec![("token", "github_pat_abc")], Credential::PersonalToken),
            (
                vec![
                    ("token", "ghs_abc"),
                    ("app-id", "1"),
                    ("app-private-key", key),
                ],
                Credential::AppToken,
            ),
        ];
        let context = GitHubContext::default();
        for (pairs, want) in cases {
            let config = config(&pairs);
            let message = ConfigMessage::new(&config.write_back, &context);
            assert_eq!(message.credential, want, "{pairs:?}");
        }
    }
}
