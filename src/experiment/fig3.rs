//! Figure 3 of Gabrié et al. 2018: a linear student learning a linear teacher.
//!
//! Data (teacher-student regression, [`crate::synth::RegressionParams`]): `X ~ N(0, I_n)`,
//! `Y = W_t X + noise` with `W_t` entries `N(0, 1/n)`, 4 outputs, teacher noise variance 0.01,
//! `2 gamma n` samples (first half train, second half test).
//!
//! Student: 3 linear USV layers of width `n` and one dense output layer (4 outputs), no bias,
//! trained with plain SGD on the MSE (learning rate 0.01, batch 50, f32, on the device of `--device`).
//!
//! After every epoch (and at initialisation) [`crate::bridge::MiRecorder`] measures `I(X; T_l)` for
//! `l = 1, 2, 3` in nats per input unit (`/ n_0`), with noise `1e-5` inside the measured layer:
//! * **replica**: the replica formula with the current spectra of the student layers,
//!   warm-started from the previous epoch's fixed point;
//! * **exact**: the Gaussian log-determinant of the covariance of `T_l` built from the explicit
//!   weight matrices (the network is linear, so `T_l` is Gaussian).
//!
//! The two coincide up to the finite-size error of the replica formula (it treats the singular
//! vectors of successive layers as being in generic, free position). The error panels of the
//! figure report the maximum and the mean over all epochs and runs of the squared difference
//! `(I_replica - I_exact)^2` against the width `n` (`n` seeds per width).
//!
//! Every run `(width, seed)` derives its three seeds (data, initial weights, minibatch order) from
//! the run seed, so a run is reproducible on its own.

use super::checkpoint::{train_run, Checkpoints, Recording};
use super::error::ExperimentError;
use super::progress::Progress;
use super::record::RunSeeds;
use super::shard::ShardedRow;
use crate::bridge::{MiConfig, MiRecorder, MiSetting};
use crate::checked::{Check, Checked};
use crate::nn::{
    Act, EpochContext, Network, NetworkSpec, NnError, TensorData, TrainConfig, TrainPosition,
};
use crate::replica::WarmStart;
use crate::synth::RegressionParams;
use candle_core::{DType, Device};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica_core::params::{non_negative, positive};
use serde::{Deserialize, Serialize};

/// Number of linear USV layers of the student (the measured layers).
pub const STUDENT_LAYERS: usize = 3;

/// Everything that defines a Figure 3 run (besides the base seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fig3Config {
    /// Width `n` of the run shown in the training panels (input and hidden layers).
    pub train_width: usize,
    /// Widths of the error panels.
    pub error_widths: Vec<usize>,
    /// Runs (seeds) per width of the error panels: seeds `seed, seed + 1, ...`.
    pub error_seeds: usize,
    /// Epochs of every run.
    pub epochs: usize,
    /// Training samples per input unit (`n_train = gamma n`; the paper: 100).
    pub gamma: f64,
    /// Output width of the teacher and of the student (4).
    pub n_out: usize,
    /// Variance of the teacher's output noise (0.01).
    pub teacher_noise_var: f64,
    /// SGD learning rate (0.01).
    pub lr: f64,
    /// Minibatch size (50).
    pub batch_size: usize,
    /// Noise variance inside the measured layer (1e-5).
    pub measure_noise: f64,
}

impl Fig3Config {
    /// The paper's setting at width `train_width`, error panels over `error_widths` x
    /// `error_seeds`, `epochs` epochs and `gamma` samples per input unit.
    pub fn new(
        train_width: usize,
        error_widths: Vec<usize>,
        error_seeds: usize,
        epochs: usize,
        gamma: f64,
    ) -> Self {
        Fig3Config {
            train_width,
            error_widths,
            error_seeds,
            epochs,
            gamma,
            n_out: 4,
            teacher_noise_var: 0.01,
            lr: 0.01,
            batch_size: 50,
            measure_noise: 1e-5,
        }
    }

    /// The same run with `epochs` epochs.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The problem size of each scale (what `fig3 --scale` runs).
    ///
    /// * quick: training panels n = 40; error panels n = 20, 80 x 2 seeds; 12 epochs; gamma = 100
    ///   (seconds, for the reference test);
    /// * default: n = 100; 25, 50, 100, 200 x 3 seeds; 30 epochs; gamma = 100;
    /// * paper: n = 1500; 100, 200, 500, 1000, 1500 x 5 seeds; 100 epochs; gamma = 100.
    pub fn for_scale(scale: super::Scale) -> Self {
        match scale {
            super::Scale::Quick => Self::new(40, vec![20, 80], 2, 12, 100.0),
            super::Scale::Default => Self::new(100, vec![25, 50, 100, 200], 3, 30, 100.0),
            super::Scale::Paper => Self::new(1500, vec![100, 200, 500, 1000, 1500], 5, 100, 100.0),
        }
    }

