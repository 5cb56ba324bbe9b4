//! Network spec files: a TOML description of the prior and the layers, parsed into a checked
//! [`Chain`].
//!
//! ```toml
//! [prior]
//! kind = "gaussian"            # "gaussian" {mean, var} | "binary" {p} | "gauss-bernoulli" {p, mean, var}
//! mean = 0.0
//! var = 1.0
//!
//! [[layers]]
//! alpha = 1.0                  # n_l / n_{l-1}
//! activation = "relu"          # "linear" | "relu" | "leaky-relu" {slope} | "hardtanh" {threshold} | "sign"
//! noise_var = 1e-5
//! weights = { kind = "gaussian", var = 1.0 }
//! # weights = { kind = "orthogonal" }
//! # weights = { kind = "spectrum", file = "eigs.csv", scale = 1.0 }
//! # weights = { kind = "matrix", file = "w.npy" }                    # alpha optional
//! # weights = { kind = "matrix", file = "net.safetensors", tensor = "fc1.weight" }
//! ```
//!
//! The activation parameters `slope` and `threshold` are keys of the layer table. A spectrum file
//! holds the eigenvalues of `W^T W` (all `n_{l-1}` of them, zeros included), one per line, with an
//! optional non-numeric header line; blank lines and lines starting with `#` are skipped. Its path
//! is relative to the directory of the spec file.
//!
//! A matrix file (`.npy`, `.npz` or `.safetensors`, see [`crate::weights`]) holds `W` itself,
//! `n_l x n_{l-1}` (PyTorch's `Linear.weight`); `tensor` names the array in an archive (optional
//! when it holds one). Its spectrum (the `n_{l-1}` eigenvalues of `W^T W`) is computed in `f64`;
//! `alpha` may be omitted (it is then `n_l / n_{l-1}` of the shape) or must agree with the shape
//! (`alpha n_{l-1}` rounds to `n_l`). When the width of the previous layer is known (an earlier
//! matrix, then the alphas in between), the columns must match it. A stored matrix is read as its
//! transpose only when the stored orientation breaks these rules and the transpose fits them;
//! [`load_spec_with_notes`] reports it. `scale` multiplies the eigenvalues, as for a spectrum.
//!
//! Every error names the offending field as it is written in the file (`prior.var`,
//! `layers[1].alpha`, `layers[0].weights.file`, ...) and the rule it breaks. Unknown keys and
//! unknown kinds are rejected.

use crate::builder::{
    self, ActivationError, BuildError, BuiltChain, ChainBuilder, LayerInput, LayerInputError,
    MatrixInput, WeightsInput,
};
use crate::input_limits::{self, excerpt};
use crate::replica::{Activation, ActivationKind, Chain, Prior, ReplicaError};
use crate::weights::{read_matrix, WeightError};
use replica_params::{ParamError, Rule};
use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// The prior kinds a spec may name.
pub const PRIOR_KINDS: &[&str] = &["gaussian", "binary", "gauss-bernoulli"];
/// The activations a spec may name.
pub const ACTIVATION_KINDS: &[&str] = &ActivationKind::NAMES;
/// The weight ensembles a spec may name.
pub const WEIGHT_KINDS: &[&str] = &["gaussian", "orthogonal", "spectrum", "matrix"];

