//! `ringfence run scenarios/demo.toml`: every output file, the table columns, what the demo shows
//! (cascades only under cross, the BTC-collateral account hurt by cross), thread-count determinism,
//! money conservation from `trades.csv` alone, and `ringfence report` re-rendering.
//!
//! The full demo run (with the report) is done once per test binary and shared by the tests.

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;
use std::sync::OnceLock;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/demo.toml");

fn ringfence(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .output()
        .expect("the ringfence binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One full demo run with the report, `--threads 2`, shared by every test of this file.
fn demo_run() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, out) = RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("demo");
        let o = ringfence(&[
            "run",
            SCENARIO,
            "--out",
            out.to_str().expect("utf-8 path"),
            "--threads",
            "2",
        ]);
        assert!(
            o.status.success(),
            "demo run failed ({:?}):\n{}",
            o.status,
            text(&o.stderr)
        );
        (tmp, out)
    });
    out
}

/// A CSV file as its header and rows of name → cell.
struct Csv {
    header: Vec<String>,
    rows: Vec<BTreeMap<String, String>>,
}

impl Csv {
    fn read(path: &Path) -> Csv {
        let mut r = csv::Reader::from_path(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let header: Vec<String> = r
            .headers()
            .expect("header row")
            .iter()
            .map(str::to_string)
            .collect();
        let rows = r
            .records()
            .map(|rec| {
                let rec = rec.expect("csv record");
                header
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_string))
                    .collect()
            })
            .collect();
        Csv { header, rows }
    }

    /// Asserts `names` appear in the header in this relative order.
    fn assert_columns_in_order(&self, what: &str, names: &[&str]) {
        let mut last = None;
        for n in names {
            let pos = self
                .header
                .iter()
                .position(|h| h == n)
                .unwrap_or_else(|| panic!("{what}: column {n} missing in {:?}", self.header));
            if let Some(prev) = last {
                assert!(
                    pos > prev,
                    "{what}: column {n} out of order in {:?}",
                    self.header
                );
            }
            last = Some(pos);
        }
    }
}

fn dec(cell: &str) -> Decimal {
    Decimal::from_str(cell)
        .or_else(|_| Decimal::from_scientific(cell))
        .unwrap_or_else(|e| panic!("{cell:?} is not a decimal: {e}"))
}

fn is_iso_utc(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok_and(|d| d.offset().local_minus_utc() == 0)
        && s.ends_with('Z')
}

