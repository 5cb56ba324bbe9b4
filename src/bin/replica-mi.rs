//! `replica-mi`: replica estimates of entropy and mutual information of a multi-layer stochastic
//! network described by a TOML spec file.

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use replica_mi::replica::solve::Counters;
use replica_mi::replica::{
    solve, solve_all_layers, Chain, Estimate, OrderParams, ReplicaError, Scheme, SolverOptions,
};
use replica_mi::spec::{load_spec_with_options, SpecError, SpecOptions};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const SPEC_HELP: &str = r#"UNITS
  All entropies and informations are in nats per input dimension n_0 (H(T_L)/n_0, I(X;T_L)/n_0),
  in the limit n_0 -> infinity with the layer ratios alpha_l = n_l/n_{l-1} fixed. The MMSE is per
  entry of X.

SPEC FORMAT (TOML)
  [prior]
  kind = "gaussian"          # "gaussian" {mean=0, var} | "binary" {p} | "gauss-bernoulli" {p, mean=0, var}
  var = 1.0

  [[layers]]                 # one table per layer, input side first: T_l = phi(W_l T_{l-1} + noise)
  alpha = 1.0                # n_l / n_{l-1}
  activation = "relu"        # "linear" | "relu" | "leaky-relu" {slope in [0,1]}
                             # | "hardtanh" {threshold > 0, default 1} | "sign"
  noise_var = 1e-5           # >= 0; the last layer needs > 0
  weights = { kind = "gaussian", var = 1.0 }   # entries N(0, var/n_{l-1})
  # weights = { kind = "orthogonal" }
  # weights = { kind = "spectrum", file = "eigs.csv", scale = 1.0 }
  #   file: eigenvalues of W^T W, one per line (optional header), relative to the spec file
  # weights = { kind = "matrix", file = "w.npy" }          # alpha optional: the shape gives it
  # weights = { kind = "matrix", file = "net.safetensors", tensor = "fc1.weight", scale = 1.0 }
  #   file: W itself, n_l x n_(l-1) (PyTorch's Linear.weight), in .npy, .npz (tensor = member
  #   name) or .safetensors (tensor = name), float16/32/64; read as its transpose only when the
  #   shape leaves no doubt (a note on stderr says so); spectrum of W^T W computed in f64;
  #   only that spectrum enters (singular vectors taken as Haar-random: an approximation for a
  #   trained matrix), said by a note on stderr and in the JSON's `notes` unless --assume-invariant

EXIT STATUS
  0 success, 2 invalid spec or arguments, 3 the replica equations did not converge (for
  --all-layers: for at least one truncation; every truncation is still printed, each with its own
  `converged` and error), 4 the output could not be written (e.g. a full disk)."#;

/// Replica estimates of entropy and mutual information in deep stochastic networks.
///
/// Results are in nats per input dimension n_0.
#[derive(Parser, Debug)]
#[command(name = "replica-mi", version, after_help = SPEC_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Entropy H(T_L)/n_0, mutual information I(X;T_L)/n_0 (nats) and MMSE of X for a spec.
    #[command(after_help = SPEC_HELP)]
    Entropy {
        /// The network spec (TOML).
        spec: PathBuf,
        /// Print one JSON object (an array of them with --all-layers) instead of a table.
        #[arg(long)]
        json: bool,
        /// Measure every truncation T_1..T_L (each with the output layer's noise), first layer first.
        #[arg(long)]
        all_layers: bool,
        /// Convergence threshold on the relative change of the order parameters per sweep.
        #[arg(long, value_name = "TOL")]
        tol: Option<f64>,
        /// Largest number of sweeps per start of the iteration.
        #[arg(long, value_name = "N")]
        max_iter: Option<usize>,
        /// The weight matrices are orthogonally invariant (USV layers with Haar U, V, or i.i.d.
        /// Gaussian): no note that their spectrum stands for them.
        #[arg(long)]
        assume_invariant: bool,
    },
}

/// A failure with its exit status.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    fn input(error: anyhow::Error) -> Self {
        Failure { code: 2, error }
    }
    /// Writing the result failed (stdout closed with an error, disk full): not a solver failure.
    fn output(error: anyhow::Error) -> Self {
        Failure { code: 4, error }
    }
    /// Errors of the estimator: invalid parameters are input errors, the rest solver failures.
    fn from_replica(e: ReplicaError, what: String) -> Self {
        let code = match e {
            ReplicaError::InvalidParameter { .. } | ReplicaError::InvalidChain(_) => 2,
            _ => 3,
        };
        Failure {
            code,
            error: anyhow::Error::new(e).context(what),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("replica-mi: error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Entropy {
            spec,
            json,
            all_layers,
            tol,
            max_iter,
            assume_invariant,
        } => {
            let mut opts = SolverOptions::default();
            if let Some(t) = tol {
                opts = opts
                    .with_tol(t)
                    .map_err(|e| Failure::input(anyhow!("--tol: {e}")))?;
            }
            if let Some(n) = max_iter {
                opts = opts
                    .with_max_iter(n)
                    .map_err(|e| Failure::input(anyhow!("--max-iter: {e}")))?;
            }
            let options = SpecOptions { assume_invariant };
            let loaded = load_spec_with_options(&spec, options).map_err(|e| {
                Failure::input(match e {
                    SpecError::Io { .. } => anyhow::Error::new(e),
                    _ => anyhow::Error::new(e).context(format!("spec {}", spec.display())),
                })
            })?;
            for note in &loaded.notes {
                eprintln!("replica-mi: note: {note}");
            }
            entropy(&spec, &loaded.chain, &loaded.notes, &opts, json, all_layers)
        }
    }
}

