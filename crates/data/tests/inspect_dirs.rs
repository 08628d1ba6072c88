//! `inspect_path` on the real data directories, on single files, and on a broken file.

use ringfence_data::inspect::inspect_path;

use ringfence_data::testing::shared_data;

#[test]
fn harthor_lists_nine_symbols_with_mark_and_funding() {
    let Some(data) = shared_data() else { return };
    let report = inspect_path(&data.join("harthor_binance_futures_2025")).unwrap();
    let names: Vec<&str> = report.symbols.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(
        names,
        [
            "1000PEPEUSDT",
            "BCHUSDT",
            "BNBUSDT",
            "BTCUSDT",
            "DOGEUSDT",
            "ETHUSDT",
            "HYPEUSDT",
            "SOLUSDT",
            "XRPUSDT"
        ]
    );
    for s in &report.symbols {
        assert!(s.has_mark() && s.has_funding(), "{}", s.symbol);
        for c in s.candles.iter().chain(&s.mark) {
            assert!(c.error.is_none(), "{:?}", c.error);
            assert_eq!(
                (
                    c.gaps,
                    c.duplicates,
                    c.out_of_order,
                    c.off_grid,
                    c.bad_prices,
                    c.bad_ohlc
                ),
                (0, 0, 0, 0, 0, 0),
                "{}",
                c.file
            );
        }
    }
    let btc = report
        .symbols
        .iter()
        .find(|s| s.symbol == "BTCUSDT")
        .unwrap();
    let tfs: Vec<&str> = btc.candles.iter().map(|c| c.timeframe.as_str()).collect();
    assert_eq!(tfs, ["5m", "1h"]);
    assert!(btc.candles[1].file.ends_with(".feather"));
    assert_eq!(btc.candles[1].rows, 9978);
    assert_eq!(btc.candles[0].rows, 119724);
    assert_eq!(
        btc.candles[1].first.as_deref(),
        Some("2024-12-31T00:00:00Z")
    );
    assert_eq!(btc.mark[0].rows, 9981);
    assert_eq!(btc.funding[0].interval.as_deref(), Some("8h"));
    let hype = report
        .symbols
        .iter()
        .find(|s| s.symbol == "HYPEUSDT")
        .unwrap();
    assert_eq!(hype.funding[0].interval.as_deref(), Some("4h"));
    // window CSVs and SOURCES-like files are listed, not inspected
    assert!(
        report.other_files.iter().any(|f| f.contains(".window_")),
        "{:?}",
        report.other_files
    );
    assert!(
        report
            .other_files
            .contains(&"BTC_USDT_USDT-1h-futures.csv".to_string())
    );
    let table = report.to_table();
    assert!(table.contains("9 symbol(s)"), "{table}");
    assert!(
        table.contains("HYPEUSDT: candles 1h; mark yes; funding yes"),
        "{table}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["symbols"].as_array().unwrap().len(), 9);
}

#[test]
fn freqtrade_fixtures_and_single_files() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("freqtrade");
    let report = inspect_path(&dir).unwrap();
    assert_eq!(report.symbols.len(), 1);
    let xrp = &report.symbols[0];
    let marks: Vec<&str> = xrp.mark.iter().map(|m| m.timeframe.as_str()).collect();
    assert_eq!(marks, ["1h", "8h"]);
    assert!(
        report
            .other_files
            .contains(&"binance_leverage_tiers.json".to_string())
    );
    // single file, named freqtrade-style
    let one = inspect_path(&dir.join("XRP_USDT_USDT-8h-funding_rate.feather")).unwrap();
    let f = &one.symbols[0].funding[0];
    assert_eq!((f.rows, f.interval.as_deref()), (91, Some("8h")));
    assert_eq!(f.first.as_deref(), Some("2021-11-18T00:00:00.017Z"));
}

#[test]
fn gaps_and_duplicates_are_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let h = 3_600_000i64;
    let t0 = 1_699_999_200_000i64;
    let mut text = String::from("timestamp,open,high,low,close\n");
    for k in [0, 1, 1, 2, 5, 6] {
        text.push_str(&format!("{},1,2,0.5,1.5\n", t0 + k * h));
    }
    let path = dir.path().join("mydata.csv");
    std::fs::write(&path, text).unwrap();
    let report = inspect_path(&path).unwrap();
    let c = &report.symbols[0].candles[0];
    assert_eq!(c.timeframe, "1h");
    assert_eq!((c.rows, c.gaps, c.missing_bars, c.duplicates), (6, 1, 2, 1));
    assert!(
        c.examples[0].contains("mydata.csv, row 4: duplicate time"),
        "{:?}",
        c.examples
    );
    assert!(
        c.examples[1].contains("row 6: gap before this row: 2 missing bars"),
        "{:?}",
        c.examples
    );
    // the same directory: the unnamed file is listed, not inspected
    let report = inspect_path(dir.path()).unwrap();
    assert!(report.symbols.is_empty());
    assert_eq!(report.other_files, ["mydata.csv"]);
    // an unreadable single file is an error naming it
    std::fs::write(&path, "timestamp,open\n1,x\n").unwrap();
    let msg = inspect_path(&path).unwrap_err().to_string();
    assert!(msg.contains("mydata.csv: missing column high"), "{msg}");
}
