//! The `replica-mi` binary end to end: JSON output against closed forms, `--all-layers`, the
//! table output, exit statuses, and one error case per spec rule (each naming its field).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

use crate::common::{run, stderr, stdout, BIN};

/// `../shared/refs/cases.csv`, row c049: Gaussian prior N(0, 1), one linear layer, alpha 0.5,
/// Gaussian weights with s = 1, noise 0.01 (exact, Marchenko-Pastur integral).
const C049_ENTROPY: f64 = 0.6376598551679125;
const C049_MI: f64 = 1.0794831350625989;
const C049_MMSE: f64 = 0.5096223724424931;

const PRIOR: &str = "[prior]\nkind = \"gaussian\"\nmean = 0.0\nvar = 1.0\n";

/// One linear layer, alpha 0.5, Gaussian weights var 1, noise 0.01 (case c049).
const LINEAR_C049: &str = r#"
[prior]
kind = "gaussian"
mean = 0.0
var = 1.0

[[layers]]
alpha = 0.5
activation = "linear"
noise_var = 0.01
weights = { kind = "gaussian", var = 1.0 }
"#;

/// A temp dir holding `spec.toml` and the given extra files.
fn write_spec(spec: &str, files: &[(&str, &str)]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    std::fs::write(&path, spec).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    (dir, path)
}

