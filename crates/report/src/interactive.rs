//! The interactive part of the page, still one offline file: the runs' data as inline JSON, the
//! vendored uPlot library (MIT, `vendor/`, embedded with `include_str!`) and a small script that
//! draws hover-able, zoomable equity charts with series toggles, and a run picker showing one run's
//! equity, its trades (sortable, filterable) and its liquidations.
//!
//! Without scripts the page still reads: the static SVG charts and tables carry every number.

use crate::ReportInput;
use crate::analysis::{dec_f64, event_loss};
use crate::charts::{self, accounts, policy_colour_hex};
use crate::html::escape_html;
use ringfence_model::RunResult;
use serde::Serialize;
use std::fmt::Write as _;

/// The vendored uPlot release.
pub const UPLOT_VERSION: &str = "1.6.32";
/// uPlot's stylesheet (MIT, see `vendor/uPlot-LICENSE`).
pub const UPLOT_CSS: &str = include_str!("../vendor/uPlot.min.css");
/// uPlot's browser build (MIT, see `vendor/uPlot-LICENSE`); its banner keeps the copyright notice.
pub(crate) const UPLOT_JS: &str = include_str!("../vendor/uPlot.iife.min.js");
/// Points per run kept for the interactive charts (extremes and cliffs kept, see [`charts::thin`]).
const EXPLORE_POINTS: usize = 900;

#[derive(Serialize)]
struct RunData<'a> {
    name: &'a str,
    account: &'a str,
    policy: &'a str,
    params: String,
    colour: String,
    final_equity: f64,
    return_pct: f64,
    wipeouts: u32,
    /// Times in seconds (uPlot's unit).
    t: Vec<f64>,
    eq: Vec<f64>,
    trades: Vec<TradeRow>,
    liqs: Vec<LiqRow>,
    /// ADL closes `[time, words]` (left out with ADL off: the page stays as before).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    adl: Vec<(i64, String)>,
}

/// `[signal, symbol, side, mode, open, close, entry, exit, leverage, margin, reason, pnl, fees,
/// clearance fee, funding, net]`.
type TradeRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    f64,
    f64,
    f64,
    f64,
    String,
    f64,
    f64,
    f64,
    f64,
    f64,
);

/// `[time, mode, positions, money lost, wipeout, positions in words]`.
type LiqRow = (i64, String, usize, f64, bool, String);

