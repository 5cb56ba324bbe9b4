//! Seconds per SGD epoch of a classification network, for the side-by-side comparison with
//! PyTorch (`scripts/bench_pytorch.sh`): Gaussian inputs, random labels among the output width,
//! cross-entropy, batch 100, lr 0.01, float32, CPU. Prints one `epoch_seconds <t>` line per timed
//! epoch (after `--warmup` untimed ones). Threads: `RAYON_NUM_THREADS`.
//!
//! `cargo run --release --example epoch_timing -- --widths 100-200-100-50-20-2 --kind usv`
//!
//! The whole epoch is timed: shuffle, minibatch gathering, forward, loss, backward, update, and
//! the epoch's train loss and accuracy (no test evaluation).
use anyhow::{bail, Result};
use candle_core::{DType, Device};
use clap::Parser;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_mi::nn::{LayerKind, Network, NetworkSpec, TensorData, TrainConfig, Trainer};
use replica_mi::synth::Dataset;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Widths, input first.
    #[arg(long, default_value = "100-200-100-50-20-2")]
    widths: String,
    /// Activations, one per layer.
    #[arg(long, default_value = "linear-relu-linear-relu-softmax")]
    acts: String,
    /// `usv` (every layer but the last), `usv-unfused` (the same without fusing the linear layers
    /// into the next one, `TrainConfig::fuse_linear`) or `dense` (every layer).
    #[arg(long, default_value = "usv")]
    kind: String,
    #[arg(long, default_value_t = 10_000)]
    samples: usize,
    #[arg(long, default_value_t = 100)]
    batch: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Through candle's autograd instead of the CPU engine.
    #[arg(long)]
    autograd: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let mut spec = NetworkSpec::parse(&a.widths, &a.acts)?;
    match a.kind.as_str() {
        "usv" | "usv-unfused" => {}
        "dense" => {
            let n = spec.layers.len();
            spec = spec.with_kinds(&vec![LayerKind::Dense; n])?
        }
        other => bail!("--kind {other}: expected usv, usv-unfused or dense"),
    }
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let n_out = spec.layers.last().map_or(0, |l| l.n_out);
    let train = Dataset::random_classification(a.samples, spec.n_in, n_out, &mut rng);
    let test = Dataset::random_classification(a.batch, spec.n_in, n_out, &mut rng);
    let dev = Device::Cpu;
    let net = Network::new(&spec.check()?, &mut rng, DType::F32, &dev)?;
    let td = TensorData::new(&train, &test, DType::F32, &dev)?;
    let cfg = TrainConfig::classification()
        .batch_size(a.batch)
        .seed(a.seed)
        .fuse_linear(a.kind != "usv-unfused")
        .check()?;
    let mut trainer = if a.autograd {
        Trainer::new_autograd(&net, &td, &cfg)?
    } else {
        Trainer::new(&net, &td, &cfg)?
    };
    eprintln!(
        "{} {} on {} ({} rayon threads)",
        spec.describe(),
        a.kind,
        trainer.engine_name(),
        rayon::current_num_threads()
    );
    for e in 0..a.warmup + a.epochs {
        let t0 = Instant::now();
        let (loss, _) = trainer.epoch()?;
        let dt = t0.elapsed().as_secs_f64();
        if !loss.is_finite() {
            bail!("epoch {e}: loss {loss}");
        }
        if e >= a.warmup {
            println!("epoch_seconds {dt:.6}");
        }
    }
    Ok(())
}
