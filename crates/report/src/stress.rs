//! The stress report (`ringfence stress`): the distribution of every run over many market paths,
//! the paired cross − isolated differences, and fan charts of equity over time.
//!
//! Plain records in, files out: [`StressSection`] carries numbers already computed; this module
//! only lays them out. Fan charts are drawn with plotters (PNG per account and sweep point, SVG
//! inlined in the page) and, when scripts run, again with the vendored uPlot (hover, zoom).

use crate::charts::{
    LegendItem, Swatch, ce, colours_by_name, draw_header, draw_note, fmt_num, item, padded,
    time_chart,
};
use crate::html::{CSS, JS, escape_html as e, group_thousands, inline_svg};
use crate::interactive::{UPLOT_CSS, UPLOT_JS, UPLOT_VERSION};
use crate::{ReportError, png_out};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Everything the stress report shows; plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressSection {
    /// Scenario name.
    pub title: String,
    /// Program and version.
    pub generated_by: String,
    /// How the paths were made, in words (method, block length, window, seed).
    pub method: String,
    /// Number of paths.
    pub paths: u64,
    /// One row per run (account × policy × sweep point), in job order.
    pub rows: Vec<StressRow>,
    /// Paired differences (cross − isolated on the same paths).
    pub pairs: Vec<PairRow>,
    /// Equity quantiles over time, one per run, in job order.
    pub fans: Vec<Fan>,
    /// What the numbers rest on, as `(name, value)`.
    pub assumptions: Vec<(String, String)>,
}

/// The distribution of one run over the paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StressRow {
    /// Run name (`account/policy/params`).
    pub run: String,
    /// Account.
    pub account: String,
    /// Policy.
    pub policy: String,
    /// Sweep point in words (`maxlev=10`), empty without a sweep.
    pub params: String,
    /// Paths.
    pub paths: u64,
    /// Paths wiped out.
    pub wipeouts: u64,
    /// P(wipeout).
    pub p_wipeout: f64,
    /// 95 % Wilson interval, low end.
    pub p_wipeout_low: f64,
    /// 95 % Wilson interval, high end.
    pub p_wipeout_high: f64,
    /// Share of paths with at least one liquidation.
    pub p_liquidated: f64,
    /// Mean liquidation events per path.
    pub mean_liquidations: f64,
    /// Median maximum drawdown (percent).
    pub max_drawdown_median: f64,
    /// 95th percentile of the maximum drawdown (percent).
    pub max_drawdown_p95: f64,
    /// Start equity (USDT).
    pub start_equity: f64,
    /// Final equity, 5th percentile.
    pub final_p05: f64,
    /// Final equity, median.
    pub final_median: f64,
    /// Final equity, 95th percentile.
    pub final_p95: f64,
    /// Mean final equity.
    pub final_mean: f64,
}

/// Cross − isolated on the same paths, for one account and sweep point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    /// Account.
    pub account: String,
    /// Sweep point in words.
    pub params: String,
    /// The cross policy.
    pub cross: String,
    /// The isolated policy.
    pub isolated: String,
    /// Paths compared.
    pub paths: u64,
    /// P(cross wiped) − P(isolated wiped).
    pub wipeout_diff: f64,
    /// 95 % interval, low end.
    pub wipeout_diff_low: f64,
    /// 95 % interval, high end.
    pub wipeout_diff_high: f64,
    /// Paths where only cross was wiped out.
    pub only_cross_wiped: u64,
    /// Paths where only isolated was wiped out.
    pub only_isolated_wiped: u64,
    /// Final equity cross − isolated, 5th percentile.
    pub final_diff_p05: f64,
    /// Final equity cross − isolated, median.
    pub final_diff_median: f64,
    /// Final equity cross − isolated, 95th percentile.
    pub final_diff_p95: f64,
    /// Mean final equity difference.
    pub final_diff_mean: f64,
    /// 95 % interval of the mean difference, low end.
    pub final_diff_mean_low: f64,
    /// 95 % interval of the mean difference, high end.
    pub final_diff_mean_high: f64,
    /// Share of paths where cross ended below isolated.
    pub cross_lower_share: f64,
}

