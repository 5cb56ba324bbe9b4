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

/// Chains of this many layers or more sweep down and back up (see [`FixedPointStep`]'s `step`):
/// one way only, `V` climbs one layer per sweep, and a start of a deep chain needs about `0.9 L`
/// sweeps (measured on linear chains of 125 to 1000 layers), so the cost grows as `L^2`. Shorter
/// chains keep the one-way sweep, cheaper per sweep, on which every reference value was checked.
pub(super) const SYMMETRIC_MIN_LAYERS: usize = 11;

// Fixed-point scheme

pub(super) struct FixedPointStep<'c> {
    pub(super) chain: &'c Chain,
    pub(super) rule: RuleSize,
}

impl FixedPointStep<'_> {
    /// The update of layer `l` in place: theta from `gamma = A V`, `V~`, then `A` (and the next
    /// layer's `V`, returned) from the output or interface channel at the current `A~` of layer
    /// `l + 1`, then theta and `A~` again at the new `A`. `hint` is the previous sweep's theta.
    fn update_layer(
        &self,
        o: &mut OrderParams,
        l: usize,
        hint: f64,
        evals: &mut Evals,
    ) -> Result<Option<f64>, ReplicaError> {
        let ch = self.chain;
        let layer = &ch.layers()[l];
        let frozen = o.v[l] <= 0.0;
        let gamma1 = o.a[l] * o.v[l];
        let th = if frozen {
            0.0
        } else {
            layer
                .ensemble()
                .theta_near(layer.alpha(), gamma1, Some(hint))?
        };
        o.v_t[l] = if frozen { 0.0 } else { th / o.a[l] };
        let next_v = if l + 1 == ch.len() {
            o.a[l] = layer
                .channel()
                .output(o.v_t[l], ch.rho_z(l), self.rule, evals)
                .a_out;
            None
        } else {
            let t =
                layer
                    .channel()
                    .interface(o.a_t[l + 1], o.v_t[l], ch.rho_z(l), self.rule, evals);
            o.a[l] = t.iter_a;
            Some(t.iter_v)
        };
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
        Ok(next_v)
    }
}

impl Step for FixedPointStep<'_> {
    type State = OrderParams;

    /// One sweep: every layer from the output down, each at the `A~` of the layer above just
    /// updated, the new `V` taken up at the end (so `V` moves up one layer per sweep). On a deep
    /// chain ([`SYMMETRIC_MIN_LAYERS`] layers or more) the sweep goes back up as well, each
    /// layer at the `V` of the layer below just updated, so that both directions cross the
    /// whole chain in one sweep.
    fn step(&mut self, s: &OrderParams, evals: &mut Evals) -> Result<OrderParams, ReplicaError> {
        let ch = self.chain;
        let n = ch.len();
        let mut o = s.clone();
        let mut iter_v = vec![0.0; n];
        for l in (0..n).rev() {
            if let Some(v) = self.update_layer(&mut o, l, s.theta[l], evals)? {
                iter_v[l] = v;
            }
        }
        o.v[0] = ch.prior().eval(o.a_t[0], self.rule).mmse;
        o.v[1..n].copy_from_slice(&iter_v[..(n - 1)]);
        if n >= SYMMETRIC_MIN_LAYERS {
            for l in 0..n {
                let hint = o.theta[l];
                if let Some(v) = self.update_layer(&mut o, l, hint, evals)? {
                    o.v[l + 1] = v;
                }
            }
            o.v[0] = ch.prior().eval(o.a_t[0], self.rule).mmse;
        }
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
    fn to_vec(&self, s: &OrderParams) -> Option<Vec<f64>> {
        if s.v.iter().chain(&s.a).any(|&x| x.is_nan() || x <= 0.0) {
            return None;
        }
        Some(s.v.iter().chain(&s.a).map(|x| x.ln()).collect())
    }

    fn rebuild(&self, template: &OrderParams, x: &[f64]) -> OrderParams {
        let n = template.v.len();
        let mut o = template.clone();
        for l in 0..n {
            o.v[l] = x[l].exp();
            o.a[l] = x[n + l].exp();
        }
        o
    }
}
