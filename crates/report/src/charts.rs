//! The charts, each drawn by one backend-generic function onto any plotters [`DrawingArea`].
//!
//! The same function draws the PNG (via [`render_png`], [`BitMapBackend`]) and the SVG inlined in
//! the HTML page (via [`render_svg`], [`SVGBackend::with_string`]).
//!
//! Conventions shared by every chart:
//! - one colour per policy, derived from the **sorted** list of policy names
//!   ([`policy_colour_hex`]), the same in every chart and in the HTML tables;
//! - accounts appear in the order of their first run in the input;
//! - times are UTC, ticks aligned to whole hours/days;
//! - a header strip holds the title and the legend, so legends never cover data;
//! - empty cases (no runs, no liquidations, no cross liquidations) draw the frame and a note
//!   instead of failing;
//! - sweeps: every run of an (account, policy) group is drawn (curves as thin translucent lines
//!   of the policy colour); counts are summed over the group's runs and the axis says so.

use crate::font::{FAMILY, ensure_fonts};
use crate::{ReportError, ReportInput};
use chrono::{DateTime, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use ringfence_model::{LiquidationEvent, MarginMode, RunResult, TimestampMs};
use std::collections::BTreeMap;
use std::path::Path;

/// Colour-blind-safe palette (Okabe–Ito, reordered); policy `i` of the sorted list gets entry `i`.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x8C, 0x56, 0x4B),
    RGBColor(0x33, 0x33, 0x33),
];
/// Culprit positions in the cascade chart (not a policy colour).
const CULPRIT: RGBColor = RGBColor(0x3A, 0x3A, 0x3A);
/// Victim positions in the cascade chart (not a policy colour).
const VICTIM: RGBColor = RGBColor(0xBD, 0xBD, 0xBD);
/// Price lines of the liquidation timeline (neutral tones, not policy colours).
const PRICE_TONES: [RGBColor; 4] = [
    RGBColor(0x20, 0x20, 0x20),
    RGBColor(0x70, 0x70, 0x70),
    RGBColor(0x9A, 0x9A, 0x9A),
    RGBColor(0x50, 0x50, 0x50),
];
/// Hot end of the heatmap scale.
const HEAT: RGBColor = RGBColor(0xB2, 0x18, 0x2B);
const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const NOTE: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Most points drawn per curve; longer curves keep each bucket's minimum and maximum.
const MAX_CURVE_POINTS: usize = 1200;

/// One chart of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChartKind {
    /// Equity curves per policy, one panel per account.
    Equity,
    /// Drawdown curves per policy, one panel per account.
    Drawdown,
    /// Liquidation events per policy × account, cascade victims stacked in a lighter shade.
    LiquidationCounts,
    /// Liquidation markers over the close price of the symbols involved.
    LiquidationTimeline,
    /// Cross liquidations: positions closed as culprit vs as victim, per symbol and policy.
    CascadeAttribution,
    /// Liquidations over a two-axis sweep, one heatmap per account × policy.
    SweepHeatmap,
}

impl ChartKind {
    /// Every chart, in report order.
    pub const ALL: [ChartKind; 6] = [
        ChartKind::Equity,
        ChartKind::Drawdown,
        ChartKind::LiquidationCounts,
        ChartKind::LiquidationTimeline,
        ChartKind::CascadeAttribution,
        ChartKind::SweepHeatmap,
    ];

    /// File stem of the PNG (`equity` → `equity.png`).
    pub fn file_stem(self) -> &'static str {
        match self {
            ChartKind::Equity => "equity",
            ChartKind::Drawdown => "drawdown",
            ChartKind::LiquidationCounts => "liquidation_counts",
            ChartKind::LiquidationTimeline => "liquidation_timeline",
            ChartKind::CascadeAttribution => "cascade_attribution",
            ChartKind::SweepHeatmap => "sweep_heatmap",
        }
    }

    /// Human title.
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Equity => "Equity per policy",
            ChartKind::Drawdown => "Drawdown per policy",
            ChartKind::LiquidationCounts => "Liquidations per policy and account",
            ChartKind::LiquidationTimeline => "Liquidation timeline over price",
            ChartKind::CascadeAttribution => "Cascade attribution (cross liquidations)",
            ChartKind::SweepHeatmap => "Sweep heatmap: liquidations",
        }
    }

    /// Whether the chart means anything for this input (the heatmap needs two varying sweep
    /// parameters); every other chart always draws, with a note when it has nothing to show.
    pub fn applies(self, input: &ReportInput) -> bool {
        match self {
            ChartKind::SweepHeatmap => sweep_axes(&input.runs).is_some(),
            _ => true,
        }
    }

    /// Pixel size (PNG) and view box (SVG) of the chart for this input.
    pub fn size(self, input: &ReportInput) -> (u32, u32) {
        let panels = |n: usize| (1400, (90 + 330 * n.max(1) as u32).max(760));
        match self {
            ChartKind::Equity | ChartKind::Drawdown => panels(accounts(&input.runs).len()),
            ChartKind::SweepHeatmap => panels(accounts(&input.runs).len()),
            _ => (1400, 760),
        }
    }

    /// Draws the chart onto `area` (any backend).
    pub fn draw<DB: DrawingBackend>(
        self,
        area: &DrawingArea<DB, Shift>,
        input: &ReportInput,
    ) -> Result<(), ReportError> {
        match self {
            ChartKind::Equity => draw_equity(area, input),
            ChartKind::Drawdown => draw_drawdown(area, input),
            ChartKind::LiquidationCounts => draw_liquidation_counts(area, input),
            ChartKind::LiquidationTimeline => draw_liquidation_timeline(area, input),
            ChartKind::CascadeAttribution => draw_cascade_attribution(area, input),
            ChartKind::SweepHeatmap => draw_sweep_heatmap(area, input),
        }
    }
}