    /// The checked configuration that [`run`] takes, or the first rule it breaks (see
    /// [`crate::checked`]).
    pub fn validate(&self) -> Result<Checked<Self>, ExperimentError> {
        Checked::new(self.clone())
    }
}

impl Check for Fig3Config {
    type Error = ExperimentError;
    /// Check sizes and parameters.
    fn check_rules(&self) -> Result<(), ExperimentError> {
        let bad = |m: String| Err(ExperimentError::InvalidConfig(m));
        if self.train_width == 0 || self.error_widths.contains(&0) {
            return bad("widths must be >= 1".into());
        }
        if self.error_seeds == 0 && !self.error_widths.is_empty() {
            return bad("error_seeds must be >= 1".into());
        }
        if self.n_out == 0 || self.batch_size == 0 {
            return bad("n_out and batch_size must be >= 1".into());
        }
        positive("gamma".into(), self.gamma)?;
        positive("lr".into(), self.lr)?;
        positive("measure_noise".into(), self.measure_noise)?;
        non_negative("teacher_noise_var".into(), self.teacher_noise_var)?;
        Ok(())
    }
}

impl Fig3Config {
    /// The runs `(width, seed)`: the training-panel run first, then the error-panel runs
    /// (width by width, seed by seed) that are not that same run.
    pub fn runs(&self, seed: u64) -> Vec<(usize, u64)> {
        let mut runs = vec![(self.train_width, seed)];
        for &w in &self.error_widths {
            for k in 0..self.error_seeds as u64 {
                let r = (w, seed.wrapping_add(k));
                if !runs.contains(&r) {
                    runs.push(r);
                }
            }
        }
        runs
    }

    /// [`Fig3Config::runs`] as named runs, the unit of `--shard`.
    pub fn run_keys(&self, seed: u64) -> Vec<Fig3Run> {
        self.runs(seed)
            .into_iter()
            .map(|(width, seed)| Fig3Run { width, seed })
            .collect()
    }

    /// The relative cost of each of `runs`, which `--shard` balances
    /// ([`crate::experiment::shard::assign`]): `width^3` (an epoch costs `gamma n` samples times
    /// `n^2` per layer, the exact log-det and the spectra `n^3`).
    pub fn run_costs(runs: &[Fig3Run]) -> Vec<f64> {
        runs.iter().map(|r| (r.width as f64).powi(3)).collect()
    }
}

/// One training run of Figure 3: width and run seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fig3Run {
    pub width: usize,
    pub seed: u64,
}

impl ShardedRow for Fig3Row {
    type Run = Fig3Run;
    fn run(&self) -> Fig3Run {
        Fig3Run {
            width: self.width,
            seed: self.seed,
        }
    }
}

/// One measured layer at one epoch of one run; the field names are the CSV columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fig3Row {
    /// Seed of the run (data, initial weights and minibatch order derive from it).
    pub seed: u64,
    /// Width `n` of the input and of the three hidden layers.
    pub width: usize,
    /// Training samples per input unit actually used.
    pub gamma: f64,
    /// 0 = the initial network.
    pub epoch: usize,
    /// Measured layer `l` (1..=3).
    pub layer: usize,
    /// Mean minibatch MSE of the epoch (epoch 0: MSE of the initial network on the training set).
    pub train_mse: f64,
    /// MSE on the test set at the end of the epoch.
    pub test_mse: f64,
    /// Replica `I(X; T_l)` per input unit; empty when the solve failed.
    pub mi_replica_nats_per_input: Option<f64>,
    /// Exact Gaussian `I(X; T_l)` per input unit (log-det).
    pub mi_exact_nats_per_input: Option<f64>,
    /// Replica `H(T_l)` per input unit; empty when the solve failed.
    pub entropy_replica_nats_per_input: Option<f64>,
    /// Exact Gaussian `H(T_l)` per input unit.
    pub entropy_exact_nats_per_input: Option<f64>,
    /// Whether the replica solve converged.
    pub replica_converged: bool,
    /// Whether it started from the previous epoch's fixed point.
    pub replica_warm_started: bool,
}

