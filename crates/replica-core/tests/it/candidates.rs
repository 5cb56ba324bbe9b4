//! The solver's reports: the typed failure report of `NotConverged`, the caller's starting point
//! (`SolveWith::start_at`), every start's stationary point (`Solution::starts`) and the observer's
//! trace.

use replica_core::replica::{
    solve, solve_with, Activation, AttemptOutcome, Chain, Ensemble, Field, Layer, Prior,
    ReplicaError, Scheme, SchemeChoice, SolveEvent, SolveWith, SolverOptions, Start, StartAt,
};
use replica_core::ParamError;

fn relu_chain() -> Chain {
    Chain::new(
        Prior::gaussian(0.0, 1.0).unwrap(),
        vec![
            Layer::new(1.0, Activation::Relu, 0.0, Ensemble::Gaussian { var: 1.0 }).unwrap(),
            Layer::new(1.0, Activation::Relu, 1e-5, Ensemble::Gaussian { var: 1.0 }).unwrap(),
        ],
    )
    .unwrap()
}

/// A binary prior through sign layers: several stationary points, both schemes run.
fn sign_chain() -> Chain {
    Chain::new(
        Prior::binary(0.5).unwrap(),
        vec![
            Layer::new(1.5, Activation::Sign, 0.0, Ensemble::Gaussian { var: 1.0 }).unwrap(),
            Layer::new(0.8, Activation::Relu, 1e-2, Ensemble::Gaussian { var: 1.0 }).unwrap(),
        ],
    )
    .unwrap()
}

/// Potentials of one stationary point agree to the solver's convergence: order parameters to
/// 1e-9 relative, the potential (stationary) to second order in that, plus quadrature round-off;
/// 1e-8 relative is above both and far below the O(1e-3) gaps between distinct stationary points.
const SAME: f64 = 1e-8;

#[test]
fn solve_with_no_extras_is_solve() {
    for chain in [relu_chain(), sign_chain()] {
        let opts = SolverOptions::default();
        let a = solve(&chain, &opts).unwrap();
        let b = solve_with(&chain, &opts, &mut SolveWith::default()).unwrap();
        let b = b.estimate();
        assert_eq!(a.entropy.to_bits(), b.entropy.to_bits());
        assert_eq!(a.counters, b.counters);
        assert_eq!(a.order_params, b.order_params);
    }
}

#[test]
fn a_start_at_the_fixed_point_converges_at_once_to_the_same_value() {
    for chain in [relu_chain(), sign_chain()] {
        let opts = SolverOptions::default();
        let est = solve(&chain, &opts).unwrap();
        let start = StartAt::Point(est.order_params.clone());
        let mut with = SolveWith::default().start_at(start).unwrap();
        let only = opts.with_multistart(false);
        let sol = solve_with(&chain, &only, &mut with).unwrap();
        let given = &sol.starts()[0];
        assert_eq!(given.start(), Start::Given);
        assert!(given.converged(), "{given}");
        // one sweep finds the change below the tolerance; a second at most if the point was
        // polished by the other scheme
        assert!(given.iterations().unwrap() <= 2, "{given}");
        let h = sol.estimate().entropy;
        assert!(
            (h - est.entropy).abs() <= SAME * est.entropy.abs(),
            "{h} vs {}",
            est.entropy
        );
        // with the search as well, the answer is unchanged
        let mut with = SolveWith::default()
            .start_at(StartAt::Point(est.order_params.clone()))
            .unwrap();
        let full = solve_with(&chain, &opts, &mut with).unwrap();
        let h = full.estimate().entropy;
        assert!(
            (h - est.entropy).abs() <= SAME * est.entropy.abs(),
            "{h} vs {}",
            est.entropy
        );
    }
}

#[test]
fn variances_as_a_start_are_the_authors_v0() {
    let chain = relu_chain();
    let opts = SolverOptions::default();
    let est = solve(&chain, &opts).unwrap();
    let v0 = vec![0.5, 0.5];
    let mut with = SolveWith::default()
        .start_at(StartAt::Variances(v0))
        .unwrap();
    let sol = solve_with(&chain, &opts.with_multistart(false), &mut with).unwrap();
    assert_eq!(sol.starts()[0].start(), Start::Given);
    let h = sol.estimate().entropy;
    assert!(
        (h - est.entropy).abs() <= SAME * est.entropy.abs(),
        "{h} vs {}",
        est.entropy
    );
}

