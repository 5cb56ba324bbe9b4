//! The one iteration loop shared by both schemes: a scheme defines one step, the loop owns
//! convergence, damping, acceleration and the work counters.

use super::super::channel::Evals;
use super::super::error::ReplicaError;
use super::super::failure::Stop;
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

/// How the loop on one start ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The largest relative change of one undamped sweep fell below the tolerance.
    Converged,
    /// The iterate entered the neighbourhood of a stationary point already known.
    Duplicate,
    /// The sweep budget ran out.
    Exhausted,
}

/// The loop's result on one start.
pub(super) struct Run {
    pub(super) params: OrderParams,
    pub(super) outcome: Outcome,
    pub(super) iterations: u64,
    pub(super) residual: f64,
    /// The Anderson history at the end (the newest last; empty unless converged).
    pub(super) secants: Secants,
}

impl Run {
    pub(super) fn converged(&self) -> bool {
        self.outcome == Outcome::Converged
    }

    pub(super) fn duplicate(&self) -> bool {
        self.outcome == Outcome::Duplicate
    }
}

/// One sweep of a scheme: `state -> state`.
pub(super) trait Step {
    type State: Clone;
    fn step(&mut self, s: &Self::State, evals: &mut Evals) -> Result<Self::State, ReplicaError>;
    /// Damped combination `(1 - d) old + d new`.
    fn mix(old: &Self::State, new: &Self::State, d: f64) -> Self::State;
    fn to_params(&self, s: &Self::State) -> OrderParams;
    /// The state as a vector for Anderson mixing (`None`: no acceleration).
    fn to_vec(&self, _s: &Self::State) -> Option<Vec<f64>> {
        None
    }
    /// Rebuild a state from a mixed vector, other fields taken from `template`.
    fn rebuild(&self, template: &Self::State, _x: &[f64]) -> Self::State {
        template.clone()
    }
}

/// What one start of the loop knows besides its initial state: the stationary points already
/// found (a start that reaches one of them stops as a duplicate), the Anderson depth, and the
/// secants inherited from an earlier solve of a nearby chain.
pub(super) struct Context<'a> {
    pub(super) known: &'a [OrderParams],
    pub(super) depth: usize,
    pub(super) prior: &'a Secants,
    /// Stop (as [`Outcome::Exhausted`]) after this many sweeps without a new smallest residual.
    pub(super) stall: Option<u64>,
}

/// The largest relative change between two sets of order parameters,
/// `max_k |a_k - b_k| / max(|a_k|, |b_k|, REL_FLOOR)`.
fn relative_change(a: &OrderParams, b: &OrderParams) -> f64 {
    a.values()
        .zip(b.values())
        .map(|(a, b)| (a - b).abs() / a.abs().max(b.abs()).max(REL_FLOOR))
        .fold(0.0, f64::max)
}

/// Anderson mixing over at most `depth` secant pairs: the newest of this iteration (`fresh`),
/// topped up with the newest of those inherited from an earlier solve while this iteration has
/// fewer than `depth`; all dropped when the residual jumps above [`RESIDUAL_JUMP`] times the best.
struct Accelerator {
    depth: usize,
    inherited: Secants,
    fresh: Secants,
    /// `(f, g)` of the previous sweep (`f = g - x`).
    last_fg: Option<(Vec<f64>, Vec<f64>)>,
    best_res: f64,
}

impl Accelerator {
    fn new(prior: &Secants, depth: usize) -> Self {
        let mut inherited = prior.clone();
        inherited.keep_last(depth);
        Accelerator {
            depth,
            inherited,
            fresh: Secants::default(),
            last_fg: None,
            best_res: f64::INFINITY,
        }
    }

    /// The secants in use: the inherited ones cut to leave room for the fresh ones, then the
    /// fresh ones (the newest last).
    fn history(&self) -> Secants {
        let mut all = self.inherited.clone();
        all.keep_last(self.depth.saturating_sub(self.fresh.len()));
        all.df.extend(self.fresh.df.iter().cloned());
        all.dg.extend(self.fresh.dg.iter().cloned());
        all
    }

    /// Record the sweep `x -> g` (residual `res`) and return the Anderson proposal, if the
    /// history is not empty and the least-squares problem is solvable.
    fn propose(&mut self, x: &[f64], g: Vec<f64>, res: f64) -> Option<Vec<f64>> {
        if res > RESIDUAL_JUMP * self.best_res {
            self.inherited.clear();
            self.fresh.clear();
            self.last_fg = None;
        }
        self.best_res = self.best_res.min(res);
        let f: Vec<f64> = g.iter().zip(x).map(|(a, b)| a - b).collect();
        if let Some((lf, lg)) = &self.last_fg {
            self.fresh.push(
                f.iter().zip(lf).map(|(a, b)| a - b).collect(),
                g.iter().zip(lg).map(|(a, b)| a - b).collect(),
            );
            self.fresh.keep_last(self.depth);
        }
        let hist = self.history();
        let proposal = if hist.is_empty() {
            None
        } else {
            anderson(&hist, &f, &g)
        };
        self.last_fg = Some((f, g));
        proposal
    }
}

/// Adaptive damping of the plain sweep: the factor is multiplied by [`DAMPING_CUT`] (not below
/// `min`) when the residual grows and by [`DAMPING_RELAX`] (not above 1) when it does not.
struct Damping {
    factor: f64,
    min: f64,
}

impl Damping {
    /// The next state from the sweep `state -> proposal`: `(1 - d) state + d proposal` with the
    /// updated factor `d`, or `proposal` itself at `d = 1`.
    fn next<S: Step>(&mut self, state: &S::State, proposal: S::State, grew: bool) -> S::State {
        self.factor = if grew {
            (self.factor * DAMPING_CUT).max(self.min)
        } else {
            (self.factor * DAMPING_RELAX).min(1.0)
        };
        if self.factor < 1.0 {
            S::mix(state, &proposal, self.factor)
        } else {
            proposal
        }
    }
}

