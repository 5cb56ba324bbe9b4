//! `replica_mi._native`: the Python face of replica-core.
//!
//! Chains are built from Python objects (a [`PyPrior`], [`PyLayer`]s whose weights are a
//! [`PyWeights`] ensemble, a numpy spectrum or a numpy weight matrix) or from a spec file, and
//! solved with the GIL released. Every error of the estimator becomes a typed Python exception:
//! [`SpecError`] (a `ValueError`) for invalid input, [`NotConvergedError`] (a `RuntimeError`)
//! when the replica equations could not be solved; nothing panics across the boundary (and pyo3
//! turns a panic, should one happen, into a `PanicException` rather than an abort).

use faer::Mat;
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyRuntimeError, PyTypeError, PyUserWarning, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use replica_core::exact::nonparam;
use replica_core::replica::{
    solve, solve_warm, Activation, ActivationKind, Chain, DiscreteSpectrum, Ensemble, Estimate,
    Layer, Prior, ReplicaError, SolverOptions, WarmStart,
};
use replica_core::spec::{self, LoadedSpec, SpecOptions};
use replica_core::weights::{
    invariance_note, matrix_layer, read_matrix, WeightError, WeightMatrix,
};
use std::ffi::CString;
use std::path::PathBuf;

create_exception!(
    replica_mi,
    SpecError,
    PyValueError,
    "Invalid network description: a spec file, a prior, a layer, weights or a weight file that \
     breaks a rule. `field` names the offending field (e.g. 'layers[1].alpha') when there is one."
);
create_exception!(
    replica_mi,
    NotConvergedError,
    PyRuntimeError,
    "The replica equations could not be solved. `reasons` lists, per failed solve, what every \
     start and scheme ran into; `partial` holds, for solve(all_layers=True), the estimates of the \
     truncations that did converge (None where one failed)."
);

// ---------------------------------------------------------------------------------------------
// Errors

fn spec_error(py: Python<'_>, message: String, field: Option<String>) -> PyErr {
    let err = SpecError::new_err(message);
    // setting an attribute on a fresh exception instance cannot fail in practice; if it did, the
    // exception is still raised without it
    let _ = err.value(py).setattr("field", field);
    err
}

fn not_converged(py: Python<'_>, reasons: Vec<String>, partial: Option<Py<PyAny>>) -> PyErr {
    let err = NotConvergedError::new_err(reasons.join("\n"));
    let _ = err.value(py).setattr("reasons", reasons);
    let _ = err.value(py).setattr("partial", partial);
    err
}

/// An error of the estimator: bad parameters are [`SpecError`], failures to solve
/// [`NotConvergedError`]. `context` prefixes the message; `layer` is the index of the layer
/// being built, which a layer's own field is placed in.
fn replica_error(py: Python<'_>, e: ReplicaError, context: &str, layer: Option<usize>) -> PyErr {
    let prefix = if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    };
    match e {
        ReplicaError::InvalidParameter { ref field, .. } => {
            let field = match layer {
                Some(i) => field.clone().in_layer(i),
                None => field.clone(),
            };
            spec_error(py, format!("{prefix}{e}"), Some(field.to_string()))
        }
        ReplicaError::InvalidChain(_) => spec_error(py, format!("{prefix}{e}"), None),
        _ => not_converged(py, vec![format!("{prefix}{e}")], None),
    }
}

fn core_spec_error(py: Python<'_>, e: spec::SpecError) -> PyErr {
    match e {
        spec::SpecError::Io {
            ref path,
            ref error,
        } => {
            let msg = format!("cannot read spec file {}: {error}", path.display());
            if error.kind() == std::io::ErrorKind::NotFound {
                PyFileNotFoundError::new_err(msg)
            } else {
                PyOSError::new_err(msg)
            }
        }
        other => {
            let field = other.field().map(str::to_string);
            spec_error(py, other.to_string(), field)
        }
    }
}

fn weight_error(py: Python<'_>, field: &str, e: WeightError) -> PyErr {
    spec_error(py, format!("{field}: {e}"), Some(field.to_string()))
}

