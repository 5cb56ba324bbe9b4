//! Python exceptions from the estimator's errors, and notes as warnings.

use crate::prelude::*;

pub(crate) fn spec_error(py: Python<'_>, message: String, field: Option<String>) -> PyErr {
    let err = SpecError::new_err(message);
    // setting an attribute on a fresh exception instance cannot fail in practice; if it did, the
    // exception is still raised without it
    let _ = err.value(py).setattr("field", field);
    err
}

/// `NotConvergedError(message)` with `.reasons` (one line per failed solve), `.attempts` (every
/// failed start, typed) and `.partial` (all layers: the estimates that converged).
pub(crate) fn not_converged(
    py: Python<'_>,
    reasons: Vec<String>,
    attempts: Vec<Py<PyFailedAttempt>>,
    partial: Option<Py<PyAny>>,
) -> PyErr {
    let err = NotConvergedError::new_err(reasons.join("\n"));
    let _ = err.value(py).setattr("reasons", reasons);
    let _ = err.value(py).setattr("attempts", attempts);
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
        ReplicaError::InvalidParameter(ref p) => {
            let field = match layer {
                Some(i) => p.field.clone().in_layer(i),
                None => p.field.clone(),
            };
            spec_error(py, format!("{prefix}{e}"), Some(field.to_string()))
        }
        ReplicaError::InvalidChain(_) => spec_error(py, format!("{prefix}{e}"), None),
        _ => {
            // a failure to build the attempts' objects leaves the list empty, the message whole
            let attempts = attempts_of(py, &e, None).unwrap_or_default();
            not_converged(py, vec![format!("{prefix}{e}")], attempts, None)
        }
    }
}

pub(crate) fn core_spec_error(py: Python<'_>, e: spec::SpecError) -> PyErr {
    match e {
        spec::SpecError::Io {
            ref path,
            ref error,
        } => {
            let msg = format!("cannot read spec file {}: {error}", path.display());
            match error.kind() {
                std::io::ErrorKind::NotFound => missing_file(py, msg, path, None),
                // not UTF-8: not a TOML spec (a weight file given as a spec, say)
                std::io::ErrorKind::InvalidData => spec_error(
                    py,
                    format!(
                        "spec file {} is not UTF-8 text: a spec is a TOML file (weight files are \
                         read through a spec's weights = {{ kind = \"matrix\", file = ... }} or \
                         Weights.file)",
                        path.display()
                    ),
                    None,
                ),
                _ => PyOSError::new_err(msg),
            }
        }
        // a weight file that does not exist: FileNotFoundError as for a missing spec, with the
        // field that names it
        spec::SpecError::Weights {
            ref field,
            ref path,
            error: WeightError::Io(_),
            ..
        } if !path.exists() => missing_file(py, e.to_string(), path, Some(field.clone())),
        other => {
            let field = other.field().map(str::to_string);
            spec_error(py, other.to_string(), field)
        }
    }
}

/// An error of the core's chain builder, with the field it names.
pub(crate) fn build_error(py: Python<'_>, e: BuildError) -> PyErr {
    match e {
        BuildError::Layer {
            layer,
            error: LayerInputError::Invalid(error),
        }
        | BuildError::Replica {
            layer: Some(layer),
            error,
        } => replica_error(py, error, &format!("layers[{layer}]"), Some(layer)),
        BuildError::Replica { layer: None, error } => replica_error(py, error, "", None),
        BuildError::Weights { layer, error } => {
            weight_error(py, &format!("layers[{layer}].weights"), error)
        }
        BuildError::Layer { layer, error } => spec_error(
            py,
            format!("layers[{layer}].{error}"),
            Some(format!("layers[{layer}].alpha")),
        ),
        other => spec_error(py, other.to_string(), Some("layers".into())),
    }
}

/// A layer's own error, as raised where the layer is given (`Layer(...)`).
pub(crate) fn layer_input_error(py: Python<'_>, e: LayerInputError) -> PyErr {
    match e {
        LayerInputError::Invalid(error) => replica_error(py, error, "", None),
        other => spec_error(py, other.to_string(), Some("alpha".into())),
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

/// `FileNotFoundError(ENOENT, message, path)` with a `field` attribute (None for a spec file).
pub(crate) fn missing_file(
    py: Python<'_>,
    msg: String,
    path: &std::path::Path,
    field: Option<String>,
) -> PyErr {
    let err = PyFileNotFoundError::new_err((2, msg, path.display().to_string()));
    let _ = err.value(py).setattr("field", field);
    err
}
