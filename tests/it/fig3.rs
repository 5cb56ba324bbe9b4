//! Figure 3 at quick scale: replica vs exact during training of a linear student, the finite-size
//! error against the width, no compression, and the CSV against `data/reference/fig3_quick.csv`.
//!
//! One quick run (a few seconds) serves every test of this file.

use indicatif::ProgressBar;
use replica_mi::experiment::fig3::{self, Fig3Config, Fig3Row, STUDENT_LAYERS};
use replica_mi::experiment::{compare_csv, write_csv, CompareSpec, Scale, Tolerance};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::SEED;

fn quick() -> &'static (Fig3Config, Vec<Fig3Row>) {
    static RUN: OnceLock<(Fig3Config, Vec<Fig3Row>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let cfg = Fig3Config::for_scale(Scale::Quick);
        let rows = fig3::run(
            &cfg.validate().expect("the quick configuration is valid"),
            SEED,
            &candle_core::Device::Cpu,
            &ProgressBar::hidden(),
        )
        .expect("quick fig3 run");
        (cfg, rows)
    })
}

/// Every run recorded every epoch and layer, and every solve converged.
#[test]
fn every_epoch_and_layer_is_recorded() {
    let (cfg, rows) = quick();
    let runs = cfg.runs(SEED);
    assert_eq!(rows.len(), runs.len() * (cfg.epochs + 1) * STUDENT_LAYERS);
    for r in rows {
        assert!(r.replica_converged, "{r:?}");
        assert!(r.mi_replica_nats_per_input.is_some_and(f64::is_finite));
        assert!(r.mi_exact_nats_per_input.is_some_and(f64::is_finite));
        assert!(r.epoch == 0 || r.replica_warm_started, "{r:?}");
    }
}

/// Replica = exact at every epoch within the finite-size error.
///
/// Tolerance 2.5 / n_0 (as in `tests/nn.rs`): the replica formula is the n -> infinity limit;
/// with each layer's own spectrum the first layer is exact up to the solver (the log-det is a
/// spectral average, checked to 1e-6), deeper layers assume successive singular vectors in free
/// position, whose finite-n deviation of the log-det is O(1) in total, O(1/n_0) per input unit.
#[test]
fn replica_matches_exact_at_every_epoch() {
    let (_, rows) = quick();
    for r in rows {
        let (i, e) = (
            r.mi_replica_nats_per_input.unwrap(),
            r.mi_exact_nats_per_input.unwrap(),
        );
        let tol = if r.layer == 1 {
            1e-6
        } else {
            2.5 / r.width as f64
        };
        assert!(
            (i - e).abs() < tol,
            "n = {} seed {} epoch {} layer {}: replica {i}, exact {e}, tol {tol}",
            r.width,
            r.seed,
            r.epoch,
            r.layer
        );
    }
}

/// The squared error (mean over epochs and seeds) falls from the smallest to the largest width
/// for each layer with a finite-size error (2 and 3) and for their sum. Layer 1 is exact up to
/// the solver (~1e-15 squared) at every width, so it is not compared.
#[test]
fn error_falls_with_width() {
    let (cfg, rows) = quick();
    let errs = fig3::errors(cfg, SEED, rows);
    let (lo, hi) = (
        *cfg.error_widths.iter().min().unwrap(),
        *cfg.error_widths.iter().max().unwrap(),
    );
    assert!(lo < hi);
    let mean = |w: usize, layers: &[usize]| -> f64 {
        errs.iter()
            .filter(|e| e.width == w && layers.contains(&e.layer))
            .map(|e| {
                assert_eq!(e.failed, 0, "{e:?}");
                e.mean_squared_error
            })
            .sum()
    };
    for layers in [&[2][..], &[3][..], &[2, 3][..]] {
        let (a, b) = (mean(lo, layers), mean(hi, layers));
        assert!(
            b < a,
            "layers {layers:?}: mean squared error {a:e} at n = {lo}, {b:e} at n = {hi}"
        );
    }
}

/// A linear network does not compress: I(X;T_l) at the last epoch >= at the first, every run and
/// layer (the paper's finding), and the training MSE falls.
#[test]
fn no_compression_and_loss_falls() {
    let (cfg, rows) = quick();
    for (width, seed) in cfg.runs(SEED) {
        let run: Vec<&Fig3Row> = rows
            .iter()
            .filter(|r| r.width == width && r.seed == seed)
            .collect();
        for layer in 1..=STUDENT_LAYERS {
            let at = |epoch: usize| {
                run.iter()
                    .find(|r| r.layer == layer && r.epoch == epoch)
                    .and_then(|r| r.mi_exact_nats_per_input)
                    .unwrap()
            };
            let (first, last) = (at(0), at(cfg.epochs));
            assert!(
                last >= first,
                "n = {width} seed {seed} layer {layer}: I = {first} at epoch 0, {last} at the end"
            );
        }
        let mse = |epoch: usize| run.iter().find(|r| r.epoch == epoch).unwrap().train_mse;
        assert!(mse(cfg.epochs) < mse(0), "n = {width} seed {seed}");
    }
}

/// The quick CSV equals the reference, column by column.
///
/// Tolerances: the training is float32 (candle, CPU) and deterministic on one machine, so the
/// same binary reproduces the losses bit for bit; 1e-6 relative leaves room for a different
/// matrix-product kernel (another CPU's SIMD width changes the float32 summation order at the
/// 1e-7 level per step). The MIs are functions of the trained spectra (float32, converted to
/// f64), solved to the replica solver's tolerance (~1e-10): 1e-6 nats absolute. The keys are
/// written identically by construction; `gamma` is part of the configuration (exact).
#[test]
fn quick_csv_matches_reference() {
    let (_, rows) = quick();
    let dir = tempfile::tempdir().unwrap();
    let produced = dir.path().join("fig3.csv");
    write_csv(&produced, rows).unwrap();
    let reference = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/reference/fig3_quick.csv");
    let mi = Tolerance::abs(1e-6);
    let spec = CompareSpec::new(["seed", "width", "epoch", "layer"])
        .tolerance("gamma", Tolerance::EXACT)
        .tolerance("train_mse", Tolerance::new(1e-9, 1e-6))
        .tolerance("test_mse", Tolerance::new(1e-9, 1e-6))
        .tolerance("mi_replica_nats_per_input", mi)
        .tolerance("mi_exact_nats_per_input", mi)
        .tolerance("entropy_replica_nats_per_input", mi)
        .tolerance("entropy_exact_nats_per_input", mi);
    let report = compare_csv(&produced, &reference, &spec).unwrap();
    assert!(
        report.passed(),
        "fig3 quick vs reference:\n{}",
        report.failure_table()
    );
    assert!(report.rows_compared > 0);
}
