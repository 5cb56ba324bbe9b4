//! An audit of replica results that trusts nothing of the estimator but its public output: the
//! exact bounds of `../shared/spec/replica.md` ("Exact bounds every result satisfies") and of
//! `docs/bounds.md` (maximum output entropy, last-layer capacity, data processing), re-derived
//! and coded here independently of the library's own checks (`replica::bounds`), and one run of a chain
//! classified as converged, bound violation, not converged (by cause) or panic.
//!
//! Used by `tests/random_chains.rs`, `tests/invariance.rs` and the `chain-grid` binary (which
//! includes this file by path, so that the grid and the tests judge results the same way).
//!
//! Which "I" is which: `Estimate::mutual_information` is `I(X;T_L)` and exists only when every
//! inner layer is noiseless; `Estimate::mi_last_layer` is `I(T_{L-1};T_L)` (equal to `I(X;T_L)`
//! in that case). Bounds with `H(X)` hold for `I(X;T_L)`; for `I(T_{L-1};T_L)` only the ones
//! that data processing (`I(X;T_L) <= I(T_{L-1};T_L)`) or the output alone gives.
#![allow(dead_code)]

use replica_core::replica::{
    solve, Activation, AttemptOutcome, Chain, Estimate, Prior, PriorParams, ReplicaError,
    SolverOptions,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Absolute tolerance of every bound, scaled by `1 + |bound|`. The solver stops when no order
/// parameter moves by more than 1e-9 (relative) in a sweep; entropies and informations are
/// values of the potential at a stationary point, so that error enters at second order, and the
/// channel quadratures are accurate to about 1e-8 (the reference cases agree within their
/// 1e-8..1e-6 tolerances). 1e-6 is above both, and far below the violations seen (1e-3..1.4
/// nats), so a correct result never fails and a wrong stationary point always does.
pub const BOUND_TOL: f64 = 1e-6;

/// One broken bound.
#[derive(Clone, Debug)]
pub struct Violation {
    /// Short name of the bound (the table's category).
    pub check: &'static str,
    /// The numbers.
    pub detail: String,
}

/// `H(X)` per entry in nats for a discrete prior, `None` otherwise.
pub fn prior_entropy(prior: &Prior) -> Option<f64> {
    match prior.params() {
        PriorParams::Binary { p } => Some(-p * p.ln() - (1.0 - p) * (1.0 - p).ln()),
        _ => None,
    }
}

/// `Var(X)` of one entry.
pub fn prior_variance(prior: &Prior) -> f64 {
    match prior.params() {
        PriorParams::Gaussian { var, .. } => var,
        PriorParams::Binary { p } => 4.0 * p * (1.0 - p),
        PriorParams::GaussBernoulli { p, mean, var } => {
            p * (var + mean * mean) - (p * mean).powi(2)
        }
    }
}

/// `n_L / n_0 = alpha_1 ... alpha_L`.
fn width_ratio(chain: &Chain) -> f64 {
    chain.layers().iter().map(|l| l.alpha()).product()
}

/// Topsøe's upper bound on the binary entropy in nats: `h(p) <= ln 2 * (4 p (1 - p))^(1 / ln 4)`.
/// For `X = +-1` given `T`, with posterior `P(X_i = 1 | T) = p_i(T)`,
/// `Var(X_i | T) = 4 p_i (1 - p_i)`. Subadditivity (`H(X|T) <= sum_i H(X_i|T)`) and Jensen on
/// the concave power give, per entry, `H(X|T)/n_0 <= ln 2 * MMSE^(1 / ln 4)`, i.e.
/// `I(X;T)/n_0 >= H(X) - ln 2 * MMSE^(1/ln 4)`: at MMSE = 0, `I = H(X)`. (The matching lower
/// bound `ln 2 * 4p(1-p) <= h(p)` holds per entry only, not for the joint entropy, so it gives
/// nothing here.)
pub fn binary_conditional_entropy_cap(mmse: f64) -> f64 {
    std::f64::consts::LN_2 * mmse.clamp(0.0, 1.0).powf(1.0 / (4.0f64).ln())
}

/// `E x^2` of one input entry.
fn prior_second_moment(prior: &Prior) -> f64 {
    match prior.params() {
        PriorParams::Gaussian { mean, var } => var + mean * mean,
        PriorParams::Binary { .. } => 1.0,
        PriorParams::GaussBernoulli { p, mean, var } => p * (var + mean * mean),
    }
}

/// Upper bound on `E z_L^2` per entry of the last pre-activation, by a forward recursion that
/// needs no Gaussianity. `z_l = W_l T_{l-1}` with `W_l` orthogonally invariant has
/// `E z_l^2 = lambda_l E T_{l-1}^2 / alpha_l` and a law symmetric about 0 (so is
/// `u_l = z_l + xi_l`, of second moment `Q_l`); hence `E relu(u)^2 = Q/2`,
/// `E lrelu_g(u)^2 = (1 + g^2) Q / 2`, `E clamp_t(u)^2 <= min(t^2, Q)`, `E sign(u)^2 = 1`.
pub fn last_pre_activation_power(chain: &Chain) -> f64 {
    let mut t2 = prior_second_moment(chain.prior());
    let layers = chain.layers();
    for (k, l) in layers.iter().enumerate() {
        let z2 = l.ensemble().mean(l.alpha()) * t2 / l.alpha();
        if k + 1 == layers.len() {
            return z2;
        }
        let u2 = z2 + l.channel().noise_var();
        t2 = match l.channel().activation() {
            Activation::Linear => u2,
            Activation::Relu => u2 / 2.0,
            Activation::LeakyRelu { slope } => (1.0 + slope * slope) * u2 / 2.0,
            Activation::Hardtanh { threshold } => u2.min(threshold * threshold),
            Activation::Sign => 1.0,
        };
    }
    unreachable!("a chain has layers")
}

/// Largest entropy per output unit (Lebesgue plus counting measure) of the last layer's output
/// given the second moment `power` of its noisy pre-activation; `None` for sign (checked apart).
/// Gaussian for linear and leaky ReLU of slope > 0 (`|phi(u)| <= |u|`); hardtanh: the uniform
/// split of mass between the two atoms and the interval, `ln(1 + 1 + 2t)`; ReLU: the atom at 0 of
/// mass `p` plus a half-line density of second moment `<= power / (1 - p)`, whose entropy is at
/// most the half-normal's `ln(pi e power / (2 (1-p))) / 2`, maximised over `p` (concave: golden
/// section).
pub fn max_output_entropy(a: Activation, power: f64) -> Option<f64> {
    use std::f64::consts::{E, PI};
    let gauss = 0.5 * (2.0 * PI * E * power).ln();
    match a {
        Activation::Linear => Some(gauss),
        Activation::LeakyRelu { slope } if slope > 0.0 => Some(gauss),
        Activation::Relu | Activation::LeakyRelu { .. } => {
            let f = |p: f64| {
                let s = 1.0 - p;
                -p * p.ln() - s * s.ln() + 0.5 * s * (PI * E * power / (2.0 * s)).ln()
            };
            let (mut lo, mut hi) = (1e-300_f64, 1.0 - 1e-16);
            let r = (5f64.sqrt() - 1.0) / 2.0;
            for _ in 0..300 {
                let (c, d) = (hi - r * (hi - lo), lo + r * (hi - lo));
                if f(c) < f(d) {
                    lo = c;
                } else {
                    hi = d;
                }
            }
            // the maximum over the final bracket is at most f's value there plus its spread
            Some(f(lo).max(f(hi)).max(f(0.5 * (lo + hi))))
        }
        Activation::Hardtanh { threshold } => Some((2.0 + 2.0 * threshold).ln()),
        Activation::Sign => None,
    }
}

/// The numbers of a result that the bounds are about.
#[derive(Clone, Copy, Debug)]
pub struct Values {
    /// `H(T_L)/n_0`.
    pub entropy: f64,
    /// `I(X;T_L)/n_0`, when defined.
    pub mutual_information: Option<f64>,
    /// `I(T_{L-1};T_L)/n_0`.
    pub mi_last_layer: f64,
    /// MMSE of X.
    pub mmse: f64,
}

impl From<&Estimate> for Values {
    fn from(e: &Estimate) -> Self {
        Values {
            entropy: e.entropy,
            mutual_information: e.mutual_information,
            mi_last_layer: e.mi_last_layer,
            mmse: e.mmse,
        }
    }
}

/// Every exact bound that applies to this chain's result; empty when all hold.
pub fn check_bounds(chain: &Chain, est: &Values) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |check: &'static str, detail: String| out.push(Violation { check, detail });
    let tol = |bound: f64| BOUND_TOL * (1.0 + bound.abs());
    let h = est.entropy;
    let mi = est.mutual_information;
    let mi_last = est.mi_last_layer;
    let mmse = est.mmse;
    let finite = h.is_finite()
        && mi_last.is_finite()
        && mmse.is_finite()
        && mi.is_none_or(|x| x.is_finite());
    if !finite {
        fail(
            "non-finite",
            format!("H = {h}, I(X;T_L) = {mi:?}, I(T_L-1;T_L) = {mi_last}, MMSE = {mmse}"),
        );
        return out;
    }
    if chain.inner_noiseless() != mi.is_some() {
        fail(
            "I(X;T_L) defined iff inner layers noiseless",
            format!("inner noiseless = {}, I = {mi:?}", chain.inner_noiseless()),
        );
    }
    // informations are >= 0
    if let Some(i) = mi {
        if i < -tol(0.0) {
            fail("I(X;T_L) >= 0", format!("I = {i:.9}"));
        }
    }
    if mi_last < -tol(0.0) {
        fail("I(T_L-1;T_L) >= 0", format!("I(T_L-1;T_L) = {mi_last:.9}"));
    }
    // 0 <= MMSE <= Var X
    let var_x = prior_variance(chain.prior());
    if mmse < -tol(0.0) || mmse > var_x + tol(var_x) {
        fail(
            "0 <= MMSE <= Var X",
            format!("MMSE = {mmse:.9}, Var X = {var_x:.9}"),
        );
    }
    // discrete prior: I(X;T_L) <= H(X), and the MMSE pins I(X;T_L) between Topsøe's bounds
    if let Some(hx) = prior_entropy(chain.prior()) {
        if let Some(i) = mi {
            if i > hx + tol(hx) {
                fail("I(X;T_L) <= H(X)", format!("I = {i:.9} > H(X) = {hx:.9}"));
            }
        }
        // I(T_L-1;T_L) >= I(X;T_L) >= H(X) - ln2 MMSE^(1/ln4): at MMSE ~ 0, X is recovered
        let lower = hx - binary_conditional_entropy_cap(mmse);
        let i_for_lower = mi.unwrap_or(mi_last);
        if i_for_lower < lower - tol(lower) {
            fail(
                "MMSE ~ 0 => I ~ H(X) (Topsoe)",
                format!(
                    "{} = {i_for_lower:.9}, H(X) = {hx:.9}, MMSE = {mmse:.3e}: I must be >= {lower:.9}",
                    if mi.is_some() { "I(X;T_L)" } else { "I(T_L-1;T_L)" }
                ),
            );
        }
    }
    // discrete (sign) output: 0 <= H(T_L) <= (n_L/n_0) ln 2, and I <= H(T_L)
    let last = chain.layers().last().expect("a chain has layers");
    if matches!(last.channel().activation(), Activation::Sign) {
        let cap = width_ratio(chain) * std::f64::consts::LN_2;
        if h < -tol(0.0) || h > cap + tol(cap) {
            fail(
                "0 <= H(T_L) <= (n_L/n_0) ln 2",
                format!("H = {h:.9}, (n_L/n_0) ln 2 = {cap:.9}"),
            );
        }
        if mi_last > h + tol(h) {
            fail(
                "I <= H(T_L) (sign output)",
                format!("I(T_L-1;T_L) = {mi_last:.9} > H = {h:.9}"),
            );
        }
        if let Some(i) = mi {
            if i > h + tol(h) {
                fail(
                    "I <= H(T_L) (sign output)",
                    format!("I(X;T_L) = {i:.9} > H = {h:.9}"),
                );
            }
        }
    }
    // maximum entropy of the output at the largest second moment of its pre-activation, and the
    // capacity of the last noisy layer (docs/bounds.md)
    let q = last_pre_activation_power(chain);
    let noise = last.channel().noise_var();
    let width = width_ratio(chain);
    if let Some(per_unit) = max_output_entropy(last.channel().activation(), q + noise) {
        let max = width * per_unit;
        if h > max + tol(max) {
            fail(
                "H(T_L) <= maximum entropy at its power",
                format!("H = {h:.9e}, max = {max:.9e} (E u^2 <= {:.6e})", q + noise),
            );
        }
    }
    let cap = width * 0.5 * (q / noise).ln_1p();
    if mi_last > cap + tol(cap) {
        fail(
            "I(T_L-1;T_L) <= capacity of the last layer",
            format!("I(T_L-1;T_L) = {mi_last:.9e}, capacity = {cap:.9e} (E z^2 <= {q:.6e}, noise {noise:.3e})"),
        );
    }
    // data processing on X -> T_L-1 -> T_L
    if let Some(i) = mi {
        if i > mi_last + tol(mi_last) {
            fail(
                "I(X;T_L) <= I(T_L-1;T_L)",
                format!("I(X;T_L) = {i:.9}, I(T_L-1;T_L) = {mi_last:.9}"),
            );
        }
    }
    out
}

