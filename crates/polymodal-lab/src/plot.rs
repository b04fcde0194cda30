//! Line charts with a shaded ±std band (learning curves, contribution curves), as SVG and PNG.

use crate::LabError;
use plotters::coord::Shift;
use plotters::prelude::*;
use polymodal_core::fsutil;
use std::path::Path;

/// `(x, mean, std)` points of one series.
pub type Curve = Vec<(f64, f64, f64)>;

/// One chart: a title, the y-axis label and named series. A series keeps its colour across the
/// panels of a figure by its position in each panel's list.
pub struct Panel {
    pub title: String,
    pub y_label: String,
    pub series: Vec<(String, Curve)>,
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

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    x_label: &str,
) -> Result<(), LabError>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| LabError::plot(&p.title, e);
    let series = &p.series;
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
        .caption(&p.title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(&p.y_label)
        .draw()
        .map_err(err)?;
    for (i, (name, c)) in series.iter().enumerate() {
        let colour = colour(i);
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
    x_label: &str,
) -> Result<(), LabError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)
        .map_err(|e| LabError::plot("a figure", e))?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, p) in areas.iter().zip(panels) {
        panel(area, p, x_label)?;
    }
    root.present().map_err(|e| LabError::plot("a figure", e))?;
    Ok(())
}

/// Writes `out/<name>.svg` and `out/<name>.png` with the panels side by side; `x_label` names
/// the shared x axis.
pub fn write_figure(
    out: &Path,
    name: &str,
    panels: &[Panel],
    x_label: &str,
) -> Result<(), LabError> {
    crate::report::register_font();
    let size = (520 * panels.len() as u32, 420);
    let mut svg = String::new();
    figure(
        SVGBackend::with_string(&mut svg, size).into_drawing_area(),
        panels,
        x_label,
    )?;
    fsutil::write_atomic(&out.join(format!("{name}.svg")), svg.as_bytes())?;
    let png = out.join(format!("{name}.png"));
    // plotters picks the image format from the extension, so the temporary name ends in .png;
    // the pid keeps two writers apart.
    let tmp = out.join(format!(".{name}.{}.tmp.png", std::process::id()));
    figure(
        BitMapBackend::new(&tmp, size).into_drawing_area(),
        panels,
        x_label,
    )?;
    std::fs::rename(&tmp, &png).map_err(|e| LabError::io(&png, e))?;
    Ok(())
}
