//! How a stage shows it is running: a `::group::` in GitHub Actions, a
//! spinner (indicatif) on an interactive terminal, nothing otherwise. The
//! result line each stage prints is plain text in all three cases.
//!
//! [`stage`] is the one way a stage runs: the pipeline names its stages and
//! says what each found, this module decides how that looks.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::actions;

/// How a stage shows itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// A stage of its own: a group or a spinner, then its result line.
    Stage,
    /// Inside another stage: its result line only (Actions groups do not
    /// nest, and one spinner is enough).
    Inner,
    /// Not at all.
    Quiet,
}

/// Runs one stage: shows `title`, runs `run`, and prints the result line
/// `name: RESULT (N ms)`, RESULT being `result` of what `run` returned. A
/// failing stage prints no result line: its error is reported once, by
/// `main`.
pub(crate) fn stage<T, E>(
    show: Show,
    name: &str,
    title: &str,
    run: impl FnOnce() -> Result<T, E>,
    result: impl FnOnce(&T) -> String,
) -> Result<T, E> {
    let shown = match show {
        Show::Quiet => return run(),
        Show::Inner => Shown::inner(),
        Show::Stage => Shown::start(title),
    };
    let started = Instant::now();
    let value = run()?;
    shown.done(name, started, &result(&value));
    Ok(value)
}

/// A running stage; closes its group or clears its spinner when dropped.
struct Shown {
    _group: Option<actions::Group>,
    spinner: Option<ProgressBar>,
}

impl Shown {
    /// Starts showing `title`.
    fn start(title: &str) -> Shown {
        if actions::in_actions() {
            return Shown {
                _group: Some(actions::group(title)),
                spinner: None,
            };
        }
        let spinner = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
                bar.set_style(style);
            }
            bar.set_message(crate::print::neutralise(title, false));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Shown {
            _group: None,
            spinner,
        }
    }

    /// A stage run inside another: only its result line is shown.
    fn inner() -> Shown {
        Shown {
            _group: None,
            spinner: None,
        }
    }

    /// Prints the stage's one result line (after clearing the spinner, so the
    /// line is not torn by it).
    fn done(&self, name: &str, started: Instant, what: &str) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
        crate::print::line(
            crate::print::Stream::Stderr,
            &format!("{name}: {what} ({} ms)", started.elapsed().as_millis()),
        );
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
    }
}
