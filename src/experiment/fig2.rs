//! Figure 2 (entropies) and Figure S1 (mutual informations) of Gabrié et al. 2018: random,
//! untrained 2-layer networks `X -> T_1 -> T_2` versus the weight scale `sigma`.
//!
//! Setting (all widths `n`): `x ~ N(0, I_n)`, `W_l = sigma G_l` with `G_l` entries `N(0, 1/n)`,
//! `T_l = phi(W_l T_{l-1} + xi_l)`, the same activation `phi` in both layers (ReLU, hardtanh with
//! threshold 1, or linear). The noise `xi_l ~ N(0, s^2 I)`, `s^2 = 1e-5`, is added *inside* the
//! activation of the measured layer only; the layers before it are noiseless, so
//! `I(X; T_l) = H(T_l) - H(T_l | X)`. Everything is in nats per input unit (`/ n_0`, here
//! `= / n`).
//!
//! One draw of `G_1`, `G_2`, of the `N` inputs and of the noises serves every `sigma` and every
//! activation (common random numbers: the curves are smooth in `sigma` and the columns differ only
//! by the activation). For each `(activation, layer, sigma)` the row holds:
//!
//! * **replica, Gaussian ensemble**: the replica formula with `W_l^T W_l` Marchenko-Pastur with
//!   entry variance `sigma^2 / n` (the `n -> infinity` prediction; no sampling involved);
//! * **replica, empirical spectrum**: the same with the `n` eigenvalues of the drawn `W_l^T W_l`;
//! * **exact** (linear only): `ln det(2 pi e Sigma_l) / (2 n_0)` with
//!   `Sigma_2 = W_2 W_1 W_1^T W_2^T + s^2 I` for the drawn matrices;
//! * **linear approx** (hardtanh) and **1/2 linear approx** (ReLU): the entropy of the *same*
//!   network (same drawn matrices, same noise) with the activation replaced by the identity,
//!   i.e. the exact linear value, respectively half of it. Reading of the paper's labels: a
//!   hardtanh unit is the identity while `|z| < 1`, which holds for small `sigma`; a ReLU unit is
//!   the identity on half of its inputs and constant on the other half, so about half of the
//!   linear network's entropy remains (`H` grows like `ln sigma` instead of `2 ln sigma`). For
//!   ReLU this is a trend, not a limit: the atoms at 0 and the halved variance entering layer 2
//!   shift it by a constant of order 0.1.
//! * **KDE upper bound** (Kolchinsky-Tracey) on the `N` noisy samples `T_l`, kernel variance
//!   `s^2`; with the Bhattacharyya **pairwise lower bound** of the same mixture (CSV only);
//! * **parametric KDE**: the same bound with centres the *noiseless* outputs `phi(z_l)`
//!   (exactly the law of `T_l` given those centres for linear layers; for ReLU and hardtanh, whose
//!   noise acts before the activation, it treats the noise as added after it);
//! * **kNN** (Kozachenko-Leonenko in Kraskov's form, `k` neighbours) on the noisy samples.
//!
//! Mutual informations: the replica formula gives `I(X; T_l)` directly. The exact and linear
//! approximations subtract `H(T_l | X) = (n_l / n_0) ln(2 pi e s^2) / 2`. The sample-based
//! estimators give `I = H - H(T_l | X)` **for the linear network only**: with the noise inside a
//! ReLU or hardtanh, `H(T_l | X)` is an average of per-unit entropies with atoms that none of the
//! estimators models consistently, so those cells are left empty.

use super::error::ExperimentError;
use super::shard::{Shard, ShardedRow};
use crate::checked::{Check, Checked};
use crate::exact::nonparam::{kde_upper_bound_parametric, knn_entropy, mixture_entropy_bounds};
use crate::exact::{gaussian_chain_entropy, gaussian_matrix};
use crate::nn::Act;
use crate::replica::{
    solve, Activation, Chain, DiscreteSpectrum, Ensemble, Estimate, Layer, Prior, Scheme,
    SolverOptions,
};
use faer::Mat;
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::f64::consts::{E, PI};

