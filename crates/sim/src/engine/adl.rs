//! Auto-deleveraging of the account's own profitable positions at the events of
//! [`crate::adl::schedule`]: ranking at the trigger, the share taken by quantile, the close (no
//! trading fee, at the event's price or the mark), the records and the cross attribution.

use super::{At, QTY_DP, Sim};
use crate::adl::{leverage_pnl, quantile};
use crate::num::{dec, flt, money, round_down, signed};
use ringfence_model::time::iso;
use ringfence_model::{AdlRecord, ExitReason, MarginMode, TimestampMs};
use rust_decimal::Decimal;

/// A cross liquidation is attributed to the cross ADL of the 24 hours before it.
pub(super) const ATTRIBUTION_MS: TimestampMs = 24 * 3_600_000;

impl Sim<'_> {
    /// The bar from which the skip machinery must stop: the main bar holding the next ADL event
    /// not yet applied (`market.len()` when none).
    pub(super) fn adl_stop_bar(&self) -> usize {
        match self.adl_events.get(self.adl_next) {
            None => self.market.len(),
            Some(e) => {
                let j = self.market.bar_at_or_after(e.time);
                if self.market.times.get(j) == Some(&e.time) {
                    j
                } else {
                    j.saturating_sub(1)
                }
            }
        }
    }

    /// True when an ADL event falls strictly inside main bar `i` (after its open, before the next
    /// bar's): the bar is then walked sub-bar by sub-bar even where nothing else could trigger.
    pub(super) fn adl_inside(&self, i: usize) -> bool {
        let Some(e) = self.adl_events.get(self.adl_next) else {
            return false;
        };
        let open = self.market.times[i];
        e.time > open && e.time < open + self.market.timeframe_ms
    }

    /// Applies every ADL event due at `at.time` (the open of main bar `at.bar`, or of its
    /// lower-timeframe sub-bar `sub`). Events pass by when no position of theirs is open.
    pub(super) fn apply_adl(&mut self, at: At, sub: Option<usize>) {
        while let Some(e) = self.adl_events.get(self.adl_next) {
            if e.time > at.time {
                break;
            }
            self.adl_next += 1;
            // an ADL reduces positions: their thresholds are refreshed (`refresh_pos`)
            let (sym, side, take, trigger) = (e.sym, e.side, e.take, e.trigger.clone());
            let source = e.source.clone();
            let px = e.price.unwrap_or_else(|| self.adl_price(sym, at.bar, sub));
            if !px.is_finite() || px <= 0.0 {
                continue;
            }
            // rank every matching position at the trigger, before any of them is closed
            let mut hits = Vec::new();
            for (k, p) in self.positions.iter().enumerate() {
                if p.sym != sym || p.side != side {
                    continue;
                }
                let upnl = p.upnl_at(px);
                if upnl <= 0.0 {
                    continue;
                }
                let score = self.adl_score(k, px);
                let q = quantile(score, &self.cfg.adl.quantile_thresholds);
                let f = take.fraction(q);
                if f > 0.0 {
                    hits.push((k, score, q, f));
                }
            }
            // close from the last index down so the earlier indices stay valid
            for &(k, score, q, f) in hits.iter().rev() {
                let p = &self.positions[k];
                let qty = if f >= 1.0 {
                    p.qty
                } else {
                    round_down(p.qty * dec(f), QTY_DP)
                };
                if qty.is_zero() {
                    continue;
                }
                let pnl = money(signed(p.side, qty) * (dec(px) - p.entry));
                let record = AdlRecord {
                    time: at.time,
                    signal_id: p.trade.signal_id.clone(),
                    symbol: p.trade.symbol.clone(),
                    side: p.side,
                    mode: p.mode,
                    price: px,
                    qty,
                    fraction: flt(qty / p.qty),
                    pnl,
                    score,
                    quantile: q,
                    trigger: trigger.clone(),
                    source: source.clone(),
                };
                if p.mode == MarginMode::Cross {
                    self.adl_since_liq.push((at.time, describe(&record)));
                }
                let whole = qty == p.qty;
                // no trading fee on an ADL close (Binance FAQ)
                self.exit_leg(k, qty, px, ExitReason::Adl, Decimal::ZERO, at.time);
                if !whole {
                    // its thresholds moved: walk it on the path of this (sub-)bar
                    self.walk_now(k);
                }
                self.adl_log.push(record);
            }
        }
    }

    /// Binance's ranking score of position `k` at price `px` for its own symbol (every other
    /// symbol at its last known mark): isolated against its isolated margin, cross against the
    /// cross wallet and the whole cross book.
    fn adl_score(&self, k: usize, px: f64) -> f64 {
        let p = &self.positions[k];
        let upnl = p.upnl_at(px);
        match p.mode {
            MarginMode::Isolated => {
                let wallet = p.iso_f;
                leverage_pnl(upnl, wallet, self.mm_of(p, px), wallet + upnl)
            }
            MarginMode::Cross => {
                let mark = |s: usize| if s == p.sym { px } else { self.last_mark[s] };
                let (mb, mm, _) = self.cross_state(mark);
                let mut wallet = flt(self.wallet);
                for c in &self.collateral {
                    wallet += c.amount_f * c.sym.map_or(1.0, mark) * (1.0 - c.haircut);
                }
                leverage_pnl(upnl, wallet, mm, mb)
            }
        }
    }

    /// The price an ADL without a given price fills at: the mark (else last) open of the (sub-)bar
    /// it is applied at, or the last known close when the symbol has no bar there.
    fn adl_price(&self, sym: usize, bar: usize, sub: Option<usize>) -> f64 {
        if let Some(j) = sub
            && let Some(lower) = self.market.lower.as_deref()
            && let Some(lk) = self.lower_map[sym]
        {
            let s = &lower.series[lk];
            if s.has_bar(j) {
                return s.mark.as_ref().map_or(s.open[j], |m| m.open[j]);
            }
        }
        let s = &self.market.series[sym];
        if s.has_bar(bar) {
            if let Some(m) = s.mark.as_ref().filter(|m| m.open[bar].is_finite()) {
                return m.open[bar];
            }
            return s.open[bar];
        }
        self.last_close[sym]
    }

    /// The cross ADL of the [`ATTRIBUTION_MS`] before `now` since the previous cross
    /// liquidation, for the cross liquidation being recorded at `now`.
    pub(super) fn take_adl_attribution(&mut self, now: TimestampMs) -> Option<String> {
        let recent: Vec<String> = std::mem::take(&mut self.adl_since_liq)
            .into_iter()
            .filter(|(t, _)| now - *t <= ATTRIBUTION_MS)
            .map(|(_, s)| s)
            .collect();
        (!recent.is_empty()).then(|| recent.join("; "))
    }
}

/// `BTCUSDT short deleveraged 2025-10-10 21:15 (quantile 4, 100 %)`.
fn describe(r: &AdlRecord) -> String {
    format!(
        "{} {} deleveraged {} (quantile {}, {:.0} %)",
        r.symbol,
        r.side,
        minute(r.time),
        r.quantile,
        r.fraction * 100.0
    )
}

/// `2025-10-10 21:15`.
pub(crate) fn minute(t: TimestampMs) -> String {
    let s = iso(t);
    s.get(..16).map_or(s.clone(), |m| m.replace('T', " "))
}
