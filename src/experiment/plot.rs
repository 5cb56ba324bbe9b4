//! Multi-panel SVG figures (plotters, SVG backend only: text is written as SVG `<text>` with a
//! generic `sans-serif` family, no font files are read).
//!
//! A [`Figure`] is a grid of [`Panel`]s filled row by row; a panel has a title, labelled axes
//! (linear or logarithmic x), an optional fixed y range (otherwise the finite data plus 5 %) and
//! [`Series`] drawn as solid, dashed or dotted lines and/or markers. Non-finite points are
//! skipped (they break a line into pieces). A log axis is widened by 7 % on each side so that
//! decade ticks at its ends are drawn. A panel can list its series in a corner; a figure can list
//! every distinct series label of all its panels in a strip below the grid.

use super::error::ExperimentError;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// An RGB colour.
pub type Rgb = (u8, u8, u8);

/// How the points of a series are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Solid,
    Dashed,
    Dotted,
}

/// The marker drawn at each point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    /// Open circle.
    Circle,
    /// Filled triangle.
    Triangle,
    /// Open square.
    Square,
    /// Diagonal cross.
    Cross,
}

/// The look of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Style {
    pub color: Rgb,
    pub line: Option<LineKind>,
    pub marker: Option<MarkerKind>,
    /// Stroke width in pixels.
    pub width: u32,
}

impl Style {
    pub fn line(color: Rgb, kind: LineKind) -> Self {
        Style {
            color,
            line: Some(kind),
            marker: None,
            width: 2,
        }
    }
    pub fn markers(color: Rgb, kind: MarkerKind) -> Self {
        Style {
            color,
            line: None,
            marker: Some(kind),
            width: 1,
        }
    }
    pub fn with_marker(mut self, kind: MarkerKind) -> Self {
        self.marker = Some(kind);
        self
    }
}

/// One curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
}

/// Scale of the x axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Linear,
    /// Base-10 logarithmic (the range must be positive).
    Log,
}

/// Corner of a panel holding its legend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegendCorner {
    UpperLeft,
    UpperRight,
    LowerLeft,
    LowerRight,
}

/// One plot of a figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_axis: Axis,
    pub x_range: (f64, f64),
    /// `None`: the range of the finite data, widened by 5 % on each side.
    pub y_range: Option<(f64, f64)>,
    pub series: Vec<Series>,
    /// Where to draw the legend (`None`: no legend).
    pub legend: Option<LegendCorner>,
}

/// A grid of panels, row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub title: Option<String>,
    pub rows: usize,
    pub cols: usize,
    /// Size of one panel in pixels.
    pub panel_size: (u32, u32),
    pub panels: Vec<Panel>,
}

/// A panel of `series` against the epoch: a linear x axis over `x_range`, labelled `epoch`, and
/// the y range of the finite data.
pub fn epoch_panel(
    title: String,
    y_label: &str,
    x_range: (f64, f64),
    series: Vec<Series>,
    legend: Option<LegendCorner>,
) -> Panel {
    Panel {
        title,
        x_label: "epoch".into(),
        y_label: y_label.into(),
        x_axis: Axis::Linear,
        x_range,
        y_range: None,
        series,
        legend,
    }
}

/// The curves of a quantity on the training and the test set: `train` a solid blue line, `test`
/// a dashed red one.
pub fn train_test_series(train: Vec<(f64, f64)>, test: Vec<(f64, f64)>) -> Vec<Series> {
    vec![
        Series {
            label: "train".into(),
            points: train,
            style: Style::line(palette::BLUE, LineKind::Solid),
        },
        Series {
            label: "test".into(),
            points: test,
            style: Style::line(palette::RED, LineKind::Dashed),
        },
    ]
}

/// Where a figure lists its series (besides the corners of panels with a `legend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedLegend {
    /// Nowhere else.
    None,
    /// In a strip below the grid: every distinct series label, in order of appearance.
    Below,
}

/// Legend layout constants (pixels).
const LEGEND_FONT: u32 = 14;
const LEGEND_ICON: i32 = 30;
const LEGEND_PAD: i32 = 6;
const LEGEND_LINE: i32 = 20;