/// Equity quantiles of one run over time (USDT).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fan {
    /// Run name.
    pub run: String,
    /// Account.
    pub account: String,
    /// Policy.
    pub policy: String,
    /// Sweep point in words.
    pub params: String,
    /// Times (ms UTC).
    pub times: Vec<i64>,
    /// 5th, 25th, 50th, 75th and 95th percentiles of equity at each time.
    pub quantiles: [Vec<f64>; 5],
}

/// The files [`write_stress_report`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StressFiles {
    /// `report.html`.
    pub html: PathBuf,
    /// One fan chart per account and sweep point.
    pub pngs: Vec<PathBuf>,
}

/// The (account, sweep point) groups of the fans, in job order.
fn fan_groups(s: &StressSection) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for f in &s.fans {
        let g = (f.account.clone(), f.params.clone());
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

fn file_stem(i: usize) -> String {
    format!("stress-fan-{}", i + 1)
}

const SIZE: (u32, u32) = (1400, 620);

/// Writes `stress-fan-<k>.png` (one per account and sweep point) and `report.html` into `dir`.
pub fn write_stress_report(s: &StressSection, dir: &Path) -> Result<StressFiles, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    crate::font::ensure_fonts()?;
    let mut pngs = Vec::new();
    for (i, g) in fan_groups(s).iter().enumerate() {
        let path = dir.join(format!("{}.png", file_stem(i)));
        let (w, h) = SIZE;
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            draw_fan(&area, s, g)?;
            area.present().map_err(ce("stress-fan"))?;
        }
        png_out::write_rgb_png(&path, w, h, &rgb)?;
        pngs.push(path);
    }
    let html = dir.join("report.html");
    std::fs::write(&html, render_stress_html(s)?).map_err(|source| ReportError::Io {
        path: html.clone(),
        source,
    })?;
    Ok(StressFiles { html, pngs })
}

fn group_title(g: &(String, String)) -> String {
    if g.1.is_empty() {
        format!("Equity over paths: account {}", g.0)
    } else {
        format!("Equity over paths: account {}, {}", g.0, g.1)
    }
}

/// Fan chart of one (account, sweep point): per policy, the 5–95 % band (light), the 25–75 % band
/// (darker) and the median (line).
pub fn draw_fan<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &StressSection,
    g: &(String, String),
) -> Result<(), ReportError> {
    let chart = "stress-fan";
    area.fill(&WHITE).map_err(ce(chart))?;
    let fans: Vec<&Fan> = s
        .fans
        .iter()
        .filter(|f| f.account == g.0 && f.params == g.1)
        .collect();
    let names: Vec<String> = s.fans.iter().map(|f| f.policy.clone()).collect();
    let colours = colours_by_name(&names);
    let colour = |p: &str| colours.get(p).copied().unwrap_or(BLACK);
    let mut legend: Vec<LegendItem> = fans
        .iter()
        .map(|f| item(&f.policy, Swatch::Line(colour(&f.policy))))
        .collect();
    legend.push(item(
        "bands: 5–95 % and 25–75 % of paths",
        Swatch::Outlined(RGBColor(0xEE, 0xEE, 0xEE), RGBColor(0x99, 0x99, 0x99)),
    ));
    let body = draw_header(area, chart, &group_title(g), &legend)?;
    let times = fans.iter().flat_map(|f| f.times.iter().copied());
    let (Some(t0), Some(t1)) = (times.clone().min(), times.max()) else {
        return draw_note(&body, chart, "no paths");
    };
    let t1 = t1.max(t0 + 60_000);
    let vals = fans
        .iter()
        .flat_map(|f| f.quantiles.iter().flatten().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (y0, y1) = padded(lo, hi, 0.05);
    let yfmt = |v: &f64| fmt_num(*v);
    let mut cc = time_chart(
        &body,
        chart,
        &format!("{} paths", s.paths),
        (t0, t1),
        (y0, y1),
        "equity (USDT)",
        &yfmt,
    )?;
    for f in &fans {
        let c = colour(&f.policy);
        for (a, b, alpha) in [(0, 4, 0.12), (1, 3, 0.22)] {
            let upper = f.times.iter().zip(&f.quantiles[b]);
            let lower = f.times.iter().zip(&f.quantiles[a]).rev();
            let poly: Vec<(i64, f64)> = upper
                .chain(lower)
                .filter(|(_, v)| v.is_finite())
                .map(|(t, v)| (*t, *v))
                .collect();
            cc.draw_series(std::iter::once(Polygon::new(poly, c.mix(alpha).filled())))
                .map_err(ce(chart))?;
        }
    }
    for f in &fans {
        let pts = f
            .times
            .iter()
            .zip(&f.quantiles[2])
            .filter(|(_, v)| v.is_finite())
            .map(|(t, v)| (*t, *v));
        cc.draw_series(LineSeries::new(pts, colour(&f.policy).stroke_width(3)))
            .map_err(ce(chart))?;
    }
    Ok(())
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", 100.0 * v)
    } else {
        "–".into()
    }
}

