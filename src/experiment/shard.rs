//! Shards: the independent runs of a figure split over `N` processes (`--shard K/N`), and the
//! checked merge of their outputs (`<figure> merge DIR`).
//!
//! # Contract
//!
//! * A figure lists its runs in a canonical order (e.g. Figure 3: `(width, seed)` pairs, Figure 4:
//!   the variants) with a relative cost each. [`assign`] gives each run to one shard,
//!   deterministically: longest run first, each to the least loaded shard (ties: the lower shard),
//!   so `N` shards finish at about the same time.
//! * Every run derives its random numbers from the run's own seed, never from the shard, so a
//!   run's rows are the same whichever shard computes it and whatever `N` is.
//! * Shard `K` of `N` writes `<stem>.shard-K-of-N.csv` (its rows, in canonical order) and
//!   `<stem>.shard-K-of-N.provenance.json` (a [`ShardRecord`]: the full configuration, seed,
//!   scale, commit, the runs it holds, the list of all runs, its row count and times). A shard
//!   that holds no run (more shards than runs) writes an empty CSV.
//! * [`merge`] reads every shard of one figure in a folder and refuses the set unless it is
//!   complete and consistent: shards `1..=N` each exactly once, one split `N`, one configuration,
//!   scale, seed, commit and crate version, every run held by exactly one shard, every row of a
//!   shard belonging to a run it holds, row counts as recorded. It returns the rows in the order
//!   of an unsharded run (runs in canonical order, each run's rows in the order they were written)
//!   and the provenance record of the whole, so the figure binary writes the same CSV, provenance
//!   and SVG as an unsharded run.

use super::record::{RunRecord, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use thiserror::Error;

/// Why a shard specification, shard output or shard set is refused.
#[derive(Debug, Error)]
pub enum ShardError {
    /// `--shard` is not `K/N` with `1 <= K <= N`.
    #[error("--shard {given:?}: {reason} (expected K/N with 1 <= K <= N, e.g. 2/5)")]
    Spec { given: String, reason: String },
    /// Reading a shard file failed (I/O, JSON or CSV).
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    /// The folder holds no shard output of this figure.
    #[error("{dir}: no shard outputs of {name} (files <stem>.shard-K-of-N.provenance.json)")]
    NoShards { dir: PathBuf, name: String },
    /// The folder holds shards of several outputs of the figure (e.g. `fig4` and
    /// `fig4_hardtanh_only`).
    #[error("{dir}: shards of several outputs ({stems}); merge each from a folder of its own")]
    SeveralSets { dir: PathBuf, stems: String },
    /// The set is not complete or not consistent; the message names the files and the rule.
    #[error("{dir}: refusing to merge: {message}")]
    Refused { dir: PathBuf, message: String },
}

/// Shard `index` of `count` (both 1-based: `1 <= index <= count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Shard `index` of `count`, checked.
    pub fn new(index: usize, count: usize) -> Result<Self, ShardError> {
        let given = format!("{index}/{count}");
        if count == 0 {
            return Err(ShardError::Spec {
                given,
                reason: "N must be >= 1".into(),
            });
        }
        if index == 0 || index > count {
            return Err(ShardError::Spec {
                given,
                reason: format!("K = {index} is not between 1 and N = {count}"),
            });
        }
        Ok(Shard { index, count })
    }

    /// `<stem>.shard-K-of-N`, the stem of this shard's files.
    pub fn file_stem(&self, stem: &str) -> String {
        format!("{stem}.shard-{}-of-{}", self.index, self.count)
    }

    /// Indices (into the canonical run list) of the runs this shard holds, ascending; see
    /// [`assign`].
    pub fn holds(&self, costs: &[f64]) -> Vec<usize> {
        assign(costs, self.count)
            .into_iter()
            .enumerate()
            .filter(|&(_, k)| k == self.index)
            .map(|(i, _)| i)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| ShardError::Spec {
            given: s.to_string(),
            reason: reason.to_string(),
        };
        let (k, n) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let k: usize = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let n: usize = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        Shard::new(k, n).map_err(|e| match e {
            ShardError::Spec { reason, .. } => bad(&reason),
            other => other,
        })
    }
}

