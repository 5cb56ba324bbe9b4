//! Seeded Gaussian matrices: the initial weights of the networks and the teacher and generative
//! matrices of the synthetic data sets, drawn by `replica-draw`, the same function the
//! estimator's exact checks use.

pub use replica_draw::{gaussian_matrix, gaussian_matrix_in, DrawOrder};
