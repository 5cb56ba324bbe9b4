//! ML-VAMP state evolution (variances only, no theta root).

use super::super::chain::Chain;
use super::super::channel::Evals;
use super::super::error::ReplicaError;
use super::super::gauss::RuleSize;
use super::iterate::Step;
use super::OrderParams;

/// Floor of the ML-VAMP variances `v1x`, relative to the second moment of the variable: an MMSE
/// below it is a recovered variable (exactly 0 in the limit); the potential moves by
/// `O(V_FLOOR)` relative, far below the solver tolerance.
const V_FLOOR: f64 = 1e-30;

/// Floor of the precision `a2x = 1/v1x - a1x` (an uninformative message).
const A_FLOOR: f64 = 1e-300;

/// Shift of the scaled precision `a1x rho` inside the logarithm of Anderson's coordinates.
const A_SHIFT: f64 = 1e-6;

/// Primary VAMP variables per layer `i`: `a1x` (precision of the message into the denoiser of
/// `x_i`) and `a1z` (variance of the message from the channel side on `z_i`), plus the derived
/// quantities of the last sweep.
#[derive(Clone, Debug)]
pub(super) struct VampState {
    pub(super) a1x: Vec<f64>,
    pub(super) a1z: Vec<f64>,
    pub(super) v1x: Vec<f64>,
    pub(super) a2z: Vec<f64>,
    pub(super) g: Vec<f64>,
}

pub(super) struct VampStep<'c> {
    pub(super) chain: &'c Chain,
    pub(super) rule: RuleSize,
}

fn positive(name: &str, i: usize, x: f64) -> Result<f64, ReplicaError> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(ReplicaError::NonFinite(format!(
            "ML-VAMP: {name}[{i}] = {x}"
        )))
    }
}

