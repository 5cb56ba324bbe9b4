//! The one place where a chain is assembled from what a user describes: the spec reader, the
//! command line and the Python package all go through [`ChainBuilder`].
//!
//! A front end turns its own input (a TOML table, Python objects, Rust values) into a prior and a
//! list of [`LayerInput`]s, and the builder applies every rule that involves more than one
//! value:
//!
//! * **width tracking**: the width `n_l` of each layer is unknown until a weight matrix fixes it,
//!   and is then carried through the alphas of the layers after it;
//! * **orientation** of stored matrices: a matrix is read as its transpose only when the stored
//!   orientation contradicts the layer's alpha or the previous layer's width and the transposed
//!   one fits both ([`crate::weights::orient`]);
//! * **notes**: one line per matrix read as its transpose, and the note that weight matrices
//!   enter through their spectrum alone ([`crate::weights::invariance_note`]);
//! * the limits on the number of layers, and the constructors' own checks
//!   ([`Layer::new`], [`Chain::new`]).
//!
//! ```
//! use replica_core::builder::{ChainBuilder, LayerInput, WeightsInput};
//! use replica_core::replica::{Activation, Prior};
//!
//! let mut b = ChainBuilder::new(Prior::gaussian(0.0, 1.0)?);
//! b.push(LayerInput::new(Activation::Relu, 1e-4, WeightsInput::Gaussian { var: 1.0 }).alpha(1.0))?;
//! b.push(LayerInput::new(Activation::Linear, 0.01, WeightsInput::Orthogonal).alpha(0.5))?;
//! let built = b.build()?;
//! assert_eq!(built.chain.len(), 2);
//! assert!(built.notes.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::input_limits::MAX_LAYERS;
use crate::replica::{
    Activation, ActivationKind, Chain, DiscreteSpectrum, Ensemble, Field, Layer, LayerField, Prior,
    ReplicaError,
};
use crate::weights::{invariance_note, orient, Oriented, WeightError, WeightMatrix};
use replica_params::{non_negative, positive, ParamError};
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// A stored weight matrix as the builder needs it: its shape and the eigenvalues of `W^T W`.
///
/// Implemented by [`WeightMatrix`] (the matrix itself); a front end that keeps only a summary of
/// a large matrix (its shape and the eigenvalues of its smaller Gram matrix) implements it too.
pub trait StoredMatrix: fmt::Debug + Send + Sync {
    /// `(rows, cols)` as stored.
    fn shape(&self) -> (usize, usize);
    /// The `n_{l-1}` eigenvalues of `W^T W` (largest first, zeros included), `W` being the stored
    /// matrix or, if `transposed`, its transpose. An all-zero matrix is
    /// [`WeightError::Zero`].
    fn wtw_eigenvalues(&self, transposed: bool) -> Result<Vec<f64>, WeightError>;
}

impl StoredMatrix for WeightMatrix {
    fn shape(&self) -> (usize, usize) {
        (self.rows(), self.cols())
    }
    fn wtw_eigenvalues(&self, transposed: bool) -> Result<Vec<f64>, WeightError> {
        if self.as_slice().iter().all(|&x| x == 0.0) {
            return Err(WeightError::Zero);
        }
        WeightMatrix::wtw_eigenvalues(self, transposed)
    }
}

/// A stored matrix read for a layer: how it is oriented, and the spectrum of `W^T W` times
/// `scale`. The checks run in this order: `scale`, the orientation, the matrix's own spectrum.
pub fn resolve_matrix(
    m: &dyn StoredMatrix,
    alpha: Option<f64>,
    n_prev: Option<f64>,
    scale: f64,
) -> Result<(Oriented, DiscreteSpectrum), WeightError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(WeightError::Scale(scale));
    }
    let (rows, cols) = m.shape();
    let oriented = orient(rows, cols, alpha, n_prev)?;
    let eigs = m.wtw_eigenvalues(oriented.transposed)?;
    let spectrum = DiscreteSpectrum::from_eigenvalues(&eigs, scale)
        .map_err(|e| WeightError::Spectrum(e.to_string()))?;
    Ok((oriented, spectrum))
}

