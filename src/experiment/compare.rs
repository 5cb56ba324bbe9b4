//! Comparison of a produced CSV with its reference (polars).
//!
//! Both tables are joined (full outer join) on the key columns, cast to text first (a float key
//! matches when both sides parse it to the same `f64` and polars infers the same dtype).
//! Every other column of the reference is compared row by row:
//! * numeric columns (numeric in either file) with the column's own [`Tolerance`]: a value passes
//!   when `|p - r| <= max(abs, rel * max(|p|, |r|))` (equal infinities pass);
//! * other columns (text, booleans) exactly.
//!
//! Failures, each listed in the [`ComparisonReport`]: a column present on one side only (a
//! missing key column stops the comparison), a duplicated key, a row present on one side only,
//! a NaN on either side, an empty cell on one side only (empty on both sides means "not
//! applicable" and passes), a value out of tolerance, a text mismatch, and a numeric column for
//! which no tolerance was given.

use polars::prelude::*;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use thiserror::Error;

/// Reading or joining the tables failed (a failed *comparison* is a [`ComparisonReport`]).
#[derive(Debug, Error)]
pub enum CompareError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: PolarsError,
    },
    #[error("comparing tables: {0}")]
    Polars(#[from] PolarsError),
}

/// Allowed deviation of one numeric column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub abs: f64,
    /// Relative tolerance (to the larger magnitude of the two values).
    pub rel: f64,
}

impl Tolerance {
    /// Bit-for-bit equality (up to the sign of zero).
    pub const EXACT: Tolerance = Tolerance { abs: 0.0, rel: 0.0 };

    pub const fn new(abs: f64, rel: f64) -> Self {
        Tolerance { abs, rel }
    }
    pub const fn abs(abs: f64) -> Self {
        Tolerance { abs, rel: 0.0 }
    }
    pub const fn rel(rel: f64) -> Self {
        Tolerance { abs: 0.0, rel }
    }

    /// Largest deviation allowed between `p` and `r`: `max(abs, rel * max(|p|, |r|))`.
    pub fn allowed(&self, p: f64, r: f64) -> f64 {
        self.abs.max(self.rel * p.abs().max(r.abs()))
    }

    /// Whether `p` (produced) and `r` (reference) agree; NaN never does, equal infinities do.
    pub fn accepts(&self, p: f64, r: f64) -> bool {
        if p.is_nan() || r.is_nan() {
            return false;
        }
        if p.is_infinite() || r.is_infinite() {
            return p.is_infinite()
                && r.is_infinite()
                && p.is_sign_positive() == r.is_sign_positive();
        }
        (p - r).abs() <= self.allowed(p, r)
    }
}

/// Which table a failure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Produced,
    Reference,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Produced => "produced",
            Side::Reference => "reference",
        })
    }
}

/// One reason a comparison fails.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// A column exists in one table only.
    MissingColumn { column: String, missing_from: Side },
    /// Two rows of one table have the same key.
    DuplicateKey { key: String, side: Side },
    /// A key exists in one table only.
    MissingRow { key: String, missing_from: Side },
    /// A numeric column of the reference has no tolerance in the [`CompareSpec`].
    NoTolerance { column: String },
    /// A NaN cell.
    NotANumber {
        key: String,
        column: String,
        side: Side,
    },
    /// An empty cell in one table where the other has a value.
    Null {
        key: String,
        column: String,
        side: Side,
    },
    /// Two numbers further apart than the column's tolerance.
    OutOfTolerance {
        key: String,
        column: String,
        produced: f64,
        reference: f64,
        tolerance: Tolerance,
    },
    /// Two different texts.
    TextMismatch {
        key: String,
        column: String,
        produced: String,
        reference: String,
    },
}

/// The table cells of a cell that is `mark` in the `side` table only: `mark` in that side's
/// column, `-` in the other's and in the difference and allowance columns.
fn one_sided(key: &str, column: &str, side: Side, mark: &str, problem: String) -> [String; 7] {
    let on = |s: Side| {
        if s == side {
            mark.to_string()
        } else {
            "-".to_string()
        }
    };
    [
        key.to_string(),
        column.to_string(),
        on(Side::Produced),
        on(Side::Reference),
        "-".to_string(),
        "-".to_string(),
        problem,
    ]
}

