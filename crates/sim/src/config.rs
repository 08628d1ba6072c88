//! Engine settings: exchange preset, execution, intrabar model, accounts and policies.
//!
//! Every type here is plain data. The scenario file (the one configuration schema, read by the
//! cli) names the unit enums directly — [`PresetName`], [`Intrabar`], [`LiquidationProcess`],
//! [`MaintenanceBasis`] deserialize from their snake_case names — and is translated into the rest.
//! Defaults are the Binance USDⓈ-M figures of DESIGN.md §11.

use ringfence_model::{
    Bracket, BracketBook, BracketSnapshot, MarginMode, Side, Symbol, TimestampMs,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How the exchange liquidates: the venue's documented procedure (docs/liquidation.md cites each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiquidationProcess {
    /// Binance USDⓈ-M: an isolated position is closed whole; a cross book is closed whole.
    #[default]
    Full,
    /// Bybit: a position above the lowest risk-limit tier is reduced at the mark to the next lower
    /// tier's limit and re-checked, repeatedly; at the lowest tier it is taken over at its
    /// bankruptcy price (the margin left goes to the insurance fund). A cross book: the largest
    /// loser first, step by step, re-checking the book after each step.
    BybitTiers,
    /// OKX: a position in tier 3 or above whose margin is still above the lowest tier's
    /// maintenance (+ fee) is reduced by two tiers and re-checked, repeatedly; otherwise it is
    /// closed whole. A cross book: the largest loser first, re-checking after each step.
    OkxTiers,
}

impl LiquidationProcess {
    /// The scenario spelling (`full`, `bybit_tiers`, `okx_tiers`).
    pub fn name(self) -> &'static str {
        match self {
            LiquidationProcess::Full => "full",
            LiquidationProcess::BybitTiers => "bybit_tiers",
            LiquidationProcess::OkxTiers => "okx_tiers",
        }
    }

    /// Parses a scenario spelling. `partial` (the simplification before the venue procedures)
    /// gets a migration message naming its replacements.
    ///
    /// # Errors
    /// A message naming the accepted values.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(LiquidationProcess::Full),
            "bybit_tiers" => Ok(LiquidationProcess::BybitTiers),
            "okx_tiers" => Ok(LiquidationProcess::OkxTiers),
            "partial" => Err("\"partial\" was a simplification and is replaced by the venues' procedures: \
                 use \"bybit_tiers\" (risk-limit step-down, then close at bankruptcy) or \"okx_tiers\" \
                 (partial liquidation from tier 3); the closest to the old behaviour for small positions \
                 is \"bybit_tiers\" (largest loser first, re-check)"
                .into()),
            other => Err(format!(
                "unknown liquidation process {other:?}; expected \"full\", \"bybit_tiers\" or \"okx_tiers\""
            )),
        }
    }
}

/// Which price the maintenance margin is valued at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceBasis {
    /// Notional at the mark price (Binance): `MM = qty × mark × mmr − cum`.
    #[default]
    Mark,
    /// Notional at the entry price (Bybit's worked examples): `MM = qty × entry × mmr − cum`.
    Entry,
}

/// The exchange presets a scenario can name (`preset = "binance_usdm"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresetName {
    /// [`ExchangePreset::binance_usdm`].
    #[default]
    BinanceUsdm,
    /// [`ExchangePreset::bybit_linear`].
    BybitLinear,
    /// [`ExchangePreset::okx_swap`].
    OkxSwap,
}

impl PresetName {
    /// The preset's fees, liquidation process and haircuts.
    pub fn preset(self) -> ExchangePreset {
        match self {
            PresetName::BinanceUsdm => ExchangePreset::binance_usdm(),
            PresetName::BybitLinear => ExchangePreset::bybit_linear(),
            PresetName::OkxSwap => ExchangePreset::okx_swap(),
        }
    }
}

