//! numpy input: arrays of the right dimension, converted to float64.

use crate::prelude::*;

/// `numpy.asarray(obj, dtype=float64)`, with its dimension checked.
pub(crate) fn float_array<'py>(
    obj: &Bound<'py, PyAny>,
    ndim: usize,
    field: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let np = py.import("numpy")?;
    // numpy would drop an imaginary part, turn booleans into 0/1 and integers into floats
    // silently: refused as a weight file's integer or complex array is
    if let Ok(dtype) = obj.getattr("dtype") {
        let kind: String = dtype.getattr("kind")?.extract()?;
        let name: String = dtype.getattr("name")?.extract()?;
        let why = match kind.as_str() {
            "c" => Some("a complex array (its imaginary part would be dropped)"),
            "b" => Some("a boolean array"),
            "i" | "u" if ndim == 2 => Some("an integer matrix (as in a weight file, only float16, bfloat16, float32 or float64 weights are read)"),
            "O" | "U" | "S" | "V" | "M" | "m" => Some("not an array of numbers"),
            _ => None,
        };
        if let Some(why) = why {
            return Err(spec_error(
                py,
                format!("{field}: dtype {name} is {why}; pass a real floating-point array, e.g. .astype(numpy.float64)"),
                Some(field.to_string()),
            ));
        }
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", np.getattr("float64")?)?;
    let arr = np
        .getattr("asarray")?
        .call((obj,), Some(&kwargs))
        .map_err(|e| {
            spec_error(
                py,
                format!("{field}: not convertible to a float64 array: {e}"),
                Some(field.to_string()),
            )
        })?;
    let got: usize = arr.getattr("ndim")?.extract()?;
    if got != ndim {
        let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
        return Err(spec_error(
            py,
            format!("{field}: expected a {ndim}-D array, got shape {shape:?} ({got}-D)"),
            Some(field.to_string()),
        ));
    }
    Ok(arr)
}

pub(crate) fn vector(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<f64>> {
    let arr = float_array(obj, 1, field)?;
    let ro: PyReadonlyArray1<'_, f64> = arr.extract()?;
    Ok(ro.as_array().iter().copied().collect())
}

/// A 2-D float array as (rows, cols, row-major data).
pub(crate) fn matrix_data(
    obj: &Bound<'_, PyAny>,
    field: &str,
) -> PyResult<(usize, usize, Vec<f64>)> {
    let arr = float_array(obj, 2, field)?;
    let ro: PyReadonlyArray2<'_, f64> = arr.extract()?;
    let v = ro.as_array();
    let (r, c) = v.dim();
    Ok((r, c, v.iter().copied().collect()))
}

pub(crate) fn weight_matrix(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<WeightMatrix> {
    let (r, c, data) = matrix_data(obj, field)?;
    WeightMatrix::from_row_major(r, c, data).map_err(|e| weight_error(obj.py(), field, e))
}

pub(crate) fn samples(obj: &Bound<'_, PyAny>) -> PyResult<Mat<f64>> {
    let (r, c, data) = matrix_data(obj, "samples")?;
    Ok(Mat::from_fn(r, c, |i, j| data[i * c + j]))
}

/// A real-number argument, with a TypeError that names it (`name: expected a real number, got
/// str`); ints and numpy scalars are accepted, bools are not.
pub(crate) fn real_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a real number, got bool"
        )));
    }
    obj.extract::<f64>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name}: expected a real number, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

/// An optional real-number argument (None allowed), see [`real_arg`].
pub(crate) fn opt_real_arg(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<f64>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => real_arg(o, name).map(Some),
    }
}

/// An optional count argument (a non-negative int or None): a TypeError naming it for other
/// types, a ValueError naming it for negative values.
pub(crate) fn opt_count_arg(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<usize>> {
    let Some(o) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if o.is_instance_of::<pyo3::types::PyBool>() || !o.hasattr("__index__")? {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected an int, got {}",
            o.get_type().name()?
        )));
    }
    let v: i128 = o.call_method0("__index__")?.extract()?;
    usize::try_from(v)
        .map(Some)
        .map_err(|_| PyValueError::new_err(format!("{name} = {v}: must be a non-negative int")))
}

/// A bool argument: True/False (or numpy bools), a TypeError naming it otherwise.
pub(crate) fn flag_arg(
    obj: Option<&Bound<'_, PyAny>>,
    name: &str,
    default: bool,
) -> PyResult<bool> {
    match obj {
        None => Ok(default),
        Some(o) if o.is_none() => Ok(default),
        Some(o) => o.extract::<bool>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{name}: expected a bool, got {}",
                o.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        }),
    }
}
