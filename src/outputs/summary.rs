//! The job summary (`GITHUB_STEP_SUMMARY`): one table row per image, the
//! changed lines, and the commit or pull request.

use super::Outputs;
use crate::actions::EnvFile;
use crate::error::Error;
use crate::print;
use crate::write_back::message::GitHubContext;

/// `$GITHUB_SERVER_URL`, without a trailing `/`.
fn server_url(context: &GitHubContext) -> String {
    context.server_url.trim_end_matches('/').to_string()
}

/// Where the commit link points: the repository written to, else
/// `$GITHUB_REPOSITORY`, on `$GITHUB_SERVER_URL`.
fn repository_url(written: Option<&str>, context: &GitHubContext) -> Option<String> {
    let repo = written
        .map(str::to_string)
        .or_else(|| context.repository.clone())
        .filter(|r| !r.is_empty())?;
    Some(format!("{}/{repo}", server_url(context)))
}

/// A table cell holding a value, or a dash.
fn cell(v: Option<&String>) -> String {
    v.map_or_else(|| "–".to_string(), |s| print::code_span(s, true))
}

/// The job summary: one table row per image, the changed lines, and the
/// commit or pull request. Every value in it is a code span
/// ([`print::code_span`]), so no value can leave its cell or become a link,
/// an image or HTML; the only links are the commit's and the pull
/// request's, and only when they have the shape GitHub gives them.
pub(crate) fn summary_markdown(outputs: &Outputs, context: &GitHubContext) -> String {
    let mut md = String::from("### gitops-bump\n\n");
    if !outputs.changed {
        md.push_str("Nothing to change: every image is already up to date.\n\n");
    }
    md.push_str("| image | tag | digest | platforms verified | files |\n|---|---|---|---|---|\n");
    let list = |values: &[String], separator: &str| {
        if values.is_empty() {
            "–".to_string()
        } else {
            let cells: Vec<String> = values.iter().map(|v| print::code_span(v, true)).collect();
            cells.join(separator)
        }
    };
    for i in &outputs.images {
        let arrow = |old: Option<&String>, new: Option<&String>| {
            if old == new || old.is_none() {
                cell(new)
            } else {
                format!("{} → {}", cell(old), cell(new))
            }
        };
        let short = |d: Option<&String>| d.map(|d| d.chars().take(19).collect::<String>());
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            print::code_span(&i.new_name, true),
            arrow(i.previous_tag.as_ref(), i.tag.as_ref()),
            arrow(
                short(i.previous_digest.as_ref()).as_ref(),
                short(i.digest.as_ref()).as_ref()
            ),
            list(&i.platforms, ", "),
            list(&i.files, "<br>"),
        ));
    }
    if !outputs.changes.is_empty() {
        md.push_str("\n<details><summary>Changed lines</summary>\n\n");
        for c in &outputs.changes {
            md.push_str(&format!(
                "- {} {} → {}\n",
                print::code_span(&format!("{}:{}", c.file, c.line), false),
                print::code_span(&c.old, false),
                print::code_span(&c.new, false)
            ));
        }
        md.push_str("\n</details>\n");
    }
    let base = repository_url(outputs.repository.as_deref(), context);
    if let Some(sha) = &outputs.commit_sha {
        let short = &sha[..sha.len().min(12)];
        match &base {
            Some(b) if is_object_id(sha) => {
                md.push_str(&format!("\nCommit: [`{short}`]({b}/commit/{sha})"))
            }
            _ => md.push_str(&format!("\nCommit: {}", print::code_span(sha, false))),
        }
        if outputs.attempts > 1 {
            md.push_str(&format!(
                " (landed on attempt {}, after other pipelines pushed first)",
                outputs.attempts
            ));
        }
        md.push('\n');
    }
    if let Some(url) = &outputs.pull_request_url {
        let number = outputs
            .pull_request_number
            .map_or(String::new(), |n| format!("#{n}"));
        match is_pull_request_url(url, &server_url(context)) {
            true => md.push_str(&format!("\nPull request: [{number}]({url})\n")),
            false => md.push_str(&format!(
                "\nPull request: {}\n",
                print::code_span(url, false)
            )),
        }
    }
    if let Some(d) = &outputs.deploy {
        md.push_str(&d.report.summary_markdown());
    }
    md
}

