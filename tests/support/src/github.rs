//! The one fake GitHub (servers/fake_github.py) on a free loopback port:
//! the REST and GraphQL subset we call, backed by a real bare git
//! repository it also serves over smart HTTP ([`FakeGitHub`]), or only the
//! pull-request calls, for a repository served elsewhere
//! ([`PullRequestApi`]). Stopped on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::bare_repo::BareRepo;
use crate::process::{Server, server_script};

pub const OWNER: &str = "org";
pub const REPO: &str = "gitops";
pub const APP_ID: &str = "4242";
pub const INSTALLATION_ID: u64 = 77;
pub const STATIC_TOKEN: &str = "ghs_static_test_token_for_api_commits";
/// A token of this repository with `contents: read` only: it may clone and
/// read, and gets 403 on every write.
pub const READ_ONLY_TOKEN: &str = "ghs_read_only_token_of_org_gitops";
/// A workflow's GITHUB_TOKEN for another repository: valid, but it does
/// not reach this one.
pub const FOREIGN_TOKEN: &str = "ghs_workflow_token_of_org_ci";

/// An RSA key pair made with `openssl genrsa` for this test run.
pub struct AppKey {
    pub private_pem: String,
    pub public_path: PathBuf,
}

impl AppKey {
    pub fn generate(dir: &Path, name: &str) -> AppKey {
        let private = dir.join(format!("{name}.pem"));
        let public = dir.join(format!("{name}.pub.pem"));
        run(Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&private)
            .arg("2048"));
        run(Command::new("openssl")
            .args(["rsa", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public));
        AppKey {
            private_pem: std::fs::read_to_string(&private).unwrap(),
            public_path: public,
        }
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the fake installation allows.
pub struct Installation {
    pub installed: bool,
    pub granted: Value,
}

impl Default for Installation {
    fn default() -> Self {
        Installation {
            installed: true,
            granted: json!({"contents": "write", "pull_requests": "write", "metadata": "read"}),
        }
    }
}

/// Starts fake_github.py with `config` (written to `dir`); its state file
/// is `dir/state.json`.
fn start_server(dir: &Path, mut config: Value) -> (Server, PathBuf) {
    let state = dir.join("state.json");
    config["state"] = json!(state);
    let file = dir.join("config.json");
    std::fs::write(&file, config.to_string()).expect("write config");
    let server = Server::start(
        &server_script("fake_github.py"),
        &[file.to_str().expect("utf-8")],
        dir,
        "fake_github",
    );
    (server, state)
}

fn read_state(state: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(state).expect("state file")).expect("JSON")
}

fn list(state: &Value, key: &str) -> Vec<Value> {
    state[key].as_array().cloned().unwrap_or_default()
}

pub struct FakeGitHub {
    server: Server,
    pub url: String,
    pub repo: BareRepo,
    pub key: AppKey,
    state: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeGitHub {
    pub fn start(installation: Installation) -> FakeGitHub {
        let dir = tempfile::tempdir().unwrap();
        let repo = BareRepo::init(&dir.path().join("gitops.git"));
        let key = AppKey::generate(dir.path(), "app");
        let config = json!({
            "bare": repo.path,
            "owner": OWNER,
            "repo": REPO,
            "app_id": APP_ID,
            "public_key": key.public_path,
            "installation_id": INSTALLATION_ID,
            "installed": installation.installed,
            "granted": installation.granted,
            "static_token": STATIC_TOKEN,
            "read_only_token": READ_ONLY_TOKEN,
            "foreign_token": FOREIGN_TOKEN,
        });
        let (server, state) = start_server(dir.path(), config);
        FakeGitHub {
            url: format!("http://{}", server.addr),
            server,
            repo,
            key,
            state,
            _dir: dir,
        }
    }

    /// The server's record of tokens and requests.
    pub fn state(&self) -> Value {
        read_state(&self.state)
    }

    pub fn tokens(&self) -> Vec<Value> {
        list(&self.state(), "tokens")
    }

    /// The git smart-HTTP requests, with the user and token each carried.
    pub fn git_requests(&self) -> Vec<Value> {
        list(&self.state(), "git")
    }

    /// The API requests, oldest first: method, path, query, status,
    /// headers (lowercase names) and JSON body of each.
    pub fn requests(&self) -> Vec<Value> {
        list(&self.state(), "requests")
    }

    /// What the server printed (a Python traceback, if it failed).
    pub fn log(&self) -> String {
        self.server.process.log()
    }
}

/// How the pull-request API answers.
pub enum Answer {
    /// As GitHub does when all is well.
    Normally,
    /// Every request with this status and "Resource not accessible by
    /// integration".
    Refuse(u16),
    /// Only the call that creates a pull request, with this status and
    /// GitHub's `message` (e.g. when Actions may not create them).
    RefuseCreate(u16, &'static str),
}

/// The pull-request calls of the fake GitHub for `org/gitops`, whose git
/// repository is served elsewhere; [`crate::git_http::GIT_TOKEN`] is the
/// token it accepts. Its pull requests live at
/// `https://git.example.test/org/gitops/pull/N`.
pub struct PullRequestApi {
    server: Server,
    state: PathBuf,
    _dir: tempfile::TempDir,
}

impl PullRequestApi {
    pub fn start(answer: Answer) -> PullRequestApi {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = json!({
            "owner": OWNER,
            "repo": REPO,
            "static_token": crate::git_http::GIT_TOKEN,
            "html_base": "https://git.example.test",
        });
        match answer {
            Answer::Normally => {}
            Answer::Refuse(status) => config["fail_status"] = json!(status),
            Answer::RefuseCreate(status, message) => {
                config["fail_status"] = json!(status);
                config["create_refusal"] = json!(message);
            }
        }
        let (server, state) = start_server(dir.path(), config);
        PullRequestApi {
            server,
            state,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Requests received so far, oldest first (see [`FakeGitHub::requests`]).
    pub fn requests(&self) -> Vec<Value> {
        list(&read_state(&self.state), "requests")
    }
}
