//! Figure S2 at quick scale on Fashion-MNIST (Debian's `dataset-fashion-mnist`, installed by
//! `make test` through `make data-fashion-mnist`): the two networks start as the same function,
//! both learn, and the CSV equals `data/reference/figS2_quick.csv`.
//!
//! The data folder is `/usr/share/datasets/fashion-mnist`, or `$REPLICA_MI_FASHION_MNIST`. A
//! missing data set fails these tests (with the way to get it); it is never skipped.

use indicatif::ProgressBar;
use replica_mi::data::HOW_TO_GET;
use replica_mi::experiment::figs2::{self, FigS2Config, FigS2Row, NetKind};
use replica_mi::experiment::{compare_csv, write_csv, CompareSpec, Scale, Tolerance};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::SEED;

fn quick() -> &'static (FigS2Config, Vec<FigS2Row>) {
    static RUN: OnceLock<(FigS2Config, Vec<FigS2Row>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let cfg = FigS2Config::for_scale(Scale::Quick);
        let valid = cfg.validate().expect("the quick configuration is valid");
        let (_, train, test) = figs2::load(&valid, &crate::common::fashion_mnist())
            .unwrap_or_else(|e| panic!("Fashion-MNIST is needed: {e}\n({HOW_TO_GET})"));
        let rows = figs2::run(
            &valid,
            &train,
            &test,
            SEED,
            &candle_core::Device::Cpu,
            &ProgressBar::hidden(),
        )
        .expect("quick figS2 run");
        (cfg, rows)
    })
}

fn at(rows: &[FigS2Row], kind: NetKind, epoch: usize) -> &FigS2Row {
    rows.iter()
        .find(|r| r.network == kind && r.epoch == epoch)
        .unwrap_or_else(|| panic!("no row for {kind:?} at epoch {epoch}"))
}

/// One row per network and epoch, every value finite.
#[test]
fn rows_cover_both_networks_and_every_epoch() {
    let (cfg, rows) = quick();
    assert_eq!(rows.len(), 2 * (cfg.epochs + 1));
    for r in rows {
        for v in [r.train_loss, r.test_loss, r.train_accuracy, r.test_accuracy] {
            assert!(v.is_finite(), "{r:?}");
        }
        assert_eq!(r.trainable_parameters, cfg.trainable_parameters(r.network));
    }
}

/// Same seed, same draw: a USV layer starts equal to the Gaussian matrix it factors, so at epoch 0
/// both networks compute the same function. Tolerance: the USV weight is rebuilt from an f64 SVD
/// and applied in f32 as two products instead of one, so the logits differ by f32 rounding
/// (relative ~1e-6 per product); 1e-4 relative on the mean cross-entropy leaves a wide margin and
/// is still far below any real difference (a different draw changes the loss by > 1e-2). The
/// accuracies may differ only through images whose two best logits tie within that rounding:
/// at most 1 of the 500 here.
#[test]
fn both_networks_start_as_the_same_function() {
    let (cfg, rows) = quick();
    let (u, d) = (at(rows, NetKind::Usv, 0), at(rows, NetKind::Dense, 0));
    for (a, b, what) in [
        (u.train_loss, d.train_loss, "train loss"),
        (u.test_loss, d.test_loss, "test loss"),
    ] {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(b.abs()),
            "{what}: {u:?} vs {d:?}"
        );
    }
    for (a, b, n) in [
        (u.train_accuracy, d.train_accuracy, cfg.n_train),
        (u.test_accuracy, d.test_accuracy, cfg.n_test),
    ] {
        assert!((a - b).abs() <= 1.0 / n as f64 + 1e-12, "{u:?} vs {d:?}");
    }
}

/// Both networks learn: the cross-entropy falls on the training and the test images, and the test
/// accuracy ends well above chance (0.1 for ten balanced classes; Fashion-MNIST's first 500 test
/// images hold every class).
#[test]
fn both_networks_learn() {
    let (cfg, rows) = quick();
    for kind in [NetKind::Usv, NetKind::Dense] {
        let (a, b) = (at(rows, kind, 0), at(rows, kind, cfg.epochs));
        assert!(b.train_loss < a.train_loss, "{kind:?}: {a:?} -> {b:?}");
        assert!(b.test_loss < a.test_loss, "{kind:?}: {a:?} -> {b:?}");
        assert!(b.test_accuracy > 0.4, "{kind:?}: {b:?}");
    }
}

/// The quick CSV equals the reference.
///
/// Tolerances (as for Figures 3 and 4): float32 training, deterministic on one machine; 1e-6
/// relative on losses and accuracies leaves room for another CPU's float32 summation order, while
/// an accuracy is a count over 500 images, so any real change (>= 2e-3) fails. Parameter counts
/// exactly.
#[test]
fn quick_csv_matches_reference() {
    let (_, rows) = quick();
    let dir = tempfile::tempdir().unwrap();
    let produced = dir.path().join("figS2.csv");
    write_csv(&produced, rows).unwrap();
    let reference =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/reference/figS2_quick.csv");
    let stat = Tolerance::new(1e-9, 1e-6);
    let spec = CompareSpec::new(["network", "seed", "epoch"])
        .tolerance("trainable_parameters", Tolerance::EXACT)
        .tolerance("train_loss", stat)
        .tolerance("test_loss", stat)
        .tolerance("train_accuracy", stat)
        .tolerance("test_accuracy", stat);
    let report = compare_csv(&produced, &reference, &spec).unwrap();
    assert!(
        report.passed(),
        "figS2 quick vs reference:\n{}",
        report.failure_table()
    );
    assert_eq!(report.rows_compared, rows.len());
}

fn fig_s2(args: &[&str], out: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_figS2"))
        .args(["--scale", "quick", "--quiet", "--out"])
        .arg(out)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run figS2")
}

/// `--data-dir` without the files: exit with an error that names the folder and says how to get
/// the data; nothing is written.
#[test]
fn missing_data_dir_says_how_to_get_the_data() {
    let out = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let o = fig_s2(
        &["--data-dir", &empty.path().display().to_string()],
        out.path(),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    for f in [
        &empty.path().display().to_string()[..],
        "train-images-idx3-ubyte",
        "apt-get install dataset-fashion-mnist",
        "--data-dir",
    ] {
        assert!(err.contains(f), "{err:?} lacks {f:?}");
    }
    assert!(!out.path().join("figS2.csv").exists());
}

/// The binary writes the CSV, the SVG and the provenance (which names the data files and the
/// epoch override).
#[test]
fn binary_writes_csv_svg_and_provenance() {
    let out = tempfile::tempdir().unwrap();
    let dir = crate::common::fashion_mnist().display().to_string();
    let o = fig_s2(&["--epochs", "1", "--data-dir", &dir], out.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.path().join("figS2.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2, "{csv}");
    assert!(csv.starts_with("network,seed,epoch,trainable_parameters,train_loss"));
    let svg = std::fs::read_to_string(out.path().join("figS2.svg")).unwrap();
    assert!(svg.contains("usv test") && svg.contains("dense train"));
    let prov = std::fs::read_to_string(out.path().join("figS2.provenance.json")).unwrap();
    for f in [
        "\"epochs\": 1",
        "t10k-labels-idx1-ubyte",
        "\"seed\": 2018",
        "\"device\": \"cpu\"",
    ] {
        assert!(prov.contains(f), "{prov} lacks {f:?}");
    }
}
