//! The training side (candle): USV layers, dense layers, networks from a compact description,
//! plain-SGD training with an epoch callback.
//!
//! `nn` knows candle, faer, rand, std and its own types only, with the crate's generic
//! [`Checked`](crate::checked::Checked) wrapper for its settings (the crate `replica-nn` does not
//! depend on the estimator, so Cargo enforces it): it hands out plain data (a layer's spectrum as
//! numbers, its [`Act`]) and takes training data through the [`Samples`] trait. What connects it
//! to the estimator, the recorder of replica entropies and mutual informations during training
//! included, lives in the bridge module of the root crate (`src/bridge/`).
//!
//! * [`UsvLayer`]: `W = U diag(s) V^T` (`n_out x n_in`) with `U`, `V` frozen from the SVD of a
//!   seeded Gaussian draw `G` (entries `N(0, coef^2 / n_in)`), only `s` trainable. At
//!   initialisation `W = G`. Its spectrum for the estimator is `alpha = n_out / n_in` and the
//!   `n_in` eigenvalues of `W^T W`: `s_i^2` padded with zeros (no decomposition during training).
//! * [`Dense`]: an ordinary weight matrix (entries `N(0, 1/n_in)`), no bias; the last layer.
//! * [`Network`]: layers from a [`NetworkSpec`] such as `500-1000-500-250-100-2` with
//!   `linear-relu-linear-relu-softmax`, checked ([`NetworkSpec::check`]) before it is built.
//! * [`train()`]: SGD with a constant learning rate, MSE or cross-entropy, reshuffled minibatches,
//!   an [`EpochObserver`] called after every epoch (and once at initialisation); it takes the
//!   checked settings ([`TrainConfig::check`]), so an invalid setting never reaches the loop. It
//!   draws no progress bar: callers draw theirs from the observer.
//! * [`StepEngine`]: how a [`Trainer`] computes its steps, the CPU engine or candle's autograd
//!   ([`EngineKind`], recorded in every [`TrainHistory`] and [`EpochContext`]).
//!
//! All randomness comes from seeded host generators (`rand_chacha`); candle's own random number
//! generator is never used, so the same seeds on the same machine give bit-identical losses and
//! estimates.

pub mod device;
pub mod engine;
mod host;
pub mod layer;
pub mod network;
pub mod train;

pub use device::device;
pub use engine::{EngineKind, Split, StepEngine};
pub use layer::{Act, Dense, LayerSpectrum, UsvLayer};
pub use network::{LayerKind, LayerSpec, NetLayer, Network, NetworkSpec};
pub use train::{
    train, train_from, EpochContext, EpochObserver, EpochStats, Loss, NoObserver, Samples,
    TensorData, TrainConfig, TrainHistory, TrainPosition, Trainer,
};

use replica_params::{ParamError, Rule};
use thiserror::Error;

/// Errors of the training side.
#[derive(Debug, Error)]
pub enum NnError {
    /// An error inside candle (shapes, devices, kernels).
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A network description or training setting violates its rule.
    #[error(transparent)]
    InvalidParameter(#[from] ParamError),
    /// The requested device cannot be used.
    #[error("device {spec:?}: {reason}")]
    Device { spec: String, reason: String },
    /// A decomposition in faer failed.
    #[error("linear algebra: {0}")]
    Linalg(String),
    /// An epoch observer asked to stop or failed.
    #[error("epoch observer: {0}")]
    Observer(String),
}

impl NnError {
    pub(crate) fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        rule: impl Into<Rule>,
    ) -> Self {
        NnError::InvalidParameter(ParamError::new(field.into(), value, rule))
    }
}
