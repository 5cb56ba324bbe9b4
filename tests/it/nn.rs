//! The training side: USV layers against explicit matrices, gradients against finite differences,
//! training, spectra against faer, replica against the exact Gaussian entropy during training,
//! bit-for-bit determinism. Small sizes, CPU (and CUDA only when built with it and a GPU exists).

use candle_core::{DType, Device, Tensor};
use faer::linalg::solvers::DenseSolveCore;
use faer::Mat;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use replica_mi::bridge::{MiConfig, MiRecord, MiRecorder, MiSetting, Per};
use replica_mi::exact::gaussian_matrix;
use replica_mi::nn::{
    train, Act, Network, NetworkSpec, NoObserver, TensorData, TrainConfig, UsvLayer,
};
use replica_mi::synth::{ClassificationParams, RegressionParams};

/// `$cpu` runs `$f(&Device::Cpu)`. `$cuda` runs it on GPU 0 and is ignored by default: it runs
/// only when asked (`cargo test --features cuda --test nn -- --ignored cuda`, or `cuda-kit/run.sh`
/// on a GPU machine), and then a build without CUDA or a machine without a GPU fails it, so a
/// CUDA test never reports a pass it did not earn.
macro_rules! test_device {
    ($f:ident, $cpu:ident, $cuda:ident) => {
        #[test]
        fn $cpu() {
            $f(&Device::Cpu);
        }
        #[test]
        #[ignore = "needs a CUDA device: --features cuda, then -- --ignored cuda"]
        fn $cuda() {
            $f(&cuda_device());
        }
    };
}

/// GPU 0, or a panic that says why there is none (for the ignored `_cuda` tests).
fn cuda_device() -> Device {
    assert!(
        candle_core::utils::cuda_is_available(),
        "this test executable was built without CUDA: rebuild with `--features cuda`"
    );
    Device::new_cuda(0).unwrap_or_else(|e| panic!("no CUDA device opens: {e}"))
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn rows(data: &[f64], r: usize, c: usize, dtype: DType, dev: &Device) -> Tensor {
    Tensor::from_slice(data, (r, c), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
        .to_device(dev)
        .unwrap()
}

fn to_rows(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(DType::F64).unwrap().to_vec2::<f64>().unwrap()
}

/// `x W^T` in f64 for row-major `x` (`b x n_in`).
fn x_wt(x: &[f64], b: usize, w: &Mat<f64>) -> Vec<Vec<f64>> {
    let n_in = w.ncols();
    (0..b)
        .map(|i| {
            (0..w.nrows())
                .map(|o| (0..n_in).map(|j| x[i * n_in + j] * w[(o, j)]).sum())
                .collect()
        })
        .collect()
}

fn max_abs_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> (f64, f64) {
    let mut d: f64 = 0.0;
    let mut m: f64 = 0.0;
    for (ra, rb) in a.iter().zip(b) {
        assert_eq!(ra.len(), rb.len());
        for (x, y) in ra.iter().zip(rb) {
            d = d.max((x - y).abs());
            m = m.max(y.abs());
        }
    }
    (d, m)
}

const SHAPES: [(usize, usize); 3] = [(30, 20), (20, 30), (25, 25)];

/// The forward pass `((x V_k) * s) U_k^T` equals `x W^T` with `W = U_k diag(s) V_k^T` formed
/// explicitly in f64 from faer's SVD of the same draw `G`, for new singular values `s`, on every
/// activation; with n_out < n_in, > n_in and = n_in.
///
/// f32 tolerance: U, V and s are rounded to f32 (relative 2^-24 ~ 6e-8 each) and every output is
/// a chain of n_in + n_out < 64 rounded multiply-adds, so the error is below
/// 64 * 6e-8 ~ 4e-6 times the sum of absolute products, which here is O(max |x W^T|); 2e-5
/// relative leaves a margin of 5.
fn usv_forward_matches_explicit(dev: &Device) {
    for (k, &(n_in, n_out)) in SHAPES.iter().enumerate() {
        let g = gaussian_matrix(n_out, n_in, 1.0, &mut rng(k as u64));
        let svd = g.thin_svd().unwrap();
        let m = n_in.min(n_out);
        let mut r = rng(100 + k as u64);
        let s_new: Vec<f64> = (0..m).map(|_| r.sample::<f64, _>(StandardNormal)).collect();
        let w = Mat::<f64>::from_fn(n_out, n_in, |i, j| {
            (0..m)
                .map(|c| svd.U()[(i, c)] * s_new[c] * svd.V()[(j, c)])
                .sum()
        });
        let b = 7;
        let x: Vec<f64> = (0..b * n_in)
            .map(|_| r.sample::<f64, _>(StandardNormal))
            .collect();
        let want = x_wt(&x, b, &w);
        for (dtype, tol) in [(DType::F32, 2e-5), (DType::F64, 1e-12)] {
            for act in [Act::Linear, Act::Relu, Act::Hardtanh] {
                let layer = UsvLayer::from_matrix(&g, act, dtype, dev).unwrap();
                layer.set_singular_values(&s_new).unwrap();
                let got = to_rows(&layer.forward(&rows(&x, b, n_in, dtype, dev)).unwrap());
                let want_act: Vec<Vec<f64>> = want
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|&v| match act {
                                Act::Linear => v,
                                Act::Relu => v.max(0.0),
                                Act::Hardtanh => v.clamp(-1.0, 1.0),
                                Act::Softmax => unreachable!(),
                            })
                            .collect()
                    })
                    .collect();
                let (d, scale) = max_abs_diff(&got, &want_act);
                assert!(
                    d <= tol * scale.max(1.0),
                    "{n_out}x{n_in} {act} {dtype:?}: max error {d:e} (scale {scale})"
                );
            }
        }
    }
}
test_device!(
    usv_forward_matches_explicit,
    usv_forward_matches_explicit_cpu,
    usv_forward_matches_explicit_cuda
);

