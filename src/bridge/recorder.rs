//! Replica entropies and mutual informations of the hidden layers during training.
//!
//! For the measured layer `l` (1-based, over the leading USV layers of the network) the chain is
//! * regression: prior `N(0, 1)` on `X` -> student layers `1..l`; values per `n_0` (input width);
//! * classification: prior `N(0, 1)` on the latent `Y` -> the generative layer (spectrum of
//!   `W_g^T W_g`, `alpha = n_X / n_Y`, linear, noise `sigma_g^2 = 0.01`) -> student layers `1..l`;
//!   values per `n_Y`.
//!
//! Noise: `sigma^2 = 1e-5` inside the activation of layer `l`, 0 in the student layers before it;
//! the chain is cut after `l`.
//!
//! **`I(X; T_l)`.** Every student layer before `l` is noiseless, so `T_{l-1}` is a deterministic
//! function of `X` and `H(T_l | X) = H(T_l | T_{l-1})`. Hence
//! `I(X; T_l) = H(T_l) - H(T_l | X) = H(T_l) - H(T_l | T_{l-1})`, which is the estimator's
//! `mi_last_layer`. In the regression chain `X` is the chain input and the estimator's
//! `mutual_information` (`I(X; T_L)`, defined because every inner layer is noiseless) is the same
//! quantity; it is the one recorded there. In the classification chain the chain input is `Y` and
//! the generative layer is noisy, so `mutual_information` (`I(Y; T_l)`) is `None` and
//! `mi_last_layer` is recorded. (For `l = 1` there, `T_0 = X` itself.)
//!
//! **Exact values (linear networks).** When the student layers `1..l` are all linear, `T_l` is
//! Gaussian and [`crate::exact::gaussian_chain_entropy`] gives `H(T_l)` from the explicit weight
//! matrices (`ln det` of the covariance); `I(X; T_l) = H(T_l) - n_l ln(2 pi e sigma^2) / (2 n)`
//! with `n = n_0` or `n_Y`, since `T_l` given `X` is Gaussian with covariance `sigma^2 I`.
//!
//! A failed solve (no convergence, a spectrum the chain rejects) is recorded with
//! `converged = false`, no values and the error text; it never stops the training.

use super::{replica_layer, BridgeError};
use crate::checked::{Check, Checked};
use crate::nn::{Act, EpochContext, EpochObserver, EpochStats, LayerSpectrum, Network, NnError};
use crate::replica::{
    solve, solve_warm, Activation, Chain, Estimate, Prior, ReplicaError, Scheme, SolverOptions,
    WarmStart,
};
use faer::Mat;
use rayon::prelude::*;
use replica_core::params::{at_least_one, non_negative, positive};
use std::f64::consts::{E, PI};
use std::time::Instant;

/// Which chain the hidden layers sit in.
#[derive(Clone, Debug)]
pub enum MiSetting {
    /// Prior `N(0, 1)` on the network input `X`; values per `n_0`.
    Regression,
    /// Prior `N(0, 1)` on the latent `Y`, then `X = W_g Y + eps`; values per `n_Y`.
    Generative {
        /// `W_g` (`n_X x n_Y`), for the exact Gaussian entropies.
        weight: Mat<f64>,
        /// `alpha = n_X / n_Y` and the `n_Y` eigenvalues of `W_g^T W_g`.
        spectrum: LayerSpectrum,
        /// Variance of `eps` in the chain (the paper: 0.01).
        noise_var: f64,
    },
}

