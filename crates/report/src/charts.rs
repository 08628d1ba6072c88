//! The charts, each drawn by one backend-generic function onto any plotters [`DrawingArea`].
//!
//! The same function draws the PNG (via [`render_png`], [`BitMapBackend`]) and the SVG inlined in
//! the HTML page (via [`render_svg`], [`SVGBackend::with_string`]).
//!
//! Conventions shared by every chart:
//! - one colour per policy, from its margin-mode family and its name ([`policy_colour_hex`]), the
//!   same in every chart, table and report;
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
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::{RangedCoordf64, RangedCoordi64};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use ringfence_model::{EquityPoint, LiquidationEvent, MarginMode, RunResult, TimestampMs};
use std::collections::BTreeMap;
use std::path::Path;

/// Policy colours by margin-mode family (colour-blind-aware tones after Okabe–Ito and Tol): blues
/// for isolated, reds/oranges for cross, greens/purples for hybrid, neutrals when the mode is
/// unknown. Shade 0 is the family's own name (`isolated`, `cross`, `hybrid`); see [`policy_colour_hex`].
const FAMILY_SHADES: [[RGBColor; 4]; 4] = [
    [
        RGBColor(0x00, 0x72, 0xB2),
        RGBColor(0x56, 0xB4, 0xE9),
        RGBColor(0x1B, 0x3F, 0x8B),
        RGBColor(0x4A, 0x90, 0xA4),
    ],
    [
        RGBColor(0xD5, 0x5E, 0x00),
        RGBColor(0xB2, 0x18, 0x2B),
        RGBColor(0xE6, 0x9F, 0x00),
        RGBColor(0x8E, 0x3B, 0x0B),
    ],
    [
        RGBColor(0x00, 0x9E, 0x73),
        RGBColor(0xCC, 0x79, 0xA7),
        RGBColor(0x11, 0x77, 0x33),
        RGBColor(0x7B, 0x32, 0x94),
    ],
    [
        RGBColor(0x8C, 0x56, 0x4B),
        RGBColor(0x33, 0x33, 0x33),
        RGBColor(0x99, 0x99, 0x33),
        RGBColor(0xAA, 0x44, 0x99),
    ],
];
/// Culprit positions in the cascade chart (not a policy colour).
const CULPRIT: RGBColor = RGBColor(0x3A, 0x3A, 0x3A);
/// Victim positions in the cascade chart (not a policy colour).
const VICTIM: RGBColor = RGBColor(0xBD, 0xBD, 0xBD);
/// Price lines of the liquidation timeline: six distinct dark tones (alternately solid and dashed),
/// muted so that the policy colours of the markers stand out.
const PRICE_TONES: [RGBColor; 6] = [
    RGBColor(0x22, 0x22, 0x22),
    RGBColor(0x6A, 0x51, 0x2E),
    RGBColor(0x2F, 0x5F, 0x5F),
    RGBColor(0x7A, 0x7A, 0x7A),
    RGBColor(0x5B, 0x3A, 0x6E),
    RGBColor(0x4D, 0x6B, 0x2A),
];
/// Loss end of the heatmap scale (wiped out).
const HEAT: RGBColor = RGBColor(0xB2, 0x18, 0x2B);
/// Gain end of the heatmap scale.
const GAIN: RGBColor = RGBColor(0x1A, 0x98, 0x50);
pub(crate) const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const NOTE: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Most points drawn per curve; longer curves keep each bucket's minimum and maximum.
const MAX_CURVE_POINTS: usize = 1200;

/// The resolution (per curve: equity, drawdown, margin ratio) at which a run directory stores
/// equity curves for people and for the report (`equity.csv`, the report's curves; see
/// [`thin_equity`]): about 100 buckets, each keeping its first and last point, minimum, maximum and
/// largest step. Sized so that a 24-run sweep of a month of 1m bars writes a few MB.
pub const STORED_CURVE_POINTS: usize = 600;

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
    /// Money gained or lost by cause (stop, target, liquidation, ..., fees), per policy and account.
    MoneyByCause,
}

