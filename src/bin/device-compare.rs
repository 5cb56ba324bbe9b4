//! Compare one training figure's CSV from a CUDA run with the same run on the CPU, with the
//! float32 tolerances of `replica_mi::experiment::cross_device` (their reasons are stated there).
//!
//! ```text
//! device-compare fig4 --cpu cpu/fig4.csv --gpu cuda/fig4.csv
//! ```
//! Prints the largest deviation of every numeric column beside its tolerance, then every failure.
//! Exit status: 0 all within tolerance, 1 a comparison failure, 2 an unreadable input.

use anyhow::Result;
use clap::Parser;
use replica_mi::experiment::{compare_csv, TrainingFigure};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Compare a figure's CSV trained on CUDA with the same run on the CPU"
)]
struct Args {
    /// Which figure's CSV (sets the key columns and the tolerances).
    #[arg(value_enum)]
    figure: TrainingFigure,
    /// The CSV of the CPU run (the reference).
    #[arg(long)]
    cpu: PathBuf,
    /// The CSV of the GPU run.
    #[arg(long)]
    gpu: PathBuf,
}

fn run(args: &Args) -> Result<bool> {
    let report = compare_csv(&args.gpu, &args.cpu, &args.figure.spec())?;
    print!("{report}");
    if report.rows_compared == 0 {
        println!("no row in common: nothing was compared");
        return Ok(false);
    }
    Ok(report.passed())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("device-compare: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
