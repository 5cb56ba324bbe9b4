//! Module functions: `solve`, `solve_file`, the non-parametric estimators, `wtw_eigenvalues`.

use crate::prelude::*;

/// Solve a chain: same as `chain.solve(...)`.
#[pyfunction(name = "solve")]
#[pyo3(signature = (chain, *, all_layers = None, warm_start = None, tol = None, max_iter = None, scheme = None, start_at = None, return_candidates = None, verbose = None))]
// one Rust argument per Python keyword argument (pyo3 maps them one to one)
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_chain(
    py: Python<'_>,
    chain: &Bound<'_, PyAny>,
    all_layers: Option<&Bound<'_, PyAny>>,
    warm_start: Option<&Bound<'_, PyAny>>,
    tol: Option<&Bound<'_, PyAny>>,
    max_iter: Option<&Bound<'_, PyAny>>,
    scheme: Option<&Bound<'_, PyAny>>,
    start_at: Option<&Bound<'_, PyAny>>,
    return_candidates: Option<&Bound<'_, PyAny>>,
    verbose: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let chain = chain.cast::<PyChain>().map_err(|_| {
        PyTypeError::new_err(format!(
            "chain: expected a replica_mi.Chain, got {}",
            chain
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let k = SolveKwargs {
        all_layers,
        tol,
        max_iter,
        scheme,
        start_at,
        return_candidates,
        verbose,
    };
    let a = solve_args(py, k)?;
    run(py, &chain.get().chain, a, warm_start)
}

/// Read a spec file (the command line's format, weight files included) and solve it.
#[pyfunction]
#[pyo3(signature = (path, *, all_layers = None, warm_start = None, tol = None, max_iter = None, scheme = None, assume_invariant = false, start_at = None, return_candidates = None, verbose = None))]
// one Rust argument per Python keyword argument (pyo3 maps them one to one)
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_file(
    py: Python<'_>,
    path: PathBuf,
    all_layers: Option<&Bound<'_, PyAny>>,
    warm_start: Option<&Bound<'_, PyAny>>,
    tol: Option<&Bound<'_, PyAny>>,
    max_iter: Option<&Bound<'_, PyAny>>,
    scheme: Option<&Bound<'_, PyAny>>,
    assume_invariant: bool,
    start_at: Option<&Bound<'_, PyAny>>,
    return_candidates: Option<&Bound<'_, PyAny>>,
    verbose: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let k = SolveKwargs {
        all_layers,
        tol,
        max_iter,
        scheme,
        start_at,
        return_candidates,
        verbose,
    };
    let a = solve_args(py, k)?;
    let chain = PyChain::from_file(py, path, assume_invariant)?;
    run(py, &chain.chain, a, warm_start)
}

pub(crate) fn nonparam_error(e: nonparam::NonparamError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// KL ("KDE") upper bound on the entropy (nats, total) of the mixture `(1/N) sum_j N(x_j, s2 I)`
/// centred on the rows of `samples` (N x d).
#[pyfunction]
pub(crate) fn kde_upper_bound(
    py: Python<'_>,
    samples: &Bound<'_, PyAny>,
    s2: f64,
) -> PyResult<f64> {
    let x = self::samples(samples)?;
    py.detach(|| nonparam::kde_upper_bound(&x, s2))
        .map_err(nonparam_error)
}

/// Bhattacharyya (pairwise) lower bound on the entropy (nats, total) of the same mixture.
#[pyfunction]
pub(crate) fn pairwise_lower_bound(
    py: Python<'_>,
    samples: &Bound<'_, PyAny>,
    s2: f64,
) -> PyResult<f64> {
    let x = self::samples(samples)?;
    py.detach(|| nonparam::pairwise_lower_bound(&x, s2))
        .map_err(nonparam_error)
}

/// Both mixture bounds from one distance matrix: `(lower, upper)` (nats, total).
#[pyfunction]
pub(crate) fn mixture_entropy_bounds(
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
pub(crate) fn knn_entropy(py: Python<'_>, samples: &Bound<'_, PyAny>, k: usize) -> PyResult<f64> {
    let x = self::samples(samples)?;
    py.detach(|| nonparam::knn_entropy(&x, k))
        .map_err(nonparam_error)
}

/// The eigenvalues of `W^T W` (largest first, `n_{l-1}` of them, zeros included) of a matrix
/// `W` (`n_l x n_{l-1}`), in float64.
#[pyfunction]
pub(crate) fn wtw_eigenvalues<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let m = matrix_data_of(w, "w")?;
    let e = m
        .wtw_eigenvalues(py)?
        .map_err(|e| weight_error(py, "w", e))?;
    Ok(PyArray1::from_vec(py, e))
}