fn run_data<'a>(input: &ReportInput, r: &'a RunResult) -> RunData<'a> {
    let pts: Vec<(i64, f64)> = r.equity.iter().map(|p| (p.time, p.equity)).collect();
    let pts = charts::thin(&pts, EXPLORE_POINTS);
    let trades = r
        .trades
        .iter()
        .map(|t| {
            (
                if t.entry_levels > 1 {
                    // an entry ladder: how many of its levels filled (the margin is their total)
                    format!(
                        "{} · ladder {}/{} filled",
                        t.signal_id, t.levels_filled, t.entry_levels
                    )
                } else {
                    t.signal_id.to_string()
                },
                t.symbol.to_string(),
                t.side.to_string(),
                t.mode.to_string(),
                t.open_time,
                t.close_time,
                t.entry_price,
                t.exit_price,
                dec_f64(t.leverage),
                dec_f64(t.margin + t.margin_added),
                t.exit_reason.to_string(),
                dec_f64(t.pnl),
                dec_f64(t.fees),
                dec_f64(t.clearance_fee),
                dec_f64(t.funding),
                dec_f64(t.net()),
            )
        })
        .collect();
    let liqs = r
        .liquidations
        .iter()
        .map(|ev| {
            let words = ev
                .positions
                .iter()
                .map(|p| {
                    format!(
                        "{} {} {}{}",
                        p.symbol,
                        p.side,
                        p.signal_id,
                        if p.culprit { " (culprit)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut mode = ev.mode.to_string();
            if ev.is_cascade() {
                mode.push_str(" cascade");
            }
            let words = match &ev.after_adl {
                Some(why) => format!("{words} — after: {why}"),
                None => words,
            };
            (
                ev.time,
                mode,
                ev.positions.len(),
                dec_f64(event_loss(ev)),
                ev.wipeout,
                words,
            )
        })
        .collect();
    RunData {
        name: &r.run,
        account: &r.account,
        policy: &r.policy,
        params: r
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        colour: policy_colour_hex(input, &r.policy),
        final_equity: dec_f64(r.summary.final_equity),
        return_pct: r.summary.return_pct,
        wipeouts: r.summary.wipeouts,
        t: pts.iter().map(|p| p.0 as f64 / 1000.0).collect(),
        eq: pts.iter().map(|p| p.1).collect(),
        trades,
        liqs,
        adl: r
            .adl
            .iter()
            .map(|a| {
                (
                    a.time,
                    format!(
                        "ADL {} {} {} {:.0} % at {} (quantile {})",
                        a.symbol,
                        a.side,
                        a.signal_id,
                        a.fraction * 100.0,
                        a.price,
                        a.quantile
                    ),
                )
            })
            .collect(),
    }
}

/// The `#explore` section: interactive equity per account, the run picker, its tables.
pub(crate) fn explore_section(h: &mut String, input: &ReportInput) {
    h.push_str("<section id=\"explore\"><h2>Explore a run</h2>\n");
    if input.runs.is_empty() {
        h.push_str("<p class=\"note\">No runs.</p></section>\n");
        return;
    }
    h.push_str(
        "<p class=\"hint screen-only\">Hover a chart for values; drag across it to zoom, \
         double-click to zoom out; click a name in a legend to hide or show that series.</p>\n\
         <noscript><p class=\"note\">Scripts are off: the interactive charts need them. The static \
         charts below and the CSV files carry the same numbers.</p></noscript>\n",
    );
    for (i, a) in accounts(&input.runs).iter().enumerate() {
        let _ = writeln!(
            h,
            "<h3>Equity of every run: account {}</h3><div class=\"uplot-box\" id=\"ueq-{i}\" data-account=\"{}\"></div>",
            escape_html(a),
            escape_html(a)
        );
    }
    h.push_str(
        "<h3>One run</h3>\n<p><label for=\"run-picker\">Run</label> <select id=\"run-picker\">",
    );
    let default = input
        .runs
        .iter()
        .position(|r| r.summary.wipeouts > 0)
        .unwrap_or(0);
    for a in accounts(&input.runs) {
        let _ = write!(h, "<optgroup label=\"account {}\">", escape_html(&a));
        for (i, r) in input
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.account == a)
        {
            let _ = write!(
                h,
                "<option value=\"{i}\"{}>{}</option>",
                if i == default { " selected" } else { "" },
                escape_html(&r.run)
            );
        }
        h.push_str("</optgroup>");
    }
    h.push_str(
        "</select></p>\n<p id=\"run-info\" class=\"run-info\"></p>\n\
         <div class=\"uplot-box\" id=\"urun\"></div>\n\
         <h4>Liquidations of this run</h4>\n\
         <div class=\"scroll\"><table class=\"sortable\" id=\"liqs-table\"><thead><tr><th>Time (UTC)</th>\
         <th>Mode</th><th>Positions</th><th>Money lost</th><th>Wipeout</th><th>Positions closed</th></tr></thead>\
         <tbody></tbody></table></div>\n\
         <h4>Trades of this run <span class=\"id\">(all runs: <a href=\"trades.csv\"><code>trades.csv</code></a>)</span></h4>\n\
         <p><label for=\"trade-filter\">Filter</label> <input id=\"trade-filter\" type=\"search\" \
         placeholder=\"symbol, side, reason, signal id…\"> <span id=\"trade-count\" class=\"id\"></span></p>\n\
         <div class=\"scroll\"><table class=\"sortable\" id=\"trades-table\"><thead><tr><th>Signal</th>\
         <th>Symbol</th><th>Side, mode</th><th>Opened (UTC)</th><th>Closed (UTC)</th>\
         <th>Entry</th><th>Exit</th><th>Leverage</th><th>Margin</th><th>Exit reason</th><th>PnL</th>\
         <th>Trading fees</th><th>Clearance fee</th><th>Funding</th><th>Net</th></tr></thead>\
         <tbody></tbody></table></div>\n</section>\n",
    );
}

/// The inline data and scripts (uPlot, then the page's explorer), placed before `</body>`.
pub(crate) fn scripts(input: &ReportInput) -> String {
    let runs: Vec<RunData> = input.runs.iter().map(|r| run_data(input, r)).collect();
    let json = serde_json::to_string(&serde_json::json!({
        "accounts": accounts(&input.runs),
        "runs": runs,
    }))
    .unwrap_or_else(|_| "{\"accounts\":[],\"runs\":[]}".to_string());
    // '<' only occurs inside JSON strings: as \u003c no data string can end or open a tag.
    let json = json.replace('<', "\\u003c");
    let js = if crate::adl::any(input) {
        with_adl_markers(EXPLORE_JS)
    } else {
        EXPLORE_JS.to_string()
    };
    format!(
        "<script id=\"rf-data\" type=\"application/json\">{json}</script>\n<script>{UPLOT_JS}</script>\n<script>{js}</script>"
    )
}

/// The run timeline's liquidation line of the script, and the same with the ADL markers.
const LIQ_ANCHOR: &str = "var aligned = align([{ t: r.t, v: r.eq }, { t: liqT, v: liqV }]);";
const LIQ_SERIES: &str = "points: { show: true, size: 10, fill: '#b2182b', stroke: '#ffffff' }, value: function (u, v) { return v == null ? '–' : fmtMoney(v); } }";

/// The script with ADL markers on the run timeline (amber diamonds at the equity of the moment):
/// only for pages with ADL on, so the script of every other page is unchanged.
fn with_adl_markers(js: &str) -> String {
    let aligned = "var adl = r.adl || [];\n    var adlT = adl.map(function (a) { return a[0] / 1000; });\n    \
        var adlV = adl.map(function (a) { var t = a[0] / 1000, v = null; \
        for (var k = 0; k < r.t.length && r.t[k] <= t; k++) v = r.eq[k]; return v; });\n    \
        var aligned = align([{ t: r.t, v: r.eq }, { t: liqT, v: liqV }, { t: adlT, v: adlV }]);";
    let series = format!(
        "{LIQ_SERIES},\n      {{ label: 'ADL', stroke: '#e08a00', width: 0, paths: function () {{ return null; }},\n        \
         points: {{ show: true, size: 9, fill: '#e08a00', stroke: '#ffffff' }}, value: function (u, v) {{ return v == null ? '–' : fmtMoney(v); }} }}"
    );
    js.replacen(LIQ_ANCHOR, aligned, 1)
        .replacen(LIQ_SERIES, &series, 1)
}

const EXPLORE_JS: &str = r#"
(function () {
  var el = document.getElementById('rf-data');
  if (!el || typeof uPlot === 'undefined') return;
  var data = JSON.parse(el.textContent);
  var charts = [];
  function fmtMoney(v) {
    if (v == null || !isFinite(v)) return '–';
    return v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function fmtTime(ms) {
    return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  }
  function fmtPrice(p) {
    if (!isFinite(p)) return '–';
    return p >= 1000 ? fmtMoney(p) : p >= 1 ? p.toFixed(4) : p.toFixed(6);
  }
  function width(box) { return Math.max(280, box.clientWidth || 800); }
  function height() { return window.innerWidth < 600 ? 260 : 340; }
  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'); }
  // Aligns several (t, v) series on the union of their times; gaps are spanned.
  function align(list) {
    var set = {};
    list.forEach(function (s) { s.t.forEach(function (t) { set[t] = 1; }); });
    var xs = Object.keys(set).map(Number).sort(function (a, b) { return a - b; });
    var idx = {};
    xs.forEach(function (t, i) { idx[t] = i; });
    var out = [xs];
    list.forEach(function (s) {
      var ys = new Array(xs.length).fill(null);
      s.t.forEach(function (t, i) { ys[idx[t]] = s.v[i]; });
      out.push(ys);
    });
    return out;
  }
  function axes() {
    return [
      { values: [[3600 * 24 * 365, '{YYYY}', null, null, null, null, null, null, 1],
                 [3600 * 24 * 28, '{YYYY}-{MM}', null, null, null, null, null, null, 1],
                 [3600 * 24, '{MM}-{DD}', null, null, null, null, null, null, 1],
                 [3600, '{MM}-{DD} {HH}:{mm}', null, null, null, null, null, null, 1],
                 [60, '{HH}:{mm}', null, null, null, null, null, null, 1]] },
      { size: 72, values: function (u, vals) { return vals.map(function (v) {
          return Math.abs(v) >= 1e4 ? (v / 1e3).toFixed(0) + 'k' : v.toFixed(0); }); } }
    ];
  }
  function make(box, series, aligned) {
    var opts = {
      width: width(box), height: height(), tzDate: utc,
      scales: { x: { time: true } },
      cursor: { drag: { x: true, y: false } },
      series: [{ label: 'time (UTC)', value: function (u, v) { return v == null ? '–' : fmtTime(v * 1e3); } }].concat(series),
      axes: axes()
    };
    var u = new uPlot(opts, aligned, box);
    charts.push([u, box]);
    return u;
  }
  // One chart per account: every run, toggled from the legend.
  data.accounts.forEach(function (acc, i) {
    var box = document.getElementById('ueq-' + i);
    if (!box) return;
    var runs = data.runs.filter(function (r) { return r.account === acc; });
    var several = {};
    runs.forEach(function (r) { several[r.policy] = (several[r.policy] || 0) + 1; });
    var series = runs.map(function (r, k) {
      return { label: r.policy + (r.params ? ' ' + r.params : ''), stroke: r.colour,
               width: several[r.policy] > 1 ? 1 : Math.max(1.5, 2 + 1.5 * (runs.length - 1 - k) / Math.max(1, runs.length - 1) * 2),
               spanGaps: true, value: function (u, v) { return fmtMoney(v); } };
    });
    make(box, series, align(runs.map(function (r) { return { t: r.t, v: r.eq }; })));
  });
  // The run picker.
  var picker = document.getElementById('run-picker');
  var runChart = null;
  function fillTable(id, rows) {
    var table = document.getElementById(id);
    var body = table.tBodies[0];
    body.textContent = '';
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
    rows.forEach(function (cells) {
      var tr = document.createElement('tr');
      cells.forEach(function (c) {
        var td = document.createElement('td');
        td.textContent = c[0];
        if (c[1] !== undefined && c[1] !== null) {
          td.setAttribute('data-v', c[1]);
          td.className = typeof c[0] === 'string' && /^[-\d]/.test(c[0]) && c[0].indexOf(':') < 0 ? 'n' : 'nw';
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  function filterTrades() {
    var q = document.getElementById('trade-filter').value.trim().toLowerCase();
    var rows = document.getElementById('trades-table').tBodies[0].rows;
    var shown = 0;
    Array.prototype.forEach.call(rows, function (tr) {
      var ok = !q || tr.textContent.toLowerCase().indexOf(q) >= 0;
      tr.hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById('trade-count').textContent = shown + ' of ' + rows.length + ' trades';
  }
  function show(i) {
    var r = data.runs[i];
    if (!r) return;
    var info = document.getElementById('run-info');
    info.textContent = r.name + ': final equity ' + fmtMoney(r.final_equity) + ' USDT (' +
      (r.return_pct >= 0 ? '+' : '') + r.return_pct.toFixed(1) + ' %), ' + r.trades.length + ' trades, ' +
      r.liqs.length + ' liquidation events' + (r.wipeouts > 0 ? ', WIPED OUT' : '');
    var liqT = r.liqs.map(function (l) { return l[0] / 1000; });
    var liqV = r.liqs.map(function (l) {
      // Equity at the event: the last point at or before it.
      var t = l[0] / 1000, v = null;
      for (var k = 0; k < r.t.length && r.t[k] <= t; k++) v = r.eq[k];
      return v;
    });
    var aligned = align([{ t: r.t, v: r.eq }, { t: liqT, v: liqV }]);
    var box = document.getElementById('urun');
    if (runChart) { charts = charts.filter(function (c) { return c[0] !== runChart; }); runChart.destroy(); }
    runChart = make(box, [
      { label: 'equity ' + r.policy, stroke: r.colour, width: 2, spanGaps: true, value: function (u, v) { return fmtMoney(v); } },
      { label: 'liquidation', stroke: '#b2182b', width: 0, paths: function () { return null; },
        points: { show: true, size: 10, fill: '#b2182b', stroke: '#ffffff' }, value: function (u, v) { return v == null ? '–' : fmtMoney(v); } }
    ], aligned);
    fillTable('liqs-table', r.liqs.map(function (l) {
      return [[fmtTime(l[0]), l[0]], [l[1]], [String(l[2]), l[2]], [fmtMoney(l[3]), l[3]], [l[4] ? 'yes' : 'no'], [l[5]]];
    }));
    fillTable('trades-table', r.trades.map(function (t) {
      return [[t[0]], [t[1]], [t[2] + ', ' + t[3]], [fmtTime(t[4]), t[4]], [fmtTime(t[5]), t[5]],
              [fmtPrice(t[6]), t[6]], [fmtPrice(t[7]), t[7]], [t[8] + '×', t[8]], [fmtMoney(t[9]), t[9]],
              [t[10]], [fmtMoney(t[11]), t[11]], [fmtMoney(t[12]), t[12]], [fmtMoney(t[13]), t[13]],
              [fmtMoney(t[14]), t[14]], [fmtMoney(t[15]), t[15]]];
    }));
    filterTrades();
  }
  if (picker) {
    picker.addEventListener('change', function () { show(+picker.value); });
    document.getElementById('trade-filter').addEventListener('input', filterTrades);
    show(+picker.value);
  }
  var pending = null;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      charts.forEach(function (c) { c[0].setSize({ width: width(c[1]), height: height() }); });
    }, 100);
  });
})();
"#;
