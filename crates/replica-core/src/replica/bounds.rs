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
//! - sign output (`T_L` takes `2^{n_L}` values): `0 <= H(T_L) <= (n_L/n_0) ln 2` and `I <= H(T_L)`.

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
/// 1e-10. The potential itself is not, at such points: its noiseless interfaces are evaluated at
/// the variance floor `channel::NOISELESS_V_FLOOR`, an effective noise that biases it by
/// `~ alpha~ A 1e-10 rho~`, up to 2e-4 nats at the precisions `A ~ 1e6` of recovered points on
/// the random-network grid (enough to put `I` above `H(X)`; `tests/recovered.rs`).
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
