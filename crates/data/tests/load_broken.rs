//! Broken inputs: one test per validation rule, each checking that the message names the file,
//! the row and the values at fault.

use ringfence_data::DataError;
use ringfence_data::load::{FileSpec, GapPolicy, LoadOptions, SymbolSources, load_market};
use ringfence_model::market::{Market, WarningKind};
use ringfence_model::symbol::Symbol;
use ringfence_model::time::HOUR_MS;
use std::path::PathBuf;

/// 2023-11-14T22:00:00Z, on the hour.
const T0: i64 = 1_699_999_200_000;
const HEADER: &str = "date,timestamp_ms,open,high,low,close,volume";

/// Writes a derived-style candle CSV: one `(hours after T0, "o,h,l,c")` per row.
fn candles(rows: &[(i64, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BTC_USDT_USDT-1h-futures.csv");
    let mut text = format!("{HEADER}\n");
    for (h, ohlc) in rows {
        let t = T0 + h * HOUR_MS;
        text.push_str(&format!("x,{t},{ohlc},1.5\n"));
    }
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load(path: &PathBuf, gaps: GapPolicy) -> Result<Market, DataError> {
    let src = SymbolSources {
        symbol: Symbol::parse("BTCUSDT").unwrap(),
        candles: FileSpec::auto(path),
        mark: None,
        funding: None,
    };
    load_market(
        &[src],
        HOUR_MS,
        &LoadOptions {
            gaps,
            ..LoadOptions::default()
        },
    )
}

/// The error text of loading these rows, asserting it names the file.
fn error_of(rows: &[(i64, &str)]) -> String {
    let (_dir, path) = candles(rows);
    let msg = load(&path, GapPolicy::Error).unwrap_err().to_string();
    assert!(msg.contains("BTC_USDT_USDT-1h-futures.csv"), "{msg}");
    msg
}

const OK: &str = "100,110,90,105";

#[test]
fn clean_rows_load() {
    let (_dir, path) = candles(&[(0, OK), (1, OK), (2, OK)]);
    let m = load(&path, GapPolicy::Error).unwrap();
    assert_eq!(m.times, vec![T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS]);
    assert_eq!(m.series[0].volume.as_deref(), Some(&[1.5, 1.5, 1.5][..]));
    assert!(m.series[0].clean, "validated rows without a mark are clean");
    // no mark, no funding: warnings, never silence
    let kinds: Vec<WarningKind> = m.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        vec![WarningKind::MissingMark, WarningKind::MissingFunding]
    );
    assert!(
        m.warnings[0]
            .message
            .contains("liquidations checked against last price")
    );
    assert!(m.warnings[1].message.contains("funding assumed zero"));
}

#[test]
fn duplicate_time() {
    let msg = error_of(&[(0, OK), (1, OK), (1, OK)]);
    assert!(
        msg.contains("row 4: duplicate time 2023-11-14T23:00:00Z (same as row 3)"),
        "{msg}"
    );
}

#[test]
fn out_of_order_time() {
    let msg = error_of(&[(0, OK), (2, OK), (1, OK)]);
    assert!(
        msg.contains(
            "row 4: time 2023-11-14T23:00:00Z is out of order: before 2023-11-15T00:00:00Z at row 3"
        ),
        "{msg}"
    );
}

#[test]
fn gap_is_an_error_by_default_and_filled_on_request() {
    let msg = error_of(&[(0, OK), (1, OK), (4, OK)]);
    assert!(
        msg.contains("row 4: gap before this row: 2 missing bars from 2023-11-15T00:00:00Z to 2023-11-15T01:00:00Z"),
        "{msg}"
    );
    let (_dir, path) = candles(&[(0, OK), (1, OK), (4, OK)]);
    let m = load(&path, GapPolicy::Fill).unwrap();
    let s = &m.series[0];
    assert_eq!(m.times.len(), 5);
    assert_eq!(
        (s.open[2], s.high[2], s.low[2], s.close[2]),
        (105.0, 105.0, 105.0, 105.0)
    );
    assert_eq!(s.volume.as_ref().unwrap()[3], 0.0);
    // a filled bar repeats the previous close: the series stays clean for the engine's scan
    assert!(s.clean && s.all_bars_clean());
    let w = m
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::GapFilled)
        .unwrap();
    assert!(
        w.message.contains("filled 2 missing bar(s)"),
        "{}",
        w.message
    );
    assert!(
        w.message
            .contains("2023-11-15T00:00:00Z to 2023-11-15T01:00:00Z"),
        "{}",
        w.message
    );
}

#[test]
fn non_positive_price() {
    let msg = error_of(&[(0, OK), (1, "100,110,0,105")]);
    assert!(
        msg.contains("row 3: 2023-11-14T23:00:00Z low 0 is not positive"),
        "{msg}"
    );
    let msg = error_of(&[(0, "-1,110,90,105")]);
    assert!(
        msg.contains("row 2: 2023-11-14T22:00:00Z open -1 is not positive"),
        "{msg}"
    );
}

#[test]
fn nan_price() {
    let msg = error_of(&[(0, OK), (1, "100,110,90,NaN")]);
    assert!(
        msg.contains("row 3: 2023-11-14T23:00:00Z close is missing or NaN"),
        "{msg}"
    );
    let msg = error_of(&[(0, "100,inf,90,105")]);
    assert!(
        msg.contains("row 2: 2023-11-14T22:00:00Z high inf is not finite"),
        "{msg}"
    );
}

#[test]
fn low_above_min_of_open_close() {
    let msg = error_of(&[(0, OK), (1, "100,110,101,105")]);
    assert!(
        msg.contains("row 3: 2023-11-14T23:00:00Z low 101 is above min(open 100, close 105)"),
        "{msg}"
    );
}

#[test]
fn high_below_max_of_open_close() {
    let msg = error_of(&[(0, "100,104,90,105")]);
    assert!(
        msg.contains("row 2: 2023-11-14T22:00:00Z high 104 is below max(open 100, close 105)"),
        "{msg}"
    );
}

#[test]
fn unparseable_row() {
    let msg = error_of(&[(0, OK), (1, "100,abc,90,105")]);
    assert!(msg.contains("row 3: unparseable high \"abc\""), "{msg}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(
        &path,
        format!("{HEADER}\nx,{T0},1,1,1,1,1\nx,noon,1,1,1,1,1\n"),
    )
    .unwrap();
    let msg = load(&path, GapPolicy::Error).unwrap_err().to_string();
    assert!(
        msg.contains("t.csv, row 3: unparseable timestamp \"noon\""),
        "{msg}"
    );
}

#[test]
fn missing_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nolow.csv");
    std::fs::write(&path, format!("timestamp,open,high,close\n{T0},1,2,1.5\n")).unwrap();
    let msg = load(&path, GapPolicy::Error).unwrap_err().to_string();
    assert!(msg.contains("nolow.csv: missing column low"), "{msg}");
    assert!(
        msg.contains("the file has columns: timestamp, open, high, close"),
        "{msg}"
    );
}

