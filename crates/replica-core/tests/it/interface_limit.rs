//! The interface channel of a noiseless layer at vanishing variance `v` and huge precision `A`
//! (the regime of nearly recovered hidden layers, `A ~ 1e13`): `I_h` itself is `~ A rho_h / 2`
//! there, so the potential needs `I_h - A rho_h / 2` to a few digits after a cancellation of
//! sixteen. Its limit is known in closed form: as `v / rho -> 0` at fixed `A v`, an atom of the
//! activation is observed exactly and contributes nothing, a linear piece of slope `g` and
//! probability `P` contributes `-(P/2) ln(1 + A v g^2)` (a Gaussian channel of signal-to-noise
//! `A v g^2`), and only the `omega` within a few `sqrt(v)` of a kink (probability
//! `~ sqrt(v / rho)`) deviates. Below `NOISELESS_V_SWITCH rho` the channel is not integrated but
//! carried down by that law; these tests hold it to the limits. The sign activation, all kink, is
//! held to its kink integrals, computed here by a plain trapezoid rule.

use replica_core::hooks::NOISELESS_V_SWITCH;
use replica_core::replica::{Activation, Channel, RuleSize};

/// An activation and its linear pieces, each as (probability under `N(0, rho)`, slope).
type Case = (&'static str, Activation, Vec<(f64, f64)>);

/// `P(|z| < q sqrt(rho))` is exactly 1/2 at the quartile `q` of the standard normal.
const QUARTILE: f64 = 0.674_489_750_196_081_7;

#[test]
fn noiseless_interface_reaches_its_small_variance_limit() {
    let rho: f64 = 2.5;
    let cases: Vec<Case> = vec![
        // (name, activation, [(P, g)] of its linear pieces)
        ("relu", Activation::Relu, vec![(0.5, 1.0)]),
        (
            "leaky-relu 0.3",
            Activation::LeakyRelu { slope: 0.3 },
            vec![(0.5, 0.3), (0.5, 1.0)],
        ),
        (
            "hardtanh at the quartile",
            Activation::Hardtanh {
                threshold: QUARTILE * rho.sqrt(),
            },
            vec![(0.5, 1.0)],
        ),
        ("sign", Activation::Sign, vec![]),
    ];
    let mut failures = Vec::new();
    for (name, act, pieces) in &cases {
        let ch = Channel::new(*act, 0.0).unwrap();
        for rel_v in [1e-8, 1e-11, 1e-12, 1e-14, 1e-16, 1e-20, 1e-30] {
            // the sign layer keeps a variance floor at 1e-16 rho
            if pieces.is_empty() && rel_v < 1e-16 {
                continue;
            }
            for snr in [0.5, 54.0, 1e4] {
                let v = rel_v * rho;
                let a = snr / v;
                let mut evals = 0;
                let t = ch.interface(a, v, rho, RuleSize::default(), &mut evals);
                let limit = |f: &dyn Fn(f64, f64) -> f64| -> f64 {
                    pieces
                        .iter()
                        .map(|&(p, g)| p * f(g * g, a * v * g * g))
                        .sum()
                };
                let l_i = limit(&|_, avg2| -0.5 * avg2.ln_1p());
                let l_a = limit(&|g2, avg2| a * g2 / (1.0 + avg2));
                let l_v = limit(&|g2, avg2| g2 * v / (1.0 + avg2));
                // the kink neighbourhoods: probability ~ sqrt(v/rho) (times the density at the
                // kink, < 0.4), each contributing at most ~ ln(1 + A v) + 1 nats (to iter_a and
                // iter_v, at most ~ 1 times their limits); a factor 10 for the constant
                let tol = 10.0 * rel_v.sqrt() * (snr.ln_1p() + 1.0);
                let err_i = t.i_h_centred - l_i;
                // sign has no linear piece: iter_a and iter_v are all kink (tested below)
                let rel = |x: f64, l: f64| if pieces.is_empty() { 0.0 } else { x / l - 1.0 };
                let (err_a, err_v) = (rel(t.iter_a, l_a), rel(t.iter_v, l_v));
                println!(
                    "{name:26} v/rho {rel_v:.0e} A v {snr:8}: I_h - A rho_h/2 = {:+.12e}, limit \
                     {l_i:+.12e}, diff {err_i:+.2e}; iter_a, iter_v relative {err_a:+.2e} \
                     {err_v:+.2e} (tol {tol:.1e})",
                    t.i_h_centred
                );
                for (what, err) in [("I_h", err_i), ("iter_a", err_a), ("iter_v", err_v)] {
                    if err.is_nan() || err.abs() > tol {
                        failures.push(format!("{name} v/rho {rel_v:e} A v {snr}: {what} {err:e}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `int h_b(Phi(s)) ds` (binary entropy of `Phi(s)`) and `int phi(s)^2 / (Phi(s) Phi(-s)) ds`,
/// by the trapezoid rule at step 1e-3 on `[0, 7]`, doubled (both integrands are even). `Phi` is
/// summed from its Taylor series `1/2 + phi(s) sum s^(2n+1) / (2n+1)!!` (positive terms; an
/// estimate independent of the library's `erfc`), so `Phi(-s) = 1 - Phi(s)` keeps an absolute
/// error of 1e-16: a relative 1e-4 at `s = 7`, where the integrands are ~1e-11. The tails past 7
/// are below 1e-11 and the rule's error below 1e-9.
fn sign_kink_integrals() -> (f64, f64) {
    let (h, n) = (1e-3, 7_000);
    let (mut ent, mut fisher) = (0.0, 0.0);
    for i in 0..=n {
        let s = h * i as f64;
        let w = if i == 0 || i == n { h } else { 2.0 * h };
        let d = (-0.5 * s * s).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let (mut term, mut sum, mut k) = (s, 0.0, 0.0);
        while term > 1e-18 * sum || sum == 0.0 {
            sum += term;
            k += 1.0;
            term *= s * s / (2.0 * k + 1.0);
            if s == 0.0 {
                break;
            }
        }
        let p = 0.5 + d * sum;
        let q = 0.5 - d * sum;
        ent += w * -(p * p.ln() + q * q.ln());
        fisher += w * d * d / (p * q);
    }
    (ent, fisher)
}

/// A sign layer read at a precision `A` large enough to tell its atoms apart (`A (1 - (-1))^2`
/// of 1e4 or more) is, near `v -> 0`, all kink: `omega` within `sqrt(v)` of 0 leaves the sign
/// uncertain, so `I_h - A rho_h / 2 = -sqrt(v / (2 pi m)) int h_b(Phi(s)) ds` and
/// `iter_a = int phi(s)^2 / (Phi(s) Phi(-s)) ds / sqrt(2 pi m v)` (the Fisher information of
/// `omega` in the sign), both to relative `O(sqrt(v / m))`: the rules must follow them.
#[test]
fn noiseless_sign_layer_follows_its_kink_law() {
    let (ent, fisher) = sign_kink_integrals();
    println!("int h_b(Phi) = {ent:.12}, int phi^2/(Phi Phi(-)) = {fisher:.12}");
    let ch = Channel::new(Activation::Sign, 0.0).unwrap();
    let rho: f64 = 2.5;
    let mut failures = Vec::new();
    // down to the floor the sign layer keeps at 1e-16 rho
    for rel_v in [1e-8, 1e-11, 1e-14, 1e-16] {
        for a in [1e4, 1e8, 1e14] {
            let v = rel_v * rho;
            let m = rho - v;
            let mut evals = 0;
            let t = ch.interface(a, v, rho, RuleSize::default(), &mut evals);
            let want_i = -(v / (2.0 * std::f64::consts::PI * m)).sqrt() * ent;
            let want_a = fisher / (2.0 * std::f64::consts::PI * m * v).sqrt();
            let (err_i, err_a) = (t.i_h_centred / want_i - 1.0, t.iter_a / want_a - 1.0);
            // relative O(sqrt(v/m)) from the density's curvature across the kink, 1e-5 for
            // the rules' error on the kink (and 1e-9 for the reference integrals)
            let tol = 1e-5 + 10.0 * rel_v.sqrt();
            println!(
                "sign v/rho {rel_v:.0e} A {a:.0e}: I_h - A rho_h/2 {:+.6e} (law {want_i:+.6e}, \
                 {err_i:+.1e}), iter_a {:.6e} (law {want_a:.6e}, {err_a:+.1e}), tol {tol:.1e}",
                t.i_h_centred, t.iter_a
            );
            for (what, err) in [("I_h", err_i), ("iter_a", err_a)] {
                if err.is_nan() || err.abs() > tol {
                    failures.push(format!("sign v/rho {rel_v:e} A {a:e}: {what} {err:e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The terms just below and just above the switch agree: carried down from the switch, or
/// integrated near it (the `sqrt(v)` law holds there to 1e-5 of the kink share, itself below
/// 1e-6 of the terms).
#[test]
fn interface_is_continuous_at_the_switch() {
    let rho: f64 = 2.5;
    let mut failures = Vec::new();
    for act in [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.3 },
        Activation::Hardtanh { threshold: 1.1 },
        Activation::Sign,
    ] {
        let ch = Channel::new(act, 0.0).unwrap();
        for snr in [0.5, 54.0, 1e4] {
            // one A; v moves by steps of 2e-6 relative, the first across the switch: the jump is
            // the first difference less the second (their smooth parts agree to ~1e-12)
            let a = snr / (NOISELESS_V_SWITCH * rho);
            let at = |rel: f64| -> [f64; 3] {
                let v = rel * NOISELESS_V_SWITCH * rho;
                let mut evals = 0;
                let t = ch.interface(a, v, rho, RuleSize::default(), &mut evals);
                [t.i_h_centred, t.iter_a, t.iter_v]
            };
            let (p0, p1, p2) = (at(1.0 - 1e-6), at(1.0 + 1e-6), at(1.0 + 3e-6));
            let jump = |k: usize| ((p1[k] - p0[k]) - (p2[k] - p1[k])).abs();
            // I_h centred is O(1): absolute; iter_a ~ A and iter_v ~ v: relative (a sign layer
            // read at large A has iter_v = 0 on both sides)
            let d_i = jump(0);
            let d_a = jump(1) / p1[1].abs().max(f64::MIN_POSITIVE);
            let d_v = jump(2) / p1[2].abs().max(f64::MIN_POSITIVE);
            println!("{act} A v {snr}: jumps {d_i:.1e} (I_h), {d_a:.1e}, {d_v:.1e} (relative)");
            // measured: at most 2e-12 (I_h) and 8e-12 (relative); a jump near the solver's
            // residual tolerance (1e-9) could stall a polish at the switch, so 1e-10 and 1e-9
            if !(d_i <= 1e-10 && d_a <= 1e-9 && d_v <= 1e-9) {
                failures.push(format!("{act} A v {snr}: {d_i:e} {d_a:e} {d_v:e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