impl Failure {
    /// `(row key, column, produced, reference, |difference|, allowed, problem)` for the table.
    fn cells(&self) -> [String; 7] {
        let s = |x: &str| x.to_string();
        let dash = || "-".to_string();
        match self {
            Failure::MissingColumn {
                column,
                missing_from,
            } => [
                dash(),
                column.clone(),
                dash(),
                dash(),
                dash(),
                dash(),
                format!("column missing from the {missing_from} table"),
            ],
            Failure::DuplicateKey { key, side } => [
                key.clone(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                format!("key repeated in the {side} table"),
            ],
            Failure::MissingRow { key, missing_from } => [
                key.clone(),
                dash(),
                dash(),
                dash(),
                dash(),
                dash(),
                format!("row missing from the {missing_from} table"),
            ],
            Failure::NoTolerance { column } => [
                dash(),
                column.clone(),
                dash(),
                dash(),
                dash(),
                dash(),
                s("numeric column without a tolerance"),
            ],
            Failure::NotANumber { key, column, side } => one_sided(
                key,
                column,
                *side,
                "NaN",
                format!("NaN in the {side} table"),
            ),
            Failure::Null { key, column, side } => one_sided(
                key,
                column,
                *side,
                "(empty)",
                format!("empty cell in the {side} table only"),
            ),
            Failure::OutOfTolerance {
                key,
                column,
                produced,
                reference,
                tolerance,
            } => [
                key.clone(),
                column.clone(),
                format!("{produced}"),
                format!("{reference}"),
                format!("{:.3e}", (produced - reference).abs()),
                format!("{:.3e}", tolerance.allowed(*produced, *reference)),
                s("out of tolerance"),
            ],
            Failure::TextMismatch {
                key,
                column,
                produced,
                reference,
            } => [
                key.clone(),
                column.clone(),
                produced.clone(),
                reference.clone(),
                dash(),
                dash(),
                s("different text"),
            ],
        }
    }
}

/// Largest deviations seen in one numeric column (over rows present in both tables).
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSummary {
    pub column: String,
    pub tolerance: Option<Tolerance>,
    /// Largest `|p - r|` over finite pairs.
    pub max_abs_diff: f64,
    /// Largest `|p - r| / max(|p|, |r|)` over finite pairs with a nonzero value.
    pub max_rel_diff: f64,
}

/// What to join on and how close each numeric column must be.
#[derive(Clone, Debug, Default)]
pub struct CompareSpec {
    /// Key columns (compared as text, must identify rows uniquely).
    pub keys: Vec<String>,
    /// Per-column tolerances.
    pub tolerances: Vec<(String, Tolerance)>,
    /// Tolerance of numeric columns not listed in `tolerances` (`None`: such a column fails).
    pub default_tolerance: Option<Tolerance>,
}

impl CompareSpec {
    pub fn new<S: Into<String>>(keys: impl IntoIterator<Item = S>) -> Self {
        CompareSpec {
            keys: keys.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
    /// Set the tolerance of `column`.
    pub fn tolerance(mut self, column: impl Into<String>, tol: Tolerance) -> Self {
        self.tolerances.push((column.into(), tol));
        self
    }
    /// Set the tolerance of numeric columns not listed.
    pub fn default_tolerance(mut self, tol: Tolerance) -> Self {
        self.default_tolerance = Some(tol);
        self
    }
    fn tolerance_of(&self, column: &str) -> Option<Tolerance> {
        self.tolerances
            .iter()
            .rev()
            .find(|(c, _)| c == column)
            .map(|(_, t)| *t)
            .or(self.default_tolerance)
    }
}

/// The outcome of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonReport {
    /// Labels of the two tables (file paths for [`compare_csv`]).
    pub produced: String,
    pub reference: String,
    /// Rows present in both tables.
    pub rows_compared: usize,
    /// Value cells compared (rows in both tables x compared columns).
    pub cells_compared: usize,
    /// Numeric columns with their largest deviations.
    pub numeric_columns: Vec<ColumnSummary>,
    pub failures: Vec<Failure>,
}

impl ComparisonReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failures as an aligned text table (empty string when the comparison passed).
    pub fn failure_table(&self) -> String {
        if self.failures.is_empty() {
            return String::new();
        }
        let header = [
            "row key",
            "column",
            "produced",
            "reference",
            "|diff|",
            "allowed",
            "problem",
        ]
        .map(String::from);
        let rows: Vec<[String; 7]> = self.failures.iter().map(Failure::cells).collect();
        let mut widths = header.clone().map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String; 7]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("| {} |\n", parts.join(" | "))
        };
        let mut out = line(&header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out += &format!("|-{}-|\n", rule.join("-|-"));
        for r in &rows {
            out += &line(r);
        }
        out
    }
}

