//! Anderson mixing: secant history of a fixed-point map and the extrapolated iterate.

/// Secant pairs of a fixed-point map `x -> g(x)` in the mixed vector space of a scheme: column
/// `j` holds `Delta f_j = f_{j+1} - f_j` and `Delta g_j = g_{j+1} - g_j` between consecutive
/// sweeps, with residuals `f = g - x`. They are what Anderson mixing knows of the map's Jacobian.
/// A converged solve returns its last ones ([`super::Estimate::warm_start`]) so that the next solve of
/// a slightly changed chain (the next training epoch) can take a quasi-Newton step at its first
/// sweep instead of rebuilding that knowledge sweep by sweep.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Secants {
    pub(super) df: Vec<Vec<f64>>,
    pub(super) dg: Vec<Vec<f64>>,
}

impl Secants {
    /// The secant pairs `(df, dg)`, oldest first (for serialisation).
    pub fn pairs(&self) -> (&[Vec<f64>], &[Vec<f64>]) {
        (&self.df, &self.dg)
    }
    /// Secants from pairs [`Secants::pairs`] returned; `None` unless there are as many `df` as
    /// `dg` and all have one length. (`solve_warm` checks that length against the chain.)
    pub fn from_pairs(df: Vec<Vec<f64>>, dg: Vec<Vec<f64>>) -> Option<Self> {
        let n = df.first().map_or(0, Vec::len);
        (df.len() == dg.len() && df.iter().chain(&dg).all(|v| v.len() == n))
            .then_some(Secants { df, dg })
    }
    /// Number of secant pairs.
    pub fn len(&self) -> usize {
        self.df.len()
    }
    pub fn is_empty(&self) -> bool {
        self.df.is_empty()
    }
    pub(super) fn push(&mut self, df: Vec<f64>, dg: Vec<f64>) {
        self.df.push(df);
        self.dg.push(dg);
    }
    pub(super) fn clear(&mut self) {
        self.df.clear();
        self.dg.clear();
    }
    /// Keep the newest `n`.
    pub(super) fn keep_last(&mut self, n: usize) {
        let drop = self.df.len().saturating_sub(n);
        self.df.drain(..drop);
        self.dg.drain(..drop);
    }
}

/// Ridge added to the normal equations of Anderson mixing, relative to their trace: keeps
/// nearly collinear secants from producing huge coefficients.
const RIDGE: f64 = 1e-10;
/// A pivot below this makes the small system singular (no Anderson step; plain sweep instead).
const SINGULAR_PIVOT: f64 = 1e-300;

/// Anderson mixing: with the current residual `f = g - x` and secant columns `(Delta f_j,
/// Delta g_j)`, find `gamma` minimising `|f - sum_j gamma_j Delta f_j|` (ridge-regularised normal
/// equations) and return `g - sum_j gamma_j Delta g_j`.
pub(super) fn anderson(sec: &Secants, f: &[f64], g: &[f64]) -> Option<Vec<f64>> {
    let k = sec.len();
    let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
    let mut m = vec![vec![0.0; k]; k];
    let mut rhs = vec![0.0; k];
    for (a, row) in m.iter_mut().enumerate() {
        for (b, x) in row.iter_mut().enumerate() {
            *x = dot(&sec.df[a], &sec.df[b]);
        }
        rhs[a] = dot(&sec.df[a], f);
    }
    let trace: f64 = (0..k).map(|a| m[a][a]).sum();
    if trace.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    for (a, row) in m.iter_mut().enumerate() {
        row[a] += RIDGE * trace;
    }
    let gamma = solve_small(m, rhs)?;
    let out: Vec<f64> = (0..g.len())
        .map(|i| g[i] - (0..k).map(|j| gamma[j] * sec.dg[j][i]).sum::<f64>())
        .collect();
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// Gaussian elimination with partial pivoting for a small dense system.
fn solve_small(mut m: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if m[piv][c].abs() < SINGULAR_PIVOT {
            return None;
        }
        m.swap(c, piv);
        b.swap(c, piv);
        let pivot_row = m[c].clone();
        for r in c + 1..n {
            let f = m[r][c] / pivot_row[c];
            for (x, p) in m[r][c..].iter_mut().zip(&pivot_row[c..]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| m[c][k] * x[k]).sum();
        x[c] = (b[c] - s) / m[c][c];
    }
    Some(x)
}
