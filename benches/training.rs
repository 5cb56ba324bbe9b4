//! Wall-clock medians of the training side at the authors' code scale (1/5 of the paper's widths):
//! one SGD epoch of the classification network 100-200-100-50-20-2
//! (linear-relu-linear-relu-softmax, 4 USV + 1 dense, f32, CPU) on 10 000 training samples with
//! batch 100, one evaluation of the 10 000 test samples, and one MI evaluation of the 4 hidden
//! layers (generative chain 20 -> 100 -> 200 -> 100 -> 50 -> 20), warm-started from the previous
//! epoch's fixed points as during training.
use candle_core::{DType, Device};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_mi::nn::{
    MiConfig, MiRecorder, MiSetting, Network, NetworkSpec, TensorData, TrainConfig, Trainer,
};
use replica_mi::synth::ClassificationParams;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn bench_training(c: &mut Criterion) {
    let dev = Device::Cpu;
    // gamma = 100, n_X = 100: 10 000 training and 10 000 test samples.
    let gen = ClassificationParams::new(20, 100)
        .seed(1)
        .generate()
        .unwrap();
    let spec =
        NetworkSpec::parse("100-200-100-50-20-2", "linear-relu-linear-relu-softmax").unwrap();
    let net = Network::new(&spec, &mut ChaCha8Rng::seed_from_u64(2), DType::F32, &dev).unwrap();
    let data = TensorData::new(&gen.train, &gen.test, DType::F32, &dev).unwrap();
    assert_eq!(data.n_train(), 10_000);
    let cfg = TrainConfig::classification().seed(3).quiet(true);
    let mut trainer = Trainer::new(&net, &data, &cfg).unwrap();

    // The MI recorder's state after the initial network, then the spectra one epoch later.
    let setting = MiSetting::generative(&gen.w_g, gen.params.noise_var).unwrap();
    let config = MiConfig {
        exact: false,
        ..MiConfig::default()
    };
    let mut rec = MiRecorder::new(setting, config).unwrap();
    let spectra0 = net.spectra().unwrap();
    let t0 = Instant::now();
    let recs = rec.evaluate(0, &net, &spectra0).unwrap();
    assert!(recs.iter().all(|r| r.converged), "{recs:?}");
    eprintln!(
        "cold MI evaluation of the 4 layers (multi-start, once): {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    trainer.epoch().unwrap();
    let spectra1 = net.spectra().unwrap();

    let mut g = c.benchmark_group("training");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("epoch_sgd_100-200-100-50-20-2_n10000_b100", |b| {
        b.iter(|| black_box(trainer.epoch().unwrap()))
    });
    g.bench_function("test_eval_n10000", |b| {
        b.iter(|| black_box(trainer.evaluate_test().unwrap()))
    });
    g.bench_function("mi_4_layers_warm", |b| {
        b.iter_batched(
            || rec.clone(),
            |mut r| {
                let out = r.evaluate(1, &net, &spectra1).unwrap();
                assert!(out.iter().all(|x| x.converged));
                out.len()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_training);
criterion_main!(benches);
