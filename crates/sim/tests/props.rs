//! Property tests of the invariants of DESIGN.md §5 "Determinism and invariants".

mod common;

use common::{H, T0, brackets, conservation_gap};
use proptest::prelude::*;
use ringfence_model::{
    Action, EntrySpec, ExitReason, Funding, MarginMode, MarkColumns, Market, RunResult, Side,
    SignalEvent, Symbol, SymbolSeries,
};
use ringfence_sim::{
    Account, AdlConfig, AdlEventSpec, AdlMode, AdlRule, EngineConfig, Intrabar, LeverageRule,
    LiquidationProcess, ModeRule, Policy, Sizing, StopDiscipline,
};
use rust_decimal::Decimal;

const BASES: [&str; 3] = ["BTC", "ETH", "SOL"];
const BARS: usize = 40;

/// A random-walk market with wicks, a mark that lags wicks, and funding every 8 bars.
fn arb_market() -> impl Strategy<Value = Market> {
    let sym = prop::collection::vec(
        (
            -0.08f64..0.08,
            0.0f64..0.12,
            0.0f64..0.12,
            0.3f64..1.0,
            -0.002f64..0.002,
        ),
        BARS,
    );
    prop::collection::vec(sym, BASES.len()).prop_map(|all| {
        let mut series = Vec::new();
        for (k, steps) in all.into_iter().enumerate() {
            let mut s = SymbolSeries {
                symbol: Symbol::parse(&format!("{}USDT", BASES[k])).unwrap(),
                first: 0,
                end: BARS,
                open: vec![],
                high: vec![],
                low: vec![],
                close: vec![],
                volume: None,
                mark: Some(MarkColumns::default()),
                funding: Funding::default(),
                clean: false,
            };
            let mut px = 100.0 * (k as f64 + 1.0);
            for (i, (ret, up, down, lag, rate)) in steps.into_iter().enumerate() {
                // an occasional gap at the open
                let open = if i % 7 == 3 { px * (1.0 + ret) } else { px };
                let close = open * (1.0 + ret);
                let high = open.max(close) * (1.0 + up);
                let low = open.min(close) * (1.0 - down).max(0.05);
                s.open.push(open);
                s.high.push(high);
                s.low.push(low);
                s.close.push(close);
                let m = s.mark.as_mut().unwrap();
                m.open.push(open);
                m.high
                    .push(open.max(close) + (high - open.max(close)) * lag);
                m.low.push(open.min(close) - (open.min(close) - low) * lag);
                m.close.push(close);
                if i % 8 == 0 {
                    s.funding.times.push(T0 + i as i64 * H);
                    s.funding.rates.push(rate);
                }
                px = close;
            }
            s.clean = s.all_bars_clean();
            series.push(s);
        }
        series.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Market {
            timeframe_ms: H,
            times: (0..BARS as i64).map(|i| T0 + i * H).collect(),
            series,
            lower: None,
            warnings: vec![],
        }
    })
}

/// Open signals (hour, symbol, long?, stop distance or none, target distance or none, leverage).
fn arb_signals() -> impl Strategy<Value = Vec<SignalEvent>> {
    prop::collection::vec(
        (
            0i64..30,
            0usize..3,
            any::<bool>(),
            prop::option::of(0.01f64..0.2),
            prop::option::of(0.01f64..0.2),
            2.0f64..60.0,
            0u8..4,
        ),
        1..8,
    )
    .prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(n, (hour, k, long, stop, tp, lev, kind))| {
                let side = if long { Side::Long } else { Side::Short };
                let base = 100.0 * (k as f64 + 1.0);
                // stops and targets relative to the symbol's starting price scale, far enough to
                // stay on the right side in most paths
                let s = side.sign();
                SignalEvent {
                    id: format!("s{n}").into(),
                    time: T0 + hour * H,
                    action: Action::Open,
                    symbol: Some(Symbol::parse(&format!("{}USDT", BASES[k])).unwrap()),
                    side: Some(side),
                    entry: if kind == 0 {
                        EntrySpec::Zone {
                            low: base * 0.9,
                            high: base * 0.97,
                        }
                    } else {
                        EntrySpec::Market
                    },
                    stop: stop.map(|d| base * (1.0 - s * (0.3 + d))),
                    targets: tp
                        .map(|d| vec![base * (1.0 + s * d), base * (1.0 + s * 2.0 * d)])
                        .unwrap_or_default(),
                    leverage: Some(lev),
                    margin_mode: None,
                    ladder: Vec::new(),
                    leverage_high: None,
                    msg_id: None,
                    source: "prop".into(),
                    line: n + 1,
                }
            })
            .collect()
    })
}

