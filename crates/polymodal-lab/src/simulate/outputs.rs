//! Simulation outputs: results.csv, aubc.csv, learning curves (SVG and PNG) and report.md.

use super::config::SimConfig;
use super::Row;
use crate::csvfile;
use crate::plot::{write_figure, Curve, Panel};
use crate::stats::mean_std;
use crate::LabError;
use polymodal_core::fsutil;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub const RESULTS_CSV: &str = "results.csv";
pub const AUBC_CSV: &str = "aubc.csv";
pub const REPORT: &str = "report.md";
pub const CURVES: &str = "curves";

pub struct Summary {
    /// strategy → (mean AUBC, std over seeds, seeds)
    pub aubc: Vec<(String, f64, f64, usize)>,
    /// strategy → final-round mean accuracy per modality
    pub final_modality_accuracy: Vec<(String, Vec<f64>)>,
    /// Pool encoding passes made for selection by this invocation (resumed cells make none).
    pub pool_encodings: usize,
}

/// Area under the accuracy-vs-labels curve (trapezoids), divided by the label range: the mean
/// accuracy over the budget, comparable across budgets.
pub fn aubc(points: &[(usize, f64)]) -> f64 {
    if points.len() < 2 {
        return points.first().map_or(0.0, |p| p.1);
    }
    let area: f64 = points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) as f64 * (w[0].1 + w[1].1) / 2.0)
        .sum();
    area / (points[points.len() - 1].0 - points[0].0) as f64
}

/// strategy → [(n_labeled, mean, std)] of `value(row)` over seeds, in strategy config order.
fn curves(cfg: &SimConfig, rows: &[Row], value: impl Fn(&Row) -> f64) -> Vec<(String, Curve)> {
    cfg.ext
        .strategies
        .iter()
        .map(|k| {
            let name = k.to_string();
            let mut by_round: BTreeMap<usize, (usize, Vec<f64>)> = BTreeMap::new();
            for r in rows.iter().filter(|r| r.strategy == name) {
                let e = by_round.entry(r.round).or_insert((r.n_labeled, Vec::new()));
                e.1.push(value(r));
            }
            let pts = by_round
                .values()
                .map(|(n, v)| {
                    let (m, s) = mean_std(v);
                    (*n as f64, m, s)
                })
                .collect();
            (name, pts)
        })
        .collect()
}

