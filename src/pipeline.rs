//! Wires the stages: auth → verify → edit → write-back → outputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::config::{CommitVia, Config, Mode, TokenFormat};
use crate::edit::{self, Change, EditError, EditReport, EditRequest};
use crate::error::Error;
use crate::git;
use crate::github::api_commit::{self, ApiWriteBack};
use crate::github::rest::Api;
use crate::github::{self, EnvFile};
use crate::guard;
use crate::registry::{self, Credentials, RegistryOptions, Resolved};
use crate::secret::Secret;
use crate::spec::{Field, ImageSpec};

/// One image's entry in the `images` output.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImageOutput {
    pub name: String,
    pub new_name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub previous_tag: Option<String>,
    pub previous_digest: Option<String>,
    pub files: Vec<String>,
    pub platforms: Vec<String>,
}

/// Everything a run reports, as step outputs.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub changed: bool,
    pub commit_sha: Option<String>,
    pub images: Vec<ImageOutput>,
    pub files: Vec<String>,
    pub attempts: u32,
    pub pull_request_url: Option<String>,
    pub pull_request_number: Option<u64>,
    pub access_token: Option<Secret>,
    pub registry: Vec<Resolved>,
    /// Every edited scalar, for the summary and annotations.
    pub changes: Vec<Change>,
    /// Why nothing was bumped (newer-wins or self-trigger guard).
    pub skipped_reason: Option<String>,
}

impl Outputs {
    /// The outputs as `(name, value)` pairs, names as in `action.yml`.
    pub fn entries(&self) -> Vec<(String, String)> {
        let first = self.images.first();
        let opt = |v: Option<&String>| v.cloned().unwrap_or_default();
        let image = first.map_or(String::new(), |i| {
            let name = crate::reference::ImageName::parse(&i.new_name)
                .map_or_else(|_| i.new_name.clone(), |n| n.to_string());
            crate::reference::join_written(&name, i.tag.as_deref(), i.digest.as_deref())
        });
        let mut out = vec![
            ("changed".to_string(), self.changed.to_string()),
            (
                "commit-sha".to_string(),
                self.commit_sha.clone().unwrap_or_default(),
            ),
            (
                "digest".to_string(),
                opt(first.and_then(|i| i.digest.as_ref())),
            ),
            ("image".to_string(), image),
            (
                "images".to_string(),
                serde_json::to_string(&self.images).unwrap_or_else(|_| "[]".into()),
            ),
            (
                "previous-tag".to_string(),
                opt(first.and_then(|i| i.previous_tag.as_ref())),
            ),
            (
                "previous-digest".to_string(),
                opt(first.and_then(|i| i.previous_digest.as_ref())),
            ),
            ("files".to_string(), self.files.join("\n")),
            ("attempts".to_string(), self.attempts.to_string()),
            (
                "pull-request-url".to_string(),
                self.pull_request_url.clone().unwrap_or_default(),
            ),
            (
                "pull-request-number".to_string(),
                self.pull_request_number
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ),
        ];
        out.push((
            "skipped-reason".to_string(),
            self.skipped_reason.clone().unwrap_or_default(),
        ));
        if let Some(t) = &self.access_token {
            out.push(("access-token".to_string(), t.expose().to_string()));
        }
        out
    }

    /// Writes outputs to `GITHUB_OUTPUT`, or prints them (`key=value` or JSON).
    pub fn emit(&self, json: bool) -> Result<(), Error> {
        let entries = self.entries();
        if let Some(file) = EnvFile::from_env("GITHUB_OUTPUT") {
            return file.append_entries(&entries).map_err(|e| {
                Error::io(format!("writing outputs to {}", file.path().display()), e)
            });
        }
        if json {
            let map: serde_json::Map<String, serde_json::Value> = entries
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            println!("{}", serde_json::Value::Object(map));
        } else {
            let mut buf = Vec::new();
            for (k, v) in &entries {
                if v.contains('\n') {
                    github::write_delimited(&mut buf, &[(k.clone(), v.clone())])
                        .map_err(|e| Error::io("printing outputs", e))?;
                } else {
                    buf.extend_from_slice(format!("{k}={v}\n").as_bytes());
                }
            }
            print!("{}", String::from_utf8_lossy(&buf));
        }
        Ok(())
    }
}