fn policy(mode: ModeRule, margin: i64) -> Policy {
    let mut p = Policy::new("p", mode, Sizing::FixedMargin(Decimal::from(margin)));
    p.leverage = LeverageRule::AsCalled { default: 10.0 };
    p
}

fn cfg(model: u8, partial: bool) -> EngineConfig {
    let mut c = EngineConfig {
        intrabar: [Intrabar::Adverse, Intrabar::Close, Intrabar::Ohlc][model as usize % 3],
        ..EngineConfig::default()
    };
    if partial {
        c.exchange.liquidation = LiquidationProcess::BybitTiers;
    }
    c.execution.slippage_bps = 2.0;
    c
}

/// One signal per symbol, a wallet large enough that margin never runs short: each isolated
/// position's exits, funding and clearance are the same alone as in the book.
fn isolated_positions_are_independent(
    m: &Market,
    sigs: Vec<SignalEvent>,
    c: &EngineConfig,
) -> Result<(), TestCaseError> {
    let mut seen = std::collections::BTreeSet::new();
    let sigs: Vec<SignalEvent> = sigs
        .into_iter()
        .filter(|s| seen.insert(s.symbol.clone()))
        .collect();
    let account = Account::usdt("a", Decimal::from(1_000_000));
    let (b, pol) = (brackets(m), policy(ModeRule::Isolated, 100));
    let together = ringfence_sim::run(m, &b, &sigs, &account, &pol, c).unwrap();
    for s in &sigs {
        let alone = ringfence_sim::run(m, &b, std::slice::from_ref(s), &account, &pol, c).unwrap();
        let a: Vec<_> = alone
            .trades
            .iter()
            .map(|t| (&t.exits, t.funding, t.clearance_fee))
            .collect();
        let t: Vec<_> = together
            .trades
            .iter()
            .filter(|t| t.signal_id == s.id)
            .map(|t| (&t.exits, t.funding, t.clearance_fee))
            .collect();
        prop_assert_eq!(a, t);
    }
    Ok(())
}

