//! replica-core: the estimator of replica-mi, with nothing of training or plotting.
//!
//! The replica formula (Gabrie et al., NeurIPS 2018, Claim 1) for `H(T_L)`, `I(X;T_L)` and the
//! MMSE of multi-layer stochastic networks ([`replica`]), the spec-file format ([`spec`]), the exact
//! closed forms and non-parametric estimators used to check it ([`exact`]), and the solver guard
//! panel ([`guard`]). The figure crate (`replica-mi`) and the Python package both depend on this
//! crate; it depends on neither, so the direction is enforced by the build.
//!
//! ```
//! use replica_core::replica::{solve, Activation, Chain, Ensemble, Layer, Prior, SolverOptions};
//!
//! // One linear layer, Gaussian input and weights, noise 0.01, alpha = 0.5 (reference case c049).
//! let chain = Chain::new(
//!     Prior::gaussian(0.0, 1.0)?,
//!     vec![Layer::new(0.5, Activation::Linear, 0.01, Ensemble::Gaussian { var: 1.0 })?],
//! )?;
//! let est = solve(&chain, &SolverOptions::default())?;
//! assert!((est.entropy - 0.6376598551679125).abs() < 1e-10); // nats per input dimension
//! # Ok::<(), replica_core::replica::ReplicaError>(())
//! ```
#![deny(clippy::float_cmp)]

pub mod builder;
pub mod exact;
pub mod guard;
pub mod input_limits;
pub mod random_chain;
pub mod replica;
pub mod report;
pub mod simd;
pub mod spec;
pub mod weights;