/// Builds per-image outputs from the SPECs, the changes made and what the
/// registry said.
pub fn image_outputs(
    specs: &[ImageSpec],
    changes: &[Change],
    resolved: &[Resolved],
) -> Vec<ImageOutput> {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mine: Vec<&Change> = changes.iter().filter(|c| c.image == spec.name).collect();
            let mut files: Vec<String> = mine.iter().map(|c| c.file.clone()).collect();
            files.dedup();
            let new_name = match &spec.new_name {
                Some(Field::Set(n)) => n.clone(),
                _ => mine
                    .iter()
                    .find_map(|c| c.new_name.clone())
                    .unwrap_or_else(|| spec.name.clone()),
            };
            let tag = spec
                .new_tag()
                .map(str::to_string)
                .or_else(|| mine.iter().find_map(|c| c.new_tag.clone()));
            let digest = spec
                .new_digest()
                .map(|d| d.to_string())
                .or_else(|| resolved.get(i).map(|r| r.digest.clone()))
                .or_else(|| mine.iter().find_map(|c| c.new_digest.clone()));
            ImageOutput {
                name: spec.name.clone(),
                new_name,
                tag,
                digest,
                previous_tag: mine.iter().find_map(|c| c.old_tag.clone()),
                previous_digest: mine.iter().find_map(|c| c.old_digest.clone()),
                files,
                platforms: resolved
                    .get(i)
                    .map(|r| r.platforms.clone())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))
}

/// Runs the whole pipeline for a validated config.
pub fn run(config: &Config, workdir: &Path) -> Result<Outputs, Error> {
    let rt = runtime()?;
    let mut outputs = Outputs::default();

    let mut google_token = None;
    {
        // Always runs: the gates refuse untrusted events before any push,
        // with or without Google credentials.
        let shown = config.google.as_ref().map(|_| {
            crate::progress::stage("Authenticate to Google (Workload Identity Federation)")
        });
        let started = Instant::now();
        let stage = rt.block_on(crate::auth::run_stage(
            config,
            &crate::auth::StageEnv::from_env(),
        ))?;
        if let (Some(google), Some(auth)) = (&config.google, stage.google) {
            if let Some(shown) = &shown {
                shown.done("auth", started, "obtained a Google access token");
            }
            if google.token_format == TokenFormat::AccessToken {
                outputs.access_token = Some(auth.token.access_token.clone());
            }
            google_token = Some(auth.token.access_token);
        }
    }

    if let Some(reason) =
        guard::self_trigger_reason(guard::TriggerCommit::from_env()?.as_ref(), config)
    {
        guard::announce_skip(&reason);
        outputs.skipped_reason = Some(reason);
        return Ok(outputs);
    }

    let mut specs = match &config.promote {
        Some((from, to)) => {
            let stage = crate::progress::stage("Read the images to promote");
            let started = Instant::now();
            let specs = promotion_specs(config, workdir, from)?;
            stage.done(
                "promote",
                started,
                &format!("{} image(s) deployed in {}", specs.len(), from.display()),
            );
            for s in &specs {
                eprintln!(
                    "  promote {} from {} to {}",
                    s.raw,
                    from.display(),
                    to.display()
                );
            }
            specs
        }
        None => config.images.clone(),
    };
    if config.verify && !specs.is_empty() {
        let stage = crate::progress::stage("Verify images in their registries");
        let started = Instant::now();
        let references = specs
            .iter()
            .map(ImageSpec::target_reference)
            .collect::<Result<Vec<_>, _>>()?;
        let options = RegistryOptions {
            credentials: Credentials {
                explicit: config.explicit_login(),
                github_token: config.token.clone(),
                google_access_token: google_token.clone(),
                docker_config: true,
            },
            insecure_registries: config.insecure_registries.clone(),
            wait: config.wait,
            request_timeout: std::time::Duration::from_secs(30),
        };
        let resolved = rt.block_on(registry::resolve_all(
            &options,
            &references,
            &config.platforms,
            config.expected_digest.as_ref(),
        ))?;
        for r in &resolved {
            eprintln!(
                "  {}/{}{} -> {}",
                r.registry,
                r.repository,
                r.tag.as_ref().map(|t| format!(":{t}")).unwrap_or_default(),
                r.digest
            );
        }
        stage.done(
            "verify",
            started,
            &format!("{} image(s) found", resolved.len()),
        );
        specs = pin_digests(&specs, &resolved)?;
        outputs.registry = resolved;
    }

    let mut paths: Vec<PathBuf> = config.paths.clone();
    if let Some((_, to)) = &config.promote {
        paths = vec![to.clone()];
    }
    let request = EditRequest {
        specs: specs.clone(),
        values_paths: config.values_paths.clone(),
        allow_no_match: config.allow_no_match,
        max_file_size: edit::DEFAULT_MAX_FILE_SIZE,
    };
    let report: EditReport;
    if config.mode == Mode::None && config.repository.is_none() {
        let stage = crate::progress::stage("Edit manifests");
        let started = Instant::now();
        report = edit::apply(workdir, &paths, &request, !config.dry_run)?;
        stage.done(
            "edit",
            started,
            &format!("{} change(s)", report.changes.len()),
        );
    } else {
        let stage = crate::progress::stage("Edit, commit and push");
        let started = Instant::now();
        let written = write_back_stage(config, workdir, &paths, &request)?;
        let result = written.result;
        stage.done(
            "write-back",
            started,
            &match (&result.commit_sha, &written.skipped_reason) {
                (_, Some(reason)) => format!("skipped: {reason}"),
                (Some(sha), None) => format!("commit {sha} after {} attempt(s)", result.attempts),
                (None, None) => "nothing to commit".to_string(),
            },
        );
        if let Some(reason) = &written.skipped_reason {
            guard::announce_skip(reason);
        }
        outputs.skipped_reason = written.skipped_reason;
        outputs.commit_sha = result.commit_sha;
        outputs.attempts = result.attempts;
        outputs.pull_request_url = result.pull_request_url;
        outputs.pull_request_number = result.pull_request_number;
        report = result.report;
    }
    outputs.changed = !report.files.is_empty();
    outputs.files = report.files.clone();
    outputs.images = image_outputs(&specs, &report.changes, &outputs.registry);
    for c in &report.changes {
        eprintln!(
            "  {}:{}:{} {} -> {}",
            c.file, c.line, c.column, c.old, c.new
        );
        github::annotate(
            &github::Annotation::new(github::Level::Notice, format!("{} -> {}", c.old, c.new))
                .at(c.file.clone(), c.line, c.column)
                .titled(format!("gitops-bump: {}", c.image)),
        );
    }
    outputs.changes = report.changes;
    Ok(outputs)
}

