//! The figure configurations as checked parameters (`replica_mi::checked`): every invalid value
//! is refused by `validate()` with its field named, a valid configuration reads back as set, and
//! serde reads a checked configuration only if it passes the rules.

use replica_mi::checked::Checked;
use replica_mi::experiment::fig2::Fig2Config;
use replica_mi::experiment::fig3::Fig3Config;
use replica_mi::experiment::fig4::{Fig4Config, Fig4Variant};
use replica_mi::experiment::figs2::FigS2Config;
use replica_mi::experiment::{ExperimentError, Scale};
use replica_mi::nn::Act;
use std::fmt::Debug;

/// One invalid configuration: the field at fault, a change of a valid configuration, and the text
/// the message must contain (the field's name as the message spells it).
struct Case<C> {
    field: &'static str,
    change: fn(&mut C),
    named: &'static str,
}

fn case<C>(field: &'static str, change: fn(&mut C), named: &'static str) -> Case<C> {
    Case {
        field,
        change,
        named,
    }
}

/// Every case is refused by `validate` with an `InvalidParameter` of its field, or an
/// `InvalidConfig` (a relation between fields) whose message names it; the valid
/// configuration itself is accepted.
fn assert_all_refused<C: Clone + Debug>(
    valid: &C,
    validate: impl Fn(&C) -> Option<ExperimentError>,
    cases: &[Case<C>],
) {
    if let Some(e) = validate(valid) {
        panic!("{valid:?} refused: {e}");
    }
    for c in cases {
        let mut cfg = valid.clone();
        (c.change)(&mut cfg);
        match validate(&cfg) {
            Some(ExperimentError::InvalidConfig(m)) => assert!(
                m.contains(c.named),
                "invalid {}: the message {m:?} does not name {:?}; config {cfg:?}",
                c.field,
                c.named
            ),
            Some(ExperimentError::InvalidParameter(p)) => assert_eq!(
                p.field, c.named,
                "invalid {}: the error {p} names another field; config {cfg:?}",
                c.field
            ),
            Some(e) => panic!(
                "invalid {}: not an InvalidConfig: {e}; config {cfg:?}",
                c.field
            ),
            None => panic!("invalid {} was accepted; config {cfg:?}", c.field),
        }
    }
}

#[test]
fn fig2_invalid_values_are_refused_with_their_field() {
    let cases: Vec<Case<Fig2Config>> = vec![
        case("width", |c| c.width = 0, "width"),
        case("samples", |c| c.samples = 1, "samples"),
        case("samples", |c| c.samples = 0, "samples"),
        case("knn_k", |c| c.knn_k = 0, "knn_k"),
        case("knn_k", |c| c.knn_k = c.samples, "knn_k"),
        case("noise_var", |c| c.noise_var = 0.0, "noise_var"),
        case("noise_var", |c| c.noise_var = -1e-5, "noise_var"),
        case("noise_var", |c| c.noise_var = f64::NAN, "noise_var"),
        case("noise_var", |c| c.noise_var = f64::INFINITY, "noise_var"),
        case("sigmas", |c| c.sigmas.clear(), "sigmas"),
        case("sigmas", |c| c.sigmas.push(0.0), "sigmas"),
        case("sigmas", |c| c.sigmas.push(-1.0), "sigmas"),
        case("sigmas", |c| c.sigmas.push(f64::NAN), "sigmas"),
        case("sigmas", |c| c.sigmas.push(f64::INFINITY), "sigmas"),
        case("activations", |c| c.activations.clear(), "activation"),
    ];
    let valid = Fig2Config::new(60, 150, vec![0.1, 1.0, 10.0]);
    assert_all_refused(&valid, |c| c.validate().err(), &cases);
}

