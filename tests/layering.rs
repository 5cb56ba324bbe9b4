//! Layering: the training side (`src/nn/`) knows candle, faer, rand, std and its own types only.
//! What connects it to the estimator and to the data sets lives in `src/bridge/`.
//!
//! Read every source file of `src/nn/` and fail if one names a module it must not know: the
//! estimator (`crate::replica`, `replica_core`), the data sets (`crate::synth`, `crate::data`),
//! the figure harness (`crate::experiment`) or the bridge (`crate::bridge`). Any other path into
//! the crate (`crate::...`) must start with an allowed root: `nn` itself; `exact`, for the one
//! seeded Gaussian draw (`exact::gaussian_matrix`) that the network's initial weights share with
//! the exact checks (the same draws); or `checked`, the generic `Checked<T>` / `Check` wrapper
//! (a value that passed its rules; no domain knowledge, no dependency but serde) that
//! `TrainConfig` and `NetworkSpec` are checked into, as every parameter type of the crate is.
//! Comments count too: a doc link is a dependency of the docs.

use std::path::{Path, PathBuf};

/// Strings no file of `src/nn/` may contain.
const FORBIDDEN: &[&str] = &[
    "crate::replica",
    "crate::synth",
    "replica_core",
    "crate::experiment",
    "crate::bridge",
    "crate::data",
    "replica_mi::",
];

/// The roots a `crate::` path in `src/nn/` may start with (`checked`: the generic `Checked<T>`,
/// see the module doc).
const ALLOWED_CRATE_ROOTS: &[&str] = &["nn", "exact", "checked"];

/// The `.rs` files under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every violation in `text` (the contents of `file`): `file:line: what`.
fn violations(file: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", i + 1);
        for f in FORBIDDEN {
            if line.contains(f) {
                out.push(format!("{at}: names `{f}`: {}", line.trim()));
            }
        }
        for (pos, _) in line.match_indices("crate::") {
            let rest = &line[pos + "crate::".len()..];
            let root: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
                .collect();
            if !ALLOWED_CRATE_ROOTS.contains(&root.as_str()) {
                out.push(format!(
                    "{at}: path `crate::{root}` outside the allowed roots {ALLOWED_CRATE_ROOTS:?}: {}",
                    line.trim()
                ));
            }
        }
    }
    out
}

#[test]
fn nn_knows_only_candle_and_its_own_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/nn");
    let files = rust_files(&dir);
    assert!(
        files.len() >= 5,
        "expected the sources of src/nn, found {files:?}"
    );
    let mut found = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
        found.extend(violations(&name.display().to_string(), &text));
    }
    assert!(
        found.is_empty(),
        "src/nn must not know the estimator, the data sets, the harness or the bridge \
         (move the code to src/bridge/):\n{}",
        found.join("\n")
    );
}

/// The check itself catches what it should (a test of the test).
#[test]
fn the_check_catches_each_kind_of_violation() {
    for bad in [
        "use crate::replica::Activation;",
        "use crate::synth::Dataset;",
        "use replica_core::spec;",
        "/// see [`crate::experiment::fig3`]",
        "use crate::bridge::MiRecorder;",
        "use crate::{replica, nn};",
        "use crate::spec::Spec;",
    ] {
        assert!(!violations("x.rs", bad).is_empty(), "not caught: {bad}");
    }
    for good in [
        "use crate::nn::Act;",
        "let g = crate::exact::gaussian_matrix(n, m, 1.0, rng);",
        "use super::layer::Act;",
        "use crate::checked::{Check, Checked};",
        "use candle_core::Tensor;",
    ] {
        assert!(
            violations("x.rs", good).is_empty(),
            "wrongly caught: {good}"
        );
    }
}
