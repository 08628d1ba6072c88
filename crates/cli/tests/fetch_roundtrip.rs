//! `ringfence data fetch` end to end against a local archive on 127.0.0.1, and the round trip:
//! real Binance bars (`../shared/data/harthor_binance_futures_2025`) served as archive zips,
//! fetched with `--for scenario.toml`, give byte-identical `run` results to the same bars loaded
//! from freqtrade CSV files.
//!
//! The real-data part fails when the shared data is missing and `CI=true`; elsewhere it returns
//! early.

use chrono::NaiveDate;
use ringfence_data::testing::shared_data;
use ringfence_fetch::testing::{ArchiveServer, Bar, archive_files};
use ringfence_fetch::{Dataset, Item, Request, plan};
use ringfence_model::symbol::Symbol;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SYMBOLS: [&str; 9] = [
    "BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "BCH", "1000PEPE", "HYPE",
];
/// Served window: [2025-09-01, 2025-10-21) (ms).
const START: i64 = 1_756_684_800_000;
const END: i64 = 1_761_004_800_000;
/// Funding is published monthly: with "today" 2025-10-21 only September's is fetched.
const OCT_1: i64 = 1_759_276_800_000;

fn ringfence(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .output()
        .expect("run ringfence")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The header and the data lines of a freqtrade-derived CSV whose `timestamp_ms` is in
/// `[from, to)`, as text.
fn lines_in(path: &Path, from: i64, to: i64) -> (String, Vec<String>) {
    let all = std::fs::read_to_string(path).unwrap();
    let mut it = all.lines();
    let header = it.next().unwrap().to_string();
    let rows = it
        .filter(|l| {
            let t: i64 = l.split(',').nth(1).unwrap().parse().unwrap();
            (from..to).contains(&t)
        })
        .map(str::to_string)
        .collect();
    (header, rows)
}

fn bars_of(rows: &[String]) -> Vec<Bar> {
    rows.iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let n = |i: usize| f.get(i).map_or(0.0, |s| s.parse::<f64>().unwrap());
            (f[1].parse().unwrap(), n(2), n(3), n(4), n(5), n(6))
        })
        .collect()
}

