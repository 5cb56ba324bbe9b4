//! `replica-mi`: replica estimates of entropy and mutual information of a multi-layer stochastic
//! network described by a TOML spec file.

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use replica_core::replica::{
    solve_with, Chain, OrderParams, ReplicaError, SchemeChoice, Solution, SolveEvent, SolveWith,
    SolverOptions, StartAt, StartReport,
};
use replica_core::report::{format_single, format_table, to_json, Report};
use replica_core::spec::{load_spec_with_options, SpecError, SpecOptions};
use serde::Serialize;
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
        /// Wall-clock budget per solve: past it the solve stops and exits 3, saying so.
        #[arg(long, value_name = "SECONDS")]
        max_seconds: Option<f64>,
        /// Which iteration may run: auto (fixed point, then ML-VAMP where needed), fixed-point or
        /// ml-vamp (only that one; no continuation fallback).
        #[arg(long, value_name = "SCHEME", default_value = "auto")]
        scheme: String,
        /// The weight matrices are orthogonally invariant (USV layers with Haar U, V, or i.i.d.
        /// Gaussian): no note that their spectrum stands for them.
        #[arg(long)]
        assume_invariant: bool,
        /// A starting point tried before the search: one initial variance per layer
        /// ("0.5,0.2"), or the JSON record of an earlier `--json` solve of the same chain (its
        /// order_params). Not with --all-layers.
        #[arg(long, value_name = "V1,V2,...|FILE.json")]
        start_at: Option<String>,
        /// Report every start and the stationary point it reached (text: after the result;
        /// JSON: a "candidates" array in each record).
        #[arg(long)]
        candidates: bool,
        /// Print each start's end on stderr as it happens, then the selected one.
        #[arg(long)]
        verbose: bool,
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
            ReplicaError::InvalidParameter(_) | ReplicaError::InvalidChain(_) => 2,
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
            max_seconds,
            scheme,
            assume_invariant,
            start_at,
            candidates,
            verbose,
        } => {
            let choice: SchemeChoice = scheme
                .parse()
                .map_err(|e| Failure::input(anyhow!("--scheme: {e}")))?;
            let mut opts = SolverOptions::default().with_scheme(choice);
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
            if let Some(s) = max_seconds {
                opts = opts
                    .with_max_seconds(s)
                    .map_err(|e| Failure::input(anyhow!("--max-seconds: {e}")))?;
            }
            let options = SpecOptions { assume_invariant };
            let loaded = load_spec_with_options(&spec, options).map_err(|e| {
                Failure::input(match e {
                    SpecError::Io { .. } => anyhow::Error::new(e),
                    _ => anyhow::Error::new(e).context(format!("spec {}", spec.display())),
                })
            })?;
            let start_at = match start_at {
                None => None,
                Some(_) if all_layers => {
                    return Err(Failure::input(anyhow!(
                        "--start-at: a starting point is for one chain, not with --all-layers"
                    )))
                }
                Some(s) => Some(parse_start_at(&s).map_err(Failure::input)?),
            };
            for note in &loaded.notes {
                eprintln!("replica-mi: note: {note}");
            }
            let how = How {
                json,
                all_layers,
                start_at,
                candidates,
                verbose,
            };
            entropy(&spec, &loaded.chain, &loaded.notes, &opts, &how)
        }
    }
}

/// `--start-at`: comma-separated variances, or a file with the JSON record of an earlier solve
/// (its `order_params`). Checked by the core (finite, in range; the length against the chain
/// when the solve starts).
fn parse_start_at(s: &str) -> anyhow::Result<StartAt> {
    let start = match s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<Vec<f64>, _>>()
    {
        Ok(v) => StartAt::Variances(v),
        Err(_) => {
            let text = std::fs::read_to_string(s)
                .map_err(|e| anyhow!("--start-at: neither numbers nor a readable file {s}: {e}"))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow!("--start-at: {s} is not JSON: {e}"))?;
            let params = value.get("order_params").cloned().ok_or_else(|| {
                anyhow!("--start-at: {s} has no \"order_params\" (the record of a --json solve)")
            })?;
            let p: OrderParams = serde_json::from_value(params)
                .map_err(|e| anyhow!("--start-at: order_params of {s}: {e}"))?;
            StartAt::Point(p)
        }
    };
    SolveWith::default()
        .start_at(start.clone())
        .map_err(|e| anyhow!("--start-at: {e}"))?;
    Ok(start)
}

/// What to solve and print, from the flags.
struct How {
    json: bool,
    all_layers: bool,
    start_at: Option<StartAt>,
    candidates: bool,
    verbose: bool,
}

