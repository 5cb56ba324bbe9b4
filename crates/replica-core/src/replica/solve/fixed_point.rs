//! The fixed-point scheme of the replica potential (one theta-equation per layer).

use super::super::chain::Chain;
use super::super::channel::Evals;
use super::super::error::ReplicaError;
use super::super::gauss::RuleSize;
use super::iterate::Step;
use super::OrderParams;

/// Bounds of the factor `gamma2 / gamma1` by which the previous sweep's theta is scaled into the
/// guess of the next root: theta grows about linearly with gamma, but a jump of more than a
/// decade either way is an early, far-from-converged sweep, where the guess only needs to be on
/// the right branch.
const HINT_SCALE_MIN: f64 = 0.1;
/// Upper bound of the hint's scale factor (see [`HINT_SCALE_MIN`]).
const HINT_SCALE_MAX: f64 = 10.0;

// Fixed-point scheme

pub(super) struct FixedPointStep<'c> {
    pub(super) chain: &'c Chain,
    pub(super) rule: RuleSize,
}

impl Step for FixedPointStep<'_> {
    type State = OrderParams;

    fn step(&mut self, s: &OrderParams, evals: &mut Evals) -> Result<OrderParams, ReplicaError> {
        let ch = self.chain;
        let n = ch.len();
        let mut o = s.clone();
        let mut iter_v = vec![0.0; n];
        for l in (0..n).rev() {
            let layer = &ch.layers()[l];
            let frozen = o.v[l] <= 0.0;
            let gamma1 = o.a[l] * o.v[l];
            let th = if frozen {
                0.0
            } else {
                layer
                    .ensemble()
                    .theta_near(layer.alpha(), gamma1, Some(s.theta[l]))?
            };
            o.v_t[l] = if frozen { 0.0 } else { th / o.a[l] };
            if l + 1 == n {
                o.a[l] = layer
                    .channel()
                    .output(o.v_t[l], ch.rho_z(l), self.rule, evals)
                    .a_out;
            } else {
                let t = layer.channel().interface(
                    o.a_t[l + 1],
                    o.v_t[l],
                    ch.rho_z(l),
                    self.rule,
                    evals,
                );
                o.a[l] = t.iter_a;
                iter_v[l] = t.iter_v;
            }
            if frozen {
                o.theta[l] = 0.0;
                o.a_t[l] = layer.alpha() * layer.ensemble().theta_slope0(layer.alpha()) * o.a[l];
            } else {
                // theta grows about linearly with gamma: scale the guess by the change of gamma
                let gamma2 = o.a[l] * o.v[l];
                let hint = th * (gamma2 / gamma1).clamp(HINT_SCALE_MIN, HINT_SCALE_MAX);
                let th = layer
                    .ensemble()
                    .theta_near(layer.alpha(), gamma2, Some(hint))?;
                o.theta[l] = th;
                o.a_t[l] = layer.alpha() * th / o.v[l];
            }
        }
        o.v[0] = ch.prior().eval(o.a_t[0], self.rule).mmse;
        o.v[1..n].copy_from_slice(&iter_v[..(n - 1)]);
        Ok(o)
    }

    fn mix(old: &OrderParams, new: &OrderParams, d: f64) -> OrderParams {
        let m = |a: &[f64], b: &[f64]| -> Vec<f64> {
            a.iter()
                .zip(b)
                .map(|(x, y)| (1.0 - d) * x + d * y)
                .collect()
        };
        OrderParams {
            v: m(&old.v, &new.v),
            a: m(&old.a, &new.a),
            a_t: m(&old.a_t, &new.a_t),
            v_t: m(&old.v_t, &new.v_t),
            theta: m(&old.theta, &new.theta),
        }
    }

    fn to_params(&self, s: &OrderParams) -> OrderParams {
        s.clone()
    }

    /// `(ln V, ln A)`: the variables the sweep actually carries (the others are recomputed).
    fn to_vec(s: &OrderParams) -> Option<Vec<f64>> {
        if s.v.iter().chain(&s.a).any(|&x| x.is_nan() || x <= 0.0) {
            return None;
        }
        Some(s.v.iter().chain(&s.a).map(|x| x.ln()).collect())
    }

    fn from_vec(template: &OrderParams, x: &[f64]) -> OrderParams {
        let n = template.v.len();
        let mut o = template.clone();
        for l in 0..n {
            o.v[l] = x[l].exp();
            o.a[l] = x[n + l].exp();
        }
        o
    }
}
