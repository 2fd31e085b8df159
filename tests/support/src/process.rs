//! Child processes for the fault tests: the smart-HTTP git server from
//! tests/git and the fault proxy from this directory. Output goes to files
//! (no pipe can fill up); readiness is the first line, polled with a bound;
//! each process is killed and reaped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const GIT_TOKEN: &str = "ghs_faults_token_0123456789";

pub struct Script {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Script {
    /// Starts `python3 script args…` and waits for the port it prints first
    /// (`PORT` or `listening on 127.0.0.1:PORT`).
    pub fn start(script: &str, args: &[&str], dir: &Path, name: &str) -> Script {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let started = Instant::now();
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().next().filter(|_| text.contains('\n')) {
                let port = line.rsplit(':').next().unwrap_or(line).trim();
                break port.parse().expect("a port on the first line");
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{script} did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        Script { child, port, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The proxy's `REQ …` lines.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("REQ "))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `git http-backend` over every repository under `root`, Basic auth with
/// [`GIT_TOKEN`].
pub fn git_http(root: &Path) -> Script {
    Script::start(
        "tests/git/githttp.py",
        &[root.to_str().expect("utf-8"), GIT_TOKEN],
        root,
        "githttp",
    )
}

/// The fault proxy in front of `upstream` with `plan` for requests whose
/// path contains `filter`.
pub fn fault_proxy(upstream: u16, plan: &str, filter: &str, dir: &Path) -> Script {
    Script::start(
        "tests/faults/faultproxy.py",
        &[&upstream.to_string(), plan, filter],
        dir,
        "faultproxy",
    )
}
