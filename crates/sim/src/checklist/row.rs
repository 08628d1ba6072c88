//! The checklist's inputs and outputs: thresholds, verdicts, one row per call, one summary per
//! channel.

use super::*;

/// Thresholds of the checklist. Defaults are documented on each field.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistConfig {
    /// Gap the stop must keep ahead of the liquidation price, as a fraction of the entry price, for a
    /// leverage to count as safe. Default 0.005 (0.5 %).
    pub stop_buffer: f64,
    /// Window (bars) of the rolling return correlation. Default 72.
    pub correlation_window: usize,
    /// Directional correlation above which a call should not share collateral with the position (or
    /// non-stable collateral) it moves with: verdict at least `isolated`. Default 0.6.
    pub max_correlation: f64,
    /// Funding headwind above this share of the stop distance: `skip`. Default 0.5.
    pub max_funding_share: f64,
    /// Share of usable margin a position may consume before collateral counts as poor. Default 0.5.
    pub max_margin_share: f64,
    /// Share of equity in non-stable collateral from which a correlated position makes collateral
    /// poor. Default 0.2.
    pub min_volatile_share: f64,
    /// Holding time when the channel has no history yet, ms. Default 24 h.
    pub default_hold_ms: TimestampMs,
    /// Distance to the next bracket (fraction of notional) under which the tier is noted as close.
    /// Default 0.1.
    pub near_next_tier: f64,
}

impl Default for ChecklistConfig {
    fn default() -> Self {
        ChecklistConfig {
            stop_buffer: 0.005,
            correlation_window: 72,
            max_correlation: 0.6,
            max_funding_share: 0.5,
            max_margin_share: 0.5,
            min_volatile_share: 0.2,
            default_hold_ms: 24 * HOUR_MS,
            near_next_tier: 0.1,
        }
    }
}

pub use ringfence_model::checklist::{ChannelSummary, Verdict};

/// The checklist of one `open` call. Prices in USDT; `*_pct` fields in percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecklistRow {
    /// The channel: the signal file the call came from.
    pub channel: String,
    /// The call id.
    pub signal_id: String,
    /// When it was posted (ms UTC).
    pub time: TimestampMs,
    /// The same, ISO-8601 UTC.
    pub time_iso: String,
    /// Symbol.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// `market`, `limit` or `zone`.
    pub entry_kind: &'static str,
    /// The entry price assumed (see the module docs); `None` when no bar closed before the call.
    pub reference_price: Option<f64>,
    /// The call's stop.
    pub stop: Option<f64>,
    /// Leverage the checks use: the called leverage (the policy's when the call names none), capped
    /// by the bracket's maximum for the notional.
    pub leverage: f64,
    /// Leverage the policy would use (its leverage rule applied to the call), for comparison.
    pub policy_leverage: f64,
    /// Notional of the position under the policy's sizing.
    pub notional: Option<f64>,
    /// Initial margin (`notional / leverage`).
    pub margin: Option<f64>,
    /// Entry fee plus the stop's exit fee.
    pub fees: Option<f64>,
    /// 1. Isolated liquidation price at `leverage` (fees out of the cushion); `None` when no positive
    ///    price liquidates the position.
    pub liq_price: Option<f64>,
    /// Distance from the reference price to the stop, % (negative: the price is already beyond it).
    pub stop_distance_pct: Option<f64>,
    /// Distance from the reference price to the liquidation price, %.
    pub liq_distance_pct: Option<f64>,
    /// True when the stop fires before the liquidation price is reached.
    pub stop_before_liq: Option<bool>,
    /// Highest leverage at which the stop stays ahead of the liquidation price by the buffer.
    pub max_safe_leverage: Option<f64>,
    /// 2. Open positions of the book at the call's time.
    pub book_positions: usize,
    /// The book, e.g. `BTCUSDT long, ETHUSDT short`.
    pub book: String,
    /// Highest directional correlation with an open position.
    pub max_book_correlation: Option<f64>,
    /// Correlated exposure of the book before the call (USDT).
    pub exposure_before: f64,
    /// Correlated exposure after adding the call (USDT).
    pub exposure_after: f64,
    /// 3. Account equity at the call's time.
    pub equity: f64,
    /// Haircuts on non-stable collateral (USDT).
    pub haircut: f64,
    /// Usable margin: equity − haircuts − margin held by open positions.
    pub usable_margin: f64,
    /// Share of the usable margin this position's margin and fees would consume.
    pub margin_share: Option<f64>,
    /// Share of equity held in non-stable collateral.
    pub volatile_collateral_share: f64,
    /// Highest directional correlation of the position with non-stable collateral.
    pub collateral_correlation: Option<f64>,
    /// 4. Latest funding rate settled before the call (fraction per settlement).
    pub funding_rate: Option<f64>,
    /// Expected holding time, hours.
    pub expected_hold_hours: f64,
    /// Where the holding time comes from (`symbol history (n calls)`, `channel history (n calls)`,
    /// `default`).
    pub hold_basis: String,
    /// Funding paid over the expected hold, % of notional (negative: received).
    pub funding_headwind_pct: Option<f64>,
    /// Funding headwind as a share of the stop distance.
    pub funding_share_of_stop: Option<f64>,
    /// 5. Maintenance bracket (tier) of the notional.
    pub tier: Option<u32>,
    /// Its maintenance margin rate.
    pub tier_mmr: Option<f64>,
    /// Its maximum leverage.
    pub tier_max_leverage: Option<f64>,
    /// Floor of the next bracket (USDT).
    pub next_tier_floor: Option<f64>,
    /// Distance from the notional to the next bracket, % of the notional.
    pub next_tier_distance_pct: Option<f64>,
    /// 6. (ADL on) The position's ADL ranking score if the price reached its first target
    ///    (isolated: against its margin; cross: against the account and book).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adl_score_at_target: Option<f64>,
    /// Its ADL quantile 0–4 there (4 = first in the queue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adl_quantile_at_target: Option<u8>,
    /// Cross: share of the book's margin balance that is unrealised profit of open positions in ADL
    /// quantile 3–4 at the call (what ADL would take first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adl_first_margin_share: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words (the findings that set the verdict).
    pub reasons: Vec<String>,
    /// Informational findings that do not change the verdict.
    pub notes: Vec<String>,
}
