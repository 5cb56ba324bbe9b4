//! Solving the replica equations: two schemes that each define one step, one loop that owns
//! iteration (adaptive damping, convergence on every order parameter, work counters), multi-start
//! with selection of the converged stationary point of smallest potential, automatic fallback from
//! the fixed-point scheme to ML-VAMP state evolution, and warm starts.

use super::chain::Chain;
use super::channel::Evals;
use super::error::ReplicaError;
use super::gauss::RuleSize;
use super::potential;

/// Which iteration produced (or should produce) a fixed point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// The fixed-point iteration of the replica potential (theta-equation per layer).
    FixedPoint,
    /// ML-VAMP state evolution (variances only, no theta root).
    Vamp,
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scheme::FixedPoint => "fixed-point",
            Scheme::Vamp => "ml-vamp",
        })
    }
}

/// Which schemes the solver may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeChoice {
    /// Fixed-point first; ML-VAMP when no fixed-point start converges.
    Auto,
    Only(Scheme),
}

/// Validated solver settings.
#[derive(Clone, Copy, Debug)]
pub struct SolverOptions {
    tol: f64,
    max_iter: usize,
    min_damping: f64,
    choice: SchemeChoice,
    rule: RuleSize,
    multistart: bool,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            tol: 1e-9,
            max_iter: 3000,
            min_damping: 0.05,
            choice: SchemeChoice::Auto,
            rule: RuleSize::default(),
            multistart: true,
        }
    }
}

impl SolverOptions {
    /// Convergence threshold on the largest relative change of any order parameter in one sweep.
    pub fn with_tol(mut self, tol: f64) -> Result<Self, ReplicaError> {
        if !(tol.is_finite() && tol > 0.0 && tol < 1.0) {
            return Err(ReplicaError::invalid("tol", tol, "must lie in (0, 1)"));
        }
        self.tol = tol;
        Ok(self)
    }
    /// Largest number of sweeps per start.
    pub fn with_max_iter(mut self, n: usize) -> Result<Self, ReplicaError> {
        if n == 0 {
            return Err(ReplicaError::invalid("max_iter", n, "must be >= 1"));
        }
        self.max_iter = n;
        Ok(self)
    }
    /// Smallest damping factor the adaptive damping may reach.
    pub fn with_min_damping(mut self, d: f64) -> Result<Self, ReplicaError> {
        if !(d.is_finite() && d > 0.0 && d <= 1.0) {
            return Err(ReplicaError::invalid(
                "min_damping",
                d,
                "must lie in (0, 1]",
            ));
        }
        self.min_damping = d;
        Ok(self)
    }
    pub fn with_scheme(mut self, choice: SchemeChoice) -> Self {
        self.choice = choice;
        self
    }
    /// Quadrature sizes for the channel integrals.
    pub fn with_rule(mut self, rule: RuleSize) -> Result<Self, ReplicaError> {
        if !(rule.per_unit.is_finite()
            && rule.per_unit > 0.0
            && rule.min_piece >= 2
            && rule.hermite >= 2)
        {
            return Err(ReplicaError::invalid(
                "rule",
                format!("{rule:?}"),
                "needs per_unit > 0, min_piece >= 2, hermite >= 2",
            ));
        }
        self.rule = rule;
        Ok(self)
    }
    /// Whether to try every start (default) or only the first.
    pub fn with_multistart(mut self, yes: bool) -> Self {
        self.multistart = yes;
        self
    }
    pub fn rule(&self) -> RuleSize {
        self.rule
    }
    pub fn tol(&self) -> f64 {
        self.tol
    }
}

/// The order parameters of the potential, per layer `l` (0-based): `v` = V (variance on T_{l-1}),
/// `a_t` = A~ (precision on T_{l-1}), `v_t` = V~ (variance on z_l), `a` = A (precision on z_l),
/// `theta`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrderParams {
    pub v: Vec<f64>,
    pub a: Vec<f64>,
    pub a_t: Vec<f64>,
    pub v_t: Vec<f64>,
    pub theta: Vec<f64>,
}

