//! replica-mi: entropy and mutual information of multi-layer stochastic networks by the replica
//! formula (Gabrie et al., NeurIPS 2018), with independent checks.
#![deny(clippy::float_cmp)]

pub mod replica;
pub mod exact;
pub mod spec;
