//! Entry ladders and leverage ranges: levels fill in path order, each fill moves the average entry,
//! the margin and the liquidation price; unfilled levels are cancelled; money is conserved.

mod common;

use common::{H, T0, brackets, conservation_gap, market, render, run_text, setup};
use ringfence_model::{ExitReason, Price, Qty, Side, Trade, Usdt};
use ringfence_sim::margin::isolated_liq_price;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

fn only_trade(r: &ringfence_model::RunResult) -> &Trade {
    assert_eq!(r.trades.len(), 1, "{}", render(r));
    &r.trades[0]
}

fn conserved(setup_text: &str, r: &ringfence_model::RunResult) {
    let usdt = setup(setup_text).0.collateral[0].1;
    assert_eq!(conservation_gap(r, usdt, Decimal::ZERO), Decimal::ZERO);
}

/// `(qty, entry)` fills → total quantity, quantity-weighted entry, and the exact level sizes the
/// engine uses: `share × call notional / price`, rounded down to 8 decimals.
fn level_qty(notional: f64, price: f64) -> Decimal {
    (Decimal::try_from(notional).unwrap() / Decimal::try_from(price).unwrap())
        .round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero)
}

#[test]
fn levels_fill_in_path_order_and_average_the_entry() {
    // one bar trades down through all three levels: 100 at the open, then 97, then 90
    let s = "isolated margin=90 lev=10 wallet=1000";
    let r = run_text(
        s,
        "BTC: 100 100 100 100; 100 101 89 95; 95 95 95 95",
        "a 1 open BTC long entries=100,97,90 stop=80",
    );
    let t = only_trade(&r);
    assert_eq!((t.entry_levels, t.levels_filled), (3, 3));
    // the call's notional is 90 × 10 = 900, 300 per level
    let q: Vec<Decimal> = [100.0, 97.0, 90.0]
        .iter()
        .map(|&p| level_qty(300.0, p))
        .collect();
    let total: Decimal = q.iter().sum();
    assert_eq!(t.qty, total);
    let entry =
        (q[0] * Decimal::from(100) + q[1] * Decimal::from(97) + q[2] * Decimal::from(90)) / total;
    assert_eq!(t.entry_price, entry.to_f64().unwrap());
    // margin: each level's notional ÷ 10, in ledger precision
    let im: Decimal = q
        .iter()
        .zip([100, 97, 90])
        .map(|(q, p)| (q * Decimal::from(p) / Decimal::TEN).round_dp(10))
        .sum();
    assert_eq!(t.margin, im);
    conserved(s, &r);
}

#[test]
fn averaging_down_moves_the_liquidation_price_and_the_last_level_is_cancelled() {
    // 20x: after the first fill at 100 the LP is about 95.4, so the level at 97 fills first; the
    // averaged position's LP (about 94.3) is then hit before the level at 90 is reached
    let s = "isolated margin=60 lev=20 wallet=1000";
    let r = run_text(
        s,
        "BTC: 100 100 100 100; 100 100 96.5 97; 97 97 93 93; 93 93 85 85",
        "a 1 open BTC long entries=100,97,90",
    );
    let t = only_trade(&r);
    assert_eq!((t.entry_levels, t.levels_filled), (3, 2));
    assert_eq!(t.exit_reason, ExitReason::Liquidation);
    assert!(r.skipped.is_empty(), "{}", render(&r));
    // the liquidation happens at the LP of the averaged position: qty, mean entry, both margins
    let q1 = level_qty(400.0, 100.0);
    let q2 = level_qty(400.0, 97.0);
    let qty = q1 + q2;
    let entry = (q1 * Decimal::from(100) + q2 * Decimal::from(97)) / qty;
    let margin = (q1 * Decimal::from(100) / Decimal::from(20)).round_dp(10)
        + (q2 * Decimal::from(97) / Decimal::from(20)).round_dp(10);
    let tiers = brackets(&market("BTC: 1 1 1 1"))
        .table(&t.symbol, T0)
        .unwrap()
        .to_vec();
    let lp = isolated_liq_price(Side::Long, Qty(qty), Price(entry), Usdt(margin), &tiers).unwrap();
    let liq = &r.liquidations[0].positions[0];
    assert!(
        (liq.price - lp.price.0.to_f64().unwrap()).abs() < 1e-9,
        "{} vs {}",
        liq.price,
        lp.price
    );
    assert!(liq.price > 90.0 && liq.price < 95.0);
    assert_eq!(r.liquidations[0].time, T0 + 2 * H);
    conserved(s, &r);
}

#[test]
fn first_target_cancels_the_levels_still_waiting() {
    let s = "isolated margin=100 lev=10 wallet=1000";
    let r = run_text(
        s,
        "BTC: 100 100 100 100; 100 111 99 110; 110 110 80 85",
        "a 1 open BTC long entries=100,90 tp=110",
    );
    // level 2 (90) is reached only after the target filled: it was cancelled, nothing reopens
    assert_eq!(render(&r), "a target_1 h1 110.00");
    let t = only_trade(&r);
    assert_eq!((t.entry_levels, t.levels_filled), (2, 1));
    conserved(s, &r);
}

#[test]
fn an_unfilled_ladder_is_one_skipped_call() {
    let s = "isolated margin=100 lev=10 wallet=1000";
    let r = run_text(
        s,
        "BTC: 100 100 100 100; 100 101 99 100; 100 101 99 100",
        "a 1 open BTC long entries=95,90,85
         a 2 cancel",
    );
    assert_eq!(
        render(&r),
        "skip a h2: entry cancelled by the channel before it filled"
    );
}

