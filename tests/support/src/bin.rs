//! Our binary with a clean environment. Its path comes from the calling
//! test target (`env!("CARGO_BIN_EXE_gitops-bump")`): a library cannot see
//! the binaries of the package that uses it.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
        .env("GITHUB_ACTIONS", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    // Drained on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = err_reader.join().unwrap_or_default();
            panic!(
                "{args:?} still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}
