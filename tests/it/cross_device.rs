//! The CPU-vs-CUDA comparison (`device-compare`, `experiment::cross_device`), checked here on the
//! CPU with the quick reference CSVs and copies of them perturbed on purpose: a table agrees with
//! itself, perturbations inside the stated float32 tolerances pass, larger ones fail, and every
//! numeric column of each figure's CSV has a tolerance.

use replica_mi::experiment::cross_device::{ACCURACY, LOSS, NATS};
use replica_mi::experiment::{compare_csv, Failure, TrainingFigure};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_device-compare");

fn reference(fig: TrainingFigure) -> PathBuf {
    let name = match fig {
        TrainingFigure::Fig3 => "fig3_quick.csv",
        TrainingFigure::Fig4 => "fig4_quick.csv",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/reference")
        .join(name)
}

/// A copy of `src` in `dir` (file `<tag>.csv`) where `f` rewrites every non-empty numeric cell of
/// the named columns.
fn perturbed(
    src: &Path,
    dir: &Path,
    tag: &str,
    columns: &[&str],
    f: impl Fn(f64) -> f64,
) -> PathBuf {
    let mut rd = csv::Reader::from_path(src).unwrap();
    let header = rd.headers().unwrap().clone();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| h == *c)
                .unwrap_or_else(|| panic!("no column {c}"))
        })
        .collect();
    let out = dir.join(format!("{tag}.csv"));
    let mut wr = csv::Writer::from_path(&out).unwrap();
    wr.write_record(&header).unwrap();
    for rec in rd.records() {
        let rec = rec.unwrap();
        let row: Vec<String> = rec
            .iter()
            .enumerate()
            .map(|(i, v)| match (idx.contains(&i), v.parse::<f64>()) {
                (true, Ok(x)) => format!("{}", f(x)),
                _ => v.to_string(),
            })
            .collect();
        wr.write_record(&row).unwrap();
    }
    wr.flush().unwrap();
    out
}

const LOSSES: [(TrainingFigure, &[&str]); 2] = [
    (TrainingFigure::Fig3, &["train_mse", "test_mse"]),
    (TrainingFigure::Fig4, &["train_loss", "test_loss"]),
];
const MIS: [(TrainingFigure, &[&str]); 2] = [
    (
        TrainingFigure::Fig3,
        &["mi_replica_nats_per_input", "entropy_exact_nats_per_input"],
    ),
    (
        TrainingFigure::Fig4,
        &[
            "mi_replica_nats_per_latent",
            "entropy_replica_nats_per_latent",
        ],
    ),
];

/// Each reference agrees with itself, and every numeric column has a tolerance.
#[test]
fn reference_agrees_with_itself() {
    for fig in [TrainingFigure::Fig3, TrainingFigure::Fig4] {
        let r = reference(fig);
        let report = compare_csv(&r, &r, &fig.spec()).unwrap();
        assert!(report.passed(), "{fig:?}:\n{report}");
        assert!(report.rows_compared > 10, "{fig:?}: {report}");
        assert!(
            report.numeric_columns.iter().all(|c| c.tolerance.is_some()),
            "{fig:?}: {report}"
        );
    }
}

/// Losses scaled by (1 + 0.5 x tolerance) pass; by (1 + 2 x tolerance) fail, each failure naming
/// the column.
#[test]
fn losses_within_and_beyond_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    for (fig, cols) in LOSSES {
        let r = reference(fig);
        let inside = perturbed(&r, dir.path(), "loss-inside", cols, |x| {
            x * (1.0 + 0.5 * LOSS.rel)
        });
        let report = compare_csv(&inside, &r, &fig.spec()).unwrap();
        assert!(report.passed(), "{fig:?} {cols:?} inside:\n{report}");
        let outside = perturbed(&r, dir.path(), "loss-outside", cols, |x| {
            x * (1.0 + 2.0 * LOSS.rel)
        });
        let report = compare_csv(&outside, &r, &fig.spec()).unwrap();
        assert!(!report.passed(), "{fig:?} {cols:?} outside:\n{report}");
        assert!(report.failures.iter().all(|f| matches!(
            f,
            Failure::OutOfTolerance { column, .. } if cols.contains(&column.as_str())
        )));
    }
}

/// MIs and entropies shifted by half the tolerance pass; by twice the tolerance fail.
#[test]
fn nats_within_and_beyond_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    for (fig, cols) in MIS {
        let r = reference(fig);
        let inside = perturbed(&r, dir.path(), "nats-inside", cols, |x| x + 0.5 * NATS.abs);
        assert!(
            compare_csv(&inside, &r, &fig.spec()).unwrap().passed(),
            "{fig:?} {cols:?}"
        );
        let outside = perturbed(&r, dir.path(), "nats-outside", cols, |x| x - 2.0 * NATS.abs);
        let report = compare_csv(&outside, &r, &fig.spec()).unwrap();
        assert!(!report.passed(), "{fig:?} {cols:?}:\n{report}");
    }
}

/// Accuracies: one sample in 2000 (5e-4) passes, a tenth of the samples fails.
#[test]
fn accuracies_within_and_beyond_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let (fig, cols) = (
        TrainingFigure::Fig4,
        &["train_accuracy", "test_accuracy"][..],
    );
    let r = reference(fig);
    const { assert!(ACCURACY.abs >= 5e-4) };
    let inside = perturbed(&r, dir.path(), "acc-inside", cols, |x| x + 5e-4);
    assert!(compare_csv(&inside, &r, &fig.spec()).unwrap().passed());
    let outside = perturbed(&r, dir.path(), "acc-outside", cols, |x| x - 0.1);
    assert!(!compare_csv(&outside, &r, &fig.spec()).unwrap().passed());
}

/// The binary: exit 0 within tolerance, 1 beyond (the report names the column), 2 for a missing
/// file (with the path in the message).
#[test]
fn binary_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let r = reference(TrainingFigure::Fig4);
    let run = |gpu: &Path| {
        Command::new(BIN)
            .args(["fig4", "--cpu"])
            .arg(&r)
            .arg("--gpu")
            .arg(gpu)
            .output()
            .unwrap()
    };
    let o = run(&r);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("all within tolerance"));

    let bad = perturbed(&r, dir.path(), "bad", &["test_loss"], |x| x * 1.01);
    let o = run(&bad);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("test_loss") && out.contains("out of tolerance"),
        "{out}"
    );

    let missing = dir.path().join("nope.csv");
    let o = run(&missing);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nope.csv"), "{err}");
}
