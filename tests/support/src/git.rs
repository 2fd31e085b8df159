//! Git and file-tree helpers: the reference git CLI (the one way the tests
//! run it), seeding a bare remote through a clone, and walking a tree
//! without following links (for fingerprints and leak scans).

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

/// Runs the git CLI (the reference client) in `dir` (a checkout or a bare
/// repository), asserts it succeeded and returns its stdout, trimmed.
/// Commits are by "Seeder" unless `args` or the environment say otherwise.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_with(dir, args, &[], None)
}

/// [`git`] with extra environment variables (`GIT_INDEX_FILE`, an author)
/// and, when given, `input` on its stdin.
pub fn git_with(dir: &Path, args: &[&str], env: &[(&str, &str)], input: Option<&[u8]>) -> String {
    let mut command = command(dir, args);
    command
        .envs(env.iter().copied())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("git runs");
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(bytes).expect("git reads its input");
    }
    let out = child.wait_with_output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What [`git`] would run, with its outcome left to the caller: for a
/// question (is this an ancestor?) or a check retried until it passes.
pub fn git_output(dir: &Path, args: &[&str]) -> Output {
    command(dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("git runs")
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
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
        .env("GIT_TERMINAL_PROMPT", "0");
    command
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
