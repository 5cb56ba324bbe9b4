//! Inputs that must not hang the `replica-mi` binary or flood its stderr: every one exits 2 at
//! once with a one-line message naming the problem (the field, where there is one). Also: a prior
//! mean that cannot enter the result (a linear chain) does not make the solve fail.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::BIN;

const PRIOR: &str = "[prior]\nkind = \"gaussian\"\nmean = 0.0\nvar = 1.0\n";
const LAYER: &str = "[[layers]]\nalpha = 1.0\nactivation = \"linear\"\nnoise_var = 0.01\n\
                     weights = { kind = \"gaussian\", var = 1.0 }\n";

/// Run on `spec` with a watchdog: a run that blocks is killed after 20 s and fails the test
/// (the wanted behaviour is an answer in well under a second).
fn run_spec(spec: &Path) -> (Output, f64) {
    let t0 = Instant::now();
    let mut child = Command::new(BIN)
        .args(["entropy", spec.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run replica-mi");
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("replica-mi on {} ran past 20 s", spec.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out, t0.elapsed().as_secs_f64())
}

/// Exit 2, nothing on stdout, one short line on stderr containing every `expect`.
fn assert_refused(name: &str, spec: &Path, expect: &[&str]) {
    let (o, secs) = run_spec(spec);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{name}: stderr {err:.500}");
    assert!(o.stdout.is_empty(), "{name}: stdout not empty");
    assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err:.1000}");
    assert!(err.len() < 1000, "{name}: {} bytes on stderr", err.len());
    for e in expect {
        assert!(err.contains(e), "{name}: stderr lacks {e:?}: {err}");
    }
    // generous: the limit is "at once"; a debug build on a loaded machine takes ~0.1 s
    assert!(secs < 5.0, "{name}: {secs:.1} s");
}

#[test]
fn a_spec_path_must_be_a_small_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused("directory", dir.path(), &["directory"]);
    let fifo = dir.path().join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo is needed");
    assert_refused("FIFO", &fifo, &["not a regular file"]);
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "x".repeat(3 << 20)).unwrap();
    assert_refused("3 MB spec", &big, &["over the limit"]);
}

#[test]
fn a_long_garbage_line_is_quoted_cut() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!("{PRIOR}junk = {}\n", "7".repeat(500_000) + "?"),
    )
    .unwrap();
    assert_refused("long line", &spec, &["line 5", "characters in all"]);
}

#[test]
fn too_many_layers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, format!("{PRIOR}{}", LAYER.repeat(1001))).unwrap();
    assert_refused("1001 layers", &spec, &["layers", "at most 1000"]);
}

#[test]
fn strings_for_numbers_name_their_field() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    let cases = [
        (
            "alpha",
            LAYER.replace("alpha = 1.0", "alpha = \"inf\""),
            "layers[0].alpha",
        ),
        (
            "noise_var",
            LAYER.replace("noise_var = 0.01", "noise_var = \"nan\""),
            "layers[0].noise_var",
        ),
        ("mean", LAYER.to_string(), "prior.mean"),
    ];
    for (name, layer, field) in cases {
        let prior = if name == "mean" {
            PRIOR.replace("mean = 0.0", "mean = \"inf\"")
        } else {
            PRIOR.to_string()
        };
        std::fs::write(&spec, format!("{prior}{layer}")).unwrap();
        assert_refused(name, &spec, &[field, "not a string"]);
    }
}

/// A linear chain's output entropy does not depend on the prior mean (a shift of `T_L`): a mean
/// of 1e200 gives the same numbers as mean 0.
#[test]
fn a_mean_that_cannot_enter_the_result_does_not_break_the_solve() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    let mut out = Vec::new();
    for mean in ["0.0", "1e200"] {
        let prior = PRIOR.replace("mean = 0.0", &format!("mean = {mean}"));
        std::fs::write(&spec, format!("{prior}{LAYER}{LAYER}")).unwrap();
        let o = Command::new(BIN)
            .args(["entropy", spec.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "mean {mean}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.push(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    let entropy = |s: &str| -> f64 {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["entropy"].as_f64().unwrap()
    };
    assert_eq!(entropy(&out[0]).to_bits(), entropy(&out[1]).to_bits());
}