/// The first series of each distinct label, in order of appearance.
fn distinct_series(fig: &Figure) -> Vec<&Series> {
    let mut out: Vec<&Series> = Vec::new();
    for s in fig.panels.iter().flat_map(|p| &p.series) {
        if !out.iter().any(|o| o.label == s.label) {
            out.push(s);
        }
    }
    out
}

/// Width of a legend entry (icon, gap, estimated label width, gap): the naive font metrics of
/// plotters without font files (0.7 em per character).
fn legend_entry_width(label: &str) -> i32 {
    let em = LEGEND_FONT as f64 / 1.24 / 1.24;
    LEGEND_ICON
        + LEGEND_PAD
        + (em * 0.7 * label.chars().count() as f64).ceil() as i32
        + 3 * LEGEND_PAD
}

/// Lines of legend entries (indices into `labels`) fitting `width` pixels.
fn legend_lines(labels: &[&str], width: i32) -> Vec<Vec<usize>> {
    let mut lines: Vec<Vec<usize>> = vec![];
    let mut used = width; // forces a first line
    for (i, l) in labels.iter().enumerate() {
        let w = legend_entry_width(l);
        if used + w > width {
            lines.push(vec![]);
            used = LEGEND_PAD;
        }
        lines.last_mut().unwrap().push(i);
        used += w;
    }
    lines
}

/// A tick label without trailing zeros (`0.1`, `2`, `10`, `-1.5`).
pub fn tick_label(v: f64) -> String {
    // Tick positions are accumulated multiples of the step: a zero tick can arrive as +-1e-17.
    // Our axes never span less than ~1e-6, so anything below 1e-12 in size is that round-off.
    let v = if v.abs() < 1e-12 { 0.0 } else { v };
    let s = if v.abs() >= 1e4 || (v != 0.0 && v.abs() < 1e-3) {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') && !s.contains('e') {
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" {
            "0".into()
        } else {
            t.into()
        }
    } else {
        s
    }
}

