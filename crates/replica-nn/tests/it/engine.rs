//! The CPU training engine (`replica_nn::nn`, hand-derived backward pass) against candle's
//! autograd, its determinism across thread counts, and the test-evaluation schedule.

use crate::common::{network, params};
use candle_core::{DType, Device};
use replica_nn::nn::{
    train, EngineKind, EpochContext, LayerKind, NetworkSpec, NoObserver, TensorData, TrainConfig,
    Trainer,
};
use replica_nn::synth::{ClassificationParams, Dataset, RegressionParams};

struct Case {
    widths: &'static str,
    acts: &'static str,
    kinds: Option<&'static [LayerKind]>,
    classification: bool,
    mse: bool,
}

impl Case {
    fn spec(&self) -> NetworkSpec {
        let spec = NetworkSpec::parse(self.widths, self.acts).unwrap();
        match self.kinds {
            Some(k) => spec.with_kinds(k).unwrap(),
            None => spec,
        }
    }
}

/// The networks both engine tests train: USV and dense layers, linear / relu / hardtanh,
/// cross-entropy, MSE through a softmax and MSE on a linear output.
fn cases() -> [Case; 3] {
    const DENSE4: &[LayerKind] = &[
        LayerKind::Dense,
        LayerKind::Usv,
        LayerKind::Dense,
        LayerKind::Dense,
    ];
    [
        Case {
            widths: "20-30-12-8-2",
            acts: "linear-relu-hardtanh-softmax",
            kinds: None,
            classification: true,
            mse: false,
        },
        Case {
            widths: "20-14-25-9-2",
            acts: "hardtanh-relu-linear-softmax",
            kinds: Some(DENSE4),
            classification: true,
            mse: true,
        },
        Case {
            widths: "15-15-15-15-3",
            acts: "linear-linear-relu-linear",
            kinds: None,
            classification: false,
            mse: true,
        },
    ]
}

fn data(c: &Case) -> (Dataset, Dataset) {
    let n_in: usize = c.widths.split('-').next().unwrap().parse().unwrap();
    if c.classification {
        let g = ClassificationParams::new(4, n_in)
            .gamma(6.0)
            .seed(31)
            .generate()
            .unwrap();
        (g.train, g.test)
    } else {
        let n_out: usize = c.widths.rsplit('-').next().unwrap().parse().unwrap();
        let g = RegressionParams::new(n_in)
            .n_out(n_out)
            .gamma(6.0)
            .seed(32)
            .generate()
            .unwrap();
        (g.train, g.test)
    }
}

/// In f64, two epochs of SGD on the engine and through candle's autograd (same initial network,
/// same minibatch order) give the same losses, accuracies and parameters up to rounding: the two
/// differ only in the order of float64 sums (~1e-16 relative per operation, amplified by at most
/// a few hundred steps of a contracting map), so 1e-9 relative is generous yet far below any
/// formula error (a wrong factor or a missing term changes the gradient at O(1)). The cases cover
/// USV and dense layers, linear / relu / hardtanh, cross-entropy, MSE through a softmax and MSE on
/// a linear output; each with the linear layers fused into the next USV layer (cases 1 and 3)
/// and without.
#[test]
fn engine_matches_autograd_f64() {
    let cases = cases();
    let dev = Device::Cpu;
    for (c, fuse) in cases.iter().flat_map(|c| [(c, true), (c, false)]) {
        let (tr, te) = data(c);
        let spec = c.spec();
        let a = network(&spec, 7, DType::F64);
        let b = network(&spec, 7, DType::F64);
        let td = TensorData::new(&tr, &te, DType::F64, &dev).unwrap();
        let base = if c.classification {
            TrainConfig::classification().batch_size(17)
        } else {
            TrainConfig::regression().batch_size(13)
        };
        let mut cfg = base.lr(0.05).seed(9).fuse_linear(fuse);
        if c.mse {
            cfg.loss = replica_nn::nn::Loss::Mse;
        }
        let mut ta = Trainer::new(&a, &td, &cfg.check().unwrap()).unwrap();
        let mut tb = Trainer::new_autograd(&b, &td, &cfg.check().unwrap()).unwrap();
        assert_eq!(ta.engine_name(), "cpu-engine");
        assert_eq!(tb.engine_name(), "candle-autograd");
        let close = |x: f64, y: f64, what: &str| {
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-3),
                "{} {} fuse {fuse} {what}: engine {x} autograd {y}",
                c.widths,
                c.acts
            );
        };
        for epoch in 0..3 {
            let (la, aa) = ta.evaluate_test().unwrap();
            let (lb, ab) = tb.evaluate_test().unwrap();
            close(la, lb, &format!("test loss before epoch {epoch}"));
            assert_eq!(aa, ab, "test accuracy before epoch {epoch}");
            let (la, aa) = ta.evaluate_train().unwrap();
            let (lb, ab) = tb.evaluate_train().unwrap();
            close(la, lb, &format!("train loss before epoch {epoch}"));
            assert_eq!(aa, ab);
            if epoch == 2 {
                break;
            }
            let (la, aa) = ta.epoch().unwrap();
            let (lb, ab) = tb.epoch().unwrap();
            close(la, lb, &format!("epoch {} loss", epoch + 1));
            assert_eq!(aa, ab);
            for (l, (pa, pb)) in params(&a).iter().zip(params(&b)).enumerate() {
                let moved: f64 = pa.iter().zip(&pb).map(|(x, y)| (x - y).abs()).sum();
                for (x, y) in pa.iter().zip(&pb) {
                    close(
                        *x,
                        *y,
                        &format!("layer {l} parameter (total diff {moved:e})"),
                    );
                }
            }
        }
    }
}

