//! The tests of replica-nn, one binary: the training side alone (networks, engines, synthetic
//! data), without the estimator. What needs the estimator or the bridge (the recorder of mutual
//! informations, the draws shared with the exact checks) is tested in the root crate's `tests/`.

mod common;
mod engine;
