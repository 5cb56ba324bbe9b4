//! What a solve can do beyond [`SolverOptions`]: start from the caller's point, report every
//! start's stationary point, and tell an observer about each start as it ends
//! ([`solve_with`](super::solve_with)). The options stay a small `Copy` value; these extras hold
//! vectors and a borrowed observer.

use super::super::chain::Chain;
use super::super::error::{Field, ReplicaError};
use super::super::failure::{write_start, AttemptOutcome, Start};
use super::{Estimate, OrderParams, Scheme, WarmStart};
use replica_params::{finite, non_negative, positive, ParamError};
use std::fmt;

/// A starting point given by the caller, tried before the multi-start search (the search still
/// runs unless [`SolverOptions::with_multistart`](super::SolverOptions::with_multistart) is off,
/// and the smallest valid potential is still the answer).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum StartAt {
    /// Initial variances `V_l`, one per layer (the other order parameters start as in the
    /// search's own starts): the `v0` of the authors' package.
    Variances(Vec<f64>),
    /// A whole stationary point (e.g. [`Estimate::order_params`] of an earlier solve), polished
    /// at once with the full quadrature rule.
    Point(OrderParams),
}

impl StartAt {
    /// Number of layers the start is for.
    pub fn layers(&self) -> usize {
        match self {
            StartAt::Variances(v) => v.len(),
            StartAt::Point(p) => p.v.len(),
        }
    }

    /// The initial variances `V_l`.
    pub fn variances(&self) -> &[f64] {
        match self {
            StartAt::Variances(v) => v,
            StartAt::Point(p) => &p.v,
        }
    }
}

/// What the observer of a solve is told.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub enum SolveEvent<'a> {
    /// A start ended (converged, failed, or stopped as a duplicate of an earlier one).
    Start(&'a StartReport),
    /// The start whose stationary point is the answer; the last event of a successful solve.
    Selected(&'a StartReport),
}

/// `"fixed-point start 0: ..."` as [`StartReport`]'s `Display`, the selected one prefixed by
/// `"selected: "`.
impl fmt::Display for SolveEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolveEvent::Start(r) => write!(f, "{r}"),
            SolveEvent::Selected(r) => write!(f, "selected: {r}"),
        }
    }
}

/// The extras of one solve: a warm start ([`SolveWith::warm_start`]), a starting point
/// ([`SolveWith::start_at`]) and an observer ([`SolveWith::observer`]). `SolveWith::default()`
/// is a plain solve.
#[derive(Default)]
pub struct SolveWith<'a> {
    pub(super) warm: Option<WarmStart>,
    pub(super) start_at: Option<StartAt>,
    pub(super) observer: Option<&'a mut dyn FnMut(SolveEvent<'_>)>,
}

/// Every entry of `xs` passes `check` (a validator of `replica_params`); the error names
/// `start_at.<name>[i]`.
fn check_all(
    name: &str,
    xs: &[f64],
    check: fn(Field, f64) -> Result<f64, ParamError<Field>>,
) -> Result<(), ReplicaError> {
    for (i, &x) in xs.iter().enumerate() {
        check(Field::Setting(format!("start_at.{name}[{i}]")), x)?;
    }
    Ok(())
}

impl<'a> SolveWith<'a> {
    /// Polish `previous` first and return it if it converges inside the bounds, as
    /// [`super::solve_warm`] does (checked against the chain when the solve starts).
    pub fn warm_start(mut self, previous: WarmStart) -> Self {
        self.warm = Some(previous);
        self
    }

    /// Start from `start` first (checked here: a given variance finite and > 0, at a given point
    /// finite and >= 0 as are the precisions and `V~`, theta finite, one entry per layer in every vector; its length against the
    /// chain is checked when the solve starts). Errors name the field, e.g. `start_at.v[1]`.
    pub fn start_at(mut self, start: StartAt) -> Result<Self, ReplicaError> {
        let layers = start.layers();
        if layers == 0 {
            return Err(ReplicaError::invalid(
                Field::Setting("start_at".into()),
                "[]",
                "needs one entry per layer",
            ));
        }
        match &start {
            StartAt::Variances(v) => check_all("v", v, positive)?,
            // a stationary point's variance is 0 where the variable is recovered
            StartAt::Point(p) => check_all("v", &p.v, non_negative)?,
        }
        if let StartAt::Point(p) = &start {
            for (name, xs) in [
                ("a", &p.a),
                ("a_t", &p.a_t),
                ("v_t", &p.v_t),
                ("theta", &p.theta),
            ] {
                if xs.len() != layers {
                    return Err(ReplicaError::invalid(
                        Field::Setting(format!("start_at.{name}")),
                        format!("{} entries", xs.len()),
                        format!("needs one per layer ({layers}, as start_at.v)"),
                    ));
                }
            }
            check_all("a", &p.a, non_negative)?;
            check_all("a_t", &p.a_t, non_negative)?;
            check_all("v_t", &p.v_t, non_negative)?;
            check_all("theta", &p.theta, finite)?;
        }
        self.start_at = Some(start);
        Ok(self)
    }