/// The three columns of the figure, left to right: the activation of both layers (the
/// network's [`Act`], converted to the estimator's channel of the same name by the bridge;
/// hardtanh has threshold 1). Softmax is not a replica channel and is no column.
pub const ACTIVATIONS: [Act; 3] = [Act::Relu, Act::Hardtanh, Act::Linear];

/// The paper's column title of `act`.
pub fn title(act: Act) -> &'static str {
    match act {
        Act::Relu => "ReLU-ReLU",
        Act::Hardtanh => "hardtanh-hardtanh",
        Act::Linear => "linear-linear",
        Act::Softmax => "softmax-softmax",
    }
}

/// Factor of the linear network's entropy used as the approximation: 1 for hardtanh
/// ("linear approx"), 1/2 for ReLU ("1/2 linear approx"), none for linear (it is exact).
pub fn linear_approx_factor(act: Act) -> Option<f64> {
    match act {
        Act::Relu => Some(0.5),
        Act::Hardtanh => Some(1.0),
        Act::Linear | Act::Softmax => None,
    }
}

/// The replica channel of a column's activation.
fn channel(act: Act) -> Result<Activation, crate::replica::ReplicaError> {
    Activation::try_from(act).map_err(|e| crate::replica::ReplicaError::InvalidChain(e.to_string()))
}

/// Everything that defines a Figure 2 run (besides the seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fig2Config {
    /// Width `n` of the input and of both layers.
    pub width: usize,
    /// Number `N` of samples for the non-parametric estimators.
    pub samples: usize,
    /// Weight scales (entries of `W_l` have variance `sigma^2 / n`).
    pub sigmas: Vec<f64>,
    /// Noise variance `s^2` inside the measured layer.
    pub noise_var: f64,
    /// Neighbour order of the kNN estimator.
    pub knn_k: usize,
    /// Columns of the figure.
    pub activations: Vec<Act>,
}

/// `points` values `10^e`, `e` evenly spaced from `lo_exp` to `hi_exp` (inclusive).
pub fn log_grid(lo_exp: f64, hi_exp: f64, points: usize) -> Vec<f64> {
    match points {
        0 => vec![],
        1 => vec![10f64.powf(lo_exp)],
        m => (0..m)
            .map(|k| 10f64.powf(lo_exp + (hi_exp - lo_exp) * k as f64 / (m - 1) as f64))
            .collect(),
    }
}

impl Fig2Config {
    /// The paper's setting with width `n`, `samples` samples and the weight scales `sigmas`;
    /// noise `1e-5`, `k = 3` neighbours, all three activations.
    pub fn new(width: usize, samples: usize, sigmas: Vec<f64>) -> Self {
        Fig2Config {
            width,
            samples,
            sigmas,
            noise_var: 1e-5,
            knn_k: 3,
            activations: ACTIVATIONS.to_vec(),
        }
    }

    /// The checked configuration that [`run`] takes, or the first rule it breaks (see
    /// [`crate::checked`]).
    pub fn validate(&self) -> Result<Checked<Self>, ExperimentError> {
        Checked::new(self.clone())
    }
}

