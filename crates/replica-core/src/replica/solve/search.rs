//! The driver of one solve: the warm start, the caller's start, the multi-start search over the
//! schemes, the continuation fallback, and the selection (rules in the parent module's
//! documentation). Every start's end is recorded ([`Trace`]): a failed one in the
//! [`FailureReport`] of the error when nothing is left, every one in the [`Solution`]'s report,
//! and each as it ends for the caller's observer.

use super::super::chain::Chain;
use super::super::error::ReplicaError;
use super::super::failure::{Attempt, AttemptOutcome, FailureReport, Start, Stop};
use super::extras::{Solution, SolveEvent, SolveWith, StartAt, StartReport};
use super::iterate::Run;
use super::rescale::Rescaled;
use super::vamp::state_from_params;
use super::{
    centred_if_shift_invariant, continuation, evaluate, finish, fixed_point_suffices, lower,
    polish_vamp, polish_warm, run_scheme, start_indices, start_v, vamp_init, Candidate, Counters,
    Scheme, SchemeChoice, Seen, SolverOptions, WarmStart,
};

/// The record of the starts of one solve, and the caller's extras.
struct Trace<'w, 'a, 'r> {
    starts: Vec<StartReport>,
    failures: FailureReport,
    with: &'w mut SolveWith<'a>,
    /// How the solved chain's results read in the caller's (see [`evaluate`]).
    back: Option<&'r Rescaled>,
}

impl Trace<'_, '_, '_> {
    fn push(&mut self, report: StartReport) -> usize {
        self.with.emit(SolveEvent::Start(&report));
        self.starts.push(report);
        self.starts.len() - 1
    }

    /// A start that gave no candidate; `run` is its last `(sweeps, residual)` when it has one.
    fn fail(
        &mut self,
        scheme: Option<Scheme>,
        start: Start,
        outcome: AttemptOutcome,
        run: Option<(u64, f64)>,
    ) {
        self.failures
            .push(Attempt::new(scheme, start, outcome.clone()));
        self.push(StartReport {
            scheme,
            start,
            iterations: run.map(|r| r.0),
            residual: run.map(|r| r.1),
            entropy: None,
            failure: Some(outcome),
            duplicate: false,
            selected: false,
        });
    }

    fn candidate(&mut self, start: Start, c: &Candidate) -> usize {
        self.push(StartReport {
            scheme: Some(c.scheme),
            start,
            iterations: Some(c.run.iterations),
            residual: Some(c.run.residual),
            entropy: Some(c.read.entropy),
            failure: None,
            duplicate: false,
            selected: false,
        })
    }

    fn duplicate(&mut self, scheme: Scheme, start: Start) {
        self.push(StartReport {
            scheme: Some(scheme),
            start,
            iterations: None,
            residual: None,
            entropy: None,
            failure: None,
            duplicate: true,
            selected: false,
        });
    }

    /// The answer: start `index`'s candidate `c`, marked selected and told to the observer.
    fn finish(mut self, c: Candidate, index: usize, counters: Counters) -> Solution {
        self.starts[index].selected = true;
        self.with.emit(SolveEvent::Selected(&self.starts[index]));
        Solution {
            estimate: finish(c, counters),
            starts: self.starts,
        }
    }

    /// Record how one start of `scheme` ended; a candidate replaces `best` if its potential is
    /// lower (see [`lower`]).
    fn consider(
        &mut self,
        (chain, opts, counters): (&Chain, &SolverOptions, &mut Counters),
        scheme: Scheme,
        start: Start,
        result: Result<Option<Run>, Stop>,
        best: &mut Option<(Candidate, usize)>,
    ) -> Result<(), ReplicaError> {
        match result {
            Ok(None) => self.duplicate(scheme, start),
            Ok(Some(run)) if run.converged() => {
                counters.starts_converged += 1;
                let last = (run.iterations, run.residual);
                match evaluate(chain, self.back, run, scheme, opts, counters) {
                    Ok(c) => {
                        let i = self.candidate(start, &c);
                        if best.as_ref().is_none_or(|(b, _)| lower(&c, b)) {
                            *best = Some((c, i));
                        }
                    }
                    Err(why) => self.fail(Some(scheme), start, why, Some(last)),
                }
            }
            Ok(Some(run)) => self.fail(
                Some(scheme),
                start,
                AttemptOutcome::Exhausted {
                    sweeps: Some(run.iterations),
                    residual: run.residual,
                },
                Some((run.iterations, run.residual)),
            ),
            Err(Stop::Error(ReplicaError::Interrupted)) => return Err(ReplicaError::Interrupted),
            Err(stop) => self.fail(Some(scheme), start, stop.into(), None),
        }
        Ok(())
    }
}

/// The caller's start with `scheme`: initial variances start as the search's own starts do
/// (coarse, then polished); a whole point is polished at once with the full rule. A converged
/// point is known afterwards (`seen`), so that search starts reaching it stop there.
fn run_given(
    chain: &Chain,
    scheme: Scheme,
    given: &StartAt,
    opts: &SolverOptions,
    counters: &mut Counters,
    seen: &mut Seen,
) -> Result<Option<Run>, Stop> {
    let p = match given {
        StartAt::Variances(v) => return run_scheme(chain, scheme, v, opts, counters, seen),
        StartAt::Point(p) => p,
    };
    let run = match scheme {
        Scheme::FixedPoint => polish_warm(chain, &WarmStart::from(p.clone()), opts, counters)?,
        Scheme::Vamp => {
            // a point whose V~ or theta are no ML-VAMP state (a fixed-point start's zeros)
            // starts from its variances alone
            let state = state_from_params(p).unwrap_or_else(|| vamp_init(chain, &p.v));
            polish_vamp(chain, state, opts, counters)?
        }
    };
    if run.converged() {
        seen.points.push(run.params.clone());
    }
    Ok(Some(run))
}

