//! The outputs stage: what a run reports as step outputs, and writing them
//! to `GITHUB_OUTPUT` (or printing them outside Actions); the job summary
//! is [`summary`].

mod summary;

use serde::Serialize;

use crate::actions::{self, Annotation, EnvFile, Level};
use crate::edit::{Change, EditReport};
use crate::error::Error;
use crate::print::{self, Stream};
use crate::registry::Resolved;
use crate::secret::Secret;
use crate::spec::{Field, ImageSpec};

pub use summary::write_summary;

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
    /// The repository the commit was written to (`owner/name`), which may
    /// be another than the workflow's: the summary links the commit there.
    pub repository: Option<String>,
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
    /// The Google project later steps get (`project-id` input or the
    /// service account's project); the output is set only when known.
    pub project_id: Option<String>,
    /// What the wait for the deploy saw, when one was asked for.
    pub deploy: Option<crate::deploy::DeployOutcome>,
}

impl Outputs {
    /// The outputs as `(name, value)` pairs, names as in `action.yml`.
    pub(crate) fn entries(&self) -> Vec<(String, String)> {
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
                self.pull_request_url
                    .clone()
                    .filter(|u| is_http_url(u))
                    .unwrap_or_default(),
            ),
            (
                "pull-request-number".to_string(),
                self.pull_request_number
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ),
        ];
        // A sentence of ours that may quote history (a commit's author):
        // made one safe line like anything we print.
        out.push((
            "skipped-reason".to_string(),
            self.skipped_reason
                .as_deref()
                .map(|r| print::neutralise(r, false))
                .unwrap_or_default(),
        ));
        if let Some(t) = &self.access_token {
            out.push(("access-token".to_string(), t.expose().to_string()));
        }
        if let Some(p) = &self.project_id {
            out.push(("project-id".to_string(), p.clone()));
        }
        if let Some(d) = &self.deploy {
            out.extend(d.report.entries());
        }
        out
    }

    /// Records what the write-back did, and returns the edit as applied on
    /// the tip that was finally written (see [`Outputs::record_edit`]).
    pub(crate) fn record_write_back(
        &mut self,
        result: crate::write_back::WriteBackResult,
    ) -> EditReport {
        self.skipped_reason = result.skipped_reason;
        self.commit_sha = result.commit_sha;
        self.repository = result.repository;
        self.attempts = result.attempts;
        self.pull_request_url = result.pull_request_url;
        self.pull_request_number = result.pull_request_number;
        result.report
    }

    /// Records what the edit changed, as applied on the tip that was
    /// finally written: the files, each image's old and new values, and
    /// every edited scalar.
    pub(crate) fn record_edit(&mut self, specs: &[ImageSpec], report: EditReport) {
        self.changed = !report.files.is_empty();
        self.files = report.files;
        self.images = image_outputs(specs, &report.changes, &self.registry);
        self.changes = report.changes;
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
            print::json(Stream::Stdout, &serde_json::Value::Object(map));
        } else {
            // One line per output; a list (`files`) shows its line breaks
            // escaped, like any other text we print.
            for (k, v) in &entries {
                if k == "access-token" {
                    print::line_revealing(Stream::Stdout, &format!("{k}={v}"));
                } else {
                    print::line(Stream::Stdout, &format!("{k}={v}"));
                }
            }
        }
        Ok(())
    }
}

/// After a failed write-back the attempts made are still written to
/// `GITHUB_OUTPUT` (with `changed: false`); outside Actions the error is
/// what is shown.
pub(crate) fn emit_failed(attempts: u32) -> Result<(), Error> {
    let entries = [
        ("changed".to_string(), "false".to_string()),
        ("attempts".to_string(), attempts.to_string()),
    ];
    append_to_step(&entries)
}

/// Appends `entries` to `GITHUB_OUTPUT` when it is set; nothing otherwise.
pub fn append_to_step(entries: &[(String, String)]) -> Result<(), Error> {
    match EnvFile::from_env("GITHUB_OUTPUT") {
        Some(file) => file
            .append_entries(entries)
            .map_err(|e| Error::io(format!("writing outputs to {}", file.path().display()), e)),
        None => Ok(()),
    }
}

/// Shows each edited scalar: a line on stderr, and in Actions a notice
/// annotation on the file and line.
pub(crate) fn show_changes(changes: &[Change]) {
    for c in changes {
        let (old, new) = (print::value(&c.old), print::value(&c.new));
        print::line(
            Stream::Stderr,
            &format!("  {}:{}:{} {old} -> {new}", c.file, c.line, c.column),
        );
        actions::annotate(
            &Annotation::new(Level::Notice, format!("{old} -> {new}"))
                .at(c.file.clone(), c.line, c.column)
                .titled(format!("gitops-bump: {}", c.image)),
        );
    }
}

/// Reports a run a guard stopped: a `::notice` in Actions and a line on
/// stderr. The caller sets `changed=false` and the `skipped-reason` output.
pub(crate) fn announce_skip(reason: &str) {
    print::line(Stream::Stderr, &format!("skipped: {reason}"));
    actions::annotate(&Annotation::new(Level::Notice, reason).titled("gitops-bump"));
}

/// An `http(s)://` URL of printable ASCII without quotes, spaces, `<>`,
/// backticks or `$`: what the GitHub API answers for a pull request. Any
/// other answer is not passed on as an output.
fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'<>`$\\{}|^".contains(&b))
}

/// Builds per-image outputs from the SPECs, the changes made and what the
/// registry said.
pub(crate) fn image_outputs(
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::edit::TargetKind;

    pub(crate) const D: &str =
        "sha256:9ad9fa56a286e5cd686043f0d63836d24308be21312d09e0ea969a377885bad7";

    pub(crate) fn change(image: &str) -> Change {
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
    fn a_pull_request_url_is_passed_on_only_when_it_is_one() {
        let cases = [
            ("https://github.com/org/repo/pull/7", true),
            ("http://127.0.0.1:8080/org/repo/pull/7", true),
            (
                "https://github.com/org/repo/pull/7\n::set-output name=x::1",
                false,
            ),
            ("https://e.example/$(curl e.example)", false),
            ("javascript:alert(1)", false),
        ];
        for (url, passed) in cases {
            let out = Outputs {
                pull_request_url: Some(url.into()),
                ..Default::default()
            };
            let e = out.entries();
            let got = e.iter().find(|(k, _)| k == "pull-request-url").unwrap();
            assert_eq!(got.1 == url, passed, "{url:?}");
        }
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
}
