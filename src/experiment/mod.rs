//! The figure harness shared by every figure binary, and the experiments themselves.
//!
//! * [`driver`]: the [`Figure`](driver::Figure) trait (what is particular to a figure) and the one `main` of
//!   every figure binary (arguments, full run, `--shard`, `merge`, checkpoints, provenance);
//! * [`cli`]: the common arguments (`--scale`, `--seed`, `--out`, `--quiet`);
//! * [`progress`]: what an experiment reports as it goes, and the progress bar that draws it;
//! * [`checkpoint`]: checkpoints of the runs that train, `--resume`, stop on SIGUSR1 / SIGTERM;
//! * [`record`]: run records (`<name>.provenance.json` beside each CSV);
//! * [`table`]: tidy CSV output (one row per point, one column per quantity, units in the names);
//! * [`plot`]: multi-panel SVG figures (plotters);
//! * [`output`]: what a figure binary writes (folder, tables, figures, provenance, summary);
//! * [`shard`]: a figure's independent runs split over processes (`--shard K/N`) and the checked
//!   merge of their outputs (`<figure> merge DIR`);
//! * [`compare`]: a produced CSV against its reference in `data/reference/` (polars), with a
//!   typed report;
//! * [`cross_device`]: one training figure run on the CPU and on CUDA, compared with stated
//!   float32 tolerances;
//! * [`fig2`]: Figure 2 and S1 of the paper (entropy and mutual information of random 2-layer
//!   networks vs the weight scale); [`fig3`], [`fig4`]; [`figs2`]: Figure S2 (USV against dense
//!   layers on an MNIST-format data set).
//!
//! The harness knows nothing of quadrature or of the replica equations: experiments call
//! [`crate::replica`] and [`crate::exact`] and hand plain rows to the harness.

pub mod checkpoint;
pub mod cli;
pub mod compare;
pub mod cross_device;
pub mod driver;
pub mod error;
pub mod fig2;
pub mod fig3;
pub mod fig4;
pub mod figs2;
pub mod output;
pub mod plot;
pub mod progress;
pub mod record;
pub mod shard;
pub mod table;

pub use cli::{device_label, CommonArgs, Scale, TrainingArgs};
pub use compare::{
    compare_csv, compare_frames, CompareSpec, ComparisonReport, Failure, Side, Tolerance,
};
pub use cross_device::TrainingFigure;
pub use error::ExperimentError;
pub use output::FigureOutput;
pub use progress::{progress_bar, Progress, Silent};
pub use record::{RunClock, RunRecord, RunSeeds, Timestamp};
pub use shard::{Merged, Shard, ShardArgs, ShardCommand, ShardError, ShardedRow};
pub use table::write_csv;