/// A weight matrix given to a layer: the matrix, the factor on the eigenvalues of `W^T W`, where
/// it came from (a file and tensor name, for the notes; `None` for an in-memory array) and the
/// name of a bias stored beside it in that file (`fc1.bias` beside `fc1.weight`), which the
/// formula has no place for: it is ignored, and a note says so.
#[derive(Clone, Debug)]
pub struct MatrixInput {
    pub matrix: Arc<dyn StoredMatrix>,
    pub scale: f64,
    pub source: Option<String>,
    pub bias: Option<String>,
}

/// The weights of one layer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WeightsInput {
    /// i.i.d. Gaussian entries of variance `var / n_{l-1}`.
    Gaussian { var: f64 },
    /// Haar-orthogonal weights.
    Orthogonal,
    /// The eigenvalues of `W^T W`, times `scale`.
    Spectrum { eigenvalues: Vec<f64>, scale: f64 },
    /// A stored weight matrix (only its spectrum enters the formula).
    Matrix(MatrixInput),
}

impl WeightsInput {
    /// Whether these are a weight matrix (whose shape gives alpha).
    pub fn is_matrix(&self) -> bool {
        matches!(self, WeightsInput::Matrix(_))
    }
}

/// One layer as described by the user: `T_l = phi(W_l T_{l-1} + xi_l)`, `xi_l ~ N(0, noise_var)`.
/// `alpha = n_l / n_{l-1}` is required unless the weights are a matrix, whose shape gives it (if
/// given, it must agree).
#[derive(Clone, Debug)]
pub struct LayerInput {
    alpha: Option<f64>,
    activation: Activation,
    noise_var: f64,
    weights: WeightsInput,
}

impl LayerInput {
    /// A layer without alpha (set it with [`LayerInput::alpha`] unless the weights are a matrix).
    pub fn new(activation: Activation, noise_var: f64, weights: WeightsInput) -> Self {
        LayerInput {
            alpha: None,
            activation,
            noise_var,
            weights,
        }
    }
    /// With `alpha = n_l / n_{l-1}`.
    pub fn alpha(self, alpha: f64) -> Self {
        self.with_alpha(Some(alpha))
    }
    /// With alpha given or not.
    pub fn with_alpha(mut self, alpha: Option<f64>) -> Self {
        self.alpha = alpha;
        self
    }
    /// The declared alpha.
    pub fn declared_alpha(&self) -> Option<f64> {
        self.alpha
    }
    pub fn activation(&self) -> Activation {
        self.activation
    }
    pub fn noise_var(&self) -> f64 {
        self.noise_var
    }
    pub fn weights(&self) -> &WeightsInput {
        &self.weights
    }

    /// The rules of one layer that need nothing of the others: alpha (finite and `> 0` when
    /// given; required unless the weights are a matrix), the activation's parameters, the noise
    /// (finite, `>= 0`), the weights' own parameters. Front ends call it where the user gives a
    /// layer, so that a bad layer is reported there; [`ChainBuilder::push`] calls it again.
    pub fn check(&self) -> Result<(), LayerInputError> {
        let invalid = |e: ParamError<Field>| LayerInputError::Invalid(e.into());
        match self.alpha {
            Some(a) => {
                positive(Field::from(LayerField::Alpha), a).map_err(invalid)?;
            }
            None if !self.weights.is_matrix() => return Err(LayerInputError::MissingAlpha),
            None => {}
        }
        self.activation.check().map_err(LayerInputError::Invalid)?;
        non_negative(Field::from(LayerField::NoiseVar), self.noise_var).map_err(invalid)?;
        match &self.weights {
            WeightsInput::Gaussian { var } => {
                positive(Field::from(LayerField::WeightsVar), *var).map_err(invalid)?;
            }
            WeightsInput::Spectrum { scale, .. }
            | WeightsInput::Matrix(MatrixInput { scale, .. }) => {
                positive(Field::from(LayerField::WeightsScale), *scale).map_err(invalid)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// What [`LayerInput::check`] finds wrong with a layer on its own.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum LayerInputError {
    /// Neither alpha nor a weight matrix whose shape gives it.
    #[error(
        "alpha: required (n_l / n_{{l-1}}) unless the weights are a matrix, whose shape gives it"
    )]
    MissingAlpha,
    /// A parameter breaks its rule (the error names the field within the layer).
    #[error("{0}")]
    Invalid(ReplicaError),
}

/// Why a chain could not be built. Layer indices count from 0, input side first.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No layer at all.
    #[error("layers: a chain needs at least one layer")]
    NoLayers,
    /// More layers than [`MAX_LAYERS`].
    #[error("layers: a chain has at most {max} layers ({given} given)")]
    TooManyLayers { given: usize, max: usize },
    /// A layer breaks one of its own rules.
    #[error("layers[{layer}]: {error}")]
    Layer {
        layer: usize,
        error: LayerInputError,
    },
    /// A layer's weight matrix cannot be read as that layer's `W` (its shape fits neither
    /// orientation, it is zero, its spectrum is unusable).
    #[error("layers[{layer}].weights: {error}")]
    Weights { layer: usize, error: WeightError },
    /// A constructor of the estimator refused the layer (`layer`) or the chain (`None`).
    #[error("{}{error}", layer.map(|l| format!("layers[{l}]: ")).unwrap_or_default())]
    Replica {
        layer: Option<usize>,
        error: ReplicaError,
    },
}

