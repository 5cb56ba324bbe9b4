//! replica-nn: the training side of replica-mi. Candle networks with USV layers
//! (`W = U diag(s) V^T`, only `s` trained), plain-SGD training with an epoch observer (a CPU
//! engine and candle's autograd behind one [`nn::StepEngine`] trait), and the seeded
//! synthetic data sets of the paper.
//!
//! It knows candle, faer, rand and its own types only: nothing of the replica estimator
//! (`replica-core`), of tables or of plots. What connects a trained network to the estimator lives
//! in the root crate `replica-mi` (its `bridge` module), which re-exports these modules under the
//! same paths (`replica_mi::nn`, `replica_mi::synth`, `replica_mi::checked`).
//!
//! ```
//! use replica_nn::synth::RegressionParams;
//!
//! let data = RegressionParams::new(10).gamma(3.0).generate()?;
//! assert_eq!((data.train.n, data.train.n_in, data.train.n_out), (30, 10, 4));
//! # Ok::<(), replica_nn::synth::SynthError>(())
//! ```
#![deny(clippy::float_cmp)]

pub mod checked;
pub mod draw;
pub mod nn;
pub mod synth;
