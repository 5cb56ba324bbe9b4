//! replica-core: the estimator of replica-mi, with nothing of training or plotting.
//!
//! The replica formula (Gabrie et al., NeurIPS 2018, Claim 1) for `H(T_L)`, `I(X;T_L)` and the
//! MMSE of multi-layer stochastic networks ([`replica`]), the spec-file format ([`spec`]), the exact
//! closed forms and non-parametric estimators used to check it ([`exact`]), and the solver guard
//! panel ([`guard`]). Every front end assembles its chains with [`ChainBuilder`]. The figure crate (`replica-mi`) and the Python package both depend on this
//! crate; it depends on neither, so the direction is enforced by the build.
//!
//! ```
//! use replica_core::{solve, Activation, ChainBuilder, LayerInput, Prior, SolverOptions, WeightsInput};
//!
//! let mut b = ChainBuilder::new(Prior::gaussian(0.0, 1.0)?);
//! b.push(LayerInput::new(Activation::Relu, 0.0, WeightsInput::Gaussian { var: 1.0 }).alpha(1.0))?;
//! b.push(LayerInput::new(Activation::Relu, 1e-5, WeightsInput::Gaussian { var: 1.0 }).alpha(1.0))?;
//! let built = b.build()?; // built.notes: a matrix read as its transpose, the spectrum-only note
//! let est = solve(&built.chain, &SolverOptions::default())?; // Err(NotConverged) is never hidden
//! println!("H = {} nats, I = {:?}, via {} in {} sweeps", est.entropy, est.mutual_information,
//!          est.scheme, est.iterations);
//!
//! // One linear layer, Gaussian input and weights, noise 0.01, alpha = 0.5 (reference case c049).
//! let mut b = ChainBuilder::new(Prior::gaussian(0.0, 1.0)?);
//! b.push(LayerInput::new(Activation::Linear, 0.01, WeightsInput::Gaussian { var: 1.0 }).alpha(0.5))?;
//! let est = solve(&b.build()?.chain, &SolverOptions::default())?;
//! assert!((est.entropy - 0.6376598551679125).abs() < 1e-10); // nats per input dimension
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(clippy::float_cmp)]

pub mod builder;
pub mod exact;
pub mod guard;
pub mod input_limits;
pub mod random_chain;
pub mod replica;
pub mod report;
pub(crate) mod simd;
pub mod spec;
pub mod weights;

pub use builder::{
    BuildError, BuiltChain, ChainBuilder, LayerInput, LayerInputError, MatrixInput, StoredMatrix,
    WeightsInput,
};
pub use replica::{
    solve, solve_all_layers, solve_all_layers_warm, solve_warm, Activation, ActivationKind, Chain,
    DiscreteSpectrum, Ensemble, Estimate, Layer, Prior, ReplicaError, Scheme, SchemeChoice,
    SolverOptions, WarmStart,
};
/// The parameter error and its validators ([`replica_params`]), for the crates built on this one.
pub use replica_params as params;
pub use replica_params::{ParamError, Rule};
pub use spec::{load_spec, load_spec_with_options, parse_spec, SpecError, SpecOptions};

/// Hooks for the reference tests and the front ends' own numerics: internals that are not part of
/// the API and may change without notice.
#[doc(hidden)]
pub mod hooks {
    pub use crate::replica::bounds::prior_entropy;
    pub use crate::replica::channel::NOISELESS_V_SWITCH;
    pub use crate::replica::potential::phi;
    pub use crate::simd::clear_upper_simd_state;
}
