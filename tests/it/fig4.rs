//! Figure 4 at quick scale: the recorded MIs, the learning curves, and the CSV against
//! `data/reference/fig4_quick.csv`.
//!
//! One quick run (both rows of the figure, ~30 s, most of it the cold replica solves of the deep
//! layers at epoch 0) serves every test of this file.

use indicatif::ProgressBar;
use replica_mi::experiment::fig4::{self, Fig4Config, Fig4Row, HIDDEN_LAYERS};
use replica_mi::experiment::{compare_csv, write_csv, CompareSpec, Scale, Tolerance};
use replica_mi::nn::Act;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::SEED;

fn quick() -> &'static (Fig4Config, Vec<Fig4Row>) {
    static RUN: OnceLock<(Fig4Config, Vec<Fig4Row>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let cfg = Fig4Config::for_scale(Scale::Quick);
        let rows = fig4::run(
            &cfg.validate().expect("the quick configuration is valid"),
            SEED,
            &candle_core::Device::Cpu,
            &ProgressBar::hidden(),
        )
        .expect("quick fig4 run");
        (cfg, rows)
    })
}

/// Every epoch and layer has a row; MIs are evaluated exactly every `mi_every` epochs, are
/// finite where the solve converged and empty where it did not.
#[test]
fn recorded_mis_are_finite_where_converged() {
    let (cfg, rows) = quick();
    assert_eq!(
        rows.len(),
        cfg.variants.len() * (cfg.epochs + 1) * HIDDEN_LAYERS
    );
    for r in rows {
        assert_eq!(r.mi_evaluated, r.epoch % cfg.mi_every == 0, "{r:?}");
        match r.replica_converged {
            Some(true) => {
                assert!(
                    r.mi_replica_nats_per_latent.is_some_and(f64::is_finite),
                    "{r:?}"
                );
                assert!(r
                    .entropy_replica_nats_per_latent
                    .is_some_and(f64::is_finite));
            }
            Some(false) => {
                assert!(r.mi_replica_nats_per_latent.is_none(), "{r:?}");
                assert!(r.replica_error.is_some(), "{r:?}");
            }
            None => assert!(!r.mi_evaluated),
        }
    }
    // At this size every solve converges (a regression would show here first).
    assert!(rows
        .iter()
        .filter(|r| r.mi_evaluated)
        .all(|r| r.replica_converged == Some(true)));
}

/// Where the first layer is linear, the replica I(X;T_1) through the generative chain equals
/// the exact Gaussian value up to the finite-size error 2.5 / n_Y (see `tests/nn.rs`).
#[test]
fn first_linear_layer_matches_exact() {
    let (cfg, rows) = quick();
    let tol = 2.5 / cfg.n_latent as f64;
    let mut checked = 0;
    for r in rows
        .iter()
        .filter(|r| r.layer == 1 && r.activation == Act::Linear)
    {
        if let (Some(i), Some(e)) = (r.mi_replica_nats_per_latent, r.mi_exact_nats_per_latent) {
            assert!((i - e).abs() < tol, "{r:?}");
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// Training lowers the train and test cross-entropy of every network.
#[test]
fn loss_decreases() {
    let (cfg, rows) = quick();
    for &v in &cfg.variants {
        let at = |epoch: usize| {
            rows.iter()
                .find(|r| r.variant == v && r.epoch == epoch)
                .unwrap()
        };
        let (a, b) = (at(0), at(cfg.epochs));
        assert!(b.train_loss < a.train_loss, "{v:?}: {a:?} -> {b:?}");
        assert!(b.test_loss < a.test_loss, "{v:?}: {a:?} -> {b:?}");
    }
}

/// The quick CSV equals the reference.
///
/// Tolerances: float32 training, deterministic on one machine; 1e-6 relative on losses and
/// accuracies leaves room for another CPU's float32 summation order (an accuracy is a count over
/// 2000 samples, so any real change is >= 5e-4 and fails). The MIs are solved to the solver's
/// tolerance from the trained spectra: 1e-6 nats absolute.
#[test]
fn quick_csv_matches_reference() {
    let (_, rows) = quick();
    let dir = tempfile::tempdir().unwrap();
    let produced = dir.path().join("fig4.csv");
    write_csv(&produced, rows).unwrap();
    let reference = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/reference/fig4_quick.csv");
    let stat = Tolerance::new(1e-9, 1e-6);
    let mi = Tolerance::abs(1e-6);
    let spec = CompareSpec::new(["variant", "seed", "epoch", "layer"])
        .tolerance("width", Tolerance::EXACT)
        .tolerance("train_loss", stat)
        .tolerance("test_loss", stat)
        .tolerance("train_accuracy", stat)
        .tolerance("test_accuracy", stat)
        .tolerance("mi_replica_nats_per_latent", mi)
        .tolerance("entropy_replica_nats_per_latent", mi)
        .tolerance("mi_exact_nats_per_latent", mi);
    let report = compare_csv(&produced, &reference, &spec).unwrap();
    assert!(
        report.passed(),
        "fig4 quick vs reference:\n{}",
        report.failure_table()
    );
    assert!(report.rows_compared > 0);
}

/// `--device`: an unknown device or CUDA in a build without it is an error that says why (nothing
/// is trained); `auto` in a build without CUDA trains on the CPU, says so, and the provenance
/// records `cpu`.
#[test]
fn device_option_is_checked_and_recorded() {
    let out = std::env::temp_dir().join(format!("replica-mi-fig4-device-{}", std::process::id()));
    let run = |device: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fig4"))
            .args(["--scale", "quick", "--quiet", "--device", device, "--out"])
            .arg(&out)
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run fig4")
    };
    let o = run("tpu");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("expected cpu, cuda, cuda:N or auto"),
        "{err}"
    );
    assert!(
        !out.join("fig4.csv").exists(),
        "nothing is written for a bad device"
    );
    if !candle_core::utils::cuda_is_available() {
        let o = run("cuda");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("--features cuda"),
            "{err}"
        );
        let o = run("auto");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(err.contains("using the CPU"), "{err}");
        let prov = std::fs::read_to_string(out.join("fig4.provenance.json")).unwrap();
        assert!(prov.contains("\"device\": \"cpu\""), "{prov}");
    }
    std::fs::remove_dir_all(&out).ok();
}

/// `--epochs N` replaces the scale's epoch count and scales the zoomed panels with it, exactly as
/// a configuration built with that count.
#[test]
fn epochs_override_matches_a_config_built_with_it() {
    let default = Fig4Config::for_scale(Scale::Default);
    let quick50 = Fig4Config::for_scale(Scale::Quick).with_epochs(default.epochs);
    assert_eq!(
        (quick50.epochs, quick50.zoom_epochs),
        (default.epochs, default.zoom_epochs)
    );
    let short = Fig4Config::for_scale(Scale::Paper).with_epochs(2);
    assert_eq!((short.epochs, short.zoom_epochs), (2, 2));
}

/// The provenance names the engine that computed the training steps: the CPU engine, on the CPU.
#[test]
fn provenance_names_the_engine() {
    let out = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_fig4"))
        .args(["--scale", "quick", "--quiet", "--epochs", "1", "--out"])
        .arg(out.path())
        .output()
        .expect("run fig4");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let prov: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("fig4.provenance.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(prov["engine"], "cpu-engine", "{prov}");
    assert_eq!(prov["device"], "cpu", "{prov}");
}
