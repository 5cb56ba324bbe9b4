//! `Estimate` and `WarmStart`: what a solve returns.

use crate::prelude::*;

/// A warm start: the stationary point (and Anderson secants) of an earlier solve.
#[pyclass(name = "WarmStart", module = "replica_mi", frozen)]
pub(crate) struct PyWarmStart {
    pub(crate) warm: WarmStart,
}

#[pymethods]
impl PyWarmStart {
    fn __reduce__(&self, py: Python<'_>) -> PyResult<crate::pickle::Pair> {
        crate::pickle::reduce_warm_start(self, py)
    }

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
pub(crate) struct PyEstimate {
    pub(crate) layer: usize,
    pub(crate) est: Estimate,
    /// Every start of the solve (with `return_candidates=True`; not pickled).
    pub(crate) candidates: Option<Vec<StartReport>>,
}

#[pymethods]
impl PyEstimate {
    fn __reduce__(&self, py: Python<'_>) -> PyResult<crate::pickle::Pair> {
        crate::pickle::reduce_estimate(self, py)
    }

    /// Every start of the solve and the stationary point it reached, the selected one marked
    /// (`solve(..., return_candidates=True)`; None otherwise, and after unpickling).
    #[getter]
    fn candidates(&self, py: Python<'_>) -> PyResult<Option<Vec<Py<PyCandidate>>>> {
        self.candidates
            .as_ref()
            .map(|c| c.iter().map(|r| Py::new(py, PyCandidate::new(r))).collect())
            .transpose()
    }
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
    /// The results as a dict, JSON-ready: the fields of the command line's `--json` record that a
    /// converged solve has (order parameters as lists of floats).
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
        let p = &self.est.order_params;
        let op = PyDict::new(py);
        op.set_item("v", p.v.clone())?;
        op.set_item("a", p.a.clone())?;
        op.set_item("a_t", p.a_t.clone())?;
        op.set_item("v_t", p.v_t.clone())?;
        op.set_item("theta", p.theta.clone())?;
        d.set_item("order_params", op)?;
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
