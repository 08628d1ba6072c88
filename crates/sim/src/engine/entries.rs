//! Entries: channel events (open, close, cancel, move_stop), waiting limit and zone entries,
//! background positions, and the skip records.

use super::stats::correlation;
use super::{At, QTY_DP, Sim};
use crate::config::{ModeRule, StopDiscipline};
use crate::error::SimError;
use crate::margin::max_leverage_at;
use crate::num::{dec, round_down};
use ringfence_model::time::iso;
use ringfence_model::{
    Action, EntrySpec, ExitReason, MarginMode, Side, SkippedSignal, TimestampMs,
};
use rust_decimal::Decimal;

use super::ledger::{Opening, not_at_or_below};
use crate::policy;

/// One level of an entry ladder waiting to fill: its share of the call's size.
#[derive(Debug, Clone, Copy)]
pub(super) struct Level {
    pub(super) share: f64,
}

/// How an entry fills: at `px`, maker (limit, zone, ladder level) or taker (market), and for a
/// ladder level which one.
#[derive(Debug, Clone, Copy)]
pub(super) struct EntryFill {
    pub(super) px: f64,
    pub(super) maker: bool,
    pub(super) level: Option<Level>,
}

/// A limit or zone entry (or one level of an entry ladder) waiting to fill.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) sig: usize,
    pub(super) sym: usize,
    pub(super) side: Side,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) stop: Option<f64>,
    pub(super) expiry: TimestampMs,
    /// The ladder level this entry is (`None`: a single limit or zone entry).
    pub(super) level: Option<Level>,
}