impl ChartKind {
    /// Every chart, in report order.
    pub const ALL: [ChartKind; 7] = [
        ChartKind::Equity,
        ChartKind::MoneyByCause,
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
            ChartKind::MoneyByCause => "money_by_cause",
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
            ChartKind::SweepHeatmap => "Sweep heatmap: final equity (worst run per cell)",
            ChartKind::MoneyByCause => "Money by cause (USDT, mean per run)",
        }
    }

    /// Whether the chart means anything for this input (the heatmap needs two varying sweep
    /// parameters); every other chart always draws, with a note when it has nothing to show.
    pub fn applies(self, input: &ReportInput) -> bool {
        match self {
            // A large sweep's detail runs are only its extremes: no grid to draw.
            ChartKind::SweepHeatmap => input.sweep.is_none() && sweep_axes(&input.runs).is_some(),
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
            ChartKind::MoneyByCause => draw_money_by_cause(area, input),
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

/// The colour of `policy` as `#rrggbb` (the same colour every chart and table uses).
///
/// Stable across reports: it depends only on the policy's margin-mode family and its name, never
/// on which other policies a report holds (except to break a clash, below). The family comes from
/// the name when it contains `isolated`, `cross` or `hybrid`, else from the modes of the policy's
/// channel positions (all isolated, all cross, or both = hybrid). Within the family, a policy named
/// exactly like the family gets the first shade, any other name shade `1 + FNV-1a(name) mod 3`. Two
/// policies of one report that land on the same shade: the later name (sorted) takes the next
/// free shade of its family, then of the neutral family.
pub fn policy_colour_hex(input: &ReportInput, policy: &str) -> String {
    let c = policy_colour(&input.runs, policy);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

pub(crate) fn ce<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> ReportError {
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

/// The margin-mode family of a policy: 0 isolated, 1 cross, 2 hybrid, 3 unknown.
pub(crate) fn policy_family(runs: &[RunResult], policy: &str) -> usize {
    let lower = policy.to_ascii_lowercase();
    for (i, word) in ["isolated", "cross", "hybrid"].iter().enumerate() {
        if lower.contains(word) {
            return i;
        }
    }
    let (mut iso, mut cross) = (false, false);
    for t in runs
        .iter()
        .filter(|r| r.policy == policy)
        .flat_map(|r| r.trades.iter().filter(|t| !t.background))
    {
        match t.mode {
            MarginMode::Isolated => iso = true,
            MarginMode::Cross => cross = true,
        }
    }
    match (iso, cross) {
        (true, false) => 0,
        (false, true) => 1,
        (true, true) => 2,
        (false, false) => 3,
    }
}

/// FNV-1a, 64 bit: a hash that never changes between builds or platforms.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The preferred (family, shade) of a policy, before clashes are resolved.
fn preferred_shade(runs: &[RunResult], policy: &str) -> (usize, usize) {
    let family = policy_family(runs, policy);
    let own = ["isolated", "cross", "hybrid", ""][family];
    let shade = if policy.eq_ignore_ascii_case(own) {
        0
    } else {
        1 + (fnv1a(policy) % 3) as usize
    };
    (family, shade)
}

/// Colours of every policy of `runs`, clashes resolved in sorted-name order.
pub(crate) fn policy_colours(runs: &[RunResult]) -> BTreeMap<String, RGBColor> {
    colours_of(policies(runs), runs)
}

/// Colours of `names` (the policies of a report that holds no runs, e.g. a stress report: the
/// family then comes from the name alone), resolved like [`policy_colour_hex`].
pub(crate) fn colours_by_name(names: &[String]) -> BTreeMap<String, RGBColor> {
    let mut v = names.to_vec();
    v.sort();
    v.dedup();
    colours_of(v, &[])
}

fn colours_of(mut names: Vec<String>, runs: &[RunResult]) -> BTreeMap<String, RGBColor> {
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = BTreeMap::new();
    // Names that are exactly a family name claim their shade first.
    names.sort_by_key(|p| preferred_shade(runs, p).1 != 0);
    for p in names {
        let (family, shade) = preferred_shade(runs, &p);
        let candidates = (0..4)
            .map(|k| (family, (shade + k) % 4))
            .chain((0..16).map(|k| (3 - k / 4 % 4, k % 4)));
        let slot = candidates
            .into_iter()
            .find(|c| !taken.contains(c))
            .unwrap_or((family, shade));
        taken.push(slot);
        out.insert(p, FAMILY_SHADES[slot.0][slot.1]);
    }
    out
}

fn policy_colour(runs: &[RunResult], policy: &str) -> RGBColor {
    policy_colours(runs)
        .get(policy)
        .copied()
        .unwrap_or(FAMILY_SHADES[3][1])
}

/// Mixes `c` with white: `f = 0` keeps `c`, `f = 1` is white.
pub(crate) fn lighten(c: RGBColor, f: f64) -> RGBColor {
    let m = |x: u8| (f64::from(x) + (255.0 - f64::from(x)) * f).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

pub(crate) fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font())
}

pub(crate) fn bold(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size, FontStyle::Bold).into_font())
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
pub(crate) enum Swatch {
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

pub(crate) struct LegendItem {
    label: String,
    swatch: Swatch,
}

pub(crate) fn item(label: impl Into<String>, swatch: Swatch) -> LegendItem {
    LegendItem {
        label: label.into(),
        swatch,
    }
}

/// Draws the title and a wrapped legend in a header strip; returns the area below it.
pub(crate) fn draw_header<DB: DrawingBackend>(
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

/// The chart context the time-series charts share: a caption, time (UTC) on x with whole-step
/// ticks, `y_desc` on y with `yfmt` labels, light grid; the mesh is drawn.
#[allow(clippy::type_complexity)]
pub(crate) fn time_chart<'a, DB: DrawingBackend>(
    panel: &'a DrawingArea<DB, Shift>,
    chart: &'static str,
    caption: &str,
    (t0, t1): (TimestampMs, TimestampMs),
    (y0, y1): (f64, f64),
    y_desc: &str,
    yfmt: &dyn Fn(&f64) -> String,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<WithKeyPoints<RangedCoordi64>, RangedCoordf64>>,
    ReportError,
> {
    let (ticks, tfmt) = time_ticks(t0, t1, 9);
    let xfmt = |t: &i64| fmt_time(*t, tfmt);
    let mut cc = ChartBuilder::on(panel)
        .caption(caption, bold(17))
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
    Ok(cc)
}

/// Writes a centred grey note (used when a chart has nothing to show).
pub(crate) fn draw_note<DB: DrawingBackend>(
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
pub(crate) fn time_ticks(
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

pub(crate) fn fmt_time(ms: TimestampMs, fmt: &str) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.format(fmt).to_string())
        .unwrap_or_else(|| format!("{ms}ms"))
}

/// Downsamples a curve to about `max` points without losing an extreme or a cliff: each bucket
/// keeps its first and last point, its minimum and maximum, and both ends of its largest step
/// (so a fall from 18,889 to 486 in one bar is drawn as the vertical drop it was, whatever
/// happens later in the bucket). The step between buckets is kept because each bucket keeps its
/// first and last point. Points stay in time order; short curves are returned as they are.
pub fn thin(points: &[(TimestampMs, f64)], max: usize) -> Vec<(TimestampMs, f64)> {
    thin_indices(points.len(), |i| points[i].1, max)
        .into_iter()
        .map(|i| points[i])
        .collect()
}

/// The indices [`thin`] keeps of a curve of `len` points whose `i`-th value is `value(i)`, in
/// increasing order (all of them when `len <= max` or `max < 12`). Several curves over the same
/// points (equity, drawdown, margin ratio) keep every extreme and cliff of each when the union of
/// their indices is kept, as [`thin_equity`] does.
pub fn thin_indices(len: usize, value: impl Fn(usize) -> f64, max: usize) -> Vec<usize> {
    if len <= max || max < 12 {
        return (0..len).collect();
    }
    let bucket = len.div_ceil(max / 6);
    let mut out = Vec::with_capacity(max + 6);
    let mut keep: Vec<usize> = Vec::with_capacity(6);
    for base in (0..len).step_by(bucket) {
        let n = bucket.min(len - base);
        keep.clear();
        keep.extend([0, n - 1]);
        if let Some(i) = (0..n).min_by(|&a, &b| value(base + a).total_cmp(&value(base + b))) {
            keep.push(i);
        }
        if let Some(i) = (0..n).max_by(|&a, &b| value(base + a).total_cmp(&value(base + b))) {
            keep.push(i);
        }
        // The largest step into or inside the bucket (from the previous bucket's last point).
        let step = (0..n).filter(|&i| base + i > 0).max_by(|&i, &j| {
            let d = |k: usize| (value(base + k) - value(base + k - 1)).abs();
            d(i).total_cmp(&d(j))
        });
        if let Some(i) = step {
            keep.push(i);
            if i > 0 {
                keep.push(i - 1);
            }
        }
        keep.sort_unstable();
        keep.dedup();
        out.extend(keep.iter().map(|&i| base + i));
    }
    out
}

/// An equity curve at a bounded resolution for the report and the default `equity` table: the
/// points [`thin`] keeps of the equity, of the drawdown and of the cross margin ratio (each to about
/// `max` points), so that every minimum, maximum and cliff of each is kept. Curves of at most
/// `max` points are returned whole.
pub fn thin_equity(points: &[EquityPoint], max: usize) -> Vec<EquityPoint> {
    if points.len() <= max {
        return points.to_vec();
    }
    let mut keep = thin_indices(points.len(), |i| points[i].equity, max);
    keep.extend(thin_indices(points.len(), |i| points[i].drawdown, max));
    keep.extend(thin_indices(points.len(), |i| points[i].margin_ratio, max));
    keep.sort_unstable();
    keep.dedup();
    keep.into_iter().map(|i| points[i]).collect()
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

pub(crate) fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
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
pub(crate) fn fmt_num(v: f64) -> String {
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

/// One legend entry per policy; with a sweep it says which runs the lines are (every run, or a
/// large sweep's best and worst run of each account × policy, [`ReportInput::sweep`]).
fn policy_legend(input: &ReportInput, swatch: fn(RGBColor) -> Swatch) -> Vec<LegendItem> {
    let runs = &input.runs;
    let sorted = policies(runs);
    let n = max_group_runs(runs);
    sorted
        .iter()
        .map(|p| {
            let label = if input.sweep.is_some() {
                format!("{p} (best and worst run of the sweep)")
            } else if n > 1 {
                format!("{p} (one line per sweep run)")
            } else {
                p.clone()
            };
            item(label, swatch(policy_colour(runs, p)))
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
    let legend = policy_legend(input, Swatch::Line);
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
        let yfmt = |v: &f64| match curve {
            Curve::Equity => fmt_num(*v),
            Curve::Drawdown => format!("{v:.0}%"),
        };
        let mut cc = time_chart(
            panel,
            chart,
            &format!("account {account}"),
            (t0, t1),
            (y0, y1),
            y_desc,
            &yfmt,
        )?;
        if runs.iter().all(|r| r.equity.is_empty()) {
            draw_note(panel, chart, "no equity points for this account")?;
            continue;
        }
        // Policies drawn first get wider lines, so a curve that coincides with a later one
        // still shows as a coloured edge around it: no series hides under another.
        let n_pol = sorted.len() as u32;
        for (k, policy) in sorted.iter().enumerate() {
            let group: Vec<&&RunResult> = runs.iter().filter(|r| &r.policy == policy).collect();
            let colour = policy_colour(&input.runs, policy);
            let extra = (3 * (n_pol - 1 - k as u32)).div_ceil(2).min(6);
            let style = if group.len() > 1 {
                colour.mix(0.55).stroke_width(1 + extra / 2)
            } else {
                colour.stroke_width(2 + extra)
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

/// Positions liquidated per policy (bars) within each account (groups), counted the same way in
/// isolated and cross: every position a liquidation closed. The lighter top of a bar is the cascade
/// victims among them; the label adds the number of liquidation events. With sweeps, counts are
/// summed over the runs of each (account, policy) group and the axis says so.
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
                format!("{p}: positions liquidated"),
                Swatch::Square(policy_colour(&input.runs, p)),
            )
        })
        .collect();
    legend.push(item(
        "lighter top: of which cascade victims (healthy positions closed by another's loss)",
        Swatch::Outlined(lighten(FAMILY_SHADES[1][0], 0.6), FAMILY_SHADES[1][0]),
    ));
    let body = draw_header(area, chart, kind.title(), &legend)?;
    if input.runs.is_empty() {
        return draw_note(&body, chart, "no runs");
    }
    let accs = accounts(&input.runs);
    let n_runs = max_group_runs(&input.runs);
    // (account index, policy index) -> (positions liquidated, of which victims, events)
    let mut counts: BTreeMap<(usize, usize), (u64, u64, u64)> = BTreeMap::new();
    for r in &input.runs {
        let a = accs.iter().position(|x| x == &r.account).unwrap_or(0);
        let p = sorted.iter().position(|x| x == &r.policy).unwrap_or(0);
        let e = counts.entry((a, p)).or_default();
        let n = crate::analysis::LiqCount::of(r);
        e.0 += n.positions;
        e.1 += u64::from(r.summary.cascade_victims);
        e.2 += n.events;
    }
    let ymax = counts.values().map(|c| c.0).max().unwrap_or(0);
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
        format!("positions liquidated, summed over the sweep runs of each group (up to {n_runs})")
    } else {
        "positions liquidated".to_string()
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
    for (&(a, p), &(positions, victims, events)) in &counts {
        let colour = policy_colour(&input.runs, &sorted[p]);
        let x0f = a as f64 + 0.1 + slot * p as f64 + slot * 0.08;
        let x1f = x0f + slot * 0.84;
        let (x0, x1, xm) = (cx(x0f), cx(x1f), cx((x0f + x1f) / 2.0));
        let v = victims.min(positions) as f64;
        let e = positions as f64 - v;
        let total = positions as f64;
        cc.draw_series([Rectangle::new([(x0, 0.0), (x1, e)], colour.filled())])
            .map_err(ce(chart))?;
        if victims > 0 {
            cc.draw_series([
                Rectangle::new([(x0, e), (x1, total)], lighten(colour, 0.6).filled()),
                Rectangle::new([(x0, e), (x1, total)], colour.stroke_width(1)),
            ])
            .map_err(ce(chart))?;
        }
        let label = format!("{positions} in {events} ev.");
        let (e, v) = (total, 0.0);
        let wiped = input.runs.iter().any(|r| {
            r.summary.wipeouts > 0
                && accs.get(a) == Some(&r.account)
                && sorted.get(p) == Some(&r.policy)
        });
        if wiped {
            let style = bold(15)
                .color(&HEAT)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            cc.draw_series([Text::new("WIPED OUT", (xm, e + v + y1 * 0.1), style)])
                .map_err(ce(chart))?;
        }
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

/// Two panels over one time axis. Top: close price of the symbols involved (normalised to 100 at
/// the start when there are several), each line in its own tone and dash and named at its right
/// end (labels moved apart so they never overlap). Bottom: one lane per policy, in the policy's
/// colour; a marker per cluster of liquidation events (events closer than 3 % of the time span
/// are merged): circle = isolated only, triangle = any cross event, its label = positions
/// liquidated and events. Lanes keep policies apart, so no marker or label hides another.
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
        .map(|(i, p)| item(p.symbol.to_string(), Swatch::Line(price_tone(i))))
        .collect();
    legend.push(item("isolated liquidations", Swatch::Circle(NOTE)));
    legend.push(item(
        "cross liquidation (label: positions liquidated / events)",
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
    let (_, body_h) = body.dim_in_pixel();
    let lanes_h = (70 + 46 * sorted.len() as u32).min(body_h / 2);
    let (top, bottom) = body.split_vertically(body_h - lanes_h);
    let (ticks, tfmt) = time_ticks(t0, t1, 9);
    let xfmt = |t: &i64| fmt_time(*t, tfmt);
    let yfmt = |v: &f64| fmt_num(*v);
    let y_desc = match prices.as_slice() {
        [] => "no price data".to_string(),
        [one] => format!("{} close (USDT)", one.symbol),
        _ => "close, normalised to 100 at start".to_string(),
    };
    // Room on the right for the symbol names at the line ends.
    let right = if prices.is_empty() { 28 } else { 110 };
    let mut cc = ChartBuilder::on(&top)
        .margin(16)
        .margin_right(right)
        .x_label_area_size(10)
        .y_label_area_size(80)
        .build_cartesian_2d((t0..t1).with_key_points(ticks.clone()), y0..y1)
        .map_err(ce(chart))?;
    cc.configure_mesh()
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&yfmt)
        .y_desc(y_desc)
        .label_style(font(15))
        .axis_desc_style(font(16))
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .draw()
        .map_err(ce(chart))?;
    for (i, line) in lines.iter().enumerate() {
        let c = price_tone(i);
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
    // Symbol names at the right end of their lines, pushed apart to at least 18 px.
    let mut ends: Vec<(i32, usize)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.last().map(|p| (cc.backend_coord(&(t1, p.1)).1, i)))
        .collect();
    ends.sort();
    // Push labels down to 18 px apart, then back up so the last stays inside the plot.
    let mut last_y = i32::MIN;
    for (y, _) in ends.iter_mut() {
        if *y < last_y + 18 {
            *y = last_y + 18;
        }
        last_y = *y;
    }
    let mut limit = cc.backend_coord(&(t1, y0)).1 - 6;
    for (y, _) in ends.iter_mut().rev() {
        if *y > limit {
            *y = limit;
        }
        limit = *y - 18;
    }
    let right_x = cc.backend_coord(&(t1, y0)).0 + 6;
    for (y, i) in &ends {
        let tone = price_tone(*i);
        let style = bold(13)
            .color(&tone)
            .pos(Pos::new(HPos::Left, VPos::Center));
        top.draw_text(prices[*i].symbol.as_str(), &style, (right_x, *y))
            .map_err(ce(chart))?;
    }

    // Lanes: one per policy.
    let n = sorted.len().max(1);
    let ny = cx(n as f64);
    let lane_centres = cat_centres(n);
    let lane_fmt = |y: &i32| {
        sorted
            .get(n.saturating_sub(1 + cat_index(*y)))
            .cloned()
            .unwrap_or_default()
    };
    let mut lc = ChartBuilder::on(&bottom)
        .margin(16)
        .margin_top(0)
        .margin_right(right)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (t0..t1).with_key_points(ticks),
            (0..ny).with_key_points(lane_centres),
        )
        .map_err(ce(chart))?;
    lc.configure_mesh()
        .disable_y_mesh()
        .x_label_formatter(&xfmt)
        .y_label_formatter(&lane_fmt)
        .x_desc("time (UTC)")
        .label_style(font(14))
        .axis_desc_style(font(16))
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .draw()
        .map_err(ce(chart))?;
    let window = ((t1 - t0) as f64 * 0.03) as i64;
    for (k, policy) in sorted.iter().enumerate() {
        let colour = policy_colour(&input.runs, policy);
        let yc = n as f64 - 1.0 - k as f64;
        lc.draw_series([Rectangle::new(
            [(t0, cx(yc + 0.08)), (t1, cx(yc + 0.92))],
            lighten(colour, 0.92).filled(),
        )])
        .map_err(ce(chart))?;
        let mut evs: Vec<&LiquidationEvent> = events
            .iter()
            .filter(|(r, _)| &r.policy == policy)
            .map(|(_, e)| *e)
            .collect();
        evs.sort_by_key(|e| e.time);
        // Clusters of events closer than `window`.
        let mut clusters: Vec<(i64, i64, u64, u64, bool)> = Vec::new();
        for e in evs {
            let cross = e.mode == MarginMode::Cross;
            match clusters.last_mut() {
                Some(c) if e.time - c.0 <= window => {
                    c.1 = e.time;
                    c.2 += e.positions.len() as u64;
                    c.3 += 1;
                    c.4 |= cross;
                }
                _ => clusters.push((e.time, e.time, e.positions.len() as u64, 1, cross)),
            }
        }
        for (first, last, positions, count, cross) in clusters {
            let x = first + (last - first) / 2;
            let y = cx(yc + 0.42);
            let style = colour.filled();
            if cross {
                lc.draw_series([TriangleMarker::new((x, y), 9, style)])
                    .map_err(ce(chart))?;
            } else {
                lc.draw_series([
                    Circle::new((x, y), 6, style),
                    Circle::new((x, y), 6, WHITE.stroke_width(1)),
                ])
                .map_err(ce(chart))?;
            }
            let label = font(12)
                .color(&colour)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            lc.draw_series([Text::new(
                format!("{positions}/{count}"),
                (x, cx(yc + 0.9)),
                label,
            )])
            .map_err(ce(chart))?;
        }
    }
    if events.is_empty() {
        draw_note(&bottom, chart, "no liquidations")?;
    }
    Ok(())
}

/// Tone of the `i`-th price line: dark, distinct from each other and from the lanes' colours.
fn price_tone(i: usize) -> RGBColor {
    PRICE_TONES[i % PRICE_TONES.len()]
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
        let colour = policy_colour(&input.runs, policy);
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
            // Counts next to the bars; a zero has no bar and no label.
            let labels = [(*culprits, c, 0.7), (*victims, v, 0.3)]
                .into_iter()
                .filter(|(n, _, _)| *n > 0)
                .map(|(n, x, dy)| Text::new(format!(" {n}"), (x, cx(y + dy)), style.clone()));
            cc.draw_series(labels).map_err(ce(chart))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Money by cause

/// Mean money per run of each (account, policy) group, by cause ([`crate::analysis::CAUSES`]).
pub(crate) fn money_by_group(
    runs: &[RunResult],
) -> Vec<(String, String, usize, crate::analysis::MoneyByCause)> {
    groups(runs)
        .into_iter()
        .map(|(a, p, g)| {
            let n = g.len();
            let sum = g
                .iter()
                .map(|r| crate::analysis::MoneyByCause::of(r))
                .fold(crate::analysis::MoneyByCause::default(), |acc, m| acc + m);
            (a, p, n, sum)
        })
        .collect()
}

/// One panel per account: a row per cause (only causes that moved money somewhere), one bar per
/// policy, to the left for a loss and to the right for a gain (mean per run of the group).
pub fn draw_money_by_cause<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<(), ReportError> {
    use crate::analysis::{CAUSES, dec_f64};
    ensure_fonts()?;
    let kind = ChartKind::MoneyByCause;
    let chart = kind.file_stem();
    area.fill(&WHITE).map_err(ce(chart))?;
    let sorted = policies(&input.runs);
    let legend: Vec<LegendItem> = sorted
        .iter()
        .map(|p| item(p.clone(), Swatch::Square(policy_colour(&input.runs, p))))
        .collect();
    let body = draw_header(area, chart, kind.title(), &legend)?;
    let data = money_by_group(&input.runs);
    let mean = |n: usize, v: rust_decimal::Decimal| dec_f64(v) / n.max(1) as f64;
    let used: Vec<usize> = (0..CAUSES.len())
        .filter(|&c| {
            data.iter()
                .any(|(_, _, n, m)| mean(*n, m.values()[c]).abs() >= 0.005)
        })
        .collect();
    if used.is_empty() {
        return draw_note(&body, chart, "no trades: no money moved");
    }
    let accs = accounts(&input.runs);
    let panels = body.split_evenly((1, accs.len().max(1)));
    for (account, panel) in accs.iter().zip(panels.iter()) {
        let rows: Vec<&(String, String, usize, crate::analysis::MoneyByCause)> =
            data.iter().filter(|d| &d.0 == account).collect();
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for (_, _, n, m) in &rows {
            for &c in &used {
                let v = mean(*n, m.values()[c]);
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let (x0, x1) = padded(lo, hi, 0.12);
        let nc = used.len();
        let yfmt = |y: &i32| {
            used.get(nc.saturating_sub(1 + cat_index(*y)))
                .map(|&c| CAUSES[c].to_string())
                .unwrap_or_default()
        };
        let xfmt = |v: &f64| fmt_num(*v);
        let mut cc = ChartBuilder::on(panel)
            .caption(format!("account {account}"), bold(17))
            .margin(14)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(150)
            .build_cartesian_2d(x0..x1, (0..cx(nc as f64)).with_key_points(cat_centres(nc)))
            .map_err(ce(chart))?;
        cc.configure_mesh()
            .disable_y_mesh()
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .x_desc("USDT (loss ← → gain)")
            .label_style(font(14))
            .axis_desc_style(font(15))
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(6)
            .draw()
            .map_err(ce(chart))?;
        cc.draw_series([PathElement::new(
            vec![(0.0, 0), (0.0, cx(nc as f64))],
            BLACK.stroke_width(1),
        )])
        .map_err(ce(chart))?;
        let np = rows.len().max(1) as f64;
        for (ci, &c) in used.iter().enumerate() {
            let y = (nc - 1 - ci) as f64;
            for (k, (_, policy, n, m)) in rows.iter().enumerate() {
                let v = mean(*n, m.values()[c]);
                let slot = 0.8 / np;
                let ya = y + 0.9 - slot * (k as f64 + 1.0);
                let colour = policy_colour(&input.runs, policy);
                cc.draw_series([Rectangle::new(
                    [(0.0, cx(ya + slot * 0.1)), (v, cx(ya + slot * 0.9))],
                    colour.filled(),
                )])
                .map_err(ce(chart))?;
            }
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

/// The numbers one heatmap cell shows (of the worst run in it).
#[derive(Clone)]
struct Cell {
    final_equity: f64,
    ratio: f64,
    liq: crate::analysis::LiqCount,
    dd_pct: f64,
    wipeouts: u32,
}

impl Cell {
    fn of(r: &RunResult) -> Self {
        let final_equity = crate::analysis::dec_f64(r.summary.final_equity);
        let start = crate::analysis::dec_f64(r.summary.start_equity);
        Cell {
            final_equity,
            ratio: if start > 0.0 {
                final_equity / start
            } else {
                1.0
            },
            liq: crate::analysis::LiqCount::of(r),
            dd_pct: r.summary.max_drawdown_pct,
            wipeouts: r.summary.wipeouts,
        }
    }
}

/// A final equity in a heatmap cell: `1236`, `10.2k`, `1.2M`.
fn equity_label(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn param<'a>(r: &'a RunResult, key: &str) -> Option<&'a str> {
    r.params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// One heatmap per account (rows) × policy (columns) over the first two varying sweep parameters:
/// cell colour = final equity of the worst run in the cell against the account's start (white =
/// unchanged, red = wiped out, green = the largest gain anywhere), cell text = that final equity,
/// the positions liquidated / events, the worst max drawdown and "wiped out". Runs that differ only
/// in other parameters fall in the same cell and the worst case is shown.
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
    // (account, policy, xi, yi) -> the worst run's numbers
    type CellKey = (usize, usize, usize, usize);
    let mut cells: BTreeMap<CellKey, Cell> = BTreeMap::new();
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
        let this = Cell::of(r);
        cells
            .entry((a, p, xi, yi))
            .and_modify(|c| {
                if this.ratio < c.ratio {
                    *c = this.clone();
                }
            })
            .or_insert(this);
    }
    let max_gain = cells.values().map(|c| c.ratio - 1.0).fold(0.0f64, f64::max);
    let legend = [
        item("wiped out", Swatch::Square(HEAT)),
        item("final equity = start", Swatch::Outlined(WHITE, NOTE)),
        item(
            format!("+{:.0} % (largest gain)", 100.0 * max_gain),
            Swatch::Square(GAIN),
        ),
        item(
            "cell: worst run's final equity, positions liquidated / events, max drawdown",
            Swatch::Outlined(lighten(HEAT, 0.5), NOTE),
        ),
    ];
    let body = draw_header(area, chart, kind.title(), &legend)?;
    let panels = body.split_evenly((accs.len(), sorted.len()));
    let (nx, ny) = (cx(vx.len() as f64), cx(vy.len() as f64));
    for (ai, account) in accs.iter().enumerate() {
        for (pi, policy) in sorted.iter().enumerate() {
            let panel = &panels[ai * sorted.len() + pi];
            let colour = policy_colour(&input.runs, policy);
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
                    let Some(cell) = cells.get(&(ai, pi, xi, yi)) else {
                        cc.draw_series([Rectangle::new(rect, GRID.filled())])
                            .map_err(ce(chart))?;
                        let style = font(14)
                            .color(&NOTE)
                            .pos(Pos::new(HPos::Center, VPos::Center));
                        cc.draw_series([Text::new("no run", (cx(x + 0.5), cx(y + 0.5)), style)])
                            .map_err(ce(chart))?;
                        continue;
                    };
                    let (fill, f) = if cell.ratio < 1.0 {
                        let f = (1.0 - cell.ratio).clamp(0.0, 1.0);
                        (lighten(HEAT, 1.0 - f), f)
                    } else {
                        let f = if max_gain > 0.0 {
                            ((cell.ratio - 1.0) / max_gain).clamp(0.0, 1.0)
                        } else {
                            0.0
                        };
                        (lighten(GAIN, 1.0 - f), f)
                    };
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
                        Text::new(
                            equity_label(cell.final_equity),
                            (cx(x + 0.5), cx(y + 0.7)),
                            top,
                        ),
                        Text::new(
                            format!("{} liq / {} ev", cell.liq.positions, cell.liq.events),
                            (cx(x + 0.5), cx(y + 0.5)),
                            sub.clone(),
                        ),
                        Text::new(
                            format!("DD {:.0}%", cell.dd_pct),
                            (cx(x + 0.5), cx(y + 0.33)),
                            sub.clone(),
                        ),
                    ])
                    .map_err(ce(chart))?;
                    if cell.wipeouts > 0 {
                        cc.draw_series([Text::new("wiped out", (cx(x + 0.5), cx(y + 0.16)), sub)])
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
        assert!(out.len() <= 206, "{}", out.len());
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(out.iter().any(|p| p.1 == 100.0) && out.iter().any(|p| p.1 == 0.0));
        assert_eq!(thin(&pts[..50], 200).len(), 50);
    }

    #[test]
    fn thin_equity_keeps_every_curves_extremes_and_the_cliff() {
        // 43,200 one-minute points (a month): equity wanders, the margin ratio spikes once where
        // the equity does nothing special, and a liquidation cliff drops the equity in one bar.
        let n = 43_200;
        let cliff = 30_001;
        let pts: Vec<EquityPoint> = (0..n)
            .map(|i| {
                let wave = ((i * 7919) % 1000) as f64 / 10.0;
                let equity = if i < cliff {
                    10_000.0 + wave
                } else {
                    2_000.0 + wave
                };
                EquityPoint {
                    time: i as i64 * 60_000,
                    equity,
                    drawdown: if i < cliff { wave / 20_000.0 } else { 0.8 },
                    margin_ratio: if i == 12_345 { 0.97 } else { 0.1 },
                    open_positions: 1,
                    book_correlation: None,
                    correlated_exposure: 0.0,
                }
            })
            .collect();
        let out = thin_equity(&pts, STORED_CURVE_POINTS);
        assert!(out.len() < 3 * (STORED_CURVE_POINTS + 6), "{}", out.len());
        assert!(out.windows(2).all(|w| w[0].time < w[1].time));
        let kept = |i: usize| out.iter().any(|p| *p == pts[i]);
        assert!(kept(cliff - 1) && kept(cliff), "cliff smoothed away");
        assert!(kept(12_345), "margin-ratio spike dropped");
        for f in [|p: &EquityPoint| p.equity, |p: &EquityPoint| p.drawdown] {
            let max = pts.iter().map(f).fold(f64::MIN, f64::max);
            let min = pts.iter().map(f).fold(f64::MAX, f64::min);
            assert!(out.iter().any(|p| f(p) == max) && out.iter().any(|p| f(p) == min));
        }
        assert_eq!(
            thin_equity(&pts[..500], STORED_CURVE_POINTS),
            pts[..500].to_vec()
        );
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
