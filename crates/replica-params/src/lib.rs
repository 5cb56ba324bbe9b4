//! The one parameter error of replica-mi, and the validators that produce it.
//!
//! Every crate of the workspace (the estimator, the command line, the training library, the
//! figure harness, the Python binding) reports a parameter that breaks its rule as a
//! [`ParamError`]: the field, the offending value as written, and the [`Rule`]. The rules that
//! recur (finite and positive, finite and non-negative, at least one, ...) are checked by the
//! validators of this crate ([`positive`], [`non_negative`], [`finite`], [`at_least_one`],
//! [`in_range`]), so their wording and their treatment of NaN and infinities are the same
//! everywhere: a NaN breaks every rule, an infinity breaks every rule but [`Rule::NotNan`].
//!
//! The field is generic: the estimator names its fields with a typed enum, the other crates
//! with a string as written in a configuration (`layers[0].alpha`, `lr`, `mi.every`).
//!
//! ```
//! use replica_params::{positive, ParamError, Rule};
//!
//! assert_eq!(positive("lr", 0.1), Ok(0.1));
//! let e: ParamError<&str> = positive("lr", f64::NAN).unwrap_err();
//! assert_eq!(e.rule, Rule::Positive);
//! assert_eq!(e.to_string(), "invalid lr = NaN: must be finite and > 0");
//! ```

use std::borrow::Cow;
use std::fmt::{self, Display};

/// A rule that a parameter must satisfy. The common ones have a variant each (callers match on
/// them); any other is [`Rule::Other`], with its text.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Rule {
    /// Finite and `> 0`.
    Positive,
    /// Finite and `>= 0`.
    NonNegative,
    /// Finite.
    Finite,
    /// Not NaN (infinities allowed).
    NotNan,
    /// An integer `>= 1`.
    AtLeastOne,
    /// In `[lo, hi]`, both ends included.
    Closed { lo: f64, hi: f64 },
    /// In `(lo, hi)`, both ends excluded.
    Open { lo: f64, hi: f64 },
    /// In `(lo, hi]`.
    LeftOpen { lo: f64, hi: f64 },
    /// Any other rule, in words (`"must be <= the run's 10 epochs"`).
    Other(Cow<'static, str>),
}

impl Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Positive => f.write_str("must be finite and > 0"),
            Rule::NonNegative => f.write_str("must be finite and >= 0"),
            Rule::Finite => f.write_str("must be finite"),
            Rule::NotNan => f.write_str("must not be NaN"),
            Rule::AtLeastOne => f.write_str("must be >= 1"),
            Rule::Closed { lo, hi } => write!(f, "must lie in [{lo}, {hi}]"),
            Rule::Open { lo, hi } => write!(f, "must lie in ({lo}, {hi})"),
            Rule::LeftOpen { lo, hi } => write!(f, "must lie in ({lo}, {hi}]"),
            Rule::Other(text) => f.write_str(text),
        }
    }
}

impl From<&'static str> for Rule {
    fn from(text: &'static str) -> Self {
        Rule::Other(Cow::Borrowed(text))
    }
}

impl From<String> for Rule {
    fn from(text: String) -> Self {
        Rule::Other(Cow::Owned(text))
    }
}

/// A parameter that breaks its rule: `invalid <field> = <value>: <rule>`.
///
/// `F` names the field: a string as written in a configuration by default, a typed field in the
/// estimator. Built by the validators or by [`ParamError::new`]; read through its public fields.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid {field} = {value}: {rule}")]
#[non_exhaustive]
pub struct ParamError<F = String> {
    /// The parameter, as its front-end names it.
    pub field: F,
    /// The offending value, as displayed.
    pub value: String,
    /// The rule it breaks.
    pub rule: Rule,
}

impl<F: Display> ParamError<F> {
    /// `field` has `value`, which breaks `rule`.
    pub fn new(field: F, value: impl Display, rule: impl Into<Rule>) -> Self {
        ParamError {
            field,
            value: value.to_string(),
            rule: rule.into(),
        }
    }
}

impl<F> ParamError<F> {
    /// The same error with its field renamed (e.g. placed in its layer, or written as a string).
    pub fn map_field<G>(self, f: impl FnOnce(F) -> G) -> ParamError<G> {
        ParamError {
            field: f(self.field),
            value: self.value,
            rule: self.rule,
        }
    }
}

impl<F: Display> ParamError<F> {
    /// The same error with its field written as a string.
    pub fn into_named(self) -> ParamError<String> {
        self.map_field(|f| f.to_string())
    }
}

fn check<F: Display>(field: F, x: f64, ok: bool, rule: Rule) -> Result<f64, ParamError<F>> {
    if ok {
        Ok(x)
    } else {
        Err(ParamError::new(field, x, rule))
    }
}

/// `x` finite and `> 0`.
pub fn positive<F: Display>(field: F, x: f64) -> Result<f64, ParamError<F>> {
    check(field, x, x.is_finite() && x > 0.0, Rule::Positive)
}

/// `x` finite and `>= 0`.
pub fn non_negative<F: Display>(field: F, x: f64) -> Result<f64, ParamError<F>> {
    check(field, x, x.is_finite() && x >= 0.0, Rule::NonNegative)
}

