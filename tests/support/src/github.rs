//! Starts fake_github.py on a free loopback port, backed by a real bare git
//! repository, and stops it on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::repo::BareRepo;

pub const OWNER: &str = "org";
pub const REPO: &str = "gitops";
pub const APP_ID: &str = "4242";
pub const INSTALLATION_ID: u64 = 77;
pub const STATIC_TOKEN: &str = "ghs_static_test_token_for_api_commits";
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

pub struct FakeGitHub {
    child: Child,
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
        let state = dir.path().join("state.json");
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            json!({
                "bare": repo.path,
                "owner": OWNER,
                "repo": REPO,
                "app_id": APP_ID,
                "public_key": key.public_path,
                "installation_id": INSTALLATION_ID,
                "installed": installation.installed,
                "granted": installation.granted,
                "static_token": STATIC_TOKEN,
                "foreign_token": FOREIGN_TOKEN,
                "state": state,
            })
            .to_string(),
        )
        .unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crossrepo/fake_github.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fake GitHub did not print its port: {line:?}")
        });
        let server = FakeGitHub {
            child,
            url: format!("http://127.0.0.1:{port}"),
            repo,
            key,
            state,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    /// Bounded wait for the listening socket (the port is printed after bind,
    /// so this normally succeeds at once).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = self.url.trim_start_matches("http://").to_string();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "fake GitHub never accepted connections"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's record of tokens and requests.
    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    pub fn tokens(&self) -> Vec<Value> {
        self.state()["tokens"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The git smart-HTTP requests, with the user and token each carried.
    pub fn git_requests(&self) -> Vec<Value> {
        self.state()["git"].as_array().cloned().unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state()["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
