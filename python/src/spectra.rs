//! The spectrum of `W^T W` of a float32 numpy matrix, without singular vectors and without a
//! float64 copy of the matrix.
//!
//! The nonzero eigenvalues of `W^T W` are those of the smaller Gram matrix (`W^T W` or `W W^T`,
//! `k = min(rows, cols)` square); the rest are zeros. The Gram matrix is formed by faer's matrix
//! products in float64 from float32 panels read straight from numpy's buffer, stored in float32 (lower triangle, in column blocks, with the
//! GIL released and Ctrl-C checked between blocks), then its eigenvalues are taken by faer's
//! symmetric eigensolver (no eigenvectors) on a worker thread (Ctrl-C returns at once, see
//! [`crate::interrupt::detach_waiting`]). Working memory: the `k x k` Gram matrix and the
//! eigensolver's copy of it (float32), i.e. about twice a square float32 matrix. Precision is float32's, as
//! numpy's `svd` of a float32 matrix: eigenvalues to about `1e-6` of the largest.

use crate::prelude::*;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatRef, Par};
use numpy::{PyArray2, PyArrayMethods};
use replica_core::builder::StoredMatrix;
use std::sync::Arc;

/// Columns of the Gram matrix formed per block, and rows of `A` per product within a block: big
/// enough for the product kernels to run at full speed, small enough that one product takes well
/// under the half second allowed to Ctrl-C (10000 x 512 x 1024: about 0.1 s). The products are
/// accumulated in float64 (panels of `A` converted on the fly): faer's float32 product loses up to
/// `n eps` relatively on a sum of `n` terms (2e-5 measured on 300 rows), numpy's BLAS about 1e-7.
const BLOCK: usize = 512;
const PANEL: usize = 1024;

