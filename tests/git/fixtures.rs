//! Repositories, configs and a small deterministic edit for the git tests.

use std::path::{Path, PathBuf};

use gitops_bump::config::{Config, RawInputs, WriteBackOptions};
use gitops_bump::edit::{Change, EditReport, TargetKind};
use gitops_bump::workspace::WorkspaceError;
use gitops_bump::write_back::git::{GitHubContext, WriteBackSite};

pub use test_support::git::git;
use test_support::git::{commit_all_and_push, init_bare};

/// A manifest line for `image` at `tag`.
pub fn image_line(image: &str, tag: &str) -> String {
    format!("          image: {image}:{tag}")
}

/// A Deployment-like manifest holding `images`, each at `v0`.
pub fn manifest(images: &[&str]) -> String {
    let mut out = String::from(
        "# deployed by gitops-bump tests\napiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n",
    );
    for image in images {
        let name = image.rsplit('/').next().unwrap_or(image);
        out.push_str(&format!(
            "        - name: {name}\n{}\n",
            image_line(image, "v0")
        ));
    }
    out
}

/// A bare repository `org/gitops.git` under a temp root, with one commit
/// on `main` holding `files`.
pub struct Origin {
    pub dir: tempfile::TempDir,
}

impl Origin {
    pub fn seeded(files: &[(&str, String)]) -> Origin {
        let dir = tempfile::tempdir().expect("temp dir");
        let bare = dir.path().join("org/gitops.git");
        init_bare(&bare);
        git(&bare, &["config", "http.receivepack", "true"]);
        let origin = Origin { dir };
        let seed = origin.dir.path().join("seed");
        git(
            origin.dir.path(),
            &[
                "clone",
                "-q",
                origin.bare().to_str().expect("utf-8"),
                "seed",
            ],
        );
        for (path, text) in files {
            let file = seed.join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(file, text).expect("write");
        }
        commit_all_and_push(&seed, "seed");
        origin
    }

    pub fn bare(&self) -> PathBuf {
        self.dir.path().join("org/gitops.git")
    }

    pub fn file_url(&self) -> String {
        format!("file://{}", self.bare().display())
    }

    pub fn tip(&self, branch: &str) -> String {
        git(
            &self.bare(),
            &["rev-parse", &format!("refs/heads/{branch}")],
        )
    }

    pub fn commit_count(&self, branch: &str) -> usize {
        git(
            &self.bare(),
            &["rev-list", "--count", &format!("refs/heads/{branch}")],
        )
        .parse()
        .expect("a count")
    }

    pub fn show(&self, rev_path: &str) -> String {
        git(&self.bare(), &["show", rev_path])
    }

    /// Commits `file` with `text` on `main` from a separate clone, as
    /// another pipeline would.
    pub fn push_from_elsewhere(&self, file: &str, edit: impl Fn(&str) -> String) {
        let other = tempfile::tempdir().expect("temp dir");
        git(
            other.path(),
            &["clone", "-q", self.bare().to_str().expect("utf-8"), "c"],
        );
        let clone = other.path().join("c");
        let path = clone.join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, edit(&text)).expect("write");
        git(&clone, &["commit", "-q", "-am", "another pipeline"]);
        git(&clone, &["push", "-q", "origin", "HEAD:main"]);
    }

    /// A regular clone (what actions/checkout leaves), `depth` 1 if asked.
    pub fn checkout(&self, shallow: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args = vec!["clone", "-q"];
        if shallow {
            args.extend(["--depth", "1"]);
        }
        let url = self.file_url();
        args.extend([url.as_str(), "."]);
        git(dir.path(), &args);
        dir
    }
}

/// The write-back section of a validated config from `(input, value)`
/// pairs; verification is off.
pub fn config(pairs: &[(&str, &str)]) -> WriteBackOptions {
    let mut raw = RawInputs::default();
    raw.set("images", "ghcr.io/org/app:v1".into());
    raw.set("verify", "false".into());
    raw.set("labels", "gitops-bump,deploy".into());
    raw.set(
        "commit-message",
        "chore(deploy): bump {summary} [skip ci]".into(),
    );
    for (k, v) in pairs {
        raw.set(k, v.to_string());
        // The local smart-HTTP servers speak plain HTTP: allow the token there.
        if *k == "repository" && v.starts_with("http://") {
            raw.set("insecure-git-origins", v.to_string());
        }
    }
    Config::from_raw(&raw).expect("valid config").write_back
}

/// Options for a test run: explicit work dir, a fake run context, a short
/// backoff so contention tests finish quickly.
pub fn options(workdir: &Path, api_url: &str) -> WriteBackSite {
    WriteBackSite {
        workdir: workdir.to_path_buf(),
        context: GitHubContext {
            server_url: "https://git.example.test".into(),
            api_url: api_url.into(),
            repository: Some("org/gitops".into()),
            run_id: Some("4242".into()),
            sha: Some("0123abcd".into()),
            run: None,
        },
    }
}

/// One bump the test edit performs: in `file`, the line `image: IMAGE:…`
/// becomes `image: IMAGE:TAG`. Only that line is touched.
#[derive(Debug, Clone)]
pub struct Bump {
    pub file: String,
    pub image: String,
    pub tag: String,
}

impl Bump {
    pub fn new(file: &str, image: &str, tag: &str) -> Bump {
        Bump {
            file: file.into(),
            image: image.into(),
            tag: tag.into(),
        }
    }
}

/// The edit: a pure function of the files under `root`, like the real engine.
pub fn apply_bumps(root: &Path, bumps: &[Bump]) -> Result<EditReport, WorkspaceError> {
    let mut report = EditReport::default();
    for bump in bumps {
        let path = root.join(&bump.file);
        let text = std::fs::read_to_string(&path).expect("manifest exists");
        let prefix = format!("image: {}:", bump.image);
        let mut changed = false;
        let mut out = String::with_capacity(text.len());
        for (n, line) in text.split_inclusive('\n').enumerate() {
            let trimmed = line.trim_start();
            let body = trimmed.trim_end_matches('\n');
            if let Some(old_tag) = body.strip_prefix(&prefix)
                && old_tag != bump.tag
            {
                let indent = &line[..line.len() - trimmed.len()];
                let new = format!("{}:{}", bump.image, bump.tag);
                out.push_str(&format!("{indent}image: {new}\n"));
                report.changes.push(Change {
                    file: bump.file.clone(),
                    line: n + 1,
                    column: indent.len() + 8,
                    kind: TargetKind::Workload,
                    image: bump.image.clone(),
                    old: format!("{}:{old_tag}", bump.image),
                    new,
                    old_tag: Some(old_tag.to_string()),
                    old_digest: None,
                    new_name: None,
                    new_tag: Some(bump.tag.clone()),
                    new_digest: None,
                });
                changed = true;
            } else {
                out.push_str(line);
            }
        }
        if changed {
            std::fs::write(&path, out).expect("write");
            if !report.files.contains(&bump.file) {
                report.files.push(bump.file.clone());
            }
        }
    }
    report.files.sort();
    Ok(report)
}

/// The tag `image` has in `text`, if any.
pub fn tag_in(text: &str, image: &str) -> Option<String> {
    let prefix = format!("image: {image}:");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&prefix).map(str::to_string))
}
