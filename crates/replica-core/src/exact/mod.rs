//! Closed forms and independent estimators that the replica estimate is checked against.
//!
//! * [`gaussian_chain_entropy`]: Gaussian input through linear layers with explicit weight
//!   matrices. Every `T_l` is Gaussian with `Sigma_l = W_l Sigma_{l-1} W_l^T + sigma_l^2 I`, so
//!   `H(T_L)/n_0 = ln det(2 pi e Sigma_L) / (2 n_0)` (Cholesky log-determinant, f64).
//! * [`scalar_entropy`]: the entropy of `phi(sqrt(v) u)`, `u ~ N(0,1)`, w.r.t. Lebesgue plus
//!   counting measure, in closed form; with a Gaussian prior and orthogonal weights (`alpha = 1`)
//!   it is the exact `H(T)/n_0` of one layer.
//! * [`gaussian_matrix`], [`gaussian_matrix_in`]: seeded Gaussian matrices for such checks, and
//!   for the networks and synthetic data sets.

pub mod nonparam;

use crate::replica::Activation;
use faer::Mat;
use std::f64::consts::{E, PI};

/// The seeded Gaussian matrices of the whole workspace (`replica-draw`): the weights of the
/// exact checks and of Figure 2, the networks' initial weights, the synthetic data.
pub use replica_draw::{gaussian_matrix, gaussian_matrix_in, DrawOrder};

/// `ln det` of a symmetric positive-definite matrix by Cholesky; `None` if it is not SPD.
pub fn ln_det_spd(m: &Mat<f64>) -> Option<f64> {
    let llt = m.llt(faer::Side::Lower).ok()?;
    let l = llt.L();
    Some((0..m.nrows()).map(|i| 2.0 * l[(i, i)].ln()).sum())
}

/// `H(T_L)/n_0` for `x ~ N(0, prior_var I_{n_0})` through `T_l = W_l T_{l-1} + xi_l`,
/// `xi_l ~ N(0, noise_l I)`: `ln det(2 pi e Sigma_L) / (2 n_0)`.
pub fn gaussian_chain_entropy(prior_var: f64, weights: &[Mat<f64>], noises: &[f64]) -> Option<f64> {
    assert_eq!(weights.len(), noises.len());
    let n0 = weights.first()?.ncols();
    let mut sigma = Mat::<f64>::from_fn(n0, n0, |i, j| if i == j { prior_var } else { 0.0 });
    for (w, &s2) in weights.iter().zip(noises) {
        let ws = w * &sigma;
        let mut next = &ws * w.transpose();
        for i in 0..next.nrows() {
            next[(i, i)] += s2;
        }
        sigma = next;
    }
    let n = sigma.nrows() as f64;
    Some((ln_det_spd(&sigma)? + n * (2.0 * PI * E).ln()) / (2.0 * n0 as f64))
}

/// Entropy (nats) of `h = phi(x)`, `x ~ N(0, v)`, w.r.t. Lebesgue plus counting measure:
/// atoms contribute `-P ln P`, linear pieces `-int p ln p` of their density.
pub fn scalar_entropy(act: Activation, v: f64) -> f64 {
    let sd = v.sqrt();
    let phi = |t: f64| (-0.5 * t * t).exp() / (2.0 * PI).sqrt();
    let cdf = |t: f64| 0.5 * libm::erfc(-t / std::f64::consts::SQRT_2);
    // -int_a^b N(x;0,v) ln(N(x;0,v)/|g|) dx over a piece with slope g, in standardised bounds
    let piece = |a: f64, b: f64, g: f64| -> f64 {
        let p = cdf(b) - cdf(a);
        let xphi = |t: f64| if t.is_finite() { t * phi(t) } else { 0.0 };
        let e_t2 = p + xphi(a) - xphi(b);
        p * (0.5 * (2.0 * PI * v).ln() + g.abs().ln()) + 0.5 * e_t2
    };
    let atom = |p: f64| if p > 0.0 { -p * p.ln() } else { 0.0 };
    let inf = f64::INFINITY;
    match act {
        Activation::Linear => 0.5 * (2.0 * PI * E * v).ln(),
        Activation::Relu => atom(0.5) + piece(0.0, inf, 1.0),
        Activation::LeakyRelu { slope } if slope > 0.0 => {
            piece(-inf, 0.0, slope) + piece(0.0, inf, 1.0)
        }
        Activation::LeakyRelu { .. } => atom(0.5) + piece(0.0, inf, 1.0),
        Activation::Hardtanh { threshold } => {
            let t = threshold / sd;
            2.0 * atom(cdf(-t)) + piece(-t, t, 1.0)
        }
        Activation::Sign => std::f64::consts::LN_2,
    }
}
