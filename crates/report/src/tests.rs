//! Crate tests: every chart on the realistic fixture and on empty cases, the HTML page's
//! self-containment and escaping, the PNG files.

use crate::charts::{ChartKind, sweep_axes};
use crate::fixtures::{sample, sample_with, single_run_no_liquidations};
use crate::{ReportError, ReportInput, render_html, render_svg, write_report};
use std::collections::BTreeSet;
use std::path::Path;

fn svg(kind: ChartKind, input: &ReportInput) -> String {
    match render_svg(kind, input) {
        Ok(s) => s,
        Err(e) => panic!("{} failed: {e}", kind.file_stem()),
    }
}

fn assert_contains(hay: &str, what: &str, needles: &[&str]) {
    for n in needles {
        assert!(hay.contains(n), "{what} does not contain {n:?}");
    }
}

const POLICIES: [&str; 3] = ["isolated", "cross", "hybrid"];

#[test]
fn equity_and_drawdown_name_policies_accounts_and_axes() {
    let input = sample();
    let eq = svg(ChartKind::Equity, &input);
    assert_contains(&eq, "equity", &POLICIES);
    assert_contains(
        &eq,
        "equity",
        &[
            "equity (USDT)",
            "time (UTC)",
            "account small",
            "account btc-stack",
            "2024-03-",
        ],
    );
    let dd = svg(ChartKind::Drawdown, &input);
    assert_contains(&dd, "drawdown", &POLICIES);
    assert_contains(
        &dd,
        "drawdown",
        &["drawdown from peak (%)", "time (UTC)", "-"],
    );
}

#[test]
fn liquidation_counts_stack_victims_and_say_they_are_summed() {
    let input = sample();
    let s = svg(ChartKind::LiquidationCounts, &input);
    assert_contains(&s, "counts", &POLICIES);
    assert_contains(
        &s,
        "counts",
        &[
            "account small",
            "account btc-stack",
            "cascade victims",
            "summed over the sweep runs",
        ],
    );
    // "events + victims" labels exist for the cross bars.
    assert!(s.contains(" + "), "no stacked victim label");
}

#[test]
fn timeline_has_prices_normalised_and_markers() {
    let input = sample();
    let s = svg(ChartKind::LiquidationTimeline, &input);
    assert_contains(&s, "timeline", &POLICIES);
    assert_contains(
        &s,
        "timeline",
        &[
            "BTCUSDT",
            "ETHUSDT",
            "SOLUSDT",
            "normalised to 100",
            "time (UTC)",
            "<circle",
            "<polygon",
        ],
    );
    assert!(!s.contains("no liquidations"));
    // One symbol: raw prices in USDT.
    let mut one = sample();
    one.prices.truncate(1);
    let s = svg(ChartKind::LiquidationTimeline, &one);
    assert_contains(&s, "timeline (one symbol)", &["BTCUSDT close (USDT)"]);
}

#[test]
fn cascade_attribution_splits_culprits_and_victims_per_policy() {
    let input = sample();
    let s = svg(ChartKind::CascadeAttribution, &input);
    assert_contains(
        &s,
        "cascade",
        &[
            "culprit",
            "victim",
            "cross: ",
            "hybrid: ",
            "SOLUSDT",
            "BTCUSDT",
            "positions closed",
        ],
    );
    // Only policies with cross liquidations get a panel.
    assert!(!s.contains("isolated: "));
}

#[test]
fn heatmap_uses_the_two_sweep_axes() {
    let input = sample();
    let axes = sweep_axes(&input.runs).expect("two axes");
    assert_eq!(axes[0].0, "lev");
    assert_eq!(axes[0].1, ["10", "20"]);
    assert_eq!(axes[1].0, "margin");
    assert_eq!(axes[1].1, ["0.05", "0.1"]);
    let s = svg(ChartKind::SweepHeatmap, &input);
    assert_contains(
        &s,
        "heatmap",
        &["lev", "margin", "0.05", "0.1", "liq", "DD "],
    );
    for p in POLICIES {
        assert!(s.contains(&format!("account small / {p}")), "{p}");
        assert!(s.contains(&format!("account btc-stack / {p}")), "{p}");
    }
}

