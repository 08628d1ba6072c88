//! Auto-deleveraging (ADL): the ranking, the quantile, the share of a position taken, and the
//! schedule of ADL events of a run (from an event file or from the stress rule).
//!
//! Sources (docs/liquidation.md lists them with their addresses):
//! - Binance, "What Is Auto-Deleveraging (ADL) and How Does It Work?" (FAQ 360033525471): ADL
//!   takes profitable positions on the side opposite a bankrupt liquidation when the insurance
//!   fund cannot; traders are ranked by `LeveragePnl = PnL percent × margin ratio` with
//!   `PnL percent = max(0, unrealised profit) / max(1, wallet balance)` and
//!   `margin ratio = maintenance / (wallet balance + unrealised profit)` (0 when that is ≤ 0);
//!   the quantile of the rank is shown as five lights; the position is closed at the bankruptcy
//!   price of the liquidated order and no trading fee is charged.
//!
//! The venue ranks against every other trader; a backtest sees one account. The score is
//! therefore turned into a quantile by cut points ([`crate::AdlConfig::quantile_thresholds`]) that
//! stand in for the rest of the market: an assumption the report states.

use crate::config::{AdlConfig, AdlMode, AdlRule};
use crate::error::SimError;
use ringfence_model::{AdlTrigger, Market, Side, TimestampMs};

/// Binance's ADL ranking score ("leverage PnL") of a position: `max(0, upnl) / max(1, wallet)`
/// times the margin ratio `maintenance / (wallet + upnl_account)`, where `wallet` is the wallet
/// balance backing the position (isolated: its isolated margin; cross: the cross wallet balance)
/// and `margin_balance = wallet + unrealised PnL` of that wallet (isolated: of the position; cross:
/// of the whole cross book). A margin balance at or below zero gives a ratio of 0.
pub fn leverage_pnl(upnl: f64, wallet: f64, maintenance: f64, margin_balance: f64) -> f64 {
    let pnl_pct = upnl.max(0.0) / wallet.max(1.0);
    let ratio = if margin_balance > 0.0 {
        maintenance / margin_balance
    } else {
        0.0
    };
    pnl_pct * ratio
}

/// The ADL quantile 0–4 of a score: the number of cut points at or below it (4 = first in line).
pub fn quantile(score: f64, thresholds: &[f64; 4]) -> u8 {
    thresholds.iter().filter(|&&t| score >= t).count() as u8
}

/// Share of a position in quantile `q` taken when `share` of its side's open interest is
/// deleveraged from the top of the ranking. Quantile `q` holds the ranks from `q × 20 %` to
/// `(q + 1) × 20 %` counted from the bottom, open interest spread evenly over the ranks; the
/// deleveraged top `share` overlaps that band by `((q + 1) × 0.2 − (1 − share)) / 0.2`, clamped
/// to 0–1. So 20 % of open interest takes all of quantile 4 and none of quantile 3.
pub fn share_fraction(q: u8, share: f64) -> f64 {
    // ((q + 1) × 0.2 − (1 − share)) / 0.2, written so that round shares give exact fractions
    (5.0 * share + f64::from(q) - 4.0).clamp(0.0, 1.0)
}

/// How much of a ranked position an event takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Take {
    /// The rule's fractions by quantile.
    Fractions([f64; 5]),
    /// The event file's share of open interest ([`share_fraction`]).
    Share(f64),
}

impl Take {
    /// The share of a position in quantile `q` taken.
    pub(crate) fn fraction(self, q: u8) -> f64 {
        match self {
            Take::Fractions(f) => f[usize::from(q.min(4))],
            Take::Share(s) => share_fraction(q, s),
        }
    }
}

/// One ADL event of a run, resolved against the market.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scheduled {
    /// When it happens; applied at the first (sub-)bar open at or after it.
    pub(crate) time: TimestampMs,
    /// Market symbol index.
    pub(crate) sym: usize,
    /// The side deleveraged.
    pub(crate) side: Side,
    /// How much of each ranked position is taken.
    pub(crate) take: Take,
    /// Fill price when the event gives one (else the mark at the application point).
    pub(crate) price: Option<f64>,
    /// Data or rule.
    pub(crate) trigger: AdlTrigger,
    /// Where it came from, in words.
    pub(crate) source: String,
}

