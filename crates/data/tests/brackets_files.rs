//! Bracket files: the freqtrade/ccxt snapshot of 349 pairs, a Binance leverageBracket JSON, and
//! broken tables whose problems are returned, not fixed.

use ringfence_data::brackets::{load_bracket_file, parse_brackets};
use ringfence_model::bracket::{BracketBook, bracket_for};
use ringfence_model::symbol::Symbol;
use rust_decimal_macros::dec;

use ringfence_data::testing::shared_data;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

#[test]
fn freqtrade_ccxt_tiers_file() {
    let Some(data) = shared_data() else { return };
    let loaded = load_bracket_file(
        &data.join("freqtrade/binance_leverage_tiers.json"),
        i64::MIN,
    )
    .unwrap();
    let snap = &loaded.snapshot;
    // 349 keys, of which the dated delivery contracts are skipped
    assert_eq!(snap.tables.len() + loaded.skipped.len(), 349);
    assert!(
        loaded
            .skipped
            .iter()
            .all(|k| k.contains(":USDT-") || k.contains(":USDC-")),
        "{:?}",
        loaded.skipped
    );
    assert!(loaded.skipped.contains(&"BTC/USDT:USDT-241227".to_string()));
    assert_eq!(snap.source, "binance_leverage_tiers.json");
    let btc = &snap.tables[&sym("BTCUSDT")];
    assert_eq!(btc.len(), 12); // the 8 of DESIGN.md §11 plus 4 up to 1.8 bn
    assert_eq!(
        (
            btc[0].tier,
            btc[0].floor,
            btc[0].cap,
            btc[0].mmr,
            btc[0].max_leverage,
            btc[0].cum
        ),
        (1, dec!(0), dec!(50000), dec!(0.004), dec!(125), dec!(0))
    );
    assert_eq!(
        (btc[1].cap, btc[1].mmr, btc[1].cum),
        (dec!(600000), dec!(0.005), dec!(50))
    );
    assert_eq!(btc[7].cum, dec!(14481450));
    assert_eq!(
        (btc[11].cap, btc[11].mmr, btc[11].cum),
        (dec!(1800000000), dec!(0.5), dec!(421481450))
    );
    assert_eq!(loaded.skipped.len(), 4);
    assert!(snap.tables.contains_key(&sym("BTCUSDC")));
    assert!(snap.tables.contains_key(&sym("1000PEPEUSDT")));
    // DESIGN.md §5: long 1 BTC at 50,000 lands in bracket 2 by notional, MM = 50,000 × 0.5% − 50
    let book = BracketBook::new(vec![snap.clone()]);
    let b = book.lookup(&sym("BTCUSDT"), dec!(50000), 0).unwrap();
    assert_eq!(b.maintenance(dec!(50000)), dec!(200));
    assert_eq!(bracket_for(btc, dec!(49999)).tier, 1);
    eprintln!(
        "{} tables, {} skipped, {} issues",
        snap.tables.len(),
        loaded.skipped.len(),
        loaded.issues.len()
    );
    for issue in &loaded.issues {
        eprintln!("issue: {issue}");
    }
    // Every table in this snapshot is consistent (contiguous, increasing MMR, cum recurrence).
    assert!(loaded.issues.is_empty(), "{:?}", loaded.issues);
}

const BINANCE: &str = r#"[
  {"symbol": "ETHUSDT", "notionalCoef": 1.0, "brackets": [
    {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0.0},
    {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 50000, "maintMarginRatio": 0.005, "cum": 50.0},
    {"bracket": 3, "initialLeverage": 75, "notionalCap": 3000000, "notionalFloor": 600000, "maintMarginRatio": 0.0065, "cum": 950.0}
  ]},
  {"symbol": "DOGEUSDT", "brackets": [
    {"bracket": 1, "initialLeverage": 75, "notionalCap": "5000", "notionalFloor": "0", "maintMarginRatio": "0.005", "cum": "0"},
    {"bracket": 2, "initialLeverage": 50, "notionalCap": "50000", "notionalFloor": "5000", "maintMarginRatio": "0.01", "cum": "25"}
  ]}
]"#;

