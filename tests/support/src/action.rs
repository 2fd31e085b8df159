//! The action as a runner runs it: `INPUT_*` and `GITHUB_*` variables, the
//! environment files (`GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_STATE`,
//! `GITHUB_STEP_SUMMARY`) read back by the runner's rules
//! ([`crate::runner::read_env_file`]), an event payload at
//! `GITHUB_EVENT_PATH`.
//!
//! Either the binary itself as a step ([`run_step`], [`run_action`]), or
//! the packaged entry `node dist/index.js` from a copy of `dist/` holding
//! the binary built from this checkout ([`ActionDir`]), step after step of
//! one job ([`Job`]) with the `post:` step and the saved state.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::bin::bin;
use crate::github::FakeGitHub;
use crate::runner::read_env_file;

/// The workflow's own repository: another than the one written.
pub const WORKFLOW_REPOSITORY: &str = "org/ci";

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One finished step: exit status and logs, and the environment files.
pub struct Step {
    pub output: Output,
    pub outputs: BTreeMap<String, String>,
    /// What the step exported through `GITHUB_ENV`.
    pub env: BTreeMap<String, String>,
    /// What the step saved through `GITHUB_STATE`, in order.
    pub state: Vec<(String, String)>,
    pub summary: String,
}

impl Step {
    /// The step output `key`, or "" when it was not set.
    pub fn get(&self, key: &str) -> &str {
        self.outputs.get(key).map_or("", String::as_str)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Exit code, stdout, stderr and summary, for an assertion message.
    pub fn log(&self) -> String {
        format!(
            "exit {:?}\nstdout:\n{}\nstderr:\n{}\nsummary:\n{}",
            self.output.status.code(),
            self.stdout(),
            self.stderr(),
            self.summary
        )
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.output.status.code(), Some(0), "{}", self.log());
        self
    }
}

/// An environment file as the runner reads it; a file it cannot read
/// fails the test, as it fails the step.
fn read_file_command(path: &Path) -> Vec<(String, String)> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    read_env_file(&text).unwrap_or_else(|e| {
        panic!(
            "the runner cannot read {}: {e}\n{text}",
            path.file_name().unwrap_or_default().to_string_lossy()
        )
    })
}