impl Check for Fig2Config {
    type Error = ExperimentError;
    /// Check sizes and parameters.
    fn check_rules(&self) -> Result<(), ExperimentError> {
        let bad = |m: String| Err(ExperimentError::InvalidConfig(m));
        if self.width == 0 {
            return bad("width must be >= 1".into());
        }
        if self.samples < 2 || self.knn_k == 0 || self.knn_k >= self.samples {
            return bad(format!(
                "need samples >= 2 and 1 <= knn_k < samples, got samples = {}, knn_k = {}",
                self.samples, self.knn_k
            ));
        }
        if !(self.noise_var.is_finite() && self.noise_var > 0.0) {
            return bad(format!("noise_var = {} must be > 0", self.noise_var));
        }
        if self.sigmas.is_empty() || self.sigmas.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return bad(format!(
                "sigmas must be a non-empty list of positive numbers, got {:?}",
                self.sigmas
            ));
        }
        if self.activations.is_empty() {
            return bad("no activation".into());
        }
        if let Some(a) = self.activations.iter().find(|a| !ACTIVATIONS.contains(a)) {
            return bad(format!(
                "activation {a} is not a column of the figure ({ACTIVATIONS:?})"
            ));
        }
        Ok(())
    }
}

/// One point of the figure; the field names are the CSV columns (`None` = empty cell = not
/// applicable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fig2Row {
    pub activation: Act,
    /// Measured layer `l` (1 or 2).
    pub layer: usize,
    /// Weight scale (entries of `W` have variance `sigma^2 / n`).
    pub sigma: f64,
    pub width: usize,
    pub samples: usize,
    /// `H(T_l)`, replica formula, Gaussian ensemble.
    pub entropy_replica_gaussian_nats_per_unit: f64,
    /// `H(T_l)`, replica formula, spectrum of the drawn matrices.
    pub entropy_replica_empirical_nats_per_unit: f64,
    /// `H(T_l)`, Gaussian log-determinant (linear only).
    pub entropy_exact_nats_per_unit: Option<f64>,
    /// The linear network's exact entropy times 1 (hardtanh) or 1/2 (ReLU).
    pub entropy_linear_approx_nats_per_unit: Option<f64>,
    /// KDE (Kolchinsky-Tracey) upper bound on the noisy samples.
    pub entropy_kde_upper_nats_per_unit: f64,
    /// The same bound centred on the noiseless outputs.
    pub entropy_kde_parametric_nats_per_unit: f64,
    /// Bhattacharyya pairwise lower bound on the noisy samples.
    pub entropy_pairwise_lower_nats_per_unit: f64,
    /// Kozachenko-Leonenko kNN estimate on the noisy samples.
    pub entropy_knn_nats_per_unit: f64,
    /// `I(X; T_l)`, replica formula, Gaussian ensemble.
    pub mi_replica_gaussian_nats_per_unit: f64,
    /// `I(X; T_l)`, replica formula, spectrum of the drawn matrices.
    pub mi_replica_empirical_nats_per_unit: f64,
    /// `I(X; T_l)` exact (linear only).
    pub mi_exact_nats_per_unit: Option<f64>,
    /// The linear network's exact `I(X; T_l)` times 1 (hardtanh) or 1/2 (ReLU).
    pub mi_linear_approx_nats_per_unit: Option<f64>,
    /// KDE upper bound minus `H(T_l | X)` (linear only).
    pub mi_kde_upper_nats_per_unit: Option<f64>,
    /// Parametric KDE minus `H(T_l | X)` (linear only).
    pub mi_kde_parametric_nats_per_unit: Option<f64>,
    /// kNN minus `H(T_l | X)` (linear only).
    pub mi_knn_nats_per_unit: Option<f64>,
    /// Scheme that solved the replica equations (Gaussian ensemble).
    pub replica_gaussian_scheme: Scheme,
    /// Scheme that solved the replica equations (empirical spectrum).
    pub replica_empirical_scheme: Scheme,
}

