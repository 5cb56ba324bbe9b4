//! Weight ensembles: only the spectrum of `W^T W` (its `n_in` eigenvalues) enters.
//!
//! * `F(gamma) = extr_theta { 2 alpha theta + (alpha - 1) ln(1 - theta) + E_lambda ln(gamma lambda + (1 - theta)(1 - alpha theta)) }`
//! * `lmmse(a, v) = v E_lambda[1 / (lambda + a v)]` (the LMMSE variance of ML-VAMP).
//!
//! Gaussian i.i.d. weights (entry variance `s/n_in`) have `theta = s gamma`, `F = alpha s gamma`
//! and a Marchenko-Pastur Stieltjes transform in closed form; orthogonal and empirical spectra are
//! discrete distributions (values with weights, exact zeros kept apart).

use super::error::{Field, LayerField, ReplicaError};

mod parts;
pub use parts::SpectrumParts;

/// A discrete spectral distribution: `values[i]` with probability `weights[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscreteSpectrum {
    values: Vec<f64>,
    weights: Vec<f64>,
    zero_weight: f64,
    mean: f64,
    min_positive: f64,
}

/// Eigenvalues below this fraction of the largest are exact zeros: the round-off of a
/// rank-deficient `W^T W` computed in floating point, not part of its spectrum.
const ZERO_EIGENVALUE: f64 = 1e-12;
/// The coefficient `alpha - 1 + zero_weight` of the `ln(1 - theta)` term counts as zero below
/// this (it is `0` up to the rounding of `alpha` and of the zero fraction; `coef / (1 - theta)`
/// would otherwise add round-off blown up near `theta = 1`).
const COEF_ZERO: f64 = 1e-13;
/// The theta searches stay this far (relative) below `theta_max`, where the logarithms of the
/// theta-functional diverge.
const THETA_MAX_MARGIN: f64 = 1e-13;
/// Most Newton steps of [`DiscreteSpectrum::theta_root_near`] before it brackets instead (from
/// the previous sweep's root it converges in two or three).
const THETA_NEWTON_STEPS: usize = 8;
/// Newton on theta stops at a step below this, relative to theta (round-off).
const THETA_NEWTON_STEP: f64 = 1e-14;
/// The bracket around the previous sweep's root: `[0.98 hint, 1.02 hint]` (a few percent: the
/// root moves little between sweeps), widened at most [`THETA_BRACKET_WIDENINGS`] times.
const THETA_BRACKET_LO: f64 = 0.98;
/// Upper end of the bracket, relative to the hint (see [`THETA_BRACKET_LO`]).
const THETA_BRACKET_HI: f64 = 1.02;
/// Widenings of the bracket before the local search gives up (and the full scan runs).
const THETA_BRACKET_WIDENINGS: usize = 6;
/// Absolute tolerance of Brent's method on theta in `(0, 1)`: round-off.
const THETA_BRENT_TOL: f64 = 1e-15;
/// The full scan for the first sign change starts at this fraction of `theta_max` (the
/// derivative is positive at 0; the scan doubles from here).
const THETA_SCAN_START: f64 = 1e-12;
/// Near `theta_max` the scan halves the remaining gap until it is this small (relative), then
/// tries `theta_max` itself.
const THETA_SCAN_CLOSE: f64 = 1e-9;

