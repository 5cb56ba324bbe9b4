//! The command line's report of a solve, shared by the `replica-mi` binary and the Python
//! package's `python -m replica_mi`: the text table and the JSON records (one per measured
//! layer, the estimate when it converged, the error otherwise).

use crate::replica::solve::Counters;
use crate::replica::{Chain, Estimate, OrderParams, ReplicaError, Scheme};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// The JSON record of one measured layer: the estimate when it converged, the error otherwise.
#[derive(Serialize)]
pub struct Report<'a> {
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
    /// The chain's notes (as the command line prints them on stderr): decisions taken while
    /// reading the spec and the assumptions the numbers rest on.
    notes: &'a [String],
}

impl<'a> Report<'a> {
    pub fn new(
        layer: usize,
        r: Result<&'a Estimate, &'a ReplicaError>,
        notes: &'a [String],
    ) -> Self {
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

/// Pretty JSON of one report or of a list of them, with a final newline.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    s.push('\n');
    Ok(s)
}

/// The text report of one solve.
pub fn format_single(spec: &Path, chain: &Chain, e: &Estimate) -> String {
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

/// The text table of every truncation (`--all-layers`), failed ones included.
pub fn format_table(
    spec: &Path,
    chain: &Chain,
    results: &[Result<Estimate, ReplicaError>],
) -> String {
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
