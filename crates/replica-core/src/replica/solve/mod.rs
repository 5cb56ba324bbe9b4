//! Solving the replica equations: two schemes that each define one step (`fixed_point`,
//! `vamp`), one loop that owns iteration (`iterate`: adaptive damping, Anderson mixing
//! (`anderson`), convergence on every order parameter, work counters), and here the driver:
//! starts, warm starts, and the selection of the answer.
//!
//! **Selection rule.** `H(T_L)/n_0` is the smallest potential over the stationary points that
//! pass the exact bounds ([`super::bounds`]). Candidates are the converged starts of each scheme
//! (`L + 1` starts per scheme, at most 11 spread over the depth, each coarse then polished). The fixed-point scheme runs first; ML-VAMP
//! runs as well unless the fixed point alone can be trusted (Gaussian prior, Gaussian i.i.d.
//! weights, linear/ReLU/leaky-ReLU activations: one stationary point in practice) and has already
//! produced a candidate. A converged point that breaks a bound (e.g. the perfect-recovery point
//! of a discrete prior on a bounded spectrum, with `H` above `n_L ln 2`) is rejected and counted
//! in [`Counters::candidates_rejected`]; if nothing is left the solve is an error that lists every
//! start's failure and every rejected point's broken bound, unless the continuation fallback
//! (`continuation`: the stationary point followed from the chain with added noise down to the
//! chain itself) gives a valid point. A warm start (training curves)
//! polishes the previous epoch's point and returns it if it converges and passes the bounds,
//! without a global search; otherwise the full search runs.

mod anderson;
mod continuation;
mod extras;
mod fixed_point;
mod iterate;
mod options;
mod rescale;
mod search;
mod vamp;

pub use anderson::Secants;
pub use extras::{Solution, SolveEvent, SolveWith, StartAt, StartReport};
pub use options::{Scheme, SchemeChoice, SolverOptions};

use super::bounds::{self, ReadOut};
use super::chain::Chain;
use super::channel::Activation;
use super::channel::Evals;
use super::error::ReplicaError;
use super::failure::{AttemptOutcome, Stop};
use super::gauss::RuleSize;
use super::potential;
use fixed_point::FixedPointStep;
use iterate::{iterate, Context, Run, Step};
use vamp::{VampState, VampStep};

/// The order parameters of the potential, per layer `l` (0-based): `v` = V (variance on T_{l-1}),
/// `a_t` = A~ (precision on T_{l-1}), `v_t` = V~ (variance on z_l), `a` = A (precision on z_l),
/// `theta`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct OrderParams {
    pub v: Vec<f64>,
    pub a: Vec<f64>,
    pub a_t: Vec<f64>,
    pub v_t: Vec<f64>,
    pub theta: Vec<f64>,
}

impl OrderParams {
    /// Order parameters given layer by layer (e.g. read back from a file): one entry per layer in
    /// each vector, at least one layer. Whether they are a stationary point of some chain is for
    /// the solver to find out.
    pub fn new(
        v: Vec<f64>,
        a: Vec<f64>,
        a_t: Vec<f64>,
        v_t: Vec<f64>,
        theta: Vec<f64>,
    ) -> Result<Self, ReplicaError> {
        let n = v.len();
        if n == 0
            || [a.len(), a_t.len(), v_t.len(), theta.len()]
                .iter()
                .any(|&k| k != n)
        {
            return Err(ReplicaError::invalid(
                super::error::Field::Setting("order_params".into()),
                format!(
                    "lengths {n}, {}, {}, {}, {}",
                    a.len(),
                    a_t.len(),
                    v_t.len(),
                    theta.len()
                ),
                "v, a, a_t, v_t and theta need one entry per layer each (at least one layer)",
            ));
        }
        Ok(OrderParams {
            v,
            a,
            a_t,
            v_t,
            theta,
        })
    }

    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.v
            .iter()
            .chain(&self.a)
            .chain(&self.a_t)
            .chain(&self.v_t)
            .copied()
    }
}

