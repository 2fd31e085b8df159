//! The job summary (`GITHUB_STEP_SUMMARY`): one table row per image, the
//! changed lines, and the commit or pull request.

use super::EnvFile;
use super::outputs::Outputs;
use crate::error::Error;
use crate::print;

/// `$GITHUB_SERVER_URL`, without a trailing `/`.
fn server_url() -> String {
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
    server.trim_end_matches('/').to_string()
}

/// Where links in the summary point: `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY`.
fn repository_url() -> Option<String> {
    let repo = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|r| !r.is_empty())?;
    Some(format!("{}/{repo}", server_url()))
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
pub fn summary_markdown(outputs: &Outputs) -> String {
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
    let base = repository_url();
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
        match is_pull_request_url(url, &server_url()) {
            true => md.push_str(&format!("\nPull request: [{number}]({url})\n")),
            false => md.push_str(&format!(
                "\nPull request: {}\n",
                print::code_span(url, false)
            )),
        }
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
pub fn write_summary(outputs: &Outputs) -> Result<(), Error> {
    if let Some(file) = EnvFile::from_env("GITHUB_STEP_SUMMARY") {
        file.append_text(&summary_markdown(outputs)).map_err(|e| {
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
    use crate::github::outputs::image_outputs;
    use crate::github::outputs::tests::change;
    use crate::spec::ImageSpec;

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
        let md = summary_markdown(&out);
        for needle in [
            "| `ghcr.io/org/app` | `v1` → `v2` |",
            "- `overlays/dev/kustomization.yaml:9` `v1` → `v2`",
            "landed on attempt 3",
        ] {
            assert!(md.contains(needle), "{needle}\n{md}");
        }
        let unchanged = summary_markdown(&Outputs::default());
        assert!(unchanged.contains("Nothing to change"));
    }
}
