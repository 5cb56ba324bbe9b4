//! Plain SGD training with an epoch callback.
//!
//! Per epoch: the training indices are reset to `0..n_train` and shuffled with a `ChaCha8Rng`
//! seeded from [`TrainConfig::seed`] (one generator for the whole run), cut into minibatches of
//! `batch_size` (the last, partial batch is used), and for each minibatch
//! `theta <- theta - lr * grad L_batch` (candle-nn's `SGD`: constant learning rate, no momentum,
//! no weight decay). The losses are
//! * MSE: `L = (1 / (B m)) sum_{b, j} (yhat_bj - y_bj)^2` (mean over the batch and the `m`
//!   outputs), on the network output (after a final softmax if there is one);
//! * cross-entropy: `L = -(1/B) sum_b ln softmax(z_b)_{c_b}` on the logits `z` (the output before a
//!   final softmax).
//!
//! The epoch's train loss is the mean of its minibatch losses (each minibatch counts once); the
//! train accuracy is accumulated over the same minibatches. Test loss and accuracy are computed on
//! the whole test set at the end of the epoch (in chunks, averaged per sample), every
//! [`TrainConfig::test_every`] epochs and after the last one. Before the first
//! epoch the observer is called once with `epoch = 0` and the losses of the initial network on the
//! full training and test sets.
//!
//! The steps themselves are computed by a [`StepEngine`] (the CPU engine or candle's autograd,
//! see [`super::engine`]); [`Trainer`] owns the rest of the run. Training draws nothing: it
//! reports each epoch to its [`EpochObserver`], and a caller that wants a progress bar draws it
//! from there.

use super::engine::{engine_for, EngineKind, Split, StepEngine};
use super::layer::LayerSpectrum;
use super::network::Network;
use super::NnError;
use crate::checked::{Check, Checked};
use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_params::{at_least_one, positive};
use std::time::Instant;

pub use super::engine::evaluate;

/// The training loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Mean squared error, mean over the batch and the outputs.
    Mse,
    /// Cross-entropy of the softmax of the logits against the class labels.
    CrossEntropy,
}

/// Settings of one training run: the builder. [`TrainConfig::check`] turns it into the
/// [`Checked<TrainConfig>`] that [`train()`] and [`Trainer`] take, so an invalid setting never
/// reaches the SGD loop.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Constant SGD learning rate (0.01).
    pub lr: f64,
    pub loss: Loss,
    /// Seed of the shuffling generator.
    pub seed: u64,
    /// Rows per forward pass when evaluating whole data sets (the CPU engine uses at most
    /// [`HOST_EVAL_ROWS`] of them per pass; per-row losses do not depend on it).
    pub eval_chunk: usize,
    /// Evaluate the test set after epoch `e` only when `e` is a multiple of `test_every`, and
    /// always at initialisation and after the last epoch; other epochs report a NaN test loss and
    /// no test accuracy (1: every epoch, as the figures record it).
    #[serde(default = "one")]
    pub test_every: usize,
    /// CPU engine: fuse each linear USV layer with the USV layer after it (the product of their
    /// frozen factors formed once, the linear layer's output never formed; same function and
    /// gradient, other rounding, about half the work at the paper's widths; see
    /// `HostEngine::new`). No effect on the autograd path.
    #[serde(default = "yes")]
    pub fuse_linear: bool,
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

/// The most rows the CPU engine pushes through the network at once when evaluating.
pub const HOST_EVAL_ROWS: usize = 1024;

impl TrainConfig {
    /// The paper's regression setting: 100 epochs, batch 50, lr 0.01, MSE.
    pub fn regression() -> Self {
        TrainConfig {
            epochs: 100,
            batch_size: 50,
            lr: 0.01,
            loss: Loss::Mse,
            seed: 0,
            eval_chunk: 4096,
            test_every: 1,
            fuse_linear: true,
        }
    }
    /// The paper's classification setting: 100 epochs, batch 100, lr 0.01, cross-entropy.
    pub fn classification() -> Self {
        TrainConfig {
            batch_size: 100,
            loss: Loss::CrossEntropy,
            ..Self::regression()
        }
    }
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// See [`TrainConfig::fuse_linear`].
    pub fn fuse_linear(mut self, on: bool) -> Self {
        self.fuse_linear = on;
        self
    }
    /// See [`TrainConfig::test_every`].
    pub fn test_every(mut self, n: usize) -> Self {
        self.test_every = n;
        self
    }

    /// The checked settings, or the first field that breaks its rule.
    pub fn check(&self) -> Result<Checked<Self>, NnError> {
        Checked::new(self.clone())
    }
}

