//! Chains at the edges of the parameter space, of the four families on which the solver once
//! returned a provably wrong number or took minutes: a narrow hardtanh output after a bounded
//! layer, a linear output of tiny noise after a bounded layer, noiseless inner hardtanh layers,
//! and near-linear leaky-ReLU layers with an almost noiseless output. Each must be solved inside
//! every bound of the independent audit (`common/audit.rs`, `docs/bounds.md`) or refused with a
//! reasoned `NotConverged`; its work (channel evaluations) is bounded, so that a regression to a
//! minute-long solve fails here without a timed test.
//!
//! `EXTREME_EXPLORE=N` runs the ignored `explore` test on `N` chains of each family drawn at
//! random in the described ranges, printing the outcome and time of each (how these cases were
//! found).

use crate::common::audit::{run_chain, Outcome};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica_core::replica::{
    Activation, Chain, Counters, DiscreteSpectrum, Ensemble, Layer, Prior, SolverOptions,
};

/// Channel evaluations allowed to one chain here. Measured: the noiseless-hardtanh chain below
/// made 3.5e7 evaluations (before it was solved at unit scale) in 22 s of this test profile on a loaded 2-core machine (about 1.5e6
/// a second); 6e7 is then about 40 s, under the 60 s target with a margin for slower machines.
/// Ordinary chains need 1e5..1e7.
const MAX_EVALS: u64 = 60_000_000;

fn orth(alpha: f64, act: Activation, noise: f64) -> Layer {
    Layer::orthogonal(alpha, act, noise).unwrap()
}

fn gauss(alpha: f64, var: f64, act: Activation, noise: f64) -> Layer {
    Layer::new(alpha, act, noise, Ensemble::Gaussian { var }).unwrap()
}

/// A power-law spectrum of condition number `cond` (geometric), with the zeros that a layer of
/// `alpha < 1` has (a fraction `1 - alpha` of the 200 eigenvalues of `W^T W`).
fn power_law(alpha: f64, cond: f64, act: Activation, noise: f64) -> Layer {
    let n = 200;
    let positive = ((n as f64) * alpha.min(1.0)).floor() as usize;
    let eigs: Vec<f64> = (0..n)
        .map(|k| {
            if k < positive {
                cond.powf(-(k as f64) / (positive - 1) as f64)
            } else {
                0.0
            }
        })
        .collect();
    let d = DiscreteSpectrum::from_eigenvalues(&eigs, 1.0).unwrap();
    Layer::new(alpha, act, noise, Ensemble::Discrete(d)).unwrap()
}

fn ht(t: f64) -> Activation {
    Activation::Hardtanh { threshold: t }
}

fn lrelu(slope: f64) -> Activation {
    Activation::LeakyRelu { slope }
}

/// Solve and judge: inside every bound, or a reasoned non-convergence; within the work budget.
/// Returns the outcome and the work counters of a converged solve.
fn judge(name: &str, chain: &Chain) -> (Outcome, Option<Counters>) {
    let (outcome, est, secs) = run_chain(chain, &SolverOptions::default());
    println!(
        "{name}: {} {} ({secs:.2} s, {:?})",
        outcome.label(),
        outcome.detail(),
        est.as_ref()
            .map(|e| (e.entropy, e.mi_last_layer, e.counters))
    );
    let counters = est.map(|e| e.counters);
    match &outcome {
        Outcome::Converged => {
            let evals = counters.unwrap().evals;
            assert!(evals <= MAX_EVALS, "{name}: {evals} channel evaluations");
        }
        Outcome::Unconverged { .. } => {}
        other => panic!("{name}: {} {}", other.label(), other.detail()),
    }
    (outcome, counters)
}

