//! Every function of `../shared/refs/scalar_functions.csv` at its fixed arguments.

use crate::common::*;
use replica_core::replica::Channel;
use replica_core::replica::RuleSize;
use replica_core::replica::{Activation, DiscreteSpectrum, Ensemble};
use std::collections::HashMap;

fn parse_name(name: &str) -> (String, HashMap<String, f64>) {
    let (kind, rest) = name.split_once('(').unwrap_or((name, ")"));
    let params = rest
        .trim_end_matches(')')
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap_or(f64::NAN))
        })
        .collect();
    (kind.to_string(), params)
}

fn channel(kind: &str, p: &HashMap<String, f64>) -> Channel {
    let act = match kind {
        "linear" => Activation::Linear,
        "relu" => Activation::Relu,
        "hardtanh" => Activation::Hardtanh {
            threshold: p["thres"],
        },
        "probit" => Activation::Sign,
        "leakyrelu" => Activation::LeakyRelu { slope: p["gamma"] },
        o => panic!("unknown {o}"),
    };
    Channel::new(act, p["noise"]).unwrap()
}

#[test]
fn all_scalar_functions() {
    let rows = read_rows("scalar_functions.csv");
    let mut size = match std::env::var("REFINE") {
        Ok(k) => RuleSize::default().refined(k.parse().unwrap()),
        Err(_) => RuleSize::default(),
    };
    if let Some(rule) = crate::common::rule_from_env() {
        size = rule;
    }
    let mut ev = 0u64;
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut last_theta: Option<f64> = None;
    for row in &rows {
        let comp = row["component"].as_str();
        let name = row["name"].as_str();
        let func = row["function"].as_str();
        let x = opt_f64(row, "A_or_gamma_or_a");
        let v = opt_f64(row, "V_or_v");
        let rho = opt_f64(row, "rho");
        let Some(want) = opt_f64(row, "value") else {
            continue;
        };
        // Tolerance: the reference's quadrature is accurate to ~1e-8 absolute (spec/replica.md);
        // closed forms agree to round-off.
        let mut tol = 1e-8 * (1.0 + want.abs());
        let got: f64 = match comp {
            "prior" => {
                let (kind, p) = parse_name(name);
                let params: String = name
                    .split_once('(')
                    .unwrap()
                    .1
                    .trim_end_matches(')')
                    .to_string();
                let kind = match kind.as_str() {
                    "normal" | "bimodal" | "spikeslab" => kind,
                    o => panic!("{o}"),
                };
                let _ = p;
                let prior = parse_prior(&kind, &params);
                if func.starts_with("eval_rho") {
                    prior.rho()
                } else {
                    let t = prior.eval(x.unwrap(), size);
                    if func.starts_with("iter_v") {
                        t.mmse
                    } else {
                        t.i0
                    }
                }
            }
            "output" => {
                let (kind, p) = parse_name(name);
                let ch = channel(&kind, &p);
                let t = ch.output(v.unwrap(), rho.unwrap(), size, &mut ev);
                if func.starts_with("iter_a") {
                    t.a_out
                } else {
                    t.i_out
                }
            }
            "interface" => {
                let (kind, p) = parse_name(name);
                let ch = channel(&kind, &p);
                if func.starts_with("eval_rho") {
                    ch.rho_out(rho.unwrap())
                } else {
                    let t = ch.interface(x.unwrap(), v.unwrap(), rho.unwrap(), size, &mut ev);
                    if func.starts_with("iter_a") {
                        t.iter_a
                    } else if func.starts_with("iter_v") {
                        t.iter_v
                    } else {
                        t.i_h()
                    }
                }
            }
            "ensemble" => {
                let (ens, alpha) = if let Some(n) = name.strip_prefix("empirical:") {
                    let meta = read_rows("spectra/spectra_meta.csv");
                    let alpha: f64 = meta.iter().find(|m| m["name"] == n).unwrap()["alpha"]
                        .parse()
                        .unwrap();
                    (
                        Ensemble::Discrete(
                            DiscreteSpectrum::from_eigenvalues(&read_spectrum(n), 1.0).unwrap(),
                        ),
                        alpha,
                    )
                } else {
                    let (_, p) = parse_name(name);
                    (Ensemble::Gaussian { var: 1.0 }, p["alpha"])
                };
                if func.starts_with("iter_llmse") {
                    ens.lmmse(alpha, x.unwrap(), v.unwrap())
                } else if func.contains("[found=False]") {
                    continue; // not references (README)
                } else if func.starts_with("iter_theta") {
                    let gamma = x.unwrap();
                    last_theta = Some(want);
                    // The reference's theta is accurate only to ~1e-5 (its root-finder tolerance).
                    // Where it is a genuine stationary point on the branch that starts at theta = 0,
                    // ours must match it; where it is on the second branch of a bounded spectrum, or
                    // is no stationary point at all, ours must be the first root (or none).
                    let d_ref = ens.theta_stationarity(alpha, gamma, want);
                    let ours = ens.theta_f(alpha, gamma).map(|t| t.theta);
                    let line = format!("{name} {func} gamma={gamma}: ours {ours:?}, reference {want} (dF/dtheta there {d_ref:+.2e})");
                    match ours {
                        Ok(t) if (t - want).abs() <= 2e-5 => {}
                        Ok(t) if d_ref.abs() < 1e-3 && t < want => {
                            println!(
                                "branch: {line} -- the reference took the second stationary point"
                            );
                        }
                        Err(_) if d_ref.abs() > 1e-3 => {
                            println!("no root: {line} -- the reference's value is not a stationary point");
                        }
                        _ => failures.push(line),
                    }
                    checked += 1;
                    continue;
                } else {
                    // F at the reference's theta: checks the functional itself (tolerance: round-off
                    // of a 1000-term sum of logs)
                    tol = 1e-10 * (1.0 + want.abs());
                    ens.f_at(
                        alpha,
                        x.unwrap(),
                        last_theta.take().expect("eval_f follows iter_theta"),
                    )
                }
            }
            o => panic!("unknown component {o}"),
        };
        checked += 1;
        let ok = (got - want).abs() <= tol;
        let line = format!("{comp} {name} {func} x={x:?} V={v:?} rho={rho:?}: got {got:.12e} want {want:.12e} diff {:+.2e}", got - want);
        if !ok {
            failures.push(line.clone());
        }
        if std::env::var("VERBOSE").is_ok() || !ok {
            println!("{line}{}", if ok { "" } else { "  <-- FAIL" });
        }
    }
    println!("{checked} values checked");
    assert!(checked > 200);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The output channel's `1 - A_out v` summed region by region (`OutputTerms::info_deficit`)
/// equals `1 - A_out v` formed from `A_out`, where the latter does not cancel (`v` and the
/// pre-activation second moment of one order: the two differ by round-off of the sums, 1e-12
/// leaves a margin of 1e3 over the 1e-15 seen; the channel clamps the sum at 0, since the
/// output's Fisher information in `omega` is at most the Gaussian's `1/v`), and exactly 0 for
/// leaky ReLU (no atom: the regions' terms telescope), where `1 - A_out v` is only round-off.
#[test]
fn output_information_deficit_matches_one_minus_a_out_v() {
    let acts = [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.3 },
        Activation::LeakyRelu { slope: 0.999 },
        Activation::Hardtanh { threshold: 0.5 },
        Activation::Hardtanh { threshold: 3.0 },
        Activation::Sign,
        Activation::Linear,
    ];
    let mut ev = 0;
    for act in acts {
        for noise in [1e-3, 0.1, 1.0] {
            for (vv, rho) in [(0.1, 1.0), (0.5, 1.0), (0.9, 1.0), (1.0, 4.0)] {
                let ch = Channel::new(act, noise).unwrap();
                let t = ch.output(vv, rho, RuleSize::default(), &mut ev);
                let direct = 1.0 - t.a_out * (noise + vv);
                println!(
                    "{act:?} noise {noise} V {vv} rho {rho}: deficit {:.3e}, 1 - A v {direct:.3e}",
                    t.info_deficit
                );
                assert!((t.info_deficit - direct).abs() < 1e-12, "{act:?}");
                if matches!(act, Activation::LeakyRelu { .. } | Activation::Linear) {
                    assert_eq!(t.info_deficit, 0.0, "{act:?}");
                }
            }
        }
    }
}