/// Commits and pushes the edit: through git (default) or the GitHub API
/// (`commit-via: api`), with the newer-wins guard in push mode.
fn write_back_stage(
    config: &Config,
    workdir: &Path,
    paths: &[PathBuf],
    request: &EditRequest,
) -> Result<ApiWriteBack, Error> {
    let mut options = git::WriteBackOptions::from_env(workdir);
    options.labels = config.labels.clone();
    let run = guard::RunId::from_env();
    if config.commit_via == CommitVia::Api {
        let mut edit_fn = |root: &Path| edit::apply(root, paths, request, true);
        let message = |r: &EditReport| {
            git::commit::message(&config.commit_message, r, &options.context)
                .unwrap_or_else(|_| config.commit_message.clone())
        };
        let pr_spec =
            (config.mode == Mode::PullRequest).then(|| api_pull_request_spec(config, request));
        return Ok(api_commit::write_back_for_config(
            config,
            &Api::from_env(),
            run,
            &mut edit_fn,
            &message,
            pr_spec.as_ref(),
        )?);
    }
    let newer_wins = config.newer_wins && config.mode == Mode::Push;
    let mut skipped_reason = None;
    let mut edit_fn = |root: &Path| {
        skipped_reason = None;
        if newer_wins {
            let planned = edit::apply(root, paths, request, false)?;
            let reason = guard::stale_reason(&planned.changes, run, |c| {
                Ok::<_, EditError>(last_bumped_run(root, c))
            })?;
            if reason.is_some() {
                skipped_reason = reason;
                return Ok(EditReport::default());
            }
        }
        edit::apply(root, paths, request, true)
    };
    let result = git::write_back_with(config, &options, &mut edit_fn)?;
    Ok(ApiWriteBack {
        result,
        skipped_reason,
    })
}

