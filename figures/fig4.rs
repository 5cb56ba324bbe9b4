//! Figure 4 of Gabrié et al. 2018: classification of data from a generative model.
//!
//! One row per network: loss (train, test), accuracy (train, test), I(X;T_l) of the 4 hidden
//! layers against the epoch, and the same zoomed on the first epochs. Rows: linear-ReLU and
//! linear-hardtanh (the paper), or `--variant hardtanh-only` (supplementary: no interleaved
//! linear layers). What each number is: `replica_mi::experiment::fig4`.
//!
//! Scales (n_Y, network, epochs, gamma = samples per input):
//! quick n_Y = 5, 20-40-20-10-5-2, 4 epochs, gamma 100;
//! default n_Y = 20, 100-200-100-50-20-2 (the authors' code scale), 50 epochs, gamma 100;
//! paper n_Y = 100, 500-1000-500-250-100-2, 100 epochs, gamma 100.
//!
//! Writes `fig4.csv` (+ `fig4.provenance.json`) and `fig4.svg` into `--out`; the hardtanh-only
//! variant writes `fig4_hardtanh_only.*`, and a seed other than the default appends `_seed<N>`.
//!
//! On a cluster: `--shard K/N` trains only the variants (rows of the figure) of shard K and writes
//! `<stem>.shard-K-of-N.csv` (+ `.provenance.json`); `fig4 merge DIR` checks the N shards in DIR
//! and writes the same files as an unsharded run (`replica_mi::experiment::shard`).

use replica_mi::checked::Checked;
use replica_mi::experiment::checkpoint::{CheckpointArgs, Checkpoints};
use replica_mi::experiment::driver::{self, Summary};
use replica_mi::experiment::fig4::{self, Fig4Config, Fig4Row, Fig4Variant, HIDDEN_LAYERS};
use replica_mi::experiment::plot::palette::{Rgb, BLUE, GREEN, ORANGE, RED};
use replica_mi::experiment::plot::{
    epoch_panel, train_test_series, Figure, LegendCorner, LineKind, MarkerKind, Panel, Series,
    SharedLegend, Style,
};
use replica_mi::experiment::{CommonArgs, ExperimentError, FigureOutput, Progress, TrainingArgs};