/// The y range of a panel: the given one, or the finite data widened by 5 % (1 when flat).
fn y_range(p: &Panel) -> (f64, f64) {
    if let Some(r) = p.y_range {
        return r;
    }
    let (lo, hi) = p
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    (lo - pad, hi + pad)
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Render `fig` to an SVG file at `path` (legends only in the panels that ask for one).
pub fn render_svg(fig: &Figure, path: &Path) -> Result<(), ExperimentError> {
    render_svg_with(fig, path, SharedLegend::None)
}

/// Render `fig` to an SVG file at `path`, with a shared legend as `shared` says.
pub fn render_svg_with(
    fig: &Figure,
    path: &Path,
    shared: SharedLegend,
) -> Result<(), ExperimentError> {
    let err = |message: String| ExperimentError::Plot {
        path: path.to_path_buf(),
        message,
    };
    if fig.panels.len() > fig.rows * fig.cols {
        return Err(err(format!(
            "{} panels do not fit a {}x{} grid",
            fig.panels.len(),
            fig.rows,
            fig.cols
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io(dir, e))?;
    }
    let title_h = if fig.title.is_some() { 40 } else { 0 };
    let width = fig.panel_size.0 * fig.cols as u32;
    let legend = if shared == SharedLegend::Below {
        distinct_series(fig)
    } else {
        vec![]
    };
    let labels: Vec<&str> = legend.iter().map(|s| s.label.as_str()).collect();
    let lines = legend_lines(&labels, width as i32);
    let legend_h = if lines.is_empty() {
        0
    } else {
        (LEGEND_LINE * lines.len() as i32 + 2 * LEGEND_PAD) as u32
    };
    let size = (
        width,
        fig.panel_size.1 * fig.rows as u32 + title_h + legend_h,
    );
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let body = match &fig.title {
        Some(t) => root
            .titled(t, ("sans-serif", 22))
            .map_err(|e| err(e.to_string()))?,
        None => root.clone(),
    };
    let (grid, strip) = body.split_vertically(fig.panel_size.1 * fig.rows as u32);
    for (area, panel) in grid
        .split_evenly((fig.rows, fig.cols))
        .iter()
        .zip(&fig.panels)
    {
        draw_panel(area, panel).map_err(err)?;
    }
    for (k, line) in lines.iter().enumerate() {
        let total: i32 = line.iter().map(|&i| legend_entry_width(labels[i])).sum();
        let mut x = (width as i32 - total).max(0) / 2;
        let y = LEGEND_PAD + LEGEND_LINE * k as i32 + LEGEND_LINE / 2;
        for &i in line {
            draw_legend_entry(&strip, (x, y), legend[i]).map_err(err)?;
            x += legend_entry_width(labels[i]);
        }
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Panel,
) -> Result<(), String> {
    let (x0, x1) = p.x_range;
    let (y0, y1) = y_range(p);
    let mut b = ChartBuilder::on(area);
    b.caption(&p.title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60);
    match p.x_axis {
        Axis::Log => {
            if !(x0 > 0.0 && x1 > x0) {
                return Err(format!("log axis needs 0 < x0 < x1, got {x0}..{x1}"));
            }
            let widen = 10f64.powf(0.03);
            let chart = b
                .build_cartesian_2d((x0 / widen..x1 * widen).log_scale(), y0..y1)
                .map_err(|e| e.to_string())?;
            fill_chart(chart, p)
        }
        Axis::Linear => {
            let chart = b
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| e.to_string())?;
            fill_chart(chart, p)
        }
    }
}

fn fill_chart<'a, DB, X>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    p: &Panel,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    chart
        .configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| tick_label(*v))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(205, 205, 205))
        .draw()
        .map_err(e)?;

    for s in &p.series {
        let color = rgb(s.style.color);
        let stroke = ShapeStyle {
            color: color.to_rgba(),
            filled: false,
            stroke_width: s.style.width,
        };
        // Split at non-finite points so a gap is not bridged.
        let mut pieces: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for &(x, y) in &s.points {
            if x.is_finite() && y.is_finite() {
                pieces.last_mut().unwrap().push((x, y));
            } else if !pieces.last().unwrap().is_empty() {
                pieces.push(Vec::new());
            }
        }
        if let Some(kind) = s.style.line {
            for piece in pieces.iter().filter(|p| !p.is_empty()) {
                match kind {
                    LineKind::Solid => chart.draw_series(LineSeries::new(piece.clone(), stroke)),
                    LineKind::Dashed => {
                        chart.draw_series(DashedLineSeries::new(piece.clone(), 8, 5, stroke))
                    }
                    LineKind::Dotted => {
                        chart.draw_series(DashedLineSeries::new(piece.clone(), 2, 4, stroke))
                    }
                }
                .map_err(e)?;
            }
        }
        if let Some(kind) = s.style.marker {
            let pts: Vec<(f64, f64)> = pieces.concat();
            let open = color.stroke_width(1);
            let pts = pts.into_iter();
            match kind {
                MarkerKind::Circle => chart
                    .draw_series(pts.map(|c| EmptyElement::at(c) + Circle::new((0, 0), 4, open)))
                    .map(|_| ()),
                MarkerKind::Triangle => chart
                    .draw_series(pts.map(|c| {
                        EmptyElement::at(c) + TriangleMarker::new((0, 0), 4, color.filled())
                    }))
                    .map(|_| ()),
                MarkerKind::Square => chart
                    .draw_series(
                        pts.map(|c| EmptyElement::at(c) + Rectangle::new([(-3, -3), (3, 3)], open)),
                    )
                    .map(|_| ()),
                MarkerKind::Cross => chart
                    .draw_series(pts.map(|c| EmptyElement::at(c) + Cross::new((0, 0), 4, open)))
                    .map(|_| ()),
            }
            .map_err(e)?;
        }
    }
    if let Some(corner) = p.legend {
        draw_legend(&chart.plotting_area().strip_coord_spec(), &p.series, corner)?;
    }
    Ok(())
}

