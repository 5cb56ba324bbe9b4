//! The one `main` of every figure binary: a figure says what is particular to it through
//! [`Figure`] (its flags, configuration, runs, how to compute some of them, what to write from the
//! rows), and [`main`] does the rest, the same way for every figure.
//!
//! ```text
//! <figure> [--scale S] [--seed N] [--out DIR] [--quiet] [figure flags] [--shard K/N]
//! <figure> merge DIR [--quiet]
//! ```
//!
//! * **Full run**: every run of the figure ([`Figure::runs`]), then its tables, SVGs and
//!   provenance record ([`Figure::write`], [`FigureOutput::finish`]).
//! * **Shard** (`--shard K/N`): the runs shard `K` holds ([`Shard::holds`] with
//!   [`Figure::costs`]), written as `<stem>.shard-K-of-N.csv` and its [`ShardRecord`]
//!   (`crate::experiment::shard`).
//! * **Merge** (`merge DIR`): the shards in `DIR` checked and joined
//!   ([`crate::experiment::shard::merge`]), then the same [`Figure::write`] as a full run, so
//!   the files are those of an unsharded run byte for byte.
//! * **Checkpoints**: for a figure whose flags hold [`CheckpointArgs`]
//!   ([`Figure::checkpoint_args`]), full runs and shards checkpoint into `--out` and `--resume`
//!   continues them; the checkpoint files are removed once the outputs are written.
//! * **Progress**: one bar on stderr ([`progress_bar`]), hidden with `--quiet`, under `CI` or
//!   when stderr is not a terminal; the figure's runs advance it through [`Progress`].
//! * **Exit status**: 0; 75 for a run stopped by SIGUSR1 / SIGTERM after its checkpoint; 1 for
//!   any other error; 2 for a usage error ([`checkpoint::exit_code`], clap).
//!
//! [`ShardRecord`]: crate::experiment::shard::ShardRecord

use super::checkpoint::{self, CheckpointArgs, Checkpoints};
use super::cli::CommonArgs;
use super::error::ExperimentError;
use super::output::FigureOutput;
use super::progress::{progress_bar, Progress};
use super::shard::{self, Shard, ShardArgs, ShardCommand, ShardPart, ShardedRow};
use clap::{CommandFactory, FromArgMatches};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// A run of a figure: what the driver needs to know of it (see the module documentation).
pub trait Figure: Sized {
    /// The experiment's name: the binary, the provenance `name`, the shard files' default stem
    /// (`fig2`).
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// What the figure's runs are called in messages (`"variants"`).
    const RUNS: &'static str = "runs";

    /// The figure's own flags (`#[derive(clap::Args)]`), beside the common ones, `--shard` and
    /// `merge`.
    type Args: clap::Args;
    /// What the provenance record holds as `config`, and all that [`Figure::write`] needs beside
    /// the rows (a merge rebuilds the figure from it).
    type Config: Serialize + DeserializeOwned + PartialEq + Clone;
    /// A row of the figure's main table; it names the run that produced it.
    type Row: ShardedRow + Clone;

    /// The figure from the command line: checked configuration, device, data. Nothing is
    /// written before it succeeds.
    fn setup(common: &CommonArgs, args: &Self::Args) -> anyhow::Result<Self>;

    /// The configuration recorded in the provenance (and compared by a merge and a resume).
    fn config(&self) -> &Self::Config;

    /// The output stem (`fig4_hardtanh_only`); by default [`Figure::NAME`].
    fn stem(&self) -> String {
        Self::NAME.to_string()
    }

    /// Where the figure trains its networks, for the record (none: `cpu`).
    fn device(&self) -> Option<&candle_core::Device> {
        None
    }

    /// The checkpoint flags among the figure's (none: the figure does not checkpoint).
    fn checkpoint_args(_args: &Self::Args) -> Option<&CheckpointArgs> {
        None
    }

    /// Every independent run of the figure, in canonical order (the order of the merged table).
    fn runs(&self) -> Vec<Run<Self>>;

    /// The relative cost of each of `runs`, which [`Shard::holds`] balances (default: equal).
    fn costs(&self, runs: &[Run<Self>]) -> Vec<f64> {
        vec![1.0; runs.len()]
    }

    /// Compute `runs` (all of them, or a shard's), in order, reporting to `progress` and
    /// checkpointing in `ck` (a [`Checkpoints::none`] unless the figure checkpoints).
    fn run_some(
        &self,
        runs: &[Run<Self>],
        progress: &dyn Progress,
        ck: &mut Checkpoints<Self::Row>,
    ) -> Result<Vec<Self::Row>, ExperimentError>;

