//! Typed errors of the estimator.

use super::failure::FailureReport;
use replica_params::{ParamError, Rule};
use thiserror::Error;

/// Everything that can go wrong when building a chain or solving the replica equations.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ReplicaError {
    /// A parameter violates its rule; its field names it as in the spec file.
    #[error(transparent)]
    InvalidParameter(#[from] ParamError<Field>),
    /// The chain as a whole is inconsistent (e.g. a spectrum whose size does not fit).
    #[error("invalid chain: {0}")]
    InvalidChain(String),
    /// The theta-equation of an empirical spectrum has no root in its bracket.
    #[error("the theta equation has no root for gamma = {gamma} (bounded spectrum: use the ML-VAMP scheme, scheme=\"ml-vamp\" in Python or --scheme ml-vamp on the command line)")]
    NoThetaRoot { gamma: f64 },
    /// No start of any allowed scheme gave a valid stationary point: every failed start, with
    /// its scheme and why ([`FailureReport::attempts`]).
    #[error("the replica equations did not converge: {0}")]
    NotConverged(FailureReport),
    /// A NaN or infinity appeared during the iteration.
    #[error("non-finite value during the iteration: {0}")]
    NonFinite(String),
    /// The caller's cancellation check ([`super::SolverOptions::with_cancel`]) asked the solve to
    /// stop.
    #[error("interrupted")]
    Interrupted,
}

/// The parameter an [`ReplicaError::InvalidParameter`] is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    /// `prior.<name>`: `var`, `mean` or `p`.
    Prior(&'static str),
    /// A field of a layer. A layer's constructor does not know the layer's index (`None`); the
    /// chain, the spec reader and the Python binding fill it in ([`Field::in_layer`]).
    Layer {
        index: Option<usize>,
        field: LayerField,
    },
    /// A setting outside the chain: `tol`, `rule.hermite`, `generator.alpha`, ...
    Setting(String),
}

/// A field of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerField {
    Alpha,
    NoiseVar,
    /// The leaky-ReLU slope.
    Slope,
    /// The hardtanh threshold.
    Threshold,
    /// The variance of Gaussian weights.
    WeightsVar,
    /// The scale of a spectrum.
    WeightsScale,
    /// The spectrum, or its entry `entry`.
    Spectrum {
        entry: Option<usize>,
    },
}

impl LayerField {
    /// The name inside a layer of a spec file (`layers[i].<name>`; activation parameters sit at
    /// the layer's level there).
    fn spec_name(self) -> String {
        match self {
            LayerField::Alpha => "alpha".into(),
            LayerField::NoiseVar => "noise_var".into(),
            LayerField::Slope => "slope".into(),
            LayerField::Threshold => "threshold".into(),
            LayerField::WeightsVar => "weights.var".into(),
            LayerField::WeightsScale => "weights.scale".into(),
            LayerField::Spectrum { entry: None } => "weights.spectrum".into(),
            LayerField::Spectrum { entry: Some(i) } => format!("weights.spectrum[{i}]"),
        }
    }
}

impl Field {
    /// The same field, placed in layer `index` if it is a layer's field of unknown index.
    pub fn in_layer(self, index: usize) -> Field {
        match self {
            Field::Layer { index: None, field } => Field::Layer {
                index: Some(index),
                field,
            },
            other => other,
        }
    }

    /// Whether the field is a layer's spectrum (or an entry of it).
    pub fn is_spectrum(&self) -> bool {
        matches!(
            self,
            Field::Layer {
                field: LayerField::Spectrum { .. },
                ..
            }
        )
    }
}

impl From<LayerField> for Field {
    fn from(field: LayerField) -> Self {
        Field::Layer { index: None, field }
    }
}

/// As in a spec file: `prior.p`, `layers[1].noise_var`, `tol`; a layer's field of unknown index
/// by its name inside the layer, activation parameters as `activation.<name>`.
impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Prior(name) => write!(f, "prior.{name}"),
            Field::Layer {
                index: Some(i),
                field,
            } => write!(f, "layers[{i}].{}", field.spec_name()),
            Field::Layer {
                index: None,
                field: field @ (LayerField::Slope | LayerField::Threshold),
            } => write!(f, "activation.{}", field.spec_name()),
            Field::Layer { index: None, field } => f.write_str(&field.spec_name()),
            Field::Setting(name) => f.write_str(name),
        }
    }
}

impl ReplicaError {
    /// `field` has `value`, which breaks `rule`.
    pub fn invalid(
        field: impl Into<Field>,
        value: impl std::fmt::Display,
        rule: impl Into<Rule>,
    ) -> Self {
        ReplicaError::InvalidParameter(ParamError::new(field.into(), value, rule))
    }
}
