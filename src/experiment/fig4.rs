//! Figure 4 of Gabrié et al. 2018: classification of data from a generative model.
//!
//! Data ([`crate::synth::ClassificationParams`]): latent `Y ~ N(0, I_{n_Y})`,
//! `X = W_g Y + eps` with `W_g` entries `N(0, 1/n_Y)` and `eps ~ N(0, 0.01)` (applied unless
//! `apply_noise` is off, as in the authors' code), label `1[Y_1 > 0]`; `2 gamma n_X` samples,
//! first half train, second half test.
//!
//! Recognition network: 4 USV layers and a dense softmax output (widths
//! `n_X - 2 n_X - n_X - n_X/2 - n_Y - 2` as in the paper's 500-1000-500-250-100-2), activations
//! linear-ReLU-linear-ReLU-softmax (top row) or linear-hardtanh-linear-hardtanh-softmax (bottom
//! row); the supplementary variant hardtanh-hardtanh-hardtanh-hardtanh-softmax has no
//! interleaved linear layers. Plain SGD on the cross-entropy (lr 0.01, batch 100, f32, on the device of `--device`).
//!
//! Every `mi_every` epochs (epoch 0 included) [`crate::bridge::MiRecorder`] measures `I(X; T_l)`
//! of the 4 hidden layers through the chain prior `N(0, 1)` on `Y` -> generative layer (spectrum
//! of `W_g^T W_g`, linear, noise 0.01) -> student layers `1..l`, noise `1e-5` inside layer `l`;
//! nats per `n_Y`, warm-started from the previous fixed point. A solve that fails is recorded
//! (`replica_converged = false`, empty value) and never plotted.

use super::checkpoint::{train_run, Checkpoints, Recording};
use super::error::ExperimentError;
use super::progress::Progress;
use super::record::RunSeeds;
use super::shard::ShardedRow;
use crate::bridge::{EpochRecord, MiConfig, MiRecorder, MiSetting};
use crate::checked::{Check, Checked};
use crate::nn::{
    Act, EpochContext, Network, NetworkSpec, NnError, TensorData, TrainConfig, TrainPosition,
};
use crate::replica::WarmStart;
use crate::synth::{ClassificationParams, Generative};
use candle_core::{DType, Device};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_core::params::{non_negative, positive};
use serde::{Deserialize, Serialize};

/// Hidden (measured) layers of the recognition network.
pub const HIDDEN_LAYERS: usize = 4;

/// The activations of one row of the figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fig4Variant {
    /// linear-relu-linear-relu-softmax (top row).
    LinearRelu,
    /// linear-hardtanh-linear-hardtanh-softmax (bottom row).
    LinearHardtanh,
    /// hardtanh-hardtanh-hardtanh-hardtanh-softmax (supplementary).
    HardtanhOnly,
}

impl Fig4Variant {
    /// The activations of the five layers, the softmax output last.
    pub fn activations(self) -> [Act; HIDDEN_LAYERS + 1] {
        use Act::{Hardtanh, Linear, Relu, Softmax};
        match self {
            Fig4Variant::LinearRelu => [Linear, Relu, Linear, Relu, Softmax],
            Fig4Variant::LinearHardtanh => [Linear, Hardtanh, Linear, Hardtanh, Softmax],
            Fig4Variant::HardtanhOnly => [Hardtanh, Hardtanh, Hardtanh, Hardtanh, Softmax],
        }
    }
    /// The name used in the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Fig4Variant::LinearRelu => "linear-relu",
            Fig4Variant::LinearHardtanh => "linear-hardtanh",
            Fig4Variant::HardtanhOnly => "hardtanh-only",
        }
    }
}

