//! Real `gitops-bump run` processes, started the way a runner starts a
//! step (a clean environment, `INPUT_*` variables, a `GITHUB_OUTPUT` file
//! of its own) and waited for with a bound. Each is a
//! [`test_support::Process`]: its output goes to files, so no pipe can fill
//! up while dozens of runs race, and it is killed if the test ends first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use test_support::runner::read_env_file;
use test_support::{Process, bin};

use crate::BIN;

/// One process to start: where it runs and what it is given on top of the
/// base environment.
pub struct Launch {
    /// Names the process in failure messages (`process 7`, `run 205`).
    pub label: String,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// `INPUT_VERIFY=false`, `INPUT_TIMEOUT=10m`, `INPUT_IMAGES` and
    /// `INPUT_PATHS`, plus `inputs` (kebab-case names) and `env` (as is).
    pub fn new(
        label: String,
        cwd: PathBuf,
        image: &str,
        path: &str,
        inputs: &[(&str, &str)],
    ) -> Launch {
        let mut env = vec![
            ("INPUT_IMAGES".to_string(), image.to_string()),
            ("INPUT_PATHS".to_string(), path.to_string()),
            ("INPUT_VERIFY".to_string(), "false".to_string()),
            ("INPUT_TIMEOUT".to_string(), "10m".to_string()),
        ];
        env.extend(
            inputs
                .iter()
                .map(|(k, v)| (format!("INPUT_{}", k.to_uppercase()), v.to_string())),
        );
        Launch { label, cwd, env }
    }

    pub fn with(mut self, key: &str, value: &str) -> Launch {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
}

pub struct Running {
    label: String,
    process: Process,
    output: PathBuf,
    started: Instant,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

/// What a finished (or killed) run left behind.
pub struct Finished {
    pub label: String,
    /// `None`: killed by a signal, or by us after the time limit.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub outputs: BTreeMap<String, String>,
    /// Why `GITHUB_OUTPUT` could not be read the runner's way, if it could not.
    pub output_error: Option<String>,
    pub stderr: String,
    pub took: Duration,
}

impl Finished {
    pub fn output(&self, key: &str) -> &str {
        self.outputs.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn changed(&self) -> bool {
        self.output("changed") == "true"
    }

    /// One line for a failure message: exit code, the outputs that matter
    /// and the end of stderr.
    pub fn describe(&self) -> String {
        let tail: Vec<&str> = self.stderr.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{} ({:.1} s): exit {}{}, changed={:?}, attempts={:?}, commit-sha={:?}, skipped-reason={:?}{}; stderr: {}",
            self.label,
            self.took.as_secs_f64(),
            self.code.map_or("by signal".to_string(), |c| c.to_string()),
            if self.timed_out {
                " (killed: too slow)"
            } else {
                ""
            },
            self.output("changed"),
            self.output("attempts"),
            self.output("commit-sha"),
            self.output("skipped-reason"),
            self.output_error
                .as_ref()
                .map(|e| format!(", GITHUB_OUTPUT unreadable: {e}"))
                .unwrap_or_default(),
            tail.join(" | ")
        )
    }
}

/// Starts `gitops-bump run` for `launch`; its files (`output.txt`,
/// `run.out`, `run.err`, `home/`) go to `files`, its temporary clones to
/// `tmpdir`.
pub fn spawn(launch: &Launch, files: &Path, tmpdir: &Path) -> Running {
    let home = files.join("home");
    std::fs::create_dir_all(&home).expect("mkdir home");
    std::fs::create_dir_all(&launch.cwd).expect("mkdir cwd");
    let output = files.join("output.txt");
    let _ = std::fs::remove_file(&output);
    let mut cmd = bin(BIN, &home);
    cmd.current_dir(&launch.cwd)
        .arg("run")
        .env("TMPDIR", tmpdir)
        .env("GITHUB_OUTPUT", &output);
    for (k, v) in &launch.env {
        cmd.env(k, v);
    }
    Running {
        label: launch.label.clone(),
        process: Process::spawn(cmd, files, "run"),
        output,
        started: Instant::now(),
    }
}

/// Waits for every run, killing those still going after `limit` (counted
/// from now); each is reaped.
pub fn wait_all(mut runs: Vec<Running>, limit: Duration) -> Vec<Finished> {
    let deadline = Instant::now() + limit;
    let mut done: Vec<Option<Finished>> = runs.iter().map(|_| None).collect();
    loop {
        let mut pending = 0;
        for (slot, run) in done.iter_mut().zip(runs.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            match run.process.try_wait() {
                Some(status) => *slot = Some(finish(run, status.code(), false)),
                None if Instant::now() > deadline => {
                    run.process.kill();
                    *slot = Some(finish(run, None, true));
                }
                None => pending += 1,
            }
        }
        if pending == 0 {
            return done.into_iter().map(|f| f.expect("finished")).collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(run: &Running, code: Option<i32>, timed_out: bool) -> Finished {
    let text = std::fs::read_to_string(&run.output).unwrap_or_default();
    let (outputs, output_error) = match read_env_file(&text) {
        Ok(pairs) => (pairs.into_iter().collect(), None),
        Err(e) => (BTreeMap::new(), Some(e)),
    };
    Finished {
        label: run.label.clone(),
        code,
        timed_out,
        outputs,
        output_error,
        stderr: std::fs::read_to_string(&run.process.stderr).unwrap_or_default(),
        took: run.started.elapsed(),
    }
}

/// Starts one run and waits for it.
pub fn run_one(launch: &Launch, files: &Path, tmpdir: &Path, limit: Duration) -> Finished {
    let running = spawn(launch, files, tmpdir);
    wait_all(vec![running], limit).pop().expect("one run")
}