/// How one chain ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Converged and inside every bound.
    Converged,
    /// Converged, but outside a bound (a wrong number presented as right).
    Violation(Vec<Violation>),
    /// A solver error (not converged, non-finite, no theta root), with its cause category.
    Unconverged { cause: String, error: String },
    /// An error a valid chain should never give (invalid parameter or chain), or an error without
    /// a reason.
    BadError(String),
    /// The solver panicked.
    Panic(String),
}

impl Outcome {
    /// The category of the summary table.
    pub fn label(&self) -> String {
        match self {
            Outcome::Converged => "converged".into(),
            Outcome::Violation(v) => format!("bound violation: {}", v[0].check),
            Outcome::Unconverged { cause, .. } => format!("unconverged: {cause}"),
            Outcome::BadError(_) => "unexpected error".into(),
            Outcome::Panic(_) => "panic".into(),
        }
    }

    /// The numbers or the message.
    pub fn detail(&self) -> String {
        match self {
            Outcome::Converged => String::new(),
            Outcome::Violation(v) => v
                .iter()
                .map(|x| format!("{}: {}", x.check, x.detail))
                .collect::<Vec<_>>()
                .join("; "),
            Outcome::Unconverged { error, .. } => error.clone(),
            Outcome::BadError(e) | Outcome::Panic(e) => e.clone(),
        }
    }
}

