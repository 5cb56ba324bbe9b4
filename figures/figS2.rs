//! Figure S2 of Gabrié et al. 2018: a network of USV layers (only singular values trained)
//! against a dense network of the same widths, on real images.
//!
//! Two panels against the epoch: cross-entropy and accuracy, train (solid) and test (dashed), USV
//! (blue) and dense (orange). Data: a folder in MNIST's layout, `--data-dir` (default
//! `/usr/share/datasets/fashion-mnist`, Debian's `dataset-fashion-mnist`; real MNIST files work
//! the same). What each number is: `replica_mi::experiment::figs2`.
//!
//! Scales (network 784-500-500-10, ReLU, softmax, SGD lr 0.1, batch 100):
//! quick 500 / 500 images (train / test), 3 epochs; default 10 000 / 10 000, 10 epochs;
//! paper 60 000 / 10 000, 50 epochs.
//!
//! Writes `figS2.csv` (+ `figS2.provenance.json`, which names the data files) and `figS2.svg`
//! into `--out`; a seed other than the default appends `_seed<N>`.
//!
//! Checkpoints (`<stem>.ckpt` in `--out`, `--checkpoint-every`, default every 5 minutes of work)
//! are written at the end of an epoch; `--resume` continues a killed run from the newest one, and
//! SIGUSR1 / SIGTERM make the run checkpoint and exit with status 75 (docs/checkpoints.md).
//!
//! On a cluster: `--shard K/N` trains only the networks of shard K (`1/2`: USV, `2/2`: dense) and
//! writes `<stem>.shard-K-of-N.csv` (+ `.provenance.json`); `figS2 merge DIR` checks the N shards
//! in DIR and writes the same files as an unsharded run (`replica_mi::experiment::driver`).

use replica_mi::checked::Checked;
use replica_mi::data::{MnistFiles, FASHION_MNIST_DIR};
use replica_mi::experiment::checkpoint::{CheckpointArgs, Checkpoints};
use replica_mi::experiment::driver::{self, Summary};
use replica_mi::experiment::figs2::{self, FigS2Config, FigS2Row, NetKind};
use replica_mi::experiment::plot::palette::{BLUE, ORANGE};
use replica_mi::experiment::plot::{
    epoch_panel, Figure, LegendCorner, LineKind, Series, SharedLegend, Style,
};
use replica_mi::experiment::{CommonArgs, ExperimentError, FigureOutput, Progress, TrainingArgs};
use replica_mi::synth::Dataset;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    driver::main::<FigS2>()
}

/// `--device`, `--epochs`, `--data-dir`, `--resume`, `--checkpoint-every`.
#[derive(clap::Args)]
struct Args {
    #[command(flatten)]
    training: TrainingArgs,
    /// Folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    /// t10k-labels-idx1-ubyte (each raw or .gz): Fashion-MNIST by default, or MNIST.
    #[arg(long, default_value = FASHION_MNIST_DIR)]
    data_dir: PathBuf,
    #[command(flatten)]
    checkpoint: CheckpointArgs,
}

/// What the provenance record holds: the configuration and the files it read.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    config: FigS2Config,
    data_set: String,
    data: MnistFiles,
}

/// A run of Figure S2: its configuration, seed, device, data and output stem.
struct FigS2 {
    cfg: Checked<FigS2Config>,
    record: Record,
    seed: u64,
    dev: candle_core::Device,
    train: Dataset,
    test: Dataset,
    stem: String,
}

impl driver::Figure for FigS2 {
    const NAME: &'static str = "figS2";
    const ABOUT: &'static str =
        "USV layers against dense layers on an MNIST-format data set: losses and accuracies.";
    const RUNS: &'static str = "networks";
    type Args = Args;
    type Config = Record;
    type Row = FigS2Row;