/// Everything that defines a Figure 4 run (besides the seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fig4Config {
    /// Latent width `n_Y`.
    pub n_latent: usize,
    /// Input width `n_X`.
    pub n_x: usize,
    /// Widths of the network, input first, output (2) last.
    pub widths: Vec<usize>,
    /// Rows of the figure.
    pub variants: Vec<Fig4Variant>,
    pub epochs: usize,
    /// Training samples per input unit (`n_train = gamma n_X`; the paper: 100).
    pub gamma: f64,
    /// Variance of `eps` (0.01), in the data and in the chain's generative layer.
    pub noise_var: f64,
    /// Whether `eps` is added to the data (the paper's model: yes).
    pub apply_noise: bool,
    pub lr: f64,
    pub batch_size: usize,
    /// MI every `mi_every` epochs (2).
    pub mi_every: usize,
    /// Noise variance inside the measured layer (1e-5).
    pub measure_noise: f64,
    /// Epochs shown in the zoomed MI panel.
    pub zoom_epochs: usize,
}

impl Fig4Config {
    /// The paper's setting with latent width `n_latent`, input width `n_x` (network
    /// `n_x - 2 n_x - n_x - n_x/2 - n_latent - 2`), `epochs` epochs, `gamma` samples per input
    /// unit, both rows of the figure.
    pub fn new(n_latent: usize, n_x: usize, epochs: usize, gamma: f64) -> Self {
        Fig4Config {
            n_latent,
            n_x,
            widths: vec![n_x, 2 * n_x, n_x, n_x / 2, n_latent, 2],
            variants: vec![Fig4Variant::LinearRelu, Fig4Variant::LinearHardtanh],
            epochs,
            gamma,
            noise_var: 0.01,
            apply_noise: true,
            lr: 0.01,
            batch_size: 100,
            mi_every: 2,
            measure_noise: 1e-5,
            zoom_epochs: 0,
        }
        .with_epochs(epochs)
    }

    /// The same run with `epochs` epochs (and the zoomed panels' range scaled with it).
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self.zoom_epochs = (epochs / 5).max(4).min(epochs.max(1));
        self
    }

    /// The problem size of each scale (what `fig4 --scale` runs, both rows of the figure).
    ///
    /// * quick: n_Y = 5, network 20-40-20-10-5-2, 4 epochs, gamma = 100 (seconds, for the
    ///   reference test);
    /// * default: n_Y = 20, 100-200-100-50-20-2 (the authors' code scale), 50 epochs, gamma = 100;
    /// * paper: n_Y = 100, 500-1000-500-250-100-2, 100 epochs, gamma = 100.
    pub fn for_scale(scale: super::Scale) -> Self {
        match scale {
            super::Scale::Quick => Self::new(5, 20, 4, 100.0),
            super::Scale::Default => Self::new(20, 100, 50, 100.0),
            super::Scale::Paper => Self::new(100, 500, 100, 100.0),
        }
    }

    /// The checked configuration that [`run`] takes, or the first rule it breaks (see
    /// [`crate::checked`]).
    pub fn validate(&self) -> Result<Checked<Self>, ExperimentError> {
        Checked::new(self.clone())
    }
}

impl Check for Fig4Config {
    type Error = ExperimentError;
    /// Check sizes and parameters.
    fn check_rules(&self) -> Result<(), ExperimentError> {
        let bad = |m: String| Err(ExperimentError::InvalidConfig(m));
        if self.widths.len() != HIDDEN_LAYERS + 2 || self.widths.contains(&0) {
            return bad(format!(
                "widths must be {} positive numbers, got {:?}",
                HIDDEN_LAYERS + 2,
                self.widths
            ));
        }
        if self.widths[0] != self.n_x || self.n_latent == 0 {
            return bad("the first width must be n_x and n_latent >= 1".into());
        }
        if self.variants.is_empty() || self.mi_every == 0 || self.batch_size == 0 {
            return bad("need a variant, mi_every >= 1 and batch_size >= 1".into());
        }
        positive("gamma".into(), self.gamma)?;
        positive("lr".into(), self.lr)?;
        non_negative("noise_var".into(), self.noise_var)?;
        positive("measure_noise".into(), self.measure_noise)?;
        Ok(())
    }
}

