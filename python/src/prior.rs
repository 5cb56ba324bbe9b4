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
    #[pyo3(signature = (var = None, mean = None), text_signature = "(var=1.0, mean=0.0)")]
    pub(crate) fn gaussian(
        py: Python<'_>,
        var: Option<&Bound<'_, PyAny>>,
        mean: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let var = opt_real_arg(var, "var")?.unwrap_or(1.0);
        let mean = opt_real_arg(mean, "mean")?.unwrap_or(0.0);
        Self::of_gaussian(py, var, mean)
    }

    /// Binary entries: `+1` with probability `p`, `-1` otherwise.
    #[staticmethod]
    #[pyo3(signature = (p = None), text_signature = "(p=0.5)")]
    pub(crate) fn binary(py: Python<'_>, p: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Self::of_binary(py, opt_real_arg(p, "p")?.unwrap_or(0.5))
    }

    /// Gauss-Bernoulli entries: `N(mean, var)` with probability `p`, `0` otherwise.
    #[staticmethod]
    #[pyo3(signature = (p, var = None, mean = None), text_signature = "(p, var=1.0, mean=0.0)")]
    pub(crate) fn gauss_bernoulli(
        py: Python<'_>,
        p: &Bound<'_, PyAny>,
        var: Option<&Bound<'_, PyAny>>,
        mean: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let p = real_arg(p, "p")?;
        let var = opt_real_arg(var, "var")?.unwrap_or(1.0);
        let mean = opt_real_arg(mean, "mean")?.unwrap_or(0.0);
        Self::of_gauss_bernoulli(py, p, var, mean)
    }

    fn __repr__(&self) -> String {
        self.text.clone()
    }
}

/// The priors from checked numbers (also what unpickling rebuilds).
impl PyPrior {
    pub(crate) fn of_gaussian(py: Python<'_>, var: f64, mean: f64) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::gaussian(mean, var).map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.gaussian(var={var}, mean={mean})"),
        })
    }

    pub(crate) fn of_binary(py: Python<'_>, p: f64) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::binary(p).map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.binary(p={p})"),
        })
    }

    pub(crate) fn of_gauss_bernoulli(
        py: Python<'_>,
        p: f64,
        var: f64,
        mean: f64,
    ) -> PyResult<Self> {
        Ok(PyPrior {
            prior: Prior::gauss_bernoulli(p, mean, var)
                .map_err(|e| replica_error(py, e, "", None))?,
            text: format!("Prior.gauss_bernoulli(p={p}, var={var}, mean={mean})"),
        })
    }
}
