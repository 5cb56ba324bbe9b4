//! The training side's settings as checked parameters (`replica_mi::checked`): `TrainConfig`,
//! `NetworkSpec` (`nn`) and `MiConfig` (`bridge`). Every invalid value is refused by `check()`
//! with its field named (the parameters printed on failure), the messages are the ones the
//! unchecked `check()` gave, a checked value reads back as set and reaches `Network::new`,
//! `Trainer::new`, `train` and `MiRecorder::new` unchanged, and serde reads a checked value only
//! if it passes the rules.

use candle_core::{DType, Device};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_mi::bridge::{BridgeError, MiConfig, MiRecorder, MiSetting};
use replica_mi::checked::Checked;
use replica_mi::nn::{
    train, Act, LayerKind, LayerSpec, Loss, Network, NetworkSpec, NnError, NoObserver, TensorData,
    TrainConfig, Trainer,
};
use replica_mi::synth::Dataset;
use std::fmt::Debug;

/// One invalid value: a label, a change of a valid value, and the field the error must name
/// (exactly, as the error's `field` spells it).
struct Case<C> {
    what: &'static str,
    change: fn(&mut C),
    field: &'static str,
}

fn case<C>(what: &'static str, change: fn(&mut C), field: &'static str) -> Case<C> {
    Case {
        what,
        change,
        field,
    }
}

/// The valid value is accepted; every case is refused with an error naming its field
/// (`field_of` reads the field out of the error, `None` for an error of another kind).
fn assert_all_refused<C: Clone + Debug, T, E: std::fmt::Display>(
    valid: &C,
    check: impl Fn(&C) -> Result<T, E>,
    field_of: impl Fn(&E) -> Option<String>,
    cases: &[Case<C>],
) {
    if let Err(e) = check(valid) {
        panic!("{valid:?} refused: {e}");
    }
    for c in cases {
        let mut value = valid.clone();
        (c.change)(&mut value);
        match check(&value) {
            Ok(_) => panic!("invalid {} was accepted: {value:?}", c.what),
            Err(e) => match field_of(&e) {
                Some(f) => assert_eq!(
                    f, c.field,
                    "invalid {}: the error {e} names {f:?}, not {:?}; {value:?}",
                    c.what, c.field
                ),
                None => panic!(
                    "invalid {}: not an invalid-parameter error: {e}; {value:?}",
                    c.what
                ),
            },
        }
    }
}

fn nn_field(e: &NnError) -> Option<String> {
    match e {
        NnError::InvalidParameter(e) => Some(e.field.clone()),
        _ => None,
    }
}

fn bridge_field(e: &BridgeError) -> Option<String> {
    match e {
        BridgeError::InvalidParameter(e) => Some(e.field.clone()),
        _ => None,
    }
}

#[test]
fn train_config_invalid_values_are_refused_with_their_field() {
    let cases: Vec<Case<TrainConfig>> = vec![
        case("batch_size = 0", |c| c.batch_size = 0, "batch_size"),
        case("eval_chunk = 0", |c| c.eval_chunk = 0, "eval_chunk"),
        case("test_every = 0", |c| c.test_every = 0, "test_every"),
        case("lr = 0", |c| c.lr = 0.0, "lr"),
        case("lr = -0", |c| c.lr = -0.0, "lr"),
        case("lr < 0", |c| c.lr = -0.01, "lr"),
        case("lr = NaN", |c| c.lr = f64::NAN, "lr"),
        case("lr = inf", |c| c.lr = f64::INFINITY, "lr"),
        case("lr = -inf", |c| c.lr = f64::NEG_INFINITY, "lr"),
    ];
    for valid in [TrainConfig::regression(), TrainConfig::classification()] {
        assert_all_refused(&valid, TrainConfig::check, nn_field, &cases);
    }
}

#[test]
fn network_spec_invalid_values_are_refused_with_their_field() {
    let layer = |n_out, act, kind| LayerSpec { n_out, act, kind };
    let cases: Vec<Case<NetworkSpec>> = vec![
        case("n_in = 0", |s| s.n_in = 0, "widths"),
        case("a width 0", |s| s.layers[1].n_out = 0, "widths"),
        case("the last width 0", |s| s.layers[2].n_out = 0, "widths"),
        case("no layers", |s| s.layers.clear(), "layers"),
        case(
            "softmax before the last layer",
            |s| s.layers[0].act = Act::Softmax,
            "layers[0].act",
        ),
        case(
            "softmax on a USV output layer",
            |s| s.layers[2].kind = LayerKind::Usv,
            "layers[2].kind",
        ),
        case("coef = 0", |s| s.coef = 0.0, "coef"),
        case("coef < 0", |s| s.coef = -1.0, "coef"),
        case("coef = NaN", |s| s.coef = f64::NAN, "coef"),
        case("coef = inf", |s| s.coef = f64::INFINITY, "coef"),
    ];
    let valid = NetworkSpec::parse("12-9-6-3", "linear-relu-softmax").unwrap();
    assert_eq!(
        valid.layers,
        [
            layer(9, Act::Linear, LayerKind::Usv),
            layer(6, Act::Relu, LayerKind::Usv),
            layer(3, Act::Softmax, LayerKind::Dense),
        ]
    );
    assert_all_refused(&valid, NetworkSpec::check, nn_field, &cases);
}