/// The shard (1-based) of each run, for `count` shards and the runs' relative `costs` (canonical
/// order). Greedy longest-processing-time: runs by decreasing cost (ties: canonical order), each
/// to the shard with the least total cost so far (ties: the lowest shard). Deterministic; a cost
/// that is not a finite non-negative number counts as 0. With `count >= costs.len()` every run
/// has a shard of its own (shards `1..=costs.len()`), the rest hold nothing.
pub fn assign(costs: &[f64], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let cost = |i: usize| {
        let c = costs[i];
        if c.is_finite() && c >= 0.0 {
            c
        } else {
            0.0
        }
    };
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| cost(b).total_cmp(&cost(a)).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count];
    let mut held = vec![0usize; count];
    let mut out = vec![0; costs.len()];
    for i in order {
        // Least load; among equal loads the shard holding fewer runs, then the lowest index (so
        // zero-cost runs still spread over the shards).
        let k = (0..count)
            .min_by(|&a, &b| {
                load[a]
                    .total_cmp(&load[b])
                    .then(held[a].cmp(&held[b]))
                    .then(a.cmp(&b))
            })
            .unwrap_or(0);
        load[k] += cost(i);
        held[k] += 1;
        out[i] = k + 1;
    }
    out
}

/// `<figure> merge DIR`: the subcommand of every figure binary that can be sharded.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ShardCommand {
    /// Merge the shard outputs in DIR (written by `--shard K/N` runs with the same --out) into the
    /// CSV, provenance and SVG of an unsharded run, in DIR. Refuses a missing, duplicated or
    /// inconsistent shard.
    Merge {
        /// Folder holding the `<stem>.shard-K-of-N.{csv,provenance.json}` files.
        dir: PathBuf,
        /// No summary on stdout.
        #[arg(long)]
        quiet: bool,
    },
}

/// `--shard K/N` (`#[command(flatten)]` it).
#[derive(Clone, Debug, clap::Args)]
pub struct ShardArgs {
    /// Compute only shard K of N of the figure's independent runs (1 <= K <= N) and write its rows
    /// and provenance as `<stem>.shard-K-of-N.*` in --out; `merge` joins the N shards.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

/// A row of a figure's CSV that can be sharded: it names the run that produced it.
pub trait ShardedRow: Serialize + DeserializeOwned {
    /// What identifies a run (e.g. `(width, seed)`).
    type Run: Serialize + DeserializeOwned + PartialEq + fmt::Debug + Clone;
    /// The run this row belongs to.
    fn run(&self) -> Self::Run;
}

/// What one shard ran, for the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardPart<R> {
    pub shard: Shard,
    /// The output stem (`fig3`, `fig4_hardtanh_only`).
    pub stem: String,
    /// The shard's CSV (file name in the same folder).
    pub table: String,
    /// Rows in that CSV.
    pub rows: usize,
    /// The runs this shard holds, in canonical order.
    pub runs: Vec<R>,
    /// Every run of the figure, in canonical order (the order of the merged CSV).
    pub all_runs: Vec<R>,
}

/// `<stem>.shard-K-of-N.provenance.json`: the shard's part and the usual run record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardRecord<C: Serialize, R> {
    pub part: ShardPart<R>,
    #[serde(flatten)]
    pub record: RunRecord<C>,
}

impl<C: Serialize, Row> Merged<C, Row> {
    /// The common options of the merged run: the shards' scale and seed, written into `dir`.
    pub fn common_args(&self, dir: &Path, quiet: bool) -> crate::experiment::cli::CommonArgs {
        crate::experiment::cli::CommonArgs {
            scale: self.record.scale,
            seed: self.record.seed,
            out: dir.to_path_buf(),
            quiet,
        }
    }
}

/// One shard as seen by the merge, kept in the merged provenance (`merged_from`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardSummary {
    pub shard: Shard,
    /// The shard's provenance file name.
    pub file: String,
    pub runs: usize,
    pub rows: usize,
    pub device: String,
    pub git_dirty: Option<bool>,
    pub command_line: Vec<String>,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub elapsed_seconds: f64,
}

/// A merged shard set: the rows in unsharded order and the record of the whole.
#[derive(Clone, Debug)]
pub struct Merged<C: Serialize, Row> {
    /// The output stem shared by the shards.
    pub stem: String,
    pub rows: Vec<Row>,
    /// Configuration, seed, scale, version and commit of the shards; `started` the earliest shard
    /// start, `finished` the time of the merge, `elapsed_seconds` between the two, `device` the
    /// shards' device (or `mixed: a, b`), `git_dirty` true if any shard's was, `merged_from` the
    /// shards.
    pub record: RunRecord<C>,
}