/// Everything that can be wrong with a spec file.
#[derive(Debug, Error)]
pub enum SpecError {
    /// The spec file could not be read.
    #[error("cannot read spec file {}: {error}", path.display())]
    Io {
        /// The spec file.
        path: PathBuf,
        /// The underlying I/O error.
        error: std::io::Error,
    },
    /// The text is not TOML, or does not have the shape of a spec (unknown or mistyped keys):
    /// one line, with the offending line cut to `input_limits::MAX_QUOTED_CHARS` characters.
    #[error("{0}")]
    Toml(String),
    /// A required field is absent.
    #[error("missing {field}: {rule}")]
    Missing {
        /// The field, as written in the spec (`layers[0].alpha`).
        field: String,
        /// What is expected there.
        rule: String,
    },
    /// A field (named as written in the spec: `layers[0].alpha`) has a value that breaks its
    /// rule.
    #[error(transparent)]
    Invalid(#[from] ParamError),
    /// A `kind` (or `activation`) names nothing known.
    #[error("unknown {field} = \"{kind}\"; allowed: {allowed}")]
    UnknownKind {
        /// The field (`prior.kind`, `layers[1].activation`, `layers[0].weights.kind`).
        field: String,
        /// The value found.
        kind: String,
        /// The allowed values, comma-separated and quoted.
        allowed: String,
    },
    /// A spectrum file is missing, empty, or has a bad line.
    #[error("{field}: spectrum file {}{}: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Spectrum {
        /// The field that names the file (`layers[0].weights.file`).
        field: String,
        /// The file, resolved against the spec's directory.
        path: PathBuf,
        /// The 1-based line of the problem, if it is on one line.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A weight-matrix file is unreadable, or its matrix breaks a rule (rank, finiteness, shape
    /// against `alpha` or the previous layer).
    #[error("{field}: weight file {}{}: {error}", path.display(), tensor.as_ref().map(|t| format!(" (tensor \"{t}\")")).unwrap_or_default())]
    Weights {
        /// The field that names the file (`layers[0].weights.file`).
        field: String,
        /// The file, resolved against the spec's directory.
        path: PathBuf,
        /// The tensor named in the spec, if any.
        tensor: Option<String>,
        /// What is wrong.
        error: WeightError,
    },
    /// The layers do not form a valid chain.
    #[error("invalid chain: {0}")]
    Chain(String),
}

impl SpecError {
    /// The spec field the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            SpecError::Invalid(e) => Some(&e.field),
            SpecError::Missing { field, .. }
            | SpecError::UnknownKind { field, .. }
            | SpecError::Spectrum { field, .. }
            | SpecError::Weights { field, .. } => Some(field),
            _ => None,
        }
    }

    fn invalid(field: impl Into<String>, value: impl Display, rule: impl Into<Rule>) -> Self {
        SpecError::Invalid(ParamError::new(field.into(), value, rule))
    }

    fn missing(field: impl Into<String>, rule: impl Into<String>) -> Self {
        SpecError::Missing {
            field: field.into(),
            rule: rule.into(),
        }
    }

    fn unknown_kind(field: impl Into<String>, kind: &str, allowed: &[&str]) -> Self {
        SpecError::UnknownKind {
            field: field.into(),
            kind: kind.to_string(),
            allowed: allowed
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Read and parse a spec file; spectrum files are resolved against its directory.
pub fn load_spec(path: &Path) -> Result<Chain, SpecError> {
    load_spec_with_notes(path).map(|l| l.chain)
}

/// A parsed spec, with what the reader decided on the user's behalf.
#[derive(Clone, Debug)]
pub struct LoadedSpec {
    /// The checked chain.
    pub chain: Chain,
    /// One line per decision worth telling (a weight matrix read as its transpose) and per
    /// assumption the result rests on (weight matrices summarised by their spectrum).
    pub notes: Vec<String>,
}

/// What the caller tells the reader about the spec's weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecOptions {
    /// The weight matrices are orthogonally invariant (USV layers with Haar `U`, `V`, or i.i.d.
    /// Gaussian): no note that their spectrum stands for them ([`crate::weights::invariance_note`]).
    pub assume_invariant: bool,
}

/// As [`load_spec`], with the notes.
pub fn load_spec_with_notes(path: &Path) -> Result<LoadedSpec, SpecError> {
    load_spec_with_options(path, SpecOptions::default())
}

/// As [`load_spec_with_notes`], with the caller's [`SpecOptions`].
pub fn load_spec_with_options(path: &Path, options: SpecOptions) -> Result<LoadedSpec, SpecError> {
    let text =
        input_limits::read_regular_file(path, input_limits::MAX_SPEC_BYTES).map_err(|error| {
            SpecError::Io {
                path: path.to_path_buf(),
                error,
            }
        })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse_spec_with_options(&text, base, options)
}

/// Parse spec text; relative spectrum-file paths are resolved against `base_dir`.
pub fn parse_spec(text: &str, base_dir: &Path) -> Result<Chain, SpecError> {
    parse_spec_with_notes(text, base_dir).map(|l| l.chain)
}

/// As [`parse_spec`], with the notes.
pub fn parse_spec_with_notes(text: &str, base_dir: &Path) -> Result<LoadedSpec, SpecError> {
    parse_spec_with_options(text, base_dir, SpecOptions::default())
}

/// As [`parse_spec_with_notes`], with the caller's [`SpecOptions`].
pub fn parse_spec_with_options(
    text: &str,
    base_dir: &Path,
    options: SpecOptions,
) -> Result<LoadedSpec, SpecError> {
    SpecDoc::from_toml(text)?.build_with_options(base_dir, options)
}

impl SpecDoc {
    /// The document of a spec text (its shape only; [`SpecDoc::build`] checks the values).
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        toml::from_str(text).map_err(|e| match input_limits::string_for_number(text) {
            Some((field, value)) => SpecError::invalid(
                field,
                value,
                "must be a number, not a string (inf and nan are written without quotes)",
            ),
            None => SpecError::Toml(input_limits::toml_error_message(text, &e)),
        })
    }

    /// The spec text of this document: what [`parse_spec`] reads back into the same document.
    /// Numbers are written in Rust's shortest round-trip form, so no value changes on the way.
    pub fn to_toml(&self) -> String {
        toml::to_string(self)
            .expect("a SpecDoc holds only strings, finite or non-finite numbers and tables")
    }

    /// Check every field and build the chain; relative spectrum-file paths are resolved against
    /// `base_dir` (the only I/O: reading those files).
    pub fn build(&self, base_dir: &Path) -> Result<Chain, SpecError> {
        self.build_with_notes(base_dir).map(|l| l.chain)
    }

    /// As [`SpecDoc::build`], with the notes (a weight matrix read as its transpose; weight
    /// matrices summarised by their spectrum).
    pub fn build_with_notes(&self, base_dir: &Path) -> Result<LoadedSpec, SpecError> {
        self.build_with_options(base_dir, SpecOptions::default())
    }

    /// As [`SpecDoc::build_with_notes`], with the caller's [`SpecOptions`].
    pub fn build_with_options(
        &self,
        base_dir: &Path,
        options: SpecOptions,
    ) -> Result<LoadedSpec, SpecError> {
        let raw = self;
        let prior = build_prior(&raw.prior)?;
        let raw_layers = raw
            .layers
            .as_ref()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| {
                SpecError::missing("layers", "a spec needs at least one [[layers]] table")
            })?;
        let n = raw_layers.len();
        if n > input_limits::MAX_LAYERS {
            return Err(SpecError::invalid(
                "layers",
                format!("({n} tables)"),
                format!("a spec has at most {} layers", input_limits::MAX_LAYERS),
            ));
        }
        let mut builder = ChainBuilder::new(prior).assume_invariant(options.assume_invariant);
        for (i, rl) in raw_layers.iter().enumerate() {
            push_layer(&mut builder, i, i + 1 == n, rl, base_dir)?;
        }
        let BuiltChain { chain, notes, .. } = builder.build().map_err(|e| match e {
            BuildError::Replica { error, .. } => from_replica(error, None, None),
            other => SpecError::Chain(other.to_string()),
        })?;
        Ok(LoadedSpec { chain, notes })
    }
}