#[test]
fn fig3_invalid_values_are_refused_with_their_field() {
    let cases: Vec<Case<Fig3Config>> = vec![
        case("train_width", |c| c.train_width = 0, "widths"),
        case("error_widths", |c| c.error_widths.push(0), "widths"),
        case("error_seeds", |c| c.error_seeds = 0, "error_seeds"),
        case("n_out", |c| c.n_out = 0, "n_out"),
        case("batch_size", |c| c.batch_size = 0, "batch_size"),
        case("gamma", |c| c.gamma = 0.0, "gamma"),
        case("gamma", |c| c.gamma = -1.0, "gamma"),
        case("gamma", |c| c.gamma = f64::NAN, "gamma"),
        case("gamma", |c| c.gamma = f64::INFINITY, "gamma"),
        case("lr", |c| c.lr = 0.0, "lr"),
        case("lr", |c| c.lr = f64::NAN, "lr"),
        case("measure_noise", |c| c.measure_noise = 0.0, "measure_noise"),
        case(
            "measure_noise",
            |c| c.measure_noise = f64::NAN,
            "measure_noise",
        ),
        case(
            "teacher_noise_var",
            |c| c.teacher_noise_var = -0.01,
            "teacher_noise_var",
        ),
        case(
            "teacher_noise_var",
            |c| c.teacher_noise_var = f64::NAN,
            "teacher_noise_var",
        ),
    ];
    assert_all_refused(
        &Fig3Config::for_scale(Scale::Quick),
        |c| c.validate().err(),
        &cases,
    );
    // no error panels, no seeds for them: valid
    let mut c = Fig3Config::for_scale(Scale::Quick);
    c.error_widths.clear();
    c.error_seeds = 0;
    c.validate().unwrap_or_else(|e| panic!("{c:?}: {e}"));
}

#[test]
fn fig4_invalid_values_are_refused_with_their_field() {
    let cases: Vec<Case<Fig4Config>> = vec![
        case("widths", |c| c.widths.truncate(5), "widths"),
        case("widths", |c| c.widths.push(2), "widths"),
        case("widths", |c| c.widths[2] = 0, "widths"),
        case("widths", |c| c.widths[0] += 1, "n_x"),
        case("n_x", |c| c.n_x += 1, "n_x"),
        case("n_latent", |c| c.n_latent = 0, "n_latent"),
        case("variants", |c| c.variants.clear(), "variant"),
        case("mi_every", |c| c.mi_every = 0, "mi_every"),
        case("batch_size", |c| c.batch_size = 0, "batch_size"),
        case("gamma", |c| c.gamma = 0.0, "gamma"),
        case("gamma", |c| c.gamma = f64::NAN, "gamma"),
        case("gamma", |c| c.gamma = f64::NEG_INFINITY, "gamma"),
        case("lr", |c| c.lr = -0.01, "lr"),
        case("lr", |c| c.lr = f64::INFINITY, "lr"),
        case("noise_var", |c| c.noise_var = -0.01, "noise_var"),
        case("noise_var", |c| c.noise_var = f64::NAN, "noise_var"),
        case("measure_noise", |c| c.measure_noise = 0.0, "measure_noise"),
        case(
            "measure_noise",
            |c| c.measure_noise = f64::NAN,
            "measure_noise",
        ),
    ];
    assert_all_refused(
        &Fig4Config::for_scale(Scale::Quick),
        |c| c.validate().err(),
        &cases,
    );
}

#[test]
fn figs2_invalid_values_are_refused_with_their_field() {
    let cases: Vec<Case<FigS2Config>> = vec![
        case("widths", |c| c.widths = vec![784], "widths"),
        case("widths", |c| c.widths.clear(), "widths"),
        case("widths", |c| c.widths[1] = 0, "widths"),
        case(
            "hidden_activation",
            |c| c.hidden_activation = Act::Softmax,
            "hidden activation",
        ),
        case("n_train", |c| c.n_train = 0, "n_train = 0"),
        case("n_test", |c| c.n_test = 0, "n_test = 0"),
        case("batch_size", |c| c.batch_size = 0, "batch_size = 0"),
        case("lr", |c| c.lr = 0.0, "lr"),
        case("lr", |c| c.lr = f64::NAN, "lr"),
        case("lr", |c| c.lr = f64::INFINITY, "lr"),
    ];
    assert_all_refused(
        &FigS2Config::for_scale(Scale::Quick),
        |c| c.validate().err(),
        &cases,
    );
}

