//! Solver settings: which schemes may run, tolerances, quadrature sizes (checked on construction).

use super::super::error::{Field, ReplicaError};
use super::super::gauss::RuleSize;
use replica_params::Rule;

/// Which iteration produced (or should produce) a fixed point. One name each, the same in
/// `Display` and serde: `fixed-point`, `ml-vamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// The fixed-point iteration of the replica potential (theta-equation per layer).
    FixedPoint,
    /// ML-VAMP state evolution (variances only, no theta root).
    #[serde(rename = "ml-vamp")]
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

impl std::str::FromStr for SchemeChoice {
    type Err = String;
    /// `auto`, `fixed-point` or `ml-vamp` (the names of [`Scheme`]'s `Display`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(SchemeChoice::Auto),
            "fixed-point" => Ok(SchemeChoice::Only(Scheme::FixedPoint)),
            "ml-vamp" => Ok(SchemeChoice::Only(Scheme::Vamp)),
            other => Err(format!(
                "unknown scheme \"{other}\"; allowed: \"auto\", \"fixed-point\", \"ml-vamp\""
            )),
        }
    }
}

/// Validated solver settings.
#[derive(Clone, Copy, Debug)]
pub struct SolverOptions {
    pub(super) tol: f64,
    pub(super) max_iter: usize,
    pub(super) min_damping: f64,
    pub(super) choice: SchemeChoice,
    pub(super) rule: RuleSize,
    pub(super) multistart: bool,
    pub(super) continuation: bool,
    /// Wall-clock budget of one solve in seconds (`None`: unbounded).
    pub(super) max_seconds: Option<f64>,
    /// The instant the running solve must stop by: set from `max_seconds` when a solve starts.
    pub(super) deadline: Option<std::time::Instant>,
    /// Polled between sweeps; `true` stops the solve with [`ReplicaError::Interrupted`].
    pub(super) cancel: Option<fn() -> bool>,
}

/// Default relative tolerance on the order parameters: the potential is then right to about
/// `1e-9`, far below the quadrature's error and every reported digit.
pub const DEFAULT_TOL: f64 = 1e-9;
/// Default most sweeps per start: a cap on the work of a start that does not settle; a start
/// still above the tolerance after it is reported not converged.
pub const DEFAULT_MAX_ITER: usize = 3000;
/// Default floor of the damping factor: the damping is cut while the residual jumps, never
/// below this (so that a damped start still moves).
pub const DEFAULT_MIN_DAMPING: f64 = 0.05;

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            tol: DEFAULT_TOL,
            max_iter: DEFAULT_MAX_ITER,
            min_damping: DEFAULT_MIN_DAMPING,
            choice: SchemeChoice::Auto,
            rule: RuleSize::default(),
            multistart: true,
            continuation: true,
            max_seconds: None,
            deadline: None,
            cancel: None,
        }
    }
}

impl SolverOptions {
    /// Convergence threshold on the largest relative change of any order parameter in one sweep.
    pub fn with_tol(mut self, tol: f64) -> Result<Self, ReplicaError> {
        let unit = Rule::Open { lo: 0.0, hi: 1.0 };
        replica_params::in_range(Field::Setting("tol".into()), tol, unit)?;
        self.tol = tol;
        Ok(self)
    }
    /// Largest number of sweeps per start.
    pub fn with_max_iter(mut self, n: usize) -> Result<Self, ReplicaError> {
        replica_params::at_least_one(Field::Setting("max_iter".into()), n)?;
        self.max_iter = n;
        Ok(self)
    }
    /// Smallest damping factor the adaptive damping may reach.
    pub fn with_min_damping(mut self, d: f64) -> Result<Self, ReplicaError> {
        let unit = Rule::LeftOpen { lo: 0.0, hi: 1.0 };
        replica_params::in_range(Field::Setting("min_damping".into()), d, unit)?;
        self.min_damping = d;
        Ok(self)
    }
    pub fn with_scheme(mut self, choice: SchemeChoice) -> Self {
        self.choice = choice;
        self
    }
    /// Quadrature sizes for the channel integrals (checked: [`RuleSize::check`]).
    pub fn with_rule(mut self, rule: RuleSize) -> Result<Self, ReplicaError> {
        self.rule = rule.check()?;
        Ok(self)
    }
    /// Whether to try every start (default) or only the first.
    pub fn with_multistart(mut self, yes: bool) -> Self {
        self.multistart = yes;
        self
    }
    /// Whether a chain on which every start fails is followed by continuation in the noise
    /// (default; only with [`SchemeChoice::Auto`], as it uses both schemes).
    pub fn with_continuation(mut self, yes: bool) -> Self {
        self.continuation = yes;
        self
    }
    /// A wall-clock budget per solve: past it, every running start stops at its next sweep and
    /// the solve ends with `NotConverged` saying so. A safety net for services and grids, not a
    /// substitute for a solver that converges.
    pub fn with_max_seconds(mut self, secs: f64) -> Result<Self, ReplicaError> {
        if !(secs.is_finite() && secs > 0.0 && secs <= 1e9) {
            return Err(ReplicaError::invalid(
                Field::Setting("max_seconds".into()),
                secs,
                "must lie in (0, 1e9]",
            ));
        }
        self.max_seconds = Some(secs);
        Ok(self)
    }
    /// The budget set by [`SolverOptions::with_max_seconds`].
    pub fn max_seconds(&self) -> Option<f64> {
        self.max_seconds
    }
    /// A check polled between sweeps (and between the truncations of an all-layers solve): when
    /// it returns `true` the solve stops with [`ReplicaError::Interrupted`]. The Python binding
    /// uses it to honour Ctrl-C; it should be cheap (it runs once per sweep).
    pub fn with_cancel(mut self, check: fn() -> bool) -> Self {
        self.cancel = Some(check);
        self
    }
    /// Whether the cancellation check (if any) asks to stop now.
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c())
    }
    pub fn rule(&self) -> RuleSize {
        self.rule
    }
    pub fn tol(&self) -> f64 {
        self.tol
    }
}
