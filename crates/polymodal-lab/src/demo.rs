//! `demo`: the main job on the built-in data. Trains the default fused model on AV-Digits, then
//! runs the quick active-learning simulation, and writes one readable report.

use crate::config::{RunConfig, QUICK_SIMULATION};
use crate::data::Locations;
use crate::progress::Progress;
use crate::report::REPORT;
use crate::simulate::config::SimConfig;
use crate::simulate::outputs::Summary;
use crate::train::TrainSummary;
use crate::LabError;
use polymodal_core::fsutil;
use polymodal_train::TrainObserver;
use std::fmt::Write as _;
use std::path::Path;

pub struct DemoOutcome {
    pub train: TrainSummary,
    pub simulation: Option<Summary>,
    pub report: std::path::PathBuf,
}

/// Refuses a non-empty `out` before any work, like `train` does.
fn check_out(out: &Path) -> Result<(), LabError> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(|e| LabError::io(out, e))?;
        if entries.next().is_some() {
            return Err(LabError::run_dir(
                out,
                "output directory already exists and is not empty; choose another --out",
            ));
        }
    }
    Ok(())
}

pub fn run(
    out: &Path,
    overrides: &[String],
    skip_simulation: bool,
    at: &Locations,
    observer: &mut dyn TrainObserver,
    progress: &dyn Progress,
) -> Result<DemoOutcome, LabError> {
    // Everything is parsed and validated before the first model trains.
    let cfg = RunConfig::built_in(overrides)?.check("configs/avdigits.toml (built in)")?;
    let sim_cfg = if skip_simulation {
        None
    } else {
        let origin = "configs/al-avdigits-quick.toml (built in)";
        Some(SimConfig::parse(QUICK_SIMULATION, origin, &[])?.check(origin)?)
    };
    check_out(out)?;
    let train = crate::train::run(cfg, &out.join("train"), at, observer)?;
    let test = &train.metrics.test;
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
    let simulation = match sim_cfg {
        None => None,
        Some(sim_cfg) => {
            let s = crate::simulate::run(sim_cfg, &out.join("active-learning"), at, progress)?;
            writeln!(md, "## 2. Active learning (quick simulation)\n")?;
            writeln!(md, "| strategy | AUBC (mean ± std over seeds) |\n|---|---|")?;
            for (name, mean, std, _) in &s.aubc {
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
            Some(s)
        }
    };
    let report = out.join(REPORT);
    fsutil::write_atomic(&report, md.as_bytes())?;
    Ok(DemoOutcome {
        train,
        simulation,
        report,
    })
}
