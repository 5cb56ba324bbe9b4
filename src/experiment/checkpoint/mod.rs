//! Checkpoints of the figure runs that train, and their resumption.
//!
//! A figure run is a sequence of training runs (Figure 3's `(width, seed)` runs, Figure 4's
//! variants). A checkpoint, `<out>/<stem>.ckpt`, holds what the rest of the run depends on: the
//! rows of the finished runs; for the run in progress its rows so far, its
//! [`TrainPosition`] (epochs done, position of the minibatch-order generator), the estimator's warm
//! starts (fixed points and secants) and the network's variables (safetensors); and the identity
//! of the run that wrote it (figure, output stem, scale, seed, shard, a hash of the
//! configuration, the commit). Everything else (data, initial weights, the frozen USV factors) is
//! drawn again from the seeds. A resumed run therefore computes the very same bits as one that
//! was never stopped.
//!
//! The file format and its atomic replacement: [`file`](mod@file); when to write and when to stop:
//! [`stop`]; a training run under checkpoints and the sequence of runs, shared by every figure
//! that trains: [`run`](mod@run).

pub mod file;
pub mod run;
pub mod stop;

pub use run::{train_run, Recording};

pub use stop::{
    exit_code, install_stop_handlers, kill_point, stop_requested, CheckpointArgs, Every,
    EXIT_STOPPED, KILL_AT_ENV,
};

use super::cli::Scale;
use super::error::ExperimentError;
use super::record::{git_commit, Timestamp};
use crate::nn::{EngineKind, EpochContext, Network, NnError, TrainPosition};
use crate::replica::WarmStart;
use candle_core::{DType, Tensor};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a checkpoint must agree with to be resumed, field by field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub figure: String,
    /// The output stem (`fig4_hardtanh_only`, `fig3.shard-2-of-4`, ...).
    pub stem: String,
    pub scale: Scale,
    pub seed: u64,
    /// `K/N` of a shard.
    pub shard: Option<String>,
    /// FNV-1a 64 of the configuration's JSON.
    pub config_hash: String,
    /// `git rev-parse HEAD` (`"unknown"` outside a checkout).
    pub commit: String,
}

impl Identity {
    /// The identity of a run of `figure` with output `stem` and configuration `config`, at the
    /// current commit.
    pub fn new<C: Serialize>(
        figure: &str,
        stem: &str,
        scale: Scale,
        seed: u64,
        shard: Option<String>,
        config: &C,
    ) -> Result<Self, ExperimentError> {
        let json = serde_json::to_string(config).map_err(|e| {
            ExperimentError::InvalidConfig(format!("configuration not serialisable: {e}"))
        })?;
        Ok(Identity {
            figure: figure.into(),
            stem: stem.into(),
            scale,
            seed,
            shard,
            config_hash: format!("{:016x}", fnv1a(json.as_bytes())),
            commit: git_commit(),
        })
    }

