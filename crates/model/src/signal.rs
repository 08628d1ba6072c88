//! One event of a signal channel (DESIGN.md §4).

use crate::symbol::Symbol;
use crate::time::TimestampMs;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Position side in one-way mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Long: profits when price rises.
    Long,
    /// Short: profits when price falls.
    Short,
}

impl Side {
    /// `+1` for long, `-1` for short.
    pub fn sign(self) -> f64 {
        match self {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }

    /// `+1` for long, `-1` for short, as a decimal.
    pub fn sign_dec(self) -> Decimal {
        match self {
            Side::Long => Decimal::ONE,
            Side::Short => Decimal::NEGATIVE_ONE,
        }
    }

    /// Parses `long`/`buy` and `short`/`sell` (any case).
    pub fn parse(s: &str) -> Option<Side> {
        match s.trim().to_ascii_lowercase().as_str() {
            "long" | "buy" => Some(Side::Long),
            "short" | "sell" => Some(Side::Short),
            _ => None,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Long => "long",
            Side::Short => "short",
        })
    }
}

/// Margin mode of one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarginMode {
    /// Losses ring-fenced in the position's own margin.
    Isolated,
    /// Losses drawn from the account's shared collateral.
    Cross,
}

impl MarginMode {
    /// Parses `isolated` / `cross` (any case).
    pub fn parse(s: &str) -> Option<MarginMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "isolated" => Some(MarginMode::Isolated),
            "cross" | "crossed" => Some(MarginMode::Cross),
            _ => None,
        }
    }
}

impl fmt::Display for MarginMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MarginMode::Isolated => "isolated",
            MarginMode::Cross => "cross",
        })
    }
}

/// What a signal event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open a position.
    Open,
    /// Close what is left at market.
    Close,
    /// Withdraw an entry that has not filled.
    Cancel,
    /// Move the stop to the event's `stop`.
    MoveStop,
}

impl Action {
    /// Parses `open`, `close`, `cancel`, `move_stop` (also `movestop`, `move-stop`); empty = open.
    pub fn parse(s: &str) -> Option<Action> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "" | "open" => Some(Action::Open),
            "close" => Some(Action::Close),
            "cancel" => Some(Action::Cancel),
            "move_stop" | "movestop" => Some(Action::MoveStop),
            _ => None,
        }
    }
}

/// How an entry is to be filled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntrySpec {
    /// At market, after the configured delay.
    Market,
    /// At a limit price.
    Limit {
        /// The price.
        price: f64,
    },
    /// Anywhere inside `[low, high]`, filled at the edge first touched.
    Zone {
        /// Lower edge.
        low: f64,
        /// Upper edge.
        high: f64,
    },
}

/// The columns (CSV) or keys (JSON Lines) of a signal file, in the order writers use
/// (DESIGN.md §4, plus `msg_id` and the `entries` ladder of imported channels).
pub const SIGNAL_COLUMNS: [&str; 13] = [
    "id",
    "time",
    "action",
    "symbol",
    "side",
    "entry",
    "entry_high",
    "stop",
    "targets",
    "leverage",
    "margin_mode",
    "msg_id",
    "entries",
];

/// One level of an entry ladder: a limit price and its share of the position.
///
/// `weight` is relative (the engine normalises the weights of a ladder); `None` means an equal
/// share. A ladder with some weights given and some not gives the unweighted levels the mean of
/// the given weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EntryLevel {
    /// Limit price of this level.
    pub price: f64,
    /// Relative size of this level (`None` = equal share).
    pub weight: Option<f64>,
}

/// A call's id: shared text, so that the records of a run (trades, skips, liquidations) name their
/// call by a reference count rather than a copy. Serialized as its text.
pub type SignalId = std::sync::Arc<str>;

/// One row of a signal file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalEvent {
    /// The channel's call id (updates refer to it).
    pub id: SignalId,
    /// When the message was posted (ms UTC).
    pub time: TimestampMs,
    /// What it asks for.
    pub action: Action,
    /// Symbol (required for `open`; taken from the call for updates).
    pub symbol: Option<Symbol>,
    /// Side (required for `open`).
    pub side: Option<Side>,
    /// Entry (for `open`).
    pub entry: EntrySpec,
    /// Stop price: the stop of an `open`, or the new stop of a `move_stop`.
    pub stop: Option<f64>,
    /// Take-profit prices in the order given.
    pub targets: Vec<f64>,
    /// Called leverage.
    pub leverage: Option<f64>,
    /// What the channel said about margin mode (informational).
    pub margin_mode: Option<MarginMode>,
    /// Entry ladder of an `open` with several entry prices, in the order the channel gave them;
    /// empty for a single, zone or market entry. When it holds two or more levels, `entry` is the
    /// [`EntrySpec::Zone`] spanning them, so an engine that does not fill ladders level by level
    /// still sees the range the channel called (and validation checks stop and targets against it).
    pub ladder: Vec<EntryLevel>,
    /// Upper end of a called leverage range (`5-10x`); `leverage` then holds the lower end.
    /// `None` when the channel called one leverage. Which end is used is a policy choice.
    pub leverage_high: Option<f64>,
    /// Id of the message this event came from (a Telegram message id), when known; an update's
    /// `id` names its call, `msg_id` names the update's own message.
    pub msg_id: Option<String>,
    /// Source file name (for messages).
    pub source: String,
    /// 1-based line in the source file (header = line 1 for CSV).
    pub line: usize,
}

/// A channel's own claim about a call's result ("Target 2 reached", "47.1% profit (10x)",
/// "stopped out"), as `ringfence signals import` reads it from the channel's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The channel (signal file stem) the claim belongs to; empty when there is one channel.
    #[serde(default)]
    pub channel: String,
    /// The claim's own message id.
    pub msg_id: String,
    /// When it was posted (ms UTC).
    pub time: TimestampMs,
    /// The call it is about (the call's id in the signal file), when it could be linked.
    pub call_id: Option<String>,
    /// What it claims: `target`, `all_targets`, `stop` or `profit`.
    pub kind: String,
    /// Targets hit as claimed (0 for a stop).
    pub targets_hit: Option<u32>,
    /// Claimed result in percent as the channel wrote it (often on margin; negative: a loss).
    pub claimed_pct: Option<f64>,
}

impl SignalEvent {
    /// An update (`close`, `cancel`, `move_stop` to `stop`) of call `id`, with no symbol, side,
    /// entry or targets of its own (the signal parser fills symbol and side from the call), no
    /// source and line 0.
    pub fn update(id: &str, time: TimestampMs, action: Action, stop: Option<f64>) -> SignalEvent {
        SignalEvent {
            id: id.into(),
            time,
            action,
            symbol: None,
            side: None,
            entry: EntrySpec::Market,
            stop,
            targets: Vec::new(),
            leverage: None,
            margin_mode: None,
            ladder: Vec::new(),
            leverage_high: None,
            msg_id: None,
            source: String::new(),
            line: 0,
        }
    }
}
