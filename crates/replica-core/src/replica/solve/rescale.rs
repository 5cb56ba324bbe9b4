//! An equivalent chain of unit scale, by positive homogeneity.
//!
//! Linear, ReLU and leaky-ReLU activations satisfy `phi(u / D) = phi(u) / D` for `D > 0`; a
//! hardtanh does with its threshold divided by `D` (`clamp_t(u) / D = clamp_{t/D}(u / D)`), and a
//! sign does with `phi(u / D) = phi(u)`. So a layer `T_l = phi_l(W_l T_{l-1} + xi_l)` whose input
//! is stored as `T_{l-1} = C_{l-1} T'_{l-1}` reads, with `u_l = D_l u'_l`,
//!
//! ```text
//! T_l = C_l T'_l,   T'_l = phi'_l(W'_l T'_{l-1} + xi'_l),   W'_l = (C_{l-1} / D_l) W_l,
//! xi'_l ~ N(0, sigma_l^2 / D_l^2),
//! ```
//!
//! with `C_l = D_l` (linear, ReLU, leaky ReLU, hardtanh) or `C_l = 1` (sign), `C_0 = 1`: the same
//! Markov chain `X -> T'_1 -> ... -> T'_L`, each `T'_l` an invertible rescaling of `T_l`. Every
//! mutual information and the MMSE of `X` are unchanged, and
//! `H(T_L) = H(T'_L) + n_L f ln C_L`, where `f` is the fraction of output units off the atoms:
//! 1 for linear and leaky ReLU (slope `> 0`); 1/2 for ReLU (entropies with atoms are w.r.t.
//! Lebesgue plus counting measure, and the atom at 0 does not move; `u_L` is symmetric in law,
//! so `P(u_L > 0) = 1/2` exactly). A hardtanh output keeps `D_L = 1` (the mass off its atoms
//! depends on the solution), a sign output has `C_L = 1`. Per input unit: add
//! `alpha~_L f ln C_L`.
//!
//! Choosing `D_l^2 = rho~_l + sigma_l^2` (the second moment of `u_l`) makes every pre-activation
//! of the solved chain of unit second moment, whatever the weight scales: on chains whose weight
//! variances compound over the layers (`1e3` per layer over ten layers, `rho~ ~ 1e30` and more),
//! the solver's absolute constants (the start `V = 1e-10`, relative-change floors, the ML-VAMP
//! floors) and its cancellations act at the scale they were written for. The order parameters
//! map back exactly: `V_l`, `A~_l` (on `T_{l-1}`) by `C_{l-1}^2` and `1/C_{l-1}^2`, `V~_l`, `A_l`
//! (on `z_l`) by `D_l^2` and `1/D_l^2`, `theta_l` unchanged (`gamma lambda = A V lambda` is
//! invariant); Anderson secants in `(ln V, ln A)` are differences of logarithms, unchanged.

use super::super::chain::{Chain, Layer};
use super::super::channel::Activation;
use super::super::spectrum::Ensemble;
use super::StartAt;
use super::{OrderParams, WarmStart};

/// A chain is solved rescaled when some pre-activation second moment `rho~_l + sigma_l^2` that
/// the rescaling would move lies outside `[1/RESCALE_BEYOND, RESCALE_BEYOND]`. Within that range
/// the chain is solved as given, so that the values of ordinary chains stay bit for bit what they
/// were (at `1e4`, two chains of the paper's Figure 2 were rescaled and moved by up to 6.5e-11,
/// and one extreme chain got slower: `docs/measurements/2026-12-07-extreme-speed.md`); beyond
/// it the solve in original units fails or is slow (the extreme chains of
/// `tests/it/extreme_chains.rs`: second moments of 1e-6 after a hardtanh of threshold 1e-3, weight
/// variances compounded to 1e16 and more).
const RESCALE_BEYOND: f64 = 1e6;

/// The rescaled chain, and how its results read in the original one.
pub(super) struct Rescaled {
    /// The chain that is solved.
    pub(super) chain: Chain,
    /// The chain given.
    pub(super) original: Chain,
    /// `C_l`, the scale of `T_l`, `l = 0..=L` (`C_0 = 1`).
    c: Vec<f64>,
    /// `D_l`, the scale of the pre-activation of layer `l` (0-based).
    d: Vec<f64>,
    /// `H(T_L)/n_0` of the original chain minus that of the rescaled one.
    pub(super) entropy_shift: f64,
}

