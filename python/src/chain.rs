//! `Chain`: a checked network, and the solves (GIL released, Ctrl-C honoured).

use crate::prelude::*;

/// Build the chain through the core's [`ChainBuilder`] (width tracking, orientation of weight
/// matrices, notes, every check), off the GIL: the spectra of dense matrices are computed there.
pub(crate) fn build_chain(
    py: Python<'_>,
    prior: Prior,
    layers: &[&PyLayer],
    assume_invariant: bool,
) -> PyResult<(Chain, Vec<String>)> {
    let inputs: Vec<LayerInput> = layers.iter().map(|l| l.input()).collect();
    let built = interrupt::detach_waiting(py, move |_stop| {
        let mut builder = ChainBuilder::new(prior).assume_invariant(assume_invariant);
        for input in inputs {
            builder.push(input)?;
        }
        builder.build()
    })?;
    let BuiltChain { chain, notes, .. } = built.map_err(|e| build_error(py, e))?;
    Ok((chain, notes))
}

/// A checked network: a prior and layers.
#[pyclass(name = "Chain", module = "replica_mi", frozen)]
pub(crate) struct PyChain {
    pub(crate) chain: Chain,
    pub(crate) notes: Vec<String>,
}

/// The keyword arguments every solve takes, checked, each error naming its argument.
pub(crate) struct SolveArgs {
    pub(crate) opts: SolverOptions,
    pub(crate) all_layers: bool,
    /// The caller's starting point (checked).
    pub(crate) start_at: Option<StartAt>,
    /// Whether each estimate carries the report of every start (`Estimate.candidates`).
    pub(crate) candidates: bool,
    /// Whether each start's end is printed to stderr as it happens.
    pub(crate) verbose: bool,
}

/// The keyword arguments of a solve as Python objects (None where not given).
pub(crate) struct SolveKwargs<'a, 'py> {
    pub(crate) all_layers: Option<&'a Bound<'py, PyAny>>,
    pub(crate) tol: Option<&'a Bound<'py, PyAny>>,
    pub(crate) max_iter: Option<&'a Bound<'py, PyAny>>,
    pub(crate) scheme: Option<&'a Bound<'py, PyAny>>,
    pub(crate) start_at: Option<&'a Bound<'py, PyAny>>,
    pub(crate) return_candidates: Option<&'a Bound<'py, PyAny>>,
    pub(crate) verbose: Option<&'a Bound<'py, PyAny>>,
}

/// `start_at`: an Estimate or a WarmStart (its stationary point), or a sequence of floats (the
/// initial variance of each layer, as `v0` of the authors' package); checked by the core, whose
/// error names the entry (`start_at.v[1]`).
fn start_at_of(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<StartAt>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let start = if let Ok(e) = obj.cast::<PyEstimate>() {
        StartAt::Point(e.get().est.order_params.clone())
    } else if let Ok(w) = obj.cast::<PyWarmStart>() {
        StartAt::Point(w.get().warm.params.clone())
    } else if obj.is_instance_of::<pyo3::types::PyString>() {
        return Err(start_at_type_error(obj));
    } else {
        StartAt::Variances(obj.extract().map_err(|_| start_at_type_error(obj))?)
    };
    SolveWith::default()
        .start_at(start.clone())
        .map_err(|e| replica_error(py, e, "", None))?;
    Ok(Some(start))
}

fn start_at_type_error(obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "start_at: expected an Estimate, a WarmStart or a sequence of floats (one variance per \
         layer), got {}",
        obj.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    ))
}

pub(crate) fn solve_args(py: Python<'_>, k: SolveKwargs<'_, '_>) -> PyResult<SolveArgs> {
    let SolveKwargs {
        all_layers,
        tol,
        max_iter,
        scheme,
        start_at,
        return_candidates,
        verbose,
    } = k;
    let all_layers = flag_arg(all_layers, "all_layers", false)?;
    let candidates = flag_arg(return_candidates, "return_candidates", false)?;
    let verbose = flag_arg(verbose, "verbose", false)?;
    let start_at = start_at_of(py, start_at)?;
    if start_at.is_some() && all_layers {
        return Err(PyValueError::new_err(
            "start_at: a starting point is for one chain; with all_layers=True solve each \
             truncation on its own, or use warm_start",
        ));
    }
    let tol = opt_real_arg(tol, "tol")?;
    let max_iter = opt_count_arg(max_iter, "max_iter")?;
    let scheme: String = match scheme.filter(|s| !s.is_none()) {
        None => "auto".into(),
        Some(s) => s.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "scheme: expected \"auto\", \"fixed-point\" or \"ml-vamp\", got {}",
                s.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?,
    };
    let choice: replica_core::replica::SchemeChoice = scheme
        .parse()
        .map_err(|e| PyValueError::new_err(format!("scheme: {e}")))?;
    Ok(SolveArgs {
        opts: options(tol, max_iter)?.with_scheme(choice),
        all_layers,
        start_at,
        candidates,
        verbose,
    })
}