impl Fig3Row {
    /// `(I_replica - I_exact)^2` when both exist.
    pub fn squared_error(&self) -> Option<f64> {
        match (self.mi_replica_nats_per_input, self.mi_exact_nats_per_input) {
            (Some(r), Some(e)) if self.replica_converged => Some((r - e) * (r - e)),
            _ => None,
        }
    }
}

/// Error of the replica estimate against the exact value for one width and one layer, over all
/// epochs and runs; the field names are the CSV columns of `fig3_errors.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fig3ErrorRow {
    pub width: usize,
    pub layer: usize,
    /// Runs (seeds) at this width.
    pub runs: usize,
    /// `(epoch, run)` points with both values.
    pub points: usize,
    /// Points whose replica solve failed (left out of the statistics).
    pub failed: usize,
    /// Largest `(I_replica - I_exact)^2`, nats^2 per input unit^2.
    pub max_squared_error: f64,
    /// Mean of `(I_replica - I_exact)^2`.
    pub mean_squared_error: f64,
}

/// Seeds of one run ([`RunSeeds`], Figure 3's tag 1 and order offset 3).
pub fn run_seeds(seed: u64) -> RunSeeds {
    RunSeeds::derive(seed, 1, 0, 3)
}

/// Train one student of width `width` with the run seed `seed`, recording every epoch.
pub fn run_one(
    cfg: &Checked<Fig3Config>,
    width: usize,
    seed: u64,
    dev: &Device,
) -> Result<Vec<Fig3Row>, ExperimentError> {
    run_one_checkpointed(cfg, width, seed, dev, &mut Checkpoints::none())
}

/// The name of a run in checkpoints.
fn run_name(width: usize, seed: u64) -> String {
    format!("width {width} seed {seed}")
}

/// [`run_one`], checkpointed in `ck` (and continued from it when `ck` resumed this run).
fn run_one_checkpointed(
    cfg: &Checked<Fig3Config>,
    width: usize,
    seed: u64,
    dev: &Device,
    ck: &mut Checkpoints<Fig3Row>,
) -> Result<Vec<Fig3Row>, ExperimentError> {
    let RunSeeds {
        data: data_seed,
        init: init_seed,
        order: order_seed,
    } = run_seeds(seed);
    let at = || format!("fig3 run width {width} seed {seed}");
    let nn = |source: crate::nn::NnError| ExperimentError::Network { at: at(), source };
    let bridge = |source: crate::bridge::BridgeError| ExperimentError::Bridge { at: at(), source };
    let data = RegressionParams::new(width)
        .n_out(cfg.n_out)
        .teacher_noise_var(cfg.teacher_noise_var)
        .gamma(cfg.gamma)
        .seed(data_seed)
        .generate()
        .map_err(|source| ExperimentError::Synth { at: at(), source })?;
    let widths: Vec<usize> = vec![width; STUDENT_LAYERS + 1]
        .into_iter()
        .chain([cfg.n_out])
        .collect();
    let spec = NetworkSpec::new(&widths, &[Act::Linear; STUDENT_LAYERS + 1])
        .and_then(|s| s.check())
        .map_err(nn)?;
    let net = Network::new(
        &spec,
        &mut ChaCha8Rng::seed_from_u64(init_seed),
        DType::F32,
        dev,
    )
    .map_err(nn)?;
    let td = TensorData::new(&data.train, &data.test, DType::F32, dev).map_err(nn)?;
    let mi_cfg = MiConfig {
        measure_noise: cfg.measure_noise,
        ..MiConfig::default()
    };
    let rec = MiRecorder::new(MiSetting::Regression, mi_cfg.check().map_err(bridge)?);
    let tcfg = TrainConfig::regression()
        .epochs(cfg.epochs)
        .batch_size(cfg.batch_size)
        .lr(cfg.lr)
        .seed(order_seed)
        .check()
        .map_err(nn)?;
    let mut recording = Recording3 {
        cfg,
        width,
        seed,
        rec,
        done: Vec::new(),
    };
    train_run(
        ck,
        &run_name(width, seed),
        &net,
        &td,
        &tcfg,
        &mut recording,
        nn,
    )
}

/// What a Figure 3 run records: `I(X;T_l)` through its recorder, rows of the epochs restored from
/// a checkpoint first.
struct Recording3<'a> {
    cfg: &'a Fig3Config,
    width: usize,
    seed: u64,
    rec: MiRecorder,
    done: Vec<Fig3Row>,
}

