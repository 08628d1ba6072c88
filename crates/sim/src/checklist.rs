//! The pre-signal checklist (DESIGN.md §9): for every `open` call of a channel, at its time, the five
//! checks a careful follower makes, and a verdict.
//!
//! Pure computation: no I/O, no clock. Everything a row says is computed from what was known **at
//! the call's time** `t` and nothing later:
//! - prices: only bars that **closed** at or before `t` (`bar open + timeframe <= t`); the reference
//!   price of a market call is the last such close, a limit call uses its limit, a zone call the last
//!   close clamped into the zone;
//! - funding: only settlements strictly before `t`;
//! - the book: the backtest's trades of the same account × policy open at `t` (`open_time <= t <
//!   close_time`, quantity left after the exits at or before `t`) — what the follower would hold;
//! - equity: the backtest's last equity point whose bar closed at or before `t`, with non-stable
//!   collateral revalued at `t` (the engine records no point while idle);
//! - holding time: the channel's own earlier calls and their updates at or before `t`.
//!
//! # The checks
//! 1. **Stop vs liquidation**: the isolated liquidation price at the called leverage (the policy's
//!    leverage when the call names none; capped by the bracket's maximum leverage for the notional, as
//!    the exchange would), with the position sized by the policy, brackets looked up by notional, and
//!    the entry fee and the stop's exit fee taken out of the margin cushion
//!    (`WB = IM − entry fee − stop fee`). Whether the stop fires first, and the highest leverage at
//!    which the stop stays ahead of the liquidation price by [`ChecklistConfig::stop_buffer`] × price.
//! 2. **Correlation with the book**: the directional return correlation (`ρ × side_new × side_open`,
//!    Pearson of close-to-close log returns over [`ChecklistConfig::correlation_window`] bars) with
//!    each open position, and the book's correlated exposure `sqrt(Σ_i Σ_j n_i n_j ρ_ij)` before and
//!    after adding the call (as in [`crate::annotate_book_exposure`]).
//! 3. **Collateral quality**: usable margin = equity − haircuts on non-stable collateral − margin held
//!    by open positions; the share of it this position's margin and fees would consume; the
//!    directional correlation of the position with non-stable collateral (a BTC long on BTC collateral:
//!    the collateral falls exactly when the position needs it).
//! 4. **Funding headwind**: the latest settled rate × the expected number of settlements over the
//!    channel's typical holding time (median, from open to the last update, of its earlier calls on the
//!    symbol; else on any symbol; else [`ChecklistConfig::default_hold_ms`]), in % of notional, against
//!    the stop distance in %.
//! 5. **Tier**: the maintenance bracket of the notional and the distance to the next one.
//!
//! # Verdict rules
//! - **skip** when any of: no closed bar before the call; the price is already beyond the stop; the
//!   stop cannot stay ahead of the liquidation price even at 1× (max safe leverage < 1); the funding
//!   headwind exceeds [`ChecklistConfig::max_funding_share`] of the stop distance; the usable margin
//!   does not cover the position's margin and fees.
//! - **isolated** when any of: the stop is beyond the liquidation price at the called leverage (follow
//!   only isolated, at no more than the max safe leverage); the call has no stop; the directional
//!   correlation with an open position exceeds [`ChecklistConfig::max_correlation`]; collateral
//!   quality is poor (usable margin ≤ 0, the position would consume more than
//!   [`ChecklistConfig::max_margin_share`] of it, or it is correlated above
//!   [`ChecklistConfig::max_correlation`] with non-stable collateral that makes up at least
//!   [`ChecklistConfig::min_volatile_share`] of equity).
//! - **cross-ok** otherwise.
//!
//! Reasons that drive the verdict are in [`ChecklistRow::reasons`]; informational findings (tier near
//! the next bracket, leverage capped by the bracket, no funding data) in [`ChecklistRow::notes`].

