//! The market's range index ([`ringfence_sim::RangeIndex`]) changes no result: the synthetic
//! workloads, long enough for scan windows of many blocks, give the same run (every field, exact
//! floats) without an index, with one filled as it goes, and with one filled beforehand, under
//! every intrabar model. With funding, the index also keeps the settlements' `Decimal` terms.

use ringfence_benches::workload::{self, Workload};
use ringfence_sim::{Intrabar, RangeIndex};

fn runs_alike(w: &Workload) {
    let full = RangeIndex::new(&w.market);
    full.fill();
    for model in [Intrabar::Adverse, Intrabar::Close, Intrabar::Ohlc] {
        let mut cfg = w.cfg.clone();
        cfg.intrabar = model;
        let run = |ranges: &RangeIndex<'_>| {
            let r = ringfence_sim::simulate_in(
                ranges,
                &w.brackets,
                &w.signals,
                &w.account,
                &w.policy,
                &cfg,
            )
            .expect("synthetic workload runs");
            format!("{r:?}")
        };
        let plain = run(&RangeIndex::none(&w.market));
        let lazy = RangeIndex::new(&w.market);
        assert!(plain.contains("Trade {"), "{}: no trade", w.name);
        assert_eq!(plain, run(&lazy), "{} {model:?}: lazy index, cold", w.name);
        assert_eq!(plain, run(&lazy), "{} {model:?}: lazy index, warm", w.name);
        assert_eq!(plain, run(&full), "{} {model:?}: filled index", w.name);
    }
}

#[test]
fn isolated_runs_are_the_same_with_a_range_index() {
    runs_alike(&workload::isolated_heavy(24, 2_000, None));
}

#[test]
fn isolated_runs_with_funding_are_the_same_with_a_range_index() {
    runs_alike(&workload::isolated_heavy(16, 1_500, Some(8)));
}

#[test]
fn cross_runs_are_the_same_with_a_range_index() {
    runs_alike(&workload::cross_heavy(16, 1_500, None));
}
