//! Synthetic, seeded workloads for the performance harness: a market with many symbols and a
//! channel that keeps many positions open at once.
//!
//! The market is a random walk with a common factor (so cross books move together), wicks, a mark
//! price that lags the wicks, and optional funding settlements. Every symbol covers the whole grid.
//! Everything is deterministic for a seed.

use ringfence_model::{
    Action, Bracket, BracketBook, BracketSnapshot, EntrySpec, Funding, MarkColumns, Market, Side,
    SignalEvent, Symbol, SymbolSeries, TimestampMs,
};
use ringfence_sim::{
    Account, BINANCE_LATE_2024_FROM, EngineConfig, Execution, Intrabar, LeverageRule, ModeRule,
    Policy, Sizing, binance_default_brackets,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// 2025-01-01T00:00:00Z: the first bar of every synthetic market.
pub const T0: TimestampMs = 1_735_689_600_000;
/// One hour in ms: the synthetic bar length.
pub const HOUR: TimestampMs = 3_600_000;

/// SplitMix64: a tiny deterministic generator (no dependency, same stream on every platform).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Shape of a synthetic market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketSpec {
    /// Number of symbols (`S000USDT`, `S001USDT`, ...).
    pub symbols: usize,
    /// Number of hourly bars.
    pub bars: usize,
    /// Funding settlement every this many bars (`None`: no funding data).
    pub funding_every: Option<usize>,
    /// Seed.
    pub seed: u64,
}

/// The symbol name of synthetic symbol `k`.
pub fn symbol_name(k: usize) -> Symbol {
    Symbol::parse(&format!("S{k:03}USDT")).expect("synthetic symbols are alphanumeric")
}

/// Generates the market of `spec` (hourly bars from [`T0`], last and mark candles, funding).
pub fn market(spec: &MarketSpec) -> Market {
    let mut rng = Rng::new(spec.seed);
    let n = spec.bars;
    let factor: Vec<f64> = (0..n).map(|_| rng.normal() * 0.004).collect();
    let mut series = Vec::with_capacity(spec.symbols);
    for k in 0..spec.symbols {
        let beta = 0.6 + 0.8 * rng.uniform();
        let idio = 0.002 + 0.004 * rng.uniform();
        let mut px = 10.0 * (1.0 + k as f64);
        let mut s = SymbolSeries {
            symbol: symbol_name(k),
            first: 0,
            end: n,
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: None,
            mark: Some(MarkColumns {
                open: Vec::with_capacity(n),
                high: Vec::with_capacity(n),
                low: Vec::with_capacity(n),
                close: Vec::with_capacity(n),
            }),
            funding: Funding::default(),
            clean: false,
        };
        let mark = s.mark.as_mut().expect("set above");
        for (i, f) in factor.iter().enumerate() {
            let ret = beta * f + idio * rng.normal();
            let open = px;
            let close = (open * ret.exp()).max(1e-6);
            let top = open.max(close);
            let bottom = open.min(close);
            let up = top * (0.003 * rng.normal().abs());
            let down = bottom * (0.003 * rng.normal().abs());
            s.open.push(open);
            s.close.push(close);
            s.high.push(top + up);
            s.low.push((bottom - down).max(bottom * 0.5));
            // the mark follows the last price but only part of its wicks
            mark.open.push(open);
            mark.close.push(close);
            mark.high.push(top + 0.6 * up);
            mark.low.push((bottom - 0.6 * down).max(bottom * 0.5));
            if let Some(every) = spec.funding_every
                && i % every == 0
            {
                s.funding.times.push(T0 + i as TimestampMs * HOUR);
                s.funding.rates.push(0.0001 + 0.0002 * rng.normal());
            }
            px = close;
        }
        // what a loader knows from its validation (checked, not assumed)
        s.clean = s.all_bars_clean();
        series.push(s);
    }
    Market {
        timeframe_ms: HOUR,
        times: (0..n as TimestampMs).map(|i| T0 + i * HOUR).collect(),
        series,
        lower: None,
        warnings: Vec::new(),
    }
}

/// The Binance late-2024 BTCUSDT table for every symbol of `market`.
pub fn brackets(market: &Market) -> BracketBook {
    let btc = Symbol::parse("BTCUSDT").expect("valid symbol");
    let book = binance_default_brackets();
    let table: Vec<Bracket> = book.snapshots()[0].tables[&btc].clone();
    let tables: BTreeMap<Symbol, Vec<Bracket>> = market
        .series
        .iter()
        .map(|s| (s.symbol.clone(), table.clone()))
        .collect();
    BracketBook::new(vec![BracketSnapshot {
        effective_from: BINANCE_LATE_2024_FROM,
        source: "synthetic: binance BTCUSDT late 2024 for every symbol".into(),
        tables,
    }])
}

/// How a channel's calls on one symbol look.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Style {
    stop: f64,
    targets: [f64; 2],
    leverage: f64,
    every: usize,
}

