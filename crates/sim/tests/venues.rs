//! The venues' liquidation procedures on the Binance BTCUSDT late-2024 tiers (tier 1 up to
//! 50 000 USDT at 0.40 %, tier 2 up to 600 000 at 0.50 % − 50, tier 3 up to 3 M at 0.65 % − 950),
//! worked by hand: Bybit's risk-limit step-down (Bybit Help Center, "Liquidation Process (USDT
//! Contract)": above the lowest tier, reduce to the lower tier's limit, re-check, repeat; at the
//! lowest tier, take over at bankruptcy), OKX's partial liquidation (OKX Help, "Tiered maintenance
//! margin ratio rules": from tier 3, reduce two tiers while the margin is above the lowest tier's
//! maintenance + fee; liquidation at maintenance + liquidation fee), Binance's close-out at
//! bankruptcy with the insurance fund taking the shortfall.

mod common;

use common::{brackets, conservation_gap, market, setup, signals};
use ringfence_model::{ExitReason, MarginMode};
use rust_decimal::Decimal;

/// One 10 BTC long at 100 000 (notional 1 M: tier 3), 20x: margin 50 000. The price falls to 90 000
/// in one bar.
const BARS: &str =
    "BTC: 100000 100000 100000 100000; 100000 100000 90000 90000; 90000 90000 90000 90000";

fn run(words: &str) -> ringfence_model::RunResult {
    run_on(BARS, words)
}

