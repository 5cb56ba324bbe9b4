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

pub(crate) fn parse_activation(
    py: Python<'_>,
    name: &str,
    slope: Option<f64>,
    threshold: Option<f64>,
) -> PyResult<Activation> {
    let bad = |field: &str, msg: String| {
        spec_error(py, format!("{field}: {msg}"), Some(field.to_string()))
    };
    let kind = name.parse::<ActivationKind>().ok();
    if kind.is_none() {
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
        ));
    }
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
                        matrix: matrix_data_of(weights, "weights")?,
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
