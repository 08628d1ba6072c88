//! The built-in dated bracket library: it is exactly what `ringfence brackets build` makes of the
//! public tables in `../shared/data/freqtrade/`, lookups pick the snapshot in force, a symbol
//! listed later borrows the nearest snapshot's table with a warning naming both dates, and a
//! symbol in no snapshot gets the scenario's fallback.

use ringfence_data::bracket_library::{BracketLibrary, Fallback};
use ringfence_data::brackets::load_bracket_file;
use ringfence_data::signals::parse_time;
use ringfence_data::testing::shared_data;
use ringfence_model::bracket::Bracket;
use ringfence_model::symbol::Symbol;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn t(s: &str) -> i64 {
    parse_time(s).unwrap()
}

fn first_tier(b: &[Bracket]) -> (Decimal, Decimal, Decimal) {
    (b[0].cap, b[0].mmr, b[0].max_leverage)
}

#[test]
fn builtin_library_is_the_generated_artefact() {
    let Some(data) = shared_data() else { return };
    let lib = BracketLibrary::builtin();
    let dates: Vec<&str> = lib.snapshots().iter().map(|s| s.date.as_str()).collect();
    assert_eq!(dates, ["2024-10-01", "2026-09-01"]);
    // regenerating from the public tables gives the committed bytes
    let input = |name: &str, date: &str| {
        (
            load_bracket_file(&data.join("freqtrade").join(name), t(date)).unwrap(),
            date.to_string(),
        )
    };
    let rebuilt = BracketLibrary::from_tables(vec![
        input("binance_leverage_tiers.json", "2024-10-01"),
        input("binance_leverage_tiers_2026-09.json", "2026-09-01"),
    ])
    .unwrap();
    assert_eq!(&rebuilt, lib);
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/brackets/binance_usdm.json"
    ))
    .unwrap();
    assert_eq!(
        rebuilt.to_json(
            "ringfence brackets build binance_leverage_tiers.json@2024-10-01 binance_leverage_tiers_2026-09.json@2026-09-01"
        ),
        committed
    );
}

#[test]
fn the_2026_09_snapshot_holds_every_usdt_perp_with_any_name() {
    let lib = BracketLibrary::builtin();
    let latest = &lib.snapshots()[1];
    let usdt = latest
        .symbols()
        .filter(|s| s.as_str().ends_with("USDT"))
        .count();
    assert_eq!(usdt, 858);
    for s in [
        "哈基米USDT",
        "币安人生USDT",
        "我踏马来了USDT",
        "牛来USDT",
        "龙虾USDT",
    ] {
        let f = lib.in_force(&sym(s), t("2026-10-01")).unwrap();
        assert_eq!(f.from.date, "2026-09-01", "{s}");
    }
}

#[test]
fn lookups_pick_the_snapshot_in_force() {
    let lib = BracketLibrary::builtin();
    let btc = sym("BTCUSDT");
    // DESIGN.md §11 (late 2024): 0-50k at 0.4 %, 125x
    let before = lib.in_force(&btc, t("2025-10-10")).unwrap();
    assert_eq!(before.in_force.date, "2024-10-01");
    assert_eq!(
        first_tier(before.table),
        (dec!(50000), dec!(0.004), dec!(125))
    );
    assert_eq!(before.table[7].cum, dec!(14481450));
    // the 2026-09 table: 0-300k at 0.4 %, 150x
    let after = lib.in_force(&btc, t("2026-09-01")).unwrap();
    assert_eq!(after.in_force.date, "2026-09-01");
    assert_eq!(
        first_tier(after.table),
        (dec!(300000), dec!(0.004), dec!(150))
    );
    // before every snapshot: the earliest
    assert_eq!(
        lib.in_force(&btc, t("2021-01-01")).unwrap().in_force.date,
        "2024-10-01"
    );
    // listed after 2024-10: the 2026-09 table, while the 2024-10 snapshot is in force
    let hype = lib.in_force(&sym("HYPEUSDT"), t("2025-10-10")).unwrap();
    assert_eq!(
        (hype.in_force.date.as_str(), hype.from.date.as_str()),
        ("2024-10-01", "2026-09-01")
    );
}

#[test]
fn books_warn_about_borrowed_tables_and_fallbacks() {
    let lib = BracketLibrary::builtin();
    let symbols = [sym("BTCUSDT"), sym("HYPEUSDT"), sym("MATICUSDT")];
    let oct_2025 = (t("2025-10-01"), t("2025-10-20"));

    let (book, warnings) = lib.book(&symbols, oct_2025, &Fallback::None);
    assert_eq!(
        warnings,
        [
            "HYPEUSDT: not in the built-in 2024-10-01 bracket snapshot (listed later, or delisted by then): its 2026-09-01 table is used from 2024-10-01 until 2026-09-01"
        ]
    );
    assert!(book.table(&sym("HYPEUSDT"), t("2025-10-10")).is_some());
    assert!(book.table(&sym("MATICUSDT"), t("2025-10-10")).is_none());
    assert_eq!(
        book.table(&sym("BTCUSDT"), t("2025-10-10")).unwrap()[0].cap,
        dec!(50000)
    );

    let (book, warnings) = lib.book(&symbols, oct_2025, &Fallback::Symbol(sym("POLUSDT")));
    let pol = lib
        .in_force(&sym("POLUSDT"), t("2025-10-10"))
        .unwrap()
        .table;
    assert_eq!(book.table(&sym("MATICUSDT"), t("2025-10-10")).unwrap(), pol);
    assert!(
        warnings.contains(&"MATICUSDT: in no built-in bracket snapshot (delisted or renamed?): the POLUSDT table of 2024-10-01 is used (exchange.bracket_fallback), from 2024-10-01 until 2026-09-01".to_string()),
        "{warnings:?}"
    );

    let (book, warnings) = lib.book(
        &symbols,
        (t("2026-10-01"), t("2026-10-02")),
        &Fallback::GenericAlt,
    );
    assert_eq!(
        book.table(&sym("MATICUSDT"), t("2026-10-01")).unwrap(),
        lib.generic_alt()
    );
    // only the 2026-09 snapshot is in force: HYPE is in it, MATIC falls back
    assert_eq!(
        warnings,
        [
            "MATICUSDT: in no built-in bracket snapshot (delisted or renamed?): the generic alt table is used (exchange.bracket_fallback), from 2026-09-01 on"
        ]
    );
    assert_eq!(
        first_tier(lib.generic_alt()),
        (dec!(5000), dec!(0.015), dec!(50))
    );
}

#[test]
fn fallback_values_parse() {
    assert_eq!(Fallback::parse("generic"), Ok(Fallback::GenericAlt));
    assert_eq!(
        Fallback::parse("POL/USDT:USDT"),
        Ok(Fallback::Symbol(sym("POLUSDT")))
    );
    assert!(
        Fallback::parse("POL USDT")
            .unwrap_err()
            .contains("\"generic\"")
    );
}
