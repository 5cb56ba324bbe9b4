//! The interface channel of a noiseless layer at vanishing variance `v` and huge precision `A`
//! (the regime of nearly recovered hidden layers, `A ~ 1e13`): `I_h` itself is `~ A rho_h / 2`
//! there, so the potential needs `I_h - A rho_h / 2` to a few digits after a cancellation of
//! sixteen. Its limit is known in closed form: as `v / rho -> 0` at fixed `A v`, an atom of the
//! activation is observed exactly and contributes nothing, a linear piece of slope `g` and
//! probability `P` contributes `-(P/2) ln(1 + A v g^2)` (a Gaussian channel of signal-to-noise
//! `A v g^2`), and only the `omega` within a few `sqrt(v)` of a kink (probability
//! `~ sqrt(v / rho)`) deviates.

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
        for rel_v in [1e-8, 1e-11, 1e-14, 1e-16] {
            for snr in [0.5, 54.0, 1e4] {
                let v = rel_v * rho;
                let a = snr / v;
                let mut evals = 0;
                let t = ch.interface(a, v, rho, RuleSize::default(), &mut evals);
                let limit: f64 = pieces
                    .iter()
                    .map(|&(p, g)| -0.5 * p * (a * v * g * g).ln_1p())
                    .sum();
                // the kink neighbourhoods: probability ~ sqrt(v/rho) (times the density at the
                // kink, < 0.4), each contributing at most ~ ln(1 + A v) + 1 nats; a factor 10
                // for the constant
                let tol = 10.0 * rel_v.sqrt() * (snr.ln_1p() + 1.0);
                let err = t.i_h_centred - limit;
                println!(
                    "{name:26} v/rho {rel_v:.0e} A v {snr:8}: I_h - A rho_h/2 = {:+.12e}, limit \
                     {limit:+.12e}, diff {err:+.2e} (tol {tol:.1e})",
                    t.i_h_centred
                );
                if err.is_nan() || err.abs() > tol {
                    failures.push(format!("{name} v/rho {rel_v:e} A v {snr}: diff {err:e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
