//! Pickling: every class's `__reduce__` gives `(_restore, (tag, state))`, the state made of plain
//! Python values (floats, ints, strings, lists, tuples), so that a round trip rebuilds the very
//! same Rust values (bit for bit: floats pickle exactly) and solves give equal results.

use crate::prelude::*;
use replica_core::replica::Counters;
use replica_core::replica::{OrderParams, PriorParams, Scheme, Secants, SpectrumParts};
use std::sync::Arc;

pub(crate) type Pair = (Py<PyAny>, (String, Py<PyAny>));

fn reduce(py: Python<'_>, tag: &str, state: Bound<'_, PyAny>) -> PyResult<Pair> {
    let restore = py.import("replica_mi._native")?.getattr("_restore")?;
    Ok((restore.unbind(), (tag.to_string(), state.unbind())))
}

fn bad_state(tag: &str, why: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("cannot unpickle a {tag}: {why}"))
}

// --- activation, prior, weights ---------------------------------------------------------------

type ActState = (String, Option<f64>, Option<f64>);

fn activation_state(a: Activation) -> ActState {
    match a {
        Activation::LeakyRelu { slope } => ("leaky-relu".into(), Some(slope), None),
        Activation::Hardtanh { threshold } => ("hardtanh".into(), None, Some(threshold)),
        other => (other.to_string(), None, None),
    }
}

fn activation_of(py: Python<'_>, s: ActState) -> PyResult<Activation> {
    parse_activation(py, &s.0, s.1, s.2)
}

type PriorState = (String, f64, f64, f64);

fn prior_state(p: &Prior) -> PriorState {
    match p.params() {
        PriorParams::Gaussian { mean, var } => ("gaussian".into(), 0.0, var, mean),
        PriorParams::Binary { p } => ("binary".into(), p, 0.0, 0.0),
        PriorParams::GaussBernoulli { p, mean, var } => ("gauss-bernoulli".into(), p, var, mean),
    }
}

fn prior_of(py: Python<'_>, s: PriorState) -> PyResult<PyPrior> {
    let (kind, p, var, mean) = s;
    match kind.as_str() {
        "gaussian" => PyPrior::of_gaussian(py, var, mean),
        "binary" => PyPrior::of_binary(py, p),
        "gauss-bernoulli" => PyPrior::of_gauss_bernoulli(py, p, var, mean),
        other => Err(bad_state("Prior", format!("unknown kind {other:?}"))),
    }
}

/// `(kind, numbers, shape, scale, source, bias)`: numbers are the variance, the eigenvalues, the
/// row-major entries or the Gram eigenvalues.
type WeightsState = (
    String,
    Vec<f64>,
    (usize, usize),
    f64,
    Option<String>,
    Option<String>,
);

fn weights_state(w: &WeightsKind) -> WeightsState {
    match w {
        WeightsKind::Gaussian { var } => ("gaussian".into(), vec![*var], (0, 0), 1.0, None, None),
        WeightsKind::Orthogonal => ("orthogonal".into(), vec![], (0, 0), 1.0, None, None),
        WeightsKind::Spectrum { eigenvalues, scale } => (
            "spectrum".into(),
            eigenvalues.clone(),
            (0, 0),
            *scale,
            None,
            None,
        ),
        WeightsKind::Matrix {
            matrix,
            scale,
            source,
            bias,
        } => match matrix {
            MatrixData::Dense(m) => (
                "matrix".into(),
                m.as_slice().to_vec(),
                (m.rows(), m.cols()),
                *scale,
                source.clone(),
                bias.clone(),
            ),
            MatrixData::Gram { rows, cols, eigs } => (
                "gram".into(),
                eigs.to_vec(),
                (*rows, *cols),
                *scale,
                source.clone(),
                bias.clone(),
            ),
        },
    }
}

fn weights_of(s: WeightsState) -> PyResult<WeightsKind> {
    let (kind, numbers, (rows, cols), scale, source, bias) = s;
    Ok(match kind.as_str() {
        "gaussian" if numbers.len() == 1 => WeightsKind::Gaussian { var: numbers[0] },
        "orthogonal" => WeightsKind::Orthogonal,
        "spectrum" => WeightsKind::Spectrum {
            eigenvalues: numbers,
            scale,
        },
        "matrix" => WeightsKind::Matrix {
            matrix: MatrixData::Dense(Arc::new(
                WeightMatrix::from_row_major(rows, cols, numbers)
                    .map_err(|e| bad_state("Weights", e))?,
            )),
            scale,
            source,
            bias,
        },
        "gram" if numbers.len() == rows.min(cols) => WeightsKind::Matrix {
            matrix: MatrixData::Gram {
                rows,
                cols,
                eigs: Arc::new(numbers),
            },
            scale,
            source,
            bias,
        },
        other => return Err(bad_state("Weights", format!("bad kind {other:?}"))),
    })
}