/// Fees, liquidation process and collateral haircuts of one exchange.
///
/// `Debug` (recorded in `run.json`) leaves out an empty clearance schedule and a zero trigger fee,
/// so a Binance run records its settings as before they existed.
#[derive(Clone, PartialEq)]
pub struct ExchangePreset {
    /// Preset name for reports.
    pub name: String,
    /// Taker fee rate on notional (market entries, stops, liquidations are not charged it).
    pub taker_fee: Decimal,
    /// Maker fee rate on notional (limit entries, targets).
    pub maker_fee: Decimal,
    /// Clearance (liquidation) fee rate on liquidated notional, capped at the margin that remains,
    /// for a symbol [`ExchangePreset::clearance_fee_rates`] does not list.
    pub clearance_fee_rate: Decimal,
    /// Per-symbol clearance fee rates (the venue's schedule), over [`ExchangePreset::clearance_fee_rate`].
    pub clearance_fee_rates: BTreeMap<Symbol, Decimal>,
    /// Added to every tier's maintenance margin rate for the liquidation trigger (OKX liquidates at
    /// maintenance plus the liquidation fee: its taker rate); zero elsewhere.
    pub trigger_fee_rate: Decimal,
    /// Full or partial cross liquidation.
    pub liquidation: LiquidationProcess,
    /// Where maintenance margin is valued.
    pub maintenance_basis: MaintenanceBasis,
    /// Collateral haircuts by asset (`BTC = 0.05` counts BTC at 95 % of its value in cross).
    pub haircuts: BTreeMap<String, f64>,
}

impl std::fmt::Debug for ExchangePreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ExchangePreset");
        d.field("name", &self.name)
            .field("taker_fee", &self.taker_fee)
            .field("maker_fee", &self.maker_fee)
            .field("clearance_fee_rate", &self.clearance_fee_rate);
        if !self.clearance_fee_rates.is_empty() {
            d.field("clearance_fee_rates", &self.clearance_fee_rates);
        }
        if !self.trigger_fee_rate.is_zero() {
            d.field("trigger_fee_rate", &self.trigger_fee_rate);
        }
        d.field("liquidation", &self.liquidation)
            .field("maintenance_basis", &self.maintenance_basis)
            .field("haircuts", &self.haircuts)
            .finish()
    }
}

impl ExchangePreset {
    /// Binance USDⓈ-M at the base fee tier (DESIGN.md §11): taker 0.05 %, maker 0.02 %, clearance
    /// 1.25 %, full liquidation, Multi-Assets haircuts of the 2021 table.
    pub fn binance_usdm() -> Self {
        let haircuts = [
            ("BTC", 0.05),
            ("ETH", 0.05),
            ("BNB", 0.05),
            ("XRP", 0.10),
            ("ADA", 0.10),
            ("DOT", 0.10),
            ("SOL", 0.10),
            ("USDT", 0.0001),
            ("USDC", 0.0001),
        ];
        ExchangePreset {
            name: "binance_usdm".into(),
            taker_fee: Decimal::new(5, 4),
            maker_fee: Decimal::new(2, 4),
            clearance_fee_rate: Decimal::new(125, 4),
            clearance_fee_rates: BTreeMap::new(),
            trigger_fee_rate: Decimal::ZERO,
            liquidation: LiquidationProcess::Full,
            maintenance_basis: MaintenanceBasis::Mark,
            haircuts: haircuts.iter().map(|&(a, h)| (a.to_string(), h)).collect(),
        }
    }

    /// Bybit USDT perpetuals (non-VIP): taker 0.055 %, maker 0.02 %; risk-limit step-down, then the
    /// position is taken over at its bankruptcy price, so everything left of its margin goes to
    /// the insurance fund (clearance rate 100 % of notional, capped at the margin left). Haircuts
    /// as Binance's table (Bybit's collateral tiers are not modelled).
    pub fn bybit_linear() -> Self {
        ExchangePreset {
            name: "bybit_linear".into(),
            taker_fee: Decimal::new(55, 5),
            maker_fee: Decimal::new(2, 4),
            clearance_fee_rate: Decimal::ONE,
            liquidation: LiquidationProcess::BybitTiers,
            ..Self::binance_usdm()
        }
    }