/// The engine's result does not depend on the number of threads: every large product is cut into
/// the same column blocks whatever the thread count (run in parallel or one after the other), so
/// every sum runs in the same order (bit-identical in f32). The networks are built outside the
/// pools (faer's SVD of the initialisation follows the global thread count); one all-USV network
/// and one with dense hidden layers (whose in-place update is a split product too).
#[test]
fn engine_threads_bit_identical() {
    let g = ClassificationParams::new(20, 100)
        .gamma(5.0)
        .seed(1)
        .generate()
        .unwrap();
    let dev = Device::Cpu;
    let td = TensorData::new(&g.train, &g.test, DType::F32, &dev).unwrap();
    let usv = NetworkSpec::parse("100-200-100-50-20-2", "linear-relu-linear-relu-softmax").unwrap();
    let mixed = usv
        .clone()
        .with_kinds(&[
            LayerKind::Usv,
            LayerKind::Dense,
            LayerKind::Usv,
            LayerKind::Dense,
            LayerKind::Dense,
        ])
        .unwrap();
    // products of up to 100 x 600 x 400 = 24M multiply-adds: their two blocks run on two
    // threads (from 4M), where the two smaller networks' products stay on one
    let g_wide = ClassificationParams::new(20, 400)
        .gamma(1.0)
        .seed(4)
        .generate()
        .unwrap();
    let td_wide = TensorData::new(&g_wide.train, &g_wide.test, DType::F32, &dev).unwrap();
    let wide = NetworkSpec::parse("400-600-300-100-2", "relu-linear-relu-softmax").unwrap();
    for (spec, td) in [(usv, &td), (mixed, &td), (wide, &td_wide)] {
        // the whole run in the pool, the network's construction (SVDs of the initial weights)
        // included
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let net = network(&spec, 2, DType::F32);
                let cfg = TrainConfig::classification().epochs(2).seed(3);
                let h = train(&net, td, &cfg.check().unwrap(), &mut NoObserver).unwrap();
                (h, params(&net))
            })
        };
        let (h1, p1) = run(1);
        let (h2, p2) = run(2);
        assert_eq!(h1.epochs.len(), 3);
        for (a, b) in h1.epochs.iter().zip(&h2.epochs) {
            assert_eq!(
                a.train_loss.to_bits(),
                b.train_loss.to_bits(),
                "{a:?} {b:?}"
            );
            assert_eq!(a.test_loss.to_bits(), b.test_loss.to_bits(), "{a:?} {b:?}");
            assert_eq!(a.test_accuracy, b.test_accuracy);
        }
        assert!(h1.epochs[2].train_loss < h1.epochs[0].train_loss);
        for (a, b) in p1.iter().zip(&p2) {
            assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
}

/// The two lanes of a step (rows `[0, m/2)` and `[m/2, m)` on two threads, from 32 rows) give the
/// bits of one lane on one thread, for every loss (cross-entropy, MSE through a softmax, MSE on a
/// linear output), USV and dense layers, fused or not, with an odd minibatch (47 rows: lanes of 23
/// and 24) and a short last minibatch (the data sets' sizes are not multiples of 47).
#[test]
fn engine_lanes_bit_identical() {
    let cases = cases();
    let dev = Device::Cpu;
    for (c, fuse) in cases.iter().flat_map(|c| [(c, true), (c, false)]) {
        let (tr, te) = data(c);
        assert_ne!(tr.n % 47, 0, "{}: want a short last minibatch", c.widths);
        let spec = c.spec();
        let td = TensorData::new(&tr, &te, DType::F32, &dev).unwrap();
        let run = |threads: usize| {
            let net = network(&spec, 7, DType::F32);
            let base = if c.classification {
                TrainConfig::classification()
            } else {
                TrainConfig::regression()
            };
            let mut cfg = base
                .batch_size(47)
                .epochs(2)
                .lr(0.05)
                .seed(9)
                .fuse_linear(fuse);
            if c.mse {
                cfg.loss = replica_nn::nn::Loss::Mse;
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let h =
                pool.install(|| train(&net, &td, &cfg.check().unwrap(), &mut NoObserver).unwrap());
            (h, params(&net))
        };
        let ((h1, p1), (h2, p2)) = (run(1), run(2));
        for (a, b) in h1.epochs.iter().zip(&h2.epochs) {
            let what = format!("{} fuse={fuse}: {a:?} vs {b:?}", c.widths);
            assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits(), "{what}");
            assert_eq!(a.test_loss.to_bits(), b.test_loss.to_bits(), "{what}");
            assert_eq!(a.test_accuracy, b.test_accuracy, "{what}");
        }
        for (a, b) in p1.iter().zip(&p2) {
            assert!(
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{} fuse={fuse}: parameters differ",
                c.widths
            );
        }
    }
}

