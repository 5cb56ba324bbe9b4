//! Figure 2 / S1: (a) the replica curve (Gaussian ensemble) against the values the spec quotes
//! from the paper, (b) the `fig2` binary at quick scale against `data/reference/fig2_quick.csv`,
//! (c) the reference comparison itself (every kind of failure is reported).

use polars::prelude::*;
use replica_mi::experiment::compare::{
    compare_csv, compare_frames, read_csv, CompareSpec, Failure, Side, Tolerance,
};
use replica_mi::experiment::fig2::replica_gaussian;
use replica_mi::experiment::write_csv;
use replica_mi::nn::Act;
use std::path::PathBuf;
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// (a) Values to expect (spec `experiments.md`, Fig. 2 setting, sigma = 0.1, 0.32, 1, 3.2, 10)
// ---------------------------------------------------------------------------------------------

/// The five weight scales: `10^e`, `e = -1, -0.5, 0, 0.5, 1` (the quoted linear values identify
/// "0.32" and "3.2" as `10^-0.5` and `10^0.5`: at 0.32 exactly H(T_1) would round to -0.21).
fn sigmas() -> [f64; 5] {
    [-1.0, -0.5, 0.0, 0.5, 1.0].map(|e: f64| 10f64.powf(e))
}

/// One quoted value: the number and the number of decimals it was quoted with.
struct Quoted {
    act: Act,
    layer: usize,
    values: [(f64, u32); 5],
}

/// Quoted values our replica solution does not reproduce within their rounding, with the
/// tolerance used instead and why. Our values agree with the reference package (`dnner`, two
/// solvers agreeing, `../shared/refs/cases.csv`) wherever it has the point, so the quoted
/// numbers (read off the paper's figure) are taken as approximate there:
/// * ReLU-ReLU H(T_2) at sigma = 10^-0.5 (quoted -0.83): ours -0.8160, case c107 -0.816002;
/// * ReLU-ReLU H(T_2) at sigma = 1 (quoted 0.30): ours 0.3164, case c104 0.316406;
/// * hardtanh-hardtanh H(T_2) at sigma = 10 (quoted 0.78): ours 0.795; no reference case.
///   The reference package drops the atoms of a hardtanh output at small noise (its README),
///   which lowers its hardtanh entropies (c105: 0.0262 vs our 0.0293 at sigma = 1), a plausible
///   source of a lower value in the paper's figure. Not tuned to; reported in the README.
const KNOWN_DIFFERENCES: [(Act, usize, usize, f64); 3] = [
    (Act::Relu, 2, 1, 0.02),
    (Act::Relu, 2, 2, 0.02),
    (Act::Hardtanh, 2, 4, 0.02),
];

fn quoted() -> Vec<Quoted> {
    use Act::*;
    vec![
        Quoted {
            act: Relu,
            layer: 2,
            values: [(-1.65, 2), (-0.83, 2), (0.30, 2), (1.47, 2), (2.62, 2)],
        },
        Quoted {
            act: Hardtanh,
            layer: 2,
            values: [(-3.5, 1), (-1.7, 1), (0.0, 1), (0.93, 2), (0.78, 2)],
        },
        Quoted {
            act: Linear,
            layer: 2,
            values: [(-3.54, 2), (-1.74, 2), (0.45, 2), (2.73, 2), (5.02, 2)],
        },
        Quoted {
            act: Linear,
            layer: 1,
            values: [(-1.35, 2), (-0.22, 2), (0.92, 2), (2.07, 2), (3.22, 2)],
        },
    ]
}