    /// OKX USDT-margined swaps (regular user, level 1): taker 0.05 %, maker 0.02 %; liquidation
    /// when equity ≤ maintenance + liquidation fee (the taker rate, added to every tier's
    /// maintenance rate), partial liquidation from tier 3, a liquidation fee of the taker rate on
    /// liquidated notional. Haircuts as Binance's table.
    pub fn okx_swap() -> Self {
        ExchangePreset {
            name: "okx_swap".into(),
            taker_fee: Decimal::new(5, 4),
            maker_fee: Decimal::new(2, 4),
            clearance_fee_rate: Decimal::new(5, 4),
            trigger_fee_rate: Decimal::new(5, 4),
            liquidation: LiquidationProcess::OkxTiers,
            ..Self::binance_usdm()
        }
    }

    /// The clearance fee rate of `symbol`: its entry in the schedule, else the default rate.
    pub fn clearance_rate(&self, symbol: &Symbol) -> Decimal {
        self.clearance_fee_rates
            .get(symbol)
            .copied()
            .unwrap_or(self.clearance_fee_rate)
    }

    /// Haircut of a collateral asset (0.10 for an asset the table does not list: a conservative
    /// default for unlisted volatile collateral).
    pub fn haircut(&self, asset: &str) -> f64 {
        self.haircuts.get(asset).copied().unwrap_or(0.10)
    }
}

impl Default for ExchangePreset {
    fn default() -> Self {
        ExchangePreset::binance_usdm()
    }
}

/// When the Binance late-2024 bracket tables take effect (2024-10-01T00:00:00Z).
pub const BINANCE_LATE_2024_FROM: TimestampMs = 1_727_740_800_000;

/// The built-in BTCUSDT and ETHUSDT tables of Binance USDⓈ-M, snapshot of late 2024 (DESIGN.md §11,
/// completed from the ccxt snapshot of October 2024), as a one-snapshot book dated
/// [`BINANCE_LATE_2024_FROM`].
pub fn binance_default_brackets() -> BracketBook {
    // (floor, cap, max leverage, mmr in basis points × 10, cum)
    const BTC: [(i64, i64, i64, i64, i64); 12] = [
        (0, 50_000, 125, 40, 0),
        (50_000, 600_000, 100, 50, 50),
        (600_000, 3_000_000, 75, 65, 950),
        (3_000_000, 12_000_000, 50, 100, 11_450),
        (12_000_000, 70_000_000, 25, 200, 131_450),
        (70_000_000, 100_000_000, 20, 250, 481_450),
        (100_000_000, 230_000_000, 10, 500, 2_981_450),
        (230_000_000, 480_000_000, 5, 1000, 14_481_450),
        (480_000_000, 600_000_000, 4, 1250, 26_481_450),
        (600_000_000, 800_000_000, 3, 1500, 41_481_450),
        (800_000_000, 1_200_000_000, 2, 2500, 121_481_450),
        (1_200_000_000, 1_800_000_000, 1, 5000, 421_481_450),
    ];
    const ETH: [(i64, i64, i64, i64, i64); 12] = [
        (0, 50_000, 125, 40, 0),
        (50_000, 600_000, 100, 50, 50),
        (600_000, 3_000_000, 75, 65, 950),
        (3_000_000, 12_000_000, 50, 100, 11_450),
        (12_000_000, 50_000_000, 25, 200, 131_450),
        (50_000_000, 65_000_000, 20, 250, 381_450),
        (65_000_000, 150_000_000, 10, 500, 2_006_450),
        (150_000_000, 320_000_000, 5, 1000, 9_506_450),
        (320_000_000, 400_000_000, 4, 1250, 17_506_450),
        (400_000_000, 530_000_000, 3, 1500, 27_506_450),
        (530_000_000, 800_000_000, 2, 2500, 80_506_450),
        (800_000_000, 1_200_000_000, 1, 5000, 280_506_450),
    ];
    let table = |rows: &[(i64, i64, i64, i64, i64)]| -> Vec<Bracket> {
        rows.iter()
            .enumerate()
            .map(|(k, &(floor, cap, lev, mmr, cum))| Bracket {
                tier: k as u32 + 1,
                floor: Decimal::from(floor),
                cap: Decimal::from(cap),
                mmr: Decimal::new(mmr, 4),
                cum: Decimal::from(cum),
                max_leverage: Decimal::from(lev),
            })
            .collect()
    };
    let mut tables = BTreeMap::new();
    tables.insert(Symbol::parse("BTCUSDT").expect("valid symbol"), table(&BTC));
    tables.insert(Symbol::parse("ETHUSDT").expect("valid symbol"), table(&ETH));
    BracketBook::new(vec![BracketSnapshot {
        effective_from: BINANCE_LATE_2024_FROM,
        source: "built-in binance usdm late 2024".into(),
        tables,
    }])
}

