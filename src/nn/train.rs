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

use super::host::{self, host_vec, HostEngine, Real};
use super::layer::LayerSpectrum;
use super::network::Network;
use super::NnError;
use crate::checked::{Check, Checked};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::optim::{Optimizer, SGD};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::Instant;

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
    /// No progress bar.
    pub quiet: bool,
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
            quiet: false,
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
    pub fn quiet(mut self, q: bool) -> Self {
        self.quiet = q;
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
        if self.batch_size == 0 {
            return Err(NnError::invalid(
                "batch_size",
                self.batch_size,
                "must be >= 1",
            ));
        }
        if self.eval_chunk == 0 {
            return Err(NnError::invalid(
                "eval_chunk",
                self.eval_chunk,
                "must be >= 1",
            ));
        }
        if self.test_every == 0 {
            return Err(NnError::invalid(
                "test_every",
                self.test_every,
                "must be >= 1",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(NnError::invalid("lr", self.lr, "must be finite and > 0"));
        }
        Ok(())
    }
}

/// Row-major samples, as [`TensorData::new`] copies them to the training device: `rows()` inputs
/// of width `n_in()` and targets of width `n_out()` (one-hot for classification), with class
/// indices for classification. Implemented outside `nn` by the data sets (`synth::Dataset`, which
/// also holds the IDX data, implements it in the bridge module).
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
    /// A short text for the progress bar.
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

/// The epoch statistics of a run (epoch 0 first).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct TrainHistory {
    pub epochs: Vec<EpochStats>,
}

impl TrainHistory {
    pub fn train_losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_loss).collect()
    }
    pub fn test_losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.test_loss).collect()
    }
}

/// The progress bar of a run: hidden when `quiet` (the caller's decision, e.g. the figure
/// binaries' `--quiet` or a CI environment) or when stderr is not a terminal.
pub fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] epoch {pos}/{len} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn scalar(t: &Tensor) -> candle_core::Result<f64> {
    t.to_dtype(DType::F64)?.to_scalar::<f64>()
}

/// Loss (mean over the rows of `x`) and number of correct predictions (`None` without labels).
fn batch_loss(
    net: &Network,
    loss: Loss,
    x: &Tensor,
    y: &Tensor,
    labels: Option<&Tensor>,
) -> Result<(Tensor, Option<Tensor>), NnError> {
    let logits = net.logits(x)?;
    let l = match loss {
        Loss::Mse => {
            let out = if net.ends_in_softmax() {
                // Differentiable (`softmax_last_dim` has no backward: through it the loss would
                // not reach the parameters).
                candle_nn::ops::softmax(&logits, D::Minus1)?
            } else {
                logits.clone()
            };
            candle_nn::loss::mse(&out, y)?
        }
        Loss::CrossEntropy => {
            let lab = labels.ok_or_else(|| {
                NnError::invalid("loss", "cross-entropy", "needs class labels in the data")
            })?;
            candle_nn::loss::cross_entropy(&logits, lab)?
        }
    };
    let correct = match labels {
        Some(lab) => Some(
            logits
                .argmax(D::Minus1)?
                .eq(lab)?
                .to_dtype(DType::F64)?
                .sum_all()?,
        ),
        None => None,
    };
    Ok((l, correct))
}

/// Mean loss and accuracy of `net` on a whole data set, in chunks of `chunk` rows.
pub fn evaluate(
    net: &Network,
    loss: Loss,
    x: &Tensor,
    y: &Tensor,
    labels: Option<&Tensor>,
    chunk: usize,
) -> Result<(f64, Option<f64>), NnError> {
    let n = x.dim(0)?;
    let (mut total, mut correct) = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let lab = labels.map(|l| l.narrow(0, start, len)).transpose()?;
        let (l, c) = batch_loss(
            net,
            loss,
            &x.narrow(0, start, len)?,
            &y.narrow(0, start, len)?,
            lab.as_ref(),
        )?;
        total += scalar(&l)? * len as f64;
        if let Some(c) = c {
            correct += scalar(&c)?;
        }
        start += len;
    }
    Ok((total / n as f64, labels.map(|_| correct / n as f64)))
}

/// The host copy of the data and the engine of a run on the CPU.
struct HostState<T> {
    engine: RefCell<HostEngine<T>>,
    x_train: Vec<T>,
    y_train: Vec<T>,
    labels_train: Option<Vec<u32>>,
    x_test: Vec<T>,
    y_test: Vec<T>,
    labels_test: Option<Vec<u32>>,
    /// Targets of the current minibatch (MSE only).
    y_batch: Vec<T>,
    labels_batch: Vec<u32>,
    /// Targets per row.
    n_out: usize,
}

fn host_labels(t: Option<&Tensor>) -> candle_core::Result<Option<Vec<u32>>> {
    t.map(|l| {
        l.to_device(&Device::Cpu)?
            .to_dtype(DType::U32)?
            .to_vec1::<u32>()
    })
    .transpose()
}