/// At initialisation the layer equals the Gaussian draw `G` (same generator, same seed).
/// f64: the SVD reconstructs G to ~1e-15 relative; f32: each factor rounded (6e-8), sums of
/// n ~ 30 products, error below ~2e-6 of max |G| ~ 0.6: tolerance 1e-5 absolute.
fn usv_init_equals_draw(dev: &Device) {
    for (k, &(n_in, n_out)) in SHAPES.iter().enumerate() {
        for coef in [1.0, 0.3] {
            let g = gaussian_matrix(n_out, n_in, coef * coef, &mut rng(7 + k as u64));
            for (dtype, tol) in [(DType::F32, 1e-5), (DType::F64, 1e-12)] {
                let layer = UsvLayer::new(
                    n_in,
                    n_out,
                    coef,
                    Act::Relu,
                    &mut rng(7 + k as u64),
                    dtype,
                    dev,
                )
                .unwrap();
                let w = layer.weight().unwrap();
                assert_eq!((w.nrows(), w.ncols()), (n_out, n_in));
                let err = (&w - &g).as_ref().norm_max();
                assert!(err < tol, "{n_out}x{n_in} {dtype:?} coef {coef}: {err:e}");
            }
        }
    }
}
test_device!(
    usv_init_equals_draw,
    usv_init_equals_draw_cpu,
    usv_init_equals_draw_cuda
);

/// The gradient of an MSE loss with respect to every layer's singular values, by backprop,
/// equals central finite differences. f64 tensors, step h = 1e-5: truncation error
/// O(h^2 |L'''|) ~ 1e-10, rounding O(eps |L| / h) ~ 1e-11; tolerance 1e-7 (relative to
/// max(1, |grad|)). The ReLU kinks are not crossed by a 1e-5 step at this seed (checked by the
/// agreement itself: a crossing would show as an O(1e-2) discrepancy).
fn usv_gradient_matches_fd(dev: &Device) {
    let spec = NetworkSpec::parse("12-9-15-6-3", "linear-relu-hardtanh-linear").unwrap();
    let net = Network::new(&spec.check().unwrap(), &mut rng(3), DType::F64, dev).unwrap();
    let mut r = rng(4);
    let b = 11;
    let x: Vec<f64> = (0..b * 12)
        .map(|_| r.sample::<f64, _>(StandardNormal))
        .collect();
    let y: Vec<f64> = (0..b * 3)
        .map(|_| r.sample::<f64, _>(StandardNormal))
        .collect();
    let (xt, yt) = (
        rows(&x, b, 12, DType::F64, dev),
        rows(&y, b, 3, DType::F64, dev),
    );
    let loss = |net: &Network| -> Tensor {
        candle_nn::loss::mse(&net.forward(&xt).unwrap(), &yt).unwrap()
    };
    let grads = loss(&net).backward().unwrap();
    let h = 1e-5;
    for (li, layer) in net.usv_prefix().into_iter().enumerate() {
        let g = grads
            .get(layer.var().as_tensor())
            .expect("a gradient for s")
            .to_vec1::<f64>()
            .unwrap();
        let s0 = layer.singular_values().unwrap();
        assert_eq!(g.len(), s0.len());
        for i in 0..s0.len() {
            let mut s = s0.clone();
            s[i] = s0[i] + h;
            layer.set_singular_values(&s).unwrap();
            let lp = loss(&net).to_scalar::<f64>().unwrap();
            s[i] = s0[i] - h;
            layer.set_singular_values(&s).unwrap();
            let lm = loss(&net).to_scalar::<f64>().unwrap();
            layer.set_singular_values(&s0).unwrap();
            let fd = (lp - lm) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() <= 1e-7 * g[i].abs().max(1.0),
                "layer {li} s[{i}]: backprop {} vs finite difference {fd}",
                g[i]
            );
        }
    }
    // The frozen factors get no gradient: only one variable per layer exists.
    assert_eq!(net.vars().len(), 4);
}
test_device!(
    usv_gradient_matches_fd,
    usv_gradient_matches_fd_cpu,
    usv_gradient_matches_fd_cuda
);

