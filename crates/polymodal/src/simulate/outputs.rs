//! Simulation outputs: results.csv, aubc.csv, learning curves (SVG and PNG) and report.md.

use super::config::SimConfig;
use super::Row;
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
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

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    } else {
        0.0
    };
    (mean, var.sqrt())
}

type Curve = Vec<(f64, f64, f64)>;
/// One chart: title, y-axis label, one curve per strategy.
type Panel = (String, String, Vec<(String, Curve)>);

/// strategy → [(n_labeled, mean, std)] of `value(row)` over seeds, in strategy config order.
fn curves(cfg: &SimConfig, rows: &[Row], value: impl Fn(&Row) -> f64) -> Vec<(String, Curve)> {
    cfg.active
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

const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];

fn colour_of(name: &str, cfg: &SimConfig) -> RGBColor {
    let i = cfg
        .active
        .strategies
        .iter()
        .position(|k| k.to_string() == name)
        .unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    series: &[(String, Curve)],
    cfg: &SimConfig,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plotting: {e:?}");
    let pts = series.iter().flat_map(|(_, c)| c.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, m, s) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(m - s);
        y1 = y1.max(m + s);
    }
    if x0 >= x1 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("labelled samples")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    for (name, c) in series {
        let colour = colour_of(name, cfg);
        let mut band: Vec<(f64, f64)> = c.iter().map(|&(x, m, s)| (x, m + s)).collect();
        band.extend(c.iter().rev().map(|&(x, m, s)| (x, m - s)));
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                colour.mix(0.15).filled(),
            )))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                c.iter().map(|&(x, m, _)| (x, m)),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn figure<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panels: &[Panel],
    cfg: &SimConfig,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("plotting: {e:?}"))?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, (title, y, series)) in areas.iter().zip(panels) {
        panel(area, title, y, series, cfg)?;
    }
    root.present().map_err(|e| anyhow!("plotting: {e:?}"))?;
    Ok(())
}

/// Writes `<name>.svg` and `<name>.png` with the given panels side by side.
fn write_figure(out: &Path, name: &str, panels: &[Panel], cfg: &SimConfig) -> Result<()> {
    crate::report::register_font();
    let size = (520 * panels.len() as u32, 420);
    let mut svg = String::new();
    figure(
        SVGBackend::with_string(&mut svg, size).into_drawing_area(),
        panels,
        cfg,
    )?;
    fsutil::write_atomic(&out.join(format!("{name}.svg")), svg.as_bytes())?;
    let png = out.join(format!("{name}.png"));
    let tmp = out.join(format!("{name}.png.tmp.png"));
    figure(
        BitMapBackend::new(&tmp, size).into_drawing_area(),
        panels,
        cfg,
    )?;
    std::fs::rename(&tmp, &png)?;
    Ok(())
}

pub fn write_all(
    out: &Path,
    cfg: &SimConfig,
    modalities: &[String],
    rows: &[Row],
    seconds: f64,
) -> Result<Summary> {
    // results.csv
    let mut csv = String::from("strategy,seed,round,n_labeled,accuracy,macro_accuracy,macro_f1");
    for m in modalities {
        write!(csv, ",accuracy_{m}")?;
    }
    for m in modalities {
        write!(csv, ",contribution_{m}")?;
    }
    csv.push_str(",selection_seconds,train_seconds\n");
    for r in rows {
        write!(
            csv,
            "{},{},{},{},{:.6},{:.6},{:.6}",
            r.strategy, r.seed, r.round, r.n_labeled, r.accuracy, r.macro_accuracy, r.macro_f1
        )?;
        for a in &r.modality_accuracy {
            write!(csv, ",{a:.6}")?;
        }
        for c in &r.contribution {
            write!(csv, ",{c:.6}")?;
        }
        writeln!(csv, ",{:.3},{:.3}", r.selection_seconds, r.train_seconds)?;
    }
    fsutil::write_atomic(&out.join(RESULTS_CSV), csv.as_bytes())?;

    // aubc.csv
    let mut aubc_rows = Vec::new();
    let mut final_acc = Vec::new();
    for k in &cfg.active.strategies {
        let name = k.to_string();
        let per_seed: Vec<f64> = cfg
            .active
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
            .filter(|r| r.strategy == name && r.round == cfg.active.rounds)
            .collect();
        let per_mod: Vec<f64> = (0..modalities.len())
            .map(|j| {
                last.iter().map(|r| r.modality_accuracy[j]).sum::<f64>() / last.len().max(1) as f64
            })
            .collect();
        final_acc.push((name, per_mod));
    }
    let mut a = String::from("strategy,aubc_mean,aubc_std,seeds\n");
    for (n, m, s, k) in &aubc_rows {
        writeln!(a, "{n},{m:.6},{s:.6},{k}")?;
    }
    fsutil::write_atomic(&out.join(AUBC_CSV), a.as_bytes())?;

    // curves
    let mut panels = vec![(
        "fused test accuracy".to_string(),
        "accuracy".to_string(),
        curves(cfg, rows, |r| r.accuracy),
    )];
    for (j, m) in modalities.iter().enumerate() {
        panels.push((
            format!("{m}-only accuracy"),
            "accuracy".into(),
            curves(cfg, rows, |r| r.modality_accuracy[j]),
        ));
    }
    write_figure(out, CURVES, &panels, cfg)?;
    let contrib_panels: Vec<_> = modalities
        .iter()
        .enumerate()
        .map(|(j, m)| {
            (
                format!("{m} contribution (Shapley share)"),
                "mean contribution".to_string(),
                curves(cfg, rows, |r| r.contribution[j]),
            )
        })
        .collect();
    write_figure(out, "contribution", &contrib_panels, cfg)?;

    // report.md
    let mut md = String::new();
    writeln!(md, "# Active-learning simulation\n")?;
    let act = &cfg.active;
    writeln!(
        md,
        "{} strategies x {} seeds ({:?}); {} random labels at round 0 (shared by all strategies of a seed), then {} rounds of {} ({} labels at the end); models retrained ({}) each round; {} epochs max per round. Total time {:.0} s.\n",
        act.strategies.len(),
        act.seeds.len(),
        act.seeds,
        act.initial,
        act.rounds,
        act.per_round,
        act.initial + act.rounds * act.per_round,
        match act.retrain {
            super::config::Retrain::Scratch => "from scratch",
            super::config::Retrain::Finetune => "fine-tuned from the previous round",
        },
        cfg.train.epochs,
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
