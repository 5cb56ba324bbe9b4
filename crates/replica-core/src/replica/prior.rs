//! Priors on the input entries and their scalar Gaussian channel.
//!
//! For a prior `P_0` and precision `A`, the scalar channel observes `B = A x* + sqrt(A) xi`
//! with `x* ~ P_0`, and `Z_0(A, B) = int dP_0(x) exp(-A x^2/2 + B x)`. This module gives
//! `rho = E x^2`, `I_0(A) = E ln Z_0` and `mmse_0(A) = E Var(x | B)`.

use super::error::{Field, ReplicaError};
use super::gauss::{gh_cached, kink_rule, log_add_exp, GaussRule, Kink, RuleSize};
use replica_params::{in_range, Rule};

/// The parameters of a prior of the input entries, unchecked: what a spec file or a chain
/// generator writes down. [`PriorParams::check`] turns them into a [`Prior`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PriorParams {
    /// `N(mean, var)`.
    Gaussian { mean: f64, var: f64 },
    /// `x = +1` with probability `p`, `-1` otherwise.
    Binary { p: f64 },
    /// `(1 - p) delta_0 + p N(mean, var)`.
    GaussBernoulli { p: f64, mean: f64, var: f64 },
}

/// The prior of the input entries (i.i.d.), with checked parameters.
///
/// Only [`PriorParams::check`] and the constructors [`Prior::gaussian`], [`Prior::binary`],
/// [`Prior::gauss_bernoulli`] build one; [`Prior::params`] reads the parameters back.
///
/// ```compile_fail
/// use replica_core::replica::{Prior, PriorParams};
/// // the parameters are private: an unchecked prior cannot be written down
/// let p = Prior(PriorParams::Binary { p: 2.0 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prior(PriorParams);

impl PriorParams {
    /// The checked prior: a finite `mean`, a finite `var > 0`, `p` in `(0, 1)` (binary) or
    /// `(0, 1]` (Gauss-Bernoulli); otherwise the error names the field (`prior.mean`,
    /// `prior.var`, `prior.p`).
    pub fn check(self) -> Result<Prior, ReplicaError> {
        match self {
            PriorParams::Gaussian { mean, var } => {
                replica_params::finite(Field::Prior("mean"), mean)?;
                replica_params::positive(Field::Prior("var"), var)?;
            }
            PriorParams::Binary { p } => {
                in_range(Field::Prior("p"), p, Rule::Open { lo: 0.0, hi: 1.0 })?;
            }
            PriorParams::GaussBernoulli { p, mean, var } => {
                in_range(Field::Prior("p"), p, Rule::LeftOpen { lo: 0.0, hi: 1.0 })?;
                replica_params::finite(Field::Prior("mean"), mean)?;
                replica_params::positive(Field::Prior("var"), var)?;
            }
        }
        Ok(Prior(self))
    }
}

impl Prior {
    /// Checked constructor of the Gaussian prior `N(mean, var)`.
    pub fn gaussian(mean: f64, var: f64) -> Result<Self, ReplicaError> {
        PriorParams::Gaussian { mean, var }.check()
    }
    /// Checked constructor of the binary prior (`+1` with probability `p`).
    pub fn binary(p: f64) -> Result<Self, ReplicaError> {
        PriorParams::Binary { p }.check()
    }
    /// Checked constructor of the Gauss-Bernoulli prior `(1 - p) delta_0 + p N(mean, var)`.
    pub fn gauss_bernoulli(p: f64, mean: f64, var: f64) -> Result<Self, ReplicaError> {
        PriorParams::GaussBernoulli { p, mean, var }.check()
    }

    /// The (checked) parameters.
    pub fn params(&self) -> PriorParams {
        self.0
    }

    /// Second moment `rho_0 = E x^2`.
    pub fn rho(&self) -> f64 {
        match self.0 {
            PriorParams::Gaussian { mean, var } => var + mean * mean,
            PriorParams::Binary { .. } => 1.0,
            PriorParams::GaussBernoulli { p, mean, var } => p * (var + mean * mean),
        }
    }

    /// `(I_0(A), mmse_0(A))` at precision `A >= 0`.
    pub fn eval(&self, a: f64, size: RuleSize) -> PriorTerms {
        match self.0 {
            PriorParams::Gaussian { var, mean } => {
                // Z_0 = exp(((B + mu/s2)^2/a_p - mu^2/s2)/2)/sqrt(1 + A s2); the mean drops out of I_0.
                let rho = var + mean * mean;
                PriorTerms {
                    i0: 0.5 * a * rho - 0.5 * (a * var).ln_1p(),
                    mmse: 1.0 / (a + 1.0 / var),
                }
            }
            PriorParams::Binary { p } => binary_terms(p, a, size),
            PriorParams::GaussBernoulli { p, mean, var } => {
                gauss_bernoulli_terms(p, mean, var, a, size)
            }
        }
    }
}

/// Scalar-channel quantities of a prior at one precision.
#[derive(Clone, Copy, Debug)]
pub struct PriorTerms {
    /// `I_0(A) = E ln Z_0(A, B)`.
    pub i0: f64,
    /// `mmse_0(A) = E Var(x | B)`.
    pub mmse: f64,
}

/// `ln 2 cosh(y)`, stable for large `|y|`.
#[inline]
fn ln_2cosh(y: f64) -> f64 {
    let a = y.abs();
    a + (-2.0 * a).exp().ln_1p()
}

/// `sech^2(y) = 1 - tanh^2(y)` without the cancellation (the posterior variance of a `+-1`
/// variable, down to ~1e-300 at a recovered input, where `1 - tanh^2` is 0 or round-off).
#[inline]
fn sech2(y: f64) -> f64 {
    let e = (-y.abs()).exp();
    let s = 2.0 * e / (1.0 + e * e);
    s * s
}

