//! Exact information bounds that every result must satisfy (`replica.md`, "Exact bounds").
//!
//! A stationary point of the replica potential that breaks one of them is not the answer (it is
//! a spurious branch, typically the perfect-recovery point of a discrete prior on a bounded
//! spectrum): the solver rejects it as a candidate, and a solve whose every candidate is rejected
//! is an error naming the bound. All quantities are per input dimension `n_0`, in nats.
//!
//! The bounds checked, with `M` the MMSE of `X` and `I = I(X;T_L)` (defined when every inner
//! layer is noiseless):
//! - everything finite; `0 <= M <= Var X`; `I >= 0`; `I(T_{L-1};T_L) >= 0`;
//! - binary prior (`x = +-1`, `H(X) = h(p)`): `I <= H(X)`, and the recovery bound
//!   `I >= H(X) - (M/2) ln(2e/M)` (so `M = 0` forces `I = H(X)`; derivation at
//!   [`recovery_slack`]);
//! - sign output (`T_L` takes `2^{n_L}` values): `0 <= H(T_L) <= (n_L/n_0) ln 2` and `I <= H(T_L)`;
//! - every output: `H(T_L)` at most the maximum entropy of a law with the output's support and
//!   the largest second moment its pre-activation can have ([`max_entropy_per_unit`]);
//! - every chain: `I(T_{L-1};T_L)` at most the capacity of the last noisy layer at that second
//!   moment ([`capacity_per_unit`]), and `I(X;T_L) <= I(T_{L-1};T_L)` (data processing on the
//!   one Markov chain `X -> T_{L-1} -> T_L`).
//!
//! The derivations are in `docs/bounds.md`.

use super::chain::Chain;
use super::channel::Activation;
use super::prior::{Prior, PriorParams};
use thiserror::Error;

/// Slack allowed on every bound (nats per input dimension). The solver converges every order
/// parameter to 1e-9 relative and the channel quadratures are accurate to about 1e-8 (the
/// `scalar_functions.csv` checks), so a correct result is within ~1e-7 of a bound it touches
/// (perfect recovery sits exactly on `I = H(X)`); 1e-6 keeps a factor 10 above that while every
/// spurious point seen on the random-network grid broke a bound by more than 5e-3.
pub const BOUND_SLACK: f64 = 1e-6;

/// Slack on a bound of size `bound`: [`BOUND_SLACK`] absolute plus the same relative part. The
/// entropy and the informations are sums of terms of the potential, each computed to about 1e-9
/// relative; a bound that grows with the output's scale (a Gaussian maximum entropy of hundreds
/// of nats at noise 1e-12) is touched by a correct result only up to that relative error, and an
/// absolute slack alone would then reject a right answer (or, scaled down, a bound of size 1e-5
/// would be vacuous).
pub fn slack(bound: f64) -> f64 {
    BOUND_SLACK * (1.0 + bound.abs())
}

/// The quantities of one candidate result, as read out of a stationary point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadOut {
    /// `H(T_L) / n_0`.
    pub entropy: f64,
    /// `I(X;T_L) / n_0` when every inner layer is noiseless.
    pub mutual_information: Option<f64>,
    /// `I(T_{L-1};T_L) / n_0`.
    pub mi_last_layer: f64,
    /// MMSE of `X` given `T_L`, per entry.
    pub mmse: f64,
}