    fn setup(c: &CommonArgs, args: &Args) -> anyhow::Result<Self> {
        let mut cfg = FigS2Config::for_scale(c.scale);
        if let Some(n) = args.training.epochs {
            cfg = cfg.with_epochs(n);
        }
        let mut stem = "figS2".to_string();
        if c.seed != 2018 {
            stem.push_str(&format!("_seed{}", c.seed));
        }
        let cfg = cfg.validate()?;
        let dev = args.training.open()?;
        let (files, train, test) = figs2::load(&cfg, &args.data_dir)?;
        let data_set = args.data_dir.file_name().map_or_else(
            || args.data_dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let record = Record {
            config: cfg.get().clone(),
            data_set,
            data: files,
        };
        Ok(FigS2 {
            cfg,
            record,
            seed: c.seed,
            dev,
            train,
            test,
            stem,
        })
    }

    fn config(&self) -> &Record {
        &self.record
    }

    fn stem(&self) -> String {
        self.stem.clone()
    }

    fn device(&self) -> Option<&candle_core::Device> {
        Some(&self.dev)
    }

    fn checkpoint_args(args: &Args) -> Option<&CheckpointArgs> {
        Some(&args.checkpoint)
    }

    /// One run per network: USV, then dense.
    fn runs(&self) -> Vec<NetKind> {
        NetKind::ALL.to_vec()
    }

    fn run_some(
        &self,
        kinds: &[NetKind],
        progress: &dyn Progress,
        ck: &mut Checkpoints<FigS2Row>,
    ) -> Result<Vec<FigS2Row>, ExperimentError> {
        let (cfg, train, test) = (&self.cfg, &self.train, &self.test);
        figs2::run_checkpointed(cfg, train, test, self.seed, kinds, &self.dev, progress, ck)
    }

    fn write(
        out: &mut FigureOutput<'_>,
        record: &Record,
        _: u64,
        stem: &str,
        rows: &[FigS2Row],
    ) -> anyhow::Result<Summary> {
        let (cfg, data_set) = (&record.config, &record.data_set);
        out.table(&format!("{stem}.csv"), rows)?;
        let fig = figure(rows, cfg, data_set);
        out.figure(&format!("{stem}.svg"), &fig, SharedLegend::None)?;
        let last = |k: NetKind| rows.iter().rfind(|r| r.network == k);
        let details = NetKind::ALL
            .into_iter()
            .filter_map(|k| {
                let r = last(k)?;
                Some(format!(
                    "{} ({} trained parameters): epoch {}, test accuracy {:.4}, test loss {:.4}",
                    k.name(),
                    r.trainable_parameters,
                    r.epoch,
                    r.test_accuracy,
                    r.test_loss
                ))
            })
            .collect();
        Ok(Summary {
            headline: format!(" on {data_set}"),
            details,
        })
    }
}

fn figure(rows: &[FigS2Row], cfg: &FigS2Config, data_set: &str) -> Figure {
    let series = |kind: NetKind, test: bool, f: fn(&FigS2Row) -> f64| Series {
        label: format!("{} {}", kind.name(), if test { "test" } else { "train" }),
        points: rows
            .iter()
            .filter(|r| r.network == kind)
            .map(|r| (r.epoch as f64, f(r)))
            .filter(|(_, v)| v.is_finite())
            .collect(),
        style: Style::line(
            if kind == NetKind::Usv { BLUE } else { ORANGE },
            if test {
                LineKind::Dashed
            } else {
                LineKind::Solid
            },
        ),
    };
    let panel = |title: &str, y: &str, train: fn(&FigS2Row) -> f64, test, legend| {
        epoch_panel(
            title.into(),
            y,
            (0.0, cfg.epochs.max(1) as f64),
            [NetKind::Usv, NetKind::Dense]
                .into_iter()
                .flat_map(|k| [series(k, false, train), series(k, true, test)])
                .collect(),
            Some(legend),
        )
    };
    let widths: Vec<String> = cfg.widths.iter().map(usize::to_string).collect();
    Figure {
        title: Some(format!(
            "{data_set}: USV vs dense, {} {}, {} train / {} test images, SGD lr {}",
            widths.join("-"),
            cfg.hidden_activation,
            cfg.n_train,
            cfg.n_test,
            cfg.lr
        )),
        rows: 1,
        cols: 2,
        panel_size: (480, 380),
        panels: vec![
            panel(
                "loss",
                "cross-entropy (nats)",
                |r| r.train_loss,
                |r| r.test_loss,
                LegendCorner::UpperRight,
            ),
            panel(
                "accuracy",
                "accuracy",
                |r| r.train_accuracy,
                |r| r.test_accuracy,
                LegendCorner::LowerRight,
            ),
        ],
    }
}
