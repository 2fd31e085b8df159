//! The one child-process guard. A server's output goes to files in its
//! directory (no pipe can fill up and stall it); readiness is the address
//! it prints, polled with a bound; the process is killed and reaped on drop
//! (on this kind of machine nothing else reaps orphans).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to print its address.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The Python servers shipped with this crate (`tests/support/servers`).
pub fn server_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("servers")
        .join(name)
}

/// A child process that dies with its owner.
pub struct Process {
    child: Child,
    name: String,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Process {
    /// Starts `command` with stdin closed and stdout/stderr written to
    /// `NAME.out` and `NAME.err` in `dir`.
    pub fn spawn(mut command: Command, dir: &Path, name: &str) -> Process {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Process {
            child,
            name: name.to_string(),
            stdout,
            stderr,
        }
    }

    /// `python3 script args…`, started like [`Process::spawn`].
    pub fn python(script: &Path, args: &[&str], dir: &Path, name: &str) -> Process {
        let mut command = Command::new("python3");
        command.arg(script).args(args);
        Process::spawn(command, dir, name)
    }

    /// Waits until the process has printed where it listens and returns
    /// that `host:port`: `listening on 127.0.0.1:PORT` anywhere in its
    /// output, or a first stdout line that is only a port.
    pub fn wait_for_address(&mut self) -> String {
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if let Some(addr) = self.printed_address() {
                return addr;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}: {}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "{} did not start within {READY_TIMEOUT:?}: {}",
            self.name,
            self.log()
        );
    }

    fn printed_address(&self) -> Option<String> {
        for file in [&self.stdout, &self.stderr] {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            if let Some(rest) = text.split("listening on ").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                if addr.contains(':') {
                    return Some(addr);
                }
            }
        }
        let text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let (first, _) = text.split_once('\n')?;
        let port: u16 = first.trim().parse().ok()?;
        Some(format!("127.0.0.1:{port}"))
    }

    /// Its process id (to signal it).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited (then it is reaped).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name))
    }

    /// Kills it now and reaps it (what dropping it does).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the process printed so far, stdout then stderr.
    pub fn log(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("{out}{err}")
    }

    /// The lines of its output that start with `prefix`, in order.
    pub fn lines_starting_with(&self, prefix: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Python server from `servers/` (or any script path) that prints its
/// address and then serves until dropped.
pub struct Server {
    pub process: Process,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub port: u16,
}

impl Server {
    /// Starts `python3 script args…` in `dir` and waits for its address.
    pub fn start(script: &Path, args: &[&str], dir: &Path, name: &str) -> Server {
        let mut process = Process::python(script, args, dir, name);
        let addr = process.wait_for_address();
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name} printed no port: {addr}"));
        Server {
            process,
            addr,
            port,
        }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// The `REQ …` lines a proxy or recorder logged, oldest first.
    pub fn requests(&self) -> Vec<String> {
        self.process.lines_starting_with("REQ ")
    }
}
