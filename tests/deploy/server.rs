//! Starts fake_argocd.py from tests/support/servers (the Argo CD API
//! server and a simulated controller polling a real bare repository) on a
//! free loopback port; it is killed and reaped on drop.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::process::{Process, server_script};

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
    /// Killed and reaped on drop.
    #[allow(dead_code)]
    process: Process,
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
        let mut process = Process::python(
            &server_script("fake_argocd.py"),
            &[config.to_str().unwrap()],
            dir.path(),
            "fake_argocd",
        );
        let addr = process.wait_for_address();
        let server = FakeArgoCd {
            process,
            url: format!("http://{addr}"),
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
