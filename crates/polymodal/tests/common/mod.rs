//! Shared by the binary's integration tests.

use std::process::{Command, Output};

/// Runs the `polymodal` binary from the repository root with quiet logging.
pub fn polymodal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polymodal"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
