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
use super::progress::Progress;
use super::shard::ShardedRow;
use crate::checked::{Check, Checked};
use crate::exact::nonparam::{kde_upper_bound_parametric, knn_entropy, mixture_entropy_bounds};
use crate::exact::{gaussian_chain_entropy, gaussian_matrix};
use crate::nn::Act;
use crate::replica::{
    solve, Activation, Chain, DiscreteSpectrum, Ensemble, Estimate, Layer, Prior, Scheme,
    SolverOptions,
};
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use replica_core::params::{at_least_one, positive};
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
    crate::bridge::channel(act)
        .map_err(|e| crate::replica::ReplicaError::InvalidChain(e.to_string()))
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
        at_least_one("width".into(), self.width)?;
        if self.samples < 2 || self.knn_k == 0 || self.knn_k >= self.samples {
            return bad(format!(
                "need samples >= 2 and 1 <= knn_k < samples, got samples = {}, knn_k = {}",
                self.samples, self.knn_k
            ));
        }
        positive("noise_var".into(), self.noise_var)?;
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
    progress: &dyn Progress,
) -> Result<Vec<Fig2Row>, ExperimentError> {
    let all: Vec<usize> = (0..cfg.sigmas.len()).collect();
    run_some(cfg, seed, &all, progress)
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

/// The random part of the figure, drawn once from the seed and shared by every `sigma` and
/// activation: `G_1`, `G_2` (entries `N(0, 1/n)`, column by column), then the `N x n` inputs `x`,
/// then the noises `xi_1`, `xi_2` (standard normal entries, in faer's fill order).
struct Draws {
    g: [Mat<f64>; 2],
    xi: [Mat<f64>; 2],
    /// Eigenvalues of `G_l^T G_l`.
    eigs: [Vec<f64>; 2],
    /// Pre-activations of layer 1 without the scale: `x G_1^T` (`N x n`).
    a1: Mat<f64>,
}

impl Draws {
    fn new(n: usize, samples: usize, seed: u64) -> Result<Self, ExperimentError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g = [
            gaussian_matrix(n, n, 1.0, &mut rng),
            gaussian_matrix(n, n, 1.0, &mut rng),
        ];
        let mut normal = |rows: usize, cols: usize| {
            Mat::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal))
        };
        let x = normal(samples, n);
        let xi = [normal(samples, n), normal(samples, n)];
        let eigs = [
            gram_eigenvalues(&g[0], "G_1")?,
            gram_eigenvalues(&g[1], "G_2")?,
        ];
        let a1 = &x * g[0].transpose();
        Ok(Draws { g, xi, eigs, a1 })
    }
}

/// What every row at one weight scale shares: `sigma`, the exact entropies `H(T_1)`, `H(T_2)` of
/// the linear network on the drawn matrices (Gaussian log-determinants), and the empirical
/// spectra of `W_l^T W_l = sigma^2 G_l^T G_l`.
struct AtSigma {
    sigma: f64,
    h_linear: [f64; 2],
    empirical: [Ensemble; 2],
}

impl AtSigma {
    fn new(d: &Draws, sigma: f64, noise_var: f64) -> Result<Self, ExperimentError> {
        let w = [&d.g[0] * sigma, &d.g[1] * sigma];
        let log_det = |l: usize, h: Option<f64>| {
            h.ok_or_else(|| ExperimentError::Linalg {
                at: format!("linear layer {l} sigma {sigma} (log-det)"),
                message: "covariance not positive definite".into(),
            })
        };
        let h_linear = [
            log_det(1, gaussian_chain_entropy(1.0, &w[..1], &[noise_var]))?,
            log_det(2, gaussian_chain_entropy(1.0, &w, &[0.0, noise_var]))?,
        ];
        let empirical = |l: usize| -> Result<Ensemble, ExperimentError> {
            DiscreteSpectrum::from_eigenvalues(&d.eigs[l], sigma * sigma)
                .map(Ensemble::Discrete)
                .map_err(|source| ExperimentError::Replica {
                    at: format!("spectrum of W_{} at sigma {sigma}", l + 1),
                    source,
                })
        };
        Ok(AtSigma {
            sigma,
            h_linear,
            empirical: [empirical(0)?, empirical(1)?],
        })
    }
}

/// The outputs of layer `l` without and with its noise (the noiseless `T_1` feeds layer 2).
struct LayerSamples {
    clean: Mat<f64>,
    noisy: Mat<f64>,
}

/// `T_1` and `T_2` of the network with activation `phi` at scale `sigma`, clean and noisy.
fn layer_samples(d: &Draws, sigma: f64, s: f64, phi: Activation) -> [LayerSamples; 2] {
    let t1 = LayerSamples {
        clean: layer_out(&d.a1, sigma, None, phi),
        noisy: layer_out(&d.a1, sigma, Some((&d.xi[0], s)), phi),
    };
    let a2 = &t1.clean * d.g[1].transpose();
    let t2 = LayerSamples {
        clean: layer_out(&a2, sigma, None, phi),
        noisy: layer_out(&a2, sigma, Some((&d.xi[1], s)), phi),
    };
    [t1, t2]
}

