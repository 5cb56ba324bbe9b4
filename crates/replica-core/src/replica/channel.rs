//! Activations as data, and the one generic noisy piecewise-linear channel behind all of them.
//!
//! An activation is a list of regions of the pre-activation `x`: on `(lo, hi)` it is
//! `phi(x) = slope * x + offset`; a region with `slope = 0` is an atom at `offset`. ReLU, leaky
//! ReLU, hardtanh, sign and linear are a few lines each. The channel is `h = phi(x)`,
//! `x = omega + sqrt(v) u`, `v = sigma^2 + V`, `omega = sqrt(m) w`, `m = max(rho - V, 0)`.
//!
//! * Output channel (last layer): `I_out(V; rho) = E_omega int dy Z_out ln Z_out` (entropy with
//!   respect to Lebesgue plus counting measure) and `A_out = E_omega int dy Z_out (d_omega ln Z_out)^2`.
//!   Per region both are closed forms of truncated-Gaussian moments; one 1-D expectation over `w`
//!   remains, graded at the kinks `omega = lo, hi` on the scale `sqrt(v)`.
//! * Interface channel (hidden layer): `Z_h(A, B, omega) = int dP(h | omega) exp(-A h^2/2 + B h)`,
//!   per region a truncated Gaussian (or an atom) in closed form, in the log domain. The planted
//!   law of `B` given `omega` is a sum over regions: atoms give `B ~ N(A c, A)` with weight `P_k`,
//!   linear regions give `B ~ N(A (g omega + c), A + A^2 g^2 v)` weighted by the posterior
//!   probability of the region. `I_h = E ln Z_h`, `iter_v = E d_B^2 ln Z_h = E Var(h | B, omega)`,
//!   `iter_a = E (d_omega ln Z_h)^2`: 2-D expectations over `(w, b)`, graded at the kinks.

use super::error::{Field, LayerField, ReplicaError};
use super::gauss::{
    kink_rule, ln_norm_interval, norm_interval, norm_pdf, GaussRule, Kink, RuleSize, EXP_UNDERFLOW,
    LN_SQRT_2PI,
};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Outer quadrature nodes from which the interface integral is split across threads.
const PARALLEL_MIN_NODES: usize = 16;

/// An activation function, applied after adding Gaussian noise: `T = phi(z + xi)`. Its names
/// (`name`, `Display`, `FromStr`) are in `activation_name.rs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Linear,
    Relu,
    /// `max(x, 0) + slope * min(x, 0)`.
    LeakyRelu {
        slope: f64,
    },
    /// `clamp(x, -threshold, threshold)`.
    Hardtanh {
        threshold: f64,
    },
    /// `sign(x)` (values +-1).
    Sign,
}

/// One linear piece of an activation: `phi(x) = slope x + offset` on `(lo, hi)`; `slope = 0` is an
/// atom at `offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub lo: f64,
    pub hi: f64,
    pub slope: f64,
    pub offset: f64,
}

impl Region {
    fn is_atom(&self) -> bool {
        self.slope == 0.0
    }
}

