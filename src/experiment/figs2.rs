//! Figure S2 of Gabrié et al. 2018: USV layers learn a real image task.
//!
//! Two networks of the same widths (default `784-500-500-10`) and the same activations
//! (ReLU hidden layers, a 10-way softmax output) are trained side by side on a data set in MNIST's
//! layout (Fashion-MNIST from Debian's `dataset-fashion-mnist` by default, see [`crate::data`]):
//!
//! * **USV**: every hidden layer is `W = U diag(s) V^T` with `U`, `V` frozen and only the singular
//!   values `s` trained ([`crate::nn::UsvLayer`]); the output layer is dense (as in Figures 3
//!   and 4: a softmax is not a replica channel);
//! * **dense**: every layer an unconstrained weight matrix.
//!
//! Both draw their initial weights from the same seeded generator in the same order, and a USV
//! layer starts equal to the Gaussian draw it factors, so **both start as the same function**
//! (entries `N(0, 1/n_in)`, no biases); they see the same minibatches in the same order (one
//! shuffling seed), with the same plain SGD (constant learning rate, no momentum) on the
//! cross-entropy of the softmax. The only difference is which parameters move: `sum_l min(n_l,
//! n_{l-1})` singular values plus the dense output layer, against every weight.
//!
//! Inputs: the first `n_train` training and `n_test` test images, pixels scaled to `[0, 1]`
//! (`p / 255`, nothing else). Per epoch the CSV has, for each network, the mean minibatch
//! cross-entropy and accuracy of the epoch (epoch 0: of the initial network on the whole training
//! set) and the cross-entropy and accuracy on the test images after the epoch.

use super::checkpoint::{train_run, Checkpoints, Recording};
use super::error::ExperimentError;
use super::progress::Progress;
use super::record::RunSeeds;
use super::shard::ShardedRow;
use crate::checked::{Check, Checked};
use crate::data::{load_mnist_format, MnistFiles};
use crate::nn::{
    Act, EpochContext, LayerKind, LayerSpec, Network, NetworkSpec, NnError, TensorData,
    TrainConfig, TrainPosition,
};
use crate::replica::WarmStart;
use crate::synth::Dataset;
use candle_core::{DType, Device};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which of the two networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetKind {
    /// Hidden layers `U diag(s) V^T`, only `s` trained; dense output layer.
    Usv,
    /// Every layer dense.
    Dense,
}

impl NetKind {
    /// Both networks, in the order they are trained (and their rows written).
    pub const ALL: [NetKind; 2] = [NetKind::Usv, NetKind::Dense];

    pub fn name(self) -> &'static str {
        match self {
            NetKind::Usv => "usv",
            NetKind::Dense => "dense",
        }
    }
}

/// Everything that defines a Figure S2 run (besides the seed and the data folder).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigS2Config {
    /// Widths, input (pixels per image) first, classes (10) last.
    pub widths: Vec<usize>,
    /// Activation of every hidden layer (the output is a softmax).
    pub hidden_activation: Act,
    /// The first `n_train` images of the training file.
    pub n_train: usize,
    /// The first `n_test` images of the test file.
    pub n_test: usize,
    pub epochs: usize,
    /// Constant SGD learning rate, both networks.
    pub lr: f64,
    pub batch_size: usize,
}

impl FigS2Config {
    /// Widths `784-500-500-10`, ReLU, lr 0.1, batch 100, with `n_train`, `n_test` images and
    /// `epochs` epochs.
    pub fn new(n_train: usize, n_test: usize, epochs: usize) -> Self {
        FigS2Config {
            widths: vec![784, 500, 500, 10],
            hidden_activation: Act::Relu,
            n_train,
            n_test,
            epochs,
            lr: 0.1,
            batch_size: 100,
        }
    }

    /// The problem size of each scale (what `figS2 --scale` runs; network `784-500-500-10`):
    ///
    /// * quick: 500 training and 500 test images, 3 epochs (seconds, for the reference test);
    /// * default: 10 000 training and the 10 000 test images, 10 epochs (minutes on 2 cores);
    /// * paper: all 60 000 training and 10 000 test images, 50 epochs.
    pub fn for_scale(scale: super::Scale) -> Self {
        match scale {
            super::Scale::Quick => Self::new(500, 500, 3),
            super::Scale::Default => Self::new(10_000, 10_000, 10),
            super::Scale::Paper => Self::new(60_000, 10_000, 50),
        }
    }

    /// The same run with `epochs` epochs.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The checked configuration that [`run`] takes, or the first rule it breaks (see
    /// [`crate::checked`]).
    pub fn validate(&self) -> Result<Checked<Self>, ExperimentError> {
        Checked::new(self.clone())
    }
}

