//! Typed errors of the figure harness.
//!
//! One variant per kind of failure, each naming where it happened (a path, or `at`: the run and
//! the point of a sweep); the failure itself is the variant's `source()`, never repeated in its
//! message, so a chain printed whole (anyhow's `{:?}` or `{:#}` in the binaries) says each thing
//! once. Every lower error has one way in: the estimator's through `Replica`, the sample
//! estimators' through `Nonparam`, the network's through `Network`, the recorder's set-up through
//! `Bridge`, the synthetic data's through `Synth`, the IDX files' through `Data`.

use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong while running an experiment and writing its outputs.
#[derive(Debug, Error)]
pub enum ExperimentError {
    /// Reading or writing a file.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing a CSV file.
    #[error("{path}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    /// Writing a provenance file.
    #[error("{path}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Drawing a figure.
    #[error("plotting {path}: {message}")]
    Plot { path: PathBuf, message: String },
    /// A configuration that cannot be run.
    /// A relation between configuration fields that does not hold, or a configuration that
    /// cannot be recorded.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A configuration field that breaks its rule (worded as every parameter error of the
    /// workspace: `invalid <field> = <value>: <rule>`).
    #[error(transparent)]
    InvalidParameter(#[from] replica_core::params::ParamError),
    /// The replica estimator failed at one point of a sweep (`at` says which).
    #[error("replica estimate at {at}")]
    Replica {
        at: String,
        #[source]
        source: crate::replica::ReplicaError,
    },
    /// A non-parametric estimator failed at one point of a sweep.
    #[error("non-parametric estimate at {at}")]
    Nonparam {
        at: String,
        #[source]
        source: crate::exact::nonparam::NonparamError,
    },
    /// Building, training or measuring a network failed, or its device did not open.
    #[error("{at}")]
    Network {
        at: String,
        #[source]
        source: crate::nn::NnError,
    },
    /// The recorder of replica values during training could not be set up.
    #[error("{at}")]
    Bridge {
        at: String,
        #[source]
        source: crate::bridge::BridgeError,
    },
    /// Synthetic-data parameters that break their rule.
    #[error("{at}")]
    Synth {
        at: String,
        #[source]
        source: crate::synth::SynthError,
    },
    /// A data set on disk is missing or malformed.
    #[error(transparent)]
    Data(#[from] crate::data::IdxError),
    /// A shard specification, or a shard set that cannot be merged.
    #[error(transparent)]
    Shard(#[from] super::shard::ShardError),
    /// SIGUSR1 or SIGTERM stopped the run after it wrote its checkpoint (exit status
    /// [`super::checkpoint::EXIT_STOPPED`]).
    #[error("stopped by a signal; checkpoint {checkpoint} written, run again with --resume")]
    Stopped { checkpoint: PathBuf },
    /// A linear-algebra step (eigenvalues, Cholesky) failed.
    #[error("linear algebra at {at}: {message}")]
    Linalg { at: String, message: String },
}

impl ExperimentError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ExperimentError::Io {
            path: path.into(),
            source,
        }
    }
}