// ---------------------------------------------------------------------------------------------
// The document: the unchecked shape of the file, public so that a spec can be written as well as
// read (e.g. the description of a random chain, printed to reproduce it with the CLI).

/// A spec file as a document: every key as written, nothing checked yet ([`SpecDoc::build`]
/// checks). `None` is an absent key.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpecDoc {
    /// `[prior]`.
    pub prior: PriorDoc,
    /// `[[layers]]`, input side first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerDoc>>,
}

/// The `[prior]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriorDoc {
    /// One of [`PRIOR_KINDS`].
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub var: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
}

/// One `[[layers]]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// One of [`ACTIVATION_KINDS`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_var: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slope: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<WeightsDoc>,
}

/// The `weights` table of a layer.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsDoc {
    /// One of [`WEIGHT_KINDS`].
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub var: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    /// The array in a matrix archive (`.npz`, `.safetensors`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Checks.

fn positive(field: &str, x: f64) -> Result<f64, SpecError> {
    Ok(replica_params::positive(field.to_string(), x)?)
}

fn required(field: &str, x: Option<f64>, what: &str) -> Result<f64, SpecError> {
    x.ok_or_else(|| SpecError::missing(field, what))
}

/// Reject a parameter that the chosen kind does not take.
fn not_allowed<T>(
    field: &str,
    x: &Option<T>,
    kind_field: &str,
    kind: &str,
) -> Result<(), SpecError> {
    if x.is_some() {
        Err(SpecError::invalid(
            field,
            "(given)",
            format!("not a parameter of {kind_field} = \"{kind}\""),
        ))
    } else {
        Ok(())
    }
}