impl OrderParams {
    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.v
            .iter()
            .chain(&self.a)
            .chain(&self.a_t)
            .chain(&self.v_t)
            .copied()
    }
}

/// Deterministic work counters (for regression budgets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub sweeps_fixed_point: u64,
    pub sweeps_vamp: u64,
    pub starts_tried: u64,
    pub starts_converged: u64,
    /// Starts whose coarse fixed point coincided with an earlier start's (not polished again).
    pub starts_duplicate: u64,
    /// Channel integrand evaluations (quadrature nodes visited).
    pub evals: u64,
}

/// The estimate for one chain, with diagnostics.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Estimate {
    /// `H(T_L) / n_0` in nats.
    pub entropy: f64,
    /// `I(X; T_L) / n_0`, defined when every inner layer is noiseless; `None` otherwise.
    pub mutual_information: Option<f64>,
    /// `(H(T_L) - H(T_L | T_{L-1})) / n_0 = I(T_{L-1}; T_L) / n_0`.
    pub mi_last_layer: f64,
    /// MMSE of `X` given `T_L` (per entry).
    pub mmse: f64,
    pub converged: bool,
    pub scheme: Scheme,
    pub iterations: u64,
    pub residual: f64,
    pub counters: Counters,
    /// The selected stationary point (for warm starts).
    pub order_params: OrderParams,
    /// The Anderson secants of the final iteration (see [`Secants`]) of a fixed-point solve; empty
    /// after ML-VAMP, whose secants are of another map.
    #[serde(skip)]
    pub secants: Secants,
}

impl Estimate {
    /// The stationary point and secants, to warm-start the solve of a nearby chain.
    pub fn warm_start(&self) -> WarmStart {
        WarmStart {
            params: self.order_params.clone(),
            secants: self.secants.clone(),
        }
    }
}

/// Outcome of the loop on one start.
struct Run {
    params: OrderParams,
    converged: bool,
    /// Stopped because the iterate entered the neighbourhood of a known stationary point.
    duplicate: bool,
    iterations: u64,
    residual: f64,
    /// The Anderson history at the end (the newest last).
    secants: Secants,
}

/// Secant pairs of a fixed-point map `x -> g(x)` in the mixed vector space of a scheme: column
/// `j` holds `Delta f_j = f_{j+1} - f_j` and `Delta g_j = g_{j+1} - g_j` between consecutive
/// sweeps, with residuals `f = g - x`. They are what Anderson mixing knows of the map's Jacobian.
/// A converged solve returns its last ones ([`Estimate::warm_start`]) so that the next solve of
/// a slightly changed chain (the next training epoch) can take a quasi-Newton step at its first
/// sweep instead of rebuilding that knowledge sweep by sweep.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Secants {
    df: Vec<Vec<f64>>,
    dg: Vec<Vec<f64>>,
}

impl Secants {
    /// Number of secant pairs.
    pub fn len(&self) -> usize {
        self.df.len()
    }
    pub fn is_empty(&self) -> bool {
        self.df.is_empty()
    }
    fn push(&mut self, df: Vec<f64>, dg: Vec<f64>) {
        self.df.push(df);
        self.dg.push(dg);
    }
    fn clear(&mut self) {
        self.df.clear();
        self.dg.clear();
    }
    /// Keep the newest `n`.
    fn keep_last(&mut self, n: usize) {
        let drop = self.df.len().saturating_sub(n);
        self.df.drain(..drop);
        self.dg.drain(..drop);
    }
}

/// A start for [`solve_warm`]: a previous stationary point, and optionally the secants of the
/// solve that found it (same chain shape; they only steer the iteration, never the fixed point it
/// converges to).
#[derive(Clone, Debug)]
pub struct WarmStart {
    pub params: OrderParams,
    pub secants: Secants,
}

