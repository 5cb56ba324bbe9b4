//! The replica estimator: pure `f64`, no candle, no I/O.
//!
//! `Chain` (prior + layers) in, [`Estimate`] out: `H(T_L)/n_0`, `I(X;T_L)/n_0`, the MMSE of `X`,
//! and how the replica equations were solved.

pub mod activation_name;
pub mod bounds;
pub mod chain;
pub mod channel;
pub mod error;
pub mod failure;
pub mod gauss;
pub mod potential;
pub mod prior;
pub mod solve;
pub mod spectrum;

pub use activation_name::{ActivationKind, ParseActivationError};
pub use bounds::BoundViolation;
pub use chain::{Chain, Layer};
pub use channel::{Activation, Channel};
pub use error::{Field, LayerField, ReplicaError};
pub use failure::{Attempt, AttemptOutcome, FailureReport, Start};
pub use prior::{Prior, PriorParams};
pub use solve::{
    solve, solve_warm, solve_with, Estimate, OrderParams, Scheme, SchemeChoice, Secants, Solution,
    SolveEvent, SolveWith, SolverOptions, StartAt, StartReport, WarmStart,
};
pub use spectrum::{DiscreteSpectrum, Ensemble, SpectrumParts};

/// Estimates for every truncation `T_1..T_L` of `chain`, first layer first: layer `l` is measured
/// with the output layer's noise variance, the layers before it keep their own noise.
pub fn solve_all_layers(
    chain: &Chain,
    opts: &SolverOptions,
) -> Vec<Result<Estimate, ReplicaError>> {
    let noise = chain.layers().last().unwrap().channel().noise_var();
    (1..=chain.len())
        .map(|l| chain.truncated(l, noise).and_then(|c| solve(&c, opts)))
        .collect()
}