#[test]
fn demo_writes_every_output_with_the_documented_columns() {
    let out = demo_run();
    for f in [
        "summary.csv",
        "summary.json",
        "trades.csv",
        "liquidations.csv",
        "equity.csv",
        "skipped.csv",
        "trades.parquet",
        "report-curves.parquet",
        "run.json",
        "report-input.json",
        "report.html",
    ] {
        let p = out.join(f);
        let len = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .len();
        assert!(len > 0, "{f} is empty");
    }
    let pngs: Vec<String> = std::fs::read_dir(out)
        .expect("output dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    assert!(pngs.len() >= 4, "too few charts: {pngs:?}");
    for png in &pngs {
        let bytes = std::fs::read(out.join(png)).expect("png");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png} is not a PNG");
    }
    // Parquet magic at both ends.
    // Every equity point only when asked (`--full-equity`).
    assert!(!out.join("equity.parquet").exists());
    for pq in ["trades.parquet", "report-curves.parquet"] {
        let bytes = std::fs::read(out.join(pq)).expect("parquet");
        assert_eq!(&bytes[..4], b"PAR1", "{pq}");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1", "{pq}");
    }
    // No staging directory left beside the output.
    let parent = out.parent().expect("parent");
    let leftovers: Vec<String> = std::fs::read_dir(parent)
        .expect("parent dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");

    let summary = Csv::read(&out.join("summary.csv"));
    summary.assert_columns_in_order(
        "summary.csv",
        &[
            "run",
            "account",
            "policy",
            "final_equity",
            "return_pct",
            "max_drawdown_pct",
            "liquidations",
            "cascades",
            "cascade_victims",
            "wipeouts",
            "insurance_shortfall",
            "fees",
            "funding",
            "trades",
            "skipped_signals",
        ],
    );
    // 2 accounts × 5 policies × (2 max_leverage × 2 margin_fraction) sweep points.
    assert_eq!(summary.rows.len(), 40);
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("run.json parses");
    let names: Vec<&str> = run_json["runs"]
        .as_array()
        .expect("runs list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let summary_names: Vec<&str> = summary.rows.iter().map(|r| r["run"].as_str()).collect();
    assert_eq!(
        names, summary_names,
        "one summary row per run, in run order"
    );
    let distinct: std::collections::BTreeSet<&str> = summary_names.iter().copied().collect();
    assert_eq!(distinct.len(), summary_names.len(), "run names are unique");
    for r in &summary.rows {
        assert!(r["run"].starts_with(&format!("{}/{}/", r["account"], r["policy"])));
    }

    let trades = Csv::read(&out.join("trades.csv"));
    trades.assert_columns_in_order(
        "trades.csv",
        &[
            "run",
            "account",
            "policy",
            "signal_id",
            "symbol",
            "side",
            "mode",
            "open_time",
            "entry_price",
            "qty",
            "leverage",
            "margin",
            "liq_price_at_entry",
            "close_time",
            "exit_price",
            "exit_reason",
            "pnl",
            "fees",
            "funding",
        ],
    );
    assert!(!trades.rows.is_empty());
    for r in &summary.rows {
        // `trades` in the summary counts positions opened, channel and background.
        let rows = trades.rows.iter().filter(|t| t["run"] == r["run"]).count();
        assert_eq!(
            r["trades"].parse::<usize>().expect("trades count"),
            rows,
            "run {}: summary trades vs trades.csv rows",
            r["run"]
        );
    }
    for t in &trades.rows {
        for k in ["open_time", "close_time"] {
            assert!(
                is_iso_utc(&t[k]),
                "trades.csv {k} {:?} is not ISO UTC",
                t[k]
            );
        }
        assert!(t["open_time"] <= t["close_time"]);
        assert!(matches!(t["side"].as_str(), "long" | "short"));
        assert!(matches!(t["mode"].as_str(), "isolated" | "cross"));
        let reason = t["exit_reason"].as_str();
        assert!(
            reason.starts_with("target_")
                || matches!(
                    reason,
                    "stop" | "liquidation" | "cascade" | "signal_close" | "end_of_data" | "adl"
                ),
            "unknown exit reason {reason}"
        );
        // Isolated policies never put a channel trade in cross, and vice versa.
        if t["background"] == "false" {
            if t["policy"].starts_with("isolated") {
                assert_eq!(t["mode"], "isolated", "{t:?}");
            }
            if t["policy"].starts_with("cross") {
                assert_eq!(t["mode"], "cross", "{t:?}");
            }
        }
    }
    for f in ["liquidations.csv", "equity.csv", "skipped.csv"] {
        let c = Csv::read(&out.join(f));
        for r in &c.rows {
            assert!(
                is_iso_utc(&r["time"]),
                "{f}: time {:?} is not ISO UTC",
                r["time"]
            );
        }
    }

    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    for p in ["isolated", "cross", "hybrid", "cross-nostop"] {
        assert!(html.contains(p), "report.html does not mention {p}");
    }
    // Self-contained: nothing fetched from the network.
    assert!(
        !html.contains("src=\"http"),
        "report.html fetches a remote resource"
    );
}

#[test]
fn demo_cascades_only_under_cross_and_cross_hurts_the_btc_holder() {
    let out = demo_run();
    let summary = Csv::read(&out.join("summary.csv"));
    let num = |r: &BTreeMap<String, String>, k: &str| -> u32 {
        r[k].parse()
            .unwrap_or_else(|e| panic!("{k} {:?}: {e}", r[k]))
    };
    let mut cross_cascades = 0;
    for r in &summary.rows {
        let policy = r["policy"].as_str();
        if policy.starts_with("isolated") {
            assert_eq!(num(r, "cascades"), 0, "isolated run {} cascaded", r["run"]);
            assert_eq!(num(r, "cascade_victims"), 0, "{}", r["run"]);
            assert_eq!(num(r, "wipeouts"), 0, "{}", r["run"]);
        }
        if policy.starts_with("cross") {
            cross_cascades += num(r, "cascades");
        }
    }
    assert!(cross_cascades > 0, "no cross run of the demo cascades");
    // Every cascade in liquidations.csv is a cross event with ≥ 2 positions and a victim.
    let liqs = Csv::read(&out.join("liquidations.csv"));
    let mut events: BTreeMap<(String, String), Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for r in &liqs.rows {
        events
            .entry((r["run"].clone(), r["event"].clone()))
            .or_default()
            .push(r);
    }
    for ((run, _), rows) in &events {
        // Each event has exactly one kind of trigger: culprits, or (no culprit) its largest loser.
        let culprits = rows.iter().filter(|r| r["role"] == "culprit").count();
        let largest = rows.iter().filter(|r| r["role"] == "largest_loser").count();
        assert!(
            (culprits >= 1 && largest == 0) || (culprits == 0 && largest == 1),
            "{run}: roles {:?}",
            rows.iter().map(|r| &r["role"]).collect::<Vec<_>>()
        );
        if rows.iter().any(|r| r["role"] == "victim") {
            assert!(rows.len() >= 2, "{run}: a victim alone");
            assert!(rows.iter().all(|r| r["mode"] == "cross"), "{run}: {rows:?}");
        }
        if rows[0]["mode"] == "isolated" {
            assert_eq!(
                rows.len(),
                1,
                "{run}: an isolated liquidation closed several"
            );
        }
    }
    // Cascade counts in the summary agree with liquidations.csv (cross events closing ≥ 2).
    for r in &summary.rows {
        let n = events
            .iter()
            .filter(|((run, _), rows)| *run == r["run"] && rows.len() >= 2)
            .count();
        assert_eq!(num(r, "cascades") as usize, n, "run {}", r["run"]);
    }

    // The BTC-collateral account with a background long: cross is never better than isolated at the
    // same sweep point, and strictly worse somewhere.
    let equity_of = |policy: &str, params: &str| -> Decimal {
        summary
            .rows
            .iter()
            .find(|r| {
                r["account"] == "btc-holder" && r["policy"] == policy && r["params"] == params
            })
            .map(|r| dec(&r["final_equity"]))
            .unwrap_or_else(|| panic!("no btc-holder/{policy} {params}"))
    };
    let params: Vec<String> = summary
        .rows
        .iter()
        .filter(|r| r["account"] == "btc-holder" && r["policy"] == "cross")
        .map(|r| r["params"].clone())
        .collect();
    assert_eq!(params.len(), 4);
    let mut strictly = 0;
    for p in &params {
        for (iso, cross) in [("isolated", "cross"), ("isolated-nostop", "cross-nostop")] {
            let (i, c) = (equity_of(iso, p), equity_of(cross, p));
            assert!(c <= i, "btc-holder {p}: {cross} {c} beats {iso} {i}");
            if c < i {
                strictly += 1;
            }
        }
    }
    assert!(
        strictly >= 4,
        "cross rarely hurts the btc-holder: {strictly}"
    );
    // Without stops, cross costs the btc-holder most of the account at some sweep point.
    let worst = params
        .iter()
        .map(|p| equity_of("cross-nostop", p))
        .min()
        .expect("four points");
    let start = Decimal::from(2000); // USDT; the BTC collateral adds its value on top
    assert!(worst < start, "worst cross-nostop equity {worst}");
    // The background long sits in every btc-holder run as a cross background trade.
    let trades = Csv::read(&out.join("trades.csv"));
    for r in summary.rows.iter().filter(|r| r["account"] == "btc-holder") {
        assert!(
            trades.rows.iter().any(|t| t["run"] == r["run"]
                && t["background"] == "true"
                && t["symbol"] == "BTCUSDT"
                && t["side"] == "long"),
            "{}: no background BTC long",
            r["run"]
        );
    }
}

#[test]
fn money_is_conserved_from_trades_csv_for_the_usdt_only_account() {
    let out = demo_run();
    let summary = Csv::read(&out.join("summary.csv"));
    let trades = Csv::read(&out.join("trades.csv"));
    let liqs = Csv::read(&out.join("liquidations.csv"));
    let start = Decimal::from(1000);
    let cent = Decimal::new(1, 2);
    let mut checked = 0;
    for r in summary.rows.iter().filter(|r| r["account"] == "small") {
        let run = r["run"].as_str();
        let mut net = Decimal::ZERO;
        for t in trades.rows.iter().filter(|t| t["run"] == run) {
            let n =
                dec(&t["pnl"]) - dec(&t["fees"]) - dec(&t["clearance_fee"]) + dec(&t["funding"]);
            assert_eq!(n, dec(&t["net"]), "{run} {}: net column", t["signal_id"]);
            net += n;
        }
        // Insurance shortfall once per event (the event columns repeat on each position row).
        let mut shortfall: BTreeMap<&str, Decimal> = BTreeMap::new();
        for l in liqs.rows.iter().filter(|l| l["run"] == run) {
            shortfall.insert(&l["event"], dec(&l["event_insurance_shortfall"]));
        }
        let insured: Decimal = shortfall.values().copied().sum();
        let expected = start + net + insured;
        let final_equity = dec(&r["final_equity"]);
        assert!(
            (expected - final_equity).abs() <= cent,
            "{run}: 1000 + Σnet {net} + shortfall {insured} = {expected} but final_equity {final_equity}"
        );
        let wipeouts: u32 = r["wipeouts"].parse().expect("wipeouts");
        if wipeouts > 0 {
            assert_eq!(
                final_equity,
                Decimal::ZERO,
                "{run}: wiped out yet equity left"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 20);
}

#[test]
fn outputs_do_not_depend_on_the_thread_count() {
    let two = demo_run();
    let tmp = tempfile::tempdir().expect("tempdir");
    let one = tmp.path().join("one");
    let o = ringfence(&[
        "run",
        SCENARIO,
        "--out",
        one.to_str().expect("utf-8"),
        "--threads",
        "1",
        "--no-report",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut compared = Vec::new();
    for entry in std::fs::read_dir(&one).expect("out dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !(name.ends_with(".csv") || name.ends_with(".json") || name.ends_with(".parquet")) {
            continue;
        }
        let a = std::fs::read(one.join(&name)).expect("file");
        let b = std::fs::read(two.join(&name))
            .unwrap_or_else(|e| panic!("{name} missing from the --threads 2 run: {e}"));
        assert!(a == b, "{name} differs between --threads 1 and --threads 2");
        compared.push(name);
    }
    compared.sort();
    for must in [
        "equity.csv",
        "liquidations.csv",
        "report-curves.parquet",
        "report-input.json",
        "run.json",
        "skipped.csv",
        "summary.csv",
        "summary.json",
        "trades.csv",
    ] {
        assert!(
            compared.iter().any(|c| c == must),
            "{must} not compared: {compared:?}"
        );
    }
    assert!(
        !one.join("report.html").exists(),
        "--no-report wrote a report"
    );
}

#[test]
fn report_re_renders_from_report_input() {
    let src = demo_run();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("copy");
    std::fs::create_dir(&dir).expect("mkdir");
    for f in ["report-input.json", "report-curves.parquet"] {
        std::fs::copy(src.join(f), dir.join(f)).expect("copy");
    }
    assert!(!dir.join("report.html").exists());
    let o = ringfence(&["report", dir.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html re-rendered");
    for p in [
        "isolated-nostop",
        "cross-nostop",
        "hybrid",
        "btc-holder",
        "small",
    ] {
        assert!(html.contains(p), "re-rendered report lacks {p}");
    }
    assert!(
        std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(".png")),
        "no PNG re-rendered"
    );
    // A directory without report-input.json is bad input.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let o = ringfence(&["report", empty.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("report-input.json"));
}