/// Renders one chart as a standalone SVG document.
pub fn render_svg(kind: ChartKind, input: &ReportInput) -> Result<String, ReportError> {
    ensure_fonts()?;
    let size = kind.size(input);
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        kind.draw(&area, input)?;
        area.present().map_err(ce(kind.file_stem()))?;
    }
    Ok(svg)
}

/// Renders one chart as a PNG file at `path`.
pub fn render_png(kind: ChartKind, input: &ReportInput, path: &Path) -> Result<(), ReportError> {
    ensure_fonts()?;
    let (w, h) = kind.size(input);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        kind.draw(&area, input)?;
        area.present().map_err(ce(kind.file_stem()))?;
    }
    crate::png_out::write_rgb_png(path, w, h, &rgb)
}

/// The colour of `policy` as `#rrggbb`, derived from the sorted policy names of `input`
/// (the same colour the charts use).
pub fn policy_colour_hex(input: &ReportInput, policy: &str) -> String {
    let c = policy_colour(&policies(&input.runs), policy);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

fn ce<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> ReportError {
    move |e| ReportError::Chart {
        chart,
        message: e.to_string(),
    }
}

/// Sorted, distinct policy names.
pub(crate) fn policies(runs: &[RunResult]) -> Vec<String> {
    let mut v: Vec<String> = runs.iter().map(|r| r.policy.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Distinct account names in order of first appearance.
pub(crate) fn accounts(runs: &[RunResult]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in runs {
        if !v.contains(&r.account) {
            v.push(r.account.clone());
        }
    }
    v
}

fn policy_colour(sorted_policies: &[String], policy: &str) -> RGBColor {
    let i = sorted_policies
        .iter()
        .position(|p| p == policy)
        .unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// Mixes `c` with white: `f = 0` keeps `c`, `f = 1` is white.
fn lighten(c: RGBColor, f: f64) -> RGBColor {
    let m = |x: u8| (f64::from(x) + (255.0 - f64::from(x)) * f).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font())
}

fn bold(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size, FontStyle::Bold).into_font())
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    /// Filled square.
    Square(RGBColor),
    /// Square with a light fill and a dark border.
    Outlined(RGBColor, RGBColor),
    /// A short line.
    Line(RGBColor),
    /// A filled circle.
    Circle(RGBColor),
    /// A filled triangle.
    Triangle(RGBColor),
}

struct LegendItem {
    label: String,
    swatch: Swatch,
}

fn item(label: impl Into<String>, swatch: Swatch) -> LegendItem {
    LegendItem {
        label: label.into(),
        swatch,
    }
}

/// Draws the title and a wrapped legend in a header strip; returns the area below it.
fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &'static str,
    title: &str,
    legend: &[LegendItem],
) -> Result<DrawingArea<DB, Shift>, ReportError> {
    let (width, _) = area.dim_in_pixel();
    let label_style = font(16);
    // Lay out legend entries left to right, wrapping at the right edge.
    let mut placed = Vec::new();
    let (mut x, mut row) = (16i32, 0i32);
    for it in legend {
        let (tw, _) = area
            .estimate_text_size(&it.label, &label_style)
            .map_err(ce(chart))?;
        let w = 22 + tw as i32 + 22;
        if x > 16 && x + w > width as i32 - 16 {
            x = 16;
            row += 1;
        }
        placed.push((x, row, it));
        x += w;
    }
    let rows = if legend.is_empty() { 0 } else { row + 1 };
    let header_h = 44 + rows * 24 + 6;
    let (header, body) = area.split_vertically(header_h);
    header
        .draw_text(title, &bold(21), (16, 10))
        .map_err(ce(chart))?;
    for (x, row, it) in placed {
        let y = 44 + row * 24;
        let cy = y + 8;
        match it.swatch {
            Swatch::Square(c) => {
                header.draw(&Rectangle::new([(x, y), (x + 14, y + 14)], c.filled()))
            }
            Swatch::Outlined(fill, border) => header
                .draw(&Rectangle::new([(x, y), (x + 14, y + 14)], fill.filled()))
                .and_then(|_| {
                    header.draw(&Rectangle::new(
                        [(x, y), (x + 14, y + 14)],
                        border.stroke_width(1),
                    ))
                }),
            Swatch::Line(c) => header.draw(&PathElement::new(
                vec![(x, cy), (x + 16, cy)],
                c.stroke_width(3),
            )),
            Swatch::Circle(c) => header.draw(&Circle::new((x + 7, cy), 6, c.filled())),
            Swatch::Triangle(c) => header.draw(&TriangleMarker::new((x + 7, cy), 8, c.filled())),
        }
        .map_err(ce(chart))?;
        header
            .draw_text(&it.label, &label_style, (x + 22, y - 1))
            .map_err(ce(chart))?;
    }
    Ok(body)
}