/// A checked chain, and what was decided on the user's behalf (a matrix read as its transpose)
/// or assumed (weight matrices summarised by their spectrum), one line each.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BuiltChain {
    pub chain: Chain,
    pub notes: Vec<String>,
}

/// Assembles a chain layer by layer, input side first (see the module's documentation).
#[derive(Clone, Debug)]
pub struct ChainBuilder {
    prior: Prior,
    layers: Vec<Layer>,
    notes: Vec<String>,
    matrices: Vec<String>,
    /// `n_l` of the last layer pushed, once a matrix has fixed a width.
    width: Option<f64>,
    assume_invariant: bool,
}

impl ChainBuilder {
    pub fn new(prior: Prior) -> Self {
        ChainBuilder {
            prior,
            layers: Vec::new(),
            notes: Vec::new(),
            matrices: Vec::new(),
            width: None,
            assume_invariant: false,
        }
    }

    /// The caller vouches that the weight matrices are orthogonally invariant (USV layers with
    /// Haar `U`, `V`, or i.i.d. Gaussian): no note that their spectrum stands for them.
    pub fn assume_invariant(mut self, yes: bool) -> Self {
        self.assume_invariant = yes;
        self
    }

    /// Number of layers pushed.
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
    /// The width `n_l` of the last layer pushed, when a weight matrix has fixed the widths.
    pub fn width(&self) -> Option<f64> {
        self.width
    }

