//! Tests as data, one case per check (stop vs liquidation price, correlation, collateral,
//! funding, tier, verdicts, no look-ahead). Over 600 lines because each case builds its small
//! market inline; they share the helpers at the top, so they stay in one file.

use super::*;
use crate::config::{LeverageRule, ModeRule, Sizing, binance_default_brackets};
use ringfence_model::{
    BracketSnapshot, EquityPoint, Exit, Funding, MarginMode, RunSummary, SymbolSeries, Trade,
};

const T0: i64 = 1_735_689_600_000;
const H: i64 = HOUR_MS;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

/// A 1h market from closes: open = previous close, high/low 0.2 % beyond the body.
fn market(cols: &[(&str, Vec<f64>)]) -> Market {
    let n = cols.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    let mut series: Vec<SymbolSeries> = cols
        .iter()
        .map(|(name, close)| {
            let open: Vec<f64> = (0..close.len())
                .map(|i| if i == 0 { close[0] } else { close[i - 1] })
                .collect();
            SymbolSeries {
                symbol: sym(name),
                first: 0,
                end: close.len(),
                high: open
                    .iter()
                    .zip(close)
                    .map(|(o, c)| o.max(*c) * 1.002)
                    .collect(),
                low: open
                    .iter()
                    .zip(close)
                    .map(|(o, c)| o.min(*c) * 0.998)
                    .collect(),
                open,
                close: close.clone(),
                volume: None,
                mark: None,
                funding: Funding::default(),
                clean: false,
            }
        })
        .collect();
    series.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    Market {
        timeframe_ms: H,
        times: (0..n as i64).map(|i| T0 + i * H).collect(),
        series,
        lower: None,
        warnings: vec![],
    }
}

/// The BTCUSDT late-2024 table for every symbol, effective always.
fn brackets(m: &Market) -> BracketBook {
    let btc = binance_default_brackets()
        .table(&sym("BTCUSDT"), i64::MAX)
        .unwrap()
        .to_vec();
    BracketBook::new(vec![BracketSnapshot {
        effective_from: i64::MIN,
        source: "test".into(),
        tables: m
            .series
            .iter()
            .map(|s| (s.symbol.clone(), btc.clone()))
            .collect(),
    }])
}

/// A wiggly path around `base`: `amp` × a deterministic pseudo-random walk.
fn path(base: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    let mut p = base;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((x >> 33) as f64 / (1u64 << 31) as f64) - 0.5;
            p *= 1.0 + 0.01 * u;
            p
        })
        .collect()
}

fn open_call(
    id: &str,
    hour: i64,
    symbol: &str,
    side: Side,
    stop: Option<f64>,
    lev: f64,
) -> SignalEvent {
    SignalEvent {
        id: id.into(),
        time: T0 + hour * H + 30 * 60_000,
        action: Action::Open,
        symbol: Some(sym(symbol)),
        side: Some(side),
        entry: EntrySpec::Market,
        stop,
        targets: vec![],
        leverage: Some(lev),
        margin_mode: None,
        ladder: Vec::new(),
        leverage_high: None,
        msg_id: None,
        source: "chan.csv".into(),
        line: 2,
    }
}

fn update(id: &str, time: TimestampMs, action: Action) -> SignalEvent {
    SignalEvent {
        id: id.into(),
        time,
        action,
        symbol: None,
        side: None,
        entry: EntrySpec::Market,
        stop: None,
        targets: vec![],
        leverage: None,
        margin_mode: None,
        ladder: Vec::new(),
        leverage_high: None,
        msg_id: None,
        source: "chan.csv".into(),
        line: 3,
    }
}

fn empty_run() -> RunResult {
    RunResult {
        run: "r".into(),
        account: "a".into(),
        policy: "p".into(),
        params: vec![],
        trades: vec![],
        liquidations: vec![],
        equity: vec![],
        skipped: vec![],
        summary: RunSummary {
            start_equity: Decimal::ZERO,
            final_equity: Decimal::ZERO,
            return_pct: 0.0,
            max_drawdown_pct: 0.0,
            liquidations: 0,
            cascades: 0,
            cascade_victims: 0,
            wipeouts: 0,
            insurance_shortfall: Decimal::ZERO,
            fees: Decimal::ZERO,
            funding: Decimal::ZERO,
            trades: 0,
            skipped_signals: 0,
            win_rate: 0.0,
            profit_factor: 0.0,
        },
        liquidation_band: None,
        adl: Vec::new(),
        adl_off_final_equity: None,
    }
}