// --- chain ---------------------------------------------------------------------------------

/// `(alpha, activation, noise_var, ensemble)`; the ensemble is `("gaussian", [var])` or
/// `("discrete", [values, weights, [zero_weight, mean, min_positive]])`.
type EnsembleState = (String, Vec<Vec<f64>>);
type ChainLayerState = (f64, ActState, f64, EnsembleState);

fn chain_layer_state(l: &Layer) -> ChainLayerState {
    let ens = match l.ensemble() {
        Ensemble::Gaussian { var } => ("gaussian".into(), vec![vec![*var]]),
        Ensemble::Discrete(d) => {
            let p = d.to_parts();
            (
                "discrete".into(),
                vec![
                    p.values,
                    p.weights,
                    vec![p.zero_weight, p.mean, p.min_positive],
                ],
            )
        }
    };
    (
        l.alpha(),
        activation_state(l.channel().activation()),
        l.channel().noise_var(),
        ens,
    )
}

fn chain_layer_of(py: Python<'_>, s: ChainLayerState) -> PyResult<Layer> {
    let (alpha, act, noise_var, (kind, mut parts)) = s;
    let ensemble = match (kind.as_str(), parts.len()) {
        ("gaussian", 1) if parts[0].len() == 1 => Ensemble::Gaussian { var: parts[0][0] },
        ("discrete", 3) if parts[2].len() == 3 => {
            let rest = parts.pop().expect("three parts");
            let weights = parts.pop().expect("three parts");
            let values = parts.pop().expect("three parts");
            Ensemble::Discrete(
                DiscreteSpectrum::from_parts(SpectrumParts {
                    values,
                    weights,
                    zero_weight: rest[0],
                    mean: rest[1],
                    min_positive: rest[2],
                })
                .map_err(|e| bad_state("Chain", e))?,
            )
        }
        _ => return Err(bad_state("Chain", format!("bad ensemble {kind:?}"))),
    };
    Layer::new(alpha, activation_of(py, act)?, noise_var, ensemble)
        .map_err(|e| bad_state("Chain", e))
}

// --- results -------------------------------------------------------------------------------

type ParamsState = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
type SecantsState = (Vec<Vec<f64>>, Vec<Vec<f64>>);

fn params_state(p: &OrderParams) -> ParamsState {
    (
        p.v.clone(),
        p.a.clone(),
        p.a_t.clone(),
        p.v_t.clone(),
        p.theta.clone(),
    )
}

fn params_of(s: ParamsState) -> PyResult<OrderParams> {
    let (v, a, a_t, v_t, theta) = s;
    OrderParams::new(v, a, a_t, v_t, theta).map_err(|e| bad_state("WarmStart", e))
}

fn secants_state(s: &Secants) -> SecantsState {
    let (df, dg) = s.pairs();
    (df.to_vec(), dg.to_vec())
}

fn secants_of(s: SecantsState) -> PyResult<Secants> {
    Secants::from_pairs(s.0, s.1).ok_or_else(|| bad_state("WarmStart", "malformed secants"))
}

type CountersState = (u64, u64, u64, u64, u64, u64, u64, u64);

fn counters_state(c: &Counters) -> CountersState {
    (
        c.sweeps_fixed_point,
        c.sweeps_vamp,
        c.starts_tried,
        c.starts_converged,
        c.starts_duplicate,
        c.candidates_rejected,
        c.evals,
        c.continuation_steps,
    )
}

fn counters_of(s: CountersState) -> Counters {
    let mut c = Counters::default();
    c.sweeps_fixed_point = s.0;
    c.sweeps_vamp = s.1;
    c.starts_tried = s.2;
    c.starts_converged = s.3;
    c.starts_duplicate = s.4;
    c.candidates_rejected = s.5;
    c.evals = s.6;
    c.continuation_steps = s.7;
    c
}

/// `(layer, [entropy, mi_last_layer, mmse, residual], mutual_information, scheme, iterations,
/// counters, params, secants)`.
type EstimateState = (
    usize,
    (f64, f64, f64, f64),
    Option<f64>,
    String,
    u64,
    CountersState,
    ParamsState,
    SecantsState,
);

fn scheme_of(s: &str) -> PyResult<Scheme> {
    match s {
        "fixed-point" => Ok(Scheme::FixedPoint),
        "ml-vamp" => Ok(Scheme::Vamp),
        other => Err(bad_state("Estimate", format!("unknown scheme {other:?}"))),
    }
}

