//! How a [`Trainer`](super::Trainer) computes its steps: the [`StepEngine`] trait and its two
//! implementations.
//!
//! * the CPU engine ([`EngineKind::CpuEngine`]): a hand-derived backward pass with faer's
//!   products (`super::host`), no gradients for the frozen USV factors, in-place updates; on the
//!   CPU, for `f32` or `f64` networks with a linear or softmax output. The network's variables
//!   are read at the start and written at the end of every epoch, not during it;
//! * candle's autograd and candle-nn's `SGD` ([`EngineKind::CandleAutograd`]), on any device.
//!
//! Both follow the same minibatch order (the [`Trainer`](super::Trainer)'s, handed to
//! [`StepEngine::epoch`]) and the same formulas (see [`super::train`](mod@super::train)); the
//! tests compare them.

use super::host::{self, host_vec, HostEngine, Real};
use super::network::Network;
use super::train::{Loss, TensorData, TrainConfig, HOST_EVAL_ROWS};
use super::NnError;
use candle_core::{DType, Device, Tensor, D};
use candle_nn::optim::{Optimizer, SGD};
use std::cell::RefCell;

/// Which engine computed a run's steps; its [`name`](EngineKind::name) is what provenance
/// records say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// The CPU engine: `"cpu-engine"`.
    CpuEngine,
    /// candle's autograd and candle-nn's SGD: `"candle-autograd"`.
    CandleAutograd,
}

impl EngineKind {
    /// `"cpu-engine"` or `"candle-autograd"`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::CpuEngine => "cpu-engine",
            EngineKind::CandleAutograd => "candle-autograd",
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The training or the test set of a [`TensorData`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// One way of computing SGD steps for a [`Trainer`](super::Trainer), which owns the rest of the
/// run (the shuffling generator, the epochs, the observer).
pub trait StepEngine {
    /// Which engine this is.
    fn kind(&self) -> EngineKind;
    /// One pass of SGD over the minibatches `perm.chunks(cfg.batch_size)` of the training set, in
    /// that order: the mean minibatch loss and the training accuracy over the minibatches
    /// (classification).
    fn epoch(&mut self, perm: &[u32], cfg: &TrainConfig) -> Result<(f64, Option<f64>), NnError>;
    /// Mean loss (per sample) and accuracy of the current network on the whole `split`.
    fn evaluate(&self, split: Split, cfg: &TrainConfig) -> Result<(f64, Option<f64>), NnError>;
}

/// The engine of a run of `net` on `data`: the CPU engine when `cpu` is asked and it applies to
/// the network ([`host::supports`]), otherwise candle's autograd.
pub(super) fn engine_for<'a>(
    net: &'a Network,
    data: &'a TensorData,
    cfg: &TrainConfig,
    cpu: bool,
) -> Result<Box<dyn StepEngine + Send + 'a>, NnError> {
    Ok(if cpu && host::supports(net) {
        match net.dtype() {
            DType::F32 => Box::new(HostState::<f32>::new(net, data, cfg)?),
            _ => Box::new(HostState::<f64>::new(net, data, cfg)?),
        }
    } else {
        Box::new(Autograd {
            net,
            data,
            sgd: SGD::new(net.vars(), cfg.lr)?,
        })
    })
}

/// candle's autograd and candle-nn's SGD ([`EngineKind::CandleAutograd`]).
struct Autograd<'a> {
    net: &'a Network,
    data: &'a TensorData,
    sgd: SGD,
}

impl StepEngine for Autograd<'_> {
    fn kind(&self) -> EngineKind {
        EngineKind::CandleAutograd
    }

    fn epoch(&mut self, perm: &[u32], cfg: &TrainConfig) -> Result<(f64, Option<f64>), NnError> {
        let labels = self.data.labels_train.as_ref();
        let (mut loss_sum, mut correct, mut batches) = (0.0, 0.0, 0usize);
        for idx in perm.chunks(cfg.batch_size) {
            let idx =
                Tensor::from_slice(idx, idx.len(), &Device::Cpu)?.to_device(self.net.device())?;
            let xb = self.data.x_train.index_select(&idx, 0)?;
            let yb = self.data.y_train.index_select(&idx, 0)?;
            let lb = labels.map(|l| l.index_select(&idx, 0)).transpose()?;
            let (loss, c) = batch_loss(self.net, cfg.loss, &xb, &yb, lb.as_ref())?;
            self.sgd.backward_step(&loss)?;
            loss_sum += scalar(&loss)?;
            if let Some(c) = c {
                correct += scalar(&c)?;
            }
            batches += 1;
        }
        Ok((
            loss_sum / batches as f64,
            labels.map(|_| correct / perm.len() as f64),
        ))
    }

    fn evaluate(&self, split: Split, cfg: &TrainConfig) -> Result<(f64, Option<f64>), NnError> {
        let d = self.data;
        let (x, y, labels) = match split {
            Split::Train => (&d.x_train, &d.y_train, d.labels_train.as_ref()),
            Split::Test => (&d.x_test, &d.y_test, d.labels_test.as_ref()),
        };
        evaluate(self.net, cfg.loss, x, y, labels, cfg.eval_chunk)
    }
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

/// The CPU engine ([`EngineKind::CpuEngine`]): the host copy of the data and the hand-derived
/// engine of [`super::host`].
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
    fn new(net: &Network, data: &TensorData, cfg: &TrainConfig) -> Result<Self, NnError> {
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

    fn epoch_here(
        &mut self,
        perm: &[u32],
        cfg: &TrainConfig,
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
}

impl<T: Real> StepEngine for HostState<T> {
    fn kind(&self) -> EngineKind {
        EngineKind::CpuEngine
    }

    /// On the rayon pool.
    fn epoch(&mut self, perm: &[u32], cfg: &TrainConfig) -> Result<(f64, Option<f64>), NnError> {
        on_pool(|| host::with_lanes(|| self.epoch_here(perm, cfg)))
    }

    fn evaluate(&self, split: Split, cfg: &TrainConfig) -> Result<(f64, Option<f64>), NnError> {
        let (x, y, labels) = match split {
            Split::Test => (&self.x_test, &self.y_test, self.labels_test.as_deref()),
            Split::Train => (&self.x_train, &self.y_train, self.labels_train.as_deref()),
        };
        let mut guard = self.engine.borrow_mut();
        let engine: &mut HostEngine<T> = &mut guard;
        let (n_out, loss) = (self.n_out, cfg.loss);
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
