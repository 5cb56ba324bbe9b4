//! `Layer`: activation, noise and weights of one layer.

use crate::prelude::*;

/// One layer `T_l = phi(W_l T_{l-1} + xi_l)`, `xi_l ~ N(0, noise_var)`.
#[pyclass(name = "Layer", module = "replica_mi", frozen)]
pub(crate) struct PyLayer {
    pub(crate) alpha: Option<f64>,
    pub(crate) activation: Activation,
    pub(crate) noise_var: f64,
    pub(crate) weights: WeightsKind,
}

/// The activation named `name` with its parameters, by the core's rule
/// ([`replica_core::builder::activation`]); errors name the argument.
pub(crate) fn parse_activation(
    py: Python<'_>,
    name: &str,
    slope: Option<f64>,
    threshold: Option<f64>,
) -> PyResult<Activation> {
    builder::activation(name, slope, threshold).map_err(|e| match e {
        ActivationError::Invalid(error) => replica_error(py, error, "", None),
        ActivationError::Unknown { .. } => spec_error(
            py,
            format!(
                "activation: {e}; allowed: {}",
                spec::ACTIVATION_KINDS
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("activation".into()),
        ),
        other => {
            let param = other.param();
            spec_error(py, format!("{param}: {other}"), Some(param.into()))
        }
    })
}

impl PyLayer {
    /// The layer as the core's builder takes it.
    pub(crate) fn input(&self) -> LayerInput {
        LayerInput::new(self.activation, self.noise_var, self.weights.input())
            .with_alpha(self.alpha)
    }
}

#[pymethods]
impl PyLayer {
    fn __reduce__(&self, py: Python<'_>) -> PyResult<crate::pickle::Pair> {
        crate::pickle::reduce_layer(self, py)
    }

    /// `weights`: a `Weights`, or a 2-D array (a weight matrix, `n_l x n_{l-1}`). `alpha =
    /// n_l / n_{l-1}` is required except for a matrix, whose shape gives it (if given, it must
    /// agree). `slope` is the leaky-ReLU's, `threshold` the hardtanh's (default 1).
    #[new]
    #[pyo3(signature = (activation, noise_var, weights, alpha = None, slope = None, threshold = None))]
    fn new(
        py: Python<'_>,
        activation: &str,
        noise_var: &Bound<'_, PyAny>,
        weights: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
        slope: Option<&Bound<'_, PyAny>>,
        threshold: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        // numbers checked here, so that a wrong type is a TypeError naming its argument
        let noise_var = real_arg(noise_var, "noise_var")?;
        let alpha = opt_real_arg(alpha, "alpha")?;
        let slope = opt_real_arg(slope, "slope")?;
        let threshold = opt_real_arg(threshold, "threshold")?;
        let activation = parse_activation(py, activation, slope, threshold)?;
        let weights = match weights.cast::<PyWeights>() {
            Ok(w) => w.get().kind.clone(),
            Err(_) => {
                if weights.hasattr("ndim")? || weights.is_instance_of::<PyList>() {
                    WeightsKind::Matrix {
                        matrix: matrix_data_of(weights, "weights")?,
                        scale: 1.0,
                        source: None,
                        bias: None,
                    }
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "weights: expected a replica_mi.Weights or a 2-D array (a weight matrix), got {}",
                        weights.get_type().name()?
                    )));
                }
            }
        };
        let layer = PyLayer {
            alpha,
            activation,
            noise_var,
            weights,
        };
        layer
            .input()
            .check()
            .map_err(|e| layer_input_error(py, e))?;
        Ok(layer)
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

    fn __repr__(&self) -> String {
        let extra = match self.activation {
            Activation::LeakyRelu { slope } => format!(", slope={slope}"),
            Activation::Hardtanh { threshold } => format!(", threshold={threshold}"),
            _ => String::new(),
        };
        let weights = PyWeights {
            kind: self.weights.clone(),
        }
        .__repr__();
        let alpha = self
            .alpha
            .map(|a| format!(", alpha={a}"))
            .unwrap_or_default();
        let name = match self.activation {
            Activation::LeakyRelu { .. } => "leaky-relu".to_string(),
            Activation::Hardtanh { .. } => "hardtanh".to_string(),
            other => other.to_string(),
        };
        format!(
            "Layer('{name}', noise_var={}, weights={weights}{alpha}{extra})",
            self.noise_var
        )
    }
}
