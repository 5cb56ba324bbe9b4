//! `chain-grid`: solve N random valid chains (replica_mi::random_chain, seeded) and print the
//! summary table: converged, bound violations, unconverged by cause, panics, time
//! percentiles, chains over 60 s. `--out report.csv` writes one row per chain (with the spec of
//! each, to rerun it with `replica-mi entropy`) and `report.provenance.json` beside it.
//!
//! Results are judged by `crates/replica-core/tests/it/common/audit.rs` (included by path: the same independent audit
//! as the `random_chains` test, not the library's own checks). Chains are solved in parallel
//! (rayon, `--jobs`), but chain `i` is always the same chain and the report is in chain order, so
//! the report is deterministic except for the wall times.
//!
//! With `--out`, the chains solved so far are checkpointed (`<out folder>/<out stem>.ckpt`, every
//! `--checkpoint-every`, default 5 minutes; `100e` = every 100 chains) and `--resume` solves only
//! the chains the checkpoint does not hold: the report is the uninterrupted run's, the wall times
//! of the chains solved before the stop included. SIGUSR1 / SIGTERM: the chains being solved
//! finish, no new one starts, a checkpoint is written and the exit status is 75.

#[path = "../../crates/replica-core/tests/it/common/audit.rs"]
mod audit;

use anyhow::{bail, Context, Result};
use audit::{run_chain, summary_table, ChainResult, Outcome};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use replica_mi::experiment::checkpoint::{
    self, kill_point, stop_requested, CheckpointArgs, Checkpoints,
};
use replica_mi::experiment::record::{git_commit, git_dirty};
use replica_mi::experiment::{CommonArgs, Scale};
use replica_mi::random_chain::{extreme_spectra, ChainGenerator, GeneratorParams, NamedSpectrum};
use replica_mi::replica::SolverOptions;
use replica_mi::spec::read_spectrum_file;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Solve N random valid chains and summarise converged / bound violations / unconverged / panics / times"
)]
struct Args {
    /// Number of chains (chains FROM..FROM+N of the seed's sequence).
    #[arg(long, default_value_t = 10_000)]
    n: u64,
    /// First chain index (to run a large grid in parts; chain i is the same chain in any part).
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Write one CSV row per chain here (and the provenance beside it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Folder of spectrum files (`*.csv` but `spectra_meta.csv`) offered to the generator.
    #[arg(long, default_value = "../shared/refs/spectra")]
    spectra: PathBuf,
    /// Largest number of layers per chain (1..=10; ordinary generator only).
    #[arg(long, default_value_t = 4)]
    max_layers: usize,
    /// Which generator: `ordinary` (the whole spec space at moderate values, spectra from
    /// `--spectra`) or `extreme` (5-10 layers at the edges of every range, spectra generated in
    /// code and written to `--extreme-spectra`).
    #[arg(long, default_value = "ordinary", value_parser = ["ordinary", "extreme"])]
    kind: String,
    /// Folder the extreme generator writes its spectra to (so that printed specs rerun).
    #[arg(long, default_value = "target/extreme-spectra")]
    extreme_spectra: PathBuf,
    /// Print the spec of this many failing chains (bound violations and panics first).
    #[arg(long, default_value_t = 5)]
    show: usize,
    /// Checkpoints of the chains solved (with --out): --resume, --checkpoint-every.
    #[command(flatten)]
    checkpoint: CheckpointArgs,
}

/// The spectra offered to the generator: every `*.csv` in `dir` but `spectra_meta.csv`, in name
/// order, by canonical path.
fn load_spectra(dir: &Path) -> Result<Vec<NamedSpectrum>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the spectra folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "csv")
                && p.file_name().is_some_and(|n| n != "spectra_meta.csv")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no spectrum files (*.csv) in {}", dir.display());
    }
    files
        .into_iter()
        .map(|p| {
            let file = p.canonicalize().unwrap_or(p);
            let eigenvalues = read_spectrum_file(&file)?;
            Ok(NamedSpectrum { file, eigenvalues })
        })
        .collect()
}

/// One chain of the grid: the audit's result, the chain's spec (TOML, to rerun it), and the
/// entropy and scheme of its estimate (when there is one).
struct Row {
    result: ChainResult,
    spec: String,
    entropy: Option<f64>,
    scheme: String,
}

