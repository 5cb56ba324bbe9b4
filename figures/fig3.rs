//! Figure 3 of Gabrié et al. 2018: linear teacher-student regression.
//!
//! A student of 3 linear USV layers (width n) and a dense output layer (4 outputs) learns a
//! linear teacher with plain SGD (MSE, lr 0.01, batch 50). Top row: train and test MSE, and
//! I(X;T_l) for l = 1, 2, 3 against the epoch, replica (warm-started) and exact (log-det)
//! overlaid. Bottom row: the maximum and the mean over all epochs and runs of the squared error
//! of the replica estimate against the exact value, against the width n, one panel per layer.
//! What each number is: `replica_mi::experiment::fig3`.
//!
//! Scales (training panels n; error panels widths x seeds; epochs; gamma = samples per input):
//! quick n = 40; 20, 80 x 2; 12 epochs; gamma 100;
//! default n = 100; 25, 50, 100, 200 x 3; 30 epochs; gamma 100;
//! paper n = 1500; 100, 200, 500, 1000, 1500 x 5; 100 epochs; gamma 100.
//!
//! Writes `fig3.csv` (+ `fig3.provenance.json`), `fig3_errors.csv` and `fig3.svg` into `--out`.
//!
//! On a cluster: `--shard K/N` trains only the runs `(width, seed)` of shard K and writes
//! `fig3.shard-K-of-N.csv` (+ `.provenance.json`); `fig3 merge DIR` checks the N shards in DIR and
//! writes the same files as an unsharded run (`replica_mi::experiment::shard`).

use replica_mi::checked::Checked;
use replica_mi::experiment::checkpoint::{CheckpointArgs, Checkpoints};
use replica_mi::experiment::driver::{self, Summary};
use replica_mi::experiment::fig3::{
    self, Fig3Config, Fig3ErrorRow, Fig3Row, Fig3Run, STUDENT_LAYERS,
};
use replica_mi::experiment::plot::palette::{BLACK, BLUE, RED};
use replica_mi::experiment::plot::{
    epoch_panel, train_test_series, Axis, Figure, LegendCorner, LineKind, MarkerKind, Panel,
    Series, SharedLegend, Style,
};
use replica_mi::experiment::{CommonArgs, ExperimentError, FigureOutput, Progress, TrainingArgs};

fn main() -> std::process::ExitCode {
    driver::main::<Fig3>()
}

/// `--device`, `--epochs`, `--resume`, `--checkpoint-every`.
#[derive(clap::Args)]
struct Args {
    #[command(flatten)]
    training: TrainingArgs,
    #[command(flatten)]
    checkpoint: CheckpointArgs,
}

/// A run of Figure 3: its configuration, seed and device.
struct Fig3 {
    cfg: Checked<Fig3Config>,
    seed: u64,
    dev: candle_core::Device,
}

impl driver::Figure for Fig3 {
    const NAME: &'static str = "fig3";
    const ABOUT: &'static str =
        "Linear teacher-student regression: losses and I(X;T_l) during training, replica vs exact.";
    type Args = Args;
    type Config = Fig3Config;
    type Row = Fig3Row;

    fn setup(c: &CommonArgs, args: &Args) -> anyhow::Result<Self> {
        let mut cfg = Fig3Config::for_scale(c.scale);
        if let Some(n) = args.training.epochs {
            cfg = cfg.with_epochs(n);
        }
        let cfg = cfg.validate()?;
        let dev = args.training.open()?;
        Ok(Fig3 {
            cfg,
            seed: c.seed,
            dev,
        })
    }

    fn config(&self) -> &Fig3Config {
        &self.cfg
    }

    fn device(&self) -> Option<&candle_core::Device> {
        Some(&self.dev)
    }

    fn checkpoint_args(args: &Args) -> Option<&CheckpointArgs> {
        Some(&args.checkpoint)
    }

    /// One run per `(width, seed)`.
    fn runs(&self) -> Vec<Fig3Run> {
        self.cfg.run_keys(self.seed)
    }

    fn costs(&self, runs: &[Fig3Run]) -> Vec<f64> {
        Fig3Config::run_costs(runs)
    }

    fn run_some(
        &self,
        runs: &[Fig3Run],
        progress: &dyn Progress,
        ck: &mut Checkpoints<Fig3Row>,
    ) -> Result<Vec<Fig3Row>, ExperimentError> {
        fig3::run_checkpointed(&self.cfg, runs, &self.dev, progress, ck)
    }