use crate::config::{Account, EngineConfig, LeverageRule, MaintenanceBasis, Policy, Sizing};
use crate::engine::correlation;
use crate::error::SimError;
use crate::margin::{isolated_liq_price, liq_price_entry_basis};
use ringfence_model::bracket::bracket_for;
use ringfence_model::time::{HOUR_MS, iso};
use ringfence_model::{
    Action, Bracket, BracketBook, EntrySpec, ExitReason, Market, RunResult, Side, SignalEvent,
    Symbol, TimestampMs,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

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

/// What the checklist advises for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Verdict {
    /// Following it in cross margin is acceptable.
    #[serde(rename = "cross-ok")]
    CrossOk,
    /// Follow it only in isolated margin (at no more than the max safe leverage).
    #[serde(rename = "isolated")]
    Isolated,
    /// Do not follow it.
    #[serde(rename = "skip")]
    Skip,
}

impl Verdict {
    /// The verdict as written in tables: `cross-ok`, `isolated`, `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::CrossOk => "cross-ok",
            Verdict::Isolated => "isolated",
            Verdict::Skip => "skip",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in words (the findings that set the verdict).
    pub reasons: Vec<String>,
    /// Informational findings that do not change the verdict.
    pub notes: Vec<String>,
}

/// One line per channel (signal file).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelSummary {
    /// The channel (signal file).
    pub channel: String,
    /// `open` calls checked.
    pub calls: usize,
    /// Calls with a stop.
    pub calls_with_stop: usize,
    /// Share of calls with a stop whose stop sits beyond the liquidation price at the called leverage.
    pub stop_beyond_liq_share: Option<f64>,
    /// Cross runs looked at for cascade victims.
    pub cross_runs: usize,
    /// Share of calls whose position was a cascade victim (closed by another position's loss) in at
    /// least one of the cross runs; `None` without cross runs.
    pub cascade_victim_share: Option<f64>,
    /// Median max safe leverage over calls with a stop.
    pub median_safe_leverage: Option<f64>,
    /// Verdict counts.
    pub cross_ok: usize,
    /// Calls to follow only isolated.
    pub isolated: usize,
    /// Calls to skip.
    pub skip: usize,
}

fn dec(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or(Decimal::ZERO)
}

fn flt(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// Median of finite values (`None` when empty).
fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// The market as known at `t`: bars that closed at or before `t`.
struct Known<'a> {
    market: &'a Market,
    /// Bars `0..closed` closed at or before `t`.
    closed: usize,
}

impl<'a> Known<'a> {
    fn new(market: &'a Market, t: TimestampMs) -> Self {
        let tf = market.timeframe_ms;
        let closed = market.times.partition_point(|&x| x.saturating_add(tf) <= t);
        Known { market, closed }
    }

    /// Last finite close of series `k` among the closed bars, with its index.
    fn close(&self, k: usize) -> Option<(usize, f64)> {
        let s = &self.market.series[k];
        let end = self.closed.min(s.end);
        (s.first..end)
            .rev()
            .map(|j| (j, s.close[j]))
            .find(|(_, c)| c.is_finite() && *c > 0.0)
    }

    fn close_of(&self, symbol: &Symbol) -> Option<f64> {
        self.market
            .symbol_index(symbol)
            .and_then(|k| self.close(k))
            .map(|(_, c)| c)
    }

    fn rho(&self, a: usize, b: usize, window: usize) -> Option<f64> {
        correlation(self.market, a, b, self.closed, window)
    }
}

/// One position of the book at the call's time.
struct Open {
    sym: usize,
    symbol: Symbol,
    side: Side,
    /// Signed notional at the last close.
    notional: f64,
    margin: f64,
}

