//! `python -m replica_mi entropy SPEC`: the command line's `entropy` in the extension, with its
//! output (the core's `report` module, as the binary) and exit codes (0 success, 2 invalid spec
//! or arguments, 3 not converged, 4 output not written; the last is the Python side's).

use crate::prelude::*;
use replica_core::replica::SchemeChoice;
use replica_core::report::{format_single, format_table, to_json, Report};

/// What the command printed: its standard output, its lines for standard error (each a whole
/// line, without the newline), and its exit status.
type Outcome = (String, Vec<String>, u8);

/// An error with its sources, as the binary prints it (anyhow's `{:#}`: `a: b: c`).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

fn code_of(e: &ReplicaError) -> u8 {
    match e {
        ReplicaError::InvalidParameter(_) | ReplicaError::InvalidChain(_) => 2,
        _ => 3,
    }
}

/// Run `entropy` on a spec file; see the module documentation. Ctrl-C raises KeyboardInterrupt.
#[pyfunction]
#[pyo3(signature = (spec, *, json = false, all_layers = false, tol = None, max_iter = None, scheme = "auto", assume_invariant = false))]
// one Rust argument per Python keyword argument (pyo3 maps them one to one)
#[allow(clippy::too_many_arguments)]
pub(crate) fn _cli_entropy(
    py: Python<'_>,
    spec: PathBuf,
    json: bool,
    all_layers: bool,
    tol: Option<f64>,
    max_iter: Option<usize>,
    scheme: &str,
    assume_invariant: bool,
) -> PyResult<Outcome> {
    let fail = |msg: String, code: u8| {
        Ok((
            String::new(),
            vec![format!("replica-mi: error: {msg}")],
            code,
        ))
    };
    let choice: SchemeChoice = match scheme.parse() {
        Ok(c) => c,
        Err(e) => return fail(format!("--scheme: {e}"), 2),
    };
    let mut opts = SolverOptions::default().with_scheme(choice);
    if let Some(t) = tol {
        match opts.with_tol(t) {
            Ok(o) => opts = o,
            Err(e) => return fail(format!("--tol: {e}"), 2),
        }
    }
    if let Some(n) = max_iter {
        match opts.with_max_iter(n) {
            Ok(o) => opts = o,
            Err(e) => return fail(format!("--max-iter: {e}"), 2),
        }
    }
    let path = spec.clone();
    let loaded = match interrupt::detach_waiting(py, move |_| {
        spec::load_spec_with_options(&path, spec::SpecOptions { assume_invariant })
    })? {
        Ok(l) => l,
        Err(e @ spec::SpecError::Io { .. }) => return fail(with_sources(&e), 2),
        Err(e) => return fail(format!("spec {}: {}", spec.display(), with_sources(&e)), 2),
    };
    let mut err: Vec<String> = loaded
        .notes
        .iter()
        .map(|n| format!("replica-mi: note: {n}"))
        .collect();
    let loaded_notes = loaded.notes;
    let chain = loaded.chain;
    let opts = interrupt::cancellable(opts);
    let n = chain.len();
    if !all_layers {
        let r = interrupt::detach_solve(py, || solve(&chain, &opts))?;
        return match r {
            Ok(est) => {
                let out = if json {
                    to_json(&Report::new(n, Ok(&est), &loaded_notes))
                        .map_err(PyRuntimeError::new_err)?
                } else {
                    format_single(&spec, &chain, &est)
                };
                Ok((out, err, 0))
            }
            Err(e) => {
                err.push(format!(
                    "replica-mi: error: layer {n} of {}: {}",
                    spec.display(),
                    with_sources(&e)
                ));
                Ok((String::new(), err, code_of(&e)))
            }
        };
    }
    let noise = chain.layers()[n - 1].channel().noise_var();
    let results: Vec<Result<Estimate, ReplicaError>> = interrupt::detach_solve(py, || {
        (1..=n)
            .map(|l| chain.truncated(l, noise).and_then(|c| solve(&c, &opts)))
            .collect()
    })?;
    let mut code = 0;
    for (k, r) in results.iter().enumerate() {
        if let Err(e) = r {
            err.push(format!(
                "replica-mi: error: layer {} of {}: {}",
                k + 1,
                spec.display(),
                with_sources(e)
            ));
            if code == 0 {
                code = code_of(e);
            }
        }
    }
    let out = if json {
        let reports: Vec<Report> = results
            .iter()
            .enumerate()
            .map(|(k, r)| Report::new(k + 1, r.as_ref(), &loaded_notes))
            .collect();
        to_json(&reports).map_err(PyRuntimeError::new_err)?
    } else {
        format_table(&spec, &chain, &results)
    };
    if code != 0 {
        err.push(format!(
            "replica-mi: error: {} of {} truncations failed",
            results.iter().filter(|r| r.is_err()).count(),
            results.len()
        ));
    }
    Ok((out, err, code))
}