/// Binary prior: `I_0 = ln(p(1-p))/2 - A/2 + E ln 2cosh(b0 + B)`, `mmse = E[1 - tanh^2(b0 + B)]`,
/// `b0 = ln(p/(1-p))/2`, `B = A x* + sqrt(A) z`.
fn binary_terms(p: f64, a: f64, size: RuleSize) -> PriorTerms {
    let b0 = 0.5 * (p / (1.0 - p)).ln();
    if a <= 0.0 {
        let mmse = 1.0 - (2.0 * p - 1.0).powi(2);
        return PriorTerms {
            i0: 0.5 * (p * (1.0 - p)).ln() + ln_2cosh(b0),
            mmse,
        };
    }
    let sa = a.sqrt();
    let mut rule = GaussRule::default();
    let mut e_ln = 0.0;
    let mut e_sech2 = 0.0;
    for (xs, px) in [(1.0, p), (-1.0, 1.0 - p)] {
        // ln cosh(b0 + A x* + sqrt(A) z) bends at z = -(b0 + A x*)/sqrt(A), over a scale 1/sqrt(A)
        let kink = Kink {
            center: -(b0 + a * xs) / sa,
            scale: 1.0 / sa,
        };
        kink_rule(&[kink], size, &mut rule);
        for (&z, &w) in rule.nodes.iter().zip(&rule.weights) {
            let y = b0 + a * xs + sa * z;
            e_ln += px * w * ln_2cosh(y);
            e_sech2 += px * w * sech2(y);
        }
    }
    PriorTerms {
        i0: 0.5 * (p * (1.0 - p)).ln() - 0.5 * a + e_ln,
        mmse: e_sech2,
    }
}

/// Floor of the slope `|d Delta / dB|` at a spike/slab switch, so that its kink scale `1/slope`
/// stays finite (a switch at `R = 0` is a tangency).
const SWITCH_SLOPE_FLOOR: f64 = 1e-300;

/// Gauss-Bernoulli prior: `Z_0 = (1-p) + p exp((B + mu/s2)^2/(2 a_p) - mu^2/(2 s2)) / sqrt(1 + A s2)`
/// with `a_p = A + 1/s2`; the posterior is a spike/slab mixture. Planted expectation over the spike
/// branch (`B = sqrt(A) z`) and the slab branch (`B ~ N(A mu, A^2 s2 + A)`).
fn gauss_bernoulli_terms(p: f64, mu: f64, s2: f64, a: f64, size: RuleSize) -> PriorTerms {
    if p >= 1.0 {
        // p = 1 is the slab alone; mu and s2 passed the Gaussian prior's own checks
        return Prior(PriorParams::Gaussian { mean: mu, var: s2 }).eval(a, size);
    }
    let ap = a + 1.0 / s2;
    let ln_spike = (1.0 - p).ln();
    let ln_p = p.ln();
    let half_log = 0.5 * (a * s2).ln_1p();
    // per B: (ln Z_0, Var(x | B))
    let eval_b = |b: f64| -> (f64, f64) {
        let u = b + mu / s2;
        let ln_slab = ln_p + u * u / (2.0 * ap) - mu * mu / (2.0 * s2) - half_log;
        let lz = log_add_exp(ln_spike, ln_slab);
        // slab responsibility r and its complement, each from its own log (no 1 - r)
        let r = (ln_slab - lz).exp();
        let r_spike = (ln_spike - lz).exp();
        let ms = u / ap;
        // Var(x | B) of the spike/slab mixture, r/a_p + r (1 - r) ms^2: a sum of positive terms
        (lz, r / ap + r * r_spike * ms * ms)
    };
    if a <= 0.0 {
        let (lz, var) = eval_b(0.0);
        return PriorTerms { i0: lz, mmse: var };
    }
    // responsibilities switch where ln p + ln Z_slab(B) = ln(1 - p): (B + mu/s2)^2 = 2 a_p R
    let r_sw = ln_spike - ln_p + mu * mu / (2.0 * s2) + half_log;
    let switches: Vec<(f64, f64)> = if r_sw > 0.0 {
        let half_width = (2.0 * ap * r_sw).sqrt();
        let slope = (2.0 * r_sw / ap).sqrt(); // |d Delta / dB| at the switch
        vec![
            (-mu / s2 - half_width, 1.0 / slope.max(SWITCH_SLOPE_FLOOR)),
            (-mu / s2 + half_width, 1.0 / slope.max(SWITCH_SLOPE_FLOOR)),
        ]
    } else {
        vec![]
    };
    let mut rule = GaussRule::default();
    let mut i0 = 0.0;
    let mut mmse = 0.0;
    let branches = [
        (1.0 - p, 0.0, a.sqrt()),             // spike: B = sqrt(A) z
        (p, a * mu, (a * a * s2 + a).sqrt()), // slab: B = A mu + sqrt(A^2 s2 + A) z
    ];
    for (pw, mean_b, sd_b) in branches {
        let kinks: Vec<Kink> = switches
            .iter()
            .map(|&(bc, sc)| Kink {
                center: (bc - mean_b) / sd_b,
                scale: sc / sd_b,
            })
            .collect();
        kink_rule(&kinks, size, &mut rule);
        if rule.is_empty() {
            let gh = gh_cached(size.hermite);
            rule = gh.clone();
        }
        for (&z, &w) in rule.nodes.iter().zip(&rule.weights) {
            let (lz, var) = eval_b(mean_b + sd_b * z);
            i0 += pw * w * lz;
            mmse += pw * w * var;
        }
    }
    PriorTerms { i0, mmse }
}
