//! `replica-mi`: replica estimates of entropy and mutual information of a multi-layer stochastic
//! network described by a TOML spec file.

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use replica_mi::replica::solve::Counters;
use replica_mi::replica::{
    solve, solve_all_layers, Chain, Estimate, OrderParams, ReplicaError, SolverOptions,
};
use replica_mi::spec::{load_spec_with_notes, SpecError};
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
  #   shape leaves no doubt (a note on stderr says so); spectrum of W^T W computed in f64

EXIT STATUS
  0 success, 2 invalid spec or arguments, 3 the replica equations did not converge."#;

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
    fn solver(error: anyhow::Error) -> Self {
        Failure { code: 3, error }
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
            let loaded = load_spec_with_notes(&spec).map_err(|e| {
                Failure::input(match e {
                    SpecError::Io { .. } => anyhow::Error::new(e),
                    _ => anyhow::Error::new(e).context(format!("spec {}", spec.display())),
                })
            })?;
            for note in &loaded.notes {
                eprintln!("replica-mi: note: {note}");
            }
            entropy(&spec, &loaded.chain, &opts, json, all_layers)
        }
    }
}

fn entropy(
    spec: &Path,
    chain: &Chain,
    opts: &SolverOptions,
    json: bool,
    all_layers: bool,
) -> Result<(), Failure> {
    if !all_layers {
        let l = chain.len();
        let est = solve(chain, opts)
            .map_err(|e| Failure::from_replica(e, format!("layer {l} of {}", spec.display())))?;
        check_converged(&est, l)?;
        if json {
            print_json(&Report::new(l, &est))?;
        } else {
            emit(&format_single(spec, chain, &est))?;
        }
        return Ok(());
    }
    let results = solve_all_layers(chain, opts);
    let mut failure: Option<Failure> = None;
    let mut ok: Vec<(usize, Estimate)> = Vec::new();
    for (k, r) in results.into_iter().enumerate() {
        let l = k + 1;
        let checked = r
            .map_err(|e| Failure::from_replica(e, format!("layer {l} of {}", spec.display())))
            .and_then(|est| check_converged(&est, l).map(|()| est));
        match checked {
            Ok(est) => ok.push((l, est)),
            Err(f) => {
                if failure.is_none() {
                    failure = Some(f);
                } else {
                    eprintln!("replica-mi: error: {:#}", f.error);
                }
            }
        }
    }
    if json {
        if let Some(f) = failure {
            return Err(f);
        }
        let reports: Vec<Report> = ok.iter().map(|(l, e)| Report::new(*l, e)).collect();
        print_json(&reports)
    } else {
        emit(&format_table(spec, chain, &ok))?;
        failure.map_or(Ok(()), Err)
    }
}

fn check_converged(est: &Estimate, layer: usize) -> Result<(), Failure> {
    if est.converged {
        Ok(())
    } else {
        Err(Failure::solver(anyhow!(
            "layer {layer}: the replica equations did not converge ({} after {} iterations, residual {:.2e})",
            est.scheme,
            est.iterations,
            est.residual
        )))
    }
}

/// The JSON record of one measured layer.
#[derive(Serialize)]
struct Report<'a> {
    /// 1-based index of the measured layer `T_l`.
    layer: usize,
    entropy: f64,
    mutual_information: Option<f64>,
    mi_last_layer: f64,
    mmse: f64,
    converged: bool,
    scheme: String,
    iterations: u64,
    residual: f64,
    counters: &'a Counters,
    order_params: &'a OrderParams,
}

impl<'a> Report<'a> {
    fn new(layer: usize, e: &'a Estimate) -> Self {
        Report {
            layer,
            entropy: e.entropy,
            mutual_information: e.mutual_information,
            mi_last_layer: e.mi_last_layer,
            mmse: e.mmse,
            converged: e.converged,
            scheme: e.scheme.to_string(),
            iterations: e.iterations,
            residual: e.residual,
            counters: &e.counters,
            order_params: &e.order_params,
        }
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::solver(anyhow!("JSON output: {e}")))?;
    s.push('\n');
    emit(&s)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::solver(anyhow!("writing to stdout: {e}")))
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

fn format_table(spec: &Path, chain: &Chain, ok: &[(usize, Estimate)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: every truncation T_1..T_{} (measured with the output noise); nats per input dimension n_0",
        spec.display(),
        chain.len()
    );
    let any_noisy = ok.iter().any(|(_, e)| e.mutual_information.is_none());
    let mut header = vec![
        "layer".to_string(),
        "H(T_l)/n_0".to_string(),
        "I(X;T_l)/n_0".to_string(),
    ];
    if any_noisy {
        header.push("I(T_{l-1};T_l)/n_0".to_string());
    }
    header.extend(["MMSE of X", "scheme", "iterations", "residual"].map(String::from));
    let mut rows = vec![header];
    for l in 1..=chain.len() {
        let Some((_, e)) = ok.iter().find(|(k, _)| *k == l) else {
            let mut row = vec![l.to_string(), "failed (see error below)".to_string()];
            row.resize(rows[0].len(), String::new());
            rows.push(row);
            continue;
        };
        let mut row = vec![
            l.to_string(),
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
    out
}