/// Deterministic work counters (for regression budgets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Counters {
    pub sweeps_fixed_point: u64,
    pub sweeps_vamp: u64,
    pub starts_tried: u64,
    pub starts_converged: u64,
    /// Starts whose coarse fixed point coincided with an earlier start's (not polished again).
    pub starts_duplicate: u64,
    /// Converged stationary points rejected because they broke an exact bound.
    pub candidates_rejected: u64,
    /// Channel integrand evaluations (quadrature nodes visited).
    pub evals: u64,
    /// Steps of the continuation fallback (0 unless every start failed).
    pub continuation_steps: u64,
}

impl Counters {
    /// Add the work of a nested solve.
    fn absorb(&mut self, o: &Counters) {
        self.sweeps_fixed_point += o.sweeps_fixed_point;
        self.sweeps_vamp += o.sweeps_vamp;
        self.starts_tried += o.starts_tried;
        self.starts_converged += o.starts_converged;
        self.starts_duplicate += o.starts_duplicate;
        self.candidates_rejected += o.candidates_rejected;
        self.evals += o.evals;
        self.continuation_steps += o.continuation_steps;
    }
}

/// The estimate for one chain, with diagnostics. Built by the solver (and
/// [`Estimate::from_parts`]); its fields are read directly.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Estimate {
    /// `H(T_L) / n_0` in nats.
    pub entropy: f64,
    /// `I(X; T_L) / n_0`, defined when every inner layer is noiseless; `None` otherwise.
    pub mutual_information: Option<f64>,
    /// `(H(T_L) - H(T_L | T_{L-1})) / n_0 = I(T_{L-1}; T_L) / n_0`.
    pub mi_last_layer: f64,
    /// MMSE of `X` given `T_L` (per entry).
    pub mmse: f64,
    pub scheme: Scheme,
    pub iterations: u64,
    pub residual: f64,
    pub counters: Counters,
    /// The selected stationary point (for warm starts).
    pub order_params: OrderParams,
    /// The Anderson secants of the final iteration (see [`Secants`]) of a fixed-point solve; empty
    /// after ML-VAMP, whose secants are of another map.
    #[serde(skip)]
    pub secants: Secants,
}

impl Estimate {
    /// An estimate put back together from what an earlier one reported (a saved or pickled
    /// estimate): `values` are `(entropy, mutual_information, mi_last_layer, mmse)`, `warm` its
    /// stationary point and secants ([`Estimate::warm_start`]). Nothing is solved or checked
    /// here: the parts are trusted to come from a solve.
    pub fn from_parts(
        values: (f64, Option<f64>, f64, f64),
        scheme: Scheme,
        iterations: u64,
        residual: f64,
        counters: Counters,
        warm: WarmStart,
    ) -> Self {
        let (entropy, mutual_information, mi_last_layer, mmse) = values;
        Estimate {
            entropy,
            mutual_information,
            mi_last_layer,
            mmse,
            scheme,
            iterations,
            residual,
            counters,
            order_params: warm.params,
            secants: warm.secants,
        }
    }

    /// The stationary point and secants, to warm-start the solve of a nearby chain.
    pub fn warm_start(&self) -> WarmStart {
        WarmStart {
            params: self.order_params.clone(),
            secants: self.secants.clone(),
        }
    }
}

/// A start for [`solve_warm`]: a previous stationary point, and optionally the secants of the
/// solve that found it (same chain shape; they only steer the iteration, never the fixed point it
/// converges to). Serialisable, secants included, so that a checkpointed run resumes with the
/// very warm start it had.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct WarmStart {
    pub params: OrderParams,
    pub secants: Secants,
}

impl WarmStart {
    /// A stationary point and the secants of the solve that found it.
    pub fn new(params: OrderParams, secants: Secants) -> Self {
        WarmStart { params, secants }
    }
}

impl From<OrderParams> for WarmStart {
    fn from(params: OrderParams) -> Self {
        WarmStart {
            params,
            secants: Secants::default(),
        }
    }
}

