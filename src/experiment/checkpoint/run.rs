//! The part of a checkpointed figure run that every figure which trains shares: opening the
//! checkpoints of a binary (signal handlers, identity, `--resume`), the sequence of training runs
//! that skips those finished before the checkpoint, and one training run continued from its
//! checkpoint and checkpointed after each observed epoch.
//!
//! A figure says what it records per epoch through [`Recording`]; [`train_run`] does the rest:
//! restores the network's variables and the recording's state from the checkpoint when it holds
//! this run, trains from the saved position, passes the kill point `epoch` (for the tests) and
//! writes checkpoints through [`Checkpoints::after_epoch`].

use super::{install_stop_handlers, kill_point, CheckpointArgs, Checkpoints, Identity};
use crate::checked::Checked;
use crate::experiment::cli::{CommonArgs, Scale};
use crate::experiment::error::ExperimentError;
use crate::nn::{
    train_from, EpochContext, Network, NnError, TensorData, TrainConfig, TrainPosition,
};
use crate::replica::WarmStart;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a figure records during one training run, and what it takes back from a checkpoint.
pub trait Recording<R> {
    /// Continue from a checkpoint taken at `position`: the run's rows up to that epoch and the
    /// warm starts saved by [`Recording::warm_starts`].
    fn resume(&mut self, position: &TrainPosition, rows: Vec<R>, warm: Vec<Option<WarmStart>>);
    /// Record one trained epoch (its MI solve, for the figures that measure it).
    fn observe(&mut self, ctx: &EpochContext<'_>) -> Result<(), NnError>;
    /// The run's rows so far, those restored from a checkpoint first.
    fn rows(&self) -> Vec<R>;
    /// The estimator's warm starts to save with a checkpoint (none for a run without MI).
    fn warm_starts(&self) -> Vec<Option<WarmStart>> {
        Vec::new()
    }
}

/// Train `net` on `data` as the run named `run`, recording with `rec`, checkpointed in `ck`: when
/// `ck` resumed this run, the network's variables and `rec` are restored and training continues
/// from the saved position. Its rows (with those restored); a stop by a signal gives
/// [`ExperimentError::Stopped`], any other training error `nn(e)`.
pub fn train_run<R, Rec>(
    ck: &mut Checkpoints<R>,
    run: &str,
    net: &Network,
    data: &TensorData,
    tcfg: &Checked<TrainConfig>,
    rec: &mut Rec,
    nn: impl FnOnce(NnError) -> ExperimentError,
) -> Result<Vec<R>, ExperimentError>
where
    R: Clone + Serialize + DeserializeOwned,
    Rec: Recording<R>,
{
    let from = match ck.take_resume(run) {
        Some(r) => {
            r.restore(net)?;
            let position = r.state.position;
            rec.resume(&position, r.state.rows, r.state.warm);
            Some(position)
        }
        None => None,
    };
    let mut observer = |ctx: &EpochContext<'_>| -> Result<(), NnError> {
        kill_point("epoch");
        ck.note_engine(ctx.engine);
        rec.observe(ctx)?;
        ck.after_epoch(run, ctx, || (rec.rows(), rec.warm_starts()))
    };
    match train_from(net, data, tcfg, &mut observer, from) {
        Ok(_) => Ok(rec.rows()),
        Err(e) => Err(ck.training_error(e, nn)),
    }
}

impl<R: Clone + Serialize + DeserializeOwned> Checkpoints<R> {
    /// The checkpoints of a figure binary's run: SIGUSR1 / SIGTERM turned into a stop request,
    /// the run's [`Identity`] (`figure`, output `stem`, the scale and seed of `common`, `shard`,
    /// `config`), and [`Checkpoints::open`] in `common.out`.
    pub fn start<C: Serialize>(
        common: &CommonArgs,
        figure: &str,
        stem: &str,
        shard: Option<String>,
        config: &C,
        args: &CheckpointArgs,
    ) -> Result<Self, ExperimentError> {
        install_stop_handlers()?;
        let scale: Scale = common.scale;
        let id = Identity::new(figure, stem, scale, common.seed, shard, config)?;
        Checkpoints::open(&common.out, id, args)
    }

    /// Run each of `runs` in order with `train`, except those that finished before the checkpoint
    /// this run resumed from (`skipped` is called for them instead); each run's rows are kept as
    /// it finishes ([`Checkpoints::finish_run`]). The rows of every run, in order.
    pub fn run_each<K>(
        &mut self,
        runs: &[K],
        name: impl Fn(&K) -> String,
        mut train: impl FnMut(&mut Self, &K) -> Result<Vec<R>, ExperimentError>,
        mut skipped: impl FnMut(&K),
    ) -> Result<Vec<R>, ExperimentError> {
        for k in runs {
            let n = name(k);
            if self.is_finished(&n) {
                skipped(k);
                continue;
            }
            let rows = train(self, k)?;
            self.finish_run(&n, rows)?;
        }
        Ok(self.rows().to_vec())
    }

    /// For a run made of many small independent parts (`chain-grid`'s chains), without epochs:
    /// keep the rows of one more part, and write a checkpoint of every row kept when one is due
    /// (`Every::Epochs(n)`: after `n` parts since the last).
    pub fn add_part(&mut self, rows: Vec<R>) -> Result<(), ExperimentError> {
        self.rows.extend(rows);
        if self.path.is_none() {
            return Ok(());
        }
        self.epochs_since += 1;
        if self.due() {
            self.write(None, Vec::new())?;
        }
        Ok(())
    }

    /// A signal asked the run to stop: write a checkpoint of the rows kept (when this run has a
    /// checkpoint file) and give the error that ends the run ([`ExperimentError::Stopped`]).
    pub fn stop_now(&mut self) -> ExperimentError {
        let Some(path) = self.path.clone() else {
            return ExperimentError::InvalidConfig("stopped by a signal".into());
        };
        if let Err(e) = self.write(None, Vec::new()) {
            return e;
        }
        self.stopped = true;
        ExperimentError::Stopped { checkpoint: path }
    }
}