/// The category of a solver failure: the error kind, and for "did not converge" the kind of the
/// first failed start's outcome as the failure report types it (scheme and start left out, the
/// broken bound by its name). `None` for errors that a valid chain must not give.
pub fn cause_of(e: &ReplicaError) -> Option<String> {
    match e {
        ReplicaError::NotConverged(report) => {
            let first = report.attempts().first()?;
            Some(format!(
                "not converged: {}",
                outcome_category(first.outcome())
            ))
        }
        ReplicaError::NonFinite(m) if !m.trim().is_empty() => Some("non-finite".into()),
        ReplicaError::NoThetaRoot { .. } => Some("no theta root".into()),
        _ => None,
    }
}

/// The category of one failed start's outcome.
pub fn outcome_category(o: &AttemptOutcome) -> String {
    match o {
        AttemptOutcome::Exhausted { .. } => "no convergence in # sweeps".into(),
        AttemptOutcome::BrokenBound(b) => format!("stationary point rejected: {}", b.name()),
        AttemptOutcome::NonFinite(_) => "non-finite value during the iteration".into(),
        AttemptOutcome::OutOfTime { .. } => "the time budget ran out".into(),
        AttemptOutcome::Error(e) => match e.as_ref() {
            ReplicaError::NoThetaRoot { .. } => "the theta equation has no root".into(),
            other => format!("error: {}", error_kind(other)),
        },
        AttemptOutcome::ContinuationStart { .. }
        | AttemptOutcome::ContinuationSteps { .. }
        | AttemptOutcome::ContinuationStalled { .. } => "the continuation broke".into(),
        // a kind added to the library later: its stable short name
        other => other.kind().into(),
    }
}

