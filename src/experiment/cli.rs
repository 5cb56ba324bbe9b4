//! Command-line arguments shared by every figure binary.
//!
//! ```text
//! --scale quick|default|paper   problem size (each figure states what a scale means)
//! --seed N                      seed of every random draw
//! --out DIR                     output folder (default figures/output)
//! --quiet                       no progress bars, no summary on stdout
//! --device cpu|cuda[:N]|auto    where networks are trained (figures that train: fig3, fig4)
//! --epochs N                    epochs instead of the scale's (fig3, fig4)
//! ```

use super::error::ExperimentError;
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Problem size of a figure run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Seconds: small sizes, used by the regression test against `data/reference/`.
    Quick,
    /// A minute or two on a laptop: the figures of the README.
    Default,
    /// The paper's sizes.
    Paper,
}

impl std::fmt::Display for Scale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scale::Quick => "quick",
            Scale::Default => "default",
            Scale::Paper => "paper",
        })
    }
}

/// The arguments every figure binary accepts (`#[command(flatten)]` them).
#[derive(Clone, Debug, clap::Args)]
pub struct CommonArgs {
    /// Problem size.
    #[arg(long, value_enum, default_value_t = Scale::Default)]
    pub scale: Scale,
    /// Seed of every random draw (weights, inputs, noise).
    #[arg(long, default_value_t = 2018)]
    pub seed: u64,
    /// Output folder (created if missing).
    #[arg(long, default_value = "figures/output")]
    pub out: PathBuf,
    /// No progress bars and no summary on stdout.
    #[arg(long)]
    pub quiet: bool,
}

impl CommonArgs {
    /// Whether progress bars are drawn: not with `--quiet`, not when the environment variable
    /// `CI` is set, not when stderr is not a terminal.
    pub fn show_progress(&self) -> bool {
        !self.quiet && std::env::var_os("CI").is_none() && std::io::stderr().is_terminal()
    }

    /// Create the output folder.
    pub fn create_out_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.out)
    }
}

/// `--device` and `--epochs`, for the figure binaries that train networks (`#[command(flatten)]`
/// them). The replica estimator and the exact values are computed in f64 on the host whatever the
/// device.
#[derive(Clone, Debug, clap::Args)]
pub struct TrainingArgs {
    /// Where networks are trained: cpu, cuda, cuda:N, or auto (a GPU when this build has CUDA
    /// support and one opens, else the CPU with a message). CUDA needs `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Train this many epochs instead of the scale's (e.g. to time a paper-scale epoch); the
    /// configuration in the provenance file records it.
    #[arg(long)]
    pub epochs: Option<usize>,
}

impl TrainingArgs {
    /// Open the device (see [`crate::nn::device()`]); an error names the cause.
    pub fn open(&self) -> Result<candle_core::Device, ExperimentError> {
        crate::nn::device(&self.device).map_err(|source| ExperimentError::Network {
            at: "--device".into(),
            source,
        })
    }
}

/// `"cpu"` or `"cuda:N"`: where a device is, for the provenance record.
pub fn device_label(dev: &candle_core::Device) -> String {
    match dev.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}
