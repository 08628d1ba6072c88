//! The pre-signal checklist (DESIGN.md §9) as the report shows it: plain rows in, text out.
//!
//! The checklist itself is computed by `ringfence_sim::checklist`; its rows reach the report as
//! [`ChecklistSection`], plain data inside [`ReportInput`] (and `report-input.json`). This module
//! renders them: the report's HTML section, the channel lines and the terminal table the
//! `checklist` command prints.

use crate::{ReportInput, escape_html};
use ringfence_model::{Side, Symbol, TimestampMs};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The checklist of every `open` call against one run's book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistSection {
    /// The run whose account, policy and book the calls were checked against.
    pub run: String,
    /// One summary per channel (signal file).
    pub channels: Vec<ChannelSummary>,
    /// Every call checked, in time order.
    pub calls: Vec<CheckedCall>,
}

pub use ringfence_model::checklist::{ChannelSummary, Verdict};

/// One checked call: what the report shows of it. Prices in USDT, `*_pct` in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedCall {
    /// The call id.
    pub signal_id: String,
    /// When it was posted (ms UTC).
    pub time: TimestampMs,
    /// The same, ISO-8601 UTC.
    pub time_iso: String,
    /// Symbol.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// The entry price assumed.
    pub reference_price: Option<f64>,
    /// The call's stop.
    pub stop: Option<f64>,
    /// Leverage checked.
    pub leverage: f64,
    /// Isolated liquidation price at that leverage.
    pub liq_price: Option<f64>,
    /// Distance from the entry to the stop, %.
    pub stop_distance_pct: Option<f64>,
    /// Distance from the entry to the liquidation price, %.
    pub liq_distance_pct: Option<f64>,
    /// Highest leverage at which the stop stays ahead of the liquidation price by the buffer.
    pub max_safe_leverage: Option<f64>,
    /// Highest directional correlation with an open position of the book.
    pub max_book_correlation: Option<f64>,
    /// Share (0–1) of the usable margin this position's margin and fees would consume.
    pub margin_share: Option<f64>,
    /// Funding paid over the expected hold, % of notional (negative: received).
    pub funding_headwind_pct: Option<f64>,
    /// Maintenance tier of the notional.
    pub tier: Option<u32>,
    /// With ADL on: the position's ADL quantile 0–4 if the price reached its first target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adl_quantile_at_target: Option<u8>,
    /// With ADL on, cross: share (0–1) of the book's margin balance that is unrealised profit of
    /// open positions ADL would take first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adl_first_margin_share: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// The findings that set the verdict.
    pub reasons: Vec<String>,
    /// Informational findings.
    pub notes: Vec<String>,
}

fn opt(x: Option<f64>, dp: usize) -> String {
    x.map(|v| format!("{v:.dp$}")).unwrap_or_default()
}

/// A price with enough significant digits for sub-dollar symbols.
fn px(x: Option<f64>) -> String {
    match x {
        Some(v) if v.abs() >= 1000.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.4}"),
        Some(v) => format!("{v:.6}"),
        None => String::new(),
    }
}

fn share(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1} %", v * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

/// The one-line aggregate of a channel, as printed and shown in the report.
pub fn channel_line(c: &ChannelSummary) -> String {
    format!(
        "channel {}: {} calls; stop beyond the liquidation price at the called leverage: {} of {} calls with a stop; cascade victims in {} cross run(s): {}; median safe leverage {}; verdicts: {} cross-ok, {} isolated, {} skip",
        c.channel,
        c.calls,
        share(c.stop_beyond_liq_share),
        c.calls_with_stop,
        c.cross_runs,
        share(c.cascade_victim_share),
        c.median_safe_leverage
            .map(|x| format!("{x:.1}x"))
            .unwrap_or_else(|| "n/a".into()),
        c.cross_ok,
        c.isolated,
        c.skip
    )
}

/// The display cells of a call shared by the terminal table and the HTML table, from `id` to
/// `tier` (verdict and reasons are rendered by each).
fn cells(r: &CheckedCall) -> [String; 15] {
    [
        r.signal_id.clone(),
        r.time_iso.get(..16).unwrap_or(&r.time_iso).to_string(),
        r.symbol.to_string(),
        r.side.to_string(),
        px(r.reference_price),
        px(r.stop),
        format!("{}x", r.leverage),
        px(r.liq_price),
        opt(r.stop_distance_pct, 2),
        opt(r.liq_distance_pct, 2),
        opt(r.max_safe_leverage, 1),
        opt(r.max_book_correlation, 2),
        opt(r.margin_share.map(|x| x * 100.0), 1),
        opt(r.funding_headwind_pct, 3),
        r.tier.map(|t| t.to_string()).unwrap_or_default(),
    ]
}