impl Check for TrainConfig {
    type Error = NnError;
    /// `batch_size`, `eval_chunk`, `test_every` >= 1; `lr` finite and > 0.
    fn check_rules(&self) -> Result<(), NnError> {
        at_least_one("batch_size".into(), self.batch_size)?;
        at_least_one("eval_chunk".into(), self.eval_chunk)?;
        at_least_one("test_every".into(), self.test_every)?;
        positive("lr".into(), self.lr)?;
        Ok(())
    }
}

/// Row-major samples, as [`TensorData::new`] copies them to the training device: `rows()` inputs
/// of width `n_in()` and targets of width `n_out()` (one-hot for classification), with class
/// indices for classification. Implemented outside `nn` by the data sets (`synth::Dataset`, which
/// also holds the IDX data of the figures).
pub trait Samples {
    /// Number of samples (rows).
    fn rows(&self) -> usize;
    /// Width of an input row.
    fn n_in(&self) -> usize;
    /// Width of a target row.
    fn n_out(&self) -> usize;
    /// Row-major inputs, `rows() * n_in()` values.
    fn x(&self) -> &[f64];
    /// Row-major targets, `rows() * n_out()` values.
    fn y(&self) -> &[f64];
    /// Class indices (classification only), `rows()` of them.
    fn labels(&self) -> Option<&[u32]>;
}

/// Training and test sets as tensors on the training device.
#[derive(Clone, Debug)]
pub struct TensorData {
    pub x_train: Tensor,
    pub y_train: Tensor,
    /// Class indices (`u32`), classification only.
    pub labels_train: Option<Tensor>,
    pub x_test: Tensor,
    pub y_test: Tensor,
    pub labels_test: Option<Tensor>,
}

fn rows_tensor(
    v: &[f64],
    n: usize,
    d: usize,
    dtype: DType,
    dev: &Device,
) -> candle_core::Result<Tensor> {
    Tensor::from_slice(v, (n, d), &Device::Cpu)?
        .to_dtype(dtype)?
        .to_device(dev)
}

impl TensorData {
    /// Copy `train` and `test` to `device` as `dtype`.
    pub fn new(
        train: &impl Samples,
        test: &impl Samples,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, NnError> {
        if train.rows() == 0 || test.rows() == 0 {
            return Err(NnError::invalid(
                "data",
                format!("{} train / {} test rows", train.rows(), test.rows()),
                "needs at least one row in each",
            ));
        }
        let labels = |l: Option<&[u32]>| -> candle_core::Result<Option<Tensor>> {
            l.map(|l| Tensor::from_slice(l, l.len(), &Device::Cpu)?.to_device(device))
                .transpose()
        };
        Ok(TensorData {
            x_train: rows_tensor(train.x(), train.rows(), train.n_in(), dtype, device)?,
            y_train: rows_tensor(train.y(), train.rows(), train.n_out(), dtype, device)?,
            labels_train: labels(train.labels())?,
            x_test: rows_tensor(test.x(), test.rows(), test.n_in(), dtype, device)?,
            y_test: rows_tensor(test.y(), test.rows(), test.n_out(), dtype, device)?,
            labels_test: labels(test.labels())?,
        })
    }
    pub fn n_train(&self) -> usize {
        self.x_train.dim(0).unwrap_or(0)
    }
    pub fn n_test(&self) -> usize {
        self.x_test.dim(0).unwrap_or(0)
    }
}

/// Losses of one epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EpochStats {
    /// 0 = the initial network, then 1..=epochs.
    pub epoch: usize,
    /// Mean of the epoch's minibatch losses (epoch 0: loss of the initial network on the whole
    /// training set).
    pub train_loss: f64,
    /// Loss on the whole test set at the end of the epoch (mean per sample).
    pub test_loss: f64,
    /// Fraction of correctly classified training samples in the epoch's minibatches (epoch 0: of
    /// the whole training set), classification only.
    pub train_accuracy: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// Wall time of the epoch's training and evaluation (without the observer).
    pub seconds: f64,
}

/// Where a training run stands after an epoch: what a resumed run needs, besides the network's
/// variables, to continue exactly as the uninterrupted run would ([`train_from`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrainPosition {
    /// Epochs done (0: only the initial network evaluated).
    pub epoch: usize,
    /// Word position of the shuffling generator (`ChaCha8Rng::get_word_pos`), as two halves
    /// (high, low) so that every serialisation format holds it.
    pub order_word_pos: [u64; 2],
}

