//! The replica estimator: pure `f64`, no candle, no I/O.
//!
//! `Chain` (prior + layers) in, [`Estimate`] out: `H(T_L)/n_0`, `I(X;T_L)/n_0`, the MMSE of `X`,
//! and how the replica equations were solved.

//!
//! The submodules are private: what callers need is re-exported here (and at the crate root).

pub(crate) mod activation_name;
pub(crate) mod bounds;
pub(crate) mod chain;
pub(crate) mod channel;
pub(crate) mod error;
pub(crate) mod failure;
pub(crate) mod gauss;
pub(crate) mod potential;
pub(crate) mod prior;
pub(crate) mod solve;
pub(crate) mod spectrum;

pub use activation_name::{ActivationKind, ParseActivationError};
pub use bounds::BoundViolation;
pub use chain::{Chain, Layer};
pub use channel::{Activation, Channel};
pub use error::{Field, LayerField, ReplicaError};
pub use failure::{Attempt, AttemptOutcome, FailureReport, Start};
pub use gauss::RuleSize;
pub use prior::{Prior, PriorParams};
pub use solve::{
    solve, solve_warm, solve_with, Counters, Estimate, OrderParams, Scheme, SchemeChoice, Secants,
    Solution, SolveEvent, SolveWith, SolverOptions, StartAt, StartReport, WarmStart,
};
pub use spectrum::{DiscreteSpectrum, Ensemble, SpectrumParts};

/// Estimates for every truncation `T_1..T_L` of `chain`, first layer first: layer `l` is measured
/// with the output layer's noise variance, the layers before it keep their own noise.
pub fn solve_all_layers(
    chain: &Chain,
    opts: &SolverOptions,
) -> Vec<Result<Estimate, ReplicaError>> {
    solve_all_layers_warm(chain, opts, &[])
}

/// As [`solve_all_layers`], the solve of truncation `T_l` starting from `warm[l - 1]` where that
/// is given (e.g. the previous epoch's estimates of a training run); a missing or `None` entry is
/// a cold start.
pub fn solve_all_layers_warm(
    chain: &Chain,
    opts: &SolverOptions,
    warm: &[Option<WarmStart>],
) -> Vec<Result<Estimate, ReplicaError>> {
    let noise = chain.output_noise_var();
    (1..=chain.len())
        .map(|l| {
            chain
                .truncated(l, noise)
                .and_then(|c| match warm.get(l - 1).and_then(Option::as_ref) {
                    Some(w) => solve_warm(&c, opts, w),
                    None => solve(&c, opts),
                })
        })
        .collect()
}
