//! Temporary directories that must not outlive the run, even when it is
//! ended early: by the `timeout` watchdog, or by SIGINT, SIGTERM or SIGHUP
//! (a cancelled workflow run sends SIGINT, then SIGTERM). A fresh clone
//! holds the repository's files and, while a push runs, objects nobody
//! else should read; Rust runs no destructor when the process exits, so
//! the directories are registered here and removed before exiting.
//!
//! The signal listener starts with the first registration, so runs that
//! create no temporary clone pay nothing for it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static LISTENER: Once = Once::new();

/// Removes `dir` if the process is ended before [`unregister`].
pub(crate) fn register(dir: &Path) {
    if let Ok(mut dirs) = DIRS.lock() {
        dirs.push(dir.to_path_buf());
    }
    LISTENER.call_once(start_listener);
}

/// `dir` is removed by its owner (or kept on purpose) from now on.
pub(crate) fn unregister(dir: &Path) {
    if let Ok(mut dirs) = DIRS.lock() {
        dirs.retain(|d| d != dir);
    }
}

/// Removes every registered directory; called right before the process
/// exits early.
pub fn remove_all() {
    let dirs = match DIRS.lock() {
        Ok(mut dirs) => std::mem::take(&mut *dirs),
        Err(_) => return,
    };
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Waits for SIGINT, SIGTERM or SIGHUP as a task of the process's runtime,
/// whose worker thread runs it while the main thread is busy elsewhere;
/// on the first, removes the directories and exits with 128 + the signal
/// number, as a shell reports a process ended by that signal.
fn start_listener() {
    // Without the listener the directories are still removed on drop.
    let Ok(runtime) = crate::http::runtime() else {
        return;
    };
    // Registered here, not in the task: a signal that arrives right after
    // this returns is already ours.
    let _guard = runtime.enter();
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    runtime.spawn(async move {
        let number = tokio::select! {
            _ = int.recv() => 2,
            _ = term.recv() => 15,
            _ = hup.recv() => 1,
        };
        remove_all();
        crate::print::line(
            crate::print::Stream::Stderr,
            "gitops-bump: stopped by a signal; the temporary clone was removed",
        );
        std::process::exit(128 + number);
    });
}