/// The prior; numeric rules (finite, positive variance, p in range) are the checked
/// constructors' own, whose errors already name `prior.<field>`.
fn build_prior(r: &PriorDoc) -> Result<Prior, SpecError> {
    let kind = r.kind.as_str();
    let prior = match kind {
        "gaussian" => {
            not_allowed("prior.p", &r.p, "prior.kind", kind)?;
            let var = required(
                "prior.var",
                r.var,
                "the gaussian prior needs var (finite, > 0)",
            )?;
            Prior::gaussian(r.mean.unwrap_or(0.0), var)
        }
        "binary" => {
            not_allowed("prior.mean", &r.mean, "prior.kind", kind)?;
            not_allowed("prior.var", &r.var, "prior.kind", kind)?;
            let p = required(
                "prior.p",
                r.p,
                "the binary prior needs p = P(x = +1) in (0, 1)",
            )?;
            Prior::binary(p)
        }
        "gauss-bernoulli" => {
            let p = required(
                "prior.p",
                r.p,
                "the gauss-bernoulli prior needs p = P(x != 0) in (0, 1]",
            )?;
            let var = required(
                "prior.var",
                r.var,
                "the gauss-bernoulli prior needs var (finite, > 0)",
            )?;
            Prior::gauss_bernoulli(p, r.mean.unwrap_or(0.0), var)
        }
        other => return Err(SpecError::unknown_kind("prior.kind", other, PRIOR_KINDS)),
    };
    prior.map_err(|e| from_replica(e, None, None))
}

fn build_activation(prefix: &str, r: &LayerDoc) -> Result<Activation, SpecError> {
    let field = format!("{prefix}.activation");
    let name = r.activation.as_deref().ok_or_else(|| {
        SpecError::missing(&field, format!("one of {}", quoted_list(ACTIVATION_KINDS)))
    })?;
    builder::activation(name, r.slope, r.threshold).map_err(|e| {
        let param_f = format!("{prefix}.{}", e.param());
        match e {
            ActivationError::Unknown { .. } => {
                SpecError::unknown_kind(field, name, ACTIVATION_KINDS)
            }
            ActivationError::NotAParameter { .. } => SpecError::invalid(
                param_f,
                "(given)",
                format!("not a parameter of {field} = \"{name}\""),
            ),
            ActivationError::Invalid(ReplicaError::InvalidParameter(e)) => {
                SpecError::Invalid(e.map_field(|_| param_f))
            }
            other => SpecError::missing(param_f, other.to_string()),
        }
    })
}

/// Read one layer's table and push it into `builder`, which tracks the widths, orients weight
/// matrices and applies the layer's constructor. The checks run in this order: alpha,
/// activation, noise_var, the weights table, the weights' own parameters (reading their file),
/// then the builder's.
fn push_layer(
    builder: &mut ChainBuilder,
    i: usize,
    is_last: bool,
    r: &LayerDoc,
    base_dir: &Path,
) -> Result<(), SpecError> {
    let prefix = format!("layers[{i}]");
    let (alpha_given, _) = layer_alpha(&prefix, r)?;
    let activation = build_activation(&prefix, r)?;
    let noise_var = layer_noise_var(&prefix, r, is_last)?;
    let w = layer_weights_table(&prefix, r)?;
    let wp = format!("{prefix}.weights");
    let file_f = format!("{wp}.file");
    let (weights, path) = match w.kind.as_str() {
        "gaussian" => (gaussian_weights(&wp, w)?, None),
        "orthogonal" => (orthogonal_weights(&wp, w)?, None),
        "spectrum" => {
            let (weights, path) = spectrum_weights(&wp, w, base_dir)?;
            (weights, Some(path))
        }
        "matrix" => {
            let (weights, path) = matrix_weights(&wp, w, base_dir)?;
            (weights, Some(path))
        }
        other => {
            return Err(SpecError::unknown_kind(
                format!("{wp}.kind"),
                other,
                WEIGHT_KINDS,
            ))
        }
    };
    let is_spectrum = w.kind == "spectrum";
    let input = LayerInput::new(activation, noise_var, weights).with_alpha(alpha_given);
    builder.push(input).map(|_| ()).map_err(|e| match e {
        BuildError::Weights { error, .. } => SpecError::Weights {
            field: file_f.clone(),
            path: path.clone().unwrap_or_default(),
            tensor: w.tensor.clone(),
            error,
        },
        BuildError::Replica { error, .. }
        | BuildError::Layer {
            error: LayerInputError::Invalid(error),
            ..
        } => from_replica(
            error,
            Some(i),
            path.as_deref()
                .filter(|_| is_spectrum)
                .map(|p| (file_f.as_str(), p)),
        ),
        other => SpecError::Chain(other.to_string()),
    })
}

