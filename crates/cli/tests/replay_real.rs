//! Replay on real Binance data around the 2025-10-10 cascade: the intrabar bounds must order the
//! outcomes (adverse liquidates at least as much and no later than close; 5m refinement in between).

use ringfence_data::load::{LoadOptions, attach_lower, load_dir};
use ringfence_model::{
    Action, BracketBook, EntrySpec, ExitReason, RunResult, Side, SignalEvent, Symbol,
};
use ringfence_sim::{Account, EngineConfig, Intrabar, LeverageRule, ModeRule, Policy, Sizing};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/harthor_binance_futures_2025"
);
const TIERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/freqtrade/binance_leverage_tiers.json"
);
/// 2025-10-08T00:00Z and 2025-10-14T00:00Z.
const START: i64 = 1_759_881_600_000;
const END: i64 = 1_760_400_000_000;
const H: i64 = 3_600_000;

/// The shared data directory, or `None` (with a note) outside CI when it is missing.
fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(DIR);
    if dir.is_dir() && Path::new(TIERS).is_file() {
        return Some(dir);
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{DIR} missing in CI"
    );
    eprintln!("note: {DIR} missing, test skipped");
    None
}

fn signals(symbols: &[Symbol]) -> Vec<SignalEvent> {
    // leveraged longs opened on 2025-10-09 and 2025-10-10, no stops: what the crash does to them
    symbols
        .iter()
        .enumerate()
        .map(|(k, s)| SignalEvent {
            id: format!("L{k}").into(),
            time: START + (30 + 6 * k as i64) * H,
            action: Action::Open,
            symbol: Some(s.clone()),
            side: Some(Side::Long),
            entry: EntrySpec::Market,
            stop: None,
            targets: vec![],
            leverage: Some([10.0, 15.0, 20.0, 12.0, 8.0][k % 5]),
            margin_mode: None,
            ladder: Vec::new(),
            leverage_high: None,
            msg_id: None,
            source: "replay".into(),
            line: k + 2,
        })
        .collect()
}

fn liquidated(r: &RunResult) -> Vec<(String, i64)> {
    r.trades
        .iter()
        .filter(|t| matches!(t.exit_reason, ExitReason::Liquidation | ExitReason::Cascade))
        .map(|t| (t.signal_id.to_string(), t.close_time))
        .collect()
}

#[test]
fn intrabar_bounds_order_the_crash_outcomes() {
    let Some(dir) = data_dir() else { return };
    let symbols: Vec<Symbol> = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT"]
        .iter()
        .map(|s| Symbol::parse(s).unwrap())
        .collect();
    let opts = LoadOptions {
        start: Some(START),
        end: Some(END),
        ..LoadOptions::default()
    };
    let market = load_dir(&dir, "1h", Some(&symbols), &opts).expect("1h data loads");
    let lower = load_dir(&dir, "5m", Some(&symbols), &opts).expect("5m data loads");
    let mut refined_market = market.clone();
    attach_lower(&mut refined_market, lower).expect("5m lines up under 1h");
    let tiers = ringfence_data::brackets::load_bracket_file(Path::new(TIERS), i64::MIN).unwrap();
    let book = BracketBook::new(vec![tiers.snapshot]);
    let sigs = signals(&symbols);
    let account = Account::usdt("small", Decimal::from(1000));

    for mode in [ModeRule::Isolated, ModeRule::Cross] {
        let mut policy = Policy::new("p", mode.clone(), Sizing::FixedMargin(Decimal::from(150)));
        policy.leverage = LeverageRule::AsCalled { default: 10.0 };
        let run = |m: &ringfence_model::Market, intrabar: Intrabar| {
            let cfg = EngineConfig {
                intrabar,
                band: true,
                ..EngineConfig::default()
            };
            ringfence_sim::run(m, &book, &sigs, &account, &policy, &cfg).unwrap()
        };
        let adverse = run(&market, Intrabar::Adverse);
        let close = run(&market, Intrabar::Close);
        let refined = run(&refined_market, Intrabar::Adverse);
        assert_eq!(
            adverse.trades.len(),
            symbols.len(),
            "{mode:?}: {:?}",
            adverse.skipped
        );
        let (a, c, r) = (
            liquidated(&adverse),
            liquidated(&close),
            liquidated(&refined),
        );
        eprintln!("{mode:?}: adverse {a:?}\n close {c:?}\n refined {r:?}");
        assert!(
            !a.is_empty(),
            "{mode:?}: the 2025-10-10 crash liquidates leveraged longs"
        );
        assert!(a.len() >= c.len(), "{mode:?}: adverse {a:?} vs close {c:?}");
        assert!(
            a.len() >= r.len() && r.len() >= c.len(),
            "{mode:?}: refined {r:?} outside [{c:?}, {a:?}]"
        );
        // every position liquidated under close is liquidated under adverse, no later
        for (id, t) in &c {
            let ta = a.iter().find(|(x, _)| x == id).map(|(_, t)| *t);
            assert!(
                ta.is_some_and(|ta| ta <= *t),
                "{mode:?}: {id} at {t} under close, {ta:?} under adverse"
            );
        }
        // refinement lands between the bounds in time too (compared by 1h bar)
        let bar = |t: i64| t - t.rem_euclid(H);
        for (id, tr) in &r {
            let ta = a.iter().find(|(x, _)| x == id).map(|(_, t)| bar(*t));
            assert!(
                ta.is_some_and(|ta| ta <= bar(*tr)),
                "{mode:?}: {id} refined at {tr}, adverse {ta:?}"
            );
            if let Some((_, tc)) = c.iter().find(|(x, _)| x == id) {
                assert!(
                    bar(*tr) <= bar(*tc),
                    "{mode:?}: {id} refined at {tr}, close at {tc}"
                );
            }
        }
        assert_eq!(
            adverse.liquidation_band,
            Some((adverse.summary.liquidations, close.summary.liquidations))
        );
    }
}
