//! Non-parametric entropy estimators on samples (the baselines the paper compares the replica
//! formula against).
//!
//! Samples are an `N x d` matrix `X` (one sample per row). Every estimate is a **total** entropy
//! in nats; the `*_per_unit` helpers divide it by `d`.
//!
//! * Gaussian-mixture bounds (Kolchinsky & Tracey 2017). The samples `h_1..h_N` are the centres of
//!   the mixture `p = (1/N) sum_j N(h_j, s^2 I)`; with `D_ij = |h_i - h_j|^2`,
//!   - [`kde_upper_bound`] (KL-divergence / "KDE" bound):
//!     `H(p) <= d/2 ln(2 pi e s^2) - (1/N) sum_i ln (1/N) sum_j exp(-D_ij / (2 s^2))`;
//!   - [`pairwise_lower_bound`] (Bhattacharyya bound): the same with `8 s^2` in place of `2 s^2`.
//!
//!   Two uses of the same formula, under their own names: [`kde_upper_bound_noisy_samples`]
//!   (centres = samples of the *noisy* layer, `s^2` = the noise variance) and
//!   [`kde_upper_bound_parametric`] (centres = the *noiseless* layer outputs, `s^2` = the noise
//!   variance: then the mixture is exactly the law of the noisy layer given those inputs).
//! * [`knn_entropy`]: the Kozachenko-Leonenko estimator in the form of Kraskov, Stoegbauer &
//!   Grassberger (2004, eq. 20): `psi(N) - psi(k) + ln c_d + (d/N) sum_i ln eps_i`, `eps_i` twice
//!   the Euclidean distance from `x_i` to its `k`-th nearest neighbour and
//!   `c_d = pi^{d/2} / Gamma(1 + d/2) / 2^d` the volume of the unit-*diameter* ball.
//!
//! All three are built on [`pairwise_sq_distances`], one `N x N` matrix from one matrix product.
//! Row reductions run in parallel (rayon) but are summed in a fixed order, so results are
//! deterministic.

use faer::Mat;
use rayon::prelude::*;
use std::f64::consts::{E, LN_2, PI};
use thiserror::Error;

/// Bad input to a non-parametric estimator.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NonparamError {
    /// Fewer than two samples (rows).
    #[error("need at least 2 samples, got N = {0}")]
    TooFewSamples(usize),
    /// Samples with zero columns.
    #[error("samples have dimension d = 0")]
    ZeroDimension,
    /// Neighbour order outside `1 <= k < N`.
    #[error("neighbour order k = {k} must satisfy 1 <= k < N = {n}")]
    BadNeighbourOrder {
        /// The requested `k`.
        k: usize,
        /// The number of samples.
        n: usize,
    },
    /// Kernel / noise variance that is not finite and strictly positive.
    #[error("variance s^2 = {0} must be finite and > 0")]
    BadVariance(f64),
    /// A NaN or infinite entry in the samples.
    #[error("sample entry ({row}, {col}) = {value} is not finite")]
    NonFiniteSample {
        /// Row (sample index).
        row: usize,
        /// Column (coordinate).
        col: usize,
        /// The offending value.
        value: f64,
    },
    /// The `k`-th nearest neighbour of a sample is at distance 0 (at least `k` duplicates of it),
    /// so `ln eps_i = -inf`.
    #[error(
        "sample {row} has its k = {k}-th nearest neighbour at distance 0 (duplicated samples)"
    )]
    ZeroNeighbourDistance {
        /// Row (sample index).
        row: usize,
        /// The neighbour order.
        k: usize,
    },
}

/// The two Gaussian-mixture entropy bounds of one sample set, in nats (total).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixtureBounds {
    /// Bhattacharyya (pairwise) lower bound, [`pairwise_lower_bound`].
    pub lower: f64,
    /// KL (KDE) upper bound, [`kde_upper_bound`].
    pub upper: f64,
}

fn check_samples(x: &Mat<f64>) -> Result<(), NonparamError> {
    let (n, d) = (x.nrows(), x.ncols());
    if n < 2 {
        return Err(NonparamError::TooFewSamples(n));
    }
    if d == 0 {
        return Err(NonparamError::ZeroDimension);
    }
    for col in 0..d {
        if let Some((row, &value)) = x
            .col_as_slice(col)
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
        {
            return Err(NonparamError::NonFiniteSample { row, col, value });
        }
    }
    Ok(())
}