/// The ADL events of a run in time order (ties: input order, then symbol, then side).
///
/// # Errors
/// [`SimError::BadConfig`] when an event file row names a symbol without market data, or a rule
/// setting is out of range.
pub(crate) fn schedule(market: &Market, cfg: &AdlConfig) -> Result<Vec<Scheduled>, SimError> {
    let bad = |key: &str, message: String| SimError::BadConfig {
        key: key.into(),
        message,
    };
    for (k, w) in cfg.quantile_thresholds.windows(2).enumerate() {
        if !(w[0].is_finite() && w[1].is_finite() && w[0] <= w[1]) || w[0] < 0.0 {
            return Err(bad(
                "adl.quantile_thresholds",
                format!(
                    "cut points must be finite, non-negative and non-decreasing (entries {} and {}: {} and {})",
                    k + 1,
                    k + 2,
                    w[0],
                    w[1]
                ),
            ));
        }
    }
    let mut out = match &cfg.trigger {
        AdlMode::Off => Vec::new(),
        AdlMode::Data(rows) => {
            let mut v = Vec::with_capacity(rows.len());
            for r in rows {
                let sym = market.symbol_index(&r.symbol).ok_or_else(|| {
                    bad(
                        "adl.file",
                        format!(
                            "{}: symbol {} has no market data; add its data or remove the row",
                            r.source, r.symbol
                        ),
                    )
                })?;
                if !(r.share > 0.0 && r.share <= 1.0) {
                    return Err(bad(
                        "adl.file",
                        format!("{}: share {} is not in (0, 1]", r.source, r.share),
                    ));
                }
                v.push(Scheduled {
                    time: r.time,
                    sym,
                    side: r.side,
                    take: Take::Share(r.share),
                    price: r.price,
                    trigger: AdlTrigger::Data,
                    source: r.source.clone(),
                });
            }
            v
        }
        AdlMode::Rule(rule) => {
            validate_rule(rule)?;
            (0..market.series.len())
                .flat_map(|k| rule_events(market, k, rule))
                .collect()
        }
    };
    // stable: equal times keep file order (data) or symbol order (rule)
    out.sort_by_key(|e| e.time);
    Ok(out)
}

fn validate_rule(rule: &AdlRule) -> Result<(), SimError> {
    let bad = |key: &str, message: String| SimError::BadConfig {
        key: key.into(),
        message,
    };
    if !(rule.move_pct.is_finite() && rule.move_pct > 0.0 && rule.move_pct < 100.0) {
        return Err(bad(
            "adl.move_pct",
            format!("{} is not a percentage in (0, 100)", rule.move_pct),
        ));
    }
    if rule.window_ms <= 0 {
        return Err(bad("adl.window", "the window must be positive".into()));
    }
    let f = &rule.fractions;
    if f.iter().any(|x| !(0.0..=1.0).contains(x)) || f.windows(2).any(|w| w[0] > w[1]) {
        return Err(bad(
            "adl.fractions",
            format!("{f:?}: five shares in 0–1, non-decreasing with the quantile"),
        ));
    }
    Ok(())
}

/// One bar of a symbol's finest series: open time, close time (the next bar's open), high, low.
struct Bar {
    open_time: TimestampMs,
    close_time: TimestampMs,
    open: f64,
    high: f64,
    low: f64,
}

/// The bars of symbol `k` at the finest timeframe available bar by bar: a main bar's
/// lower-timeframe sub-bars when the symbol has every one of them, else the main bar.
fn finest_bars(market: &Market, k: usize) -> Vec<Bar> {
    let s = &market.series[k];
    let lower_k = market
        .lower
        .as_deref()
        .and_then(|l| l.symbol_index(&s.symbol));
    let mut bars = Vec::new();
    for i in s.first..s.end {
        if !s.has_bar(i) {
            continue;
        }
        let end = market.times[i] + market.timeframe_ms;
        if let (Some(lk), Some((lower, range))) = (lower_k, market.sub_bars(i)) {
            let ls = &lower.series[lk];
            if range.clone().all(|j| ls.has_bar(j)) {
                for j in range.clone() {
                    let close_time = lower.times.get(j + 1).copied().unwrap_or(end).min(end);
                    bars.push(Bar {
                        open_time: lower.times[j],
                        close_time,
                        open: ls.open[j],
                        high: ls.high[j],
                        low: ls.low[j],
                    });
                }
                continue;
            }
        }
        bars.push(Bar {
            open_time: market.times[i],
            close_time: end,
            open: s.open[i],
            high: s.high[i],
            low: s.low[i],
        });
    }
    bars
}

