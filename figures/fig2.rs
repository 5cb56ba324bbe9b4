//! Figure 2 and Figure S1 of Gabrié et al. 2018.
//!
//! H(T_1) (top row) and H(T_2) (bottom row) of random 2-layer networks, all widths n,
//! x ~ N(0, I), W_l ~ N(0, sigma^2/n), noise 1e-5 inside the measured layer and none before,
//! against the weight scale sigma on a log grid from 0.1 to 10; columns ReLU-ReLU,
//! hardtanh-hardtanh, linear-linear. Figure S1: I(X;T_1) and I(X;T_2) of the same networks.
//! What each curve is: `replica_mi::experiment::fig2`.
//!
//! Scales: quick n = 60, N = 150 samples, 5 sigmas from 0.1 to 10; default n = 300, N = 500,
//! 13 sigmas from 0.1 to 10; paper n = 1000, N = 1000, 13 sigmas from 0.1 to 10.
//!
//! Writes `fig2.csv` (+ `fig2.provenance.json`), `fig2.svg` and `figS1.svg` into `--out`.
//!
//! On a cluster: `--shard K/N` computes only the weight scales of shard K and writes
//! `fig2.shard-K-of-N.csv` (+ `.provenance.json`); `fig2 merge DIR` checks the N shards in DIR and
//! writes the same files as an unsharded run (`replica_mi::experiment::shard`).

use replica_mi::checked::Checked;
use replica_mi::experiment::checkpoint::Checkpoints;
use replica_mi::experiment::driver::{self, Summary};
use replica_mi::experiment::fig2::{self, log_grid, Fig2Config, Fig2Row};
use replica_mi::experiment::plot::palette::{BLACK, BLUE, GREEN, GREY, ORANGE, RED, TEAL};
use replica_mi::experiment::plot::{
    Axis, Figure, LineKind, MarkerKind, Panel, Series, SharedLegend, Style,
};
use replica_mi::experiment::{CommonArgs, ExperimentError, FigureOutput, Progress, Scale};
use replica_mi::nn::Act;

fn main() -> std::process::ExitCode {
    driver::main::<Fig2>()
}

/// Figure 2 has no flags of its own.
#[derive(clap::Args)]
struct Args {}

/// A run of Figure 2: its configuration and seed.
struct Fig2 {
    cfg: Checked<Fig2Config>,
    seed: u64,
}

impl driver::Figure for Fig2 {
    const NAME: &'static str = "fig2";
    const ABOUT: &'static str = "Entropy (Figure 2) and mutual information (Figure S1) of random \
                                 2-layer networks vs the weight scale.";
    type Args = Args;
    type Config = Fig2Config;
    type Row = Fig2Row;

    fn setup(c: &CommonArgs, _: &Args) -> anyhow::Result<Self> {
        let cfg = config(c.scale).validate()?;
        Ok(Fig2 { cfg, seed: c.seed })
    }

    fn config(&self) -> &Fig2Config {
        &self.cfg
    }

    /// One run per weight scale.
    fn runs(&self) -> Vec<f64> {
        self.cfg.sigmas.clone()
    }

    fn run_some(
        &self,
        sigmas: &[f64],
        progress: &dyn Progress,
        _: &mut Checkpoints<Fig2Row>,
    ) -> Result<Vec<Fig2Row>, ExperimentError> {
        let at = |s: &f64| {
            self.cfg
                .sigmas
                .iter()
                .position(|x| x.to_bits() == s.to_bits())
        };
        let held: Vec<usize> = sigmas.iter().filter_map(at).collect();
        fig2::run_some(&self.cfg, self.seed, &held, progress)
    }

    fn sort_merged(cfg: &Fig2Config, rows: &mut [Fig2Row]) {
        fig2::sort_rows(cfg, rows);
    }

    fn write(
        out: &mut FigureOutput<'_>,
        cfg: &Fig2Config,
        _: u64,
        _: &str,
        rows: &[Fig2Row],
    ) -> anyhow::Result<Summary> {
        out.table("fig2.csv", rows)?;
        let below = SharedLegend::Below;
        out.figure("fig2.svg", &figure(rows, cfg, Quantity::Entropy), below)?;
        let s1 = figure(rows, cfg, Quantity::MutualInformation);
        out.figure("figS1.svg", &s1, below)?;
        Ok(Summary::default())
    }
}

/// The problem size of each scale: width n, samples N, weight scales sigma = 10^e.
fn config(scale: Scale) -> Fig2Config {
    match scale {
        // 0.1, 0.32, 1, 3.2, 10
        Scale::Quick => Fig2Config::new(60, 150, log_grid(-1.0, 1.0, 5)),
        Scale::Default => Fig2Config::new(300, 500, log_grid(-1.0, 1.0, 13)),
        Scale::Paper => Fig2Config::new(1000, 1000, log_grid(-1.0, 1.0, 13)),
    }
}