/// The spectrum handed to the estimator (s^2 padded with zeros) equals faer's eigenvalues of
/// W^T W for the explicit W, after some training has moved s. f64: 1e-12 relative to the largest
/// eigenvalue; f32: W is formed from f32 factors (orthogonal to ~1e-7), so W^T W deviates by
/// ~n * 6e-8 relative: 1e-5.
fn spectrum_matches_faer(dev: &Device) {
    let data = RegressionParams::new(20)
        .gamma(5.0)
        .seed(2)
        .generate()
        .unwrap();
    for dtype in [DType::F32, DType::F64] {
        let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
        // widths 20 -> 30 -> 10 -> 10 -> 4: alpha > 1, < 1, = 1.
        let spec = NetworkSpec::parse("20-30-10-10-4", "relu-linear-hardtanh-linear").unwrap();
        let net = Network::new(&spec.check().unwrap(), &mut rng(5), dtype, dev).unwrap();
        let td = TensorData::new(&data.train, &data.test, dtype, dev).unwrap();
        let cfg = TrainConfig::regression().epochs(2).lr(0.05);
        train(&net, &td, &cfg.check().unwrap(), &mut NoObserver).unwrap();
        let spectra = net.spectra().unwrap();
        assert_eq!(spectra.len(), 3);
        for (layer, sp) in net.usv_prefix().iter().zip(&spectra) {
            let w = layer.weight().unwrap();
            let wtw = w.transpose() * &w;
            let mut want = wtw.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
            let mut got = sp.eigenvalues.clone();
            assert_eq!(got.len(), layer.n_in());
            assert!((sp.alpha - layer.n_out() as f64 / layer.n_in() as f64).abs() < 1e-15);
            got.sort_by(f64::total_cmp);
            want.sort_by(f64::total_cmp);
            let top = want.last().copied().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= tol * top,
                    "{dtype:?} {}x{}: {g} vs {w}",
                    layer.n_out(),
                    layer.n_in()
                );
            }
        }
    }
}
test_device!(
    spectrum_matches_faer,
    spectrum_matches_faer_cpu,
    spectrum_matches_faer_cuda
);

/// SGD lowers the loss: linear teacher-student regression and generative classification.
fn training_lowers_loss(dev: &Device) {
    let data = RegressionParams::new(20)
        .gamma(20.0)
        .seed(11)
        .generate()
        .unwrap();
    let spec = NetworkSpec::parse("20-20-20-20-4", "linear-linear-linear-linear").unwrap();
    let net = Network::new(&spec.check().unwrap(), &mut rng(12), DType::F32, dev).unwrap();
    let td = TensorData::new(&data.train, &data.test, DType::F32, dev).unwrap();
    let cfg = TrainConfig::regression().epochs(10).seed(13);
    let h = train(&net, &td, &cfg.check().unwrap(), &mut NoObserver).unwrap();
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert_eq!(h.epochs.len(), 11);
    assert!(
        last.train_loss < 0.5 * first.train_loss && last.test_loss < 0.5 * first.test_loss,
        "regression: {first:?} -> {last:?}"
    );

    let data = ClassificationParams::new(5, 20)
        .gamma(20.0)
        .seed(21)
        .generate()
        .unwrap();
    let spec = NetworkSpec::parse("20-40-20-2", "linear-relu-softmax").unwrap();
    let net = Network::new(&spec.check().unwrap(), &mut rng(22), DType::F32, dev).unwrap();
    let td = TensorData::new(&data.train, &data.test, DType::F32, dev).unwrap();
    let cfg = TrainConfig::classification()
        .epochs(10)
        .batch_size(20)
        .lr(0.05)
        .seed(23);
    let h = train(&net, &td, &cfg.check().unwrap(), &mut NoObserver).unwrap();
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert!(
        last.train_loss < first.train_loss && last.test_loss < first.test_loss,
        "classification: {first:?} -> {last:?}"
    );
    assert!(last.test_accuracy.unwrap() > 0.7, "{last:?}");
}
test_device!(
    training_lowers_loss,
    training_lowers_loss_cpu,
    training_lowers_loss_cuda
);

