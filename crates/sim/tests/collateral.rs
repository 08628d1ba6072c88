//! Accounts with non-USDT collateral: equity is floored at zero (DESIGN.md §5) also when the USDT
//! wallet is negative and only the collateral stands behind it. The venue (Binance Multi-Assets
//! auto-exchange) sells collateral to repay the debt at a liquidation, and when no cross position
//! is left and the collateral's haircut value falls to the debt (LTV ≥ 1).

mod common;

use common::{H, T0, render, run_text};
use ringfence_model::RunResult;
use rust_decimal::Decimal;

#[track_caller]
fn never_negative(r: &RunResult) {
    for e in &r.equity {
        assert!(
            e.equity >= -1e-9,
            "equity {} at h{}\n{}",
            e.equity,
            (e.time - T0) / H,
            render(r)
        );
    }
    // zero up to the ledger's rounding (1e-10) when the collateral was sold whole
    assert!(
        r.summary.final_equity > -Decimal::new(1, 9),
        "{}",
        render(r)
    );
}

#[test]
fn a_cross_liquidation_repays_the_negative_wallet_from_collateral() {
    // 1.5 BTC-units long at 1000 (10x) on 100 USDT + 0.1 BTC (95 after the 5 % haircut), no fees
    // and no clearance: liquidated at L ≈ 877.4 with the wallet at 100 + 1.5·(L − 1000) ≈ −83.9;
    // the venue sells 83.9 / (0.95·L) BTC to repay it and the rest stays with the trader. Before
    // the fix the debt stayed behind the BTC and the fall to 500 ended the account at −33.75.
    let r = run_text(
        "cross margin=150 lev=10 wallet=100 btc=0.1 fees=0 clearance=0",
        "BTC: 1000 1000 1000 1000; 1000 1000 850 900; 900 900 600 600; 600 600 500 500",
        "a 0 open BTC long",
    );
    assert_eq!(r.liquidations.len(), 1, "{}", render(&r));
    let l = &r.liquidations[0];
    assert!(!l.wipeout && l.insurance_shortfall.is_zero());
    let px = l.positions[0].price;
    let t = &r.trades[0];
    let (qty, entry) = (f64::try_from(t.qty).unwrap(), t.entry_price);
    let debt = -(100.0 + qty * (px - entry));
    assert!(
        debt > 0.0,
        "the liquidation left the USDT wallet negative: {debt}"
    );
    let sold = debt / (0.95 * px);
    let want = (0.1 - sold) * 500.0;
    let got = f64::try_from(r.summary.final_equity).unwrap();
    assert!((got - want).abs() < 1e-6, "final equity {got}, want {want}");
    assert!(got > 0.0);
    never_negative(&r);
}

#[test]
fn a_gap_past_bankruptcy_sells_all_collateral_and_wipes_out() {
    // a short stopped 10 % past its bankruptcy price: the shortfall is the insurance fund's, the
    // BTC collateral is sold whole and the account is wiped out (not left owing, not holding BTC)
    let r = run_text(
        "cross margin=100 lev=50 wallet=301 btc=1.5",
        "BTC: 100 100 100 100; 100 100 100 100; 100 100 100 100; 100 100 100 100; \
         129.84 143.46 129.84 129.84 / 129.84 133.93 129.84 129.84; 129.84 129.84 129.84 129.84; \
         100 100 98 98",
        "a 4 open BTC short stop=143.2",
    );
    assert_eq!(
        render(&r),
        "a liquidation h4 143.20\nliq cross h4 [a*] shortfall=25.24"
    );
    assert!(r.liquidations[0].wipeout);
    assert_eq!(r.summary.wipeouts, 1);
    assert!(f64::try_from(r.summary.final_equity).unwrap().abs() < 1e-9);
    never_negative(&r);
}

/// ETH long 10 at 100 stopped at 90 (no fees) on 50 USDT + 1 BTC: the USDT wallet goes from 50
/// to −50 behind the BTC (95 after the haircut), with no position left; then BTC falls from 100
/// to `low` in one bar.
fn debt_then_btc_falls_to(low: u32) -> RunResult {
    run_text(
        "cross margin=100 lev=10 wallet=50 btc=1 fees=0",
        &format!(
            "BTC: 100 100 100 100; 100 100 100 100; 100 100 100 100; 100 100 {low} {low}\n\
             ETH: 100 100 100 100; 100 100 89 89; 89 89 89 89; 89 89 89 89"
        ),
        "a 0 open ETH long stop=90",
    )
}

#[test]
fn a_debt_left_by_a_stop_is_repaid_when_the_collateral_falls_to_it() {
    // BTC falls to 40: at 0.95·BTC = 50 (BTC ≈ 52.63) the debt equals the collateral's haircut
    // value and the venue sells the BTC; the account ends at zero, a wipeout, rather than at
    // −50 + 40 = −10.
    let r = debt_then_btc_falls_to(40);
    assert_eq!(render(&r), "a stop h1 90.00\nliq cross h3 []");
    let l = &r.liquidations[0];
    assert!(l.wipeout && l.positions.is_empty());
    assert!(l.insurance_shortfall.is_zero(), "{:?}", l);
    assert!(f64::try_from(r.summary.final_equity).unwrap().abs() < 1e-6);
    never_negative(&r);
}

#[test]
fn a_debt_the_collateral_still_covers_is_left_alone() {
    // the same debt, BTC falls only to 60 (haircut value 57 > 50): nothing is sold and the
    // account ends at −50 + 60 = 10
    let r = debt_then_btc_falls_to(60);
    assert_eq!(render(&r), "a stop h1 90.00");
    assert_eq!(r.summary.final_equity, Decimal::from(10));
    never_negative(&r);
}

#[test]
fn a_debt_is_watched_on_the_lower_timeframe_too() {
    // the debt of `debt_then_btc_falls_to`, with 15-minute bars under every hour: the fall of BTC
    // to 40 happens in the last hour's sub-bars, where the collateral is sold as on the main bars
    let main = "BTC: 100 100 100 100; 100 100 100 100; 100 100 100 100; 100 100 40 40\n\
                ETH: 100 100 100 100; 100 100 89 89; 89 89 89 89; 89 89 89 89";
    let flat = |p: &str, n: usize| vec![format!("{p} {p} {p} {p}"); n].join("; ");
    let lower_text = format!(
        "BTC: {}; 100 100 80 80; 80 80 60 60; 60 60 40 40\nETH: {}; 100 100 89 89; {}",
        flat("100", 13),
        flat("100", 5),
        flat("89", 10)
    );
    let mut m = common::market(main);
    let mut lower = common::market(&lower_text);
    lower.timeframe_ms = H / 4;
    lower.times = (0..16).map(|i| T0 + i * H / 4).collect();
    m.lower = Some(Box::new(lower));
    let (account, policy, cfg) = common::setup("cross margin=100 lev=10 wallet=50 btc=1 fees=0");
    let r = ringfence_sim::run(
        &m,
        &common::brackets(&m),
        &common::signals("a 0 open ETH long stop=90"),
        &account,
        &policy,
        &cfg,
    )
    .unwrap();
    assert_eq!(render(&r), "a stop h1 90.00\nliq cross h3 []");
    let l = &r.liquidations[0];
    assert!(l.wipeout && l.insurance_shortfall.is_zero(), "{l:?}");
    // in the sub-bar from 60 to 40 (BTC ≈ 52.63), not at the main bar's open
    assert_eq!(l.time, T0 + 3 * H + 3 * H / 4);
    never_negative(&r);
}