impl From<OrderParams> for WarmStart {
    fn from(params: OrderParams) -> Self {
        WarmStart {
            params,
            secants: Secants::default(),
        }
    }
}

/// One sweep of a scheme: `state -> state`.
trait Step {
    type State: Clone;
    fn step(&mut self, s: &Self::State, evals: &mut Evals) -> Result<Self::State, ReplicaError>;
    /// Damped combination `(1 - d) old + d new`.
    fn mix(old: &Self::State, new: &Self::State, d: f64) -> Self::State;
    fn to_params(&self, s: &Self::State) -> OrderParams;
    /// The state as a vector for Anderson mixing (`None`: no acceleration).
    fn to_vec(_s: &Self::State) -> Option<Vec<f64>> {
        None
    }
    /// Rebuild a state from a mixed vector, other fields taken from `template`.
    fn from_vec(template: &Self::State, _x: &[f64]) -> Self::State {
        template.clone()
    }
}

/// The one iteration loop shared by both schemes. Convergence: the largest relative change of any
/// order parameter in one undamped sweep falls below `tol`. Schemes that expose a vector form are
/// accelerated by Anderson mixing over at most `depth` secant pairs: the newest ones of this
/// iteration, topped up with the newest of `prior` (secants inherited from an earlier solve of a
/// nearby chain) while this iteration has fewer than `depth`. All of them are dropped when the
/// residual jumps. Without a vector form, and whenever an accelerated proposal fails, the plain
/// sweep is used with adaptive damping (halved when the residual grows, relaxed back towards 1
/// when it shrinks).
fn iterate<S: Step>(
    scheme: &mut S,
    init: S::State,
    opts: &SolverOptions,
    counters: (&mut Evals, &mut u64),
    known: &[OrderParams],
    depth: usize,
    prior: &Secants,
) -> Result<(Run, S::State), ReplicaError> {
    let (evals, sweeps) = counters;
    let mut state = init;
    let mut prev = scheme.to_params(&state);
    let mut damping = 1.0f64;
    let mut last_res = f64::INFINITY;
    let mut best_res = f64::INFINITY;
    let mut res = f64::INFINITY;
    let mut inherited = prior.clone();
    inherited.keep_last(depth);
    let mut fresh = Secants::default();
    // (f, g) of the previous sweep
    let mut last_fg: Option<(Vec<f64>, Vec<f64>)> = None;
    let history = |inherited: &Secants, fresh: &Secants| -> Secants {
        let mut all = inherited.clone();
        all.keep_last(depth.saturating_sub(fresh.len()));
        all.df.extend(fresh.df.iter().cloned());
        all.dg.extend(fresh.dg.iter().cloned());
        all
    };
    for it in 1..=opts.max_iter {
        *sweeps += 1;
        let proposal = scheme.step(&state, evals)?;
        let p = scheme.to_params(&proposal);
        if p.values().any(|x| !x.is_finite()) {
            return Err(ReplicaError::NonFinite(format!(
                "order parameters {p:?} at sweep {it}"
            )));
        }
        res = prev
            .values()
            .zip(p.values())
            .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()).max(1e-12))
            .fold(0.0, f64::max);
        // Entering the neighbourhood of a stationary point already found (every order parameter
        // within 1e-2 relative, and changing by less than 1e-2 per sweep): the same basin
        // (distinct stationary points differ at O(1)).
        if res < 1e-2 && known.iter().any(|k| close_points(k, &p, 1e-2)) {
            return Ok((
                Run {
                    params: p,
                    converged: false,
                    duplicate: true,
                    iterations: it as u64,
                    residual: res,
                    secants: Secants::default(),
                },
                proposal,
            ));
        }
        if res < opts.tol {
            return Ok((
                Run {
                    params: p,
                    converged: true,
                    duplicate: false,
                    iterations: it as u64,
                    residual: res,
                    secants: history(&inherited, &fresh),
                },
                proposal,
            ));
        }
        let mut next: Option<S::State> = None;
        if let (Some(x), Some(g)) = (S::to_vec(&state), S::to_vec(&proposal)) {
            if res > 10.0 * best_res {
                inherited.clear();
                fresh.clear();
                last_fg = None;
            }
            best_res = best_res.min(res);
            let f: Vec<f64> = g.iter().zip(&x).map(|(a, b)| a - b).collect();
            if let Some((lf, lg)) = &last_fg {
                fresh.push(
                    f.iter().zip(lf).map(|(a, b)| a - b).collect(),
                    g.iter().zip(lg).map(|(a, b)| a - b).collect(),
                );
                fresh.keep_last(depth);
            }
            let hist = history(&inherited, &fresh);
            if !hist.is_empty() {
                if let Some(xa) = anderson(&hist, &f, &g) {
                    let cand = S::from_vec(&proposal, &xa);
                    if scheme.to_params(&cand).values().all(f64::is_finite) {
                        next = Some(cand);
                    }
                }
            }
            last_fg = Some((f, g));
        }
        let next = match next {
            Some(n) => n,
            None => {
                if res > last_res {
                    damping = (damping * 0.5).max(opts.min_damping);
                } else {
                    damping = (damping * 1.25).min(1.0);
                }
                if damping < 1.0 {
                    S::mix(&state, &proposal, damping)
                } else {
                    proposal
                }
            }
        };
        last_res = res;
        prev = scheme.to_params(&next);
        state = next;
    }
    Ok((
        Run {
            params: prev,
            converged: false,
            duplicate: false,
            iterations: opts.max_iter as u64,
            residual: res,
            secants: Secants::default(),
        },
        state,
    ))
}