/// The name of an error's kind.
fn error_kind(e: &ReplicaError) -> &'static str {
    match e {
        ReplicaError::InvalidParameter(_) => "invalid parameter",
        ReplicaError::InvalidChain(_) => "invalid chain",
        ReplicaError::NoThetaRoot { .. } => "no theta root",
        ReplicaError::NotConverged(_) => "not converged",
        ReplicaError::NonFinite(_) => "non-finite",
        ReplicaError::Interrupted => "interrupted",
    }
}

/// Solve one chain under `catch_unwind` and classify the result; also the wall time in seconds.
pub fn run_chain(chain: &Chain, opts: &SolverOptions) -> (Outcome, Option<Estimate>, f64) {
    let t0 = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| solve(chain, opts)));
    let secs = t0.elapsed().as_secs_f64();
    let (outcome, est) = match r {
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(non-string panic payload)".into());
            (Outcome::Panic(msg), None)
        }
        Ok(Err(e)) => match cause_of(&e) {
            Some(cause) => (
                Outcome::Unconverged {
                    cause,
                    error: e.to_string(),
                },
                None,
            ),
            None => (Outcome::BadError(e.to_string()), None),
        },
        Ok(Ok(est)) => {
            let v = check_bounds(chain, &Values::from(&est));
            if v.is_empty() {
                (Outcome::Converged, Some(est))
            } else {
                (Outcome::Violation(v), Some(est))
            }
        }
    };
    (outcome, est, secs)
}