impl Check for FigS2Config {
    type Error = ExperimentError;
    /// Check sizes and parameters.
    fn check_rules(&self) -> Result<(), ExperimentError> {
        let bad = |m: String| Err(ExperimentError::InvalidConfig(m));
        if self.widths.len() < 2 || self.widths.contains(&0) {
            return bad(format!(
                "widths must be at least 2 positive numbers (input, ..., classes), got {:?}",
                self.widths
            ));
        }
        if self.hidden_activation == Act::Softmax {
            return bad("the hidden activation cannot be softmax".into());
        }
        if self.n_train == 0 || self.n_test == 0 || self.batch_size == 0 {
            return bad(format!(
                "n_train = {}, n_test = {}, batch_size = {} must all be >= 1",
                self.n_train, self.n_test, self.batch_size
            ));
        }
        replica_core::params::positive("lr".into(), self.lr)?;
        Ok(())
    }
}

impl FigS2Config {
    /// The network of `kind`: hidden layers with [`Self::hidden_activation`] (USV or dense), a
    /// dense softmax output; checked.
    pub fn network_spec(&self, kind: NetKind) -> Result<Checked<NetworkSpec>, NnError> {
        let n = self.widths.len() - 1;
        let layers = self.widths[1..]
            .iter()
            .enumerate()
            .map(|(i, &n_out)| {
                let last = i + 1 == n;
                LayerSpec {
                    n_out,
                    act: if last {
                        Act::Softmax
                    } else {
                        self.hidden_activation
                    },
                    kind: if last || kind == NetKind::Dense {
                        LayerKind::Dense
                    } else {
                        LayerKind::Usv
                    },
                }
            })
            .collect();
        NetworkSpec {
            n_in: self.widths[0],
            layers,
            coef: 1.0,
        }
        .check()
    }

    /// Trained parameters of `kind`: `min(n_out, n_in)` per USV layer, `n_out n_in` per dense
    /// layer.
    pub fn trainable_parameters(&self, kind: NetKind) -> usize {
        let n = self.widths.len() - 1;
        self.widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                if kind == NetKind::Usv && i + 1 < n {
                    w[0].min(w[1])
                } else {
                    w[0] * w[1]
                }
            })
            .sum()
    }
}

/// One network at one epoch; the field names are the CSV columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigS2Row {
    pub network: NetKind,
    pub seed: u64,
    /// 0 = the initial network.
    pub epoch: usize,
    pub trainable_parameters: usize,
    /// Mean minibatch cross-entropy of the epoch (nats; epoch 0: the initial network on the whole
    /// training set).
    pub train_loss: f64,
    /// Cross-entropy on the test images after the epoch (nats per image).
    pub test_loss: f64,
    /// Fraction of the epoch's training images classified correctly in their minibatch.
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

impl ShardedRow for FigS2Row {
    type Run = NetKind;
    fn run(&self) -> NetKind {
        self.network
    }
}

/// Seeds of a run ([`RunSeeds`], Figure S2's tag 0x52 and order offset 52; the data are the
/// files, so `data` is unused), shared by both networks.
pub fn run_seeds(seed: u64) -> RunSeeds {
    RunSeeds::derive(seed, 0x52, 0, 52)
}

/// The training and test sets of `cfg` from the folder `dir` (in MNIST's layout), with the files
/// found there. The images must have `cfg.widths[0]` pixels and the labels `cfg.widths.last()`
/// classes.
pub fn load(
    cfg: &Checked<FigS2Config>,
    dir: &Path,
) -> Result<(MnistFiles, Dataset, Dataset), ExperimentError> {
    let files = MnistFiles::locate(dir)?;
    let (train, test) = load_mnist_format(&files, cfg.n_train, cfg.n_test)?;
    let (n_in, n_out) = (cfg.widths[0], *cfg.widths.last().unwrap_or(&0));
    if train.n_in != n_in || train.n_out != n_out {
        return Err(ExperimentError::InvalidConfig(format!(
            "{}: images of {} pixels in {} classes, the network takes {n_in} inputs and gives \
             {n_out} outputs",
            files.train_images.display(),
            train.n_in,
            train.n_out
        )));
    }
    Ok((files, train, test))
}

/// Train the USV network, then the dense one, on `train` / `test` on `dev`; `progress` advances
/// once per epoch of each network.
pub fn run(
    cfg: &Checked<FigS2Config>,
    train_set: &Dataset,
    test_set: &Dataset,
    seed: u64,
    dev: &Device,
    progress: &dyn Progress,
) -> Result<Vec<FigS2Row>, ExperimentError> {
    let ck = &mut Checkpoints::none();
    run_checkpointed(
        cfg,
        train_set,
        test_set,
        seed,
        &NetKind::ALL,
        dev,
        progress,
        ck,
    )
}