/// The channel of the isolated-heavy and cross-heavy workloads: on every symbol, market calls at a
/// regular pace (a call while the symbol is still open is skipped by the engine, one-way mode).
///
/// `active_share` of the symbols get tight calls that stop out, take profit or liquidate within tens
/// of bars (called again every 40–80 bars); the rest get wide, low-leverage calls that stay open
/// for thousands of bars, so most of the book is open most of the time.
pub fn channel(market: &Market, active_share: f64, seed: u64) -> Vec<SignalEvent> {
    let mut rng = Rng::new(seed ^ 0xC0FF_EE00);
    let n = market.len();
    let mut out = Vec::new();
    for (k, s) in market.series.iter().enumerate() {
        let active = rng.uniform() < active_share;
        let style = if active {
            // about a third of the active calls have their stop beyond the liquidation price
            let lev = [10.0, 20.0, 50.0][rng.next_u64() as usize % 3];
            Style {
                stop: 0.02 + 0.02 * rng.uniform(),
                targets: [0.02 + 0.02 * rng.uniform(), 0.06 + 0.04 * rng.uniform()],
                leverage: lev,
                every: 40 + (rng.next_u64() % 40) as usize,
            }
        } else {
            Style {
                stop: 0.30,
                targets: [0.45, 0.9],
                leverage: 2.0,
                every: 3000,
            }
        };
        let mut b = (rng.next_u64() % 8) as usize;
        let mut j = 0;
        while b < n {
            let side = if rng.uniform() < 0.5 {
                Side::Long
            } else {
                Side::Short
            };
            let sg = side.sign();
            // the call refers to the previous close, as a channel would
            let ref_px = if b > 0 { s.close[b - 1] } else { s.open[0] };
            out.push(SignalEvent {
                id: format!("{}-{j}", s.symbol).into(),
                time: market.times[b] - 60_000,
                action: Action::Open,
                symbol: Some(s.symbol.clone()),
                side: Some(side),
                entry: EntrySpec::Market,
                stop: Some(ref_px * (1.0 - sg * style.stop)),
                targets: style
                    .targets
                    .iter()
                    .map(|t| ref_px * (1.0 + sg * t))
                    .collect(),
                leverage: Some(style.leverage),
                margin_mode: None,
                ladder: Vec::new(),
                leverage_high: None,
                msg_id: None,
                source: "synthetic".into(),
                line: out.len() + 2,
            });
            j += 1;
            b += style.every + (rng.next_u64() % 7) as usize;
            let _ = k;
        }
    }
    out.sort_by_key(|s| s.time);
    out
}

/// Engine settings of the synthetic workloads: Binance fees, adverse intrabar, no slippage (so the
/// naive reference fills at the very same prices), no refinement, no band.
pub fn engine_config() -> EngineConfig {
    EngineConfig {
        execution: Execution {
            entry_delay_ms: 0,
            slippage_bps: 0.0,
            zone_expiry_ms: None,
        },
        intrabar: Intrabar::Adverse,
        band: false,
        refine: false,
        ..EngineConfig::default()
    }
}

/// A large USDT account (no signal is ever refused for margin).
pub fn big_account() -> Account {
    Account::usdt("big", Decimal::from(1_000_000_000i64))
}

/// Isolated, 10 USDT of margin per trade, leverage as called.
pub fn isolated_policy() -> Policy {
    Policy::new(
        "isolated",
        ModeRule::Isolated,
        Sizing::FixedMargin(Decimal::TEN),
    )
}

/// Cross, 10 USDT of margin per trade, leverage as called but capped at 5.
pub fn cross_policy() -> Policy {
    let mut p = Policy::new("cross", ModeRule::Cross, Sizing::FixedMargin(Decimal::TEN));
    p.leverage = LeverageRule::Capped(5.0);
    p
}

/// One complete workload: market, brackets and channel.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Human name for the report.
    pub name: &'static str,
    /// The market.
    pub market: Market,
    /// Bracket tables for every symbol.
    pub brackets: BracketBook,
    /// The channel.
    pub signals: Vec<SignalEvent>,
    /// The account.
    pub account: Account,
    /// The policy.
    pub policy: Policy,
    /// Engine settings.
    pub cfg: EngineConfig,
}

/// Isolated-heavy: `symbols` symbols (≈ one open position each), 15 % active.
pub fn isolated_heavy(symbols: usize, bars: usize, funding_every: Option<usize>) -> Workload {
    let market = market(&MarketSpec {
        symbols,
        bars,
        funding_every,
        seed: 11,
    });
    let brackets = brackets(&market);
    let signals = channel(&market, 0.15, 11);
    Workload {
        name: "isolated-heavy",
        market,
        brackets,
        signals,
        account: big_account(),
        policy: isolated_policy(),
        cfg: engine_config(),
    }
}

/// Cross-heavy: `symbols` positions in one cross book (a 2,000 USDT account), all long-lived.
pub fn cross_heavy(symbols: usize, bars: usize, funding_every: Option<usize>) -> Workload {
    let market = market(&MarketSpec {
        symbols,
        bars,
        funding_every,
        seed: 23,
    });
    let brackets = brackets(&market);
    let signals = channel(&market, 0.0, 23);
    Workload {
        name: "cross-heavy",
        market,
        brackets,
        signals,
        account: Account::usdt("cross", Decimal::from(2_000)),
        policy: cross_policy(),
        cfg: engine_config(),
    }
}