impl fmt::Display for ComparisonReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} vs {}: {} rows, {} cells compared, {}",
            self.produced,
            self.reference,
            self.rows_compared,
            self.cells_compared,
            if self.passed() {
                "all within tolerance".to_string()
            } else {
                format!("{} failure(s)", self.failures.len())
            }
        )?;
        for c in &self.numeric_columns {
            writeln!(
                f,
                "  {:<48} max |diff| {:.3e}  max rel {:.3e}  tolerance {}",
                c.column,
                c.max_abs_diff,
                c.max_rel_diff,
                c.tolerance
                    .map(|t| format!("abs {:e} / rel {:e}", t.abs, t.rel))
                    .unwrap_or_else(|| "none".into())
            )?;
        }
        f.write_str(&self.failure_table())
    }
}

/// Read a CSV with a header into a frame, inferring column types from every row.
pub fn read_csv(path: &Path) -> Result<DataFrame, CompareError> {
    let read_err = |source| CompareError::Read {
        path: path.display().to_string(),
        source,
    };
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .map_err(read_err)?
        .finish()
        .map_err(read_err)
}

/// Compare the CSV `produced` with the CSV `reference` (see the module docs).
pub fn compare_csv(
    produced: &Path,
    reference: &Path,
    spec: &CompareSpec,
) -> Result<ComparisonReport, CompareError> {
    let p = read_csv(produced)?;
    let r = read_csv(reference)?;
    let mut report = compare_frames(&p, &r, spec)?;
    report.produced = produced.display().to_string();
    report.reference = reference.display().to_string();
    Ok(report)
}

const ROW: &str = "__row";

fn prefixed(side: Side, column: &str) -> String {
    format!("{side}::{column}")
}

/// Keys as text, value columns renamed `side::column`, and the original row number.
fn prepare(
    df: &DataFrame,
    keys: &[String],
    values: &[String],
    side: Side,
) -> Result<DataFrame, CompareError> {
    let mut cols: Vec<Column> = Vec::with_capacity(keys.len() + values.len());
    for k in keys {
        cols.push(df.column(k)?.cast(&DataType::String)?);
    }
    for v in values {
        let c = df.column(v)?.clone();
        cols.push(c.with_name(prefixed(side, v).into()));
    }
    let out = DataFrame::new(df.height(), cols)?;
    Ok(out.with_row_index(prefixed(side, ROW).into(), None)?)
}