#[test]
fn off_grid_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offgrid.csv");
    let t = T0 + 30 * 60_000;
    std::fs::write(&path, format!("{HEADER}\nx,{T0},{OK},1\nx,{t},{OK},1\n")).unwrap();
    let msg = load(&path, GapPolicy::Error).unwrap_err().to_string();
    assert!(
        msg.contains("offgrid.csv, row 3: time 2023-11-14T22:30:00Z is not on the 1h grid"),
        "{msg}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let msg = error_of(&[
        (0, "100,104,90,105"),
        (1, OK),
        (1, OK),
        (2, "100,110,0,105"),
    ]);
    assert!(msg.starts_with("3 problems found:"), "{msg}");
    assert!(
        msg.contains("row 2:") && msg.contains("row 4:") && msg.contains("row 5:"),
        "{msg}"
    );
}

#[test]
fn broken_mark_and_funding_files_are_named_too() {
    let (dir, path) = candles(&[(0, OK), (1, OK)]);
    let mark = dir.path().join("BTC_USDT_USDT-1h-mark.csv");
    std::fs::write(
        &mark,
        format!("date,timestamp_ms,open,high,low,close\nx,{T0},{OK}\nx,{T0},{OK}\n"),
    )
    .unwrap();
    let funding = dir.path().join("BTC_USDT_USDT-8h-funding_rate.csv");
    std::fs::write(
        &funding,
        format!(
            "date,timestamp_ms,funding_rate\nx,{T0},0.0001\nx,{},oops\n",
            T0 + 8 * HOUR_MS
        ),
    )
    .unwrap();
    let src = SymbolSources {
        symbol: Symbol::parse("BTCUSDT").unwrap(),
        candles: FileSpec::auto(&path),
        mark: Some(FileSpec::auto(&mark)),
        funding: Some(FileSpec::auto(&funding)),
    };
    let msg = load_market(&[src], HOUR_MS, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("BTC_USDT_USDT-1h-mark.csv, row 3: duplicate time"),
        "{msg}"
    );
    assert!(
        msg.contains("BTC_USDT_USDT-8h-funding_rate.csv, row 3: unparseable funding rate \"oops\""),
        "{msg}"
    );
}

#[test]
fn freqtrade_json_candles_load_and_report_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("BTC_USDT_USDT-1h-futures.json");
    let h = HOUR_MS;
    std::fs::write(
        &path,
        format!("[[{T0},100,110,90,105,3],[{},105,106,104,105.5,2]]", T0 + h),
    )
    .unwrap();
    let m = load(&path, GapPolicy::Error).unwrap();
    assert_eq!(m.series[0].close, vec![105.0, 105.5]);
    std::fs::write(
        &path,
        format!(
            "[[{T0},100,110,90,105,3],[{},105,\"x\",104,105.5,2]]",
            T0 + h
        ),
    )
    .unwrap();
    let msg = load(&path, GapPolicy::Error).unwrap_err().to_string();
    assert!(
        msg.contains("BTC_USDT_USDT-1h-futures.json, row 2: unparseable high \"x\""),
        "{msg}"
    );
}

#[test]
fn empty_and_unknown_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let msg = load(&empty, GapPolicy::Error).unwrap_err().to_string();
    assert!(msg.contains("empty.csv: file is empty"), "{msg}");
    let odd = dir.path().join("data.xlsx");
    std::fs::write(&odd, "x").unwrap();
    let msg = load(&odd, GapPolicy::Error).unwrap_err().to_string();
    assert!(
        msg.contains("data.xlsx: unknown file type \"xlsx\""),
        "{msg}"
    );
    let missing = dir.path().join("absent.csv");
    let msg = load(&missing, GapPolicy::Error).unwrap_err().to_string();
    assert!(msg.contains("absent.csv"), "{msg}");
}