fn check_variance(s2: f64) -> Result<(), NonparamError> {
    if s2.is_finite() && s2 > 0.0 {
        Ok(())
    } else {
        Err(NonparamError::BadVariance(s2))
    }
}

/// Matrix of squared Euclidean distances `D_ij = |x_i - x_j|^2` between the rows of `x`.
///
/// Computed as `D_ij = |x_i|^2 + |x_j|^2 - 2 G_ij` with the Gram matrix `G = X X^T` from one
/// (parallel) matrix product, after subtracting the column means from `X` (distances are
/// translation invariant; centring limits the cancellation in that formula). Off-diagonal entries
/// are clamped at `>= 0`, the matrix is exactly symmetric (both halves from the upper half of
/// `G`) and its diagonal is exactly 0. Cost `O(N^2 d)` time, `N^2` memory.
///
/// Errors: `N < 2`, `d = 0`, or a non-finite entry.
pub fn pairwise_sq_distances(x: &Mat<f64>) -> Result<Mat<f64>, NonparamError> {
    check_samples(x)?;
    Ok(sq_distances_unchecked(x))
}

fn sq_distances_unchecked(x: &Mat<f64>) -> Mat<f64> {
    let (n, d) = (x.nrows(), x.ncols());
    let means: Vec<f64> = (0..d)
        .map(|j| x.col_as_slice(j).iter().sum::<f64>() / n as f64)
        .collect();
    let xc = Mat::from_fn(n, d, |i, j| x[(i, j)] - means[j]);
    let mut norms = vec![0.0; n];
    for j in 0..d {
        for (acc, v) in norms.iter_mut().zip(xc.col_as_slice(j)) {
            *acc += v * v;
        }
    }
    let mut dist = &xc * xc.transpose();
    clear_upper_simd_state();
    for j in 0..n {
        for i in 0..j {
            let v = (norms[i] + norms[j] - 2.0 * dist[(i, j)]).max(0.0);
            dist[(i, j)] = v;
            dist[(j, i)] = v;
        }
        dist[(j, j)] = 0.0;
    }
    dist
}

use crate::replica::gauss::EXP_UNDERFLOW;
use crate::simd::clear_upper_simd_state;

/// `(1/N) sum_i ln (1/N) sum_j exp(-c D_ij)` for each `c` in `scales`, by a max-shifted
/// log-sum-exp per row (stable for any `c`: `D_ii = 0` keeps every row sum >= 1 after the shift).
fn mean_log_mixture<const K: usize>(dist: &Mat<f64>, scales: [f64; K]) -> [f64; K] {
    let n = dist.nrows();
    let rows: Vec<[f64; K]> = (0..n)
        .into_par_iter()
        .map(|i| {
            clear_upper_simd_state();
            // D is symmetric: row i is column i, which is contiguous.
            let col = dist.col_as_slice(i);
            let min_d = col.iter().copied().fold(f64::INFINITY, f64::min);
            scales.map(|c| {
                let s: f64 = col
                    .iter()
                    .map(|&dij| -c * (dij - min_d))
                    // exp(a) is exactly 0 below EXP_UNDERFLOW: skipping those terms (all off-diagonal
                    // ones for tiny s^2) saves the exp calls without changing the sum.
                    .filter(|&a| a >= EXP_UNDERFLOW)
                    .map(f64::exp)
                    .sum();
                -c * min_d + s.ln()
            })
        })
        .collect();
    let ln_n = (n as f64).ln();
    let mut out = [0.0; K];
    for row in &rows {
        for (o, r) in out.iter_mut().zip(row) {
            *o += r - ln_n;
        }
    }
    out.map(|o| o / n as f64)
}

/// Entropy of one isotropic Gaussian component, `d/2 ln(2 pi e s^2)`.
fn component_entropy(d: usize, s2: f64) -> f64 {
    0.5 * d as f64 * (2.0 * PI * E * s2).ln()
}

/// Both mixture bounds from one distance matrix (see [`kde_upper_bound`] and
/// [`pairwise_lower_bound`] for the formulas). `lower <= upper` holds exactly for every sample
/// set (up to round-off): `exp(-D/(8 s^2)) >= exp(-D/(2 s^2))` term by term.
pub fn mixture_entropy_bounds(x: &Mat<f64>, s2: f64) -> Result<MixtureBounds, NonparamError> {
    check_samples(x)?;
    check_variance(s2)?;
    let dist = sq_distances_unchecked(x);
    Ok(bounds_from_distances(&dist, x.ncols(), s2))
}