/// A [`Row`] as a checkpoint holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SavedRow {
    index: u64,
    outcome: SavedOutcome,
    seconds: f64,
    spec: String,
    entropy: Option<f64>,
    scheme: String,
}

/// An [`Outcome`] as a checkpoint holds it (a violation as its check's name and detail).
#[derive(Clone, Debug, Serialize, Deserialize)]
enum SavedOutcome {
    Converged,
    Violation(Vec<(String, String)>),
    Unconverged { cause: String, error: String },
    BadError(String),
    Panic(String),
}

impl From<&Row> for SavedRow {
    fn from(row: &Row) -> Self {
        let r = &row.result;
        SavedRow {
            index: r.index,
            outcome: match &r.outcome {
                Outcome::Converged => SavedOutcome::Converged,
                Outcome::Violation(v) => SavedOutcome::Violation(
                    v.iter()
                        .map(|v| (v.check.to_string(), v.detail.clone()))
                        .collect(),
                ),
                Outcome::Unconverged { cause, error } => SavedOutcome::Unconverged {
                    cause: cause.clone(),
                    error: error.clone(),
                },
                Outcome::BadError(e) => SavedOutcome::BadError(e.clone()),
                Outcome::Panic(e) => SavedOutcome::Panic(e.clone()),
            },
            seconds: r.seconds,
            spec: row.spec.clone(),
            entropy: row.entropy,
            scheme: row.scheme.clone(),
        }
    }
}

/// The audit names its checks with static strings: one leaked copy per distinct name read back
/// from a checkpoint (a handful per grid).
fn check_name(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    n
}

impl From<SavedRow> for Row {
    fn from(s: SavedRow) -> Self {
        let outcome = match s.outcome {
            SavedOutcome::Converged => Outcome::Converged,
            SavedOutcome::Violation(v) => Outcome::Violation(
                v.into_iter()
                    .map(|(check, detail)| audit::Violation {
                        check: check_name(&check),
                        detail,
                    })
                    .collect(),
            ),
            SavedOutcome::Unconverged { cause, error } => Outcome::Unconverged { cause, error },
            SavedOutcome::BadError(e) => Outcome::BadError(e),
            SavedOutcome::Panic(e) => Outcome::Panic(e),
        };
        Row {
            result: ChainResult {
                index: s.index,
                outcome,
                seconds: s.seconds,
            },
            spec: s.spec,
            entropy: s.entropy,
            scheme: s.scheme,
        }
    }
}

/// What a checkpoint of the grid must agree with: everything that decides which chains are
/// drawn and how they are solved (not `--jobs`, which changes neither).
#[derive(Serialize)]
struct GridIdentity<'a> {
    n: u64,
    from: u64,
    kind: &'a str,
    generator: &'a GeneratorParams,
    spectra: Vec<String>,
    solver: String,
}

/// The checkpoints of the report `out` (`<folder>/<stem>.ckpt`), or none without `--out`.
fn open_checkpoints(
    args: &Args,
    params: &GeneratorParams,
    g: &ChainGenerator,
    opts: &SolverOptions,
) -> Result<Checkpoints<SavedRow>> {
    let Some(out) = &args.out else {
        if args.checkpoint.resume {
            bail!("--resume needs --out (the checkpoint lies beside the report)");
        }
        return Ok(Checkpoints::none());
    };
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "chain-grid".into());
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let common = CommonArgs {
        // The grid has no scale; its size is in the identity's configuration.
        scale: Scale::Default,
        seed: args.seed,
        out: dir,
        quiet: true,
    };
    let id = GridIdentity {
        n: args.n,
        from: args.from,
        kind: &args.kind,
        generator: params,
        spectra: g.spectra().map(|s| s.file.display().to_string()).collect(),
        solver: format!("{opts:?}"),
    };
    Ok(Checkpoints::start(
        &common,
        "chain-grid",
        &stem,
        None,
        &id,
        &args.checkpoint,
    )?)
}

fn main() -> std::process::ExitCode {
    checkpoint::exit_code(run())
}

