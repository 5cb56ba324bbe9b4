//! The figure harness's integration tests, one binary: each module a family of checks (figures
//! against their stored references, shards, checkpoints, the training side through the harness),
//! `common` what they share.

mod checked_params;
mod checked_training;
mod common;
mod cross_device;
mod epoch_timer;
mod fig2;
mod fig3;
mod fig4;
#[allow(non_snake_case)]
mod figS2;
mod idx;
mod nn;
mod resume;
mod shard;
mod shard_figs2;
