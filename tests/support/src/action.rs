//! The binary as the action runs it: `INPUT_*` and `GITHUB_*` variables,
//! the output and summary files read back by the runner's rules
//! ([`crate::runner::read_env_file`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use crate::bin::bin;
use crate::github::FakeGitHub;
use crate::runner::read_env_file;

/// The workflow's own repository: another than the one written.
pub const WORKFLOW_REPOSITORY: &str = "org/ci";

/// One finished step.
pub struct Run {
    pub output: Output,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
}

impl Run {
    /// The step output `key`, or "" when it was not set.
    pub fn get(&self, key: &str) -> &str {
        self.outputs.get(key).map_or("", String::as_str)
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Exit code, stdout and stderr, for an assertion message.
    pub fn log(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.output.status.code(),
            String::from_utf8_lossy(&self.output.stdout),
            self.stderr()
        )
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.output.status.code(), Some(0), "{}", self.log());
        self
    }
}

/// Runs `cmd` as a step whose `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`
/// are fresh files in `files`, and reads them back.
pub fn run_step(mut cmd: Command, files: &Path) -> Run {
    let output_file = files.join("github_output");
    let summary_file = files.join("github_step_summary");
    std::fs::write(&output_file, "").expect("write output file");
    std::fs::write(&summary_file, "").expect("write summary file");
    let output = cmd
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .output()
        .expect("binary runs");
    let text = std::fs::read_to_string(&output_file).expect("read output file");
    let outputs = read_env_file(&text)
        .unwrap_or_else(|e| panic!("the runner cannot read GITHUB_OUTPUT: {e}\n{text}"))
        .into_iter()
        .collect();
    Run {
        output,
        outputs,
        summary: std::fs::read_to_string(&summary_file).expect("read summary file"),
    }
}

/// Runs `bin_path <args>` in `dir` with `inputs`, GitHub at `server`, from
/// a push to [`WORKFLOW_REPOSITORY`].
pub fn run_action(
    bin_path: &str,
    server: &FakeGitHub,
    dir: &Path,
    args: &[&str],
    inputs: &[(&str, &str)],
) -> Run {
    let mut cmd = bin(bin_path, dir);
    cmd.args(args)
        .current_dir(dir)
        .env("GITHUB_ACTIONS", "true")
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
    run_step(cmd, dir)
}