/// How entries and exits are executed.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// Delay between a message and the follower acting on it (applies to every action), ms.
    pub entry_delay_ms: TimestampMs,
    /// Slippage against the trader on market entries, market closes and stop fills, in basis points.
    pub slippage_bps: f64,
    /// How long a limit or zone entry waits before it is withdrawn, ms (`None`: until the data ends).
    pub zone_expiry_ms: Option<TimestampMs>,
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            entry_delay_ms: 0,
            slippage_bps: 0.0,
            zone_expiry_ms: Some(24 * 3_600_000),
        }
    }
}

/// What the engine assumes happens inside a bar (DESIGN.md §5 "Inside a bar").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intrabar {
    /// Every symbol travels open → adverse extreme → favourable extreme → close on a common path
    /// parameter; everything is checked along the way (the conservative bound).
    #[default]
    Adverse,
    /// Stops and targets on the adverse path, liquidation only at bar closes (the optimistic bound).
    Close,
    /// O→L→H→C for bars closing up, O→H→L→C for bars closing down, per symbol; checked along the way.
    Ohlc,
}

/// Engine settings shared by every run of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The exchange.
    pub exchange: ExchangePreset,
    /// Execution settings.
    pub execution: Execution,
    /// The intrabar model of the main outcome.
    pub intrabar: Intrabar,
    /// Also count liquidations under `adverse` and `close` ([`ringfence_model::RunResult::liquidation_band`]).
    pub band: bool,
    /// Replay bars that touch a trigger on lower-timeframe sub-bars when the market has them.
    pub refine: bool,
    /// Window (bars) of the rolling return correlation recorded with the book (equity curve and
    /// cross liquidations).
    pub correlation_window: usize,
    /// Auto-deleveraging of the account's own profitable positions (off by default).
    pub adl: AdlConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            exchange: ExchangePreset::binance_usdm(),
            execution: Execution::default(),
            intrabar: Intrabar::Adverse,
            band: false,
            refine: true,
            correlation_window: 72,
            adl: AdlConfig::default(),
        }
    }
}

/// Auto-deleveraging (ADL): what triggers it, and how a position's ADL quantile is read from its
/// ranking score (see [`crate::adl`] for the formulas and docs/scenario.md `[adl]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AdlConfig {
    /// Off, replayed from an event file, or a stress rule.
    pub trigger: AdlMode,
    /// Ranking scores (Binance "leverage PnL") from which a position is in quantile 1, 2, 3, 4
    /// (increasing). The venue ranks against every other trader, whom a backtest does not see:
    /// these cut points stand in for that population ([`AdlConfig::DEFAULT_THRESHOLDS`]).
    pub quantile_thresholds: [f64; 4],
}

impl AdlConfig {
    /// Default quantile cut points of the ranking score: a 10x isolated long 5 % in profit scores
    /// about 0.013 (quantile 2), at 20x about 0.04 (quantile 3).
    pub const DEFAULT_THRESHOLDS: [f64; 4] = [0.001, 0.005, 0.02, 0.05];