/// `test_every = 3` over 7 epochs: the test set is evaluated at 0, 3, 6 and 7 (the last), the
/// other epochs report NaN and no accuracy; the training itself is unchanged (same train losses,
/// bit for bit, as with `test_every = 1`).
#[test]
fn test_every_schedule() {
    let g = ClassificationParams::new(4, 12)
        .gamma(5.0)
        .seed(4)
        .generate()
        .unwrap();
    let dev = Device::Cpu;
    let run = |every: usize| {
        let spec = NetworkSpec::parse("12-10-2", "relu-softmax").unwrap();
        let net = network(&spec, 5, DType::F32);
        let td = TensorData::new(&g.train, &g.test, DType::F32, &dev).unwrap();
        let cfg = TrainConfig::classification()
            .epochs(7)
            .batch_size(10)
            .test_every(every);
        train(&net, &td, &cfg.check().unwrap(), &mut NoObserver).unwrap()
    };
    let (all, some) = (run(1), run(3));
    for (a, b) in all.epochs.iter().zip(&some.epochs) {
        assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits());
        if [0, 3, 6, 7].contains(&b.epoch) {
            assert_eq!(
                a.test_loss.to_bits(),
                b.test_loss.to_bits(),
                "epoch {}",
                b.epoch
            );
            assert_eq!(a.test_accuracy, b.test_accuracy);
        } else {
            assert!(b.test_loss.is_nan() && b.test_accuracy.is_none(), "{b:?}");
        }
    }
    let cfg = TrainConfig::classification().test_every(0);
    assert!(cfg.check().is_err());
}

/// A label outside the output width is an error of the engine, not a panic.
#[test]
fn bad_label_is_an_error() {
    let mut g = ClassificationParams::new(4, 12)
        .gamma(5.0)
        .seed(4)
        .generate()
        .unwrap();
    g.train.labels.as_mut().unwrap()[3] = 7;
    let dev = Device::Cpu;
    let spec = NetworkSpec::parse("12-10-2", "relu-softmax").unwrap();
    let net = network(&spec, 5, DType::F32);
    let td = TensorData::new(&g.train, &g.test, DType::F32, &dev).unwrap();
    let cfg = TrainConfig::classification();
    let mut t = Trainer::new(&net, &td, &cfg.check().unwrap()).unwrap();
    let e = t.epoch().unwrap_err().to_string();
    assert!(e.contains("labels"), "{e}");
}

/// The engine of a run is named by its trainer, its history and every epoch's context, and
/// serialises to the names the provenance records use.
#[test]
fn history_and_context_name_the_engine() {
    let c = &cases()[0];
    let (tr, te) = data(c);
    let net = network(&c.spec(), 5, DType::F64);
    let td = TensorData::new(&tr, &te, DType::F64, &Device::Cpu).unwrap();
    let cfg = TrainConfig::classification().epochs(1).check().unwrap();
    assert_eq!(
        Trainer::new(&net, &td, &cfg).unwrap().engine(),
        EngineKind::CpuEngine
    );
    assert_eq!(
        Trainer::new_autograd(&net, &td, &cfg).unwrap().engine(),
        EngineKind::CandleAutograd
    );
    let mut seen = Vec::new();
    let mut observer = |ctx: &EpochContext<'_>| {
        seen.push(ctx.engine);
        Ok(())
    };
    let history = train(&net, &td, &cfg, &mut observer).unwrap();
    assert_eq!(history.engine, EngineKind::CpuEngine);
    assert_eq!(seen, [EngineKind::CpuEngine; 2]);
    for (kind, name) in [
        (EngineKind::CpuEngine, "cpu-engine"),
        (EngineKind::CandleAutograd, "candle-autograd"),
    ] {
        assert_eq!((kind.name(), kind.to_string()), (name, name.to_string()));
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
    }
}
