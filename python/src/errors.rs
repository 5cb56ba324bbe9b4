//! Python exceptions from the estimator's errors, and notes as warnings.

use crate::prelude::*;

pub(crate) fn spec_error(py: Python<'_>, message: String, field: Option<String>) -> PyErr {
    let err = SpecError::new_err(message);
    // setting an attribute on a fresh exception instance cannot fail in practice; if it did, the
    // exception is still raised without it
    let _ = err.value(py).setattr("field", field);
    err
}

pub(crate) fn not_converged(
    py: Python<'_>,
    reasons: Vec<String>,
    partial: Option<Py<PyAny>>,
) -> PyErr {
    let err = NotConvergedError::new_err(reasons.join("\n"));
    let _ = err.value(py).setattr("reasons", reasons);
    let _ = err.value(py).setattr("partial", partial);
    err
}

/// An error of the estimator: bad parameters are [`SpecError`], failures to solve
/// [`NotConvergedError`]. `context` prefixes the message; `layer` is the index of the layer
/// being built, which a layer's own field is placed in.
pub(crate) fn replica_error(
    py: Python<'_>,
    e: ReplicaError,
    context: &str,
    layer: Option<usize>,
) -> PyErr {
    let prefix = if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    };
    match e {
        ReplicaError::InvalidParameter { ref field, .. } => {
            let field = match layer {
                Some(i) => field.clone().in_layer(i),
                None => field.clone(),
            };
            spec_error(py, format!("{prefix}{e}"), Some(field.to_string()))
        }
        ReplicaError::InvalidChain(_) => spec_error(py, format!("{prefix}{e}"), None),
        _ => not_converged(py, vec![format!("{prefix}{e}")], None),
    }
}

pub(crate) fn core_spec_error(py: Python<'_>, e: spec::SpecError) -> PyErr {
    match e {
        spec::SpecError::Io {
            ref path,
            ref error,
        } => {
            let msg = format!("cannot read spec file {}: {error}", path.display());
            if error.kind() == std::io::ErrorKind::NotFound {
                PyFileNotFoundError::new_err(msg)
            } else {
                PyOSError::new_err(msg)
            }
        }
        other => {
            let field = other.field().map(str::to_string);
            spec_error(py, other.to_string(), field)
        }
    }
}

pub(crate) fn weight_error(py: Python<'_>, field: &str, e: WeightError) -> PyErr {
    spec_error(py, format!("{field}: {e}"), Some(field.to_string()))
}

/// Emit each note as a `UserWarning`.
pub(crate) fn warn_notes(py: Python<'_>, notes: &[String]) -> PyResult<()> {
    let category = py.get_type::<PyUserWarning>();
    for n in notes {
        let msg = CString::new(n.replace('\0', " ")).expect("no NUL left");
        PyErr::warn(py, category.as_any(), &msg, 2)?;
    }
    Ok(())
}