/// Tolerance of the coarse first stage of a fixed-point solve.
const COARSE_TOL: f64 = 1e-6;

/// History length of the Anderson mixing.
const ANDERSON_DEPTH: usize = 3;

/// History length of the Anderson mixing when polishing (from a coarse fixed point or a warm
/// start): the dimension `2L` of the mixed vector `(ln V, ln A)`, at least [`ANDERSON_DEPTH`].
/// Near a fixed point the sweep is close to affine, and a secant history spanning the whole space
/// solves the linearised problem; measured on the 5-layer chain of the training recorder, a warm
/// start took 26 sweeps at depth 3 and 11 at depth 10. Far from a fixed point (the coarse stage of
/// a cold start) a long history of stale secants slows convergence instead, so that stage keeps
/// depth 3.
fn polish_depth(layers: usize) -> usize {
    (2 * layers).max(ANDERSON_DEPTH)
}

// ---------------------------------------------------------------------------------------------
// Starts, selection, fallback

/// Initial variances of start `k`: `V_l = rho_{l}` for the first `k` layers, `d` after.
fn start_v(chain: &Chain, k: usize) -> Vec<f64> {
    // the variance of a layer started as (nearly) known
    const D: f64 = 1e-10;
    (0..chain.len())
        .map(|l| if l < k { chain.rho(l) } else { D })
        .collect()
}

/// Most starts per scheme. A chain of `L <= 10` layers gets all `L + 1` starts; a deeper one gets
/// 11 spread evenly over `0..=L` (the first and the last included). Every start of a deep chain
/// needs a number of sweeps independent of the depth (about 100 on linear chains of 30 to 1000
/// layers, with the sweep down and back up of [`fixed_point::SYMMETRIC_MIN_LAYERS`]) and each
/// sweep visits every layer, so a solve costs `O(L)`: with `L + 1` starts it would be `O(L^2)`.
const MAX_STARTS: usize = 11;

/// The starts `k` (layers started as known, see [`start_v`]) of a chain of `layers` layers.
fn start_indices(layers: usize) -> Vec<usize> {
    if layers < MAX_STARTS {
        return (0..=layers).collect();
    }
    let gaps = MAX_STARTS - 1;
    (0..MAX_STARTS)
        .map(|j| (j * layers + gaps / 2) / gaps)
        .collect()
}

fn fixed_point_init(chain: &Chain, v: Vec<f64>) -> OrderParams {
    let n = chain.len();
    OrderParams {
        v,
        a: vec![1.0; n],
        a_t: (0..n).map(|l| chain.layers()[l].alpha()).collect(),
        v_t: vec![0.0; n],
        theta: vec![0.0; n],
    }
}

fn vamp_init(chain: &Chain, v: &[f64]) -> VampState {
    let n = chain.len();
    let a1x = (0..n)
        .map(|l| (1.0 / v[l] - 1.0 / chain.rho(l)).max(0.0))
        .collect();
    let a1z = (0..n)
        .map(|l| chain.rho_z(l) + chain.layers()[l].channel().noise_var() + 1.0)
        .collect();
    VampState {
        a1x,
        a1z,
        v1x: v.to_vec(),
        a2z: vec![1.0; n],
        g: vec![1.0; n],
    }
}

/// A converged stationary point that passed the exact bounds, with its potential and read-out.
struct Candidate {
    run: Run,
    scheme: Scheme,
    read: ReadOut,
}