impl<T: Real> HostState<T> {
    fn new(net: &Network, data: &TensorData, cfg: &Checked<TrainConfig>) -> Result<Self, NnError> {
        let largest = data.n_train().max(data.n_test());
        let cap = cfg
            .batch_size
            .max(cfg.eval_chunk.min(HOST_EVAL_ROWS).min(largest));
        let n_out = data.y_train.dim(1)?;
        Ok(HostState {
            engine: RefCell::new(HostEngine::new(net, cap, cfg.fuse_linear)?),
            x_train: host_vec(&data.x_train)?,
            y_train: host_vec(&data.y_train)?,
            labels_train: host_labels(data.labels_train.as_ref())?,
            x_test: host_vec(&data.x_test)?,
            y_test: host_vec(&data.y_test)?,
            labels_test: host_labels(data.labels_test.as_ref())?,
            y_batch: vec![T::ZERO; cfg.batch_size * n_out],
            labels_batch: vec![0; cfg.batch_size],
            n_out,
        })
    }

    /// One epoch of SGD over the minibatches `perm.chunks(batch_size)` (on the rayon pool).
    fn epoch(
        &mut self,
        perm: &[u32],
        cfg: &Checked<TrainConfig>,
    ) -> Result<(f64, Option<f64>), NnError> {
        on_pool(|| host::with_lanes(|| self.epoch_here(perm, cfg)))
    }

    fn epoch_here(
        &mut self,
        perm: &[u32],
        cfg: &Checked<TrainConfig>,
    ) -> Result<(f64, Option<f64>), NnError> {
        let n_out = self.n_out;
        let engine = self.engine.get_mut();
        engine.load_params()?;
        let labels = self.labels_train.as_deref();
        let (mut loss_sum, mut correct, mut batches) = (0.0, 0usize, 0usize);
        for idx in perm.chunks(cfg.batch_size) {
            let m = idx.len();
            engine.gather_input(&self.x_train, idx);
            if cfg.loss == Loss::Mse {
                for (r, &i) in idx.iter().enumerate() {
                    let i = i as usize;
                    self.y_batch[r * n_out..(r + 1) * n_out]
                        .copy_from_slice(&self.y_train[i * n_out..(i + 1) * n_out]);
                }
            }
            if let Some(l) = labels {
                for (r, &i) in idx.iter().enumerate() {
                    self.labels_batch[r] = l[i as usize];
                }
            }
            let out = engine.step(
                m,
                cfg.loss,
                &self.y_batch,
                labels.map(|_| &self.labels_batch[..m]),
                Some(cfg.lr),
            )?;
            loss_sum += out.loss_sum / m as f64;
            correct += out.correct;
            batches += 1;
        }
        engine.store_params()?;
        Ok((
            loss_sum / batches as f64,
            labels.map(|_| correct as f64 / perm.len() as f64),
        ))
    }

    /// Mean loss and accuracy on the training (`test = false`) or test set.
    fn evaluate(&self, test: bool, loss: Loss) -> Result<(f64, Option<f64>), NnError> {
        let (x, y, labels) = if test {
            (&self.x_test, &self.y_test, self.labels_test.as_deref())
        } else {
            (&self.x_train, &self.y_train, self.labels_train.as_deref())
        };
        let mut guard = self.engine.borrow_mut();
        let engine: &mut HostEngine<T> = &mut guard;
        let n_out = self.n_out;
        on_pool(|| host::with_lanes(|| host_evaluate(engine, x, y, labels, n_out, loss)))
    }
}

/// Run `f` on a worker of the rayon pool (at once if already on one): the lanes' and products' `rayon::join`
/// then hands the second block to the other worker through its queue, instead of every join
/// from the caller's thread being injected into the pool and waited for (a wake-up per product,
/// which made two threads slower than one).
fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    let mut out = None;
    rayon::scope(|_| out = Some(f()));
    out.expect("the scope ran its closure")
}

/// Mean loss and accuracy of the rows of `x` (`y`, `labels`) on the engine.
fn host_evaluate<T: Real>(
    engine: &mut HostEngine<T>,
    x: &[T],
    y: &[T],
    labels: Option<&[u32]>,
    n_out: usize,
    loss: Loss,
) -> Result<(f64, Option<f64>), NnError> {
    {
        engine.load_params()?;
        let n = y.len() / n_out;
        let chunk = engine.cap();
        let (mut total, mut correct, mut start) = (0.0, 0usize, 0);
        while start < n {
            let len = chunk.min(n - start);
            engine.load_input(x, start, len);
            let out = engine.step(
                len,
                loss,
                &y[start * n_out..],
                labels.map(|l| &l[start..start + len]),
                None,
            )?;
            total += out.loss_sum;
            correct += out.correct;
            start += len;
        }
        Ok((total / n as f64, labels.map(|_| correct as f64 / n as f64)))
    }
}

/// How a [`Trainer`] computes its steps.
enum Engine {
    /// candle's autograd and candle-nn's SGD (any device).
    Autograd(SGD),
    /// The CPU engine of [`super::host`].
    HostF32(Box<HostState<f32>>),
    HostF64(Box<HostState<f64>>),
}