impl DiscreteSpectrum {
    /// From the eigenvalues of `W^T W` (all of them, zeros included), multiplied by `scale`.
    /// Eigenvalues `|lambda| < ZERO_EIGENVALUE max(lambda)` (`1e-12`) count as exact zeros.
    pub fn from_eigenvalues(eigs: &[f64], scale: f64) -> Result<Self, ReplicaError> {
        if eigs.is_empty() {
            return Err(ReplicaError::invalid(
                LayerField::Spectrum { entry: None },
                "[]",
                "the spectrum is empty",
            ));
        }
        replica_params::positive(Field::from(LayerField::WeightsScale), scale)?;
        let mut sorted: Vec<f64> = Vec::with_capacity(eigs.len());
        for (i, &e) in eigs.iter().enumerate() {
            if !e.is_finite() || e < 0.0 {
                return Err(ReplicaError::invalid(
                    LayerField::Spectrum { entry: Some(i) },
                    e,
                    "eigenvalues of W^T W must be finite and >= 0",
                ));
            }
            let scaled = e * scale;
            if !scaled.is_finite() {
                return Err(ReplicaError::invalid(
                    LayerField::Spectrum { entry: Some(i) },
                    format!("{e} x scale {scale}"),
                    "the scaled eigenvalue overflows (is not finite); use a smaller scale or smaller eigenvalues",
                ));
            }
            sorted.push(scaled);
        }
        sorted.sort_by(|a, b| a.total_cmp(b));
        let max = *sorted.last().unwrap();
        if max <= 0.0 {
            return Err(ReplicaError::invalid(
                LayerField::Spectrum { entry: None },
                "all zero",
                "needs a positive eigenvalue",
            ));
        }
        let n = sorted.len() as f64;
        let zero_cut = ZERO_EIGENVALUE * max;
        let mut values: Vec<f64> = Vec::new();
        let mut weights: Vec<f64> = Vec::new();
        let mut zero_weight = 0.0;
        for e in sorted {
            if e <= zero_cut {
                zero_weight += 1.0 / n;
            } else if values.last() == Some(&e) {
                *weights.last_mut().unwrap() += 1.0 / n;
            } else {
                values.push(e);
                weights.push(1.0 / n);
            }
        }
        let mean: f64 = values.iter().zip(&weights).map(|(v, w)| v * w).sum();
        if !mean.is_finite() {
            return Err(ReplicaError::invalid(
                LayerField::Spectrum { entry: None },
                format!("mean eigenvalue {mean}"),
                "the mean of the scaled eigenvalues overflows; use a smaller scale",
            ));
        }
        let min_positive = values[0];
        Ok(DiscreteSpectrum {
            values,
            weights,
            zero_weight,
            mean,
            min_positive,
        })
    }

    /// Orthogonal weights: all eigenvalues 1 when `alpha >= 1`, a fraction `alpha` of ones and the
    /// rest zeros when `alpha < 1`.
    pub fn orthogonal(alpha: f64) -> Self {
        let w1 = alpha.min(1.0);
        DiscreteSpectrum {
            values: vec![1.0],
            weights: vec![w1],
            zero_weight: 1.0 - w1,
            mean: w1,
            min_positive: 1.0,
        }
    }

    /// Number of positive eigenvalues as a fraction of all.
    pub fn positive_fraction(&self) -> f64 {
        1.0 - self.zero_weight
    }

    /// The spectrum of `k W` (every eigenvalue of `W^T W` times `k^2 = k2`, `k2 > 0` finite):
    /// `None` where a scaled value overflows or underflows to zero.
    pub(crate) fn scaled(&self, k2: f64) -> Option<Self> {
        let values: Vec<f64> = self.values.iter().map(|v| v * k2).collect();
        let ok = values.iter().all(|v| v.is_finite() && *v > 0.0);
        ok.then(|| DiscreteSpectrum {
            values,
            weights: self.weights.clone(),
            zero_weight: self.zero_weight,
            mean: self.mean * k2,
            min_positive: self.min_positive * k2,
        })
    }
}

/// The spectrum of `W^T W` for one layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Ensemble {
    /// I.i.d. Gaussian entries `N(0, var/n_in)`: Marchenko-Pastur scaled by `var`.
    Gaussian { var: f64 },
    /// Orthogonal or empirical spectrum.
    Discrete(DiscreteSpectrum),
}

/// Result of the theta-equation: the stationary `theta` and `F(gamma)`.
#[derive(Clone, Copy, Debug)]
pub struct ThetaF {
    pub theta: f64,
    pub f: f64,
}