/// Emit each note as a `UserWarning`.
fn warn_notes(py: Python<'_>, notes: &[String]) -> PyResult<()> {
    let category = py.get_type::<PyUserWarning>();
    for n in notes {
        let msg = CString::new(n.replace('\0', " ")).expect("no NUL left");
        PyErr::warn(py, category.as_any(), &msg, 2)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// numpy input

/// `numpy.asarray(obj, dtype=float64)`, with its dimension checked.
fn float_array<'py>(
    obj: &Bound<'py, PyAny>,
    ndim: usize,
    field: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let np = py.import("numpy")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", np.getattr("float64")?)?;
    let arr = np
        .getattr("asarray")?
        .call((obj,), Some(&kwargs))
        .map_err(|e| {
            spec_error(
                py,
                format!("{field}: not convertible to a float64 array: {e}"),
                Some(field.to_string()),
            )
        })?;
    let got: usize = arr.getattr("ndim")?.extract()?;
    if got != ndim {
        let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
        return Err(spec_error(
            py,
            format!("{field}: expected a {ndim}-D array, got shape {shape:?} ({got}-D)"),
            Some(field.to_string()),
        ));
    }
    Ok(arr)
}

fn vector(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<f64>> {
    let arr = float_array(obj, 1, field)?;
    let ro: PyReadonlyArray1<'_, f64> = arr.extract()?;
    Ok(ro.as_array().iter().copied().collect())
}

/// A 2-D float array as (rows, cols, row-major data).
fn matrix_data(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<(usize, usize, Vec<f64>)> {
    let arr = float_array(obj, 2, field)?;
    let ro: PyReadonlyArray2<'_, f64> = arr.extract()?;
    let v = ro.as_array();
    let (r, c) = v.dim();
    Ok((r, c, v.iter().copied().collect()))
}

fn weight_matrix(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<WeightMatrix> {
    let (r, c, data) = matrix_data(obj, field)?;
    WeightMatrix::from_row_major(r, c, data).map_err(|e| weight_error(obj.py(), field, e))
}

fn samples(obj: &Bound<'_, PyAny>) -> PyResult<Mat<f64>> {
    let (r, c, data) = matrix_data(obj, "samples")?;
    Ok(Mat::from_fn(r, c, |i, j| data[i * c + j]))
}

// ---------------------------------------------------------------------------------------------
// Prior

/// The prior of the input `X` (i.i.d. entries).
#[pyclass(name = "Prior", module = "replica_mi", frozen)]
struct PyPrior {
    prior: Prior,
    text: String,
}

#[pymethods]
impl PyPrior {
    /// Gaussian entries `N(mean, var)`.
    #[staticmethod]
    #[pyo3(signature = (var = 1.0, mean = 0.0))]
    fn gaussian(py: Python<'_>, var: f64, mean: f64) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::gaussian(mean, var).map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.gaussian(var={var}, mean={mean})"),
        })
    }

    /// Binary entries: `+1` with probability `p`, `-1` otherwise.
    #[staticmethod]
    #[pyo3(signature = (p = 0.5))]
    fn binary(py: Python<'_>, p: f64) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::binary(p).map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.binary(p={p})"),
        })
    }

    /// Gauss-Bernoulli entries: `N(mean, var)` with probability `p`, `0` otherwise.
    #[staticmethod]
    #[pyo3(signature = (p, var = 1.0, mean = 0.0))]
    fn gauss_bernoulli(py: Python<'_>, p: f64, var: f64, mean: f64) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::gauss_bernoulli(p, mean, var)
                .map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.gauss_bernoulli(p={p}, var={var}, mean={mean})"),
        })
    }

    fn __repr__(&self) -> String {
        self.text.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Weights

#[derive(Clone, Debug)]
enum WeightsKind {
    Gaussian {
        var: f64,
    },
    Orthogonal,
    Spectrum {
        eigenvalues: Vec<f64>,
        scale: f64,
    },
    Matrix {
        matrix: WeightMatrix,
        scale: f64,
        source: Option<String>,
    },
}

/// The weights of one layer: an ensemble, a spectrum, or a matrix.
#[pyclass(name = "Weights", module = "replica_mi", frozen)]
struct PyWeights {
    kind: WeightsKind,
}

fn check_scale(py: Python<'_>, scale: f64) -> PyResult<f64> {
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(spec_error(
            py,
            format!("weights.scale = {scale}: must be finite and > 0"),
            Some("weights.scale".into()),
        ))
    }
}

#[pymethods]
impl PyWeights {
    /// I.i.d. Gaussian entries `N(0, var / n_{l-1})` (Marchenko-Pastur spectrum).
    #[staticmethod]
    #[pyo3(signature = (var = 1.0))]
    fn gaussian(py: Python<'_>, var: f64) -> PyResult<Self> {
        if !(var.is_finite() && var > 0.0) {
            return Err(spec_error(
                py,
                format!("weights.var = {var}: must be finite and > 0"),
                Some("weights.var".into()),
            ));
        }
        Ok(PyWeights {
            kind: WeightsKind::Gaussian { var },
        })
    }

    /// Orthogonal (Haar) weights.
    #[staticmethod]
    fn orthogonal() -> Self {
        PyWeights {
            kind: WeightsKind::Orthogonal,
        }
    }

    /// An empirical spectrum: all `n_{l-1}` eigenvalues of `W^T W` (zeros included), times
    /// `scale`.
    #[staticmethod]
    #[pyo3(signature = (eigenvalues, scale = 1.0))]
    fn spectrum(py: Python<'_>, eigenvalues: &Bound<'_, PyAny>, scale: f64) -> PyResult<Self> {
        let scale = check_scale(py, scale)?;
        let eigenvalues = vector(eigenvalues, "weights.spectrum")?;
        // check now (finite, >= 0, one positive), so that the error comes from this call
        DiscreteSpectrum::from_eigenvalues(&eigenvalues, scale)
            .map_err(|e| replica_error(py, e, "", None))?;
        Ok(PyWeights {
            kind: WeightsKind::Spectrum { eigenvalues, scale },
        })
    }

