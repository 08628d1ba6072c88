//! Plain domain types shared by every Ringfence crate.
//!
//! This crate does no I/O, reads no clock and no environment. It holds:
//! - [`symbol`]: the one internal symbol form (`BTCUSDT`) and the mapping from other spellings;
//! - [`time`]: millisecond UTC timestamps and their ISO-8601 rendering;
//! - [`market`]: the aligned, read-only columnar market handed to the engine;
//! - [`bracket`]: dated maintenance-margin bracket tables and their validation;
//! - [`signal`]: one event of a signal channel (open / close / cancel / move_stop);
//! - [`results`]: the plain records one simulation run produces (trades, liquidations, equity, summary);
//! - [`text`]: edit distance and nearest-name hints for error messages.
//!
//! Numbers: prices and statistics are `f64` (per-bar comparisons); money in the ledger and in
//! results (PnL, fees, funding, margin, quantities) is [`rust_decimal::Decimal`].

pub mod bracket;
pub mod checklist;
pub mod claims;
pub mod market;
pub mod money;
pub mod results;
pub mod signal;
pub mod symbol;
pub mod text;
pub mod time;

pub use bracket::{Bracket, BracketBook, BracketIssue, BracketSnapshot};
pub use claims::{ClaimCheck, ClaimSummary};
pub use market::{
    DataWarning, Funding, MarkColumns, Market, SymbolLookup, SymbolSeries, WarningKind,
};
pub use money::{Leverage, Price, Qty, Usdt};
pub use results::{
    AdlRecord, AdlTrigger, EquityPoint, Exit, ExitReason, LiquidatedPosition, LiquidationEvent,
    RunResult, RunSummary, SkippedSignal, Trade,
};
pub use signal::{Action, Claim, EntryLevel, EntrySpec, MarginMode, Side, SignalEvent, SignalId};
pub use symbol::{Symbol, SymbolError};
pub use time::TimestampMs;