/// The row of `(act, layer)` at one weight scale: the replica estimates (Gaussian ensemble and
/// empirical spectrum), the exact and linear-approximation values, and the sample-based
/// estimators on `samples` (see the module documentation for each column).
fn row(
    cfg: &Fig2Config,
    at_sigma: &AtSigma,
    act: Act,
    layer: usize,
    samples: &LayerSamples,
) -> Result<Fig2Row, ExperimentError> {
    let (n, nv, sigma) = (cfg.width, cfg.noise_var, at_sigma.sigma);
    let at = |what: &str| format!("{} layer {layer} sigma {sigma} ({what})", act.name());
    let opts = SolverOptions::default();
    let replica = |ens: [Ensemble; 2], what: &str| -> Result<Estimate, ExperimentError> {
        chain(act, layer, nv, ens)
            .and_then(|c| solve(&c, &opts))
            .map_err(|source| ExperimentError::Replica {
                at: at(what),
                source,
            })
    };
    let var = sigma * sigma;
    let gauss = replica(
        [Ensemble::Gaussian { var }, Ensemble::Gaussian { var }],
        "Gaussian ensemble",
    )?;
    let emp = replica(at_sigma.empirical.clone(), "empirical spectrum")?;
    let mi = |e: &Estimate, what: &str| {
        e.mutual_information
            .ok_or_else(|| ExperimentError::Replica {
                at: at(what),
                source: crate::replica::ReplicaError::InvalidChain(
                    "no I(X;T) although the inner layers are noiseless".into(),
                ),
            })
    };
    let np = |what: &str| {
        let what = what.to_string();
        move |source| ExperimentError::Nonparam {
            at: at(&what),
            source,
        }
    };
    let n0 = n as f64; // estimator totals are divided by n_0
    let bounds = mixture_entropy_bounds(&samples.noisy, nv).map_err(np("KDE bounds"))?;
    let kde_param =
        kde_upper_bound_parametric(&samples.clean, nv).map_err(np("parametric KDE"))? / n0;
    let knn = knn_entropy(&samples.noisy, cfg.knn_k).map_err(np("kNN"))? / n0;
    let kde = bounds.upper / n0;

    let h_given_x = linear_conditional_entropy(nv, n, n);
    let h_lin = at_sigma.h_linear[layer - 1];
    let linear = act == Act::Linear;
    let h_exact = linear.then_some(h_lin);
    let only_linear = |h: f64| linear.then_some(h - h_given_x);
    Ok(Fig2Row {
        activation: act,
        layer,
        sigma,
        width: n,
        samples: cfg.samples,
        entropy_replica_gaussian_nats_per_unit: gauss.entropy,
        entropy_replica_empirical_nats_per_unit: emp.entropy,
        entropy_exact_nats_per_unit: h_exact,
        entropy_linear_approx_nats_per_unit: linear_approx_factor(act).map(|f| f * h_lin),
        entropy_kde_upper_nats_per_unit: kde,
        entropy_kde_parametric_nats_per_unit: kde_param,
        entropy_pairwise_lower_nats_per_unit: bounds.lower / n0,
        entropy_knn_nats_per_unit: knn,
        mi_replica_gaussian_nats_per_unit: mi(&gauss, "Gaussian ensemble")?,
        mi_replica_empirical_nats_per_unit: mi(&emp, "empirical spectrum")?,
        mi_exact_nats_per_unit: h_exact.map(|h| h - h_given_x),
        mi_linear_approx_nats_per_unit: linear_approx_factor(act).map(|f| f * (h_lin - h_given_x)),
        mi_kde_upper_nats_per_unit: only_linear(kde),
        mi_kde_parametric_nats_per_unit: only_linear(kde_param),
        mi_knn_nats_per_unit: only_linear(knn),
        replica_gaussian_scheme: gauss.scheme,
        replica_empirical_scheme: emp.scheme,
    })
}

/// [`run`] for the weight scales `cfg.sigmas[i]`, `i` in `sigma_indices` (a shard's). The
/// matrices, inputs and noises are drawn from `seed` before any `sigma` (`Draws`) and every
/// `sigma` is computed on its own, so a row does not depend on which other scales are computed.
pub fn run_some(
    cfg: &Checked<Fig2Config>,
    seed: u64,
    sigma_indices: &[usize],
    progress: &dyn Progress,
) -> Result<Vec<Fig2Row>, ExperimentError> {
    if let Some(i) = sigma_indices.iter().find(|&&i| i >= cfg.sigmas.len()) {
        return Err(ExperimentError::InvalidConfig(format!(
            "sigma index {i} is out of the {} weight scales",
            cfg.sigmas.len()
        )));
    }
    let draws = Draws::new(cfg.width, cfg.samples, seed)?;
    let s = cfg.noise_var.sqrt();
    progress.set_length((sigma_indices.len() * cfg.activations.len()) as u64);
    let mut rows = Vec::new();
    for &si in sigma_indices {
        let at_sigma = AtSigma::new(&draws, cfg.sigmas[si], cfg.noise_var)?;
        for (ai, &act) in cfg.activations.iter().enumerate() {
            let sigma = at_sigma.sigma;
            progress.set_message(format!("{} sigma={sigma:.3}", act.name()));
            let phi = channel(act).map_err(|source| ExperimentError::Replica {
                at: format!("{act} sigma {sigma}"),
                source,
            })?;
            let samples = layer_samples(&draws, sigma, s, phi);
            for (layer, samples) in (1..=2).zip(&samples) {
                rows.push(((ai, layer, si), row(cfg, &at_sigma, act, layer, samples)?));
            }
            progress.inc(1);
        }
    }
    rows.sort_by_key(|(k, _)| *k);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}