/// A git object id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
fn is_object_id(s: &str) -> bool {
    matches!(s.len(), 40 | 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `{server}/{owner}/{repo}/pull/{number}`: the only pull request link we
/// write (the repository may be another than the workflow's).
fn is_pull_request_url(url: &str, server: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let Some(rest) = url.strip_prefix(server).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    match rest.split('/').collect::<Vec<_>>()[..] {
        [owner, repo, "pull", number] => {
            name(owner)
                && name(repo)
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Appends the summary to `GITHUB_STEP_SUMMARY` when it is set.
pub fn write_summary(outputs: &Outputs, context: &GitHubContext) -> Result<(), Error> {
    if let Some(file) = EnvFile::from_env("GITHUB_STEP_SUMMARY") {
        file.append_text(&summary_markdown(outputs, context))
            .map_err(|e| {
                Error::io(
                    format!("writing the job summary to {}", file.path().display()),
                    e,
                )
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::ImageOutput;
    use crate::outputs::image_outputs;
    use crate::outputs::tests::change;
    use crate::spec::ImageSpec;

    /// The run on github.com, outside any workflow.
    fn github() -> GitHubContext {
        GitHubContext {
            server_url: "https://github.com".into(),
            ..GitHubContext::default()
        }
    }

    #[test]
    fn summary_shows_old_and_new_values_and_the_changed_lines() {
        let specs = vec![ImageSpec::parse("app=ghcr.io/org/app:v2").unwrap()];
        let out = Outputs {
            changed: true,
            commit_sha: Some("0123456789abcdef".into()),
            images: image_outputs(&specs, &[change("app")], &[]),
            changes: vec![change("app")],
            attempts: 3,
            ..Default::default()
        };
        let md = summary_markdown(&out, &github());
        for needle in [
            "| `ghcr.io/org/app` | `v1` → `v2` |",
            "- `overlays/dev/kustomization.yaml:9` `v1` → `v2`",
            "landed on attempt 3",
        ] {
            assert!(md.contains(needle), "{needle}\n{md}");
        }
        let unchanged = summary_markdown(&Outputs::default(), &github());
        assert!(unchanged.contains("Nothing to change"));
    }

    #[test]
    fn no_value_leaves_its_cell_or_becomes_a_link() {
        let breakout = "v1` [Approve production deploy](https://evil.example/approve) `";
        let mut c = change("app");
        c.old = "``` [y](https://evil.example) ```".into();
        c.new = "![i](https://evil.example/i.png)".into();
        c.file = "a|b`<script>x</script>.yaml".into();
        let out = Outputs {
            changed: true,
            commit_sha: Some("abc) [z](https://evil.example".into()),
            pull_request_url: Some("https://evil.example/x) [Approve](https://evil.example".into()),
            images: vec![ImageOutput {
                name: "app".into(),
                new_name: "app` [x](https://evil.example) `".into(),
                tag: Some("v2|<img src=x onerror=alert(1)>|".into()),
                digest: Some("sha256:`![i](https://evil.example/i.png)`".into()),
                previous_tag: Some(breakout.into()),
                previous_digest: None,
                files: vec!["a|b.yaml".into(), "<b>www.evil.example</b>".into()],
                platforms: vec!["linux/amd64\n\n[x](https://evil.example)".into()],
            }],
            changes: vec![c],
            ..Default::default()
        };
        let md = summary_markdown(&out, &github());
        let found = test_support::markdown::foreign_markup(&md, &|_| false);
        assert!(found.is_empty(), "{found:#?}\n{md}");
        // Still shown, as text.
        assert!(md.contains("[Approve production deploy](https://evil.example/approve)"));
        // Every table row keeps its five cells.
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(rows.len(), 1, "{md}");
        let unescaped_pipes = rows[0].matches('|').count() - rows[0].matches("\\|").count();
        assert_eq!(unescaped_pipes, 6, "{md}");
    }

    #[test]
    fn the_commit_and_pull_request_links_are_ours() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let server = server_url(&github());
        let pr = format!("{server}/other-org/gitops/pull/12");
        let out = Outputs {
            changed: true,
            commit_sha: Some(sha.into()),
            pull_request_url: Some(pr.clone()),
            pull_request_number: Some(12),
            ..Default::default()
        };
        let md = summary_markdown(&out, &github());
        assert!(md.contains(&format!("[#12]({pr})")), "{md}");
        let found = test_support::markdown::foreign_markup(&md, &|url| url == pr);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn a_commit_in_another_repository_is_linked_there() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let out = Outputs {
            changed: true,
            commit_sha: Some(sha.into()),
            repository: Some("other-org/gitops".into()),
            ..Default::default()
        };
        let md = summary_markdown(&out, &github());
        let link = format!("{}/other-org/gitops/commit/{sha}", server_url(&github()));
        assert!(
            md.contains(&format!("\nCommit: [`0123456789ab`]({link})\n")),
            "{md}"
        );
    }
}