fn entropy(
    spec: &Path,
    chain: &Chain,
    notes: &[String],
    opts: &SolverOptions,
    json: bool,
    all_layers: bool,
) -> Result<(), Failure> {
    if !all_layers {
        let l = chain.len();
        let est = solve(chain, opts)
            .map_err(|e| Failure::from_replica(e, format!("layer {l} of {}", spec.display())))?;
        if json {
            print_json(&Report::new(l, Ok(&est), notes))?;
        } else {
            emit(&format_single(spec, chain, &est))?;
        }
        return Ok(());
    }
    // Every truncation is reported, converged or not; the exit status is the first failure's.
    let results = solve_all_layers(chain, opts);
    let mut failure: Option<Failure> = None;
    for (k, r) in results.iter().enumerate() {
        if let Err(e) = r {
            let f =
                Failure::from_replica(e.clone(), format!("layer {} of {}", k + 1, spec.display()));
            eprintln!("replica-mi: error: {:#}", f.error);
            if failure.is_none() {
                failure = Some(f);
            }
        }
    }
    if json {
        let reports: Vec<Report> = results
            .iter()
            .enumerate()
            .map(|(k, r)| Report::new(k + 1, r.as_ref(), notes))
            .collect();
        print_json(&reports)?;
    } else {
        emit(&format_table(spec, chain, &results))?;
    }
    match failure {
        // already printed above, one line per failed truncation
        Some(f) => Err(Failure {
            code: f.code,
            error: anyhow!(
                "{} of {} truncations failed",
                results.iter().filter(|r| r.is_err()).count(),
                results.len()
            ),
        }),
        None => Ok(()),
    }
}

/// The JSON record of one measured layer: the estimate when it converged, the error otherwise.
#[derive(Serialize)]
struct Report<'a> {
    /// 1-based index of the measured layer `T_l`.
    layer: usize,
    /// Whether the solve of this truncation succeeded (`error` is null then).
    converged: bool,
    #[serde(serialize_with = "as_message")]
    error: Option<&'a ReplicaError>,
    entropy: Option<f64>,
    mutual_information: Option<f64>,
    mi_last_layer: Option<f64>,
    mmse: Option<f64>,
    scheme: Option<Scheme>,
    iterations: Option<u64>,
    residual: Option<f64>,
    counters: Option<&'a Counters>,
    order_params: Option<&'a OrderParams>,
    /// The chain's notes (as on stderr): decisions taken while reading the spec and the
    /// assumptions the numbers rest on.
    notes: &'a [String],
}

impl<'a> Report<'a> {
    fn new(layer: usize, r: Result<&'a Estimate, &'a ReplicaError>, notes: &'a [String]) -> Self {
        match r {
            Ok(e) => Report {
                layer,
                converged: true,
                error: None,
                entropy: Some(e.entropy),
                mutual_information: e.mutual_information,
                mi_last_layer: Some(e.mi_last_layer),
                mmse: Some(e.mmse),
                scheme: Some(e.scheme),
                iterations: Some(e.iterations),
                residual: Some(e.residual),
                counters: Some(&e.counters),
                order_params: Some(&e.order_params),
                notes,
            },
            Err(e) => Report {
                layer,
                converged: false,
                error: Some(e),
                entropy: None,
                mutual_information: None,
                mi_last_layer: None,
                mmse: None,
                scheme: None,
                iterations: None,
                residual: None,
                counters: None,
                order_params: None,
                notes,
            },
        }
    }
}

