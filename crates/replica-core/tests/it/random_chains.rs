//! The estimator on random valid chains drawn over the whole spec space: every result
//! must lie inside the exact bounds of `../shared/spec/replica.md` (checked by
//! `tests/it/common/audit.rs`, independently of the library's own checks), nothing may panic or be
//! non-finite, and at most 0.5% of the chains may end unconverged (each with a typed error and a
//! reason). On failure the table of failing chains is printed with the spec of each, to rerun
//! with `replica-mi entropy SPEC.toml`.
//!
//! `RANDOM_CHAINS_N` (default 200) and `RANDOM_CHAINS_SEED` (default 20261130) override the
//! sample; `cargo run --bin chain-grid` runs the large grid.

use crate::common::audit::*;
use crate::common::ref_spectra;
use rayon::prelude::*;
use replica_core::random_chain::{extreme_spectra, ChainGenerator, GeneratorParams, NamedSpectrum};
use replica_core::replica::{Activation, Chain, Ensemble, Layer, Prior, SolverOptions};

/// At most this share of the chains may end unconverged (the target: >= 99.5% converged; was 1%
/// while 3 of the 300 extreme chains ended unconverged).
const MAX_UNCONVERGED_SHARE: f64 = 0.005;

/// See [`extreme_chains_of_nearly_recovered_layers_converge`].
const NEARLY_RECOVERED: [u64; 8] = [88, 181, 321, 401, 408, 575, 778, 808];

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn generator(seed: u64) -> ChainGenerator {
    GeneratorParams {
        seed,
        ..GeneratorParams::default()
    }
    .check(ref_spectra())
    .expect("the reference spectra fit the default generator")
}

#[test]
fn random_chains_are_solved_inside_the_exact_bounds() {
    let n: u64 = env_or("RANDOM_CHAINS_N", 200);
    let seed: u64 = env_or("RANDOM_CHAINS_SEED", 20261130);
    solve_grid(&generator(seed), n, "random");
}

/// The generator of extremes (`GeneratorParams::extreme`: 5-10 layers, alpha in [0.02, 50],
/// noises down to 1e-12, thresholds and weight scales over six decades, priors and slopes near
/// their edges, spectra generated in code), judged as the ordinary grid.
/// `EXTREME_CHAINS_N` (default 300) and `EXTREME_CHAINS_SEED` (default 20261207) override it.
/// The 300 chains took 492 s of solve time on 2 cores (`chain-grid`, same chains: p50 0.44 s,
/// max 67 s per chain, one unconverged: 265, whose noiseless limit has no stationary point the
/// solver finds; 3 unconverged, the 1% then allowed, before the interface channel was evaluated
/// without cancellation); the solver is deterministic, so that count is the same on every
/// machine. `make chain-grid GRID_KIND=extreme` runs larger samples.
#[test]
fn extreme_chains_are_solved_inside_the_exact_bounds() {
    let n: u64 = env_or("EXTREME_CHAINS_N", 300);
    let seed: u64 = env_or("EXTREME_CHAINS_SEED", 20261207);
    let dir = tempfile::tempdir().unwrap();
    solve_grid(&extreme_generator(seed, dir.path()), n, "extreme");
}

/// The generator of extremes, its spectra named as files in `dir` (never read: the generator
/// holds their eigenvalues).
fn extreme_generator(seed: u64, dir: &std::path::Path) -> ChainGenerator {
    let spectra = extreme_spectra()
        .into_iter()
        .map(|(name, eigenvalues)| NamedSpectrum {
            file: dir.join(format!("{name}.csv")),
            eigenvalues,
        })
        .collect();
    GeneratorParams::extreme(seed)
        .check(spectra)
        .expect("the generated spectra fit the extreme generator")
}

