//! Equivalent networks give the same answer (`../shared/spec/replica.md`, "Exact
//! bounds"), on random chains of the seeded generator, not on hand-picked ones:
//!
//! (a) a weight scale moved between layers. For a positively homogeneous activation (linear,
//!     ReLU, leaky ReLU), `phi(sqrt(c) u) = sqrt(c) phi(u)`, so with layer `l`'s weights scaled by
//!     `sqrt(c)` (weight variance, or spectrum scale, times `c`) and its noise variance times `c`,
//!     `T_l' = phi(sqrt(c) (W_l T_{l-1} + xi_l)) = sqrt(c) T_l`; dividing layer `l+1`'s weight
//!     variance (or spectrum scale) by `c` gives `W_{l+1}' T_l' = W_{l+1} T_l`, so every later
//!     layer, `T_L` included, is unchanged: H(T_L), I(X;T_L), I(T_{L-1};T_L) (l+1 <= L-1, so
//!     `T_{L-1}` is unchanged too) and the MMSE of X are equal. (Scaling the last layer instead
//!     would move H(T_L) by a known amount; we never scale it.)
//! (b) an activation written two ways: leaky ReLU with slope 0 is ReLU, with slope 1 linear.
//! (c) an orthogonal layer against a spectrum file of ones (alpha >= 1) or of a fraction alpha of
//!     ones and the rest zeros (alpha < 1; alpha rounded to k/1000 in both forms so that the
//!     1000-value file holds exactly that fraction).
//!
//! Tolerance [`INV_TOL`]: two solves of the same network each stop when no order parameter moves
//! by more than 1e-9 (relative) in a sweep; H and I are values of the potential at a stationary
//! point, so that error enters at second order, and the channel quadratures (the same rule in
//! standardised variables in both forms) are accurate to about 1e-8. The MMSE is an order
//! parameter (first order in the 1e-9 criterion, amplified by slow contraction near alpha = 1),
//! so 1e-6 relative is the bound for every compared number. A different stationary point
//! differs by far more (1e-3..1.45 nats in the failures seen).
//!
//! A pair where exactly one form converges is a failure (the answer depends on how the network is
//! written); a pair where neither converges is reported but left to `tests/random_chains.rs`.

use crate::common::audit::run_chain;
use crate::common::audit::Outcome;
use crate::common::ref_spectra;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use replica_core::random_chain::{
    ChainDescription, ChainGenerator, GeneratorParams, WeightsDescription,
};
use replica_core::replica::{
    Activation, Chain, DiscreteSpectrum, Ensemble, Estimate, Layer, SolverOptions,
};

/// See the module comment.
const INV_TOL: f64 = 1e-6;

