//! Special functions and quadrature rules for Gaussian expectations.
//!
//! Everything here works in `f64` and in the log domain where a quantity can underflow:
//! `ln erfc`, `erfcx`, `ln(Phi(b) - Phi(a))`. The quadrature rules integrate `E_{x~N(0,1)} f(x)`
//! either with Gauss-Hermite nodes (smooth integrands) or with a kink-graded composite rule:
//! the real line is cut at the points where the integrand changes on a small scale, and each
//! piece is mapped by `x = c +/- s (e^t - 1)` so that a Gauss-Legendre rule in `t` resolves the
//! scale `s` next to the kink `c` and the O(1) scale far from it.

use super::error::{Field, ReplicaError};
use std::f64::consts::{PI, SQRT_2};
use std::sync::OnceLock;

/// `ln(2 pi) / 2`.
pub const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// `1 / sqrt(pi)`.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
/// Half-width of the window on which Gaussian expectations are integrated (`P(|x| > 9) < 3e-19`).
pub const GAUSS_WINDOW: f64 = 9.0;

/// `exp(x)` is exactly 0 in `f64` for every `x` below this (the smallest subnormal is
/// `exp(-744.44)`, and `exp(x)` rounds to 0 below `-745.13`): terms of a sum of exponentials
/// under it can be skipped without changing the sum.
pub const EXP_UNDERFLOW: f64 = -745.2;

/// Complementary error function `erfc(x) = 2/sqrt(pi) int_x^inf e^{-t^2} dt`.
#[inline]
pub fn erfc(x: f64) -> f64 {
    unsafe { c_erfc(x) }
}
extern "C" {
    #[link_name = "erfc"]
    fn c_erfc(x: f64) -> f64;
    #[link_name = "erf"]
    fn c_erf(x: f64) -> f64;
}

/// Error function.
#[inline]
pub fn erf(x: f64) -> f64 {
    unsafe { c_erf(x) }
}

#[cfg(test)] // used by the unit tests only
/// Scaled complementary error function `erfcx(x) = exp(x^2) erfc(x)`, accurate for all `x`
/// (overflows to `+inf` only for `x < -26.6`, where the true value exceeds `f64::MAX`).
pub fn erfcx(x: f64) -> f64 {
    if x < 0.0 {
        // erfc(-y) = 2 - erfc(y)  =>  erfcx(-y) = 2 e^{y^2} - erfcx(y)
        let y = -x;
        return 2.0 * (y * y).exp() - erfcx(y);
    }
    if x < ERFC_DIRECT_MAX {
        // relative error <= x^2 eps (rounding of x^2 inside exp): below 8e-14 here
        return (x * x).exp() * erfc(x);
    }
    erfcx_cf(x)
}

/// Below this, `erfc` is computed directly (it underflows near 26.5).
const ERFC_DIRECT_MAX: f64 = 26.0;

/// Laplace continued fraction `erfcx(x) = (1/sqrt(pi)) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))`,
/// evaluated bottom-up; for `x >= 26` twelve levels reach full double precision (the k-th level
/// changes the value by about `(2k-1)!! / (2 x^2)^k`).
fn erfcx_cf(x: f64) -> f64 {
    let mut f = x;
    for k in (1..=ERFCX_CF_LEVELS).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    FRAC_1_SQRT_PI / f
}

/// Levels of the continued fraction of [`erfcx_cf`]: enough for full double precision at
/// `x >= ERFC_DIRECT_MAX`.
const ERFCX_CF_LEVELS: u32 = 12;

/// Most Newton steps per node of [`gauss_legendre`] and [`gauss_hermite`] (each converges in a
/// handful from its initial guess; the cap only bounds a pathological loop).
const NODE_NEWTON_STEPS: usize = 100;
/// Newton on a Legendre node stops at a step below this: `z` in `[-1, 1]`, so this is round-off.
const LEGENDRE_NODE_STEP: f64 = 1e-16;
/// Newton on a Hermite node stops at a step below this, relative to `max(|z|, 1)` (round-off).
const HERMITE_NODE_STEP: f64 = 1e-15;

/// `ln erfc(x)`, finite for every finite `x`.
pub fn ln_erfc(x: f64) -> f64 {
    if x < ERFC_DIRECT_MAX {
        erfc(x).ln()
    } else {
        erfcx_cf(x).ln() - x * x
    }
}

/// Standard normal density `phi(x)`.
#[inline]
pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x - LN_SQRT_2PI).exp()
}

