//! Git and file-tree helpers shared by the test targets: the reference git
//! CLI, seeding a bare remote through a clone, and walking a tree without
//! following links (for fingerprints and leak scans).
//!
//! Included with `#[path = "../support/git.rs"]`; no target uses all of it.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Runs the git CLI (the reference client) and returns its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Seeder",
            "-c",
            "user.email=seed@example.test",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Creates an empty bare repository at `bare` whose default branch is `main`.
pub fn init_bare(bare: &Path) {
    std::fs::create_dir_all(bare).expect("mkdir bare");
    git(bare, &["init", "-q", "--bare", "-b", "main"]);
}

/// Commits everything in the checkout `clone` with `message` and pushes it
/// to `main` on its origin.
pub fn commit_all_and_push(clone: &Path, message: &str) {
    git(clone, &["add", "-A"]);
    git(clone, &["commit", "-q", "-m", message]);
    git(clone, &["push", "-q", "origin", "HEAD:main"]);
}

/// Every entry under `root` (directories included, links never followed)
/// with its own metadata, or the error reading it. Unreadable directories
/// are skipped: what cannot be listed cannot be compared or scanned.
pub fn walk_no_follow(root: &Path) -> Vec<(PathBuf, std::io::Result<Metadata>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path);
            if meta.as_ref().is_ok_and(Metadata::is_dir) {
                stack.push(path.clone());
            }
            out.push((path, meta));
        }
    }
    out
}

/// Every entry under `root` by relative path: the SHA-256 of a regular
/// file's bytes (size, mtime and inode for files over 1 MiB, which are
/// sparse test files), a link's target, or the kind of a special file.
/// Links and special files are never followed or opened.
pub fn fingerprint(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (path, meta) in walk_no_follow(root) {
        let rel = path
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        // libgit2 truncates FETCH_HEAD on every fetch whatever the
        // options say (as `git fetch` does); it is bookkeeping, not data.
        if rel == ".git/FETCH_HEAD" {
            continue;
        }
        let meta = meta.expect("metadata");
        let kind = meta.file_type();
        let value = if kind.is_symlink() {
            format!(
                "link:{}",
                std::fs::read_link(&path).expect("readlink").display()
            )
        } else if kind.is_dir() {
            "dir".to_string()
        } else if kind.is_fifo() {
            "fifo".to_string()
        } else if kind.is_char_device() || kind.is_block_device() || kind.is_socket() {
            "special".to_string()
        } else if meta.len() > 1 << 20 {
            format!("big:{}:{}:{}", meta.len(), meta.mtime_nsec(), meta.ino())
        } else {
            let mut bytes = Vec::new();
            std::fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .expect("read");
            format!("{:x}:{:o}", Sha256::digest(&bytes), meta.mode())
        };
        out.insert(rel, value);
    }
    out
}