/// Writes a centred grey note (used when a chart has nothing to show).
fn draw_note<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &'static str,
    text: &str,
) -> Result<(), ReportError> {
    let (w, h) = area.dim_in_pixel();
    let style = font(20)
        .color(&NOTE)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw_text(text, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(ce(chart))
}

/// Tick positions aligned to whole steps, and the date format that suits the step.
fn time_ticks(
    t0: TimestampMs,
    t1: TimestampMs,
    max_ticks: i64,
) -> (Vec<TimestampMs>, &'static str) {
    const MIN: i64 = 60_000;
    const H: i64 = 60 * MIN;
    const D: i64 = 24 * H;
    let steps = [
        MIN,
        5 * MIN,
        15 * MIN,
        30 * MIN,
        H,
        2 * H,
        3 * H,
        6 * H,
        12 * H,
        D,
        2 * D,
        3 * D,
        7 * D,
        14 * D,
        28 * D,
        56 * D,
        91 * D,
        182 * D,
        364 * D,
    ];
    let span = (t1 - t0).max(1);
    let step = steps
        .iter()
        .copied()
        .find(|s| span / s <= max_ticks.max(2))
        .unwrap_or(364 * D);
    let first = t0.div_euclid(step) * step + if t0.rem_euclid(step) == 0 { 0 } else { step };
    let ticks: Vec<TimestampMs> = (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= t1)
        .collect();
    let fmt = if step >= D { "%Y-%m-%d" } else { "%m-%d %H:%M" };
    (ticks, fmt)
}

fn fmt_time(ms: TimestampMs, fmt: &str) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.format(fmt).to_string())
        .unwrap_or_else(|| format!("{ms}ms"))
}

/// Keeps at most about `max` points: each bucket contributes its minimum and maximum, in time order.
fn thin(points: &[(TimestampMs, f64)], max: usize) -> Vec<(TimestampMs, f64)> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let bucket = points.len().div_ceil(max / 2);
    let mut out = Vec::with_capacity(max + 2);
    for chunk in points.chunks(bucket) {
        let lo = chunk
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .map(|(i, _)| i);
        let hi = chunk
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .map(|(i, _)| i);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
            out.push(chunk[a]);
            if b != a {
                out.push(chunk[b]);
            }
        }
    }
    out
}

/// Categorical axes use integer coordinates scaled by this factor (category `i` spans
/// `[i·CAT, (i+1)·CAT)`), because plotters formats key points of integer ranges only.
const CAT: f64 = 1000.0;

/// A categorical position (`1.5` = the middle of category 1) as an axis coordinate.
fn cx(v: f64) -> i32 {
    (v * CAT).round() as i32
}

/// The category index of an axis coordinate.
fn cat_index(c: i32) -> usize {
    (f64::from(c) / CAT).floor().max(0.0) as usize
}

/// Key points at the middle of `n` categories.
fn cat_centres(n: usize) -> Vec<i32> {
    (0..n).map(|i| cx(i as f64 + 0.5)).collect()
}

fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if (hi - lo).abs() < 1e-12 {
        let d = if lo.abs() > 1e-9 {
            lo.abs() * 0.05
        } else {
            1.0
        };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * frac;
    (lo - d, hi + d)
}

/// A compact number for axis labels: `12,345` / `1.2M` / `0.35`.
fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Runs per (account, policy), in account order then sorted policy order.
fn groups(runs: &[RunResult]) -> Vec<(String, String, Vec<&RunResult>)> {
    let mut out = Vec::new();
    for account in accounts(runs) {
        for policy in policies(runs) {
            let g: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.account == account && r.policy == policy)
                .collect();
            if !g.is_empty() {
                out.push((account.clone(), policy, g));
            }
        }
    }
    out
}

/// The largest number of runs any (account, policy) group has.
fn max_group_runs(runs: &[RunResult]) -> usize {
    groups(runs).iter().map(|g| g.2.len()).max().unwrap_or(0)
}