/// A layer's `alpha`: the value given (checked finite and `> 0`), and the value the layer is
/// built with — the given one, required unless the weights are a matrix (whose shape fixes it;
/// NaN stands in when it is omitted there).
fn layer_alpha(prefix: &str, r: &LayerDoc) -> Result<(Option<f64>, f64), SpecError> {
    let alpha_f = format!("{prefix}.alpha");
    let is_matrix = r.weights.as_ref().is_some_and(|w| w.kind == "matrix");
    let alpha_given = r.alpha.map(|a| positive(&alpha_f, a)).transpose()?;
    let alpha = if is_matrix {
        alpha_given.unwrap_or(f64::NAN)
    } else {
        required(&alpha_f, alpha_given, "alpha = n_l / n_{l-1} (finite, > 0)")?
    };
    Ok((alpha_given, alpha))
}

/// A layer's `noise_var`: required, finite and `>= 0`, and `> 0` for the output (last) layer.
fn layer_noise_var(prefix: &str, r: &LayerDoc, is_last: bool) -> Result<f64, SpecError> {
    let noise_f = format!("{prefix}.noise_var");
    let noise_var = required(
        &noise_f,
        r.noise_var,
        "the variance of the noise added before the activation (finite, >= 0)",
    )?;
    if !(noise_var.is_finite() && noise_var >= 0.0) {
        return Err(SpecError::invalid(
            noise_f,
            noise_var,
            "must be finite and >= 0",
        ));
    }
    if is_last && noise_var <= 0.0 {
        return Err(SpecError::invalid(
            noise_f,
            noise_var,
            "the output (last) layer needs noise_var > 0 (its entropy is infinite otherwise)",
        ));
    }
    Ok(noise_var)
}

/// A layer's `weights` table, which is required; `tensor` is a parameter of the matrix kind only.
fn layer_weights_table<'a>(prefix: &str, r: &'a LayerDoc) -> Result<&'a WeightsDoc, SpecError> {
    let w = r.weights.as_ref().ok_or_else(|| {
        SpecError::missing(
            format!("{prefix}.weights"),
            format!(
                "a table with kind = one of {}, e.g. weights = {{ kind = \"gaussian\", var = 1.0 }}",
                quoted_list(WEIGHT_KINDS)
            ),
        )
    })?;
    let wp = format!("{prefix}.weights");
    let kind = w.kind.as_str();
    if kind != "matrix" {
        not_allowed(
            &format!("{wp}.tensor"),
            &w.tensor,
            &format!("{wp}.kind"),
            kind,
        )?;
    }
    Ok(w)
}

/// `kind = "gaussian"`: `var` required (finite, `> 0`); `file` and `scale` rejected.
fn gaussian_weights(wp: &str, w: &WeightsDoc) -> Result<WeightsInput, SpecError> {
    let wkind_f = format!("{wp}.kind");
    let kind = w.kind.as_str();
    not_allowed(&format!("{wp}.file"), &w.file, &wkind_f, kind)?;
    not_allowed(&format!("{wp}.scale"), &w.scale, &wkind_f, kind)?;
    let vf = format!("{wp}.var");
    let var = positive(
        &vf,
        required(
            &vf,
            w.var,
            "gaussian weights need var (entry variance times n_{l-1}, finite, > 0)",
        )?,
    )?;
    Ok(WeightsInput::Gaussian { var })
}

