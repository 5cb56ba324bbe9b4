//! `.npy` files written byte by byte, and a deterministic test matrix.

use std::path::{Path, PathBuf};

/// A `.npy` file (format `version`.0) of a `rows x cols` array with dtype `descr`, whose data
/// bytes are `data` (already in the declared byte order and memory order).
pub fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8], version: u8) -> Vec<u8> {
    let shape_txt = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_txt}, }}",
        if fortran { "True" } else { "False" }
    );
    let pre = if version == 1 { 10 } else { 12 };
    while (pre + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.push(version);
    out.push(0);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Row-major values of a deterministic test matrix.
pub fn test_matrix(rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols)
        .map(|k| ((k * 37 % 101) as f64 - 50.0) / 64.0)
        .collect()
}

pub fn col_major(rows: usize, cols: usize, rm: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rm.len());
    for j in 0..cols {
        for i in 0..rows {
            out.push(rm[i * cols + j]);
        }
    }
    out
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}