/// The one iteration loop shared by both schemes. Convergence: the largest relative change of any
/// order parameter in one undamped sweep ([`relative_change`]) falls below `tol`. Schemes that
/// expose a vector form are accelerated by Anderson mixing ([`Accelerator`]); without a vector
/// form, and whenever an accelerated proposal fails or is not finite, the plain sweep is used
/// with adaptive damping ([`Damping`]). `counters` are the integrand evaluations and sweeps.
/// Stops early on an error of a sweep, a cancellation ([`ReplicaError::Interrupted`]) or the end
/// of the solve's time budget ([`Stop::OutOfTime`]).
pub(super) fn iterate<S: Step>(
    scheme: &mut S,
    init: S::State,
    opts: &SolverOptions,
    counters: (&mut Evals, &mut u64),
    ctx: &Context<'_>,
) -> Result<(Run, S::State), Stop> {
    let (evals, sweeps) = counters;
    let mut state = init;
    let mut prev = scheme.to_params(&state);
    let mut damping = Damping {
        factor: 1.0,
        min: opts.min_damping,
    };
    let mut accel = Accelerator::new(ctx.prior, ctx.depth);
    let mut last_res = f64::INFINITY;
    let mut res = f64::INFINITY;
    let (mut best_res, mut best_at) = (f64::INFINITY, 0u64);
    let run = |params, outcome, iterations, residual, secants| Run {
        params,
        outcome,
        iterations,
        residual,
        secants,
    };
    for it in 1..=opts.max_iter {
        if opts.cancelled() {
            return Err(ReplicaError::Interrupted.into());
        }
        if opts
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Err(Stop::OutOfTime {
                seconds: opts.max_seconds.unwrap_or(0.0),
                sweep: it as u64,
            });
        }
        *sweeps += 1;
        let proposal = scheme.step(&state, evals)?;
        let p = scheme.to_params(&proposal);
        if p.values().any(|x| !x.is_finite()) {
            return Err(
                ReplicaError::NonFinite(format!("order parameters {p:?} at sweep {it}")).into(),
            );
        }
        res = relative_change(&prev, &p);
        // Entering the neighbourhood of a stationary point already found (every order parameter
        // within BASIN relative, and changing by less than BASIN per sweep): the same basin.
        if res < BASIN && ctx.known.iter().any(|k| close_points(k, &p, BASIN)) {
            let out = run(p, Outcome::Duplicate, it as u64, res, Secants::default());
            return Ok((out, proposal));
        }
        if res < opts.tol {
            let out = run(p, Outcome::Converged, it as u64, res, accel.history());
            return Ok((out, proposal));
        }
        if res < best_res {
            (best_res, best_at) = (res, it as u64);
        } else if ctx.stall.is_some_and(|k| it as u64 - best_at >= k) {
            let out = run(p, Outcome::Exhausted, it as u64, res, Secants::default());
            return Ok((out, proposal));
        }
        let accelerated = match (scheme.to_vec(&state), scheme.to_vec(&proposal)) {
            (Some(x), Some(g)) => accel
                .propose(&x, g, res)
                .map(|xa| scheme.rebuild(&proposal, &xa))
                .filter(|cand| scheme.to_params(cand).values().all(f64::is_finite)),
            _ => None,
        };
        let next = match accelerated {
            Some(n) => n,
            None => damping.next::<S>(&state, proposal, res > last_res),
        };
        last_res = res;
        prev = scheme.to_params(&next);
        state = next;
    }
    let out = run(
        prev,
        Outcome::Exhausted,
        opts.max_iter as u64,
        res,
        Secants::default(),
    );
    Ok((out, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sweep that flips `V` between 1 and 2 forever (and whose damping does not damp): its
    /// residual stays at 0.5.
    struct Flip;

    impl Step for Flip {
        type State = OrderParams;
        fn step(&mut self, s: &OrderParams, _: &mut Evals) -> Result<OrderParams, ReplicaError> {
            let mut o = s.clone();
            o.v[0] = if s.v[0] < 1.5 { 2.0 } else { 1.0 };
            Ok(o)
        }
        fn mix(_old: &OrderParams, new: &OrderParams, _d: f64) -> OrderParams {
            new.clone()
        }
        fn to_params(&self, s: &OrderParams) -> OrderParams {
            s.clone()
        }
    }

    fn run_flip(stall: Option<u64>) -> Run {
        let p = OrderParams::new(vec![1.0], vec![1.0], vec![1.0], vec![1.0], vec![0.5]).unwrap();
        let (mut evals, mut sweeps) = (0, 0);
        let ctx = Context {
            known: &[],
            depth: 0,
            prior: &Secants::default(),
            stall,
        };
        let opts = SolverOptions::default().with_max_iter(1000).unwrap();
        iterate(&mut Flip, p, &opts, (&mut evals, &mut sweeps), &ctx)
            .ok()
            .unwrap()
            .0
    }

    /// A stuck iteration stops `stall` sweeps after its smallest residual (sweep 1 here), not at
    /// the sweep budget; without `stall` it runs the whole budget.
    #[test]
    fn a_stalled_iteration_stops_early() {
        let stalled = run_flip(Some(100));
        assert_eq!(stalled.outcome, Outcome::Exhausted);
        assert_eq!(stalled.iterations, 101, "{}", stalled.iterations);
        let full = run_flip(None);
        assert_eq!(full.outcome, Outcome::Exhausted);
        assert_eq!(full.iterations, 1000);
    }
}