#[test]
fn binance_leverage_bracket_json() {
    let loaded = parse_brackets(
        BINANCE.as_bytes(),
        "brackets-2024-11.json",
        1_730_419_200_000,
    )
    .unwrap();
    assert!(loaded.issues.is_empty(), "{:?}", loaded.issues);
    let snap = &loaded.snapshot;
    assert_eq!(snap.effective_from, 1_730_419_200_000);
    assert_eq!(
        snap.tables.keys().map(|s| s.as_str()).collect::<Vec<_>>(),
        vec!["DOGEUSDT", "ETHUSDT"]
    );
    let eth = &snap.tables[&sym("ETHUSDT")];
    assert_eq!(
        (
            eth[2].tier,
            eth[2].floor,
            eth[2].mmr,
            eth[2].cum,
            eth[2].max_leverage
        ),
        (3, dec!(600000), dec!(0.0065), dec!(950), dec!(75))
    );
    // a single-symbol object is accepted too
    let one = r#"{"symbol": "BTCUSDT", "brackets": [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0}]}"#;
    let loaded = parse_brackets(one.as_bytes(), "one.json", 0).unwrap();
    assert_eq!(loaded.snapshot.tables.len(), 1);
}

#[test]
fn broken_tables_return_issues_unfixed() {
    let text = r#"{"BTC/USDT:USDT": [
      {"tier": 1, "minNotional": 0, "maxNotional": 50000, "maintenanceMarginRate": 0.004, "maxLeverage": 125, "info": {"cum": "0"}},
      {"tier": 2, "minNotional": 60000, "maxNotional": 600000, "maintenanceMarginRate": 0.005, "maxLeverage": 100, "info": {"cum": "50"}},
      {"tier": 3, "minNotional": 600000, "maxNotional": 3000000, "maintenanceMarginRate": 0.0065, "maxLeverage": 75, "info": {"cum": "1000"}}
    ]}"#;
    let loaded = parse_brackets(text.as_bytes(), "broken.json", 0).unwrap();
    let msgs: Vec<String> = loaded.issues.iter().map(|i| i.to_string()).collect();
    assert!(msgs.iter().any(|m| m.contains("BTCUSDT tier 2: floor 60000 does not continue previous cap 50000")), "{msgs:?}");
    assert!(
        msgs.iter()
            .any(|m| m
                .contains("BTCUSDT tier 3: cum 1000 inconsistent with recurrence (expected 950)")),
        "{msgs:?}"
    );
    // the values are kept as given
    assert_eq!(loaded.snapshot.tables[&sym("BTCUSDT")][2].cum, dec!(1000));
}

#[test]
fn malformed_files_are_errors_naming_the_key() {
    let bad = r#"{"BTC/USDT:USDT": [{"tier": 1, "minNotional": 0, "maxNotional": "lots", "maintenanceMarginRate": 0.004, "maxLeverage": 125}]}"#;
    let msg = parse_brackets(bad.as_bytes(), "t.json", 0)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("t.json: BTC/USDT:USDT tier #1: maxNotional is not a number: \"lots\""),
        "{msg}"
    );
    let bad = r#"[{"symbol": "ETHUSDT", "brackets": [{"bracket": 1, "initialLeverage": 125, "notionalFloor": 0, "maintMarginRatio": 0.004, "cum": 0}]}]"#;
    let msg = parse_brackets(bad.as_bytes(), "b.json", 0)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("b.json: ETHUSDT bracket #1: missing notionalCap"),
        "{msg}"
    );
    let msg = parse_brackets(b"{not json", "c.json", 0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("c.json, row 1: invalid json"), "{msg}");
}

/// The table that ships with freqtrade 2026.9: 858 USDⓈ-M perps, five of them with bases written
/// in Chinese characters. Every perpetual key loads; only the dated delivery contracts are skipped.
#[test]
fn freqtrade_2026_09_table_loads_whole() {
    let Some(data) = shared_data() else { return };
    let loaded = load_bracket_file(
        &data.join("freqtrade/binance_leverage_tiers_2026-09.json"),
        i64::MIN,
    )
    .unwrap();
    let snap = &loaded.snapshot;
    assert_eq!(snap.tables.len() + loaded.skipped.len(), 907);
    assert_eq!(loaded.skipped.len(), 4, "{:?}", loaded.skipped);
    let usdt_perps = snap
        .tables
        .keys()
        .filter(|s| s.as_str().ends_with("USDT"))
        .count();
    assert_eq!(usdt_perps, 858);
    for key in [
        "哈基米USDT",
        "币安人生USDT",
        "我踏马来了USDT",
        "牛来USDT",
        "龙虾USDT",
    ] {
        let table = &snap.tables[&sym(key)];
        assert!(!table.is_empty(), "{key}");
        assert_eq!(table[0].floor, dec!(0), "{key}");
    }
    assert!(loaded.issues.is_empty(), "{:?}", loaded.issues);
}
