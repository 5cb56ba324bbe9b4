//! Checked parameters: a value that has passed its rules, and cannot be built or changed without
//! passing them.
//!
//! Every parameter type that an algorithm consumes (the synthetic data sets of [`crate::synth`],
//! the training settings and network descriptions of [`crate::nn`]; in the root crate
//! `replica-mi`, which re-exports this module as `replica_mi::checked`, the figure configurations
//! and the recorder settings of the bridge) comes in two stages, the linfa model:
//!
//! 1. the user-facing type (`RegressionParams`, `Fig3Config`, ...): public fields, a constructor
//!    with the paper's defaults, chained setters, serde where it has it; it may hold any value;
//! 2. [`Checked<T>`]: the same value after its rules held. Its field is private and its only
//!    constructor, [`Checked::new`], runs the rules ([`Check::check_rules`]), so a `Checked<T>`
//!    always holds a valid `T`. It reads as a `T` ([`Deref`], [`Checked::get`]) but gives no
//!    mutable access; [`Checked::into_inner`] hands the value back to be changed and checked again.
//!
//! Each type also has a `check()` (synth, `TrainConfig`, `NetworkSpec`, `MiConfig`) or
//! `validate()` (figures) method, `&self -> Result<Checked<Self>, Error>`, with the same typed
//! error as before. The algorithms (`generate`, the figures' `run` functions, `nn::train`,
//! `nn::Trainer::new`, `nn::Network::new`, `bridge::MiRecorder::new`) take the `Checked` type, so
//! an unchecked value cannot reach them; the convenience entry points on the unchecked types
//! (`RegressionParams::generate`, ...) check first.
//!
//! ```
//! use replica_nn::synth::RegressionParams;
//!
//! let params = RegressionParams::new(10).gamma(3.0);
//! let valid = params.check()?; // Checked<RegressionParams>
//! assert_eq!(valid.n_in, 10); // reads as the parameters
//! let data = valid.generate(); // infallible: the rules hold
//! assert_eq!(data.train.n, 30);
//! assert!(RegressionParams::new(0).check().is_err());
//! # Ok::<(), replica_nn::synth::SynthError>(())
//! ```
//!
//! A `Checked` cannot be built around the check, nor changed in place:
//!
//! ```compile_fail
//! use replica_nn::checked::Checked;
//! use replica_nn::synth::RegressionParams;
//! let valid = Checked(RegressionParams::new(0)); // private field
//! ```
//!
//! ```compile_fail
//! use replica_nn::synth::RegressionParams;
//! let mut valid = RegressionParams::new(10).check().unwrap();
//! valid.gamma = -1.0; // no DerefMut
//! ```
//!
//! Training takes checked settings:
//!
//! ```no_run
//! use replica_nn::nn::{train, Network, NnError, NoObserver, TensorData, TrainConfig};
//! fn run(net: &Network, data: &TensorData) -> Result<(), NnError> {
//!     let cfg = TrainConfig::regression().epochs(3);
//!     train(net, data, &cfg.check()?, &mut NoObserver)?;
//!     Ok(())
//! }
//! ```
//!
//! the builder itself does not compile there:
//!
//! ```compile_fail
//! use replica_nn::nn::{train, Network, NoObserver, TensorData, TrainConfig};
//! fn run(net: &Network, data: &TensorData) {
//!     let cfg = TrainConfig::regression().batch_size(0);
//!     let _ = train(net, data, &cfg, &mut NoObserver); // expected `&Checked<TrainConfig>`
//! }
//! ```

use std::ops::Deref;

/// The rules of a parameter type (implemented once per type, next to the type).
pub trait Check {
    /// The typed error naming the first field that breaks a rule.
    type Error;
    /// `Ok(())` when every rule holds, otherwise the first violation.
    fn check_rules(&self) -> Result<(), Self::Error>;
}

/// A `T` whose rules ([`Check`]) held when it was built; read-only.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked<T>(T);

impl<T: Check> Checked<T> {
    /// `value` if its rules hold, otherwise the first violation.
    pub fn new(value: T) -> Result<Self, T::Error> {
        value.check_rules()?;
        Ok(Checked(value))
    }
}

impl<T> Checked<T> {
    /// The checked value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// The value, unchecked again (to change it; check it again to use it).
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Checked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> AsRef<T> for Checked<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

/// Serialized as the value itself.
impl<T: serde::Serialize> serde::Serialize for Checked<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Read as the value itself, then checked: a value that breaks a rule is a deserialization error
/// (with the rule's message).
impl<'de, T> serde::Deserialize<'de> for Checked<T>
where
    T: Check + serde::Deserialize<'de>,
    T::Error: std::fmt::Display,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = T::deserialize(d)?;
        Checked::new(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Positive(i32);

    impl Check for Positive {
        type Error = String;
        fn check_rules(&self) -> Result<(), String> {
            if self.0 > 0 {
                Ok(())
            } else {
                Err(format!("{} must be > 0", self.0))
            }
        }
    }

    #[test]
    fn only_valid_values_are_checked() {
        let ok = Checked::new(Positive(3)).unwrap();
        assert_eq!(ok.get(), &Positive(3));
        let read: &Positive = &ok; // through Deref
        assert_eq!(read.0, 3);
        assert_eq!(ok.clone().into_inner(), Positive(3));
        assert_eq!(Checked::new(Positive(0)), Err("0 must be > 0".to_string()));
    }

    #[test]
    fn serde_is_transparent_and_checks() {
        let ok = Checked::new(Positive(3)).unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), "3");
        let back: Checked<Positive> = serde_json::from_str("3").unwrap();
        assert_eq!(back, ok);
        let err = serde_json::from_str::<Checked<Positive>>("-1").unwrap_err();
        assert!(err.to_string().contains("-1 must be > 0"), "{err}");
    }
}