/// 8 layers, a hardtanh of threshold 0.345 after another bounded layer, small widths: the
/// output entropy is at most `alpha~ ln(2.69)`.
#[test]
fn narrow_hardtanh_output_after_a_bounded_layer() {
    let chain = Chain::new(
        Prior::binary(0.97).unwrap(),
        vec![
            gauss(0.3, 2.0, lrelu(0.02), 1e-6),
            orth(0.5, Activation::Relu, 0.0),
            gauss(0.4, 30.0, ht(0.01), 0.0),
            power_law(1.5, 1e8, Activation::Linear, 1e-3),
            gauss(0.2, 1e3, Activation::Sign, 0.0),
            orth(0.6, ht(5.0), 1e-9),
            gauss(0.25, 0.01, ht(2.0), 0.0),
            gauss(0.3, 5.0, ht(0.345), 1e-11),
        ],
    )
    .unwrap();
    judge("narrow hardtanh", &chain);
}

/// 7 layers ending in a linear layer (orthogonal, alpha 3.1, noise 7e-12) after a hardtanh of
/// threshold 1.198: `H <= alpha~ ln(2 pi e (t^2/3.1 + sigma^2)) / 2`.
#[test]
fn linear_output_of_tiny_noise_after_a_hardtanh() {
    let chain = Chain::new(
        Prior::gaussian(0.0, 40.0).unwrap(),
        vec![
            gauss(2.0, 0.5, lrelu(0.9), 1e-4),
            power_law(0.5, 1e12, Activation::Relu, 0.0),
            gauss(3.0, 200.0, Activation::Linear, 1e-12),
            orth(0.7, ht(50.0), 0.0),
            gauss(1.0, 1e-3, lrelu(0.1), 2.0),
            gauss(0.8, 9.0, ht(1.198), 0.0),
            orth(3.1, Activation::Linear, 7e-12),
        ],
    )
    .unwrap();
    judge("linear after hardtanh", &chain);
}

/// Noiseless inner hardtanh layers of small and large thresholds. The second moments of the
/// hidden layers fall to 1e-6 after the first (threshold 1e-3): solved as given, every
/// fixed-point start left the theta equation's domain (the starts' `V = 1e-10`, `A = 1` are
/// not small or large at that scale) and ML-VAMP took 1317 sweeps and 3.45e7 channel
/// evaluations; solved as the equivalent chain of unit scale (`solve/rescale.rs`), the first
/// fixed-point start converges and the solve takes 9.3e6 evaluations (deterministic counts). The
/// limit 2e7 fails the old way of solving it.
#[test]
fn noiseless_inner_hardtanh_layers() {
    let (outcome, counters) = judge("noiseless hardtanh", &noiseless_hardtanh_chain());
    assert!(
        matches!(outcome, Outcome::Converged),
        "{}",
        outcome.detail()
    );
    let counters = counters.unwrap();
    assert!(counters.evals <= 20_000_000, "{counters:?}");
}

/// The time budget stops a solve at its next sweep, with `NotConverged` saying why. The budget
/// (1 us) is spent before the first sweep of any start, so the outcome does not depend on how fast
/// the machine is.
#[test]
fn the_time_budget_ends_a_long_solve_with_its_reason() {
    let opts = SolverOptions::default().with_max_seconds(1e-6).unwrap();
    let t0 = std::time::Instant::now();
    let r = replica_core::replica::solve(&noiseless_hardtanh_chain(), &opts);
    let secs = t0.elapsed().as_secs_f64();
    match r {
        Err(replica_core::replica::ReplicaError::NotConverged(report)) => {
            let m = report.to_string();
            assert!(m.contains("time budget of 0.000001 s ran out"), "{m:.500}");
            // every start of the search, typed: each ran out of time at its first sweep (the
            // continuation fallback's own search then fails the same way)
            use replica_core::replica::Start;
            assert!(!report.attempts().is_empty());
            for a in report
                .attempts()
                .iter()
                .filter(|a| a.start() != Start::Continuation)
            {
                assert!(
                    matches!(
                        a.outcome(),
                        replica_core::replica::AttemptOutcome::OutOfTime { sweep: 1, .. }
                    ),
                    "{a}"
                );
            }
        }
        other => panic!("{other:?}"),
    }
    // every start stops at its first sweep; 5 s leaves room for a loaded machine
    assert!(secs < 5.0, "{secs} s");
    assert!(SolverOptions::default().with_max_seconds(0.0).is_err());
    assert!(SolverOptions::default().with_max_seconds(f64::NAN).is_err());
}