/// The workflow run that last bumped a change's image in its file, from the
/// `Bumped-By-Run` trailers in history. A shallow checkout that does not
/// reach that commit gives no evidence, and the bump applies (semantic
/// version tags are ordered without history).
fn last_bumped_run(root: &Path, change: &Change) -> Option<guard::RunId> {
    let repo = git2::Repository::discover(root).ok()?;
    match guard::last_bumped_run(&repo, Path::new(&change.file), &change.image, 10_000) {
        Ok(guard::LastBump::Found { run, .. }) => Some(run),
        _ => None,
    }
}

/// Branch, title and body of an API-mode pull request.
fn api_pull_request_spec(config: &Config, request: &EditRequest) -> api_commit::PullRequestSpec {
    let images: Vec<&str> = request.specs.iter().map(|s| s.name.as_str()).collect();
    let base = config.branch.as_deref().unwrap_or("main");
    let promote_to = config
        .promote
        .as_ref()
        .map(|(_, to)| to.to_string_lossy().into_owned());
    let specs: Vec<String> = request
        .specs
        .iter()
        .map(|s| format!("- `{}`", s.raw))
        .collect();
    api_commit::PullRequestSpec {
        head_branch: git::pull_request::branch_name(base, &images, promote_to.as_deref()),
        title: format!("Bump {}", images.join(", ")),
        body: format!("Bumped by gitops-bump:\n\n{}\n", specs.join("\n")),
    }
}

/// The SPECs that set, elsewhere, exactly the images deployed in `from`
/// (`name=newName:tag@digest`). `images`, when given, selects which images to
/// promote; a tag there (`app:v1.2.3`) retags while keeping the digest, which
/// is how a release version is promoted without rebuilding.
pub fn promotion_specs(
    config: &Config,
    workdir: &Path,
    from: &Path,
) -> Result<Vec<ImageSpec>, Error> {
    let promote_err = |why: String| Error::Promote {
        from: from.display().to_string(),
        why,
    };
    if config.repository.is_some() {
        return Err(promote_err(
            "promotion reads the source overlay from the checked-out repository; leave `repository` empty and check out the GitOps repository with actions/checkout".into(),
        ));
    }
    let deployed = edit::read_images(workdir, std::slice::from_ref(&from.to_path_buf()))?;
    let mut specs: Vec<ImageSpec> = Vec::new();
    for d in &deployed {
        let spec = ImageSpec::parse(&d.spec())?;
        if specs.iter().any(|s| s.matcher == spec.matcher) {
            continue;
        }
        let filter = config.images.iter().find(|f| f.matcher == spec.matcher);
        if !config.images.is_empty() && filter.is_none() {
            continue;
        }
        let mut spec = spec;
        let retag = filter
            .and_then(|f| f.tag.clone())
            .or_else(|| config.promote_tag.clone().map(Field::Set));
        if let Some(tag) = retag {
            spec.tag = Some(tag);
        }
        if spec.digest.is_none() {
            eprintln!(
                "warning: {} in {}:{} has no digest; promoting the tag only",
                spec.raw, d.file, d.line
            );
        }
        spec.raw = spec.render();
        specs.push(spec);
    }
    if specs.is_empty() {
        let wanted: Vec<&str> = config.images.iter().map(|s| s.name.as_str()).collect();
        return Err(promote_err(if wanted.is_empty() {
            "no image references found there".into()
        } else {
            format!("none of {} is set there", wanted.join(", "))
        }));
    }
    for wanted in &config.images {
        if !specs.iter().any(|s| s.matcher == wanted.matcher) {
            return Err(promote_err(format!("{} is not set there", wanted.name)));
        }
    }
    Ok(specs)
}

/// After verification, a SPEC that gave a tag also pins the digest the
/// registry resolved, unless the user said to keep the existing digest.
fn pin_digests(specs: &[ImageSpec], resolved: &[Resolved]) -> Result<Vec<ImageSpec>, Error> {
    specs
        .iter()
        .zip(resolved)
        .map(|(spec, r)| {
            let mut s = spec.clone();
            if s.digest.is_none() {
                s.digest = Some(Field::Set(crate::reference::Digest::parse(&r.digest)?));
            }
            Ok(s)
        })
        .collect()
}

/// Where links in the summary point: `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY`.
fn repository_url() -> Option<String> {
    let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
    let repo = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .filter(|r| !r.is_empty())?;
    Some(format!("{}/{repo}", server.trim_end_matches('/')))
}