/// Tolerance of the coarse first stage of a fixed-point solve.
const COARSE_TOL: f64 = 1e-6;

/// History length of the Anderson mixing.
const ANDERSON_DEPTH: usize = 3;

/// History length of the Anderson mixing when polishing (from a coarse fixed point or a warm
/// start): the dimension `2L` of the mixed vector `(ln V, ln A)`, at least [`ANDERSON_DEPTH`].
/// Near a fixed point the sweep is close to affine, and a secant history spanning the whole space
/// solves the linearised problem; measured on the 5-layer chain of the training recorder, a warm
/// start took 26 sweeps at depth 3 and 11 at depth 10. Far from a fixed point (the coarse stage of
/// a cold start) a long history of stale secants slows convergence instead, so that stage keeps
/// depth 3.
fn polish_depth(layers: usize) -> usize {
    (2 * layers).max(ANDERSON_DEPTH)
}

/// Anderson mixing: with the current residual `f = g - x` and secant columns `(Delta f_j,
/// Delta g_j)`, find `gamma` minimising `|f - sum_j gamma_j Delta f_j|` (ridge-regularised normal
/// equations) and return `g - sum_j gamma_j Delta g_j`.
fn anderson(sec: &Secants, f: &[f64], g: &[f64]) -> Option<Vec<f64>> {
    let k = sec.len();
    let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
    let mut m = vec![vec![0.0; k]; k];
    let mut rhs = vec![0.0; k];
    for (a, row) in m.iter_mut().enumerate() {
        for (b, x) in row.iter_mut().enumerate() {
            *x = dot(&sec.df[a], &sec.df[b]);
        }
        rhs[a] = dot(&sec.df[a], f);
    }
    let trace: f64 = (0..k).map(|a| m[a][a]).sum();
    if trace.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    for (a, row) in m.iter_mut().enumerate() {
        row[a] += 1e-10 * trace;
    }
    let gamma = solve_small(m, rhs)?;
    let out: Vec<f64> = (0..g.len())
        .map(|i| g[i] - (0..k).map(|j| gamma[j] * sec.dg[j][i]).sum::<f64>())
        .collect();
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// Gaussian elimination with partial pivoting for a small dense system.
fn solve_small(mut m: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if m[piv][c].abs() < 1e-300 {
            return None;
        }
        m.swap(c, piv);
        b.swap(c, piv);
        let pivot_row = m[c].clone();
        for r in c + 1..n {
            let f = m[r][c] / pivot_row[c];
            for (x, p) in m[r][c..].iter_mut().zip(&pivot_row[c..]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| m[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / m[c][c];
    }
    Some(x)
}

// ---------------------------------------------------------------------------------------------
// Fixed-point scheme

struct FixedPointStep<'c> {
    chain: &'c Chain,
    rule: RuleSize,
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
                    .ensemble
                    .theta_near(layer.alpha, gamma1, Some(s.theta[l]))?
            };
            o.v_t[l] = if frozen { 0.0 } else { th / o.a[l] };
            if l + 1 == n {
                o.a[l] = layer
                    .channel
                    .output(o.v_t[l], ch.rho_z(l), self.rule, evals)
                    .a_out;
            } else {
                let t =
                    layer
                        .channel
                        .interface(o.a_t[l + 1], o.v_t[l], ch.rho_z(l), self.rule, evals);
                o.a[l] = t.iter_a;
                iter_v[l] = t.iter_v;
            }
            if frozen {
                o.theta[l] = 0.0;
                o.a_t[l] = layer.alpha * layer.ensemble.theta_slope0(layer.alpha) * o.a[l];
            } else {
                // theta grows about linearly with gamma: scale the guess by the change of gamma
                let gamma2 = o.a[l] * o.v[l];
                let hint = th * (gamma2 / gamma1).clamp(0.1, 10.0);
                let th = layer.ensemble.theta_near(layer.alpha, gamma2, Some(hint))?;
                o.theta[l] = th;
                o.a_t[l] = layer.alpha * th / o.v[l];
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

// ---------------------------------------------------------------------------------------------
// ML-VAMP state evolution

/// Primary VAMP variables per layer `i`: `a1x` (precision of the message into the denoiser of
/// `x_i`) and `a1z` (variance of the message from the channel side on `z_i`), plus the derived
/// quantities of the last sweep.
#[derive(Clone, Debug)]
struct VampState {
    a1x: Vec<f64>,
    a1z: Vec<f64>,
    v1x: Vec<f64>,
    a2z: Vec<f64>,
    g: Vec<f64>,
}

struct VampStep<'c> {
    chain: &'c Chain,
    rule: RuleSize,
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
                    .channel
                    .interface(
                        o.a1x[i],
                        1.0 / o.a2z[i - 1],
                        ch.rho_z(i - 1),
                        self.rule,
                        evals,
                    )
                    .iter_v
            };
            positive("v1x", i, o.v1x[i])?;
            a2x[i] = (1.0 / o.v1x[i] - o.a1x[i]).max(1e-300);
            let v2x = layer.ensemble.lmmse(layer.alpha, a2x[i], o.a1z[i]);
            let v1z = o.a1z[i] * (1.0 - a2x[i] * v2x) / layer.alpha;
            positive("v1z", i, v1z)?;
            o.a2z[i] = positive("a2z", i, 1.0 / v1z - 1.0 / o.a1z[i])?;
        }
        // backward
        for i in (0..n).rev() {
            let layer = &ch.layers()[i];
            o.g[i] = if i + 1 == n {
                layer
                    .channel
                    .output(1.0 / o.a2z[i], ch.rho_z(i), self.rule, evals)
                    .a_out
            } else {
                layer
                    .channel
                    .interface(o.a1x[i + 1], 1.0 / o.a2z[i], ch.rho_z(i), self.rule, evals)
                    .iter_a
            };
            positive("g", i, o.g[i])?;
            o.a1z[i] = positive("a1z", i, 1.0 / o.g[i] - 1.0 / o.a2z[i])?;
            let v2x = layer.ensemble.lmmse(layer.alpha, a2x[i], o.a1z[i]);
            o.a1x[i] = (1.0 / v2x - a2x[i]).max(0.0);
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

    /// `(a1x, ln a1z)`: the variables the sweep carries (`a1x` may be 0, `a1z` is positive).
    fn to_vec(s: &VampState) -> Option<Vec<f64>> {
        if s.a1z.iter().any(|&x| x.is_nan() || x <= 0.0) || s.a1x.iter().any(|x| x.is_nan()) {
            return None;
        }
        Some(
            s.a1x
                .iter()
                .copied()
                .chain(s.a1z.iter().map(|x| x.ln()))
                .collect(),
        )
    }

    fn from_vec(template: &VampState, x: &[f64]) -> VampState {
        let n = template.a1x.len();
        let mut o = template.clone();
        for i in 0..n {
            o.a1x[i] = x[i].max(0.0);
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

// ---------------------------------------------------------------------------------------------
// Starts, selection, fallback

/// Initial variances of start `k`: `V_l = rho_{l}` for the first `k` layers, `d` after.
fn start_v(chain: &Chain, k: usize) -> Vec<f64> {
    const D: f64 = 1e-10;
    (0..chain.len())
        .map(|l| if l < k { chain.rho(l) } else { D })
        .collect()
}

fn fixed_point_init(chain: &Chain, v: Vec<f64>) -> OrderParams {
    let n = chain.len();
    OrderParams {
        v,
        a: vec![1.0; n],
        a_t: (0..n).map(|l| chain.layers()[l].alpha).collect(),
        v_t: vec![0.0; n],
        theta: vec![0.0; n],
    }
}

fn vamp_init(chain: &Chain, v: &[f64]) -> VampState {
    let n = chain.len();
    let a1x = (0..n)
        .map(|l| (1.0 / v[l] - 1.0 / chain.rho(l)).max(0.0))
        .collect();
    let a1z = (0..n)
        .map(|l| chain.rho_z(l) + chain.layers()[l].channel.noise_var + 1.0)
        .collect();
    VampState {
        a1x,
        a1z,
        v1x: v.to_vec(),
        a2z: vec![1.0; n],
        g: vec![1.0; n],
    }
}

/// A converged candidate with its potential.
struct Candidate {
    run: Run,
    scheme: Scheme,
    phi: f64,
}

/// One start of `scheme` from the variances `v0`, in two stages (see [`staged`]). `Ok(None)`: the
/// start reached a stationary point already found and was not polished again.
fn run_scheme(
    chain: &Chain,
    scheme: Scheme,
    v0: &[f64],
    opts: &SolverOptions,
    counters: &mut Counters,
    seen: &mut Vec<OrderParams>,
) -> Result<Option<Run>, ReplicaError> {
    counters.starts_tried += 1;
    let Counters {
        evals,
        starts_duplicate,
        ..
    } = counters;
    match scheme {
        Scheme::FixedPoint => staged(
            |rule| FixedPointStep { chain, rule },
            fixed_point_init(chain, v0.to_vec()),
            opts,
            (evals, &mut counters.sweeps_fixed_point, starts_duplicate),
            seen,
            chain.len(),
            ANDERSON_DEPTH,
        ),
        Scheme::Vamp => staged(
            |rule| VampStep { chain, rule },
            vamp_init(chain, v0),
            opts,
            (evals, &mut counters.sweeps_vamp, starts_duplicate),
            seen,
            chain.len(),
            // no acceleration while far from a fixed point: Anderson mixing of the ML-VAMP sweep
            // sent some starts of the training chains wandering for thousands of sweeps
            0,
        ),
    }
}

/// A start in two stages. Stage 1: a coarse quadrature rule, a loose tolerance and a short
/// Anderson history (`coarse_depth`, 0 for none) find the basin cheaply, stopping early when the iterate enters the basin of a
/// stationary point in `seen`; a start whose coarse fixed point coincides with one in `seen` is
/// the same stationary point and is not polished again (`Ok(None)`). Stage 2 polishes with the
/// full rule from the coarse fixed point.
fn staged<S: Step>(
    make: impl Fn(RuleSize) -> S,
    init: S::State,
    opts: &SolverOptions,
    counters: (&mut Evals, &mut u64, &mut u64),
    seen: &mut Vec<OrderParams>,
    layers: usize,
    coarse_depth: usize,
) -> Result<Option<Run>, ReplicaError> {
    let (evals, sweeps, duplicates) = counters;
    let mut o1 = *opts;
    o1.tol = opts.tol.max(COARSE_TOL);
    let (first, state) = iterate(
        &mut make(RuleSize::coarse()),
        init,
        &o1,
        (&mut *evals, &mut *sweeps),
        seen,
        coarse_depth,
        &Secants::default(),
    )?;
    if first.duplicate || (first.converged && seen.iter().any(|p| same_point(p, &first.params))) {
        *duplicates += 1;
        return Ok(None);
    }
    if !first.converged {
        return Ok(Some(first));
    }
    seen.push(first.params);
    let (run, _) = iterate(
        &mut make(opts.rule),
        state,
        opts,
        (evals, sweeps),
        &[],
        polish_depth(layers),
        &Secants::default(),
    )?;
    Ok(Some(run))
}

/// The fixed-point scheme with the full rule from a previous stationary point, steered by its
/// secants.
fn polish_warm(
    chain: &Chain,
    warm: &WarmStart,
    opts: &SolverOptions,
    counters: &mut Counters,
) -> Result<Run, ReplicaError> {
    counters.starts_tried += 1;
    let (run, _) = iterate(
        &mut FixedPointStep {
            chain,
            rule: opts.rule,
        },
        warm.params.clone(),
        opts,
        (&mut counters.evals, &mut counters.sweeps_fixed_point),
        &[],
        polish_depth(chain.len()),
        &warm.secants,
    )?;
    Ok(run)
}

/// Whether two coarse fixed points are the same stationary point: every order parameter within
/// 1e-4 relative (the coarse stage converges to 1e-6; distinct stationary points differ at O(1)).
fn same_point(a: &OrderParams, b: &OrderParams) -> bool {
    close_points(a, b, 1e-4)
}

/// Every order parameter of `a` and `b` within `rel` relative.
fn close_points(a: &OrderParams, b: &OrderParams, rel: f64) -> bool {
    a.values()
        .zip(b.values())
        .all(|(x, y)| (x - y).abs() <= rel * x.abs().max(y.abs()).max(1e-12))
}

/// Solve the replica equations of `chain`: multi-start, keep converged stationary points, pick
/// the smallest potential. Errors with [`ReplicaError::NotConverged`] when no start converges.
pub fn solve(chain: &Chain, opts: &SolverOptions) -> Result<Estimate, ReplicaError> {
    solve_inner(chain, opts, None)
}

/// As [`solve`], but first tries the fixed-point scheme from a previous stationary point
/// (e.g. the previous epoch's), steered by that solve's secants if `previous` carries them; falls
/// back to the full multi-start if that does not converge. `previous` may be an
/// [`OrderParams`] (`.into()`) or an [`Estimate::warm_start`].
pub fn solve_warm(
    chain: &Chain,
    opts: &SolverOptions,
    previous: &WarmStart,
) -> Result<Estimate, ReplicaError> {
    let n = chain.len();
    if previous.params.v.len() != n {
        return Err(ReplicaError::InvalidChain(format!(
            "warm start has {} layers, the chain {n}",
            previous.params.v.len(),
        )));
    }
    if let Some(bad) = previous
        .secants
        .df
        .iter()
        .chain(&previous.secants.dg)
        .find(|c| c.len() != 2 * n)
    {
        return Err(ReplicaError::InvalidChain(format!(
            "warm-start secants of length {}, the chain needs {}",
            bad.len(),
            2 * n
        )));
    }
    solve_inner(chain, opts, Some(previous))
}

fn solve_inner(
    chain: &Chain,
    opts: &SolverOptions,
    warm: Option<&WarmStart>,
) -> Result<Estimate, ReplicaError> {
    // the caller's thread may have just run a faer matrix product (see `simd`)
    crate::simd::clear_upper_simd_state();
    let mut counters = Counters::default();
    let mut failures: Vec<String> = Vec::new();
    if let Some(w) = warm {
        match polish_warm(chain, w, opts, &mut counters) {
            Ok(run) if run.converged => {
                counters.starts_converged += 1;
                let phi = potential::phi(chain, &run.params, opts.rule, &mut counters.evals)?;
                return finish(
                    chain,
                    Candidate {
                        run,
                        scheme: Scheme::FixedPoint,
                        phi,
                    },
                    counters,
                    opts,
                );
            }
            Ok(run) => failures.push(format!(
                "warm start: no convergence (residual {:.2e})",
                run.residual
            )),
            Err(e) => failures.push(format!("warm start: {e}")),
        }
    }
    let schemes: &[Scheme] = match opts.choice {
        SchemeChoice::Auto => &[Scheme::FixedPoint, Scheme::Vamp],
        SchemeChoice::Only(Scheme::FixedPoint) => &[Scheme::FixedPoint],
        SchemeChoice::Only(Scheme::Vamp) => &[Scheme::Vamp],
    };
    let n_starts = if opts.multistart { chain.len() + 1 } else { 1 };
    for &scheme in schemes {
        let mut best: Option<Candidate> = None;
        let mut seen = Vec::new();
        for k in 0..n_starts {
            let v0 = start_v(chain, k);
            match run_scheme(chain, scheme, &v0, opts, &mut counters, &mut seen) {
                Ok(None) => {} // same stationary point as an earlier start
                Ok(Some(run)) if run.converged => {
                    counters.starts_converged += 1;
                    let phi = potential::phi(chain, &run.params, opts.rule, &mut counters.evals)?;
                    if !phi.is_finite() {
                        failures.push(format!("{scheme} start {k}: potential {phi}"));
                        continue;
                    }
                    if best.as_ref().is_none_or(|b| phi < b.phi) {
                        best = Some(Candidate { run, scheme, phi });
                    }
                }
                Ok(Some(run)) => failures.push(format!(
                    "{scheme} start {k}: no convergence in {} sweeps (residual {:.2e})",
                    run.iterations, run.residual
                )),
                Err(e) => failures.push(format!("{scheme} start {k}: {e}")),
            }
        }
        if let Some(b) = best {
            return finish(chain, b, counters, opts);
        }
    }
    Err(ReplicaError::NotConverged(failures.join("; ")))
}

fn finish(
    chain: &Chain,
    c: Candidate,
    mut counters: Counters,
    opts: &SolverOptions,
) -> Result<Estimate, ReplicaError> {
    let l = chain.len() - 1;
    let last = &chain.layers()[l];
    let i_out0 = last
        .channel
        .output(0.0, chain.rho_z(l), opts.rule, &mut counters.evals)
        .i_out;
    let mi_last = c.phi + chain.alpha_tilde(chain.len()) * i_out0;
    Ok(Estimate {
        entropy: c.phi,
        mutual_information: chain.inner_noiseless().then_some(mi_last),
        mi_last_layer: mi_last,
        mmse: c.run.params.v[0],
        converged: c.run.converged,
        scheme: c.scheme,
        iterations: c.run.iterations,
        residual: c.run.residual,
        counters,
        order_params: c.run.params,
        // warm starts run the fixed-point scheme: ML-VAMP secants live in another space
        secants: match c.scheme {
            Scheme::FixedPoint => c.run.secants,
            Scheme::Vamp => Secants::default(),
        },
    })
}