/// The chain measuring `T_layer` (1 or 2) of the Figure 2 network: prior `N(0, 1)`, both layers
/// square (`alpha = 1`), noise `noise_var` inside layer `layer` and none before it; `ensembles[l]`
/// is the spectrum of `W_{l+1}^T W_{l+1}`.
pub fn chain(
    act: Act,
    layer: usize,
    noise_var: f64,
    ensembles: [Ensemble; 2],
) -> Result<Chain, crate::replica::ReplicaError> {
    let [e1, e2] = ensembles;
    let phi = channel(act)?;
    let layers = match layer {
        1 => vec![Layer::new(1.0, phi, noise_var, e1)?],
        2 => vec![
            Layer::new(1.0, phi, 0.0, e1)?,
            Layer::new(1.0, phi, noise_var, e2)?,
        ],
        _ => {
            return Err(crate::replica::ReplicaError::InvalidChain(format!(
                "Figure 2 networks have layers 1 and 2, not {layer}"
            )))
        }
    };
    Chain::new(Prior::gaussian(0.0, 1.0)?, layers)
}

/// Replica estimate of `T_layer` with Gaussian i.i.d. weights of entry variance `sigma^2 / n`
/// (independent of `n`): the curve the paper calls "replica".
pub fn replica_gaussian(
    act: Act,
    layer: usize,
    sigma: f64,
    noise_var: f64,
) -> Result<Estimate, ExperimentError> {
    let ens = || Ensemble::Gaussian { var: sigma * sigma };
    let at = || {
        format!(
            "{} layer {layer} sigma {sigma} (Gaussian ensemble)",
            act.name()
        )
    };
    chain(act, layer, noise_var, [ens(), ens()])
        .and_then(|c| solve(&c, &SolverOptions::default()))
        .map_err(|source| ExperimentError::Replica { at: at(), source })
}

/// `H(T_l | X) / n_0` when only layer `l` is noisy and linear: `(n_l / n_0) ln(2 pi e s^2) / 2`.
pub fn linear_conditional_entropy(noise_var: f64, n_l: usize, n_0: usize) -> f64 {
    n_l as f64 / n_0 as f64 * 0.5 * (2.0 * PI * E * noise_var).ln()
}

/// The `n_in` eigenvalues of `G^T G` (squared singular values of `G`, zeros appended when
/// `n_out < n_in`).
fn gram_eigenvalues(g: &Mat<f64>, at: &str) -> Result<Vec<f64>, ExperimentError> {
    let mut eigs: Vec<f64> = g
        .singular_values()
        .map_err(|e| ExperimentError::Linalg {
            at: at.to_string(),
            message: format!("singular values: {e:?}"),
        })?
        .into_iter()
        .map(|s| s * s)
        .collect();
    eigs.resize(g.ncols(), 0.0);
    Ok(eigs)
}

/// `phi(sigma a + s xi)` entrywise.
fn layer_out(
    a: &Mat<f64>,
    sigma: f64,
    noise: Option<(&Mat<f64>, f64)>,
    phi: Activation,
) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
        let z = sigma * a[(i, j)];
        phi.apply(match noise {
            Some((xi, s)) => z + s * xi[(i, j)],
            None => z,
        })
    })
}

/// Run the sweep. `progress` advances once per `(sigma, activation)`. Rows are ordered by
/// activation (as in the config), then layer, then `sigma`.
pub fn run(
    cfg: &Checked<Fig2Config>,
    seed: u64,
    progress: &ProgressBar,
) -> Result<Vec<Fig2Row>, ExperimentError> {
    let all: Vec<usize> = (0..cfg.sigmas.len()).collect();
    run_some(cfg, seed, &all, progress)
}

/// The weight scales of shard `shard` (one run per `sigma`, all of the same cost), as indices
/// into `cfg.sigmas`.
pub fn shard_sigmas(cfg: &Fig2Config, shard: Shard) -> Vec<usize> {
    shard.holds(&vec![1.0; cfg.sigmas.len()])
}

/// Rows in the order of [`run`]: activation (as in `cfg`), layer, `sigma` (as in `cfg`); for the
/// rows of merged shards.
pub fn sort_rows(cfg: &Fig2Config, rows: &mut [Fig2Row]) {
    let pos = |r: &Fig2Row| {
        (
            cfg.activations.iter().position(|a| *a == r.activation),
            r.layer,
            // a row's sigma is the config's value itself (read back bit for bit)
            cfg.sigmas
                .iter()
                .position(|s| s.to_bits() == r.sigma.to_bits()),
        )
    };
    rows.sort_by_key(pos);
}

