//! Seeded Gaussian matrices, drawn one way for the whole workspace: the weights of the
//! estimator's exact checks and of Figure 2 (`replica-core`), the networks' initial weights and
//! the synthetic data's teacher and generative matrices (`replica-nn`). Both crates call this one,
//! so a seed gives the same matrix everywhere, and neither depends on the other.

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

#[cfg(test)]
mod draw_order_tests {
    use super::*;
    use rand::Rng;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The two orders hold the same draws, transposed in sequence: entry `(i, j)` by columns is
    /// draw number `j n_out + i`, by rows `i n_in + j`; each is `sqrt(var / n_in)` times the draw.
    #[test]
    fn orders_place_the_same_draws() {
        let (n_out, n_in, var) = (3, 5, 2.0);
        let draws: Vec<f64> = {
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            (0..n_out * n_in)
                .map(|_| rng.sample::<f64, _>(StandardNormal))
                .collect()
        };
        let sd = (var / n_in as f64).sqrt();
        let cols = gaussian_matrix(n_out, n_in, var, &mut ChaCha8Rng::seed_from_u64(11));
        let rows = gaussian_matrix_in(
            n_out,
            n_in,
            var,
            DrawOrder::ByRows,
            &mut ChaCha8Rng::seed_from_u64(11),
        );
        for i in 0..n_out {
            for j in 0..n_in {
                assert_eq!(
                    cols[(i, j)].to_bits(),
                    (sd * draws[j * n_out + i]).to_bits(),
                    "({i}, {j})"
                );
                assert_eq!(
                    rows[(i, j)].to_bits(),
                    (sd * draws[i * n_in + j]).to_bits(),
                    "({i}, {j})"
                );
            }
        }
    }
}