#[test]
fn cross_ladder_adds_initial_margin_and_fees_from_the_wallet() {
    let s = "cross margin=50 lev=10 wallet=1000 fees=0.001";
    let r = run_text(
        s,
        "BTC: 100 100 100 100; 100 100 94 98; 98 120 97 119",
        "a 1 open BTC long entries=100@1,95@3 tp=118",
    );
    let t = only_trade(&r);
    assert_eq!((t.entry_levels, t.levels_filled), (2, 2));
    // weights 1:3 of a 500 notional: 125 at 100, 375 at 95
    let (q1, q2) = (level_qty(125.0, 100.0), level_qty(375.0, 95.0));
    assert_eq!(t.qty, q1 + q2);
    let fee = |q: Decimal, p: i64| (q * Decimal::from(p) * Decimal::new(1, 3)).round_dp(10);
    let exit_fee = fee(q1 + q2, 118);
    assert_eq!(t.fees, fee(q1, 100) + fee(q2, 95) + exit_fee);
    assert_eq!(t.exit_reason, ExitReason::Target(1));
    conserved(s, &r);
}

#[test]
fn a_called_leverage_range_resolves_by_policy() {
    let sigs = "a 1 open BTC long lev=5-15 stop=90";
    let bars = "BTC: 100 100 100 100; 100 100 100 100; 100 100 100 100";
    for (range, lev) in [("low", 5), ("high", 15), ("mid", 10)] {
        let s = format!("isolated margin=10 called=20 wallet=1000 range={range}");
        let r = run_text(&s, bars, sigs);
        assert_eq!(only_trade(&r).leverage, Decimal::from(lev), "{range}");
    }
    // without a range the single called leverage is used whatever the choice
    let r = run_text(
        "isolated margin=10 called=20 wallet=1000 range=high",
        bars,
        "a 1 open BTC long lev=7 stop=90",
    );
    assert_eq!(only_trade(&r).leverage, Decimal::from(7));
}

#[test]
fn claims_beside_the_replay() {
    use ringfence_model::Claim;
    // the channel claims target 1 on call a; the replay is liquidated before the target
    let r = run_text(
        "isolated margin=100 lev=20 wallet=1000 max=1",
        "BTC: 100 100 100 100; 100 101 90 91; 91 112 91 111
         ETH: 10 10 10 10; 10 10 10 10; 10 10 10 10",
        "a 1 open BTC long tp=110
         b 1 open ETH long tp=11",
    );
    let claim = |id: &str, kind: &str, hit: Option<u32>, pct: Option<f64>| Claim {
        channel: String::new(),
        msg_id: format!("m{id}"),
        time: T0 + 3 * H,
        call_id: Some(id.into()),
        kind: kind.into(),
        targets_hit: hit,
        claimed_pct: pct,
    };
    let claims = [
        claim("a", "target", Some(1), Some(200.0)),
        claim("b", "stop", Some(0), Some(-10.0)),
    ];
    let (rows, sums) = ringfence_sim::claims::claims_vs_replay(&claims, std::slice::from_ref(&r));
    assert_eq!(rows.len(), 2);
    let a = &rows[0];
    assert!(a.claimed_win && !a.replayed_win && a.liquidated && !a.claims_mention_loss);
    assert_eq!(a.claimed, "target 1 (+200%)");
    assert_eq!(a.replayed, "liquidation");
    assert!(a.replayed_pct.unwrap() < -90.0, "{:?}", a.replayed_pct);
    // b was skipped (one position at most): not traded, with the reason
    assert_eq!(
        rows[1].replayed,
        "not traded: max open positions reached (1)"
    );
    assert!(rows[1].claims_mention_loss && !rows[1].claimed_win);
    let s = &sums[0];
    assert_eq!(
        (
            s.calls_claimed,
            s.liquidated_calls,
            s.liquidations_unmentioned
        ),
        (2, 1, 1)
    );
    assert_eq!((s.claimed_win_rate, s.replayed_win_rate), (0.5, 0.0));
}

#[test]
fn claims_are_summarised_per_channel() {
    use ringfence_model::Claim;
    let r = run_text(
        "isolated margin=100 lev=20 wallet=1000",
        "BTC: 100 100 100 100; 100 101 90 91; 91 112 91 111
         ETH: 10 10 10 10; 10 12 10 12; 12 12 12 12",
        "x:a 1 open BTC long tp=110
         y:b 1 open ETH long tp=11",
    );
    let claim = |channel: &str, id: &str| Claim {
        channel: channel.into(),
        msg_id: format!("m-{id}"),
        time: T0 + 3 * H,
        call_id: Some(id.into()),
        kind: "target".into(),
        targets_hit: Some(1),
        claimed_pct: None,
    };
    let claims = [claim("x", "x:a"), claim("y", "y:b")];
    let (rows, sums) = ringfence_sim::claims::claims_vs_replay(&claims, std::slice::from_ref(&r));
    assert_eq!(rows.len(), 2);
    let got: Vec<(&str, u32, f64, u32)> = sums
        .iter()
        .map(|s| {
            (
                s.channel.as_str(),
                s.calls_claimed,
                s.replayed_win_rate,
                s.liquidated_calls,
            )
        })
        .collect();
    // channel x's call was liquidated; channel y's reached its target
    assert_eq!(got, vec![("x", 1, 0.0, 1), ("y", 1, 1.0, 0)]);
}