fn json_of(spec: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["entropy", spec.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(
        o.status.success(),
        "exit {:?}; stderr:\n{}",
        o.status,
        stderr(&o)
    );
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", stdout(&o)))
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

const REQUIRED_KEYS: &[&str] = &[
    "layer",
    "entropy",
    "mutual_information",
    "mi_last_layer",
    "mmse",
    "converged",
    "iterations",
    "scheme",
    "residual",
    "counters",
];

fn assert_record(v: &Value, layer: u64) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    for k in REQUIRED_KEYS {
        assert!(obj.contains_key(*k), "key {k} missing in {v}");
    }
    assert_eq!(v["layer"].as_u64(), Some(layer), "{v}");
    assert_eq!(v["converged"].as_bool(), Some(true), "{v}");
    let scheme = v["scheme"].as_str().unwrap();
    assert!(
        scheme == "fixed-point" || scheme == "ml-vamp",
        "scheme {scheme}"
    );
    assert!(v["iterations"].as_u64().is_some(), "{v}");
    assert!(v["counters"].is_object(), "{v}");
}

#[test]
fn json_linear_gaussian_matches_closed_form() {
    let (_dir, spec) = write_spec(LINEAR_C049, &[]);
    let v = json_of(&spec, &[]);
    assert_record(&v, 1);
    let h = num(&v, "entropy");
    assert!(
        (h - C049_ENTROPY).abs() < 1e-8,
        "entropy {h} vs {C049_ENTROPY}"
    );
    let mi = num(&v, "mutual_information");
    assert!((mi - C049_MI).abs() < 1e-8, "MI {mi} vs {C049_MI}");
    assert!((num(&v, "mi_last_layer") - C049_MI).abs() < 1e-8);
    let mmse = num(&v, "mmse");
    assert!(
        (mmse - C049_MMSE).abs() < 1e-6,
        "mmse {mmse} vs {C049_MMSE}"
    );
}

#[test]
fn all_layers_returns_first_layer_first() {
    // Layer 1 is c049 (measured with the output noise 0.01); layer 2 follows it.
    let spec_text = format!(
        "{PRIOR}
[[layers]]
alpha = 0.5
activation = \"linear\"
noise_var = 0.0
weights = {{ kind = \"gaussian\", var = 1.0 }}

[[layers]]
alpha = 1.0
activation = \"linear\"
noise_var = 0.01
weights = {{ kind = \"gaussian\", var = 1.0 }}
"
    );
    let (_dir, spec) = write_spec(&spec_text, &[]);
    let v = json_of(&spec, &["--all-layers"]);
    let arr = v.as_array().unwrap_or_else(|| panic!("not an array: {v}"));
    assert_eq!(arr.len(), 2);
    assert_record(&arr[0], 1);
    assert_record(&arr[1], 2);
    let h1 = num(&arr[0], "entropy");
    assert!(
        (h1 - C049_ENTROPY).abs() < 1e-8,
        "layer 1 entropy {h1} vs {C049_ENTROPY}"
    );
    // The full chain alone gives the same numbers as the last entry.
    let last = json_of(&spec, &[]);
    assert!((num(&last, "entropy") - num(&arr[1], "entropy")).abs() < 1e-12);

    // Table form: one row per layer.
    let o = run(&["entropy", spec.to_str().unwrap(), "--all-layers"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0].trim_start().starts_with('1') && rows[1].trim_start().starts_with('2'));
}

#[test]
fn noisy_inner_layers_leave_mi_undefined() {
    let spec_text = format!(
        "{PRIOR}
[[layers]]
alpha = 1.0
activation = \"linear\"
noise_var = 0.1
weights = {{ kind = \"gaussian\", var = 1.0 }}

[[layers]]
alpha = 1.0
activation = \"linear\"
noise_var = 0.01
weights = {{ kind = \"gaussian\", var = 1.0 }}
"
    );
    let (_dir, spec) = write_spec(&spec_text, &[]);
    let v = json_of(&spec, &[]);
    assert_record(&v, 2);
    assert!(v["mutual_information"].is_null(), "{v}");
    assert!(num(&v, "mi_last_layer").is_finite());

    let o = run(&["entropy", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("undefined (noisy inner layers)"), "{out}");
    assert!(out.contains("I(T_1;T_2)/n_0"), "{out}");
    assert!(out.contains("nats"), "{out}");
}

#[test]
fn spectrum_file_is_relative_to_spec_and_matches_gaussian_entropy() {
    let eigs = [0.12, 0.31, 0.48, 0.66, 0.85, 1.02, 1.23, 1.47, 1.79, 2.07];
    let file: String = std::iter::once("eigenvalue".to_string())
        .chain(eigs.iter().map(|e| e.to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    let spec_text = format!(
        "{PRIOR}
[[layers]]
alpha = 1.0
activation = \"linear\"
noise_var = 0.01
weights = {{ kind = \"spectrum\", file = \"eigs.csv\" }}
"
    );
    let (dir, spec) = write_spec(&spec_text, &[("eigs.csv", &file)]);
    // Run from elsewhere: the file must be found next to the spec.
    let o = Command::new(BIN)
        .args(["entropy", "--json", spec.to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Y = W X + noise with X ~ N(0, I), alpha = 1: H(Y)/n_0 = mean_i ln(2 pi e (lambda_i + s2)) / 2.
    let s2 = 0.01;
    let n = eigs.len() as f64;
    let h: f64 = eigs
        .iter()
        .map(|l| 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * (l + s2)).ln())
        .sum::<f64>()
        / n;
    let mi: f64 = eigs.iter().map(|l| 0.5 * ((l + s2) / s2).ln()).sum::<f64>() / n;
    assert!((num(&v, "entropy") - h).abs() < 1e-8, "{v} vs {h}");
    assert!(
        (num(&v, "mutual_information") - mi).abs() < 1e-8,
        "{v} vs {mi}"
    );
    drop(dir);
}

#[test]
fn example_specs_solve() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/specs");
    for name in [
        "relu_1layer.toml",
        "hardtanh_2layer.toml",
        "linear_spectrum.toml",
    ] {
        let v = json_of(&dir.join(name), &[]);
        let layers = if name.contains("2layer") { 2 } else { 1 };
        assert_record(&v, layers);
        assert!(num(&v, "entropy").is_finite(), "{name}: {v}");
        assert!(num(&v, "mutual_information").is_finite(), "{name}: {v}");
    }
}

#[test]
fn table_output_is_labelled() {
    let (_dir, spec) = write_spec(LINEAR_C049, &[]);
    let o = run(&["entropy", spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for label in [
        "H(T_1)/n_0",
        "I(X;T_1)/n_0",
        "MMSE of X",
        "scheme",
        "iterations",
        "residual",
        "nats",
    ] {
        assert!(out.contains(label), "{label} missing in:\n{out}");
    }
    assert!(out.contains(&format!("{C049_ENTROPY:.9}")), "{out}");
}

#[test]
fn help_and_version() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for word in [
        "nats",
        "n_0",
        "[prior]",
        "[[layers]]",
        "noise_var",
        "spectrum",
    ] {
        assert!(out.contains(word), "--help lacks {word}:\n{out}");
    }
    let o = run(&["entropy", "--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("nats"));
    let o = run(&["--version"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn non_convergence_exits_3() {
    let spec =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/specs/relu_1layer.toml");
    let o = run(&["entropy", spec.to_str().unwrap(), "--max-iter", "1"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stderr(&o).contains("converge"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn bad_arguments_exit_2() {
    let o = run(&["entropy", "/nonexistent/spec.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/spec.toml"),
        "{}",
        stderr(&o)
    );
    let (_dir, spec) = write_spec(LINEAR_C049, &[]);
    let o = run(&["entropy", spec.to_str().unwrap(), "--tol", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--tol"), "{}", stderr(&o));
    let o = run(&["entropy"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A one-layer spec with the given layer body (Gaussian prior).
fn one_layer(body: &str) -> String {
    format!("{PRIOR}\n[[layers]]\n{body}\n")
}

const GOOD_LAYER: &str =
    "alpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.01\nweights = { kind = \"gaussian\", var = 1.0 }";

struct Case {
    name: &'static str,
    spec: String,
    files: Vec<(&'static str, &'static str)>,
    /// Every one of these must appear on stderr.
    expect: Vec<&'static str>,
}

fn case(
    name: &'static str,
    spec: String,
    files: &[(&'static str, &'static str)],
    expect: &[&'static str],
) -> Case {
    Case {
        name,
        spec,
        files: files.to_vec(),
        expect: expect.to_vec(),
    }
}

fn spectrum_layer(alpha: f64) -> String {
    one_layer(&format!(
        "alpha = {alpha:?}\nactivation = \"linear\"\nnoise_var = 0.01\nweights = {{ kind = \"spectrum\", file = \"eigs.csv\" }}"
    ))
}

/// Every case fails with exit status 2, prints nothing on stdout and names its field (and what
/// it expects) on stderr, with and without `--json`; all failures are collected and printed
/// together with the case names.
fn assert_spec_errors(cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let (_dir, spec) = write_spec(&c.spec, &c.files);
        for json in [false, true] {
            let mut args = vec!["entropy", spec.to_str().unwrap()];
            if json {
                args.push("--json");
            }
            let o = run(&args);
            let err = stderr(&o);
            if o.status.code() != Some(2) {
                failures.push(format!(
                    "{} (json={json}): exit {:?}, want 2; stderr: {err}",
                    c.name,
                    o.status.code()
                ));
                continue;
            }
            if !stdout(&o).is_empty() {
                failures.push(format!(
                    "{} (json={json}): stdout not empty: {}",
                    c.name,
                    stdout(&o)
                ));
            }
            for e in &c.expect {
                if !err.contains(e) {
                    failures.push(format!(
                        "{} (json={json}): stderr lacks {e:?}: {err}",
                        c.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Invalid priors: unknown kind, variance <= 0 or NaN, NaN mean, `p` outside its interval.
#[test]
fn spec_errors_prior() {
    let good_layer = GOOD_LAYER;
    assert_spec_errors(&[
        case(
            "unknown prior kind",
            format!("[prior]\nkind = \"laplace\"\nvar = 1.0\n\n[[layers]]\n{good_layer}\n"),
            &[],
            &["prior.kind", "laplace", "\"gaussian\"", "\"binary\"", "\"gauss-bernoulli\""],
        ),
        case(
            "negative prior variance",
            format!("[prior]\nkind = \"gaussian\"\nvar = -1.0\n\n[[layers]]\n{good_layer}\n"),
            &[],
            &["prior.var", "> 0"],
        ),
        case(
            "NaN prior variance",
            format!("[prior]\nkind = \"gaussian\"\nvar = nan\n\n[[layers]]\n{good_layer}\n"),
            &[],
            &["prior.var", "NaN"],
        ),
        case(
            "NaN prior mean",
            format!("[prior]\nkind = \"gaussian\"\nmean = nan\nvar = 1.0\n\n[[layers]]\n{good_layer}\n"),
            &[],
            &["prior.mean"],
        ),
        case(
            "binary p = 1",
            format!("[prior]\nkind = \"binary\"\np = 1.0\n\n[[layers]]\n{good_layer}\n"),
            &[],
            &["prior.p", "(0, 1)"],
        ),
        case(
            "gauss-bernoulli p = 0",
            format!("[prior]\nkind = \"gauss-bernoulli\"\np = 0.0\nvar = 1.0\n\n[[layers]]\n{good_layer}\n"),
            &[],
            &["prior.p", "(0, 1]"],
        ),
    ]);
}

/// Invalid layers: unknown activation or weights kind, alpha or noise out of range (first and
/// second layer, output and inner), activation parameters missing, out of range or of another
/// kind, no layer at all.
#[test]
fn spec_errors_layers() {
    let good_layer = GOOD_LAYER;
    assert_spec_errors(&[
        case(
            "unknown activation",
            one_layer("alpha = 1.0\nactivation = \"tanh\"\nnoise_var = 0.01\nweights = { kind = \"gaussian\", var = 1.0 }"),
            &[],
            &["layers[0].activation", "tanh", "\"relu\"", "\"hardtanh\""],
        ),
        case(
            "unknown weights kind",
            one_layer("alpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.01\nweights = { kind = \"wishart\" }"),
            &[],
            &["layers[0].weights.kind", "\"orthogonal\"", "\"spectrum\""],
        ),
        case(
            "negative weight variance",
            one_layer("alpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.01\nweights = { kind = \"gaussian\", var = -2.0 }"),
            &[],
            &["layers[0].weights.var", "> 0"],
        ),
        case(
            "NaN noise",
            one_layer("alpha = 1.0\nactivation = \"relu\"\nnoise_var = nan\nweights = { kind = \"gaussian\", var = 1.0 }"),
            &[],
            &["layers[0].noise_var"],
        ),
        case(
            "zero alpha",
            one_layer("alpha = 0.0\nactivation = \"relu\"\nnoise_var = 0.01\nweights = { kind = \"gaussian\", var = 1.0 }"),
            &[],
            &["layers[0].alpha", "> 0"],
        ),
        case(
            "negative alpha in second layer",
            format!(
                "{PRIOR}\n[[layers]]\n{good_layer}\n\n[[layers]]\nalpha = -1.0\nactivation = \"relu\"\nnoise_var = 0.01\nweights = {{ kind = \"orthogonal\" }}\n"
            ),
            &[],
            &["layers[1].alpha"],
        ),
        case(
            "zero output noise",
            one_layer("alpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.0\nweights = { kind = \"gaussian\", var = 1.0 }"),
            &[],
            &["layers[0].noise_var", "output"],
        ),
        case(
            "zero output noise in second layer",
            format!(
                "{PRIOR}\n[[layers]]\n{good_layer}\n\n[[layers]]\nalpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.0\nweights = {{ kind = \"orthogonal\" }}\n"
            ),
            &[],
            &["layers[1].noise_var", "output"],
        ),
        case(
            "negative inner noise",
            format!(
                "{PRIOR}\n[[layers]]\nalpha = 1.0\nactivation = \"relu\"\nnoise_var = -0.1\nweights = {{ kind = \"orthogonal\" }}\n\n[[layers]]\n{good_layer}\n"
            ),
            &[],
            &["layers[0].noise_var", ">= 0"],
        ),
        case(
            "leaky-relu slope out of range",
            one_layer("alpha = 1.0\nactivation = \"leaky-relu\"\nslope = 1.5\nnoise_var = 0.01\nweights = { kind = \"orthogonal\" }"),
            &[],
            &["layers[0].slope", "[0, 1]"],
        ),
        case(
            "leaky-relu without slope",
            one_layer("alpha = 1.0\nactivation = \"leaky-relu\"\nnoise_var = 0.01\nweights = { kind = \"orthogonal\" }"),
            &[],
            &["layers[0].slope"],
        ),
        case(
            "hardtanh threshold not positive",
            one_layer("alpha = 1.0\nactivation = \"hardtanh\"\nthreshold = -1.0\nnoise_var = 0.01\nweights = { kind = \"orthogonal\" }"),
            &[],
            &["layers[0].threshold", "> 0"],
        ),
        case(
            "parameter of another kind",
            one_layer("alpha = 1.0\nactivation = \"relu\"\nthreshold = 2.0\nnoise_var = 0.01\nweights = { kind = \"orthogonal\" }"),
            &[],
            &["layers[0].threshold", "\"relu\""],
        ),
        case(
            "missing alpha",
            one_layer("activation = \"relu\"\nnoise_var = 0.01\nweights = { kind = \"orthogonal\" }"),
            &[],
            &["layers[0].alpha"],
        ),
        case(
            "no layers",
            PRIOR.to_string(),
            &[],
            &["layers"],
        ),
    ]);
}

/// Spectrum files: missing, empty, header only, a negative or non-numeric line, scale <= 0, more
/// positive eigenvalues than alpha allows.
#[test]
fn spec_errors_spectrum_files() {
    assert_spec_errors(&[
        case(
            "missing spectrum file",
            spectrum_layer(1.0),
            &[],
            &["layers[0].weights.file", "eigs.csv"],
        ),
        case(
            "empty spectrum file",
            spectrum_layer(1.0),
            &[("eigs.csv", "")],
            &["layers[0].weights.file", "eigs.csv", "no eigenvalues"],
        ),
        case(
            "header-only spectrum file",
            spectrum_layer(1.0),
            &[("eigs.csv", "eigenvalue\n")],
            &["layers[0].weights.file", "eigs.csv", "no eigenvalues"],
        ),
        case(
            "negative eigenvalue",
            spectrum_layer(1.0),
            &[("eigs.csv", "eigenvalue\n1.0\n-0.5\n2.0\n")],
            &["layers[0].weights.file", "eigs.csv", "line 3", "negative"],
        ),
        case(
            "non-numeric line",
            spectrum_layer(1.0),
            &[("eigs.csv", "eigenvalue\n1.0\nabc\n2.0\n")],
            &["layers[0].weights.file", "eigs.csv", "line 3", "abc"],
        ),
        case(
            "spectrum scale not positive",
            one_layer("alpha = 1.0\nactivation = \"linear\"\nnoise_var = 0.01\nweights = { kind = \"spectrum\", file = \"eigs.csv\", scale = 0.0 }"),
            &[("eigs.csv", "1.0\n2.0\n")],
            &["layers[0].weights.scale", "> 0"],
        ),
        case(
            "too many positive eigenvalues for alpha",
            spectrum_layer(0.5),
            &[("eigs.csv", "eigenvalue\n1.0\n2.0\n3.0\n4.0\n")],
            &["layers[0].weights.file", "eigs.csv", "alpha = 0.5"],
        ),
    ]);
}

/// Unknown keys at every level and TOML syntax errors.
#[test]
fn spec_errors_unknown_keys_and_syntax() {
    let good_layer = GOOD_LAYER;
    assert_spec_errors(&[
        case(
            "unknown key in layer",
            one_layer(&format!("{good_layer}\ncolour = \"red\"")),
            &[],
            &["colour", "unknown field"],
        ),
        case(
            "unknown top-level key",
            format!("solver = \"fast\"\n{PRIOR}\n[[layers]]\n{good_layer}\n"),
            &[],
            &["solver", "unknown field"],
        ),
        case(
            "unknown key in weights",
            one_layer("alpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.01\nweights = { kind = \"gaussian\", variance = 1.0 }"),
            &[],
            &["variance", "unknown field"],
        ),
        case(
            "TOML syntax error",
            format!("{PRIOR}\n[[layers]\n{good_layer}\n"),
            &[],
            &["line"],
        ),

    ]);
}

/// `--all-layers` with a failing truncation still prints every truncation, each with its own
/// `converged` and error, and exits 3 (one sweep converges nowhere but in closed forms).
#[test]
fn all_layers_reports_every_truncation_when_one_fails() {
    let spec =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/specs/relu_1layer.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    // two layers: the example's layer, then a noisy ReLU layer of Gaussian weights
    let two = format!(
        "{text}\n[[layers]]\nalpha = 1.0\nactivation = \"relu\"\nnoise_var = 0.01\nweights = {{ kind = \"gaussian\", var = 1.0 }}\n"
    );
    let (_dir, path) = write_spec(&two, &[]);
    for json in [false, true] {
        let mut args = vec![
            "entropy",
            path.to_str().unwrap(),
            "--all-layers",
            "--max-iter",
            "1",
        ];
        if json {
            args.push("--json");
        }
        let o = run(&args);
        assert_eq!(
            o.status.code(),
            Some(3),
            "json={json}\nstdout:\n{}\nstderr:\n{}",
            stdout(&o),
            stderr(&o)
        );
        let out = stdout(&o);
        if json {
            let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            let arr = v.as_array().unwrap_or_else(|| panic!("{v}"));
            assert_eq!(arr.len(), 2, "{v}");
            for (k, r) in arr.iter().enumerate() {
                assert_eq!(r["layer"].as_u64(), Some(k as u64 + 1), "{r}");
                let converged = r["converged"].as_bool().unwrap();
                assert_eq!(converged, r["error"].is_null(), "{r}");
                assert_eq!(converged, r["entropy"].is_f64(), "{r}");
            }
            assert!(
                arr.iter().any(|r| r["converged"] == Value::Bool(false)),
                "{v}"
            );
        } else {
            let rows: Vec<&str> = out
                .lines()
                .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
                .collect();
            assert_eq!(rows.len(), 2, "{out}");
            assert!(out.contains("error:"), "{out}");
        }
        assert!(stderr(&o).contains("converge"), "{}", stderr(&o));
    }
}

/// A result that cannot be written (stdout on a full device) exits 4, not 3 (not converged).
#[test]
fn unwritable_output_exits_4() {
    // Linux (the CI's system) always has /dev/full: every write to it fails with ENOSPC
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full (Linux)");
    let (_dir, spec) = write_spec(LINEAR_C049, &[]);
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec!["entropy", spec.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = Command::new(BIN)
            .args(&args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(4), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("writing to stdout"), "{}", stderr(&o));
    }
}