impl Step for VampStep<'_> {
    type State = VampState;

    fn step(&mut self, s: &VampState, evals: &mut Evals) -> Result<VampState, ReplicaError> {
        let ch = self.chain;
        let n = ch.len();
        let mut o = s.clone();
        let mut a2x = vec![0.0; n];
        // forward
        #[allow(clippy::needless_range_loop)] // i indexes several parallel arrays and i - 1
        for i in 0..n {
            let layer = &ch.layers()[i];
            o.v1x[i] = if i == 0 {
                ch.prior().eval(o.a1x[0], self.rule).mmse
            } else {
                ch.layers()[i - 1]
                    .channel()
                    .interface(
                        o.a1x[i],
                        1.0 / o.a2z[i - 1],
                        ch.rho_z(i - 1),
                        self.rule,
                        evals,
                    )
                    .iter_v
            };
            if o.v1x[i].is_nan() || o.v1x[i] < 0.0 {
                return Err(ReplicaError::NonFinite(format!(
                    "ML-VAMP: v1x[{i}] = {}",
                    o.v1x[i]
                )));
            }
            // A recovered input (its MMSE underflowing to 0) is held at a variance far below any
            // that matters, so that the recovered state stays a finite fixed point.
            o.v1x[i] = o.v1x[i].max(V_FLOOR * ch.rho(i));
            a2x[i] = (1.0 / o.v1x[i] - o.a1x[i]).max(A_FLOOR);
            // v1z = a1z (1 - a2x v2x) / alpha and a2z = 1/v1z - 1/a1z, from the complements of
            // the LMMSE variance (see `lmmse_parts`), which do not cancel.
            let parts = layer
                .ensemble()
                .lmmse_parts(layer.alpha(), a2x[i], o.a1z[i]);
            positive("1 - a2x v2x", i, parts.c)?;
            let alpha_minus_c = (layer.alpha() - parts.positive) + parts.e;
            o.a2z[i] = positive("a2z", i, alpha_minus_c / (parts.c * o.a1z[i]))?;
        }
        // backward
        for i in (0..n).rev() {
            let layer = &ch.layers()[i];
            if i + 1 == n {
                // a1z = 1/g - V~ = sigma^2 + (1 - g v) / g with v = sigma^2 + V~: the channel's
                // own `1 - g v` does not cancel where sigma^2 is far below V~ (near-linear
                // outputs of almost noiseless chains), where `1/g - V~` is round-off.
                let out = layer
                    .channel()
                    .output(1.0 / o.a2z[i], ch.rho_z(i), self.rule, evals);
                o.g[i] = positive("g", i, out.a_out)?;
                let a1z = layer.channel().noise_var() + out.info_deficit / o.g[i];
                o.a1z[i] = positive("a1z", i, a1z)?;
            } else {
                o.g[i] = layer
                    .channel()
                    .interface(o.a1x[i + 1], 1.0 / o.a2z[i], ch.rho_z(i), self.rule, evals)
                    .iter_a;
                positive("g", i, o.g[i])?;
                o.a1z[i] = positive("a1z", i, 1.0 / o.g[i] - 1.0 / o.a2z[i])?;
            }
            // a1x = 1/v2x - a2x = (1 - a2x v2x) / v2x
            let v2x = layer.ensemble().lmmse(layer.alpha(), a2x[i], o.a1z[i]);
            let parts = layer
                .ensemble()
                .lmmse_parts(layer.alpha(), a2x[i], o.a1z[i]);
            o.a1x[i] = (parts.c / v2x).max(0.0);
        }
        Ok(o)
    }

    fn mix(old: &VampState, new: &VampState, d: f64) -> VampState {
        let m = |a: &[f64], b: &[f64]| -> Vec<f64> {
            a.iter()
                .zip(b)
                .map(|(x, y)| (1.0 - d) * x + d * y)
                .collect()
        };
        VampState {
            a1x: m(&old.a1x, &new.a1x),
            a1z: m(&old.a1z, &new.a1z),
            v1x: new.v1x.clone(),
            a2z: new.a2z.clone(),
            g: new.g.clone(),
        }
    }

    /// `(ln(a1x rho + A_SHIFT), ln a1z)`: the variables the sweep carries, in logarithms, so that
    /// precisions of very different scales weigh alike in the Anderson least squares (`a1x` may
    /// be 0: the shift keeps its logarithm finite).
    fn to_vec(&self, s: &VampState) -> Option<Vec<f64>> {
        if s.a1z.iter().any(|&x| x.is_nan() || x <= 0.0) || s.a1x.iter().any(|x| x.is_nan()) {
            return None;
        }
        let ch = self.chain;
        Some(
            s.a1x
                .iter()
                .enumerate()
                .map(|(i, &a)| (a * ch.rho(i) + A_SHIFT).ln())
                .chain(s.a1z.iter().map(|x| x.ln()))
                .collect(),
        )
    }

    fn rebuild(&self, template: &VampState, x: &[f64]) -> VampState {
        let n = template.a1x.len();
        let ch = self.chain;
        let mut o = template.clone();
        for i in 0..n {
            o.a1x[i] = ((x[i].exp() - A_SHIFT) / ch.rho(i)).max(0.0);
            o.a1z[i] = x[n + i].exp();
        }
        o
    }

    fn to_params(&self, s: &VampState) -> OrderParams {
        let n = s.a1x.len();
        let mut p = OrderParams {
            v: s.v1x.clone(),
            a: s.g.clone(),
            a_t: s.a1x.clone(),
            v_t: vec![0.0; n],
            theta: vec![0.0; n],
        };
        for i in 0..n {
            p.v_t[i] = 1.0 / s.a2z[i];
            p.theta[i] = 1.0 / (1.0 + s.a2z[i] * s.a1z[i]);
        }
        p
    }
}

/// The ML-VAMP state at the order parameters `p` of a stationary point (the inverse of
/// [`VampStep::to_params`]): `a1x = A~`, `v1x = V`, `g = A`, `a2z = 1/V~`, and
/// `a1z = V~ (1/theta - 1)` from `theta = 1/(1 + a2z a1z)`. `None` where `p` is not of that form
/// (`V~ <= 0` or `theta` outside `(0, 1)`).
pub(super) fn state_from_params(p: &OrderParams) -> Option<VampState> {
    let ok = p.v_t.iter().all(|&x| x.is_finite() && x > 0.0)
        && p.theta.iter().all(|&t| t.is_finite() && t > 0.0 && t < 1.0);
    ok.then(|| VampState {
        a1x: p.a_t.clone(),
        a1z: p
            .v_t
            .iter()
            .zip(&p.theta)
            .map(|(&vt, &t)| vt * (1.0 / t - 1.0))
            .collect(),
        v1x: p.v.clone(),
        a2z: p.v_t.iter().map(|&vt| 1.0 / vt).collect(),
        g: p.a.clone(),
    })
}
