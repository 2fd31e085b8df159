//! Our binary with a clean environment. Its path comes from the calling
//! test target (`env!("CARGO_BIN_EXE_gitops-bump")`): a library cannot see
//! the binaries of the package that uses it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::process::Process;

/// `bin` with nothing of the test's environment but `PATH`, and `HOME` set
/// to `home`: what a run sees is what the test gives it.
pub fn bin(bin: &str, home: &Path) -> Command {
    let mut command = Command::new(bin);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(Stdio::null());
    command
}

/// Runs `bin` in `dir` as a step in Actions (`GITHUB_ACTIONS=true`, no
/// terminal prompts, `HOME` next to `dir`) with `env` added, killing it if
/// it has not finished after `limit`.
pub fn run_bin(
    bin_path: &str,
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
    limit: Duration,
) -> Output {
    let home = dir.parent().expect("parent").join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut cmd = bin(bin_path, &home);
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GITHUB_ACTIONS", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Output goes to files, so a chatty child never blocks on a full pipe.
    let logs = tempfile::tempdir().expect("temp dir");
    let mut child = Process::spawn(cmd, logs.path(), "run");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill();
            panic!(
                "{args:?} still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&std::fs::read(&child.stderr).unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: std::fs::read(&child.stdout).expect("read stdout"),
        stderr: std::fs::read(&child.stderr).expect("read stderr"),
    }
}