    /// True when ADL is off.
    pub fn is_off(&self) -> bool {
        matches!(self.trigger, AdlMode::Off)
    }
}

impl Default for AdlConfig {
    fn default() -> Self {
        AdlConfig {
            trigger: AdlMode::Off,
            quantile_thresholds: Self::DEFAULT_THRESHOLDS,
        }
    }
}

/// What triggers auto-deleveraging.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AdlMode {
    /// No ADL (every output as before ADL existed).
    #[default]
    Off,
    /// Replay known episodes: one event per row of an ADL event file.
    Data(Vec<AdlEventSpec>),
    /// A deterministic stress rule.
    Rule(AdlRule),
}

/// The ADL stress rule: when a symbol moves more than `move_pct` % within `window_ms`, the
/// positions on the winning side of the move are deleveraged by `fractions[quantile]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdlRule {
    /// The move, in percent (10 = a 10 % drop from the window's high, or rise from its low).
    pub move_pct: f64,
    /// The window, ms.
    pub window_ms: TimestampMs,
    /// Share of a position closed by quantile 0..4 (non-decreasing, each in 0–1).
    pub fractions: [f64; 5],
}

impl AdlRule {
    /// Default move: 8 % (BTC fell 13 % in 20 minutes on 2025-10-10).
    pub const DEFAULT_MOVE_PCT: f64 = 8.0;
    /// Default window: 60 minutes.
    pub const DEFAULT_WINDOW_MS: TimestampMs = 3_600_000;
    /// Default fractions by quantile 0..4: nothing below quantile 2, then a quarter, half, all.
    pub const DEFAULT_FRACTIONS: [f64; 5] = [0.0, 0.0, 0.25, 0.5, 1.0];
}

impl Default for AdlRule {
    fn default() -> Self {
        AdlRule {
            move_pct: Self::DEFAULT_MOVE_PCT,
            window_ms: Self::DEFAULT_WINDOW_MS,
            fractions: Self::DEFAULT_FRACTIONS,
        }
    }
}

/// One row of an ADL event file: at `time`, the `side` of `symbol` was deleveraged for `share`
/// of its open interest, at `price` when known.
#[derive(Debug, Clone, PartialEq)]
pub struct AdlEventSpec {
    /// When (ms UTC).
    pub time: TimestampMs,
    /// Symbol.
    pub symbol: Symbol,
    /// The side deleveraged (the winning side).
    pub side: Side,
    /// Share of that side's open interest deleveraged (0–1], taken from the top of the ranking.
    pub share: f64,
    /// The fill price (the liquidated counterparty's bankruptcy price), when the file gives one.
    pub price: Option<f64>,
    /// Where it came from (`adl-events.csv row 3`), for records and errors.
    pub source: String,
}

/// A position an account holds independently of the channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundPosition {
    /// Symbol.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Quantity (base asset).
    pub qty: Decimal,
    /// Leverage (sets the isolated margin, or the cross initial margin).
    pub leverage: Decimal,
    /// Margin mode.
    pub mode: MarginMode,
    /// Opened at the first bar open at or after this time (ms UTC).
    pub open_time: TimestampMs,
}

/// One trading account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Name for reports.
    pub name: String,
    /// Starting collateral: `("USDT", 1000)`, `("BTC", 0.02)`. Non-USDT assets are valued off
    /// `<ASSET>USDT` in the market data (USDC at 1).
    pub collateral: Vec<(String, Decimal)>,
    /// Positions held regardless of the channel.
    pub background: Vec<BackgroundPosition>,
    /// Multiplier on the preset's fees (fee tier): `1` = base tier.
    pub fee_multiplier: Decimal,
}

impl Account {
    /// An account with USDT only, no background book, base fees.
    pub fn usdt(name: &str, amount: Decimal) -> Self {
        Account {
            name: name.into(),
            collateral: vec![("USDT".into(), amount)],
            background: Vec::new(),
            fee_multiplier: Decimal::ONE,
        }
    }
}

