//! The solver-work guard: every chain of the fixed panel (`replica_core::guard::panel`) is solved and
//! its deterministic work counters are compared with `data/solver_budgets.csv`. A counter more than
//! `BUDGET_MARGIN` (10%) over its budget, or an entropy moved by more than `ENTROPY_TOL`, fails.
//! Counters far below budget are reported (refresh with `make budgets` to lock the gain in).
use replica_core::guard::{panel, BUDGET_MARGIN, ENTROPY_TOL};
use replica_core::replica::{solve, SolverOptions};
use std::collections::HashMap;

#[test]
fn solver_work_stays_within_budget() {
    // the budgets live with the workspace's data (`make budgets` writes them there)
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/solver_budgets.csv");
    let mut rdr = csv::Reader::from_path(path).expect("data/solver_budgets.csv (make budgets)");
    let headers = rdr.headers().unwrap().clone();
    let budgets: HashMap<String, HashMap<String, String>> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row: HashMap<String, String> = headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            (row["chain"].clone(), row)
        })
        .collect();
    let chains = panel().unwrap();
    assert_eq!(
        budgets.len(),
        chains.len(),
        "budget file and panel differ: run `make budgets`"
    );
    let opts = SolverOptions::default();
    let mut failures = Vec::new();
    println!(
        "{:<26} {:>22} {:>22} {:>22} {:>24}",
        "chain", "fp sweeps", "vamp sweeps", "starts", "evals"
    );
    for pc in &chains {
        let b = budgets
            .get(pc.name)
            .unwrap_or_else(|| panic!("{} has no budget: run `make budgets`", pc.name));
        let est = solve(&pc.chain, &opts).unwrap_or_else(|e| panic!("{}: {e}", pc.name));
        let c = est.counters;
        let mut line = format!("{:<26}", pc.name);
        for (key, got) in [
            ("sweeps_fixed_point", c.sweeps_fixed_point),
            ("sweeps_vamp", c.sweeps_vamp),
            ("starts_tried", c.starts_tried),
            ("evals", c.evals),
        ] {
            let budget: u64 = b[key].parse().unwrap();
            line += &format!(" {:>10} / {:<10}", got, budget);
            if got as f64 > budget as f64 * (1.0 + BUDGET_MARGIN) {
                failures.push(format!(
                    "{}: {key} = {got} exceeds budget {budget} by more than {:.0}%",
                    pc.name,
                    100.0 * BUDGET_MARGIN
                ));
            }
        }
        let h0: f64 = b["entropy"].parse().unwrap();
        if (est.entropy - h0).abs() > ENTROPY_TOL {
            failures.push(format!(
                "{}: entropy {} moved from {h0} by more than {ENTROPY_TOL}",
                pc.name, est.entropy
            ));
        }
        println!("{line}");
    }
    assert!(
        failures.is_empty(),
        "solver guard:\n{}",
        failures.join("\n")
    );
}
