//! The report on the real-data scenario keeps the truth of the equity curve: the 2025-10-10 crash
//! is a cliff from 20:00 to 21:00 UTC in the cross runs (equity.csv), and thinning a curve for
//! drawing (static charts and the interactive explorer alike) keeps both points, next to each
//! other, so the drop is drawn where it happened instead of as a diagonal to a later date. The
//! curves a run directory stores for the report (`report-curves.parquet`, at a bounded
//! resolution) keep both points too.

use ringfence_report::ReportInput;
use ringfence_report::charts::thin;
use std::process::Command;

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/harthor-oct-2025.toml"
);
/// 2025-10-10T20:00:00Z and 21:00 in ms.
const H20: i64 = 1_760_126_400_000;
const H21: i64 = 1_760_130_000_000;

#[test]
fn the_2100_cliff_survives_thinning_on_real_data() {
    if ringfence_data::testing::shared_data().is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tmp");
    let o = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["run", SCENARIO, "--no-report", "--out"])
        .arg(out.path())
        .output()
        .expect("ringfence runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let input = read_input(out.path());
    let mut checked = 0;
    for r in input.runs.iter().filter(|r| r.policy == "cross") {
        let pts: Vec<(i64, f64)> = r.equity.iter().map(|p| (p.time, p.equity)).collect();
        let at = |t: i64| *pts.iter().find(|p| p.0 == t).expect("hourly point");
        let (before, after) = (at(H20), at(H21));
        assert!(
            after.1 < 0.1 * before.1,
            "{}: no cliff at 21:00 ({} → {})",
            r.run,
            before.1,
            after.1
        );
        // 900: the explorer's budget (btc-holder/cross has more points); 300 and 120: harder.
        for max in [900, 300, 120].into_iter().filter(|&m| m < pts.len()) {
            let kept = thin(&pts, max);
            assert!(kept.len() < pts.len(), "{}: not thinned at {max}", r.run);
            let i = kept
                .iter()
                .position(|p| *p == after)
                .unwrap_or_else(|| panic!("{}: 21:00 dropped at {max} points", r.run));
            assert_eq!(kept[i - 1], before, "{}: 20:00 not next to 21:00", r.run);
        }
        checked += 1;
    }
    assert_eq!(checked, 2, "both cross runs");
    collateral_revaluation_is_apart_from_trading(&input);
}

/// The report's input of a run directory: `report-input.json` with the curves of
/// `report-curves.parquet` put back into its runs.
fn read_input(dir: &std::path::Path) -> ReportInput {
    use ringfence_data::tables::{TableColumn, read_parquet};
    let mut input: ReportInput = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report-input.json")).expect("input"),
    )
    .expect("json");
    let cols = read_parquet(&dir.join("report-curves.parquet")).expect("curves");
    let ints = |k: usize| match &cols[k].1 {
        TableColumn::I64(v) => v.clone(),
        c => panic!("{}: {c:?}", cols[k].0),
    };
    let floats = |k: usize| match &cols[k].1 {
        TableColumn::F64(v) => v.clone(),
        c => panic!("{}: {c:?}", cols[k].0),
    };
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..3], ["run_index", "time_ms", "equity"]);
    let (run, time, equity) = (ints(0), ints(1), floats(2));
    for r in &mut input.runs {
        assert!(r.equity.is_empty(), "curves are not in the JSON");
    }
    for i in 0..run.len() {
        input.runs[run[i] as usize]
            .equity
            .push(ringfence_model::EquityPoint {
                time: time[i],
                equity: equity[i],
                drawdown: 0.0,
                margin_ratio: 0.0,
                open_positions: 0,
                book_correlation: None,
                correlated_exposure: 0.0,
            });
    }
    input
}

/// The money breakdown explains every USDT of a USDT-only account by its trades (the ledger
/// conserves money exactly), and shows the BTC account's collateral revaluation apart: the same
/// amount for every policy that keeps its 0.02 BTC to the end (isolated, hybrid). Cross is
/// liquidated at 21:15 with its whole margin balance taken, so its BTC is sold to repay the USDT
/// wallet (liquidation.md): its revaluation stops there and includes the haircut share lost.
fn collateral_revaluation_is_apart_from_trading(input: &ReportInput) {
    use ringfence_report::analysis::MoneyByCause;
    use rust_decimal::Decimal;
    let cent = Decimal::new(1, 2);
    let mut btc = Vec::new();
    let mut sold = None;
    for r in &input.runs {
        let m = MoneyByCause::of(r);
        if r.account == "usdt" {
            assert!(
                m.collateral_revaluation.abs() < cent,
                "{}: unexplained {}",
                r.run,
                m.collateral_revaluation
            );
        } else if r.policy == "cross" {
            assert!(
                r.liquidations.iter().any(|l| l.wipeout),
                "{}: the BTC is sold only at a wipeout here",
                r.run
            );
            sold = Some(m.collateral_revaluation);
        } else {
            btc.push(m.collateral_revaluation);
        }
    }
    assert_eq!(btc.len(), 2);
    assert!(btc[0].abs() >= cent, "BTC collateral revaluation missing");
    assert!(
        btc.iter().all(|v| (*v - btc[0]).abs() < cent),
        "revaluation differs between policies that keep the BTC: {btc:?}"
    );
    let sold = sold.expect("btc-holder/cross");
    assert!(
        (sold - btc[0]).abs() >= cent,
        "cross sold its BTC at 21:15: {sold} vs {}",
        btc[0]
    );
}
