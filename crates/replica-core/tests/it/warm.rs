//! Warm starts with inherited secants: a sequence of slowly changing chains (as in training, where
//! the weights move a little each epoch) solved warm from the previous solve. The secants may only
//! steer the iteration: every warm solve must land on the cold solve's stationary point. Over the
//! whole panel they must save sweeps against the bare fixed point (per chain they need not: on
//! the 2-layer hardtanh chain, whose mixed vector has only 4 entries, they cost 3 sweeps in 36;
//! on the training chains of `benches/training.rs` they halve the sweeps of the deepest layer).
use replica_core::replica::{
    solve, solve_warm, Activation, Chain, Ensemble, Layer, Prior, SolverOptions, WarmStart,
};

/// A chain with its weight variances scaled by `1 + t`.
fn chain(layers: &[(Activation, f64)], t: f64) -> Chain {
    let n = layers.len();
    let ls = layers
        .iter()
        .enumerate()
        .map(|(i, &(act, var))| {
            let noise = if i + 1 == n { 1e-5 } else { 0.0 };
            Layer::new(
                1.0,
                act,
                noise,
                Ensemble::Gaussian {
                    var: var * (1.0 + t),
                },
            )
            .unwrap()
        })
        .collect();
    Chain::new(Prior::gaussian(0.0, 1.0).unwrap(), ls).unwrap()
}

#[test]
fn secants_steer_but_do_not_move_the_fixed_point() {
    use Activation::*;
    let ht = Hardtanh { threshold: 1.0 };
    let cases: Vec<(&str, Vec<(Activation, f64)>)> = vec![
        (
            "linear-relu-relu",
            vec![(Linear, 1.0), (Relu, 1.0), (Relu, 1.0)],
        ),
        (
            "relu-relu-relu",
            vec![(Relu, 1.0), (Relu, 1.0), (Relu, 1.0)],
        ),
        ("hardtanh-hardtanh", vec![(ht, 0.1), (ht, 0.1)]),
    ];
    let opts = SolverOptions::default();
    let (mut total_bare, mut total_steered) = (0, 0);
    for (name, layers) in cases {
        let first = solve(&chain(&layers, 0.0), &opts).unwrap();
        let (mut bare, mut steered) = (first.warm_start(), first.warm_start());
        bare.secants = Default::default();
        let (mut sweeps_bare, mut sweeps_steered) = (0, 0);
        for step in 1..=4 {
            // 1% per step, about the change of the spectra over one training epoch
            let ch = chain(&layers, 0.01 * step as f64);
            let cold = solve(&ch, &opts).unwrap();
            let a = solve_warm(&ch, &opts, &bare).unwrap();
            let b = solve_warm(&ch, &opts, &steered).unwrap();
            println!(
                "{name} step {step}: H cold {:.12} bare {:.12} ({} sweeps) steered {:.12} ({} sweeps, {} secants)",
                cold.entropy, a.entropy, a.iterations, b.entropy, b.iterations, steered.secants.len()
            );
            // The entropy is stationary in the order parameters, so solves converged to 1e-9
            // relative per sweep agree far below 1e-9 (round-off and the last sweep's change).
            for (which, e) in [("bare", &a), ("steered", &b)] {
                assert!(e.counters.starts_tried == 1, "{name} {which}: {e:?}");
                assert!(
                    (e.entropy - cold.entropy).abs() < 1e-9,
                    "{name} step {step} {which}: {} vs cold {}",
                    e.entropy,
                    cold.entropy
                );
            }
            assert!(
                !b.secants.is_empty(),
                "{name}: a converged polish returns its secants"
            );
            sweeps_bare += a.iterations;
            sweeps_steered += b.iterations;
            bare = WarmStart::from(a.order_params.clone());
            steered = b.warm_start();
        }
        println!("{name}: sweeps bare {sweeps_bare}, steered {sweeps_steered}");
        total_bare += sweeps_bare;
        total_steered += sweeps_steered;
    }
    // measured: 136 bare, 120 steered
    assert!(
        total_steered < total_bare,
        "secants cost sweeps over the panel ({total_steered} >= {total_bare})"
    );
}

#[test]
fn secants_of_another_chain_shape_are_rejected() {
    let two = chain(&[(Activation::Relu, 1.0), (Activation::Relu, 1.0)], 0.0);
    let three = chain(
        &[
            (Activation::Relu, 1.0),
            (Activation::Relu, 1.0),
            (Activation::Relu, 1.0),
        ],
        0.0,
    );
    let opts = SolverOptions::default();
    let e2 = solve(&two, &opts).unwrap();
    let mut w = solve(&three, &opts).unwrap().warm_start();
    assert!(!e2.secants.is_empty());
    w.secants = e2.secants.clone();
    let err = solve_warm(&three, &opts, &w).unwrap_err().to_string();
    assert!(err.contains("secants of length 4"), "{err}");
}

#[test]
fn ml_vamp_results_carry_no_secants() {
    // Warm starts run the fixed-point scheme; ML-VAMP's secants are of another map (another
    // vector of the same length), so an ML-VAMP result must not hand them on.
    let panel = replica_core::guard::panel().unwrap();
    let c = panel
        .iter()
        .find(|p| p.name == "2L_linear_relu_mixed")
        .unwrap();
    let e = solve(&c.chain, &SolverOptions::default()).unwrap();
    assert_eq!(e.scheme, replica_core::replica::Scheme::Vamp);
    assert!(e.secants.is_empty() && e.warm_start().secants.is_empty());
}

/// `OrderParams::new` (how order parameters read back from a file enter): a solve's own point
/// goes through unchanged, and vectors of unequal or zero length are refused naming the rule.
#[test]
fn order_params_from_parts_are_checked() {
    use replica_core::replica::{
        solve, Activation, Chain, Ensemble, Layer, OrderParams, Prior, ReplicaError, SolverOptions,
        WarmStart,
    };
    let chain = Chain::new(
        Prior::gaussian(0.0, 1.0).unwrap(),
        vec![
            Layer::new(1.0, Activation::Relu, 0.0, Ensemble::Gaussian { var: 1.0 }).unwrap(),
            Layer::new(
                0.5,
                Activation::Linear,
                0.01,
                Ensemble::Gaussian { var: 1.0 },
            )
            .unwrap(),
        ],
    )
    .unwrap();
    let p = solve(&chain, &SolverOptions::default())
        .unwrap()
        .order_params;
    let q = OrderParams::new(
        p.v.clone(),
        p.a.clone(),
        p.a_t.clone(),
        p.v_t.clone(),
        p.theta.clone(),
    )
    .unwrap();
    assert_eq!(q, p);
    assert_eq!(
        WarmStart::new(q.clone(), Default::default()),
        WarmStart::from(q)
    );
    let bad = [(vec![1.0, 1.0], vec![1.0]), (vec![], vec![])];
    for (v, a) in bad {
        let e =
            OrderParams::new(v.clone(), a.clone(), a.clone(), a.clone(), a.clone()).unwrap_err();
        println!("v {v:?}, a {a:?}: {e}");
        assert!(
            matches!(e, ReplicaError::InvalidParameter(_))
                && e.to_string().contains("one entry per layer"),
            "{e}"
        );
    }
}
