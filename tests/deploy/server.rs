//! Starts fake_argocd.py (the Argo CD API server and a simulated
//! controller polling a real bare repository) on a free loopback port, and
//! stops it on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A token allowed to get every Application.
pub const TOKEN: &str = "argocd-ci-token-3f9a1c7e5b2d";
/// A valid token whose account may get no Application.
pub const NO_ACCESS_TOKEN: &str = "argocd-other-token-8e2b4d6f";

/// One Application and how its deploys go.
pub struct AppSpec {
    pub name: &'static str,
    pub scenario: &'static str,
    pub labels: Value,
}

impl AppSpec {
    pub fn new(name: &'static str, scenario: &'static str) -> AppSpec {
        AppSpec {
            name,
            scenario,
            labels: json!({"app.kubernetes.io/part-of": "shop"}),
        }
    }
}

pub struct FakeArgoCd {
    child: Child,
    pub url: String,
    state: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeArgoCd {
    /// Serves `apps` for the repository `bare` (branch main), polling it
    /// every `poll` like the application controller.
    pub fn start(bare: &Path, poll: Duration, apps: &[AppSpec]) -> FakeArgoCd {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let config = dir.path().join("config.json");
        let apps: serde_json::Map<String, Value> = apps
            .iter()
            .map(|a| {
                (
                    a.name.to_string(),
                    json!({"scenario": a.scenario, "labels": a.labels,
                           "sync_delay": 0.2, "health_delay": 0.3}),
                )
            })
            .collect();
        std::fs::write(
            &config,
            json!({
                "bare": bare,
                "branch": "main",
                "poll_interval": poll.as_secs_f64(),
                "tokens": {TOKEN: ["*"], NO_ACCESS_TOKEN: []},
                "apps": apps,
                "state": state,
            })
            .to_string(),
        )
        .unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deploy/fake_argocd.py");
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
            panic!("fake Argo CD did not print its port: {line:?}")
        });
        let server = FakeArgoCd {
            child,
            url: format!("http://127.0.0.1:{port}"),
            state,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.state.exists() {
            assert!(Instant::now() < deadline, "fake Argo CD never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    /// The refresh requests received (`{"app", "type", "at"}`).
    pub fn refreshes(&self) -> Vec<Value> {
        self.state()["refreshes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for FakeArgoCd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
