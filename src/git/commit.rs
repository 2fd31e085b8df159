//! Turning an edit into a commit: the message from the template and the
//! report, a tree that differs from the parent only in the files the edit
//! changed, and the unified diff for dry runs.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use git2::build::TreeUpdateBuilder;
use git2::{DiffFormat, DiffOptions, FileMode, Oid, Repository, Signature, Tree};

use super::{GitError, GitHubContext};
use crate::edit::{Change, EditReport};

/// Placeholder values for the commit-message and pull-request templates.
pub fn template_vars(
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
/// find bump commits with `git log --grep` or `git interpret-trailers`.
pub fn message(
    template: &str,
    report: &EditReport,
    context: &GitHubContext,
) -> Result<String, GitError> {
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
        out.push_str(crate::guard::format_trailers(&images, run).trim_end());
    }
    out.push('\n');
    Ok(out)
}

/// Checks a path reported by the edit: relative, `/`-separated, inside the
/// work tree. The edit engine promises this; we check because we are about
/// to read and commit whatever it names.
pub fn checked_path(file: &str) -> Result<&Path, GitError> {
    let path = Path::new(file);
    let inside = !file.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if inside {
        Ok(path)
    } else {
        Err(GitError::PathOutsideRepository {
            path: file.to_string(),
        })
    }
}

/// A tree equal to `base` except for `files`, read from the work tree.
/// Built without the index, so anything else a user staged stays out.
pub fn tree_with_files(
    repo: &Repository,
    workdir: &Path,
    base: &Tree<'_>,
    files: &[String],
) -> Result<Oid, GitError> {
    let mut update = TreeUpdateBuilder::new();
    for file in files {
        let relative = checked_path(file)?;
        let absolute = workdir.join(relative);
        match std::fs::symlink_metadata(&absolute) {
            Ok(meta) => {
                let bytes = std::fs::read(&absolute).map_err(|source| GitError::Read {
                    path: file.clone(),
                    source,
                })?;
                let blob = repo.blob(&bytes).map_err(GitError::Commit)?;
                let mode = match base.get_path(relative) {
                    Ok(entry) if entry.filemode() == i32::from(FileMode::BlobExecutable) => {
                        FileMode::BlobExecutable
                    }
                    Ok(_) => FileMode::Blob,
                    Err(_) if is_executable(&meta) => FileMode::BlobExecutable,
                    Err(_) => FileMode::Blob,
                };
                update.upsert(file.as_str(), blob, mode);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                update.remove(file.as_str());
            }
            Err(source) => {
                return Err(GitError::Read {
                    path: file.clone(),
                    source,
                });
            }
        }
    }
    update.create_updated(repo, base).map_err(GitError::Commit)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Author and committer, stamped now.
pub fn signature(name: &str, email: &str) -> Result<Signature<'static>, GitError> {
    Signature::now(name, email).map_err(|source| GitError::Identity {
        name: name.to_string(),
        email: email.to_string(),
        source,
    })
}

/// The unified diff between two trees, limited to `files`.
pub fn unified_diff(
    repo: &Repository,
    old: &Tree<'_>,
    new: &Tree<'_>,
    files: &[String],
) -> Result<String, GitError> {
    let mut options = DiffOptions::new();
    for f in files {
        options.pathspec(f);
    }
    options.disable_pathspec_match(true);
    let diff = repo
        .diff_tree_to_tree(Some(old), Some(new), Some(&mut options))
        .map_err(GitError::Commit)?;
    let mut out = String::new();
    diff.print(DiffFormat::Patch, |_delta, _hunk, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin());
        }
        out.push_str(&String::from_utf8_lossy(line.content()));
        true
    })
    .map_err(GitError::Commit)?;
    Ok(out)
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
                message(template, &report, &context).unwrap(),
                format!("{want}{trailers}"),
                "{template}"
            );
        }
    }

    #[test]
    fn paths_must_stay_inside_the_work_tree() {
        for ok in ["a.yaml", "apps/prod/kustomization.yaml"] {
            assert!(checked_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../a.yaml", "/etc/passwd", "apps/../../x", "./a.yaml"] {
            assert!(checked_path(bad).is_err(), "{bad}");
        }
    }
}
