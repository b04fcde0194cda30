//! `polymodal demo`: the main job on the built-in data. Trains the default fused model on
//! AV-Digits and writes a readable report.

use crate::config;
use anyhow::Result;
use std::path::{Path, PathBuf};

pub fn default_out() -> PathBuf {
    PathBuf::from(format!("runs/demo-{}", polymodal_core::run::unix_now()))
}

pub fn run(out: &Path, overrides: &[String]) -> Result<()> {
    let cfg = config::parse(
        config::DEFAULT_CONFIG,
        "configs/avdigits.toml (built in)",
        overrides,
    )?;
    let summary = super::train::run(cfg, out)?;
    let test = &summary.metrics.test;
    println!("polymodal demo: fused multimodal classifier on AV-Digits");
    println!("  test accuracy (fused)   {:.4}", test.fused.accuracy);
    for (name, m) in &test.per_modality {
        println!("  test accuracy ({name:<5} only) {:.4}", m.accuracy);
    }
    println!(
        "  macro-F1 {:.4}, ECE {:.4}",
        test.fused.macro_f1, test.fused.ece
    );
    println!(
        "  {:.0} s; report: {}",
        summary.seconds,
        out.join(crate::report::REPORT).display()
    );
    Ok(())
}