fn usd(v: f64) -> String {
    if v.is_finite() {
        // A loss rounded to nothing is shown as 0.00, never -0.00.
        group_thousands(&format!(
            "{:.2}",
            if v > -0.005 && v < 0.0 { 0.0 } else { v }
        ))
    } else {
        "–".into()
    }
}

fn num(v: f64) -> String {
    format!("<td class=\"n\" data-v=\"{v}\">")
}

fn swatch(colours: &std::collections::BTreeMap<String, RGBColor>, p: &str) -> String {
    let c = colours.get(p).copied().unwrap_or(BLACK);
    format!(
        "<span class=\"pol\"><span class=\"sw\" style=\"background:#{:02x}{:02x}{:02x}\"></span>{}</span>",
        c.0,
        c.1,
        c.2,
        e(p)
    )
}

/// The table of distributions, one row per `rows` item: P(wipeout) with its interval,
/// liquidations, drawdown and final equity quantiles over the draws (`per`: "path" for stress
/// paths, "run" for a sweep's runs), with a Sweep column when `sweep_column`.
pub(crate) fn distribution_table(
    h: &mut String,
    rows: &[StressRow],
    colours: &std::collections::BTreeMap<String, RGBColor>,
    per: &str,
    sweep_column: bool,
) {
    let _ = writeln!(
        h,
        "<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>Account</th><th>Policy</th>{}{}<th>P(wipeout)</th><th>95 % interval</th><th>P(≥ 1 liquidation)</th><th>Liquidations / {per}</th><th>Max drawdown, median</th><th>Max drawdown, 95th pct</th><th>Final equity 5 %</th><th>median</th><th>95 %</th><th>Start</th></tr></thead><tbody>",
        if sweep_column { "<th>Sweep</th>" } else { "" },
        if sweep_column {
            String::new()
        } else {
            format!("<th>{}s</th>", capitalised(per))
        },
    );
    for r in rows {
        let first = if sweep_column {
            format!("<td>{}</td>", e(&r.params))
        } else {
            format!(
                "{}{}</td>",
                num(r.paths as f64),
                group_thousands(&r.paths.to_string())
            )
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td>{first}{}{}</td><td class=\"n\">{} – {}</td>{}{}</td>{}{:.2}</td>{}{:.1}%</td>{}{:.1}%</td>{}{}</td>{}{}</td>{}{}</td>{}{}</td></tr>",
            e(&r.account),
            swatch(colours, &r.policy),
            num(r.p_wipeout),
            pct(r.p_wipeout),
            pct(r.p_wipeout_low),
            pct(r.p_wipeout_high),
            num(r.p_liquidated),
            pct(r.p_liquidated),
            num(r.mean_liquidations),
            r.mean_liquidations,
            num(r.max_drawdown_median),
            r.max_drawdown_median,
            num(r.max_drawdown_p95),
            r.max_drawdown_p95,
            num(r.final_p05),
            usd(r.final_p05),
            num(r.final_median),
            usd(r.final_median),
            num(r.final_p95),
            usd(r.final_p95),
            num(r.start_equity),
            usd(r.start_equity),
        );
    }
    h.push_str("</tbody></table></div>");
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Renders the stress page (fan charts inlined as SVG, uPlot for the interactive copies).
pub fn render_stress_html(s: &StressSection) -> Result<String, ReportError> {
    crate::font::ensure_fonts()?;
    let names: Vec<String> = s.rows.iter().map(|r| r.policy.clone()).collect();
    let colours = colours_by_name(&names);
    let mut h = String::with_capacity(128 * 1024);
    let title = format!("Ringfence stress: {}", s.title);
    h.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>{}</title>", e(&title));
    let _ = writeln!(
        h,
        "<style>{CSS}</style>\n<style>{UPLOT_CSS}</style>\n</head>\n<body>"
    );
    let _ = writeln!(
        h,
        "<header><h1>{}</h1>\n<p class=\"meta\">{} paths · {} runs per path · {} · generated by {}</p></header>",
        e(&title),
        s.paths,
        s.rows.len(),
        e(&s.method),
        e(&s.generated_by)
    );
    h.push_str("<nav><ul><li><a href=\"#stress\">Distribution per policy</a></li><li><a href=\"#paired\">Cross − isolated, same paths</a></li><li><a href=\"#fans\">Fan charts</a></li><li><a href=\"#assumptions\">Assumptions</a></li></ul></nav>\n<main>\n");

    h.push_str("<section id=\"stress\"><h2>Distribution per policy</h2>\n");
    h.push_str("<p class=\"hint\">Every account × policy ran on every path; the paths are the same for all policies. A path is a wipeout when the account's equity reached zero. Intervals are 95 % (Wilson).</p>\n");
    distribution_table(&mut h, &s.rows, &colours, "path", true);
    h.push_str("</section>\n");

    h.push_str("<section id=\"paired\"><h2>Cross − isolated, same paths</h2>\n");
    if s.pairs.is_empty() {
        h.push_str("<p class=\"note\">No pair of a cross and an isolated policy to compare.</p>");
    } else {
        h.push_str("<p class=\"hint\">Each path is run under both policies, so the difference is measured path by path. A positive wipeout difference means cross wiped the account out more often. Intervals are 95 % (normal approximation on the per-path differences).</p>\n");
        h.push_str("<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>Account</th><th>Sweep</th><th>Cross</th><th>Isolated</th><th>ΔP(wipeout)</th><th>95 % interval</th><th>Only cross wiped</th><th>Only isolated wiped</th><th>Δ final equity 5 %</th><th>median</th><th>95 %</th><th>Mean Δ (95 % interval)</th><th>Cross ends lower</th></tr></thead><tbody>\n");
        for p in &s.pairs {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}{:+.1} pp</td><td class=\"n\">{:+.1} – {:+.1} pp</td>{}{}</td>{}{}</td>{}{}</td>{}{}</td>{}{}</td>{}{} ({} – {})</td>{}{}</td></tr>",
                e(&p.account),
                e(&p.params),
                swatch(&colours, &p.cross),
                swatch(&colours, &p.isolated),
                num(p.wipeout_diff),
                100.0 * p.wipeout_diff,
                100.0 * p.wipeout_diff_low,
                100.0 * p.wipeout_diff_high,
                num(p.only_cross_wiped as f64),
                p.only_cross_wiped,
                num(p.only_isolated_wiped as f64),
                p.only_isolated_wiped,
                num(p.final_diff_p05),
                usd(p.final_diff_p05),
                num(p.final_diff_median),
                usd(p.final_diff_median),
                num(p.final_diff_p95),
                usd(p.final_diff_p95),
                num(p.final_diff_mean),
                usd(p.final_diff_mean),
                usd(p.final_diff_mean_low),
                usd(p.final_diff_mean_high),
                num(p.cross_lower_share),
                pct(p.cross_lower_share),
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>\n");

    h.push_str("<section id=\"fans\"><h2>Fan charts</h2>\n<p class=\"hint\">Equity over time across the paths: the line is the median path value at each time, the bands hold the middle 50 % and 90 % of paths (quantiles from 2 %-wide bins of equity over start equity).</p>\n");
    let mut fan_data = Vec::new();
    for (i, g) in fan_groups(s).iter().enumerate() {
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            draw_fan(&area, s, g)?;
            area.present().map_err(ce("stress-fan"))?;
        }
        let t = group_title(g);
        let _ = writeln!(
            h,
            "<figure>{}<figcaption>{} (<code>{}.png</code>)</figcaption></figure>\n<div class=\"uplot-box\" id=\"fan-live-{}\"></div>",
            inline_svg(&svg, &t),
            e(&t),
            file_stem(i),
            i + 1
        );
        let fans: Vec<serde_json::Value> = s
            .fans
            .iter()
            .filter(|f| f.account == g.0 && f.params == g.1)
            .map(|f| {
                let c = colours.get(&f.policy).copied().unwrap_or(BLACK);
                serde_json::json!({
                    "policy": f.policy,
                    "colour": format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2),
                    "t": f.times.iter().map(|t| *t as f64 / 1000.0).collect::<Vec<_>>(),
                    "q": f.quantiles.iter().map(|q| q.iter().map(|v| v.is_finite().then_some(*v)).collect::<Vec<_>>()).collect::<Vec<_>>(),
                })
            })
            .collect();
        fan_data.push(
            serde_json::json!({"id": format!("fan-live-{}", i + 1), "title": t, "fans": fans}),
        );
    }
    h.push_str("</section>\n");

    h.push_str("<section id=\"assumptions\"><h2>Assumptions</h2>\n<dl>\n");
    let _ = writeln!(h, "<dt>Paths</dt><dd>{}</dd>", e(&s.method));
    for (k, v) in &s.assumptions {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", e(k), e(v));
    }
    h.push_str("</dl></section>\n</main>\n");
    let json = serde_json::to_string(&fan_data)
        .unwrap_or_else(|_| "[]".into())
        .replace('<', "\\u003c");
    let _ = writeln!(
        h,
        "<footer>{} · times in UTC · amounts in USDT · interactive charts: uPlot {UPLOT_VERSION} (MIT licence, embedded)</footer>\n<script id=\"rf-fans\" type=\"application/json\">{json}</script>\n<script>{UPLOT_JS}</script>\n<script>{FAN_JS}</script>\n<script>{JS}</script>\n</body>\n</html>",
        e(&s.generated_by)
    );
    Ok(h)
}

