//! Faults: broken servers and killed processes. A run either succeeds
//! (after bounded retries) or fails with a clear message; it never leaves a
//! partial push (the branch holds the old commit or the complete new one,
//! `git fsck` passes on the remote), never hangs past its `timeout`, and a
//! re-run completes the bump.

use std::path::Path;
use std::time::{Duration, Instant};

use test_support::fixture::Repo;
use test_support::git::git_output;
use test_support::git_http::{GIT_TOKEN, GitHttp, fault_proxy};
use test_support::process::Server;
use test_support::{Process, bin, git, run_bin};

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

/// Generous bound on any single run; a run still going is killed and the
/// test fails.
const HANG: Duration = Duration::from_secs(90);

fn inputs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![
        ("images", "ghcr.io/org/app:v1"),
        ("verify", "false"),
        ("paths", "apps"),
    ];
    all.extend_from_slice(pairs);
    all.iter()
        .map(|(k, v)| (format!("INPUT_{}", k.to_uppercase()), v.to_string()))
        .collect()
}

/// The tag of `ghcr.io/org/app` in `apps/app.yaml` at `rev` in the remote.
fn remote_tag(repo: &Repo, rev: &str) -> String {
    let text = git(&repo.remote(), &["show", &format!("{rev}:apps/app.yaml")]);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("image: ghcr.io/org/app:"))
        .expect("the manifest names the image")
        .to_string()
}