impl Activation {
    /// Validate the parameters.
    pub fn check(&self) -> Result<(), ReplicaError> {
        match *self {
            Activation::LeakyRelu { slope } => {
                let unit = replica_params::Rule::Closed { lo: 0.0, hi: 1.0 };
                replica_params::in_range(Field::from(LayerField::Slope), slope, unit)?;
                Ok(())
            }
            Activation::Hardtanh { threshold } => {
                replica_params::positive(Field::from(LayerField::Threshold), threshold)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The activation as a list of regions, left to right.
    pub fn regions(&self) -> Vec<Region> {
        let inf = f64::INFINITY;
        let r = |lo, hi, slope, offset| Region {
            lo,
            hi,
            slope,
            offset,
        };
        match *self {
            Activation::Linear => vec![r(-inf, inf, 1.0, 0.0)],
            Activation::Relu => vec![r(-inf, 0.0, 0.0, 0.0), r(0.0, inf, 1.0, 0.0)],
            Activation::LeakyRelu { slope } => {
                vec![r(-inf, 0.0, slope, 0.0), r(0.0, inf, 1.0, 0.0)]
            }
            Activation::Hardtanh { threshold: t } => {
                vec![r(-inf, -t, 0.0, -t), r(-t, t, 1.0, 0.0), r(t, inf, 0.0, t)]
            }
            Activation::Sign => vec![r(-inf, 0.0, 0.0, -1.0), r(0.0, inf, 0.0, 1.0)],
        }
    }

    /// `phi(x)`.
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            Activation::Linear => x,
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { slope } => {
                if x >= 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Activation::Hardtanh { threshold } => x.clamp(-threshold, threshold),
            Activation::Sign => {
                if x >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            }
        }
    }

    /// Whether `phi` is the identity (closed forms apply).
    pub fn is_linear(&self) -> bool {
        matches!(self, Activation::Linear)
            || matches!(self, Activation::LeakyRelu { slope } if slope.to_bits() == 1.0f64.to_bits())
    }
}

/// Output-channel terms at one `(V, rho)`.
#[derive(Clone, Copy, Debug)]
pub struct OutputTerms {
    /// `A_out`, the Fisher information of the channel in `omega`.
    pub a_out: f64,
    /// `I_out = E int Z_out ln Z_out` (minus the conditional entropy per output unit).
    pub i_out: f64,
    /// `1 - A_out v`, `v = sigma^2 + V`, summed region by region without forming `A_out v`
    /// (see [`Channel::output`]): `>= 0` (the output is a function of a Gaussian of variance
    /// `v`, whose Fisher information in `omega` is `1/v`), exactly 0 for linear and leaky-ReLU
    /// outputs, where `1 - A_out v` itself is round-off.
    pub info_deficit: f64,
}

/// Interface-channel terms at one `(A, V, rho)`.
///
/// `I_h = E ln Z_h` grows like `A rho_h / 2` (`rho_h = E h^2` under the planted law), and the
/// potential subtracts it from `A~ rho / 2` of the layer above: at the precisions of nearly
/// recovered layers (`A ~ 1e13`) both are ~1e16 per unit and their difference a few nats, so the
/// channel returns `I_h` with `A rho_h / 2` removed analytically ([`Self::i_h_centred`]), and the
/// potential cancels the rest exactly (see [`crate::replica::potential::phi`]).
#[derive(Clone, Copy, Debug)]
pub struct InterfaceTerms {
    pub iter_a: f64,
    pub iter_v: f64,
    /// `I_h - A rho_h / 2`, computed without forming either (`E [ln Z_h - B^2/(2A)] + 1/2`: the
    /// planted `B` has `E B^2 = A^2 rho_h + A`).
    pub i_h_centred: f64,
    /// `rho_h = E h^2` under the interface's planted law: `rho_out(rho)` (bit for bit what the
    /// chain's next second moment is) unless `V > rho`, where `omega` is 0 and `v` exceeds `rho`.
    pub rho_h: f64,
    /// The precision `A` the terms were evaluated at.
    pub a: f64,
}

impl InterfaceTerms {
    /// `I_h = E ln Z_h` itself (large at large `A`: for comparison with references only).
    pub fn i_h(&self) -> f64 {
        self.i_h_centred + 0.5 * self.a * self.rho_h
    }
}

/// A noisy activation: the channel `h = phi(x + xi)`, `xi ~ N(0, noise_var)`.
///
/// Only [`Channel::new`] builds one, so a channel's activation parameters and noise variance have
/// always passed their checks; they are read back with [`Channel::activation`] and
/// [`Channel::noise_var`].
///
/// ```compile_fail
/// use replica_core::replica::{Activation, Channel};
/// // the fields are private: an unchecked channel cannot be written down
/// let c = Channel { activation: Activation::Relu, noise_var: -1.0, regions: Vec::new() };
/// ```
#[derive(Clone, Debug)]
pub struct Channel {
    activation: Activation,
    noise_var: f64,
    /// `activation.regions()`, computed once.
    regions: Vec<Region>,
}

/// Per-`omega` quantities of a region in the interface channel.
#[derive(Clone, Copy)]
struct AtomAt {
    ln_p: f64,
    dln_p: f64,
}

/// Variance `v = sigma^2 + V~` of an interface channel, relative to `rho`, below which its terms
/// are not integrated at `v` but carried down from the switch (see `Channel::small_v_interface`).
/// A noiseless layer at `V~ -> 0` (a nearly recovered hidden layer) is the limit `v -> 0`, where
/// the terms of a continuous activation depend on `A v` and on `omega`'s distance to the kinks in
/// units of `sqrt(v)`: their closed-form limit plus a kink share `c sqrt(v / rho)`. Measured with
/// the default rule (ReLU and hardtanh, `A v` from 0.5 to 1e4): `c` is constant to 1e-5 from
/// `v / rho = 1e-8` to `1e-12`, and drifts beyond (`1/v` and `omega/v` lose digits): by 0.3% at
/// `1e-13`, by a factor 18 (an error of 9e-8 nats) at `1e-16`. The switch is moved lower for
/// activations with a narrow linear piece (`Channel::v_switch`); the sign activation, all
/// kink, keeps a floor `v >= 1e-16 rho` instead.
///
/// This replaced a floor `v >= 1e-16 rho`, which changed `A v` itself: a bias of
/// `alpha~ A (1e-16 rho - v) / 2` per unit that reached 8 nats on an extreme chain whose `A~`
/// was 1e20.
pub const NOISELESS_V_SWITCH: f64 = 1e-12;

/// Width of the narrowest linear piece in units of `sqrt(v)` at the switch: the kink shares of
/// its two ends must not overlap for the `sqrt(v)` law (`exp(-100^2 / 2)` is 0).
const SWITCH_PIECE_WIDTHS: f64 = 100.0;

/// Lowest switch, relative to `rho`, for activations with narrow linear pieces, and the variance
/// floor of the sign activation (all kink, nothing to carry down): where the rules still hold the
/// kink shares to a few 1e-8 nats.
const LOWEST_V_SWITCH: f64 = 1e-16;

/// Atom mass above which `(phi(a) - phi(b))^2 / (v P)` is evaluated directly in the output
/// channel; below it, in logs (`d^2` underflows, or `d^2 / P` overflows, long before `P` does).
const ATOM_DIRECT_MIN: f64 = 1e-250;

/// Count of integrand evaluations (deterministic work counter).
pub type Evals = u64;

impl Channel {
    /// A checked channel: the activation's parameters pass [`Activation::check`] and
    /// `noise_var` is finite and `>= 0` ([`LayerField::NoiseVar`] otherwise).
    pub fn new(activation: Activation, noise_var: f64) -> Result<Self, ReplicaError> {
        activation.check()?;
        replica_params::non_negative(Field::from(LayerField::NoiseVar), noise_var)?;
        let regions = activation.regions();
        Ok(Channel {
            activation,
            noise_var,
            regions,
        })
    }

    /// The activation `phi`.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The variance `sigma^2` of the noise added inside the activation.
    pub fn noise_var(&self) -> f64 {
        self.noise_var
    }

    /// The same activation with the noise variance `noise_var`, checked as by [`Channel::new`].
    pub fn with_noise_var(&self, noise_var: f64) -> Result<Self, ReplicaError> {
        Channel::new(self.activation, noise_var)
    }

    /// `rho_out = E phi(sqrt(rho + sigma^2) u)^2`, `u ~ N(0,1)`, in closed form per region.
    pub fn rho_out(&self, rho_in: f64) -> f64 {
        let vp = rho_in + self.noise_var;
        if vp <= 0.0 {
            return self.activation.apply(0.0).powi(2);
        }
        let sd = vp.sqrt();
        self.regions
            .iter()
            .map(|r| {
                let (a, b) = (r.lo / sd, r.hi / sd);
                let p = ln_norm_interval(a, b).exp();
                let (pa, pb) = (pdf_or_zero(a), pdf_or_zero(b));
                let e1 = sd * (pa - pb); // E[x 1{region}]
                let e2 = vp * (p + xpdf(a) - xpdf(b)); // E[x^2 1{region}]
                let (g, c) = (r.slope, r.offset);
                g * g * e2 + 2.0 * g * c * e1 + c * c * p
            })
            .sum()
    }

    /// Output channel at variance `V` and second moment `rho` of the pre-activation.
    pub fn output(&self, vv: f64, rho: f64, size: RuleSize, evals: &mut Evals) -> OutputTerms {
        let v = self.noise_var + vv;
        let m = (rho - vv).max(0.0);
        if self.activation.is_linear() {
            *evals += 1;
            return OutputTerms {
                a_out: 1.0 / v,
                i_out: -0.5 * (2.0 * PI * std::f64::consts::E * v).ln(),
                info_deficit: 0.0,
            };
        }
        let sv = v.sqrt();
        let rule = self.omega_rule(m, v, size);
        // per region: the constant of -ln(density) on a linear piece, ln(2 pi v)/2 + ln|g|
        let lin_const: Vec<f64> = self
            .regions
            .iter()
            .map(|r| 0.5 * v.ln() + LN_SQRT_2PI + r.slope.abs().ln())
            .collect();
        let (ln_v, sm) = (v.ln(), m.sqrt());
        let mut a_out = 0.0;
        let mut i_out = 0.0;
        let mut info_deficit = 0.0;
        for (&w, &wt) in rule.nodes.iter().zip(&rule.weights) {
            let om = sm * w;
            // `de` = 1 - v sum(ia), as sum over regions of P - v ia (the P sum to 1): a linear
            // region gives P - t2 = b phi(b) - a phi(a), which telescopes to 0 across a boundary
            // between two linear regions; an atom gives P - d^2 / P.
            let (mut ia, mut ii, mut de) = (0.0, 0.0, 0.0);
            // regions are contiguous: phi at a region's upper bound is the next one's lower
            let mut pdf_lo = 0.0;
            for (r, &cst) in self.regions.iter().zip(&lin_const) {
                let a = (r.lo - om) / sv;
                let b = (r.hi - om) / sv;
                let pdf_hi = pdf_or_zero(b);
                let lp = ln_norm_interval(a, b);
                let p = lp.exp();
                if r.is_atom() {
                    if p > 0.0 {
                        ii += p * lp;
                        // (d_omega ln P)^2 P = (phi(a) - phi(b))^2 / (v P); in logs when P is tiny
                        let d = (pdf_lo - pdf_hi).abs();
                        let fisher = if p > ATOM_DIRECT_MIN {
                            d * d / (v * p)
                        } else if d > 0.0 {
                            (2.0 * d.ln() - ln_v - lp).exp()
                        } else {
                            0.0
                        };
                        ia += fisher;
                        de += p - v * fisher;
                    }
                } else {
                    // E[t^2 1{region}] = P + a phi(a) - b phi(b)
                    let t2 = p + if a.is_finite() { a * pdf_lo } else { 0.0 }
                        - if b.is_finite() { b * pdf_hi } else { 0.0 };
                    ii += -0.5 * t2 - p * cst;
                    ia += t2 / v;
                    de += xpdf(b) - xpdf(a);
                }
                pdf_lo = pdf_hi;
            }
            a_out += wt * ia;
            i_out += wt * ii;
            info_deficit += wt * de;
            *evals += 1;
        }
        OutputTerms {
            a_out,
            i_out,
            info_deficit: info_deficit.max(0.0),
        }
    }

    /// The rule over `w` for `omega = sqrt(m) w`: a single node when `omega` is deterministic,
    /// graded at the region boundaries on the scale `sqrt(v/m)` otherwise.
    fn omega_rule(&self, m: f64, v: f64, size: RuleSize) -> GaussRule {
        let mut rule = GaussRule::default();
        if m <= 0.0 {
            rule.nodes.push(0.0);
            rule.weights.push(1.0);
            return rule;
        }
        let sm = m.sqrt();
        let scale = (v / m).sqrt();
        let mut kinks = Vec::new();
        for r in &self.regions {
            for x in [r.lo, r.hi] {
                if x.is_finite()
                    && !kinks
                        .iter()
                        .any(|k: &Kink| k.center.to_bits() == (x / sm).to_bits())
                {
                    kinks.push(Kink {
                        center: x / sm,
                        scale,
                    });
                }
            }
        }
        kink_rule(&kinks, size, &mut rule);
        rule
    }

    /// Interface channel at precision `A` (from the layer above), variance `V` and second moment
    /// `rho` of the pre-activation: with `v = sigma^2 + V`, `m = max(rho - V, 0)` and
    /// `omega = sqrt(m) w`, `w ~ N(0, 1)`, `iter_a = E (d_omega ln Z_h)^2`,
    /// `iter_v = E d_B^2 ln Z_h` and `I_h = E ln Z_h`, the expectations over `omega` and over
    /// the planted law of `B` given `omega`. Below `v = NOISELESS_V_SWITCH rho` (a nearly
    /// noiseless layer) the terms are the closed-form `v -> 0` limit plus the kinks' share,
    /// carried down from the switch by its `sqrt(v)` law (see [`NOISELESS_V_SWITCH`]).
    pub fn interface(
        &self,
        a: f64,
        vv: f64,
        rho: f64,
        size: RuleSize,
        evals: &mut Evals,
    ) -> InterfaceTerms {
        let v = self.noise_var + vv;
        let m = (rho - vv).max(0.0);
        if self.activation.is_linear() {
            *evals += 1;
            return linear_interface(a, v, rho, self.noise_var);
        }
        let v_switch = self.v_switch(rho);
        let mut t = if self.regions.iter().all(Region::is_atom) {
            // sign: all kink, so no limit to carry down; its iter_a grows as 1/sqrt(v) as
            // v -> 0, and fed to the solver that law led it to spurious recovered points, so the
            // quadrature runs at v >= LOWEST_V_SWITCH rho (a floor)
            self.interface_quadrature(a, v.max(LOWEST_V_SWITCH * rho), m, size, evals)
        } else if v < v_switch && m > 0.0 {
            self.small_v_interface(a, v, m, v_switch, size, evals)
        } else {
            self.interface_quadrature(a, v, m, size, evals)
        };
        // the planted pre-activation has variance m + v: rho + sigma^2 unless V > rho
        t.rho_h = if vv > rho {
            self.rho_out(m + v - self.noise_var)
        } else {
            self.rho_out(rho)
        };
        t.a = a;
        t
    }

    /// The variance below which [`Channel::interface`] is carried down from the switch:
    /// `NOISELESS_V_SWITCH rho`, lowered so that the narrowest finite linear piece spans
    /// `SWITCH_PIECE_WIDTHS sqrt(v)`, but not below `LOWEST_V_SWITCH rho`.
    fn v_switch(&self, rho: f64) -> f64 {
        let narrowest = self
            .regions
            .iter()
            .filter(|r| !r.is_atom())
            .map(|r| r.hi - r.lo)
            .fold(f64::INFINITY, f64::min);
        let by_width = (narrowest / SWITCH_PIECE_WIDTHS).powi(2);
        (NOISELESS_V_SWITCH * rho)
            .min(by_width)
            .max(LOWEST_V_SWITCH * rho)
    }

    /// The interface terms by quadrature at `(A, v, m)` (`rho_h` and `a` left at 0).
    fn interface_quadrature(
        &self,
        a: f64,
        v: f64,
        m: f64,
        size: RuleSize,
        evals: &mut Evals,
    ) -> InterfaceTerms {
        let at = InterfacePoint {
            a,
            v,
            m,
            sv: v.sqrt(),
            sa: a.sqrt(),
            size,
            consts: self.region_consts(a, v),
        };
        let outer = self.omega_rule(m, v, size);
        // Outer nodes are independent: evaluate them in parallel, then sum in node order so the
        // result does not depend on the thread schedule (bit-for-bit reproducible).
        let parts: Vec<NodeSums> = if outer.len() >= PARALLEL_MIN_NODES {
            outer
                .nodes
                .par_iter()
                .map(|&w| self.interface_node(&at, w))
                .collect()
        } else {
            outer
                .nodes
                .iter()
                .map(|&w| self.interface_node(&at, w))
                .collect()
        };
        let mut t = sum_outer(&parts, &outer.weights, evals);
        // the nodes summed E [ln Z_h - B^2/(2A)]; at A = 0, Z_h = 1 and nothing was shifted
        if a > 0.0 {
            t.i_h_centred += 0.5;
        }
        t
    }

    /// The interface terms at `0 <= v < v_switch` (see [`NOISELESS_V_SWITCH`]): the `v -> 0`
    /// limit of each linear piece `k` (slope `g_k`, probability `P_k` of `omega` in it), with
    /// `s = sqrt(v / v_switch)`,
    /// `I_h - A rho_h / 2 = L_I + (Q_I - L_I) s`, `iter_a = L_a(A, v) + (Q_a - L_a(A', v_switch)) / s`,
    /// `iter_v = L_v(A, v) + (Q_v - L_v(A', v_switch)) s^3`, where
    /// `L_I = -(1/2) sum P_k ln(1 + A v g_k^2)`, `L_a = sum P_k A g_k^2 / (1 + A v g_k^2)`,
    /// `L_v = sum P_k g_k^2 v / (1 + A v g_k^2)`, and `Q` is the quadrature at
    /// `(A' = A v / v_switch, v_switch)`, the same `A v`. Near a kink of a continuous activation
    /// the integrands depend on `(omega - kink)/sqrt(v)` and on `A v` only, so the kinks' share of
    /// each term is `s` (relative) times its share at `v_switch`; the terms are continuous at
    /// `v_switch`. Only for activations with a linear piece (not sign).
    fn small_v_interface(
        &self,
        a: f64,
        v: f64,
        m: f64,
        v_switch: f64,
        size: RuleSize,
        evals: &mut Evals,
    ) -> InterfaceTerms {
        let limit = self.small_v_limit(a, v, m);
        if v <= 0.0 {
            return limit;
        }
        let s = (v / v_switch).sqrt();
        let a_switch = a * v / v_switch;
        let at_switch = self.small_v_limit(a_switch, v_switch, m);
        let q = self.interface_quadrature(a_switch, v_switch, m, size, evals);
        InterfaceTerms {
            iter_a: limit.iter_a + (q.iter_a - at_switch.iter_a) * (v_switch.sqrt() / v.sqrt()),
            iter_v: limit.iter_v + (q.iter_v - at_switch.iter_v) * s * s * s,
            i_h_centred: limit.i_h_centred + (q.i_h_centred - at_switch.i_h_centred) * s,
            rho_h: 0.0,
            a: 0.0,
        }
    }

    /// The `v -> 0` limit of the interface terms of the linear pieces at `(A, v)`, `omega` of
    /// variance `m > 0` (see [`Channel::small_v_interface`]); atoms contribute nothing.
    fn small_v_limit(&self, a: f64, v: f64, m: f64) -> InterfaceTerms {
        let sm = m.sqrt();
        let mut t = InterfaceTerms {
            iter_a: 0.0,
            iter_v: 0.0,
            i_h_centred: 0.0,
            rho_h: 0.0,
            a: 0.0,
        };
        for r in self.regions.iter().filter(|r| !r.is_atom()) {
            let p = norm_interval(r.lo / sm, r.hi / sm).0;
            let g2 = r.slope * r.slope;
            let gain = 1.0 + a * v * g2;
            t.iter_a += p * a * g2 / gain;
            t.iter_v += p * g2 * v / gain;
            t.i_h_centred -= 0.5 * p * (a * v * g2).ln_1p();
        }
        t
    }

    /// Per-region constants of one interface call: `P_k = 1/v + A g_k^2`, `sqrt(P_k)` and
    /// `ln(v P_k)/2`.
    fn region_consts(&self, a: f64, v: f64) -> Vec<RegionConsts> {
        self.regions
            .iter()
            .map(|r| {
                let p_prec = 1.0 / v + a * r.slope * r.slope;
                RegionConsts {
                    p_prec,
                    sp: p_prec.sqrt(),
                    half_ln_vp: 0.5 * (v * p_prec).ln(),
                }
            })
            .collect()
    }

    /// One outer node `omega = sqrt(m) w`: the sums over regions `k` of
    /// `E_{B | k, omega} [w_k (d_omega ln Z_h)^2]`, `E [w_k d_B^2 ln Z_h]`, `E [w_k ln Z_h]`, with
    /// `w_k` the planted weight of region `k` (an atom's `P_k(omega)`, a linear region's posterior
    /// mass), and the integrand evaluations they took.
    fn interface_node(&self, at: &InterfacePoint, w: f64) -> NodeSums {
        crate::simd::clear_upper_simd_state();
        let mut inner = GaussRule::default();
        let mut kinks: Vec<Kink> = Vec::with_capacity(4);
        let mut n_evals: Evals = 0;
        let om = at.m.sqrt() * w;
        let atoms = self.atoms_at(om, at.sv);
        let (mut sa_, mut sv_, mut si_) = (0.0, 0.0, 0.0);
        for (k, r) in self.regions.iter().enumerate() {
            let Some(law) = planted_b_law(at, r, atoms[k], om) else {
                continue;
            };
            kinks.clear();
            if r.is_atom() {
                self.push_atom_switch_kinks(at.a, k, &atoms, law, &mut kinks);
            }
            if let Some((g, p_prec)) = law.linear {
                push_region_switch_kinks(r, om, g, p_prec, law.sd_b, &mut kinks);
            }
            kink_rule(&kinks, at.size, &mut inner);
            let acc = self.region_sums(at, om, k, law, &atoms, &inner, &mut n_evals);
            sa_ += acc.0;
            sv_ += acc.1;
            si_ += acc.2;
        }
        NodeSums {
            d_omega2: sa_,
            d_bb: sv_,
            ln_z: si_,
            evals: n_evals,
        }
    }

    /// The `omega`-only quantities of the atoms at `omega`: `ln P_k = ln(Phi(hi_k) - Phi(lo_k))`
    /// with `lo_k = (lo - omega)/sqrt(v)`, `hi_k = (hi - omega)/sqrt(v)`, and
    /// `d_omega ln P_k = (phi(lo_k) - phi(hi_k)) / (sqrt(v) P_k)` (in logs; zero when `P_k = 0`).
    /// Linear regions keep zeros.
    fn atoms_at(&self, om: f64, sv: f64) -> Vec<AtomAt> {
        let mut atoms: Vec<AtomAt> = vec![
            AtomAt {
                ln_p: 0.0,
                dln_p: 0.0
            };
            self.regions.len()
        ];
        for (k, r) in self.regions.iter().enumerate() {
            if r.is_atom() {
                let lo = (r.lo - om) / sv;
                let hi = (r.hi - om) / sv;
                let ln_p = ln_norm_interval(lo, hi);
                let d = pdf_or_zero(lo) - pdf_or_zero(hi);
                let dln_p = if ln_p == f64::NEG_INFINITY || d == 0.0 {
                    0.0
                } else {
                    d.signum() * (d.abs().ln() - sv.ln() - ln_p).exp()
                };
                atoms[k] = AtomAt { ln_p, dln_p };
            }
        }
        atoms
    }

    /// Kinks of the `B` integrand of atom `k`: against another atom `j`, `ln Z_k - ln Z_j`
    /// changes sign at `B* = (ln P_j - ln P_k + A (c_k^2 - c_j^2)/2) / (c_k - c_j)`, over a scale
    /// `1/|c_k - c_j|`; both in units of the planted `B`'s standard deviation around its mean.
    fn push_atom_switch_kinks(
        &self,
        a: f64,
        k: usize,
        atoms: &[AtomAt],
        law: PlantedB,
        kinks: &mut Vec<Kink>,
    ) {
        let r = &self.regions[k];
        for (j, q) in self.regions.iter().enumerate() {
            if j == k || !q.is_atom() || atoms[j].ln_p == f64::NEG_INFINITY {
                continue;
            }
            let dc = r.offset - q.offset;
            let b_star = (atoms[j].ln_p - atoms[k].ln_p
                + 0.5 * a * (r.offset * r.offset - q.offset * q.offset))
                / dc;
            kinks.push(Kink {
                center: (b_star - law.mean_b) / law.sd_b,
                scale: 1.0 / (dc.abs() * law.sd_b),
            });
        }
    }

    /// `E_{B | k, omega} [w_k (d_omega ln Z_h)^2, w_k d_B^2 ln Z_h, w_k ln Z_h]` for region `k`
    /// on the inner rule over `b`, `B = mean_b + sd_b b`: the weight `w_k` is an atom's
    /// `P_k(omega)` (independent of `B`) or a linear region's posterior mass at `B`.
    #[allow(clippy::too_many_arguments)]
    fn region_sums(
        &self,
        at: &InterfacePoint,
        om: f64,
        k: usize,
        law: PlantedB,
        atoms: &[AtomAt],
        inner: &GaussRule,
        evals: &mut Evals,
    ) -> (f64, f64, f64) {
        // an atom's planted weight P_k(omega) does not depend on B
        let atom_weight = atoms[k].ln_p.exp();
        let mut acc = (0.0, 0.0, 0.0);
        for (&b, &wb) in inner.nodes.iter().zip(&inner.weights) {
            let d = self.derivs(
                at.a,
                at.v,
                om,
                (law.mean_b, law.sd_b * b),
                atoms,
                &at.consts,
            );
            *evals += 1;
            let weight = match law.linear {
                None => atom_weight,
                Some(_) => d.weights[k],
            };
            if weight == 0.0 {
                continue;
            }
            let c = wb * weight;
            acc.0 += c * d.d_omega * d.d_omega;
            acc.1 += c * d.d_bb;
            acc.2 += c * d.ln_z;
        }
        acc
    }

    /// `ln Z_h(A, B, omega)` and its derivatives, as a log-sum over regions; also each region's
    /// `Phi(beta) - Phi(alpha)` (the posterior probability mass of a linear region, which is
    /// that region's planted weight). The planted `B` comes as `mean_b + dev_b`: each region's
    /// `u = B - A (c + g omega)` is formed as `(mean_b - A (c + g omega)) + dev_b`, which is
    /// `dev_b` exactly in the planted region (`B - A c` itself keeps 6 digits at `A ~ 1e20`).
    fn derivs(
        &self,
        a: f64,
        v: f64,
        om: f64,
        (mean_b, dev_b): (f64, f64),
        atoms: &[AtomAt],
        consts: &[RegionConsts],
    ) -> Derivs {
        let mut parts = [(f64::NEG_INFINITY, 0.0f64, 0.0f64, 0.0f64); 4];
        let mut weights = [0.0f64; 4];
        let mut lmax = f64::NEG_INFINITY;
        for (k, r) in self.regions.iter().enumerate() {
            let c = r.offset;
            // every part is shifted by -B^2/(2A) (the same at every region, so the weights and
            // derivatives are unchanged), in completed squares: no term of size A survives
            parts[k] = if r.is_atom() {
                let at = atoms[k];
                let ln_zk = if a > 0.0 {
                    let u = (mean_b - a * c) + dev_b;
                    at.ln_p - 0.5 * u * u / a
                } else {
                    at.ln_p
                };
                (ln_zk, c, 0.0, at.dln_p)
            } else {
                let g = r.slope;
                let RegionConsts {
                    p_prec,
                    sp,
                    half_ln_vp,
                } = consts[k];
                // u = B - A (c + g omega), the planted B's deviation from its mean in this piece;
                // the posterior mean of x is omega + g u v / (v P), and (mean - omega) / v is
                // formed from u, never as a difference of two near-equal means (at v ~ 1e-10 that
                // left a relative noise of 3e-9 on iter_a, above the solver's tolerance)
                let u = (mean_b - a * (c + g * om)) + dev_b;
                let gain = 1.0 + a * g * g * v; // v P
                let mean = om + g * u * v / gain;
                let al = (r.lo - mean) * sp;
                let be = (r.hi - mean) * sp;
                let (dk, ld) = norm_interval(al, be);
                weights[k] = dk;
                let ra = ratio(al, ld);
                let rb = ratio(be, ld);
                let et = ra - rb;
                let et2 = 1.0 + xr(al, ra) - xr(be, rb);
                let mx = mean + et / sp;
                let vx = ((et2 - et * et) / p_prec).max(0.0);
                // l^2/(2P) - omega^2/(2v) - A c^2/2 + B c - B^2/(2A) (l = omega/v + g (B - A c)),
                // completed; at A = 0 (B = 0) the squares cancel exactly and nothing is shifted
                let ln_zk = if a > 0.0 {
                    -0.5 * u * u / (a * gain) - half_ln_vp + ld
                } else {
                    -half_ln_vp + ld
                };
                let d_omega = g * u / gain + et / (sp * v);
                (ln_zk, c + g * mx, g * g * vx, d_omega)
            };
            lmax = lmax.max(parts[k].0);
        }
        // log-sum-exp over regions: one exponential per region, one logarithm
        let (mut total, mut db, mut dom) = (0.0, 0.0, 0.0);
        let mut es = [0.0f64; 4];
        for (p, e_k) in parts.iter().zip(es.iter_mut()).take(self.regions.len()) {
            let d = p.0 - lmax;
            // exp(d) is exactly 0 below EXP_UNDERFLOW (and d = -inf for an empty region); the largest
            // part has exp(0) = 1 exactly: both skip a call (and libm's slow underflow path)
            // without changing a bit of the result
            if d < EXP_UNDERFLOW {
                continue;
            }
            let e = if d == 0.0 { 1.0 } else { d.exp() };
            *e_k = e;
            total += e;
            db += e * p.1;
            dom += e * p.3;
        }
        let (db, dom) = (db / total, dom / total);
        // the posterior variance as within-region variances plus squared deviations of the
        // region means: E h^2 - (E h)^2 would lose the digits of a variance ~1e-10 of an h ~ 1
        // (a nearly noiseless layer), a relative noise of 2e-7 that kept polishes from converging
        let mut var = 0.0;
        for (p, &e) in parts.iter().zip(&es).take(self.regions.len()) {
            if e > 0.0 {
                let dev = p.1 - db;
                var += e * (p.2 + dev * dev);
            }
        }
        Derivs {
            ln_z: lmax + total.ln(),
            d_bb: var / total,
            d_omega: dom,
            weights,
        }
    }
}

/// `Z_h` of a linear channel at precision `A`, in closed form: `iter_a = 1/(v + 1/A)`,
/// `iter_v = 1/(A + 1/v)`, `I_h = A (rho + sigma^2)/2 - ln(1 + A v)/2`.
fn linear_interface(a: f64, v: f64, rho: f64, noise_var: f64) -> InterfaceTerms {
    InterfaceTerms {
        iter_a: 1.0 / (v + 1.0 / a),
        iter_v: 1.0 / (a + 1.0 / v),
        i_h_centred: -0.5 * (a * v).ln_1p(),
        rho_h: rho + noise_var,
        a,
    }
}

/// What every outer node of one interface call shares: the precision `A`, the variance `v`, the
/// second moment `m` of `omega`, `sqrt(v)`, `sqrt(A)`, the rule size and the per-region constants.
struct InterfacePoint {
    a: f64,
    v: f64,
    m: f64,
    sv: f64,
    sa: f64,
    size: RuleSize,
    consts: Vec<RegionConsts>,
}

/// One outer node's sums over regions (see [`Channel::interface_node`]).
#[derive(Clone, Copy)]
struct NodeSums {
    /// `sum_k E [w_k (d_omega ln Z_h)^2]`.
    d_omega2: f64,
    /// `sum_k E [w_k d_B^2 ln Z_h]`.
    d_bb: f64,
    /// `sum_k E [w_k ln Z_h]`.
    ln_z: f64,
    evals: Evals,
}

/// The outer expectation over `omega`: `sum_i wt_i NodeSums_i`, added in node order (the terms
/// do not depend on how the nodes were scheduled); the nodes' evaluations are added to `evals`.
fn sum_outer(parts: &[NodeSums], weights: &[f64], evals: &mut Evals) -> InterfaceTerms {
    let (mut e_a, mut e_v, mut e_i) = (0.0, 0.0, 0.0);
    for (p, &wt) in parts.iter().zip(weights) {
        e_a += wt * p.d_omega2;
        e_v += wt * p.d_bb;
        e_i += wt * p.ln_z;
        *evals += p.evals;
    }
    InterfaceTerms {
        iter_a: e_a,
        iter_v: e_v,
        i_h_centred: e_i,
        rho_h: 0.0,
        a: 0.0,
    }
}

/// The planted law of `B` given `omega` within one region: `N(mean_b, sd_b^2)`; `linear` holds
/// `(g, P)` (slope and posterior precision `1/v + A g^2`) for a linear region, `None` for an atom.
#[derive(Clone, Copy)]
struct PlantedB {
    mean_b: f64,
    sd_b: f64,
    linear: Option<(f64, f64)>,
}

/// The planted law of `B` given `omega` in region `r`: an atom at `c` gives `B ~ N(A c, A)`, a
/// linear region gives `B ~ N(A (g omega + c), A + A^2 g^2 v)`. `None` for an atom of
/// probability 0 at this `omega` (it contributes nothing).
fn planted_b_law(at: &InterfacePoint, r: &Region, atom: AtomAt, om: f64) -> Option<PlantedB> {
    let a = at.a;
    if r.is_atom() {
        if atom.ln_p == f64::NEG_INFINITY {
            return None;
        }
        Some(PlantedB {
            mean_b: a * r.offset,
            sd_b: at.sa,
            linear: None,
        })
    } else {
        let g = r.slope;
        let p_prec = 1.0 / at.v + a * g * g;
        Some(PlantedB {
            mean_b: a * (g * om + r.offset),
            sd_b: (a + a * a * g * g * at.v).sqrt(),
            linear: Some((g, p_prec)),
        })
    }
}

/// Kinks of the `B` integrand of a linear region `r`: its posterior weight switches where
/// `(bound - omega) = g sd_b b / P` at each finite bound, over a scale `sqrt(P) / (g sd_b)`.
fn push_region_switch_kinks(
    r: &Region,
    om: f64,
    g: f64,
    p_prec: f64,
    sd_b: f64,
    kinks: &mut Vec<Kink>,
) {
    let gs = g * sd_b;
    if gs > 0.0 {
        for bound in [r.lo, r.hi] {
            if bound.is_finite() {
                kinks.push(Kink {
                    center: (bound - om) * p_prec / gs,
                    scale: p_prec.sqrt() / gs,
                });
            }
        }
    }
}

/// Per-region constants of one interface call: posterior precision `P = 1/v + A g^2`,
/// `sqrt(P)` and `ln(v P)/2`.
#[derive(Clone, Copy, Default)]
struct RegionConsts {
    p_prec: f64,
    sp: f64,
    half_ln_vp: f64,
}

struct Derivs {
    ln_z: f64,
    d_bb: f64,
    d_omega: f64,
    /// Per linear region, `Phi(beta) - Phi(alpha)`.
    weights: [f64; 4],
}

#[inline]
fn pdf_or_zero(x: f64) -> f64 {
    if x.is_finite() {
        norm_pdf(x)
    } else {
        0.0
    }
}

/// `x phi(x)`, zero at infinity.
#[inline]
fn xpdf(x: f64) -> f64 {
    if x.is_finite() {
        x * norm_pdf(x)
    } else {
        0.0
    }
}

/// `phi(x) / D` with `ln D` given, zero at infinity.
#[inline]
fn ratio(x: f64, ln_d: f64) -> f64 {
    if x.is_finite() {
        (-0.5 * x * x - LN_SQRT_2PI - ln_d).exp()
    } else {
        0.0
    }
}

/// `x * r` with `x r = 0` at infinity.
#[inline]
fn xr(x: f64, r: f64) -> f64 {
    if x.is_finite() {
        x * r
    } else {
        0.0
    }
}