fn noiseless_hardtanh_chain() -> Chain {
    Chain::new(
        Prior::gauss_bernoulli(0.05, 1.0, 3.0).unwrap(),
        vec![
            gauss(1.0, 1.0, ht(1e-3), 0.0),
            orth(1.0, ht(1e3), 0.0),
            gauss(2.0, 100.0, ht(0.1), 0.0),
            gauss(0.5, 1.0, ht(1.0), 0.0),
            orth(1.0, ht(0.02), 1e-8),
        ],
    )
    .unwrap()
}

/// Near-linear leaky ReLU layers (slope 0.999) with large weight scales and an output noise of
/// 1e-10: the weight scales compound over the layers.
#[test]
fn near_linear_leaky_relu_with_almost_noiseless_output() {
    let chain = Chain::new(
        Prior::gaussian(0.0, 1.0).unwrap(),
        vec![
            gauss(1.0, 1e3, lrelu(0.999), 1e-12),
            gauss(1.2, 1e3, lrelu(0.995), 1e-12),
            orth(1.0, lrelu(0.999), 0.0),
            gauss(0.9, 1e3, lrelu(0.999), 1e-12),
            gauss(1.0, 1e3, lrelu(0.998), 1e-12),
            gauss(1.0, 1e3, lrelu(0.999), 1e-10),
        ],
    )
    .unwrap();
    judge("near-linear leaky relu", &chain);
}

fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (rng.random_range(lo.ln()..hi.ln())).exp()
}

/// One chain of `family` (0..4) drawn in the ranges of the reported failures.
fn draw(family: usize, rng: &mut ChaCha8Rng) -> Chain {
    let n = rng.random_range(5..=8usize);
    let mut layers = Vec::new();
    for l in 0..n {
        let last = l + 1 == n;
        let alpha = log_uniform(rng, 0.2, 4.0);
        let var = log_uniform(rng, 1e-3, 1e3);
        let act = match (family, last, l + 2 == n) {
            (0, true, _) => ht(log_uniform(rng, 0.05, 2.0)),
            (0, false, true) | (1, false, true) => ht(log_uniform(rng, 0.1, 10.0)),
            (1, true, _) => Activation::Linear,
            (2, false, _) => ht(log_uniform(rng, 1e-3, 1e3)),
            (3, _, _) => lrelu(1.0 - log_uniform(rng, 1e-4, 1e-1)),
            _ => match rng.random_range(0..4) {
                0 => Activation::Relu,
                1 => lrelu(rng.random_range(0.0..1.0)),
                2 => ht(log_uniform(rng, 1e-2, 1e2)),
                _ => Activation::Linear,
            },
        };
        let noise = if last {
            log_uniform(rng, 1e-12, 1e-9)
        } else if family == 2 || rng.random_bool(0.5) {
            0.0
        } else {
            log_uniform(rng, 1e-12, 10.0)
        };
        layers.push(if rng.random_bool(0.5) {
            orth(alpha, act, noise)
        } else {
            gauss(alpha, var, act, noise)
        });
    }
    Chain::new(
        Prior::gaussian(0.0, log_uniform(rng, 1e-2, 1e2)).unwrap(),
        layers,
    )
    .unwrap()
}