/// The messages the figures printed before the configurations were checked types.
#[test]
fn messages_are_unchanged() {
    let msg = |e: Option<ExperimentError>| e.expect("refused").to_string();
    let mut c = Fig2Config::new(60, 150, vec![1.0]);
    c.knn_k = 150;
    assert_eq!(
        msg(c.validate().err()),
        "invalid configuration: need samples >= 2 and 1 <= knn_k < samples, got samples = 150, \
         knn_k = 150"
    );
    // a single field's rule reads as every parameter error of the workspace (replica-params)
    let mut c = Fig3Config::for_scale(Scale::Quick);
    c.gamma = -1.0;
    assert_eq!(
        msg(c.validate().err()),
        "invalid gamma = -1: must be finite and > 0"
    );
    let mut c = Fig4Config::for_scale(Scale::Quick);
    c.widths.pop();
    assert_eq!(
        msg(c.validate().err()),
        "invalid configuration: widths must be 6 positive numbers, got [20, 40, 20, 10, 5]"
    );
    let mut c = FigS2Config::for_scale(Scale::Quick);
    c.n_test = 0;
    assert_eq!(
        msg(c.validate().err()),
        "invalid configuration: n_train = 500, n_test = 0, batch_size = 100 must all be >= 1"
    );
}

#[test]
fn checked_configs_read_what_was_set() {
    let mut cfg = Fig2Config::new(7, 9, vec![0.5, 2.0]);
    cfg.knn_k = 4;
    cfg.noise_var = 1e-3;
    let valid = cfg.validate().unwrap();
    assert_eq!(valid.get(), &cfg, "{cfg:?}");
    assert_eq!((valid.width, valid.samples, valid.knn_k), (7, 9, 4));
    assert_eq!(valid.noise_var.to_bits(), 1e-3f64.to_bits());
    let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&valid.sigmas), bits(&[0.5, 2.0]));
    assert_eq!(valid.activations, cfg.activations);
    assert_eq!(valid.into_inner(), cfg);

    let cfg = Fig3Config::new(12, vec![6, 24], 2, 5, 3.0).with_epochs(8);
    let valid = cfg.validate().unwrap();
    assert_eq!(valid.get(), &cfg, "{cfg:?}");
    assert_eq!(valid.train_width, 12);
    assert_eq!(valid.error_widths, [6, 24]);
    assert_eq!((valid.error_seeds, valid.epochs), (2, 8));
    assert_eq!(valid.gamma.to_bits(), 3f64.to_bits());
    assert_eq!(valid.runs(5), cfg.runs(5));

    let mut cfg = Fig4Config::new(5, 20, 6, 10.0);
    cfg.variants = vec![Fig4Variant::HardtanhOnly];
    cfg.apply_noise = false;
    let valid = cfg.validate().unwrap();
    assert_eq!(valid.get(), &cfg, "{cfg:?}");
    assert_eq!(valid.widths, [20, 40, 20, 10, 5, 2]);
    assert_eq!(valid.variants, [Fig4Variant::HardtanhOnly]);
    assert_eq!((valid.epochs, valid.zoom_epochs), (6, 4));
    assert!(!valid.apply_noise);

    let mut cfg = FigS2Config::new(30, 20, 2);
    cfg.widths = vec![784, 16, 10];
    cfg.hidden_activation = Act::Hardtanh;
    let valid = cfg.validate().unwrap();
    assert_eq!(valid.get(), &cfg, "{cfg:?}");
    assert_eq!(valid.widths, [784, 16, 10]);
    assert_eq!(valid.hidden_activation, Act::Hardtanh);
    assert_eq!((valid.n_train, valid.n_test, valid.epochs), (30, 20, 2));
    assert_eq!(valid.lr.to_bits(), 0.1f64.to_bits());
}

/// A checked configuration is written as the configuration itself, and read back only when it
/// passes the rules (the rule's message in the error).
#[test]
fn checked_configs_through_serde() {
    let cfg = Fig3Config::for_scale(Scale::Quick);
    let valid = cfg.validate().unwrap();
    let json = serde_json::to_string(&valid).unwrap();
    assert_eq!(json, serde_json::to_string(&cfg).unwrap());
    let back: Checked<Fig3Config> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, valid);

    let mut bad = Fig4Config::for_scale(Scale::Quick);
    bad.mi_every = 0;
    let json = serde_json::to_string(&bad).unwrap();
    let err = serde_json::from_str::<Checked<Fig4Config>>(&json).unwrap_err();
    assert!(err.to_string().contains("mi_every >= 1"), "{err}");
    let plain: Fig4Config = serde_json::from_str(&json).unwrap();
    assert_eq!(plain, bad);
}