/// The positions open at `t`, in order of opening (the run lists trades in closing order, which
/// depends on later prices).
fn open_book(book: &RunResult, known: &Known, t: TimestampMs, exclude: &str) -> Vec<Open> {
    let mut trades: Vec<&ringfence_model::Trade> = book
        .trades
        .iter()
        .filter(|tr| tr.open_time <= t && t < tr.close_time && tr.signal_id != exclude)
        .collect();
    trades.sort_by(|a, b| {
        (a.open_time, &a.signal_id, &a.symbol).cmp(&(b.open_time, &b.signal_id, &b.symbol))
    });
    trades
        .into_iter()
        .filter_map(|tr| {
            let exited: Decimal = tr.exits.iter().filter(|e| e.time <= t).map(|e| e.qty).sum();
            let left = flt(tr.qty - exited);
            if left <= 0.0 {
                return None;
            }
            let sym = known.market.symbol_index(&tr.symbol)?;
            let px = known.close(sym).map_or(tr.entry_price, |(_, c)| c);
            Some(Open {
                sym,
                symbol: tr.symbol.clone(),
                side: tr.side,
                notional: tr.side.sign() * left * px,
                margin: flt(tr.margin),
            })
        })
        .collect()
}

/// Correlated exposure `sqrt(max(0, Σ_i Σ_j n_i n_j ρ_ij))` (the same formula as the equity curve's).
fn exposure(known: &Known, legs: &[(usize, f64)], window: usize) -> f64 {
    crate::exposure::book_stats(legs, |a, b| known.rho(a, b, window)).0
}

/// Equity at `t`: the last equity point whose bar closed at or before `t`, with non-stable
/// collateral revalued from that bar's close to the last close known at `t`; the starting
/// collateral at `t` when there is no such point.
fn equity_at(book: &RunResult, known: &Known, account: &Account, t: TimestampMs) -> f64 {
    let m = known.market;
    let tf = m.timeframe_ms;
    let volatile = |at: &dyn Fn(&Symbol) -> Option<f64>| -> f64 {
        account
            .collateral
            .iter()
            .filter(|(a, _)| !is_stable(a))
            .map(|(a, amount)| {
                Symbol::parse(&format!("{a}USDT"))
                    .ok()
                    .and_then(|s| at(&s))
                    .map_or(0.0, |p| flt(*amount) * p)
            })
            .sum()
    };
    let now = volatile(&|s| known.close_of(s));
    match book
        .equity
        .iter()
        .rev()
        .find(|p| p.time.saturating_add(tf) <= t)
    {
        Some(p) => {
            let then = Known {
                market: m,
                closed: m.bar_at_or_after(p.time) + 1,
            };
            p.equity + now - volatile(&|s| then.close_of(s))
        }
        None => {
            let stable: f64 = account
                .collateral
                .iter()
                .filter(|(a, _)| is_stable(a))
                .map(|(_, x)| flt(*x))
                .sum();
            stable + now
        }
    }
}

fn is_stable(asset: &str) -> bool {
    asset == "USDT" || asset == "USDC"
}

/// The channel's history of calls: `(channel, id, symbol, open time, update times)`.
struct Call<'a> {
    channel: &'a str,
    id: &'a str,
    symbol: &'a Symbol,
    time: TimestampMs,
    updates: Vec<TimestampMs>,
}

fn history(signals: &[SignalEvent]) -> Vec<Call<'_>> {
    let mut calls: Vec<Call> = Vec::new();
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut order: Vec<&SignalEvent> = signals.iter().collect();
    order.sort_by_key(|s| s.time);
    for s in order {
        let key = (s.source.as_str(), s.id.as_str());
        match (s.action, index.get(&key)) {
            (Action::Open, None) => {
                if let Some(symbol) = &s.symbol {
                    index.insert(key, calls.len());
                    calls.push(Call {
                        channel: &s.source,
                        id: &s.id,
                        symbol,
                        time: s.time,
                        updates: Vec::new(),
                    });
                }
            }
            (Action::Open, Some(_)) => {}
            (_, Some(&k)) => calls[k].updates.push(s.time),
            (_, None) => {}
        }
    }
    calls
}