/// The rule's events for symbol `k`: at the close of every bar whose low is more than
/// `move_pct` % under the highest price of the window (the bars opening within `window_ms` before
/// its close, its own open included, its own high not: the low may come first), shorts are
/// deleveraged; symmetrically for a rise and longs. After an event, the same symbol and side wait
/// one window before the next (one cascade, one event).
fn rule_events(market: &Market, k: usize, rule: &AdlRule) -> Vec<Scheduled> {
    let bars = finest_bars(market, k);
    let x = rule.move_pct / 100.0;
    let mut out = Vec::new();
    let mut quiet_until = [TimestampMs::MIN; 2];
    let mut a = 0;
    for b in 0..bars.len() {
        let close = bars[b].close_time;
        while a < b && bars[a].open_time < close - rule.window_ms {
            a += 1;
        }
        let (mut peak, mut trough) = (bars[b].open, bars[b].open);
        for w in &bars[a..b] {
            peak = peak.max(w.high);
            trough = trough.min(w.low);
        }
        let drop = (peak - bars[b].low) / peak;
        let rise = (bars[b].high - trough) / trough;
        for (side, moved, extreme, from) in [
            (Side::Short, drop, bars[b].low, peak),
            (Side::Long, rise, bars[b].high, trough),
        ] {
            let slot = usize::from(side == Side::Long);
            if moved > x && close >= quiet_until[slot] {
                quiet_until[slot] = close.saturating_add(rule.window_ms);
                let sign = if side == Side::Short { '−' } else { '+' };
                out.push(Scheduled {
                    time: close,
                    sym: k,
                    side,
                    take: Take::Fractions(rule.fractions),
                    price: None,
                    trigger: AdlTrigger::Rule,
                    source: format!(
                        "{} {sign}{:.1} % in {} min ({} → {})",
                        market.series[k].symbol,
                        moved * 100.0,
                        rule.window_ms / 60_000,
                        from,
                        extreme
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked case of the Binance developer forum thread "How to calculate Leverage Pnl
    /// Quantile" (dev.binance.vision/t/17801), applying the FAQ formula: unrealised profit 40.2,
    /// wallet balance 4.27, margin ratio 13.42 % → PnL percent 9.41, leverage PnL 1.26.
    #[test]
    fn binance_leverage_pnl_worked_case() {
        let wallet = 4.27;
        let upnl = 40.2;
        let margin_balance = wallet + upnl;
        let maintenance = 0.1342 * margin_balance;
        let s = leverage_pnl(upnl, wallet, maintenance, margin_balance);
        assert!((upnl / wallet - 9.4145).abs() < 1e-3);
        assert!((s - 1.2634).abs() < 1e-3, "{s}");
    }

    /// Hand-computed: a 10x isolated long, margin 100, notional 1 000 at entry, mark +5 %:
    /// upnl 50, maintenance 0.4 % × 1 050 = 4.2, ratio 4.2 / 150 = 0.028, PnL % 0.5 → 0.014.
    #[test]
    fn ranking_of_an_isolated_long_by_hand() {
        let s = leverage_pnl(50.0, 100.0, 4.2, 150.0);
        assert!((s - 0.014).abs() < 1e-12);
        assert_eq!(quantile(s, &AdlConfig::DEFAULT_THRESHOLDS), 2);
        // a losing position ranks 0 whatever its leverage; a wallet under 1 USDT counts as 1
        assert_eq!(leverage_pnl(-50.0, 100.0, 4.2, 50.0), 0.0);
        assert_eq!(leverage_pnl(2.0, 0.5, 1.0, 2.5), 2.0 * 0.4);
        // a margin balance at or below zero: ratio 0
        assert_eq!(leverage_pnl(10.0, 100.0, 5.0, 0.0), 0.0);
    }

    #[test]
    fn quantile_counts_cut_points_at_or_below() {
        let t = [0.001, 0.005, 0.02, 0.05];
        assert_eq!(quantile(0.0, &t), 0);
        assert_eq!(quantile(0.001, &t), 1);
        assert_eq!(quantile(0.0049, &t), 1);
        assert_eq!(quantile(0.02, &t), 3);
        assert_eq!(quantile(9.0, &t), 4);
    }

    #[test]
    fn share_of_open_interest_takes_the_top_quantiles_first() {
        assert_eq!(share_fraction(4, 0.2), 1.0);
        assert_eq!(share_fraction(3, 0.2), 0.0);
        assert!((share_fraction(3, 0.3) - 0.5).abs() < 1e-12);
        assert!((share_fraction(4, 0.1) - 0.5).abs() < 1e-12);
        assert_eq!(share_fraction(0, 1.0), 1.0);
        for q in 0..4 {
            assert!(share_fraction(q, 0.5) <= share_fraction(q + 1, 0.5));
        }
    }
}
