//! Human-readable reports: Markdown plus SVG pictures (plotters).

use crate::config::RunConfig;
use crate::rundir::RunDir;
use crate::train::TrainSummary;
use crate::LabError;
use plotters::prelude::*;
use polymodal_core::fsutil;
use polymodal_core::metrics::ClassificationMetrics;
use polymodal_data::Dataset;
use polymodal_train::HeadMode;
use std::fmt::Write as _;
use std::path::Path;

pub const REPORT: &str = "report.md";
pub const CONFUSION_SVG: &str = "confusion.svg";
pub const CURVES_SVG: &str = "curves.svg";

/// Registers the bundled font under "sans-serif". Text is measured with it in SVG and drawn with
/// it in PNG; shipping the font keeps pictures identical on every machine.
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
    });
}

fn plot_err<E: std::fmt::Debug>(e: E) -> LabError {
    LabError::plot("a figure", e)
}

/// A confusion matrix as a heat map with counts; rows are true classes.
pub fn confusion_svg(
    path: &Path,
    m: &ClassificationMetrics,
    names: &[String],
    title: &str,
) -> Result<(), LabError> {
    let c = names.len();
    let cell = 44i32;
    let (left, top) = (90i32, 60i32);
    let size = (left + cell * c as i32 + 20, top + cell * c as i32 + 40);
    register_font();
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (size.0 as u32, size.1 as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        root.draw(&Text::new(title.to_string(), (10, 10), ("sans-serif", 18)))
            .map_err(plot_err)?;
        root.draw(&Text::new(
            "predicted →",
            (left, top - 30),
            ("sans-serif", 13),
        ))
        .map_err(plot_err)?;
        let max = m
            .confusion
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        for (t, row) in m.confusion.iter().enumerate() {
            let y = top + t as i32 * cell;
            root.draw(&Text::new(
                names[t].clone(),
                (8, y + cell / 2 - 7),
                ("sans-serif", 13),
            ))
            .map_err(plot_err)?;
            for (p, &count) in row.iter().enumerate() {
                let x = left + p as i32 * cell;
                let shade = (count as f64 / max).sqrt();
                let colour = RGBColor(
                    (255.0 - 200.0 * shade) as u8,
                    (255.0 - 140.0 * shade) as u8,
                    (255.0 - 40.0 * shade) as u8,
                );
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    colour.filled(),
                ))
                .map_err(plot_err)?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    RGBColor(200, 200, 200),
                ))
                .map_err(plot_err)?;
                let text_colour = if shade > 0.6 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    count.to_string(),
                    (x + 8, y + cell / 2 - 7),
                    ("sans-serif", 13).into_font().color(&text_colour),
                ))
                .map_err(plot_err)?;
            }
        }
        for (p, name) in names.iter().enumerate() {
            let x = left + p as i32 * cell;
            root.draw(&Text::new(
                name.clone(),
                (x + 2, top - 14),
                ("sans-serif", 11),
            ))
            .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    fsutil::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

/// Validation accuracy (fused and per modality) against epoch.
pub fn curves_svg(path: &Path, summary: &TrainSummary, names: &[String]) -> Result<(), LabError> {
    register_font();
    let h = &summary.history;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let lo = h
            .iter()
            .flat_map(|m| {
                std::iter::once(m.val_accuracy).chain(m.val_modality_accuracy.iter().copied())
            })
            .fold(1.0f64, f64::min);
        let mut chart = ChartBuilder::on(&root)
            .caption("validation accuracy per epoch", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(1f64..(h.len().max(2)) as f64, (lo - 0.02).max(0.0)..1.0f64)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy")
            .draw()
            .map_err(plot_err)?;
        let palette = [BLUE, RED, GREEN, MAGENTA, CYAN];
        let fused: Vec<(f64, f64)> = h.iter().map(|m| (m.epoch as f64, m.val_accuracy)).collect();
        chart
            .draw_series(LineSeries::new(fused, BLACK.stroke_width(2)))
            .map_err(plot_err)?
            .label("fused")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        for (k, name) in names.iter().enumerate() {
            let colour = palette[k % palette.len()];
            let pts: Vec<(f64, f64)> = h
                .iter()
                .map(|m| (m.epoch as f64, m.val_modality_accuracy[k]))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, colour))
                .map_err(plot_err)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    fsutil::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

fn metric_row(name: &str, m: &ClassificationMetrics) -> String {
    format!(
        "| {name} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
        m.accuracy, m.macro_accuracy, m.macro_f1, m.ece
    )
}

/// `report.md` and its pictures for a training run.
pub fn write_train_report(
    dir: &RunDir,
    config: &RunConfig,
    data: &Dataset,
    s: &TrainSummary,
) -> Result<(), LabError> {
    let names: Vec<String> = data.specs().into_iter().map(|sp| sp.name).collect();
    let test = &s.metrics.test;
    confusion_svg(
        &dir.file(CONFUSION_SVG),
        &test.fused,
        &data.class_names,
        "test confusion matrix (fused head)",
    )?;
    curves_svg(&dir.file(CURVES_SVG), s, &names)?;
    let mut md = String::new();
    writeln!(md, "# Training report\n")?;
    writeln!(
        md,
        "Dataset **{}** ({} samples; fingerprint `{}`), fusion **{:?}**, seed {}, best epoch {} of {} run, {:.0} s.\n",
        data.name,
        data.len(),
        &data.fingerprint,
        config.model.fusion,
        config.seed,
        s.metrics.best_epoch,
        s.metrics.epochs_run,
        s.seconds
    )?;
    writeln!(md, "## Test metrics ({} samples)\n", test.fused.n)?;
    writeln!(md, "| head | accuracy | macro accuracy | macro-F1 | ECE |")?;
    writeln!(md, "|---|---|---|---|---|")?;
    md.push_str(&metric_row("**fused**", &test.fused));
    for name in &names {
        if let Some(m) = test.per_modality.get(name) {
            md.push_str(&metric_row(&format!("{name} only"), m));
        }
    }
    let best_single = test
        .per_modality
        .values()
        .map(|m| m.accuracy)
        .fold(0.0f64, f64::max);
    let heads = match config.train.heads {
        HeadMode::Joint => {
            "Per-modality rows are the auxiliary heads trained jointly with the fusion (each sees \
             only its own modality's features)."
        }
        HeadMode::Probe => {
            "Per-modality rows are linear probes trained alongside on detached features \
             (`train.heads = \"probe\"`): the encoders trained on the fused loss alone, and the \
             probes measure what each encoder learned without changing it."
        }
    };
    writeln!(
        md,
        "\nFused minus best single modality: {:+.4}. {heads}\n",
        test.fused.accuracy - best_single
    )?;
    if let Some(d) = &s.metrics.test_diagnostics {
        writeln!(md, "## Modality diagnostics (test split)\n")?;
        writeln!(
            md,
            "| modality | accuracy alone (own head) | mean contribution at true label | mean Shapley value | fused accuracy without it |"
        )?;
        writeln!(md, "|---|---|---|---|---|")?;
        for name in &names {
            writeln!(
                md,
                "| {name} | {:.4} | {:.4} | {:+.4} | {:.4} |",
                test.per_modality.get(name).map_or(f64::NAN, |m| m.accuracy),
                d.contribution.get(name).copied().unwrap_or(f64::NAN),
                d.shapley.get(name).copied().unwrap_or(f64::NAN),
                d.accuracy_without.get(name).copied().unwrap_or(f64::NAN),
            )?;
        }
        writeln!(
            md,
            "\nContribution = |φ_m| / Σ_k |φ_k| of the exact Shapley value φ_m of the true class's fused \
             probability, every modality subset evaluated with the others zeroed at the fusion input \
             (sums to 1 per sample; 1/M each = balanced). Per sample in `{}`. \
             \"Without it\" zeroes that modality at the fusion input for every test sample.\n",
            crate::train::CONTRIBUTIONS_CSV
        )?;
    }
    if config.train.ogm.enabled {
        let o = &config.train.ogm;
        writeln!(md, "## OGM-GE\n")?;
        writeln!(
            md,
            "α = {}, epochs {}..{}, GE noise {}. Modulated steps: {}.\n",
            o.alpha,
            o.start_epoch,
            if o.end_epoch == 0 {
                "end".to_string()
            } else {
                o.end_epoch.to_string()
            },
            if o.noise { "on" } else { "off" },
            s.ogm_steps.len()
        )?;
        writeln!(md, "| modality | steps dominant | mean coefficient when dominant | mean ρ when dominant | encoder parameters modulated |")?;
        writeln!(md, "|---|---|---|---|---|")?;
        for (k, name) in names.iter().enumerate() {
            let dom: Vec<_> = s.ogm_steps.iter().filter(|st| st.dominant == k).collect();
            let mean = |f: &dyn Fn(&polymodal_train::OgmStep) -> f64| {
                dom.iter().map(|st| f(st)).sum::<f64>() / dom.len().max(1) as f64
            };
            writeln!(
                md,
                "| {name} | {} | {:.4} | {:.4} | {} |",
                dom.len(),
                mean(&|st| st.coefficients[k]),
                mean(&|st| st.rho),
                s.ogm_params
                    .get(k)
                    .map(|p| format!("`{}`", p.join("`, `")))
                    .unwrap_or_default()
            )?;
        }
        writeln!(md, "\nPer step: `{}`.\n", crate::train::OGM_CSV)?;
    }
    writeln!(md, "![confusion matrix]({CONFUSION_SVG})\n")?;
    writeln!(md, "![validation curves]({CURVES_SVG})\n")?;
    writeln!(md, "## Per epoch\n")?;
    let mod_cols: Vec<String> = names.iter().map(|n| format!("val {n}")).collect();
    writeln!(
        md,
        "| epoch | lr | train loss | train acc | val acc | {} | samples/s |",
        mod_cols.join(" | ")
    )?;
    writeln!(md, "|{}", "---|".repeat(6 + names.len()))?;
    for m in &s.history {
        let mods: Vec<String> = m
            .val_modality_accuracy
            .iter()
            .map(|a| format!("{a:.4}"))
            .collect();
        writeln!(
            md,
            "| {}{} | {:.2e} | {:.4} | {:.4} | {:.4} | {} | {:.0} |",
            m.epoch,
            if m.is_best { "*" } else { "" },
            m.lr,
            m.train_loss,
            m.train_accuracy,
            m.val_accuracy,
            mods.join(" | "),
            m.samples_per_second
        )?;
    }
    writeln!(
        md,
        "\n`*` marks a new best validation accuracy (checkpoint saved).\n"
    )?;
    writeln!(
        md,
        "Files: `config.toml` (resolved config), `run.json` (version, git hash, seed, dataset fingerprint), \
         `metrics.csv`, `metrics.json`, `model.safetensors`."
    )?;
    fsutil::write_atomic(&dir.file(REPORT), md.as_bytes())?;
    Ok(())
}