fn trade(id: &str, symbol: &str, side: Side, qty: f64, open_h: i64, close_h: i64) -> Trade {
    Trade {
        signal_id: id.into(),
        symbol: sym(symbol),
        side,
        mode: MarginMode::Cross,
        background: false,
        open_time: T0 + open_h * H,
        entry_price: 100.0,
        qty: dec(qty),
        leverage: Decimal::TEN,
        margin: Decimal::from(100),
        margin_added: Decimal::ZERO,
        liq_price_at_entry: None,
        close_time: T0 + close_h * H,
        exit_price: 100.0,
        exit_reason: ExitReason::EndOfData,
        pnl: Decimal::ZERO,
        fees: Decimal::ZERO,
        clearance_fee: Decimal::ZERO,
        funding: Decimal::ZERO,
        exits: vec![],
        entry_levels: 1,
        levels_filled: 1,
    }
}

fn fixed_margin(m: i64) -> Policy {
    Policy::new("p", ModeRule::Cross, Sizing::FixedMargin(Decimal::from(m)))
}

fn check(
    m: &Market,
    signals: &[SignalEvent],
    account: &Account,
    policy: &Policy,
    book: &RunResult,
) -> Vec<ChecklistRow> {
    checklist(
        m,
        &brackets(m),
        signals,
        account,
        policy,
        &EngineConfig::default(),
        book,
        &ChecklistConfig::default(),
    )
    .unwrap()
}

fn usdt(x: i64) -> Account {
    Account::usdt("a", Decimal::from(x))
}

#[test]
fn stop_beyond_the_liquidation_price() {
    let m = market(&[("BTCUSDT", vec![100.0; 10])]);
    let sigs = [
        open_call("bad", 5, "BTCUSDT", Side::Long, Some(94.0), 20.0),
        open_call("good", 5, "BTCUSDT", Side::Long, Some(97.0), 20.0),
        open_call("short", 5, "BTCUSDT", Side::Short, Some(106.0), 20.0),
    ];
    let rows = check(&m, &sigs, &usdt(10_000), &fixed_margin(100), &empty_run());
    let bad = &rows[0];
    assert_eq!(bad.reference_price, Some(100.0));
    assert_eq!(bad.notional, Some(2000.0));
    // exact: WB = 100 − 2000 × 0.0005 − 20 × 94 × 0.0005 = 98.06; LP = (98.06 − 2000)/(20 × 0.004 − 20)
    let lp = (98.06 - 2000.0) / (20.0 * 0.004 - 20.0);
    assert!(
        (bad.liq_price.unwrap() - lp).abs() < 1e-9,
        "{:?}",
        bad.liq_price
    );
    assert!((bad.liq_distance_pct.unwrap() - (100.0 - lp)).abs() < 1e-9);
    assert!((bad.stop_distance_pct.unwrap() - 6.0).abs() < 1e-9);
    assert_eq!(bad.stop_before_liq, Some(false));
    assert_eq!(bad.verdict, Verdict::Isolated);
    assert!(
        bad.reasons[0].contains("beyond the liquidation price"),
        "{:?}",
        bad.reasons
    );
    // max safe leverage: LP ≈ 100 (1 − 1/L + 0.004 + fees) must stay 0.5 below 94: L ≈ 14.3
    let safe = bad.max_safe_leverage.unwrap();
    assert!(safe > 13.5 && safe < 15.0, "{safe}");
    let lp_at = |lev: f64| {
        let n = 100.0 * lev;
        let wb = 100.0 - n * 0.0005 - n / 100.0 * 94.0 * 0.0005;
        (wb - n) / (n / 100.0 * 0.004 - n / 100.0)
    };
    assert!(94.0 - lp_at(safe) >= 0.5 - 1e-6 && 94.0 - lp_at(safe + 0.01) < 0.5);

    let good = &rows[1];
    assert_eq!(good.stop_before_liq, Some(true));
    assert_eq!(good.verdict, Verdict::CrossOk, "{:?}", good.reasons);
    assert!(good.reasons.is_empty());
    // short mirrored: LP ≈ 100 (1 + 1/20 − 0.005) ≈ 104.5 < stop 106
    let short = &rows[2];
    assert_eq!(short.stop_before_liq, Some(false));
    assert!(short.liq_price.unwrap() > 104.0 && short.liq_price.unwrap() < 105.0);
}

