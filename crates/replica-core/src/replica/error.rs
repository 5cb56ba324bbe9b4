//! Typed errors of the estimator.

use thiserror::Error;

/// Everything that can go wrong when building a chain or solving the replica equations.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ReplicaError {
    /// A parameter violates its rule; `field` names it as in the spec file.
    #[error("invalid {field} = {value}: {rule}")]
    InvalidParameter {
        field: String,
        value: String,
        rule: String,
    },
    /// The chain as a whole is inconsistent (e.g. a spectrum whose size does not fit).
    #[error("invalid chain: {0}")]
    InvalidChain(String),
    /// The theta-equation of an empirical spectrum has no root in its bracket.
    #[error("the theta equation has no root for gamma = {gamma} (bounded spectrum; use the ML-VAMP scheme)")]
    NoThetaRoot { gamma: f64 },
    /// No start of any allowed scheme converged.
    #[error("the replica equations did not converge: {0}")]
    NotConverged(String),
    /// A NaN or infinity appeared during the iteration.
    #[error("non-finite value during the iteration: {0}")]
    NonFinite(String),
}

impl ReplicaError {
    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        rule: impl Into<String>,
    ) -> Self {
        ReplicaError::InvalidParameter {
            field: field.into(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }
}
