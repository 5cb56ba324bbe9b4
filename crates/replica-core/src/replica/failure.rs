//! The typed report of a solve that found no answer: one [`Attempt`] per start (and per scheme)
//! that failed, with why. [`super::ReplicaError::NotConverged`] carries it; its `Display` is the
//! attempts' messages joined by `"; "`, each prefixed by the scheme and start
//! (`"fixed-point start 0: no convergence in 3000 sweeps (residual 1.20e-05)"`).

use super::bounds::BoundViolation;
use super::error::ReplicaError;
use super::solve::Scheme;
use std::fmt;

/// Where an iteration started.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Start `k` of the multi-start search: the first `k` layers started as (nearly) unknown
    /// input, the others as known (see the solver's module documentation).
    Index(usize),
    /// The previous stationary point of a warm start ([`super::solve_warm`]).
    Warm,
    /// The caller's starting point ([`super::SolveWith::start_at`]).
    Given,
    /// The continuation fallback (the stationary point followed in the added noise).
    Continuation,
}

impl Start {
    /// The index `k` of a multi-start start, `None` for the other kinds.
    pub fn index(&self) -> Option<usize> {
        match self {
            Start::Index(k) => Some(*k),
            _ => None,
        }
    }

    /// A short name of the kind: `"index"`, `"warm"`, `"given"`, `"continuation"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Start::Index(_) => "index",
            Start::Warm => "warm",
            Start::Given => "given",
            Start::Continuation => "continuation",
        }
    }
}

/// How a start ended without giving a valid stationary point.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    /// The sweep budget ran out before convergence. `sweeps` is `None` for a warm start, whose
    /// message gives only the residual.
    Exhausted { sweeps: Option<u64>, residual: f64 },
    /// The iteration converged, but the stationary point breaks an exact bound.
    BrokenBound(BoundViolation),
    /// A NaN or infinity appeared during the iteration (the detail names the values).
    NonFinite(String),
    /// The wall-clock budget ([`super::SolverOptions::with_max_seconds`]) ran out at `sweep` of
    /// the start.
    OutOfTime { seconds: f64, sweep: u64 },
    /// The continuation fallback: the chain with added noise at its start could not be solved.
    ContinuationStart {
        added: f64,
        error: Box<ReplicaError>,
    },
    /// The continuation fallback took its most steps and stopped at added noise `added`.
    ContinuationSteps { steps: u64, added: f64 },
    /// The continuation fallback: no step below added noise `added` converged.
    ContinuationStalled { added: f64 },
    /// Any other error of the estimator (e.g. no theta root for a bounded spectrum).
    Error(Box<ReplicaError>),
}

impl AttemptOutcome {
    /// A short name of the kind, stable across versions: `"exhausted"`, `"broken-bound"`,
    /// `"non-finite"`, `"out-of-time"`, `"continuation"`, `"error"`.
    pub fn kind(&self) -> &'static str {
        match self {
            AttemptOutcome::Exhausted { .. } => "exhausted",
            AttemptOutcome::BrokenBound(_) => "broken-bound",
            AttemptOutcome::NonFinite(_) => "non-finite",
            AttemptOutcome::OutOfTime { .. } => "out-of-time",
            AttemptOutcome::ContinuationStart { .. }
            | AttemptOutcome::ContinuationSteps { .. }
            | AttemptOutcome::ContinuationStalled { .. } => "continuation",
            AttemptOutcome::Error(_) => "error",
        }
    }

    /// The bound broken, for [`AttemptOutcome::BrokenBound`].
    pub fn bound(&self) -> Option<&BoundViolation> {
        match self {
            AttemptOutcome::BrokenBound(b) => Some(b),
            _ => None,
        }
    }

    /// The outcome of an error raised inside a start.
    pub(super) fn from_error(e: ReplicaError) -> Self {
        match e {
            ReplicaError::NonFinite(detail) => AttemptOutcome::NonFinite(detail),
            other => AttemptOutcome::Error(Box::new(other)),
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Exhausted {
                sweeps: Some(n),
                residual,
            } => write!(f, "no convergence in {n} sweeps (residual {residual:.2e})"),
            AttemptOutcome::Exhausted {
                sweeps: None,
                residual,
            } => write!(f, "no convergence (residual {residual:.2e})"),
            AttemptOutcome::BrokenBound(b) => write!(f, "stationary point rejected: {b}"),
            // the words of ReplicaError::NonFinite, which this outcome was before it was typed
            AttemptOutcome::NonFinite(detail) => {
                write!(f, "non-finite value during the iteration: {detail}")
            }
            AttemptOutcome::OutOfTime { seconds, sweep } => write!(
                f,
                "the replica equations did not converge: the time budget of {seconds} s ran out \
                 (sweep {sweep} of a start)"
            ),
            AttemptOutcome::ContinuationStart { added, error } => {
                write!(f, "the chain with noise {added} rho~ added: {error}")
            }
            AttemptOutcome::ContinuationSteps { steps, added } => {
                write!(f, "{steps} steps, stopped at added noise {added:.1e} rho~")
            }
            AttemptOutcome::ContinuationStalled { added } => {
                write!(f, "no step below added noise {added:.1e} rho~ converged")
            }
            AttemptOutcome::Error(e) => write!(f, "{e}"),
        }
    }
}