/// One solve, with the caller's start and, with `--verbose`, each start's end on stderr.
fn solve_layer(
    chain: &Chain,
    opts: &SolverOptions,
    layer: usize,
    how: &How,
) -> Result<Solution, ReplicaError> {
    let mut print = |ev: SolveEvent<'_>| eprintln!("replica-mi: layer {layer}: {ev}");
    let mut with = SolveWith::default();
    if let Some(s) = &how.start_at {
        with = with.start_at(s.clone())?;
    }
    if how.verbose {
        with = with.observer(&mut print);
    }
    solve_with(chain, opts, &mut with)
}

/// The text lines of `--candidates`: every start, the selected one marked.
fn format_candidates(layer: usize, starts: &[StartReport]) -> String {
    let mut out = format!("  candidates of layer {layer} (every start, * selected):\n");
    for s in starts {
        let mark = if s.selected() { '*' } else { ' ' };
        out.push_str(&format!("  {mark} {s}\n"));
    }
    out
}

/// The JSON of `--candidates`: one object per start.
fn candidates_json(starts: &[StartReport]) -> serde_json::Value {
    starts
        .iter()
        .map(|s| {
            serde_json::json!({
                "scheme": s.scheme().map(|x| x.to_string()),
                "start": s.start().index(),
                "start_kind": s.start().kind(),
                "converged": s.converged(),
                "entropy": s.entropy(),
                "iterations": s.iterations(),
                "residual": s.residual(),
                "duplicate": s.duplicate(),
                "selected": s.selected(),
                "failure": s.failure().map(|f| f.to_string()),
                "message": s.to_string(),
            })
        })
        .collect()
}

/// The JSON record of one measured layer, with its candidates after the report's fields when
/// asked for (`None` for a failed solve).
#[derive(Serialize)]
struct Record<'a> {
    #[serde(flatten)]
    report: Report<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidates: Option<serde_json::Value>,
}

fn record<'a>(
    layer: usize,
    r: &'a Result<Solution, ReplicaError>,
    notes: &'a [String],
    how: &How,
) -> Record<'a> {
    Record {
        report: Report::new(layer, r.as_ref().map(Solution::estimate), notes),
        candidates: match r {
            Ok(sol) if how.candidates => Some(candidates_json(sol.starts())),
            _ => None,
        },
    }
}

fn entropy(
    spec: &Path,
    chain: &Chain,
    notes: &[String],
    opts: &SolverOptions,
    how: &How,
) -> Result<(), Failure> {
    if !how.all_layers {
        let l = chain.len();
        let sol = solve_layer(chain, opts, l, how)
            .map_err(|e| Failure::from_replica(e, format!("layer {l} of {}", spec.display())))?;
        if how.json {
            print_json(&record(l, &Ok(sol), notes, how))?;
        } else {
            let mut text = format_single(spec, chain, sol.estimate());
            if how.candidates {
                text.push_str(&format_candidates(l, sol.starts()));
            }
            emit(&text)?;
        }
        return Ok(());
    }
    // Every truncation is reported, converged or not; the exit status is the first failure's.
    // Truncation l is measured with the output layer's noise (as `solve_all_layers`).
    let noise = chain.layers()[chain.len() - 1].channel().noise_var();
    let solutions: Vec<Result<Solution, ReplicaError>> = (1..=chain.len())
        .map(|l| {
            chain
                .truncated(l, noise)
                .and_then(|c| solve_layer(&c, opts, l, how))
        })
        .collect();
    let results: Vec<Result<replica_core::replica::Estimate, ReplicaError>> = solutions
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|s| s.estimate().clone())
                .map_err(Clone::clone)
        })
        .collect();
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
    if how.json {
        let reports: Vec<Record> = solutions
            .iter()
            .enumerate()
            .map(|(k, r)| record(k + 1, r, notes, how))
            .collect();
        print_json(&reports)?;
    } else {
        let mut text = format_table(spec, chain, &results);
        if how.candidates {
            for (k, r) in solutions.iter().enumerate() {
                if let Ok(sol) = r {
                    text.push_str(&format_candidates(k + 1, sol.starts()));
                }
            }
        }
        emit(&text)?;
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

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let s = to_json(value).map_err(|e| Failure::output(anyhow!("JSON output: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use replica_core::replica::{
        solve, Activation, Attempt, AttemptOutcome, Ensemble, Layer, Prior, Scheme, Start,
    };

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
                vec![Attempt::new(
                    Some(Scheme::Vamp),
                    Start::Index(0),
                    AttemptOutcome::Exhausted {
                        sweeps: Some(3000),
                        residual: 1e-3,
                    },
                )]
                .into(),
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
