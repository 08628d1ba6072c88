//! Plain records of one simulation run (DESIGN.md §5 "Outputs"), handed to reports and writers.

use crate::signal::{MarginMode, Side, SignalId};
use crate::symbol::Symbol;
use crate::time::TimestampMs;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why (part of) a position was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// Take-profit `k` (1-based) filled.
    Target(u8),
    /// The stop filled.
    Stop,
    /// The position itself was liquidated (isolated, or the cross position whose loss triggered it).
    Liquidation,
    /// A healthy cross position closed by a liquidation another position's loss triggered.
    Cascade,
    /// The channel said `close`.
    SignalClose,
    /// Still open when the data ended (closed at the last close, no fee).
    EndOfData,
    /// Auto-deleveraged by the exchange.
    Adl,
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Target(k) => write!(f, "target_{k}"),
            ExitReason::Stop => f.write_str("stop"),
            ExitReason::Liquidation => f.write_str("liquidation"),
            ExitReason::Cascade => f.write_str("cascade"),
            ExitReason::SignalClose => f.write_str("signal_close"),
            ExitReason::EndOfData => f.write_str("end_of_data"),
            ExitReason::Adl => f.write_str("adl"),
        }
    }
}

/// One (partial) exit of a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    /// When.
    pub time: TimestampMs,
    /// Fill price.
    pub price: f64,
    /// Quantity closed.
    pub qty: Decimal,
    /// Why.
    pub reason: ExitReason,
    /// Realised PnL of this leg, before fees.
    pub pnl: Decimal,
    /// Trading fee of this leg (clearance fees are in [`LiquidationEvent`]).
    pub fee: Decimal,
}

/// Every position's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// The channel's call id (`bg:<n>` for background-book positions).
    pub signal_id: SignalId,
    /// Symbol.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Margin mode the policy chose.
    pub mode: MarginMode,
    /// True for a background-book position held regardless of the channel.
    pub background: bool,
    /// Fill time of the entry.
    pub open_time: TimestampMs,
    /// Entry fill price (after slippage).
    pub entry_price: f64,
    /// Quantity opened (base asset).
    pub qty: Decimal,
    /// Leverage used.
    pub leverage: Decimal,
    /// Initial margin (isolated margin, or the cross IM).
    pub margin: Decimal,
    /// Margin added later by auto-add (isolated).
    pub margin_added: Decimal,
    /// Liquidation price at entry (isolated exact; cross: this position alone on the wallet at entry).
    pub liq_price_at_entry: Option<f64>,
    /// Time of the last exit.
    pub close_time: TimestampMs,
    /// Quantity-weighted mean exit price.
    pub exit_price: f64,
    /// Reason of the last exit.
    pub exit_reason: ExitReason,
    /// Realised PnL before fees and funding (sum over exits).
    pub pnl: Decimal,
    /// Trading fees paid (entry + exits).
    pub fees: Decimal,
    /// Clearance (liquidation) fee charged to this position.
    pub clearance_fee: Decimal,
    /// Funding received (positive) or paid (negative).
    pub funding: Decimal,
    /// The exit legs in order.
    pub exits: Vec<Exit>,
    /// Entry levels the call gave (1 for a single, zone or market entry; the ladder's length for
    /// an entry ladder).
    #[serde(default = "one")]
    pub entry_levels: u32,
    /// Entry levels that filled (each added to the position: `qty`, `margin` and `entry_price`, the
    /// quantity-weighted mean, are the totals). Levels left when the first target fills, the
    /// position closes or the entry expires are cancelled.
    #[serde(default = "one")]
    pub levels_filled: u32,
}

fn one() -> u32 {
    1
}

impl Trade {
    /// Net result: PnL − fees − clearance fee + funding.
    pub fn net(&self) -> Decimal {
        self.pnl - self.fees - self.clearance_fee + self.funding
    }
}