    /// Check the next layer against its own rules and against the layers before it, and append
    /// it. On an error nothing is appended.
    pub fn push(&mut self, input: LayerInput) -> Result<&mut Self, BuildError> {
        let i = self.layers.len();
        if i >= MAX_LAYERS {
            return Err(BuildError::TooManyLayers {
                given: i + 1,
                max: MAX_LAYERS,
            });
        }
        input
            .check()
            .map_err(|error| BuildError::Layer { layer: i, error })?;
        let LayerInput {
            alpha,
            activation,
            noise_var,
            weights,
        } = input;
        let replica = |error| BuildError::Replica {
            layer: Some(i),
            error,
        };
        let field = format!("layers[{i}].weights");
        let (layer, n_out) = match weights {
            WeightsInput::Matrix(m) => {
                let (o, spectrum) = resolve_matrix(m.matrix.as_ref(), alpha, self.width, m.scale)
                    .map_err(|error| BuildError::Weights { layer: i, error })?;
                let layer = Layer::new(
                    o.alpha(),
                    activation,
                    noise_var,
                    Ensemble::Discrete(spectrum),
                )
                .map_err(replica)?;
                if let Some(bias) = &m.bias {
                    self.notes.push(format!(
                        "{field}: {} also holds \"{bias}\", the bias of this matrix: biases are \
                         ignored (the formula's layers are T_l = phi(W_l T_(l-1) + noise), without a \
                         bias)",
                        m.source.as_deref().unwrap_or("its file")
                    ));
                }
                if o.transposed {
                    self.notes
                        .push(transposed_note(&field, &m, &o, alpha, self.width));
                }
                self.matrices.push(field);
                (layer, Some(o.n_out as f64))
            }
            other => {
                // checked: alpha is given for every kind but a matrix
                let a = alpha.unwrap_or(f64::NAN);
                let layer = match other {
                    WeightsInput::Gaussian { var } => {
                        Layer::new(a, activation, noise_var, Ensemble::Gaussian { var })
                    }
                    WeightsInput::Orthogonal => Layer::orthogonal(a, activation, noise_var),
                    WeightsInput::Spectrum { eigenvalues, scale } => {
                        DiscreteSpectrum::from_eigenvalues(&eigenvalues, scale).and_then(|s| {
                            Layer::new(a, activation, noise_var, Ensemble::Discrete(s))
                        })
                    }
                    WeightsInput::Matrix(_) => unreachable!("matched above"),
                }
                .map_err(replica)?;
                (layer, self.width.map(|n| n * a))
            }
        };
        self.width = n_out;
        self.layers.push(layer);
        Ok(self)
    }

    /// The checked chain and its notes.
    pub fn build(self) -> Result<BuiltChain, BuildError> {
        if self.layers.is_empty() {
            return Err(BuildError::NoLayers);
        }
        let chain = Chain::new(self.prior, self.layers)
            .map_err(|error| BuildError::Replica { layer: None, error })?;
        let mut notes = self.notes;
        notes.extend(invariance_note(&self.matrices, self.assume_invariant));
        Ok(BuiltChain { chain, notes })
    }
}

/// The note that the stored matrix of `field` is read as its transpose `o`, and why: only that
/// orientation fits the given alpha and/or the previous layer's width.
fn transposed_note(
    field: &str,
    m: &MatrixInput,
    o: &Oriented,
    alpha: Option<f64>,
    n_prev: Option<f64>,
) -> String {
    let (rows, cols) = m.matrix.shape();
    format!(
        "{field}: the stored {rows} x {cols} matrix{} is read as its transpose W ({} x {} = n_l x n_(l-1)): only that orientation fits {}",
        m.source
            .as_ref()
            .map(|s| format!(" from {s}"))
            .unwrap_or_default(),
        o.n_out,
        o.n_in,
        match (alpha, n_prev) {
            (Some(a), Some(n)) => format!("alpha = {a} and the previous layer's width {n}"),
            (Some(a), None) => format!("alpha = {a}"),
            (None, _) => "the previous layer's width".to_string(),
        }
    )
}

/// Why an activation name and its parameters do not make an activation.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// Not one of [`ActivationKind::NAMES`].
    #[error("unknown \"{name}\"")]
    Unknown { name: String },
    /// `slope` given to an activation other than leaky-relu, or `threshold` to one other than
    /// hardtanh.
    #[error("not a parameter of activation \"{activation}\"")]
    NotAParameter {
        param: &'static str,
        activation: String,
    },
    /// leaky-relu without its slope.
    #[error("leaky-relu needs slope in [0, 1]")]
    MissingSlope,
    /// A parameter outside its range (the error names it).
    #[error("{0}")]
    Invalid(ReplicaError),
}

impl ActivationError {
    /// The argument the error is about: `activation`, `slope` or `threshold`.
    pub fn param(&self) -> &'static str {
        match self {
            ActivationError::Unknown { .. } => "activation",
            ActivationError::NotAParameter { param, .. } => param,
            ActivationError::MissingSlope => "slope",
            ActivationError::Invalid(ReplicaError::InvalidParameter(ParamError {
                field:
                    Field::Layer {
                        field: LayerField::Threshold,
                        ..
                    },
                ..
            })) => "threshold",
            ActivationError::Invalid(_) => "slope",
        }
    }
}