impl ShardedRow for Fig2Row {
    type Run = f64;
    fn run(&self) -> f64 {
        self.sigma
    }
}

/// [`run`] for the weight scales `cfg.sigmas[i]`, `i` in `sigma_indices` (a shard's). The
/// matrices, inputs and noises are drawn from `seed` before any `sigma` and every `sigma` is
/// computed on its own, so a row does not depend on which other scales are computed.
pub fn run_some(
    cfg: &Checked<Fig2Config>,
    seed: u64,
    sigma_indices: &[usize],
    progress: &ProgressBar,
) -> Result<Vec<Fig2Row>, ExperimentError> {
    if let Some(i) = sigma_indices.iter().find(|&&i| i >= cfg.sigmas.len()) {
        return Err(ExperimentError::InvalidConfig(format!(
            "sigma index {i} is out of the {} weight scales",
            cfg.sigmas.len()
        )));
    }
    let (n, big_n, nv) = (cfg.width, cfg.samples, cfg.noise_var);
    let s = nv.sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = [
        gaussian_matrix(n, n, 1.0, &mut rng),
        gaussian_matrix(n, n, 1.0, &mut rng),
    ];
    let mut normal = |rows: usize, cols: usize| {
        Mat::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal))
    };
    let x = normal(big_n, n);
    let xi = [normal(big_n, n), normal(big_n, n)];
    let eigs = [
        gram_eigenvalues(&g[0], "G_1")?,
        gram_eigenvalues(&g[1], "G_2")?,
    ];
    // Pre-activations of layer 1 without the scale: x G_1^T (N x n).
    let a1 = &x * g[0].transpose();
    let h_given_x = linear_conditional_entropy(nv, n, n);
    let opts = SolverOptions::default();

    progress.set_length((sigma_indices.len() * cfg.activations.len()) as u64);
    let mut rows = Vec::new();
    for &si in sigma_indices {
        let sigma = cfg.sigmas[si];
        // The linear network on the drawn matrices: exact entropies of T_1 and T_2.
        let w = [&g[0] * sigma, &g[1] * sigma];
        let lin_at = |l: usize| format!("linear layer {l} sigma {sigma} (log-det)");
        let h_lin = [
            gaussian_chain_entropy(1.0, &w[..1], &[nv]),
            gaussian_chain_entropy(1.0, &w, &[0.0, nv]),
        ];
        let h_lin = [
            h_lin[0].ok_or_else(|| ExperimentError::Linalg {
                at: lin_at(1),
                message: "covariance not positive definite".into(),
            })?,
            h_lin[1].ok_or_else(|| ExperimentError::Linalg {
                at: lin_at(2),
                message: "covariance not positive definite".into(),
            })?,
        ];
        let empirical = |l: usize| -> Result<Ensemble, ExperimentError> {
            DiscreteSpectrum::from_eigenvalues(&eigs[l], sigma * sigma)
                .map(Ensemble::Discrete)
                .map_err(|source| ExperimentError::Replica {
                    at: format!("spectrum of W_{} at sigma {sigma}", l + 1),
                    source,
                })
        };
        for (ai, &act) in cfg.activations.iter().enumerate() {
            progress.set_message(format!("{} sigma={sigma:.3}", act.name()));
            let phi = channel(act).map_err(|source| ExperimentError::Replica {
                at: format!("{act} sigma {sigma}"),
                source,
            })?;
            // Layer 1 (noiseless and noisy), then layer 2 fed with the noiseless T_1.
            let t1_clean = layer_out(&a1, sigma, None, phi);
            let t1_noisy = layer_out(&a1, sigma, Some((&xi[0], s)), phi);
            let a2 = &t1_clean * g[1].transpose();
            let t2_clean = layer_out(&a2, sigma, None, phi);
            let t2_noisy = layer_out(&a2, sigma, Some((&xi[1], s)), phi);
            let samples = [(&t1_clean, &t1_noisy), (&t2_clean, &t2_noisy)];
            for layer in 1..=2 {
                let at =
                    |what: &str| format!("{} layer {layer} sigma {sigma} ({what})", act.name());
                let rep = |ens: [Ensemble; 2], what: &str| -> Result<Estimate, ExperimentError> {
                    chain(act, layer, nv, ens)
                        .and_then(|c| solve(&c, &opts))
                        .map_err(|source| ExperimentError::Replica {
                            at: at(what),
                            source,
                        })
                };
                let var = sigma * sigma;
                let gauss = rep(
                    [Ensemble::Gaussian { var }, Ensemble::Gaussian { var }],
                    "Gaussian ensemble",
                )?;
                let emp = rep([empirical(0)?, empirical(1)?], "empirical spectrum")?;
                let mi = |e: &Estimate, what: &str| {
                    e.mutual_information
                        .ok_or_else(|| ExperimentError::Replica {
                            at: at(what),
                            source: crate::replica::ReplicaError::InvalidChain(
                                "no I(X;T) although the inner layers are noiseless".into(),
                            ),
                        })
                };

                let (clean, noisy) = samples[layer - 1];
                let np = |what: &str| {
                    let what = what.to_string();
                    move |source| ExperimentError::Nonparam {
                        at: at(&what),
                        source,
                    }
                };
                let n0 = n as f64; // estimator totals are divided by n_0
                let bounds = mixture_entropy_bounds(noisy, nv).map_err(np("KDE bounds"))?;
                let kde_param =
                    kde_upper_bound_parametric(clean, nv).map_err(np("parametric KDE"))? / n0;
                let knn = knn_entropy(noisy, cfg.knn_k).map_err(np("kNN"))? / n0;
                let kde = bounds.upper / n0;

                let linear = act == Act::Linear;
                let h_exact = linear.then_some(h_lin[layer - 1]);
                let h_approx = linear_approx_factor(act).map(|f| f * h_lin[layer - 1]);
                let only_linear = |h: f64| linear.then_some(h - h_given_x);
                rows.push((
                    (ai, layer, si),
                    Fig2Row {
                        activation: act,
                        layer,
                        sigma,
                        width: n,
                        samples: big_n,
                        entropy_replica_gaussian_nats_per_unit: gauss.entropy,
                        entropy_replica_empirical_nats_per_unit: emp.entropy,
                        entropy_exact_nats_per_unit: h_exact,
                        entropy_linear_approx_nats_per_unit: h_approx,
                        entropy_kde_upper_nats_per_unit: kde,
                        entropy_kde_parametric_nats_per_unit: kde_param,
                        entropy_pairwise_lower_nats_per_unit: bounds.lower / n0,
                        entropy_knn_nats_per_unit: knn,
                        mi_replica_gaussian_nats_per_unit: mi(&gauss, "Gaussian ensemble")?,
                        mi_replica_empirical_nats_per_unit: mi(&emp, "empirical spectrum")?,
                        mi_exact_nats_per_unit: h_exact.map(|h| h - h_given_x),
                        mi_linear_approx_nats_per_unit: linear_approx_factor(act)
                            .map(|f| f * (h_lin[layer - 1] - h_given_x)),
                        mi_kde_upper_nats_per_unit: only_linear(kde),
                        mi_kde_parametric_nats_per_unit: only_linear(kde_param),
                        mi_knn_nats_per_unit: only_linear(knn),
                        replica_gaussian_scheme: gauss.scheme,
                        replica_empirical_scheme: emp.scheme,
                    },
                ));
            }
            progress.inc(1);
        }
    }
    rows.sort_by_key(|(k, _)| *k);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}