impl Ensemble {
    /// Mean eigenvalue of `W^T W`.
    pub fn mean(&self, alpha: f64) -> f64 {
        match self {
            Ensemble::Gaussian { var } => alpha * var,
            Ensemble::Discrete(d) => d.mean,
        }
    }

    /// `d theta / d gamma` at `gamma = 0` (= `mean/alpha`), used for frozen layers (`V = 0`).
    pub fn theta_slope0(&self, alpha: f64) -> f64 {
        self.mean(alpha) / alpha
    }

    /// The stationary point of the theta-functional at `gamma = A V`, and `F` there.
    pub fn theta_f(&self, alpha: f64, gamma: f64) -> Result<ThetaF, ReplicaError> {
        let theta = self.theta_near(alpha, gamma, None)?;
        Ok(ThetaF {
            theta,
            f: self.f_at(alpha, gamma, theta),
        })
    }

    /// The stationary `theta` alone (what an iteration sweep needs; `F` costs a logarithm per
    /// eigenvalue), with an optional guess (e.g. the previous sweep's): the root is
    /// bracketed around the guess first, and found by the full scan only if that fails.
    pub fn theta_near(
        &self,
        alpha: f64,
        gamma: f64,
        hint: Option<f64>,
    ) -> Result<f64, ReplicaError> {
        match self {
            Ensemble::Gaussian { var } => Ok(var * gamma),
            Ensemble::Discrete(d) => {
                if gamma <= 0.0 {
                    return Ok(0.0);
                }
                let near = hint
                    .filter(|h| h.is_finite() && *h > 0.0)
                    .and_then(|h| d.theta_root_near(alpha, gamma, h));
                match near {
                    Some(t) => Ok(t),
                    None => d.theta_root(alpha, gamma),
                }
            }
        }
    }

    /// `F(gamma, theta) = 2 alpha theta + (alpha-1) ln(1-theta) + E ln(gamma lambda + (1-theta)(1-alpha theta))`,
    /// the functional at a given `theta` (for a Gaussian ensemble its stationary value `alpha s gamma`).
    pub fn f_at(&self, alpha: f64, gamma: f64, theta: f64) -> f64 {
        match self {
            Ensemble::Gaussian { var } => alpha * var * gamma,
            Ensemble::Discrete(d) => d.f_at(alpha, gamma, theta),
        }
    }

    /// `dF/dtheta` at `(gamma, theta)` (zero at a stationary point); `0` for the Gaussian ensemble
    /// evaluated at its closed-form `theta = s gamma`.
    pub fn theta_stationarity(&self, alpha: f64, gamma: f64, theta: f64) -> f64 {
        match self {
            Ensemble::Gaussian { var } => theta - var * gamma,
            Ensemble::Discrete(d) => d.dfun(alpha, gamma, theta),
        }
    }

    /// `lmmse(a, v) = v E[1/(lambda + a v)] = E[1/(a + lambda/v)]`, `a >= 0`, `v > 0`.
    pub fn lmmse(&self, alpha: f64, a: f64, v: f64) -> f64 {
        match self {
            Ensemble::Gaussian { var } => {
                // E 1/(s lambda0 + x) = (1/s) g0(x/s), g0 the MP transform at -x/s (mean alpha):
                // x g^2 - (1 - x - alpha) g - 1 = 0, positive root.
                let x = a * v / var;
                let g0 = mp_stieltjes_neg(alpha, x);
                v * g0 / var
            }
            Ensemble::Discrete(d) => {
                let x = a * v;
                let zero = if d.zero_weight > 0.0 {
                    d.zero_weight / x
                } else {
                    0.0
                };
                let s: f64 = d
                    .values
                    .iter()
                    .zip(&d.weights)
                    .map(|(l, w)| w / (l + x))
                    .sum();
                v * (s + zero)
            }
        }
    }

