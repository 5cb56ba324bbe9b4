//! The `replica-mi` binary's notes: a weight matrix summarised by its spectrum is said on stderr
//! (text and JSON modes) and in the JSON's `notes`; `--assume-invariant` silences it; layers given
//! as an ensemble or a spectrum carry no such note.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::BIN;

/// A little-endian float64 `.npy` (format 1.0, C order) of a `rows x cols` matrix.
fn npy(rows: usize, cols: usize, data: &[f64]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn run(spec: &Path, extra: &[&str]) -> Output {
    let o = Command::new(BIN)
        .arg("entropy")
        .arg(spec)
        .args(extra)
        .output()
        .expect("cannot run replica-mi");
    assert!(
        o.status.success(),
        "exit {:?}; stderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn notes_of(o: &Output) -> Vec<String> {
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let records = match v {
        Value::Array(a) => a,
        one => vec![one],
    };
    let first: Vec<String> = serde_json::from_value(records[0]["notes"].clone())
        .unwrap_or_else(|e| panic!("notes is not a list of strings ({e}): {}", records[0]));
    // every record of --all-layers carries the chain's notes
    for r in &records {
        assert_eq!(r["notes"], records[0]["notes"], "{r}");
    }
    first
}

#[test]
fn matrix_layers_are_noted_unless_assumed_invariant() {
    let dir = tempfile::tempdir().unwrap();
    // a 3 x 4 matrix (n_l = 3, n_(l-1) = 4) with distinct singular values, then a spectrum layer
    let w: Vec<f64> = (0..12).map(|k| ((k * 7 % 12) as f64 - 5.5) / 6.0).collect();
    std::fs::write(dir.path().join("w.npy"), npy(3, 4, &w)).unwrap();
    std::fs::write(dir.path().join("eigs.csv"), "0.5\n1.0\n1.5\n").unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        "[prior]\nkind = \"gaussian\"\nvar = 1.0\n\
         [[layers]]\nactivation = \"relu\"\nnoise_var = 0.0\n\
         weights = { kind = \"matrix\", file = \"w.npy\" }\n\
         [[layers]]\nalpha = 1.0\nactivation = \"linear\"\nnoise_var = 0.01\n\
         weights = { kind = \"spectrum\", file = \"eigs.csv\" }\n",
    )
    .unwrap();

    for extra in [&["--json"][..], &["--json", "--all-layers"][..]] {
        let o = run(&spec, extra);
        let notes = notes_of(&o);
        assert_eq!(notes.len(), 1, "{notes:?}");
        // only the matrix layer is named; the spectrum layer is the user's own statement
        assert!(
            notes[0].starts_with("layers[0].weights: the weight matrix is summarised"),
            "{}",
            notes[0]
        );
        assert!(notes[0].contains("Haar-random"), "{}", notes[0]);
        assert!(notes[0].contains("approximation"), "{}", notes[0]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("replica-mi: note: layers[0].weights"), "{err}");
    }
    // text mode: the note on stderr, the table on stdout
    let o = run(&spec, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Haar-random"), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("Haar-random"));

    // --assume-invariant: quiet, same numbers
    let loud = run(&spec, &["--json"]);
    let quiet = run(&spec, &["--json", "--assume-invariant"]);
    assert!(notes_of(&quiet).is_empty());
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let (a, b): (Value, Value) = (
        serde_json::from_slice(&loud.stdout).unwrap(),
        serde_json::from_slice(&quiet.stdout).unwrap(),
    );
    assert_eq!(a["entropy"], b["entropy"]);
    let o = run(&spec, &["--assume-invariant"]);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn ensembles_and_spectra_carry_no_note() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eigs.csv"), "0.5\n1.0\n").unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        "[prior]\nkind = \"gaussian\"\nvar = 1.0\n\
         [[layers]]\nalpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.0\n\
         weights = { kind = \"gaussian\", var = 1.0 }\n\
         [[layers]]\nalpha = 1.0\nactivation = \"linear\"\nnoise_var = 0.0\n\
         weights = { kind = \"orthogonal\" }\n\
         [[layers]]\nalpha = 1.0\nactivation = \"linear\"\nnoise_var = 0.01\n\
         weights = { kind = \"spectrum\", file = \"eigs.csv\" }\n",
    )
    .unwrap();
    let o = run(&spec, &["--json", "--all-layers"]);
    assert!(notes_of(&o).is_empty());
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