/// `(D, C / D)` of a layer whose pre-activation has second moment `q`: the divisor of its
/// pre-activation and the power of it its output keeps (1 or 0), or `None` for a layer that is
/// not rescaled.
fn layer_scale(act: Activation, q: f64, last: bool) -> Option<(f64, bool)> {
    let d = q.sqrt();
    if !(d.is_finite() && d > 0.0) {
        return None;
    }
    match act {
        Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. } => Some((d, true)),
        Activation::Hardtanh { .. } if !last => Some((d, true)),
        Activation::Hardtanh { .. } => None,
        Activation::Sign => Some((d, false)),
    }
}

impl Rescaled {
    /// The rescaled chain, or `None` when every pre-activation is already within
    /// [`RESCALE_BEYOND`] of unit scale (or a rescaled layer would not be valid).
    pub(super) fn of(chain: &Chain) -> Option<Rescaled> {
        let n = chain.len();
        let scales: Vec<Option<(f64, bool)>> = chain
            .layers()
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let ch = layer.channel();
                layer_scale(ch.activation(), chain.rho_z(l) + ch.noise_var(), l + 1 == n)
            })
            .collect();
        let off_scale = scales
            .iter()
            .flatten()
            .any(|&(d, _)| !(1.0 / RESCALE_BEYOND..=RESCALE_BEYOND).contains(&(d * d)));
        if !off_scale {
            return None;
        }
        let mut c = vec![1.0];
        let mut d = Vec::with_capacity(n);
        let mut layers = Vec::with_capacity(n);
        for (l, layer) in chain.layers().iter().enumerate() {
            let (dl, keeps) = scales[l].unwrap_or((1.0, true));
            let k2 = (c[l] / dl).powi(2);
            let ensemble = match layer.ensemble() {
                Ensemble::Gaussian { var } => Ensemble::Gaussian { var: var * k2 },
                Ensemble::Discrete(s) => Ensemble::Discrete(s.scaled(k2)?),
            };
            let act = match layer.channel().activation() {
                Activation::Hardtanh { threshold } => Activation::Hardtanh {
                    threshold: threshold / dl,
                },
                a => a,
            };
            let noise = layer.channel().noise_var() / (dl * dl);
            layers.push(Layer::new(layer.alpha(), act, noise, ensemble).ok()?);
            d.push(dl);
            c.push(if keeps { dl } else { 1.0 });
        }
        let rescaled = Chain::new(*chain.prior(), layers).ok()?;
        let off_atoms = match chain.layers()[n - 1].channel().activation() {
            Activation::Linear => 1.0,
            Activation::LeakyRelu { slope } if slope > 0.0 => 1.0,
            Activation::Relu | Activation::LeakyRelu { .. } => 0.5,
            // C_L = 1: nothing moves
            Activation::Hardtanh { .. } | Activation::Sign => 0.0,
        };
        let entropy_shift = chain.alpha_tilde(n) * off_atoms * c[n].ln();
        Some(Rescaled {
            chain: rescaled,
            original: chain.clone(),
            c,
            d,
            entropy_shift,
        })
    }

    /// Order parameters of the rescaled chain in the units of the original (see the module's
    /// documentation).
    pub(super) fn params_back(&self, p: &OrderParams) -> OrderParams {
        self.map(p, 1.0)
    }

    /// Order parameters of the original chain in the units of the rescaled one.
    pub(super) fn params_in(&self, p: &OrderParams) -> OrderParams {
        self.map(p, -1.0)
    }

    /// `sign = 1`: rescaled to original; `-1`: the inverse.
    fn map(&self, p: &OrderParams, sign: f64) -> OrderParams {
        let n = p.v.len();
        let mut o = p.clone();
        for l in 0..n {
            let c2 = self.c[l].powi(2).powf(sign);
            let d2 = self.d[l].powi(2).powf(sign);
            o.v[l] *= c2;
            o.a_t[l] /= c2;
            o.v_t[l] *= d2;
            o.a[l] /= d2;
        }
        o
    }

    /// A caller's start in the units of the rescaled chain.
    pub(super) fn start_in(&self, s: &StartAt) -> StartAt {
        match s {
            StartAt::Variances(v) => {
                StartAt::Variances(v.iter().zip(&self.c).map(|(x, c)| x / (c * c)).collect())
            }
            StartAt::Point(p) => StartAt::Point(self.params_in(p)),
        }
    }

    /// A warm start in the units of the rescaled chain (the secants are differences of
    /// logarithms: unchanged).
    pub(super) fn warm_in(&self, w: &WarmStart) -> WarmStart {
        WarmStart {
            params: self.params_in(&w.params),
            secants: w.secants.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::{Prior, Secants};

    fn layer(alpha: f64, var: f64, act: Activation, noise: f64) -> Layer {
        Layer::new(alpha, act, noise, Ensemble::Gaussian { var }).unwrap()
    }

    #[test]
    fn chains_of_ordinary_scale_are_solved_as_given() {
        let chain = Chain::new(
            Prior::gaussian(0.0, 2.0).unwrap(),
            vec![
                layer(1.0, 20.0, Activation::Relu, 0.0),
                layer(0.5, 20.0, Activation::Hardtanh { threshold: 1.0 }, 1e-3),
                layer(2.0, 0.05, Activation::Linear, 1e-5),
            ],
        )
        .unwrap();
        assert!(Rescaled::of(&chain).is_none());
    }

    /// Every rescaled pre-activation has unit second moment; a hidden hardtanh's threshold and
    /// every noise are divided by the scale, a hardtanh output keeps its own; the order
    /// parameters and starts map there and back.
    #[test]
    fn the_rescaled_chain_is_of_unit_scale_and_maps_back() {
        let chain = Chain::new(
            Prior::gaussian(0.0, 1.0).unwrap(),
            vec![
                layer(1.0, 1e3, Activation::LeakyRelu { slope: 0.9 }, 1e-3),
                layer(1.5, 1e3, Activation::Hardtanh { threshold: 50.0 }, 0.0),
                layer(0.7, 1e3, Activation::Sign, 0.0),
                layer(1.0, 1e8, Activation::Relu, 1.0),
                layer(1.0, 1e-6, Activation::Hardtanh { threshold: 2.0 }, 1e-2),
            ],
        )
        .unwrap();
        let r = Rescaled::of(&chain).expect("pre-activations up to 1e8: rescaled");
        for l in 0..4 {
            let q = r.chain.rho_z(l) + r.chain.layers()[l].channel().noise_var();
            assert!((q - 1.0).abs() < 1e-12, "layer {l}: {q}");
        }
        let d1 = (chain.rho_z(1) + 0.0).sqrt();
        assert_eq!(
            r.chain.layers()[1].channel().activation(),
            Activation::Hardtanh {
                threshold: 50.0 / d1
            }
        );
        // the output hardtanh is not rescaled: its entropy is unchanged
        assert_eq!(
            r.chain.layers()[4].channel().activation(),
            Activation::Hardtanh { threshold: 2.0 }
        );
        assert!(
            r.entropy_shift.abs() < f64::MIN_POSITIVE,
            "{}",
            r.entropy_shift
        );
        let q4 = chain.rho_z(4) + 1e-2;
        let q4r = r.chain.rho_z(4) + r.chain.layers()[4].channel().noise_var();
        assert!((q4r / q4 - 1.0).abs() < 1e-12, "{q4} {q4r}");
        let p = OrderParams::new(
            vec![0.5, 2.0, 3.0, 0.1, 7.0],
            vec![1.0, 2.0, 4.0, 8.0, 16.0],
            vec![0.3, 0.2, 0.1, 0.05, 0.01],
            vec![1e-3, 1e-2, 1e-1, 1.0, 10.0],
            vec![0.1, 0.2, 0.3, 0.4, 0.5],
        )
        .unwrap();
        let back = r.params_back(&r.params_in(&p));
        for (x, y) in back
            .values()
            .zip(p.values())
            .chain(back.theta.iter().copied().zip(p.theta.iter().copied()))
        {
            assert!((x - y).abs() <= 1e-15 * y.abs(), "{x} {y}");
        }
        let w = r.warm_in(&WarmStart::new(p.clone(), Secants::default()));
        assert_eq!(w.params, r.params_in(&p));
        let StartAt::Variances(v) = r.start_in(&StartAt::Variances(p.v.clone())) else {
            panic!()
        };
        assert_eq!(v, r.params_in(&p).v);
    }
}
