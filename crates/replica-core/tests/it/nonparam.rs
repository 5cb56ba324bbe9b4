//! Checks of the non-parametric entropy estimators (`replica_core::exact::nonparam`) against closed
//! forms: Gaussian and uniform samples for the kNN estimator, the entropy of the Gaussian-smoothed
//! Gaussian for the mixture bounds, the large-variance limit, the distance matrix against a direct
//! loop, and the error variants. Table-driven; every failure prints its parameters. All entropies
//! are totals in nats.
//!
//! Statistical tolerances use the standard deviation of a sample mean of `N` i.i.d. terms,
//! `sd = sqrt(Var / N)`, with `Var` in closed form for the case at hand (stated per test), and
//! allow 4 sd (a two-sided 4-sigma band fails with probability 6e-5 per case; the seeds are fixed,
//! so a pass is reproducible).
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use replica_core::exact::nonparam::{
    digamma, kde_upper_bound, kde_upper_bound_noisy_samples, kde_upper_bound_parametric,
    kde_upper_bound_per_unit, knn_entropy, knn_entropy_per_unit, ln_unit_diameter_ball_volume,
    mixture_entropy_bounds, mixture_entropy_bounds_per_unit, pairwise_lower_bound,
    pairwise_lower_bound_per_unit, pairwise_sq_distances, NonparamError,
};
use std::f64::consts::{E, PI};

const N: usize = 2000;

/// `n x d` samples of `N(0, diag(sds^2))`.
fn gaussian_samples(n: usize, sds: &[f64], rng: &mut impl Rng) -> Mat<f64> {
    Mat::from_fn(n, sds.len(), |_, j| {
        sds[j] * rng.sample::<f64, _>(StandardNormal)
    })
}

/// Standard deviations spread evenly over [0.5, 2] (variances 0.25 .. 4).
fn varied_sds(d: usize) -> Vec<f64> {
    if d == 1 {
        return vec![1.3];
    }
    (0..d)
        .map(|j| 0.5 + 1.5 * j as f64 / (d - 1) as f64)
        .collect()
}

/// `1/2 ln det(2 pi e diag(vars))`.
fn gaussian_entropy(vars: impl IntoIterator<Item = f64>) -> f64 {
    vars.into_iter()
        .map(|v| 0.5 * (2.0 * PI * E * v).ln())
        .sum()
}

fn rel_close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

#[test]
fn pairwise_distances_match_direct_loop() {
    // (n, d, offset added to every coordinate, seed). The offset 1e3 makes |x|^2 ~ 1e6 d while
    // D_ij ~ 2d: without centring, |x_i|^2 + |x_j|^2 - 2 G_ij would lose ~6 digits to
    // cancellation (error ~ 1e-16 * 1e6 d / 2d ~ 1e-10 relative, at the tolerance).
    for &(n, d, offset, seed) in &[
        (2usize, 1usize, 0.0, 1u64),
        (17, 3, 0.0, 2),
        (40, 11, 1e3, 3),
        (25, 60, -5.0, 4),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Mat::from_fn(n, d, |_, _| offset + rng.sample::<f64, _>(StandardNormal));
        let dist = pairwise_sq_distances(&x).unwrap();
        assert_eq!((dist.nrows(), dist.ncols()), (n, n));
        for i in 0..n {
            assert_eq!(
                dist[(i, i)].to_bits(),
                0,
                "diagonal not exactly +0: n={n} d={d}"
            );
            for j in 0..n {
                assert_eq!(
                    dist[(i, j)].to_bits(),
                    dist[(j, i)].to_bits(),
                    "not exactly symmetric: n={n} d={d} ({i},{j})"
                );
                if i == j {
                    continue;
                }
                let direct: f64 = (0..d).map(|c| (x[(i, c)] - x[(j, c)]).powi(2)).sum();
                // 1e-10 relative: the product form carries ~d * 1e-16 relative error on
                // centred data with D_ij of the order of the squared norms.
                assert!(
                    rel_close(dist[(i, j)], direct, 1e-10),
                    "n={n} d={d} offset={offset} ({i},{j}): {} vs direct {direct}",
                    dist[(i, j)]
                );
            }
        }
    }
}