fn shortfall_of(r: &RunResult, id: &str) -> Decimal {
    r.liquidations
        .iter()
        .filter(|l| l.mode == MarginMode::Isolated && &*l.positions[0].signal_id == id)
        .map(|l| l.insurance_shortfall)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn money_is_conserved(m in arb_market(), sigs in arb_signals(), cross in any::<bool>(),
                          model in 0u8..3, partial in any::<bool>(), wallet in 100i64..3000) {
        let mode = if cross { ModeRule::Cross } else { ModeRule::Isolated };
        let account = Account::usdt("a", Decimal::from(wallet));
        let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy(mode, 100), &cfg(model, partial)).unwrap();
        prop_assert_eq!(conservation_gap(&r, Decimal::from(wallet), Decimal::ZERO), Decimal::ZERO);
        prop_assert!(r.summary.final_equity >= Decimal::ZERO);
    }

    #[test]
    fn isolated_never_loses_more_than_its_margin(m in arb_market(), sigs in arb_signals(), model in 0u8..3) {
        let account = Account::usdt("a", Decimal::from(2000));
        let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy(ModeRule::Isolated, 100), &cfg(model, false)).unwrap();
        for t in &r.trades {
            // the trader's loss on the position, fees aside, after the insurance fund's share
            let loss = -(t.pnl - t.clearance_fee + t.funding + shortfall_of(&r, &t.signal_id));
            prop_assert!(loss <= t.margin + t.margin_added, "{} lost {} with margin {}: {:?} {:?}", t.signal_id, loss, t.margin, t, r.liquidations);
        }
    }

    #[test]
    fn an_isolated_liquidation_changes_no_other_position(m in arb_market(), sigs in arb_signals(), model in 0u8..3) {
        isolated_positions_are_independent(&m, sigs, &cfg(model, false))?;
    }

    #[test]
    fn one_position_isolated_and_cross_liquidate_alike(m in arb_market(), sigs in arb_signals(), model in 0u8..3) {
        // a whole position (no partial exits: a target releases isolated margin to the wallet)
        let mut sig = vec![sigs[0].clone()];
        sig[0].targets.clear();
        let mut c = cfg(model, false);
        c.exchange.taker_fee = Decimal::ZERO;
        c.exchange.maker_fee = Decimal::ZERO;
        c.execution.slippage_bps = 0.0;
        let b = brackets(&m);
        let mut iso = policy(ModeRule::Isolated, 100);
        iso.stops = StopDiscipline::Ignore;
        iso.leverage = LeverageRule::Fixed(20.0);
        let mut cross = iso.clone();
        cross.mode = ModeRule::Cross;
        let ri = ringfence_sim::run(&m, &b, &sig, &Account::usdt("a", Decimal::from(100)), &iso, &c).unwrap();
        let rc = ringfence_sim::run(&m, &b, &sig, &Account::usdt("a", Decimal::from(100)), &cross, &c).unwrap();
        prop_assert_eq!(ri.trades.len(), rc.trades.len());
        for (a, b) in ri.trades.iter().zip(&rc.trades) {
            prop_assert_eq!(a.exit_reason, b.exit_reason, "{:?}\n{:?}\n{:?}", a, b, sig);
            prop_assert_eq!(a.close_time, b.close_time);
            let (la, lb) = (a.liq_price_at_entry.unwrap_or(0.0), b.liq_price_at_entry.unwrap_or(0.0));
            prop_assert!((la - lb).abs() <= 1e-9 * la.abs().max(1.0), "LP {} vs {}", la, lb);
            if a.exit_reason == ExitReason::Liquidation {
                prop_assert!((a.exit_price - b.exit_price).abs() <= 1e-6 * a.exit_price, "{} vs {}", a.exit_price, b.exit_price);
            }
        }
    }

    #[test]
    fn liquidation_only_when_margin_balance_is_at_or_below_maintenance(
        m in arb_market(), sigs in arb_signals(), cross in any::<bool>(), model in 0u8..3, partial in any::<bool>()) {
        let mode = if cross { ModeRule::Cross } else { ModeRule::Isolated };
        let account = Account::usdt("a", Decimal::from(400));
        let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy(mode, 100), &cfg(model, partial)).unwrap();
        for l in &r.liquidations {
            let tol = Decimal::new(1, 6) * (Decimal::ONE + l.maintenance.abs());
            prop_assert!(l.margin_balance <= l.maintenance + tol, "liquidated with {} > {}", l.margin_balance, l.maintenance);
        }
        // every bar end is a checked point: nothing still open may sit at or under maintenance
        for e in &r.equity {
            prop_assert!(e.margin_ratio < 1.0 + 1e-9, "margin ratio {} at {} without liquidation", e.margin_ratio, e.time);
        }
    }

    #[test]
    fn a_range_index_changes_no_result(m in arb_market(), sigs in arb_signals(), cross in any::<bool>(),
                                       model in 0u8..3, wallet in 100i64..3000) {
        let mode = if cross { ModeRule::Cross } else { ModeRule::Isolated };
        let account = Account::usdt("a", Decimal::from(wallet));
        let (b, p, c) = (brackets(&m), policy(mode, 100), cfg(model, false));
        let plain = ringfence_sim::simulate(&m, &b, &sigs, &account, &p, &c).unwrap();
        // filled as it goes (twice: cold, then warm), and filled beforehand
        let lazy = ringfence_sim::RangeIndex::new(&m);
        let full = ringfence_sim::RangeIndex::new(&m);
        full.fill();
        for ranges in [&lazy, &lazy, &full] {
            let r = ringfence_sim::simulate_in(ranges, &b, &sigs, &account, &p, &c).unwrap();
            prop_assert_eq!(format!("{plain:?}"), format!("{r:?}"));
        }
    }

    #[test]
    fn run_all_is_independent_of_thread_count(m in arb_market(), sigs in arb_signals()) {
        let jobs: Vec<(Account, Policy)> = [100i64, 300, 1000]
            .iter()
            .flat_map(|&w| [ModeRule::Isolated, ModeRule::Cross].map(|mode| (Account::usdt(&format!("w{w}"), Decimal::from(w)), policy(mode, 100))))
            .collect();
        let b = brackets(&m);
        let mut c = cfg(0, false);
        c.band = true;
        let one = ringfence_sim::run_all(&m, &b, &sigs, &jobs, &c, Some(1), |_| {}).unwrap();
        for threads in [2, 3] {
            let many = ringfence_sim::run_all(&m, &b, &sigs, &jobs, &c, Some(threads), |_| {}).unwrap();
            prop_assert_eq!(format!("{one:?}"), format!("{many:?}"));
        }
        for r in &one {
            let (adv, close) = r.liquidation_band.unwrap();
            prop_assert_eq!(adv, r.summary.liquidations);
            let _ = close;
        }
    }
}