/// `kind = "orthogonal"`: no parameters (`var`, `file` and `scale` rejected).
fn orthogonal_weights(wp: &str, w: &WeightsDoc) -> Result<WeightsInput, SpecError> {
    let wkind_f = format!("{wp}.kind");
    let kind = w.kind.as_str();
    not_allowed(&format!("{wp}.var"), &w.var, &wkind_f, kind)?;
    not_allowed(&format!("{wp}.file"), &w.file, &wkind_f, kind)?;
    not_allowed(&format!("{wp}.scale"), &w.scale, &wkind_f, kind)?;
    Ok(WeightsInput::Orthogonal)
}

/// What the weight kinds read from a file share: the field path of `file`, the `scale`
/// (default 1, finite, `> 0`) and the file's path relative to `base_dir`.
struct FileWeights {
    file_f: String,
    scale: f64,
    path: std::path::PathBuf,
}

/// The checks the weight kinds read from a file share, in order: `var` rejected, `file`
/// required (`missing` says what it must hold), `scale` checked.
fn file_weights(
    wp: &str,
    w: &WeightsDoc,
    base_dir: &Path,
    missing: &str,
) -> Result<FileWeights, SpecError> {
    not_allowed(&format!("{wp}.var"), &w.var, &format!("{wp}.kind"), &w.kind)?;
    let file_f = format!("{wp}.file");
    let file = w
        .file
        .as_ref()
        .ok_or_else(|| SpecError::missing(&file_f, missing))?;
    let scale = positive(&format!("{wp}.scale"), w.scale.unwrap_or(1.0))?;
    Ok(FileWeights {
        path: base_dir.join(file),
        file_f,
        scale,
    })
}

/// `kind = "spectrum"`: the eigenvalues in `file` (required, relative to `base_dir`) times
/// `scale` (default 1, finite, `> 0`); `var` rejected.
fn spectrum_weights(
    wp: &str,
    w: &WeightsDoc,
    base_dir: &Path,
) -> Result<(WeightsInput, PathBuf), SpecError> {
    const MISSING: &str =
        "spectrum weights need file = path of the eigenvalues of W^T W (relative to the spec)";
    let FileWeights {
        file_f,
        scale,
        path,
    } = file_weights(wp, w, base_dir, MISSING)?;
    let eigenvalues = read_spectrum(&file_f, &path)?;
    Ok((WeightsInput::Spectrum { eigenvalues, scale }, path))
}

/// `kind = "matrix"`: the matrix `W` in `file` (required, relative to `base_dir`; `tensor` picks
/// the array in an archive), oriented to fit the given alpha and the previous layer's width,
/// its spectrum times `scale` (default 1, finite, `> 0`); `var` rejected. A transposed reading
/// is reported in `notes`.
fn matrix_weights(
    wp: &str,
    w: &WeightsDoc,
    base_dir: &Path,
) -> Result<(WeightsInput, PathBuf), SpecError> {
    const MISSING: &str = "matrix weights need file = path of a .npy, .npz or .safetensors file holding W (n_l x n_{l-1}), relative to the spec";
    let FileWeights {
        file_f,
        scale,
        path,
    } = file_weights(wp, w, base_dir, MISSING)?;
    let loaded = read_matrix(&path, w.tensor.as_deref()).map_err(|error| SpecError::Weights {
        field: file_f.clone(),
        path: path.clone(),
        tensor: w.tensor.clone(),
        error,
    })?;
    let source = format!(
        "{}{}",
        path.display(),
        loaded
            .tensor
            .as_ref()
            .map(|t| format!(" (tensor \"{t}\")"))
            .unwrap_or_default()
    );
    let weights = WeightsInput::Matrix(MatrixInput {
        matrix: Arc::new(loaded.matrix),
        scale,
        source: Some(source),
        bias: loaded.bias,
    });
    Ok((weights, path))
}

/// The eigenvalues in a spectrum file, for callers that build chains themselves (the random-chain
/// generator takes them as input): as the spec reader reads a spectrum file, errors naming the field `spectrum`.
pub fn read_spectrum_file(path: &Path) -> Result<Vec<f64>, SpecError> {
    read_spectrum("spectrum", path)
}