/// One hidden layer at one epoch of one variant; the field names are the CSV columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fig4Row {
    pub variant: Fig4Variant,
    pub seed: u64,
    /// 0 = the initial network.
    pub epoch: usize,
    /// Hidden layer `l` (1..=4).
    pub layer: usize,
    pub activation: Act,
    pub width: usize,
    /// Mean minibatch cross-entropy of the epoch (epoch 0: of the initial network).
    pub train_loss: f64,
    /// Cross-entropy on the test set at the end of the epoch.
    pub test_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    /// Whether `I(X; T_l)` was evaluated at this epoch (every `mi_every` epochs).
    pub mi_evaluated: bool,
    /// Whether the replica solve converged (empty when not evaluated).
    pub replica_converged: Option<bool>,
    /// Replica `I(X; T_l)` per `n_Y`; empty when not evaluated or not converged.
    pub mi_replica_nats_per_latent: Option<f64>,
    /// Replica `H(T_l)` per `n_Y`; empty when not evaluated or not converged.
    pub entropy_replica_nats_per_latent: Option<f64>,
    /// Exact Gaussian `I(X; T_l)` when layers `1..l` are linear (layer 1 of the linear-* rows).
    pub mi_exact_nats_per_latent: Option<f64>,
    /// Why the solve failed.
    pub replica_error: Option<String>,
}

/// Seeds of one variant's run ([`RunSeeds`], Figure 4's tag 4, the variant added to the initial
/// weights' seed and to the order offset 7). The data are the same for every variant of a seed.
pub fn run_seeds(seed: u64, variant: usize) -> RunSeeds {
    RunSeeds::derive(seed, 4, variant as u64, 7 + variant as u64)
}

impl ShardedRow for Fig4Row {
    type Run = Fig4Variant;
    fn run(&self) -> Fig4Variant {
        self.variant
    }
}

/// Train every variant of `cfg` on `dev`; `progress` advances once per epoch of every variant.
pub fn run(
    cfg: &Checked<Fig4Config>,
    seed: u64,
    dev: &Device,
    progress: &dyn Progress,
) -> Result<Vec<Fig4Row>, ExperimentError> {
    run_some(cfg, seed, &cfg.variants, dev, progress)
}

/// The variants `variants` of `cfg` (a shard's, or all of them), in the given order, as [`run`]
/// does. A variant's seeds derive from its position in `cfg.variants`, and the data from `seed`
/// alone, so its rows do not depend on the other variants run.
pub fn run_some(
    cfg: &Checked<Fig4Config>,
    seed: u64,
    variants: &[Fig4Variant],
    dev: &Device,
    progress: &dyn Progress,
) -> Result<Vec<Fig4Row>, ExperimentError> {
    run_checkpointed(cfg, seed, variants, dev, progress, &mut Checkpoints::none())
}

/// [`run_some`] with checkpoints in `ck`: variants that finished before the checkpoint `ck`
/// resumed from are not trained again, the one in progress then continues where it stopped; the
/// rows are those of an uninterrupted run, bit for bit.
pub fn run_checkpointed(
    cfg: &Checked<Fig4Config>,
    seed: u64,
    variants: &[Fig4Variant],
    dev: &Device,
    progress: &dyn Progress,
    ck: &mut Checkpoints<Fig4Row>,
) -> Result<Vec<Fig4Row>, ExperimentError> {
    check_variants(cfg, variants)?;
    if variants.is_empty() {
        return Ok(Vec::new());
    }
    let gen = data(cfg, seed)?;
    let td = TensorData::new(&gen.train, &gen.test, DType::F32, dev).map_err(nn_error)?;
    progress.set_length((variants.len() * (cfg.epochs + 1)) as u64);
    ck.run_each(
        variants,
        |v| v.name().to_string(),
        |ck, &variant| run_variant(cfg, seed, variant, &gen, &td, dev, progress, ck),
        |_| progress.inc(cfg.epochs as u64 + 1),
    )
}