/// The remote is intact and its branch is either `old` or one complete
/// commit on top of it that bumps to `tag`. Returns whether it moved.
/// The server may still be finishing a push the killed client started (its
/// receive-pack is its own process), so the remote is checked once it has
/// settled: fsck is retried for a bounded time before it counts as corrupt.
fn assert_old_or_new(repo: &Repo, old: &str, tag: &str, what: &str) -> bool {
    let settle = std::time::Instant::now();
    let fsck = loop {
        let fsck = git_output(&repo.remote(), &["fsck", "--strict", "--no-dangling"]);
        if fsck.status.success() || settle.elapsed() > Duration::from_secs(10) {
            break fsck;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        fsck.status.success(),
        "{what}: git fsck on the remote: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let tip = git(&repo.remote(), &["rev-parse", "refs/heads/main"]);
    if tip == old {
        return false;
    }
    assert_eq!(
        git(&repo.remote(), &["rev-parse", "refs/heads/main^"]),
        old,
        "{what}: one commit on top of the old tip"
    );
    assert_eq!(remote_tag(repo, "main"), tag, "{what}");
    true
}

/// An HTTP-served repository and a fault proxy in front of it.
struct HttpRemote {
    repo: Repo,
    _git: GitHttp,
    proxy: Server,
}

impl HttpRemote {
    fn start(plan: &str, filter: &str) -> HttpRemote {
        let repo = Repo::seeded(&[]);
        git(&repo.remote(), &["config", "http.receivepack", "true"]);
        let git_server = GitHttp::start(repo.dir.path());
        let proxy = fault_proxy(git_server.port, plan, filter, repo.dir.path());
        HttpRemote {
            repo,
            _git: git_server,
            proxy,
        }
    }

    /// Runs the binary against `url` from an empty directory.
    fn run(&self, url: &str, tag: &str, extra: &[(&str, &str)]) -> std::process::Output {
        let image = format!("ghcr.io/org/app:{tag}");
        let mut pairs = vec![
            ("repository", url),
            ("token", GIT_TOKEN),
            ("insecure-git-origins", url),
            ("images", image.as_str()),
        ];
        pairs.extend_from_slice(extra);
        let cwd = self.repo.dir.path().join("runner");
        std::fs::create_dir_all(&cwd).expect("mkdir");
        run_bin(BIN, &cwd, &["run"], &inputs(&pairs), HANG)
    }
}

#[test]
fn git_server_faults_fail_clearly_or_land_completely() {
    // (what, plan, path filter, what stderr must say when the run fails)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "connection dropped on the first request",
            "drop",
            "",
            "could not reach",
        ),
        ("503 on the ref advertisement", "503", "", "503"),
        ("500 on the ref advertisement", "500", "", "500"),
        ("502 on every request", "502*", "", "502"),
        ("429 with Retry-After", "429", "", "429"),
        ("truncated ref advertisement", "truncate", "", "error: "),
        (
            "truncated pack download",
            "truncate",
            "git-upload-pack",
            "error: ",
        ),
        ("dropped fetch", "pass,drop", "git-upload-pack", "error: "),
        (
            "503 on the push advertisement",
            "503",
            "git-receive-pack",
            "503",
        ),
        (
            "push request dropped before the server saw it",
            "pass,drop",
            "git-receive-pack",
            "error: ",
        ),
        (
            "push answer truncated after the server applied it",
            "pass,truncate",
            "git-receive-pack",
            "error: ",
        ),
        (
            "push answer 502 after the server applied it",
            "pass,pass,502",
            "git-receive-pack",
            "error: ",
        ),
        (
            "server stalls past the timeout",
            "stall",
            "",
            "gave up after 3 s",
        ),
        (
            "push stalls past the timeout",
            "pass,stall",
            "git-receive-pack",
            "gave up after 3 s",
        ),
    ];
    let mut landed = 0;
    for (n, (what, plan, filter, says)) in cases.iter().enumerate() {
        let remote = HttpRemote::start(plan, filter);
        let old = git(&remote.repo.remote(), &["rev-parse", "refs/heads/main"]);
        let tag = format!("v{}", n + 10);
        let started = Instant::now();
        let out = remote.run(&remote.proxy.url("remote.git"), &tag, &[("timeout", "3s")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        let moved = assert_old_or_new(&remote.repo, &old, &tag, what);
        match out.status.code() {
            Some(0) => {
                assert!(moved, "{what}: success must mean the commit landed");
                landed += 1;
            }
            Some(1) => {
                assert!(stderr.contains(says), "{what}: wants {says:?}:\n{stderr}");
                assert!(stderr.contains("hint: "), "{what}: {stderr}");
                assert!(!stderr.contains(GIT_TOKEN), "{what}: token leaked");
            }
            other => panic!("{what}: exit {other:?}: {stderr}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: the timeout bounds the run"
        );
        // A re-run without faults completes the bump (or finds it done).
        let again = remote.run(&remote._git.url("remote.git"), &tag, &[]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "{what}: re-run: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(remote_tag(&remote.repo, "main"), tag, "{what}: re-run");
        assert!(
            !remote.proxy.requests().is_empty(),
            "{what}: the fault proxy saw the run"
        );
    }
    eprintln!(
        "{} git faults survived, {landed} landed despite the fault",
        cases.len()
    );
}

/// A git server's passing trouble on a read (a 5xx, a 429 with
/// `Retry-After`, a dropped connection) is retried and the bump lands; the
/// push itself is never sent twice, since the server may have applied it.
#[test]
fn transient_read_failures_are_retried_and_a_push_is_sent_once() {
    // (what, plan, path filter, lands)
    let cases: &[(&str, &str, &str, bool)] = &[
        ("503 on the first request", "503", "", true),
        (
            "429 with Retry-After on the fetch",
            "429",
            "git-upload-pack",
            true,
        ),
        (
            "connection dropped on the fetch",
            "pass,drop",
            "git-upload-pack",
            true,
        ),
        (
            "503 on the push advertisement",
            "503",
            "git-receive-pack",
            true,
        ),
        ("502 on the push", "pass,502", "git-receive-pack", false),
    ];
    for (n, (what, plan, filter, lands)) in cases.iter().enumerate() {
        let remote = HttpRemote::start(plan, filter);
        let old = git(&remote.repo.remote(), &["rev-parse", "refs/heads/main"]);
        let tag = format!("t{n}");
        let out = remote.run(&remote.proxy.url("remote.git"), &tag, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), *lands, "{what}: {stderr}");
        assert_eq!(
            assert_old_or_new(&remote.repo, &old, &tag, what),
            *lands,
            "{what}"
        );
        let requests = remote.proxy.requests();
        let pushes = requests
            .iter()
            .filter(|r| r.starts_with("REQ POST") && r.contains("/git-receive-pack"))
            .count();
        assert_eq!(pushes, 1, "{what}: {requests:?}");
        if !lands {
            assert!(
                stderr.contains("answered HTTP 502 to push to")
                    && stderr.contains("re-run the job"),
                "{what}: {stderr}"
            );
        }
    }
}

/// Kills `gitops-bump run` with SIGKILL at random points of the write-back
/// to a smart-HTTP remote, as in production: the server's receive-pack runs
/// in its own process. (Over `file://`, libgit2 writes the remote's refs
/// in-process, so a kill could leave the remote's own ref lock behind, which
/// no real server would.) The branch is always the old or the complete new
/// commit, and a re-run in the same checkout completes the bump.
#[test]
fn sigkill_during_write_back_never_corrupts_the_remote() {
    let iterations: u32 = std::env::var("FAULTS_KILL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let repo = Repo::seeded(&[]);
    git(&repo.remote(), &["config", "http.receivepack", "true"]);
    let server = GitHttp::start(repo.dir.path());
    git(
        &repo.wt(),
        &["remote", "set-url", "origin", &server.url("remote.git")],
    );
    // The killed runs' output, kept out of the repository.
    let logs = tempfile::tempdir().expect("temp dir");
    let mut killed_before = 0;
    let mut killed_after = 0;
    for i in 0..iterations {
        let old = git(&repo.remote(), &["rev-parse", "refs/heads/main"]);
        let tag = format!("k{i}");
        let image = format!("ghcr.io/org/app:{tag}");
        let origin = server.url("");
        let env = inputs(&[
            ("images", &image),
            ("token", GIT_TOKEN),
            ("insecure-git-origins", &origin),
        ]);
        let mut cmd = bin(BIN, repo.dir.path());
        cmd.current_dir(repo.wt()).arg("run");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = Process::spawn(cmd, logs.path(), "killed");
        let delay = Duration::from_millis(rand::random_range(0..=300));
        std::thread::sleep(delay);
        child.kill();
        let what = format!("kill {i} after {delay:?}");
        if assert_old_or_new(&repo, &old, &tag, &what) {
            killed_after += 1;
        } else {
            killed_before += 1;
        }
        let out = run_bin(BIN, &repo.wt(), &["run"], &env, HANG);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: re-run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(remote_tag(&repo, "main"), tag, "{what}: re-run landed");
    }
    eprintln!(
        "{iterations} kills: {killed_before} before the push landed, {killed_after} after; every re-run completed"
    );
    assert!(Path::new(&repo.remote()).exists());
}
