//! Run records: what produced a CSV, written beside it as `<name>.provenance.json`.
//!
//! A record holds the experiment's configuration (any `Serialize` struct), the seed and scale,
//! the crate version, the git commit of the working tree at run time (`"unknown"` outside a
//! checkout), the device, the training engine (figures that train) and the start and end times (UTC, seconds since the Unix epoch and an
//! RFC 3339 string formatted here from the civil-from-days algorithm, no time crate).

use super::cli::Scale;
use super::error::ExperimentError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A point in time, UTC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (fractional: milliseconds).
    pub unix_seconds: f64,
    /// The same instant as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub utc: String,
}

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_unix_millis(d.as_millis() as i64)
    }

    /// From milliseconds since the Unix epoch (negative: before 1970).
    pub fn from_unix_millis(ms: i64) -> Self {
        let secs = ms.div_euclid(1000);
        let millis = ms.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Timestamp {
            unix_seconds: ms as f64 / 1000.0,
            utc: format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
                sod / 3600,
                (sod / 60) % 60,
                sod % 60
            ),
        }
    }
}

/// `(year, month, day)` of the day `days` after 1970-01-01 (proleptic Gregorian calendar;
/// H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The commit of the git checkout the process runs in (`git rev-parse HEAD`), `"unknown"` when
/// git or the checkout is unavailable.
pub fn git_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether tracked files differ from `HEAD` (`git status --porcelain --untracked-files=no`);
/// `None` when git is unavailable.
pub fn git_dirty() -> Option<bool> {
    Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty())
}

/// Started when an experiment starts; [`RunClock::finish`] turns it into a [`RunRecord`].
#[derive(Clone, Debug)]
pub struct RunClock {
    started: Timestamp,
    instant: Instant,
}

impl RunClock {
    pub fn start() -> Self {
        RunClock {
            started: Timestamp::now(),
            instant: Instant::now(),
        }
    }

    /// Seconds since [`RunClock::start`].
    pub fn elapsed_seconds(&self) -> f64 {
        self.instant.elapsed().as_secs_f64()
    }

    /// The record of a run that ends now.
    pub fn finish<C: Serialize>(
        &self,
        name: &str,
        config: C,
        seed: u64,
        scale: Scale,
    ) -> RunRecord<C> {
        RunRecord {
            name: name.to_string(),
            config,
            seed,
            scale,
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit(),
            git_dirty: git_dirty(),
            device: "cpu".to_string(),
            engine: None,
            command_line: std::env::args().collect(),
            started: self.started.clone(),
            finished: Timestamp::now(),
            elapsed_seconds: self.elapsed_seconds(),
            merged_from: None,
            resumed_from: Vec::new(),
        }
    }
}

/// Everything needed to trace the numbers of one output back to their origin.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord<C: Serialize> {
    /// The experiment (`fig2`, ...).
    pub name: String,
    /// The experiment's full configuration.
    pub config: C,
    pub seed: u64,
    pub scale: Scale,
    /// `CARGO_PKG_VERSION` of the binary.
    pub crate_version: String,
    /// `git rev-parse HEAD` at run time, or `"unknown"`.
    pub git_commit: String,
    /// Whether tracked files had uncommitted changes (`None`: unknown).
    pub git_dirty: Option<bool>,
    /// Where networks were trained (`"cpu"`, `"cuda:N"`; `"cpu"` for runs that train none). The
    /// replica estimator and the exact values are always computed in f64 on the host.
    pub device: String,
    /// The engine that computed the training steps ([`crate::nn::EngineKind::name`]:
    /// `"cpu-engine"` or `"candle-autograd"`; both, comma-separated, if a run used both; `mixed:
    /// ...` for merged shards that disagree); absent for a run that trains nothing (Figure 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The process's arguments.
    pub command_line: Vec<String>,
    pub started: Timestamp,
    pub finished: Timestamp,
    /// Wall-clock duration (monotonic clock; of a merged run: from the earliest shard start to
    /// the merge).
    pub elapsed_seconds: f64,
    /// The shards a merged output was joined from (`<figure> merge`); absent for a run in one
    /// process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<Vec<super::shard::ShardSummary>>,
    /// The checkpoints a resumed run continued from (`--resume`), oldest first; absent for a run
    /// that was never stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed_from: Vec<String>,
}

/// `dir/name.provenance.json` for the output `dir/name.csv`.
pub fn provenance_path(csv_path: &Path) -> PathBuf {
    let stem = csv_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    csv_path.with_file_name(format!("{stem}.provenance.json"))
}

impl<C: Serialize> RunRecord<C> {
    /// Write the record as pretty JSON beside `csv_path` (see [`provenance_path`]); returns the
    /// path written.
    pub fn write_beside(&self, csv_path: &Path) -> Result<PathBuf, ExperimentError> {
        let path = provenance_path(csv_path);
        let json = serde_json::to_string_pretty(self).map_err(|source| ExperimentError::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, json + "\n").map_err(|e| ExperimentError::io(&path, e))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_known_instants() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(Timestamp::from_unix_millis(ms).utc, want, "ms = {ms}");
        }
    }

    #[test]
    fn provenance_sits_beside_the_csv() {
        assert_eq!(
            provenance_path(Path::new("out/fig2.csv")),
            PathBuf::from("out/fig2.provenance.json")
        );
    }
}

/// The seeds of one training run, derived from the run's seed `s` by one rule for every figure:
/// `data = s`, `init = (s ^ 0x5EED_0000_0000_0000 ^ tag) + extra` (the initial weights),
/// `order = s * 0x9E3779B97F4A7C15 + order_offset` (the minibatch order), all wrapping. Each
/// figure has its own `tag` and offsets, so the streams differ between figures and variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSeeds {
    pub data: u64,
    pub init: u64,
    pub order: u64,
}

impl RunSeeds {
    pub fn derive(seed: u64, tag: u64, extra: u64, order_offset: u64) -> Self {
        RunSeeds {
            data: seed,
            init: (seed ^ 0x5EED_0000_0000_0000 ^ tag).wrapping_add(extra),
            order: seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(order_offset),
        }
    }
}
