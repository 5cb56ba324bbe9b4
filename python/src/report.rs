//! The typed reports of a solve: `FailedAttempt` (one per failed start, in
//! `NotConvergedError.attempts`) and `Candidate` (one per start that ran, in
//! `Estimate.candidates` with `return_candidates=True`).

use crate::prelude::*;
use replica_core::replica::{Attempt, AttemptOutcome, Start, StartReport};

/// `(index, kind)` of a start: `(k, "index")` for start `k` of the search, `(None, "warm")`,
/// `(None, "given")`, `(None, "continuation")`.
fn start_of(s: Start) -> (Option<usize>, String) {
    (s.index(), s.kind().to_string())
}

/// One start that gave no answer: its scheme, where it started, and how it ended.
#[pyclass(name = "FailedAttempt", module = "replica_mi", frozen, get_all)]
pub(crate) struct PyFailedAttempt {
    /// 1-based measured layer of the solve it belongs to (None when not known).
    layer: Option<usize>,
    /// `"fixed-point"` or `"ml-vamp"`; None for the continuation fallback (both schemes).
    scheme: Option<String>,
    /// The index `k` of a start of the multi-start search (None for the other kinds).
    start: Option<usize>,
    /// `"index"`, `"warm"`, `"given"` (the caller's `start_at`) or `"continuation"`.
    start_kind: String,
    /// `"exhausted"`, `"broken-bound"`, `"non-finite"`, `"out-of-time"`, `"continuation"` or
    /// `"error"`.
    outcome: String,
    /// The bound a rejected stationary point broke (`"broken-bound"` only).
    bound: Option<String>,
    /// The value that broke it.
    value: Option<f64>,
    /// The limit it crossed.
    limit: Option<f64>,
    /// Sweeps run (`"exhausted"` only).
    sweeps: Option<u64>,
    /// Residual of the last sweep (`"exhausted"` only).
    residual: Option<f64>,
    /// The attempt's line in the error message.
    message: String,
}

#[pymethods]
impl PyFailedAttempt {
    fn __repr__(&self) -> String {
        format!("FailedAttempt({:?})", self.message)
    }
}

impl PyFailedAttempt {
    fn new(a: &Attempt, layer: Option<usize>) -> Self {
        let (start, start_kind) = start_of(a.start());
        let bound = a.outcome().bound();
        let (sweeps, residual) = match a.outcome() {
            AttemptOutcome::Exhausted { sweeps, residual } => (*sweeps, Some(*residual)),
            _ => (None, None),
        };
        PyFailedAttempt {
            layer,
            scheme: a.scheme().map(|s| s.to_string()),
            start,
            start_kind,
            outcome: a.outcome().kind().to_string(),
            bound: bound.map(|b| b.name().to_string()),
            value: bound.map(|b| b.value()),
            limit: bound.and_then(|b| b.limit()),
            sweeps,
            residual,
            message: a.to_string(),
        }
    }
}

/// The failed starts of `e` (empty unless it is `NotConverged`), as Python objects.
pub(crate) fn attempts_of(
    py: Python<'_>,
    e: &ReplicaError,
    layer: Option<usize>,
) -> PyResult<Vec<Py<PyFailedAttempt>>> {
    match e {
        ReplicaError::NotConverged(report) => report
            .attempts()
            .iter()
            .map(|a| Py::new(py, PyFailedAttempt::new(a, layer)))
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// One start of a solve and the stationary point it reached (`Estimate.candidates`).
#[pyclass(name = "Candidate", module = "replica_mi", frozen, get_all)]
pub(crate) struct PyCandidate {
    /// `"fixed-point"` or `"ml-vamp"` (None only for a continuation that failed at once).
    scheme: Option<String>,
    /// The index `k` of a start of the multi-start search (None for the other kinds).
    start: Option<usize>,
    /// `"index"`, `"warm"`, `"given"` (the caller's `start_at`) or `"continuation"`.
    start_kind: String,
    /// Whether it converged to a stationary point inside every bound.
    converged: bool,
    /// `H(T_l)/n_0` at that point (the potential), when it converged.
    entropy: Option<f64>,
    /// Sweeps of its last stage (None for a duplicate).
    iterations: Option<u64>,
    /// Residual of its last sweep.
    residual: Option<f64>,
    /// Whether it stopped on a stationary point an earlier start had found.
    duplicate: bool,
    /// Whether its point is the estimate.
    selected: bool,
    /// Why it gave no candidate (None for a candidate or a duplicate).
    failure: Option<String>,
    /// The start's line in the verbose trace.
    message: String,
}

#[pymethods]
impl PyCandidate {
    fn __repr__(&self) -> String {
        format!("Candidate({:?})", self.message)
    }
}

impl PyCandidate {
    pub(crate) fn new(r: &StartReport) -> Self {
        let (start, start_kind) = start_of(r.start());
        PyCandidate {
            scheme: r.scheme().map(|s| s.to_string()),
            start,
            start_kind,
            converged: r.converged(),
            entropy: r.entropy(),
            iterations: r.iterations(),
            residual: r.residual(),
            duplicate: r.duplicate(),
            selected: r.selected(),
            failure: r.failure().map(|f| f.to_string()),
            message: r.to_string(),
        }
    }
}