/// Standard normal distribution function `Phi(x)`.
#[inline]
#[cfg(test)] // used by the unit tests only
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// `ln Phi(x)`, accurate in both tails.
#[inline]
pub fn ln_norm_cdf(x: f64) -> f64 {
    ln_erfc(-x / SQRT_2) - std::f64::consts::LN_2
}

/// `ln(Phi(b) - Phi(a))` for `a < b` (either may be infinite), computed without cancellation:
/// same-sign intervals use tail ratios, intervals containing 0 use `erf(b) + erf(-a)`.
pub fn ln_norm_interval(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    debug_assert!(a <= b, "ln_norm_interval: a = {a} > b = {b}");
    // one-sided intervals are a single tail, whatever the sign of the finite end
    if b == f64::INFINITY {
        return ln_norm_cdf(-a);
    }
    if a == f64::NEG_INFINITY {
        return ln_norm_cdf(b);
    }
    if a >= 0.0 {
        // Q(a) - Q(b), Q = upper tail
        let la = ln_norm_cdf(-a);
        if b == f64::INFINITY {
            return la;
        }
        let lb = ln_norm_cdf(-b);
        la + ln_one_minus_exp(lb - la)
    } else if b <= 0.0 {
        let lb = ln_norm_cdf(b);
        if a == f64::NEG_INFINITY {
            return lb;
        }
        let la = ln_norm_cdf(a);
        lb + ln_one_minus_exp(la - lb)
    } else {
        let s = erf(b / SQRT_2) + erf(-a / SQRT_2);
        (0.5 * s).ln()
    }
}

/// `(P, ln P)` with `P = Phi(b) - Phi(a)`, `a <= b`. A one-sided interval is one `erfc`, used
/// directly while it is a normal number (`ln P` then costs one logarithm and `P` nothing more);
/// otherwise `P = exp(ln P)` from [`ln_norm_interval`].
#[inline]
pub fn norm_interval(a: f64, b: f64) -> (f64, f64) {
    let tail = if b == f64::INFINITY {
        Some(a / SQRT_2)
    } else if a == f64::NEG_INFINITY {
        Some(-b / SQRT_2)
    } else {
        None
    };
    if let Some(x) = tail {
        // P = erfc(x) / 2; erfc(26) ~ 6e-296 is still a normal number
        if x < ERFC_DIRECT_MAX {
            let p = 0.5 * erfc(x);
            return (p, p.ln());
        }
    }
    let lp = ln_norm_interval(a, b);
    (lp.exp(), lp)
}

/// `ln(1 - e^d)` for `d <= 0`.
#[inline]
pub fn ln_one_minus_exp(d: f64) -> f64 {
    if d > -std::f64::consts::LN_2 {
        (-d.exp_m1()).ln()
    } else {
        (-d.exp()).ln_1p()
    }
}

/// `ln(e^a + e^b)`.
#[inline]
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// A quadrature rule for `E_{x ~ N(0,1)} f(x) ~ sum_i w_i f(x_i)` (the weights include the density).
#[derive(Clone, Debug, Default)]
pub struct GaussRule {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl GaussRule {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    #[cfg(test)] // used by the unit tests only
    /// `sum_i w_i f(x_i)`.
    pub fn expect(&self, mut f: impl FnMut(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&x, &w)| w * f(x))
            .sum()
    }
}

/// Gauss-Legendre nodes and weights on [-1, 1] (Newton on the Legendre recurrence).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let m = n.div_ceil(2);
    for i in 0..m {
        let mut z = (PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        for _ in 0..NODE_NEWTON_STEPS {
            let (mut p1, mut p2) = (1.0, 0.0);
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                p1 = ((2 * j + 1) as f64 * z * p2 - j as f64 * p3) / (j + 1) as f64;
            }
            let dp = n as f64 * (z * p1 - p2) / (z * z - 1.0);
            let dz = p1 / dp;
            z -= dz;
            if dz.abs() < LEGENDRE_NODE_STEP {
                break;
            }
        }
        // recompute the derivative at the converged node
        let (mut p1, mut p2) = (1.0, 0.0);
        for j in 0..n {
            let p3 = p2;
            p2 = p1;
            p1 = ((2 * j + 1) as f64 * z * p2 - j as f64 * p3) / (j + 1) as f64;
        }
        let dp = n as f64 * (z * p1 - p2) / (z * z - 1.0);
        x[i] = -z;
        x[n - 1 - i] = z;
        let wi = 2.0 / ((1.0 - z * z) * dp * dp);
        w[i] = wi;
        w[n - 1 - i] = wi;
    }
    (x, w)
}