    /// The two complements of the LMMSE variance that ML-VAMP needs, each as a sum of positive
    /// terms (no cancellation at either end of `x = a v`):
    /// `c = 1 - a lmmse(a, v) = E[lambda / (lambda + x)]` and
    /// `e = P - c = E[x / (lambda + x); lambda > 0]`, with `P` the fraction of positive
    /// eigenvalues. Gaussian ensemble (`x' = x / s`, Marchenko-Pastur of mean `alpha`,
    /// `P = min(1, alpha)`): `c` is the small root of `c^2 - (1 + x' + alpha) c + alpha = 0` and
    /// `e` the positive root of `e^2 + (|1 - alpha| + x') e - x' P = 0`, both in their stable
    /// forms `2 alpha / (b + sqrt(b^2 - 4 alpha))` and `2 x' P / (B + sqrt(B^2 + 4 x' P))`.
    pub fn lmmse_parts(&self, alpha: f64, a: f64, v: f64) -> LmmseParts {
        match self {
            Ensemble::Gaussian { var } => {
                let x = a * v / var;
                let positive = alpha.min(1.0);
                let b = 1.0 + x + alpha;
                let big_b = (1.0 - alpha).abs() + x;
                LmmseParts {
                    c: 2.0 * alpha / (b + (b * b - 4.0 * alpha).max(0.0).sqrt()),
                    e: 2.0 * x * positive / (big_b + (big_b * big_b + 4.0 * x * positive).sqrt()),
                    positive,
                }
            }
            Ensemble::Discrete(d) => {
                let x = a * v;
                let (mut c, mut e) = (0.0, 0.0);
                for (l, w) in d.values.iter().zip(&d.weights) {
                    c += w * l / (l + x);
                    e += w * x / (l + x);
                }
                LmmseParts {
                    c,
                    e,
                    positive: d.positive_fraction(),
                }
            }
        }
    }
}

/// See [`Ensemble::lmmse_parts`].
#[derive(Clone, Copy, Debug)]
pub struct LmmseParts {
    /// `E[lambda / (lambda + x)] = 1 - a lmmse(a, v)`.
    pub c: f64,
    /// `E[x / (lambda + x); lambda > 0] = positive - c`.
    pub e: f64,
    /// Fraction of positive eigenvalues.
    pub positive: f64,
}

/// Marchenko-Pastur Stieltjes transform `E 1/(lambda + x)`, `x >= 0`, for `W^T W` with mean `alpha`.
fn mp_stieltjes_neg(alpha: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return if alpha > 1.0 {
            1.0 / (alpha - 1.0)
        } else {
            f64::INFINITY
        };
    }
    let b = 1.0 - x - alpha;
    let disc = (b * b + 4.0 * x).sqrt();
    if b > 0.0 {
        (b + disc) / (2.0 * x)
    } else {
        2.0 / (disc - b)
    }
}

impl DiscreteSpectrum {
    /// `d/dtheta` of the theta-functional; zeros of the spectrum handled analytically.
    fn dfun(&self, alpha: f64, gamma: f64, th: f64) -> f64 {
        let u = 1.0 - th;
        let ua = 1.0 - alpha * th;
        let num = ua + alpha * u;
        let coef = alpha - 1.0 + self.zero_weight;
        let mut d = 2.0 * alpha;
        if coef.abs() > COEF_ZERO {
            d -= coef / u;
        }
        if self.zero_weight > 0.0 {
            d -= self.zero_weight * alpha / ua;
        }
        let q = u * ua;
        let s: f64 = self
            .values
            .iter()
            .zip(&self.weights)
            .map(|(l, w)| w / (gamma * l + q))
            .sum();
        d - num * s
    }