#[test]
fn numeric_sweep_values_sort_numerically() {
    let input = sample_with(&[20, 5, 100], &[0.1, 0.02]);
    let axes = sweep_axes(&input.runs).expect("two axes");
    assert_eq!(axes[0].1, ["5", "20", "100"]);
    assert_eq!(axes[1].1, ["0.02", "0.1"]);
    // One varying axis only: no heatmap.
    let one = sample_with(&[10, 20], &[0.05]);
    assert!(sweep_axes(&one.runs).is_none());
    assert!(!ChartKind::SweepHeatmap.applies(&one));
}

#[test]
fn policy_colours_are_consistent_and_distinct() {
    let input = sample();
    let colours: BTreeSet<String> = POLICIES
        .iter()
        .map(|p| crate::policy_colour_hex(&input, p))
        .collect();
    assert_eq!(colours.len(), 3);
    // Derived from the sorted names: cross is first whatever the input order.
    let mut reversed = input.clone();
    reversed.runs.reverse();
    for p in POLICIES {
        assert_eq!(
            crate::policy_colour_hex(&input, p),
            crate::policy_colour_hex(&reversed, p)
        );
    }
    // The HTML uses the chart colours.
    let html = render_html(&input).expect("html");
    for c in colours {
        assert!(html.contains(&c), "{c}");
        let rgb = format!("#{}", c.trim_start_matches('#').to_ascii_uppercase());
        let svg = svg(ChartKind::Equity, &input);
        assert!(
            svg.contains(&rgb) || svg.contains(&c),
            "equity svg lacks {c}"
        );
    }
}

/// Every `src=`/`href=` value (quoted or not) in `html`.
fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(attr) {
        let after = &rest[i + attr.len()..];
        let value = match after.chars().next() {
            Some(q @ ('"' | '\'')) => after[1..].split(q).next().unwrap_or(""),
            _ => after.split([' ', '>']).next().unwrap_or(""),
        };
        out.push(value);
        rest = after;
    }
    out
}

#[test]
fn html_is_self_contained_and_complete() {
    let input = sample();
    let html = render_html(&input).expect("html");
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("http://"), "http:// in the page");
    assert!(!lower.contains("https://"), "https:// in the page");
    for attr in ["src=", "href="] {
        for v in attribute_values(&lower, attr) {
            assert!(v.starts_with('#') || v.starts_with("data:"), "{attr}{v}");
        }
    }
    assert!(!lower.contains("@import") && !lower.contains("url("));
    assert_contains(&html, "html", &POLICIES);
    assert_contains(
        &html,
        "html",
        &[
            "Account small",
            "Account btc-stack",
            "Summary table",
            "Worst liquidations",
            "Skipped signals",
            "Data warnings",
            "Assumptions",
            "Pre-signal checklist",
            "no mark-price data",
            "intrabar model",
            "class=\"sortable\"",
            "@media print",
            "<svg viewBox=",
            "cross cascade",
            "bg:1",
        ],
    );
    // Every applicable chart is inlined once.
    assert_eq!(html.matches("<svg ").count(), ChartKind::ALL.len());
}

#[test]
fn html_escapes_every_data_string() {
    let mut input = sample();
    input.runs[0].account = "<script>alert(1)</script>".into();
    input
        .assumptions
        .push(("a&b".into(), "\"quoted\" <x>".into()));
    let html = render_html(&input).expect("html");
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("a&amp;b"));
    assert!(html.contains("&quot;quoted&quot; &lt;x&gt;"));
    assert!(html.contains("demo-channel &lt;2024-03&gt;"));
    assert!(html.contains("stop distance &lt;0.5% &amp; &quot;tight&quot;"));
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the page's own script"
    );
}