impl Sim<'_> {
    pub(super) fn skip(&mut self, sig: usize, reason: String, time: TimestampMs) {
        let s = &self.signals[sig];
        self.skipped.push(SkippedSignal {
            signal_id: s.id.clone(),
            time,
            symbol: s.symbol.clone(),
            reason,
        });
    }

    pub(super) fn expire_pending(&mut self, now: TimestampMs) {
        let mut k = 0;
        while k < self.pending.len() {
            if now >= self.pending[k].expiry {
                let p = self.pending.remove(k);
                if self.call_unfilled(&p) {
                    self.skip(p.sig, "entry zone not reached before expiry".into(), now);
                }
            } else {
                k += 1;
            }
        }
    }

    pub(super) fn on_signal(&mut self, k: usize, at: At) -> Result<(), SimError> {
        let i = at.bar;
        let s = &self.signals[k];
        match s.action {
            Action::Open => self.on_open(k, at),
            Action::Close => {
                if let Some(pk) = self
                    .positions
                    .iter()
                    .position(|p| p.trade.signal_id == s.id)
                {
                    let p = self.take_position(pk);
                    let open = self.market.series[p.sym].open[i];
                    let px = open * (1.0 - p.s * self.cfg.execution.slippage_bps / 1e4);
                    let fee = self.cfg.exchange.taker_fee * self.fee_mult;
                    self.close_pos(p, px, at.time, ExitReason::SignalClose, fee);
                } else {
                    self.withdraw_pending(
                        &s.id,
                        "closed by the channel before the entry filled",
                        at.time,
                    );
                }
                Ok(())
            }
            Action::Cancel => {
                self.withdraw_pending(
                    &s.id,
                    "entry cancelled by the channel before it filled",
                    at.time,
                );
                Ok(())
            }
            Action::MoveStop => {
                if self.policy.stops == StopDiscipline::Ignore {
                    return Ok(());
                }
                let new = s.stop;
                for k in 0..self.positions.len() {
                    let p = &mut self.positions[k];
                    if p.trade.signal_id == s.id {
                        p.set_stop(new);
                        p.widened = false;
                        self.rewake(k);
                    }
                }
                for p in self.pending.iter_mut() {
                    if self.signals[p.sig].id == s.id {
                        p.stop = new;
                    }
                }
                Ok(())
            }
        }
    }

    pub(super) fn on_open(&mut self, k: usize, at: At) -> Result<(), SimError> {
        let i = at.bar;
        let s = &self.signals[k];
        let sym = match self.sig_sym.get(k) {
            Some(&sym) if sym != usize::MAX => sym,
            _ => self.signal_symbol(s, |x| self.market.symbol_index(x))?,
        };
        let side = s.side.unwrap_or(Side::Long);
        let series = &self.market.series[sym];
        if !series.has_bar(i) {
            self.skip(
                k,
                format!("no market data for {} at {}", series.symbol, iso(at.time)),
                at.time,
            );
            return Ok(());
        }
        if self.held[sym] > 0 || self.pending.iter().any(|p| p.sym == sym) {
            let reason = self.busy_reason[sym]
                .get_or_insert_with(|| {
                    format!(
                        "{} already open or pending (one-way mode: one position per symbol)",
                        series.symbol
                    )
                })
                .clone();
            self.skip(k, reason, at.time);
            return Ok(());
        }
        if let Some(max) = self.policy.max_open {
            // counted only under a cap: a pass over the book and the waiting entries
            let open_count = self
                .positions
                .iter()
                .filter(|p| !p.trade.background)
                .count()
                + self.waiting_calls();
            if open_count >= max {
                self.skip(k, format!("max open positions reached ({max})"), at.time);
                return Ok(());
            }
        }
        let stop = match self.policy.stops {
            StopDiscipline::Ignore => None,
            _ => s.stop,
        };
        match s.entry {
            EntrySpec::Market => {
                let px =
                    series.open[i] * (1.0 + side.sign() * self.cfg.execution.slippage_bps / 1e4);
                if let Some(st) = stop
                    && side.sign() * (px - st) <= 0.0
                {
                    self.skip(
                        k,
                        format!("price {px} already beyond the stop {st} at entry"),
                        at.time,
                    );
                    return Ok(());
                }
                let fill = EntryFill {
                    px,
                    maker: false,
                    level: None,
                };
                self.open_signal(k, sym, side, fill, at)?;
            }
            _ if s.ladder.len() >= 2 => {
                let weights: Vec<Option<f64>> = s.ladder.iter().map(|l| l.weight).collect();
                let levels: Vec<(f64, f64)> = s
                    .ladder
                    .iter()
                    .zip(policy::ladder_shares(&weights))
                    .map(|(l, share)| (l.price, share))
                    .collect();
                for (price, share) in levels {
                    let level = Some(Level { share });
                    self.add_pending(k, sym, limit_range(side, price), stop, at.time, level);
                }
            }
            EntrySpec::Limit { price } => {
                self.add_pending(k, sym, limit_range(side, price), stop, at.time, None);
            }
            EntrySpec::Zone { low, high } => {
                self.add_pending(k, sym, (low, high), stop, at.time, None)
            }
        }
        Ok(())
    }

    /// Puts a limit or zone entry of `sig` on `sym` waiting for the price to trade in `lo..=hi`
    /// (with the stop in force `stop`), until the execution's zone expiry counted from `now`.
    pub(super) fn add_pending(
        &mut self,
        sig: usize,
        sym: usize,
        (lo, hi): (f64, f64),
        stop: Option<f64>,
        now: TimestampMs,
        level: Option<Level>,
    ) {
        let s = &self.signals[sig];
        let expiry = self
            .cfg
            .execution
            .zone_expiry_ms
            .map_or(TimestampMs::MAX, |e| now.saturating_add(e));
        self.pending.push(Pending {
            sig,
            sym,
            side: s.side.unwrap_or(Side::Long),
            lo,
            hi,
            stop,
            expiry,
            level,
        });
    }

    /// The open position of call `sig`, if any.
    pub(super) fn position_of(&self, sig: usize) -> Option<usize> {
        let id = &self.signals[sig].id;
        self.positions
            .iter()
            .position(|p| !p.trade.background && &p.trade.signal_id == id)
    }

    /// Calls waiting for their first fill (a ladder counts once, and not at all once a level filled).
    fn waiting_calls(&self) -> usize {
        let mut sigs: Vec<usize> = self
            .pending
            .iter()
            .filter(|p| p.level.is_none() || self.position_of(p.sig).is_none())
            .map(|p| p.sig)
            .collect();
        sigs.sort_unstable();
        sigs.dedup();
        sigs.len()
    }

    /// True when withdrawing waiting entry `p` (already taken out of the list) leaves its call
    /// with nothing filled and nothing waiting: the call is then recorded as skipped. Levels of a
    /// ladder that already filled are not (the trade records its `levels_filled`).
    pub(super) fn call_unfilled(&self, p: &Pending) -> bool {
        p.level.is_none()
            || (self.position_of(p.sig).is_none() && !self.pending.iter().any(|q| q.sig == p.sig))
    }

    /// Cancels the ladder levels still waiting for call `id` (its first target filled or its
    /// position closed); the trade records how many filled.
    pub(super) fn cancel_levels(&mut self, id: &str) {
        let signals = self.signals;
        self.pending
            .retain(|p| p.level.is_none() || &*signals[p.sig].id != id);
    }

    /// Equity for sizing, at the last known closes; `None` when it is at or below zero (the
    /// account is wiped out and opens nothing). Equity-free sizing (fixed margin or notional)
    /// needs only that test, which [`Sim::equity_above`] answers without the sum when it can;
    /// the size then does not read the equity, which is given as `NaN`.
    pub(super) fn sizing_equity(&self) -> Option<f64> {
        if !self.policy.sizing.reads_equity() {
            return self.equity_above(0.0).then_some(f64::NAN);
        }
        let e = self.equity_now();
        not_at_or_below(e, 0.0).then_some(e)
    }

    pub(super) fn choose_mode(&self, sym: usize, bar: usize) -> MarginMode {
        match &self.policy.mode {
            ModeRule::Isolated => MarginMode::Isolated,
            ModeRule::Cross => MarginMode::Cross,
            ModeRule::Hybrid { cross_symbols } => {
                if cross_symbols.contains(&self.market.series[sym].symbol) {
                    MarginMode::Cross
                } else {
                    MarginMode::Isolated
                }
            }
            ModeRule::HybridCorrelation {
                max_correlation,
                window_bars,
            } => {
                let too_close = self
                    .positions
                    .iter()
                    .filter(|p| p.mode == MarginMode::Cross)
                    .any(|p| {
                        correlation(self.market, sym, p.sym, bar, *window_bars)
                            .is_none_or(|c| c > *max_correlation)
                    });
                if too_close {
                    MarginMode::Isolated
                } else {
                    MarginMode::Cross
                }
            }
        }
    }

    pub(super) fn open_signal(
        &mut self,
        k: usize,
        sym: usize,
        side: Side,
        fill: EntryFill,
        at: At,
    ) -> Result<(), SimError> {
        let EntryFill { px, maker, level } = fill;
        let s = &self.signals[k];
        let mode = self.choose_mode(sym, at.bar);
        let stop = match self.policy.stops {
            StopDiscipline::Ignore => None,
            _ => self
                .pending
                .iter()
                .find(|p| p.sig == k)
                .map_or(s.stop, |p| p.stop),
        };
        let called =
            policy::called_leverage(self.policy.leverage_from_range, s.leverage, s.leverage_high);
        let lev = policy::leverage(&self.policy.leverage, called);
        let Some(equity) = self.sizing_equity() else {
            self.skip(
                k,
                "account wiped out: no equity left to open positions".into(),
                at.time,
            );
            return Ok(());
        };
        let table = self.table_for(sym, at.time)?;
        // notional as a function of leverage, then leverage capped by the bracket of the notional
        let sizing = &self.policy.sizing;
        let notional_at = |lev: f64| policy::notional(sizing, lev, equity, px, stop);
        let tb = &self.tables[table];
        let max_leverage = |n: f64| max_leverage_at(&tb.tiers, &tb.tiers_f, n);
        let Some((lev, notional)) = policy::cap_leverage(max_leverage, lev, notional_at) else {
            self.skip(
                k,
                "risk sizing needs a stop and the call has none".into(),
                at.time,
            );
            return Ok(());
        };
        // a ladder level takes its share of the call's size
        let share = level.map_or(1.0, |l| l.share);
        let entry = dec(px);
        let qty = round_down(dec(notional * share) / entry, QTY_DP);
        if qty <= Decimal::ZERO {
            self.skip(k, format!("size rounds to zero at price {px}"), at.time);
            return Ok(());
        }
        let id = s.id.clone();
        let signals = self.signals;
        let targets = &signals[k].targets;
        self.open_position(
            Opening {
                sig: Some(k),
                id,
                sym,
                side,
                mode,
                qty,
                px,
                entry,
                lev: dec(lev),
                table,
                stop,
                targets,
                maker,
                background: false,
                ladder: (s.ladder.len() >= 2).then_some((notional, s.ladder.len() as u32)),
            },
            at,
        )
    }

    pub(super) fn open_background(&mut self, k: usize, at: At) -> Result<(), SimError> {
        let i = at.bar;
        let bg = &self.account.background[k];
        let sym = self
            .market
            .symbol_index(&bg.symbol)
            .ok_or_else(|| SimError::BadAccount {
                account: self.account.name.clone(),
                message: format!(
                    "background position names {}, which has no market data",
                    bg.symbol
                ),
            })?;
        let series = &self.market.series[sym];
        if !series.has_bar(i) || self.held[sym] > 0 {
            return Err(SimError::BadAccount {
                account: self.account.name.clone(),
                message: format!(
                    "background position {} on {} cannot open at {} (no data, or symbol already held)",
                    k + 1,
                    bg.symbol,
                    iso(at.time)
                ),
            });
        }
        let table = self.table_for(sym, at.time)?;
        let (side, mode, qty, lev) = (bg.side, bg.mode, bg.qty, bg.leverage);
        self.open_position(
            Opening {
                sig: None,
                id: format!("bg:{}", k + 1).into(),
                sym,
                side,
                mode,
                qty,
                px: series.open[i],
                entry: dec(series.open[i]),
                lev,
                table,
                stop: None,
                targets: &[],
                maker: false,
                background: true,
                ladder: None,
            },
            at,
        )
    }

    /// Withdraws the waiting entries of call `id` (one, or the levels of a ladder), recording
    /// why the call was skipped when nothing of it filled.
    pub(super) fn withdraw_pending(&mut self, id: &str, reason: &str, time: TimestampMs) {
        while let Some(pk) = self
            .pending
            .iter()
            .position(|p| &*self.signals[p.sig].id == id)
        {
            let p = self.pending.remove(pk);
            if self.call_unfilled(&p) {
                self.skip(p.sig, reason.into(), time);
            }
        }
    }
}

/// The price range in which a limit entry at `price` fills: at or below it for a long, at or
/// above it for a short.
fn limit_range(side: Side, price: f64) -> (f64, f64) {
    match side {
        Side::Long => (f64::NEG_INFINITY, price),
        Side::Short => (price, f64::INFINITY),
    }
}
