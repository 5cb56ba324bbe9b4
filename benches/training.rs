//! Wall-clock medians of the training side at the authors' code scale (1/5 of the paper's widths):
//! one SGD epoch of the classification network 100-200-100-50-20-2
//! (linear-relu-linear-relu-softmax, 4 USV + 1 dense, f32, CPU) on 10 000 training samples with
//! batch 100, one evaluation of the 10 000 test samples, and one MI evaluation of the 4 hidden
//! layers (generative chain 20 -> 100 -> 200 -> 100 -> 50 -> 20) as it runs during training, for
//! the ReLU network and its hardtanh twin (linear-hardtanh-linear-hardtanh-softmax).
//!
//! The MI evaluation measured is the steady state of a training run: epoch 0 is solved cold
//! (multi-start), epoch 1 warm from epoch 0's fixed points, and the timed evaluation is epoch 2's,
//! warm-started from epoch 1's fixed points and secants ([`replica_mi::replica::WarmStart`]).
//! Every later epoch is in the same situation. The cold and the first warm evaluation are timed
//! once and printed.
use candle_core::{DType, Device};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_mi::nn::{
    LayerSpectrum, MiConfig, MiRecorder, MiSetting, Network, NetworkSpec, TensorData, TrainConfig,
    Trainer,
};
use replica_mi::synth::ClassificationParams;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The network, its trainer after two epochs, the recorder after epochs 0 and 1, and the spectra
/// at epoch 2.
struct Setup {
    net: Network,
    data: TensorData,
    rec: MiRecorder,
    spectra: Vec<LayerSpectrum>,
}

fn setup(acts: &str) -> Setup {
    let dev = Device::Cpu;
    // gamma = 100, n_X = 100: 10 000 training and 10 000 test samples.
    let gen = ClassificationParams::new(20, 100)
        .seed(1)
        .generate()
        .unwrap();
    let spec = NetworkSpec::parse("100-200-100-50-20-2", acts).unwrap();
    let net = Network::new(&spec, &mut ChaCha8Rng::seed_from_u64(2), DType::F32, &dev).unwrap();
    let data = TensorData::new(&gen.train, &gen.test, DType::F32, &dev).unwrap();
    assert_eq!(data.n_train(), 10_000);
    let setting = MiSetting::generative(&gen.w_g, gen.params.noise_var).unwrap();
    let config = MiConfig {
        exact: false,
        ..MiConfig::default()
    };
    let mut rec = MiRecorder::new(setting, config).unwrap();
    let cfg = TrainConfig::classification().seed(3).quiet(true);
    {
        let mut trainer = Trainer::new(&net, &data, &cfg).unwrap();
        for epoch in 0..2 {
            let spectra = net.spectra().unwrap();
            let t0 = Instant::now();
            let recs = rec.evaluate(epoch, &net, &spectra).unwrap();
            assert!(recs.iter().all(|r| r.converged), "{recs:?}");
            eprintln!(
                "{acts}: MI evaluation of the 4 layers at epoch {epoch} ({}): {:.1} ms",
                if epoch == 0 {
                    "cold, multi-start"
                } else {
                    "warm"
                },
                t0.elapsed().as_secs_f64() * 1e3
            );
            trainer.epoch().unwrap();
        }
    }
    let spectra = net.spectra().unwrap();
    Setup {
        net,
        data,
        rec,
        spectra,
    }
}

fn bench_mi(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, s: &Setup) {
    g.bench_function(name, |b| {
        b.iter_batched(
            || s.rec.clone(),
            |mut r| {
                let out = r.evaluate(2, &s.net, &s.spectra).unwrap();
                assert!(out.iter().all(|x| x.converged && x.warm_started));
                out.len()
            },
            BatchSize::LargeInput,
        )
    });
}

fn bench_training(c: &mut Criterion) {
    let relu = setup("linear-relu-linear-relu-softmax");
    let hardtanh = setup("linear-hardtanh-linear-hardtanh-softmax");
    let cfg = TrainConfig::classification().seed(3).quiet(true);
    let mut trainer = Trainer::new(&relu.net, &relu.data, &cfg).unwrap();

    let mut g = c.benchmark_group("training");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    bench_mi(&mut g, "mi_4_layers_warm", &relu);
    bench_mi(&mut g, "mi_4_layers_warm_hardtanh", &hardtanh);
    g.bench_function("epoch_sgd_100-200-100-50-20-2_n10000_b100", |b| {
        b.iter(|| black_box(trainer.epoch().unwrap()))
    });
    g.bench_function("test_eval_n10000", |b| {
        b.iter(|| black_box(trainer.evaluate_test().unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench_training);
criterion_main!(benches);
