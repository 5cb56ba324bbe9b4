//! Tidy CSV output: one row per point, one column per quantity.
//!
//! Rows are any `Serialize` struct with scalar fields; the field names are the column names and
//! carry the unit (`entropy_replica_gaussian_nats_per_unit`). Floats are written in the shortest
//! form that reads back to the same `f64` (ryu), so a CSV round-trips bit for bit; `None` is an
//! empty cell ("not applicable"), `NaN` is written as `NaN` (and fails every reference
//! comparison).

use super::error::ExperimentError;
use serde::Serialize;
use std::path::Path;

/// Write `rows` to `path` (header from the field names), creating the parent folder.
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), ExperimentError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io(dir, e))?;
    }
    let csv_err = |source| ExperimentError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_path(path).map_err(csv_err)?;
    for row in rows {
        w.serialize(row).map_err(csv_err)?;
    }
    w.flush().map_err(|e| ExperimentError::io(path, e))?;
    Ok(())
}