fn policy_legend(runs: &[RunResult], swatch: fn(RGBColor) -> Swatch) -> Vec<LegendItem> {
    let sorted = policies(runs);
    let n = max_group_runs(runs);
    sorted
        .iter()
        .map(|p| {
            let label = if n > 1 {
                format!("{p} (one line per sweep run)")
            } else {
                p.clone()
            };
            item(label, swatch(policy_colour(&sorted, p)))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Equity and drawdown

#[derive(Clone, Copy, PartialEq)]
enum Curve {
    Equity,
    Drawdown,
}

/// Equity curves per policy, one panel per account (USDT, time in UTC).
pub fn draw_equity<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<(), ReportError> {
    draw_curves(area, input, Curve::Equity)
}

/// Drawdown curves (percent below the running peak) per policy, one panel per account.
pub fn draw_drawdown<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<(), ReportError> {
    draw_curves(area, input, Curve::Drawdown)
}

fn draw_curves<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
    curve: Curve,
) -> Result<(), ReportError> {
    ensure_fonts()?;
    let (kind, y_desc) = match curve {
        Curve::Equity => (ChartKind::Equity, "equity (USDT)"),
        Curve::Drawdown => (ChartKind::Drawdown, "drawdown from peak (%)"),
    };
    let chart = kind.file_stem();
    area.fill(&WHITE).map_err(ce(chart))?;
    let legend = policy_legend(&input.runs, Swatch::Line);
    let body = draw_header(area, chart, kind.title(), &legend)?;
    let accs = accounts(&input.runs);
    let value = |p: &ringfence_model::EquityPoint| match curve {
        Curve::Equity => p.equity,
        Curve::Drawdown => -100.0 * p.drawdown,
    };
    let all_times = input
        .runs
        .iter()
        .flat_map(|r| r.equity.iter().map(|p| p.time));
    let (t0, t1) = match (all_times.clone().min(), all_times.max()) {
        (Some(a), Some(b)) => (a, b.max(a + 60_000)),
        _ => {
            let msg = if input.runs.is_empty() {
                "no runs"
            } else {
                "no equity points in any run"
            };
            return draw_note(&body, chart, msg);
        }
    };
    let sorted = policies(&input.runs);
    let panels = body.split_evenly((accs.len(), 1));
    for (account, panel) in accs.iter().zip(panels.iter()) {
        let runs: Vec<&RunResult> = input
            .runs
            .iter()
            .filter(|r| &r.account == account)
            .collect();
        let values = runs.iter().flat_map(|r| r.equity.iter().map(value));
        let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if curve == Curve::Drawdown {
            hi = 0.0;
            lo = lo.min(-1.0);
        }
        let (y0, y1) = padded(lo, hi, 0.05);
        let (y0, y1) = if curve == Curve::Drawdown {
            (y0, 0.0_f64.max(y1.min(0.5)))
        } else {
            (y0, y1)
        };
        let (ticks, tfmt) = time_ticks(t0, t1, 9);
        let xfmt = |t: &i64| fmt_time(*t, tfmt);
        let yfmt = |v: &f64| match curve {
            Curve::Equity => fmt_num(*v),
            Curve::Drawdown => format!("{v:.0}%"),
        };
        let mut cc = ChartBuilder::on(panel)
            .caption(format!("account {account}"), bold(17))
            .margin(12)
            .margin_right(28)
            .x_label_area_size(44)
            .y_label_area_size(86)
            .build_cartesian_2d((t0..t1).with_key_points(ticks), y0..y1)
            .map_err(ce(chart))?;
        cc.configure_mesh()
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc("time (UTC)")
            .y_desc(y_desc)
            .label_style(font(15))
            .axis_desc_style(font(16))
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .y_labels(7)
            .draw()
            .map_err(ce(chart))?;
        if runs.iter().all(|r| r.equity.is_empty()) {
            draw_note(panel, chart, "no equity points for this account")?;
            continue;
        }
        for policy in &sorted {
            let group: Vec<&&RunResult> = runs.iter().filter(|r| &r.policy == policy).collect();
            let colour = policy_colour(&sorted, policy);
            let style = if group.len() > 1 {
                colour.mix(0.45).stroke_width(1)
            } else {
                colour.stroke_width(2)
            };
            for r in group {
                let pts: Vec<(i64, f64)> = r.equity.iter().map(|p| (p.time, value(p))).collect();
                cc.draw_series(LineSeries::new(thin(&pts, MAX_CURVE_POINTS), style))
                    .map_err(ce(chart))?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Liquidation counts

/// Liquidation events per policy (bars) within each account (groups); cascade victims stacked on
/// top in a lighter shade of the policy colour. With sweeps, counts are summed over the runs of
/// each (account, policy) group and the axis says so.
pub fn draw_liquidation_counts<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<(), ReportError> {
    ensure_fonts()?;
    let kind = ChartKind::LiquidationCounts;
    let chart = kind.file_stem();
    area.fill(&WHITE).map_err(ce(chart))?;
    let sorted = policies(&input.runs);
    let mut legend: Vec<LegendItem> = sorted
        .iter()
        .map(|p| {
            item(
                format!("{p}: liquidation events"),
                Swatch::Square(policy_colour(&sorted, p)),
            )
        })
        .collect();
    legend.push(item(
        "lighter shade on top: cascade victims (healthy positions closed by another's loss)",
        Swatch::Outlined(lighten(PALETTE[0], 0.6), PALETTE[0]),
    ));
    let body = draw_header(area, chart, kind.title(), &legend)?;
    if input.runs.is_empty() {
        return draw_note(&body, chart, "no runs");
    }
    let accs = accounts(&input.runs);
    let n_runs = max_group_runs(&input.runs);
    // (account index, policy index) -> (events, victims, runs)
    let mut counts: BTreeMap<(usize, usize), (u64, u64, usize)> = BTreeMap::new();
    for r in &input.runs {
        let a = accs.iter().position(|x| x == &r.account).unwrap_or(0);
        let p = sorted.iter().position(|x| x == &r.policy).unwrap_or(0);
        let e = counts.entry((a, p)).or_default();
        e.0 += u64::from(r.summary.liquidations);
        e.1 += u64::from(r.summary.cascade_victims);
        e.2 += 1;
    }
    let ymax = counts.values().map(|c| c.0 + c.1).max().unwrap_or(0);
    let y1 = (ymax as f64 * 1.18).max(ymax as f64 + 1.0).max(4.0);
    let na = cx(accs.len() as f64);
    let centres = cat_centres(accs.len());
    let xfmt = |x: &i32| {
        accs.get(cat_index(*x))
            .map(|a| format!("account {a}"))
            .unwrap_or_default()
    };
    let yfmt = |v: &f64| format!("{v:.0}");
    let y_desc = if n_runs > 1 {
        format!("count, summed over the sweep runs of each group (up to {n_runs})")
    } else {
        "count".to_string()
    };
    let mut cc = ChartBuilder::on(&body)
        .margin(16)
        .margin_right(28)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d((0..na).with_key_points(centres), 0.0..y1)
        .map_err(ce(chart))?;
    cc.configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .y_desc(y_desc)
        .label_style(font(15))
        .axis_desc_style(font(16))
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .draw()
        .map_err(ce(chart))?;
    let np = sorted.len().max(1) as f64;
    let slot = 0.8 / np;
    for (&(a, p), &(events, victims, _)) in &counts {
        let colour = policy_colour(&sorted, &sorted[p]);
        let x0f = a as f64 + 0.1 + slot * p as f64 + slot * 0.08;
        let x1f = x0f + slot * 0.84;
        let (x0, x1, xm) = (cx(x0f), cx(x1f), cx((x0f + x1f) / 2.0));
        let e = events as f64;
        let v = victims as f64;
        cc.draw_series([Rectangle::new([(x0, 0.0), (x1, e)], colour.filled())])
            .map_err(ce(chart))?;
        if victims > 0 {
            cc.draw_series([
                Rectangle::new([(x0, e), (x1, e + v)], lighten(colour, 0.6).filled()),
                Rectangle::new([(x0, e), (x1, e + v)], colour.stroke_width(1)),
            ])
            .map_err(ce(chart))?;
        }
        let label = if victims > 0 {
            format!("{events} + {victims}")
        } else {
            format!("{events}")
        };
        let style = font(14).pos(Pos::new(HPos::Center, VPos::Bottom));
        cc.draw_series([Text::new(label, (xm, e + v + y1 * 0.01), style)])
            .map_err(ce(chart))?;
        let name_style = font(13)
            .color(&NOTE)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        cc.draw_series([Text::new(
            sorted[p].clone(),
            (xm, e + v + y1 * 0.055),
            name_style,
        )])
        .map_err(ce(chart))?;
    }
    if ymax == 0 {
        draw_note(&body, chart, "no liquidations in any run")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Liquidation timeline

/// Close price of the symbols involved (normalised to 100 at the start when there are several)
/// with one marker per liquidation event: colour = policy, circle = isolated, triangle = cross
/// (larger when it is a cascade). A marker sits on the price line of the event's culprit symbol.
pub fn draw_liquidation_timeline<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<(), ReportError> {
    ensure_fonts()?;
    let kind = ChartKind::LiquidationTimeline;
    let chart = kind.file_stem();
    area.fill(&WHITE).map_err(ce(chart))?;
    let sorted = policies(&input.runs);
    let prices: Vec<&crate::PriceSeries> = input
        .prices
        .iter()
        .filter(|p| !p.times.is_empty())
        .collect();
    let normalise = prices.len() > 1;
    let mut legend: Vec<LegendItem> = prices
        .iter()
        .enumerate()
        .map(|(i, p)| {
            item(
                p.symbol.to_string(),
                Swatch::Line(PRICE_TONES[i % PRICE_TONES.len()]),
            )
        })
        .collect();
    for p in &sorted {
        legend.push(item(p.clone(), Swatch::Square(policy_colour(&sorted, p))));
    }
    legend.push(item("isolated liquidation", Swatch::Circle(NOTE)));
    legend.push(item(
        "cross liquidation (large: cascade)",
        Swatch::Triangle(NOTE),
    ));
    let body = draw_header(area, chart, kind.title(), &legend)?;

    let events: Vec<(&RunResult, &LiquidationEvent)> = input
        .runs
        .iter()
        .flat_map(|r| r.liquidations.iter().map(move |e| (r, e)))
        .collect();
    let times = prices
        .iter()
        .flat_map(|p| p.times.iter().copied())
        .chain(events.iter().map(|(_, e)| e.time));
    let (t0, t1) = match (times.clone().min(), times.max()) {
        (Some(a), Some(b)) => (a, b.max(a + 60_000)),
        _ => return draw_note(&body, chart, "no price data and no liquidations"),
    };
    let base = |p: &crate::PriceSeries| {
        if normalise {
            p.close
                .iter()
                .copied()
                .find(|c| c.is_finite() && *c > 0.0)
                .map(|c| 100.0 / c)
                .unwrap_or(1.0)
        } else {
            1.0
        }
    };
    let lines: Vec<Vec<(i64, f64)>> = prices
        .iter()
        .map(|p| {
            let k = base(p);
            let pts: Vec<(i64, f64)> = p
                .times
                .iter()
                .zip(&p.close)
                .filter(|(_, c)| c.is_finite())
                .map(|(t, c)| (*t, c * k))
                .collect();
            thin(&pts, MAX_CURVE_POINTS)
        })
        .collect();
    let (lo, hi) = lines
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let (y0, y1) = if lines.iter().all(|l| l.is_empty()) {
        (0.0, 1.0)
    } else {
        padded(lo, hi, 0.06)
    };
    let (ticks, tfmt) = time_ticks(t0, t1, 9);
    let xfmt = |t: &i64| fmt_time(*t, tfmt);
    let yfmt = |v: &f64| fmt_num(*v);
    let y_desc = match prices.as_slice() {
        [] => "no price data".to_string(),
        [one] => format!("{} close (USDT)", one.symbol),
        _ => "close, normalised to 100 at start".to_string(),
    };
    let mut cc = ChartBuilder::on(&body)
        .margin(16)
        .margin_right(28)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d((t0..t1).with_key_points(ticks), y0..y1)
        .map_err(ce(chart))?;
    cc.configure_mesh()
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .x_desc("time (UTC)")
        .y_desc(y_desc)
        .label_style(font(15))
        .axis_desc_style(font(16))
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .draw()
        .map_err(ce(chart))?;
    for (i, line) in lines.iter().enumerate() {
        let c = PRICE_TONES[i % PRICE_TONES.len()];
        if i % 2 == 0 {
            cc.draw_series(LineSeries::new(line.iter().copied(), c.stroke_width(2)))
                .map_err(ce(chart))?;
        } else {
            cc.draw_series(DashedLineSeries::new(
                line.iter().copied(),
                7,
                4,
                c.stroke_width(2),
            ))
            .map_err(ce(chart))?;
        }
    }
    // Identical markers (same time, symbol, policy, mode, cascade or not) from several runs of a
    // sweep are drawn once with a "×n" count; policies at the same spot are dodged sideways.
    let mut markers: BTreeMap<(i64, usize, String, MarginMode, bool), u32> = BTreeMap::new();
    for (run, e) in &events {
        let symbol = e
            .positions
            .iter()
            .find(|p| p.culprit)
            .or(e.positions.first())
            .map(|p| p.symbol.to_string())
            .unwrap_or_default();
        let p = sorted.iter().position(|x| x == &run.policy).unwrap_or(0);
        *markers
            .entry((e.time, p, symbol, e.mode, e.is_cascade()))
            .or_default() += 1;
    }
    let dodge = ((t1 - t0) as f64 * 0.012) as i64;
    let mid = (sorted.len() as f64 - 1.0) / 2.0;
    for ((time, p, symbol, mode, cascade), n) in &markers {
        let colour = policy_colour(&sorted, &sorted[*p]);
        // On the symbol's price line at the event time; at the bottom edge when unknown.
        let y = prices
            .iter()
            .find(|s| s.symbol.as_str() == symbol)
            .and_then(|s| {
                let j = s.times.partition_point(|t| t <= time);
                s.close.get(j.saturating_sub(1)).map(|c| c * base(s))
            })
            .unwrap_or(y0 + (y1 - y0) * 0.02);
        let x = time + ((*p as f64 - mid) * dodge as f64) as i64;
        let style = colour.mix(0.9).filled();
        let border = WHITE.stroke_width(1);
        match mode {
            MarginMode::Isolated => cc
                .draw_series([
                    Circle::new((x, y), 6, style),
                    Circle::new((x, y), 6, border),
                ])
                .map(|_| ()),
            MarginMode::Cross => {
                let size = if *cascade { 11 } else { 7 };
                cc.draw_series([TriangleMarker::new((x, y), size, style)])
                    .map(|_| ())
            }
        }
        .map_err(ce(chart))?;
        if *n > 1 {
            let label = font(11)
                .color(&colour)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            let ly = y + (y1 - y0) * if *cascade { 0.034 } else { 0.022 };
            cc.draw_series([Text::new(format!("{n}×"), (x, ly), label)])
                .map_err(ce(chart))?;
        }
    }
    if events.is_empty() {
        draw_note(&body, chart, "no liquidations")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cascade attribution

/// For cross liquidations: how many positions of each symbol were closed as the **culprit** (their
/// loss exceeded their own margin) and how many as **victims** (healthy positions closed with
/// them). One panel per policy that had cross liquidations; horizontal bars, summed over runs.
pub fn draw_cascade_attribution<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<(), ReportError> {
    ensure_fonts()?;
    let kind = ChartKind::CascadeAttribution;
    let chart = kind.file_stem();
    area.fill(&WHITE).map_err(ce(chart))?;
    let legend = [
        item(
            "culprit: its loss exceeded its own margin",
            Swatch::Square(CULPRIT),
        ),
        item(
            "victim: healthy position closed with it",
            Swatch::Outlined(VICTIM, CULPRIT),
        ),
    ];
    let body = draw_header(area, chart, kind.title(), &legend)?;
    let sorted = policies(&input.runs);
    // policy -> symbol -> (culprits, victims); policy -> (cross events, cascades)
    let mut per: BTreeMap<&str, BTreeMap<String, (u64, u64)>> = BTreeMap::new();
    let mut events: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in &input.runs {
        for e in r
            .liquidations
            .iter()
            .filter(|e| e.mode == MarginMode::Cross)
        {
            let ev = events.entry(r.policy.as_str()).or_default();
            ev.0 += 1;
            ev.1 += u64::from(e.is_cascade());
            let m = per.entry(r.policy.as_str()).or_default();
            for p in &e.positions {
                let c = m.entry(p.symbol.to_string()).or_default();
                if p.culprit {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
        }
    }
    if per.is_empty() {
        return draw_note(&body, chart, "no cross liquidations: nothing to attribute");
    }
    let xmax = per
        .values()
        .flat_map(|m| m.values().map(|c| c.0.max(c.1)))
        .max()
        .unwrap_or(1);
    let x1 = (xmax as f64 * 1.15).max(xmax as f64 + 1.0);
    let panels = body.split_evenly((1, per.len()));
    for ((policy, symbols), panel) in per.iter().zip(panels.iter()) {
        // At most 10 symbols per panel: the rest summed as "other".
        let mut rows: Vec<(String, (u64, u64))> =
            symbols.iter().map(|(s, c)| (s.clone(), *c)).collect();
        rows.sort_by(|a, b| (b.1.0 + b.1.1).cmp(&(a.1.0 + a.1.1)).then(a.0.cmp(&b.0)));
        if rows.len() > 10 {
            let rest = rows.split_off(9);
            let sum = rest
                .iter()
                .fold((0, 0), |acc, r| (acc.0 + r.1.0, acc.1 + r.1.1));
            rows.push((format!("{} others", rest.len()), sum));
        }
        let n = rows.len() as f64;
        let ny = cx(n);
        let (ev, casc) = events.get(policy).copied().unwrap_or_default();
        let colour = policy_colour(&sorted, policy);
        let caption = format!("{policy}: {ev} cross liquidations, {casc} cascades");
        let centres = cat_centres(rows.len());
        let yfmt = |y: &i32| {
            let i = cat_index(*y);
            // Row 0 at the top.
            rows.get(rows.len().saturating_sub(1 + i))
                .map(|r| r.0.clone())
                .unwrap_or_default()
        };
        let xfmt = |v: &f64| format!("{v:.0}");
        let mut cc = ChartBuilder::on(panel)
            .caption(caption, bold(16).color(&colour))
            .margin(14)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(120)
            .build_cartesian_2d(0.0..x1, (0..ny).with_key_points(centres))
            .map_err(ce(chart))?;
        cc.configure_mesh()
            .disable_y_mesh()
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc("positions closed")
            .label_style(font(15))
            .axis_desc_style(font(16))
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(6)
            .draw()
            .map_err(ce(chart))?;
        for (i, (_, (culprits, victims))) in rows.iter().enumerate() {
            let y = n - 1.0 - i as f64;
            let (c, v) = (*culprits as f64, *victims as f64);
            cc.draw_series([
                Rectangle::new([(0.0, cx(y + 0.52)), (c, cx(y + 0.88))], CULPRIT.filled()),
                Rectangle::new([(0.0, cx(y + 0.12)), (v, cx(y + 0.48))], VICTIM.filled()),
                Rectangle::new(
                    [(0.0, cx(y + 0.12)), (v, cx(y + 0.48))],
                    CULPRIT.stroke_width(1),
                ),
            ])
            .map_err(ce(chart))?;
            let style = font(13).pos(Pos::new(HPos::Left, VPos::Center));
            cc.draw_series([
                Text::new(format!(" {culprits}"), (c, cx(y + 0.7)), style.clone()),
                Text::new(format!(" {victims}"), (v, cx(y + 0.3)), style),
            ])
            .map_err(ce(chart))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sweep heatmap

/// The two sweep axes: the first two parameter keys (in order of appearance) that take at least
/// two distinct values across runs, each with its values (numeric order when all are numbers,
/// else order of appearance).
pub fn sweep_axes(runs: &[RunResult]) -> Option<[(String, Vec<String>); 2]> {
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for r in runs {
        for (k, v) in &r.params {
            match keys.iter_mut().find(|(key, _)| key == k) {
                Some((_, vals)) if !vals.contains(v) => vals.push(v.clone()),
                Some(_) => {}
                None => keys.push((k.clone(), vec![v.clone()])),
            }
        }
    }
    let mut varying = keys
        .into_iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(k, mut v)| {
            let nums: Option<Vec<f64>> = v.iter().map(|s| s.trim().parse::<f64>().ok()).collect();
            if let Some(nums) = nums {
                let mut idx: Vec<usize> = (0..v.len()).collect();
                idx.sort_by(|a, b| nums[*a].total_cmp(&nums[*b]));
                v = idx.into_iter().map(|i| v[i].clone()).collect();
            }
            (k, v)
        });
    let a = varying.next()?;
    let b = varying.next()?;
    Some([a, b])
}

fn param<'a>(r: &'a RunResult, key: &str) -> Option<&'a str> {
    r.params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// One heatmap per account (rows) × policy (columns) over the first two varying sweep parameters:
/// cell colour = liquidation events of the worst run in the cell (white = 0, red = the largest
/// count anywhere), cell text = that count and the worst max drawdown. Runs that differ only in
/// other parameters fall in the same cell and the worst case is shown.
pub fn draw_sweep_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<(), ReportError> {
    ensure_fonts()?;
    let kind = ChartKind::SweepHeatmap;
    let chart = kind.file_stem();
    area.fill(&WHITE).map_err(ce(chart))?;
    let Some([(kx, vx), (ky, vy)]) = sweep_axes(&input.runs) else {
        let body = draw_header(area, chart, kind.title(), &[])?;
        return draw_note(&body, chart, "the sweep does not vary two parameters");
    };
    // (account, policy, xi, yi) -> (worst liquidations, worst max drawdown %, wipeouts)
    type CellKey = (usize, usize, usize, usize);
    let mut cells: BTreeMap<CellKey, (u32, f64, u32)> = BTreeMap::new();
    let accs = accounts(&input.runs);
    let sorted = policies(&input.runs);
    for r in &input.runs {
        let (Some(x), Some(y)) = (param(r, &kx), param(r, &ky)) else {
            continue;
        };
        let (Some(xi), Some(yi)) = (
            vx.iter().position(|v| v == x),
            vy.iter().position(|v| v == y),
        ) else {
            continue;
        };
        let a = accs.iter().position(|v| v == &r.account).unwrap_or(0);
        let p = sorted.iter().position(|v| v == &r.policy).unwrap_or(0);
        let c = cells.entry((a, p, xi, yi)).or_insert((0, 0.0, 0));
        c.0 = c.0.max(r.summary.liquidations);
        c.1 = c.1.max(r.summary.max_drawdown_pct);
        c.2 = c.2.max(r.summary.wipeouts);
    }
    let max_liq = cells.values().map(|c| c.0).max().unwrap_or(0);
    let legend = [
        item("0 liquidations", Swatch::Outlined(WHITE, NOTE)),
        item(
            format!("{max_liq} liquidations (worst run in the cell)"),
            Swatch::Square(HEAT),
        ),
        item(
            "cell text: liquidations, worst max drawdown (DD), wipeout",
            Swatch::Outlined(lighten(HEAT, 0.5), NOTE),
        ),
    ];
    let body = draw_header(area, chart, kind.title(), &legend)?;
    let panels = body.split_evenly((accs.len(), sorted.len()));
    let (nx, ny) = (cx(vx.len() as f64), cx(vy.len() as f64));
    for (ai, account) in accs.iter().enumerate() {
        for (pi, policy) in sorted.iter().enumerate() {
            let panel = &panels[ai * sorted.len() + pi];
            let colour = policy_colour(&sorted, policy);
            let (xc, yc) = (cat_centres(vx.len()), cat_centres(vy.len()));
            let xfmt = |x: &i32| vx.get(cat_index(*x)).cloned().unwrap_or_default();
            let yfmt = |y: &i32| vy.get(cat_index(*y)).cloned().unwrap_or_default();
            let mut cc = ChartBuilder::on(panel)
                .caption(
                    format!("account {account} / {policy}"),
                    bold(16).color(&colour),
                )
                .margin(12)
                .margin_right(20)
                .x_label_area_size(44)
                .y_label_area_size(78)
                .build_cartesian_2d((0..nx).with_key_points(xc), (0..ny).with_key_points(yc))
                .map_err(ce(chart))?;
            cc.configure_mesh()
                .disable_mesh()
                .x_label_formatter(&xfmt)
                .y_label_formatter(&yfmt)
                .x_desc(kx.as_str())
                .y_desc(ky.as_str())
                .label_style(font(15))
                .axis_desc_style(font(16))
                .draw()
                .map_err(ce(chart))?;
            for xi in 0..vx.len() {
                for yi in 0..vy.len() {
                    let (x, y) = (xi as f64, yi as f64);
                    let rect = [(cx(x + 0.02), cx(y + 0.02)), (cx(x + 0.98), cx(y + 0.98))];
                    let Some(&(liq, dd, wipeouts)) = cells.get(&(ai, pi, xi, yi)) else {
                        cc.draw_series([Rectangle::new(rect, GRID.filled())])
                            .map_err(ce(chart))?;
                        let style = font(14)
                            .color(&NOTE)
                            .pos(Pos::new(HPos::Center, VPos::Center));
                        cc.draw_series([Text::new("no run", (cx(x + 0.5), cx(y + 0.5)), style)])
                            .map_err(ce(chart))?;
                        continue;
                    };
                    let f = if max_liq == 0 {
                        0.0
                    } else {
                        f64::from(liq) / f64::from(max_liq)
                    };
                    let fill = lighten(HEAT, 1.0 - f);
                    let text_colour = if f > 0.55 { WHITE } else { BLACK };
                    cc.draw_series([
                        Rectangle::new(rect, fill.filled()),
                        Rectangle::new(rect, RGBColor(0xCC, 0xCC, 0xCC).stroke_width(1)),
                    ])
                    .map_err(ce(chart))?;
                    let top = bold(17)
                        .color(&text_colour)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    let sub = font(14)
                        .color(&text_colour)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    cc.draw_series([
                        Text::new(format!("{liq} liq"), (cx(x + 0.5), cx(y + 0.6)), top),
                        Text::new(
                            format!("DD {dd:.0}%"),
                            (cx(x + 0.5), cx(y + 0.36)),
                            sub.clone(),
                        ),
                    ])
                    .map_err(ce(chart))?;
                    if wipeouts > 0 {
                        cc.draw_series([Text::new("wiped out", (cx(x + 0.5), cx(y + 0.18)), sub)])
                            .map_err(ce(chart))?;
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn ticks_align_to_days() {
        let d = 86_400_000;
        let (ticks, fmt) = time_ticks(d / 2, 20 * d + 5, 9);
        assert_eq!(fmt, "%Y-%m-%d");
        assert!(ticks.len() <= 10 && ticks.len() >= 5, "{ticks:?}");
        assert!(ticks.iter().all(|t| t % d == 0));
        assert!(ticks[0] >= d / 2 && *ticks.last().unwrap() <= 20 * d + 5);
    }

    #[test]
    fn ticks_within_a_day_show_hours() {
        let h = 3_600_000;
        let (ticks, fmt) = time_ticks(0, 10 * h, 9);
        assert_eq!(fmt, "%m-%d %H:%M");
        assert_eq!(ticks, (0..=5).map(|i| i * 2 * h).collect::<Vec<_>>());
    }

    #[test]
    fn thin_keeps_extremes_and_order() {
        let pts: Vec<(i64, f64)> = (0..10_000).map(|i| (i, ((i * 37) % 101) as f64)).collect();
        let out = thin(&pts, 200);
        assert!(out.len() <= 202, "{}", out.len());
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(out.iter().any(|p| p.1 == 100.0) && out.iter().any(|p| p.1 == 0.0));
        assert_eq!(thin(&pts[..50], 200).len(), 50);
    }

    #[test]
    fn numbers_are_compact() {
        assert_eq!(fmt_num(1_234_567.0), "1.2M");
        assert_eq!(fmt_num(12_345.0), "12k");
        assert_eq!(fmt_num(950.0), "950");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(0.0), "0");
    }
}
