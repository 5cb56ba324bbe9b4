//! Recovered points: a discrete prior whose MMSE vanishes at the selected stationary
//! point, every inner layer noiseless. There `I(X;T_L) = H(X)` (the two binary-prior bounds of
//! `replica.md` meet) and `H(T_L) = H(X) + H(T_L|T_{L-1})`, which the library reads out in closed
//! form (`bounds::recovered_entropy`) instead of through the potential.
//!
//! The chains are the ones of the random-network grid (seed 7, chains 0..1000) that the solver
//! had to reject before the closed form: the potential put `I` above `H(X)` by up to 2e-4. Each
//! must now be solved inside the exact bounds (the independent audit of `common/audit.rs`), and
//! the closed form must agree with the potential at the same stationary point up to the
//! quadrature error (see `QUADRATURE_TOL`).

use crate::common::audit::{check_bounds, Values};
use crate::common::ref_spectra;
use replica_core::hooks::phi;
use replica_core::hooks::prior_entropy;
use replica_core::random_chain::GeneratorParams;
use replica_core::replica::{solve, SolverOptions};

/// Chains of seed 7 whose recovered point the potential had put outside the bounds.
const RECOVERED_CHAINS: [u64; 10] = [55, 117, 162, 196, 212, 383, 481, 608, 711, 724];

/// Quadrature error of the potential at precisions `A~` of 1e3..1e6: the gap moved by up to
/// 1.8e-6 between the default rule and rules refined 2, 4 and 8 times (chains 383 and 608).
const QUADRATURE_TOL: f64 = 3e-6;

#[test]
fn recovered_points_read_out_in_closed_form_inside_the_bounds() {
    let g = GeneratorParams {
        seed: 7,
        ..GeneratorParams::default()
    }
    .check(ref_spectra())
    .expect("the reference spectra fit the default generator");
    let opts = SolverOptions::default();
    let mut failures = Vec::new();
    for i in RECOVERED_CHAINS {
        let chain = g.draw(i).expect("a valid chain").chain;
        let est = match solve(&chain, &opts) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("chain {i}: {e}"));
                continue;
            }
        };
        let h_x = prior_entropy(chain.prior()).expect("a binary prior");
        let violations = check_bounds(&chain, &Values::from(&est));
        if !violations.is_empty() {
            failures.push(format!("chain {i}: bounds {violations:?}"));
        }
        if est.mmse > 7e-12 || est.mutual_information != Some(h_x) {
            failures.push(format!(
                "chain {i}: not read out as recovered: MMSE {:e}, I {:?}, H(X) {h_x}",
                est.mmse, est.mutual_information
            ));
        }
        let mut evals = 0;
        let raw = phi(&chain, &est.order_params, opts.rule(), &mut evals).expect("potential");
        let gap = raw - est.entropy;
        let ok = gap.abs() <= QUADRATURE_TOL;
        println!(
            "chain {i}: H {:.10} (closed form), potential - H {gap:+.2e} {}",
            est.entropy,
            if ok { "ok" } else { "FAIL" }
        );
        if !ok {
            failures.push(format!(
                "chain {i}: potential {raw} vs closed form {} (gap {gap:e})",
                est.entropy
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