/// `x` finite.
pub fn finite<F: Display>(field: F, x: f64) -> Result<f64, ParamError<F>> {
    check(field, x, x.is_finite(), Rule::Finite)
}

/// `n >= 1`.
pub fn at_least_one<F: Display>(field: F, n: usize) -> Result<usize, ParamError<F>> {
    if n >= 1 {
        Ok(n)
    } else {
        Err(ParamError::new(field, n, Rule::AtLeastOne))
    }
}

/// `x` in the interval `rule` describes ([`Rule::Closed`], [`Rule::Open`] or
/// [`Rule::LeftOpen`]); NaN lies in none. Any other rule is a programming error and is refused
/// as [`Rule::Other`] naming it.
pub fn in_range<F: Display>(field: F, x: f64, rule: Rule) -> Result<f64, ParamError<F>> {
    let ok = match rule {
        Rule::Closed { lo, hi } => lo <= x && x <= hi,
        Rule::Open { lo, hi } => lo < x && x < hi,
        Rule::LeftOpen { lo, hi } => lo < x && x <= hi,
        _ => false,
    };
    check(field, x, ok, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each validator on a table of values: (value, accepted?).
    #[test]
    fn validators_accept_and_refuse_as_their_rule_says() {
        let inf = f64::INFINITY;
        let nan = f64::NAN;
        type V = fn(&'static str, f64) -> Result<f64, ParamError<&'static str>>;
        /// (name, validator, its rule, values with whether they are accepted)
        type Case<'a> = (&'static str, V, Rule, &'a [(f64, bool)]);
        let cases: [Case<'_>; 3] = [
            (
                "positive",
                positive,
                Rule::Positive,
                &[
                    (1e-300, true),
                    (1.0, true),
                    (0.0, false),
                    (-1.0, false),
                    (inf, false),
                    (nan, false),
                ],
            ),
            (
                "non_negative",
                non_negative,
                Rule::NonNegative,
                &[
                    (0.0, true),
                    (-0.0, true),
                    (2.0, true),
                    (-1e-300, false),
                    (inf, false),
                    (nan, false),
                ],
            ),
            (
                "finite",
                finite,
                Rule::Finite,
                &[
                    (0.0, true),
                    (-1e300, true),
                    (inf, false),
                    (-inf, false),
                    (nan, false),
                ],
            ),
        ];
        for (name, v, rule, table) in cases {
            for &(x, ok) in table {
                println!("{name}({x}) accepted: {ok}");
                match v("x", x) {
                    Ok(y) => {
                        assert!(ok, "{name} accepted {x}");
                        assert_eq!(y.to_bits(), x.to_bits());
                    }
                    Err(e) => {
                        assert!(!ok, "{name} refused {x}");
                        assert_eq!(e.rule, rule);
                        assert_eq!(e.field, "x");
                    }
                }
            }
        }
    }

    #[test]
    fn ranges_and_counts() {
        let unit_open = Rule::Open { lo: 0.0, hi: 1.0 };
        assert!(in_range("p", 0.5, unit_open.clone()).is_ok());
        assert!(in_range("p", 0.0, unit_open.clone()).is_err());
        assert!(in_range("p", f64::NAN, unit_open.clone()).is_err());
        let left_open = Rule::LeftOpen { lo: 0.0, hi: 1.0 };
        assert!(in_range("p", 1.0, left_open.clone()).is_ok());
        assert!(in_range("p", 0.0, left_open).is_err());
        assert!(in_range("s", 0.0, Rule::Closed { lo: 0.0, hi: 1.0 }).is_ok());
        assert!(in_range("s", 0.5, Rule::Finite).is_err());
        assert_eq!(at_least_one("n", 1), Ok(1));
        assert_eq!(at_least_one("n", 0).unwrap_err().rule, Rule::AtLeastOne);
    }

    /// The messages are the ones every front-end printed before there was one type.
    #[test]
    fn messages_keep_their_wording() {
        let cases = [
            (Rule::Positive, "must be finite and > 0"),
            (Rule::NonNegative, "must be finite and >= 0"),
            (Rule::Finite, "must be finite"),
            (Rule::AtLeastOne, "must be >= 1"),
            (Rule::Closed { lo: 0.0, hi: 1.0 }, "must lie in [0, 1]"),
            (Rule::Open { lo: 0.0, hi: 1.0 }, "must lie in (0, 1)"),
            (Rule::LeftOpen { lo: 0.0, hi: 1.0 }, "must lie in (0, 1]"),
            (Rule::from("must be even"), "must be even"),
        ];
        for (rule, text) in cases {
            println!("{rule:?} -> {text}");
            assert_eq!(rule.to_string(), text);
        }
        let e = ParamError::new("layers[0].alpha", -1.0, Rule::Positive);
        assert_eq!(
            e.to_string(),
            "invalid layers[0].alpha = -1: must be finite and > 0"
        );
        let named = ParamError::new(7_u32, 0.0, Rule::Positive).map_field(|i| format!("f{i}"));
        assert_eq!(named.field, "f7");
    }
}
