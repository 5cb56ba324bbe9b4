//! The estimator's integration tests, one binary (no candle, polars or plotters is linked):
//! each module a family of checks, `common` what they share.

mod budgets;
mod builder;
mod candidates;
mod common;
mod exact;
mod extreme_chains;
mod interface_limit;
mod invariance;
mod nonparam;
mod random_chains;
mod recovered;
mod refs_cases;
mod refs_scalar;
mod warm;
mod weight_files;