/// The constructors apply the same rules to what they build (and their own: counts, parsing).
#[test]
fn network_spec_constructors_refuse_with_the_field() {
    let valid = || NetworkSpec::parse("12-9-3", "relu-softmax").unwrap();
    let cases: Vec<(&str, Result<NetworkSpec, NnError>, &str)> = vec![
        ("one width", NetworkSpec::new(&[4], &[]), "widths"),
        (
            "an activation short",
            NetworkSpec::new(&[4, 3, 2], &[Act::Relu]),
            "activations",
        ),
        (
            "a zero width",
            NetworkSpec::new(&[4, 0], &[Act::Linear]),
            "widths",
        ),
        (
            "softmax first",
            NetworkSpec::new(&[4, 3, 2], &[Act::Softmax, Act::Linear]),
            "layers[0].act",
        ),
        (
            "unparsable widths",
            NetworkSpec::parse("12-x-3", "relu-softmax"),
            "widths",
        ),
        (
            "a kind short",
            valid().with_kinds(&[LayerKind::Dense]),
            "kinds",
        ),
        (
            "a USV softmax",
            valid().with_kinds(&[LayerKind::Usv, LayerKind::Usv]),
            "layers[1].kind",
        ),
        ("coef = 0", valid().with_coef(0.0), "coef"),
        ("coef = NaN", valid().with_coef(f64::NAN), "coef"),
    ];
    for (what, r, field) in cases {
        match r {
            Ok(s) => panic!("{what}: accepted {s:?}"),
            Err(e) => assert_eq!(nn_field(&e).as_deref(), Some(field), "{what}: {e}"),
        }
    }
}

#[test]
fn mi_config_invalid_values_are_refused_with_their_field() {
    let cases: Vec<Case<MiConfig>> = vec![
        case("every = 0", |c| c.every = 0, "mi.every"),
        case(
            "measure_noise = 0",
            |c| c.measure_noise = 0.0,
            "mi.measure_noise",
        ),
        case(
            "measure_noise < 0",
            |c| c.measure_noise = -1e-5,
            "mi.measure_noise",
        ),
        case(
            "measure_noise = NaN",
            |c| c.measure_noise = f64::NAN,
            "mi.measure_noise",
        ),
        case(
            "measure_noise = inf",
            |c| c.measure_noise = f64::INFINITY,
            "mi.measure_noise",
        ),
    ];
    assert_all_refused(&MiConfig::default(), MiConfig::check, bridge_field, &cases);
    assert_all_refused(
        &MiConfig::default().every(2),
        MiConfig::check,
        bridge_field,
        &cases,
    );
}

/// The texts are the ones the unchecked `check()` gave.
#[test]
fn messages_are_unchanged() {
    let msg = |r: Result<Checked<TrainConfig>, NnError>| r.unwrap_err().to_string();
    assert_eq!(
        msg(TrainConfig::regression().batch_size(0).check()),
        "invalid batch_size = 0: must be >= 1"
    );
    assert_eq!(
        msg(TrainConfig::classification().test_every(0).check()),
        "invalid test_every = 0: must be >= 1"
    );
    assert_eq!(
        msg(TrainConfig::regression().lr(f64::NAN).check()),
        "invalid lr = NaN: must be finite and > 0"
    );
    let mut spec = NetworkSpec::parse("12-9-3", "relu-softmax").unwrap();
    spec.coef = -1.0;
    assert_eq!(
        spec.check().unwrap_err().to_string(),
        "invalid coef = -1: must be finite and > 0"
    );
    spec.coef = 1.0;
    spec.n_in = 0;
    assert_eq!(
        spec.check().unwrap_err().to_string(),
        "invalid widths = 0-9-3 relu-softmax usv-dense: must be >= 1"
    );
    spec.n_in = 12;
    spec.layers[1].kind = LayerKind::Usv;
    assert_eq!(
        spec.check().unwrap_err().to_string(),
        "invalid layers[1].kind = usv: a softmax layer is dense (softmax is not a replica channel)"
    );
    assert_eq!(
        MiConfig::default()
            .every(0)
            .check()
            .unwrap_err()
            .to_string(),
        "invalid mi.every = 0: must be >= 1"
    );
    let mi = MiConfig {
        measure_noise: 0.0,
        ..MiConfig::default()
    };
    assert_eq!(
        mi.check().unwrap_err().to_string(),
        "invalid mi.measure_noise = 0: must be finite and > 0"
    );
}

