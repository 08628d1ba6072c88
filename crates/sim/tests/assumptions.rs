//! `EngineConfig::assumptions`: the engine states what a run's numbers rest on.

mod common;

use ringfence_model::{DataWarning, Market, WarningKind};
use ringfence_sim::{EngineConfig, Intrabar};

fn text<'a>(list: &'a [(String, String)], name: &str) -> &'a str {
    list.iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| panic!("no assumption {name:?} in {list:?}"))
}

#[test]
fn defaults_over_a_small_market() {
    let m = common::market("BTC: 100 101 99 100; 100 102 98 101; 101 103 100 102");
    let a = EngineConfig::default().assumptions(&m, &common::brackets(&m));
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Intrabar model",
            "Mark vs last",
            "Brackets",
            "Fees",
            "Liquidation process",
            "Funding",
            "Execution",
            "Data",
            "Margin mode"
        ]
    );
    assert_eq!(
        text(&a, "Intrabar model"),
        "adverse; no lower-timeframe refinement"
    );
    assert_eq!(
        text(&a, "Data"),
        "3 bars of 1h from 2025-01-01T00:00:00Z to 2025-01-01T02:00:00Z"
    );
    assert_eq!(text(&a, "Brackets"), "test (from always)");
    assert!(
        text(&a, "Fees").starts_with("taker 0.0500%, maker 0.0200%"),
        "{a:?}"
    );
    assert_eq!(
        text(&a, "Execution"),
        "entry delay none, slippage 0 bps on market entries, closes and stops; zone entries expire after 1d"
    );
    assert_eq!(text(&a, "Liquidation process"), "full");
}

#[test]
fn names_symbols_without_mark_or_funding_and_the_band() {
    let mut m = common::market("BTC: 100 101 99 100\nETH: 10 11 9 10");
    for (sym, kind) in [
        ("ETHUSDT", WarningKind::MissingMark),
        ("BTCUSDT", WarningKind::MissingFunding),
    ] {
        m.warnings.push(DataWarning {
            symbol: Some(ringfence_model::Symbol::parse(sym).unwrap()),
            kind,
            message: String::new(),
        });
    }
    let cfg = EngineConfig {
        intrabar: Intrabar::Close,
        band: true,
        ..EngineConfig::default()
    };
    let a = cfg.assumptions(&m, &common::brackets(&m));
    assert_eq!(
        text(&a, "Intrabar model"),
        "close; band computed under adverse and close; no lower-timeframe refinement"
    );
    assert!(text(&a, "Mark vs last").contains("except ETHUSDT (no mark data"));
    assert_eq!(
        text(&a, "Funding"),
        "settlements from the funding history; assumed zero for BTCUSDT"
    );
}

#[test]
fn an_empty_market_does_not_panic() {
    let m = Market {
        timeframe_ms: common::H,
        times: vec![],
        series: vec![],
        lower: None,
        warnings: vec![],
    };
    let a = EngineConfig::default().assumptions(&m, &common::brackets(&m));
    assert_eq!(text(&a, "Data"), "no bars");
}

#[test]
fn adl_and_venue_procedures_are_stated_only_when_chosen() {
    let m = common::market("BTC: 100 101 99 100; 100 102 98 101");
    let b = common::brackets(&m);
    let off = EngineConfig::default().assumptions(&m, &b);
    assert!(off.iter().all(|(k, _)| k != "Auto-deleveraging"));
    assert_eq!(text(&off, "Liquidation process"), "full");
    let mut cfg = EngineConfig::default();
    cfg.adl.trigger = ringfence_sim::AdlMode::Rule(ringfence_sim::AdlRule::default());
    cfg.exchange = ringfence_sim::ExchangePreset::okx_swap();
    let on = cfg.assumptions(&m, &b);
    let adl = text(&on, "Auto-deleveraging");
    assert!(
        adl.starts_with("by rule: a move of more than 8 % within 1h"),
        "{adl}"
    );
    assert!(adl.contains("0 % / 0 % / 25 % / 50 % / 100 %"), "{adl}");
    assert!(
        adl.contains("quantile cut points 0.001, 0.005, 0.02, 0.05"),
        "{adl}"
    );
    assert!(adl.contains("same run with ADL off"), "{adl}");
    assert_eq!(
        text(&on, "Liquidation process"),
        "okx_tiers; liquidation when the margin balance reaches maintenance plus 0.05% of notional (the liquidation fee)"
    );
}