fn run() -> Result<()> {
    let args = Args::parse();
    let (spectra, params) = if args.kind == "extreme" {
        (
            write_extreme_spectra(&args.extreme_spectra)?,
            GeneratorParams::extreme(args.seed),
        )
    } else {
        let params = GeneratorParams {
            seed: args.seed,
            max_layers: args.max_layers,
            ..GeneratorParams::default()
        };
        (load_spectra(&args.spectra)?, params)
    };
    let g = params
        .clone()
        .check(spectra)
        .context("generator settings")?;
    let opts = SolverOptions::default();
    let pool = thread_pool(args.jobs)?;
    let ck = Mutex::new(open_checkpoints(&args, &params, &g, &opts)?);
    let bar = progress_bar(args.n);
    let t0 = std::time::Instant::now();
    let solved = pool.install(|| solve_chains(&g, &opts, args.from, args.n, &bar, &ck));
    bar.finish_and_clear();
    let mut ck = ck.into_inner().unwrap_or_else(|e| e.into_inner());
    let rows = match solved {
        Some(rows) => rows,
        None => return Err(ck.stop_now().into()),
    };
    let wall = t0.elapsed().as_secs_f64();
    let threads = pool.current_num_threads();
    print_summary(&args, threads, wall, &rows);
    print_failing(&rows, args.show);
    if let Some(out) = &args.out {
        write_report(out, &rows)?;
        let prov_path = write_provenance(
            out,
            &args,
            threads,
            &params,
            &g,
            &opts,
            wall,
            ck.resumed_from(),
        )?;
        println!(
            "\nreport: {} (provenance {})",
            out.display(),
            prov_path.display()
        );
    }
    ck.remove()?;
    Ok(())
}

/// The extreme generator's spectra, written to `dir` (one eigenvalue per line) and offered by
/// their absolute paths.
fn write_extreme_spectra(dir: &Path) -> Result<Vec<NamedSpectrum>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    extreme_spectra()
        .into_iter()
        .map(|(name, eigenvalues)| {
            let file = dir.join(format!("{name}.csv"));
            let text: String = eigenvalues.iter().map(|x| format!("{x:e}\n")).collect();
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
            Ok(NamedSpectrum { file, eigenvalues })
        })
        .collect()
}

/// The worker threads: `jobs` of them, or one per core.
fn thread_pool(jobs: Option<usize>) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .context("thread pool")
}

/// The progress bar of `n` chains.
fn progress_bar(n: u64) -> ProgressBar {
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} chains  {elapsed_precise} (eta {eta})")
            .expect("static template"),
    );
    bar
}

/// Chains `from..from + n` of `g`, solved in parallel (on the current rayon pool), in chain
/// order; `bar` advances once per chain. The chains held by the checkpoint `ck` resumed from are
/// not solved again; each chain solved is kept in `ck` (which checkpoints when due). `None` when
/// a signal asked the run to stop: the chains being solved finished, no other started.
fn solve_chains(
    g: &ChainGenerator,
    opts: &SolverOptions,
    from: u64,
    n: u64,
    bar: &ProgressBar,
    ck: &Mutex<Checkpoints<SavedRow>>,
) -> Option<Vec<Row>> {
    let lock = || ck.lock().unwrap_or_else(|e| e.into_inner());
    let saved: Vec<SavedRow> = lock().rows().to_vec();
    let done: HashSet<u64> = saved.iter().map(|r| r.index).collect();
    bar.inc(done.len() as u64);
    let todo: Vec<u64> = (from..from + n).filter(|i| !done.contains(i)).collect();
    if !done.is_empty() {
        eprintln!(
            "chain-grid: {} chains from the checkpoint, {} left to solve",
            done.len(),
            todo.len()
        );
    }
    let fresh: Vec<Option<Row>> = todo
        .into_par_iter()
        .map(|i| {
            if stop_requested() {
                return None;
            }
            let row = solve_chain(g, opts, i);
            {
                let mut ck = lock();
                if let Err(e) = ck.add_part(vec![SavedRow::from(&row)]) {
                    // A checkpoint that cannot be written costs only the resume; the grid goes on.
                    eprintln!("chain-grid: {e}");
                }
            }
            kill_point("chain");
            bar.inc(1);
            Some(row)
        })
        .collect();
    if stop_requested() {
        return None;
    }
    let mut rows: Vec<Row> = saved.into_iter().map(Row::from).collect();
    rows.extend(fresh.into_iter().flatten());
    rows.sort_by_key(|r| r.result.index);
    Some(rows)
}

