//! Wall-clock medians of full replica solves (multi-start, both stages, potential), on the four
//! chains for which the reference package's timings are known (the reference package: 37 ms, 0.21 s, 8.1 s, 37 s).
use criterion::{criterion_group, criterion_main, Criterion};
use replica_mi::replica::{
    solve, Activation, Chain, DiscreteSpectrum, Ensemble, Layer, Prior, SolverOptions,
};
use std::hint::black_box;
use std::time::Duration;

fn gaussian_layers(acts: &[Activation], noises: &[f64]) -> Chain {
    let layers = acts
        .iter()
        .zip(noises)
        .map(|(&a, &n)| Layer::new(1.0, a, n, Ensemble::Gaussian { var: 1.0 }).unwrap())
        .collect();
    Chain::new(Prior::gaussian(0.0, 1.0).unwrap(), layers).unwrap()
}

fn spectrum_chain() -> Chain {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/refs/spectra/gauss_a1_n1000_seed1.csv");
    let eigs: Vec<f64> = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let spec = DiscreteSpectrum::from_eigenvalues(&eigs, 1.0).unwrap();
    Chain::new(
        Prior::gaussian(0.0, 1.0).unwrap(),
        vec![Layer::new(
            1.0,
            Activation::Hardtanh { threshold: 1.0 },
            1e-5,
            Ensemble::Discrete(spec),
        )
        .unwrap()],
    )
    .unwrap()
}

fn bench_solver(c: &mut Criterion) {
    let opts = SolverOptions::default();
    let relu = Activation::Relu;
    let cases = [
        ("1L_relu_gaussian", gaussian_layers(&[relu], &[1e-5])),
        ("1L_hardtanh_spectrum1000", spectrum_chain()),
        ("2L_relu_relu", gaussian_layers(&[relu, relu], &[0.0, 1e-5])),
        (
            "3L_relu",
            gaussian_layers(&[relu, relu, relu], &[0.0, 0.0, 1e-5]),
        ),
    ];
    let mut g = c.benchmark_group("solve");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for (name, chain) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| solve(black_box(chain), &opts).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_solver);
criterion_main!(benches);