pub fn write_all(
    out: &Path,
    cfg: &SimConfig,
    modalities: &[String],
    rows: &[Row],
    seconds: f64,
) -> Result<Summary, LabError> {
    // results.csv
    let mut header: Vec<String> = [
        "strategy",
        "seed",
        "round",
        "n_labeled",
        "accuracy",
        "macro_accuracy",
        "macro_f1",
    ]
    .map(String::from)
    .to_vec();
    header.extend(csvfile::columns(modalities, "accuracy"));
    header.extend(csvfile::columns(modalities, "contribution"));
    header.extend(["selection_seconds", "train_seconds"].map(String::from));
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.strategy.clone(),
                r.seed.to_string(),
                r.round.to_string(),
                r.n_labeled.to_string(),
            ];
            row.extend(csvfile::fixed(
                &[r.accuracy, r.macro_accuracy, r.macro_f1],
                6,
            ));
            row.extend(csvfile::fixed(&r.modality_accuracy, 6));
            row.extend(csvfile::fixed(&r.contribution, 6));
            row.extend(csvfile::fixed(&[r.selection_seconds, r.train_seconds], 3));
            row
        })
        .collect();
    csvfile::write(&out.join(RESULTS_CSV), &header, &table)?;

    // aubc.csv
    let mut aubc_rows = Vec::new();
    let mut final_acc = Vec::new();
    for k in &cfg.ext.strategies {
        let name = k.to_string();
        let per_seed: Vec<f64> = cfg
            .ext
            .seeds
            .iter()
            .map(|&s| {
                let mut pts: Vec<(usize, f64)> = rows
                    .iter()
                    .filter(|r| r.strategy == name && r.seed == s)
                    .map(|r| (r.n_labeled, r.accuracy))
                    .collect();
                pts.sort_by_key(|p| p.0);
                aubc(&pts)
            })
            .collect();
        let (m, s) = mean_std(&per_seed);
        aubc_rows.push((name.clone(), m, s, per_seed.len()));
        let last: Vec<&Row> = rows
            .iter()
            .filter(|r| r.strategy == name && r.round == cfg.ext.rounds)
            .collect();
        let per_mod: Vec<f64> = (0..modalities.len())
            .map(|j| {
                last.iter().map(|r| r.modality_accuracy[j]).sum::<f64>() / last.len().max(1) as f64
            })
            .collect();
        final_acc.push((name, per_mod));
    }
    csvfile::write(
        &out.join(AUBC_CSV),
        &["strategy", "aubc_mean", "aubc_std", "seeds"].map(String::from),
        &aubc_rows
            .iter()
            .map(|(n, m, s, k)| {
                vec![
                    n.clone(),
                    format!("{m:.6}"),
                    format!("{s:.6}"),
                    k.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    )?;

    // curves
    let mut panels = vec![Panel {
        title: "fused test accuracy".into(),
        y_label: "accuracy".into(),
        series: curves(cfg, rows, |r| r.accuracy),
    }];
    for (j, m) in modalities.iter().enumerate() {
        panels.push(Panel {
            title: format!("{m}-only accuracy"),
            y_label: "accuracy".into(),
            series: curves(cfg, rows, |r| r.modality_accuracy[j]),
        });
    }
    write_figure(out, CURVES, &panels, "labelled samples")?;
    let contrib_panels: Vec<_> = modalities
        .iter()
        .enumerate()
        .map(|(j, m)| Panel {
            title: format!("{m} contribution (Shapley share)"),
            y_label: "mean contribution".into(),
            series: curves(cfg, rows, |r| r.contribution[j]),
        })
        .collect();
    write_figure(out, "contribution", &contrib_panels, "labelled samples")?;

    // report.md
    let mut md = String::new();
    writeln!(md, "# Active-learning simulation\n")?;
    let act = &cfg.ext;
    writeln!(
        md,
        "{} strategies x {} seeds ({:?}); {} random labels at round 0 (shared by all strategies of a seed), then {} rounds of {} ({} labels at the end); models retrained ({}) each round; {} epochs max per round. Total time {:.0} s.\n",
        act.strategies.len(),
        act.seeds.len(),
        act.seeds,
        act.initial,
        act.rounds,
        act.per_round,
        act.labels_needed().unwrap_or(usize::MAX),
        match act.retrain {
            super::config::Retrain::Scratch => "from scratch",
            super::config::Retrain::Finetune => "fine-tuned from the previous round",
        },
        cfg.base.train.epochs,
        seconds
    )?;
    writeln!(md, "## Area under the budget curve (fused test accuracy)\n")?;
    let mut header = String::from("| strategy | AUBC mean ± std |");
    let mut rule = String::from("|---|---|");
    for m in modalities {
        write!(header, " final {m}-only acc |")?;
        rule.push_str("---|");
    }
    writeln!(md, "{header}\n{rule}")?;
    let mut order: Vec<usize> = (0..aubc_rows.len()).collect();
    order.sort_by(|&i, &j| aubc_rows[j].1.total_cmp(&aubc_rows[i].1));
    for i in order {
        let (n, m, s, _) = &aubc_rows[i];
        let per: Vec<String> = final_acc[i].1.iter().map(|a| format!("{a:.4}")).collect();
        writeln!(md, "| {n} | {m:.4} ± {s:.4} | {} |", per.join(" | "))?;
    }
    writeln!(
        md,
        "\nAUBC is the trapezoid area under accuracy vs. labelled samples divided by the label range (the mean accuracy over the budget).\n"
    )?;
    writeln!(md, "![learning curves]({CURVES}.svg)\n")?;
    writeln!(md, "![modality contribution](contribution.svg)\n")?;
    writeln!(md, "## Mean fused accuracy per round\n")?;
    let acc = curves(cfg, rows, |r| r.accuracy);
    if let Some((_, first)) = acc.first() {
        let labels: Vec<String> = first.iter().map(|p| format!("{}", p.0)).collect();
        writeln!(md, "| strategy | {} |", labels.join(" | "))?;
        writeln!(md, "|---|{}", "---|".repeat(labels.len()))?;
        for (n, c) in &acc {
            let v: Vec<String> = c.iter().map(|p| format!("{:.4}", p.1)).collect();
            writeln!(md, "| {n} | {} |", v.join(" | "))?;
        }
    }
    let sel = curves(cfg, rows, |r| r.selection_seconds);
    writeln!(md, "\n## Mean selection time per round (s)\n")?;
    for (n, c) in &sel {
        let v: Vec<String> = c.iter().skip(1).map(|p| format!("{:.2}", p.1)).collect();
        writeln!(md, "- {n}: {}", v.join(", "))?;
    }
    writeln!(
        md,
        "\nFiles: `results.csv` (every strategy, seed and round), `aubc.csv`, `curves.svg/png`, `contribution.svg/png`, `cells/<strategy>/seed<s>/round<r>/row.json` (labelled and selected ids per round) and the round's checkpoint."
    )?;
    fsutil::write_atomic(&out.join(REPORT), md.as_bytes())?;
    Ok(Summary {
        aubc: aubc_rows,
        final_modality_accuracy: final_acc,
        pool_encodings: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aubc_is_the_mean_accuracy_over_the_budget() {
        assert!((aubc(&[(0, 0.5), (10, 0.5)]) - 0.5).abs() < 1e-12);
        // linear 0.2 -> 0.6 averages 0.4
        assert!((aubc(&[(100, 0.2), (200, 0.4), (300, 0.6)]) - 0.4).abs() < 1e-12);
        assert_eq!(aubc(&[(5, 0.7)]), 0.7);
    }
}