/// Expected holding time at `t` and where it comes from.
fn expected_hold(
    calls: &[Call],
    sig: &SignalEvent,
    symbol: &Symbol,
    default_ms: TimestampMs,
) -> (TimestampMs, String) {
    let t = sig.time;
    let holds = |same_symbol: bool| -> Vec<f64> {
        calls
            .iter()
            .filter(|c| c.channel == sig.source && c.id != sig.id && c.time < t)
            .filter(|c| !same_symbol || c.symbol == symbol)
            .filter_map(|c| {
                let last = c.updates.iter().copied().filter(|&u| u <= t).max()?;
                Some((last - c.time) as f64)
            })
            .collect()
    };
    let own = holds(true);
    if let Some(m) = median(own.clone()) {
        return (
            m as TimestampMs,
            format!("symbol history ({} calls)", own.len()),
        );
    }
    let all = holds(false);
    if let Some(m) = median(all.clone()) {
        return (
            m as TimestampMs,
            format!("channel history ({} calls)", all.len()),
        );
    }
    (default_ms, "default".into())
}

/// Everything that depends on the leverage: sizing, fees, liquidation price.
struct Sized {
    notional: f64,
    qty: Decimal,
    margin: f64,
    fees: f64,
    liq: Option<f64>,
}

struct Sizer<'a> {
    tiers: &'a [Bracket],
    policy: &'a Policy,
    cfg: &'a EngineConfig,
    fee_mult: Decimal,
    maker: bool,
    side: Side,
    price: f64,
    stop: Option<f64>,
    equity: f64,
}

impl Sizer<'_> {
    fn notional(&self, lev: f64) -> Option<f64> {
        match &self.policy.sizing {
            Sizing::FixedMargin(m) => Some(flt(*m) * lev),
            Sizing::MarginFraction(x) => Some(x * self.equity * lev),
            Sizing::RiskFraction(x) => {
                let dist = (self.price - self.stop?).abs();
                (dist > 0.0).then(|| x * self.equity / dist * self.price)
            }
            Sizing::FixedNotional(n) => Some(flt(*n)),
        }
        .filter(|n| n.is_finite() && *n > 0.0)
    }

    /// The leverage the exchange allows: `lev` lowered to the bracket maximum of its notional.
    fn capped(&self, mut lev: f64) -> f64 {
        for _ in 0..64 {
            let Some(n) = self.notional(lev) else { break };
            let max = flt(bracket_for(self.tiers, dec(n)).max_leverage);
            if lev <= max {
                break;
            }
            lev = max;
        }
        lev
    }

    fn at(&self, lev: f64) -> Option<Sized> {
        let notional = self.notional(lev)?;
        let entry = dec(self.price);
        let qty = dec(notional) / entry;
        let ex = &self.cfg.exchange;
        let entry_rate = if self.maker {
            ex.maker_fee
        } else {
            ex.taker_fee
        };
        let entry_fee = dec(notional) * entry_rate * self.fee_mult;
        let stop_fee = self.stop.map_or(Decimal::ZERO, |s| {
            qty * dec(s) * ex.taker_fee * self.fee_mult
        });
        let im = dec(notional / lev);
        let wb = im - entry_fee - stop_fee;
        let lp = match ex.maintenance_basis {
            MaintenanceBasis::Mark => isolated_liq_price(self.side, qty, entry, wb, self.tiers),
            MaintenanceBasis::Entry => liq_price_entry_basis(self.side, qty, entry, wb, self.tiers),
        };
        Some(Sized {
            notional,
            qty,
            margin: flt(im),
            fees: flt(entry_fee + stop_fee),
            liq: lp.map(|l| flt(l.price)),
        })
    }

    /// True when the stop stays ahead of the liquidation price by `buffer × price` at `lev`.
    fn safe(&self, lev: f64, stop: f64, buffer: f64) -> bool {
        match self.at(lev).and_then(|s| s.liq) {
            None => true,
            Some(lp) => self.side.sign() * (stop - lp) >= buffer * self.price,
        }
    }

    /// Highest leverage (down to 0.01) at which [`Sizer::safe`] holds, up to the bracket maximum.
    fn max_safe(&self, stop: f64, buffer: f64) -> Option<f64> {
        let top = self.capped(flt(self.tiers.first()?.max_leverage));
        if self.safe(top, stop, buffer) {
            return Some(top);
        }
        let mut lo = 0.01;
        if !self.safe(lo, stop, buffer) {
            return Some(0.0);
        }
        let mut hi = top;
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.safe(mid, stop, buffer) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
}

