//! Seeded Gaussian matrices: the initial weights of the networks and the teacher and generative
//! matrices of the synthetic data sets.
//!
//! The same function, draw for draw, as `replica_core::exact::gaussian_matrix_in` (the exact
//! checks and Figure 2 draw their weights there): this crate does not depend on the estimator, so
//! it keeps its own copy, and the root crate's tests check that both give the same matrices for
//! the same seeds.

use faer::Mat;
use rand::Rng;
use rand_distr::StandardNormal;

/// The order in which the entries of a [`gaussian_matrix_in`] are drawn from the generator: the
/// same seed gives another matrix in the other order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawOrder {
    /// Column by column (`W_00, W_10, ..., W_01, ...`): the networks' initial weights.
    ByColumns,
    /// Row by row (`W_00, W_01, ..., W_10, ...`): the synthetic data's teacher and generative
    /// matrices.
    ByRows,
}

/// An `n_out x n_in` matrix with i.i.d. entries `N(0, var / n_in)`, each `sqrt(var / n_in) u`
/// with `u` a standard normal draw of `rng`, in the order `order`.
pub fn gaussian_matrix_in(
    n_out: usize,
    n_in: usize,
    var: f64,
    order: DrawOrder,
    rng: &mut impl Rng,
) -> Mat<f64> {
    let sd = (var / n_in as f64).sqrt();
    let mut w = Mat::<f64>::zeros(n_out, n_in);
    let mut draw = |w: &mut Mat<f64>, i: usize, j: usize| {
        w[(i, j)] = sd * rng.sample::<f64, _>(StandardNormal);
    };
    match order {
        DrawOrder::ByColumns => {
            for j in 0..n_in {
                for i in 0..n_out {
                    draw(&mut w, i, j);
                }
            }
        }
        DrawOrder::ByRows => {
            for i in 0..n_out {
                for j in 0..n_in {
                    draw(&mut w, i, j);
                }
            }
        }
    }
    w
}

/// [`gaussian_matrix_in`] drawn column by column ([`DrawOrder::ByColumns`]).
pub fn gaussian_matrix(n_out: usize, n_in: usize, var: f64, rng: &mut impl Rng) -> Mat<f64> {
    gaussian_matrix_in(n_out, n_in, var, DrawOrder::ByColumns, rng)
}
