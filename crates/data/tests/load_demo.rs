//! The project's own demo market (`datasets/demo`, written by the synth generator in the derived
//! CSV shape with freqtrade names) loads through discovery, with its 5m window as refinement.

use ringfence_data::brackets::load_bracket_file;
use ringfence_data::load::{LoadOptions, attach_lower, load_dir};
use ringfence_model::market::WarningKind;
use std::path::Path;

#[test]
fn demo_market_loads_with_mark_funding_and_lower_timeframe() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo"));
    assert!(dir.is_dir(), "{} is part of the repository", dir.display());
    let mut market = load_dir(dir, "1h", None, &LoadOptions::default()).unwrap();
    assert!(market.series.len() >= 2);
    for s in &market.series {
        assert!(s.mark.is_some(), "{}", s.symbol);
        assert!(!s.funding.is_empty(), "{}", s.symbol);
    }
    assert!(
        !market.warnings.iter().any(|w| matches!(
            w.kind,
            WarningKind::MissingMark | WarningKind::MissingFunding
        )),
        "{:?}",
        market.warnings
    );
    let lower = load_dir(dir, "5m", None, &LoadOptions::default()).unwrap();
    assert!(lower.series.iter().all(|s| s.mark.is_some()));
    let first_lower = lower.times[0];
    attach_lower(&mut market, lower).unwrap();
    let i = market.bar_at_or_after(first_lower);
    let (_, range) = market.sub_bars(i).unwrap();
    assert_eq!(range.len(), 12);
    let brackets = dir.join("brackets.json");
    if brackets.is_file() {
        let loaded = load_bracket_file(&brackets, i64::MIN).unwrap();
        assert!(loaded.issues.is_empty(), "{:?}", loaded.issues);
    }
}
