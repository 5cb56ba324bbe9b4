//! The one iteration loop shared by both schemes: a scheme defines one step, the loop owns
//! convergence, damping, acceleration and the work counters.

use super::super::channel::Evals;
use super::super::error::ReplicaError;
use super::anderson::{anderson, Secants};
use super::{close_points, OrderParams, SolverOptions};

/// Floor of the denominator of a relative change (order parameters that are exactly 0).
pub(super) const REL_FLOOR: f64 = 1e-12;
/// Neighbourhood of a known stationary point: every order parameter within this relative
/// distance, and changing by less than this per sweep (distinct stationary points differ at O(1)).
const BASIN: f64 = 1e-2;
/// A residual this many times the best one so far drops the Anderson history (stale secants).
const RESIDUAL_JUMP: f64 = 10.0;
/// Adaptive damping: factor applied when the residual grows, and when it shrinks.
const DAMPING_CUT: f64 = 0.5;
const DAMPING_RELAX: f64 = 1.25;

/// Outcome of the loop on one start.
pub(super) struct Run {
    pub(super) params: OrderParams,
    pub(super) converged: bool,
    /// Stopped because the iterate entered the neighbourhood of a known stationary point.
    pub(super) duplicate: bool,
    pub(super) iterations: u64,
    pub(super) residual: f64,
    /// The Anderson history at the end (the newest last).
    pub(super) secants: Secants,
}

/// One sweep of a scheme: `state -> state`.
pub(super) trait Step {
    type State: Clone;
    fn step(&mut self, s: &Self::State, evals: &mut Evals) -> Result<Self::State, ReplicaError>;
    /// Damped combination `(1 - d) old + d new`.
    fn mix(old: &Self::State, new: &Self::State, d: f64) -> Self::State;
    fn to_params(&self, s: &Self::State) -> OrderParams;
    /// The state as a vector for Anderson mixing (`None`: no acceleration).
    fn to_vec(_s: &Self::State) -> Option<Vec<f64>> {
        None
    }
    /// Rebuild a state from a mixed vector, other fields taken from `template`.
    fn from_vec(template: &Self::State, _x: &[f64]) -> Self::State {
        template.clone()
    }
}

/// The one iteration loop shared by both schemes. Convergence: the largest relative change of any
/// order parameter in one undamped sweep falls below `tol`. Schemes that expose a vector form are
/// accelerated by Anderson mixing over at most `depth` secant pairs: the newest ones of this
/// iteration, topped up with the newest of `prior` (secants inherited from an earlier solve of a
/// nearby chain) while this iteration has fewer than `depth`. All of them are dropped when the
/// residual jumps. Without a vector form, and whenever an accelerated proposal fails, the plain
/// sweep is used with adaptive damping (halved when the residual grows, relaxed back towards 1
/// when it shrinks).
pub(super) fn iterate<S: Step>(
    scheme: &mut S,
    init: S::State,
    opts: &SolverOptions,
    counters: (&mut Evals, &mut u64),
    known: &[OrderParams],
    depth: usize,
    prior: &Secants,
) -> Result<(Run, S::State), ReplicaError> {
    let (evals, sweeps) = counters;
    let mut state = init;
    let mut prev = scheme.to_params(&state);
    let mut damping = 1.0f64;
    let mut last_res = f64::INFINITY;
    let mut best_res = f64::INFINITY;
    let mut res = f64::INFINITY;
    let mut inherited = prior.clone();
    inherited.keep_last(depth);
    let mut fresh = Secants::default();
    // (f, g) of the previous sweep
    let mut last_fg: Option<(Vec<f64>, Vec<f64>)> = None;
    let history = |inherited: &Secants, fresh: &Secants| -> Secants {
        let mut all = inherited.clone();
        all.keep_last(depth.saturating_sub(fresh.len()));
        all.df.extend(fresh.df.iter().cloned());
        all.dg.extend(fresh.dg.iter().cloned());
        all
    };
    for it in 1..=opts.max_iter {
        *sweeps += 1;
        let proposal = scheme.step(&state, evals)?;
        let p = scheme.to_params(&proposal);
        if p.values().any(|x| !x.is_finite()) {
            return Err(ReplicaError::NonFinite(format!(
                "order parameters {p:?} at sweep {it}"
            )));
        }
        res = prev
            .values()
            .zip(p.values())
            .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()).max(REL_FLOOR))
            .fold(0.0, f64::max);
        // Entering the neighbourhood of a stationary point already found (every order parameter
        // within 1e-2 relative, and changing by less than 1e-2 per sweep): the same basin
        // (distinct stationary points differ at O(1)).
        if res < BASIN && known.iter().any(|k| close_points(k, &p, BASIN)) {
            return Ok((
                Run {
                    params: p,
                    converged: false,
                    duplicate: true,
                    iterations: it as u64,
                    residual: res,
                    secants: Secants::default(),
                },
                proposal,
            ));
        }
        if res < opts.tol {
            return Ok((
                Run {
                    params: p,
                    converged: true,
                    duplicate: false,
                    iterations: it as u64,
                    residual: res,
                    secants: history(&inherited, &fresh),
                },
                proposal,
            ));
        }
        let mut next: Option<S::State> = None;
        if let (Some(x), Some(g)) = (S::to_vec(&state), S::to_vec(&proposal)) {
            if res > RESIDUAL_JUMP * best_res {
                inherited.clear();
                fresh.clear();
                last_fg = None;
            }
            best_res = best_res.min(res);
            let f: Vec<f64> = g.iter().zip(&x).map(|(a, b)| a - b).collect();
            if let Some((lf, lg)) = &last_fg {
                fresh.push(
                    f.iter().zip(lf).map(|(a, b)| a - b).collect(),
                    g.iter().zip(lg).map(|(a, b)| a - b).collect(),
                );
                fresh.keep_last(depth);
            }
            let hist = history(&inherited, &fresh);
            if !hist.is_empty() {
                if let Some(xa) = anderson(&hist, &f, &g) {
                    let cand = S::from_vec(&proposal, &xa);
                    if scheme.to_params(&cand).values().all(f64::is_finite) {
                        next = Some(cand);
                    }
                }
            }
            last_fg = Some((f, g));
        }
        let next = match next {
            Some(n) => n,
            None => {
                if res > last_res {
                    damping = (damping * DAMPING_CUT).max(opts.min_damping);
                } else {
                    damping = (damping * DAMPING_RELAX).min(1.0);
                }
                if damping < 1.0 {
                    S::mix(&state, &proposal, damping)
                } else {
                    proposal
                }
            }
        };
        last_res = res;
        prev = scheme.to_params(&next);
        state = next;
    }
    Ok((
        Run {
            params: prev,
            converged: false,
            duplicate: false,
            iterations: opts.max_iter as u64,
            residual: res,
            secants: Secants::default(),
        },
        state,
    ))
}