/// Evaluate a converged run: the potential `Phi` (= `H(T_L)/n_0`), the read-out of `I` and the
/// MMSE (in closed form at a recovered point, see [`bounds::recovered_entropy`]), and the exact
/// bounds. `Err` says why the point is not a candidate. With `back`, `chain` is the rescaled
/// chain of `back.original`: the values are read out in the original's units (its entropy
/// shifted by `back.entropy_shift`; informations and the MMSE are unchanged) and checked against
/// the original's bounds; the order parameters stay in the rescaled units.
fn evaluate(
    chain: &Chain,
    back: Option<&rescale::Rescaled>,
    run: Run,
    scheme: Scheme,
    opts: &SolverOptions,
    counters: &mut Counters,
) -> Result<Candidate, AttemptOutcome> {
    let phi = potential::phi(chain, &run.params, opts.rule, &mut counters.evals)
        .map_err(AttemptOutcome::from_error)?;
    let l = chain.len() - 1;
    let i_out0 = chain.layers()[l]
        .channel()
        .output(0.0, chain.rho_z(l), opts.rule, &mut counters.evals)
        .i_out;
    let cond_entropy = -chain.alpha_tilde(chain.len()) * i_out0;
    let mmse = run.params.v[0];
    let read = match bounds::recovered_entropy(chain.prior(), mmse) {
        // X is recovered (discrete prior, MMSE ~ 0) and every inner layer is noiseless: then
        // I(X;T_L) = H(X) to RECOVERY_PINNED, and H(T_L) = H(X) + H(T_L|T_{L-1}) exactly. This is
        // read out in closed form, because at such points the noiseless floor biases the
        // potential by up to 2e-4 nats (see RECOVERY_PINNED), enough to put I above H(X).
        Some(h_x) if chain.inner_noiseless() => ReadOut {
            entropy: h_x + cond_entropy,
            mutual_information: Some(h_x),
            mi_last_layer: h_x,
            mmse,
        },
        _ => {
            let mi_last = phi - cond_entropy;
            ReadOut {
                entropy: phi,
                mutual_information: chain.inner_noiseless().then_some(mi_last),
                mi_last_layer: mi_last,
                mmse,
            }
        }
    };
    let (read, bounded) = match back {
        Some(r) => (
            ReadOut {
                entropy: read.entropy + r.entropy_shift,
                ..read
            },
            &r.original,
        ),
        None => (read, chain),
    };
    bounds::check(bounded, &read).map_err(|b| {
        counters.candidates_rejected += 1;
        AttemptOutcome::BrokenBound(b)
    })?;
    Ok(Candidate { run, scheme, read })
}

/// Potentials closer than this (relative, at least 1e-9 absolute) belong to one stationary point
/// reached by both schemes (their values then agree to round-off, ~1e-12): the earlier candidate
/// is kept, so that the fixed-point scheme is reported wherever it found the answer.
const SAME_POTENTIAL: f64 = 1e-9;

/// Whether candidate `c` has a lower potential than `best` by more than [`SAME_POTENTIAL`].
fn lower(c: &Candidate, best: &Candidate) -> bool {
    let (a, b) = (c.read.entropy, best.read.entropy);
    a < b - SAME_POTENTIAL * b.abs().max(1.0)
}

/// Whether the fixed-point scheme alone can be trusted to find the smallest stationary point:
/// Gaussian prior, Gaussian i.i.d. weights in every layer and positively homogeneous activations
/// (linear, ReLU, leaky ReLU). Everywhere else (discrete or sparse priors, bounded spectra,
/// sign/hardtanh channels) several stationary points coexist, or the fixed-point scheme has no
/// theta root on part of the way, and ML-VAMP runs as well.
fn fixed_point_suffices(chain: &Chain) -> bool {
    matches!(chain.prior().params(), super::PriorParams::Gaussian { .. })
        && chain.layers().iter().all(|l| {
            matches!(l.ensemble(), super::Ensemble::Gaussian { .. })
                && matches!(
                    l.channel().activation(),
                    Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. }
                )
        })
}