/// The SGD state of a run: optimiser, shuffling generator, permutation buffer.
///
/// On the CPU (`f32` or `f64`, linear or softmax output) the steps run on the CPU engine (a
/// hand-derived backward pass with faer's products, no gradients for the frozen USV factors,
/// in-place updates); elsewhere through candle's autograd. Both follow the same minibatch order
/// and formulas; [`Trainer::new_autograd`] forces the autograd path. With the CPU engine the
/// network's variables are read at the start and written at the end of every
/// [`Trainer::epoch`], not during it.
pub struct Trainer<'a> {
    net: &'a Network,
    data: &'a TensorData,
    cfg: Checked<TrainConfig>,
    engine: Engine,
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

    /// `"cpu-engine"` or `"candle-autograd"`: which path the steps take.
    pub fn engine_name(&self) -> &'static str {
        match self.engine {
            Engine::Autograd(_) => "candle-autograd",
            Engine::HostF32(_) | Engine::HostF64(_) => "cpu-engine",
        }
    }

    fn build(
        net: &'a Network,
        data: &'a TensorData,
        cfg: &Checked<TrainConfig>,
        host: bool,
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
        let engine = if host && host::supports(net) {
            match net.dtype() {
                DType::F32 => Engine::HostF32(Box::new(HostState::new(net, data, cfg)?)),
                _ => Engine::HostF64(Box::new(HostState::new(net, data, cfg)?)),
            }
        } else {
            Engine::Autograd(SGD::new(net.vars(), cfg.lr)?)
        };
        Ok(Trainer {
            net,
            data,
            cfg: cfg.clone(),
            engine,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            perm: Vec::with_capacity(data.n_train()),
        })
    }

    /// One pass of SGD over the reshuffled training set: the mean minibatch loss and the
    /// training accuracy over the minibatches (classification).
    pub fn epoch(&mut self) -> Result<(f64, Option<f64>), NnError> {
        let n_train = self.data.n_train();
        let labels = self.data.labels_train.as_ref();
        self.perm.clear();
        self.perm.extend(0..n_train as u32);
        self.perm.shuffle(&mut self.rng);
        let sgd = match &mut self.engine {
            Engine::HostF32(h) => return h.epoch(&self.perm, &self.cfg),
            Engine::HostF64(h) => return h.epoch(&self.perm, &self.cfg),
            Engine::Autograd(sgd) => sgd,
        };
        let (mut loss_sum, mut correct, mut batches) = (0.0, 0.0, 0usize);
        for idx in self.perm.chunks(self.cfg.batch_size) {
            let idx =
                Tensor::from_slice(idx, idx.len(), &Device::Cpu)?.to_device(self.net.device())?;
            let xb = self.data.x_train.index_select(&idx, 0)?;
            let yb = self.data.y_train.index_select(&idx, 0)?;
            let lb = labels.map(|l| l.index_select(&idx, 0)).transpose()?;
            let (loss, c) = batch_loss(self.net, self.cfg.loss, &xb, &yb, lb.as_ref())?;
            sgd.backward_step(&loss)?;
            loss_sum += scalar(&loss)?;
            if let Some(c) = c {
                correct += scalar(&c)?;
            }
            batches += 1;
        }
        Ok((
            loss_sum / batches as f64,
            labels.map(|_| correct / n_train as f64),
        ))
    }

    /// Mean loss and accuracy on the whole training set.
    pub fn evaluate_train(&self) -> Result<(f64, Option<f64>), NnError> {
        match &self.engine {
            Engine::HostF32(h) => return h.evaluate(false, self.cfg.loss),
            Engine::HostF64(h) => return h.evaluate(false, self.cfg.loss),
            Engine::Autograd(_) => {}
        }
        evaluate(
            self.net,
            self.cfg.loss,
            &self.data.x_train,
            &self.data.y_train,
            self.data.labels_train.as_ref(),
            self.cfg.eval_chunk,
        )
    }

    /// Mean loss and accuracy on the whole test set.
    pub fn evaluate_test(&self) -> Result<(f64, Option<f64>), NnError> {
        match &self.engine {
            Engine::HostF32(h) => return h.evaluate(true, self.cfg.loss),
            Engine::HostF64(h) => return h.evaluate(true, self.cfg.loss),
            Engine::Autograd(_) => {}
        }
        evaluate(
            self.net,
            self.cfg.loss,
            &self.data.x_test,
            &self.data.y_test,
            self.data.labels_test.as_ref(),
            self.cfg.eval_chunk,
        )
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
    let bar = progress_bar(cfg.epochs as u64, cfg.quiet);
    let mut history = TrainHistory::default();

    let mut report =
        |stats: EpochStats, position: TrainPosition, observer: &mut O| -> Result<(), NnError> {
            observer.observe(&EpochContext {
                stats: &stats,
                total_epochs: cfg.epochs,
                network: net,
                position,
            })?;
            let mut msg = format!("train {:.4} test {:.4}", stats.train_loss, stats.test_loss);
            if let Some(a) = stats.test_accuracy {
                msg.push_str(&format!(" acc {a:.3}"));
            }
            if let Some(s) = observer.status() {
                msg.push(' ');
                msg.push_str(&s);
            }
            bar.set_message(msg);
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
            bar.set_position(p.epoch as u64);
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
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(history)
}