/// One failed start: its scheme (`None` for the continuation fallback, which uses both), where it
/// started, and how it ended.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    pub(super) scheme: Option<Scheme>,
    pub(super) start: Start,
    pub(super) outcome: AttemptOutcome,
}

impl Attempt {
    /// An attempt as the solver records it (public for callers that build reports, e.g. tests
    /// of their own error handling).
    pub fn new(scheme: Option<Scheme>, start: Start, outcome: AttemptOutcome) -> Self {
        Attempt {
            scheme,
            start,
            outcome,
        }
    }
    /// The scheme that ran (`None`: the continuation fallback).
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }
    pub fn start(&self) -> Start {
        self.start
    }
    pub fn outcome(&self) -> &AttemptOutcome {
        &self.outcome
    }
}

/// The name of a start in messages: `"fixed-point start 2"`, `"warm start"`, `"given start"`
/// (`"given start (ml-vamp)"` for ML-VAMP), `"continuation in the noise"`.
pub(super) fn write_start(
    f: &mut fmt::Formatter<'_>,
    scheme: Option<Scheme>,
    start: Start,
) -> fmt::Result {
    match (start, scheme) {
        (Start::Index(k), Some(s)) => write!(f, "{s} start {k}"),
        (Start::Index(k), None) => write!(f, "start {k}"),
        (Start::Warm, _) => f.write_str("warm start"),
        (Start::Given, Some(Scheme::Vamp)) => f.write_str("given start (ml-vamp)"),
        (Start::Given, _) => f.write_str("given start"),
        (Start::Continuation, _) => f.write_str("continuation in the noise"),
    }
}

/// The start's name (as the driver has always written it), `": "`, the outcome.
impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_start(f, self.scheme, self.start)?;
        write!(f, ": {}", self.outcome)
    }
}

/// Every failed start of a solve that found no answer, in the order they ran.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailureReport {
    pub(super) attempts: Vec<Attempt>,
}

impl FailureReport {
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }
    pub(super) fn push(&mut self, a: Attempt) {
        self.attempts.push(a);
    }
}

/// The attempts joined by `"; "`.
impl fmt::Display for FailureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.attempts.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl From<Vec<Attempt>> for FailureReport {
    fn from(attempts: Vec<Attempt>) -> Self {
        FailureReport { attempts }
    }
}

/// Why the loop on one start stopped early: an error of the estimator, or the solve's time budget.
/// Internal to the solver; a start's stop becomes an [`AttemptOutcome`].
#[derive(Debug)]
pub(super) enum Stop {
    Error(ReplicaError),
    OutOfTime { seconds: f64, sweep: u64 },
}

impl From<ReplicaError> for Stop {
    fn from(e: ReplicaError) -> Self {
        Stop::Error(e)
    }
}

impl From<Stop> for AttemptOutcome {
    fn from(s: Stop) -> Self {
        match s {
            Stop::Error(e) => AttemptOutcome::from_error(e),
            Stop::OutOfTime { seconds, sweep } => AttemptOutcome::OutOfTime { seconds, sweep },
        }
    }
}