fn decode_png(path: &Path) -> (u32, u32, Vec<u8>, png::ColorType) {
    let file = std::fs::File::open(path).expect("png exists");
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type)
}

#[test]
fn write_report_writes_decodable_non_blank_pngs_and_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("nested/report");
    let files = write_report(&sample(), &out).expect("report");
    assert_eq!(files.pngs.len(), ChartKind::ALL.len());
    assert!(files.html.ends_with("report.html"));
    let html = std::fs::read_to_string(&files.html).expect("html written");
    assert!(html.starts_with("<!doctype html>"));
    for path in &files.pngs {
        let (w, h, buf, colour) = decode_png(path);
        assert_eq!(colour, png::ColorType::Rgb);
        assert!(w >= 1200 && h >= 700, "{} is {w}×{h}", path.display());
        let distinct: BTreeSet<&[u8]> = buf.chunks(3).collect();
        assert!(
            distinct.len() > 40,
            "{} has only {} colours",
            path.display(),
            distinct.len()
        );
        // Dark pixels exist (text and axes, not only fills).
        assert!(
            buf.chunks(3).any(|p| p.iter().all(|c| *c < 60)),
            "{}",
            path.display()
        );
    }
}

#[test]
fn empty_cases_render() {
    let single = single_run_no_liquidations();
    for kind in ChartKind::ALL {
        let s = svg(kind, &single);
        assert!(s.starts_with("<svg"), "{}", kind.file_stem());
    }
    assert!(!ChartKind::SweepHeatmap.applies(&single));
    assert!(svg(ChartKind::LiquidationTimeline, &single).contains("no liquidations"));
    assert!(svg(ChartKind::LiquidationCounts, &single).contains("no liquidations in any run"));
    assert!(svg(ChartKind::CascadeAttribution, &single).contains("no cross liquidations"));
    assert!(svg(ChartKind::Equity, &single).contains("isolated"));
    let html = render_html(&single).expect("html");
    assert!(html.contains("No liquidations in any run."));
    assert_eq!(html.matches("<svg ").count(), ChartKind::ALL.len() - 1);

    let nothing = ReportInput {
        title: "empty".into(),
        generated_by: "test".into(),
        runs: vec![],
        prices: vec![],
        warnings: vec![],
        assumptions: vec![],
        checklist: None,
        claims: None,
    };
    for kind in ChartKind::ALL {
        svg(kind, &nothing);
    }
    assert!(svg(ChartKind::Equity, &nothing).contains("no runs"));
    let html = render_html(&nothing).expect("html");
    assert!(html.contains("No runs."));
    let dir = tempfile::tempdir().expect("tempdir");
    let files = write_report(&nothing, dir.path()).expect("empty report");
    assert_eq!(files.pngs.len(), ChartKind::ALL.len() - 1);
}

#[test]
fn a_large_sweep_stays_readable_and_bounded() {
    // 5 leverages × 3 margins × 3 policies × 2 accounts = 90 runs.
    let input = sample_with(&[5, 10, 20, 25, 50], &[0.02, 0.05, 0.1]);
    assert_eq!(input.runs.len(), 90);
    for kind in ChartKind::ALL {
        let s = svg(kind, &input);
        assert!(
            s.len() < 4_000_000,
            "{} svg is {} bytes",
            kind.file_stem(),
            s.len()
        );
    }
    let eq = svg(ChartKind::Equity, &input);
    assert!(eq.contains("one line per sweep run"));
    let html = render_html(&input).expect("html");
    assert!(html.len() < 12_000_000, "html is {} bytes", html.len());
    assert!(html.contains("(worst run "));
}

#[test]
fn bad_price_series_is_a_clear_error() {
    let mut input = sample();
    input.prices[1].close.pop();
    let err = render_html(&input).expect_err("mismatch");
    let msg = err.to_string();
    assert!(
        msg.contains("ETHUSDT") && msg.contains("672 times but 671 closes"),
        "{msg}"
    );
}