#[test]
fn replica_gaussian_curve_reproduces_the_quoted_values() {
    let mut failures = Vec::new();
    let mut table = String::from("activation layer sigma    ours      quoted  |diff|  tol\n");
    for q in quoted() {
        for (i, (&sigma, &(want, decimals))) in sigmas().iter().zip(&q.values).enumerate() {
            let est = replica_gaussian(q.act, q.layer, sigma, 1e-5).unwrap_or_else(|e| {
                panic!("{} layer {} sigma {sigma}: {e}", q.act.name(), q.layer)
            });
            // Rounding of a value quoted with d decimals: 0.5 * 10^-d, plus 20 % for our own
            // last digits (0.006 for 2 decimals, 0.06 for 1).
            let rounding = 0.6 * 10f64.powi(-(decimals as i32));
            let tol = KNOWN_DIFFERENCES
                .iter()
                .find(|(a, l, k, _)| *a == q.act && *l == q.layer && *k == i)
                .map_or(rounding, |d| d.3);
            let diff = (est.entropy - want).abs();
            table += &format!(
                "{:<10} {:>5} {:<8.4} {:>8.4} {:>8.2} {:>7.4} {:.3}\n",
                q.act.name(),
                q.layer,
                sigma,
                est.entropy,
                want,
                diff,
                tol
            );
            if diff > tol {
                failures.push(format!(
                    "{} H(T_{}) at sigma {sigma}: ours {}, quoted {want} (tolerance {tol})",
                    q.act.name(),
                    q.layer,
                    est.entropy
                ));
            }
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// (b) The binary at quick scale against the reference CSV
// ---------------------------------------------------------------------------------------------

fn reference_csv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/reference/fig2_quick.csv")
}

/// Per-column tolerances for `fig2 --scale quick`, same seed, against the stored reference.
/// Every number is deterministic for a given build on a given machine; the tolerances only
/// absorb what may legitimately differ between runs and machines:
/// * replica columns: a deterministic iteration (fixed quadrature, fixed start order, parallel
///   sums reduced in a fixed order) stopped at a 1e-9 relative change: 1e-9 absolute and
///   relative, i.e. any change in the solver's result shows up (then refresh with `make refs`
///   on purpose);
/// * exact log-det and the linear approximations: Cholesky of a product of seeded matrices;
///   faer's blocked kernels may sum in another order on another CPU: 1e-9 relative;
/// * KDE bounds and kNN: seeded samples (ChaCha8), distances from one matrix product, row sums
///   in a fixed order: identical on one machine, 1e-9 relative for another summation order
///   (the totals are O(n) before the division by n, so 1e-12 absolute as well);
/// * integer columns exactly; text columns (scheme names) compare exactly anyway.
fn fig2_spec() -> CompareSpec {
    let replica = Tolerance::new(1e-9, 1e-9);
    let linalg = Tolerance::new(1e-12, 1e-9);
    let mut spec = CompareSpec::new(["activation", "layer", "sigma"])
        .tolerance("width", Tolerance::EXACT)
        .tolerance("samples", Tolerance::EXACT);
    for q in ["entropy", "mi"] {
        for c in ["replica_gaussian", "replica_empirical"] {
            spec = spec.tolerance(format!("{q}_{c}_nats_per_unit"), replica);
        }
        for c in [
            "exact",
            "linear_approx",
            "kde_upper",
            "kde_parametric",
            "pairwise_lower",
            "knn",
        ] {
            spec = spec.tolerance(format!("{q}_{c}_nats_per_unit"), linalg);
        }
    }
    spec
}

#[test]
fn quick_run_matches_the_reference_csv() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_fig2"))
        .args(["--scale", "quick", "--quiet", "--out"])
        .arg(out.path())
        .status()
        .expect("running fig2");
    assert!(status.success(), "fig2 --scale quick failed: {status}");
    for f in ["fig2.csv", "fig2.provenance.json", "fig2.svg", "figS1.svg"] {
        assert!(out.path().join(f).is_file(), "{f} not written");
    }
    let prov: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("fig2.provenance.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(prov["scale"], "quick");
    assert_eq!(prov["seed"], 2018);
    assert_eq!(prov["device"], "cpu");
    for key in [
        "git_commit",
        "crate_version",
        "config",
        "started",
        "finished",
    ] {
        assert!(!prov[key].is_null(), "provenance lacks {key}");
    }

    let report = compare_csv(&out.path().join("fig2.csv"), &reference_csv(), &fig2_spec())
        .expect("reading the CSVs");
    println!("{report}");
    assert!(report.rows_compared > 0);
    assert!(
        report.passed(),
        "fig2 quick run differs from the reference (refresh with `make refs` only if the \
         change is intended):\n{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// (c) The comparison reports every kind of failure
// ---------------------------------------------------------------------------------------------

fn reference_frame() -> DataFrame {
    df!(
        "name" => ["a", "a", "b"],
        "k" => [1i64, 2, 1],
        "x_nats" => [1.0, 2.0, 3.0],
        "y_nats" => [Some(0.5), None, Some(-1.0)],
        "scheme" => ["fixed-point", "ml-vamp", "fixed-point"],
    )
    .unwrap()
}

fn spec() -> CompareSpec {
    CompareSpec::new(["name", "k"])
        .tolerance("x_nats", Tolerance::new(1e-9, 1e-6))
        .tolerance("y_nats", Tolerance::abs(1e-3))
}

fn failures(produced: &DataFrame) -> Vec<Failure> {
    let r = compare_frames(produced, &reference_frame(), &spec()).unwrap();
    println!("{r}");
    r.failures
}

#[test]
fn identical_frames_pass() {
    let r = compare_frames(&reference_frame(), &reference_frame(), &spec()).unwrap();
    assert!(r.passed(), "{r}");
    assert_eq!(r.rows_compared, 3);
    assert_eq!(r.cells_compared, 9);
    assert!(r.failure_table().is_empty());
}

#[test]
fn values_within_tolerance_pass() {
    let mut p = reference_frame();
    p.replace(
        "x_nats",
        Column::new("x_nats".into(), [1.0 + 5e-7, 2.0 - 1e-6, 3.0]),
    )
    .unwrap();
    p.replace(
        "y_nats",
        Column::new("y_nats".into(), [Some(0.5009), None, Some(-1.0)]),
    )
    .unwrap();
    assert_eq!(failures(&p), vec![]);
}

#[test]
fn a_missing_column_fails() {
    let p = reference_frame().drop("y_nats").unwrap();
    assert_eq!(
        failures(&p),
        vec![Failure::MissingColumn {
            column: "y_nats".into(),
            missing_from: Side::Produced
        }]
    );
    // A column the reference does not have fails too.
    let mut p = reference_frame();
    p.with_column(Column::new("z".into(), [0.0, 0.0, 0.0]))
        .unwrap();
    assert_eq!(
        failures(&p),
        vec![Failure::MissingColumn {
            column: "z".into(),
            missing_from: Side::Reference
        }]
    );
    // A missing key column stops the comparison with that failure.
    let p = reference_frame().drop("k").unwrap();
    assert_eq!(
        failures(&p),
        vec![Failure::MissingColumn {
            column: "k".into(),
            missing_from: Side::Produced
        }]
    );
}

#[test]
fn a_missing_row_fails() {
    let p = reference_frame().slice(0, 2); // drops name=b, k=1
    assert_eq!(
        failures(&p),
        vec![Failure::MissingRow {
            key: "name=b, k=1".into(),
            missing_from: Side::Produced
        }]
    );
    // A row the reference does not have fails too.
    let extra = df!(
        "name" => ["c"], "k" => [7i64], "x_nats" => [0.0], "y_nats" => [Some(0.0)],
        "scheme" => ["ml-vamp"],
    )
    .unwrap();
    let p = reference_frame().vstack(&extra).unwrap();
    assert_eq!(
        failures(&p),
        vec![Failure::MissingRow {
            key: "name=c, k=7".into(),
            missing_from: Side::Reference
        }]
    );
}

#[test]
fn a_nan_fails() {
    let mut p = reference_frame();
    p.replace("x_nats", Column::new("x_nats".into(), [1.0, f64::NAN, 3.0]))
        .unwrap();
    assert_eq!(
        failures(&p),
        vec![Failure::NotANumber {
            key: "name=a, k=2".into(),
            column: "x_nats".into(),
            side: Side::Produced
        }]
    );
    // NaN against NaN is still a failure (on both sides).
    let mut r = reference_frame();
    r.replace("x_nats", Column::new("x_nats".into(), [1.0, f64::NAN, 3.0]))
        .unwrap();
    let rep = compare_frames(&p, &r, &spec()).unwrap();
    assert_eq!(rep.failures.len(), 2, "{rep}");
}

#[test]
fn an_out_of_tolerance_value_fails() {
    let mut p = reference_frame();
    p.replace(
        "x_nats",
        Column::new("x_nats".into(), [1.0, 2.0, 3.0 + 1e-4]),
    )
    .unwrap();
    let f = failures(&p);
    assert_eq!(f.len(), 1);
    match &f[0] {
        Failure::OutOfTolerance {
            key,
            column,
            produced,
            reference,
            ..
        } => {
            assert_eq!(key, "name=b, k=1");
            assert_eq!(column, "x_nats");
            assert!((produced - 3.0001).abs() < 1e-12 && (reference - 3.0).abs() < 1e-12);
        }
        other => panic!("expected OutOfTolerance, got {other:?}"),
    }
}

#[test]
fn empty_cells_must_match_and_text_must_be_equal() {
    let mut p = reference_frame();
    p.replace(
        "y_nats",
        Column::new("y_nats".into(), [None, Some(0.0), Some(-1.0)]),
    )
    .unwrap();
    p.replace(
        "scheme",
        Column::new(
            "scheme".into(),
            ["fixed-point", "fixed-point", "fixed-point"],
        ),
    )
    .unwrap();
    assert_eq!(
        failures(&p),
        vec![
            Failure::Null {
                key: "name=a, k=1".into(),
                column: "y_nats".into(),
                side: Side::Produced
            },
            Failure::Null {
                key: "name=a, k=2".into(),
                column: "y_nats".into(),
                side: Side::Reference
            },
            Failure::TextMismatch {
                key: "name=a, k=2".into(),
                column: "scheme".into(),
                produced: "fixed-point".into(),
                reference: "ml-vamp".into()
            },
        ]
    );
}

#[test]
fn duplicate_keys_and_untoleranced_columns_fail() {
    let p = reference_frame()
        .vstack(&reference_frame().slice(0, 1))
        .unwrap();
    assert_eq!(
        failures(&p),
        vec![Failure::DuplicateKey {
            key: "name=a, k=1".into(),
            side: Side::Produced
        }]
    );
    let strict = CompareSpec::new(["name", "k"]).tolerance("x_nats", Tolerance::EXACT);
    let r = compare_frames(&reference_frame(), &reference_frame(), &strict).unwrap();
    assert_eq!(
        r.failures,
        vec![Failure::NoTolerance {
            column: "y_nats".into()
        }]
    );
}

/// Through CSV files written by the harness: NaN is written as `NaN`, read back as a float NaN,
/// and fails; an empty cell (None) on both sides passes; a changed value appears in the table.
#[test]
fn csv_files_round_trip_and_report_readably() {
    #[derive(serde::Serialize)]
    struct Row {
        activation: &'static str,
        sigma: f64,
        entropy_nats_per_unit: f64,
        exact_nats_per_unit: Option<f64>,
    }
    let dir = tempfile::tempdir().unwrap();
    let rows = |h2: f64| {
        vec![
            Row {
                activation: "relu",
                sigma: 0.1,
                entropy_nats_per_unit: -1.651_234_567_890_123,
                exact_nats_per_unit: None,
            },
            Row {
                activation: "linear",
                sigma: 10f64.powf(-0.5),
                entropy_nats_per_unit: h2,
                exact_nats_per_unit: Some(0.1),
            },
        ]
    };
    let (a, b, c) = (
        dir.path().join("a.csv"),
        dir.path().join("b.csv"),
        dir.path().join("c.csv"),
    );
    write_csv(&a, &rows(2.5)).unwrap();
    write_csv(&b, &rows(f64::NAN)).unwrap();
    write_csv(&c, &rows(2.6)).unwrap();
    let df = read_csv(&b).unwrap();
    assert!(df
        .column("entropy_nats_per_unit")
        .unwrap()
        .dtype()
        .is_float());
    let spec = CompareSpec::new(["activation", "sigma"]).default_tolerance(Tolerance::rel(1e-12));

    let same = compare_csv(&a, &a, &spec).unwrap();
    assert!(same.passed(), "{same}");
    assert_eq!(same.rows_compared, 2);

    let nan = compare_csv(&b, &a, &spec).unwrap();
    assert_eq!(
        nan.failures,
        vec![Failure::NotANumber {
            key: "activation=linear, sigma=0.31622776601683794".into(),
            column: "entropy_nats_per_unit".into(),
            side: Side::Produced
        }]
    );

    let off = compare_csv(&c, &a, &spec).unwrap();
    let text = off.to_string();
    println!("{text}");
    assert!(!off.passed());
    for needle in [
        "activation=linear, sigma=0.31622776601683794",
        "entropy_nats_per_unit",
        "2.6",
        "2.5",
        "out of tolerance",
    ] {
        assert!(text.contains(needle), "report lacks {needle:?}:\n{text}");
    }
}
