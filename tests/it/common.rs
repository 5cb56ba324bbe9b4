//! What the figure harness's tests share.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The seed of the paper's runs and of the stored quick-scale references.
pub const SEED: u64 = 2018;

/// Fashion-MNIST for Figure S2: `$REPLICA_MI_FASHION_MNIST`, or Debian's folder
/// (`make data-fashion-mnist`).
pub fn fashion_mnist() -> PathBuf {
    std::env::var_os("REPLICA_MI_FASHION_MNIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(replica_mi::data::FASHION_MNIST_DIR))
}

/// A file's bytes; the path in the panic message when it cannot be read.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON file (a provenance record).
pub fn json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run `bin` with `args`, which must succeed (its stderr in the panic message otherwise).
pub fn run(bin: &str, args: &[&str]) -> Output {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("start the binary");
    assert!(
        out.status.success(),
        "{bin} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The provenance fields that an unsharded run and its shards merged must share (`what` names
/// the figure in the message).
pub fn same_provenance(a: &Value, b: &Value, what: &str) {
    for key in [
        "name",
        "config",
        "seed",
        "scale",
        "crate_version",
        "git_commit",
        "device",
        "engine",
    ] {
        assert_eq!(a[key], b[key], "{what}: provenance field {key}");
    }
}