fn assert_replica_matches_exact(recs: &[MiRecord], tol: f64) -> f64 {
    let mut worst: f64 = 0.0;
    for r in recs {
        assert!(r.converged, "{r:?}");
        let (h, i) = (r.entropy.unwrap(), r.mi.unwrap());
        let (he, ie) = (r.exact_entropy.unwrap(), r.exact_mi.unwrap());
        worst = worst.max((h - he).abs()).max((i - ie).abs());
        if std::env::var_os("NN_VERBOSE").is_some() {
            eprintln!(
                "epoch {} layer {}: H {h:.6} exact {he:.6} | I {i:.6} exact {ie:.6} | {} it {}",
                r.epoch,
                r.layer,
                r.scheme.map_or("-".to_string(), |s| s.to_string()),
                r.iterations
            );
        }
        assert!(
            (h - he).abs() < tol && (i - ie).abs() < tol,
            "epoch {} layer {}: replica H {h} I {i}, exact H {he} I {ie}",
            r.epoch,
            r.layer
        );
    }
    worst
}

/// Replica = exact Gaussian entropy for a linear network during training, 60-60-60-60-4 (three
/// USV layers measured) on teacher-student data, MI every epoch, and for the generative
/// classification chain (20 -> 60 -> 60 -> 60, the generative layer first).
///
/// Tolerance 2.5 / n_0: the replica formula is the n -> infinity limit. With the layers' own
/// spectra the first layer is exact up to the solver (the Gaussian log-det is a spectral
/// average); deeper layers assume the singular vectors of successive layers to be in generic
/// (free) position, and the finite-n deviation of the product's log-det from the free
/// prediction is O(1) in total, i.e. O(1/n_0) per input unit. 2.5/60 ~ 0.042 nats.
#[test]
fn replica_matches_exact_during_training() {
    let dev = Device::Cpu;
    let n0 = 60;
    let tol = 2.5 / n0 as f64;
    let data = RegressionParams::new(n0)
        .gamma(5.0)
        .seed(31)
        .generate()
        .unwrap();
    let spec = NetworkSpec::parse("60-60-60-60-4", "linear-linear-linear-linear").unwrap();
    let net = Network::new(&spec.check().unwrap(), &mut rng(32), DType::F32, &dev).unwrap();
    let td = TensorData::new(&data.train, &data.test, DType::F32, &dev).unwrap();
    let mut rec = MiRecorder::new(MiSetting::Regression, MiConfig::default().check().unwrap());
    let cfg = TrainConfig::regression().epochs(3).seed(33);
    let history = train(&net, &td, &cfg.check().unwrap(), &mut rec).unwrap();
    assert_eq!(rec.records().len(), 4 * 3);
    assert!(rec.records().iter().all(|r| r.per == Per::Input));
    // one stream: every epoch's statistics (as train returned them) with that epoch's records
    assert_eq!(rec.epochs().count(), history.epochs.len());
    for (e, stats) in rec.epochs().zip(&history.epochs) {
        assert_eq!(e.stats, stats);
        assert_eq!(e.layers.len(), 3, "epoch {}", stats.epoch);
        assert!(e.layers.iter().all(|r| r.epoch == stats.epoch));
    }
    assert!(rec
        .records()
        .iter()
        .filter(|r| r.epoch > 0)
        .all(|r| r.warm_started));
    let worst = assert_replica_matches_exact(rec.records(), tol);
    // One layer with its own spectrum: the replica value is the log-det itself (solver accuracy).
    for r in rec.records().iter().filter(|r| r.layer == 1) {
        let d = (r.entropy.unwrap() - r.exact_entropy.unwrap()).abs();
        assert!(d < 1e-6, "layer 1, epoch {}: {d:e}", r.epoch);
    }
    eprintln!("regression 60-60-60-60: worst |replica - exact| = {worst:.2e} (tol {tol:.3})");

    let gen = ClassificationParams::new(20, n0)
        .gamma(5.0)
        .seed(41)
        .generate()
        .unwrap();
    let spec = NetworkSpec::parse("60-60-60-60-2", "linear-linear-linear-softmax").unwrap();
    let net = Network::new(&spec.check().unwrap(), &mut rng(42), DType::F32, &dev).unwrap();
    let td = TensorData::new(&gen.train, &gen.test, DType::F32, &dev).unwrap();
    let setting = MiSetting::generative(&gen.w_g, gen.params.noise_var).unwrap();
    let mut rec = MiRecorder::new(setting, MiConfig::default().every(2).check().unwrap());
    let cfg = TrainConfig::classification().epochs(2).seed(43);
    train(&net, &td, &cfg.check().unwrap(), &mut rec).unwrap();
    assert_eq!(rec.records().len(), 2 * 3);
    assert!(rec.records().iter().all(|r| r.per == Per::Latent));
    // Values per n_Y = 20: the same absolute finite-size error is 3x larger per unit.
    let worst = assert_replica_matches_exact(rec.records(), 2.5 / 20.0);
    eprintln!("generative 20-60-60-60-60: worst |replica - exact| = {worst:.2e}");
}