/// Interactive copies of the fan charts: per policy the median and the 5 % / 95 % lines with the
/// band between them filled (uPlot `bands`).
const FAN_JS: &str = r#"
(function () {
  var el = document.getElementById('rf-fans');
  if (!el || typeof uPlot === 'undefined') return;
  JSON.parse(el.textContent).forEach(function (g) {
    var box = document.getElementById(g.id);
    if (!box || !g.fans.length) return;
    var data = [g.fans[0].t];
    var series = [{}];
    var bands = [];
    g.fans.forEach(function (f) {
      var base = series.length;
      [[4, '95 %'], [2, 'median'], [0, '5 %']].forEach(function (q) {
        data.push(f.q[q[0]]);
        series.push({ label: f.policy + ' ' + q[1], stroke: f.colour,
          width: q[0] === 2 ? 2.5 : 0.8, dash: q[0] === 2 ? undefined : [4, 3] });
      });
      bands.push({ series: [base, base + 2], fill: f.colour + '26' });
    });
    var opts = { title: g.title + ' (interactive)', width: Math.max(320, box.clientWidth || 900),
      height: 360, series: series, bands: bands, scales: { x: { time: true } },
      axes: [{}, { size: 80 }] };
    new uPlot(opts, data, box);
  });
})();
"#;