#[test]
fn special_functions_known_values() {
    let euler = 0.577_215_664_901_532_9;
    // (x, psi(x)) from the closed forms psi(1) = -gamma, psi(1/2) = -gamma - 2 ln 2,
    // psi(n) = -gamma + H_{n-1}.
    let h = |n: usize| (1..n).map(|m| 1.0 / m as f64).sum::<f64>();
    for &(x, want) in &[
        (1.0, -euler),
        (0.5, -euler - 2.0 * std::f64::consts::LN_2),
        (3.0, -euler + h(3)),
        (10.0, -euler + h(10)),
        (2000.0, -euler + h(2000)),
    ] {
        // 1e-13: the series is truncated at x^-12 (< 1e-14 at x >= 10); the harmonic sums of up
        // to 2000 terms carry ~1e-13 of accumulated round-off.
        assert!(
            (digamma(x) - want).abs() < 1e-13,
            "psi({x}) = {} vs {want}",
            digamma(x)
        );
    }
    assert!(digamma(0.0).is_nan() && digamma(-1.0).is_nan());
    // Unit-diameter balls: c_1 = 1, c_2 = pi/4, c_3 = pi/6, c_4 = pi^2/32.
    for &(d, c) in &[
        (1usize, 1.0),
        (2, PI / 4.0),
        (3, PI / 6.0),
        (4, PI * PI / 32.0),
    ] {
        // 1e-14: lgamma at half-integers is accurate to a few ulps.
        assert!(
            (ln_unit_diameter_ball_volume(d) - c.ln()).abs() < 1e-14,
            "ln c_{d} = {} vs {}",
            ln_unit_diameter_ball_volume(d),
            c.ln()
        );
    }
}

/// kNN on Gaussian samples against `1/2 ln det(2 pi e Sigma)`.
///
/// Variance: the estimator is a mean over i of `ln(N c_d eps_i^d) + const`, whose per-sample
/// variance is `psi'(k) + Var[ln p(X)] = psi'(k) + d/2` for a Gaussian (the kNN-ball mass is
/// Beta(k, N-k): `Var ln = psi'(k) <= psi'(3) = 0.395`), so `sd = sqrt((0.395 + d/2) / N)`:
/// 0.021 (d = 1), 0.038 (d = 5), 0.072 (d = 20) at N = 2000 (over 20 seeds the observed sd is
/// 0.018-0.021, 0.034-0.036, 0.070-0.073).
///
/// Bias: the estimator assumes p constant over the kNN ball, whose radius is a fraction
/// ~(k/N)^{1/d} of the spread: 0.002 at d = 1 (bias negligible), 0.29 at d = 5 (observed
/// -0.03..-0.04 nats over 20 seeds), 0.74 at d = 20, where the ball is as wide as the anisotropic
/// (variances 0.25..4) distribution and the estimator overestimates by +2.1..+2.3 nats (0.11
/// nats per unit, the known high-dimensional bias of kNN estimators). `bias_allow` covers these.
#[test]
fn knn_matches_gaussian_entropy() {
    // (d, k, seed, bias_allow)
    for &(d, k, seed, bias_allow) in &[
        (1usize, 3usize, 11u64, 0.01),
        (1, 5, 12, 0.01),
        (5, 3, 13, 0.06),
        (5, 4, 14, 0.06),
        (5, 5, 15, 0.06),
        (20, 4, 16, 2.5),
    ] {
        let sds = varied_sds(d);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = gaussian_samples(N, &sds, &mut rng);
        let exact = gaussian_entropy(sds.iter().map(|s| s * s));
        let est = knn_entropy(&x, k).unwrap();
        let sd = ((0.395 + 0.5 * d as f64) / N as f64).sqrt();
        let tol = bias_allow + 4.0 * sd;
        println!(
            "gauss d={d} k={k}: est {est:.4} exact {exact:.4} err {:+.4} tol {tol:.4}",
            est - exact
        );
        assert!(
            (est - exact).abs() <= tol,
            "kNN Gaussian d={d} k={k} N={N} seed={seed}: est {est} exact {exact} (tol {tol})"
        );
        let per_unit = knn_entropy_per_unit(&x, k).unwrap();
        assert!(rel_close(per_unit * d as f64, est, 1e-14));
    }
}