fn bounds_from_distances(dist: &Mat<f64>, d: usize, s2: f64) -> MixtureBounds {
    let h0 = component_entropy(d, s2);
    let [m_kl, m_bh] = mean_log_mixture(dist, [1.0 / (2.0 * s2), 1.0 / (8.0 * s2)]);
    MixtureBounds {
        lower: h0 - m_bh,
        upper: h0 - m_kl,
    }
}

/// KL ("KDE") upper bound on the entropy of the mixture `(1/N) sum_j N(x_j, s2 I)` whose centres
/// are the rows `x_j` of `x` (Kolchinsky & Tracey 2017), in nats (total):
///
/// `H_up = d/2 ln(2 pi e s2) - (1/N) sum_i ln (1/N) sum_j exp(-|x_i - x_j|^2 / (2 s2))`.
///
/// Errors: `N < 2`, `d = 0`, non-finite samples, `s2` not finite or `<= 0`.
pub fn kde_upper_bound(x: &Mat<f64>, s2: f64) -> Result<f64, NonparamError> {
    check_samples(x)?;
    check_variance(s2)?;
    let dist = sq_distances_unchecked(x);
    let [m] = mean_log_mixture(&dist, [1.0 / (2.0 * s2)]);
    Ok(component_entropy(x.ncols(), s2) - m)
}

/// Bhattacharyya (pairwise) lower bound on the entropy of the mixture
/// `(1/N) sum_j N(x_j, s2 I)` (Kolchinsky & Tracey 2017), in nats (total):
///
/// `H_low = d/2 ln(2 pi e s2) - (1/N) sum_i ln (1/N) sum_j exp(-|x_i - x_j|^2 / (8 s2))`.
///
/// Errors: as [`kde_upper_bound`].
pub fn pairwise_lower_bound(x: &Mat<f64>, s2: f64) -> Result<f64, NonparamError> {
    check_samples(x)?;
    check_variance(s2)?;
    let dist = sq_distances_unchecked(x);
    let [m] = mean_log_mixture(&dist, [1.0 / (8.0 * s2)]);
    Ok(component_entropy(x.ncols(), s2) - m)
}

/// KDE estimate of the entropy of a noisy layer `T = f(W T_prev) + xi`, `xi ~ N(0, noise_var I)`,
/// from `N` samples of `T` itself (rows of `noisy`), with the kernel variance set to the noise
/// variance (the use of Saxe et al. 2018):
///
/// `d/2 ln(2 pi e noise_var) - (1/N) sum_i ln (1/N) sum_j exp(-|t_i - t_j|^2 / (2 noise_var))`.
///
/// Identical to [`kde_upper_bound`]`(noisy, noise_var)`; only the inputs differ from
/// [`kde_upper_bound_parametric`].
pub fn kde_upper_bound_noisy_samples(
    noisy: &Mat<f64>,
    noise_var: f64,
) -> Result<f64, NonparamError> {
    kde_upper_bound(noisy, noise_var)
}

/// "Parametric" KDE upper bound on the entropy of a noisy layer `T = h + xi`,
/// `xi ~ N(0, noise_var I)`, from `N` samples of the *noiseless* output `h` (rows of
/// `noiseless`): the law of `T` given those samples is exactly the mixture
/// `(1/N) sum_j N(h_j, noise_var I)`, so
///
/// `H(T) <= d/2 ln(2 pi e noise_var) - (1/N) sum_i ln (1/N) sum_j exp(-|h_i - h_j|^2 / (2 noise_var))`.
///
/// Identical to [`kde_upper_bound`]`(noiseless, noise_var)`; only the inputs differ from
/// [`kde_upper_bound_noisy_samples`].
pub fn kde_upper_bound_parametric(
    noiseless: &Mat<f64>,
    noise_var: f64,
) -> Result<f64, NonparamError> {
    kde_upper_bound(noiseless, noise_var)
}