/// A position closed by a liquidation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiquidatedPosition {
    /// The call id.
    pub signal_id: SignalId,
    /// Symbol.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Price it was closed at.
    pub price: f64,
    /// Its loss beyond its own initial margin at that moment (positive = it borrowed from the book).
    pub loss_beyond_margin: Decimal,
    /// Unrealised PnL at the liquidation.
    pub upnl: Decimal,
    /// True when its loss exceeded its own initial margin (it consumed collateral of the book).
    pub culprit: bool,
}

/// One liquidation (isolated: one position; cross: the book or part of it).
///
/// `Debug` leaves out `after_adl` when it is `None`, like the serialised form: a run without ADL
/// prints as before ADL existed.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct LiquidationEvent {
    /// When.
    pub time: TimestampMs,
    /// Isolated or cross.
    pub mode: MarginMode,
    /// Positions closed.
    pub positions: Vec<LiquidatedPosition>,
    /// Margin ratio at the trigger (maintenance / margin balance; ≥ 1 means liquidation; infinite
    /// when the balance is not positive, written as `null` in JSON and read back as infinite).
    #[serde(with = "infinite_as_null")]
    pub margin_ratio: f64,
    /// Margin balance at the trigger.
    pub margin_balance: Decimal,
    /// Maintenance margin at the trigger.
    pub maintenance: Decimal,
    /// Average pairwise return correlation of the book at the trigger, when known.
    pub book_correlation: Option<f64>,
    /// Clearance fee charged (capped at what margin remained).
    pub clearance_fee: Decimal,
    /// Loss beyond zero equity covered by the insurance fund.
    pub insurance_shortfall: Decimal,
    /// True when the account's equity reached zero.
    pub wipeout: bool,
    /// Cross only: the auto-deleveraging of this account's own positions that came before this
    /// liquidation (since the previous cross liquidation), in words, e.g. `BTCUSDT short
    /// deleveraged 2025-10-10 21:15 (quantile 4, 100 %)`. `None` when ADL took nothing first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_adl: Option<String>,
}

impl std::fmt::Debug for LiquidationEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("LiquidationEvent");
        d.field("time", &self.time)
            .field("mode", &self.mode)
            .field("positions", &self.positions)
            .field("margin_ratio", &self.margin_ratio)
            .field("margin_balance", &self.margin_balance)
            .field("maintenance", &self.maintenance)
            .field("book_correlation", &self.book_correlation)
            .field("clearance_fee", &self.clearance_fee)
            .field("insurance_shortfall", &self.insurance_shortfall)
            .field("wipeout", &self.wipeout);
        if let Some(a) = &self.after_adl {
            d.field("after_adl", a);
        }
        d.finish()
    }
}

impl LiquidationEvent {
    /// A cross liquidation that closed two or more positions.
    pub fn is_cascade(&self) -> bool {
        self.mode == MarginMode::Cross && self.positions.len() >= 2
    }
}

/// What triggered an auto-deleveraging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdlTrigger {
    /// A row of an ADL event file.
    Data,
    /// The stress rule (a move of more than X % within Y minutes).
    Rule,
}

impl std::fmt::Display for AdlTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AdlTrigger::Data => "data",
            AdlTrigger::Rule => "rule",
        })
    }
}

/// One auto-deleveraging of one of the account's own (profitable) positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdlRecord {
    /// When it was applied (the first (sub-)bar open at or after the trigger).
    pub time: TimestampMs,
    /// The call id of the position (`bg:N` for a background position).
    pub signal_id: SignalId,
    /// Symbol.
    pub symbol: Symbol,
    /// Side of the position (the winning side of the move).
    pub side: Side,
    /// Margin mode of the position.
    pub mode: MarginMode,
    /// Price it was closed at (the counterparty's bankruptcy price when the event gives one,
    /// else the mark).
    pub price: f64,
    /// Quantity closed.
    pub qty: Decimal,
    /// Share of the position closed (0–1].
    pub fraction: f64,
    /// Realised PnL of the closed quantity (always positive: ADL only takes profitable positions).
    pub pnl: Decimal,
    /// The position's ADL ranking score (Binance "leverage PnL") at the trigger (infinite when
    /// its margin is gone; written as `null` in JSON and read back as infinite).
    #[serde(with = "infinite_as_null")]
    pub score: f64,
    /// Its ADL quantile 0–4 (4 = first in the queue).
    pub quantile: u8,
    /// Data file row or rule.
    pub trigger: AdlTrigger,
    /// Where the trigger came from, in words (`adl.csv row 3`, `BTCUSDT −10.4 % in 60 min`).
    pub source: String,
}