fn read_err(path: &Path, message: impl fmt::Display) -> ShardError {
    ShardError::Read {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// `(stem, shard)` of a file name `<stem>.shard-K-of-N.provenance.json`, if it is one.
fn parse_record_name(file: &str) -> Option<(String, usize, usize)> {
    let base = file.strip_suffix(".provenance.json")?;
    let (stem, part) = base.rsplit_once(".shard-")?;
    let (k, n) = part.split_once("-of-")?;
    Some((stem.to_string(), k.parse().ok()?, n.parse().ok()?))
}

/// Whether `stem` is an output of the experiment `name` (`fig4`, `fig4_seed7`, ...).
fn stem_of(name: &str, stem: &str) -> bool {
    stem == name || stem.strip_prefix(name).is_some_and(|r| r.starts_with('_'))
}

/// The top-level fields in which two serialised configurations differ, as `field: a vs b`.
fn config_diff<C: Serialize>(a: &C, b: &C) -> String {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| {
                    let show = |v: Option<&serde_json::Value>| {
                        v.map_or("(absent)".to_string(), |v| v.to_string())
                    };
                    format!("{k}: {} vs {}", show(a.get(k)), show(b.get(k)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => format!("{a} vs {b}"),
    }
}

/// A shard record file of the set: its name, shard index `K` and split `N`.
type ShardFile = (String, usize, usize);

/// A shard record read from its file, with the file's name.
type NamedRecord<C, R> = (String, ShardRecord<C, R>);

/// The refusal of the shard set in `dir`, for `message`.
fn refused(dir: &Path, message: String) -> ShardError {
    ShardError::Refused {
        dir: dir.to_path_buf(),
        message,
    }
}

/// Read, check and join the shards of the experiment `name` in `dir` (see the module
/// documentation for the rules). Every refusal names the files involved and the rule broken.
pub fn merge<C, Row>(dir: &Path, name: &str) -> Result<Merged<C, Row>, ShardError>
where
    C: Serialize + DeserializeOwned + PartialEq + Clone,
    Row: ShardedRow,
{
    check_no_unfinished(dir, name)?;
    let (stem, files) = shard_files(dir, name)?;
    let records = read_records::<C, Row::Run>(dir, name, &stem, &files)?;
    check_one_run(dir, &records)?;
    check_run_owners(dir, &records)?;
    let rows = join_rows::<C, Row>(dir, &records)?;
    let record = merged_record(&records);
    Ok(Merged { stem, rows, record })
}

/// Step 0: no shard of `name` in `dir` stopped before its outputs (a checkpoint,
/// `<stem>.shard-K-of-N.ckpt`, without the shard's provenance record).
fn check_no_unfinished(dir: &Path, name: &str) -> Result<(), ShardError> {
    let entries = std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?;
    let mut unfinished = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| read_err(dir, e))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let base = [".ckpt", ".ckpt.prev", ".ckpt.tmp"]
            .iter()
            .find_map(|s| file.strip_suffix(s));
        let Some(base) = base else { continue };
        let record = format!("{base}.provenance.json");
        if let Some((stem, _, _)) = parse_record_name(&record) {
            let base = base.to_string();
            if stem_of(name, &stem) && !dir.join(&record).exists() && !unfinished.contains(&base) {
                unfinished.push(base);
            }
        }
    }
    if unfinished.is_empty() {
        return Ok(());
    }
    unfinished.sort();
    Err(refused(
        dir,
        format!(
            "unfinished shards (a checkpoint, no outputs yet): {}; run them again with \
             --resume until they finish",
            unfinished.join(", ")
        ),
    ))
}

/// Step 1: the shard record files of `name` in `dir`, all of one output stem, sorted by split
/// and index.
fn shard_files(dir: &Path, name: &str) -> Result<(String, Vec<ShardFile>), ShardError> {
    let entries = std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?;
    let mut found: BTreeMap<String, Vec<ShardFile>> = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| read_err(dir, e))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some((stem, k, n)) = parse_record_name(&file) {
            if stem_of(name, &stem) {
                found.entry(stem).or_default().push((file, k, n));
            }
        }
    }
    if found.len() > 1 {
        return Err(ShardError::SeveralSets {
            dir: dir.to_path_buf(),
            stems: found.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    let Some((stem, mut files)) = found.into_iter().next() else {
        return Err(ShardError::NoShards {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        });
    };
    files.sort_by(|a, b| (a.2, a.1, &a.0).cmp(&(b.2, b.1, &b.0)));
    Ok((stem, files))
}

/// Step 2: one split `N`, each shard `1..=N` exactly once, every record's content agreeing with
/// its file name; the records in the order of `files`.
fn read_records<C, R>(
    dir: &Path,
    name: &str,
    stem: &str,
    files: &[ShardFile],
) -> Result<Vec<NamedRecord<C, R>>, ShardError>
where
    C: Serialize + DeserializeOwned,
    R: DeserializeOwned,
{
    let counts: Vec<usize> = {
        let mut c: Vec<usize> = files.iter().map(|f| f.2).collect();
        c.dedup();
        c
    };
    if counts.len() > 1 {
        let list = files
            .iter()
            .map(|(f, k, n)| format!("{f} ({k}/{n})"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(refused(
            dir,
            format!("shards of different splits N = {counts:?}: {list}; remove the stale ones"),
        ));
    }
    let mut records = Vec::new();
    for (file, k, n) in files {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
        let rec: ShardRecord<C, R> = serde_json::from_str(&text)
            .map_err(|e| read_err(&path, format!("not a {name} shard record: {e}")))?;
        if rec.part.shard
            != (Shard {
                index: *k,
                count: *n,
            })
            || rec.part.stem != stem
        {
            return Err(refused(
                dir,
                format!(
                    "{file} holds shard {} of {:?}, not the {k}/{n} of {stem:?} its name says",
                    rec.part.shard, rec.part.stem
                ),
            ));
        }
        if rec.record.name != name {
            return Err(refused(
                dir,
                format!("{file} is a record of {:?}, not of {name}", rec.record.name),
            ));
        }
        records.push((file.clone(), rec));
    }
    let n = counts[0];
    for k in 1..=n {
        let here: Vec<&str> = files
            .iter()
            .filter(|f| f.1 == k)
            .map(|f| f.0.as_str())
            .collect();
        if here.len() > 1 {
            return Err(refused(
                dir,
                format!("shard {k}/{n} is duplicated: {}", here.join(", ")),
            ));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !files.iter().any(|f| f.1 == *k))
        .map(|k| Shard { index: k, count: n }.file_stem(stem) + ".provenance.json")
        .collect();
    if !missing.is_empty() {
        return Err(refused(
            dir,
            format!(
                "{} of {n} shards missing: {}",
                missing.len(),
                missing.join(", ")
            ),
        ));
    }
    Ok(records)
}

/// Step 3: one configuration, seed, scale, version, commit and run list across the records.
fn check_one_run<C, R>(dir: &Path, records: &[NamedRecord<C, R>]) -> Result<(), ShardError>
where
    C: Serialize + PartialEq,
    R: PartialEq + fmt::Debug,
{
    let (first_file, first) = &records[0];
    for (file, rec) in &records[1..] {
        let (a, b) = (&first.record, &rec.record);
        let differ = |what: &str, x: String, y: String| {
            refused(
                dir,
                format!("{file} has {what} {y}, {first_file} has {x}: shards of different runs"),
            )
        };
        if a.config != b.config {
            return Err(refused(
                dir,
                format!(
                    "{file} and {first_file} have different configurations ({})",
                    config_diff(&a.config, &b.config)
                ),
            ));
        }
        if a.scale != b.scale {
            return Err(differ("scale", a.scale.to_string(), b.scale.to_string()));
        }
        if a.seed != b.seed {
            return Err(differ("seed", a.seed.to_string(), b.seed.to_string()));
        }
        if a.git_commit != b.git_commit {
            return Err(differ("commit", a.git_commit.clone(), b.git_commit.clone()));
        }
        if a.crate_version != b.crate_version {
            return Err(differ(
                "crate version",
                a.crate_version.clone(),
                b.crate_version.clone(),
            ));
        }
        if first.part.all_runs != rec.part.all_runs {
            return Err(refused(
                dir,
                format!(
                    "{file} and {first_file} list different runs: {:?} vs {:?}",
                    rec.part.all_runs, first.part.all_runs
                ),
            ));
        }
    }
    Ok(())
}

/// Step 4: every run of the figure held by exactly one shard.
fn check_run_owners<C, R>(dir: &Path, records: &[NamedRecord<C, R>]) -> Result<(), ShardError>
where
    C: Serialize,
    R: PartialEq + fmt::Debug,
{
    let all = &records[0].1.part.all_runs;
    let mut owner: Vec<Option<&str>> = vec![None; all.len()];
    for (file, rec) in records {
        for run in &rec.part.runs {
            let Some(i) = all.iter().position(|r| r == run) else {
                return Err(refused(
                    dir,
                    format!("{file} holds the run {run:?}, which is not one of the figure's runs"),
                ));
            };
            if let Some(other) = owner[i] {
                return Err(refused(
                    dir,
                    format!("the run {run:?} is held by both {other} and {file}"),
                ));
            }
            owner[i] = Some(file.as_str());
        }
    }
    if let Some(i) = owner.iter().position(Option::is_none) {
        return Err(refused(
            dir,
            format!("the run {:?} is held by no shard", all[i]),
        ));
    }
    Ok(())
}

/// Step 5: the rows of every shard's CSV, as many as recorded, each of a run its shard holds,
/// every held run present; joined in the figure's run order (stable: each run's rows keep the
/// order in which its shard wrote them).
fn join_rows<C, Row>(
    dir: &Path,
    records: &[NamedRecord<C, Row::Run>],
) -> Result<Vec<Row>, ShardError>
where
    C: Serialize,
    Row: ShardedRow,
{
    let all = &records[0].1.part.all_runs;
    let mut keyed: Vec<(usize, Row)> = Vec::new();
    for (file, rec) in records {
        let path = dir.join(&rec.part.table);
        let rows: Vec<Row> = read_rows(&path)?;
        if rows.len() != rec.part.rows {
            return Err(refused(
                dir,
                format!(
                    "{} has {} rows, {file} records {}",
                    rec.part.table,
                    rows.len(),
                    rec.part.rows
                ),
            ));
        }
        let mut seen = vec![false; rec.part.runs.len()];
        for (line, row) in rows.into_iter().enumerate() {
            let run = row.run();
            let Some(j) = rec.part.runs.iter().position(|r| *r == run) else {
                return Err(refused(
                    dir,
                    format!(
                        "{} row {} belongs to the run {run:?}, which {file} does not hold",
                        rec.part.table,
                        line + 1
                    ),
                ));
            };
            seen[j] = true;
            let i = all.iter().position(|r| *r == run).unwrap_or(usize::MAX);
            keyed.push((i, row));
        }
        if let Some(j) = seen.iter().position(|s| !s) {
            return Err(refused(
                dir,
                format!(
                    "{} has no row of the run {:?} that {file} holds",
                    rec.part.table, rec.part.runs[j]
                ),
            ));
        }
    }
    keyed.sort_by_key(|(i, _)| *i);
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// Step 6: the record of the whole: the first shard's configuration, seed, scale, version and
/// commit; the devices (one, or `mixed: ...`), dirty flag (any dirty: dirty), earliest start,
/// the merge's own end and command line, and a summary of every shard.
fn merged_record<C, R>(records: &[NamedRecord<C, R>]) -> RunRecord<C>
where
    C: Serialize + Clone,
{
    let shards: Vec<ShardSummary> = records
        .iter()
        .map(|(file, rec)| ShardSummary {
            shard: rec.part.shard,
            file: file.clone(),
            runs: rec.part.runs.len(),
            rows: rec.part.rows,
            device: rec.record.device.clone(),
            git_dirty: rec.record.git_dirty,
            command_line: rec.record.command_line.clone(),
            started: rec.record.started.clone(),
            finished: rec.record.finished.clone(),
            elapsed_seconds: rec.record.elapsed_seconds,
        })
        .collect();
    let mut devices: Vec<String> = shards.iter().map(|s| s.device.clone()).collect();
    devices.sort();
    devices.dedup();
    let device = if devices.len() == 1 {
        devices[0].clone()
    } else {
        format!("mixed: {}", devices.join(", "))
    };
    let mut engines: Vec<String> = records
        .iter()
        .filter_map(|r| r.1.record.engine.clone())
        .collect();
    engines.sort();
    engines.dedup();
    let engine = match engines.len() {
        0 => None,
        1 => Some(engines[0].clone()),
        _ => Some(format!("mixed: {}", engines.join(", "))),
    };
    let git_dirty = if shards.iter().any(|s| s.git_dirty == Some(true)) {
        Some(true)
    } else if shards.iter().all(|s| s.git_dirty == Some(false)) {
        Some(false)
    } else {
        None
    };
    let started = shards
        .iter()
        .map(|s| s.started.clone())
        .min_by(|a, b| a.unix_seconds.total_cmp(&b.unix_seconds))
        .unwrap_or_else(Timestamp::now);
    let finished = Timestamp::now();
    let base = &records[0].1.record;
    RunRecord {
        name: base.name.clone(),
        config: base.config.clone(),
        seed: base.seed,
        scale: base.scale,
        crate_version: base.crate_version.clone(),
        git_commit: base.git_commit.clone(),
        git_dirty,
        device,
        engine,
        command_line: std::env::args().collect(),
        elapsed_seconds: (finished.unix_seconds - started.unix_seconds).max(0.0),
        started,
        finished,
        merged_from: Some(shards),
        resumed_from: records
            .iter()
            .flat_map(|r| r.1.record.resumed_from.iter().cloned())
            .collect(),
    }
}

/// The rows of a shard's CSV (an empty file: no rows).
fn read_rows<Row: DeserializeOwned>(path: &Path) -> Result<Vec<Row>, ShardError> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| read_err(path, e))?;
    rdr.deserialize()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| read_err(path, format!("row {}: {e}", i + 1))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{CommonArgs, FigureOutput, Scale};

    #[test]
    fn shard_specs_parse_and_refuse() {
        assert_eq!(
            "2/5".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 5 }
        );
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap().to_string(), "1/1");
        for (bad, why) in [
            ("0/3", "not between 1 and N"),
            ("4/3", "not between 1 and N"),
            ("1/0", "N must be >= 1"),
            ("3", "no '/'"),
            ("a/3", "K is not a number"),
            ("1/-2", "N is not a number"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad:?}: {e}");
        }
    }

    /// Every run lands in exactly one shard in 1..=N, the same runs whatever the call, and a
    /// shard's list is what `holds` says.
    #[test]
    fn assignment_is_a_partition() {
        let costs = [5.0, 1.0, 1.0, 3.0, f64::NAN, 2.0, 0.0];
        for n in 1..=9 {
            let a = assign(&costs, n);
            assert_eq!(a, assign(&costs, n), "n = {n}");
            assert!(a.iter().all(|&k| (1..=n).contains(&k)), "n = {n}: {a:?}");
            let mut all: Vec<usize> = (1..=n)
                .flat_map(|k| Shard::new(k, n).unwrap().holds(&costs))
                .collect();
            all.sort();
            assert_eq!(all, (0..costs.len()).collect::<Vec<_>>(), "n = {n}");
            // As many shards as runs: one run each.
            if n >= costs.len() {
                let mut ks = a.clone();
                ks.sort();
                assert_eq!(ks, (1..=costs.len()).collect::<Vec<_>>(), "n = {n}");
            }
        }
    }

    /// The paper's Figure 3 in 5 shards: 5 runs of each width, so a perfect split puts one run of
    /// each width in every shard; longest-first finds it (equal loads, compared exactly: sums of
    /// the same five integers below 2^53).
    #[test]
    fn paper_fig3_splits_evenly_in_five() {
        let widths = [1500.0f64, 100.0, 200.0, 500.0, 1000.0];
        let mut costs = vec![widths[0].powi(3)];
        for &w in &widths[1..] {
            costs.extend([w.powi(3); 5]);
        }
        costs.extend([widths[0].powi(3); 4]);
        let a = assign(&costs, 5);
        let mut load = [0.0; 5];
        for (i, &k) in a.iter().enumerate() {
            load[k - 1] += costs[i];
        }
        let per_shard: f64 = widths.iter().map(|w| w.powi(3)).sum();
        // integer-valued sums far below 2^53: exact in f64
        assert!(
            load.iter().all(|&l| l.to_bits() == per_shard.to_bits()),
            "{load:?}"
        );
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Cfg {
        epochs: usize,
        lr: f64,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        run: u64,
        step: usize,
        value: Option<f64>,
    }

    impl ShardedRow for Row {
        type Run = u64;
        fn run(&self) -> u64 {
            self.run
        }
    }

    const RUNS: [u64; 4] = [10, 11, 12, 13];
    const CFG: Cfg = Cfg {
        epochs: 3,
        lr: 0.01,
    };

    /// The rows of one run: independent of the shard.
    fn rows_of(run: u64) -> Vec<Row> {
        (0..3)
            .map(|step| Row {
                run,
                step,
                value: (step != 1).then_some(run as f64 / 3.0 + step as f64 * 1e-17),
            })
            .collect()
    }

    fn common(dir: &Path) -> CommonArgs {
        CommonArgs {
            scale: Scale::Quick,
            seed: 7,
            out: dir.to_path_buf(),
            quiet: true,
        }
    }

    /// Shard `k` of `n` of the toy experiment `demo`, written as a figure binary does.
    fn write_shard(dir: &Path, stem: &str, k: usize, n: usize) {
        let shard = Shard::new(k, n).unwrap();
        let costs = vec![1.0; RUNS.len()];
        let runs: Vec<u64> = shard.holds(&costs).into_iter().map(|i| RUNS[i]).collect();
        let rows: Vec<Row> = runs.iter().flat_map(|&r| rows_of(r)).collect();
        let args = common(dir);
        let mut out = FigureOutput::start(&args, "demo").unwrap();
        let table = shard.file_stem(stem) + ".csv";
        out.table(&table, &rows).unwrap();
        let part = ShardPart {
            shard,
            stem: stem.into(),
            table,
            rows: rows.len(),
            runs,
            all_runs: RUNS.to_vec(),
        };
        out.finish_shard(&CFG, part).unwrap();
    }

    fn split(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for k in 1..=n {
            write_shard(dir.path(), "demo", k, n);
        }
        dir
    }

    fn merged(dir: &Path) -> Result<Merged<Cfg, Row>, ShardError> {
        merge::<Cfg, Row>(dir, "demo")
    }

    fn refusal(dir: &Path) -> String {
        merged(dir).map(|_| ()).unwrap_err().to_string()
    }

    /// Rewrite one JSON field of a shard record.
    fn edit_record(dir: &Path, k: usize, n: usize, edit: impl Fn(&mut serde_json::Value)) {
        let path = dir.join(format!("demo.shard-{k}-of-{n}.provenance.json"));
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }

    #[test]
    fn any_split_merges_to_the_same_rows_and_record() {
        let whole: Vec<Row> = RUNS.iter().flat_map(|&r| rows_of(r)).collect();
        for n in [1, 2, 3, 4, 6] {
            let dir = split(n);
            let m = merged(dir.path()).unwrap_or_else(|e| panic!("n = {n}: {e}"));
            assert_eq!(m.rows, whole, "n = {n}");
            assert_eq!(m.stem, "demo");
            assert_eq!((m.record.seed, m.record.scale), (7, Scale::Quick));
            assert_eq!(m.record.config, CFG);
            let from = m.record.merged_from.as_ref().unwrap();
            assert_eq!(from.len(), n, "n = {n}");
            assert_eq!(from.iter().map(|s| s.runs).sum::<usize>(), RUNS.len());
            assert!(from.iter().enumerate().all(|(i, s)| s.shard.index == i + 1));
        }
    }

    #[test]
    fn a_missing_shard_is_refused() {
        let dir = split(3);
        std::fs::remove_file(dir.path().join("demo.shard-2-of-3.provenance.json")).unwrap();
        let e = refusal(dir.path());
        assert!(
            e.contains("1 of 3 shards missing") && e.contains("demo.shard-2-of-3.provenance.json"),
            "{e}"
        );
    }

    /// A shard stopped before its outputs (its checkpoint there, its record not) is named; a
    /// checkpoint beside a finished shard's record is no obstacle.
    #[test]
    fn an_unfinished_shard_is_refused() {
        let dir = split(3);
        std::fs::remove_file(dir.path().join("demo.shard-2-of-3.provenance.json")).unwrap();
        std::fs::write(dir.path().join("demo.shard-2-of-3.ckpt"), b"state").unwrap();
        let e = refusal(dir.path());
        assert!(
            e.contains("unfinished shards") && e.contains("demo.shard-2-of-3"),
            "{e}"
        );
        let dir = split(3);
        std::fs::write(dir.path().join("demo.shard-2-of-3.ckpt.prev"), b"old").unwrap();
        assert!(merged(dir.path()).is_ok());
    }

    #[test]
    fn a_missing_table_is_refused() {
        let dir = split(3);
        std::fs::remove_file(dir.path().join("demo.shard-3-of-3.csv")).unwrap();
        let e = refusal(dir.path());
        assert!(e.contains("demo.shard-3-of-3.csv"), "{e}");
    }

    #[test]
    fn a_duplicated_shard_is_refused() {
        let dir = split(3);
        let p = dir.path();
        std::fs::copy(
            p.join("demo.shard-1-of-3.provenance.json"),
            p.join("demo.shard-01-of-3.provenance.json"),
        )
        .unwrap();
        let e = refusal(p);
        assert!(e.contains("shard 1/3 is duplicated"), "{e}");
    }

    #[test]
    fn a_renamed_shard_is_refused() {
        let dir = split(3);
        let p = dir.path();
        std::fs::rename(
            p.join("demo.shard-3-of-3.provenance.json"),
            p.join("demo.shard-4-of-3.provenance.json"),
        )
        .unwrap();
        let e = refusal(p);
        assert!(
            e.contains("holds shard 3/3") && e.contains("not the 4/3"),
            "{e}"
        );
    }

    #[test]
    fn shards_of_two_splits_are_refused() {
        let dir = split(3);
        write_shard(dir.path(), "demo", 1, 2);
        let e = refusal(dir.path());
        assert!(e.contains("different splits N = [2, 3]"), "{e}");
    }

    /// Different configuration, scale, seed, commit or crate version: each named in the message.
    #[test]
    fn inconsistent_shards_are_refused() {
        type Edit = fn(&mut serde_json::Value);
        let cases: [(&str, Edit, &str); 6] = [
            (
                "configuration",
                |v| v["config"]["epochs"] = 4.into(),
                "different configurations (epochs: 3 vs 4)",
            ),
            ("scale", |v| v["scale"] = "paper".into(), "scale paper"),
            ("seed", |v| v["seed"] = 8.into(), "seed 8"),
            (
                "commit",
                |v| v["git_commit"] = "0123abc".into(),
                "commit 0123abc",
            ),
            (
                "crate version",
                |v| v["crate_version"] = "9.9.9".into(),
                "crate version 9.9.9",
            ),
            (
                "run list",
                |v| v["part"]["all_runs"] = serde_json::json!([10, 11, 12]),
                "list different runs",
            ),
        ];
        for (what, edit, want) in cases {
            let dir = split(3);
            edit_record(dir.path(), 2, 3, edit);
            let e = refusal(dir.path());
            assert!(
                e.contains(want) && e.contains("demo.shard-2-of-3.provenance.json"),
                "{what}: {e}"
            );
        }
    }

    #[test]
    fn runs_held_twice_or_never_are_refused() {
        let dir = split(2);
        // Shard 1 of 2 holds runs 10 and 12; claim 11 as well (held by shard 2).
        edit_record(dir.path(), 1, 2, |v| {
            v["part"]["runs"] = serde_json::json!([10, 11, 12])
        });
        let e = refusal(dir.path());
        assert!(e.contains("run 11 is held by both"), "{e}");

        let dir = split(2);
        edit_record(dir.path(), 1, 2, |v| {
            v["part"]["runs"] = serde_json::json!([10])
        });
        let e = refusal(dir.path());
        assert!(e.contains("the run 12 is held by no shard"), "{e}");

        // A row of run 11 in the table of shard 1 (which holds 10 and 12).
        let dir = split(2);
        let csv = dir.path().join("demo.shard-1-of-2.csv");
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        assert!(lines[4].starts_with("12,"), "{}", lines[4]);
        lines[4] = lines[4].replacen("12,", "11,", 1);
        std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
        let e = refusal(dir.path());
        assert!(e.contains("row 4 belongs to the run 11"), "{e}");

        let dir = split(2);
        edit_record(dir.path(), 1, 2, |v| {
            v["part"]["runs"] = serde_json::json!([10, 12, 99])
        });
        let e = refusal(dir.path());
        assert!(e.contains("run 99, which is not one of"), "{e}");
    }

    #[test]
    fn rows_that_do_not_match_the_record_are_refused() {
        let dir = split(2);
        let csv = dir.path().join("demo.shard-2-of-2.csv");
        let text = std::fs::read_to_string(&csv).unwrap();
        let cut: Vec<&str> = text.lines().take(3).collect();
        std::fs::write(&csv, cut.join("\n") + "\n").unwrap();
        let e = refusal(dir.path());
        assert!(e.contains("has 2 rows") && e.contains("records 6"), "{e}");

        let dir = split(2);
        edit_record(dir.path(), 2, 2, |v| v["part"]["rows"] = 3.into());
        let csv = dir.path().join("demo.shard-2-of-2.csv");
        let text = std::fs::read_to_string(&csv).unwrap();
        let cut: Vec<&str> = text.lines().take(4).collect();
        std::fs::write(&csv, cut.join("\n") + "\n").unwrap();
        let e = refusal(dir.path());
        assert!(e.contains("no row of the run 13"), "{e}");
    }

    #[test]
    fn empty_or_mixed_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = refusal(dir.path());
        assert!(e.contains("no shard outputs of demo"), "{e}");
        write_shard(dir.path(), "demo", 1, 1);
        write_shard(dir.path(), "demo_seed3", 1, 1);
        let e = refusal(dir.path());
        assert!(e.contains("several outputs (demo, demo_seed3)"), "{e}");
        let e = merge::<Cfg, Row>(Path::new("/nonexistent/replica-mi"), "demo")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/replica-mi"), "{e}");
    }

    /// An empty shard (more shards than runs) writes an empty CSV and merges.
    #[test]
    fn more_shards_than_runs_merge() {
        let dir = split(6);
        let empty = dir.path().join("demo.shard-6-of-6.csv");
        assert_eq!(std::fs::read_to_string(empty).unwrap(), "");
        assert_eq!(merged(dir.path()).unwrap().rows.len(), RUNS.len() * 3);
    }
}
