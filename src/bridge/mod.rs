//! The bridge between the training side ([`crate::nn`]) and the rest: the estimator
//! ([`crate::replica`]) and the data sets ([`crate::synth`]).
//!
//! `nn` knows candle and its own types only; it hands out plain data (a layer's spectrum as
//! numbers, [`LayerSpectrum`]; its activation, [`Act`]) and takes training data through the
//! [`Samples`](crate::nn::Samples) trait. This module is the one place that knows both sides:
//!
//! * the conversions from the network's vocabulary to the estimator's: [`Act`] to
//!   [`Activation`] ([`channel`]; softmax is not a replica channel) and a layer's spectrum to a
//!   replica [`Layer`] ([`replica_layer`]);
//! * [`MiRecorder`] (`recorder.rs`): an epoch observer that builds the replica chain of every
//!   leading USV layer from the current spectra and records `H(T_l)`, `I(X; T_l)` (and the exact
//!   Gaussian values of linear networks), warm-started from the previous evaluation.
//!
//! The data sets ([`crate::synth::Dataset`], synthetic or IDX) are training data through
//! [`Samples`](crate::nn::Samples), implemented beside them in `replica-nn`.

mod recorder;

pub use recorder::{EpochRecord, MiConfig, MiFailure, MiRecord, MiRecorder, MiSetting, Per};

use crate::nn::{Act, LayerSpectrum};
use crate::replica::{Activation, DiscreteSpectrum, Ensemble, Layer, ReplicaError};
use replica_core::params::ParamError;
use thiserror::Error;

/// Errors of the bridge: a recorder setting that breaks its rule, a failed decomposition.
/// (A failed *solve* is recorded in [`MiRecord::error`], not raised.)
#[derive(Debug, Error)]
pub enum BridgeError {
    /// A recorder setting violates its rule.
    #[error(transparent)]
    InvalidParameter(#[from] ParamError),
    /// A decomposition in faer failed.
    #[error("linear algebra: {0}")]
    Linalg(String),
}

/// A network activation that has no replica channel (softmax).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("{0} is not a replica channel")]
pub struct NotAChannel(pub Act);

/// The replica channel of a network activation, of the same name: `linear`, `relu`, `hardtanh`
/// (threshold 1, as [`Act::Hardtanh`] clamps to `[-1, 1]`); softmax has none. (A function, not
/// `TryFrom`: both types belong to other crates, `replica-nn` and `replica-core`.)
pub fn channel(act: Act) -> Result<Activation, NotAChannel> {
    match act {
        Act::Linear => Ok(Activation::Linear),
        Act::Relu => Ok(Activation::Relu),
        Act::Hardtanh => Ok(Activation::Hardtanh { threshold: 1.0 }),
        Act::Softmax => Err(NotAChannel(act)),
    }
}

/// The replica layer with the spectrum `spectrum` (its `alpha` and the eigenvalues of `W^T W`,
/// scale 1), activation `act` and noise variance `noise_var`.
pub fn replica_layer(
    spectrum: &LayerSpectrum,
    act: Activation,
    noise_var: f64,
) -> Result<Layer, ReplicaError> {
    Layer::new(
        spectrum.alpha,
        act,
        noise_var,
        Ensemble::Discrete(DiscreteSpectrum::from_eigenvalues(
            &spectrum.eigenvalues,
            1.0,
        )?),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::ActivationKind;

    /// Every network activation: its name reads back to itself, and where it is a replica
    /// channel the estimator's activation has the same name, reads back from it to the same
    /// value, and converts back to the same `Act`.
    #[test]
    fn act_and_activation_agree_on_names() {
        let table = [
            (Act::Linear, "linear", Some(Activation::Linear)),
            (Act::Relu, "relu", Some(Activation::Relu)),
            (
                Act::Hardtanh,
                "hardtanh",
                Some(Activation::Hardtanh { threshold: 1.0 }),
            ),
            (Act::Softmax, "softmax", None),
        ];
        for (act, name, want) in table {
            assert_eq!(act.name(), name);
            assert_eq!(act.to_string(), name);
            assert_eq!(name.parse::<Act>().unwrap(), act, "{name}");
            assert_eq!(serde_json::to_string(&act).unwrap(), format!("\"{name}\""));
            match want {
                Some(c) => {
                    assert_eq!(channel(act), Ok(c));
                    assert_eq!(c.name(), name);
                    assert_eq!(name.parse::<Activation>(), Ok(c), "{name}");
                    assert_eq!(name.parse::<ActivationKind>(), Ok(c.kind()));
                    assert_eq!(c.name().parse::<Act>().unwrap(), act);
                }
                None => {
                    assert_eq!(channel(act), Err(NotAChannel(act)));
                    assert!(name.parse::<ActivationKind>().is_err());
                }
            }
        }
        // Every replica channel a network can have is in the table; the other kinds have no
        // network activation (and so no network name).
        for kind in ActivationKind::ALL {
            let in_table = table
                .iter()
                .any(|(_, _, c)| c.map(|c| c.kind()) == Some(kind));
            assert_eq!(
                in_table,
                kind.name().parse::<Act>().is_ok(),
                "{kind}: network and estimator disagree"
            );
        }
    }
}