/// Cases per invariance (each is two solves).
fn cases() -> usize {
    std::env::var("INVARIANCE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

fn seed() -> u64 {
    std::env::var("INVARIANCE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261130)
}

fn generator() -> ChainGenerator {
    GeneratorParams {
        seed: seed(),
        ..GeneratorParams::default()
    }
    .check(ref_spectra())
    .unwrap()
}

/// One equivalent pair: the chain index, what was rewritten, both chains, and how to print them.
struct Pair {
    index: u64,
    what: String,
    a: Chain,
    b: Chain,
    spec_a: String,
    spec_b: String,
}

/// `None` when the two estimates agree to `INV_TOL`, else the differences.
fn differences(a: &Estimate, b: &Estimate) -> Option<String> {
    let close = |x: f64, y: f64| (x - y).abs() <= INV_TOL * (1.0 + x.abs().max(y.abs()));
    let mut d = Vec::new();
    if !close(a.entropy, b.entropy) {
        d.push(format!(
            "H {:.9} vs {:.9} ({:+.2e})",
            a.entropy,
            b.entropy,
            b.entropy - a.entropy
        ));
    }
    match (a.mutual_information, b.mutual_information) {
        (Some(x), Some(y)) if !close(x, y) => {
            d.push(format!("I {x:.9} vs {y:.9} ({:+.2e})", y - x))
        }
        (Some(_), None) | (None, Some(_)) => d.push("I defined in one form only".into()),
        _ => {}
    }
    if !close(a.mi_last_layer, b.mi_last_layer) {
        d.push(format!(
            "I(T_L-1;T_L) {:.9} vs {:.9}",
            a.mi_last_layer, b.mi_last_layer
        ));
    }
    if !close(a.mmse, b.mmse) {
        d.push(format!("MMSE {:.9} vs {:.9}", a.mmse, b.mmse));
    }
    (!d.is_empty()).then(|| d.join(", "))
}

/// Solve every pair; fail (with both specs of each failing pair) on a difference, a pair that
/// converges in one form only, a panic, or a bound violation in either form.
fn check_pairs(name: &str, pairs: Vec<Pair>) {
    assert!(!pairs.is_empty(), "{name}: no pairs drawn");
    let opts = SolverOptions::default();
    let verdicts: Vec<(String, Option<String>)> = pairs
        .par_iter()
        .map(|p| {
            let (oa, ea, ta) = run_chain(&p.a, &opts);
            let (ob, eb, tb) = run_chain(&p.b, &opts);
            let status = |o: &Outcome| o.label();
            let head = format!(
                "chain {} [{}]: {} / {} ({ta:.2} s / {tb:.2} s)",
                p.index,
                p.what,
                status(&oa),
                status(&ob)
            );
            let problem = match (&oa, &ob, ea, eb) {
                (Outcome::Panic(m), _, _, _) | (_, Outcome::Panic(m), _, _) => {
                    Some(format!("panic: {m}"))
                }
                (Outcome::Unconverged { .. }, Outcome::Unconverged { .. }, _, _) => None,
                (_, _, Some(a), Some(b)) => {
                    let mut why = differences(&a, &b);
                    if matches!(oa, Outcome::Violation(_)) || matches!(ob, Outcome::Violation(_)) {
                        why = Some(format!(
                            "{}bound violation: {} / {}",
                            why.map(|w| w + "; ").unwrap_or_default(),
                            oa.detail(),
                            ob.detail()
                        ));
                    }
                    why
                }
                _ => Some(format!(
                    "converged in one form only: {} / {}",
                    oa.detail(),
                    ob.detail()
                )),
            };
            let text = match &problem {
                Some(why) => format!(
                    "{head}\n  {why}\n  -- form A:\n{}\n  -- form B:\n{}",
                    p.spec_a, p.spec_b
                ),
                None => head,
            };
            (text, problem)
        })
        .collect();
    for (t, _) in &verdicts {
        if !t.contains('\n') {
            println!("{t}");
        }
    }
    let bad: Vec<&String> = verdicts
        .iter()
        .filter(|(_, p)| p.is_some())
        .map(|(t, _)| t)
        .collect();
    assert!(
        bad.is_empty(),
        "{name}: {} of {} equivalent pairs disagree (tolerance {INV_TOL:e} relative):\n{}",
        bad.len(),
        verdicts.len(),
        bad.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Walk the generator's chains from 0 and keep the first `cases()` that `rewrite` accepts.
fn collect_pairs(
    g: &ChainGenerator,
    rewrite: impl Fn(u64, &ChainDescription) -> Option<(String, Chain, Chain, String, String)>,
) -> Vec<Pair> {
    let mut out = Vec::new();
    for i in 0..100_000u64 {
        if out.len() >= cases() {
            break;
        }
        let d = g.describe(i);
        if let Some((what, a, b, spec_a, spec_b)) = rewrite(i, &d) {
            out.push(Pair {
                index: i,
                what,
                a,
                b,
                spec_a,
                spec_b,
            });
        }
    }
    out
}

fn homogeneous(a: &Activation) -> bool {
    matches!(
        a,
        Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. }
    )
}

/// The weights scaled by `c` in the variance (`None` for orthogonal weights, which have no scale).
fn scaled(w: &WeightsDescription, c: f64) -> Option<WeightsDescription> {
    match *w {
        WeightsDescription::Gaussian { var } => Some(WeightsDescription::Gaussian { var: var * c }),
        WeightsDescription::Spectrum { index, scale } => Some(WeightsDescription::Spectrum {
            index,
            scale: scale * c,
        }),
        WeightsDescription::Orthogonal => None,
    }
}

#[test]
fn weight_scale_moved_into_the_next_layer() {
    let g = generator();
    let pairs = collect_pairs(&g, |i, d| {
        let n = d.layers.len();
        let l = (0..n.saturating_sub(1)).find(|&l| {
            homogeneous(&d.layers[l].activation)
                && scaled(&d.layers[l].weights, 1.0).is_some()
                && scaled(&d.layers[l + 1].weights, 1.0).is_some()
        })?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed() ^ 0x5ca1e);
        rng.set_stream(i);
        let c = (rng.random::<f64>() * (10f64.ln() - 0.1f64.ln()) + 0.1f64.ln()).exp();
        let mut b = d.clone();
        b.layers[l].weights = scaled(&d.layers[l].weights, c)?;
        b.layers[l].noise_var = d.layers[l].noise_var * c;
        b.layers[l + 1].weights = scaled(&d.layers[l + 1].weights, 1.0 / c)?;
        let what = format!("scale c = {c:.4} moved from layer {l} into layer {}", l + 1);
        Some((
            what,
            g.build(d).ok()?,
            g.build(&b).ok()?,
            g.to_toml(i, d),
            g.to_toml(i, &b),
        ))
    });
    check_pairs("weight scale moved between layers", pairs);
}

#[test]
fn leaky_relu_slope_0_is_relu_and_slope_1_is_linear() {
    let g = generator();
    let pairs = collect_pairs(&g, |i, d| {
        let mut b = d.clone();
        let mut rewritten = Vec::new();
        for (l, layer) in b.layers.iter_mut().enumerate() {
            match layer.activation {
                Activation::Relu => {
                    layer.activation = Activation::LeakyRelu { slope: 0.0 };
                    rewritten.push(format!("layer {l} relu -> leaky-relu(0)"));
                }
                Activation::Linear => {
                    layer.activation = Activation::LeakyRelu { slope: 1.0 };
                    rewritten.push(format!("layer {l} linear -> leaky-relu(1)"));
                }
                _ => {}
            }
        }
        if rewritten.is_empty() {
            return None;
        }
        Some((
            rewritten.join(", "),
            g.build(d).ok()?,
            g.build(&b).ok()?,
            g.to_toml(i, d),
            g.to_toml(i, &b),
        ))
    });
    check_pairs("leaky-relu written as relu/linear", pairs);
}

/// Size of the spectrum file that stands for an orthogonal layer.
const ORTH_FILE_SIZE: usize = 1000;

#[test]
fn orthogonal_layer_equals_its_spectrum_of_ones() {
    let g = generator();
    let pairs = collect_pairs(&g, |i, d| {
        let l = d
            .layers
            .iter()
            .position(|x| matches!(x.weights, WeightsDescription::Orthogonal))?;
        // alpha = k / 1000 in both forms, so that the file holds exactly a fraction alpha of ones
        let mut a = d.clone();
        let k = (a.layers[l].alpha * ORTH_FILE_SIZE as f64).round().max(1.0) as usize;
        a.layers[l].alpha = k as f64 / ORTH_FILE_SIZE as f64;
        let ones = k.min(ORTH_FILE_SIZE);
        let mut eigs = vec![1.0; ones];
        eigs.resize(ORTH_FILE_SIZE, 0.0);
        let chain_a = g.build(&a).ok()?;
        let mut layers: Vec<Layer> = chain_a.layers().to_vec();
        let (alpha, activation, noise) = (
            layers[l].alpha(),
            layers[l].channel().activation(),
            layers[l].channel().noise_var(),
        );
        layers[l] = Layer::new(
            alpha,
            activation,
            noise,
            Ensemble::Discrete(DiscreteSpectrum::from_eigenvalues(&eigs, 1.0).ok()?),
        )
        .ok()?;
        let chain_b = Chain::new(*chain_a.prior(), layers).ok()?;
        let spec_a = g.to_toml(i, &a);
        let spec_b = format!(
            "# as form A with layers[{l}].weights = {{ kind = \"spectrum\", file = <{ones} ones and {} zeros> }}",
            ORTH_FILE_SIZE - ones
        );
        Some((
            format!(
                "layer {l} orthogonal (alpha {}) vs {ones} ones of {ORTH_FILE_SIZE}",
                a.layers[l].alpha
            ),
            chain_a,
            chain_b,
            spec_a,
            spec_b,
        ))
    });
    check_pairs("orthogonal vs spectrum of ones", pairs);
}