fn cell(v: Option<&String>) -> String {
    v.map_or_else(|| "–".to_string(), |s| format!("`{s}`"))
}

/// The job summary: one table row per image, the changed lines, and the
/// commit or pull request.
pub fn summary_markdown(outputs: &Outputs) -> String {
    let mut md = String::from("### gitops-bump\n\n");
    if !outputs.changed {
        md.push_str("Nothing to change: every image is already up to date.\n\n");
    }
    md.push_str("| image | tag | digest | platforms verified | files |\n|---|---|---|---|---|\n");
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
            "| `{}` | {} | {} | {} | {} |\n",
            i.new_name,
            arrow(i.previous_tag.as_ref(), i.tag.as_ref()),
            arrow(
                short(i.previous_digest.as_ref()).as_ref(),
                short(i.digest.as_ref()).as_ref()
            ),
            if i.platforms.is_empty() {
                "–".to_string()
            } else {
                i.platforms.join(", ")
            },
            if i.files.is_empty() {
                "–".to_string()
            } else {
                i.files.join("<br>")
            },
        ));
    }
    if !outputs.changes.is_empty() {
        md.push_str("\n<details><summary>Changed lines</summary>\n\n");
        for c in &outputs.changes {
            md.push_str(&format!(
                "- `{}:{}` `{}` → `{}`\n",
                c.file, c.line, c.old, c.new
            ));
        }
        md.push_str("\n</details>\n");
    }
    let base = repository_url();
    if let Some(sha) = &outputs.commit_sha {
        match &base {
            Some(b) => md.push_str(&format!(
                "\nCommit: [`{}`]({b}/commit/{sha})",
                &sha[..sha.len().min(12)]
            )),
            None => md.push_str(&format!("\nCommit: `{sha}`")),
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
        md.push_str(&format!("\nPull request: {url}\n"));
    }
    md
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
    use crate::edit::TargetKind;

    const D: &str = "sha256:9ad9fa56a286e5cd686043f0d63836d24308be21312d09e0ea969a377885bad7";

    fn change(image: &str) -> Change {
        Change {
            file: "overlays/dev/kustomization.yaml".into(),
            line: 9,
            column: 13,
            kind: TargetKind::Kustomization,
            image: image.into(),
            old: "v1".into(),
            new: "v2".into(),
            old_tag: Some("v1".into()),
            old_digest: None,
            new_name: Some("ghcr.io/org/app".into()),
            new_tag: Some("v2".into()),
            new_digest: Some(D.into()),
        }
    }

    #[test]
    fn outputs_describe_the_first_image_and_list_all() {
        let specs = vec![
            ImageSpec::parse("app=ghcr.io/org/app:v2").unwrap(),
            ImageSpec::parse("worker:v9").unwrap(),
        ];
        let images = image_outputs(&specs, &[change("app")], &[]);
        let out = Outputs {
            changed: true,
            commit_sha: Some("abc123".into()),
            images,
            files: vec!["a.yaml".into(), "b.yaml".into()],
            attempts: 2,
            ..Default::default()
        };
        let e = out.entries();
        let get = |k: &str| e.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("changed"), Some("true"));
        assert_eq!(
            get("image"),
            Some(format!("ghcr.io/org/app:v2@{D}").as_str())
        );
        assert_eq!(get("digest"), Some(D));
        assert_eq!(get("previous-tag"), Some("v1"));
        assert_eq!(get("previous-digest"), Some(""));
        assert_eq!(get("files"), Some("a.yaml\nb.yaml"));
        assert_eq!(get("attempts"), Some("2"));
        assert_eq!(get("access-token"), None, "only when asked for");
        let images: serde_json::Value = serde_json::from_str(get("images").unwrap()).unwrap();
        assert_eq!(images[1]["name"], "worker");
        assert_eq!(images[1]["tag"], "v9");
        assert_eq!(images[1]["files"], serde_json::json!([]));
    }

    #[test]
    fn access_token_output_only_when_requested() {
        let out = Outputs {
            access_token: Some(Secret::new("ya29.fake")),
            ..Default::default()
        };
        assert!(
            out.entries()
                .contains(&("access-token".to_string(), "ya29.fake".to_string()))
        );
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