fn main() -> std::process::ExitCode {
    driver::main::<Fig4>()
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Variant {
    /// linear-relu and linear-hardtanh rows (the paper's figure).
    Paper,
    /// hardtanh-hardtanh-hardtanh-hardtanh-softmax only.
    HardtanhOnly,
}

/// `--device`, `--epochs`, `--variant`, `--no-data-noise`, `--resume`, `--checkpoint-every`.
#[derive(clap::Args)]
struct Args {
    #[command(flatten)]
    training: TrainingArgs,
    /// Which networks to train.
    #[arg(long, value_enum, default_value_t = Variant::Paper)]
    variant: Variant,
    /// Do not add the 0.01 noise to the data (as the authors' code did); the chain keeps it.
    #[arg(long)]
    no_data_noise: bool,
    #[command(flatten)]
    checkpoint: CheckpointArgs,
}

/// A run of Figure 4: its configuration, seed, device and output stem.
struct Fig4 {
    cfg: Checked<Fig4Config>,
    seed: u64,
    dev: candle_core::Device,
    stem: String,
}

impl driver::Figure for Fig4 {
    const NAME: &'static str = "fig4";
    const ABOUT: &'static str =
        "Generative-model classification: losses, accuracies and I(X;T_l) during training.";
    const RUNS: &'static str = "variants";
    type Args = Args;
    type Config = Fig4Config;
    type Row = Fig4Row;

    fn setup(c: &CommonArgs, args: &Args) -> anyhow::Result<Self> {
        let mut cfg = Fig4Config::for_scale(c.scale);
        if let Some(n) = args.training.epochs {
            cfg = cfg.with_epochs(n);
        }
        cfg.apply_noise = !args.no_data_noise;
        let mut stem = "fig4".to_string();
        if args.variant == Variant::HardtanhOnly {
            cfg.variants = vec![Fig4Variant::HardtanhOnly];
            stem.push_str("_hardtanh_only");
        }
        if args.no_data_noise {
            stem.push_str("_no_data_noise");
        }
        if c.seed != 2018 {
            stem.push_str(&format!("_seed{}", c.seed));
        }
        let cfg = cfg.validate()?;
        let dev = args.training.open()?;
        Ok(Fig4 {
            cfg,
            seed: c.seed,
            dev,
            stem,
        })
    }

    fn config(&self) -> &Fig4Config {
        &self.cfg
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

    /// One run per variant (row of the figure).
    fn runs(&self) -> Vec<Fig4Variant> {
        self.cfg.variants.clone()
    }

    fn run_some(
        &self,
        variants: &[Fig4Variant],
        progress: &dyn Progress,
        ck: &mut Checkpoints<Fig4Row>,
    ) -> Result<Vec<Fig4Row>, ExperimentError> {
        fig4::run_checkpointed(&self.cfg, self.seed, variants, &self.dev, progress, ck)
    }

    fn write(
        out: &mut FigureOutput<'_>,
        cfg: &Fig4Config,
        _: u64,
        stem: &str,
        rows: &[Fig4Row],
    ) -> anyhow::Result<Summary> {
        out.table(&format!("{stem}.csv"), rows)?;
        let fig = figure(rows, cfg);
        out.figure(&format!("{stem}.svg"), &fig, SharedLegend::None)?;
        let failed = rows
            .iter()
            .filter(|r| r.replica_converged == Some(false))
            .count();
        Ok(Summary {
            headline: format!(", {failed} failed solves"),
            details: Vec::new(),
        })
    }
}

const LAYER_COLORS: [Rgb; HIDDEN_LAYERS] = [BLUE, ORANGE, GREEN, RED];

/// The figure: one row of four panels per variant (loss, accuracy, the change of `I(X;T_l)`
/// over all epochs and over the first `zoom_epochs`).
fn figure(rows: &[Fig4Row], cfg: &Fig4Config) -> Figure {
    let mut panels = Vec::new();
    for &variant in &cfg.variants {
        let here: Vec<&Fig4Row> = rows.iter().filter(|r| r.variant == variant).collect();
        panels.extend(variant_panels(&here, variant, cfg));
    }
    Figure {
        title: Some(figure_title(cfg)),
        rows: cfg.variants.len(),
        cols: 4,
        panel_size: (420, 360),
        panels,
    }
}

/// The title: the problem size and where the noise is added.
fn figure_title(cfg: &Fig4Config) -> String {
    format!(
        "Generative classification: n_Y = {}, network {:?}, gamma = {}, noise {} ({})",
        cfg.n_latent,
        cfg.widths,
        cfg.gamma,
        cfg.noise_var,
        if cfg.apply_noise {
            "added to the data"
        } else {
            "chain only"
        }
    )
}

/// The four panels of one variant's row, from its rows `here`.
fn variant_panels(here: &[&Fig4Row], variant: Fig4Variant, cfg: &Fig4Config) -> [Panel; 4] {
    let full = (0.0, cfg.epochs.max(1) as f64);
    let pair = |title: &str, y: &str, a: fn(&Fig4Row) -> f64, b: fn(&Fig4Row) -> f64| {
        epoch_panel(
            format!("{}: {title}", variant.name()),
            y,
            full,
            train_test_series(per_epoch(here, a), per_epoch(here, b)),
            Some(LegendCorner::UpperRight),
        )
    };
    let loss = pair("loss", "cross-entropy", |r| r.train_loss, |r| r.test_loss);
    let mut acc = pair(
        "accuracy",
        "accuracy",
        |r| r.train_accuracy,
        |r| r.test_accuracy,
    );
    acc.legend = Some(LegendCorner::LowerRight);
    let mi_y = "change since epoch 0 (nats per latent unit)";
    let mi = epoch_panel(
        format!("{}: I(X;T_l) - I_0", variant.name()),
        mi_y,
        full,
        mi_change_series(here, cfg.epochs),
        Some(LegendCorner::LowerLeft),
    );
    let zoom = epoch_panel(
        format!(
            "{}: I(X;T_l) - I_0, first {} epochs",
            variant.name(),
            cfg.zoom_epochs
        ),
        mi_y,
        (0.0, cfg.zoom_epochs.max(1) as f64),
        mi_change_series(here, cfg.zoom_epochs),
        None,
    );
    [loss, acc, mi, zoom]
}

/// The finite values of a per-epoch quantity `f` (losses, accuracies: the same on every layer's
/// row, taken from layer 1), against the epoch.
fn per_epoch(here: &[&Fig4Row], f: fn(&Fig4Row) -> f64) -> Vec<(f64, f64)> {
    here.iter()
        .filter(|r| r.layer == 1)
        .map(|r| (r.epoch as f64, f(r)))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// One curve per hidden layer: the change of `I(X;T_l)` since its first evaluation, up to epoch
/// `upto` (the layers differ by several nats per latent unit, their changes during training by
/// hundredths); the label gives the activation and that first value `I_0`.
fn mi_change_series(here: &[&Fig4Row], upto: usize) -> Vec<Series> {
    (1..=HIDDEN_LAYERS)
        .map(|l| {
            let layer: Vec<&&Fig4Row> = here
                .iter()
                .filter(|r| r.layer == l && r.mi_replica_nats_per_latent.is_some())
                .collect();
            let act = layer.first().map_or("", |r| r.activation.name());
            let base = layer.first().and_then(|r| r.mi_replica_nats_per_latent);
            Series {
                label: format!(
                    "T_{l} ({act}), I_0 = {}",
                    base.map_or("-".into(), |b| format!("{b:.2}"))
                ),
                points: layer
                    .iter()
                    .filter(|r| r.epoch <= upto)
                    .filter_map(|r| {
                        let v = r.mi_replica_nats_per_latent?;
                        Some((r.epoch as f64, v - base?))
                    })
                    .collect(),
                style: Style::line(LAYER_COLORS[l - 1], LineKind::Solid)
                    .with_marker(MarkerKind::Circle),
            }
        })
        .collect()
}