/// One start of `scheme` from the variances `v0`, in two stages (see [`staged`]). `Ok(None)`: the
/// start reached a stationary point already found and was not polished again.
fn run_scheme(
    chain: &Chain,
    scheme: Scheme,
    v0: &[f64],
    opts: &SolverOptions,
    counters: &mut Counters,
    seen: &mut Seen,
) -> Result<Option<Run>, Stop> {
    counters.starts_tried += 1;
    let Counters {
        evals,
        starts_duplicate,
        ..
    } = counters;
    match scheme {
        Scheme::FixedPoint => staged(
            (scheme, |rule| FixedPointStep { chain, rule }),
            fixed_point_init(chain, v0.to_vec()),
            opts,
            (evals, &mut counters.sweeps_fixed_point, starts_duplicate),
            seen,
            chain.len(),
            Coarse {
                depth: ANDERSON_DEPTH,
                max_iter: opts.max_iter,
            },
        ),
        Scheme::Vamp => {
            // First with Anderson mixing and a short budget: it reaches a stationary point 5-15
            // times sooner where it works (measured on the random-chain grid); where it wanders
            // (as it does on some training chains), the plain damped sweep from the start again.
            let mut attempt = |seen: &mut Seen, coarse: Coarse| {
                staged(
                    (scheme, |rule| VampStep { chain, rule }),
                    vamp_init(chain, v0),
                    opts,
                    (
                        &mut *evals,
                        &mut counters.sweeps_vamp,
                        &mut *starts_duplicate,
                    ),
                    seen,
                    chain.len(),
                    coarse,
                )
            };
            let polish_failures = seen.failed.len();
            let accelerated = Coarse {
                depth: ANDERSON_DEPTH,
                max_iter: VAMP_ACCELERATED_SWEEPS.min(opts.max_iter),
            };
            match attempt(seen, accelerated) {
                Ok(None) => Ok(None),
                Ok(Some(run)) if run.converged() => Ok(Some(run)),
                // the coarse stage converged and the polish failed: the plain sweep would reach
                // the same coarse point
                Ok(Some(run)) if seen.failed.len() > polish_failures => Ok(Some(run)),
                _ => attempt(
                    seen,
                    Coarse {
                        depth: 0,
                        max_iter: opts.max_iter,
                    },
                ),
            }
        }
    }
}

/// Sweeps allowed to the polish of a coarse fixed point. From a coarse point converged to 1e-6 a
/// polish needs 5-60 sweeps on the guard panel and the reference cases; one still moving after
/// 500 is stuck on the fine rule (seen on the random-chain grid: 3000 sweeps at residual 5e-5),
/// and the other starts and the other scheme are tried instead.
const POLISH_SWEEPS: usize = 500;

/// Sweeps allowed to the Anderson-accelerated first attempt of an ML-VAMP start.
const VAMP_ACCELERATED_SWEEPS: usize = 300;

/// What the starts of one solve have found so far.
#[derive(Default)]
pub(super) struct Seen {
    /// Polished stationary points, of either scheme (both are stationary points of the same
    /// potential, in the same order parameters): a start that runs into one stops there.
    pub(super) points: Vec<OrderParams>,
    /// Coarse stationary points whose polish failed, with the scheme that failed: a later start
    /// of that scheme whose coarse point is one of them would polish the same way (measured on
    /// extreme chains: up to ten starts each spending 500 polish sweeps on one point stuck at
    /// residual 6e-8), and stops there instead. The other scheme may still polish it.
    failed: Vec<(Scheme, OrderParams)>,
}

impl Seen {
    fn failed_with(&self, scheme: Scheme, p: &OrderParams) -> bool {
        self.failed
            .iter()
            .any(|(s, q)| *s == scheme && same_point(q, p))
    }
}

/// Sweeps without a new smallest residual after which a polish is stuck (its residual wanders at
/// the fine rule's round-off, above the tolerance) and stops. Polishes that converge need 5-60
/// sweeps and lower their best residual every few sweeps.
const POLISH_STALL: u64 = 100;

/// Settings of the coarse stage of a start: Anderson history length (0: none) and sweep budget.
#[derive(Clone, Copy)]
struct Coarse {
    depth: usize,
    max_iter: usize,
}