/// Kozachenko-Leonenko / Kraskov k-nearest-neighbour entropy estimate of the density the rows of
/// `x` are drawn from, in nats (total):
///
/// `H = psi(N) - psi(k) + ln c_d + (d/N) sum_i ln eps_i`,
///
/// `eps_i` twice the Euclidean distance from `x_i` to its `k`-th nearest neighbour (self
/// excluded), `c_d = pi^{d/2} / Gamma(1 + d/2) / 2^d` the volume of the unit-diameter ball.
/// Neighbours are selected (not sorted) in the rows of [`pairwise_sq_distances`].
///
/// Errors: `N < 2`, `d = 0`, non-finite samples, `k = 0` or `k >= N`, or a zero `k`-th neighbour
/// distance (duplicated samples).
pub fn knn_entropy(x: &Mat<f64>, k: usize) -> Result<f64, NonparamError> {
    check_samples(x)?;
    let (n, d) = (x.nrows(), x.ncols());
    if k == 0 || k >= n {
        return Err(NonparamError::BadNeighbourOrder { k, n });
    }
    let dist = sq_distances_unchecked(x);
    let ln_eps: Vec<Result<f64, NonparamError>> = (0..n)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(n - 1),
            |buf: &mut Vec<f64>, i| {
                clear_upper_simd_state();
                buf.clear();
                let col = dist.col_as_slice(i);
                buf.extend_from_slice(&col[..i]);
                buf.extend_from_slice(&col[i + 1..]);
                let (_, &mut r2, _) = buf.select_nth_unstable_by(k - 1, f64::total_cmp);
                if r2 > 0.0 {
                    // eps = 2 r  =>  ln eps = ln 2 + ln(r^2) / 2
                    Ok(LN_2 + 0.5 * r2.ln())
                } else {
                    Err(NonparamError::ZeroNeighbourDistance { row: i, k })
                }
            },
        )
        .collect();
    let mut sum = 0.0;
    for l in ln_eps {
        sum += l?;
    }
    Ok(digamma(n as f64) - digamma(k as f64)
        + ln_unit_diameter_ball_volume(d)
        + d as f64 * sum / n as f64)
}

/// [`kde_upper_bound`] divided by `d` (nats per unit).
pub fn kde_upper_bound_per_unit(x: &Mat<f64>, s2: f64) -> Result<f64, NonparamError> {
    Ok(kde_upper_bound(x, s2)? / x.ncols() as f64)
}

/// [`pairwise_lower_bound`] divided by `d` (nats per unit).
pub fn pairwise_lower_bound_per_unit(x: &Mat<f64>, s2: f64) -> Result<f64, NonparamError> {
    Ok(pairwise_lower_bound(x, s2)? / x.ncols() as f64)
}

/// [`mixture_entropy_bounds`] with both bounds divided by `d` (nats per unit).
pub fn mixture_entropy_bounds_per_unit(
    x: &Mat<f64>,
    s2: f64,
) -> Result<MixtureBounds, NonparamError> {
    let b = mixture_entropy_bounds(x, s2)?;
    let d = x.ncols() as f64;
    Ok(MixtureBounds {
        lower: b.lower / d,
        upper: b.upper / d,
    })
}

/// [`knn_entropy`] divided by `d` (nats per unit).
pub fn knn_entropy_per_unit(x: &Mat<f64>, k: usize) -> Result<f64, NonparamError> {
    Ok(knn_entropy(x, k)? / x.ncols() as f64)
}

/// `ln c_d`, `c_d = pi^{d/2} / Gamma(1 + d/2) / 2^d` the volume of the `d`-dimensional Euclidean
/// ball of unit diameter (`c_1 = 1`, `c_2 = pi/4`, `c_3 = pi/6`).
pub fn ln_unit_diameter_ball_volume(d: usize) -> f64 {
    let h = 0.5 * d as f64;
    h * PI.ln() - libm::lgamma(1.0 + h) - d as f64 * LN_2
}

/// Digamma `psi(x) = d/dx ln Gamma(x)` for `x > 0` (NaN otherwise): the recurrence
/// `psi(x) = psi(x + 1) - 1/x` up to `x >= 10`, then the asymptotic series
/// `ln x - 1/(2x) - sum_n B_{2n} / (2n x^{2n})` to `x^{-12}` (absolute error < 1e-14).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    // B_2/2, B_4/4, ..., B_12/12
    let series = z
        * (1.0 / 12.0
            - z * (1.0 / 120.0
                - z * (1.0 / 252.0
                    - z * (1.0 / 240.0 - z * (1.0 / 132.0 - z * (691.0 / 32760.0))))));
    acc + x.ln() - 0.5 / x - series
}
