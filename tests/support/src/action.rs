//! The binary as the action runs it (`INPUT_*`, `GITHUB_*`, output and
//! summary files) against the fake GitHub, which serves the same bare
//! repository over the API and over git smart HTTP.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use gitops_bump::actions::files::parse_delimited;

use crate::server::FakeGitHub;

const BIN: &str = env!("CARGO_BIN_EXE_gitops-bump");

/// The workflow's own repository: another than the one written.
pub const WORKFLOW_REPOSITORY: &str = "org/ci";

pub struct Run {
    pub output: Output,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
}

impl Run {
    pub fn get(&self, key: &str) -> &str {
        self.outputs.get(key).map_or("", String::as_str)
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn log(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.output.status.code(),
            String::from_utf8_lossy(&self.output.stdout),
            self.stderr()
        )
    }
}

/// Runs `gitops-bump <args>` in `dir` with `inputs`, GitHub at `server`.
pub fn run_action(server: &FakeGitHub, dir: &Path, args: &[&str], inputs: &[(&str, &str)]) -> Run {
    let output_file = dir.join("github_output");
    let summary_file = dir.join("github_step_summary");
    std::fs::write(&output_file, "").unwrap();
    std::fs::write(&summary_file, "").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env("GITHUB_REPOSITORY", WORKFLOW_REPOSITORY)
        .env("GITHUB_SERVER_URL", &server.url)
        .env("GITHUB_API_URL", &server.url)
        .env("GITHUB_EVENT_NAME", "push")
        .env("GITHUB_RUN_ID", "77")
        .env("GITHUB_RUN_NUMBER", "12")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("INPUT_INSECURE-GIT-ORIGINS", &server.url);
    for (k, v) in inputs {
        cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    let output = cmd.output().unwrap();
    let outputs = parse_delimited(&std::fs::read_to_string(&output_file).unwrap())
        .into_iter()
        .collect();
    Run {
        output,
        outputs,
        summary: std::fs::read_to_string(&summary_file).unwrap(),
    }
}