/// kNN on uniform samples of [0,1]^d, whose entropy is 0.
///
/// Variance: `ln p` is constant, so `sd = sqrt(psi'(k) / N) <= sqrt(0.395 / 2000) = 0.014`.
/// Bias: kNN balls cut by a face of the cube contain less mass than assumed, so such points
/// overestimate `-ln p`; the fraction of them is ~ 2d r_k with r_k = (k / (N v_d))^{1/d} the kNN
/// radius (v_d the unit-radius ball volume): 2 * 0.001 at d = 1 (negligible), 6 * 0.078 = 0.47 at
/// d = 3, for a bias of about +0.1 nats (observed +0.11..+0.13 over 20 seeds, k = 3..5).
#[test]
fn knn_uniform_cube_is_near_zero() {
    // (d, k, seed, bias_allow)
    for &(d, k, seed, bias_allow) in &[
        (1usize, 3usize, 21u64, 0.01),
        (1, 5, 22, 0.01),
        (3, 3, 23, 0.15),
        (3, 5, 24, 0.15),
    ] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Mat::from_fn(N, d, |_, _| rng.random::<f64>());
        let est = knn_entropy(&x, k).unwrap();
        let tol = bias_allow + 4.0 * (0.395 / N as f64).sqrt();
        println!("unif d={d} k={k}: est {est:+.4} tol {tol:.4}");
        assert!(
            est.abs() <= tol,
            "kNN uniform d={d} k={k} N={N} seed={seed}: est {est} (tol {tol})"
        );
    }
}

/// Mixture bounds against the exact entropy `H = 1/2 sum_k ln(2 pi e (sigma_k^2 + s^2))` of
/// `X + N(0, s^2 I)`, `X ~ N(0, Sigma)`.
///
/// For large N (derivation: the kernel sums tend to Gaussian integrals),
/// `upper -> H + 1/2 sum_k sigma_k^2 / (sigma_k^2 + s^2)` and
/// `lower -> H - 1/2 sum_k [ln(4 (sigma_k^2 + s^2) / (sigma_k^2 + 4 s^2))
///                          - sigma_k^2 / (sigma_k^2 + 4 s^2)]`,
/// both gaps positive. Finite N moves them through (a) the self term j = i, which lowers both;
/// negligible when `N >> r = exp(1/2 sum_k [ln(1 + sigma_k^2/s^2) + sigma_k^2/(sigma_k^2+s^2)])`,
/// the ratio of the self term to the rest at a typical point, so the cases keep `r / N < 0.5`
/// (for d = 20, s^2 = 1, r / N ~ 1e3 and the "upper bound" falls below H: it bounds the entropy
/// of the N-component mixture, not of the smoothed law); (b) the mean over i, with
/// `sd = sqrt(Var[ln p_smooth(X)] / N)`, `Var = 1/2 sum_k (sigma_k^2 / (sigma_k^2 + s^2))^2`
/// (<= 0.03 nats here). The slack is 4 sd. Where `r / N < 0.05` the bounds are also compared
/// with their large-N limits, allowing the slack plus `2 r / N` for the self term (it lowers
/// `-ln p_N(x_i)` by `~ln(1 + r/N)` at a typical point, more in the tails).
#[test]
fn mixture_bounds_bracket_smoothed_gaussian_entropy() {
    // (d, s^2, seed)
    for &(d, s2, seed) in &[
        (1usize, 0.01, 31u64),
        (1, 1.0, 32),
        (5, 0.3, 33),
        (5, 1.0, 34),
        (20, 4.0, 35),
    ] {
        let sds = varied_sds(d);
        let vars: Vec<f64> = sds.iter().map(|s| s * s).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = gaussian_samples(N, &sds, &mut rng);
        let h = gaussian_entropy(vars.iter().map(|v| v + s2));
        let ln_r: f64 = vars
            .iter()
            .map(|v| 0.5 * ((1.0 + v / s2).ln() + v / (v + s2)))
            .sum();
        let var_lnp: f64 = vars.iter().map(|v| 0.5 * (v / (v + s2)).powi(2)).sum();
        let slack = 4.0 * (var_lnp / N as f64).sqrt();
        let up_gap: f64 = vars.iter().map(|v| 0.5 * v / (v + s2)).sum();
        let low_gap: f64 = vars
            .iter()
            .map(|v| 0.5 * ((4.0 * (v + s2) / (v + 4.0 * s2)).ln() - v / (v + 4.0 * s2)))
            .sum();
        let b = mixture_entropy_bounds(&x, s2).unwrap();
        let ctx = format!(
            "d={d} s2={s2} N={N} seed={seed}: lower {} upper {} H {h} slack {slack} r/N {} \
             large-N lower {} upper {}",
            b.lower,
            b.upper,
            ln_r.exp() / N as f64,
            h - low_gap,
            h + up_gap
        );
        println!("{ctx}");
        assert!(
            ln_r.exp() / (N as f64) < 0.5,
            "case outside the regime: {ctx}"
        );
        assert!(b.upper >= h - slack, "upper bound below H: {ctx}");
        assert!(b.lower <= h + slack, "lower bound above H: {ctx}");
        assert!(b.lower <= b.upper, "lower > upper: {ctx}");
        let r_over_n = ln_r.exp() / N as f64;
        if r_over_n < 0.05 {
            let tol = slack + 2.0 * r_over_n;
            assert!(
                (b.upper - (h + up_gap)).abs() <= tol,
                "upper vs large N: {ctx}"
            );
            assert!(
                (b.lower - (h - low_gap)).abs() <= tol,
                "lower vs large N: {ctx}"
            );
        }
        // The single-bound functions and the named uses agree with the joint computation.
        let up = kde_upper_bound(&x, s2).unwrap();
        let low = pairwise_lower_bound(&x, s2).unwrap();
        assert!(
            rel_close(up, b.upper, 1e-14) && rel_close(low, b.lower, 1e-14),
            "{ctx}"
        );
        for alias in [
            kde_upper_bound_noisy_samples(&x, s2).unwrap(),
            kde_upper_bound_parametric(&x, s2).unwrap(),
            kde_upper_bound_per_unit(&x, s2).unwrap() * d as f64,
        ] {
            assert!(rel_close(alias, up, 1e-14), "{ctx}");
        }
        assert!(rel_close(
            pairwise_lower_bound_per_unit(&x, s2).unwrap() * d as f64,
            low,
            1e-14
        ));
        let pu = mixture_entropy_bounds_per_unit(&x, s2).unwrap();
        assert!(rel_close(pu.upper * d as f64, up, 1e-14));
        assert!(rel_close(pu.lower * d as f64, low, 1e-14));
    }
}