/// One point of the equity curve (end of a bar, or an event).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// When.
    pub time: TimestampMs,
    /// Wallet + collateral value + unrealised PnL + isolated margins.
    pub equity: f64,
    /// Drawdown from the running peak, as a fraction (0.25 = 25 %).
    pub drawdown: f64,
    /// Cross margin ratio (Σ MM / margin balance), 0 with no cross position, infinite when the
    /// balance is not positive (written as `null` in JSON and read back as infinite).
    #[serde(with = "infinite_as_null")]
    pub margin_ratio: f64,
    /// Open positions.
    pub open_positions: u32,
    /// Average pairwise return correlation of the open positions' symbols (rolling window), when
    /// two or more distinct symbols are open.
    #[serde(default)]
    pub book_correlation: Option<f64>,
    /// Correlated exposure of the open book (USDT): `sqrt(Σ_i Σ_j n_i n_j ρ_ij)` over signed
    /// notionals `n` and return correlations `ρ` — the single-asset notional the book moves like.
    #[serde(default)]
    pub correlated_exposure: f64,
}

/// A signal that did not become a position, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSignal {
    /// The call id.
    pub signal_id: SignalId,
    /// When the decision was made.
    pub time: TimestampMs,
    /// Symbol, when known.
    pub symbol: Option<Symbol>,
    /// Why, in words.
    pub reason: String,
}

/// The summary of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Starting equity (collateral valued at the first bar).
    pub start_equity: Decimal,
    /// Final equity.
    pub final_equity: Decimal,
    /// Return in percent.
    pub return_pct: f64,
    /// Maximum drawdown in percent.
    pub max_drawdown_pct: f64,
    /// Liquidation events.
    pub liquidations: u32,
    /// Cross liquidations that closed ≥ 2 positions.
    pub cascades: u32,
    /// Positions lost to another position's loss.
    pub cascade_victims: u32,
    /// Times the account's equity reached zero.
    pub wipeouts: u32,
    /// Total loss covered by the insurance fund.
    pub insurance_shortfall: Decimal,
    /// Trading + clearance fees paid.
    pub fees: Decimal,
    /// Net funding (positive = received).
    pub funding: Decimal,
    /// Positions opened (channel + background).
    pub trades: u32,
    /// Signals skipped.
    pub skipped_signals: u32,
    /// Share of closed trades with positive net result.
    pub win_rate: f64,
    /// Gross profit / gross loss of net results (infinite when there is no loss; written as
    /// `null` in JSON and read back as infinite).
    #[serde(with = "infinite_as_null")]
    pub profit_factor: f64,
}

/// Everything one run (account × policy × sweep point) produced.
///
/// `Debug` leaves out the ADL fields when ADL was off, like the serialised form.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Readable run name, e.g. `small/cross/lev=20/margin=0.05`.
    pub run: String,
    /// Account name.
    pub account: String,
    /// Policy name.
    pub policy: String,
    /// Sweep parameters of this run, in order (`[("lev","20"), ("margin","0.05")]`).
    pub params: Vec<(String, String)>,
    /// Trades.
    pub trades: Vec<Trade>,
    /// Liquidations.
    pub liquidations: Vec<LiquidationEvent>,
    /// Equity curve.
    pub equity: Vec<EquityPoint>,
    /// Skipped signals.
    pub skipped: Vec<SkippedSignal>,
    /// Summary.
    pub summary: RunSummary,
    /// Liquidation counts under the `adverse` and `close` intrabar models, when the band was requested.
    pub liquidation_band: Option<(u32, u32)>,
    /// Auto-deleveragings of the account's positions (empty when ADL is off or took nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adl: Vec<AdlRecord>,
    /// With ADL on: the final equity of the same run with ADL off (the counterfactual that
    /// measures the PnL ADL cost or saved). `None` when ADL is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adl_off_final_equity: Option<Decimal>,
}