// --- __reduce__ and _restore -----------------------------------------------------------------

pub(crate) fn reduce_prior(this: &PyPrior, py: Python<'_>) -> PyResult<Pair> {
    reduce(
        py,
        "Prior",
        prior_state(&this.prior).into_pyobject(py)?.into_any(),
    )
}

pub(crate) fn reduce_weights(this: &PyWeights, py: Python<'_>) -> PyResult<Pair> {
    reduce(
        py,
        "Weights",
        weights_state(&this.kind).into_pyobject(py)?.into_any(),
    )
}

pub(crate) fn reduce_layer(this: &PyLayer, py: Python<'_>) -> PyResult<Pair> {
    let state = (
        this.alpha,
        activation_state(this.activation),
        this.noise_var,
        weights_state(&this.weights),
    );
    reduce(py, "Layer", state.into_pyobject(py)?.into_any())
}

pub(crate) fn reduce_chain(this: &PyChain, py: Python<'_>) -> PyResult<Pair> {
    let layers: Vec<ChainLayerState> = this.chain.layers().iter().map(chain_layer_state).collect();
    let state = (prior_state(this.chain.prior()), layers, this.notes.clone());
    reduce(py, "Chain", state.into_pyobject(py)?.into_any())
}

pub(crate) fn reduce_warm_start(this: &PyWarmStart, py: Python<'_>) -> PyResult<Pair> {
    let state = (
        params_state(&this.warm.params),
        secants_state(&this.warm.secants),
    );
    reduce(py, "WarmStart", state.into_pyobject(py)?.into_any())
}

pub(crate) fn reduce_estimate(this: &PyEstimate, py: Python<'_>) -> PyResult<Pair> {
    let e = &this.est;
    let state: EstimateState = (
        this.layer,
        (e.entropy, e.mi_last_layer, e.mmse, e.residual),
        e.mutual_information,
        e.scheme.to_string(),
        e.iterations,
        counters_state(&e.counters),
        params_state(&e.order_params),
        secants_state(&e.secants),
    );
    reduce(py, "Estimate", state.into_pyobject(py)?.into_any())
}

/// Rebuild a pickled object (see the `__reduce__` methods).
#[pyfunction]
pub(crate) fn _restore(py: Python<'_>, tag: &str, state: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let wrong = |e: PyErr| bad_state(tag, e);
    Ok(match tag {
        "Prior" => Py::new(py, prior_of(py, state.extract().map_err(wrong)?)?)?.into_any(),
        "Weights" => Py::new(
            py,
            PyWeights {
                kind: weights_of(state.extract().map_err(wrong)?)?,
            },
        )?
        .into_any(),
        "Layer" => {
            let (alpha, act, noise_var, w): (Option<f64>, ActState, f64, WeightsState) =
                state.extract().map_err(wrong)?;
            Py::new(
                py,
                PyLayer {
                    alpha,
                    activation: activation_of(py, act)?,
                    noise_var,
                    weights: weights_of(w)?,
                },
            )?
            .into_any()
        }
        "Chain" => {
            let (prior, layers, notes): (PriorState, Vec<ChainLayerState>, Vec<String>) =
                state.extract().map_err(wrong)?;
            let prior = prior_of(py, prior)?.prior;
            let layers = layers
                .into_iter()
                .map(|l| chain_layer_of(py, l))
                .collect::<PyResult<Vec<_>>>()?;
            let chain = Chain::new(prior, layers).map_err(|e| bad_state("Chain", e))?;
            Py::new(py, PyChain { chain, notes })?.into_any()
        }
        "WarmStart" => {
            let (params, secants): (ParamsState, SecantsState) = state.extract().map_err(wrong)?;
            Py::new(
                py,
                PyWarmStart {
                    warm: WarmStart::new(params_of(params)?, secants_of(secants)?),
                },
            )?
            .into_any()
        }
        "Estimate" => {
            let s: EstimateState = state.extract().map_err(wrong)?;
            let (entropy, mi_last_layer, mmse, residual) = s.1;
            let est = Estimate::from_parts(
                (entropy, s.2, mi_last_layer, mmse),
                scheme_of(&s.3)?,
                s.4,
                residual,
                counters_of(s.5),
                WarmStart::new(params_of(s.6)?, secants_of(s.7)?),
            );
            Py::new(
                py,
                PyEstimate {
                    layer: s.0,
                    est,
                    candidates: None,
                },
            )?
            .into_any()
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "_restore: unknown tag {other:?}"
            )))
        }
    })
}