/// `lower <= upper` is exact for every sample set (term-by-term `exp(-D/8s^2) >= exp(-D/2s^2)`),
/// including degenerate ones: duplicates, tiny and huge `s^2`, and `D ~ 1e3` with `s^2 = 1e-5`
/// where every off-diagonal kernel underflows, so both bounds equal `d/2 ln(2 pi e s^2) + ln N`
/// (the mixture of N well-separated components).
#[test]
fn lower_never_exceeds_upper_and_tiny_variance_is_stable() {
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let n = 300;
    let spread = gaussian_samples(n, &[10.0; 10], &mut rng); // D_ij ~ 2 * 10 * 100 = 2000
    let uniform = Mat::from_fn(n, 3, |_, _| rng.random::<f64>());
    let dup = Mat::from_fn(n, 2, |i, j| (i % 7) as f64 + j as f64);
    for (name, x) in [("spread", &spread), ("uniform", &uniform), ("dup", &dup)] {
        for &s2 in &[1e-5, 1e-2, 1.0, 1e2, 1e6] {
            let b = mixture_entropy_bounds(x, s2).unwrap();
            assert!(
                b.lower.is_finite() && b.upper.is_finite() && b.lower <= b.upper,
                "{name} s2={s2}: {b:?}"
            );
        }
    }
    let d = 10.0;
    let s2 = 1e-5;
    let separated = 0.5 * d * (2.0 * PI * E * s2).ln() + (n as f64).ln();
    let b = mixture_entropy_bounds(&spread, s2).unwrap();
    // min D over the 300 points is >> 1e-5 * 2 * 745 (exp underflow), so the off-diagonal terms
    // are exactly 0 and only round-off of the ~1e2-sized totals remains.
    assert!(
        (b.upper - separated).abs() < 1e-12 * separated.abs()
            && (b.lower - separated).abs() < 1e-12 * separated.abs(),
        "tiny s2: {b:?} vs {separated}"
    );
}

/// For `s^2 >> spread`, both bounds tend to the entropy `d/2 ln(2 pi e s^2)` of one component
/// `N(mean, s^2 I)`. Exactly (Jensen, and `D_ij >= 0`): `0 <= bound - d/2 ln(2 pi e s^2) <=
/// mean_ij D_ij / (2 s^2)` (a quarter of that for the lower bound), and `mean_ij D_ij ~ 2 tr Sigma`;
/// with `s^2 = 1e4 tr Sigma` the deviation is at most ~1e-4 nats.
#[test]
fn bounds_tend_to_single_gaussian_for_large_variance() {
    // (d, seed)
    for &(d, seed) in &[(1usize, 51u64), (5, 52), (20, 53)] {
        let sds = varied_sds(d);
        let tr: f64 = sds.iter().map(|s| s * s).sum();
        let s2 = 1e4 * tr;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = gaussian_samples(500, &sds, &mut rng);
        let dist = pairwise_sq_distances(&x).unwrap();
        let mean_d = (0..500)
            .map(|j| dist.col_as_slice(j).iter().sum::<f64>())
            .sum::<f64>()
            / (500.0 * 500.0);
        let limit = 0.5 * d as f64 * (2.0 * PI * E * s2).ln();
        let b = mixture_entropy_bounds(&x, s2).unwrap();
        let ctx = format!("d={d} s2={s2} seed={seed}: {b:?} limit {limit} mean D {mean_d}");
        // 1e-12 * |limit| absorbs round-off in the ~1e2-sized totals.
        let eps = 1e-12 * limit.abs();
        for (bound, jensen) in [
            (b.upper, mean_d / (2.0 * s2)),
            (b.lower, mean_d / (8.0 * s2)),
        ] {
            let dev = bound - limit;
            assert!(dev >= -eps && dev <= jensen + eps, "{ctx}");
            assert!(dev <= 2.5e-4, "{ctx}");
        }
    }
}