/// Runs `cmd` as a step whose `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`
/// are fresh files in `files`, and reads them back.
pub fn run_step(mut cmd: Command, files: &Path) -> Step {
    let output_file = files.join("github_output");
    let summary_file = files.join("github_step_summary");
    fs::write(&output_file, "").expect("write output file");
    fs::write(&summary_file, "").expect("write summary file");
    let output = cmd
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .output()
        .expect("binary runs");
    Step {
        output,
        outputs: read_file_command(&output_file).into_iter().collect(),
        env: BTreeMap::new(),
        state: Vec::new(),
        summary: fs::read_to_string(&summary_file).expect("read summary file"),
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
) -> Step {
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

/// The packaged action's `dist/` in this checkout.
fn dist() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../dist")).to_path_buf()
}

/// A copy of `dist/` with our binary registered for linux-x64 in the manifest.
pub struct ActionDir {
    pub dir: tempfile::TempDir,
}

impl ActionDir {
    /// `bin_path`: the binary to package (the calling target's
    /// `env!("CARGO_BIN_EXE_gitops-bump")`). `tamper`: record a wrong
    /// checksum, which the entry must refuse.
    pub fn new(bin_path: &str, tamper: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dist_copy = dir.path().join("dist");
        fs::create_dir_all(dist_copy.join("bin")).unwrap();
        for f in ["index.js", "post.js"] {
            fs::copy(dist().join(f), dist_copy.join(f)).unwrap();
        }
        let bin = dist_copy.join("bin/gitops-bump-linux-x64");
        fs::copy(bin_path, &bin).unwrap();
        let mut sha = hex(&Sha256::digest(fs::read(&bin).unwrap()));
        if tamper {
            sha = sha.replace(&sha[..1], if sha.starts_with('0') { "1" } else { "0" });
        }
        let manifest = serde_json::json!({
            "version": "test",
            "binaries": { "linux-x64": { "file": "bin/gitops-bump-linux-x64", "sha256": sha } }
        });
        fs::write(dist_copy.join("checksums.json"), manifest.to_string()).unwrap();
        ActionDir { dir }
    }

    /// `node dist/index.js` in `cwd` with only `envs` and the runner's basics.
    pub fn run(&self, envs: &[(&str, &str)], cwd: &Path) -> Output {
        let mut cmd = Command::new("node");
        cmd.arg(self.dir.path().join("dist/index.js"))
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

/// One job on a runner: its RUNNER_TEMP, HOME, the variables every step
/// gets, and what earlier steps exported through `GITHUB_ENV` (which the
/// runner passes to every later step of the job).
pub struct Job {
    root: tempfile::TempDir,
    pub temp: PathBuf,
    pub home: PathBuf,
    base: Vec<(String, String)>,
    exported: Mutex<Vec<(String, String)>>,
    steps: Mutex<usize>,
}

impl Job {
    /// `base`: variables of every step (GITHUB_REPOSITORY, server URLs…).
    pub fn new(base: &[(&str, &str)]) -> Job {
        let root = tempfile::tempdir().unwrap();
        let temp = root.path().join("_temp");
        let home = root.path().join("home");
        fs::create_dir_all(&temp).unwrap();
        fs::create_dir_all(&home).unwrap();
        Job {
            temp,
            home,
            base: base
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            exported: Mutex::new(Vec::new()),
            steps: Mutex::new(0),
            root,
        }
    }

    /// A directory of this job (a checkout, a layout…).
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// What earlier steps exported through `GITHUB_ENV`.
    pub fn exported(&self, key: &str) -> Option<String> {
        self.exported
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// `uses: ./` with `inputs` in `workspace`, on `event` (name, payload),
    /// with `extra` variables (step `env:`).
    pub fn step(
        &self,
        action: &ActionDir,
        workspace: &Path,
        event: (&str, &serde_json::Value),
        inputs: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Step {
        let n = {
            let mut steps = self.steps.lock().unwrap();
            *steps += 1;
            *steps
        };
        let file = |name: &str| {
            let p = self.temp.join(format!("_runner_file_commands/{name}_{n}"));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "").unwrap();
            p
        };
        let (output_file, env_file, state_file, summary_file) = (
            file("set_output"),
            file("set_env"),
            file("save_state"),
            file("step_summary"),
        );
        let event_file = self.temp.join(format!("_github_workflow/event_{n}.json"));
        fs::create_dir_all(event_file.parent().unwrap()).unwrap();
        fs::write(&event_file, event.1.to_string()).unwrap();
        let mut envs: Vec<(String, String)> = vec![
            ("HOME".into(), self.home.display().to_string()),
            ("RUNNER_TEMP".into(), self.temp.display().to_string()),
            ("GITHUB_WORKSPACE".into(), workspace.display().to_string()),
            ("GITHUB_OUTPUT".into(), output_file.display().to_string()),
            ("GITHUB_ENV".into(), env_file.display().to_string()),
            ("GITHUB_STATE".into(), state_file.display().to_string()),
            (
                "GITHUB_STEP_SUMMARY".into(),
                summary_file.display().to_string(),
            ),
            ("GITHUB_EVENT_NAME".into(), event.0.into()),
            ("GITHUB_EVENT_PATH".into(), event_file.display().to_string()),
        ];
        envs.extend(self.base.iter().cloned());
        envs.extend(self.exported.lock().unwrap().iter().cloned());
        envs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // The runner's naming: INPUT_ + the name upper-cased, `-` kept.
        envs.extend(
            inputs
                .iter()
                .map(|(k, v)| (format!("INPUT_{}", k.to_uppercase()), v.to_string())),
        );
        let borrowed: Vec<(&str, &str)> =
            envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let output = action.run(&borrowed, workspace);
        let env = read_file_command(&env_file);
        self.exported.lock().unwrap().extend(env.iter().cloned());
        Step {
            output,
            outputs: read_file_command(&output_file).into_iter().collect(),
            env: env.into_iter().collect(),
            state: read_file_command(&state_file),
            summary: fs::read_to_string(&summary_file).unwrap(),
        }
    }

    /// The action's `post:` step (`node dist/post.js`) with the state a
    /// main step saved, as the runner runs it at the end of the job.
    pub fn post(&self, action: &ActionDir, state: &[(String, String)]) -> Output {
        Command::new("node")
            .arg(action.dir.path().join("dist/post.js"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUNNER_TEMP", &self.temp)
            .envs(state.iter().map(|(k, v)| (format!("STATE_{k}"), v)))
            .output()
            .unwrap()
    }
}