/// One BTC long opened at hour 0 under setup `words`, without slippage.
fn run_on(bars: &str, words: &str) -> ringfence_model::RunResult {
    let m = market(bars);
    let (account, policy, mut cfg) = setup(words);
    cfg.execution.slippage_bps = 0.0;
    ringfence_sim::run(
        &m,
        &brackets(&m),
        &signals("a 0 open BTC long"),
        &account,
        &policy,
        &cfg,
    )
    .unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// Bybit: the LP of the tier-3 position is (1 000 000 − 50 000 − 950) / (10 × 0.9935) = 95 525.92.
/// There it is cut to tier 2's limit: 600 000 / 95 525.92 = 6.28102 BTC kept, 3.71898 closed
/// (loss 3.71898 × 4 474.08 = 16 639.0; margin left 50 000 × 0.628102 = 31 405.1); the rest's
/// balance 31 405.1 − 6.28102 × 4 474.08 = 3 303.3 exceeds tier 2's 0.5 % × 600 000 − 50 = 2 950:
/// it survives. Its new LP ((628 102 − 31 405.1 − 50) / (6.28102 × 0.995) = 95 469.39) is cut to
/// tier 1 (50 000 / 95 469.39 = 0.52373 kept), which survives too (balance 245.8 > 200); at tier 1
/// the last LP (95 381.53) closes it whole.
#[test]
fn bybit_steps_a_tier_3_position_down_tier_by_tier() {
    let r = run("isolated notional=1000000 lev=20 wallet=100000 fees=0.0005 bybit");
    let t = &r.trades[0];
    let legs: Vec<_> = t
        .exits
        .iter()
        .filter(|e| e.reason == ExitReason::Liquidation)
        .collect();
    assert_eq!(legs.len(), 3, "{:?}", t.exits);
    assert!(close(legs[0].price, 95_525.92, 0.01), "{}", legs[0].price);
    let kept = Decimal::from(10) - legs[0].qty;
    assert!(close(ringfence_sim_f(kept), 6.28102, 1e-5), "{kept}");
    assert!(ringfence_sim_f(kept) * legs[0].price < 600_000.0);
    assert!(
        close(ringfence_sim_f(legs[0].pnl), -16_639.0, 0.1),
        "{}",
        legs[0].pnl
    );
    // the taker fee on the FillOrKill reduction
    assert!(
        close(ringfence_sim_f(legs[0].fee), 177.63, 0.01),
        "{}",
        legs[0].fee
    );
    assert!(close(legs[1].price, 95_469.39, 0.01), "{}", legs[1].price);
    let kept2 = kept - legs[1].qty;
    assert!(close(ringfence_sim_f(kept2), 0.52373, 1e-5), "{kept2}");
    assert!(ringfence_sim_f(kept2) * legs[1].price < 50_000.0);
    // the last leg is the whole remainder, closed at tier 1's LP
    assert_eq!(legs[2].qty, kept2);
    assert!(close(legs[2].price, 95_381.53, 0.01), "{}", legs[2].price);
    assert_eq!(r.liquidations.len(), 3);
    assert!(
        r.liquidations
            .iter()
            .all(|l| l.mode == MarginMode::Isolated)
    );
    // every step is recorded at its trigger with margin balance ≈ maintenance
    let first = &r.liquidations[0];
    assert!(
        (first.margin_ratio - 1.0).abs() < 1e-6,
        "{}",
        first.margin_ratio
    );
    assert_eq!(
        conservation_gap(&r, Decimal::from(100_000), Decimal::ZERO),
        Decimal::ZERO
    );
}

/// Binance (`full`): the same position is closed whole at its LP 95 525.92; the exchange keeps
/// the margin left (the clearance fee, capped at it); no insurance shortfall.
#[test]
fn binance_closes_the_tier_3_position_whole() {
    let r = run("isolated notional=1000000 lev=20 wallet=100000 fees=0.0005");
    let t = &r.trades[0];
    assert_eq!(t.exits.len(), 1);
    assert!(close(t.exits[0].price, 95_525.92, 0.01));
    assert_eq!(t.exits[0].qty, Decimal::from(10));
    // margin left at the LP = maintenance there: 0.65 % × 955 259.2 − 950 = 5 259.18
    assert!(
        close(ringfence_sim_f(t.clearance_fee), 5_259.18, 0.01),
        "{}",
        t.clearance_fee
    );
    assert_eq!(r.liquidations.len(), 1);
    assert!(r.liquidations[0].insurance_shortfall.is_zero());
}

/// OKX: liquidation at maintenance + 0.05 % (the liquidation fee): LP = (1 000 000 − 50 000 − 950)
/// / (10 × (1 − 0.007)) = 95 574.02. The balance there (0.7 % × 955 740 − 950 = 5 740.2) is above
/// the lowest tier's 0.45 % × 955 740 = 4 300.8, so the position is cut two tiers, to tier 1
/// (50 000 / 95 574.02 = 0.52315 kept); tier 1 is never partially liquidated: the next trigger
/// closes the rest whole.
#[test]
fn okx_cuts_two_tiers_then_closes_whole() {
    let r = run("isolated notional=1000000 lev=20 wallet=100000 fees=0.0005 okx");
    let legs: Vec<_> = r.trades[0]
        .exits
        .iter()
        .filter(|e| e.reason == ExitReason::Liquidation)
        .collect();
    assert_eq!(legs.len(), 2, "{:?}", r.trades[0].exits);
    assert!(close(legs[0].price, 95_574.02, 0.01), "{}", legs[0].price);
    let kept = Decimal::from(10) - legs[0].qty;
    assert!(close(ringfence_sim_f(kept), 0.52315, 1e-5), "{kept}");
    assert_eq!(legs[1].qty, kept);
    assert_eq!(r.liquidations.len(), 2);
}

/// A gap past bankruptcy (Binance): a 10x long of 1 BTC at 100 000 (margin 10 000, bankruptcy
/// 90 000) whose mark opens the next bar at 85 000 is closed there: loss 15 000, the insurance
/// fund takes the 5 000 beyond the margin, the account loses exactly its margin.
#[test]
fn a_gap_past_bankruptcy_is_an_insurance_shortfall() {
    let r = run_on(
        "BTC: 100000 100000 100000 100000; 85000 85000 85000 85000; 85000 85000 85000 85000",
        "isolated notional=100000 lev=10 wallet=20000 fees=0",
    );
    let l = &r.liquidations[0];
    assert_eq!(l.insurance_shortfall, Decimal::from(5000));
    assert!(l.clearance_fee.is_zero());
    assert_eq!(r.summary.final_equity, Decimal::from(10_000));
    assert_eq!(
        conservation_gap(&r, Decimal::from(20_000), Decimal::ZERO),
        Decimal::ZERO
    );
}

fn ringfence_sim_f(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap()
}

/// Bybit in cross: the same tier-3 long as the only cross position of a 55 000 USDT wallet. At the
/// trigger it is cut to tier 2's limit at the mark (the book re-checked after the step), not closed
/// whole as Binance does; money is conserved through every step.
#[test]
fn bybit_cross_steps_the_largest_loser_down_before_closing_it() {
    let words = "cross notional=1000000 lev=20 wallet=55000 fees=0.0005";
    let full = run(words);
    assert_eq!(full.trades[0].exits.len(), 1, "{:?}", full.trades[0].exits);
    let r = run(&format!("{words} bybit"));
    let legs: Vec<_> = r.trades[0]
        .exits
        .iter()
        .filter(|e| e.reason == ExitReason::Liquidation)
        .collect();
    assert!(legs.len() >= 2, "{:?}", r.trades[0].exits);
    let kept = Decimal::from(10) - legs[0].qty;
    assert!(ringfence_sim_f(kept) * legs[0].price < 600_000.0);
    assert!(ringfence_sim_f(kept) * legs[0].price > 599_000.0);
    assert!(r.liquidations.iter().all(|l| l.mode == MarginMode::Cross));
    assert_eq!(
        conservation_gap(&r, Decimal::from(55_000), Decimal::ZERO),
        Decimal::ZERO
    );
}
