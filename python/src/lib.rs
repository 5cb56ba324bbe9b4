//! `replica_mi._native`: the Python face of replica-core.
//!
//! Chains are built from Python objects (a `Prior`, `Layer`s whose weights are a
//! `Weights` ensemble, a numpy spectrum or a numpy weight matrix) or from a spec file, and
//! solved with the GIL released. Every error of the estimator becomes a typed Python exception:
//! [`SpecError`] (a `ValueError`) for invalid input, [`NotConvergedError`] (a `RuntimeError`)
//! when the replica equations could not be solved; nothing panics across the boundary (and pyo3
//! turns a panic, should one happen, into a `PanicException` rather than an abort).

mod chain;
mod cli;
mod errors;
mod functions;
mod input;
mod interrupt;
mod layer;
mod pickle;
mod prior;
mod report;
mod results;
mod spectra;
mod weights;

/// What every module of the extension uses.
mod prelude {
    pub(crate) use crate::chain::*;
    pub(crate) use crate::errors::*;
    pub(crate) use crate::functions::*;
    pub(crate) use crate::input::*;
    pub(crate) use crate::layer::*;
    pub(crate) use crate::prior::*;
    pub(crate) use crate::report::*;
    pub(crate) use crate::results::*;
    pub(crate) use crate::spectra::{matrix_data_of, MatrixData};
    pub(crate) use crate::weights::*;
    pub(crate) use crate::{interrupt, NotConvergedError, SpecError};
    pub(crate) use faer::Mat;
    pub(crate) use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
    pub(crate) use pyo3::create_exception;
    pub(crate) use pyo3::exceptions::{
        PyFileNotFoundError, PyOSError, PyRuntimeError, PyTypeError, PyUserWarning, PyValueError,
    };
    pub(crate) use pyo3::prelude::*;
    pub(crate) use pyo3::types::{PyDict, PyList};
    pub(crate) use replica_core::builder::{
        self, ActivationError, BuildError, BuiltChain, ChainBuilder, LayerInput, LayerInputError,
        MatrixInput, WeightsInput,
    };
    pub(crate) use replica_core::exact::nonparam;
    pub(crate) use replica_core::replica::{
        solve, solve_with, Activation, Chain, DiscreteSpectrum, Ensemble, Estimate, Layer, Prior,
        ReplicaError, Solution, SolveEvent, SolveWith, SolverOptions, StartAt, StartReport,
        WarmStart,
    };
    pub(crate) use replica_core::spec::{self, LoadedSpec};
    pub(crate) use replica_core::weights::{read_matrix, WeightError, WeightMatrix};
    pub(crate) use std::ffi::CString;
    pub(crate) use std::path::PathBuf;
}

use prelude::*;

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
     start and scheme ran into; `attempts` has every failed start as a FailedAttempt (scheme, \
     start, outcome, and the bound, value and limit of a rejected point); `partial` holds, for \
     solve(all_layers=True), the estimates of the truncations that did converge (None where one \
     failed)."
);

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
    m.add_class::<PyFailedAttempt>()?;
    m.add_class::<PyCandidate>()?;
    m.add_function(wrap_pyfunction!(solve_chain, m)?)?;
    m.add_function(wrap_pyfunction!(solve_file, m)?)?;
    m.add_function(wrap_pyfunction!(kde_upper_bound, m)?)?;
    m.add_function(wrap_pyfunction!(pairwise_lower_bound, m)?)?;
    m.add_function(wrap_pyfunction!(mixture_entropy_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(knn_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(wtw_eigenvalues, m)?)?;
    m.add_function(wrap_pyfunction!(pickle::_restore, m)?)?;
    m.add_function(wrap_pyfunction!(cli::_cli_entropy, m)?)?;
    Ok(())
}