#[test]
fn candidates_include_the_selected_one_with_the_estimate_s_value() {
    for chain in [relu_chain(), sign_chain()] {
        let sol = solve_with(&chain, &SolverOptions::default(), &mut SolveWith::default()).unwrap();
        let selected: Vec<_> = sol.starts().iter().filter(|s| s.selected()).collect();
        assert_eq!(selected.len(), 1, "{:?}", sol.starts());
        let s = selected[0];
        assert_eq!(s.entropy(), Some(sol.estimate().entropy));
        assert_eq!(s.scheme(), Some(sol.estimate().scheme));
        assert_eq!(sol.selected(), Some(s));
        // the selected potential is the smallest of the candidates (to the tie rule's 1e-9)
        for c in sol.starts().iter().filter_map(|c| c.entropy()) {
            assert!(c >= s.entropy().unwrap() - 1e-9 * c.abs().max(1.0), "{c}");
        }
        // every start that ran is there: converged, duplicate or failed
        let tried = sol.estimate().counters.starts_tried as usize;
        assert!(!sol.starts().is_empty() && sol.starts().len() <= tried);
    }
    // both schemes ran on the sign chain
    let sol = solve_with(
        &sign_chain(),
        &SolverOptions::default(),
        &mut SolveWith::default(),
    )
    .unwrap();
    for scheme in [Scheme::FixedPoint, Scheme::Vamp] {
        assert!(sol.starts().iter().any(|s| s.scheme() == Some(scheme)));
    }
}

#[test]
fn the_trace_has_every_start_and_ends_with_the_selected_one() {
    let chain = sign_chain();
    let mut lines = Vec::new();
    let mut starts = 0;
    let mut last_selected = None;
    let mut observe = |ev: SolveEvent<'_>| {
        lines.push(ev.to_string());
        match ev {
            SolveEvent::Start(_) => starts += 1,
            SolveEvent::Selected(r) => last_selected = Some(r.clone()),
            _ => {}
        }
    };
    let mut with = SolveWith::default().observer(&mut observe);
    let sol = solve_with(&chain, &SolverOptions::default(), &mut with).unwrap();
    drop(with);
    assert_eq!(starts, sol.starts().len());
    assert!(lines.len() == starts + 1, "{lines:#?}");
    let last = lines.last().unwrap();
    assert!(last.starts_with("selected: "), "{last}");
    assert_eq!(last_selected.as_ref(), sol.selected());
    assert!(
        last.contains(&format!("{:.9}", sol.estimate().entropy)),
        "{last}"
    );
}

#[test]
fn a_bad_start_is_refused_naming_the_field() {
    let named = |r: Result<SolveWith<'_>, ReplicaError>| match r {
        Err(ReplicaError::InvalidParameter(ParamError {
            field: Field::Setting(f),
            ..
        })) => f,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("accepted"),
    };
    let with = |v: Vec<f64>| SolveWith::default().start_at(StartAt::Variances(v));
    assert_eq!(named(with(vec![0.5, f64::NAN])), "start_at.v[1]");
    assert_eq!(named(with(vec![-1.0])), "start_at.v[0]");
    assert_eq!(named(with(vec![])), "start_at");
    let mut p = solve(&relu_chain(), &SolverOptions::default())
        .unwrap()
        .order_params;
    p.a[0] = -1.0;
    assert_eq!(
        named(SolveWith::default().start_at(StartAt::Point(p.clone()))),
        "start_at.a[0]"
    );
    p.a.pop();
    assert_eq!(
        named(SolveWith::default().start_at(StartAt::Point(p))),
        "start_at.a"
    );
    // against the chain: the length, and a variance above the layer input's
    let chain = relu_chain();
    let opts = SolverOptions::default();
    for (v, field) in [(vec![0.5], "start_at"), (vec![0.5, 1e3], "start_at.v[1]")] {
        let mut w = with(v).unwrap();
        match solve_with(&chain, &opts, &mut w) {
            Err(e @ ReplicaError::InvalidParameter(_)) => {
                let msg = e.to_string();
                assert!(msg.starts_with(&format!("invalid {field} = ")), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_failed_solve_reports_every_start_typed_with_today_s_message() {
    let chain = sign_chain();
    let opts = SolverOptions::default()
        .with_scheme(SchemeChoice::Only(Scheme::FixedPoint))
        .with_max_iter(1)
        .unwrap();
    let Err(ReplicaError::NotConverged(report)) = solve(&chain, &opts) else {
        panic!("converged in one sweep");
    };
    assert_eq!(report.attempts().len(), chain.len() + 1);
    let mut legacy = Vec::new();
    for (k, a) in report.attempts().iter().enumerate() {
        assert_eq!(
            (a.scheme(), a.start()),
            (Some(Scheme::FixedPoint), Start::Index(k))
        );
        let AttemptOutcome::Exhausted {
            sweeps: Some(1),
            residual,
        } = a.outcome()
        else {
            panic!("{a}");
        };
        assert_eq!(a.outcome().kind(), "exhausted");
        legacy.push(format!(
            "fixed-point start {k}: no convergence in 1 sweeps (residual {residual:.2e})"
        ));
    }
    let e = ReplicaError::NotConverged(report);
    assert_eq!(
        e.to_string(),
        format!(
            "the replica equations did not converge: {}",
            legacy.join("; ")
        )
    );
}