/// Every file below `dir` with its bytes, keyed by relative path.
fn files_below(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The harthor scenario pointed at `data_dir`, without the 5m refinement, writing to `out`.
fn scenario(repo: &Path, data: &Path, data_dir: &Path, out: &Path) -> String {
    let original = std::fs::read_to_string(repo.join("scenarios/harthor-oct-2025.toml")).unwrap();
    let signals = repo.join("scenarios/harthor-oct-2025-signals.csv");
    let tiers = data.join("freqtrade/binance_leverage_tiers.json");
    original
        .lines()
        .filter(|l| !l.starts_with("lower_timeframe"))
        .map(|l| {
            if l.starts_with("signals =") {
                format!("signals = [{:?}]", signals.display().to_string())
            } else if l.starts_with("output =") {
                format!("output = {:?}", out.display().to_string())
            } else if l.starts_with("dir =") {
                format!("dir = {:?}", data_dir.display().to_string())
            } else if l.starts_with("file =") {
                format!("file = {:?}", tiers.display().to_string())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fetched_directory_runs_byte_identical_to_the_same_bars_from_csv() {
    let Some(data) = shared_data() else { return };
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let src = data.join("harthor_binance_futures_2025");
    let tmp = tempfile::tempdir().unwrap();
    let csv_dir = tmp.path().join("csv");
    let fetch_dir = tmp.path().join("fetched");
    std::fs::create_dir_all(&csv_dir).unwrap();

    // The same bars twice: as freqtrade CSVs, and as archive zips behind a local server.
    let mut klines = BTreeMap::new();
    let mut marks = BTreeMap::new();
    let mut funding = BTreeMap::new();
    for base in SYMBOLS {
        let stem = format!("{base}_USDT_USDT");
        let sym = Symbol::parse(&format!("{base}USDT")).unwrap();
        for (kind, end, store) in [
            ("1h-futures", END, &mut klines),
            ("1h-mark", END, &mut marks),
        ] {
            let (header, rows) = lines_in(&src.join(format!("{stem}-{kind}.csv")), START, end);
            std::fs::write(
                csv_dir.join(format!("{stem}-{kind}.csv")),
                format!("{header}\n{}\n", rows.join("\n")),
            )
            .unwrap();
            store.insert(sym.clone(), bars_of(&rows));
        }
        let (header, rows) = lines_in(
            &src.join(format!("{stem}-1h-funding_rate.csv")),
            START,
            OCT_1,
        );
        std::fs::write(
            csv_dir.join(format!("{stem}-1h-funding_rate.csv")),
            format!("{header}\n{}\n", rows.join("\n")),
        )
        .unwrap();
        let rates: Vec<(i64, f64)> = rows
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect();
        funding.insert(sym, rates);
    }
    let everything = Request {
        symbols: klines.keys().cloned().collect(),
        from: day("2025-08-01"),
        to: day("2025-10-20"),
        intervals: vec!["1h".into()],
        mark: true,
        funding: true,
    };
    let items = plan(&everything, day("2025-10-21")).unwrap().items;
    let bars = |i: &Item| {
        let store = if i.dataset == Dataset::Klines {
            &klines
        } else {
            &marks
        };
        store.get(&i.symbol).cloned().unwrap_or_default()
    };
    let rates = |i: &Item| funding.get(&i.symbol).cloned().unwrap_or_default();
    let server = ArchiveServer::start(archive_files(&items, &bars, &rates), Box::new(|_, _| None));

    let sc_fetch = tmp.path().join("fetched.toml");
    let sc_csv = tmp.path().join("csv.toml");
    let (out_fetch, out_csv) = (tmp.path().join("run-fetched"), tmp.path().join("run-csv"));
    std::fs::write(&sc_fetch, scenario(&repo, &data, &fetch_dir, &out_fetch)).unwrap();
    std::fs::write(&sc_csv, scenario(&repo, &data, &csv_dir, &out_csv)).unwrap();

    let fetch_args = [
        "data",
        "fetch",
        "--for",
        sc_fetch.to_str().unwrap(),
        "--base-url",
        server.url(),
        "--today",
        "2025-10-21",
        "--jobs",
        "4",
    ];
    let o = ringfence(&fetch_args);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    // 2025-08-29 (first day minus the 72-bar look-back) to 2025-10-20: August is before the
    // served data, as if the symbols were listed on 2025-09-01.
    assert!(
        said.contains("no file before 2025-09 (not listed yet)"),
        "{said}"
    );
    assert!(
        said.contains("funding for 2025-10 is published only once the month is complete"),
        "{said}"
    );
    assert!(said.contains("BTC_USDT_USDT-1h-futures.csv"), "{said}");
    assert!(fetch_dir.join("fetch-manifest.json").is_file());

    // a second run downloads nothing
    let asked = server.zip_requests();
    let o = ringfence(&fetch_args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("0 file(s) downloaded"), "{}", text(&o));
    assert_eq!(server.zip_requests(), asked);

    // inspect and validate read the directory directly
    let o = ringfence(&["data", "inspect", fetch_dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("BTCUSDT"), "{}", text(&o));
    let o = ringfence(&["validate", sc_fetch.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    for (sc, out) in [(&sc_fetch, &out_fetch), (&sc_csv, &out_csv)] {
        let o = ringfence(&["run", sc.to_str().unwrap(), "--no-report", "--threads", "2"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(out.is_dir(), "{}", text(&o));
    }
    let a = files_below(&out_fetch);
    let b = files_below(&out_csv);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let mut compared = 0;
    for (name, bytes) in &a {
        // run.json records the input files (paths, sizes, hashes), which differ by design
        if name == "run.json" {
            continue;
        }
        assert!(
            bytes == &b[name],
            "{name} differs between fetched and CSV data"
        );
        compared += 1;
    }
    assert!(compared >= 3, "{:?}", a.keys());
    // and the runs traded and liquidated on those bars (the comparison is not of empty tables)
    let trades = String::from_utf8_lossy(&a["trades.csv"]).lines().count();
    let liqs = String::from_utf8_lossy(&a["liquidations.csv"])
        .lines()
        .count();
    assert!(
        trades > 50 && liqs > 5,
        "trades {trades} liquidations {liqs}"
    );
}

#[test]
fn unknown_symbols_and_bad_arguments_exit_2() {
    let server = ArchiveServer::start(BTreeMap::new(), Box::new(|_, _| None));
    let out = tempfile::tempdir().unwrap();
    let o = ringfence(&[
        "data",
        "fetch",
        "--symbols",
        "NOPEUSDT",
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-02",
        "--out",
        out.path().to_str().unwrap(),
        "--base-url",
        server.url(),
        "--retries",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown symbol NOPEUSDT"), "{}", text(&o));

    let o = ringfence(&[
        "data",
        "fetch",
        "--symbols",
        "BTCUSDT",
        "--from",
        "2025-01-05",
        "--to",
        "2025-01-01",
        "--out",
        "x",
        "--base-url",
        server.url(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--from 2025-01-05 is after --to 2025-01-01"),
        "{}",
        text(&o)
    );
}

/// A symbol written in Chinese characters, end to end: fetched (URL percent-encoded), written as
/// `币安人生_USDT_USDT-1h-futures.csv`, bracket table from the built-in 2026-09 snapshot, run with
/// the report; the symbol reaches the CSV tables and the HTML page as UTF-8.
#[test]
fn a_chinese_character_symbol_goes_from_fetch_to_report() {
    use ringfence_fetch::testing::hourly_bars;
    let sym = Symbol::parse("币安人生USDT").unwrap();
    let req = Request {
        symbols: vec![sym.clone()],
        from: day("2026-10-01"),
        to: day("2026-10-31"),
        intervals: vec!["1h".into()],
        mark: true,
        funding: true,
    };
    let items = plan(&req, day("2026-11-10")).unwrap().items;
    let bars = hourly_bars(day("2026-10-01"), 31 * 24, 10.0);
    let funding: Vec<(i64, f64)> = bars.iter().step_by(8).map(|b| (b.0, 0.0001)).collect();
    let server = ArchiveServer::start(
        archive_files(&items, &|_| bars.clone(), &|_| funding.clone()),
        Box::new(|_, _| None),
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let o = ringfence(&[
        "data",
        "fetch",
        "--symbols",
        "币安人生/USDT:USDT",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--out",
        data.to_str().unwrap(),
        "--base-url",
        server.url(),
        "--today",
        "2026-11-10",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(data.join("币安人生_USDT_USDT-1h-futures.csv").is_file());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains("/%E5%B8%81%E5%AE%89%E4%BA%BA%E7%94%9FUSDT-1h-2026-10.zip")),
        "{:?}",
        server.requests()
    );
    std::fs::write(
        tmp.path().join("signals.csv"),
        "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode\n\
         c1,2026-10-05T10:00:00Z,open,币安人生USDT,long,,,9,12.9,5x,\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    let sc = tmp.path().join("s.toml");
    std::fs::write(
        &sc,
        format!(
            "signals = [\"signals.csv\"]\n[data]\ndir = {:?}\ntimeframe = \"1h\"\n\
             [[account]]\nname = \"a\"\ncollateral = {{ USDT = 1000 }}\n\
             [[policy]]\nname = \"iso\"\nmode = \"isolated\"\nfixed_margin = 50\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let o = ringfence(&["run", sc.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let trades = std::fs::read_to_string(out.join("trades.csv")).unwrap();
    assert!(trades.contains("币安人生USDT"), "{trades}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("币安人生USDT"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
}