    /// `D(theta)` (see `dfun`) and `dD/dtheta`: with `u = 1 - theta`, `u_a = 1 - alpha theta`,
    /// `num = u_a + alpha u`, `q = u u_a`, `S_k = E[(gamma lambda + q)^-k]` over positive
    /// eigenvalues, `D' = -coef/u^2 - z alpha^2/u_a^2 + 2 alpha S_1 - num^2 S_2`.
    fn dfun_and_slope(&self, alpha: f64, gamma: f64, th: f64) -> (f64, f64) {
        let u = 1.0 - th;
        let ua = 1.0 - alpha * th;
        let num = ua + alpha * u;
        let coef = alpha - 1.0 + self.zero_weight;
        let q = u * ua;
        let (mut s1, mut s2) = (0.0, 0.0);
        for (l, w) in self.values.iter().zip(&self.weights) {
            let r = 1.0 / (gamma * l + q);
            s1 += w * r;
            s2 += w * r * r;
        }
        let mut d = 2.0 * alpha - num * s1;
        let mut dd = 2.0 * alpha * s1 - num * num * s2;
        if coef.abs() > COEF_ZERO {
            d -= coef / u;
            dd -= coef / (u * u);
        }
        if self.zero_weight > 0.0 {
            d -= self.zero_weight * alpha / ua;
            dd -= self.zero_weight * alpha * alpha / (ua * ua);
        }
        (d, dd)
    }

    fn f_at(&self, alpha: f64, gamma: f64, th: f64) -> f64 {
        let u = 1.0 - th;
        let ua = 1.0 - alpha * th;
        let coef = alpha - 1.0 + self.zero_weight;
        let mut f = 2.0 * alpha * th;
        if coef.abs() > COEF_ZERO {
            f += coef * u.ln();
        }
        if self.zero_weight > 0.0 {
            f += self.zero_weight * ua.ln();
        }
        let q = u * ua;
        f + self
            .values
            .iter()
            .zip(&self.weights)
            .map(|(l, w)| w * (gamma * l + q).ln())
            .sum::<f64>()
    }

    /// `theta_max`: where `gamma lambda_min + (1 - theta)(1 - alpha theta)` vanishes (capped at 1).
    fn theta_max(&self, alpha: f64, gamma: f64) -> f64 {
        let lmin = if self.zero_weight > 0.0 {
            0.0
        } else {
            self.min_positive
        };
        let disc = (1.0 - alpha).powi(2) - 4.0 * alpha * gamma * lmin;
        (((1.0 + alpha) - disc.max(0.0).sqrt()) / (2.0 * alpha)).min(1.0)
    }

    /// A root bracketed within a few percent of `hint` (the branch followed from the previous
    /// sweep); `None` when no sign change is found nearby.
    fn theta_root_near(&self, alpha: f64, gamma: f64, hint: f64) -> Option<f64> {
        let hi_max = self.theta_max(alpha, gamma) * (1.0 - THETA_MAX_MARGIN);
        // Newton from the guess (one pass over the spectrum per step gives D and D'); accepted
        // only if it converges within [hint/2, min(2 hint, theta_max)], else bracket and Brent.
        let mut t = hint.min(hi_max);
        for _ in 0..THETA_NEWTON_STEPS {
            let (d, dd) = self.dfun_and_slope(alpha, gamma, t);
            if dd.is_nan() || dd >= 0.0 {
                break;
            }
            let step = d / dd;
            let next = t - step;
            let inside = next > 0.5 * hint && next < (2.0 * hint).min(hi_max);
            if !inside {
                break;
            }
            t = next;
            if step.abs() <= THETA_NEWTON_STEP * t {
                return Some(t);
            }
        }
        let f = |t: f64| self.dfun(alpha, gamma, t);
        let mut lo = (hint * THETA_BRACKET_LO).min(hi_max * 0.5);
        let mut hi = (hint * THETA_BRACKET_HI).min(hi_max);
        if hi <= lo {
            return None;
        }
        let mut f_lo = f(lo);
        let mut f_hi = f(hi);
        for _ in 0..THETA_BRACKET_WIDENINGS {
            if f_lo > 0.0 && f_hi < 0.0 {
                return brent(f, lo, hi, f_lo, f_hi, THETA_BRENT_TOL);
            }
            if f_lo <= 0.0 {
                lo *= 0.5;
                f_lo = f(lo);
            }
            if f_hi >= 0.0 {
                hi = 0.5 * (hi + hi_max);
                f_hi = f(hi);
            }
        }
        None
    }

