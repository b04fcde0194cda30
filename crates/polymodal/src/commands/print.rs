//! What the commands print: summaries a person reads in the terminal.

use polymodal_lab::demo::DemoOutcome;
use polymodal_lab::diagnostics::ModalityDiagnostics;
use polymodal_lab::eval::{EvalOutcome, NoiseLevel};
use polymodal_lab::simulate::outputs::Summary;
use std::collections::BTreeMap;

pub fn aubc(summary: &Summary) {
    println!("area under the budget curve (fused test accuracy), mean ± std over seeds:");
    for ((name, mean, std, seeds), (_, finals)) in
        summary.aubc.iter().zip(&summary.final_modality_accuracy)
    {
        let finals: Vec<String> = finals.iter().map(|a| format!("{a:.4}")).collect();
        println!(
            "  {name:<16} {mean:.4} ± {std:.4} ({seeds} seeds; final per-modality accuracy {})",
            finals.join(" / ")
        );
    }
}

pub fn eval(outcome: &EvalOutcome) {
    let t = &outcome.test;
    println!("test accuracy (fused) {:.4}", t.fused.accuracy);
    println!(
        "macro-F1 {:.4}, ECE {:.4}, n = {}",
        t.fused.macro_f1, t.fused.ece, t.fused.n
    );
    println!("modality    alone   contribution  Shapley  fused without it");
    for (name, m) in &t.per_modality {
        let d = outcome.diagnostics.as_ref();
        let get = |f: fn(&ModalityDiagnostics) -> &BTreeMap<String, f64>| {
            d.and_then(|d| f(d).get(name).copied()).unwrap_or(f64::NAN)
        };
        println!(
            "{name:<10} {:.4}  {:>12.4}  {:>+7.4}  {:.4}",
            m.accuracy,
            get(|d| &d.contribution),
            get(|d| &d.shapley),
            get(|d| &d.accuracy_without)
        );
    }
    if let Some(r) = &outcome.robustness {
        let mut what: Vec<String> = r
            .corruption
            .drop
            .iter()
            .map(|m| format!("{m} dropped"))
            .collect();
        what.extend(r.corruption.noise.iter().map(|n| match n.level {
            NoiseLevel::SnrDb(db) => format!("{} noised at {db} dB SNR", n.modality),
            NoiseLevel::Std(s) => format!("{} noised with std {s}", n.modality),
        }));
        println!(
            "with {}: test accuracy (fused) {:.4} ({:+.4})",
            what.join(", "),
            r.test.fused.accuracy,
            r.test.fused.accuracy - t.fused.accuracy
        );
        for (name, m) in &r.test.per_modality {
            println!("  {name} only {:.4}", m.accuracy);
        }
    }
}

pub fn demo(o: &DemoOutcome) {
    let test = &o.train.metrics.test;
    println!("polymodal demo: fused multimodal classifier on AV-Digits");
    println!("  test accuracy (fused)   {:.4}", test.fused.accuracy);
    for (name, m) in &test.per_modality {
        println!("  test accuracy ({name:<5} only) {:.4}", m.accuracy);
    }
    println!(
        "  macro-F1 {:.4}, ECE {:.4}",
        test.fused.macro_f1, test.fused.ece
    );
    if let Some(s) = &o.simulation {
        println!("quick active-learning simulation:");
        for (name, mean, std, _) in &s.aubc {
            println!("  {name:<16} AUBC {mean:.4} ± {std:.4}");
        }
    }
    println!("report: {}", o.report.display());
}