/// Gauss-Hermite rule for the standard normal weight: nodes of the physicists' Hermite
/// polynomial `H_n` by Newton's method on the normalised three-term recurrence (asymptotic initial
/// guesses, each node refined from the previous ones), then `x -> sqrt(2) x`, `w -> w / sqrt(pi)`.
pub fn gauss_hermite(n: usize) -> GaussRule {
    const PI_M4: f64 = 0.751_125_544_464_942_5; // pi^(-1/4)
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let nf = n as f64;
    let mut z = 0.0f64;
    for i in 0..n.div_ceil(2) {
        z = match i {
            0 => (2.0 * nf + 1.0).sqrt() - 1.85575 * (2.0 * nf + 1.0).powf(-0.16667),
            1 => z - 1.14 * nf.powf(0.426) / z,
            2 => 1.86 * z - 0.86 * x[0],
            3 => 1.91 * z - 0.91 * x[1],
            _ => 2.0 * z - x[i - 2],
        };
        let mut pp = 0.0;
        for _ in 0..NODE_NEWTON_STEPS {
            // orthonormal Hermite functions: p_{j+1} = z sqrt(2/(j+1)) p_j - sqrt(j/(j+1)) p_{j-1}
            let (mut p1, mut p2) = (PI_M4, 0.0);
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                let jf = j as f64;
                p1 = z * (2.0 / (jf + 1.0)).sqrt() * p2 - (jf / (jf + 1.0)).sqrt() * p3;
            }
            pp = (2.0 * nf).sqrt() * p2;
            let dz = p1 / pp;
            z -= dz;
            if dz.abs() <= HERMITE_NODE_STEP * z.abs().max(1.0) {
                break;
            }
        }
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = 2.0 / (pp * pp);
        w[n - 1 - i] = w[i];
    }
    if n % 2 == 1 {
        x[n / 2] = 0.0;
    }
    let scale = std::f64::consts::PI.sqrt();
    GaussRule {
        nodes: x.iter().rev().map(|v| v * SQRT_2).collect(),
        weights: w.iter().rev().map(|v| v / scale).collect(),
    }
}

/// Cached Gauss-Legendre rules used by the graded rule.
fn gl_cached(n: usize) -> &'static (Vec<f64>, Vec<f64>) {
    static CACHE: OnceLock<Vec<(Vec<f64>, Vec<f64>)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| (0..=MAX_PIECE_NODES).map(gauss_legendre).collect());
    &all[n.min(MAX_PIECE_NODES)]
}

/// Cached Gauss-Hermite rule with `n <= 128` nodes.
pub fn gh_cached(n: usize) -> &'static GaussRule {
    static CACHE: OnceLock<Vec<OnceLock<GaussRule>>> = OnceLock::new();
    let all = CACHE.get_or_init(|| (0..=MAX_HERMITE_NODES).map(|_| OnceLock::new()).collect());
    let n = n.clamp(1, MAX_HERMITE_NODES);
    all[n].get_or_init(|| gauss_hermite(n))
}

/// A place where an integrand changes on a small scale: `center` (in the standard-normal
/// variable) and the length `scale` over which it changes.
#[derive(Clone, Copy, Debug)]
pub struct Kink {
    pub center: f64,
    pub scale: f64,
}

/// Settings of the kink-graded rule. A graded piece `t in [0, T]` gets
/// `clamp(ceil(per_unit * T), min_piece, 64)` Gauss-Legendre nodes (one unit of `t` is a factor `e`
/// in distance from the kink); `hermite` is the Gauss-Hermite size used when no kink is inside
/// the window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleSize {
    pub per_unit: f64,
    pub min_piece: usize,
    pub far_nodes: usize,
    pub far_panel: f64,
    pub hermite: usize,
}

impl Default for RuleSize {
    fn default() -> Self {
        RuleSize {
            per_unit: 4.0,
            min_piece: 20,
            far_nodes: 10,
            far_panel: 2.5,
            hermite: 40,
        }
    }
}

/// Largest Gauss-Legendre size of one graded piece or far panel (the cached rules stop there).
pub const MAX_PIECE_NODES: usize = 64;
/// Largest Gauss-Hermite size (the cached rules stop there).
pub const MAX_HERMITE_NODES: usize = 128;
/// Smallest far-panel width: bounds the panels per side of a kink by `2 * GAUSS_WINDOW / 0.01`.
pub const MIN_FAR_PANEL: f64 = 0.01;

