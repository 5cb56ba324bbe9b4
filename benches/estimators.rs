//! Wall-clock medians of the non-parametric entropy estimators on 1000 samples in dimension 1000
//! (target: the 1000 x 1000 pairwise distance matrix should take well under a few seconds).
use criterion::{criterion_group, criterion_main, Criterion};
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use replica_mi::exact::nonparam::{
    kde_upper_bound, knn_entropy, mixture_entropy_bounds, pairwise_sq_distances,
};
use std::hint::black_box;
use std::time::Duration;

fn bench_estimators(c: &mut Criterion) {
    let (n, d) = (1000, 1000);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = Mat::from_fn(n, d, |_, _| rng.sample::<f64, _>(StandardNormal));
    // Kernel variance of the order of the per-coordinate variance, as for a noisy layer.
    let s2 = 1.0;
    let mut g = c.benchmark_group("nonparam_n1000_d1000");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("pairwise_sq_distances", |b| {
        b.iter(|| pairwise_sq_distances(black_box(&x)).unwrap())
    });
    g.bench_function("kde_upper_bound", |b| {
        b.iter(|| kde_upper_bound(black_box(&x), s2).unwrap())
    });
    g.bench_function("mixture_entropy_bounds", |b| {
        b.iter(|| mixture_entropy_bounds(black_box(&x), s2).unwrap())
    });
    g.bench_function("knn_entropy_k4", |b| {
        b.iter(|| knn_entropy(black_box(&x), 4).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_estimators);
criterion_main!(benches);