    /// Put merged rows (in run order) into the order of a full run, when that differs.
    fn sort_merged(_config: &Self::Config, _rows: &mut [Self::Row]) {}

    /// Write the tables and SVGs of the whole figure from its rows (a full run's or the merged
    /// shards'): the first table written gets the provenance record. `seed` and `stem` are the
    /// run's (a merge: the shards').
    fn write(
        out: &mut FigureOutput<'_>,
        config: &Self::Config,
        seed: u64,
        stem: &str,
        rows: &[Self::Row],
    ) -> anyhow::Result<Summary>;
}

/// The run of a figure's rows.
pub type Run<F> = <<F as Figure>::Row as ShardedRow>::Run;

/// What a figure adds to the summary printed at the end (unless `--quiet`): after the title line
/// `headline`, then one line per `details`.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub headline: String,
    pub details: Vec<String>,
}

// The command line of every figure binary (no doc comment: `about` is the figure's).
#[derive(clap::Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli<A: clap::Args> {
    #[command(subcommand)]
    command: Option<ShardCommand>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    figure: A,
    #[command(flatten)]
    shard: ShardArgs,
}

/// The `main` of the figure binary `F`: parse the command line, run, and give the exit status
/// (0, 75 when stopped by a signal after a checkpoint, 1 on an error, 2 on a usage error).
pub fn main<F: Figure>() -> std::process::ExitCode {
    let mut cmd = Cli::<F::Args>::command().name(F::NAME).about(F::ABOUT);
    let matches = cmd.get_matches_mut();
    let cli =
        Cli::<F::Args>::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cmd).exit());
    checkpoint::exit_code(run::<F>(cli))
}

fn run<F: Figure>(cli: Cli<F::Args>) -> anyhow::Result<()> {
    if let Some(ShardCommand::Merge { dir, quiet }) = &cli.command {
        return merge::<F>(dir, *quiet);
    }
    let c = &cli.common;
    let fig = F::setup(c, &cli.figure)?;
    let mut out = FigureOutput::start(c, F::NAME)?;
    if let Some(dev) = fig.device() {
        out.on_device(dev);
    }
    let progress = progress_bar(0, F::NAME, c.show_progress());
    let shard = cli.shard.shard;
    let stem = fig.stem();
    let all = fig.runs();
    let (runs, file_stem) = match shard {
        Some(s) => (held(&fig, s, &all), s.file_stem(&stem)),
        None => (all.clone(), stem.clone()),
    };
    if let Some(s) = shard.filter(|_| runs.is_empty()) {
        eprintln!(
            "{}: shard {s} holds none of the {} {} (more shards than runs); writing an empty shard",
            F::NAME,
            all.len(),
            F::RUNS
        );
    }
    let mut ck = match F::checkpoint_args(&cli.figure) {
        Some(args) => {
            let shard = shard.map(|s| s.to_string());
            Checkpoints::start(c, F::NAME, &file_stem, shard, fig.config(), args)?
        }
        None => Checkpoints::none(),
    };
    let rows = fig.run_some(&runs, &progress, &mut ck)?;
    progress.finish_and_clear();
    out.resumed_from(ck.resumed_from());
    out.trained_with(ck.engines());
    if let Some(shard) = shard {
        let table = file_stem + ".csv";
        out.table(&table, &rows)?;
        let part = ShardPart {
            shard,
            stem,
            table,
            rows: rows.len(),
            runs,
            all_runs: all,
        };
        out.finish_shard(fig.config(), part)?;
    } else {
        let s = F::write(&mut out, fig.config(), c.seed, &stem, &rows)?;
        out.finish(fig.config(), &s.headline, &s.details)?;
    }
    ck.remove()?;
    Ok(())
}

/// The runs of `all` that shard `s` holds, in canonical order.
fn held<F: Figure>(fig: &F, s: Shard, all: &[Run<F>]) -> Vec<Run<F>> {
    s.holds(&fig.costs(all))
        .into_iter()
        .map(|i| all[i].clone())
        .collect()
}

/// `<figure> merge DIR`: the shards in `dir` joined and written as a full run.
fn merge<F: Figure>(dir: &Path, quiet: bool) -> anyhow::Result<()> {
    let mut merged = shard::merge::<F::Config, F::Row>(dir, F::NAME)?;
    let common = merged.common_args(dir, quiet);
    let config = merged.record.config.clone();
    F::sort_merged(&config, &mut merged.rows);
    let mut out = FigureOutput::start(&common, F::NAME)?;
    let s = F::write(&mut out, &config, common.seed, &merged.stem, &merged.rows)?;
    out.finish_record(merged.record, &s.headline, &s.details)?;
    Ok(())
}