fn policy_leverage(policy: &Policy, called: Option<f64>) -> f64 {
    let lev = match policy.leverage {
        LeverageRule::AsCalled { default } => called.unwrap_or(default),
        LeverageRule::Fixed(x) => x,
        LeverageRule::Capped(x) => called.map_or(x, |c| c.min(x)),
    };
    if lev.is_finite() && lev >= 1.0 {
        lev
    } else {
        1.0
    }
}

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

/// Evaluates every `open` call of `signals` at its own time against `account` × `policy`, the book
/// being the trades of `book` (the backtest of that account × policy). Rows come in signal order.
///
/// # Errors
/// [`SimError::NoMarketData`] for a call naming a symbol the market does not hold,
/// [`SimError::NoBrackets`] when no bracket table covers it at its time.
#[allow(clippy::too_many_arguments)]
pub fn checklist(
    market: &Market,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    account: &Account,
    policy: &Policy,
    cfg: &EngineConfig,
    book: &RunResult,
    ccfg: &ChecklistConfig,
) -> Result<Vec<ChecklistRow>, SimError> {
    let calls = history(signals);
    let mut rows = Vec::new();
    for sig in signals.iter().filter(|s| s.action == Action::Open) {
        let (Some(symbol), Some(side)) = (&sig.symbol, sig.side) else {
            continue;
        };
        let sym = market
            .symbol_index(symbol)
            .ok_or_else(|| SimError::NoMarketData {
                id: sig.id.clone(),
                source_file: sig.source.clone(),
                line: sig.line,
                symbol: symbol.clone(),
            })?;
        let tiers = brackets
            .table(symbol, sig.time)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SimError::NoBrackets {
                symbol: symbol.clone(),
                date: iso(sig.time),
            })?;
        rows.push(check_one(
            market, tiers, &calls, sig, sym, side, account, policy, cfg, book, ccfg,
        ));
    }
    Ok(rows)
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    market: &Market,
    tiers: &[Bracket],
    calls: &[Call],
    sig: &SignalEvent,
    sym: usize,
    side: Side,
    account: &Account,
    policy: &Policy,
    cfg: &EngineConfig,
    book: &RunResult,
    ccfg: &ChecklistConfig,
) -> ChecklistRow {
    let t = sig.time;
    let symbol = market.series[sym].symbol.clone();
    let known = Known::new(market, t);
    let s = side.sign();
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    let mut skip = false;
    let mut isolated = false;

    let last = known.close(sym).map(|(_, c)| c);
    let (entry_kind, reference, maker) = match sig.entry {
        EntrySpec::Market => ("market", last, false),
        EntrySpec::Limit { price } => ("limit", Some(price), true),
        EntrySpec::Zone { low, high } => ("zone", last.map(|c| c.clamp(low, high)), true),
    };
    let stop = sig.stop;
    let by_policy = policy_leverage(policy, sig.leverage);
    let called = sig
        .leverage
        .filter(|l| l.is_finite() && *l >= 1.0)
        .unwrap_or(by_policy);

    // Book, equity, collateral: need no price of the called symbol.
    let open = open_book(book, &known, t, &sig.id);
    let equity = equity_at(book, &known, account, t);
    let mut haircut = 0.0;
    let mut volatile_value = 0.0;
    let mut collateral_correlation: Option<f64> = None;
    for (asset, amount) in account.collateral.iter().filter(|(a, _)| !is_stable(a)) {
        let Ok(pair) = Symbol::parse(&format!("{asset}USDT")) else {
            continue;
        };
        let Some(k) = market.symbol_index(&pair) else {
            continue;
        };
        let value = known.close(k).map_or(0.0, |(_, c)| flt(*amount) * c);
        volatile_value += value;
        haircut += value * cfg.exchange.haircut(asset);
        if let Some(r) = known.rho(sym, k, ccfg.correlation_window) {
            let d = r * s;
            collateral_correlation = Some(collateral_correlation.map_or(d, |c: f64| c.max(d)));
        }
    }
    let held: f64 = open.iter().map(|o| o.margin).sum();
    let usable = equity - haircut - held;
    let volatile_share = if equity > 0.0 {
        volatile_value / equity
    } else {
        0.0
    };
    let max_book_corr = open
        .iter()
        .filter_map(|o| {
            known
                .rho(sym, o.sym, ccfg.correlation_window)
                .map(|r| r * s * o.side.sign())
        })
        .max_by(f64::total_cmp);
    let book_text = open
        .iter()
        .map(|o| format!("{} {}", o.symbol, o.side))
        .collect::<Vec<_>>()
        .join(", ");
    let legs: Vec<(usize, f64)> = open.iter().map(|o| (o.sym, o.notional)).collect();
    let exposure_before = exposure(&known, &legs, ccfg.correlation_window);

    let (hold_ms, hold_basis) = expected_hold(calls, sig, &symbol, ccfg.default_hold_ms);
    let funding = &market.series[sym].funding;
    let settled = funding.times.partition_point(|&x| x < t);
    let funding_rate = settled.checked_sub(1).map(|k| funding.rates[k]);
    let interval = if settled >= 2 {
        (funding.times[settled - 1] - funding.times[settled - 2]).max(1)
    } else {
        8 * HOUR_MS
    };

    let mut row = ChecklistRow {
        channel: sig.source.clone(),
        signal_id: sig.id.clone(),
        time: t,
        time_iso: iso(t),
        symbol: symbol.clone(),
        side,
        entry_kind,
        reference_price: reference,
        stop,
        leverage: called,
        policy_leverage: by_policy,
        notional: None,
        margin: None,
        fees: None,
        liq_price: None,
        stop_distance_pct: None,
        liq_distance_pct: None,
        stop_before_liq: None,
        max_safe_leverage: None,
        book_positions: open.len(),
        book: book_text,
        max_book_correlation: max_book_corr,
        exposure_before,
        exposure_after: exposure_before,
        equity,
        haircut,
        usable_margin: usable,
        margin_share: None,
        volatile_collateral_share: volatile_share,
        collateral_correlation,
        funding_rate,
        expected_hold_hours: hold_ms as f64 / HOUR_MS as f64,
        hold_basis,
        funding_headwind_pct: None,
        funding_share_of_stop: None,
        tier: None,
        tier_mmr: None,
        tier_max_leverage: None,
        next_tier_floor: None,
        next_tier_distance_pct: None,
        verdict: Verdict::CrossOk,
        reasons: Vec::new(),
        notes: Vec::new(),
    };

    let Some(price) = reference.filter(|p| p.is_finite() && *p > 0.0) else {
        row.verdict = Verdict::Skip;
        row.reasons = vec![format!(
            "no {symbol} bar closed at or before the call: nothing to check against"
        )];
        return row;
    };

    // 1. stop vs liquidation
    let sizer = Sizer {
        tiers,
        policy,
        cfg,
        fee_mult: account.fee_multiplier,
        maker,
        side,
        price,
        stop,
        equity,
    };
    let lev = sizer.capped(called);
    if lev < called {
        notes.push(format!(
            "leverage {called}x capped at {lev}x by the bracket of the notional"
        ));
    }
    row.leverage = lev;
    let sized = sizer.at(lev);
    let stop_dist = stop.map(|st| s * (price - st) / price);
    row.stop_distance_pct = stop_dist.map(|d| d * 100.0);
    match stop {
        None => {
            isolated = true;
            reasons.push("no stop: only isolated margin bounds the loss".into());
        }
        Some(st) if stop_dist.is_some_and(|d| d <= 0.0) => {
            skip = true;
            reasons.push(format!(
                "price {price} is already beyond the stop {st} at the call"
            ));
        }
        Some(st) => {
            row.max_safe_leverage = sizer.max_safe(st, ccfg.stop_buffer);
            if let Some(z) = &sized {
                row.liq_price = z.liq;
                row.liq_distance_pct = z.liq.map(|lp| s * (price - lp) / price * 100.0);
                let first = z.liq.is_none_or(|lp| s * (st - lp) > 0.0);
                row.stop_before_liq = Some(first);
                if !first {
                    isolated = true;
                    let lp = z.liq.unwrap_or(f64::NAN);
                    reasons.push(format!(
                        "stop {st} is beyond the liquidation price {lp:.6} at {lev}x: the position is liquidated before its stop fires; isolated at no more than {:.1}x",
                        row.max_safe_leverage.unwrap_or(0.0)
                    ));
                    if row.max_safe_leverage.is_some_and(|m| by_policy <= m) {
                        notes.push(format!(
                            "the policy's {by_policy}x keeps the stop ahead of the liquidation price"
                        ));
                    }
                }
            }
            if let Some(m) = row.max_safe_leverage
                && m < 1.0
            {
                skip = true;
                reasons.push(format!(
                    "the stop cannot stay {} ahead of the liquidation price even at 1x (max safe leverage {m:.2}x)",
                    pct(ccfg.stop_buffer)
                ));
            }
        }
    }
    let Some(z) = sized else {
        row.verdict = Verdict::Skip;
        reasons.push("the policy cannot size this call (risk sizing needs a stop)".into());
        row.reasons = reasons;
        row.notes = notes;
        return row;
    };
    row.notional = Some(z.notional);
    row.margin = Some(z.margin);
    row.fees = Some(z.fees);
    debug_assert!(z.qty > Decimal::ZERO);

    // 2. correlation with the book
    let mut after = legs.clone();
    after.push((sym, s * z.notional));
    row.exposure_after = exposure(&known, &after, ccfg.correlation_window);
    if let Some(c) = max_book_corr
        && c > ccfg.max_correlation
    {
        isolated = true;
        reasons.push(format!(
            "moves with the open book (directional correlation {c:.2} > {:.2}): correlated exposure {:.0} -> {:.0} USDT",
            ccfg.max_correlation, row.exposure_before, row.exposure_after
        ));
    }

    // 3. collateral quality
    let need = z.margin + z.fees;
    row.margin_share = (usable > 0.0).then(|| need / usable);
    if usable < need {
        skip = true;
        reasons.push(format!(
            "usable margin {usable:.2} USDT (after haircuts {haircut:.2} and {held:.2} held by open positions) does not cover {need:.2}"
        ));
    } else if let Some(share) = row.margin_share
        && share > ccfg.max_margin_share
    {
        isolated = true;
        reasons.push(format!(
            "would consume {} of the usable margin {usable:.2} USDT",
            pct(share)
        ));
    }
    if let Some(c) = collateral_correlation
        && c > ccfg.max_correlation
        && volatile_share >= ccfg.min_volatile_share
    {
        isolated = true;
        reasons.push(format!(
            "moves with the non-stable collateral ({} of equity, directional correlation {c:.2}): the collateral loses value when the position does",
            pct(volatile_share)
        ));
    }

    // 4. funding headwind
    match funding_rate {
        None => notes.push(format!(
            "no {symbol} funding settled before the call: funding headwind unknown"
        )),
        Some(rate) => {
            let settlements = hold_ms as f64 / interval as f64;
            let headwind = s * rate * settlements;
            row.funding_headwind_pct = Some(headwind * 100.0);
            if let Some(d) = stop_dist.filter(|d| *d > 0.0) {
                let share = headwind / d;
                row.funding_share_of_stop = Some(share);
                if share > ccfg.max_funding_share {
                    skip = true;
                    reasons.push(format!(
                        "funding headwind {:.3} % over {:.0} h ({} per settlement) is {} of the stop distance {:.2} %",
                        headwind * 100.0,
                        row.expected_hold_hours,
                        rate,
                        pct(share),
                        d * 100.0
                    ));
                }
            }
        }
    }

    // 5. tier
    let b = bracket_for(tiers, dec(z.notional));
    row.tier = Some(b.tier);
    row.tier_mmr = Some(b.mmr_f64());
    row.tier_max_leverage = Some(flt(b.max_leverage));
    if let Some(next) = tiers.iter().find(|x| x.floor > b.floor) {
        let floor = flt(next.floor);
        let dist = (floor - z.notional) / z.notional;
        row.next_tier_floor = Some(floor);
        row.next_tier_distance_pct = Some(dist * 100.0);
        if dist < ccfg.near_next_tier {
            notes.push(format!(
                "notional {:.0} in tier {} is {} below tier {} (mmr {} -> {}, max leverage {})",
                z.notional,
                b.tier,
                pct(dist),
                next.tier,
                b.mmr.normalize(),
                next.mmr.normalize(),
                next.max_leverage.normalize()
            ));
        }
    }

    row.verdict = if skip {
        Verdict::Skip
    } else if isolated {
        Verdict::Isolated
    } else {
        Verdict::CrossOk
    };
    row.reasons = reasons;
    row.notes = notes;
    row
}