impl TrainPosition {
    fn of(epoch: usize, rng: &ChaCha8Rng) -> Self {
        let w = rng.get_word_pos();
        TrainPosition {
            epoch,
            order_word_pos: [(w >> 64) as u64, w as u64],
        }
    }
    fn word_pos(&self) -> u128 {
        (u128::from(self.order_word_pos[0]) << 64) | u128::from(self.order_word_pos[1])
    }
}

/// What an observer sees after an epoch.
pub struct EpochContext<'a> {
    pub stats: &'a EpochStats,
    pub total_epochs: usize,
    pub network: &'a Network,
    /// Where the run stands (to checkpoint it).
    pub position: TrainPosition,
    /// The engine computing the run's steps (for provenance records).
    pub engine: EngineKind,
}

impl EpochContext<'_> {
    /// Spectra of the leading USV layers ([`Network::spectra`]), computed when an observer asks
    /// (not every epoch: most observers record only some epochs).
    pub fn spectra(&self) -> Result<Vec<LayerSpectrum>, NnError> {
        Ok(self.network.spectra()?)
    }
}

/// Called after every epoch (and once at initialisation with `epoch = 0`). An error stops the
/// training and is returned by [`train`].
pub trait EpochObserver {
    fn observe(&mut self, ctx: &EpochContext<'_>) -> Result<(), NnError>;
    /// A short text for a progress bar (drawn by the caller: training draws none).
    fn status(&self) -> Option<String> {
        None
    }
}

impl<F: FnMut(&EpochContext<'_>) -> Result<(), NnError>> EpochObserver for F {
    fn observe(&mut self, ctx: &EpochContext<'_>) -> Result<(), NnError> {
        self(ctx)
    }
}

/// An observer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl EpochObserver for NoObserver {
    fn observe(&mut self, _ctx: &EpochContext<'_>) -> Result<(), NnError> {
        Ok(())
    }
}

/// The epoch statistics of a run (epoch 0 first) and the engine that computed its steps.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TrainHistory {
    pub epochs: Vec<EpochStats>,
    pub engine: EngineKind,
}

impl TrainHistory {
    pub fn train_losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_loss).collect()
    }
    pub fn test_losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.test_loss).collect()
    }
}

/// The SGD state of a run: its [`StepEngine`], shuffling generator, permutation buffer.
///
/// On the CPU (`f32` or `f64`, linear or softmax output) the steps run on the CPU engine (a
/// hand-derived backward pass with faer's products, no gradients for the frozen USV factors,
/// in-place updates); elsewhere through candle's autograd. Both follow the same minibatch order
/// and formulas; [`Trainer::new_autograd`] forces the autograd path. With the CPU engine the
/// network's variables are read at the start and written at the end of every
/// [`Trainer::epoch`], not during it.
pub struct Trainer<'a> {
    data: &'a TensorData,
    cfg: Checked<TrainConfig>,
    engine: Box<dyn StepEngine + Send + 'a>,
    rng: ChaCha8Rng,
    perm: Vec<u32>,
}

impl<'a> Trainer<'a> {
    /// Set up SGD over every variable of `net` (on the CPU engine where it applies, see
    /// [`Trainer`]) with the checked settings ([`TrainConfig::check`]); fails when the data do not
    /// fit the network or the loss.
    pub fn new(
        net: &'a Network,
        data: &'a TensorData,
        cfg: &Checked<TrainConfig>,
    ) -> Result<Self, NnError> {
        Self::build(net, data, cfg, true)
    }

    /// As [`Trainer::new`], always through candle's autograd and candle-nn's SGD.
    pub fn new_autograd(
        net: &'a Network,
        data: &'a TensorData,
        cfg: &Checked<TrainConfig>,
    ) -> Result<Self, NnError> {
        Self::build(net, data, cfg, false)
    }

    /// Which engine computes the steps.
    pub fn engine(&self) -> EngineKind {
        self.engine.kind()
    }