#[test]
fn stop_unreachable_at_any_leverage_is_skipped() {
    // a short at 1x liquidates near 2 × entry (margin = notional): a stop at 2.5 × entry is beyond it
    let m = market(&[("BTCUSDT", vec![100.0; 10])]);
    let sigs = [open_call(
        "far",
        5,
        "BTCUSDT",
        Side::Short,
        Some(250.0),
        10.0,
    )];
    let rows = check(&m, &sigs, &usdt(10_000), &fixed_margin(100), &empty_run());
    assert!(
        rows[0].max_safe_leverage.unwrap() < 1.0,
        "{:?}",
        rows[0].max_safe_leverage
    );
    assert_eq!(rows[0].verdict, Verdict::Skip, "{:?}", rows[0].reasons);
}

#[test]
fn correlated_add_on_is_isolated_and_a_hedge_is_not() {
    let btc = path(100.0, 60, 1);
    let eth: Vec<f64> = btc.iter().map(|x| x * 0.3).collect();
    let m = market(&[("BTCUSDT", btc.clone()), ("ETHUSDT", eth)]);
    let mut book = empty_run();
    book.trades
        .push(trade("e1", "ETHUSDT", Side::Long, 50.0, 10, 59));
    let sigs = [
        open_call(
            "long",
            50,
            "BTCUSDT",
            Side::Long,
            Some(btc[49] * 0.97),
            10.0,
        ),
        open_call(
            "short",
            50,
            "BTCUSDT",
            Side::Short,
            Some(btc[49] * 1.03),
            10.0,
        ),
    ];
    let rows = check(&m, &sigs, &usdt(10_000), &fixed_margin(100), &book);
    let long = &rows[0];
    assert_eq!(long.book_positions, 1);
    assert_eq!(long.book, "ETHUSDT long");
    assert!((long.max_book_correlation.unwrap() - 1.0).abs() < 1e-9);
    // ρ = 1: exposures add
    let eth_n = 50.0 * btc[49] * 0.3;
    assert!((long.exposure_before - eth_n).abs() < 1e-6);
    assert!(
        (long.exposure_after - (eth_n + 1000.0)).abs() < 1e-6,
        "{}",
        long.exposure_after
    );
    assert_eq!(long.verdict, Verdict::Isolated);
    assert!(
        long.reasons
            .iter()
            .any(|r| r.contains("moves with the open book"))
    );
    let short = &rows[1];
    assert!((short.max_book_correlation.unwrap() + 1.0).abs() < 1e-9);
    assert!((short.exposure_after - (eth_n - 1000.0).abs()).abs() < 1e-6);
    assert_eq!(short.verdict, Verdict::CrossOk, "{:?}", short.reasons);
    // usable margin: equity (no equity point: the USDT) minus the book's 100 of margin
    assert!((long.usable_margin - 9_900.0).abs() < 1e-9);
}