/// A start in two stages. Stage 1: a coarse quadrature rule, a loose tolerance and a short
/// Anderson history (`coarse.depth`, 0 for none) and its own sweep budget find the basin cheaply, stopping early when the iterate enters the basin of a
/// stationary point in `seen`; a start whose coarse fixed point coincides with one in `seen` is
/// the same stationary point and is not polished again (`Ok(None)`). Stage 2 polishes with the
/// full rule from the coarse fixed point.
fn staged<S: Step>(
    (scheme, make): (Scheme, impl Fn(RuleSize) -> S),
    init: S::State,
    opts: &SolverOptions,
    counters: (&mut Evals, &mut u64, &mut u64),
    seen: &mut Seen,
    layers: usize,
    coarse: Coarse,
) -> Result<Option<Run>, Stop> {
    let (evals, sweeps, duplicates) = counters;
    let mut o1 = *opts;
    o1.tol = opts.tol.max(COARSE_TOL);
    o1.max_iter = coarse.max_iter;
    let (first, state) = iterate(
        &mut make(RuleSize::coarse()),
        init,
        &o1,
        (&mut *evals, &mut *sweeps),
        &Context {
            known: &seen.points,
            depth: coarse.depth,
            prior: &Secants::default(),
            stall: None,
        },
    )?;
    let known = |p: &OrderParams| {
        seen.points.iter().any(|q| same_point(q, p)) || seen.failed_with(scheme, p)
    };
    if first.duplicate() || (first.converged() && known(&first.params)) {
        *duplicates += 1;
        return Ok(None);
    }
    if !first.converged() {
        return Ok(Some(first));
    }
    let mut o2 = *opts;
    o2.max_iter = opts.max_iter.min(POLISH_SWEEPS);
    let (run, _) = iterate(
        &mut make(opts.rule),
        state,
        &o2,
        (evals, sweeps),
        &Context {
            known: &[],
            depth: polish_depth(layers),
            prior: &Secants::default(),
            stall: Some(POLISH_STALL),
        },
    )?;
    // a point that polished is known to every later start; one whose polish failed only to the
    // later starts of this scheme (the other scheme may polish it)
    if run.converged() {
        seen.points.push(first.params);
    } else {
        seen.failed.push((scheme, first.params));
    }
    Ok(Some(run))
}

/// The fixed-point scheme with the full rule from a previous stationary point, steered by its
/// secants.
fn polish_warm(
    chain: &Chain,
    warm: &WarmStart,
    opts: &SolverOptions,
    counters: &mut Counters,
) -> Result<Run, Stop> {
    counters.starts_tried += 1;
    let (run, _) = iterate(
        &mut FixedPointStep {
            chain,
            rule: opts.rule,
        },
        warm.params.clone(),
        opts,
        (&mut counters.evals, &mut counters.sweeps_fixed_point),
        &Context {
            known: &[],
            depth: polish_depth(chain.len()),
            prior: &warm.secants,
            stall: None,
        },
    )?;
    Ok(run)
}

/// ML-VAMP with the full rule from the state of a previous stationary point (no secants: those of
/// a fixed-point solve are of another map).
fn polish_vamp(
    chain: &Chain,
    state: VampState,
    opts: &SolverOptions,
    counters: &mut Counters,
) -> Result<Run, Stop> {
    counters.starts_tried += 1;
    let (run, _) = iterate(
        &mut VampStep {
            chain,
            rule: opts.rule,
        },
        state,
        opts,
        (&mut counters.evals, &mut counters.sweeps_vamp),
        &Context {
            known: &[],
            depth: polish_depth(chain.len()),
            prior: &Secants::default(),
            stall: None,
        },
    )?;
    Ok(run)
}

/// Relative distance under which two coarse fixed points are one stationary point.
const SAME_POINT: f64 = 1e-4;

/// Whether two coarse fixed points are the same stationary point: every order parameter within
/// 1e-4 relative (the coarse stage converges to 1e-6; distinct stationary points differ at O(1)).
fn same_point(a: &OrderParams, b: &OrderParams) -> bool {
    close_points(a, b, SAME_POINT)
}

/// Every order parameter of `a` and `b` within `rel` relative.
fn close_points(a: &OrderParams, b: &OrderParams, rel: f64) -> bool {
    a.values()
        .zip(b.values())
        .all(|(x, y)| (x - y).abs() <= rel * x.abs().max(y.abs()).max(iterate::REL_FLOOR))
}