#[test]
fn checked_values_read_what_was_set() {
    let mut cfg = TrainConfig::classification()
        .epochs(3)
        .batch_size(7)
        .lr(0.25)
        .seed(11)
        .fuse_linear(false)
        .test_every(2);
    cfg.eval_chunk = 5;
    let valid = cfg.check().unwrap();
    assert_eq!(valid.get(), &cfg, "{cfg:?}");
    assert_eq!(
        (valid.epochs, valid.batch_size, valid.seed, valid.eval_chunk),
        (3, 7, 11, 5)
    );
    assert_eq!(valid.test_every, 2);
    assert_eq!(valid.lr.to_bits(), 0.25f64.to_bits());
    assert_eq!(valid.loss, Loss::CrossEntropy);
    assert!(!valid.fuse_linear);
    assert_eq!(valid.clone().into_inner(), cfg);

    let spec = NetworkSpec::parse("12-9-3", "hardtanh-softmax")
        .and_then(|s| s.with_coef(0.5))
        .unwrap();
    let valid = spec.check().unwrap();
    assert_eq!(valid.get(), &spec, "{spec:?}");
    assert_eq!(valid.widths(), [12, 9, 3]);
    assert_eq!(valid.describe(), "12-9-3 hardtanh-softmax usv-dense");
    assert_eq!(valid.coef.to_bits(), 0.5f64.to_bits());

    let mi = MiConfig {
        measure_noise: 2e-5,
        warm_start: false,
        exact: false,
        parallel: false,
        ..MiConfig::default()
    }
    .every(3);
    let valid = mi.check().unwrap();
    assert_eq!(valid.every, 3);
    assert_eq!(valid.measure_noise.to_bits(), 2e-5f64.to_bits());
    assert!(!valid.warm_start && !valid.exact && !valid.parallel);
    let rec = MiRecorder::new(MiSetting::Regression, valid);
    assert_eq!(rec.config().every, 3);
    assert_eq!(rec.config().measure_noise.to_bits(), 2e-5f64.to_bits());
}

/// The checked values reach the network and the training as they were set: the network keeps
/// its checked description (another network built from it draws the same weights), and the
/// trainer and `train` run with the checked settings.
#[test]
fn checked_values_reach_the_network_and_the_training() {
    let dev = Device::Cpu;
    let spec = NetworkSpec::parse("6-5-3", "relu-softmax")
        .unwrap()
        .check()
        .unwrap();
    let net = Network::new(&spec, &mut ChaCha8Rng::seed_from_u64(1), DType::F64, &dev).unwrap();
    assert_eq!(net.spec(), &spec);
    let again = Network::new(
        net.spec(),
        &mut ChaCha8Rng::seed_from_u64(1),
        DType::F64,
        &dev,
    )
    .unwrap();
    for (a, b) in net.layers().iter().zip(again.layers()) {
        assert_eq!(a.weight().unwrap(), b.weight().unwrap());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let tr = Dataset::random_classification(20, 6, 3, &mut rng);
    let te = Dataset::random_classification(8, 6, 3, &mut rng);
    let td = TensorData::new(&tr, &te, DType::F64, &dev).unwrap();
    let cfg = TrainConfig::classification()
        .epochs(2)
        .batch_size(6)
        .check()
        .unwrap();
    let t = Trainer::new(&net, &td, &cfg).unwrap();
    assert_eq!(t.engine_name(), "cpu-engine");
    let t = Trainer::new_autograd(&net, &td, &cfg).unwrap();
    assert_eq!(t.engine_name(), "candle-autograd");
    let h = train(&net, &td, &cfg, &mut NoObserver).unwrap();
    assert_eq!(h.epochs.len(), 3, "{cfg:?}");
}

/// A checked value is written as the value itself, and read back only when it passes the rules
/// (the rule's message in the error).
#[test]
fn checked_training_values_through_serde() {
    let cfg = TrainConfig::regression().epochs(4);
    let valid = cfg.check().unwrap();
    let json = serde_json::to_string(&valid).unwrap();
    assert_eq!(json, serde_json::to_string(&cfg).unwrap());
    let back: Checked<TrainConfig> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, valid);
    let bad = serde_json::to_string(&cfg.clone().batch_size(0)).unwrap();
    let err = serde_json::from_str::<Checked<TrainConfig>>(&bad).unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid batch_size = 0: must be >= 1"),
        "{err}"
    );

    let spec = NetworkSpec::parse("12-9-3", "relu-softmax").unwrap();
    let valid = spec.check().unwrap();
    let json = serde_json::to_string(&valid).unwrap();
    let back: Checked<NetworkSpec> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, valid);
    let mut bad = spec.clone();
    bad.layers[0].act = Act::Softmax;
    let err = serde_json::from_str::<Checked<NetworkSpec>>(&serde_json::to_string(&bad).unwrap())
        .unwrap_err();
    assert!(
        err.to_string().contains("softmax only on the last layer"),
        "{err}"
    );
}