#[test]
fn btc_collateral_behind_a_btc_long_is_poor_collateral() {
    let m = market(&[("BTCUSDT", vec![100.0; 10]), ("ETHUSDT", vec![10.0; 10])]);
    let mut acct = usdt(1000);
    acct.collateral.push(("BTC".into(), Decimal::from(20)));
    let sigs = [
        open_call("long", 5, "BTCUSDT", Side::Long, Some(97.0), 10.0),
        open_call("short", 5, "BTCUSDT", Side::Short, Some(103.0), 10.0),
    ];
    let rows = check(&m, &sigs, &acct, &fixed_margin(50), &empty_run());
    let long = &rows[0];
    assert!((long.equity - 3000.0).abs() < 1e-9);
    assert!((long.haircut - 100.0).abs() < 1e-9); // 2000 × 5 %
    assert!((long.usable_margin - 2900.0).abs() < 1e-9);
    assert!((long.volatile_collateral_share - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(long.collateral_correlation, Some(1.0));
    assert_eq!(long.verdict, Verdict::Isolated);
    assert!(
        long.reasons
            .iter()
            .any(|r| r.contains("non-stable collateral")),
        "{:?}",
        long.reasons
    );
    assert_eq!(rows[1].collateral_correlation, Some(-1.0));
    assert_eq!(rows[1].verdict, Verdict::CrossOk, "{:?}", rows[1].reasons);
    // the same long on a USDT-only account is fine
    let rows = check(&m, &sigs[..1], &usdt(3000), &fixed_margin(50), &empty_run());
    assert_eq!(rows[0].verdict, Verdict::CrossOk, "{:?}", rows[0].reasons);
    // a position eating most of the usable margin is poor collateral; beyond it, skip
    let rows = check(&m, &sigs[..1], &usdt(150), &fixed_margin(100), &empty_run());
    assert_eq!(rows[0].verdict, Verdict::Isolated, "{:?}", rows[0].reasons);
    let rows = check(&m, &sigs[..1], &usdt(90), &fixed_margin(100), &empty_run());
    assert_eq!(rows[0].verdict, Verdict::Skip, "{:?}", rows[0].reasons);
}

#[test]
fn tier_and_crossing_into_the_next_bracket() {
    let m = market(&[("BTCUSDT", vec![100.0; 10])]);
    let sigs = [open_call("c", 5, "BTCUSDT", Side::Long, Some(97.0), 10.0)];
    let fixed = |n: i64| {
        Policy::new(
            "p",
            ModeRule::Cross,
            Sizing::FixedNotional(Decimal::from(n)),
        )
    };
    let big = usdt(1_000_000);
    let below = &check(&m, &sigs, &big, &fixed(49_000), &empty_run())[0];
    assert_eq!(below.tier, Some(1));
    assert_eq!(below.next_tier_floor, Some(50_000.0));
    assert!((below.next_tier_distance_pct.unwrap() - 1000.0 / 490.0).abs() < 1e-9);
    assert!(
        below.notes.iter().any(|n| n.contains("below tier 2")),
        "{:?}",
        below.notes
    );
    let above = &check(&m, &sigs, &big, &fixed(51_000), &empty_run())[0];
    assert_eq!(above.tier, Some(2));
    assert_eq!(above.tier_mmr, Some(0.005));
    assert_eq!(above.tier_max_leverage, Some(100.0));
    // the liquidation price uses the bracket at LP: 51,000 notional, LP ~ 90.x → notional ~ 46k
    // falls back into tier 1 (mmr 0.4 %, cum 0)
    let q = 510.0;
    let wb = 5100.0 - 51_000.0 * 0.0005 - q * 97.0 * 0.0005;
    let lp1 = (wb - 51_000.0) / (q * 0.004 - q);
    assert!(
        (above.liq_price.unwrap() - lp1).abs() < 1e-9,
        "{:?} vs {lp1}",
        above.liq_price
    );
    // 200x called: capped by the bracket's 125x
    let mut s = sigs[0].clone();
    s.leverage = Some(200.0);
    let capped = &check(&m, &[s.clone()], &big, &fixed_margin(100), &empty_run())[0];
    assert_eq!(capped.leverage, 125.0, "{:?}", capped.notes);
    // 1,000 of margin at 125x is 125k of notional, in tier 2 (max 100x): 100x
    let capped = &check(&m, &[s], &big, &fixed_margin(1000), &empty_run())[0];
    assert_eq!(capped.leverage, 100.0, "{:?}", capped.notes);
    assert_eq!(capped.tier, Some(2));
    assert!(
        capped.notes[0].contains("capped at 100x"),
        "{:?}",
        capped.notes
    );
}

#[test]
fn funding_headwind_against_the_stop() {
    let mut m = market(&[("BTCUSDT", vec![100.0; 40])]);
    let f = &mut m.series[0].funding;
    for k in 0..4 {
        f.times.push(T0 + k * 8 * H);
        f.rates.push(0.003);
    }
    // 24 h default hold = 3 settlements × 0.3 % = 0.9 % against a 1 % stop: skip for a long
    let sigs = [
        open_call("long", 30, "BTCUSDT", Side::Long, Some(99.0), 5.0),
        open_call("short", 30, "BTCUSDT", Side::Short, Some(101.0), 5.0),
    ];
    let rows = check(&m, &sigs, &usdt(10_000), &fixed_margin(100), &empty_run());
    assert_eq!(rows[0].funding_rate, Some(0.003));
    assert_eq!(rows[0].hold_basis, "default");
    assert!((rows[0].funding_headwind_pct.unwrap() - 0.9).abs() < 1e-9);
    assert!((rows[0].funding_share_of_stop.unwrap() - 0.9).abs() < 1e-9);
    assert_eq!(rows[0].verdict, Verdict::Skip);
    assert!(
        rows[0]
            .reasons
            .iter()
            .any(|r| r.contains("funding headwind"))
    );
    // the short receives it
    assert!((rows[1].funding_headwind_pct.unwrap() + 0.9).abs() < 1e-9);
    assert_eq!(rows[1].verdict, Verdict::CrossOk, "{:?}", rows[1].reasons);
}

#[test]
fn holding_time_from_the_channels_own_history() {
    let m = market(&[("BTCUSDT", vec![100.0; 100]), ("ETHUSDT", vec![10.0; 100])]);
    let a = open_call("a", 0, "BTCUSDT", Side::Long, Some(97.0), 5.0);
    let b = open_call("b", 2, "BTCUSDT", Side::Long, Some(97.0), 5.0);
    let e = open_call("e", 3, "ETHUSDT", Side::Long, Some(9.7), 5.0);
    let sigs = vec![
        a.clone(),
        b.clone(),
        e.clone(),
        update("a", a.time + 10 * H, Action::Close),
        update("b", b.time + 30 * H, Action::MoveStop),
        update("e", e.time + 4 * H, Action::Close),
        open_call("x", 60, "BTCUSDT", Side::Long, Some(97.0), 5.0),
        // an update after x's time must not count
        update("b", b.time + 90 * H, Action::Close),
        open_call("y", 60, "ETHUSDT", Side::Long, Some(9.7), 5.0),
        open_call("z", 1, "ETHUSDT", Side::Long, Some(9.7), 5.0),
    ];
    let rows = check(&m, &sigs, &usdt(10_000), &fixed_margin(100), &empty_run());
    let by = |id: &str| rows.iter().find(|r| r.signal_id == id).unwrap();
    assert_eq!(by("x").hold_basis, "symbol history (2 calls)");
    assert!((by("x").expected_hold_hours - 20.0).abs() < 1e-9);
    assert_eq!(by("y").hold_basis, "symbol history (1 calls)");
    assert!((by("y").expected_hold_hours - 4.0).abs() < 1e-9);
    // z: no earlier ETH call with an update: none on any symbol either
    assert_eq!(by("z").hold_basis, "default");
}

#[test]
fn moving_data_after_the_call_does_not_change_its_row() {
    let n = 200;
    let btc = path(100.0, n, 3);
    let eth: Vec<f64> = path(10.0, n, 4)
        .iter()
        .zip(&btc)
        .map(|(e, b)| e * (b / 100.0).powf(0.8))
        .collect();
    let mut m = market(&[("BTCUSDT", btc), ("ETHUSDT", eth)]);
    for s in &mut m.series {
        for k in 0..n as i64 / 8 {
            s.funding.times.push(T0 + k * 8 * H);
            s.funding.rates.push(0.0001 * ((k % 5) as f64 - 2.0));
        }
    }
    let mut acct = usdt(2_000);
    acct.collateral.push(("BTC".into(), Decimal::new(5, 0)));
    let mut sigs = Vec::new();
    for (k, h) in [20, 45, 70, 95, 110, 130, 150].iter().enumerate() {
        let (symbol, i) = if k % 2 == 0 {
            ("BTCUSDT", 0)
        } else {
            ("ETHUSDT", 1)
        };
        let side = if k % 3 == 0 { Side::Short } else { Side::Long };
        let c = m.series[i].close[*h as usize - 1];
        let stop = c * (1.0 - side.sign() * 0.03);
        let mut s = open_call(&format!("c{k}"), *h, symbol, side, Some(stop), 20.0);
        s.targets = vec![c * (1.0 + side.sign() * 0.02)];
        sigs.push(s.clone());
        sigs.push(update(&s.id, s.time + 7 * H, Action::MoveStop));
    }
    sigs.sort_by_key(|s| s.time);
    let mut policy = Policy::new("p", ModeRule::Cross, Sizing::MarginFraction(0.1));
    policy.leverage = LeverageRule::AsCalled { default: 10.0 };
    let cfg = EngineConfig::default();
    let rows_of = |m: &Market| {
        let b = brackets(m);
        let run = crate::run(m, &b, &sigs, &acct, &policy, &cfg).unwrap();
        assert!(run.trades.len() >= 3, "{}", run.trades.len());
        checklist(
            m,
            &b,
            &sigs,
            &acct,
            &policy,
            &cfg,
            &run,
            &ChecklistConfig::default(),
        )
        .unwrap()
    };
    let before = rows_of(&m);
    assert_eq!(before.len(), 7);
    assert!(
        before.iter().any(|r| r.book_positions > 0),
        "the test needs a book"
    );
    let t = sigs
        .iter()
        .filter(|s| s.action == Action::Open)
        .nth(4)
        .unwrap()
        .time;
    // mutate every bar that had not closed at t, and every funding at or after t
    for s in &mut m.series {
        for j in 0..n {
            if m.times[j] + H > t {
                let k = 1.0 + 0.05 * ((j % 7) as f64 - 3.0);
                s.open[j] *= k;
                s.close[j] *= k * 1.01;
                s.high[j] = s.open[j].max(s.close[j]) * 1.03;
                s.low[j] = s.open[j].min(s.close[j]) * 0.97;
            }
        }
        for (ft, r) in s.funding.times.iter().zip(s.funding.rates.iter_mut()) {
            if *ft >= t {
                *r = 0.01;
            }
        }
    }
    let after = rows_of(&m);
    let mut compared = 0;
    for (a, b) in before.iter().zip(&after) {
        if a.time <= t {
            assert_eq!(a, b, "row of {} changed", a.signal_id);
            compared += 1;
        }
    }
    assert_eq!(compared, 5);
    assert_ne!(
        before.last(),
        after.last(),
        "later rows must see the change"
    );
}

#[test]
fn channel_summary_counts() {
    let m = market(&[("BTCUSDT", vec![100.0; 10]), ("ETHUSDT", vec![10.0; 10])]);
    let sigs = [
        open_call("bad", 5, "BTCUSDT", Side::Long, Some(94.0), 20.0),
        open_call("good", 5, "ETHUSDT", Side::Long, Some(9.7), 20.0),
        open_call("nostop", 6, "ETHUSDT", Side::Short, None, 20.0),
    ];
    let rows = check(&m, &sigs, &usdt(10_000), &fixed_margin(100), &empty_run());
    let mut cross = empty_run();
    let mut victim = trade("good", "ETHUSDT", Side::Long, 1.0, 6, 8);
    victim.exit_reason = ExitReason::Cascade;
    victim.exits.push(Exit {
        time: T0 + 8 * H,
        price: 9.0,
        qty: Decimal::ONE,
        reason: ExitReason::Cascade,
        pnl: Decimal::ZERO,
        fee: Decimal::ZERO,
    });
    cross.trades.push(victim);
    cross.equity.push(EquityPoint {
        time: T0,
        equity: 0.0,
        drawdown: 0.0,
        margin_ratio: 0.0,
        open_positions: 0,
        book_correlation: None,
        correlated_exposure: 0.0,
    });
    let s = channel_summaries(&rows, &[&cross]);
    assert_eq!(s.len(), 1);
    let s = &s[0];
    assert_eq!(
        (s.channel.as_str(), s.calls, s.calls_with_stop),
        ("chan.csv", 3, 2)
    );
    assert_eq!(s.stop_beyond_liq_share, Some(0.5));
    assert!((s.cascade_victim_share.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!((s.cross_ok, s.isolated, s.skip), (1, 2, 0));
    assert!(s.median_safe_leverage.unwrap() > 14.0);
    assert_eq!(channel_summaries(&rows, &[])[0].cascade_victim_share, None);
}

/// Check 6 by hand (ADL on, default cut points 0.001 / 0.005 / 0.02 / 0.05). A 10x BTC long of
/// margin 100 at 100 (qty 10) with its first target at 110:
/// - isolated: uPnL 100 at the target, maintenance 0.4 % × 1 100 = 4.4, score
///   100 / 100 × 4.4 / 200 = 0.022 → quantile 3;
/// - cross, on a 1 200 USDT account holding an ETH short of 50 from 100 now at 80 (uPnL 1 000,
///   maintenance 0.4 % × 4 000 = 16; cross wallet 1 200 − 1 000 = 200): the call scores
///   100 / 200 × (16 + 4.4) / 1 300 = 0.00785 → quantile 2; the ETH short scores
///   1 000 / 200 × 16 / 1 200 = 0.0667 → quantile 4: its 1 000 of profit is 83.3 % of the
///   book's margin, what ADL would take first.
#[test]
fn adl_exposure_at_the_first_target_by_hand() {
    let m = market(&[("BTCUSDT", vec![100.0; 10]), ("ETHUSDT", vec![80.0; 10])]);
    let mut sig = open_call("a", 5, "BTCUSDT", Side::Long, None, 10.0);
    sig.targets = vec![110.0, 120.0];
    let mut cfg = EngineConfig::default();
    let off = checklist(
        &m,
        &brackets(&m),
        std::slice::from_ref(&sig),
        &usdt(1_200),
        &fixed_margin(100),
        &cfg,
        &empty_run(),
        &ChecklistConfig::default(),
    )
    .unwrap();
    assert_eq!(
        off[0].adl_quantile_at_target, None,
        "ADL off: no ADL columns"
    );
    cfg.adl.trigger = crate::config::AdlMode::Rule(crate::config::AdlRule::default());
    let mut iso = fixed_margin(100);
    iso.mode = ModeRule::Isolated;
    let run = |policy: &Policy, book: &RunResult| {
        checklist(
            &m,
            &brackets(&m),
            std::slice::from_ref(&sig),
            &usdt(1_200),
            policy,
            &cfg,
            book,
            &ChecklistConfig::default(),
        )
        .unwrap()
        .remove(0)
    };
    let r = run(&iso, &empty_run());
    assert!((r.adl_score_at_target.unwrap() - 0.022).abs() < 1e-12);
    assert_eq!(r.adl_quantile_at_target, Some(3));
    assert_eq!(r.adl_first_margin_share, None);
    assert!(r.notes.iter().any(|n| n.contains("ADL quantile 3")));
    let mut book = empty_run();
    book.trades
        .push(trade("h", "ETHUSDT", Side::Short, 50.0, 0, 9));
    let r = run(&fixed_margin(100), &book);
    let want = 100.0 / 200.0 * 20.4 / 1_300.0;
    assert!((r.adl_score_at_target.unwrap() - want).abs() < 1e-12);
    assert_eq!(r.adl_quantile_at_target, Some(2));
    assert!((r.adl_first_margin_share.unwrap() - 1_000.0 / 1_200.0).abs() < 1e-12);
}

/// The screened search for the highest safe leverage ([`Sizer::max_safe`]) returns the same bits
/// as deciding every bisection step exactly ([`Sizer::max_safe_exact`]).
mod max_safe_screen {
    use super::*;
    use crate::config::MaintenanceBasis;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn screened_search_equals_the_exact_one(
            long in any::<bool>(),
            price in 0.0001f64..150_000.0,
            stop_frac in 0.0001f64..0.9,
            amount in 1.0f64..5_000_000.0,
            fraction in 0.001f64..1.0,
            kind in 0usize..4,
            fee_pct in 0u32..300,
            maker in any::<bool>(),
            buffer in 0.0f64..0.02,
            equity in 10.0f64..1e7,
            entry_basis in any::<bool>(),
        ) {
            let tiers = binance_default_brackets()
                .table(&sym("BTCUSDT"), i64::MAX)
                .unwrap()
                .to_vec();
            let amount = Decimal::from_f64_retain(amount).unwrap().round_dp(2);
            let sizing = match kind {
                0 => Sizing::FixedMargin(amount),
                1 => Sizing::FixedNotional(amount),
                2 => Sizing::MarginFraction(fraction),
                _ => Sizing::RiskFraction(fraction / 10.0),
            };
            let policy = Policy::new("p", ModeRule::Isolated, sizing);
            let mut cfg = EngineConfig::default();
            if entry_basis {
                cfg.exchange.maintenance_basis = MaintenanceBasis::Entry;
            }
            let side = if long { Side::Long } else { Side::Short };
            let stop = price * (1.0 - side.sign() * stop_frac);
            let sizer = Sizer {
                tiers: &tiers,
                policy: &policy,
                cfg: &cfg,
                fee_mult: Decimal::new(i64::from(fee_pct), 2),
                maker,
                side,
                price,
                stop: Some(stop),
                equity,
                price_dec: dec(price),
                stop_dec: Some(dec(stop)),
            };
            prop_assert_eq!(
                sizer.max_safe(stop, buffer).map(f64::to_bits),
                sizer.max_safe_exact(stop, buffer).map(f64::to_bits)
            );
        }
    }
}
