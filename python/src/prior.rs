//! `Prior`: the input's distribution.

use crate::prelude::*;

/// The prior of the input `X` (i.i.d. entries).
#[pyclass(name = "Prior", module = "replica_mi", frozen)]
pub(crate) struct PyPrior {
    pub(crate) prior: Prior,
    pub(crate) text: String,
}

#[pymethods]
impl PyPrior {
    fn __reduce__(&self, py: Python<'_>) -> PyResult<crate::pickle::Pair> {
        crate::pickle::reduce_prior(self, py)
    }

    /// Gaussian entries `N(mean, var)`.
    #[staticmethod]
    #[pyo3(signature = (var = 1.0, mean = 0.0))]
    pub(crate) fn gaussian(py: Python<'_>, var: f64, mean: f64) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::gaussian(mean, var).map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.gaussian(var={var}, mean={mean})"),
        })
    }

    /// Binary entries: `+1` with probability `p`, `-1` otherwise.
    #[staticmethod]
    #[pyo3(signature = (p = 0.5))]
    pub(crate) fn binary(py: Python<'_>, p: f64) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::binary(p).map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.binary(p={p})"),
        })
    }

    /// Gauss-Bernoulli entries: `N(mean, var)` with probability `p`, `0` otherwise.
    #[staticmethod]
    #[pyo3(signature = (p, var = 1.0, mean = 0.0))]
    pub(crate) fn gauss_bernoulli(py: Python<'_>, p: f64, var: f64, mean: f64) -> PyResult<Self> {
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