/// The terminal table of the `checklist` command: a header line and one line per call, in the
/// order given, each ending in a newline.
pub fn text_table(calls: &[CheckedCall]) -> String {
    let w = calls
        .iter()
        .map(|r| r.signal_id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let line = |c: &[String; 15], verdict: &str, reasons: &str| {
        format!(
            "{:<w$}  {:<17}  {:<9}  {:<5}  {:>12}  {:>12}  {:>5}  {:>12}  {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {:>7}  {:>4}  {:<8}  {}\n",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            c[5],
            c[6],
            c[7],
            c[8],
            c[9],
            c[10],
            c[11],
            c[12],
            c[13],
            c[14],
            verdict,
            reasons
        )
    };
    let header = [
        "id",
        "time",
        "symbol",
        "side",
        "entry",
        "stop",
        "lev",
        "liq_price",
        "stop%",
        "liq%",
        "safe_x",
        "rho",
        "mrg%",
        "fund%",
        "tier",
    ]
    .map(String::from);
    let mut out = line(&header, "verdict", "reasons");
    for r in calls {
        out.push_str(&line(&cells(r), r.verdict.as_str(), &r.reasons.join("; ")));
    }
    out
}

/// The HTML body of the checklist section: channel lines, then every call, flagged ones first.
pub fn render_html(section: &ChecklistSection) -> String {
    let e = escape_html;
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<p>Every <code>open</code> call checked at its own time against <b>{}</b>, with only the \
         bars closed and the funding settled before it: stop vs liquidation price at the called \
         leverage (fees out of the margin), correlation with the book then open, collateral after \
         haircuts, funding over the channel's typical holding time, maintenance tier. \
         Verdict: <b>skip</b>, <b>isolated</b> or <b>cross-ok</b>; flagged calls first.</p>",
        e(&section.run)
    );
    h.push_str("<ul>\n");
    for c in &section.channels {
        let _ = writeln!(h, "<li>{}</li>", e(&channel_line(c)));
    }
    h.push_str("</ul>\n");
    let mut order: Vec<&CheckedCall> = section.calls.iter().collect();
    order.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.time.cmp(&b.time)));
    // the ADL columns only when the scenario had ADL on
    let adl = section
        .calls
        .iter()
        .any(|c| c.adl_quantile_at_target.is_some() || c.adl_first_margin_share.is_some());
    h.push_str(
        "<table>\n<thead><tr><th>id</th><th>time</th><th>symbol</th><th>side</th>\
         <th>entry</th><th>stop</th><th>lev</th><th>liq price</th><th>stop %</th><th>liq %</th>\
         <th>safe lev</th><th>ρ book</th><th>margin %</th><th>funding %</th><th>tier</th>",
    );
    if adl {
        h.push_str("<th>ADL q at target</th><th>ADL-first margin %</th>");
    }
    h.push_str("<th>verdict</th><th>reasons</th></tr></thead>\n<tbody>\n");
    for r in order {
        let mut why = r.reasons.clone();
        why.extend(r.notes.iter().map(|n| format!("note: {n}")));
        let _ = write!(h, "<tr class=\"{}\">", r.verdict.as_str());
        for c in cells(r) {
            let _ = write!(h, "<td>{}</td>", e(&c));
        }
        if adl {
            let q = r
                .adl_quantile_at_target
                .map(|q| q.to_string())
                .unwrap_or_default();
            let share = opt(r.adl_first_margin_share.map(|x| x * 100.0), 1);
            let _ = write!(h, "<td>{}</td><td>{}</td>", e(&q), e(&share));
        }
        let _ = writeln!(
            h,
            "<td><b>{}</b></td><td>{}</td></tr>",
            r.verdict.as_str(),
            e(&why.join("; "))
        );
    }
    h.push_str("</tbody>\n</table>\n");
    h
}

/// The sections the checklist adds to the page, as `(title, HTML body)`: none without a checklist.
pub(crate) fn sections(input: &ReportInput) -> Vec<(String, String)> {
    input
        .checklist
        .iter()
        .map(|c| ("Pre-signal checklist".to_string(), render_html(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> ChecklistSection {
        crate::fixtures::sample()
            .checklist
            .expect("the sample has a checklist")
    }

    #[test]
    fn html_puts_flagged_calls_first_and_escapes_data() {
        let h = render_html(&section());
        let skip = h
            .find("<tr class=\"skip\"><td>c-41</td>")
            .expect("skip row");
        let ok = h
            .find("<tr class=\"cross-ok\"><td>c-40</td>")
            .expect("cross-ok row");
        assert!(skip < ok, "flagged call not first:\n{h}");
        assert!(h.contains("stop beyond liquidation price &lt;20x&gt;; note: funding &amp; fees"));
        assert!(h.contains("<td>145.2000</td><td>120.0000</td><td>20x</td><td>139.1000</td>"));
        assert!(h.contains(
            "<li>channel calls.csv: 2 calls; stop beyond the liquidation price at the called \
             leverage: 50.0 % of 2 calls with a stop; cascade victims in 4 cross run(s): 25.0 %; \
             median safe leverage 5.4x; verdicts: 1 cross-ok, 0 isolated, 1 skip</li>"
        ));
        assert!(!h.contains('\u{1b}') && h.ends_with("</tbody>\n</table>\n"));
    }

    #[test]
    fn text_table_keeps_the_given_order_and_aligns() {
        let t = text_table(&section().calls);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(
            lines[0].starts_with("id    time               symbol "),
            "{t}"
        );
        assert!(lines[1].starts_with("c-40  2024-03-05T04:00"), "{t}");
        assert!(
            lines[2].contains("  skip      stop beyond liquidation price <20x>"),
            "{t}"
        );
        assert!(t.ends_with('\n'));
    }

    #[test]
    fn no_checklist_no_section() {
        let mut input = crate::fixtures::sample();
        assert_eq!(sections(&input).len(), 1);
        input.checklist = None;
        assert!(sections(&input).is_empty());
    }
}