/// A legend box in `corner` of the plotting area: one line per series.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
    corner: LegendCorner,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    if series.is_empty() {
        return Ok(());
    }
    let (w, h) = area.dim_in_pixel();
    let box_w = series
        .iter()
        .map(|s| legend_entry_width(&s.label))
        .max()
        .unwrap_or(0);
    let box_h = LEGEND_PAD + LEGEND_LINE * series.len() as i32;
    let margin = 6;
    let x0 = match corner {
        LegendCorner::UpperLeft | LegendCorner::LowerLeft => margin,
        _ => w as i32 - margin - box_w,
    };
    let y0 = match corner {
        LegendCorner::UpperLeft | LegendCorner::UpperRight => margin,
        _ => h as i32 - margin - box_h,
    };
    let corners = [(x0, y0), (x0 + box_w, y0 + box_h)];
    area.draw(&Rectangle::new(corners, WHITE.mix(0.85).filled()))
        .map_err(e)?;
    area.draw(&Rectangle::new(
        corners,
        RGBColor(160, 160, 160).stroke_width(1),
    ))
    .map_err(e)?;
    for (k, s) in series.iter().enumerate() {
        let y = y0 + LEGEND_PAD / 2 + LEGEND_LINE * k as i32 + LEGEND_LINE / 2;
        draw_legend_entry(area, (x0 + LEGEND_PAD, y), s)?;
    }
    Ok(())
}

/// One legend entry with its left end at `(x, y)` (vertical centre): the series' line pattern
/// and marker, then its label.
fn draw_legend_entry<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    (x, y): (i32, i32),
    s: &Series,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let cx = x + LEGEND_ICON / 2;
    let color = rgb(s.style.color);
    let stroke = color.stroke_width(s.style.width);
    let segments: &[(i32, i32)] = match s.style.line {
        None => &[],
        Some(LineKind::Solid) => &[(-14, 14)],
        Some(LineKind::Dashed) => &[(-14, -6), (-2, 6), (10, 14)],
        Some(LineKind::Dotted) => &[(-14, -12), (-8, -6), (-2, 0), (4, 6), (10, 12)],
    };
    for &(a, b) in segments {
        area.draw(&PathElement::new(vec![(cx + a, y), (cx + b, y)], stroke))
            .map_err(e)?;
    }
    let open = color.stroke_width(1);
    match s.style.marker {
        None => Ok(()),
        Some(MarkerKind::Circle) => area.draw(&Circle::new((cx, y), 4, open)),
        Some(MarkerKind::Triangle) => area.draw(&TriangleMarker::new((cx, y), 4, color.filled())),
        Some(MarkerKind::Square) => {
            area.draw(&Rectangle::new([(cx - 3, y - 3), (cx + 3, y + 3)], open))
        }
        Some(MarkerKind::Cross) => area.draw(&Cross::new((cx, y), 4, open)),
    }
    .map_err(e)?;
    let font = ("sans-serif", LEGEND_FONT).into_font();
    area.draw_text(
        &s.label,
        &font.color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
        (x + LEGEND_ICON + LEGEND_PAD, y),
    )
    .map_err(e)
}

#[cfg(test)]
mod tick_tests {
    use super::tick_label;

    #[test]
    fn tick_labels_are_short_and_round_off_zero_is_zero() {
        assert_eq!(tick_label(-1.4e-17), "0");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(2.0), "2");
        assert_eq!(tick_label(-0.0004), "-4.0e-4");
        assert_eq!(tick_label(25000.0), "2.5e4");
    }
}

/// The colours every figure draws with (RGB), so that one quantity keeps its colour across figures.
pub mod palette {
    pub use super::Rgb;
    pub const BLACK: Rgb = (0, 0, 0);
    pub const RED: Rgb = (200, 30, 30);
    pub const BLUE: Rgb = (30, 80, 200);
    pub const TEAL: Rgb = (0, 150, 150);
    pub const GREEN: Rgb = (40, 150, 40);
    pub const GREY: Rgb = (120, 120, 120);
    pub const ORANGE: Rgb = (220, 120, 0);
}
