//! A real GitOps repository for each case: a bare remote reached over
//! `file://` and a checkout of it, plus fingerprints of both so a case can
//! prove that a refused run changed nothing anywhere.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::git::{commit_all_and_push, fingerprint, git, init_bare};

/// A good Deployment for `ghcr.io/org/app`, the one every case's run targets.
pub const GOOD_MANIFEST: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/org/app:v0\n";

/// `remote.git` (bare) and `wt` (its checkout on `main`), plus `outside/`,
/// a directory next to the checkout that links may point at.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// Seeds `main` with the good manifest plus `files` (committed; a value
    /// starting with `link:` is committed as a symbolic link to the rest,
    /// where `{outside}` is replaced by the outside directory).
    pub fn seeded(files: &[(String, Vec<u8>)]) -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Repo { dir };
        std::fs::create_dir_all(repo.outside()).expect("mkdir outside");
        std::fs::write(
            repo.outside().join("secret.yaml"),
            GOOD_MANIFEST.replace("ghcr.io/org/app:v0", "ghcr.io/org/app:outside"),
        )
        .expect("write outside file");
        init_bare(&repo.remote());
        git(repo.dir.path(), &["clone", "-q", "remote.git", "wt"]);
        let wt = repo.wt();
        let mut all = vec![(
            "apps/app.yaml".to_string(),
            GOOD_MANIFEST.as_bytes().to_vec(),
        )];
        all.extend(files.iter().cloned());
        for (path, bytes) in &all {
            let file = wt.join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            match bytes.strip_prefix(b"link:") {
                Some(target) => {
                    let target = String::from_utf8_lossy(target)
                        .replace("{outside}", repo.outside().to_str().expect("utf-8"));
                    std::os::unix::fs::symlink(target, &file).expect("symlink");
                }
                None => std::fs::write(&file, bytes).expect("write"),
            }
        }
        commit_all_and_push(&wt, "seed");
        repo
    }

    pub fn wt(&self) -> PathBuf {
        self.dir.path().join("wt")
    }

    pub fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    pub fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// Fingerprints of the checkout (with `.git`), the remote and the
    /// outside directory.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            checkout: fingerprint(&self.wt()),
            remote: fingerprint(&self.remote()),
            outside: fingerprint(&self.outside()),
            refs: git(&self.remote(), &["for-each-ref"]),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    checkout: BTreeMap<String, String>,
    remote: BTreeMap<String, String>,
    outside: BTreeMap<String, String>,
    refs: String,
}

impl Snapshot {
    /// What differs, one line per path, for an assertion message.
    pub fn diff(&self, after: &Snapshot) -> String {
        let mut out = Vec::new();
        for (what, a, b) in [
            ("checkout", &self.checkout, &after.checkout),
            ("remote", &self.remote, &after.remote),
            ("outside", &self.outside, &after.outside),
        ] {
            for (k, v) in a {
                match b.get(k) {
                    None => out.push(format!("{what}: removed {k}")),
                    Some(w) if w != v => out.push(format!("{what}: changed {k}")),
                    _ => {}
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{what}: added {k}"));
            }
        }
        if self.refs != after.refs {
            out.push(format!("refs: {} -> {}", self.refs, after.refs));
        }
        out.join("\n")
    }
}