#[test]
#[ignore = "exploration: EXTREME_EXPLORE=N cargo test --release --test extreme_chains -- --ignored"]
fn explore() {
    let n: usize = std::env::var("EXTREME_EXPLORE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut rng = ChaCha8Rng::seed_from_u64(20261207);
    for family in 0..4 {
        for i in 0..n {
            let chain = draw(family, &mut rng);
            let (outcome, est, secs) = run_chain(&chain, &SolverOptions::default());
            println!(
                "family {family} chain {i}: {:.2} s {} {} {:?} {:?}",
                secs,
                outcome.label(),
                outcome.detail(),
                est.map(|e| (e.entropy, e.mi_last_layer, e.counters)),
                chain.layers()
            );
        }
    }
}

/// The generator of extremes: every chain valid, 5 to 10 layers, slopes and binary `p` within
/// 0.1 of an edge, and the generated spectra of mean 1 (the Marchenko-Pastur quantiles inside
/// the law's support).
#[test]
fn the_extreme_generator_draws_valid_chains_at_the_edges() {
    use replica_core::random_chain::{extreme_spectra, GeneratorParams, NamedSpectrum};
    use replica_core::replica::PriorParams;
    let spectra = extreme_spectra();
    assert_eq!(spectra.len(), 6);
    for (name, eigs) in &spectra {
        let mean = eigs.iter().sum::<f64>() / eigs.len() as f64;
        assert!((mean - 1.0).abs() < 1e-12, "{name}: mean {mean}");
        if name == "marchenko-pastur-0.25" {
            // support [(1 - 0.5)^2, (1 + 0.5)^2] = [0.25, 2.25], up to the normalisation
            let (lo, hi) = eigs
                .iter()
                .fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
            assert!(lo > 0.24 && hi < 2.26, "{lo} {hi}");
        }
    }
    let named = spectra
        .into_iter()
        .map(|(name, eigenvalues)| NamedSpectrum {
            file: format!("{name}.csv").into(),
            eigenvalues,
        })
        .collect();
    let g = GeneratorParams::extreme(3).check(named).unwrap();
    for i in 0..500 {
        let d = g.draw(i).unwrap();
        let n = d.chain.len();
        assert!((5..=10).contains(&n), "chain {i}: {n} layers");
        for l in d.chain.layers() {
            if let Activation::LeakyRelu { slope } = l.channel().activation() {
                assert!(slope <= 0.1 || slope >= 0.9, "chain {i}: slope {slope}");
            }
        }
        if let PriorParams::Binary { p } = d.chain.prior().params() {
            assert!(p <= 0.1 || p >= 0.9, "chain {i}: p {p}");
        }
    }
}

/// A deep linear chain costs `O(L)` channel evaluations: at most 11 starts, each sweeping down
/// and back up (`SYMMETRIC_MIN_LAYERS` layers or more), so that a start needs about 100 sweeps
/// at any depth. Measured 195 L evaluations at 125 layers and 207 L at 1000 (0.1 s), against
/// 10 L^2 with the one-way sweep (8.5 s at 1000 layers, 9e5 evaluations at 300, which 400 L =
/// 1.2e5 fails); 400 L leaves a margin of 2.
#[test]
fn a_deep_linear_chain_costs_linear_work() {
    let n = 300;
    let layers = (0..n)
        .map(|_| gauss(1.0, 1.0, Activation::Linear, 0.01))
        .collect();
    let chain = Chain::new(Prior::gaussian(0.0, 1.0).unwrap(), layers).unwrap();
    let est = replica_core::replica::solve(&chain, &SolverOptions::default()).unwrap();
    assert!(est.counters.starts_tried <= 11, "{:?}", est.counters);
    assert!(est.counters.evals <= 400 * n as u64, "{:?}", est.counters);
}

/// A binary input recovered through a noiseless hardtanh layer, then a near-linear leaky ReLU
/// (slope 0.999, weight variance 1e3) with an output noise 1e-12, far below the pre-activation's
/// second moment (about 250): ML-VAMP's `a1z = 1/g - V~` at the output cancelled (930 sweeps,
/// 1.7e7 evaluations) until the channel's `1 - g v` was summed without forming `g v` (32 sweeps,
/// 2.1e6 evaluations). `I(X; T_L) = H(X) = ln 2` (X is recovered: the closed form of a
/// recovered point); 5e6 evaluations fail the cancelling form.
#[test]
fn leaky_relu_output_far_below_its_scale() {
    let chain = Chain::new(
        Prior::binary(0.5).unwrap(),
        vec![
            orth(1.5, ht(0.5), 0.0),
            gauss(1.0, 1e3, lrelu(0.999), 1e-12),
        ],
    )
    .unwrap();
    let (outcome, counters) = judge("leaky relu output at 1e-12", &chain);
    assert!(
        matches!(outcome, Outcome::Converged),
        "{}",
        outcome.detail()
    );
    let counters = counters.unwrap();
    assert!(counters.evals <= 5_000_000, "{counters:?}");
    let est = replica_core::replica::solve(&chain, &SolverOptions::default()).unwrap();
    let i = est.mutual_information.unwrap();
    assert!((i - std::f64::consts::LN_2).abs() < 1e-9, "{i}");
}

/// Positive homogeneity: a chain whose weights are 100 times larger in every layer, with its
/// noises scaled to match (`noise_l x 1e4^l`), is the same chain with `T_l` multiplied by
/// `c_l = 100^l`; its pre-activations reach `1e16`, so it is solved through the rescaled chain
/// (`solve/rescale.rs`), the unit-scale chain as given. Then `I` and the MMSE are equal,
/// `H(T_L)` is larger by `alpha~_L f ln c_L` (`f = 1/2` for a ReLU output, whose atom at 0 does
/// not move, 1 for a leaky ReLU), and the order parameters are those of the unit-scale chain
/// times `c_l^2` (variances on `T_l`). The two solves reach one stationary point from different
/// parametrisations, each converged to 1e-9 relative on the order parameters: their values
/// agree to about 1e-8, and 1e-7 (1 + |H|) leaves a margin of 10; a wrong fraction `f` would be
/// off by 12 nats.
#[test]
fn compounded_weight_scales_give_the_unit_scale_chain_shifted() {
    let scaled_orth = |k2: f64, act, noise| {
        let d = DiscreteSpectrum::from_eigenvalues(&[1.0], k2).unwrap();
        Layer::new(1.0, act, noise, Ensemble::Discrete(d)).unwrap()
    };
    for (out, f) in [(Activation::Relu, 0.5), (lrelu(0.7), 1.0)] {
        let build = |k2: f64| {
            // layer l (1-based) has its weights times sqrt(k2) and its noise times k2^l
            let layers = vec![
                gauss(1.0, k2, lrelu(0.9), 1e-2 * k2),
                gauss(1.2, k2, Activation::Relu, 1e-2 * k2.powi(2)),
                scaled_orth(k2, lrelu(0.5), 0.0),
                gauss(0.9, k2, Activation::Linear, 1e-2 * k2.powi(4)),
                gauss(1.0, k2, out, 1e-2 * k2.powi(5)),
            ];
            Chain::new(Prior::gaussian(0.0, 1.0).unwrap(), layers).unwrap()
        };
        let (unit, big) = (build(1.0), build(1e4));
        let opts = SolverOptions::default();
        let a = replica_core::replica::solve(&unit, &opts).unwrap();
        let b = replica_core::replica::solve(&big, &opts).unwrap();
        let alpha_tilde = 1.0 * 1.2 * 1.0 * 0.9 * 1.0;
        let shift = alpha_tilde * f * (1e10f64).ln();
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-7 * (1.0 + y.abs());
        println!("{out}: H {} {} shift {shift}", a.entropy, b.entropy);
        assert!(
            close(b.entropy, a.entropy + shift),
            "{out}: {} {}",
            b.entropy,
            a.entropy
        );
        assert!(close(b.mi_last_layer, a.mi_last_layer), "{out}");
        assert!(close(b.mmse, a.mmse), "{out}");
        for l in 0..5 {
            let c2 = 1e4f64.powi(l as i32);
            let (va, vb) = (a.order_params.v[l], b.order_params.v[l]);
            assert!((vb / c2 - va).abs() <= 1e-6 * va, "{out}: V[{l}] {va} {vb}");
        }
    }
}