/// Which bound a candidate broke, with the values involved.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum BoundViolation {
    #[error("{what} = {value} is not finite")]
    NonFinite { what: &'static str, value: f64 },
    #[error("MMSE = {mmse} lies outside [0, Var X = {var}]")]
    Mmse { mmse: f64, var: f64 },
    #[error("I(X;T_L) = {mi} < 0")]
    NegativeMi { mi: f64 },
    #[error("I(T_L-1;T_L) = {mi} < 0")]
    NegativeMiLastLayer { mi: f64 },
    #[error("I(X;T_L) = {mi} > H(X) = {h_x} (binary input)")]
    MiAboveInputEntropy { mi: f64, h_x: f64 },
    #[error(
        "I(X;T_L) = {mi} < {lower} = H(X) - (M/2) ln(2e/M) at MMSE M = {mmse}: \
         an MMSE this small means X is recovered"
    )]
    MiBelowRecovery { mi: f64, lower: f64, mmse: f64 },
    #[error("H(T_L) = {h} outside [0, (n_L/n_0) ln 2 = {max}] (sign output)")]
    DiscreteEntropy { h: f64, max: f64 },
    #[error("I(X;T_L) = {mi} > H(T_L) = {h} (sign output)")]
    MiAboveOutputEntropy { mi: f64, h: f64 },
    #[error(
        "H(T_L) = {h} > {max}, the maximum entropy of a {what} output of second moment at most \
         {power} (per output unit, times n_L/n_0)"
    )]
    EntropyAboveMax {
        h: f64,
        max: f64,
        what: &'static str,
        power: f64,
    },
    #[error(
        "I(T_L-1;T_L) = {mi} > {cap}, the capacity of the last layer's noise {noise_var} at input \
         second moment {power} (per output unit, times n_L/n_0)"
    )]
    MiAboveCapacity {
        mi: f64,
        cap: f64,
        power: f64,
        noise_var: f64,
    },
    #[error("I(X;T_L) = {mi} > I(T_L-1;T_L) = {mi_last} (data processing)")]
    DataProcessing { mi: f64, mi_last: f64 },
}

impl BoundViolation {
    /// A short name of the bound broken, e.g. `"I(X;T_L) <= H(X)"`.
    pub fn name(&self) -> &'static str {
        match self {
            BoundViolation::NonFinite { .. } => "finite",
            BoundViolation::Mmse { .. } => "0 <= MMSE <= Var X",
            BoundViolation::NegativeMi { .. } => "I(X;T_L) >= 0",
            BoundViolation::NegativeMiLastLayer { .. } => "I(T_L-1;T_L) >= 0",
            BoundViolation::MiAboveInputEntropy { .. } => "I(X;T_L) <= H(X)",
            BoundViolation::MiBelowRecovery { .. } => "I(X;T_L) >= H(X) - (M/2) ln(2e/M)",
            BoundViolation::DiscreteEntropy { .. } => "0 <= H(T_L) <= (n_L/n_0) ln 2",
            BoundViolation::MiAboveOutputEntropy { .. } => "I(X;T_L) <= H(T_L)",
            BoundViolation::EntropyAboveMax { .. } => "H(T_L) <= maximum entropy",
            BoundViolation::MiAboveCapacity { .. } => "I(T_L-1;T_L) <= capacity",
            BoundViolation::DataProcessing { .. } => "I(X;T_L) <= I(T_L-1;T_L)",
        }
    }

    /// The value that broke the bound (the MMSE, an information or the entropy).
    pub fn value(&self) -> f64 {
        match *self {
            BoundViolation::NonFinite { value, .. } => value,
            BoundViolation::Mmse { mmse, .. } => mmse,
            BoundViolation::NegativeMi { mi }
            | BoundViolation::NegativeMiLastLayer { mi }
            | BoundViolation::MiAboveInputEntropy { mi, .. }
            | BoundViolation::MiBelowRecovery { mi, .. }
            | BoundViolation::MiAboveOutputEntropy { mi, .. }
            | BoundViolation::MiAboveCapacity { mi, .. }
            | BoundViolation::DataProcessing { mi, .. } => mi,
            BoundViolation::DiscreteEntropy { h, .. }
            | BoundViolation::EntropyAboveMax { h, .. } => h,
        }
    }

    /// The limit the value crossed (for a two-sided bound, the side it crossed); `None` for a
    /// value that is not finite.
    pub fn limit(&self) -> Option<f64> {
        match *self {
            BoundViolation::NonFinite { .. } => None,
            BoundViolation::Mmse { mmse, var } => Some(if mmse < 0.0 { 0.0 } else { var }),
            BoundViolation::NegativeMi { .. } | BoundViolation::NegativeMiLastLayer { .. } => {
                Some(0.0)
            }
            BoundViolation::MiAboveInputEntropy { h_x, .. } => Some(h_x),
            BoundViolation::MiBelowRecovery { lower, .. } => Some(lower),
            BoundViolation::DiscreteEntropy { h, max } => Some(if h < 0.0 { 0.0 } else { max }),
            BoundViolation::MiAboveOutputEntropy { h, .. } => Some(h),
            BoundViolation::EntropyAboveMax { max, .. } => Some(max),
            BoundViolation::MiAboveCapacity { cap, .. } => Some(cap),
            BoundViolation::DataProcessing { mi_last, .. } => Some(mi_last),
        }
    }
}

