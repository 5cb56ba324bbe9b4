//! replica-mi: entropy and mutual information of multi-layer stochastic networks by the replica
//! formula (Gabrie et al., NeurIPS 2018), with independent checks; USV networks trained with
//! candle, and the paper's figures.
//!
//! The estimator itself lives in the lean crate `replica-core` (no candle, polars or plotters), the
//! training side (networks, training, synthetic data) in `replica-nn` (no estimator); both are
//! re-exported here under the same paths (`replica_mi::replica`, `replica_mi::nn`,
//! `replica_mi::synth`, `replica_mi::checked`, ...).
//!
//! ```
//! use replica_mi::replica::{solve, Activation, Chain, Ensemble, Layer, Prior, SolverOptions};
//!
//! // One linear layer, Gaussian input and weights, noise 0.01, alpha = 0.5 (reference case c049).
//! let chain = Chain::new(
//!     Prior::gaussian(0.0, 1.0)?,
//!     vec![Layer::new(0.5, Activation::Linear, 0.01, Ensemble::Gaussian { var: 1.0 })?],
//! )?;
//! let est = solve(&chain, &SolverOptions::default())?;
//! assert!((est.entropy - 0.6376598551679125).abs() < 1e-10); // nats per input dimension
//! # Ok::<(), replica_mi::replica::ReplicaError>(())
//! ```
#![deny(clippy::float_cmp)]

pub use replica_core::{exact, guard, random_chain, replica, report, spec, weights};
pub use replica_nn::{checked, nn, synth};

pub mod bridge;
pub mod data;
pub mod experiment;