fn expect_err<T: std::fmt::Debug>(
    name: &str,
    res: Result<T, NonparamError>,
    check: impl Fn(&NonparamError) -> bool,
) {
    match res {
        Err(e) => assert!(check(&e), "{name}: wrong variant {e:?}"),
        Ok(v) => panic!("{name}: expected an error, got {v:?}"),
    }
}

#[test]
fn error_variants() {
    let good = Mat::from_fn(5, 2, |i, j| (i * 2 + j) as f64);
    let one_row = Mat::from_fn(1, 3, |_, j| j as f64);
    let no_cols = Mat::<f64>::zeros(4, 0);
    let mut nan = good.clone();
    nan[(3, 1)] = f64::NAN;
    let mut inf = good.clone();
    inf[(2, 0)] = f64::NEG_INFINITY;
    let dup = Mat::from_fn(5, 2, |i, _| (i / 2) as f64); // rows 0=1, 2=3

    expect_err("knn N=1", knn_entropy(&one_row, 1), |e| {
        matches!(e, NonparamError::TooFewSamples(1))
    });
    expect_err("kde N=1", kde_upper_bound(&one_row, 1.0), |e| {
        matches!(e, NonparamError::TooFewSamples(1))
    });
    expect_err("dist N=1", pairwise_sq_distances(&one_row), |e| {
        matches!(e, NonparamError::TooFewSamples(1))
    });
    expect_err("knn d=0", knn_entropy(&no_cols, 1), |e| {
        matches!(e, NonparamError::ZeroDimension)
    });
    expect_err("knn k=0", knn_entropy(&good, 0), |e| {
        matches!(e, NonparamError::BadNeighbourOrder { k: 0, n: 5 })
    });
    expect_err("knn k=N", knn_entropy(&good, 5), |e| {
        matches!(e, NonparamError::BadNeighbourOrder { k: 5, n: 5 })
    });
    expect_err("knn k>N", knn_entropy(&good, 9), |e| {
        matches!(e, NonparamError::BadNeighbourOrder { k: 9, n: 5 })
    });
    expect_err("kde s2=0", kde_upper_bound(&good, 0.0), |e| {
        matches!(e, NonparamError::BadVariance(_))
    });
    expect_err("low s2<0", pairwise_lower_bound(&good, -1.0), |e| {
        matches!(e, NonparamError::BadVariance(_))
    });
    expect_err(
        "kde s2=NaN",
        kde_upper_bound(&good, f64::NAN),
        |e| matches!(e, NonparamError::BadVariance(v) if v.is_nan()),
    );
    expect_err(
        "bounds s2=inf",
        mixture_entropy_bounds(&good, f64::INFINITY),
        |e| matches!(e, NonparamError::BadVariance(_)),
    );
    expect_err(
        "knn NaN",
        knn_entropy(&nan, 1),
        |e| matches!(e, NonparamError::NonFiniteSample { row: 3, col: 1, value } if value.is_nan()),
    );
    expect_err("kde inf", kde_upper_bound(&inf, 1.0), |e| {
        matches!(e, NonparamError::NonFiniteSample { row: 2, col: 0, .. })
    });
    expect_err("dist NaN", pairwise_sq_distances(&nan), |e| {
        matches!(e, NonparamError::NonFiniteSample { row: 3, col: 1, .. })
    });
    expect_err("knn duplicates", knn_entropy(&dup, 1), |e| {
        matches!(e, NonparamError::ZeroNeighbourDistance { k: 1, .. })
    });
    // Duplicates are fine once k exceeds the multiplicity (here 2: k = 2 reaches a distinct row
    // for rows 0..3; row 4 is unique).
    assert!(knn_entropy(&dup, 2).unwrap().is_finite());
}