/// The key of every row as `k1=v1, k2=v2`.
fn key_strings(df: &DataFrame, keys: &[String]) -> Result<Vec<String>, CompareError> {
    let cols: Vec<&StringChunked> = keys
        .iter()
        .map(|k| df.column(k).and_then(|c| c.str()))
        .collect::<Result<_, _>>()?;
    Ok((0..df.height())
        .map(|i| {
            keys.iter()
                .zip(&cols)
                .map(|(k, c)| format!("{k}={}", c.get(i).unwrap_or("(empty)")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect())
}

/// Compare two in-memory tables (see the module docs); the report's labels are
/// `"produced"` and `"reference"`.
pub fn compare_frames(
    produced: &DataFrame,
    reference: &DataFrame,
    spec: &CompareSpec,
) -> Result<ComparisonReport, CompareError> {
    let names = |df: &DataFrame| -> Vec<String> {
        df.get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let (pcols, rcols) = (names(produced), names(reference));
    let mut report = ComparisonReport {
        produced: Side::Produced.to_string(),
        reference: Side::Reference.to_string(),
        rows_compared: 0,
        cells_compared: 0,
        numeric_columns: Vec::new(),
        failures: missing_columns(&pcols, &rcols, &spec.keys),
    };
    if spec
        .keys
        .iter()
        .any(|k| !pcols.contains(k) || !rcols.contains(k))
    {
        return Ok(report);
    }
    let values: Vec<String> = rcols
        .iter()
        .filter(|c| pcols.contains(c) && !spec.keys.contains(c))
        .cloned()
        .collect();

    let p = prepare(produced, &spec.keys, &values, Side::Produced)?;
    let r = prepare(reference, &spec.keys, &values, Side::Reference)?;
    let duplicates = duplicate_keys(&p, &r, &spec.keys)?;
    if !duplicates.is_empty() {
        report.failures.extend(duplicates);
        return Ok(report);
    }

    let mut args = JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns);
    args.maintain_order = MaintainOrderJoin::LeftRight;
    let joined = p.join(&r, &spec.keys, &spec.keys, args, None)?;
    let keys = key_strings(&joined, &spec.keys)?;
    let both = rows_on_both_sides(&joined, &keys, &mut report.failures)?;
    report.rows_compared = both.iter().filter(|b| **b).count();

    for column in &values {
        let pc = joined.column(&prefixed(Side::Produced, column))?;
        let rc = joined.column(&prefixed(Side::Reference, column))?;
        let cells = Cells {
            keys: &keys,
            both: &both,
            column,
        };
        if pc.dtype().is_primitive_numeric() || rc.dtype().is_primitive_numeric() {
            let tol = spec.tolerance_of(column);
            if tol.is_none() {
                report.failures.push(Failure::NoTolerance {
                    column: column.clone(),
                });
            }
            let summary = compare_numeric(&cells, pc, rc, tol, &mut report)?;
            report.numeric_columns.push(summary);
        } else {
            compare_text(&cells, pc, rc, &mut report)?;
        }
    }
    Ok(report)
}

/// Columns of either side missing from the other, and key columns missing from either (each
/// named once).
fn missing_columns(pcols: &[String], rcols: &[String], keys: &[String]) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (cols, other, missing_from) in [
        (rcols, pcols, Side::Produced),
        (pcols, rcols, Side::Reference),
    ] {
        for c in cols.iter().filter(|c| !other.contains(c)) {
            failures.push(Failure::MissingColumn {
                column: c.clone(),
                missing_from,
            });
        }
    }
    for k in keys {
        for (cols, side) in [(pcols, Side::Produced), (rcols, Side::Reference)] {
            let named = failures.iter().any(|f| {
                matches!(f, Failure::MissingColumn { column, missing_from } if column == k && *missing_from == side)
            });
            if !cols.contains(k) && !named {
                failures.push(Failure::MissingColumn {
                    column: k.clone(),
                    missing_from: side,
                });
            }
        }
    }
    failures
}

/// Keys that occur more than once on a side (rows could not be paired).
fn duplicate_keys(
    p: &DataFrame,
    r: &DataFrame,
    keys: &[String],
) -> Result<Vec<Failure>, CompareError> {
    let mut failures = Vec::new();
    for (df, side) in [(p, Side::Produced), (r, Side::Reference)] {
        let mut seen = HashSet::new();
        for key in key_strings(df, keys)? {
            if !seen.insert(key.clone()) {
                failures.push(Failure::DuplicateKey { key, side });
            }
        }
    }
    Ok(failures)
}

/// Per joined row, whether both sides have it; a row missing from one side is a failure.
fn rows_on_both_sides(
    joined: &DataFrame,
    keys: &[String],
    failures: &mut Vec<Failure>,
) -> Result<Vec<bool>, CompareError> {
    let p_row = joined.column(&prefixed(Side::Produced, ROW))?.idx()?;
    let r_row = joined.column(&prefixed(Side::Reference, ROW))?.idx()?;
    let mut both = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let (in_p, in_r) = (p_row.get(i).is_some(), r_row.get(i).is_some());
        if !in_p || !in_r {
            failures.push(Failure::MissingRow {
                key: key.clone(),
                missing_from: if in_p {
                    Side::Reference
                } else {
                    Side::Produced
                },
            });
        }
        both.push(in_p && in_r);
    }
    Ok(both)
}

/// The cells of one value column on the rows present on both sides.
struct Cells<'a> {
    keys: &'a [String],
    both: &'a [bool],
    column: &'a String,
}

impl Cells<'_> {
    /// `(row, key)` of the rows present on both sides.
    fn rows(&self) -> impl Iterator<Item = (usize, &String)> {
        self.keys.iter().enumerate().filter(|(i, _)| self.both[*i])
    }
}