    /// A weight matrix `W`, `n_l x n_{l-1}` (PyTorch's `Linear.weight`); its transpose is taken
    /// only when the shape leaves no doubt (see the README). `scale` multiplies the eigenvalues of
    /// `W^T W`.
    #[staticmethod]
    #[pyo3(signature = (w, scale = 1.0))]
    fn matrix(py: Python<'_>, w: &Bound<'_, PyAny>, scale: f64) -> PyResult<Self> {
        let scale = check_scale(py, scale)?;
        Ok(PyWeights {
            kind: WeightsKind::Matrix {
                matrix: weight_matrix(w, "weights.matrix")?,
                scale,
                source: None,
            },
        })
    }

    /// A weight matrix read from a `.npy`, `.npz` or `.safetensors` file (`tensor` names the array
    /// in an archive; optional when it holds one).
    #[staticmethod]
    #[pyo3(signature = (path, tensor = None, scale = 1.0))]
    fn file(py: Python<'_>, path: PathBuf, tensor: Option<String>, scale: f64) -> PyResult<Self> {
        let scale = check_scale(py, scale)?;
        let loaded = py
            .detach(|| read_matrix(&path, tensor.as_deref()))
            .map_err(|e| {
                let t = tensor
                    .as_ref()
                    .map(|t| format!(" (tensor \"{t}\")"))
                    .unwrap_or_default();
                weight_error(py, &format!("weights.file {}{t}", path.display()), e)
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
        Ok(PyWeights {
            kind: WeightsKind::Matrix {
                matrix: loaded.matrix,
                scale,
                source: Some(source),
            },
        })
    }

    /// `"gaussian"`, `"orthogonal"`, `"spectrum"` or `"matrix"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.kind {
            WeightsKind::Gaussian { .. } => "gaussian",
            WeightsKind::Orthogonal => "orthogonal",
            WeightsKind::Spectrum { .. } => "spectrum",
            WeightsKind::Matrix { .. } => "matrix",
        }
    }

    /// The stored shape `(rows, cols)` of a matrix, else None.
    #[getter]
    fn shape(&self) -> Option<(usize, usize)> {
        match &self.kind {
            WeightsKind::Matrix { matrix, .. } => Some((matrix.rows(), matrix.cols())),
            _ => None,
        }
    }

