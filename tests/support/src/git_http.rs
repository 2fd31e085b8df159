//! Real servers on 127.0.0.1 for the git tests: `git http-backend` behind
//! Basic auth, and a stand-in for the GitHub REST API. Each is a child
//! process on a port chosen by the kernel, killed and reaped on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const GIT_TOKEN: &str = "ghs_test_token_0123456789";
/// May clone and fetch; pushing answers 403.
pub const READ_ONLY_TOKEN: &str = "ghs_read_only_token_98765";

/// A python3 script from this directory, started with `args`; it prints the
/// port it bound and then serves.
pub struct ScriptServer {
    child: Child,
    pub port: u16,
}

impl ScriptServer {
    fn start(script: &str, args: &[&str]) -> ScriptServer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/git")
            .join(script);
        let mut child = Command::new("python3")
            .arg(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        // One line, written as soon as the socket is bound.
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server prints its port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} did not print a port: {line:?}")
        });
        ScriptServer { child, port }
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Smart-HTTP git over `root`; any user name, password [`GIT_TOKEN`].
pub struct GitHttp {
    pub server: ScriptServer,
}

impl GitHttp {
    pub fn start(root: &Path) -> GitHttp {
        let root = root.to_str().expect("utf-8 temp path");
        GitHttp {
            server: ScriptServer::start("githttp.py", &[root, GIT_TOKEN, READ_ONLY_TOKEN]),
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.server.port)
    }
}

/// The GitHub REST API subset; every request lands in `log` as JSON.
pub struct GitHubApi {
    pub server: ScriptServer,
    pub log: PathBuf,
}

impl GitHubApi {
    /// `fail_status` != 0 answers every request with that status.
    pub fn start(dir: &Path, fail_status: u16) -> GitHubApi {
        let log = dir.join("api-requests.jsonl");
        let status = fail_status.to_string();
        GitHubApi {
            server: ScriptServer::start("githubapi.py", &[log.to_str().expect("utf-8"), &status]),
            log,
        }
    }

    /// Answers only the call that creates a pull request, with `status`
    /// and GitHub's `message`.
    pub fn refusing_create(dir: &Path, status: u16, message: &str) -> GitHubApi {
        let log = dir.join("api-requests.jsonl");
        let status = status.to_string();
        GitHubApi {
            server: ScriptServer::start(
                "githubapi.py",
                &[log.to_str().expect("utf-8"), &status, message],
            ),
            log,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// Requests received so far, oldest first.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line is JSON"))
            .collect()
    }
}