    /// The root of the theta-equation on `(0, theta_max)`, by Brent's method. Errors when the
    /// derivative has no sign change (bounded spectra at large `gamma`).
    fn theta_root(&self, alpha: f64, gamma: f64) -> Result<f64, ReplicaError> {
        let th_max = self.theta_max(alpha, gamma);
        let hi = th_max * (1.0 - THETA_MAX_MARGIN);
        // The derivative is positive at 0 and may cross zero twice (bounded spectra have a second,
        // spurious stationary point near theta_max): take the first crossing, found by a geometric
        // scan up from THETA_SCAN_START theta_max, then refined by Brent's method.
        let f = |t: f64| self.dfun(alpha, gamma, t);
        let mut lo = 0.0;
        let mut f_lo = f(0.0);
        if f_lo.is_nan() || f_lo < 0.0 {
            return Err(ReplicaError::NoThetaRoot { gamma });
        }
        let mut t = hi * THETA_SCAN_START;
        while t < hi {
            let ft = f(t);
            if ft < 0.0 {
                return brent(f, lo, t, f_lo, ft, THETA_BRENT_TOL)
                    .ok_or(ReplicaError::NoThetaRoot { gamma });
            }
            lo = t;
            f_lo = ft;
            t = if t * 2.0 < hi {
                t * 2.0
            } else if t < hi * (1.0 - THETA_SCAN_CLOSE) {
                hi - 0.5 * (hi - t)
            } else {
                hi
            };
        }
        let f_hi = f(hi);
        if f_hi < 0.0 {
            return brent(f, lo, hi, f_lo, f_hi, THETA_BRENT_TOL)
                .ok_or(ReplicaError::NoThetaRoot { gamma });
        }
        Err(ReplicaError::NoThetaRoot { gamma })
    }
}

/// Brent's root finder on a bracket `[a, b]` with `f(a) f(b) < 0`.
pub fn brent(
    f: impl Fn(f64) -> f64,
    mut a: f64,
    mut b: f64,
    mut fa: f64,
    mut fb: f64,
    xtol: f64,
) -> Option<f64> {
    if fa * fb > 0.0 {
        return None;
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..200 {
        if fb * fc > 0.0 {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb == 0.0 {
            return Some(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            // exact identity test of Brent's method: a and c are the same stored point
            let (p, q) = if a.to_bits() == c.to_bits() {
                (2.0 * m * s, 1.0 - s)
            } else {
                let q = fa / fc;
                let r = fb / fc;
                (
                    s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0)),
                    (q - 1.0) * (r - 1.0) * (s - 1.0),
                )
            };
            let (p, q) = if p > 0.0 { (p, -q) } else { (-p, q) };
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol * m.signum() };
        fb = f(b);
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eigenvalues near the largest double times a scale used to overflow to infinity, which made
    /// every value an "exact zero" and the constructor index an empty list: now a named error.
    #[test]
    fn overflowing_scaled_eigenvalues_are_an_error() {
        for (eigs, scale) in [
            (vec![1e308, 1.0], 10.0),
            (vec![1.0, 2.0], 1e308),
            (vec![f64::MAX; 3], 1.5),
        ] {
            let e = DiscreteSpectrum::from_eigenvalues(&eigs, scale)
                .expect_err(&format!("{eigs:?} x {scale}"));
            let msg = e.to_string();
            assert!(
                msg.contains("weights.spectrum") && msg.contains("overflow"),
                "{eigs:?} x {scale}: {msg}"
            );
        }
        // the largest values that stay finite are accepted (10 is below 1e-12 times the
        // largest, so an exact zero)
        let d = DiscreteSpectrum::from_eigenvalues(&[1e307, 1.0], 10.0).unwrap();
        assert!(
            d.mean.is_finite() && (d.positive_fraction() - 0.5).abs() < 1e-15,
            "{d:?}"
        );
    }
}