    fn __repr__(&self) -> String {
        match &self.kind {
            WeightsKind::Gaussian { var } => format!("Weights.gaussian(var={var})"),
            WeightsKind::Orthogonal => "Weights.orthogonal()".into(),
            WeightsKind::Spectrum { eigenvalues, scale } => {
                format!(
                    "Weights.spectrum(<{} eigenvalues>, scale={scale})",
                    eigenvalues.len()
                )
            }
            WeightsKind::Matrix {
                matrix,
                scale,
                source,
            } => format!(
                "Weights.matrix(<{} x {}{}>, scale={scale})",
                matrix.rows(),
                matrix.cols(),
                source
                    .as_ref()
                    .map(|s| format!(" from {s}"))
                    .unwrap_or_default()
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Layer

/// One layer `T_l = phi(W_l T_{l-1} + xi_l)`, `xi_l ~ N(0, noise_var)`.
#[pyclass(name = "Layer", module = "replica_mi", frozen)]
struct PyLayer {
    alpha: Option<f64>,
    activation: Activation,
    noise_var: f64,
    weights: WeightsKind,
}

fn parse_activation(
    py: Python<'_>,
    name: &str,
    slope: Option<f64>,
    threshold: Option<f64>,
) -> PyResult<Activation> {
    let bad = |field: &str, msg: String| {
        spec_error(py, format!("{field}: {msg}"), Some(field.to_string()))
    };
    let kind = name.parse::<ActivationKind>().ok();
    if kind != Some(ActivationKind::LeakyRelu) && slope.is_some() {
        return Err(bad(
            "slope",
            format!("not a parameter of activation \"{name}\""),
        ));
    }
    if kind != Some(ActivationKind::Hardtanh) && threshold.is_some() {
        return Err(bad(
            "threshold",
            format!("not a parameter of activation \"{name}\""),
        ));
    }
    let act = match kind {
        Some(ActivationKind::Linear) => Activation::Linear,
        Some(ActivationKind::Relu) => Activation::Relu,
        Some(ActivationKind::Sign) => Activation::Sign,
        Some(ActivationKind::LeakyRelu) => {
            let slope =
                slope.ok_or_else(|| bad("slope", "leaky-relu needs slope in [0, 1]".into()))?;
            Activation::LeakyRelu { slope }
        }
        Some(ActivationKind::Hardtanh) => Activation::Hardtanh {
            threshold: threshold.unwrap_or(1.0),
        },
        None => {
            return Err(bad(
                "activation",
                format!(
                    "unknown \"{name}\"; allowed: {}",
                    spec::ACTIVATION_KINDS
                        .iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    act.check().map_err(|e| replica_error(py, e, "", None))?;
    Ok(act)
}

#[pymethods]
impl PyLayer {
    /// `weights`: a `Weights`, or a 2-D array (a weight matrix, `n_l x n_{l-1}`). `alpha =
    /// n_l / n_{l-1}` is required except for a matrix, whose shape gives it (if given, it must
    /// agree). `slope` is the leaky-ReLU's, `threshold` the hardtanh's (default 1).
    #[new]
    #[pyo3(signature = (activation, noise_var, weights, alpha = None, slope = None, threshold = None))]
    fn new(
        py: Python<'_>,
        activation: &str,
        noise_var: f64,
        weights: &Bound<'_, PyAny>,
        alpha: Option<f64>,
        slope: Option<f64>,
        threshold: Option<f64>,
    ) -> PyResult<Self> {
        let activation = parse_activation(py, activation, slope, threshold)?;
        if !(noise_var.is_finite() && noise_var >= 0.0) {
            return Err(spec_error(
                py,
                format!("noise_var = {noise_var}: must be finite and >= 0"),
                Some("noise_var".into()),
            ));
        }
        let weights = match weights.cast::<PyWeights>() {
            Ok(w) => w.get().kind.clone(),
            Err(_) => {
                if weights.hasattr("ndim")? || weights.is_instance_of::<PyList>() {
                    WeightsKind::Matrix {
                        matrix: weight_matrix(weights, "weights")?,
                        scale: 1.0,
                        source: None,
                    }
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "weights: expected a replica_mi.Weights or a 2-D array (a weight matrix), got {}",
                        weights.get_type().name()?
                    )));
                }
            }
        };
        let is_matrix = matches!(weights, WeightsKind::Matrix { .. });
        match alpha {
            Some(a) if !(a.is_finite() && a > 0.0) => {
                return Err(spec_error(
                    py,
                    format!("alpha = {a}: must be finite and > 0"),
                    Some("alpha".into()),
                ));
            }
            None if !is_matrix => {
                return Err(spec_error(
                    py,
                    "alpha: required (n_l / n_{l-1}) unless the weights are a matrix, whose shape gives it".into(),
                    Some("alpha".into()),
                ));
            }
            _ => {}
        }
        Ok(PyLayer {
            alpha,
            activation,
            noise_var,
            weights,
        })
    }

    /// The declared alpha (None: taken from the weight matrix when the chain is built).
    #[getter]
    fn alpha(&self) -> Option<f64> {
        self.alpha
    }
    #[getter]
    fn noise_var(&self) -> f64 {
        self.noise_var
    }
    #[getter]
    fn activation(&self) -> String {
        self.activation.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Chain

/// Build the chain, tracking the width of each layer as the spec reader does (a matrix fixes it,
/// alphas carry it).
fn build_chain(
    py: Python<'_>,
    prior: Prior,
    layers: &[&PyLayer],
    assume_invariant: bool,
) -> PyResult<(Chain, Vec<String>)> {
    if layers.is_empty() {
        return Err(spec_error(
            py,
            "layers: a chain needs at least one layer".into(),
            Some("layers".into()),
        ));
    }
    let mut width: Option<f64> = None;
    let mut notes = Vec::new();
    let mut built = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let ctx = format!("layers[{i}]");
        let (alpha, ensemble, n_out) = match &l.weights {
            WeightsKind::Matrix {
                matrix,
                scale,
                source,
            } => {
                let field = format!("{ctx}.weights");
                let m = matrix_layer(matrix, l.alpha, width, *scale)
                    .map_err(|e| weight_error(py, &field, e))?;
                let o = m.oriented;
                if o.transposed {
                    notes.push(format!(
                        "{field}: the {} x {} matrix{} is read as its transpose W ({} x {} = n_l x n_(l-1)): only that orientation fits {}",
                        matrix.rows(),
                        matrix.cols(),
                        source.as_ref().map(|s| format!(" from {s}")).unwrap_or_default(),
                        o.n_out,
                        o.n_in,
                        match (l.alpha, width) {
                            (Some(a), Some(n)) => format!("alpha = {a} and the previous layer's width {n}"),
                            (Some(a), None) => format!("alpha = {a}"),
                            (None, _) => "the previous layer's width".to_string(),
                        }
                    ));
                }
                (
                    o.alpha(),
                    Ensemble::Discrete(m.spectrum),
                    Some(o.n_out as f64),
                )
            }
            other => {
                let alpha = l.alpha.expect("checked by Layer()");
                let ens = match other {
                    WeightsKind::Gaussian { var } => Ensemble::Gaussian { var: *var },
                    WeightsKind::Orthogonal => {
                        Ensemble::Discrete(DiscreteSpectrum::orthogonal(alpha))
                    }
                    WeightsKind::Spectrum { eigenvalues, scale } => Ensemble::Discrete(
                        DiscreteSpectrum::from_eigenvalues(eigenvalues, *scale)
                            .map_err(|e| replica_error(py, e, &ctx, Some(i)))?,
                    ),
                    WeightsKind::Matrix { .. } => unreachable!("matched above"),
                };
                (alpha, ens, width.map(|n| n * alpha))
            }
        };
        width = n_out;
        built.push(
            Layer::new(alpha, l.activation, l.noise_var, ensemble)
                .map_err(|e| replica_error(py, e, &ctx, Some(i)))?,
        );
    }
    let chain = Chain::new(prior, built).map_err(|e| replica_error(py, e, "", None))?;
    let matrices: Vec<String> = layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.weights, WeightsKind::Matrix { .. }))
        .map(|(i, _)| format!("layers[{i}].weights"))
        .collect();
    notes.extend(invariance_note(&matrices, assume_invariant));
    Ok((chain, notes))
}

/// A checked network: a prior and layers.
#[pyclass(name = "Chain", module = "replica_mi", frozen)]
struct PyChain {
    chain: Chain,
    notes: Vec<String>,
}

fn options(tol: Option<f64>, max_iter: Option<usize>) -> PyResult<SolverOptions> {
    let mut o = SolverOptions::default();
    if let Some(t) = tol {
        o = o
            .with_tol(t)
            .map_err(|e| PyValueError::new_err(format!("tol: {e}")))?;
    }
    if let Some(n) = max_iter {
        o = o
            .with_max_iter(n)
            .map_err(|e| PyValueError::new_err(format!("max_iter: {e}")))?;
    }
    Ok(o)
}

/// A warm start argument: an Estimate, a WarmStart, or (all layers) a sequence of them / None.
fn warm_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<WarmStart>> {
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(e) = obj.cast::<PyEstimate>() {
        return Ok(Some(e.get().est.warm_start()));
    }
    if let Ok(w) = obj.cast::<PyWarmStart>() {
        return Ok(Some(w.get().warm.clone()));
    }
    Err(PyTypeError::new_err(format!(
        "warm_start: expected an Estimate, a WarmStart or None, got {}",
        obj.get_type().name()?
    )))
}

/// Solve `chain` (or all its truncations) with the GIL released.
fn run(
    py: Python<'_>,
    chain: &Chain,
    opts: SolverOptions,
    all_layers: bool,
    warm_start: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let n = chain.len();
    if !all_layers {
        let warm = match warm_start {
            Some(w) => warm_of(w)?,
            None => None,
        };
        if let Some(w) = &warm {
            check_warm(w, n, "warm_start")?;
        }
        let r = py.detach(|| match &warm {
            Some(w) => solve_warm(chain, &opts, w),
            None => solve(chain, &opts),
        });
        let est = r.map_err(|e| replica_error(py, e, &format!("layer {n}"), None))?;
        return Ok(Py::new(py, PyEstimate { layer: n, est })?.into_any());
    }
    let mut warms: Vec<Option<WarmStart>> = vec![None; n];
    if let Some(w) = warm_start.filter(|w| !w.is_none()) {
        let items: Vec<Bound<'_, PyAny>> = if w.is_instance_of::<PyList>()
            || w.is_instance_of::<pyo3::types::PyTuple>()
        {
            w.extract()?
        } else {
            return Err(PyTypeError::new_err(
                "warm_start: with all_layers=True, a list with one Estimate / WarmStart / None per layer (e.g. the previous call's result)",
            ));
        };
        if items.len() != n {
            return Err(PyValueError::new_err(format!(
                "warm_start: {} entries for a {n}-layer chain (one per truncation T_1..T_{n})",
                items.len()
            )));
        }
        for (k, item) in items.iter().enumerate() {
            warms[k] = warm_of(item)?;
            if let Some(ws) = &warms[k] {
                check_warm(ws, k + 1, &format!("warm_start[{k}]"))?;
            }
        }
    }
    let noise = chain.layers()[n - 1].channel().noise_var();
    let results: Vec<Result<Estimate, ReplicaError>> = py.detach(|| {
        (1..=n)
            .map(|l| {
                let c = chain.truncated(l, noise)?;
                match &warms[l - 1] {
                    Some(w) => solve_warm(&c, &opts, w),
                    None => solve(&c, &opts),
                }
            })
            .collect()
    });
    let mut out: Vec<Option<Py<PyEstimate>>> = Vec::with_capacity(n);
    let mut reasons = Vec::new();
    for (k, r) in results.into_iter().enumerate() {
        match r {
            Ok(est) => out.push(Some(Py::new(py, PyEstimate { layer: k + 1, est })?)),
            Err(e @ (ReplicaError::InvalidParameter { .. } | ReplicaError::InvalidChain(_))) => {
                return Err(replica_error(py, e, &format!("layer {}", k + 1), None));
            }
            Err(e) => {
                reasons.push(format!("layer {}: {e}", k + 1));
                out.push(None);
            }
        }
    }
    let list = PyList::new(py, out)?.into_any().unbind();
    if reasons.is_empty() {
        Ok(list)
    } else {
        Err(not_converged(py, reasons, Some(list)))
    }
}

fn check_warm(w: &WarmStart, layers: usize, what: &str) -> PyResult<()> {
    if w.params.v.len() != layers {
        return Err(PyValueError::new_err(format!(
            "{what}: a warm start of a {}-layer chain, for a {layers}-layer chain",
            w.params.v.len()
        )));
    }
    Ok(())
}

#[pymethods]
impl PyChain {
    /// A chain from a prior and a list of layers (first layer first). Weight matrices are
    /// oriented and checked against alpha and the previous layer's width here; a matrix read as
    /// its transpose is reported by a UserWarning (and in `notes`). Weight matrices enter through
    /// their spectrum alone (singular vectors treated as Haar-random): one note and one
    /// UserWarning say so, unless `assume_invariant=True`. `notes`: further lines to record (and
    /// warn) with the chain's own, e.g. what a converter left out.
    #[new]
    #[pyo3(signature = (prior, layers, *, assume_invariant = false, notes = None))]
    fn new(
        py: Python<'_>,
        prior: &Bound<'_, PyPrior>,
        layers: Vec<Bound<'_, PyLayer>>,
        assume_invariant: bool,
        notes: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let refs: Vec<&PyLayer> = layers.iter().map(|l| l.get()).collect();
        let (chain, mut own) = build_chain(py, prior.get().prior, &refs, assume_invariant)?;
        own.extend(notes.unwrap_or_default());
        warn_notes(py, &own)?;
        Ok(PyChain { chain, notes: own })
    }

    /// The chain of a spec file (the format the command line reads, weight files included; paths
    /// relative to the spec file).
    #[staticmethod]
    #[pyo3(signature = (path, *, assume_invariant = false))]
    fn from_file(py: Python<'_>, path: PathBuf, assume_invariant: bool) -> PyResult<Self> {
        let options = SpecOptions { assume_invariant };
        let LoadedSpec { chain, notes } = py
            .detach(|| spec::load_spec_with_options(&path, options))
            .map_err(|e| core_spec_error(py, e))?;
        warn_notes(py, &notes)?;
        Ok(PyChain { chain, notes })
    }

    /// The chain of spec text (TOML); relative file paths are resolved against `base_dir`
    /// (default: the current directory).
    #[staticmethod]
    #[pyo3(signature = (text, base_dir = None, *, assume_invariant = false))]
    fn from_toml(
        py: Python<'_>,
        text: &str,
        base_dir: Option<PathBuf>,
        assume_invariant: bool,
    ) -> PyResult<Self> {
        let base = base_dir.unwrap_or_else(|| PathBuf::from("."));
        let options = SpecOptions { assume_invariant };
        let LoadedSpec { chain, notes } = spec::parse_spec_with_options(text, &base, options)
            .map_err(|e| core_spec_error(py, e))?;
        warn_notes(py, &notes)?;
        Ok(PyChain { chain, notes })
    }

    /// Solve the replica equations (GIL released). Returns an `Estimate`, or with
    /// `all_layers=True` a list of them, one per truncation `T_1..T_L` (each measured with the
    /// output layer's noise). `warm_start`: the previous call's result (an `Estimate`, or the list
    /// with `all_layers=True`) to start from its stationary point.
    #[pyo3(signature = (*, all_layers = false, warm_start = None, tol = None, max_iter = None))]
    fn solve(
        &self,
        py: Python<'_>,
        all_layers: bool,
        warm_start: Option<&Bound<'_, PyAny>>,
        tol: Option<f64>,
        max_iter: Option<usize>,
    ) -> PyResult<Py<PyAny>> {
        run(
            py,
            &self.chain,
            options(tol, max_iter)?,
            all_layers,
            warm_start,
        )
    }

    /// Same as `solve`.
    #[pyo3(signature = (*, all_layers = false, warm_start = None, tol = None, max_iter = None))]
    fn entropy(
        &self,
        py: Python<'_>,
        all_layers: bool,
        warm_start: Option<&Bound<'_, PyAny>>,
        tol: Option<f64>,
        max_iter: Option<usize>,
    ) -> PyResult<Py<PyAny>> {
        self.solve(py, all_layers, warm_start, tol, max_iter)
    }

    /// Number of layers.
    fn __len__(&self) -> usize {
        self.chain.len()
    }

    /// `alpha_l = n_l / n_{l-1}` of each layer (for matrices, from their shape).
    #[getter]
    fn alphas(&self) -> Vec<f64> {
        self.chain.layers().iter().map(|l| l.alpha()).collect()
    }

    /// What was decided on the user's behalf while building (a matrix read as its transpose) and
    /// the assumptions the numbers rest on (weight matrices summarised by their spectrum).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn __repr__(&self) -> String {
        let layers: Vec<String> = self
            .chain
            .layers()
            .iter()
            .map(|l| {
                format!(
                    "{}(alpha={:.6}, noise_var={})",
                    l.channel().activation(),
                    l.alpha(),
                    l.channel().noise_var()
                )
            })
            .collect();
        format!(
            "Chain(<{} layers: {}>)",
            self.chain.len(),
            layers.join(", ")
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Results

/// A warm start: the stationary point (and Anderson secants) of an earlier solve.
#[pyclass(name = "WarmStart", module = "replica_mi", frozen)]
struct PyWarmStart {
    warm: WarmStart,
}

#[pymethods]
impl PyWarmStart {
    /// Number of layers of the chain it came from.
    #[getter]
    fn n_layers(&self) -> usize {
        self.warm.params.v.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "WarmStart(<{} layers, {} secants>)",
            self.warm.params.v.len(),
            self.warm.secants.len()
        )
    }
}

/// The replica estimate for one measured layer, in nats per input dimension `n_0`.
#[pyclass(name = "Estimate", module = "replica_mi", frozen)]
struct PyEstimate {
    layer: usize,
    est: Estimate,
}

#[pymethods]
impl PyEstimate {
    /// 1-based index `l` of the measured layer `T_l`.
    #[getter]
    fn layer(&self) -> usize {
        self.layer
    }
    /// `H(T_l) / n_0` (nats).
    #[getter]
    fn entropy(&self) -> f64 {
        self.est.entropy
    }
    /// `I(X; T_l) / n_0` (nats); None when a layer before `T_l` is noisy (it is then not given by
    /// the formula; see `mi_last_layer`).
    #[getter]
    fn mutual_information(&self) -> Option<f64> {
        self.est.mutual_information
    }
    /// `I(T_{l-1}; T_l) / n_0` (nats).
    #[getter]
    fn mi_last_layer(&self) -> f64 {
        self.est.mi_last_layer
    }
    /// MMSE of `X` given `T_l`, per entry.
    #[getter]
    fn mmse(&self) -> f64 {
        self.est.mmse
    }
    /// `"fixed-point"` or `"ml-vamp"`: the scheme whose stationary point was selected.
    #[getter]
    fn scheme(&self) -> String {
        self.est.scheme.to_string()
    }
    /// Sweeps of the selected run.
    #[getter]
    fn iterations(&self) -> u64 {
        self.est.iterations
    }
    /// Largest relative change of an order parameter in the last sweep.
    #[getter]
    fn residual(&self) -> f64 {
        self.est.residual
    }
    /// The work counters of the whole solve.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.est.counters;
        let d = PyDict::new(py);
        d.set_item("sweeps_fixed_point", c.sweeps_fixed_point)?;
        d.set_item("sweeps_vamp", c.sweeps_vamp)?;
        d.set_item("starts_tried", c.starts_tried)?;
        d.set_item("starts_converged", c.starts_converged)?;
        d.set_item("starts_duplicate", c.starts_duplicate)?;
        d.set_item("candidates_rejected", c.candidates_rejected)?;
        d.set_item("continuation_steps", c.continuation_steps)?;
        d.set_item("evals", c.evals)?;
        Ok(d)
    }
    /// The selected stationary point, per layer: `v` (V), `a` (A), `a_t` (A~), `v_t` (V~),
    /// `theta`, as float64 arrays.
    #[getter]
    fn order_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = &self.est.order_params;
        let d = PyDict::new(py);
        d.set_item("v", PyArray1::from_slice(py, &p.v))?;
        d.set_item("a", PyArray1::from_slice(py, &p.a))?;
        d.set_item("a_t", PyArray1::from_slice(py, &p.a_t))?;
        d.set_item("v_t", PyArray1::from_slice(py, &p.v_t))?;
        d.set_item("theta", PyArray1::from_slice(py, &p.theta))?;
        Ok(d)
    }
    /// The warm start for the next solve of a nearby chain with the same number of layers.
    #[getter]
    fn warm_start(&self) -> PyWarmStart {
        PyWarmStart {
            warm: self.est.warm_start(),
        }
    }
    /// The scalar results as a dict (JSON-ready).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("layer", self.layer)?;
        d.set_item("entropy", self.est.entropy)?;
        d.set_item("mutual_information", self.est.mutual_information)?;
        d.set_item("mi_last_layer", self.est.mi_last_layer)?;
        d.set_item("mmse", self.est.mmse)?;
        d.set_item("scheme", self.scheme())?;
        d.set_item("iterations", self.est.iterations)?;
        d.set_item("residual", self.est.residual)?;
        d.set_item("counters", self.counters(py)?)?;
        Ok(d)
    }
    fn __repr__(&self) -> String {
        format!(
            "Estimate(layer={}, entropy={:.10}, mutual_information={}, mmse={:.10}, scheme='{}', iterations={})",
            self.layer,
            self.est.entropy,
            self.est.mutual_information.map_or("None".to_string(), |m| format!("{m:.10}")),
            self.est.mmse,
            self.est.scheme,
            self.est.iterations
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Module functions

/// Solve a chain: same as `chain.solve(...)`.
#[pyfunction(name = "solve")]
#[pyo3(signature = (chain, *, all_layers = false, warm_start = None, tol = None, max_iter = None))]
fn solve_chain(
    py: Python<'_>,
    chain: &Bound<'_, PyChain>,
    all_layers: bool,
    warm_start: Option<&Bound<'_, PyAny>>,
    tol: Option<f64>,
    max_iter: Option<usize>,
) -> PyResult<Py<PyAny>> {
    run(
        py,
        &chain.get().chain,
        options(tol, max_iter)?,
        all_layers,
        warm_start,
    )
}

/// Read a spec file (the command line's format, weight files included) and solve it.
#[pyfunction]
#[pyo3(signature = (path, *, all_layers = false, warm_start = None, tol = None, max_iter = None, assume_invariant = false))]
fn solve_file(
    py: Python<'_>,
    path: PathBuf,
    all_layers: bool,
    warm_start: Option<&Bound<'_, PyAny>>,
    tol: Option<f64>,
    max_iter: Option<usize>,
    assume_invariant: bool,
) -> PyResult<Py<PyAny>> {
    let opts = options(tol, max_iter)?;
    let chain = PyChain::from_file(py, path, assume_invariant)?;
    run(py, &chain.chain, opts, all_layers, warm_start)
}

fn nonparam_error(e: nonparam::NonparamError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// KL ("KDE") upper bound on the entropy (nats, total) of the mixture `(1/N) sum_j N(x_j, s2 I)`
/// centred on the rows of `samples` (N x d).
#[pyfunction]
fn kde_upper_bound(py: Python<'_>, samples: &Bound<'_, PyAny>, s2: f64) -> PyResult<f64> {
    let x = self::samples(samples)?;
    py.detach(|| nonparam::kde_upper_bound(&x, s2))
        .map_err(nonparam_error)
}

/// Bhattacharyya (pairwise) lower bound on the entropy (nats, total) of the same mixture.
#[pyfunction]
fn pairwise_lower_bound(py: Python<'_>, samples: &Bound<'_, PyAny>, s2: f64) -> PyResult<f64> {
    let x = self::samples(samples)?;
    py.detach(|| nonparam::pairwise_lower_bound(&x, s2))
        .map_err(nonparam_error)
}

/// Both mixture bounds from one distance matrix: `(lower, upper)` (nats, total).
#[pyfunction]
fn mixture_entropy_bounds(
    py: Python<'_>,
    samples: &Bound<'_, PyAny>,
    s2: f64,
) -> PyResult<(f64, f64)> {
    let x = self::samples(samples)?;
    let b = py
        .detach(|| nonparam::mixture_entropy_bounds(&x, s2))
        .map_err(nonparam_error)?;
    Ok((b.lower, b.upper))
}

/// Kozachenko-Leonenko k-nearest-neighbour estimate of the entropy (nats, total) of the density
/// the rows of `samples` (N x d) are drawn from.
#[pyfunction]
#[pyo3(signature = (samples, k = 3))]
fn knn_entropy(py: Python<'_>, samples: &Bound<'_, PyAny>, k: usize) -> PyResult<f64> {
    let x = self::samples(samples)?;
    py.detach(|| nonparam::knn_entropy(&x, k))
        .map_err(nonparam_error)
}

/// The eigenvalues of `W^T W` (largest first, `n_{l-1}` of them, zeros included) of a matrix
/// `W` (`n_l x n_{l-1}`), in float64.
#[pyfunction]
fn wtw_eigenvalues<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let m = weight_matrix(w, "w")?;
    let e = py
        .detach(|| m.wtw_eigenvalues(false))
        .map_err(|e| weight_error(py, "w", e))?;
    Ok(PyArray1::from_vec(py, e))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SpecError", py.get_type::<SpecError>())?;
    m.add("NotConvergedError", py.get_type::<NotConvergedError>())?;
    m.add_class::<PyPrior>()?;
    m.add_class::<PyWeights>()?;
    m.add_class::<PyLayer>()?;
    m.add_class::<PyChain>()?;
    m.add_class::<PyEstimate>()?;
    m.add_class::<PyWarmStart>()?;
    m.add_function(wrap_pyfunction!(solve_chain, m)?)?;
    m.add_function(wrap_pyfunction!(solve_file, m)?)?;
    m.add_function(wrap_pyfunction!(kde_upper_bound, m)?)?;
    m.add_function(wrap_pyfunction!(pairwise_lower_bound, m)?)?;
    m.add_function(wrap_pyfunction!(mixture_entropy_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(knn_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(wtw_eigenvalues, m)?)?;
    Ok(())
}
