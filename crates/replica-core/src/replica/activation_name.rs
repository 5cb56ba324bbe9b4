//! The names of the activations: one canonical word per variant of [`Activation`], the word spec
//! files, the Python package, CSV columns and the network side (`Act` of the figure crate, whose
//! shared variants carry the same words) use.
//!
//! * [`ActivationKind`]: the variant without its parameters, with [`ActivationKind::name`] and
//!   `FromStr` (`linear`, `relu`, `leaky-relu`, `hardtanh`, `sign`); what a spec's
//!   `activation = "..."` names, its parameters (`slope`, `threshold`) being separate keys.
//! * [`Activation::name`]: the canonical word of the variant; `Display` writes the word with the
//!   parameters (`leaky-relu(slope=0.1)`, `hardtanh(threshold=1)`), and `FromStr` reads that text
//!   back to the same value (and the bare word where the parameter has a default: `hardtanh` is
//!   threshold 1).

use super::channel::Activation;
use super::error::ReplicaError;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A variant of [`Activation`] without its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActivationKind {
    Linear,
    Relu,
    LeakyRelu,
    Hardtanh,
    Sign,
}

impl ActivationKind {
    /// Every kind, in the order of [`Activation`]'s variants.
    pub const ALL: [ActivationKind; 5] = [
        ActivationKind::Linear,
        ActivationKind::Relu,
        ActivationKind::LeakyRelu,
        ActivationKind::Hardtanh,
        ActivationKind::Sign,
    ];

    /// Every canonical name, in the order of [`ActivationKind::ALL`].
    pub const NAMES: [&'static str; 5] = [
        ActivationKind::Linear.name(),
        ActivationKind::Relu.name(),
        ActivationKind::LeakyRelu.name(),
        ActivationKind::Hardtanh.name(),
        ActivationKind::Sign.name(),
    ];

    /// The canonical name.
    pub const fn name(self) -> &'static str {
        match self {
            ActivationKind::Linear => "linear",
            ActivationKind::Relu => "relu",
            ActivationKind::LeakyRelu => "leaky-relu",
            ActivationKind::Hardtanh => "hardtanh",
            ActivationKind::Sign => "sign",
        }
    }

    /// The name of the kind's parameter, if it has one (`slope`, `threshold`).
    pub const fn parameter(self) -> Option<&'static str> {
        match self {
            ActivationKind::LeakyRelu => Some("slope"),
            ActivationKind::Hardtanh => Some("threshold"),
            _ => None,
        }
    }
}

impl fmt::Display for ActivationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a text is not an activation.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum ParseActivationError {
    /// The word names no activation.
    #[error("unknown activation \"{0}\"; allowed: {allowed}", allowed = quoted_names())]
    Unknown(String),
    /// The parameters are missing, misnamed or not a number.
    #[error("activation \"{text}\": {rule}")]
    Malformed { text: String, rule: String },
    /// The parameter breaks its rule ([`Activation::check`]).
    #[error(transparent)]
    Invalid(ReplicaError),
}

/// The canonical names, quoted and comma-separated.
fn quoted_names() -> String {
    ActivationKind::NAMES
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for ActivationKind {
    type Err = ParseActivationError;
    /// The kind of a canonical name (exact, case-sensitive: the names spec files use).
    fn from_str(s: &str) -> Result<Self, ParseActivationError> {
        ActivationKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| ParseActivationError::Unknown(s.to_string()))
    }
}

impl Activation {
    /// The variant without its parameters.
    pub fn kind(&self) -> ActivationKind {
        match self {
            Activation::Linear => ActivationKind::Linear,
            Activation::Relu => ActivationKind::Relu,
            Activation::LeakyRelu { .. } => ActivationKind::LeakyRelu,
            Activation::Hardtanh { .. } => ActivationKind::Hardtanh,
            Activation::Sign => ActivationKind::Sign,
        }
    }

    /// The canonical name of the variant (no parameters): `linear`, `relu`, `leaky-relu`,
    /// `hardtanh`, `sign`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The variant's parameter, if it has one (`slope` or `threshold`).
    pub fn parameter(&self) -> Option<f64> {
        match *self {
            Activation::LeakyRelu { slope } => Some(slope),
            Activation::Hardtanh { threshold } => Some(threshold),
            _ => None,
        }
    }
}

/// The name with the parameter: `linear`, `relu`, `leaky-relu(slope=0.1)`,
/// `hardtanh(threshold=1)`, `sign` (the shortest decimal that reads back to the same `f64`).
impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind().parameter(), self.parameter()) {
            (Some(key), Some(value)) => write!(f, "{}({key}={value})", self.name()),
            _ => f.write_str(self.name()),
        }
    }
}