fn bits(v: Option<f64>) -> Option<u64> {
    v.map(f64::to_bits)
}

/// Same seeds, same machine: identical losses and estimates, bit for bit (CPU).
#[test]
fn deterministic_bit_for_bit() {
    let dev = Device::Cpu;
    let run = || {
        let data = ClassificationParams::new(5, 20)
            .gamma(10.0)
            .seed(51)
            .generate()
            .unwrap();
        let spec = NetworkSpec::parse("20-30-20-10-2", "linear-relu-hardtanh-softmax").unwrap();
        let net = Network::new(&spec.check().unwrap(), &mut rng(52), DType::F32, &dev).unwrap();
        let td = TensorData::new(&data.train, &data.test, DType::F32, &dev).unwrap();
        let setting = MiSetting::generative(&data.w_g, 0.01).unwrap();
        let mut rec = MiRecorder::new(setting, MiConfig::default().check().unwrap());
        let cfg = TrainConfig::classification()
            .epochs(2)
            .batch_size(30)
            .seed(53);
        let h = train(&net, &td, &cfg.check().unwrap(), &mut rec).unwrap();
        (h, rec.into_records())
    };
    let (h1, r1) = run();
    let (h2, r2) = run();
    assert_eq!(h1.epochs.len(), h2.epochs.len());
    for (a, b) in h1.epochs.iter().zip(&h2.epochs) {
        assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits());
        assert_eq!(a.test_loss.to_bits(), b.test_loss.to_bits());
        assert_eq!(bits(a.train_accuracy), bits(b.train_accuracy));
        assert_eq!(bits(a.test_accuracy), bits(b.test_accuracy));
    }
    assert_eq!(r1.len(), 3 * 3);
    for (a, b) in r1.iter().zip(&r2) {
        assert!(a.converged, "{a:?}");
        assert_eq!((a.epoch, a.layer), (b.epoch, b.layer));
        assert_eq!(bits(a.entropy), bits(b.entropy));
        assert_eq!(bits(a.mi), bits(b.mi));
        assert_eq!(a.iterations, b.iterations);
    }
}

