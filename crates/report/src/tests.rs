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
    // Bars count positions; labels add the events.
    assert_contains(&s, "counts", &["positions liquidated", " ev."]);
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
    // The vendored uPlot keeps its licence banner (a project URL); it fetches nothing.
    let html = html.replace(crate::interactive::UPLOT_JS, "");
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("http://"), "http:// in the page");
    assert!(!lower.contains("https://"), "https:// in the page");
    for attr in ["src=", "href="] {
        for v in attribute_values(&lower, attr) {
            // In-page anchors, or the run's own files next to the page.
            let local_file = !v.contains(':') && !v.contains('/') && !v.is_empty();
            assert!(v.starts_with('#') || local_file, "{attr}{v}");
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
            "Verdict",
            "Ranking by money",
            "Money by cause",
            "run-picker",
            "trades-table",
            "trades.csv",
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
    assert_eq!(html.matches("<svg viewBox").count(), ChartKind::ALL.len());
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
    // The page's own scripts only: uPlot, the explorer, the table sorter (and the JSON data).
    assert_eq!(
        html.matches("<script>").count(),
        3,
        "only the page's own scripts"
    );
    assert_eq!(html.matches("<script").count(), 4);
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
        sweep: None,
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

// ---------------------------------------------------------------------------------------------
// Money, counts, thinning and colours (issue 11)

use crate::analysis::{LiqCount, MoneyByCause, fate_in_words, rank_by_money};
use ringfence_model::{
    Exit, ExitReason, LiquidatedPosition, LiquidationEvent, MarginMode, RunResult, Side, Trade,
};
use rust_decimal::Decimal;

fn liquidated(id: &str, sym: &str, upnl: i64, culprit: bool) -> LiquidatedPosition {
    LiquidatedPosition {
        signal_id: id.into(),
        symbol: ringfence_model::Symbol::parse(sym).expect("symbol"),
        side: Side::Long,
        price: 1.0,
        loss_beyond_margin: Decimal::ZERO,
        upnl: Decimal::from(upnl),
        culprit,
    }
}

fn event(
    time: i64,
    mode: MarginMode,
    positions: Vec<LiquidatedPosition>,
    wipeout: bool,
) -> LiquidationEvent {
    LiquidationEvent {
        time,
        mode,
        positions,
        margin_ratio: 1.0,
        margin_balance: Decimal::ZERO,
        maintenance: Decimal::ZERO,
        book_correlation: None,
        clearance_fee: Decimal::ONE,
        insurance_shortfall: Decimal::ZERO,
        wipeout,
        after_adl: None,
    }
}

/// The harthor shape: cross wiped out the account in one cascade of 5 positions; isolated lost
/// 29 % over 5 separate liquidations.
fn cross_wipeout_vs_isolated() -> (RunResult, RunResult) {
    let base = sample_with(&[10], &[0.05]);
    let mut cross = base
        .runs
        .iter()
        .find(|r| r.policy == "cross")
        .expect("cross")
        .clone();
    let mut iso = base
        .runs
        .iter()
        .find(|r| r.policy == "isolated")
        .expect("iso")
        .clone();
    let t = 1_760_130_000_000;
    cross.liquidations = vec![event(
        t,
        MarginMode::Cross,
        vec![
            liquidated("x1", "XRPUSDT", -900, true),
            liquidated("d1", "DOGEUSDT", -800, true),
            liquidated("s1", "SOLUSDT", -200, false),
            liquidated("e1", "ETHUSDT", -50, false),
            liquidated("b1", "BNBUSDT", 30, false),
        ],
        true,
    )];
    cross.summary.start_equity = Decimal::from(2000);
    cross.summary.final_equity = Decimal::ZERO;
    cross.summary.return_pct = -100.0;
    cross.summary.wipeouts = 1;
    cross.summary.liquidations = 1;
    iso.liquidations = (0..5)
        .map(|i| {
            event(
                t + i * 60_000,
                MarginMode::Isolated,
                vec![liquidated(&format!("i{i}"), "SOLUSDT", -120, true)],
                false,
            )
        })
        .collect();
    iso.summary.start_equity = Decimal::from(2000);
    iso.summary.final_equity = Decimal::from(1420);
    iso.summary.return_pct = -29.0;
    iso.summary.wipeouts = 0;
    iso.summary.liquidations = 5;
    (cross, iso)
}

#[test]
fn ranking_is_by_money_not_by_liquidation_count() {
    let (cross, iso) = cross_wipeout_vs_isolated();
    // Fewer liquidation events (1 vs 5), yet ranked last: it lost the whole account.
    assert!(cross.summary.liquidations < iso.summary.liquidations);
    let ranked = rank_by_money([&cross, &iso]);
    assert_eq!(ranked[0].run.policy, "isolated");
    assert_eq!(ranked[1].run.policy, "cross");
    // Among survivors, more final equity ranks first; at equal equity, the smaller drawdown.
    let mut richer = iso.clone();
    richer.summary.final_equity = Decimal::from(1500);
    richer.run = "z-richer".into();
    let ranked = rank_by_money([&iso, &richer, &cross]);
    let order: Vec<&str> = ranked.iter().map(|s| s.run.run.as_str()).collect();
    assert_eq!(order, ["z-richer", iso.run.as_str(), cross.run.as_str()]);
    let mut calmer = iso.clone();
    calmer.run = "a-calmer".into();
    for p in &mut calmer.equity {
        p.equity = 1420.0;
    }
    let ranked = rank_by_money([&iso, &calmer]);
    assert_eq!(ranked[0].run.run, "a-calmer");
    assert_eq!(ranked[0].drawdown, 0.0);
}

#[test]
fn verdict_names_the_wiped_out_policy_and_its_culprits() {
    let (cross, iso) = cross_wipeout_vs_isolated();
    let mut input = sample_with(&[10], &[0.05]);
    input.runs = vec![cross.clone(), iso.clone()];
    input.runs[0].account = "usdt".into();
    input.runs[1].account = "usdt".into();
    let html = render_html(&input).expect("html");
    let v = &html[html.find("id=\"verdict\"").expect("verdict")
        ..html.find("id=\"summary\"").expect("summary")];
    assert!(
        v.contains("<b>isolated</b> survived; <b class=\"bad\">cross</b> wiped out the account"),
        "{v}"
    );
    assert!(v.contains("one cascade closed 5 positions"), "{v}");
    assert!(
        v.contains("XRPUSDT long and the DOGEUSDT long") || v.contains("XRPUSDT long"),
        "{v}"
    );
    assert!(
        v.contains("5 positions liquidated in 5 events, each lost only its own margin"),
        "{v}"
    );
    // The verdict comes before every other section.
    assert!(html.find("id=\"verdict\"") < html.find("id=\"summary\""));
    let words = fate_in_words(&cross, |v| format!("{v:.0}"));
    assert!(words.starts_with("wiped out 2025-10-10 21:00"), "{words}");
    assert!(!words.contains("ADL"), "{words}");
}

#[test]
fn verdict_says_when_adl_took_the_hedge_before_the_wipeout() {
    let (mut cross, _) = cross_wipeout_vs_isolated();
    let why = "BTCUSDT short deleveraged 2025-10-10 20:55 (quantile 2, 50 %)";
    for ev in cross.liquidations.iter_mut().filter(|e| e.wipeout) {
        ev.after_adl = Some(why.into());
    }
    let words = fate_in_words(&cross, |v| format!("{v:.0}"));
    assert!(
        words.contains("one cascade closed 5 positions")
            && words.contains(&format!(", after ADL: {why}; final equity")),
        "{words}"
    );
}

#[test]
fn liquidations_are_counted_one_way_in_both_modes() {
    let (cross, iso) = cross_wipeout_vs_isolated();
    assert_eq!(
        LiqCount::of(&cross),
        LiqCount {
            positions: 5,
            events: 1
        }
    );
    assert_eq!(
        LiqCount::of(&iso),
        LiqCount {
            positions: 5,
            events: 5
        }
    );
    assert_eq!(
        LiqCount::of(&cross).words(),
        "5 positions liquidated in 1 event"
    );
    // The summary table and the counts chart show positions / events for both.
    let mut input = sample_with(&[10], &[0.05]);
    input.runs = vec![cross, iso];
    let html = render_html(&input).expect("html");
    let table =
        &html[html.find("id=\"summary\"").expect("s")..html.find("id=\"money\"").expect("m")];
    assert_eq!(table.matches("data-v=\"5\">5 / 1").count(), 1, "cross row");
    assert_eq!(
        table.matches("data-v=\"5\">5 / 5").count(),
        1,
        "isolated row"
    );
    let s = svg(ChartKind::LiquidationCounts, &input);
    assert!(s.contains("5 in 1 ev.") && s.contains("5 in 5 ev."));
}

#[test]
fn worst_liquidations_are_ranked_by_money_lost() {
    let (cross, iso) = cross_wipeout_vs_isolated();
    let mut input = sample_with(&[10], &[0.05]);
    let mut big_iso = iso.clone();
    big_iso.run = "big-isolated".into();
    big_iso.liquidations = vec![event(
        1,
        MarginMode::Isolated,
        vec![liquidated("big", "BTCUSDT", -2430, true)],
        false,
    )];
    input.runs = vec![iso, big_iso, cross];
    let html = render_html(&input).expect("html");
    let w = &html[html.find("id=\"worst\"").expect("worst")..];
    let big = w
        .find("big-isolated")
        .expect("the large isolated liquidation is listed");
    let cascade = w.find("cross cascade").expect("the cascade is listed");
    // Cascade: 900 + 800 + 200 + 50 − 30 + 1 fee = 1,921; the isolated one: 2,430 + 1 = 2,431.
    assert!(big < cascade, "ranked by money lost");
    assert!(w.contains("2,431.00") && w.contains("1,921.00"));
    assert!(!w.contains("Margin ratio"));
}

#[test]
fn money_by_cause_splits_exits_fees_and_collateral() {
    let (mut cross, _) = cross_wipeout_vs_isolated();
    let sym = ringfence_model::Symbol::parse("XRPUSDT").expect("symbol");
    let exit = |reason, pnl: i64, fee: i64| Exit {
        time: 0,
        price: 1.0,
        qty: Decimal::ONE,
        reason,
        pnl: Decimal::from(pnl),
        fee: Decimal::from(fee),
    };
    let trade = |exits: Vec<Exit>, fees: i64, clearance: i64, funding: i64| Trade {
        signal_id: "x".into(),
        symbol: sym.clone(),
        side: Side::Long,
        mode: MarginMode::Cross,
        background: false,
        open_time: 0,
        entry_price: 1.0,
        qty: Decimal::ONE,
        leverage: Decimal::TEN,
        margin: Decimal::ONE,
        margin_added: Decimal::ZERO,
        liq_price_at_entry: None,
        close_time: 0,
        exit_price: 1.0,
        exit_reason: ExitReason::Stop,
        pnl: exits.iter().map(|x| x.pnl).sum(),
        fees: Decimal::from(fees),
        clearance_fee: Decimal::from(clearance),
        funding: Decimal::from(funding),
        exits,
        entry_levels: 1,
        levels_filled: 1,
    };
    cross.trades = vec![
        trade(
            vec![
                exit(ExitReason::Target(1), 300, 1),
                exit(ExitReason::Stop, -100, 1),
            ],
            3,
            0,
            -5,
        ),
        trade(vec![exit(ExitReason::Liquidation, -1500, 0)], 2, 20, 0),
        trade(vec![exit(ExitReason::Cascade, -400, 0)], 2, 10, 0),
    ];
    cross.summary.start_equity = Decimal::from(2000);
    cross.summary.insurance_shortfall = Decimal::ZERO;
    // Trades lose 300 − 100 − 1500 − 400 − 5 − 7 − 30 = −2,042; collateral gained 42.
    cross.summary.final_equity = Decimal::ZERO;
    let m = MoneyByCause::of(&cross);
    assert_eq!(m.target, Decimal::from(300));
    assert_eq!(m.stop, Decimal::from(-100));
    assert_eq!(m.liquidation, Decimal::from(-1500));
    assert_eq!(m.cascade_victim, Decimal::from(-400));
    assert_eq!(m.funding, Decimal::from(-5));
    assert_eq!(m.trading_fees, Decimal::from(-7));
    assert_eq!(m.clearance_fees, Decimal::from(-30));
    assert_eq!(m.trading_total(), Decimal::from(-1742));
    assert_eq!(m.collateral_revaluation, Decimal::from(-258));
}

#[test]
fn thinning_keeps_the_cliff_and_every_extreme() {
    // Hourly equity for 80 days; the 20:00 → 21:00 cliff of day 40, then a slow bleed to lower
    // values later in the same bucket (which a plain min/max bucket would keep instead of 21:00).
    let h = 3_600_000;
    let cliff = 40 * 24 + 21;
    let pts: Vec<(i64, f64)> = (0..80 * 24)
        .map(|i| {
            let v = if i < cliff {
                18_000.0 + 900.0 * ((i as f64) / 7.0).sin()
            } else {
                486.19 - (i - cliff) as f64 * 0.5
            };
            (i as i64 * h, if i == cliff - 1 { 18_889.83 } else { v })
        })
        .collect();
    let out = crate::charts::thin(&pts, 300);
    assert!(out.len() <= 306, "{}", out.len());
    assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(out.contains(&pts[cliff - 1]), "20:00 point dropped");
    assert!(out.contains(&pts[cliff]), "21:00 point dropped");
    let (lo, hi) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    assert!(out.iter().any(|p| p.1 == lo) && out.iter().any(|p| p.1 == hi));
    // Drawn, the cliff is one vertical step: consecutive kept points 20:00 then 21:00.
    let i = out.iter().position(|p| *p == pts[cliff]).expect("kept");
    assert_eq!(out[i - 1], pts[cliff - 1]);
}

#[test]
fn policy_colours_are_stable_across_reports_and_follow_the_mode() {
    let full = sample();
    let mut only_two = sample();
    only_two.runs.retain(|r| r.policy != "hybrid");
    for p in ["isolated", "cross"] {
        assert_eq!(
            crate::policy_colour_hex(&full, p),
            crate::policy_colour_hex(&only_two, p),
            "{p} changed colour when another policy left the report"
        );
    }
    // Documented anchors: isolated blue, cross vermillion, hybrid green.
    assert_eq!(crate::policy_colour_hex(&full, "isolated"), "#0072b2");
    assert_eq!(crate::policy_colour_hex(&full, "cross"), "#d55e00");
    assert_eq!(crate::policy_colour_hex(&full, "hybrid"), "#009e73");
    // A custom name stays in its family and keeps its colour in another report.
    let mut renamed = sample();
    for r in &mut renamed.runs {
        if r.policy == "cross" {
            r.policy = "cross-nostop".into();
        }
    }
    let c = crate::policy_colour_hex(&renamed, "cross-nostop");
    assert!(
        ["#b2182b", "#e69f00", "#8e3b0b"].contains(&c.as_str()),
        "{c}"
    );
    let mut alone = renamed.clone();
    alone.runs.retain(|r| r.policy == "cross-nostop");
    assert_eq!(crate::policy_colour_hex(&alone, "cross-nostop"), c);
}

#[test]
fn a_page_without_adl_has_no_adl_section_and_the_plain_script() {
    let input = sample();
    let html = render_html(&input).unwrap();
    assert!(!html.contains("Auto-deleveraging"));
    assert!(!html.contains("label: 'ADL'"));
    assert!(!html.contains("\"adl\""));
}

#[test]
fn a_page_with_adl_shows_the_effect_the_chain_and_the_markers() {
    use ringfence_model::{AdlRecord, AdlTrigger, MarginMode, Side};
    use rust_decimal::Decimal;
    let mut input = sample();
    let r = &mut input.runs[0];
    let liq_time = r.liquidations.first().map(|l| l.time);
    let t = liq_time.unwrap_or(r.equity[1].time) - 180_000;
    r.adl.push(AdlRecord {
        time: t,
        signal_id: "hedge".into(),
        symbol: ringfence_model::Symbol::parse("BTCUSDT").unwrap(),
        side: Side::Short,
        mode: MarginMode::Cross,
        price: 100_000.0,
        qty: Decimal::new(5, 2),
        fraction: 1.0,
        pnl: Decimal::from(250),
        score: 0.03,
        quantile: 3,
        trigger: AdlTrigger::Rule,
        source: "BTCUSDT −9.0 % in 60 min".into(),
    });
    r.adl_off_final_equity = Some(r.summary.final_equity + Decimal::from(400));
    if let Some(l) = r.liquidations.first_mut() {
        l.after_adl = Some("BTCUSDT short deleveraged 2024-03-05 21:13 (quantile 3, 100 %)".into());
    }
    let run = r.run.clone();
    let html = render_html(&input).unwrap();
    assert_contains(
        &html,
        "page",
        &[
            "<section id=\"adl\"><h2>Auto-deleveraging</h2>",
            "href=\"#adl\"",
            &run,
            "lost</b> -400.00",
            "label: 'ADL'",
            "var adlT",
            "\"adl\":[[",
        ],
    );
    if liq_time.is_some() {
        assert_contains(
            &html,
            "page",
            &["BTCUSDT short deleveraged 2024-03-05 21:13 (quantile 3, 100 %) → book liquidated"],
        );
    }
}

/// The first run of `input` with a liquidation.
fn with_liquidation(input: &mut ReportInput) -> &mut ringfence_model::RunResult {
    input
        .runs
        .iter_mut()
        .find(|r| !r.liquidations.is_empty())
        .expect("a run with a liquidation")
}

/// A liquidation with no margin balance left has an infinite margin ratio (so does the equity
/// point at it, and the ADL score of a position whose margin is gone): JSON has no infinity, so
/// they are written as `null`, and a report input or a shard's run must read them back as they
/// were.
#[test]
fn infinite_margin_ratios_round_trip_through_json() {
    let mut input = sample();
    let run = with_liquidation(&mut input);
    run.liquidations[0].margin_ratio = f64::INFINITY;
    run.equity[1].margin_ratio = f64::INFINITY;
    run.summary.profit_factor = f64::INFINITY;
    let text = serde_json::to_string(&input).unwrap();
    assert!(
        text.contains("\"margin_ratio\":null"),
        "infinity written as null"
    );
    let back: ReportInput = serde_json::from_str(&text).unwrap();
    assert_eq!(back, input);
}

/// A negative zero (a sum of opposite funding payments) is written `"-0"` in JSON and read back as
/// `"0"`; with zeros unsigned, as the engine hands its runs over, a run survives the round trip
/// byte for byte (a merge of shards depends on it). Scales are kept.
#[test]
fn unsigned_zeros_survive_a_json_round_trip() {
    let mut input = sample();
    let run = with_liquidation(&mut input);
    let negative_zero = -Decimal::new(0, 2);
    assert!(negative_zero.is_sign_negative());
    run.liquidations[0].insurance_shortfall = negative_zero;
    run.summary.funding = negative_zero;
    let before = serde_json::to_string(&*run).unwrap();
    assert!(before.contains("\"-0.00\""));
    run.unsign_zeros();
    let text = serde_json::to_string(&*run).unwrap();
    assert!(!text.contains("\"-0"), "no negative zero left");
    assert!(text.contains("\"funding\":\"0.00\""), "scale kept");
    assert!(text.contains("\"insurance_shortfall\":\"0.00\""));
    let back: ringfence_model::RunResult = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
}

/// A large sweep's charts draw only the runs shown in detail: the equity legend says so, and the
/// heatmap (whose cells would be extremes only) is not drawn.
#[test]
fn a_large_sweeps_charts_say_which_runs_they_draw() {
    let mut input = sample_with(&[5, 10, 20], &[0.02, 0.05]);
    input.sweep = Some(crate::SweepSection {
        runs: 10_000,
        detail: "In detail: the best and the worst run of each account × policy.".into(),
        groups: Vec::new(),
    });
    let eq = svg(ChartKind::Equity, &input);
    assert!(eq.contains("best and worst run of the sweep"));
    assert!(!eq.contains("one line per sweep run"));
    assert!(!ChartKind::SweepHeatmap.applies(&input));
    let html = render_html(&input).expect("html");
    assert!(html.contains("shown in detail"));
}