/// A network error of Figure 4.
fn nn_error(source: crate::nn::NnError) -> ExperimentError {
    ExperimentError::Network {
        at: "fig4".into(),
        source,
    }
}

/// An MI-bridge error of Figure 4.
fn bridge_error(source: crate::bridge::BridgeError) -> ExperimentError {
    ExperimentError::Bridge {
        at: "fig4".into(),
        source,
    }
}

/// Check that every variant asked for is one of the configuration's.
fn check_variants(cfg: &Fig4Config, variants: &[Fig4Variant]) -> Result<(), ExperimentError> {
    if let Some(v) = variants.iter().find(|v| !cfg.variants.contains(v)) {
        return Err(ExperimentError::InvalidConfig(format!(
            "variant {} is not one of the configuration's {:?}",
            v.name(),
            cfg.variants
        )));
    }
    Ok(())
}

/// The data of seed `seed` (the same for every variant): the generative model's weights and the
/// train and test sets, from the data seed of [`run_seeds`]`(seed, 0)`.
fn data(cfg: &Fig4Config, seed: u64) -> Result<Generative, ExperimentError> {
    ClassificationParams::new(cfg.n_latent, cfg.n_x)
        .noise_var(cfg.noise_var)
        .apply_noise(cfg.apply_noise)
        .gamma(cfg.gamma)
        .seed(run_seeds(seed, 0).data)
        .generate()
        .map_err(|source| ExperimentError::Synth {
            at: "fig4".into(),
            source,
        })
}

/// One variant trained on the data `gen` (`td` on `dev`), `I(X; T_l)` recorded along the way,
/// checkpointed in `ck` (and continued from it when `ck` resumed this variant); its rows, epoch by
/// epoch, layer by layer. `progress` advances once per epoch.
#[allow(clippy::too_many_arguments)]
fn run_variant(
    cfg: &Fig4Config,
    seed: u64,
    variant: Fig4Variant,
    gen: &Generative,
    td: &TensorData,
    dev: &Device,
    progress: &dyn Progress,
    ck: &mut Checkpoints<Fig4Row>,
) -> Result<Vec<Fig4Row>, ExperimentError> {
    // The variant's position in the configuration, not in this call: seeds independent of
    // the shard.
    let vi = cfg.variants.iter().position(|v| *v == variant).unwrap_or(0);
    let RunSeeds {
        init: init_seed,
        order: order_seed,
        ..
    } = run_seeds(seed, vi);
    let (net, acts) = network(cfg, variant, init_seed, dev)?;
    let rec = recorder(cfg, gen)?;
    let tcfg = train_config(cfg, order_seed)?;
    let mut recording = Recording4 {
        cfg,
        variant,
        seed,
        acts,
        rec,
        done: Vec::new(),
        progress,
    };
    train_run(
        ck,
        variant.name(),
        &net,
        td,
        &tcfg,
        &mut recording,
        nn_error,
    )
}

/// What a Figure 4 variant records: `I(X;T_l)` through its recorder, rows of the epochs restored
/// from a checkpoint first; `progress` advances once per epoch.
struct Recording4<'a> {
    cfg: &'a Fig4Config,
    variant: Fig4Variant,
    seed: u64,
    acts: Vec<Act>,
    rec: MiRecorder,
    done: Vec<Fig4Row>,
    progress: &'a dyn Progress,
}

impl Recording<Fig4Row> for Recording4<'_> {
    fn resume(
        &mut self,
        position: &TrainPosition,
        rows: Vec<Fig4Row>,
        warm: Vec<Option<WarmStart>>,
    ) {
        self.rec.set_warm_starts(warm);
        self.progress.inc(position.epoch as u64 + 1);
        self.done = rows;
    }

    fn observe(&mut self, ctx: &EpochContext<'_>) -> Result<(), NnError> {
        use crate::nn::EpochObserver;
        self.rec.observe(ctx)?;
        self.progress
            .set_message(format!("{} epoch {}", self.variant.name(), ctx.stats.epoch));
        self.progress.inc(1);
        Ok(())
    }

    fn rows(&self) -> Vec<Fig4Row> {
        let mut rows = self.done.clone();
        for epoch in self.rec.epochs() {
            epoch_rows(
                self.cfg,
                self.variant,
                self.seed,
                &self.acts,
                &epoch,
                &mut rows,
            );
        }
        rows
    }

    fn warm_starts(&self) -> Vec<Option<WarmStart>> {
        self.rec.warm_starts().to_vec()
    }
}

