//! The fallback for chains on which no start of either scheme gives a valid stationary point:
//! continuation in the noise. Noise `s rho~_l` is added to every layer `l` (`rho~_l` the second
//! moment of its pre-activation), starting at `s = 1` (signal-to-noise ratio 1, where the
//! equations are well conditioned and solved by the ordinary search), and the stationary point is
//! followed as `s` decreases geometrically to 0 (the chain itself), each step polished from the
//! previous point by the fixed-point scheme or, where that fails, by ML-VAMP. A failed step is
//! retried with a smaller decrease; the path is abandoned when the decrease would be below
//! [`MAX_RATIO`]. The end point passes the same exact bounds as any candidate.

use super::super::chain::Chain;
use super::super::error::ReplicaError;
use super::super::failure::AttemptOutcome;
use super::iterate::Run;
use super::rescale::Rescaled;
use super::search::solve_inner;
use super::vamp::state_from_params;
use super::{
    evaluate, polish_vamp, polish_warm, Candidate, Counters, OrderParams, Scheme, SchemeChoice,
    SolveWith, SolverOptions, WarmStart,
};

/// Added noise at the start of the path, relative to `rho~_l`: signal-to-noise ratio 1.
const START: f64 = 1.0;
/// Ratio between successive added noises at first, and the largest decrease after a success.
const RATIO: f64 = 0.1;
/// Below this added noise (relative to `rho~`) the next step is the chain itself.
const END: f64 = 1e-8;
/// A failed step is retried with the ratio's square root; at a ratio above this the path is
/// abandoned (five halvings in log from 0.1).
const MAX_RATIO: f64 = 0.95;
/// Most steps along one path (a path of full steps takes 9).
const MAX_STEPS: u64 = 60;

/// The chain with noise `s rho~_l` added to every layer.
fn eased(chain: &Chain, s: f64) -> Result<Chain, ReplicaError> {
    let layers = chain
        .layers()
        .iter()
        .enumerate()
        .map(|(l, layer)| layer.with_noise_var(layer.channel().noise_var() + s * chain.rho_z(l)))
        .collect::<Result<Vec<_>, ReplicaError>>()?;
    Chain::new(*chain.prior(), layers)
}

/// Polish `params` on `chain`: the fixed-point scheme first, ML-VAMP from the same point if that
/// does not converge.
fn polish(
    chain: &Chain,
    params: &OrderParams,
    opts: &SolverOptions,
    counters: &mut Counters,
) -> Option<(Run, Scheme)> {
    if let Ok(run) = polish_warm(chain, &WarmStart::from(params.clone()), opts, counters) {
        if run.converged() {
            return Some((run, Scheme::FixedPoint));
        }
    }
    let state = state_from_params(params)?;
    let run = polish_vamp(chain, state, opts, counters).ok()?;
    run.converged().then_some((run, Scheme::Vamp))
}

/// Follow the stationary point from the eased chain to `chain`. `Err` says where the path broke.
pub(super) fn follow(
    chain: &Chain,
    back: Option<&Rescaled>,
    opts: &SolverOptions,
    counters: &mut Counters,
) -> Result<Candidate, AttemptOutcome> {
    let mut inner = *opts;
    inner.continuation = false;
    inner.choice = SchemeChoice::Auto;
    let start = eased(chain, START).map_err(AttemptOutcome::from_error)?;
    let first = solve_inner(&start, &inner, &mut SolveWith::default());
    let first = match first {
        Ok(sol) => {
            let est = sol.into_estimate();
            counters.absorb(&est.counters);
            est
        }
        Err(e) => {
            return Err(AttemptOutcome::ContinuationStart {
                added: START,
                error: Box::new(e),
            })
        }
    };
    let mut params = first.order_params;
    let (mut s, mut ratio) = (START, RATIO);
    loop {
        if counters.continuation_steps >= MAX_STEPS {
            return Err(AttemptOutcome::ContinuationSteps {
                steps: MAX_STEPS,
                added: s,
            });
        }
        counters.continuation_steps += 1;
        let next = if s * ratio < END { 0.0 } else { s * ratio };
        let target = if next == 0.0 {
            chain.clone()
        } else {
            eased(chain, next).map_err(AttemptOutcome::from_error)?
        };
        match polish(&target, &params, opts, counters) {
            Some((run, scheme)) if next == 0.0 => {
                counters.starts_converged += 1;
                return evaluate(chain, back, run, scheme, opts, counters);
            }
            Some((run, _)) => {
                params = run.params;
                s = next;
                ratio = (ratio * ratio).max(RATIO);
            }
            None => {
                ratio = ratio.sqrt();
                if ratio > MAX_RATIO {
                    return Err(AttemptOutcome::ContinuationStalled { added: s });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_chain::{GeneratorParams, NamedSpectrum};
    use crate::replica::solve::{fixed_point_suffices, solve};

    /// The path ends at a stationary point of the chain itself: where the search's answer is
    /// the only stationary point (the chains on which the fixed point alone is trusted) it is
    /// the same point, and elsewhere it is a valid point whose potential is not below the
    /// search's minimum. Random chains of every kind (small synthetic spectra in place of files).
    #[test]
    fn the_path_ends_at_a_stationary_point_of_the_chain() {
        let spectra = vec![NamedSpectrum {
            file: "/nonexistent/ramp.csv".into(),
            eigenvalues: (1..=100).map(|k| k as f64 / 50.0).collect(),
        }];
        let g = GeneratorParams {
            seed: 11,
            max_layers: 3,
            ..GeneratorParams::default()
        }
        .check(spectra)
        .unwrap();
        let opts = SolverOptions::default();
        // the two potentials agree to the solver's convergence (1e-9 relative on the order
        // parameters, ~1e-9 on Phi) and the quadrature's round-off; 1e-7 leaves a margin of 100
        const SAME: f64 = 1e-7;
        let (mut same, mut ended) = (0, 0);
        let mut failures = Vec::new();
        for i in 0..12 {
            let drawn = g.draw(i).unwrap();
            let chain = &drawn.chain;
            let Ok(est) = solve(chain, &opts) else {
                continue;
            };
            let mut counters = Counters::default();
            match follow(chain, None, &opts, &mut counters) {
                Ok(c) => {
                    ended += 1;
                    let d = c.read.entropy - est.entropy;
                    println!(
                        "chain {i}: path {:.9} search {:.9} ({d:+.1e}), {} steps",
                        c.read.entropy, est.entropy, counters.continuation_steps
                    );
                    if d.abs() <= SAME * est.entropy.abs().max(1.0) {
                        same += 1;
                    } else if fixed_point_suffices(chain) || d < 0.0 {
                        failures.push(format!(
                            "chain {i}: path {} vs search {}",
                            c.read.entropy, est.entropy
                        ));
                    }
                }
                Err(why) => {
                    println!("chain {i}: path broke: {why}");
                    if fixed_point_suffices(chain) {
                        failures.push(format!("chain {i}: {why}"));
                    }
                }
            }
        }
        println!("{ended} paths ended, {same} at the search's point");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(
            ended >= 10 && same >= 8,
            "{ended} paths ended, {same} at the search's point"
        );
    }
}
