//! One figure trained on two devices (CPU and CUDA), compared column by column.
//!
//! Both runs draw everything random (data, initial weights, minibatch order) on the host from the
//! same seeds, so they may differ only by float32 rounding: cuBLAS and candle's CPU matrix product
//! sum in different orders (candle leaves TF32 off for float32 products, so both are true float32
//! products), and the reductions of the losses run in another order too.
//!
//! # Tolerances after `N` epochs, and why
//! * **Losses (MSE, cross-entropy): relative 1e-3** (absolute floor 1e-7). A float32 product with
//!   inner dimension `K` carries a relative rounding error of about `sqrt(K) u` (at most `K u`),
//!   `u = 6e-8`: below 1e-6 for the quick sizes (`K <= 80`). SGD carries the difference from step
//!   to step; over the quick runs' 80 (Figure 4) to ~1000 (Figure 3) steps it grows like a random
//!   walk, to ~`sqrt(steps) * 1e-6 <= 3e-5`, and at worst linearly, to ~1e-3 for the longest run.
//!   1e-3 is that worst case, 30x the typical one; a wrong kernel or gradient moves a loss by
//!   percents (training halves it within a few epochs).
//! * **Accuracies: absolute 2e-3.** An accuracy is a count over `n >= 2000` samples; a weight
//!   perturbation at the 1e-5 level flips only samples that close to the decision boundary,
//!   rarely more than one. 2e-3 allows 4 flips out of 2000; a real fault flips hundreds.
//! * **Mutual informations and entropies: absolute 1e-3 nats** (per input or per latent unit).
//!   They are computed in f64 on the host from the trained weights. A relative perturbation `e`
//!   of the weights moves each eigenvalue of `W^T W` by at most `2e` relatively; for a linear
//!   layer, `I = (1/2n) sum_i log(1 + lambda_i / s^2)` then moves by at most `(m/n) e` nats
//!   (`m` eigenvalues, `m/n <= 8` at quick scale: layer width over input or latent width), so
//!   `8e-5` for `e = 1e-5`. The replica formula is a smooth function of the same spectra, and we
//!   take the same scale for it (not a proven bound); the solver's own tolerance (~1e-10) is far
//!   below. 1e-3 nats is 10x that estimate and far below the differences the figures show
//!   (tenths of a nat between layers and epochs).
//! * Keys, configuration columns (`gamma`, `width`), flags and messages: exactly.

use super::compare::{CompareSpec, Tolerance};

/// Relative tolerance of the losses (see the module docs).
pub const LOSS: Tolerance = Tolerance::new(1e-7, 1e-3);
/// Absolute tolerance of the accuracies (4 samples in 2000).
pub const ACCURACY: Tolerance = Tolerance::abs(2e-3);
/// Absolute tolerance of the MIs and entropies, nats per unit.
pub const NATS: Tolerance = Tolerance::abs(1e-3);

/// The figures whose training runs can be compared across devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainingFigure {
    /// `fig3.csv`: linear teacher-student regression.
    Fig3,
    /// `fig4.csv` (and `fig4_hardtanh_only.csv`): generative-model classification.
    Fig4,
}

impl TrainingFigure {
    /// Keys and per-column tolerances of the figure's CSV (every numeric column has one, so a
    /// column added later fails the comparison until it is given one).
    pub fn spec(self) -> CompareSpec {
        match self {
            TrainingFigure::Fig3 => CompareSpec::new(["seed", "width", "epoch", "layer"])
                .tolerance("gamma", Tolerance::EXACT)
                .tolerance("train_mse", LOSS)
                .tolerance("test_mse", LOSS)
                .tolerance("mi_replica_nats_per_input", NATS)
                .tolerance("mi_exact_nats_per_input", NATS)
                .tolerance("entropy_replica_nats_per_input", NATS)
                .tolerance("entropy_exact_nats_per_input", NATS),
            TrainingFigure::Fig4 => CompareSpec::new(["variant", "seed", "epoch", "layer"])
                .tolerance("width", Tolerance::EXACT)
                .tolerance("train_loss", LOSS)
                .tolerance("test_loss", LOSS)
                .tolerance("train_accuracy", ACCURACY)
                .tolerance("test_accuracy", ACCURACY)
                .tolerance("mi_replica_nats_per_latent", NATS)
                .tolerance("entropy_replica_nats_per_latent", NATS)
                .tolerance("mi_exact_nats_per_latent", NATS),
        }
    }

    /// The CSV the figure binary writes (default variant and seed).
    pub fn csv_name(self) -> &'static str {
        match self {
            TrainingFigure::Fig3 => "fig3.csv",
            TrainingFigure::Fig4 => "fig4.csv",
        }
    }
}
