//! `Weights`: an ensemble, a spectrum or a matrix.

use crate::prelude::*;

#[derive(Clone, Debug)]
pub(crate) enum WeightsKind {
    Gaussian {
        var: f64,
    },
    Orthogonal,
    Spectrum {
        eigenvalues: Vec<f64>,
        scale: f64,
    },
    Matrix {
        matrix: MatrixData,
        scale: f64,
        source: Option<String>,
        /// A bias stored beside the matrix in its file (ignored; the builder notes it).
        bias: Option<String>,
    },
}

impl WeightsKind {
    /// The weights as the core's builder takes them.
    pub(crate) fn input(&self) -> WeightsInput {
        match self {
            WeightsKind::Gaussian { var } => WeightsInput::Gaussian { var: *var },
            WeightsKind::Orthogonal => WeightsInput::Orthogonal,
            WeightsKind::Spectrum { eigenvalues, scale } => WeightsInput::Spectrum {
                eigenvalues: eigenvalues.clone(),
                scale: *scale,
            },
            WeightsKind::Matrix {
                matrix,
                scale,
                source,
                bias,
            } => WeightsInput::Matrix(MatrixInput {
                matrix: std::sync::Arc::new(matrix.clone()),
                scale: *scale,
                source: source.clone(),
                bias: bias.clone(),
            }),
        }
    }
}

/// The weights of one layer: an ensemble, a spectrum, or a matrix.
#[pyclass(name = "Weights", module = "replica_mi", frozen)]
pub(crate) struct PyWeights {
    pub(crate) kind: WeightsKind,
}

pub(crate) fn check_scale(py: Python<'_>, scale: f64) -> PyResult<f64> {
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
    fn __reduce__(&self, py: Python<'_>) -> PyResult<crate::pickle::Pair> {
        crate::pickle::reduce_weights(self, py)
    }

    /// I.i.d. Gaussian entries `N(0, var / n_{l-1})` (Marchenko-Pastur spectrum).
    #[staticmethod]
    #[pyo3(signature = (var = None), text_signature = "(var=1.0)")]
    fn gaussian(py: Python<'_>, var: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let var = opt_real_arg(var, "var")?.unwrap_or(1.0);
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
    #[pyo3(signature = (eigenvalues, scale = None), text_signature = "(eigenvalues, scale=1.0)")]
    fn spectrum(
        py: Python<'_>,
        eigenvalues: &Bound<'_, PyAny>,
        scale: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let scale = check_scale(py, opt_real_arg(scale, "scale")?.unwrap_or(1.0))?;
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
    #[pyo3(signature = (w, scale = None), text_signature = "(w, scale=1.0)")]
    fn matrix(
        py: Python<'_>,
        w: &Bound<'_, PyAny>,
        scale: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let scale = check_scale(py, opt_real_arg(scale, "scale")?.unwrap_or(1.0))?;
        Ok(PyWeights {
            kind: WeightsKind::Matrix {
                matrix: matrix_data_of(w, "weights.matrix")?,
                scale,
                source: None,
                bias: None,
            },
        })
    }

    /// A weight matrix read from a `.npy`, `.npz` or `.safetensors` file (`tensor` names the array
    /// in an archive; optional when it holds one).
    #[staticmethod]
    #[pyo3(signature = (path, tensor = None, scale = None), text_signature = "(path, tensor=None, scale=1.0)")]
    fn file(
        py: Python<'_>,
        path: PathBuf,
        tensor: Option<String>,
        scale: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let scale = check_scale(py, opt_real_arg(scale, "scale")?.unwrap_or(1.0))?;
        // (an unknown extension is reported first, as the reader does)
        if replica_core::weights::WeightFormat::of_path(&path).is_some() && !path.exists() {
            return Err(missing_file(
                py,
                format!("weights.file {}: no such file", path.display()),
                &path,
                Some("weights.file".into()),
            ));
        }
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
                matrix: MatrixData::Dense(std::sync::Arc::new(loaded.matrix)),
                scale,
                source: Some(source),
                bias: loaded.bias,
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

    pub(crate) fn __repr__(&self) -> String {
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
                ..
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
