//! Wall time of training epochs of the Figure 4 network on one device (no MI measurement, no
//! figure): data, weights and minibatch order from the same seeds as `fig4`, then `--epochs`
//! passes of SGD, each timed on its own (the first includes the device's warm-up: kernel loading,
//! memory pools). Prints one CSV row per epoch on stdout:
//! `scale,device,variant,widths,n_train,batch_size,epoch,seconds,train_loss`.
//!
//! ```text
//! epoch-timer --scale paper --device cuda --epochs 2
//! ```

use anyhow::{Context, Result};
use candle_core::DType;
use clap::Parser;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_mi::experiment::fig4::{run_seeds, Fig4Config};
use replica_mi::experiment::{device_label, Scale};
use replica_mi::nn::Network;
use replica_mi::nn::{NetworkSpec, TensorData, TrainConfig, Trainer};
use replica_mi::synth::ClassificationParams;
use std::time::Instant;

#[derive(Parser)]
#[command(
    version,
    about = "Time training epochs of the Figure 4 network on one device"
)]
struct Args {
    /// Problem size (as `fig4 --scale`).
    #[arg(long, value_enum, default_value_t = Scale::Paper)]
    scale: Scale,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Epochs to time (at least 1).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    epochs: u64,
    /// Seed of the data, weights and minibatch order.
    #[arg(long, default_value_t = 2018)]
    seed: u64,
    /// Print no header line.
    #[arg(long)]
    no_header: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let dev = replica_mi::nn::device(&args.device).context("--device")?;
    let cfg = Fig4Config::for_scale(args.scale).validate()?;
    let variant = cfg.variants[0];
    let seeds = run_seeds(args.seed, 0);
    let (data_seed, init_seed, order_seed) = (seeds.data, seeds.init, seeds.order);
    let gen = ClassificationParams::new(cfg.n_latent, cfg.n_x)
        .noise_var(cfg.noise_var)
        .apply_noise(cfg.apply_noise)
        .gamma(cfg.gamma)
        .seed(data_seed)
        .generate()
        .context("generating the data")?;
    let td = TensorData::new(&gen.train, &gen.test, DType::F32, &dev)?;
    let spec = NetworkSpec::new(&cfg.widths, &variant.activations())?.check()?;
    // the widths as the CSV writes them (a label, not parsed back)
    let widths = cfg
        .widths
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("-");
    let net = Network::new(
        &spec,
        &mut ChaCha8Rng::seed_from_u64(init_seed),
        DType::F32,
        &dev,
    )?;
    let tcfg = TrainConfig::classification()
        .epochs(args.epochs as usize)
        .batch_size(cfg.batch_size)
        .lr(cfg.lr)
        .seed(order_seed)
        .check()?;
    let mut trainer = Trainer::new(&net, &td, &tcfg)?;
    if !args.no_header {
        println!("scale,device,variant,widths,n_train,batch_size,epoch,seconds,train_loss");
    }
    for epoch in 1..=args.epochs {
        let t = Instant::now();
        let (loss, _) = trainer.epoch()?;
        let seconds = t.elapsed().as_secs_f64();
        println!(
            "{},{},{},{widths},{},{},{epoch},{seconds:.4},{loss}",
            args.scale,
            device_label(&dev),
            variant.name(),
            td.n_train(),
            cfg.batch_size,
        );
    }
    Ok(())
}