/// The networks `kinds` (a shard's, or both), in the given order, as [`run`] trains them, with
/// checkpoints in `ck` (the runs are named `usv` and `dense`): a network that finished before the
/// checkpoint `ck` resumed from is not trained again, the one in progress continues where it
/// stopped; the rows are those of an uninterrupted run, bit for bit. Each network draws its
/// initial weights and minibatch order from `seed` alone, so its rows do not depend on the other
/// network being trained.
#[allow(clippy::too_many_arguments)]
pub fn run_checkpointed(
    cfg: &Checked<FigS2Config>,
    train_set: &Dataset,
    test_set: &Dataset,
    seed: u64,
    kinds: &[NetKind],
    dev: &Device,
    progress: &dyn Progress,
    ck: &mut Checkpoints<FigS2Row>,
) -> Result<Vec<FigS2Row>, ExperimentError> {
    let td = TensorData::new(train_set, test_set, DType::F32, dev).map_err(nn)?;
    let RunSeeds {
        init: init_seed,
        order: order_seed,
        ..
    } = run_seeds(seed);
    progress.set_length(kinds.len() as u64 * (cfg.epochs as u64 + 1));
    ck.run_each(
        kinds,
        |k| k.name().to_string(),
        |ck, &kind| {
            let spec = cfg.network_spec(kind).map_err(nn)?;
            let net = Network::new(
                &spec,
                &mut ChaCha8Rng::seed_from_u64(init_seed),
                DType::F32,
                dev,
            )
            .map_err(nn)?;
            let tcfg = TrainConfig::classification()
                .epochs(cfg.epochs)
                .batch_size(cfg.batch_size)
                .lr(cfg.lr)
                .seed(order_seed)
                .check()
                .map_err(nn)?;
            let mut rec = RecordingS2 {
                kind,
                seed,
                params: cfg.trainable_parameters(kind),
                rows: Vec::new(),
                progress,
            };
            train_run(ck, kind.name(), &net, &td, &tcfg, &mut rec, nn)
        },
        |_| progress.inc(cfg.epochs as u64 + 1),
    )
}

/// A network error of Figure S2.
fn nn(source: NnError) -> ExperimentError {
    ExperimentError::Network {
        at: "figS2".into(),
        source,
    }
}

/// What a Figure S2 network records: one row per epoch from the training statistics (no MI, no
/// warm starts); `progress` advances once per epoch.
struct RecordingS2<'a> {
    kind: NetKind,
    seed: u64,
    params: usize,
    rows: Vec<FigS2Row>,
    progress: &'a dyn Progress,
}

impl Recording<FigS2Row> for RecordingS2<'_> {
    fn resume(&mut self, position: &TrainPosition, rows: Vec<FigS2Row>, _: Vec<Option<WarmStart>>) {
        self.progress.inc(position.epoch as u64 + 1);
        self.rows = rows;
    }

    fn observe(&mut self, ctx: &EpochContext<'_>) -> Result<(), NnError> {
        let s = ctx.stats;
        self.progress.set_message(format!(
            "{} epoch {}: test accuracy {:.3}",
            self.kind.name(),
            s.epoch,
            s.test_accuracy.unwrap_or(f64::NAN)
        ));
        self.progress.inc(1);
        self.rows.push(FigS2Row {
            network: self.kind,
            seed: self.seed,
            epoch: s.epoch,
            trainable_parameters: self.params,
            train_loss: s.train_loss,
            test_loss: s.test_loss,
            train_accuracy: s.train_accuracy.unwrap_or(f64::NAN),
            test_accuracy: s.test_accuracy.unwrap_or(f64::NAN),
        });
        Ok(())
    }

    fn rows(&self) -> Vec<FigS2Row> {
        self.rows.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::LayerKind;

    #[test]
    fn networks_differ_only_in_the_hidden_kinds() {
        let cfg = FigS2Config::new(10, 10, 1);
        let usv = cfg.network_spec(NetKind::Usv).unwrap();
        let dense = cfg.network_spec(NetKind::Dense).unwrap();
        assert_eq!(usv.widths(), dense.widths());
        let kinds = |s: &NetworkSpec| s.layers.iter().map(|l| l.kind).collect::<Vec<_>>();
        assert_eq!(
            kinds(&usv),
            [LayerKind::Usv, LayerKind::Usv, LayerKind::Dense]
        );
        assert_eq!(kinds(&dense), [LayerKind::Dense; 3]);
        let acts = |s: &NetworkSpec| s.layers.iter().map(|l| l.act).collect::<Vec<_>>();
        assert_eq!(acts(&usv), acts(&dense));
        assert_eq!(acts(&usv), [Act::Relu, Act::Relu, Act::Softmax]);
        // 500 + 500 singular values + the 500 x 10 output layer; every weight of the dense net.
        assert_eq!(cfg.trainable_parameters(NetKind::Usv), 500 + 500 + 5000);
        assert_eq!(
            cfg.trainable_parameters(NetKind::Dense),
            784 * 500 + 500 * 500 + 5000
        );
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let ok = FigS2Config::new(10, 10, 1);
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.widths = vec![784];
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.n_test = 0;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.lr = f64::NAN;
        assert!(c.validate().is_err());
        let mut c = ok;
        c.hidden_activation = Act::Softmax;
        assert!(c.validate().is_err());
    }
}