/// A numeric column: nulls and NaNs on either side are failures, values outside the tolerance
/// too; returns the largest differences seen.
fn compare_numeric(
    cells: &Cells<'_>,
    pc: &Column,
    rc: &Column,
    tol: Option<Tolerance>,
    report: &mut ComparisonReport,
) -> Result<ColumnSummary, CompareError> {
    let column = cells.column;
    let (pf, rf) = (pc.cast(&DataType::Float64)?, rc.cast(&DataType::Float64)?);
    let (pf, rf) = (pf.f64()?, rf.f64()?);
    let mut summary = ColumnSummary {
        column: column.clone(),
        tolerance: tol,
        max_abs_diff: 0.0,
        max_rel_diff: 0.0,
    };
    for (i, key) in cells.rows() {
        report.cells_compared += 1;
        let at = |side| (key.clone(), column.clone(), side);
        match (pf.get(i), rf.get(i)) {
            (None, None) => {}
            (None, Some(_)) | (Some(_), None) => {
                let (key, column, side) = at(if pf.get(i).is_none() {
                    Side::Produced
                } else {
                    Side::Reference
                });
                report.failures.push(Failure::Null { key, column, side });
            }
            (Some(a), Some(b)) => {
                for (v, side) in [(a, Side::Produced), (b, Side::Reference)] {
                    if v.is_nan() {
                        let (key, column, side) = at(side);
                        report
                            .failures
                            .push(Failure::NotANumber { key, column, side });
                    }
                }
                if a.is_nan() || b.is_nan() {
                    continue;
                }
                if a.is_finite() && b.is_finite() {
                    let d = (a - b).abs();
                    summary.max_abs_diff = summary.max_abs_diff.max(d);
                    let m = a.abs().max(b.abs());
                    if m > 0.0 {
                        summary.max_rel_diff = summary.max_rel_diff.max(d / m);
                    }
                }
                if let Some(t) = tol {
                    if !t.accepts(a, b) {
                        report.failures.push(Failure::OutOfTolerance {
                            key: key.clone(),
                            column: column.clone(),
                            produced: a,
                            reference: b,
                            tolerance: t,
                        });
                    }
                }
            }
        }
    }
    Ok(summary)
}

/// A text column: equal text on both sides, or both null.
fn compare_text(
    cells: &Cells<'_>,
    pc: &Column,
    rc: &Column,
    report: &mut ComparisonReport,
) -> Result<(), CompareError> {
    let column = cells.column;
    let (ps, rs) = (pc.cast(&DataType::String)?, rc.cast(&DataType::String)?);
    let (ps, rs) = (ps.str()?, rs.str()?);
    for (i, key) in cells.rows() {
        report.cells_compared += 1;
        match (ps.get(i), rs.get(i)) {
            (None, None) => {}
            (a, b) if a == b => {}
            (None, Some(_)) | (Some(_), None) => report.failures.push(Failure::Null {
                key: key.clone(),
                column: column.clone(),
                side: if ps.get(i).is_none() {
                    Side::Produced
                } else {
                    Side::Reference
                },
            }),
            (Some(a), Some(b)) => report.failures.push(Failure::TextMismatch {
                key: key.clone(),
                column: column.clone(),
                produced: a.to_string(),
                reference: b.to_string(),
            }),
        }
    }
    Ok(())
}