/// Reads what `Display` writes (the same value back), and the bare name where the parameter has
/// a default (`hardtanh`: threshold 1). The parameter is checked ([`Activation::check`]).
impl FromStr for Activation {
    type Err = ParseActivationError;
    fn from_str(s: &str) -> Result<Self, ParseActivationError> {
        let malformed = |rule: String| ParseActivationError::Malformed {
            text: s.to_string(),
            rule,
        };
        let (word, param) = match s.split_once('(') {
            None => (s, None),
            Some((word, rest)) => {
                let inner = rest
                    .strip_suffix(')')
                    .ok_or_else(|| malformed("the parameter list must end with ')'".into()))?;
                (word, Some(inner))
            }
        };
        let kind: ActivationKind = word.parse()?;
        let value = match (kind.parameter(), param) {
            (None, None) => None,
            (None, Some(_)) => return Err(malformed(format!("{kind} takes no parameter"))),
            (Some(key), Some(inner)) => {
                let (k, v) = inner
                    .split_once('=')
                    .ok_or_else(|| malformed(format!("expected {kind}({key}=VALUE)")))?;
                if k != key {
                    return Err(malformed(format!("the parameter of {kind} is {key}")));
                }
                Some(
                    v.parse::<f64>()
                        .map_err(|_| malformed(format!("{key} = \"{v}\" is not a number")))?,
                )
            }
            (Some(key), None) => match kind {
                ActivationKind::Hardtanh => Some(1.0),
                _ => {
                    return Err(malformed(format!(
                        "{kind} needs its {key}: {kind}({key}=VALUE)"
                    )))
                }
            },
        };
        let act = match (kind, value) {
            (ActivationKind::Linear, _) => Activation::Linear,
            (ActivationKind::Relu, _) => Activation::Relu,
            (ActivationKind::Sign, _) => Activation::Sign,
            (ActivationKind::LeakyRelu, Some(slope)) => Activation::LeakyRelu { slope },
            (ActivationKind::Hardtanh, Some(threshold)) => Activation::Hardtanh { threshold },
            (ActivationKind::LeakyRelu | ActivationKind::Hardtanh, None) => {
                unreachable!("a kind with a parameter has a value here")
            }
        };
        act.check().map_err(ParseActivationError::Invalid)?;
        Ok(act)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_name_round_trips() {
        for (kind, name) in ActivationKind::ALL.into_iter().zip(ActivationKind::NAMES) {
            assert_eq!(kind.name(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(name.parse::<ActivationKind>(), Ok(kind), "{name}");
        }
        assert!(matches!(
            "tanh".parse::<ActivationKind>(),
            Err(ParseActivationError::Unknown(_))
        ));
        assert!("ReLU".parse::<ActivationKind>().is_err());
    }

    /// One value per variant (several parameters where there are some): the name is the
    /// variant's word, the display reads back to the same value, and a parameter-free or
    /// default-parameter value reads back from its bare name.
    #[test]
    fn every_activation_round_trips() {
        let table = [
            (Activation::Linear, "linear", "linear", true),
            (Activation::Relu, "relu", "relu", true),
            (
                Activation::LeakyRelu { slope: 0.1 },
                "leaky-relu",
                "leaky-relu(slope=0.1)",
                false,
            ),
            (
                Activation::LeakyRelu { slope: 0.0 },
                "leaky-relu",
                "leaky-relu(slope=0)",
                false,
            ),
            (
                Activation::LeakyRelu {
                    slope: 0.123456789012345,
                },
                "leaky-relu",
                "leaky-relu(slope=0.123456789012345)",
                false,
            ),
            (
                Activation::Hardtanh { threshold: 1.0 },
                "hardtanh",
                "hardtanh(threshold=1)",
                true,
            ),
            (
                Activation::Hardtanh { threshold: 0.7 },
                "hardtanh",
                "hardtanh(threshold=0.7)",
                false,
            ),
            (Activation::Sign, "sign", "sign", true),
        ];
        let mut kinds = std::collections::BTreeSet::new();
        for (act, name, shown, bare) in table {
            kinds.insert(act.kind());
            assert_eq!(act.name(), name);
            assert_eq!(act.kind().name(), name);
            assert_eq!(act.to_string(), shown);
            assert_eq!(shown.parse::<Activation>(), Ok(act), "{shown}");
            if bare {
                assert_eq!(name.parse::<Activation>(), Ok(act), "{name}");
            }
        }
        assert_eq!(
            kinds.len(),
            ActivationKind::ALL.len(),
            "every variant in the table"
        );
    }

    #[test]
    fn bad_texts_are_rejected() {
        for bad in [
            "leaky-relu",
            "leaky-relu(slope=2)",
            "leaky-relu(threshold=0.1)",
            "leaky-relu(slope=x)",
            "leaky-relu(slope=0.1",
            "hardtanh(threshold=0)",
            "relu(slope=0.1)",
            "probit",
            "",
        ] {
            assert!(bad.parse::<Activation>().is_err(), "{bad}");
        }
        assert!(matches!(
            "hardtanh(threshold=-1)".parse::<Activation>(),
            Err(ParseActivationError::Invalid(_))
        ));
    }
}