pub(super) fn solve_inner(
    chain: &Chain,
    opts: &SolverOptions,
    with: &mut SolveWith<'_>,
) -> Result<Solution, ReplicaError> {
    with.check_chain(chain)?;
    let centred = centred_if_shift_invariant(chain);
    let chain = centred.as_ref().unwrap_or(chain);
    let Some(r) = Rescaled::of(chain) else {
        return solve_chain(chain, None, opts, with);
    };
    // the caller's starts in the rescaled units for the solve, theirs again afterwards
    let given = with.start_at.clone();
    let warm = with.warm.clone();
    with.start_at = given.as_ref().map(|s| r.start_in(s));
    with.warm = warm.as_ref().map(|w| r.warm_in(w));
    let out = solve_chain(&r.chain, Some(&r), opts, with);
    with.start_at = given;
    with.warm = warm;
    out.map(|mut sol| {
        sol.estimate.order_params = r.params_back(&sol.estimate.order_params);
        sol
    })
}

/// The solve of `chain` (rescaled from `back.original` where `back` is given).
fn solve_chain(
    chain: &Chain,
    back: Option<&Rescaled>,
    opts: &SolverOptions,
    with: &mut SolveWith<'_>,
) -> Result<Solution, ReplicaError> {
    let mut timed = *opts;
    timed.deadline = opts
        .max_seconds
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs_f64(s));
    let opts = &timed;
    // the caller's thread may have just run a faer matrix product (see `simd`)
    crate::simd::clear_upper_simd_state();
    let mut counters = Counters::default();
    let given = with.start_at.clone();
    let warm = with.warm.clone();
    let mut trace = Trace {
        starts: Vec::new(),
        failures: FailureReport::default(),
        with,
        back,
    };
    if let Some(w) = &warm {
        let fp = Some(Scheme::FixedPoint);
        match polish_warm(chain, w, opts, &mut counters) {
            Ok(run) if run.converged() => {
                counters.starts_converged += 1;
                let last = (run.iterations, run.residual);
                match evaluate(chain, back, run, Scheme::FixedPoint, opts, &mut counters) {
                    Ok(c) => {
                        let i = trace.candidate(Start::Warm, &c);
                        return Ok(trace.finish(c, i, counters));
                    }
                    Err(why) => trace.fail(fp, Start::Warm, why, Some(last)),
                }
            }
            Ok(run) => trace.fail(
                fp,
                Start::Warm,
                AttemptOutcome::Exhausted {
                    sweeps: None,
                    residual: run.residual,
                },
                Some((run.iterations, run.residual)),
            ),
            Err(Stop::Error(ReplicaError::Interrupted)) => return Err(ReplicaError::Interrupted),
            Err(stop) => trace.fail(fp, Start::Warm, stop.into(), None),
        }
    }
    let schemes: &[Scheme] = match opts.choice {
        SchemeChoice::Auto => &[Scheme::FixedPoint, Scheme::Vamp],
        SchemeChoice::Only(Scheme::FixedPoint) => &[Scheme::FixedPoint],
        SchemeChoice::Only(Scheme::Vamp) => &[Scheme::Vamp],
    };
    let starts = match (opts.multistart, &given) {
        (true, _) => start_indices(chain.len()),
        // one start only: the caller's if there is one
        (false, Some(_)) => Vec::new(),
        (false, None) => vec![0],
    };
    let mut best: Option<(Candidate, usize)> = None;
    let mut seen = Seen::default();
    for &scheme in schemes {
        if best.is_some() && fixed_point_suffices(chain) {
            break;
        }
        if let Some(g) = &given {
            let r = run_given(chain, scheme, g, opts, &mut counters, &mut seen);
            let ctx = (chain, opts, &mut counters);
            trace.consider(ctx, scheme, Start::Given, r, &mut best)?;
        }
        for &k in &starts {
            let v0 = start_v(chain, k);
            let r = run_scheme(chain, scheme, &v0, opts, &mut counters, &mut seen);
            let ctx = (chain, opts, &mut counters);
            trace.consider(ctx, scheme, Start::Index(k), r, &mut best)?;
        }
    }
    if best.is_none() && opts.continuation && opts.choice == SchemeChoice::Auto {
        match continuation::follow(chain, back, opts, &mut counters) {
            Ok(c) => {
                let i = trace.candidate(Start::Continuation, &c);
                best = Some((c, i));
            }
            // an interruption inside the continuation reaches it as a failed step
            Err(_) if opts.cancelled() => return Err(ReplicaError::Interrupted),
            Err(why) => trace.fail(None, Start::Continuation, why, None),
        }
    }
    match best {
        Some((c, i)) => Ok(trace.finish(c, i, counters)),
        None => Err(ReplicaError::NotConverged(trace.failures)),
    }
}
