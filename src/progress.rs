//! How a stage shows it is running: a `::group::` in GitHub Actions, a
//! spinner (indicatif) on an interactive terminal, nothing otherwise. The
//! result line each stage prints is plain text in all three cases.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::actions;

/// A running stage; closes its group or clears its spinner when dropped.
pub struct Stage {
    _group: Option<actions::Group>,
    spinner: Option<ProgressBar>,
}

/// Starts showing `title`.
pub fn stage(title: &str) -> Stage {
    if actions::in_actions() {
        return Stage {
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
    Stage {
        _group: None,
        spinner,
    }
}

/// A stage run inside another: only its result line is shown (Actions
/// groups do not nest, and one spinner is enough).
pub fn inner_stage() -> Stage {
    Stage {
        _group: None,
        spinner: None,
    }
}

impl Stage {
    /// Prints the stage's one result line (after clearing the spinner, so the
    /// line is not torn by it).
    pub fn done(&self, name: &str, started: std::time::Instant, what: &str) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
        crate::print::line(
            crate::print::Stream::Stderr,
            &format!("{name}: {what} ({} ms)", started.elapsed().as_millis()),
        );
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
    }
}