/// Which margin mode a new position gets.
#[derive(Debug, Clone, PartialEq)]
pub enum ModeRule {
    /// Every position isolated.
    Isolated,
    /// Every position cross.
    Cross,
    /// Cross for the listed symbols, isolated otherwise.
    Hybrid {
        /// Symbols traded in cross.
        cross_symbols: Vec<Symbol>,
    },
    /// Cross when the return correlation with every open cross position is at most
    /// `max_correlation` over the last `window_bars` bars; isolated otherwise.
    HybridCorrelation {
        /// Highest correlation still allowed into the cross book.
        max_correlation: f64,
        /// Window of bar returns.
        window_bars: usize,
    },
}

/// How big a position is.
#[derive(Debug, Clone, PartialEq)]
pub enum Sizing {
    /// A fixed initial margin per trade (USDT).
    FixedMargin(Decimal),
    /// Initial margin = fraction of equity.
    MarginFraction(f64),
    /// Loss at the stop = fraction of equity (needs a stop).
    RiskFraction(f64),
    /// A fixed notional per trade (USDT).
    FixedNotional(Decimal),
}

impl Sizing {
    /// Whether the size depends on the account's equity (a fraction of it). Fixed margin and fixed
    /// notional read the equity only to refuse a call once the account is wiped out.
    pub fn reads_equity(&self) -> bool {
        matches!(self, Sizing::MarginFraction(_) | Sizing::RiskFraction(_))
    }
}

/// Which leverage a new position gets (never above the bracket maximum for its notional).
#[derive(Debug, Clone, PartialEq)]
pub enum LeverageRule {
    /// The called leverage, or `default` when the call gives none.
    AsCalled {
        /// Leverage when the call has none.
        default: f64,
    },
    /// Always this leverage.
    Fixed(f64),
    /// The called leverage capped at this (this when the call gives none).
    Capped(f64),
}

/// Which end of a called leverage range (`5-10x`) a position gets, before the policy's
/// [`LeverageRule`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeverageFromRange {
    /// The lower end (the careful reading; the default).
    #[default]
    Low,
    /// The upper end.
    High,
    /// The midpoint.
    Mid,
}

/// What the follower does with the channel's stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopDiscipline {
    /// Stops fill as called.
    Honor,
    /// Stops are not placed.
    Ignore,
    /// When price first reaches the stop, the stop is moved out to `factor` × its distance from the
    /// entry instead of filling (once per position).
    Widen(f64),
}

/// One margin policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Name for reports.
    pub name: String,
    /// Margin mode of new positions.
    pub mode: ModeRule,
    /// Position size.
    pub sizing: Sizing,
    /// Leverage.
    pub leverage: LeverageRule,
    /// Stop discipline.
    pub stops: StopDiscipline,
    /// Isolated auto-add margin: total margin that may be added per position (USDT), in steps of the
    /// position's initial margin, each time its mark price reaches the liquidation price.
    pub auto_add_margin_cap: Option<Decimal>,
    /// Move the stop to the entry price after the first target fills.
    pub breakeven_after_first_target: bool,
    /// Most channel positions open (or waiting to fill) at once.
    pub max_open: Option<usize>,
    /// Share of the position closed at each target (empty: equal split; the last target takes the rest).
    pub target_weights: Vec<f64>,
    /// Which end of a called leverage range a position gets.
    pub leverage_from_range: LeverageFromRange,
}

impl Policy {
    /// A policy with the given mode and sizing, leverage as called (default 10), honoured stops,
    /// no auto-add, no breakeven, no position limit, equal target split.
    pub fn new(name: &str, mode: ModeRule, sizing: Sizing) -> Self {
        Policy {
            name: name.into(),
            mode,
            sizing,
            leverage: LeverageRule::AsCalled { default: 10.0 },
            stops: StopDiscipline::Honor,
            auto_add_margin_cap: None,
            breakeven_after_first_target: false,
            max_open: None,
            target_weights: Vec::new(),
            leverage_from_range: LeverageFromRange::Low,
        }
    }
}
