//! When to checkpoint and when to stop: `--resume` / `--checkpoint-every`, the signals that ask a
//! run to checkpoint and exit (SIGUSR1, SIGTERM), the exit status that says so, and the named
//! points where the tests stop a process with SIGKILL.

use super::super::error::ExperimentError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Exit status of a run stopped by SIGUSR1 or SIGTERM after writing its checkpoint
/// (`EX_TEMPFAIL`: run it again with `--resume`).
pub const EXIT_STOPPED: u8 = 75;

/// How often a checkpoint is written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Every {
    /// After every `n` observed epochs.
    Epochs(usize),
    /// After the first epoch that ends at least this many seconds after the last checkpoint (or
    /// the start).
    Seconds(f64),
    /// Only when a signal asks the run to stop.
    Off,
}

impl Every {
    /// `5m`, `90s`, `2h`, `3e` (epochs) or `off`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "off" {
            return Ok(Every::Off);
        }
        let bad = || format!("{s:?}: expected a number with a unit (30s, 5m, 2h, 3e) or off");
        let (num, unit) = s.split_at(s.len().saturating_sub(1));
        let v: f64 = num.parse().map_err(|_| bad())?;
        if !(v.is_finite() && v > 0.0) {
            return Err(bad());
        }
        match unit {
            "s" => Ok(Every::Seconds(v)),
            "m" => Ok(Every::Seconds(60.0 * v)),
            "h" => Ok(Every::Seconds(3600.0 * v)),
            "e" if v.fract() == 0.0 => Ok(Every::Epochs(v as usize)),
            _ => Err(bad()),
        }
    }
}

/// `--resume` and `--checkpoint-every`, for the figure binaries that train
/// (`#[command(flatten)]` them).
#[derive(Clone, Debug, clap::Args)]
pub struct CheckpointArgs {
    /// Continue from the newest valid checkpoint in --out (from the beginning when there is
    /// none); refused when the checkpoint belongs to another configuration, scale, seed, shard or
    /// commit.
    #[arg(long)]
    pub resume: bool,
    /// How often to checkpoint: 5m (minutes of work), 90s, 2h, 3e (epochs) or off (only on
    /// SIGUSR1 / SIGTERM).
    #[arg(long, default_value = "5m", value_parser = Every::parse)]
    pub checkpoint_every: Every,
}

impl Default for CheckpointArgs {
    fn default() -> Self {
        CheckpointArgs {
            resume: false,
            checkpoint_every: Every::Seconds(300.0),
        }
    }
}

fn stop_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Turn SIGUSR1 and SIGTERM into a request to checkpoint at the next safe point (the end of an
/// epoch) and exit with [`EXIT_STOPPED`].
pub fn install_stop_handlers() -> Result<(), ExperimentError> {
    for sig in [signal_hook::consts::SIGUSR1, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(stop_flag())).map_err(|e| {
            ExperimentError::InvalidConfig(format!(
                "cannot install the handler of signal {sig}: {e}"
            ))
        })?;
    }
    Ok(())
}

/// Whether a signal asked the run to stop.
pub fn stop_requested() -> bool {
    stop_flag().load(Ordering::SeqCst)
}

/// The environment variable naming where a test stops the process: `POINT:N`, the N-th time
/// (from 1) the process passes `POINT` (`epoch`: an epoch trained, before its MI solve; `mi`:
/// after the solve, before the checkpoint decision; `ckpt-tmp`: a checkpoint's temporary file
/// complete, not yet renamed; `ckpt-swap`: between the two renames).
pub const KILL_AT_ENV: &str = "REPLICA_MI_KILL_AT";

/// Pass the named point; kill the process with SIGKILL here when [`KILL_AT_ENV`] says so.
pub fn kill_point(point: &str) {
    static TARGET: OnceLock<Option<(String, usize)>> = OnceLock::new();
    static SEEN: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());
    let target = TARGET.get_or_init(|| {
        let v = std::env::var(KILL_AT_ENV).ok()?;
        let (p, n) = v.split_once(':')?;
        Some((p.to_string(), n.parse().ok()?))
    });
    let Some((p, n)) = target else { return };
    if p != point {
        return;
    }
    let Ok(mut seen) = SEEN.lock() else { return };
    let count = match seen.iter_mut().find(|(q, _)| q == point) {
        Some(e) => {
            e.1 += 1;
            e.1
        }
        None => {
            seen.push((point.to_string(), 1));
            1
        }
    };
    if count == *n {
        let _ = signal_hook::low_level::raise(signal_hook::consts::SIGKILL);
    }
}

/// The exit status of a figure binary's `main`: 0, [`EXIT_STOPPED`] for a run stopped by a
/// signal after its checkpoint, 1 for any other error (printed as anyhow prints it).
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:?}");
            let stopped = e
                .downcast_ref::<ExperimentError>()
                .is_some_and(|e| matches!(e, ExperimentError::Stopped { .. }));
            std::process::ExitCode::from(if stopped { EXIT_STOPPED } else { 1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_their_units() {
        assert_eq!(Every::parse("5m"), Ok(Every::Seconds(300.0)));
        assert_eq!(Every::parse("90s"), Ok(Every::Seconds(90.0)));
        assert_eq!(Every::parse("2h"), Ok(Every::Seconds(7200.0)));
        assert_eq!(Every::parse("3e"), Ok(Every::Epochs(3)));
        assert_eq!(Every::parse("off"), Ok(Every::Off));
        for bad in ["", "5", "0m", "-1s", "1.5e", "5x", "nanm"] {
            assert!(Every::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