/// Whether a line looks like an attempt at a number (an optional sign, then a digit or a
/// decimal point): such a line is never taken as the header, so that a mistyped first eigenvalue
/// (`0..5`, `1,5`) is an error instead of a silently lost value.
fn number_like(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    t.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// The eigenvalues in a spectrum file: one per line, an optional header line (the first line,
/// text that is not number-like, e.g. `eigenvalue`), blank lines and `#` comments skipped; every
/// value finite and `>= 0`.
fn read_spectrum(field: &str, path: &Path) -> Result<Vec<f64>, SpecError> {
    let err = |line: Option<usize>, message: String| SpecError::Spectrum {
        field: field.to_string(),
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = input_limits::read_regular_file(path, input_limits::MAX_SPECTRUM_BYTES)
        .map_err(|e| err(None, format!("cannot read it: {e}")))?;
    let mut eigs = Vec::new();
    let mut seen_line = false;
    for (k, line) in text.lines().enumerate() {
        let s = line.trim();
        if s.is_empty() || s.starts_with('#') {
            continue;
        }
        let first = !seen_line;
        seen_line = true;
        match s.parse::<f64>() {
            Ok(x) if !x.is_finite() => {
                return Err(err(
                    Some(k + 1),
                    format!("eigenvalue {} is not finite", excerpt(s)),
                ));
            }
            Ok(x) if x < 0.0 => {
                return Err(err(
                    Some(k + 1),
                    format!(
                        "eigenvalue {} is negative (eigenvalues of W^T W are >= 0)",
                        excerpt(s)
                    ),
                ));
            }
            Ok(x) => eigs.push(x),
            Err(_) if first && !number_like(s) => {} // header line
            Err(_) if first => {
                return Err(err(
                    Some(k + 1),
                    format!("\"{}\" is not a number, and a header line must be text that does not start like a number", excerpt(s)),
                ));
            }
            Err(_) => {
                return Err(err(
                    Some(k + 1),
                    format!(
                        "\"{}\" is not a number (one eigenvalue per line expected)",
                        excerpt(s)
                    ),
                ));
            }
        }
    }
    if eigs.is_empty() {
        return Err(err(None, "contains no eigenvalues".to_string()));
    }
    Ok(eigs)
}

/// Translate an error of the estimator's constructors into the spec's field names.
fn from_replica(
    e: ReplicaError,
    layer: Option<usize>,
    spectrum: Option<(&str, &Path)>,
) -> SpecError {
    match e {
        ReplicaError::InvalidParameter(e) => {
            if let (Some((file_field, path)), true) = (spectrum, e.field.is_spectrum()) {
                return SpecError::Spectrum {
                    field: file_field.to_string(),
                    path: path.to_path_buf(),
                    line: None,
                    message: format!("{}: {}", e.value, e.rule),
                };
            }
            SpecError::Invalid(e.map_field(|field| match layer {
                Some(i) => field.in_layer(i).to_string(),
                None => field.to_string(),
            }))
        }
        ReplicaError::InvalidChain(m) => SpecError::Chain(m),
        other => SpecError::Chain(other.to_string()),
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::Ensemble;

    fn parse(text: &str) -> Result<Chain, SpecError> {
        parse_spec(text, Path::new("."))
    }

    #[test]
    fn minimal_spec_parses() {
        let c = parse(
            r#"
            [prior]
            kind = "gaussian"
            var = 1
            [[layers]]
            alpha = 1
            activation = "hardtanh"
            noise_var = 0.01
            weights = { kind = "orthogonal" }
            "#,
        )
        .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            c.layers()[0].channel().activation(),
            Activation::Hardtanh { threshold: 1.0 }
        );
    }

    #[test]
    fn errors_name_fields() {
        let base = "[prior]\nkind = \"gaussian\"\nvar = 1\n";
        let cases = [
            ("slope on relu", "alpha = 1\nactivation = \"relu\"\nslope = 0.1\nnoise_var = 0.1\nweights = { kind = \"orthogonal\" }", "layers[0].slope"),
            ("leaky slope > 1", "alpha = 1\nactivation = \"leaky-relu\"\nslope = 2\nnoise_var = 0.1\nweights = { kind = \"orthogonal\" }", "layers[0].slope"),
            ("threshold 0", "alpha = 1\nactivation = \"hardtanh\"\nthreshold = 0\nnoise_var = 0.1\nweights = { kind = \"orthogonal\" }", "layers[0].threshold"),
            ("missing weights", "alpha = 1\nactivation = \"relu\"\nnoise_var = 0.1", "layers[0].weights"),
            ("unknown weights", "alpha = 1\nactivation = \"relu\"\nnoise_var = 0.1\nweights = { kind = \"wishart\" }", "layers[0].weights.kind"),
        ];
        for (name, layer, field) in cases {
            let text = format!("{base}[[layers]]\n{layer}\n");
            let e = parse(&text).expect_err(name);
            assert_eq!(e.field(), Some(field), "{name}: {e}");
        }
    }

    /// A spectrum file in a fresh temporary folder, and the one-layer spec that uses it.
    fn spectrum_spec(name: &str, file_text: &str, scale: f64) -> Result<Chain, SpecError> {
        let dir = std::env::temp_dir().join(format!("spec_test_{}_{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("eigs.csv"), file_text).unwrap();
        let text = format!(
            "[prior]\nkind = \"gaussian\"\nvar = 1\n[[layers]]\nalpha = 1\nactivation = \"relu\"\nnoise_var = 0.1\nweights = {{ kind = \"spectrum\", file = \"eigs.csv\", scale = {scale:?} }}\n"
        );
        let r = parse_spec(&text, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        r
    }

    #[test]
    fn spectrum_header_must_not_look_like_a_number() {
        // a header is text that does not start like a number
        for (name, text, mean) in [
            ("header", "eigenvalue\n1\n2\n", 1.5),
            ("no_header", "1\n2\n", 1.5),
            ("dash_header", "-- lambda\n1\n2\n", 1.5),
            ("comment", "# from numpy\neig\n0.5\n2\n", 1.25),
        ] {
            let c = spectrum_spec(name, text, 1.0).unwrap_or_else(|e| panic!("{name}: {e}"));
            let Ensemble::Discrete(d) = c.layers()[0].ensemble() else {
                panic!("{name}: not a discrete spectrum")
            };
            assert!((d.positive_fraction() - 1.0).abs() < 1e-15, "{name}");
            assert!(
                (c.layers()[0].ensemble().mean(1.0) - mean).abs() < 1e-12,
                "{name}"
            );
        }
        // a mistyped first eigenvalue is an error on line 1, not a silently dropped header
        for (name, text, line) in [
            ("dots", "0..5\n1\n2\n", 1usize),
            ("comma", "1,5\n1\n", 1),
            ("signed", "-.5x\n1\n", 1),
            ("second", "eigenvalue\n0..5\n1\n", 2),
        ] {
            let e = spectrum_spec(name, text, 1.0).expect_err(name);
            match &e {
                SpecError::Spectrum { field, line: l, .. } => {
                    assert_eq!(field, "layers[0].weights.file", "{name}: {e}");
                    assert_eq!(*l, Some(line), "{name}: {e}");
                }
                other => panic!("{name}: {other}"),
            }
        }
    }

    /// An eigenvalue near the largest double times a scale overflowed and panicked (index out of
    /// bounds in the spectrum); now an error naming the file.
    #[test]
    fn overflowing_scaled_spectrum_is_an_error() {
        let e = spectrum_spec("overflow", "eigenvalue\n1e308\n1\n", 10.0).expect_err("1e308 x 10");
        assert_eq!(e.field(), Some("layers[0].weights.file"), "{e}");
        assert!(e.to_string().contains("overflow"), "{e}");
    }

    /// A document prints as TOML that reads back into the same document.
    #[test]
    fn spec_doc_round_trips() {
        let text = "[prior]\nkind = \"gauss-bernoulli\"\np = 0.3\nmean = -0.25\nvar = 1.7\n\n[[layers]]\nalpha = 0.123456789012345\nactivation = \"leaky-relu\"\nslope = 0.1\nnoise_var = 0.0\nweights = { kind = \"orthogonal\" }\n\n[[layers]]\nalpha = 2\nactivation = \"hardtanh\"\nthreshold = 0.7\nnoise_var = 1e-6\nweights = { kind = \"gaussian\", var = 3.3e-2 }\n";
        let doc = SpecDoc::from_toml(text).unwrap();
        let again = SpecDoc::from_toml(&doc.to_toml()).unwrap();
        assert_eq!(doc, again, "{}", doc.to_toml());
        assert_eq!(doc.build(Path::new(".")).unwrap().len(), 2);
    }
}