/// The synthetic data follow their laws: label balance, teacher noise, generative noise flag.
#[test]
fn synthetic_data_statistics() {
    let d = RegressionParams::new(10)
        .gamma(200.0)
        .seed(61)
        .generate()
        .unwrap();
    // residual variance of Y - W_t X is the teacher noise 0.01 (4000 rows x 4 outputs:
    // relative standard error sqrt(2/16000) ~ 1.1%; 5% tolerance).
    let mut ss = 0.0;
    for i in 0..d.train.n {
        let x = d.train.x_row(i);
        for (o, &y) in d.train.y_row(i).iter().enumerate() {
            let pred: f64 = (0..10).map(|j| d.teacher[(o, j)] * x[j]).sum();
            ss += (y - pred).powi(2);
        }
    }
    let var = ss / (d.train.n * 4) as f64;
    assert!((var - 0.01).abs() < 5e-4, "teacher noise variance {var}");

    for apply in [true, false] {
        let c = ClassificationParams::new(4, 10)
            .gamma(200.0)
            .apply_noise(apply)
            .seed(62)
            .generate()
            .unwrap();
        let ones = c
            .train
            .labels
            .as_ref()
            .unwrap()
            .iter()
            .filter(|&&l| l == 1)
            .count();
        let frac = ones as f64 / c.train.n as f64;
        // 2000 rows: standard error 1.1%.
        assert!((frac - 0.5).abs() < 0.05, "label balance {frac}");
        // Without noise X lies in the 4-dim range of W_g: the residual of the projection is 0.
        let wtw = c.w_g.transpose() * &c.w_g;
        let pinv = wtw.llt(faer::Side::Lower).unwrap().inverse();
        let proj = &c.w_g * &pinv * c.w_g.transpose();
        let mut ss = 0.0;
        for i in 0..c.train.n {
            let x = Mat::<f64>::from_fn(10, 1, |j, _| c.train.x_row(i)[j]);
            let res = &x - &proj * &x;
            ss += res.as_ref().squared_norm_l2();
        }
        // With noise: residual variance 0.01 per each of the 6 orthogonal directions.
        let per_dim = ss / (c.train.n * 6) as f64;
        if apply {
            assert!((per_dim - 0.01).abs() < 1e-3, "noise variance {per_dim}");
        } else {
            assert!(per_dim < 1e-20, "no-noise residual {per_dim}");
        }
    }
}

/// The same training on the CPU and on GPU 0 (data, weights and minibatch order drawn on the
/// host from the same seeds) gives the same losses and accuracies up to float32 rounding, within
/// the cross-device tolerances of `replica_mi::experiment::cross_device` (reasons stated there).
/// Ignored by default; fails, never skips, without a device (see `test_device!`).
#[test]
#[ignore = "needs a CUDA device: --features cuda, then -- --ignored cuda"]
fn training_matches_cpu_cuda() {
    use replica_mi::experiment::cross_device::{ACCURACY, LOSS};
    let gpu = cuda_device();
    let data = ClassificationParams::new(5, 20)
        .gamma(20.0)
        .seed(31)
        .generate()
        .unwrap();
    let spec = NetworkSpec::parse("20-40-20-10-5-2", "linear-relu-linear-relu-softmax").unwrap();
    let history = |dev: &Device| {
        let net = Network::new(&spec.check().unwrap(), &mut rng(32), DType::F32, dev).unwrap();
        let td = TensorData::new(&data.train, &data.test, DType::F32, dev).unwrap();
        let cfg = TrainConfig::classification()
            .epochs(8)
            .batch_size(20)
            .lr(0.05)
            .seed(33);
        train(&net, &td, &cfg.check().unwrap(), &mut NoObserver).unwrap()
    };
    let (cpu, cuda) = (history(&Device::Cpu), history(&gpu));
    assert_eq!(cpu.epochs.len(), cuda.epochs.len());
    for (c, g) in cpu.epochs.iter().zip(&cuda.epochs) {
        eprintln!(
            "epoch {}: train loss cpu {} cuda {} | test loss cpu {} cuda {}",
            c.epoch, c.train_loss, g.train_loss, c.test_loss, g.test_loss
        );
        assert!(
            LOSS.accepts(g.train_loss, c.train_loss),
            "cpu {c:?}\ncuda {g:?}"
        );
        assert!(
            LOSS.accepts(g.test_loss, c.test_loss),
            "cpu {c:?}\ncuda {g:?}"
        );
        let acc =
            |s: &replica_mi::nn::EpochStats| (s.train_accuracy.unwrap(), s.test_accuracy.unwrap());
        let ((ca, ct), (ga, gt)) = (acc(c), acc(g));
        assert!(
            ACCURACY.accepts(ga, ca) && ACCURACY.accepts(gt, ct),
            "cpu {c:?}\ncuda {g:?}"
        );
    }
    // The run trains (so the agreement is not that of two idle networks).
    assert!(cpu.epochs.last().unwrap().train_loss < cpu.epochs[0].train_loss);
}