/// One chain of a grid: its number, outcome and wall time.
#[derive(Clone, Debug)]
pub struct ChainResult {
    pub index: u64,
    pub outcome: Outcome,
    pub seconds: f64,
}

/// Nearest-rank percentile `q` in `[0, 1]` of sorted values (`NaN` when empty).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Chains slower than this are counted apart (the target: none).
pub const SLOW_SECONDS: f64 = 60.0;

/// The summary table of a grid: converged, bound violations, unconverged by cause, unexpected
/// errors, panics (each with its share), then the time percentiles and the chains over 60 s.
pub fn summary_table(results: &[ChainResult]) -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    let n = results.len();
    let mut by_label: BTreeMap<String, usize> = BTreeMap::new();
    for r in results {
        *by_label.entry(r.outcome.label()).or_default() += 1;
    }
    let count =
        |pred: &dyn Fn(&Outcome) -> bool| results.iter().filter(|r| pred(&r.outcome)).count();
    let groups = [
        (
            "converged (inside every bound)",
            count(&|o| matches!(o, Outcome::Converged)),
        ),
        (
            "bound violations",
            count(&|o| matches!(o, Outcome::Violation(_))),
        ),
        (
            "unconverged",
            count(&|o| matches!(o, Outcome::Unconverged { .. })),
        ),
        (
            "unexpected errors",
            count(&|o| matches!(o, Outcome::BadError(_))),
        ),
        ("panics", count(&|o| matches!(o, Outcome::Panic(_)))),
    ];
    let pct = |k: usize| 100.0 * k as f64 / n.max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(out, "{:<64} {:>7} {:>8}", "outcome", "chains", "share");
    for (name, k) in groups {
        let _ = writeln!(out, "{name:<64} {k:>7} {:>7.2}%", pct(k));
        let prefix = match name {
            "bound violations" => Some("bound violation: "),
            "unconverged" => Some("unconverged: "),
            _ => None,
        };
        if let Some(prefix) = prefix {
            for (label, k) in by_label.iter().filter(|(l, _)| l.starts_with(prefix)) {
                let cause: String = label[prefix.len()..].chars().take(60).collect();
                let _ = writeln!(out, "  {cause:<62} {k:>7} {:>7.2}%", pct(*k));
            }
        }
    }
    let _ = writeln!(out, "{:<64} {n:>7}", "total");
    let mut t: Vec<f64> = results.iter().map(|r| r.seconds).collect();
    t.sort_by(f64::total_cmp);
    let slow = t.iter().filter(|&&s| s > SLOW_SECONDS).count();
    let _ = writeln!(
        out,
        "seconds per chain: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  total {:.1}; over {SLOW_SECONDS} s: {slow}",
        percentile(&t, 0.5),
        percentile(&t, 0.9),
        percentile(&t, 0.99),
        t.last().copied().unwrap_or(f64::NAN),
        t.iter().sum::<f64>(),
    );
    out
}