/// One line per channel: share of calls whose stop is beyond the liquidation price at the called
/// leverage, share of calls that were cascade victims in the given cross runs (a trade of that call
/// closed with [`ExitReason::Cascade`]), median safe leverage, verdict counts. Channels in order of
/// first appearance.
pub fn channel_summaries(rows: &[ChecklistRow], cross_runs: &[&RunResult]) -> Vec<ChannelSummary> {
    let mut order: Vec<&str> = Vec::new();
    for r in rows {
        if !order.contains(&r.channel.as_str()) {
            order.push(&r.channel);
        }
    }
    let victims: std::collections::BTreeSet<&str> = cross_runs
        .iter()
        .flat_map(|run| run.trades.iter())
        .filter(|tr| !tr.background && tr.exit_reason == ExitReason::Cascade)
        .map(|tr| tr.signal_id.as_str())
        .collect();
    order
        .into_iter()
        .map(|ch| {
            let mine: Vec<&ChecklistRow> = rows.iter().filter(|r| r.channel == ch).collect();
            let with_stop: Vec<&&ChecklistRow> = mine
                .iter()
                .filter(|r| r.stop_before_liq.is_some())
                .collect();
            let beyond = with_stop
                .iter()
                .filter(|r| r.stop_before_liq == Some(false))
                .count();
            let n = mine.len();
            let count = |v: Verdict| mine.iter().filter(|r| r.verdict == v).count();
            ChannelSummary {
                channel: ch.to_string(),
                calls: n,
                calls_with_stop: with_stop.len(),
                stop_beyond_liq_share: (!with_stop.is_empty())
                    .then(|| beyond as f64 / with_stop.len() as f64),
                cross_runs: cross_runs.len(),
                cascade_victim_share: (!cross_runs.is_empty() && n > 0).then(|| {
                    mine.iter()
                        .filter(|r| victims.contains(r.signal_id.as_str()))
                        .count() as f64
                        / n as f64
                }),
                median_safe_leverage: median(
                    mine.iter().filter_map(|r| r.max_safe_leverage).collect(),
                ),
                cross_ok: count(Verdict::CrossOk),
                isolated: count(Verdict::Isolated),
                skip: count(Verdict::Skip),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModeRule, binance_default_brackets};
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
}