    fn write(
        out: &mut FigureOutput<'_>,
        cfg: &Fig3Config,
        seed: u64,
        _: &str,
        rows: &[Fig3Row],
    ) -> anyhow::Result<Summary> {
        let errs = fig3::errors(cfg, seed, rows);
        out.table("fig3.csv", rows)?;
        out.table("fig3_errors.csv", &errs)?;
        let fig = figure(rows, &errs, cfg, seed);
        out.figure("fig3.svg", &fig, SharedLegend::None)?;
        let details = errs
            .iter()
            .map(|e| {
                format!(
                    "n = {:5} layer {}: max sq err {:.2e}, mean {:.2e} ({} points, {} failed)",
                    e.width, e.layer, e.max_squared_error, e.mean_squared_error, e.points, e.failed
                )
            })
            .collect();
        Ok(Summary {
            headline: String::new(),
            details,
        })
    }
}

/// The figure: the MSE and `I(X;T_l)` (replica and exact) during the run of width `train_width`
/// and seed `seed` (top row), and the replica's error against the width per layer (bottom row).
fn figure(rows: &[Fig3Row], errs: &[Fig3ErrorRow], cfg: &Fig3Config, seed: u64) -> Figure {
    let main: Vec<&Fig3Row> = rows
        .iter()
        .filter(|r| r.width == cfg.train_width && r.seed == seed)
        .collect();
    let x_range = (0.0, cfg.epochs.max(1) as f64);
    let mut panels = vec![mse_panel(&main, cfg, x_range)];
    for layer in 1..=STUDENT_LAYERS {
        panels.push(mi_panel(&main, layer, x_range));
    }
    let widths = width_range(cfg);
    for layer in 1..=STUDENT_LAYERS {
        panels.push(error_panel(errs, layer, widths));
    }
    Figure {
        title: Some(format!(
            "Linear teacher-student: n = {}, gamma = {}, {} epochs; errors over {} seeds",
            cfg.train_width, cfg.gamma, cfg.epochs, cfg.error_seeds
        )),
        rows: 2,
        cols: 4,
        panel_size: (420, 360),
        panels,
    }
}

/// The train and test MSE of the run `main` against the epoch.
fn mse_panel(main: &[&Fig3Row], cfg: &Fig3Config, x_range: (f64, f64)) -> Panel {
    let loss = |f: fn(&Fig3Row) -> f64| -> Vec<(f64, f64)> {
        main.iter()
            .filter(|r| r.layer == 1)
            .map(|r| (r.epoch as f64, f(r)))
            .collect()
    };
    epoch_panel(
        format!("MSE (n = {})", cfg.train_width),
        "mean squared error",
        x_range,
        train_test_series(loss(|r| r.train_mse), loss(|r| r.test_mse)),
        Some(LegendCorner::UpperRight),
    )
}

/// `I(X;T_layer)` of the run `main` against the epoch: the replica's and the exact (log-det) one.
fn mi_panel(main: &[&Fig3Row], layer: usize, x_range: (f64, f64)) -> Panel {
    let pts = |f: fn(&Fig3Row) -> Option<f64>| -> Vec<(f64, f64)> {
        main.iter()
            .filter(|r| r.layer == layer)
            .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    epoch_panel(
        format!("I(X;T_{layer})"),
        "nats per input unit",
        x_range,
        vec![
            Series {
                label: "replica".into(),
                points: pts(|r| r.mi_replica_nats_per_input),
                style: Style::line(BLACK, LineKind::Solid),
            },
            Series {
                label: "exact (log-det)".into(),
                points: pts(|r| r.mi_exact_nats_per_input),
                style: Style::line(RED, LineKind::Dashed),
            },
        ],
        Some(LegendCorner::LowerRight),
    )
}

/// The smallest and largest of the widths whose errors are measured.
fn width_range(cfg: &Fig3Config) -> (f64, f64) {
    cfg.error_widths
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &w| {
            (lo.min(w as f64), hi.max(w as f64))
        })
}

/// The max and mean squared error of the replica's `I(X;T_layer)` against the exact one, log10,
/// against the width (log axis over `widths`, widened by a factor 1.2 on each side).
fn error_panel(errs: &[Fig3ErrorRow], layer: usize, (wmin, wmax): (f64, f64)) -> Panel {
    let pts = |f: fn(&Fig3ErrorRow) -> f64| -> Vec<(f64, f64)> {
        errs.iter()
            .filter(|e| e.layer == layer && e.points > 0)
            .map(|e| (e.width as f64, f(e).max(1e-30).log10()))
            .collect()
    };
    Panel {
        title: format!("replica vs exact, layer {layer}"),
        x_label: "width n".into(),
        y_label: "log10 squared error".into(),
        x_axis: Axis::Log,
        x_range: (wmin / 1.2, wmax * 1.2),
        y_range: None,
        series: vec![
            Series {
                label: "max".into(),
                points: pts(|e| e.max_squared_error),
                style: Style::line(RED, LineKind::Solid).with_marker(MarkerKind::Triangle),
            },
            Series {
                label: "mean".into(),
                points: pts(|e| e.mean_squared_error),
                style: Style::line(BLUE, LineKind::Dashed).with_marker(MarkerKind::Circle),
            },
        ],
        legend: (layer == 1).then_some(LegendCorner::UpperRight),
    }
}