/// The untrained recognition network of `variant` (initial weights drawn from `init_seed`) and
/// the activations of its layers.
fn network(
    cfg: &Fig4Config,
    variant: Fig4Variant,
    init_seed: u64,
    dev: &Device,
) -> Result<(Network, Vec<Act>), ExperimentError> {
    let spec = NetworkSpec::new(&cfg.widths, &variant.activations())
        .and_then(|s| s.check())
        .map_err(nn_error)?;
    let acts: Vec<Act> = spec.layers.iter().map(|l| l.act).collect();
    let net = Network::new(
        &spec,
        &mut ChaCha8Rng::seed_from_u64(init_seed),
        DType::F32,
        dev,
    )
    .map_err(nn_error)?;
    Ok((net, acts))
}

/// The recorder of `I(X; T_l)` every `mi_every` epochs, through the paper's chain: the
/// generative layer of `gen` with noise `noise_var` (the stated model), then the student's layers.
fn recorder(cfg: &Fig4Config, gen: &Generative) -> Result<MiRecorder, ExperimentError> {
    let setting = MiSetting::generative(&gen.w_g, cfg.noise_var).map_err(bridge_error)?;
    let mi_cfg = MiConfig {
        measure_noise: cfg.measure_noise,
        ..MiConfig::default()
    }
    .every(cfg.mi_every);
    Ok(MiRecorder::new(
        setting,
        mi_cfg.check().map_err(bridge_error)?,
    ))
}

/// The training of every variant: SGD on the cross-entropy, minibatch order from `order_seed`.
fn train_config(
    cfg: &Fig4Config,
    order_seed: u64,
) -> Result<Checked<TrainConfig>, ExperimentError> {
    TrainConfig::classification()
        .epochs(cfg.epochs)
        .batch_size(cfg.batch_size)
        .lr(cfg.lr)
        .seed(order_seed)
        .check()
        .map_err(nn_error)
}

/// The rows of one epoch, one per hidden layer, appended to `rows`: the epoch's losses and
/// accuracies, and the layer's MI record if it was measured (values kept only when converged).
fn epoch_rows(
    cfg: &Fig4Config,
    variant: Fig4Variant,
    seed: u64,
    acts: &[Act],
    epoch: &EpochRecord<'_>,
    rows: &mut Vec<Fig4Row>,
) {
    let stats = epoch.stats;
    for layer in 1..=HIDDEN_LAYERS {
        // the records of one epoch, one per measured layer (at most HIDDEN_LAYERS)
        let r = epoch.layers.iter().find(|r| r.layer == layer);
        let ok = r.is_some_and(|r| r.converged);
        rows.push(Fig4Row {
            variant,
            seed,
            epoch: stats.epoch,
            layer,
            activation: acts[layer - 1],
            width: cfg.widths[layer],
            train_loss: stats.train_loss,
            test_loss: stats.test_loss,
            train_accuracy: stats.train_accuracy.unwrap_or(f64::NAN),
            test_accuracy: stats.test_accuracy.unwrap_or(f64::NAN),
            mi_evaluated: r.is_some(),
            replica_converged: r.map(|r| r.converged),
            mi_replica_nats_per_latent: r.and_then(|r| r.mi).filter(|_| ok),
            entropy_replica_nats_per_latent: r.and_then(|r| r.entropy).filter(|_| ok),
            mi_exact_nats_per_latent: r.and_then(|r| r.exact_mi),
            replica_error: r.and_then(|r| r.error.as_ref().map(|e| e.to_string())),
        });
    }
}
