//! The spectrum of `W^T W` of a float32 numpy matrix, without singular vectors and without a
//! float64 copy of the matrix.
//!
//! The nonzero eigenvalues of `W^T W` are those of the smaller Gram matrix (`W^T W` or `W W^T`,
//! `k = min(rows, cols)` square); the rest are zeros. The Gram matrix is formed in float32 by
//! faer's matrix products straight from numpy's buffer (lower triangle, in column blocks, with the
//! GIL released and Ctrl-C checked between blocks), then its eigenvalues are taken by faer's
//! symmetric eigensolver (no eigenvectors) on a worker thread (Ctrl-C returns at once, see
//! [`crate::interrupt::detach_waiting`]). Working memory: the `k x k` Gram matrix and the
//! eigensolver's copy of it, i.e. at most twice a square float32 matrix. Precision is float32's, as
//! numpy's `svd` of a float32 matrix: eigenvalues to about `1e-6` of the largest.

use crate::interrupt;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par, Side};
use pyo3::prelude::*;
use replica_core::weights::WeightError;

/// Columns of the Gram matrix formed per product: big enough for the product kernels to run at
/// full speed, small enough that a block takes well under the half second allowed to Ctrl-C.
const BLOCK: usize = 256;

/// Eigenvalues of `W^T W` restricted to the smaller side: `min(rows, cols)` values, largest first,
/// clamped at 0 (round-off can make the smallest slightly negative), in float64. `w` is the stored
/// `rows x cols` matrix (any strides).
pub fn gram_eigenvalues_f32(
    py: Python<'_>,
    w: MatRef<'_, f32>,
) -> PyResult<Result<Vec<f64>, WeightError>> {
    let (rows, cols) = (w.nrows(), w.ncols());
    if rows == 0 || cols == 0 {
        return Ok(Err(WeightError::Empty { rows, cols }));
    }
    // A (m x k, k <= m): the Gram matrix A^T A is k x k
    let a = if cols <= rows { w } else { w.transpose() };
    let k = a.ncols();
    let gram = interrupt::detach_solve(py, || -> Result<Option<Mat<f32>>, WeightError> {
        // entries checked first (the Gram matrix of a matrix with an infinity is all NaN)
        for j in 0..w.ncols() {
            for i in 0..w.nrows() {
                let x = w[(i, j)];
                if !x.is_finite() {
                    return Err(WeightError::NonFinite {
                        row: i,
                        col: j,
                        value: x as f64,
                    });
                }
            }
        }
        let mut g = Mat::<f32>::zeros(k, k);
        let mut j0 = 0;
        while j0 < k {
            if interrupt::poll() {
                return Ok(None);
            }
            let j1 = (j0 + BLOCK).min(k);
            // G[j0.., j0..j1] = A[:, j0..]^T A[:, j0..j1]: the lower triangle, block column by
            // block column
            matmul(
                g.as_mut().submatrix_mut(j0, j0, k - j0, j1 - j0),
                Accum::Replace,
                a.subcols(j0, k - j0).transpose(),
                a.subcols(j0, j1 - j0),
                1.0f32,
                Par::rayon(0),
            );
            j0 = j1;
        }
        replica_core::simd::clear_upper_simd_state();
        Ok(Some(g))
    })?;
    let g = match gram {
        Err(e) => return Ok(Err(e)),
        Ok(Some(g)) => g,
        // an interrupt without a pending exception cannot happen (see detach_solve)
        Ok(None) => {
            return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(
                "interrupted",
            ))
        }
    };
    if (0..k).all(|i| g[(i, i)] == 0.0) {
        return Ok(Err(WeightError::Zero));
    }
    let eig = interrupt::detach_waiting(py, move |_stop| {
        let e = g.as_ref().self_adjoint_eigenvalues(Side::Lower);
        replica_core::simd::clear_upper_simd_state();
        e
    })?;
    let mut e: Vec<f64> = match eig {
        Ok(v) => v.into_iter().map(|x| (x as f64).max(0.0)).collect(),
        Err(_) => return Ok(Err(WeightError::Svd)),
    };
    e.sort_by(|x, y| y.total_cmp(x));
    Ok(Ok(e))
}
