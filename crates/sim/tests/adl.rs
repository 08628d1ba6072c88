//! Auto-deleveraging on hand-built markets: the close, its price and PnL by hand, the ranking
//! that decides it, the cross attribution, and the rule's trigger.

mod common;

use common::{H, T0, brackets, market, setup, signals};
use ringfence_model::{AdlTrigger, ExitReason, MarginMode, Side, Symbol};
use ringfence_sim::{AdlConfig, AdlEventSpec, AdlMode, AdlRule};
use rust_decimal::Decimal;
use std::str::FromStr;

fn event(hour: i64, base: &str, side: Side, share: f64, price: Option<f64>) -> AdlEventSpec {
    AdlEventSpec {
        time: T0 + hour * H,
        symbol: Symbol::parse(&format!("{base}USDT")).unwrap(),
        side,
        share,
        price,
        source: format!("test row {hour}"),
    }
}

/// A 10x isolated BTC short, margin 100 at 100 (qty 10), deleveraged at hour 2 at the event's
/// price 90: PnL 10 × (100 − 90) = 100, no fee. Ranking by hand: wallet 100, uPnL 100,
/// maintenance 0.4 % × 900 = 3.6, ratio 3.6 / 200 = 0.018, score 1.0 × 0.018 = 0.018 → quantile
/// 2 of the default cut points (0.005 ≤ 0.018 < 0.02). Quantile 2 holds ranks 40–60 %: a share of
/// 30 % of open interest (ranks 70–100 %) takes none of it, 50 % (ranks 50–100 %) half of it.
#[test]
fn isolated_short_deleveraged_at_the_events_price_by_hand() {
    let m = market("BTC: 100 100 100 100; 100 100 95 95; 95 95 90 90; 90 90 90 90; 90 90 90 90");
    let sigs = signals("s1 0 open BTC short");
    let (account, policy, mut cfg) = setup("isolated margin=100 lev=10 wallet=1000 fees=0");
    cfg.execution.slippage_bps = 0.0;
    let b = brackets(&m);
    cfg.adl = AdlConfig {
        trigger: AdlMode::Data(vec![event(2, "BTC", Side::Short, 0.3, Some(90.0))]),
        ..AdlConfig::default()
    };
    let r = ringfence_sim::run(&m, &b, &sigs, &account, &policy, &cfg).unwrap();
    assert!(
        r.adl.is_empty(),
        "quantile 2 is outside the top 30 %: {:?}",
        r.adl
    );
    cfg.adl.trigger = AdlMode::Data(vec![event(2, "BTC", Side::Short, 0.5, Some(90.0))]);
    let r = ringfence_sim::run(&m, &b, &sigs, &account, &policy, &cfg).unwrap();
    assert_eq!(r.adl.len(), 1, "{:?}", r.adl);
    let a = &r.adl[0];
    assert_eq!(a.quantile, 2);
    assert!((a.score - 0.018).abs() < 1e-9, "{}", a.score);
    assert_eq!(a.qty, Decimal::from(5));
    assert_eq!(a.pnl, Decimal::from(50));
    assert_eq!(a.trigger, AdlTrigger::Data);
    let leg = r.trades[0]
        .exits
        .iter()
        .find(|e| e.reason == ExitReason::Adl)
        .unwrap();
    assert_eq!((leg.price, leg.fee), (90.0, Decimal::ZERO));
    // the ADL-off run keeps the whole short to the end (closed at 90): 100 PnL; with ADL the same
    // here, so ADL neither cost nor saved anything
    assert_eq!(r.adl_off_final_equity, Some(r.summary.final_equity));
    assert_eq!(r.summary.final_equity, Decimal::from_str("1100").unwrap());
}

/// A losing position is never deleveraged, whatever the share.
#[test]
fn a_losing_position_is_not_taken() {
    let m = market("BTC: 100 100 100 100; 100 105 100 105; 105 105 105 105; 105 105 105 105");
    let sigs = signals("s1 0 open BTC short");
    let (account, policy, mut cfg) = setup("isolated margin=100 lev=5 wallet=1000");
    cfg.adl = AdlConfig {
        trigger: AdlMode::Data(vec![event(2, "BTC", Side::Short, 1.0, None)]),
        quantile_thresholds: [0.0; 4],
    };
    let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy, &cfg).unwrap();
    assert!(r.adl.is_empty());
    assert_eq!(r.trades[0].exit_reason, ExitReason::EndOfData);
}