impl Recording<Fig3Row> for Recording3<'_> {
    fn resume(&mut self, _: &TrainPosition, rows: Vec<Fig3Row>, warm: Vec<Option<WarmStart>>) {
        self.rec.set_warm_starts(warm);
        self.done = rows;
    }

    fn observe(&mut self, ctx: &EpochContext<'_>) -> Result<(), NnError> {
        use crate::nn::EpochObserver;
        self.rec.observe(ctx)
    }

    fn rows(&self) -> Vec<Fig3Row> {
        let (cfg, width, seed) = (self.cfg, self.width, self.seed);
        let mut rows = self.done.clone();
        for (stats, r) in self
            .rec
            .epochs()
            .flat_map(|e| e.layers.iter().map(move |r| (e.stats, r)))
        {
            rows.push(Fig3Row {
                seed,
                width,
                gamma: cfg.gamma,
                epoch: r.epoch,
                layer: r.layer,
                train_mse: stats.train_loss,
                test_mse: stats.test_loss,
                mi_replica_nats_per_input: r.mi.filter(|_| r.converged),
                mi_exact_nats_per_input: r.exact_mi,
                entropy_replica_nats_per_input: r.entropy.filter(|_| r.converged),
                entropy_exact_nats_per_input: r.exact_entropy,
                replica_converged: r.converged,
                replica_warm_started: r.warm_started,
            });
        }
        rows
    }

    fn warm_starts(&self) -> Vec<Option<WarmStart>> {
        self.rec.warm_starts().to_vec()
    }
}

/// Every run of [`Fig3Config::runs`], trained on `dev`; `progress` advances once per run. Rows
/// are ordered by run, then epoch, then layer.
pub fn run(
    cfg: &Checked<Fig3Config>,
    seed: u64,
    dev: &Device,
    progress: &dyn Progress,
) -> Result<Vec<Fig3Row>, ExperimentError> {
    run_some(cfg, &cfg.run_keys(seed), dev, progress)
}

/// The runs `runs` (a shard's, or all of them), in the given order, as [`run`] does. A run's rows
/// depend only on `cfg` and the run, not on the other runs.
pub fn run_some(
    cfg: &Checked<Fig3Config>,
    runs: &[Fig3Run],
    dev: &Device,
    progress: &dyn Progress,
) -> Result<Vec<Fig3Row>, ExperimentError> {
    run_checkpointed(cfg, runs, dev, progress, &mut Checkpoints::none())
}

/// [`run_some`] with checkpoints in `ck`: runs that finished before the checkpoint `ck` resumed
/// from are not run again, the run in progress then continues where it stopped; the rows are
/// those of an uninterrupted run, bit for bit.
pub fn run_checkpointed(
    cfg: &Checked<Fig3Config>,
    runs: &[Fig3Run],
    dev: &Device,
    progress: &dyn Progress,
    ck: &mut Checkpoints<Fig3Row>,
) -> Result<Vec<Fig3Row>, ExperimentError> {
    progress.set_length(runs.len() as u64);
    ck.run_each(
        runs,
        |r| run_name(r.width, r.seed),
        |ck, r| {
            progress.set_message(format!("n = {}, seed {}", r.width, r.seed));
            let rows = run_one_checkpointed(cfg, r.width, r.seed, dev, ck);
            progress.inc(1);
            rows
        },
        |_| progress.inc(1),
    )
}

/// The error table: for each width of `cfg.error_widths` and each layer, the squared errors over
/// every epoch of the runs with seeds `seed .. seed + error_seeds`.
pub fn errors(cfg: &Fig3Config, seed: u64, rows: &[Fig3Row]) -> Vec<Fig3ErrorRow> {
    let seeds: Vec<u64> = (0..cfg.error_seeds as u64)
        .map(|k| seed.wrapping_add(k))
        .collect();
    let mut out = Vec::new();
    for &width in &cfg.error_widths {
        for layer in 1..=STUDENT_LAYERS {
            let here: Vec<&Fig3Row> = rows
                .iter()
                .filter(|r| r.width == width && r.layer == layer && seeds.contains(&r.seed))
                .collect();
            let errs: Vec<f64> = here.iter().filter_map(|r| r.squared_error()).collect();
            let points = errs.len();
            out.push(Fig3ErrorRow {
                width,
                layer,
                runs: seeds.len(),
                points,
                failed: here.len() - points,
                max_squared_error: errs.iter().copied().fold(0.0, f64::max),
                mean_squared_error: if points == 0 {
                    f64::NAN
                } else {
                    errs.iter().sum::<f64>() / points as f64
                },
            });
        }
    }
    out
}