/// Which quantity a figure shows.
#[derive(Clone, Copy, PartialEq)]
enum Quantity {
    Entropy,
    MutualInformation,
}

/// One curve: its legend, look, and the CSV column it plots.
struct Curve {
    label: &'static str,
    style: Style,
    value: fn(&Fig2Row, Quantity) -> Option<f64>,
}

fn curves(act: Act) -> Vec<Curve> {
    use Quantity::*;
    let mut c = vec![
        Curve {
            label: "replica (Gaussian ensemble)",
            style: Style::line(BLACK, LineKind::Solid),
            value: |r, q| {
                Some(match q {
                    Entropy => r.entropy_replica_gaussian_nats_per_unit,
                    MutualInformation => r.mi_replica_gaussian_nats_per_unit,
                })
            },
        },
        Curve {
            label: "replica (drawn weights' spectrum)",
            style: Style::markers(BLACK, MarkerKind::Circle),
            value: |r, q| {
                Some(match q {
                    Entropy => r.entropy_replica_empirical_nats_per_unit,
                    MutualInformation => r.mi_replica_empirical_nats_per_unit,
                })
            },
        },
    ];
    match act {
        Act::Linear => c.push(Curve {
            label: "exact (log-det)",
            style: Style::line(RED, LineKind::Dashed),
            value: |r, q| match q {
                Entropy => r.entropy_exact_nats_per_unit,
                MutualInformation => r.mi_exact_nats_per_unit,
            },
        }),
        Act::Hardtanh | Act::Relu => c.push(Curve {
            label: if act == Act::Relu {
                "1/2 linear approx"
            } else {
                "linear approx"
            },
            style: Style::line(
                if act == Act::Relu { ORANGE } else { GREY },
                LineKind::Dotted,
            ),
            value: |r, q| match q {
                Entropy => r.entropy_linear_approx_nats_per_unit,
                MutualInformation => r.mi_linear_approx_nats_per_unit,
            },
        }),
        // Not a column of the figure (the configuration rejects it).
        Act::Softmax => {}
    }
    c.extend([
        Curve {
            label: "KDE upper bound",
            style: Style::line(BLUE, LineKind::Solid).with_marker(MarkerKind::Triangle),
            value: |r, q| match q {
                Entropy => Some(r.entropy_kde_upper_nats_per_unit),
                MutualInformation => r.mi_kde_upper_nats_per_unit,
            },
        },
        Curve {
            label: "KDE parametric",
            style: Style::line(TEAL, LineKind::Dashed).with_marker(MarkerKind::Square),
            value: |r, q| match q {
                Entropy => Some(r.entropy_kde_parametric_nats_per_unit),
                MutualInformation => r.mi_kde_parametric_nats_per_unit,
            },
        },
        Curve {
            label: "kNN (Kraskov)",
            style: Style::line(GREEN, LineKind::Solid).with_marker(MarkerKind::Cross),
            value: |r, q| match q {
                Entropy => Some(r.entropy_knn_nats_per_unit),
                MutualInformation => r.mi_knn_nats_per_unit,
            },
        },
    ]);
    c
}

/// 2 x 3 panels: layer 1 (top) and layer 2 (bottom), one column per activation.
fn figure(rows: &[Fig2Row], cfg: &Fig2Config, q: Quantity) -> Figure {
    let mut panels = Vec::new();
    for layer in 1..=2 {
        for &act in &cfg.activations {
            let here: Vec<&Fig2Row> = rows
                .iter()
                .filter(|r| r.activation == act && r.layer == layer)
                .collect();
            let series = curves(act)
                .into_iter()
                .filter_map(|c| {
                    let points: Vec<(f64, f64)> = here
                        .iter()
                        .filter_map(|r| (c.value)(r, q).map(|v| (r.sigma, v)))
                        .collect();
                    (!points.is_empty()).then(|| Series {
                        label: c.label.to_string(),
                        points,
                        style: c.style,
                    })
                })
                .collect();
            let symbol = match q {
                Quantity::Entropy => format!("H(T_{layer})"),
                Quantity::MutualInformation => format!("I(X;T_{layer})"),
            };
            panels.push(Panel {
                title: format!("{}: {symbol}", fig2::title(act)),
                x_label: "weight scale σ".into(),
                y_label: format!("{symbol} (nats per unit)"),
                x_axis: Axis::Log,
                x_range: (0.1, 10.0),
                y_range: None,
                series,
                legend: None,
            });
        }
    }
    Figure {
        title: Some(format!(
            "{} of random 2-layer networks (n = {}, N = {} samples, noise {:e})",
            match q {
                Quantity::Entropy => "Entropy",
                Quantity::MutualInformation => "Mutual information with the input",
            },
            cfg.width,
            cfg.samples,
            cfg.noise_var
        )),
        rows: 2,
        cols: cfg.activations.len(),
        panel_size: (480, 400),
        panels,
    }
}
