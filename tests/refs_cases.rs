//! Every row of `../shared/refs/cases.csv`: entropy, and MI and MMSE where given, within the
//! row's own tolerance (1e-8 for exact values, the reference's quadrature accuracy otherwise).
mod common;

use common::*;
use replica_mi::replica::{solve, SolverOptions};

#[test]
fn all_reference_cases() {
    let rows = read_rows("cases.csv");
    assert!(rows.len() > 50, "cases.csv looks truncated: {} rows", rows.len());
    let opts = SolverOptions::default();
    let only = std::env::var("CASE").ok();
    let mut failures = Vec::new();
    for row in &rows {
        let id = &row["case_id"];
        if only.as_ref().is_some_and(|o| o != id) {
            continue;
        }
        let chain = case_chain(row);
        let tol: f64 = row["tolerance"].parse().unwrap();
        let t0 = std::time::Instant::now();
        let est = match solve(&chain, &opts) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{id}: solver error {e}"));
                continue;
            }
        };
        let dt = t0.elapsed().as_secs_f64();
        let mut line = format!(
            "{id} {:<28} H={:.10} ({:+.1e}) ",
            row["group"],
            est.entropy,
            est.entropy - opt_f64(row, "entropy").unwrap()
        );
        let mut bad = (est.entropy - opt_f64(row, "entropy").unwrap()).abs() > tol;
        if let Some(mi) = opt_f64(row, "mutual_information") {
            let got = est.mutual_information.unwrap_or(f64::NAN);
            line += &format!("MI {:+.1e} ", got - mi);
            bad |= !((got - mi).abs() <= tol);
        }
        if let Some(mm) = opt_f64(row, "mmse_x") {
            // MMSE: same tolerance, relative to its size (it is an order parameter, accurate to
            // the solver's tolerance; the reference quotes it from the same fixed point)
            let d = est.mmse - mm;
            line += &format!("mmse {:+.1e} ", d);
            bad |= d.abs() > tol.max(1e-6) * (1.0 + mm.abs());
        }
        line += &format!("[{} it={} {:.3}s]", est.scheme, est.iterations, dt);
        println!("{line}{}", if bad { "  <-- FAIL" } else { "" });
        if bad {
            failures.push(line);
        }
    }
    assert!(failures.is_empty(), "{} cases fail:\n{}", failures.len(), failures.join("\n"));
}