pub(crate) fn options(tol: Option<f64>, max_iter: Option<usize>) -> PyResult<SolverOptions> {
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
pub(crate) fn warm_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<WarmStart>> {
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

/// One solve of `chain` with the extras of `args`: `warm`, the caller's start, and with
/// `verbose` each start's end printed to stderr (by the binding; the core only reports it) as
/// `replica_mi: layer <l>: ...`.
fn solve_one(
    chain: &Chain,
    opts: &SolverOptions,
    layer: usize,
    warm: Option<&WarmStart>,
    start_at: Option<&StartAt>,
    verbose: bool,
) -> Result<Solution, ReplicaError> {
    let mut print = |ev: SolveEvent<'_>| eprintln!("replica_mi: layer {layer}: {ev}");
    let mut with = SolveWith::default();
    if let Some(w) = warm {
        with = with.warm_start(w.clone());
    }
    if let Some(s) = start_at {
        with = with.start_at(s.clone())?;
    }
    if verbose {
        with = with.observer(&mut print);
    }
    solve_with(chain, opts, &mut with)
}

/// Solve `chain` (or all its truncations) with the GIL released.
pub(crate) fn run(
    py: Python<'_>,
    chain: &Chain,
    args: SolveArgs,
    warm_start: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let SolveArgs {
        opts,
        all_layers,
        start_at,
        candidates,
        verbose,
    } = args;
    let n = chain.len();
    let estimate = |layer: usize, sol: Solution| PyEstimate {
        layer,
        candidates: candidates.then(|| sol.starts().to_vec()),
        est: sol.into_estimate(),
    };
    if !all_layers {
        let warm = match warm_start {
            Some(w) => warm_of(w)?,
            None => None,
        };
        if let Some(w) = &warm {
            check_warm(w, n, "warm_start")?;
        }
        let opts = interrupt::cancellable(opts);
        let r = interrupt::detach_solve(py, || {
            solve_one(chain, &opts, n, warm.as_ref(), start_at.as_ref(), verbose)
        })?;
        let sol = r.map_err(|e| match e {
            ReplicaError::InvalidParameter(_) | ReplicaError::InvalidChain(_) => {
                replica_error(py, e, &format!("layer {n}"), None)
            }
            e => {
                let attempts = attempts_of(py, &e, Some(n)).unwrap_or_default();
                not_converged(py, vec![format!("layer {n}: {e}")], attempts, None)
            }
        })?;
        return Ok(Py::new(py, estimate(n, sol))?.into_any());
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
    let noise = chain.output_noise_var();
    let opts = interrupt::cancellable(opts);
    let results: Vec<Result<Solution, ReplicaError>> = interrupt::detach_solve(py, || {
        (1..=n)
            .map(|l| {
                let c = chain.truncated(l, noise)?;
                solve_one(&c, &opts, l, warms[l - 1].as_ref(), None, verbose)
            })
            .collect()
    })?;
    let mut out: Vec<Option<Py<PyEstimate>>> = Vec::with_capacity(n);
    let mut reasons = Vec::new();
    let mut attempts = Vec::new();
    for (k, r) in results.into_iter().enumerate() {
        match r {
            Ok(sol) => out.push(Some(Py::new(py, estimate(k + 1, sol))?)),
            Err(e @ (ReplicaError::InvalidParameter(_) | ReplicaError::InvalidChain(_))) => {
                return Err(replica_error(py, e, &format!("layer {}", k + 1), None));
            }
            Err(e) => {
                attempts.extend(attempts_of(py, &e, Some(k + 1))?);
                reasons.push(format!("layer {}: {e}", k + 1));
                out.push(None);
            }
        }
    }
    let list = PyList::new(py, out)?.into_any().unbind();
    if reasons.is_empty() {
        Ok(list)
    } else {
        Err(not_converged(py, reasons, attempts, Some(list)))
    }
}

pub(crate) fn check_warm(w: &WarmStart, layers: usize, what: &str) -> PyResult<()> {
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
    fn __reduce__(&self, py: Python<'_>) -> PyResult<crate::pickle::Pair> {
        crate::pickle::reduce_chain(self, py)
    }

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
    pub(crate) fn from_file(
        py: Python<'_>,
        path: PathBuf,
        assume_invariant: bool,
    ) -> PyResult<Self> {
        if let Some(f) = replica_core::weights::WeightFormat::of_path(&path) {
            return Err(spec_error(
                py,
                format!(
                    "{} is a weight file ({f:?}), not a spec: read it with Weights.file(path), or \
                     name it in a spec (TOML) as weights = {{ kind = \"matrix\", file = \"...\" }}",
                    path.display()
                ),
                None,
            ));
        }
        let LoadedSpec { chain, notes } = py
            .detach(|| spec::load_spec_with_options(&path, spec::SpecOptions { assume_invariant }))
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
        let options = spec::SpecOptions { assume_invariant };
        let LoadedSpec { chain, notes } = spec::parse_spec_with_options(text, &base, options)
            .map_err(|e| core_spec_error(py, e))?;
        warn_notes(py, &notes)?;
        Ok(PyChain { chain, notes })
    }

    /// Solve the replica equations (GIL released). Returns an `Estimate`, or with
    /// `all_layers=True` a list of them, one per truncation `T_1..T_L` (each measured with the
    /// output layer's noise). `warm_start`: the previous call's result (an `Estimate`, or the list
    /// with `all_layers=True`) to start from its stationary point. `scheme`: `"auto"` (default:
    /// the fixed point, then ML-VAMP where needed, then continuation in the noise),
    /// `"fixed-point"` or `"ml-vamp"` (that iteration only, every start, no continuation).
    /// `start_at`: a starting point tried before the search (an `Estimate` or `WarmStart`, or one
    /// initial variance per layer). `return_candidates=True`: the estimate's `candidates` lists
    /// every start and its stationary point. `verbose=True`: each start's end is printed to
    /// stderr as it happens, then the selected one.
    #[pyo3(signature = (*, all_layers = None, warm_start = None, tol = None, max_iter = None, scheme = None, start_at = None, return_candidates = None, verbose = None))]
    // one Rust argument per Python keyword argument (pyo3 maps them one to one)
    #[allow(clippy::too_many_arguments)]
    fn solve(
        &self,
        py: Python<'_>,
        all_layers: Option<&Bound<'_, PyAny>>,
        warm_start: Option<&Bound<'_, PyAny>>,
        tol: Option<&Bound<'_, PyAny>>,
        max_iter: Option<&Bound<'_, PyAny>>,
        scheme: Option<&Bound<'_, PyAny>>,
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
        run(py, &self.chain, a, warm_start)
    }

    /// Same as `solve`.
    #[pyo3(signature = (*, all_layers = None, warm_start = None, tol = None, max_iter = None, scheme = None, start_at = None, return_candidates = None, verbose = None))]
    // one Rust argument per Python keyword argument (pyo3 maps them one to one)
    #[allow(clippy::too_many_arguments)]
    fn entropy(
        &self,
        py: Python<'_>,
        all_layers: Option<&Bound<'_, PyAny>>,
        warm_start: Option<&Bound<'_, PyAny>>,
        tol: Option<&Bound<'_, PyAny>>,
        max_iter: Option<&Bound<'_, PyAny>>,
        scheme: Option<&Bound<'_, PyAny>>,
        start_at: Option<&Bound<'_, PyAny>>,
        return_candidates: Option<&Bound<'_, PyAny>>,
        verbose: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.solve(
            py,
            all_layers,
            warm_start,
            tol,
            max_iter,
            scheme,
            start_at,
            return_candidates,
            verbose,
        )
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

    /// What was decided on the user's behalf while building (a matrix read as its transpose).
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