impl MiSetting {
    /// The generative setting of `W_g` (`n_X x n_Y`) with noise variance `noise_var` in the
    /// generative layer. The paper's chain uses 0.01; pass the data's
    /// [`crate::synth::ClassificationParams::effective_noise_var`] to describe the data actually
    /// generated (a zero noise makes the chain's `X` degenerate when `n_X > n_Y`).
    pub fn generative(w_g: &Mat<f64>, noise_var: f64) -> Result<Self, BridgeError> {
        non_negative("generative.noise_var".to_string(), noise_var)?;
        let (n_x, n_y) = (w_g.nrows(), w_g.ncols());
        let wtw = w_g.transpose() * w_g;
        let eigenvalues = wtw
            .self_adjoint_eigenvalues(faer::Side::Lower)
            .map_err(|e| BridgeError::Linalg(format!("eigenvalues of W_g^T W_g: {e:?}")))?
            .into_iter()
            .map(|e| e.max(0.0))
            .collect();
        Ok(MiSetting::Generative {
            weight: w_g.clone(),
            spectrum: LayerSpectrum {
                n_in: n_y,
                n_out: n_x,
                alpha: n_x as f64 / n_y as f64,
                eigenvalues,
            },
            noise_var,
        })
    }

    /// What the values are divided by: `n_0` or `n_Y`.
    pub fn normalisation(&self) -> Per {
        match self {
            MiSetting::Regression => Per::Input,
            MiSetting::Generative { .. } => Per::Latent,
        }
    }
}

/// Settings of the recorder: the builder; [`MiRecorder::new`] takes the
/// [`Checked<MiConfig>`] of [`MiConfig::check`].
#[derive(Clone, Debug)]
pub struct MiConfig {
    /// Evaluate at epochs that are multiples of `every` (epoch 0 included): 1 for regression,
    /// 2 for classification in the paper.
    pub every: usize,
    /// Noise variance inside the measured layer (1e-5).
    pub measure_noise: f64,
    pub solver: SolverOptions,
    /// Warm-start each layer's solve from its previous fixed point.
    pub warm_start: bool,
    /// Also compute the exact Gaussian values where layers `1..l` are linear.
    pub exact: bool,
    /// Solve the layers in parallel (rayon); the results do not depend on it.
    pub parallel: bool,
}

impl Default for MiConfig {
    fn default() -> Self {
        MiConfig {
            every: 1,
            measure_noise: 1e-5,
            solver: SolverOptions::default(),
            warm_start: true,
            exact: true,
            parallel: true,
        }
    }
}

impl MiConfig {
    pub fn every(mut self, k: usize) -> Self {
        self.every = k;
        self
    }
    /// The checked settings, or the first field that breaks its rule.
    pub fn check(&self) -> Result<Checked<Self>, BridgeError> {
        Checked::new(self.clone())
    }
}

impl Check for MiConfig {
    type Error = BridgeError;
    /// `every` >= 1; `measure_noise` finite and > 0.
    fn check_rules(&self) -> Result<(), BridgeError> {
        at_least_one("mi.every".to_string(), self.every)?;
        positive("mi.measure_noise".to_string(), self.measure_noise)?;
        Ok(())
    }
}

/// The unit of a record's entropies and informations: nats per input dimension `n_0`
/// (regression) or per latent dimension `n_Y` (classification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Per {
    #[serde(rename = "n_0")]
    Input,
    #[serde(rename = "n_Y")]
    Latent,
}

impl std::fmt::Display for Per {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Per::Input => "n_0",
            Per::Latent => "n_Y",
        })
    }
}

/// Why a record has no mutual information.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MiFailure {
    /// The chain could not be built or the replica equations were not solved.
    #[error(transparent)]
    Solve(#[from] ReplicaError),
    /// The solve succeeded but `I(X; T_l)` is not defined by it (a noisy inner layer).
    #[error("the estimator returned no mutual information")]
    NoMutualInformation,
}