/// Eigenvalues of `W^T W` restricted to the smaller side: `min(rows, cols)` values, largest first,
/// clamped at 0 (round-off can make the smallest slightly negative), in float64. `w` is the stored
/// `rows x cols` matrix (any strides).
pub(crate) fn gram_eigenvalues<T: Copy + Into<f64> + Sync>(
    py: Python<'_>,
    w: MatRef<'_, T>,
) -> PyResult<Result<Vec<f64>, WeightError>> {
    let (rows, cols) = (w.nrows(), w.ncols());
    if rows == 0 || cols == 0 {
        return Ok(Err(WeightError::Empty { rows, cols }));
    }
    // A (m x k, k <= m): the Gram matrix A^T A is k x k
    let a = if cols <= rows { w } else { w.transpose() };
    let k = a.ncols();
    let gram = interrupt::detach_solve(py, || -> Result<Option<Mat<f64>>, WeightError> {
        // entries checked first (the Gram matrix of a matrix with an infinity is all NaN)
        for j in 0..w.ncols() {
            for i in 0..w.nrows() {
                let x: f64 = w[(i, j)].into();
                if !x.is_finite() {
                    return Err(WeightError::NonFinite {
                        row: i,
                        col: j,
                        value: x,
                    });
                }
            }
        }
        let m = a.nrows();
        // the lower triangle of A^T A, accumulated in f64
        let mut g = Mat::<f64>::zeros(k, k);
        // rows PANEL of A (from column j0 on), converted to f64 and stored transposed: panel_t
        // column i is row i of A, so that a row-major A is read and written contiguously
        let mut panel_t = Mat::<f64>::zeros(k, PANEL.min(m));
        let mut j0 = 0;
        while j0 < k {
            let (b, rest) = ((k - j0).min(BLOCK), k - j0);
            let mut p0 = 0;
            while p0 < m {
                if interrupt::poll() {
                    return Ok(None);
                }
                let p = (m - p0).min(PANEL);
                for ii in 0..p {
                    for jj in 0..rest {
                        panel_t[(jj, ii)] = a[(p0 + ii, j0 + jj)].into();
                    }
                }
                let pt = panel_t.as_ref().submatrix(0, 0, rest, p);
                // G[j0.., j0..j0+b] += A[P, j0..]^T A[P, j0..j0+b]
                matmul(
                    g.as_mut().submatrix_mut(j0, j0, rest, b),
                    Accum::Add,
                    pt,
                    pt.subrows(0, b).transpose(),
                    1.0f64,
                    Par::rayon(0),
                );
                p0 += p;
            }
            j0 += b;
        }
        replica_core::hooks::clear_upper_simd_state();
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
    let eig = interrupt::detach_waiting(py, move |_stop| symmetric_eigenvalues(g))?;
    let mut e: Vec<f64> = match eig {
        Some(v) => v.into_iter().map(|x| x.max(0.0)).collect(),
        None => return Ok(Err(WeightError::Svd)),
    };
    e.sort_by(|x, y| y.total_cmp(x));
    Ok(Ok(e))
}

/// A weight matrix as the extension keeps it: the matrix itself (float64, read from a file or
/// given as an array), or, for a float32 or large float64 numpy array, only its shape and the
/// eigenvalues of its smaller Gram matrix (see [`matrix_data_of`]).
#[derive(Clone, Debug)]
pub(crate) enum MatrixData {
    Dense(Arc<WeightMatrix>),
    Gram {
        rows: usize,
        cols: usize,
        /// `min(rows, cols)` eigenvalues, largest first.
        eigs: Arc<Vec<f64>>,
    },
}

impl MatrixData {
    pub(crate) fn rows(&self) -> usize {
        match self {
            MatrixData::Dense(m) => m.rows(),
            MatrixData::Gram { rows, .. } => *rows,
        }
    }
    pub(crate) fn cols(&self) -> usize {
        match self {
            MatrixData::Dense(m) => m.cols(),
            MatrixData::Gram { cols, .. } => *cols,
        }
    }

    /// The `cols` eigenvalues of `W^T W` of the stored matrix, largest first.
    pub(crate) fn wtw_eigenvalues(
        &self,
        py: Python<'_>,
    ) -> PyResult<Result<Vec<f64>, WeightError>> {
        match self {
            MatrixData::Dense(m) => {
                let m = Arc::clone(m);
                interrupt::detach_waiting(py, move |_stop| m.wtw_eigenvalues(false))
            }
            MatrixData::Gram { cols, eigs, .. } => {
                let mut e = eigs.to_vec();
                e.resize(*cols, 0.0);
                Ok(Ok(e))
            }
        }
    }
}

/// What the core's chain builder needs of a matrix: its shape, and the eigenvalues of `W^T W`
/// (for a Gram summary, the smaller Gram matrix's eigenvalues padded with zeros; the all-zero
/// matrix was refused when the summary was made).
impl StoredMatrix for MatrixData {
    fn shape(&self) -> (usize, usize) {
        (self.rows(), self.cols())
    }
    fn wtw_eigenvalues(&self, transposed: bool) -> Result<Vec<f64>, WeightError> {
        match self {
            MatrixData::Dense(m) => StoredMatrix::wtw_eigenvalues(m.as_ref(), transposed),
            MatrixData::Gram { rows, cols, eigs } => {
                let mut e = eigs.to_vec();
                e.resize(if transposed { *rows } else { *cols }, 0.0);
                Ok(e)
            }
        }
    }
}

/// Smallest `min(rows, cols)` from which a float64 numpy matrix goes through
/// [`gram_eigenvalues`] too (no copy, about 5x faster than the SVD at 2000 x 2000); smaller ones
/// keep the SVD of `replica_core::weights`, so that a matrix given as an array and the same matrix
/// read from a file give bit-identical results (the two agree to 1e-13 relative anyway).
pub(crate) const GRAM_FROM: usize = 512;

/// A numpy array's view as a faer matrix (any strides), for the duration of `f`.
fn with_matref<T: numpy::Element, R>(
    arr: &Bound<'_, PyArray2<T>>,
    f: impl FnOnce(MatRef<'_, T>) -> R,
) -> R {
    let ro = arr.readonly();
    let view = ro.as_array();
    let (rows, cols) = view.dim();
    let strides = view.strides();
    // SAFETY: the view's pointer, shape and element strides describe numpy's buffer, which the
    // read-only borrow `ro` keeps alive and unchanged until `f` returns.
    let w =
        unsafe { MatRef::<T>::from_raw_parts(view.as_ptr(), rows, cols, strides[0], strides[1]) };
    f(w)
}

/// A matrix argument: a float32 numpy array, or a float64 one of at least [`GRAM_FROM`] rows and
/// columns, goes through [`gram_eigenvalues`] (no float64 copy); anything else is converted to
/// float64 and kept.
pub(crate) fn matrix_data_of(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<MatrixData> {
    let py = obj.py();
    let gram = |rows, cols, r: PyResult<Result<Vec<f64>, WeightError>>| -> PyResult<MatrixData> {
        let eigs = r?.map_err(|e| weight_error(py, field, e))?;
        Ok(MatrixData::Gram {
            rows,
            cols,
            eigs: Arc::new(eigs),
        })
    };
    if let Ok(arr) = obj.cast::<PyArray2<f32>>() {
        let (rows, cols) = (arr.dims()[0], arr.dims()[1]);
        return gram(rows, cols, with_matref(arr, |w| gram_eigenvalues(py, w)));
    }
    if let Ok(arr) = obj.cast::<PyArray2<f64>>() {
        let (rows, cols) = (arr.dims()[0], arr.dims()[1]);
        if rows.min(cols) >= GRAM_FROM {
            return gram(rows, cols, with_matref(arr, |w| gram_eigenvalues(py, w)));
        }
    }
    Ok(MatrixData::Dense(Arc::new(weight_matrix(obj, field)?)))
}

/// The eigenvalues of the symmetric matrix whose lower triangle is `g`, in place: faer's blocked
/// Householder tridiagonalisation (no copy of `g`), then the implicit QL iteration on the
/// tridiagonal matrix ([`tridiagonal_eigenvalues`]). `None` if the QL iteration does not converge.
/// (faer's own `self_adjoint_eigenvalues` copies the matrix, and in float32 it is off by up to
/// 2e-4 of the largest eigenvalue at 2000 x 2000: float64 throughout instead.)
fn symmetric_eigenvalues(mut g: Mat<f64>) -> Option<Vec<f64>> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::evd::tridiag;
    let n = g.nrows();
    if n == 1 {
        return Some(vec![g[(0, 0)]]);
    }
    let par = Par::rayon(0);
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_blocksize::<f64>(n, n);
    let mut householder = Mat::<f64>::zeros(bs, n - 1);
    let mut mem = MemBuffer::new(tridiag::tridiag_in_place_scratch::<f64>(
        n,
        par,
        Default::default(),
    ));
    tridiag::tridiag_in_place(
        g.as_mut(),
        householder.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    replica_core::hooks::clear_upper_simd_state();
    let mut d: Vec<f64> = (0..n).map(|i| g[(i, i)]).collect();
    let mut e: Vec<f64> = (0..n)
        .map(|i| if i + 1 < n { g[(i + 1, i)] } else { 0.0 })
        .collect();
    drop(g);
    tridiagonal_eigenvalues(&mut d, &mut e).then_some(d)
}

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and off-diagonal `e`
/// (`e[i]` couples `i` and `i + 1`; `e[n - 1]` unused), left in `d`: the implicit QL iteration
/// with Wilkinson shifts (as EISPACK's tql1), `O(n^2)`. `false` if some eigenvalue needs more than
/// 60 iterations (not seen in practice: 1-2 per eigenvalue).
fn tridiagonal_eigenvalues(d: &mut [f64], e: &mut [f64]) -> bool {
    let n = d.len();
    if n > 0 {
        e[n - 1] = 0.0;
    }
    for l in 0..n {
        let mut iterations = 0;
        loop {
            // the first negligible off-diagonal element from l on
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > 60 {
                return false;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut i = m;
            let mut deflated = false;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    true
}
