//! A temporary GitOps tree and a way to run the CLI in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
pub const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A directory of files, removed on drop.
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub fn new(files: &[(&str, &str)]) -> Tree {
        let tree = Tree {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for (path, text) in files {
            tree.write(path, text);
        }
        tree
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text.replace("{D1}", D1).replace("{D2}", D2)).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read")
    }

    /// Every file's bytes, to prove nothing was written.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.root().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("list").flatten() {
                let ft = e.file_type().expect("type");
                if ft.is_dir() {
                    stack.push(e.path());
                } else if ft.is_file() {
                    out.push((e.path(), std::fs::read(e.path()).expect("read")));
                }
            }
        }
        out.sort();
        out
    }

    /// Runs `gitops-bump set-image ARGS` with the tree as working directory.
    pub fn set_image(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{D1}", D1).replace("{D2}", D2))
            .collect();
        Command::new(env!("CARGO_BIN_EXE_gitops-bump"))
            .arg("set-image")
            .args(&args)
            .current_dir(self.root())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_OUTPUT")
            .output()
            .expect("run gitops-bump")
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `kubectl kustomize DIR`, the oracle for what a kustomization renders.
pub fn kustomize_build(dir: &Path) -> String {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        stderr(&out)
    );
    stdout(&out)
}