impl serde::Serialize for MiFailure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One layer at one epoch.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MiRecord {
    pub epoch: usize,
    /// 1-based index of the measured layer.
    pub layer: usize,
    pub width: usize,
    pub activation: Act,
    pub per: Per,
    /// Replica `H(T_l)` per `per`, nats; `None` when the solve failed.
    pub entropy: Option<f64>,
    /// Replica `I(X; T_l)` per `per`, nats; `None` when the solve failed.
    pub mi: Option<f64>,
    pub converged: bool,
    pub scheme: Option<Scheme>,
    pub iterations: u64,
    pub residual: Option<f64>,
    /// Whether the solve started from the previous fixed point.
    pub warm_started: bool,
    /// Why the solve failed.
    pub error: Option<MiFailure>,
    /// Exact Gaussian `H(T_l)` (layers `1..l` linear).
    pub exact_entropy: Option<f64>,
    /// Exact Gaussian `I(X; T_l)` (layers `1..l` linear).
    pub exact_mi: Option<f64>,
    /// Wall time of the replica solve.
    pub seconds: f64,
}

/// Records `H(T_l)`, `I(X; T_l)` of every leading USV layer; an [`EpochObserver`].
#[derive(Clone, Debug)]
pub struct MiRecorder {
    setting: MiSetting,
    config: Checked<MiConfig>,
    /// Last fixed point (and its secants) per measured layer.
    warm: Vec<Option<WarmStart>>,
    records: Vec<MiRecord>,
    /// Every observed epoch: its statistics and the range of its records in `records`.
    epochs: Vec<(EpochStats, std::ops::Range<usize>)>,
}

/// One observed epoch: its losses and accuracies, and the records of the layers measured then
/// (none on epochs that are not recorded).
#[derive(Clone, Copy, Debug)]
pub struct EpochRecord<'a> {
    pub stats: &'a EpochStats,
    pub layers: &'a [MiRecord],
}

/// One measured layer's inputs, prepared before the (parallel) solves.
struct Job {
    layer: usize,
    width: usize,
    act: Act,
    chain: Result<Chain, ReplicaError>,
    warm: Option<WarmStart>,
    exact: Option<(f64, f64)>,
}

impl MiRecorder {
    /// A recorder in `setting` with the checked settings ([`MiConfig::check`]).
    pub fn new(setting: MiSetting, config: Checked<MiConfig>) -> Self {
        MiRecorder {
            setting,
            config,
            warm: Vec::new(),
            records: Vec::new(),
            epochs: Vec::new(),
        }
    }