impl RuleSize {
    /// Check the sizes (the linfa-style `check` of these parameters): `per_unit` finite and `> 0`,
    /// `2 <= min_piece <= 64`, `1 <= far_nodes <= 64`, `far_panel` finite and in
    /// `[0.01, 2 * GAUSS_WINDOW]`, `2 <= hermite <= 128`. The error names the field and its rule.
    /// The quadrature builder itself saturates out-of-range sizes instead of panicking, but only a checked
    /// rule means what it says.
    pub fn check(&self) -> Result<Self, ReplicaError> {
        let bad = |field: &str, value: String, rule: &'static str| {
            Err(ReplicaError::invalid(
                Field::Setting(format!("rule.{field}")),
                value,
                rule,
            ))
        };
        replica_params::positive(Field::Setting("rule.per_unit".into()), self.per_unit)?;
        if !(2..=MAX_PIECE_NODES).contains(&self.min_piece) {
            return bad(
                "min_piece",
                self.min_piece.to_string(),
                "must lie in [2, 64] (nodes per graded piece)",
            );
        }
        if !(1..=MAX_PIECE_NODES).contains(&self.far_nodes) {
            return bad(
                "far_nodes",
                self.far_nodes.to_string(),
                "must lie in [1, 64] (nodes per far panel)",
            );
        }
        if !(self.far_panel.is_finite()
            && (MIN_FAR_PANEL..=2.0 * GAUSS_WINDOW).contains(&self.far_panel))
        {
            return bad(
                "far_panel",
                self.far_panel.to_string(),
                "must be finite and lie in [0.01, 18] (panel width in standard deviations)",
            );
        }
        if !(2..=MAX_HERMITE_NODES).contains(&self.hermite) {
            return bad(
                "hermite",
                self.hermite.to_string(),
                "must lie in [2, 128] (Gauss-Hermite nodes)",
            );
        }
        Ok(*self)
    }

    /// A rule about half as fine in each dimension, for the first stage of a solve (the fixed
    /// point is then polished with the full rule).
    pub fn coarse() -> Self {
        RuleSize {
            per_unit: 2.0,
            min_piece: 10,
            far_nodes: 6,
            far_panel: 2.5,
            hermite: 20,
        }
    }

    /// The same rule with every node count multiplied by `k` (used to check quadrature error).
    pub fn refined(self, k: f64) -> Self {
        RuleSize {
            per_unit: self.per_unit * k,
            min_piece: ((self.min_piece as f64) * k)
                .ceil()
                .min(MAX_PIECE_NODES as f64) as usize,
            far_nodes: ((self.far_nodes as f64) * k)
                .ceil()
                .min(MAX_PIECE_NODES as f64) as usize,
            far_panel: self.far_panel,
            hermite: ((self.hermite as f64) * k)
                .ceil()
                .min(MAX_HERMITE_NODES as f64) as usize,
        }
    }
}