/// A cross book of 300 USDT: ETH long (qty 10 at 100) hedged by a BTC short (qty 10 at 100). ADL
/// takes the hedge at hour 2 at 90 (+100 into the wallet: 400). At hour 3 both fall to 60: the
/// unhedged ETH loses 400, the margin balance reaches 0 ≤ maintenance and the book is liquidated.
/// The liquidation names the ADL that came first; with ADL off the hedge's +400 offsets the −400
/// and the book ends at 300 (`ohlc`: both fall together inside the bar).
#[test]
fn cross_hedge_deleveraged_then_book_liquidated_is_attributed() {
    let m = market(
        "BTC: 100 100 100 100; 100 100 90 90; 90 90 90 90; 90 90 60 60; 60 60 60 60
         ETH: 100 100 100 100; 100 100 90 90; 90 90 90 90; 90 90 60 60; 60 60 60 60",
    );
    let sigs = signals("e 0 open ETH long\nb 0 open BTC short");
    let (account, policy, mut cfg) = setup("cross margin=100 lev=10 wallet=300 fees=0 ohlc");
    cfg.execution.slippage_bps = 0.0;
    cfg.adl = AdlConfig {
        trigger: AdlMode::Data(vec![event(2, "BTC", Side::Short, 1.0, None)]),
        quantile_thresholds: [0.0; 4],
    };
    let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy, &cfg).unwrap();
    assert_eq!(r.adl.len(), 1);
    assert_eq!(r.adl[0].mode, MarginMode::Cross);
    assert_eq!(r.adl[0].pnl, Decimal::from(100));
    let b = r.trades.iter().find(|t| &*t.signal_id == "b").unwrap();
    assert_eq!(b.exit_reason, ExitReason::Adl);
    assert_eq!(r.liquidations.len(), 1, "{:?}", r.liquidations);
    let l = &r.liquidations[0];
    assert_eq!(l.mode, MarginMode::Cross);
    assert!(l.time > r.adl[0].time);
    let why = l.after_adl.as_deref().unwrap();
    assert!(
        why.starts_with("BTCUSDT short deleveraged 2025-01-01 02:00 (quantile 4, 100 %)"),
        "{why}"
    );
    // without ADL the hedge holds the book up
    let off = r.adl_off_final_equity.unwrap();
    assert_eq!(off, Decimal::from(300));
    let (effect, share) = r.adl_effect().unwrap();
    assert_eq!(effect, r.summary.final_equity - off);
    assert!(effect < Decimal::ZERO && share.is_none_or(|s| s < 0.0));
}

/// The rule: BTC falls 12 % within the hour ending at hour 2's close → one event at hour 3's
/// open for BTC shorts (none for longs, none on the flat hours), once per window.
#[test]
fn the_rule_fires_once_on_a_fast_move_for_the_winning_side() {
    let m = market(
        "BTC: 100 100 100 100; 100 101 99 100; 100 100 88 89; 89 90 88 89; 89 89 89 89; 89 89 89 89",
    );
    let sigs = signals("s1 0 open BTC short\nl1 0 open BTC long");
    let (account, policy, mut cfg) = setup("isolated margin=100 lev=10 wallet=1000");
    cfg.adl = AdlConfig {
        trigger: AdlMode::Rule(AdlRule {
            move_pct: 10.0,
            window_ms: H,
            fractions: [1.0; 5],
        }),
        quantile_thresholds: [0.0; 4],
    };
    let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy, &cfg).unwrap();
    assert_eq!(r.adl.len(), 1, "{:?}", r.adl);
    let a = &r.adl[0];
    assert_eq!(
        (a.side, a.time, a.trigger.clone()),
        (Side::Short, T0 + 3 * H, AdlTrigger::Rule)
    );
    assert!(
        a.source.starts_with("BTCUSDT −12.0 % in 60 min"),
        "{}",
        a.source
    );
    // filled at hour 3's mark open: 89
    assert_eq!(a.price, 89.0);
}
