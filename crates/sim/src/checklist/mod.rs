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

use crate::config::{Account, EngineConfig, Policy};
use crate::error::SimError;
use crate::num::{dec, flt};
use crate::returns::MarketStats;
use ringfence_model::bracket::bracket_for;
use ringfence_model::time::{HOUR_MS, iso};
use ringfence_model::{
    Action, Bracket, BracketBook, EntrySpec, ExitReason, Market, RunResult, Side, SignalEvent,
    Symbol, TimestampMs,
};
use ringfence_model::{Price, Qty, Usdt};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

mod adl;
mod known;
mod row;
mod sizing;
#[cfg(test)]
mod tests;

use known::*;
pub use row::{ChannelSummary, ChecklistConfig, ChecklistRow, Verdict};
use sizing::*;

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
    use rayon::prelude::*;
    let calls = history(signals);
    let stats = MarketStats::new(market, ccfg.correlation_window);
    // Every call is checked on its own (what was known at its time): in parallel, collected in
    // signal order, the first error in that order returned.
    let opens: Vec<&SignalEvent> = signals
        .iter()
        .filter(|s| s.action == Action::Open)
        .collect();
    let lookup = market.symbol_lookup();
    let rows: Vec<Result<Option<ChecklistRow>, SimError>> = opens
        .par_iter()
        .map(|sig| {
            let (Some(symbol), Some(side)) = (&sig.symbol, sig.side) else {
                return Ok(None);
            };
            let sym = lookup.index(symbol).ok_or_else(|| SimError::NoMarketData {
                id: sig.id.to_string(),
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
            Ok(Some(check_one(
                &stats, brackets, tiers, &calls, sig, sym, side, account, policy, cfg, book, ccfg,
            )))
        })
        .collect();
    rows.into_iter().filter_map(Result::transpose).collect()
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    stats: &MarketStats<'_>,
    brackets: &BracketBook,
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
    let market = stats.market();
    let symbol = market.series[sym].symbol.clone();
    let known = Known::new(stats, t);
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
    let by_policy = crate::policy::leverage(&policy.leverage, sig.leverage);
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
    for (asset, amount) in account
        .collateral
        .iter()
        .filter(|(a, _)| !crate::policy::is_stable(a))
    {
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
        signal_id: sig.id.to_string(),
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
        adl_score_at_target: None,
        adl_quantile_at_target: None,
        adl_first_margin_share: None,
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
        price_dec: dec(price),
        stop_dec: stop.map(dec),
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

    // 6. ADL exposure (with ADL on: the scenario's cut points are the assumption it rests on)
    if !cfg.adl.is_off() {
        let cross = adl::in_cross(policy, &symbol);
        let x = adl::exposure(
            sig,
            tiers,
            brackets,
            &open,
            equity,
            cross,
            cfg,
            (z.qty, z.margin, price, s),
        );
        row.adl_score_at_target = x.score_at_target;
        row.adl_quantile_at_target = x.quantile_at_target;
        row.adl_first_margin_share = x.first_margin_share;
        if let Some(q) = x.quantile_at_target.filter(|&q| q >= 3) {
            notes.push(format!(
                "at its first target the position would be in ADL quantile {q} of 4: in a cascade ADL may close it there"
            ));
        }
        if let Some(share) = x.first_margin_share.filter(|&f| f > 0.0) {
            notes.push(format!(
                "{} of the cross book's margin is unrealised profit of positions ADL would take first",
                pct(share)
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
    let mut victims = std::collections::BTreeSet::new();
    for run in cross_runs {
        add_cascade_victims(run, &mut victims);
    }
    channel_summaries_of(rows, &victims, cross_runs.len())
}

/// Adds to `victims` the ids of the calls that were cascade victims in `run` (a trade of the
/// call closed with [`ExitReason::Cascade`]): what [`channel_summaries_of`] needs from each cross
/// run, gathered as runs finish so that the runs themselves need not be kept.
pub fn add_cascade_victims(run: &RunResult, victims: &mut std::collections::BTreeSet<String>) {
    for tr in &run.trades {
        if !tr.background && tr.exit_reason == ExitReason::Cascade {
            victims.insert(tr.signal_id.to_string());
        }
    }
}

/// [`channel_summaries`] from the cascade victims of `cross_runs` runs gathered with
/// [`add_cascade_victims`].
pub fn channel_summaries_of(
    rows: &[ChecklistRow],
    victims: &std::collections::BTreeSet<String>,
    cross_runs: usize,
) -> Vec<ChannelSummary> {
    let mut order: Vec<&str> = Vec::new();
    for r in rows {
        if !order.contains(&r.channel.as_str()) {
            order.push(&r.channel);
        }
    }
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
                cross_runs,
                cascade_victim_share: (cross_runs > 0 && n > 0).then(|| {
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