    /// The first field in which `saved` differs from `self`: its name and both values.
    fn mismatch(&self, saved: &Identity) -> Option<(&'static str, String, String)> {
        let fields: [(&'static str, String, String); 7] = [
            ("figure", self.figure.clone(), saved.figure.clone()),
            ("stem", self.stem.clone(), saved.stem.clone()),
            ("scale", self.scale.to_string(), saved.scale.to_string()),
            ("seed", self.seed.to_string(), saved.seed.to_string()),
            (
                "shard",
                format!("{:?}", self.shard),
                format!("{:?}", saved.shard),
            ),
            (
                "config",
                self.config_hash.clone(),
                saved.config_hash.clone(),
            ),
            ("commit", self.commit.clone(), saved.commit.clone()),
        ];
        fields.into_iter().find(|(_, a, b)| a != b)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The run in progress at a checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState<R> {
    /// The run's name (`width 80 seed 2019`, `linear-relu`).
    pub run: String,
    pub position: TrainPosition,
    /// Its rows up to `position.epoch`.
    pub rows: Vec<R>,
    /// The recorder's warm starts, per measured layer.
    pub warm: Vec<Option<WarmStart>>,
    /// Shape and dtype (`f32`, `f64`) of each network variable, `var.<i>` in the parameters.
    pub vars: Vec<(Vec<usize>, String)>,
}

/// The state section of a checkpoint.
#[derive(Debug, Serialize, Deserialize)]
struct State<R> {
    identity: Identity,
    written: Timestamp,
    /// The checkpoints this run was resumed from, oldest first.
    resumed_from: Vec<String>,
    /// The engines that computed the training steps so far, in the order first seen.
    #[serde(default)]
    engines: Vec<EngineKind>,
    finished_runs: Vec<String>,
    rows: Vec<R>,
    current: Option<RunState<R>>,
}

/// A run in progress loaded from a checkpoint: its state and the network's variables.
pub struct Resume<R> {
    pub state: RunState<R>,
    params: Vec<u8>,
}

impl<R> Resume<R> {
    /// Put the checkpoint's variables into `net` (built from the same seed and spec).
    pub fn restore(&self, net: &Network) -> Result<(), ExperimentError> {
        let bad = |m: String| ExperimentError::InvalidConfig(format!("checkpoint: {m}"));
        let st = safetensors::SafeTensors::deserialize(&self.params)
            .map_err(|e| bad(format!("parameters: {e}")))?;
        let vars = net.vars();
        if vars.len() != self.state.vars.len() {
            return Err(bad(format!(
                "{} variables saved, the network has {}",
                self.state.vars.len(),
                vars.len()
            )));
        }
        for (i, var) in vars.iter().enumerate() {
            let t = st
                .tensor(&format!("var.{i}"))
                .map_err(|e| bad(format!("var.{i}: {e}")))?;
            let (shape, data) = (t.shape().to_vec(), t.data());
            let tensor = match t.dtype() {
                safetensors::Dtype::F32 => {
                    let v: Vec<f32> = data
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    Tensor::from_vec(v, shape, var.device())
                }
                safetensors::Dtype::F64 => {
                    let v: Vec<f64> = data
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                        .collect();
                    Tensor::from_vec(v, shape, var.device())
                }
                d => return Err(bad(format!("var.{i} has dtype {d:?}"))),
            }
            .map_err(|e| bad(format!("var.{i}: {e}")))?;
            var.set(&tensor)
                .map_err(|e| bad(format!("var.{i} does not fit the network: {e}")))?;
        }
        Ok(())
    }
}

/// Shape and dtype name of each saved variable.
type VarShapes = Vec<(Vec<usize>, String)>;

/// A loaded checkpoint: where it came from, its state, its parameter bytes.
type Loaded<R> = (PathBuf, State<R>, Vec<u8>);

/// The network's variables as safetensors, and their shapes and dtypes.
fn save_params(net: &Network) -> Result<(Vec<u8>, VarShapes), NnError> {
    let mut raw: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, var) in net.vars().iter().enumerate() {
        let t = var.as_tensor();
        let shape = t.dims().to_vec();
        let flat = t.flatten_all()?;
        let (dtype, bytes) = match t.dtype() {
            DType::F64 => (
                safetensors::Dtype::F64,
                flat.to_vec1::<f64>()?
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ),
            _ => (
                safetensors::Dtype::F32,
                flat.to_dtype(DType::F32)?
                    .to_vec1::<f32>()?
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ),
        };
        raw.push((format!("var.{i}"), dtype, shape, bytes));
    }
    let views = raw
        .iter()
        .map(|(n, d, s, b)| {
            safetensors::tensor::TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NnError::Observer(format!("checkpoint parameters: {e}")))?;
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| NnError::Observer(format!("checkpoint parameters: {e}")))?;
    let meta = raw
        .into_iter()
        .map(|(_, d, s, _)| {
            (
                s,
                if d == safetensors::Dtype::F64 {
                    "f64"
                } else {
                    "f32"
                }
                .into(),
            )
        })
        .collect();
    Ok((bytes, meta))
}

/// The checkpoints of one figure run: what it resumed from, when to write, what to write.
pub struct Checkpoints<R> {
    path: Option<PathBuf>,
    identity: Option<Identity>,
    every: Every,
    last: Instant,
    epochs_since: usize,
    resumed_from: Vec<String>,
    engines: Vec<EngineKind>,
    finished_runs: Vec<String>,
    rows: Vec<R>,
    resume: Option<Resume<R>>,
    stopped: bool,
}

impl<R: Clone + Serialize + DeserializeOwned> Checkpoints<R> {
    /// No checkpoints (library callers, tests): the run keeps its rows and nothing else.
    pub fn none() -> Self {
        Checkpoints {
            path: None,
            identity: None,
            every: Every::Off,
            last: Instant::now(),
            epochs_since: 0,
            resumed_from: Vec::new(),
            engines: Vec::new(),
            finished_runs: Vec::new(),
            rows: Vec::new(),
            resume: None,
            stopped: false,
        }
    }

    /// The checkpoints of the run `identity` in the folder `out` (`<out>/<stem>.ckpt`); with
    /// `args.resume`, the state of the newest valid checkpoint there, refused if it belongs to
    /// another run. Messages about what was found go to stderr.
    pub fn open(
        out: &Path,
        identity: Identity,
        args: &CheckpointArgs,
    ) -> Result<Self, ExperimentError> {
        let path = out.join(format!("{}.ckpt", identity.stem));
        let mut c = Self::none();
        c.every = args.checkpoint_every;
        if args.resume {
            match load::<R>(&path)? {
                None => eprintln!(
                    "{}: no checkpoint in {}, starting from the beginning",
                    identity.figure,
                    out.display()
                ),
                Some((from, state, params)) => {
                    if let Some((field, now, then)) = identity.mismatch(&state.identity) {
                        return Err(ExperimentError::InvalidConfig(format!(
                            "checkpoint {} belongs to another run: field `{field}` is {then} \
                             there, {now} here (remove it, or run with the same {field})",
                            from.display()
                        )));
                    }
                    eprintln!(
                        "{}: resuming from {} (written {}, {} runs finished{})",
                        identity.figure,
                        from.display(),
                        state.written.utc,
                        state.finished_runs.len(),
                        state.current.as_ref().map_or(String::new(), |s| format!(
                            ", {} at epoch {}",
                            s.run, s.position.epoch
                        ))
                    );
                    c.resumed_from = state.resumed_from;
                    c.resumed_from
                        .push(format!("{} ({})", from.display(), state.written.utc));
                    c.engines = state.engines;
                    c.finished_runs = state.finished_runs;
                    c.rows = state.rows;
                    c.resume = state.current.map(|state| Resume { state, params });
                }
            }
        }
        c.path = Some(path);
        c.identity = Some(identity);
        Ok(c)
    }

    /// The checkpoints this run resumed from (for the provenance record), oldest first.
    pub fn resumed_from(&self) -> &[String] {
        &self.resumed_from
    }

    /// The engines that computed the training steps of the runs so far (those before the
    /// checkpoint this run resumed from included), in the order first seen: what the provenance
    /// record says ([`FigureOutput::trained_with`](crate::experiment::FigureOutput::trained_with)).
    pub fn engines(&self) -> &[EngineKind] {
        &self.engines
    }

    /// Note that `engine` computed training steps (called by [`train_run`] for every epoch).
    pub fn note_engine(&mut self, engine: EngineKind) {
        if !self.engines.contains(&engine) {
            self.engines.push(engine);
        }
    }

    /// Whether run `run` finished before the checkpoint this run resumed from.
    pub fn is_finished(&self, run: &str) -> bool {
        self.finished_runs.iter().any(|r| r == run)
    }

    /// The saved state of `run` if it was the run in progress at the checkpoint.
    pub fn take_resume(&mut self, run: &str) -> Option<Resume<R>> {
        if self.resume.as_ref().is_some_and(|r| r.state.run == run) {
            self.resume.take()
        } else {
            None
        }
    }

    /// Whether a signal stopped the run (after its checkpoint).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The error of a training that ended with `e`: [`ExperimentError::Stopped`] when this
    /// stopped it, else `other(e)`.
    pub fn training_error(
        &self,
        e: NnError,
        other: impl FnOnce(NnError) -> ExperimentError,
    ) -> ExperimentError {
        match (&self.path, self.stopped) {
            (Some(p), true) => ExperimentError::Stopped {
                checkpoint: p.clone(),
            },
            _ => other(e),
        }
    }

    /// Called after each observed epoch of run `run` (after its MI solve): write a checkpoint
    /// when one is due or a stop was asked; after a stop's checkpoint, an error that ends the
    /// training. `state` gives the run's rows so far and warm starts.
    pub fn after_epoch(
        &mut self,
        run: &str,
        ctx: &EpochContext<'_>,
        state: impl FnOnce() -> (Vec<R>, Vec<Option<WarmStart>>),
    ) -> Result<(), NnError> {
        kill_point("mi");
        if self.path.is_none() {
            return Ok(());
        }
        self.epochs_since += 1;
        let stop = stop_requested();
        let due = self.due();
        if !(due || stop) {
            return Ok(());
        }
        let (rows, warm) = state();
        let (params, vars) = save_params(ctx.network)?;
        let current = RunState {
            run: run.into(),
            position: ctx.position,
            rows,
            warm,
            vars,
        };
        self.write(Some(current), params)
            .map_err(|e| NnError::Observer(format!("writing the checkpoint: {e}")))?;
        if stop {
            self.stopped = true;
            return Err(NnError::Observer("stopped by a signal".into()));
        }
        Ok(())
    }

    /// Whether a checkpoint is due: `every` epochs (or parts) or seconds since the last one.
    fn due(&self) -> bool {
        match self.every {
            Every::Epochs(n) => self.epochs_since >= n,
            Every::Seconds(s) => self.last.elapsed().as_secs_f64() >= s,
            Every::Off => false,
        }
    }

    /// Run `run` finished with `rows`: keep them (and checkpoint at once if a stop was asked).
    pub fn finish_run(&mut self, run: &str, rows: Vec<R>) -> Result<(), ExperimentError> {
        self.rows.extend(rows);
        self.finished_runs.push(run.into());
        if self.path.is_some() && stop_requested() {
            self.write(None, Vec::new())?;
            self.stopped = true;
            return Err(ExperimentError::Stopped {
                checkpoint: self.path.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// The rows of every finished run, in the order they finished.
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// Remove the checkpoint files (the run's outputs are complete).
    pub fn remove(&self) -> Result<(), ExperimentError> {
        match &self.path {
            Some(p) => file::remove_all(p),
            None => Ok(()),
        }
    }

    fn write(
        &mut self,
        current: Option<RunState<R>>,
        params: Vec<u8>,
    ) -> Result<(), ExperimentError> {
        let (Some(path), Some(identity)) = (&self.path, &self.identity) else {
            return Ok(());
        };
        let state = State {
            identity: identity.clone(),
            written: Timestamp::now(),
            resumed_from: self.resumed_from.clone(),
            engines: self.engines.clone(),
            finished_runs: self.finished_runs.clone(),
            rows: self.rows.clone(),
            current,
        };
        let mut bytes = Vec::new();
        ciborium::into_writer(&state, &mut bytes).map_err(|e| {
            ExperimentError::InvalidConfig(format!("checkpoint state not serialisable: {e}"))
        })?;
        let all = file::encode(&file::Sections {
            state: bytes,
            params,
        });
        file::write_atomic(path, &all, &|p| kill_point(p))?;
        self.last = Instant::now();
        self.epochs_since = 0;
        Ok(())
    }
}

/// The newest valid checkpoint at `path` or its previous one: where it came from, its state and
/// parameter bytes; `None` when there is none. A damaged file is reported on stderr and the
/// previous one tried.
fn load<R: DeserializeOwned>(path: &Path) -> Result<Option<Loaded<R>>, ExperimentError> {
    for p in [path.to_path_buf(), file::previous(path)] {
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ExperimentError::io(p, e)),
        };
        let parsed = file::decode(&bytes).and_then(|s| {
            let state: State<R> = ciborium::from_reader(&s.state[..])
                .map_err(|e| file::CorruptCheckpoint::State(e.to_string()))?;
            safetensors::SafeTensors::deserialize(&s.params)
                .map(|_| ())
                .or_else(|e| match state.current {
                    // A checkpoint between two runs has no parameters.
                    None if s.params.is_empty() => Ok(()),
                    _ => Err(file::CorruptCheckpoint::Params(e.to_string())),
                })?;
            Ok((state, s.params))
        });
        match parsed {
            Ok((state, params)) => return Ok(Some((p, state, params))),
            Err(e) => eprintln!(
                "checkpoint {} is damaged ({e}); trying the previous one",
                p.display()
            ),
        }
    }
    Ok(None)
}
