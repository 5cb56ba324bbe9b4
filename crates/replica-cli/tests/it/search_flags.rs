//! `--start-at`, `--candidates` and `--verbose` end to end; and that without them the JSON record
//! has no `candidates` key (the record of a plain solve is unchanged).

use serde_json::Value;

use crate::common::run;

/// Case c049 of `../shared/refs/cases.csv`: one linear layer, alpha 0.5, noise 0.01.
const SPEC: &str = "[prior]\nkind = \"gaussian\"\nvar = 1.0\n[[layers]]\nalpha = 0.5\n\
                    activation = \"linear\"\nnoise_var = 0.01\nweights = { kind = \"gaussian\", var = 1.0 }\n";
const C049_ENTROPY: f64 = 0.6376598551679125;

#[test]
fn start_at_candidates_and_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let spec = spec.to_str().unwrap();
    let plain = run(&["entropy", spec, "--json"]);
    assert_eq!(plain.status.code(), Some(0));
    let first: Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert!(first.get("candidates").is_none(), "{first}");
    let record = dir.path().join("first.json");
    std::fs::write(&record, &plain.stdout).unwrap();

    // from the earlier record's point: the given start converges at once, to the same value
    let o = run(&[
        "entropy",
        spec,
        "--json",
        "--candidates",
        "--verbose",
        "--start-at",
        record.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    // the reference is exact (a Marchenko-Pastur integral); the solve agrees to 1e-8
    let h = v["entropy"].as_f64().unwrap();
    assert!((h - C049_ENTROPY).abs() < 1e-8, "{h}");
    let c = v["candidates"].as_array().unwrap();
    assert_eq!(c[0]["start_kind"], "given");
    assert!(c[0]["iterations"].as_u64().unwrap() <= 2, "{}", c[0]);
    let selected: Vec<&Value> = c.iter().filter(|x| x["selected"] == true).collect();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0]["entropy"].as_f64(), Some(h));
    let err = String::from_utf8_lossy(&o.stderr);
    let trace: Vec<&str> = err.lines().filter(|l| l.contains(": layer 1: ")).collect();
    assert_eq!(trace.len(), c.len() + 1, "{err}");
    assert!(
        trace
            .last()
            .unwrap()
            .starts_with("replica-mi: layer 1: selected: "),
        "{err}"
    );

    // variances as a start, and the text listing
    let o = run(&["entropy", spec, "--start-at", "0.5", "--candidates"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out.contains("candidates of layer 1") && out.contains("  * given start: "),
        "{out}"
    );

    // bad starts: exit 2 naming the field
    for (arg, field) in [
        ("0.5,0.5", "start_at"),
        ("nan", "start_at.v[0]"),
        ("7", "start_at.v[0]"),
    ] {
        let o = run(&["entropy", spec, "--start-at", arg]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{arg}: {err}");
        assert!(err.contains(&format!("invalid {field} = ")), "{arg}: {err}");
    }
    let o = run(&["entropy", spec, "--all-layers", "--start-at", "0.5"]);
    assert_eq!(o.status.code(), Some(2));
}
