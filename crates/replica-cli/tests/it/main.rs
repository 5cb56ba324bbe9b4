//! The command line's tests, one binary: each module a family of behaviours.

mod cli;
mod cli_inputs;
mod cli_notes;
mod common;
mod search_flags;