/// Build a rule for `E_{x~N(0,1)} f(x)` where `f` changes quickly near each kink.
///
/// Kinks outside the window `[-9, 9]` (more than a few scales out) are dropped; if none is left,
/// the Gauss-Hermite rule is returned. Otherwise the window is cut at the kinks (and midway between
/// neighbouring kinks); each piece `[c, c + D]` is mapped by `x = c + s (e^t - 1)`,
/// `t in [0, ln(1 + D/s)]`, with `per_piece` Gauss-Legendre nodes in `t`.
pub fn kink_rule(kinks: &[Kink], size: RuleSize, out: &mut GaussRule) {
    out.nodes.clear();
    out.weights.clear();
    let mut ks: Vec<Kink> = kinks
        .iter()
        .filter(|k| k.center.is_finite() && k.scale.is_finite() && k.scale > 0.0)
        .filter(|k| k.center.abs() < GAUSS_WINDOW + 2.0 * k.scale && k.scale < 2.0)
        .map(|k| Kink {
            center: k.center.clamp(-GAUSS_WINDOW, GAUSS_WINDOW),
            scale: k.scale.min(1.0),
        })
        .collect();
    if ks.is_empty() {
        let gh = gh_cached(size.hermite);
        out.nodes.extend_from_slice(&gh.nodes);
        out.weights.extend_from_slice(&gh.weights);
        return;
    }
    ks.sort_by(|a, b| a.center.total_cmp(&b.center));
    // merge kinks closer than their scales
    let mut merged: Vec<Kink> = Vec::with_capacity(ks.len());
    for k in ks {
        if let Some(last) = merged.last_mut() {
            if k.center - last.center < last.scale.min(k.scale) {
                last.scale = last.scale.min(k.scale);
                continue;
            }
        }
        merged.push(k);
    }
    // Each side of a kink: a graded part of length <= GRADED_SPAN mapped by x = c +/- s (e^t - 1),
    // then plain Gauss-Legendre panels of width <= FAR_PANEL out to the window's edge.
    const GRADED_SPAN: f64 = 1.0;
    let mut piece = |c: f64, s: f64, d: f64, dir: f64| {
        if d <= 0.0 {
            return;
        }
        let dg = d.min(GRADED_SPAN);
        let t_max = (dg / s).ln_1p();
        // saturating (an unchecked rule must not panic here): see `RuleSize::check`
        let n = ((size.per_unit * t_max).ceil() as usize)
            .clamp(size.min_piece.clamp(1, MAX_PIECE_NODES), MAX_PIECE_NODES);
        let (glx, glw) = gl_cached(n);
        let half = 0.5 * t_max;
        for (&u, &wu) in glx.iter().zip(glw.iter()) {
            let t = half * (u + 1.0);
            let e = t.exp();
            let x = c + dir * s * (e - 1.0);
            let jac = s * e * half;
            out.nodes.push(x);
            out.weights.push(wu * jac * norm_pdf(x));
        }
        let rest = d - dg;
        if rest > 0.0 {
            let panels = (rest / size.far_panel.max(MIN_FAR_PANEL)).ceil() as usize;
            let h = rest / panels as f64;
            let (fx, fw) = gl_cached(size.far_nodes);
            for p in 0..panels {
                let a = dg + p as f64 * h;
                for (&u, &wu) in fx.iter().zip(fw.iter()) {
                    let x = c + dir * (a + 0.5 * h * (u + 1.0));
                    out.nodes.push(x);
                    out.weights.push(wu * 0.5 * h * norm_pdf(x));
                }
            }
        }
    };
    let n = merged.len();
    for i in 0..n {
        let k = merged[i];
        let left_end = if i == 0 {
            -GAUSS_WINDOW
        } else {
            0.5 * (merged[i - 1].center + k.center)
        };
        let right_end = if i + 1 == n {
            GAUSS_WINDOW
        } else {
            0.5 * (k.center + merged[i + 1].center)
        };
        piece(k.center, k.scale, k.center - left_end, -1.0);
        piece(k.center, k.scale, right_end - k.center, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn erfcx_matches_definition_where_that_is_accurate() {
        // exp(x^2) erfc(x) is accurate to a few 1e-15 relative for |x| < 5 (x^2 < 25).
        for i in -40..=50 {
            let x = i as f64 * 0.1;
            let direct = (x * x).exp() * erfc(x);
            assert!(
                close(erfcx(x), direct, 1e-13),
                "x={x}: {} vs {direct}",
                erfcx(x)
            );
        }
        // the continued fraction (used from x = 26) against the direct product where both are
        // accurate (erfc has not yet underflowed): two independent evaluations
        for x in [26.0f64, 26.2, 26.4] {
            let direct = (x * x).exp() * erfc(x);
            assert!(close(erfcx_cf(x), direct, 1e-12), "x={x}");
            assert!((ln_erfc(x) - direct.ln() + x * x).abs() < 1e-12, "x={x}");
        }
        // asymptotics: erfcx(x) ~ 1/(x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4))
        let x = 1e4;
        let asym = FRAC_1_SQRT_PI / x * (1.0 - 0.5 / (x * x));
        assert!(close(erfcx(x), asym, 1e-15));
    }

    #[test]
    fn ln_norm_interval_tails_and_middle() {
        // far tail: ln Q(40) ~ -800.9...; compare with ln erfc via erfcx
        let a = 40.0;
        let expect = ln_erfc(a / SQRT_2) - std::f64::consts::LN_2;
        assert!(close(ln_norm_interval(a, f64::INFINITY), expect, 1e-14));
        // symmetric interval around 0 and its complement
        let l = ln_norm_interval(-1.0, 1.0).exp();
        assert!(close(l, erf(1.0 / SQRT_2), 1e-15));
        // narrow interval far in the tail: Phi(-30) - Phi(-30.001) ~ phi(30) * 0.001 * ...
        let v = ln_norm_interval(-30.001, -30.0);
        // Simpson's rule on phi over [30, 30.001] (phi changes by 3% there: error ~1e-14 relative)
        let n = 200;
        let h = 0.001 / n as f64;
        let simpson: f64 = (0..=n)
            .map(|i| {
                let w = if i == 0 || i == n {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * (-0.5 * (30.0 + i as f64 * h).powi(2) - LN_SQRT_2PI + 400.0).exp()
            })
            .sum::<f64>()
            * h
            / 3.0;
        let approx = simpson.ln() - 400.0;
        assert!((v - approx).abs() < 1e-10, "{v} vs {approx}");
    }

    #[test]
    fn hermite_and_kink_rules_integrate_moments() {
        for n in [1usize, 2, 3, 7, 20, 64, 128] {
            let gh = gauss_hermite(n);
            assert!(close(gh.expect(|_| 1.0), 1.0, 1e-13), "n={n}");
            assert!(gh.expect(|x| x).abs() < 1e-13, "n={n}");
            if n >= 4 {
                // exact for polynomials of degree <= 2n - 1: E x^6 = 15
                assert!(close(gh.expect(|x| x.powi(6)), 15.0, 1e-12), "n={n}");
            }
        }
        let gh = gauss_hermite(40);
        assert!(close(gh.expect(|_| 1.0), 1.0, 1e-14));
        assert!(close(gh.expect(|x| x * x), 1.0, 1e-13));
        assert!(close(gh.expect(|x| x.powi(4)), 3.0, 1e-12));
        let mut r = GaussRule::default();
        kink_rule(
            &[Kink {
                center: 0.3,
                scale: 1e-4,
            }],
            RuleSize::default(),
            &mut r,
        );
        // E 1{x > 0.3} = Q(0.3), and E |x - 0.3|
        let q = r.expect(|x| if x > 0.3 { 1.0 } else { 0.0 });
        assert!(close(q, norm_cdf(-0.3), 1e-13), "{q}");
        let m = r.expect(|x| (x - 0.3).abs());
        let exact = 2.0 * norm_pdf(0.3) + 0.3 * (2.0 * norm_cdf(0.3) - 1.0);
        assert!(close(m, exact, 1e-12), "{m} vs {exact}");
        // a sigmoid of width 1e-4: E Phi((x - 0.3)/1e-4) = Phi(-0.3 / sqrt(1 + 1e-8))
        let s = r.expect(|x| norm_cdf((x - 0.3) / 1e-4));
        assert!(
            close(s, norm_cdf(-0.3 / (1.0f64 + 1e-8).sqrt()), 1e-12),
            "{s}"
        );
    }

    #[test]
    fn rule_sizes_are_checked() {
        assert!(RuleSize::default().check().is_ok());
        assert!(RuleSize::coarse().check().is_ok());
        assert!(RuleSize::default().refined(4.0).check().is_ok());
        let d = RuleSize::default();
        let cases = [
            ("per_unit", RuleSize { per_unit: 0.0, ..d }),
            (
                "per_unit",
                RuleSize {
                    per_unit: f64::NAN,
                    ..d
                },
            ),
            ("min_piece", RuleSize { min_piece: 1, ..d }),
            ("min_piece", RuleSize { min_piece: 65, ..d }),
            ("far_nodes", RuleSize { far_nodes: 0, ..d }),
            ("far_nodes", RuleSize { far_nodes: 65, ..d }),
            (
                "far_panel",
                RuleSize {
                    far_panel: 0.0,
                    ..d
                },
            ),
            (
                "far_panel",
                RuleSize {
                    far_panel: f64::INFINITY,
                    ..d
                },
            ),
            (
                "far_panel",
                RuleSize {
                    far_panel: 1e-9,
                    ..d
                },
            ),
            ("hermite", RuleSize { hermite: 1, ..d }),
            ("hermite", RuleSize { hermite: 129, ..d }),
        ];
        for (field, rule) in cases {
            let e = rule.check().expect_err(&format!("{rule:?}"));
            assert!(
                e.to_string().contains(&format!("rule.{field}")),
                "{rule:?}: {e}"
            );
            // and the rule builder saturates instead of panicking (min_piece > 64 used to panic
            // in a clamp, far_panel = 0 to loop over usize::MAX panels)
            let mut r = GaussRule::default();
            kink_rule(
                &[Kink {
                    center: 0.3,
                    scale: 1e-3,
                }],
                rule,
                &mut r,
            );
            assert!(r.nodes.len() < 100_000, "{rule:?}: {} nodes", r.nodes.len());
        }
    }
}