#[test]
fn io_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").expect("write");
    let err = write_report(&sample(), &blocker.join("out")).expect_err("cannot create");
    assert!(matches!(err, ReportError::Io { .. }));
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn report_input_round_trips_through_json() {
    let input = sample();
    let json = serde_json::to_string(&input).expect("serialise");
    let back: ReportInput = serde_json::from_str(&json).expect("deserialise");
    // Exact with serde_json's `float_roundtrip` feature (the default parser may differ in the
    // last bit of an f64).
    assert!(
        back == input,
        "report input changed after a json round trip"
    );
}

#[test]
fn output_is_deterministic() {
    let a = render_html(&sample()).expect("html");
    let b = render_html(&sample()).expect("html");
    assert!(a == b, "two renders differ");
}

/// `../shared/data` (real Binance candles), or `None` outside CI when it is missing.
fn shared_data() -> Option<std::path::PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).to_path_buf();
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "shared test data missing at {}",
        dir.display()
    );
    eprintln!(
        "note: {} missing; skipping the real-data test",
        dir.display()
    );
    None
}

/// Hourly closes from a derived freqtrade CSV (`date,timestamp_ms,open,high,low,close,volume`)
/// between `from` and `to` (ms, inclusive start, exclusive end).
fn closes(path: &Path, from: i64, to: i64) -> crate::PriceSeries {
    let text = std::fs::read_to_string(path).expect("price csv");
    let (mut times, mut close) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let t: i64 = cols[1]
            .parse()
            .unwrap_or_else(|_| panic!("{}:{}", path.display(), i + 1));
        if (from..to).contains(&t) {
            times.push(t);
            close.push(
                cols[5]
                    .parse()
                    .unwrap_or_else(|_| panic!("{}:{}", path.display(), i + 1)),
            );
        }
    }
    let stem = path
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let symbol = ringfence_model::Symbol::parse(stem.split('-').next().unwrap_or_default())
        .expect("symbol from file name");
    crate::PriceSeries {
        symbol,
        times,
        close,
    }
}

#[test]
fn timeline_over_real_october_2025_prices() {
    let Some(data) = shared_data() else {
        return;
    };
    let dir = data.join("harthor_binance_futures_2025");
    let (from, to) = (1_759_276_800_000, 1_760_918_400_000); // 2025-10-01 .. 2025-10-20
    let mut input = sample();
    input.prices = ["BTC", "SOL"]
        .iter()
        .map(|b| closes(&dir.join(format!("{b}_USDT_USDT-1h-futures.csv")), from, to))
        .collect();
    assert_eq!(input.prices[0].times.len(), 19 * 24);
    // Move the fixture's liquidations onto the 2025-10-10 21:00 UTC crash candle.
    let shift = 1_760_130_000_000
        - (crate::fixtures::START_MS + crate::fixtures::CRASH_HOUR as i64 * 3_600_000);
    for r in &mut input.runs {
        for e in &mut r.liquidations {
            e.time += shift;
        }
    }
    let s = svg(ChartKind::LiquidationTimeline, &input);
    assert_contains(
        &s,
        "real timeline",
        &["BTCUSDT", "SOLUSDT", "normalised to 100", "2025-10-1"],
    );
    // The crash shows in the hourly closes: SOL's normalised low is below BTC's.
    let low = |p: &crate::PriceSeries| {
        let k = 100.0 / p.close[0];
        p.close.iter().map(|c| c * k).fold(f64::INFINITY, f64::min)
    };
    let (btc, sol) = (low(&input.prices[0]), low(&input.prices[1]));
    assert!(sol < btc, "SOL low {sol:.1} vs BTC low {btc:.1}");
    let out = tempfile::tempdir().expect("tempdir");
    let png = out.path().join("timeline.png");
    crate::render_png(ChartKind::LiquidationTimeline, &input, &png).expect("png");
    let (w, h, _, _) = decode_png(&png);
    assert_eq!((w, h), ChartKind::LiquidationTimeline.size(&input));
}
