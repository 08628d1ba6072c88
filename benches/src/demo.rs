//! The demo scenario (`scenarios/demo.toml`) assembled from library calls, for benchmarks.
//!
//! This mirrors what `ringfence run scenarios/demo.toml` does before and during the runs (the CLI's
//! scenario parser lives in the binary crate): the demo market at 1h with its 5m bars attached for
//! refinement, the demo bracket file, the demo channel, 2 accounts × 5 policies × 4 sweep points.
//! If the demo scenario changes, the benchmark follows only by editing this file.

use ringfence_data::DataError;
use ringfence_data::load::{LoadOptions, attach_lower, load_dir};
use ringfence_model::{BracketBook, MarginMode, Market, Side, SignalEvent, Symbol};
use ringfence_sim::{
    Account, BackgroundPosition, EngineConfig, Execution, Intrabar, LeverageRule, ModeRule, Policy,
    Sizing, StopDiscipline,
};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

/// The workspace root (the parent of `benches/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Everything the demo runs need, loaded.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The 1h market with 5m bars attached.
    pub market: Market,
    /// The demo bracket tables.
    pub brackets: BracketBook,
    /// The demo channel.
    pub signals: Vec<SignalEvent>,
    /// Every (account, policy) job of the scenario, sweep points expanded.
    pub jobs: Vec<(Account, Policy)>,
    /// The scenario's engine settings.
    pub cfg: EngineConfig,
}

/// 2024-10-01T00:00:00Z, the demo bracket file's effective date.
const BRACKETS_FROM: i64 = 1_727_740_800_000;

/// Loads the demo market (1h + 5m), brackets and channel from the repository.
///
/// # Errors
/// Any [`DataError`] of the demo files (missing or malformed).
pub fn load_demo(root: &Path) -> Result<Demo, DataError> {
    let dir = root.join("datasets/demo");
    let opts = LoadOptions::default();
    let mut market = load_dir(&dir, "1h", None, &opts)?;
    let lower = load_dir(&dir, "5m", None, &opts)?;
    attach_lower(&mut market, lower)?;
    let brackets =
        ringfence_data::brackets::load_bracket_file(&dir.join("brackets.json"), BRACKETS_FROM)?;
    let brackets = BracketBook::new(vec![brackets.snapshot]);
    let signals =
        ringfence_data::signals::load_signals(&root.join("scenarios/demo-signals.csv"), None)?
            .events;
    Ok(Demo {
        market,
        brackets,
        signals,
        jobs: demo_jobs(),
        cfg: demo_config(),
    })
}

/// The demo scenario's `[exchange]`, `[execution]` and `[simulation]`.
pub fn demo_config() -> EngineConfig {
    EngineConfig {
        execution: Execution {
            entry_delay_ms: 2 * 60_000,
            slippage_bps: 5.0,
            zone_expiry_ms: Some(24 * 3_600_000),
        },
        intrabar: Intrabar::Adverse,
        band: true,
        refine: true,
        correlation_window: 72,
        ..EngineConfig::default()
    }
}

/// The demo's 2 accounts × 5 policies × (max_leverage 10, 25) × (margin_fraction 0.05, 0.20).
pub fn demo_jobs() -> Vec<(Account, Policy)> {
    let small = Account::usdt("small", Decimal::from(1000));
    let holder = Account {
        name: "btc-holder".into(),
        collateral: vec![
            ("USDT".into(), Decimal::from(2000)),
            ("BTC".into(), Decimal::new(5, 2)),
        ],
        background: vec![BackgroundPosition {
            symbol: Symbol::parse("BTCUSDT").expect("valid symbol"),
            side: Side::Long,
            qty: Decimal::new(5, 2),
            leverage: Decimal::from(5),
            mode: MarginMode::Cross,
            open_time: i64::MIN,
        }],
        fee_multiplier: Decimal::ONE,
    };
    let base = |name: &str, mode: ModeRule, honor: bool| {
        let mut p = Policy::new(name, mode, Sizing::MarginFraction(0.05));
        p.breakeven_after_first_target = honor;
        if !honor {
            p.stops = StopDiscipline::Ignore;
        }
        p
    };
    let policies = [
        base("isolated", ModeRule::Isolated, true),
        base("cross", ModeRule::Cross, true),
        base(
            "hybrid",
            ModeRule::HybridCorrelation {
                max_correlation: 0.6,
                window_bars: 72,
            },
            true,
        ),
        base("isolated-nostop", ModeRule::Isolated, false),
        base("cross-nostop", ModeRule::Cross, false),
    ];
    let mut jobs = Vec::new();
    for account in [&small, &holder] {
        for p in &policies {
            for lev in [10.0, 25.0] {
                for frac in [0.05, 0.20] {
                    let mut p = p.clone();
                    p.leverage = LeverageRule::Capped(lev);
                    p.sizing = Sizing::MarginFraction(frac);
                    p.name = format!("{} lev={lev} frac={frac}", p.name);
                    jobs.push((account.clone(), p));
                }
            }
        }
    }
    jobs
}