/// Chain `i` of `g`, drawn and solved and judged by the audit. A chain the generator fails to
/// draw (a generator defect) is reported like any unexpected error, with the spec it describes.
fn solve_chain(g: &ChainGenerator, opts: &SolverOptions, i: u64) -> Row {
    match g.draw(i) {
        Ok(d) => {
            let (outcome, est, seconds) = run_chain(&d.chain, opts);
            Row {
                result: ChainResult {
                    index: i,
                    outcome,
                    seconds,
                },
                spec: g.to_toml(i, &d.description),
                entropy: est.as_ref().map(|e| e.entropy),
                scheme: est.map(|e| e.scheme.to_string()).unwrap_or_default(),
            }
        }
        Err(e) => Row {
            result: ChainResult {
                index: i,
                outcome: Outcome::BadError(format!("invalid random chain: {e}")),
                seconds: 0.0,
            },
            spec: g.to_toml(i, &g.describe(i)),
            entropy: None,
            scheme: String::new(),
        },
    }
}

/// Print the run's header line (sizes, threads, wall time, version) and the summary table.
fn print_summary(args: &Args, threads: usize, wall: f64, rows: &[Row]) {
    let results: Vec<ChainResult> = rows.iter().map(|r| r.result.clone()).collect();
    println!(
        "chain-grid: {} chains (from {}), seed {}, {} threads, {wall:.1} s wall (replica-mi {}, commit {})",
        args.n,
        args.from,
        args.seed,
        threads,
        env!("CARGO_PKG_VERSION"),
        git_commit()
    );
    print!("{}", summary_table(&results));
}

/// Print the spec of the first `show` chains that did not converge: panics and unexpected
/// errors first, then bound violations, then the unconverged, each group in chain order.
fn print_failing(rows: &[Row], show: usize) {
    let mut failing: Vec<&Row> = rows
        .iter()
        .filter(|r| !matches!(r.result.outcome, Outcome::Converged))
        .collect();
    failing.sort_by_key(|r| match r.result.outcome {
        Outcome::Panic(_) | Outcome::BadError(_) => 0,
        Outcome::Violation(_) => 1,
        _ => 2,
    });
    for row in failing.iter().take(show) {
        let r = &row.result;
        println!(
            "\n--- chain {} [{}] {:.2} s: {}\n{}",
            r.index,
            r.outcome.label(),
            r.seconds,
            r.outcome.detail(),
            row.spec
        );
    }
}

/// Write one CSV row per chain to `out`: index, outcome, seconds, entropy, scheme, detail, spec.
fn write_report(out: &Path, rows: &[Row]) -> Result<()> {
    let mut w =
        csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    w.write_record([
        "chain", "outcome", "seconds", "entropy", "scheme", "detail", "spec",
    ])?;
    for row in rows {
        let r = &row.result;
        w.write_record([
            r.index.to_string(),
            r.outcome.label(),
            format!("{:.4}", r.seconds),
            row.entropy.map(|h| format!("{h:.12e}")).unwrap_or_default(),
            row.scheme.clone(),
            r.outcome.detail(),
            row.spec.clone(),
        ])?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// Write the provenance of the report `out` beside it (`<stem>.provenance.json`: the settings,
/// spectra, solver options, version, wall time of this process and the checkpoints it resumed
/// from); its path.
#[allow(clippy::too_many_arguments)]
fn write_provenance(
    out: &Path,
    args: &Args,
    threads: usize,
    params: &GeneratorParams,
    g: &ChainGenerator,
    opts: &SolverOptions,
    wall: f64,
    resumed_from: &[String],
) -> Result<PathBuf> {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prov_path = out.with_file_name(format!("{stem}.provenance.json"));
    let mut prov = serde_json::json!({
        "name": "chain-grid",
        "n": args.n,
        "from": args.from,
        "seed": args.seed,
        "kind": args.kind,
        "threads": threads,
        "generator": params,
        "spectra": g.spectra().map(|s| s.file.display().to_string()).collect::<Vec<_>>(),
        "solver": format!("{opts:?}"),
        "crate_version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "command_line": std::env::args().collect::<Vec<_>>(),
        "elapsed_seconds": wall,
    });
    if !resumed_from.is_empty() {
        prov["resumed_from"] = serde_json::json!(resumed_from);
    }
    std::fs::write(&prov_path, serde_json::to_string_pretty(&prov)? + "\n")
        .with_context(|| format!("cannot write {}", prov_path.display()))?;
    Ok(prov_path)
}
