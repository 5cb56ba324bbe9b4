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

use anyhow::Result;
use clap::Parser;
use replica_mi::data::{MnistFiles, FASHION_MNIST_DIR};
use replica_mi::experiment::checkpoint::{self, CheckpointArgs, Checkpoints};
use replica_mi::experiment::figs2::{self, FigS2Config, FigS2Row, NetKind};
use replica_mi::experiment::plot::palette::{BLUE, ORANGE};
use replica_mi::experiment::plot::{
    epoch_panel, Figure, LegendCorner, LineKind, Series, SharedLegend, Style,
};
use replica_mi::experiment::{CommonArgs, FigureOutput, TrainingArgs};
use serde::Serialize;
use std::path::PathBuf;

/// USV layers against dense layers on an MNIST-format data set: losses and accuracies.
#[derive(Parser)]
#[command(name = "figS2")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
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
#[derive(Serialize)]
struct Record<'a> {
    config: &'a FigS2Config,
    data_set: String,
    data: &'a MnistFiles,
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

fn main() -> std::process::ExitCode {
    checkpoint::exit_code(run())
}

fn run() -> Result<()> {
    let args = Args::parse();
    let c = &args.common;
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
    let mut out = FigureOutput::start(c, "figS2")?;
    out.on_device(&dev);
    let progress = out.progress();
    let record = Record {
        config: &cfg,
        data_set: data_set.clone(),
        data: &files,
    };
    let mut ck = Checkpoints::start(c, "figS2", &stem, None, &record, &args.checkpoint)?;
    let rows = figs2::run_checkpointed(&cfg, &train, &test, c.seed, &dev, &progress, &mut ck)?;
    progress.finish_and_clear();
    out.resumed_from(ck.resumed_from());
    out.trained_with(ck.engines());

    out.table(&format!("{stem}.csv"), &rows)?;
    out.figure(
        &format!("{stem}.svg"),
        &figure(&rows, &cfg, &data_set),
        SharedLegend::None,
    )?;
    let last = |k: NetKind| rows.iter().rfind(|r| r.network == k);
    let details: Vec<String> = [NetKind::Usv, NetKind::Dense]
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
    out.finish(&record, &format!(" on {data_set}"), &details)?;
    ck.remove()?;
    Ok(())
}