    /// `"cpu-engine"` or `"candle-autograd"`: the [`EngineKind::name`] of [`Trainer::engine`].
    pub fn engine_name(&self) -> &'static str {
        self.engine().name()
    }

    fn build(
        net: &'a Network,
        data: &'a TensorData,
        cfg: &Checked<TrainConfig>,
        cpu: bool,
    ) -> Result<Self, NnError> {
        if cfg.loss == Loss::CrossEntropy && data.labels_train.is_none() {
            return Err(NnError::invalid(
                "loss",
                "cross-entropy",
                "needs class labels in the data",
            ));
        }
        let n_out = net.spec().layers.last().map_or(0, |l| l.n_out);
        let (d_in, d_out) = (data.x_train.dim(1)?, data.y_train.dim(1)?);
        if d_in != net.spec().n_in || d_out != n_out {
            return Err(NnError::invalid(
                "data",
                format!("{d_in} inputs / {d_out} targets"),
                format!(
                    "the network {} takes {} inputs and gives {n_out} outputs",
                    net.spec().describe(),
                    net.spec().n_in
                ),
            ));
        }
        Ok(Trainer {
            data,
            cfg: cfg.clone(),
            engine: engine_for(net, data, cfg, cpu)?,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            perm: Vec::with_capacity(data.n_train()),
        })
    }

    /// One pass of SGD over the reshuffled training set: the mean minibatch loss and the
    /// training accuracy over the minibatches (classification).
    pub fn epoch(&mut self) -> Result<(f64, Option<f64>), NnError> {
        self.perm.clear();
        self.perm.extend(0..self.data.n_train() as u32);
        self.perm.shuffle(&mut self.rng);
        self.engine.epoch(&self.perm, &self.cfg)
    }

    /// Mean loss and accuracy on the whole training set.
    pub fn evaluate_train(&self) -> Result<(f64, Option<f64>), NnError> {
        self.engine.evaluate(Split::Train, &self.cfg)
    }

    /// Mean loss and accuracy on the whole test set.
    pub fn evaluate_test(&self) -> Result<(f64, Option<f64>), NnError> {
        self.engine.evaluate(Split::Test, &self.cfg)
    }
}

/// Train `net` in place (its variables are updated through candle's interior mutability) for
/// `cfg.epochs` epochs, calling `observer` at initialisation and after every epoch. The settings
/// are checked ones: `train(&net, &data, &cfg.check()?, &mut observer)`.
pub fn train<O: EpochObserver + ?Sized>(
    net: &Network,
    data: &TensorData,
    cfg: &Checked<TrainConfig>,
    observer: &mut O,
) -> Result<TrainHistory, NnError> {
    train_from(net, data, cfg, observer, None)
}

/// [`train`], or with `from = Some(position)` the continuation of a run that stopped at
/// `position` (an [`EpochContext::position`]): `net` must hold that run's variables as they were
/// then; the initial evaluation is skipped, the shuffling generator is put back where it was and
/// the epochs `position.epoch + 1 ..= cfg.epochs` run and are observed, bit for bit as in the run
/// that was not stopped. The history holds the epochs run here.
pub fn train_from<O: EpochObserver + ?Sized>(
    net: &Network,
    data: &TensorData,
    cfg: &Checked<TrainConfig>,
    observer: &mut O,
    from: Option<TrainPosition>,
) -> Result<TrainHistory, NnError> {
    let mut trainer = Trainer::new(net, data, cfg)?;
    let engine = trainer.engine();
    let mut history = TrainHistory {
        epochs: Vec::new(),
        engine,
    };

    let mut report =
        |stats: EpochStats, position: TrainPosition, observer: &mut O| -> Result<(), NnError> {
            observer.observe(&EpochContext {
                stats: &stats,
                total_epochs: cfg.epochs,
                network: net,
                position,
                engine,
            })?;
            history.epochs.push(stats);
            Ok(())
        };

    let first = match from {
        Some(p) => {
            if p.epoch > cfg.epochs {
                return Err(NnError::invalid(
                    "resume epoch",
                    p.epoch,
                    format!("must be <= the run's {} epochs", cfg.epochs),
                ));
            }
            trainer.rng.set_word_pos(p.word_pos());
            p.epoch + 1
        }
        None => {
            // Epoch 0: the initial network on the whole training set.
            let t0 = Instant::now();
            let (train_loss, train_accuracy) = trainer.evaluate_train()?;
            let (test_loss, test_accuracy) = trainer.evaluate_test()?;
            let stats = EpochStats {
                epoch: 0,
                train_loss,
                test_loss,
                train_accuracy,
                test_accuracy,
                seconds: t0.elapsed().as_secs_f64(),
            };
            report(stats, TrainPosition::of(0, &trainer.rng), observer)?;
            1
        }
    };

    for epoch in first..=cfg.epochs {
        let t0 = Instant::now();
        let (train_loss, train_accuracy) = trainer.epoch()?;
        let (test_loss, test_accuracy) = if epoch % cfg.test_every == 0 || epoch == cfg.epochs {
            trainer.evaluate_test()?
        } else {
            (f64::NAN, None)
        };
        let stats = EpochStats {
            epoch,
            train_loss,
            test_loss,
            train_accuracy,
            test_accuracy,
            seconds: t0.elapsed().as_secs_f64(),
        };
        report(stats, TrainPosition::of(epoch, &trainer.rng), observer)?;
    }
    Ok(history)
}