    pub fn setting(&self) -> &MiSetting {
        &self.setting
    }
    pub fn config(&self) -> &Checked<MiConfig> {
        &self.config
    }
    /// Every record so far, epoch by epoch, first layer first.
    pub fn records(&self) -> &[MiRecord] {
        &self.records
    }
    /// Each measured layer's warm start for its next solve (`None`: a cold start), first layer
    /// first: with [`MiRecorder::with_warm_starts`], what a checkpointed run needs to continue.
    pub fn warm_starts(&self) -> &[Option<WarmStart>] {
        &self.warm
    }
    /// The recorder with the warm starts `warm` (of [`MiRecorder::warm_starts`]), as if it had
    /// already solved the epochs that produced them.
    pub fn with_warm_starts(mut self, warm: Vec<Option<WarmStart>>) -> Self {
        self.set_warm_starts(warm);
        self
    }
    /// Replace the warm starts, as [`MiRecorder::with_warm_starts`] does.
    pub fn set_warm_starts(&mut self, warm: Vec<Option<WarmStart>>) {
        self.warm = warm;
    }
    pub fn into_records(self) -> Vec<MiRecord> {
        self.records
    }
    /// Every epoch the recorder observed (as an [`EpochObserver`]), in order, with its
    /// statistics and records together: one stream, no join by epoch number.
    pub fn epochs(&self) -> impl Iterator<Item = EpochRecord<'_>> {
        self.epochs.iter().map(|(stats, range)| EpochRecord {
            stats,
            layers: &self.records[range.clone()],
        })
    }

    /// The replica chain measuring layer `l` (1-based) from the spectra and activations of the
    /// student layers `1..=l`.
    pub fn chain(
        &self,
        spectra: &[LayerSpectrum],
        acts: &[Act],
        l: usize,
    ) -> Result<Chain, ReplicaError> {
        if l == 0 || l > spectra.len() || acts.len() < l {
            return Err(ReplicaError::InvalidChain(format!(
                "cannot measure layer {l} of {} spectra / {} activations",
                spectra.len(),
                acts.len()
            )));
        }
        let mut layers = Vec::with_capacity(l + 1);
        if let MiSetting::Generative {
            spectrum,
            noise_var,
            ..
        } = &self.setting
        {
            layers.push(replica_layer(spectrum, Activation::Linear, *noise_var)?);
        }
        for j in 0..l {
            let act =
                super::channel(acts[j]).map_err(|e| ReplicaError::InvalidChain(e.to_string()))?;
            let noise = if j + 1 == l {
                self.config.measure_noise
            } else {
                0.0
            };
            layers.push(replica_layer(&spectra[j], act, noise)?);
        }
        Chain::new(Prior::gaussian(0.0, 1.0)?, layers)
    }

    /// Exact Gaussian `(H(T_l), I(X; T_l))` from explicit student weights `1..=l`.
    pub fn exact_values(&self, student: &[Mat<f64>]) -> Option<(f64, f64)> {
        let s2 = self.config.measure_noise;
        let n_l = student.last()?.nrows() as f64;
        let mut weights = Vec::with_capacity(student.len() + 1);
        let mut noises = Vec::with_capacity(student.len() + 1);
        if let MiSetting::Generative {
            weight, noise_var, ..
        } = &self.setting
        {
            weights.push(weight.clone());
            noises.push(*noise_var);
        }
        for w in student {
            weights.push(w.clone());
            noises.push(0.0);
        }
        *noises.last_mut()? = s2;
        let n = weights[0].ncols() as f64;
        let h = crate::exact::gaussian_chain_entropy(1.0, &weights, &noises)?;
        Some((h, h - n_l * (2.0 * PI * E * s2).ln() / (2.0 * n)))
    }

    /// Evaluate every leading USV layer of `network` now (given its spectra), append the records
    /// tagged `epoch` and return them.
    pub fn evaluate(
        &mut self,
        epoch: usize,
        network: &Network,
        spectra: &[LayerSpectrum],
    ) -> Result<&[MiRecord], NnError> {
        let jobs = self.jobs(network, spectra)?;
        let results = self.solve_jobs(&jobs);
        let start = self.records.len();
        for (job, (est, seconds)) in jobs.into_iter().zip(results) {
            let rec = self.record(epoch, job, est, seconds);
            self.records.push(rec);
        }
        Ok(&self.records[start..])
    }

    /// One job per leading USV layer `l = 1..=n` (`n` the layers with a spectrum): the chain of
    /// `T_l`, the warm start of the previous evaluation (if warm starts are on) and, for a linear
    /// prefix with `exact` on, the exact Gaussian `H(T_l)`, `I(X; T_l)` from the explicit weights.
    fn jobs(&mut self, network: &Network, spectra: &[LayerSpectrum]) -> Result<Vec<Job>, NnError> {
        let usv = network.usv_prefix();
        let acts: Vec<Act> = usv.iter().map(|l| l.act()).collect();
        let n = spectra.len().min(usv.len());
        if self.warm.len() < n {
            self.warm.resize(n, None);
        }
        // Explicit weights only when some prefix is linear.
        let linear_prefix = acts
            .iter()
            .take_while(|a| **a == Act::Linear)
            .count()
            .min(n);
        let weights: Vec<Mat<f64>> = if self.config.exact {
            usv[..linear_prefix]
                .iter()
                .map(|l| l.weight())
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok((1..=n)
            .map(|l| Job {
                layer: l,
                width: usv[l - 1].n_out(),
                act: acts[l - 1],
                chain: self.chain(spectra, &acts, l),
                warm: if self.config.warm_start {
                    self.warm[l - 1].clone()
                } else {
                    None
                },
                exact: if l <= weights.len() {
                    self.exact_values(&weights[..l])
                } else {
                    None
                },
            })
            .collect())
    }

    /// Solve every job (in parallel on the rayon pool if the configuration says so), warm where
    /// the job has a warm start: each estimate with its wall time in seconds.
    fn solve_jobs(&self, jobs: &[Job]) -> Vec<(Result<Estimate, ReplicaError>, f64)> {
        let opts = self.config.solver;
        let run = |job: &Job| -> (Result<Estimate, ReplicaError>, f64) {
            let t0 = Instant::now();
            let est = match &job.chain {
                Err(e) => Err(e.clone()),
                Ok(chain) => match &job.warm {
                    Some(p) => solve_warm(chain, &opts, p),
                    None => solve(chain, &opts),
                },
            };
            (est, t0.elapsed().as_secs_f64())
        };
        if self.config.parallel {
            jobs.par_iter().map(run).collect()
        } else {
            jobs.iter().map(run).collect()
        }
    }

    /// The record of one job's estimate (a failed solve is recorded, not raised); a converged
    /// estimate becomes the layer's next warm start.
    fn record(
        &mut self,
        epoch: usize,
        job: Job,
        est: Result<Estimate, ReplicaError>,
        seconds: f64,
    ) -> MiRecord {
        let (exact_entropy, exact_mi) = match job.exact {
            Some((h, i)) => (Some(h), Some(i)),
            None => (None, None),
        };
        let mut rec = MiRecord {
            epoch,
            layer: job.layer,
            width: job.width,
            activation: job.act,
            per: self.setting.normalisation(),
            entropy: None,
            mi: None,
            converged: false,
            scheme: None,
            iterations: 0,
            residual: None,
            warm_started: job.warm.is_some(),
            error: None,
            exact_entropy,
            exact_mi,
            seconds,
        };
        match est {
            Ok(e) => {
                let mi = match self.setting {
                    // X is the chain input: I(X; T_l) is the estimator's mutual information.
                    MiSetting::Regression => e.mutual_information,
                    // The chain input is Y and the generative layer is noisy; the student
                    // layers before l are noiseless, so I(X; T_l) = H(T_l) - H(T_l | T_{l-1})
                    // (module docs).
                    MiSetting::Generative { .. } => Some(e.mi_last_layer),
                };
                rec.entropy = Some(e.entropy);
                rec.mi = mi;
                rec.converged = true;
                rec.scheme = Some(e.scheme);
                rec.iterations = e.iterations;
                rec.residual = Some(e.residual);
                if mi.is_none() {
                    rec.error = Some(MiFailure::NoMutualInformation);
                }
                self.warm[job.layer - 1] = Some(e.warm_start());
            }
            Err(e) => rec.error = Some(MiFailure::Solve(e)),
        }
        rec
    }

    /// The last epoch's `I(X; T_l)` values, e.g. `"I 0.91 0.85 - 0.60"`.
    fn last_status(&self) -> Option<String> {
        let last = self.records.last()?.epoch;
        let vals: Vec<String> = self
            .records
            .iter()
            .rev()
            .take_while(|r| r.epoch == last)
            .map(|r| r.mi.map_or("-".to_string(), |v| format!("{v:.3}")))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Some(format!("I {}", vals.join(" ")))
    }
}

impl EpochObserver for MiRecorder {
    fn observe(&mut self, ctx: &EpochContext<'_>) -> Result<(), NnError> {
        let start = self.records.len();
        if ctx.stats.epoch.is_multiple_of(self.config.every) {
            self.evaluate(ctx.stats.epoch, ctx.network, &ctx.spectra()?)?;
        }
        self.epochs
            .push((ctx.stats.clone(), start..self.records.len()));
        Ok(())
    }
    fn status(&self) -> Option<String> {
        self.last_status()
    }
}