/// ADL by a stress rule tight enough to fire in most random markets (a 3 % move within two
/// hours), every quantile taking `fraction` of a position.
fn adl_rule(fraction: f64) -> AdlConfig {
    AdlConfig {
        trigger: AdlMode::Rule(AdlRule {
            move_pct: 3.0,
            window_ms: 2 * H,
            fractions: [fraction; 5],
        }),
        quantile_thresholds: [0.0; 4],
    }
}

/// ADL replayed from events: at `hour`, `share` of side `long` of symbol `k`.
fn adl_data(events: &[(i64, usize, bool, f64)]) -> AdlConfig {
    AdlConfig {
        trigger: AdlMode::Data(
            events
                .iter()
                .enumerate()
                .map(|(n, &(hour, k, long, share))| AdlEventSpec {
                    time: T0 + hour * H,
                    symbol: Symbol::parse(&format!("{}USDT", BASES[k])).unwrap(),
                    side: if long { Side::Long } else { Side::Short },
                    share,
                    price: None,
                    source: format!("prop row {}", n + 2),
                })
                .collect(),
        ),
        quantile_thresholds: AdlConfig::DEFAULT_THRESHOLDS,
    }
}

fn arb_adl() -> impl Strategy<Value = AdlConfig> {
    prop_oneof![
        (0.1f64..=1.0).prop_map(adl_rule),
        prop::collection::vec((0i64..40, 0usize..3, any::<bool>(), 0.05f64..=1.0), 1..6)
            .prop_map(|e| adl_data(&e)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn adl_only_closes_profitable_positions_without_fee(m in arb_market(), sigs in arb_signals(),
            cross in any::<bool>(), model in 0u8..3, adl in arb_adl()) {
        let mode = if cross { ModeRule::Cross } else { ModeRule::Isolated };
        let mut c = cfg(model, false);
        c.adl = adl;
        let account = Account::usdt("a", Decimal::from(2000));
        let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy(mode, 100), &c).unwrap();
        for a in &r.adl {
            prop_assert!(a.pnl > Decimal::ZERO, "ADL took a losing position: {:?}", a);
            prop_assert!(a.fraction > 0.0 && a.fraction <= 1.0);
        }
        let legs: Vec<_> = r.trades.iter().flat_map(|t| &t.exits).filter(|e| e.reason == ExitReason::Adl).collect();
        prop_assert_eq!(legs.len(), r.adl.len());
        for e in legs {
            prop_assert!(e.pnl > Decimal::ZERO && e.fee.is_zero(), "{:?}", e);
        }
        prop_assert!(r.adl_off_final_equity.is_some());
    }

    #[test]
    fn money_is_conserved_with_adl(m in arb_market(), sigs in arb_signals(), cross in any::<bool>(),
            model in 0u8..3, wallet in 100i64..3000, adl in arb_adl()) {
        let mode = if cross { ModeRule::Cross } else { ModeRule::Isolated };
        let mut c = cfg(model, false);
        c.adl = adl;
        let account = Account::usdt("a", Decimal::from(wallet));
        let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy(mode, 100), &c).unwrap();
        // start + realised PnL (ADL closes included) − fees + funding − clearance + insurance
        prop_assert_eq!(conservation_gap(&r, Decimal::from(wallet), Decimal::ZERO), Decimal::ZERO);
        prop_assert!(r.summary.final_equity >= Decimal::ZERO);
        // the ADL closes are part of the trades' realised PnL, leg by leg
        let adl_pnl: Decimal = r.adl.iter().map(|a| a.pnl).sum();
        let leg_pnl: Decimal = r.trades.iter().flat_map(|t| &t.exits).filter(|e| e.reason == ExitReason::Adl).map(|e| e.pnl).sum();
        prop_assert_eq!(adl_pnl, leg_pnl);
    }

    #[test]
    fn with_adl_isolated_positions_stay_independent(m in arb_market(), sigs in arb_signals(),
            model in 0u8..3, adl in arb_adl()) {
        let mut c = cfg(model, false);
        c.adl = adl;
        isolated_positions_are_independent(&m, sigs, &c)?;
    }

    #[test]
    fn adl_that_takes_nothing_changes_nothing(m in arb_market(), sigs in arb_signals(),
            cross in any::<bool>(), model in 0u8..3) {
        // the rule fires and its events are walked, but every quantile keeps its position
        let mode = if cross { ModeRule::Cross } else { ModeRule::Isolated };
        let account = Account::usdt("a", Decimal::from(1500));
        let off = cfg(model, false);
        let mut on = off.clone();
        on.adl = adl_rule(0.0);
        let (b, pol) = (brackets(&m), policy(mode, 100));
        let r_off = ringfence_sim::run(&m, &b, &sigs, &account, &pol, &off).unwrap();
        let mut r_on = ringfence_sim::run(&m, &b, &sigs, &account, &pol, &on).unwrap();
        prop_assert!(r_on.adl.is_empty());
        prop_assert_eq!(r_on.adl_off_final_equity, Some(r_off.summary.final_equity));
        r_on.adl_off_final_equity = None;
        prop_assert_eq!(r_on, r_off);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// DESIGN.md §5: equity is floored at zero, for accounts with non-USDT collateral too. A cross
    /// liquidation that leaves the USDT wallet negative repays it from the collateral at once, so
    /// a collateral that keeps falling after the book is closed cannot take equity below zero.
    #[test]
    fn equity_with_collateral_never_goes_below_zero(m in arb_market(), sigs in arb_signals(),
            model in 0u8..3, partial in any::<bool>(), wallet in 0i64..400,
            btc in 0.2f64..4.0, eth in 0.0f64..1.0) {
        let mut account = Account::usdt("a", Decimal::from(wallet));
        account.collateral.push(("BTC".into(), Decimal::from_f64_retain(btc).unwrap().round_dp(4)));
        account.collateral.push(("ETH".into(), Decimal::from_f64_retain(eth).unwrap().round_dp(4)));
        let r = ringfence_sim::run(&m, &brackets(&m), &sigs, &account, &policy(ModeRule::Cross, 100), &cfg(model, partial)).unwrap();
        for e in &r.equity {
            prop_assert!(e.equity >= -1e-6, "equity {} at {}\n{}\n{:?}", e.equity, (e.time - T0) / H, common::render(&r), r.equity.iter().map(|e| ((e.time - T0) / H, e.equity)).collect::<Vec<_>>());
        }
        prop_assert!(r.summary.final_equity >= Decimal::new(-1, 6), "final {}", r.summary.final_equity);
    }
}
