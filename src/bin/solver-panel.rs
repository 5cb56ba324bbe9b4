//! Solve the guard panel (`replica_mi::guard::panel`) and print each chain's work counters, or
//! write them as the new budgets (`--write-budgets data/solver_budgets.csv`). Also the workload
//! that `make bench-guard` measures in instructions (`--only NAME` solves one chain).
use anyhow::{bail, Context, Result};
use clap::Parser;
use replica_mi::guard::panel;
use replica_mi::replica::{solve, SolverOptions};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "Solve the solver-guard panel and report its work counters"
)]
struct Args {
    /// Solve only the panel chain of this name.
    #[arg(long)]
    only: Option<String>,
    /// Write the counters and entropies as budgets to this CSV file.
    #[arg(long)]
    write_budgets: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let opts = SolverOptions::default();
    let mut rows = Vec::new();
    let chains = panel()?;
    if let Some(only) = &args.only {
        if !chains.iter().any(|c| c.name == only) {
            let names: Vec<_> = chains.iter().map(|c| c.name).collect();
            bail!("no panel chain named {only:?}; the panel has {names:?}");
        }
    }
    println!(
        "{:<26} {:>16} {:>8} {:>6} {:>7} {:>12} {:>9}",
        "chain", "entropy", "fp", "vamp", "starts", "evals", "seconds"
    );
    for pc in chains
        .iter()
        .filter(|c| args.only.as_deref().is_none_or(|o| o == c.name))
    {
        let t0 = std::time::Instant::now();
        let est = solve(&pc.chain, &opts).with_context(|| format!("solving {}", pc.name))?;
        let c = est.counters;
        println!(
            "{:<26} {:>16.12} {:>8} {:>6} {:>7} {:>12} {:>9.3}",
            pc.name,
            est.entropy,
            c.sweeps_fixed_point,
            c.sweeps_vamp,
            c.starts_tried,
            c.evals,
            t0.elapsed().as_secs_f64()
        );
        rows.push((pc.name, est.entropy, c));
    }
    if let Some(path) = args.write_budgets {
        let mut w = csv::Writer::from_path(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record([
            "chain",
            "entropy",
            "sweeps_fixed_point",
            "sweeps_vamp",
            "starts_tried",
            "evals",
        ])?;
        for (name, h, c) in rows {
            w.write_record([
                name.to_string(),
                format!("{h:.15e}"),
                c.sweeps_fixed_point.to_string(),
                c.sweeps_vamp.to_string(),
                c.starts_tried.to_string(),
                c.evals.to_string(),
            ])?;
        }
        w.flush()?;
        println!("budgets written to {}", path.display());
    }
    Ok(())
}