/// Extreme chains (seed 20261207) with nearly recovered hidden layers (`A~` up to 1e13) behind
/// almost noiseless outputs. Seven ended unconverged while the interface channel formed
/// `I_h ~ A rho_h / 2` and subtracted it from `A~ rho / 2` (terms of ~1e16) under a variance floor
/// of `1e-10 rho` (a bias `alpha~ A~ 1e-10 rho / 2`): their stationary points were rejected by the
/// bounds, `I(T_L-1;T_L)` down to -2e6 nats. Chain 88 converged then only because that floor hid
/// its layer of variance `1e-10`; at a lower floor its polish wandered at a residual of 4e-7 until
/// the posterior variance was summed per region instead of formed as `E h^2 - (E h)^2`. Each
/// must converge, inside every bound of the audit.
#[test]
fn extreme_chains_of_nearly_recovered_layers_converge() {
    let dir = tempfile::tempdir().unwrap();
    let g = extreme_generator(20261207, dir.path());
    let failures: Vec<String> = NEARLY_RECOVERED
        .par_iter()
        .filter_map(|&i| {
            let drawn = g.draw(i).expect("a valid chain");
            let (outcome, est, seconds) = run_chain(&drawn.chain, &SolverOptions::default());
            println!(
                "extreme chain {i}: {} in {seconds:.1} s, H = {:?} {}",
                outcome.label(),
                est.map(|e| e.entropy),
                outcome.detail()
            );
            (!matches!(outcome, Outcome::Converged)).then(|| {
                format!(
                    "chain {i}: {} {}\n{}",
                    outcome.label(),
                    outcome.detail(),
                    g.to_toml(i, &drawn.description)
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Extreme chains whose noiseless layers sit far below the interface's switch (`V~` below
/// 1e-16 `rho`, through weight scales compounded over several noiseless layers), each with its
/// value in the noiseless limit, read by the former code (the interface integrated at a variance
/// floor, `A v` changed to `A v_floor`) at floors of 1e-25 and 1e-28 `rho`: -2048.654506127 and
/// -2048.654506386, -12.120309146255 and -12.120309146267 (a floor of 1e-16 read -2056.99 and
/// -12.12100, one of 1e-22 -2048.6544939 and -12.1203091447). The tolerances are 4 times the
/// spread of the two readings, and at least 1e-8.
const BELOW_THE_SWITCH: [(u64, f64, f64); 2] = [
    (869, -2_048.654_506_1, 1e-6),
    (723, -12.120_309_146_3, 1e-8),
];

/// Noiseless layers below the switch are evaluated in their `v -> 0` limit, not at a floor that
/// changes `A v`: the values match the floor-independent readings of `BELOW_THE_SWITCH`.
#[test]
fn noiseless_layers_below_the_switch_read_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let g = extreme_generator(20261207, dir.path());
    let mut failures = Vec::new();
    for (i, want, tol) in BELOW_THE_SWITCH {
        let drawn = g.draw(i).expect("a valid chain");
        let (outcome, est, seconds) = run_chain(&drawn.chain, &SolverOptions::default());
        let got = est.map(|e| e.entropy);
        println!(
            "extreme chain {i}: {} in {seconds:.1} s, H = {got:?} (limit {want} +- {tol:e})",
            outcome.label()
        );
        match got {
            Some(h) if matches!(outcome, Outcome::Converged) && (h - want).abs() <= tol => {}
            _ => failures.push(format!("chain {i}: {} H = {got:?}", outcome.label())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Solve chains `0..n` of `g` in parallel and fail, with the specs of the failing chains, on any
/// bound violation, panic or unexpected error, or on too many unconverged chains.
fn solve_grid(g: &ChainGenerator, n: u64, what: &str) {
    let seed = g.params().seed;
    let opts = SolverOptions::default();
    let t0 = std::time::Instant::now();
    let results: Vec<(ChainResult, String)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let drawn = g
                .draw(i)
                .unwrap_or_else(|e| panic!("generator: chain {i} is invalid: {e}"));
            let (outcome, _, seconds) = run_chain(&drawn.chain, &opts);
            let toml = g.to_toml(i, &drawn.description);
            (
                ChainResult {
                    index: i,
                    outcome,
                    seconds,
                },
                toml,
            )
        })
        .collect();
    let wall = t0.elapsed().as_secs_f64();
    let plain: Vec<ChainResult> = results.iter().map(|(r, _)| r.clone()).collect();
    let table = summary_table(&plain);
    println!("{n} {what} chains, seed {seed}, {wall:.1} s wall\n{table}");

    let hard: Vec<&(ChainResult, String)> = results
        .iter()
        .filter(|(r, _)| {
            matches!(
                r.outcome,
                Outcome::Violation(_) | Outcome::BadError(_) | Outcome::Panic(_)
            )
        })
        .collect();
    let unconverged: Vec<&(ChainResult, String)> = results
        .iter()
        .filter(|(r, _)| matches!(r.outcome, Outcome::Unconverged { .. }))
        .collect();
    let too_many_unconverged = unconverged.len() as f64 > MAX_UNCONVERGED_SHARE * n as f64;
    if hard.is_empty() && !too_many_unconverged {
        return;
    }
    let mut report = String::new();
    let mut shown: Vec<&(ChainResult, String)> = hard.clone();
    if too_many_unconverged {
        shown.extend(unconverged.iter().copied());
    }
    for (r, toml) in shown {
        report += &format!(
            "--- chain {} [{}] {:.2} s: {}\n{toml}\n",
            r.index,
            r.outcome.label(),
            r.seconds,
            r.outcome.detail()
        );
    }
    panic!(
        "{} chains break a bound, are non-finite, panic or give an unexpected error; {} of {n} \
         are unconverged (at most {:.0}% allowed)\n{table}\nfailing chains (spec files to rerun \
         with `replica-mi entropy`):\n{report}",
        hard.len(),
        unconverged.len(),
        100.0 * MAX_UNCONVERGED_SHARE
    );
}

/// The audit itself: it must flag the wrong results seen before and pass the right ones.
#[test]
fn audit_flags_the_wrong_results_of_the_issue() {
    let orth_sign = Chain::new(
        Prior::binary(0.5).unwrap(),
        vec![Layer::orthogonal(1.0, Activation::Sign, 1e-4).unwrap()],
    )
    .unwrap();
    // today's answer: H > ln 2 with I = H(X) = ln 2 and MMSE = 0
    let wrong = Values {
        entropy: 0.700353,
        mutual_information: Some(std::f64::consts::LN_2),
        mi_last_layer: std::f64::consts::LN_2,
        mmse: 0.0,
    };
    let v = check_bounds(&orth_sign, &wrong);
    assert!(
        v.iter().any(|x| x.check == "0 <= H(T_L) <= (n_L/n_0) ln 2"),
        "{v:?}"
    );
    // the reference package's ML-VAMP answer is inside every bound
    let right = Values {
        entropy: 0.654429,
        mutual_information: Some(0.647223),
        mi_last_layer: 0.647223,
        mmse: 0.25188,
    };
    assert!(check_bounds(&orth_sign, &right).is_empty());

    // issue example 4: MMSE = 0 with a binary prior but I < H(X)
    let gauss_only = Chain::new(
        Prior::binary(0.8695650638221907).unwrap(),
        vec![
            Layer::new(
                2.397729124166886,
                Activation::Relu,
                0.0,
                Ensemble::Gaussian {
                    var: 6.243386354192235,
                },
            )
            .unwrap(),
            Layer::new(
                1.1429503501194094,
                Activation::Hardtanh {
                    threshold: 1.2967668989465766,
                },
                0.0017073231030671726,
                Ensemble::Gaussian {
                    var: 0.35748868756949376,
                },
            )
            .unwrap(),
        ],
    )
    .unwrap();
    let hx = prior_entropy(gauss_only.prior()).unwrap();
    assert!((hx - 0.387213).abs() < 1e-6, "H(X) = {hx}");
    let inconsistent = Values {
        entropy: 0.1,
        mutual_information: Some(0.357386),
        mi_last_layer: 0.357386,
        mmse: 0.0,
    };
    let v = check_bounds(&gauss_only, &inconsistent);
    assert!(v.iter().any(|x| x.check.starts_with("MMSE ~ 0")), "{v:?}");
    // I > H(X), and non-finite values
    let above = Values {
        mutual_information: Some(hx + 1e-3),
        mi_last_layer: hx + 1e-3,
        ..inconsistent
    };
    assert!(check_bounds(&gauss_only, &above)
        .iter()
        .any(|x| x.check == "I(X;T_L) <= H(X)"));
    let nan = Values {
        entropy: f64::NAN,
        ..inconsistent
    };
    assert_eq!(check_bounds(&gauss_only, &nan)[0].check, "non-finite");
    // MMSE above Var X
    let big = Values {
        mmse: 1.01 * prior_variance(gauss_only.prior()),
        ..right
    };
    assert!(check_bounds(&gauss_only, &big)
        .iter()
        .any(|x| x.check == "0 <= MMSE <= Var X"));
}

/// The audit's maximum-entropy and capacity bounds flag the wrong results of the extreme chains
/// (a narrow hardtanh output reporting more than `alpha~ ln(2 + 2t)`, a linear output after a
/// hardtanh reporting more than the Gaussian maximum entropy at power `t^2 / alpha`) and pass
/// the exact Gaussian linear values, which attain both bounds.
#[test]
fn audit_flags_results_above_the_maximum_entropy_or_the_capacity() {
    let ht = |t| Activation::Hardtanh { threshold: t };
    let narrow = Chain::new(
        Prior::gaussian(0.0, 1.0).unwrap(),
        vec![
            Layer::orthogonal(0.05, ht(1.0), 0.0).unwrap(),
            Layer::orthogonal(0.5, ht(0.345), 1e-10).unwrap(),
        ],
    )
    .unwrap();
    let max = 0.025 * 2.69f64.ln();
    let wrong = Values {
        entropy: 1.03e-3 + max,
        mutual_information: Some(1e-4),
        mi_last_layer: 1e-4,
        mmse: 0.5,
    };
    let v = check_bounds(&narrow, &wrong);
    assert!(
        v.iter()
            .any(|x| x.check.starts_with("H(T_L) <= maximum entropy")),
        "{v:?}"
    );
    let ok = Values {
        entropy: 0.99 * max,
        ..wrong
    };
    assert!(
        check_bounds(&narrow, &ok).is_empty(),
        "{:?}",
        check_bounds(&narrow, &ok)
    );

    let t: f64 = 1.198;
    let linear_after = Chain::new(
        Prior::gaussian(0.0, 1e6).unwrap(),
        vec![
            Layer::orthogonal(1.0, ht(t), 0.0).unwrap(),
            Layer::orthogonal(3.1, Activation::Linear, 7e-12).unwrap(),
        ],
    )
    .unwrap();
    let wrong = Values {
        entropy: 493.9,
        mutual_information: Some(1182.0),
        mi_last_layer: 1182.0,
        mmse: 1e5,
    };
    let v = check_bounds(&linear_after, &wrong);
    assert!(
        v.iter()
            .any(|x| x.check.starts_with("H(T_L) <= maximum entropy")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|x| x.check.starts_with("I(T_L-1;T_L) <= capacity")),
        "{v:?}"
    );

    let (s0, noise) = (2.0, 0.3);
    let gauss = Chain::new(
        Prior::gaussian(0.0, s0).unwrap(),
        vec![Layer::orthogonal(1.0, Activation::Linear, noise).unwrap()],
    )
    .unwrap();
    let two_pi_e = 2.0 * std::f64::consts::PI * std::f64::consts::E;
    let i = 0.5 * (1.0 + s0 / noise).ln();
    let exact = Values {
        entropy: 0.5 * (two_pi_e * (s0 + noise)).ln(),
        mutual_information: Some(i),
        mi_last_layer: i,
        mmse: s0 * noise / (s0 + noise),
    };
    assert!(check_bounds(&gauss, &exact).is_empty());
    let above = Values {
        entropy: exact.entropy + 1e-4,
        ..exact
    };
    assert!(!check_bounds(&gauss, &above).is_empty());
}

/// Topsøe's inequality `h(p) <= ln 2 (4 p (1 - p))^(1 / ln 4)` (nats), on which the MMSE bound of
/// the audit rests, checked on a fine grid, and it is tight at p = 1/2.
#[test]
fn topsoe_bound_on_the_binary_entropy() {
    for k in 1..100_000 {
        let p = k as f64 / 100_000.0;
        let h = -p * p.ln() - (1.0 - p) * (1.0 - p).ln();
        let cap = binary_conditional_entropy_cap(4.0 * p * (1.0 - p));
        assert!(h <= cap + 1e-15, "p = {p}: h = {h} > {cap}");
    }
    assert!((binary_conditional_entropy_cap(1.0) - std::f64::consts::LN_2).abs() < 1e-15);
    assert!(binary_conditional_entropy_cap(0.0).abs() < 1e-300);
}

/// The summary's percentiles are the nearest-rank ones.
#[test]
fn summary_percentiles() {
    let t: Vec<f64> = (1..=100).map(f64::from).collect();
    assert!((percentile(&t, 0.5) - 50.0).abs() < 1e-12);
    assert!((percentile(&t, 0.99) - 99.0).abs() < 1e-12);
    assert!((percentile(&t, 1.0) - 100.0).abs() < 1e-12);
    assert!(percentile(&[], 0.5).is_nan());
}

/// Chain 1722 of seed 1 (Gauss-Bernoulli prior; leaky ReLU, orthogonal, noiseless; leaky ReLU,
/// Gaussian weights): no start of either scheme leaves a valid stationary point, and the
/// continuation in the noise (`solve/continuation.rs`) finds one, inside every exact bound of the
/// independent audit. The only chain of the 10 000-chain grid known to need it.
#[test]
fn the_continuation_rescues_chain_1722_of_seed_1() {
    let g = generator(1);
    let chain = g.draw(1722).expect("a valid chain").chain;
    let opts = SolverOptions::default();
    assert!(
        replica_core::replica::solve(&chain, &opts.with_continuation(false)).is_err(),
        "the ordinary search now solves chain 1722: pick another chain for this test"
    );
    let est = replica_core::replica::solve(&chain, &opts).expect("the continuation solves it");
    assert!(est.counters.continuation_steps > 0);
    let violations = check_bounds(&chain, &Values::from(&est));
    assert!(violations.is_empty(), "{violations:?}");
    println!(
        "chain 1722: H {:.9} ({}), {} continuation steps",
        est.entropy, est.scheme, est.counters.continuation_steps
    );
}