/// An error as its message (the JSON field is the text a user reads).
fn as_message<S: serde::Serializer>(e: &Option<&ReplicaError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.collect_str(e),
        None => s.serialize_none(),
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::output(anyhow!("JSON output: {e}")))?;
    s.push('\n');
    emit(&s)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::output(anyhow!("writing to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

fn format_single(spec: &Path, chain: &Chain, e: &Estimate) -> String {
    let mut out = String::new();
    let l = chain.len();
    let _ = writeln!(
        out,
        "{}: {} layer{}; nats per input dimension n_0",
        spec.display(),
        l,
        if l == 1 { "" } else { "s" }
    );
    let mut rows: Vec<(String, String)> = vec![
        (format!("H(T_{l})/n_0"), format!("{:.10}", e.entropy)),
        (
            format!("I(X;T_{l})/n_0"),
            match e.mutual_information {
                Some(mi) => format!("{mi:.10}"),
                None => "undefined (noisy inner layers)".to_string(),
            },
        ),
    ];
    if e.mutual_information.is_none() {
        rows.push((
            format!("I(T_{};T_{l})/n_0", l - 1),
            format!("{:.10}", e.mi_last_layer),
        ));
    }
    rows.push(("MMSE of X".to_string(), format!("{:.10}", e.mmse)));
    rows.push(("scheme".to_string(), e.scheme.to_string()));
    rows.push(("iterations".to_string(), e.iterations.to_string()));
    rows.push(("residual".to_string(), format!("{:.2e}", e.residual)));
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<w$}  {v}");
    }
    out
}

fn format_table(spec: &Path, chain: &Chain, results: &[Result<Estimate, ReplicaError>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: every truncation T_1..T_{} (measured with the output noise); nats per input dimension n_0",
        spec.display(),
        chain.len()
    );
    let any_noisy = results
        .iter()
        .any(|r| r.as_ref().is_ok_and(|e| e.mutual_information.is_none()));
    let mut header = vec![
        "layer".to_string(),
        "converged".to_string(),
        "H(T_l)/n_0".to_string(),
        "I(X;T_l)/n_0".to_string(),
    ];
    if any_noisy {
        header.push("I(T_{l-1};T_l)/n_0".to_string());
    }
    header.extend(["MMSE of X", "scheme", "iterations", "residual"].map(String::from));
    let mut rows = vec![header];
    let mut errors = Vec::new();
    for (k, r) in results.iter().enumerate() {
        let l = k + 1;
        let e = match r {
            Ok(e) => e,
            Err(err) => {
                let mut row = vec![l.to_string(), "no".to_string(), "(error below)".to_string()];
                row.resize(rows[0].len(), String::new());
                rows.push(row);
                errors.push(format!("  layer {l}: error: {err}"));
                continue;
            }
        };
        let mut row = vec![
            l.to_string(),
            "yes".to_string(),
            format!("{:.10}", e.entropy),
            match e.mutual_information {
                Some(mi) => format!("{mi:.10}"),
                None => "undefined*".to_string(),
            },
        ];
        if any_noisy {
            row.push(format!("{:.10}", e.mi_last_layer));
        }
        row.extend([
            format!("{:.10}", e.mmse),
            e.scheme.to_string(),
            e.iterations.to_string(),
            format!("{:.2e}", e.residual),
        ]);
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", line.join("  ").trim_end());
    }
    if any_noisy {
        let _ = writeln!(
            out,
            "  * undefined (noisy inner layers): I(X;T_l) needs noiseless layers before T_l"
        );
    }
    for e in errors {
        let _ = writeln!(out, "{e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use replica_mi::replica::{Activation, Ensemble, Layer, Prior};

    /// A failed truncation gets its own row (converged "no") and its error; the others keep
    /// their numbers.
    #[test]
    fn table_keeps_every_truncation() {
        let chain = Chain::new(
            Prior::gaussian(0.0, 1.0).unwrap(),
            vec![
                Layer::new(
                    0.5,
                    Activation::Linear,
                    0.0,
                    Ensemble::Gaussian { var: 1.0 },
                )
                .unwrap(),
                Layer::new(
                    1.0,
                    Activation::Linear,
                    0.01,
                    Ensemble::Gaussian { var: 1.0 },
                )
                .unwrap(),
            ],
        )
        .unwrap();
        let first = solve(
            &chain.truncated(1, 0.01).unwrap(),
            &SolverOptions::default(),
        )
        .unwrap();
        let results = vec![
            Ok(first),
            Err(ReplicaError::NotConverged(
                "ml-vamp start 0: no convergence".into(),
            )),
        ];
        let t = format_table(Path::new("x.toml"), &chain, &results);
        let rows: Vec<&str> = t
            .lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        assert_eq!(rows.len(), 2, "{t}");
        assert!(
            rows[0].contains("yes") && rows[0].contains("0.6376598"),
            "{t}"
        );
        assert!(rows[1].contains("no"), "{t}");
        assert!(
            t.contains("layer 2: error: the replica equations did not converge: ml-vamp start 0"),
            "{t}"
        );
        let json = serde_json::to_value(
            results
                .iter()
                .enumerate()
                .map(|(k, r)| Report::new(k + 1, r.as_ref(), &[]))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(json[0]["converged"], serde_json::Value::Bool(true));
        assert!(json[0]["error"].is_null());
        assert_eq!(json[1]["converged"], serde_json::Value::Bool(false));
        assert!(json[1]["error"]
            .as_str()
            .unwrap()
            .contains("did not converge"));
        assert!(json[1]["entropy"].is_null());
    }
}