/// The activation named `name` (one of [`ActivationKind::NAMES`]) with its parameters: `slope`
/// for leaky-relu (required, in `[0, 1]`), `threshold` for hardtanh (default 1, finite and
/// `> 0`); a parameter given to an activation that does not take it is refused. Every front end
/// (spec files, Python) parses activations here.
pub fn activation(
    name: &str,
    slope: Option<f64>,
    threshold: Option<f64>,
) -> Result<Activation, ActivationError> {
    let kind = name
        .parse::<ActivationKind>()
        .map_err(|_| ActivationError::Unknown { name: name.into() })?;
    let not_a_parameter = |param| ActivationError::NotAParameter {
        param,
        activation: name.into(),
    };
    if kind != ActivationKind::LeakyRelu && slope.is_some() {
        return Err(not_a_parameter("slope"));
    }
    if kind != ActivationKind::Hardtanh && threshold.is_some() {
        return Err(not_a_parameter("threshold"));
    }
    let act = match kind {
        ActivationKind::Linear => Activation::Linear,
        ActivationKind::Relu => Activation::Relu,
        ActivationKind::Sign => Activation::Sign,
        ActivationKind::LeakyRelu => Activation::LeakyRelu {
            slope: slope.ok_or(ActivationError::MissingSlope)?,
        },
        ActivationKind::Hardtanh => Activation::Hardtanh {
            threshold: threshold.unwrap_or(1.0),
        },
    };
    act.check().map_err(ActivationError::Invalid)?;
    Ok(act)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauss() -> Prior {
        Prior::gaussian(0.0, 1.0).unwrap()
    }

    fn matrix(rows: usize, cols: usize, seed: u64) -> Arc<WeightMatrix> {
        // a deterministic, full-rank-ish matrix without a random-number crate
        let data = (0..rows * cols)
            .map(|k| (((k as u64 + 1) * (seed * 2 + 7919)) % 1009) as f64 / 1009.0 - 0.5)
            .collect();
        Arc::new(WeightMatrix::from_row_major(rows, cols, data).unwrap())
    }

    fn mat_input(m: Arc<WeightMatrix>, source: Option<&str>) -> WeightsInput {
        WeightsInput::Matrix(MatrixInput {
            matrix: m,
            scale: 1.0,
            source: source.map(String::from),
            bias: None,
        })
    }

    #[test]
    fn widths_are_tracked_and_a_transposed_matrix_is_noted() {
        // 6 -> 4 (matrix 4 x 6), then a matrix stored as 4 x 3 that only fits as its transpose
        let mut b = ChainBuilder::new(gauss());
        b.push(LayerInput::new(
            Activation::Relu,
            0.0,
            mat_input(matrix(4, 6, 1), None),
        ))
        .unwrap();
        assert_eq!(b.width(), Some(4.0));
        b.push(LayerInput::new(
            Activation::Linear,
            0.01,
            mat_input(matrix(4, 3, 2), Some("w.npy")),
        ))
        .unwrap();
        assert_eq!(b.width(), Some(3.0));
        let built = b.build().unwrap();
        let alphas: Vec<f64> = built.chain.layers().iter().map(|l| l.alpha()).collect();
        assert_eq!(alphas, vec![4.0 / 6.0, 3.0 / 4.0]);
        assert_eq!(built.notes.len(), 2, "{:?}", built.notes);
        assert!(
            built.notes[0].starts_with(
                "layers[1].weights: the stored 4 x 3 matrix from w.npy is read as its transpose W (3 x 4"
            ),
            "{}",
            built.notes[0]
        );
        assert!(
            built.notes[1].starts_with("layers[0].weights, layers[1].weights: the weight matrices")
        );
        // the same chain, vouched invariant: only the transposition is noted
        let mut b = ChainBuilder::new(gauss()).assume_invariant(true);
        b.push(LayerInput::new(
            Activation::Relu,
            0.0,
            mat_input(matrix(4, 6, 1), None),
        ))
        .unwrap();
        b.push(LayerInput::new(
            Activation::Linear,
            0.01,
            mat_input(matrix(4, 3, 2), None),
        ))
        .unwrap();
        assert_eq!(b.build().unwrap().notes.len(), 1);
    }

    #[test]
    fn errors_name_the_layer_and_rule() {
        type Case = (&'static str, LayerInput, fn(&BuildError) -> bool);
        let cases: Vec<Case> = vec![
            (
                "missing alpha",
                LayerInput::new(Activation::Relu, 0.0, WeightsInput::Orthogonal),
                |e| {
                    matches!(
                        e,
                        BuildError::Layer {
                            layer: 1,
                            error: LayerInputError::MissingAlpha
                        }
                    )
                },
            ),
            (
                "negative noise",
                LayerInput::new(Activation::Relu, -1.0, WeightsInput::Orthogonal).alpha(1.0),
                |e| {
                    matches!(
                        e,
                        BuildError::Layer {
                            layer: 1,
                            error: LayerInputError::Invalid(_)
                        }
                    )
                },
            ),
            (
                "matrix that fits no orientation",
                LayerInput::new(Activation::Relu, 0.0, mat_input(matrix(5, 7, 3), None)),
                |e| matches!(e, BuildError::Weights { layer: 1, .. }),
            ),
            (
                "negative eigenvalue",
                LayerInput::new(
                    Activation::Relu,
                    0.0,
                    WeightsInput::Spectrum {
                        eigenvalues: vec![1.0, -1.0],
                        scale: 1.0,
                    },
                )
                .alpha(1.0),
                |e| matches!(e, BuildError::Replica { layer: Some(1), .. }),
            ),
        ];
        for (name, layer, is_expected) in cases {
            let mut b = ChainBuilder::new(gauss());
            b.push(LayerInput::new(
                Activation::Relu,
                0.0,
                mat_input(matrix(4, 6, 1), None),
            ))
            .unwrap();
            let e = b.push(layer).map(|_| ()).expect_err(name);
            println!("{name}: {e}");
            assert!(is_expected(&e), "{name}: {e:?}");
            assert_eq!(b.len(), 1, "{name}: nothing appended on an error");
        }
        assert!(matches!(
            ChainBuilder::new(gauss()).build(),
            Err(BuildError::NoLayers)
        ));
    }

    #[test]
    fn a_zero_matrix_is_refused() {
        let zero = Arc::new(WeightMatrix::from_row_major(2, 2, vec![0.0; 4]).unwrap());
        let mut b = ChainBuilder::new(gauss());
        let e = b
            .push(LayerInput::new(
                Activation::Linear,
                0.1,
                mat_input(zero, None),
            ))
            .unwrap_err();
        assert!(
            matches!(
                e,
                BuildError::Weights {
                    layer: 0,
                    error: WeightError::Zero
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn activations_parse_with_their_parameters() {
        type Case = (
            &'static str,
            Option<f64>,
            Option<f64>,
            Result<Activation, &'static str>,
        );
        let cases: Vec<Case> = vec![
            ("relu", None, None, Ok(Activation::Relu)),
            (
                "hardtanh",
                None,
                None,
                Ok(Activation::Hardtanh { threshold: 1.0 }),
            ),
            (
                "hardtanh",
                None,
                Some(2.0),
                Ok(Activation::Hardtanh { threshold: 2.0 }),
            ),
            (
                "leaky-relu",
                Some(0.1),
                None,
                Ok(Activation::LeakyRelu { slope: 0.1 }),
            ),
            ("leaky-relu", None, None, Err("slope")),
            ("leaky-relu", Some(1.5), None, Err("slope")),
            ("hardtanh", None, Some(0.0), Err("threshold")),
            ("relu", Some(0.1), None, Err("slope")),
            ("linear", None, Some(1.0), Err("threshold")),
            ("leaky_relu", Some(0.1), None, Err("activation")),
        ];
        for (name, slope, threshold, expected) in cases {
            let got = activation(name, slope, threshold);
            println!("{name} slope={slope:?} threshold={threshold:?}: {got:?}");
            match (got, expected) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(e), Err(param)) => assert_eq!(e.param(), param, "{e}"),
                (got, expected) => panic!("{name}: {got:?}, expected {expected:?}"),
            }
        }
    }
}
