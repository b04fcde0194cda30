//! `polymodal demo`: the main job on the built-in data. Trains the default fused model on
//! AV-Digits, then runs the quick active-learning simulation, and writes one readable report.

use crate::config;
use anyhow::Result;
use polymodal_core::fsutil;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The quick simulation config, compiled in so `demo` works from any directory.
pub const QUICK_SIMULATION: &str = include_str!("../../../../configs/al-avdigits-quick.toml");

pub fn default_out() -> PathBuf {
    PathBuf::from(format!("runs/demo-{}", polymodal_core::run::unix_now()))
}

pub fn run(out: &Path, overrides: &[String], skip_simulation: bool) -> Result<()> {
    let cfg = config::parse(
        config::DEFAULT_CONFIG,
        "configs/avdigits.toml (built in)",
        overrides,
    )?;
    let train_dir = out.join("train");
    let summary = super::train::run(cfg, &train_dir)?;
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

    let mut md = String::new();
    writeln!(md, "# polymodal demo on AV-Digits\n")?;
    writeln!(md, "## 1. Fused classifier\n")?;
    writeln!(md, "| head | test accuracy |\n|---|---|")?;
    writeln!(md, "| fused | {:.4} |", test.fused.accuracy)?;
    for (name, m) in &test.per_modality {
        writeln!(md, "| {name} only | {:.4} |", m.accuracy)?;
    }
    writeln!(
        md,
        "\nFull training report: [train/report.md](train/report.md)\n"
    )?;
    writeln!(md, "![confusion matrix](train/confusion.svg)\n")?;

    if !skip_simulation {
        let sim_cfg = crate::simulate::config::parse(
            QUICK_SIMULATION,
            "configs/al-avdigits-quick.toml (built in)",
            &[],
        )?;
        let sim_dir = out.join("active-learning");
        let s = crate::simulate::run(sim_cfg, &sim_dir)?;
        println!("quick active-learning simulation:");
        writeln!(md, "## 2. Active learning (quick simulation)\n")?;
        writeln!(md, "| strategy | AUBC (mean ± std over seeds) |\n|---|---|")?;
        for (name, mean, std, _) in &s.aubc {
            println!("  {name:<16} AUBC {mean:.4} ± {std:.4}");
            writeln!(md, "| {name} | {mean:.4} ± {std:.4} |")?;
        }
        writeln!(
            md,
            "\nFull simulation report: [active-learning/report.md](active-learning/report.md)\n"
        )?;
        writeln!(md, "![learning curves](active-learning/curves.svg)\n")?;
        writeln!(
            md,
            "![modality contribution](active-learning/contribution.svg)\n"
        )?;
    }
    fsutil::write_atomic(&out.join(crate::report::REPORT), md.as_bytes())?;
    println!("report: {}", out.join(crate::report::REPORT).display());
    Ok(())
}
