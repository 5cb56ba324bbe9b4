//! What the command-line tests share: the binary and how to run it.

use std::process::{Command, Output};

/// The `replica-mi` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_replica-mi");

/// Run `replica-mi` with `args`; its status and output, whatever they are.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("cannot run replica-mi")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