/// Largest second moment `E T^2` that the activation allows whatever its input: `t^2` for a
/// hardtanh of threshold `t`, 1 for sign, unbounded otherwise.
pub fn activation_power_cap(a: Activation) -> f64 {
    match a {
        Activation::Hardtanh { threshold } => threshold * threshold,
        Activation::Sign => 1.0,
        _ => f64::INFINITY,
    }
}

/// Largest second moment per entry of the pre-activation `z_L = W_L T_{L-1}` of the last layer:
/// `lambda_L E T_{L-1}^2 / alpha_L`, with `E T_{L-1}^2` the forward moment `rho_{L-1}` (exact in
/// the model: see `docs/bounds.md`), never above the cap of a bounded activation before it (a
/// consistency check: the forward moments of a hardtanh never exceed `t^2`).
pub fn last_pre_activation_power(chain: &Chain) -> f64 {
    let l = chain.len() - 1;
    let layer = &chain.layers()[l];
    let input = if l == 0 {
        chain.rho(0)
    } else {
        let cap = activation_power_cap(chain.layers()[l - 1].channel().activation());
        chain.rho(l).min(cap)
    };
    layer.ensemble().mean(layer.alpha()) * input / layer.alpha()
}

/// Largest entropy (nats, w.r.t. Lebesgue measure on `(0, inf)` plus the counting measure on
/// `{0}`) of a law on `[0, inf)` with `E T^2 <= power`: `ln(1 + a) + a / (2 (1 + a))`, where
/// `a > 0` solves `2 a^3 / (pi (1 + a)) = power` (derivation in `docs/bounds.md`). The root is
/// bracketed by bisection on `ln a`; the upper end of the bracket is used (the bound increases
/// with `a`), so the value is never below the exact maximum.
pub fn relu_max_entropy(power: f64) -> f64 {
    if power.is_nan() {
        return f64::NAN;
    }
    if power == f64::INFINITY {
        return f64::INFINITY;
    }
    if power <= 0.0 {
        return 0.0;
    }
    let g = |ln_a: f64| {
        // ln(2 a^3 / (pi (1 + a))) - ln(power), increasing in ln a
        let a = ln_a.exp();
        (2.0 / std::f64::consts::PI).ln() + 3.0 * ln_a - a.ln_1p() - power.ln()
    };
    let (mut lo, mut hi) = (-400.0_f64, 400.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if g(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let a = hi.exp();
    a.ln_1p() + a / (2.0 * (1.0 + a))
}

/// The maximum entropy per output unit of the last layer's output given its support and the
/// largest second moment `power` of its noisy pre-activation `u = z_L + xi_L`, with the name of
/// the law used; `None` for sign (checked by its own bound, [`BoundViolation::DiscreteEntropy`]).
/// Linear and leaky ReLU of slope in `(0, 1]` (`|T| <= |u|`): the Gaussian's `ln(2 pi e power)/2`;
/// ReLU (atom at 0): [`relu_max_entropy`]; hardtanh of threshold `t`: `ln(2 + 2t)`, whatever the
/// power.
pub fn max_entropy_per_unit(a: Activation, power: f64) -> Option<(f64, &'static str)> {
    let gauss = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * power).ln();
    match a {
        Activation::Linear => Some((gauss, "linear")),
        Activation::LeakyRelu { slope } if slope > 0.0 => Some((gauss, "leaky-ReLU")),
        Activation::Relu | Activation::LeakyRelu { .. } => Some((relu_max_entropy(power), "ReLU")),
        Activation::Hardtanh { threshold } => Some(((2.0 + 2.0 * threshold).ln(), "hardtanh")),
        Activation::Sign => None,
    }
}

/// Capacity per output unit of the additive Gaussian noise `noise_var` at input second moment
/// `power`: `ln(1 + power / noise_var) / 2`.
pub fn capacity_per_unit(power: f64, noise_var: f64) -> f64 {
    0.5 * (power / noise_var).ln_1p()
}

/// Variance of the prior: `Var x`.
pub fn prior_variance(prior: &Prior) -> f64 {
    match prior.params() {
        PriorParams::Gaussian { var, .. } => var,
        PriorParams::Binary { p } => 4.0 * p * (1.0 - p),
        PriorParams::GaussBernoulli { p, mean, var } => {
            p * (var + mean * mean) - (p * mean).powi(2)
        }
    }
}

/// Entropy of a discrete prior per entry: `H(X)/n_0 = -p ln p - (1-p) ln(1-p)` for the binary
/// prior; `None` for priors with a density part.
pub fn prior_entropy(prior: &Prior) -> Option<f64> {
    match prior.params() {
        PriorParams::Binary { p } => Some(-p * p.ln() - (1.0 - p) * (1.0 - p).ln()),
        _ => None,
    }
}

/// Upper bound on `H(X | T) / n_0` for `x = +-1` given the MMSE `M` (per entry):
/// `H(X|T) <= (M/2) ln(2e/M)`.
///
/// Derivation: `H(X|T) <= sum_i H(x_i|T)`; given `T`, `x_i` is `+-1` with posterior mean `m`,
/// variance `v = 1 - m^2`, and the smaller posterior probability `q = (1 - |m|)/2 <= v/2`. The
/// binary entropy obeys `h(q) <= q ln(e/q)`, increasing in `q` on `(0, 1)`, so
/// `H(x_i|T) <= E phi(v)` with `phi(v) = (v/2) ln(2e/v)`, concave; Jensen's inequality over `T`
/// and then over `i` gives `phi(M)`.
pub fn recovery_slack(mmse: f64) -> f64 {
    if mmse <= 0.0 {
        0.0
    } else {
        0.5 * mmse * (2.0 * std::f64::consts::E / mmse).ln()
    }
}

/// Largest gap `H(X) - I(X;T_L)` (nats per input dimension) that the recovery bound may leave
/// for the read-out to be replaced by its exact value (see [`recovered_entropy`]). At this gap the
/// MMSE is below about 7e-12 (`recovery_slack(7e-12) = 1e-10`): the exact value is then right to
/// 1e-10. The potential itself is not, at such points: its quadrature error at the precisions
/// `A ~ 1e6` of recovered points on the random-network grid is up to 1.3e-7 nats (2e-4 while the
/// noiseless interfaces ran at a variance floor of 1e-10: enough to put `I` above `H(X)`;
/// `tests/recovered.rs`).
pub const RECOVERY_PINNED: f64 = 1e-10;

/// `H(X)/n_0` when the MMSE pins `I(X;T_L)` to it, i.e. a discrete prior with
/// `H(X) - (M/2) ln(2e/M) >= H(X) - RECOVERY_PINNED` (so `H(X) - 1e-10 <= I <= H(X)` by the two
/// binary-prior bounds); `None` otherwise.
pub fn recovered_entropy(prior: &Prior, mmse: f64) -> Option<f64> {
    let h_x = prior_entropy(prior)?;
    (mmse.is_finite() && mmse >= 0.0 && recovery_slack(mmse) <= RECOVERY_PINNED).then_some(h_x)
}

/// Check a candidate's read-out against every exact bound that applies to `chain`.
pub fn check(chain: &Chain, r: &ReadOut) -> Result<(), BoundViolation> {
    let finite = [
        ("H(T_L)", r.entropy),
        ("I(T_L-1;T_L)", r.mi_last_layer),
        ("MMSE", r.mmse),
        ("I(X;T_L)", r.mutual_information.unwrap_or(0.0)),
    ];
    if let Some(&(what, value)) = finite.iter().find(|(_, v)| !v.is_finite()) {
        return Err(BoundViolation::NonFinite { what, value });
    }
    let var = prior_variance(chain.prior());
    if r.mmse < -BOUND_SLACK || r.mmse > var * (1.0 + BOUND_SLACK) + BOUND_SLACK {
        return Err(BoundViolation::Mmse { mmse: r.mmse, var });
    }
    if r.mi_last_layer < -BOUND_SLACK {
        return Err(BoundViolation::NegativeMiLastLayer {
            mi: r.mi_last_layer,
        });
    }
    if let Some(mi) = r.mutual_information {
        if mi < -BOUND_SLACK {
            return Err(BoundViolation::NegativeMi { mi });
        }
        if let Some(h_x) = prior_entropy(chain.prior()) {
            if mi > h_x + BOUND_SLACK {
                return Err(BoundViolation::MiAboveInputEntropy { mi, h_x });
            }
            let lower = h_x - recovery_slack(r.mmse.max(0.0)).min(h_x);
            if mi < lower - BOUND_SLACK {
                return Err(BoundViolation::MiBelowRecovery {
                    mi,
                    lower,
                    mmse: r.mmse,
                });
            }
        }
    }
    let last = chain.layers().last().expect("a chain has a layer");
    if matches!(last.channel().activation(), Activation::Sign) {
        let max = chain.alpha_tilde(chain.len()) * std::f64::consts::LN_2;
        if r.entropy < -BOUND_SLACK || r.entropy > max + BOUND_SLACK {
            return Err(BoundViolation::DiscreteEntropy { h: r.entropy, max });
        }
        if let Some(mi) = r.mutual_information {
            if mi > r.entropy + BOUND_SLACK {
                return Err(BoundViolation::MiAboveOutputEntropy { mi, h: r.entropy });
            }
        }
    }
    let width = chain.alpha_tilde(chain.len());
    let q = last_pre_activation_power(chain);
    let noise_var = last.channel().noise_var();
    let power = q + noise_var;
    if let Some((per_unit, what)) = max_entropy_per_unit(last.channel().activation(), power) {
        let max = width * per_unit;
        if r.entropy > max + slack(max) {
            return Err(BoundViolation::EntropyAboveMax {
                h: r.entropy,
                max,
                what,
                power,
            });
        }
    }
    let cap = width * capacity_per_unit(q, noise_var);
    if r.mi_last_layer > cap + slack(cap) {
        return Err(BoundViolation::MiAboveCapacity {
            mi: r.mi_last_layer,
            cap,
            power: q,
            noise_var,
        });
    }
    if let Some(mi) = r.mutual_information {
        if mi > r.mi_last_layer + slack(r.mi_last_layer) {
            return Err(BoundViolation::DataProcessing {
                mi,
                mi_last: r.mi_last_layer,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::{Ensemble, Layer};

    fn sign_chain(p: f64) -> Chain {
        Chain::new(
            Prior::binary(p).unwrap(),
            vec![Layer::new(1.0, Activation::Sign, 1e-4, Ensemble::Gaussian { var: 1.0 }).unwrap()],
        )
        .unwrap()
    }

    #[test]
    fn recovery_slack_bounds_the_binary_entropy_pointwise() {
        // For a single +-1 variable with posterior mean m: h((1-|m|)/2) <= phi(1 - m^2).
        for k in 0..=1000 {
            let m: f64 = k as f64 / 1000.0;
            let q = (1.0 - m) / 2.0;
            let h = if q > 0.0 {
                -q * q.ln() - (1.0 - q) * (1.0 - q).ln()
            } else {
                0.0
            };
            let bound = recovery_slack(1.0 - m * m);
            assert!(h <= bound + 1e-15, "m = {m}: h = {h} > {bound}");
        }
    }

    #[test]
    fn the_issue_examples_are_rejected() {
        let ch = sign_chain(0.5);
        // perfect-recovery point of a sign layer on an orthogonal spectrum: H = 0.700353 > ln 2
        let bad = ReadOut {
            entropy: 0.700353,
            mutual_information: Some(std::f64::consts::LN_2),
            mi_last_layer: std::f64::consts::LN_2,
            mmse: 0.0,
        };
        assert!(matches!(
            check(&ch, &bad),
            Err(BoundViolation::DiscreteEntropy { .. })
        ));
        // the reference package's answer passes
        let good = ReadOut {
            entropy: 0.654429,
            mutual_information: Some(0.647223),
            mi_last_layer: 0.647223,
            mmse: 0.25188,
        };
        assert_eq!(check(&ch, &good), Ok(()));
        // MMSE 0 but I < H(X)
        let ch = sign_chain(0.8695650638221907);
        let h_x = prior_entropy(ch.prior()).unwrap();
        assert!((h_x - 0.387213).abs() < 1e-6);
        let bad = ReadOut {
            entropy: 0.5,
            mutual_information: Some(0.357386),
            mi_last_layer: 0.357386,
            mmse: 0.0,
        };
        assert!(matches!(
            check(&ch, &bad),
            Err(BoundViolation::MiBelowRecovery { .. })
        ));
        // I > H(X)
        let bad = ReadOut {
            mutual_information: Some(h_x + 1e-3),
            mmse: 0.1,
            ..good
        };
        assert!(matches!(
            check(&ch, &bad),
            Err(BoundViolation::MiAboveInputEntropy { .. })
        ));
    }

    fn layer(alpha: f64, act: Activation, noise: f64) -> Layer {
        Layer::new(alpha, act, noise, Ensemble::Gaussian { var: 1.0 / alpha }).unwrap()
    }

    fn honest(entropy: f64, mi_last_layer: f64) -> ReadOut {
        ReadOut {
            entropy,
            mutual_information: None,
            mi_last_layer,
            mmse: 0.5,
        }
    }

    #[test]
    fn a_hardtanh_output_cannot_exceed_ln_2_plus_2t() {
        // a bounded layer, then a narrow hardtanh output: at most alpha~ ln(2 + 2 * 0.345)
        let ch = Chain::new(
            Prior::gaussian(0.0, 1.0).unwrap(),
            vec![
                layer(0.1, Activation::Hardtanh { threshold: 2.0 }, 0.0),
                layer(0.5, Activation::Hardtanh { threshold: 0.345 }, 1e-3),
            ],
        )
        .unwrap();
        let max = 0.05 * 2.69f64.ln();
        let ok = honest(max * (1.0 - 1e-3), 0.0);
        assert_eq!(check(&ch, &ok), Ok(()));
        let bad = honest(max * 1.01, 0.0);
        match check(&ch, &bad) {
            Err(BoundViolation::EntropyAboveMax { max: m, what, .. }) => {
                assert!((m - max).abs() < 1e-15, "{m} vs {max}");
                assert_eq!(what, "hardtanh");
            }
            other => panic!("{other:?}"),
        }
    }

    /// A linear output after a hardtanh of threshold 1.198 on orthogonal weights of aspect 3.1:
    /// `E z^2 <= t^2 / 3.1`, so `H <= alpha~ ln(2 pi e (q + sigma^2)) / 2`, and
    /// `I(T_L-1;T_L) <= alpha~ ln(1 + q / sigma^2) / 2`.
    #[test]
    fn a_linear_output_after_a_bounded_layer_obeys_the_power_limit() {
        let t: f64 = 1.198;
        let noise = 7e-12;
        let ch = Chain::new(
            Prior::gaussian(0.0, 1e6).unwrap(),
            vec![
                Layer::orthogonal(1.0, Activation::Hardtanh { threshold: t }, 0.0).unwrap(),
                Layer::orthogonal(3.1, Activation::Linear, noise).unwrap(),
            ],
        )
        .unwrap();
        let q = last_pre_activation_power(&ch);
        // the forward moment of a hardtanh fed with variance 1e6 is just below t^2
        assert!(q <= t * t / 3.1 && q > 0.99 * t * t / 3.1, "q = {q}");
        let max = 3.1 * 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * (q + noise)).ln();
        let cap = 3.1 * 0.5 * (1.0 + q / noise).ln();
        assert_eq!(check(&ch, &honest(max - 1e-3, cap - 1e-3)), Ok(()));
        assert!(matches!(
            check(&ch, &honest(493.9, 1.0)),
            Err(BoundViolation::EntropyAboveMax { what: "linear", .. })
        ));
        assert!(matches!(
            check(&ch, &honest(max - 1.0, cap * 1.01)),
            Err(BoundViolation::MiAboveCapacity { .. })
        ));
    }

    /// Gaussian prior through one orthogonal square linear layer: `T` is i.i.d. Gaussian, so both
    /// the maximum entropy and the capacity are attained; the exact values pass (the slack covers
    /// the solver's relative error), values a little above do not.
    #[test]
    fn the_gaussian_linear_layer_attains_both_bounds() {
        let (s0, noise) = (2.0, 0.3);
        let ch = Chain::new(
            Prior::gaussian(0.0, s0).unwrap(),
            vec![Layer::orthogonal(1.0, Activation::Linear, noise).unwrap()],
        )
        .unwrap();
        let two_pi_e = 2.0 * std::f64::consts::PI * std::f64::consts::E;
        let h = 0.5 * (two_pi_e * (s0 + noise)).ln();
        let i = 0.5 * (1.0 + s0 / noise).ln();
        assert_eq!(check(&ch, &honest(h, i)), Ok(()));
        assert_eq!(
            check(&ch, &honest(h * (1.0 + 1e-8), i * (1.0 + 1e-8))),
            Ok(())
        );
        assert!(check(&ch, &honest(h + 1e-4, i)).is_err());
        assert!(check(&ch, &honest(h, i + 1e-4)).is_err());
    }

    /// The ReLU bound against an independent form: split the law into the atom at 0 (mass `p`)
    /// and a density on `(0, inf)` whose second moment is at most `power / (1 - p)`; the half-normal
    /// maximises the latter's entropy, so `H <= max_p h(p) + (1-p) ln(pi e power / (2 (1-p))) / 2`.
    /// Also: it is above the entropy of the ReLU of a centred Gaussian of second moment `power`.
    #[test]
    fn the_relu_max_entropy_matches_the_split_form() {
        for &power in &[1e-12, 1e-6, 1e-2, 0.3, 1.0, 7.0, 1e3, 1e9, 1e40] {
            let f = |p: f64| {
                let s = 1.0 - p;
                let hb = -p * p.ln() - s * s.ln();
                hb + 0.5 * s * (std::f64::consts::PI * std::f64::consts::E * power / (2.0 * s)).ln()
            };
            // golden-section search of the concave f on (0, 1)
            let (mut a, mut b) = (1e-300_f64, 1.0 - 1e-16);
            let r = (5f64.sqrt() - 1.0) / 2.0;
            for _ in 0..400 {
                let (c, d) = (b - r * (b - a), a + r * (b - a));
                if f(c) < f(d) {
                    a = c;
                } else {
                    b = d;
                }
            }
            let split = f(0.5 * (a + b));
            let closed = relu_max_entropy(power);
            assert!(
                (closed - split).abs() <= 1e-9 * (1.0 + split.abs()),
                "power {power}: {closed} vs {split}"
            );
            let relu_of_gaussian = 0.5 * 2f64.ln()
                + 0.25 * (2.0 * std::f64::consts::PI * std::f64::consts::E * power).ln();
            assert!(closed >= relu_of_gaussian, "power {power}");
        }
    }

    #[test]
    fn a_relu_output_and_data_processing() {
        let ch = Chain::new(
            Prior::gaussian(0.0, 1.0).unwrap(),
            vec![
                layer(1.0, Activation::Relu, 0.0),
                layer(0.5, Activation::Relu, 0.01),
            ],
        )
        .unwrap();
        let power = last_pre_activation_power(&ch) + 0.01;
        let max = 0.5 * relu_max_entropy(power);
        assert!(matches!(
            check(&ch, &honest(max + 1e-3, 0.1)),
            Err(BoundViolation::EntropyAboveMax { what: "ReLU", .. })
        ));
        let mut r = honest(max - 1e-3, 0.1);
        assert_eq!(check(&ch, &r), Ok(()));
        r.mutual_information = Some(0.1 + 1e-3);
        assert!(matches!(
            check(&ch, &r),
            Err(BoundViolation::DataProcessing { .. })
        ));
    }

    #[test]
    fn prior_moments() {
        assert!((prior_variance(&Prior::binary(0.5).unwrap()) - 1.0).abs() < 1e-15);
        let gb = Prior::gauss_bernoulli(0.3, 1.0, 2.0).unwrap();
        // E x^2 - (E x)^2 = 0.3 * 3 - 0.09
        assert!((prior_variance(&gb) - 0.81).abs() < 1e-15);
        assert!((prior_entropy(&Prior::binary(0.5).unwrap()).unwrap() - 2f64.ln()).abs() < 1e-15);
        assert_eq!(prior_entropy(&Prior::gaussian(0.0, 1.0).unwrap()), None);
    }
}
