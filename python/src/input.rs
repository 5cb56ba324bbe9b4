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