impl std::fmt::Debug for RunResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("RunResult");
        d.field("run", &self.run)
            .field("account", &self.account)
            .field("policy", &self.policy)
            .field("params", &self.params)
            .field("trades", &self.trades)
            .field("liquidations", &self.liquidations)
            .field("equity", &self.equity)
            .field("skipped", &self.skipped)
            .field("summary", &self.summary)
            .field("liquidation_band", &self.liquidation_band);
        if !self.adl.is_empty() {
            d.field("adl", &self.adl);
        }
        if let Some(e) = &self.adl_off_final_equity {
            d.field("adl_off_final_equity", e);
        }
        d.finish()
    }
}

impl RunResult {
    /// Gives every ledger amount that is zero a positive sign. `Decimal` arithmetic can end on a
    /// negative zero (a sum of opposite funding payments, `max` of −0 and 0), which JSON shows as
    /// `"-0"` and reads back as `"0"`: with zeros unsigned, a run serialised and read back (a
    /// shard's runs, `report-input.json`) writes the same bytes again. Scales are kept (`-0.00`
    /// becomes `0.00`).
    pub fn unsign_zeros(&mut self) {
        fn z(d: &mut Decimal) {
            if d.is_zero() {
                d.set_sign_positive(true);
            }
        }
        for t in &mut self.trades {
            for d in [
                &mut t.qty,
                &mut t.leverage,
                &mut t.margin,
                &mut t.margin_added,
                &mut t.pnl,
                &mut t.fees,
                &mut t.clearance_fee,
                &mut t.funding,
            ] {
                z(d);
            }
            for e in &mut t.exits {
                for d in [&mut e.qty, &mut e.pnl, &mut e.fee] {
                    z(d);
                }
            }
        }
        for l in &mut self.liquidations {
            for d in [
                &mut l.margin_balance,
                &mut l.maintenance,
                &mut l.clearance_fee,
                &mut l.insurance_shortfall,
            ] {
                z(d);
            }
            for p in &mut l.positions {
                z(&mut p.loss_beyond_margin);
                z(&mut p.upnl);
            }
        }
        for a in &mut self.adl {
            z(&mut a.qty);
            z(&mut a.pnl);
        }
        let s = &mut self.summary;
        for d in [
            &mut s.start_equity,
            &mut s.final_equity,
            &mut s.insurance_shortfall,
            &mut s.fees,
            &mut s.funding,
        ] {
            z(d);
        }
        if let Some(d) = &mut self.adl_off_final_equity {
            z(d);
        }
    }

    /// With ADL on: the PnL ADL cost (negative) or saved (positive) — final equity minus the final
    /// equity of the same run with ADL off — and that amount as a share of the ADL-off run's PnL
    /// (`None` when that PnL is zero). `None` with ADL off.
    pub fn adl_effect(&self) -> Option<(Decimal, Option<f64>)> {
        let off = self.adl_off_final_equity?;
        let effect = self.summary.final_equity - off;
        let base = (off - self.summary.start_equity).abs();
        let share = (!base.is_zero()).then(|| {
            use rust_decimal::prelude::ToPrimitive;
            (effect / base).to_f64().unwrap_or(f64::NAN)
        });
        Some((effect, share))
    }
}

/// Serde for a ratio that may be infinite: JSON has no infinity, so a non-finite value is written as
/// `null` and `null` is read back as `+inf`.
mod infinite_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}