/// Solve the replica equations of `chain`: multi-start, keep converged stationary points, pick
/// the smallest potential. Errors with [`ReplicaError::NotConverged`] when no start converges.
pub fn solve(chain: &Chain, opts: &SolverOptions) -> Result<Estimate, ReplicaError> {
    search::solve_inner(chain, opts, &mut SolveWith::default()).map(Solution::into_estimate)
}

/// As [`solve`], with the extras of `with`: a warm start, a starting point tried first, an
/// observer told about each start; the result reports every start that ran
/// ([`Solution::starts`]). The starts given in `with` are checked against the chain here (an
/// [`ReplicaError::InvalidParameter`] naming `start_at`, an [`ReplicaError::InvalidChain`] for a
/// warm start of another shape).
pub fn solve_with(
    chain: &Chain,
    opts: &SolverOptions,
    with: &mut SolveWith<'_>,
) -> Result<Solution, ReplicaError> {
    search::solve_inner(chain, opts, with)
}

/// As [`solve`], but first tries the fixed-point scheme from a previous stationary point
/// (e.g. the previous epoch's), steered by that solve's secants if `previous` carries them; falls
/// back to the full multi-start if that does not converge. `previous` may be an
/// [`OrderParams`] (`.into()`) or an [`Estimate::warm_start`].
pub fn solve_warm(
    chain: &Chain,
    opts: &SolverOptions,
    previous: &WarmStart,
) -> Result<Estimate, ReplicaError> {
    let mut with = SolveWith::default().warm_start(previous.clone());
    search::solve_inner(chain, opts, &mut with).map(Solution::into_estimate)
}

/// The chain with its Gaussian prior centred, when the mean cannot enter the result: every layer
/// linear, so `T_L` is the centred chain's output shifted by a constant vector (entropies and
/// informations are shift invariant, and the MMSE of `X` is that of `X - mean`). The forward
/// second moments would otherwise carry `mean^2`, which overflows for a mean of 1e200 and is
/// cancelled in the potential only up to round-off.
fn centred_if_shift_invariant(chain: &Chain) -> Option<Chain> {
    let super::PriorParams::Gaussian { mean, var } = chain.prior().params() else {
        return None;
    };
    let linear = chain
        .layers()
        .iter()
        .all(|l| l.channel().activation().is_linear());
    if mean == 0.0 || !linear {
        return None;
    }
    Chain::new(
        super::Prior::gaussian(0.0, var).ok()?,
        chain.layers().to_vec(),
    )
    .ok()
}

fn finish(c: Candidate, counters: Counters) -> Estimate {
    Estimate {
        entropy: c.read.entropy,
        mutual_information: c.read.mutual_information,
        mi_last_layer: c.read.mi_last_layer,
        mmse: c.read.mmse,
        scheme: c.scheme,
        iterations: c.run.iterations,
        residual: c.run.residual,
        counters,
        order_params: c.run.params,
        // warm starts run the fixed-point scheme: ML-VAMP secants live in another space
        secants: match c.scheme {
            Scheme::FixedPoint => c.run.secants,
            Scheme::Vamp => Secants::default(),
        },
    }
}

#[cfg(test)]
mod start_tests {
    use super::*;

    #[test]
    fn shallow_chains_get_every_start_deep_ones_eleven() {
        assert_eq!(start_indices(1), vec![0, 1]);
        assert_eq!(start_indices(10), (0..=10).collect::<Vec<_>>());
        let deep = start_indices(1000);
        assert_eq!(deep.len(), MAX_STARTS);
        assert_eq!((deep[0], deep[10]), (0, 1000));
        assert!(deep.windows(2).all(|w| w[0] < w[1]), "{deep:?}");
        let odd = start_indices(11);
        assert_eq!(odd.len(), MAX_STARTS);
        assert!(
            odd.windows(2).all(|w| w[0] < w[1]) && odd[10] == 11,
            "{odd:?}"
        );
    }
}