    /// Call `observer` as each start ends, and once more with the selected start. It runs on the
    /// solving thread, between starts; the library itself never prints.
    pub fn observer(mut self, observer: &'a mut dyn FnMut(SolveEvent<'_>)) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The starting point, if any.
    pub fn start(&self) -> Option<&StartAt> {
        self.start_at.as_ref()
    }

    /// The start against the chain: one entry per layer, and each variance at most the
    /// variance `rho_l` of the layer's input (a larger one is no posterior variance).
    pub(super) fn check_chain(&self, chain: &Chain) -> Result<(), ReplicaError> {
        if let Some(w) = &self.warm {
            check_warm(chain, w)?;
        }
        let Some(s) = &self.start_at else {
            return Ok(());
        };
        if s.layers() != chain.len() {
            return Err(ReplicaError::invalid(
                Field::Setting("start_at".into()),
                format!("{} layers", s.layers()),
                format!("the chain has {} layers", chain.len()),
            ));
        }
        // round-off of a stationary point read back from an earlier solve: V_l is at most rho_l
        // mathematically and within 1e-12 of it numerically; 1e-6 leaves room for values that
        // were printed and read back
        const SLACK: f64 = 1e-6;
        for (l, &v) in s.variances().iter().enumerate() {
            let rho = chain.rho(l);
            if v > rho * (1.0 + SLACK) {
                return Err(ReplicaError::invalid(
                    Field::Setting(format!("start_at.v[{l}]")),
                    v,
                    format!("must be at most the variance {rho} of the layer's input"),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn emit(&mut self, event: SolveEvent<'_>) {
        if let Some(o) = self.observer.as_mut() {
            o(event);
        }
    }
}

/// A warm start fits the chain: one entry per layer, secants of length `2 L`.
fn check_warm(chain: &Chain, previous: &WarmStart) -> Result<(), ReplicaError> {
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
    Ok(())
}

/// What one start of a solve gave.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct StartReport {
    pub(super) scheme: Option<Scheme>,
    pub(super) start: Start,
    pub(super) iterations: Option<u64>,
    pub(super) residual: Option<f64>,
    pub(super) entropy: Option<f64>,
    pub(super) failure: Option<AttemptOutcome>,
    pub(super) duplicate: bool,
    pub(super) selected: bool,
}

impl StartReport {
    /// The scheme that ran (`None` only for a continuation that failed before either ran).
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }
    pub fn start(&self) -> Start {
        self.start
    }
    /// Sweeps of the start's last stage (`None` for a duplicate).
    pub fn iterations(&self) -> Option<u64> {
        self.iterations
    }
    /// The residual of its last sweep (`None` for a duplicate or a start stopped by an error).
    pub fn residual(&self) -> Option<f64> {
        self.residual
    }
    /// Whether it converged to a stationary point that passed every bound (a candidate).
    pub fn converged(&self) -> bool {
        self.entropy.is_some()
    }
    /// The potential at its stationary point, `H(T_L)/n_0` (candidates only).
    pub fn entropy(&self) -> Option<f64> {
        self.entropy
    }
    /// Why it gave no candidate (`None` for a candidate or a duplicate).
    pub fn failure(&self) -> Option<&AttemptOutcome> {
        self.failure.as_ref()
    }
    /// Whether it stopped on reaching a stationary point an earlier start had found.
    pub fn duplicate(&self) -> bool {
        self.duplicate
    }
    /// Whether its stationary point is the answer.
    pub fn selected(&self) -> bool {
        self.selected
    }
}

/// `"fixed-point start 2: H(T_L) = 0.637659813 (12 sweeps, residual 3.1e-10)"`, or the failure,
/// or `"...: the stationary point of an earlier start"`.
impl fmt::Display for StartReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_start(f, self.scheme, self.start)?;
        f.write_str(": ")?;
        if self.duplicate {
            return f.write_str("the stationary point of an earlier start");
        }
        if let Some(why) = &self.failure {
            return write!(f, "{why}");
        }
        if let Some(h) = self.entropy {
            write!(f, "H(T_L) = {h:.9}")?;
        }
        if let (Some(n), Some(r)) = (self.iterations, self.residual) {
            write!(f, " ({n} sweeps, residual {r:.1e})")?;
        }
        Ok(())
    }
}

/// An estimate with the report of every start that ran ([`super::solve_with`]).
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Solution {
    pub(super) estimate: Estimate,
    pub(super) starts: Vec<StartReport>,
}

impl Solution {
    pub fn estimate(&self) -> &Estimate {
        &self.estimate
    }
    pub fn into_estimate(self) -> Estimate {
        self.estimate
    }
    /// Every start in the order they ran, the selected one marked.
    pub fn starts(&self) -> &[StartReport] {
        &self.starts
    }
    /// The start whose stationary point is the answer.
    pub fn selected(&self) -> Option<&StartReport> {
        self.starts.iter().find(|s| s.selected)
    }
}
