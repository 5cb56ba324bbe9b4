//! Progress: what an experiment reports as it goes ([`Progress`]), and the one place that draws
//! it ([`progress_bar`], used by the figure driver, [`crate::experiment::driver`]).
//!
//! The experiments (`fig2`, `fig3`, `fig4`, `figs2`) and the training they call know nothing of
//! terminals: they take a `&dyn Progress` and say how many steps there are, which step they are
//! on and what it is. The figure binaries hand them a bar drawn on stderr (or a hidden one, with
//! `--quiet`, under `CI`, or when stderr is not a terminal); a library caller hands [`Silent`].

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where an experiment reports its progress. Every method takes `&self` (a report never fails
/// and never changes the computation).
pub trait Progress {
    /// The run has `len` steps in all.
    fn set_length(&self, len: u64);
    /// `n` more steps are done.
    fn inc(&self, n: u64);
    /// What the current step is (`"relu sigma=0.316"`, `"n = 80, seed 2019"`).
    fn set_message(&self, msg: String);
}

/// No report (library callers, tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn set_length(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn set_message(&self, _: String) {}
}

impl Progress for ProgressBar {
    fn set_length(&self, len: u64) {
        ProgressBar::set_length(self, len);
    }
    fn inc(&self, n: u64) {
        ProgressBar::inc(self, n);
    }
    fn set_message(&self, msg: String) {
        ProgressBar::set_message(self, msg);
    }
}

/// A progress bar of `len` steps on stderr (`visible = false`: hidden, every call a no-op).
pub fn progress_bar(len: u64, prefix: &str, visible: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    if visible {
        pb.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta}) {msg}",
        ) {
            pb.set_style(style);
        }
    }
    pb.set_prefix(prefix.to_string());
    pb
}
