//! The skip machinery: which bars can be passed over without walking the path (the per-bar
//! pre-check, per-position scan windows, quiet stretches) and the closes kept for valuation.

use super::Sim;
use super::ledger::Pos;
use super::ranges::{
    BLOCK, all_finite, bar_bounds, block_clean, block_in, columns, fires, max4, min4,
};
use crate::margin::{TierSpan, mm_f64};
use ringfence_model::{EquityPoint, MarginMode, SymbolSeries, TimestampMs};
use std::sync::atomic::AtomicU64;

/// The skip machinery's cache for one open position, kept beside it ([`Sim`]'s `scan`, in the
/// order of `positions`; both change together through [`Sim::push_position`] and
/// [`Sim::take_position`]).
#[derive(Debug, Clone)]
pub(super) struct ScanCache {
    /// Whether the current bar's range reaches one of the position's thresholds (set per bar by
    /// [`Sim::may_touch`]; true for a position opened inside the bar). Only such positions are
    /// walked along the path.
    pub(super) hot: bool,
    /// No bar in `from..until` can reach the thresholds in `key` (every bar of it exists for the
    /// symbol).
    pub(super) from: usize,
    pub(super) until: usize,
    pub(super) key: ScanKey,
    /// Bar open time from which the position's next funding settlement is due (`MAX`: none
    /// left), so that the per-bar check reads the cache only.
    pub(super) funding_due: TimestampMs,
    /// The end of the symbol's data (`SymbolSeries::end`).
    pub(super) sym_end: usize,
    /// The position's symbol (`Pos::sym`), read here by passes that would otherwise touch
    /// only the position's record for it.
    pub(super) sym: usize,
}

impl ScanCache {
    /// True when the cache says bar `i` cannot reach the thresholds of `p` (its position).
    pub(super) fn covers(&self, p: &Pos, i: usize) -> bool {
        self.from <= i && i < self.until && key(p) == self.key
    }

    /// [`ScanCache::covers`] for a bar `i` at or after the scan's (as every bar the run loop
    /// reaches), without building the key: a position not [`Pos::stale`] has had no threshold
    /// written since its scan. A stale one is answered `false` (rescanned) even when the write
    /// left its thresholds as they were; a rescan from a later bar with the same thresholds finds
    /// the same first touch, so only the work differs. A debug assertion checks that a `true` is
    /// one of `covers`.
    #[inline(always)]
    pub(super) fn still_covers(&self, p: &Pos, i: usize) -> bool {
        debug_assert!(self.from <= i || i >= self.until);
        let fast = !p.stale && i < self.until;
        debug_assert!(!fast || self.covers(p, i));
        fast
    }
}

/// The thresholds of `p` the scan cache is keyed on.
pub(super) fn key(p: &Pos) -> ScanKey {
    (
        p.stop.map(f64::to_bits),
        p.next_tp().map(f64::to_bits),
        p.lp.to_bits(),
    )
}

/// The thresholds a scan was made for (bit patterns: a change of any of them voids the scan).
pub(super) type ScanKey = (Option<u64>, Option<u64>, u64);

/// The relative widening of a bar's price range in [`Sim::cross_safe`] (covers the rounding of
/// path interpolation).
const WIDEN: f64 = 1e-12;

/// Bars scanned ahead at once for one position by [`first_touch`].
pub(super) const SCAN_AHEAD: usize = 4096;

/// What [`Sim::may_touch`] found for a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Touch {
    /// Nothing can trigger (or the path cannot be built): the bar is skipped.
    Skip,
    /// Something may trigger: build the path and walk it.
    Path,
}

impl Sim<'_> {
    /// Adds an open position to the book with a fresh scan cache (hot: it may trigger in the bar
    /// it opens in); `funding_due` as in [`ScanCache::funding_due`].
    pub(super) fn push_position(&mut self, mut p: Box<Pos>, funding_due: TimestampMs) {
        p.seq = self.opened;
        self.opened += 1;
        self.values.start(&p, self.positions.len());
        let sym_end = self.market.series[p.sym].end;
        self.scan.push(ScanCache {
            hot: true,
            from: usize::MAX,
            until: 0,
            key: (None, None, 0),
            funding_due,
            sym_end,
            sym: p.sym,
        });
        if let Some(least) = &mut self.least_end {
            *least = (*least).min(sym_end);
        }
        if let Some(least) = &mut self.least_funding {
            *least = (*least).min(funding_due);
        }
        self.wake.push(0);
        if (self.wake.len() - 1).is_multiple_of(WAKE_CHUNK) {
            self.wake_min.push(0);
        } else if let Some(m) = self.wake_min.last_mut() {
            *m = 0;
        }
        self.held[p.sym] += 1;
        self.cross_open += usize::from(p.mode == MarginMode::Cross);
        self.positions.push(p);
    }

    /// Takes position `k` out of the book (with its scan cache).
    pub(super) fn take_position(&mut self, k: usize) -> Box<Pos> {
        let c = self.scan.remove(k);
        self.wake.remove(k);
        // the chunks from `k`'s on hold other positions now
        self.wake_min.truncate(self.wake.len().div_ceil(WAKE_CHUNK));
        for ch in k / WAKE_CHUNK..self.wake_min.len() {
            self.wake_min[ch] = chunk_least(&self.wake, ch);
        }
        // the bounds on the data ends and settlements stay bounds
        debug_assert!(c.sym_end >= self.least_end.unwrap_or(0));
        self.values.end(k);
        self.values.remove(k);
        let p = self.positions.remove(k);
        self.held[p.sym] -= 1;
        self.cross_open -= usize::from(p.mode == MarginMode::Cross);
        p
    }

    /// Position `k` must be looked at by the next per-bar passes (a threshold of it was written,
    /// or it is walked whatever its window says).
    pub(super) fn rewake(&mut self, k: usize) {
        self.wake[k] = 0;
        self.wake_min[k / WAKE_CHUNK] = 0;
    }

    /// Every position is walked at this bar (`wake` all 0).
    pub(super) fn rewake_all(&mut self) {
        self.wake.fill(0);
        self.wake_min.fill(0);
    }

    /// The hot positions at main bar `i` (index and position), in the book's order, looked for
    /// only in the chunks whose least wake bar is at most `i`: a position whose wake bar is after
    /// `i` is cold (see `wake`).
    pub(super) fn hot_positions(&self, i: usize) -> impl Iterator<Item = (usize, &Pos)> + '_ {
        debug_assert!(
            self.wake
                .iter()
                .zip(&self.scan)
                .all(|(&w, c)| w <= i || !c.hot)
        );
        self.in_due_chunks(i)
            .filter(|&k| self.scan[k].hot)
            .map(|k| {
                debug_assert!(!self.positions[k].lp_bound);
                (k, &*self.positions[k])
            })
    }

    /// The positions due at main bar `i` (their wake bar reached), in the book's order.
    pub(super) fn due_positions(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.in_due_chunks(i).filter(move |&k| self.wake[k] <= i)
    }

    /// The positions of the chunks whose least wake bar is at most `i`, in the book's order:
    /// every position due at `i` is one of them.
    fn in_due_chunks(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let n = self.positions.len();
        self.wake_min
            .iter()
            .enumerate()
            .filter(move |&(_, &m)| m <= i)
            .flat_map(move |(ch, _)| ch * WAKE_CHUNK..((ch + 1) * WAKE_CHUNK).min(n))
    }

    /// Position `k` is walked along the path of this (sub-)bar whatever its window says (its
    /// thresholds moved inside the bar); the next per-bar passes look at it again.
    pub(super) fn walk_now(&mut self, k: usize) {
        let basis = self.cfg.exchange.maintenance_basis;
        Self::resolve_lp(&self.tables, basis, &mut self.positions[k]);
        self.scan[k].hot = true;
        self.rewake(k);
    }

    /// The first bar at which some position must be looked at: the least of `wake`
    /// (`usize::MAX` for an empty book), taken over the chunks' least (`wake_min`).
    pub(super) fn next_wake(&self) -> usize {
        debug_assert_eq!(
            self.wake_min,
            (0..self.wake.len().div_ceil(WAKE_CHUNK))
                .map(|ch| chunk_least(&self.wake, ch))
                .collect::<Vec<_>>()
        );
        self.wake_min.iter().copied().min().unwrap_or(usize::MAX)
    }

    /// Whether the data of a symbol of the book may have ended by bar `i`: `i` is at or past the
    /// least `ScanCache::sym_end`. The least is kept as a bound (lowered when a position joins;
    /// a position leaving can only raise the least) and taken afresh only when the bound cannot
    /// answer no.
    pub(super) fn may_have_ended(&mut self, i: usize) -> bool {
        let scan = &self.scan;
        may_reach(&mut self.least_end, i, || {
            scan.iter().map(|c| c.sym_end).min()
        })
    }

    /// Whether a funding settlement of the book may be due at bar open time `open_t`: `open_t`
    /// is at or past the least `ScanCache::funding_due`, kept as a bound like the data ends' (a
    /// settlement can only move a position's later).
    pub(super) fn may_settle(&mut self, open_t: TimestampMs) -> bool {
        let scan = &self.scan;
        may_reach(&mut self.least_funding, open_t, || {
            scan.iter().map(|c| c.funding_due).min()
        })
    }

    /// The claim of `wake` at bar `i`, checked the long way (for debug assertions): a position
    /// whose wake bar is after `i` is inside its scan window at `i` with its thresholds unwritten
    /// since the scan, and cold; its window ends by its symbol's data end and its next funding
    /// settlement.
    fn wake_holds(&self, i: usize) -> bool {
        let open_t = self.market.times[i.min(self.market.len() - 1)];
        self.positions
            .iter()
            .zip(&self.scan)
            .zip(&self.wake)
            .all(|((p, c), &w)| {
                w <= i
                    || (w == c.until
                        && !p.stale
                        && c.covers(p, i)
                        && !c.hot
                        && c.until <= c.sym_end
                        && c.funding_due > open_t)
            })
    }

    /// The first bar at or after `i` (at most `next_due`, the bar of the next due signal or
    /// background open) at which the per-bar passes of [`Sim::run`] can do more than refresh the
    /// closes and record the equity point; `i` when that cannot be shown cheaply. It applies only to
    /// books without pending entries or collateral, every position inside a valid scan window of
    /// [`Sim::may_touch`] (which ends at the latest at the symbol's data end and at the position's
    /// next funding settlement), and, with cross positions, only up to the first bar where
    /// [`Sim::cross_safe`] fails: on every bar before the answer, `close_ended`, `settle_funding`
    /// and `expire_pending` do nothing, no event is due and `may_touch` answers [`Touch::Skip`]
    /// with every position cold.
    pub(super) fn quiet_until(&mut self, i: usize, next_due: usize) -> usize {
        if !self.pending.is_empty() || !self.collateral.is_empty() {
            return i;
        }
        debug_assert!(self.wake_holds(i));
        // a position whose wake bar is after `i` covers bar `i`, and its window ends by its
        // symbol's data end and its next funding settlement (see `wake`)
        let w = self.next_wake();
        if w <= i {
            return i;
        }
        let mut end = next_due.min(w);
        if self.cross_open > 0 && end > i {
            end = self.cross_safe_until(i, end);
        }
        end
    }

    /// The first bar in `i..end` at which [`Sim::cross_safe`] answers `false` (`end` when none),
    /// for a book without collateral whose positions all have a bar in `i..end`. Bar `i` is tried
    /// alone first; then chunks of growing length are summed position-major into per-bar buffers,
    /// each bar's terms in position order from the wallet term ([`Sim::cross_term`], the very
    /// terms of `cross_safe`), so every bar gets the same floating-point answer as `cross_safe`.
    fn cross_safe_until(&mut self, i: usize, end: usize) -> usize {
        if !self.cross_safe(i) {
            return i;
        }
        let wallet = self.wallet_f();
        let mut mb = std::mem::take(&mut self.cross_buf.0);
        let mut mm = std::mem::take(&mut self.cross_buf.1);
        let (mut a, mut len) = (i + 1, 16);
        let mut found = end;
        while a < end {
            let b = (a + len).min(end);
            mb.clear();
            mb.resize(b - a, wallet);
            mm.clear();
            mm.resize(b - a, 0.0);
            for p in self
                .positions
                .iter()
                .filter(|p| p.mode == MarginMode::Cross)
            {
                self.add_cross_terms(p, a, &mut mb, &mut mm);
            }
            if let Some(k) = mb
                .iter()
                .zip(&mm)
                .position(|(x, y)| x.partial_cmp(y) != Some(std::cmp::Ordering::Greater))
            {
                found = a + k;
                break;
            }
            a = b;
            len = (len * 2).min(1024);
        }
        self.cross_buf = (mb, mm);
        found
    }

    /// Bars `a..b` as [`Sim::run`] would process them when [`Sim::quiet_until`] says nothing can
    /// happen there: the closes (and the cross positions' marks) refreshed and one equity point
    /// per bar. The equity is summed position-major into a per-bar buffer that starts from the
    /// wallet term, adding each position's term in position order, which is the floating-point
    /// order of [`Sim::equity_now`]; with cross positions the margin balance and maintenance at
    /// the marks are summed the same way in the order of [`Sim::cross_state`]. The peak, drawdown
    /// and margin ratio then follow bar by bar as in [`Sim::mark_equity`].
    pub(super) fn quiet_stretch(&mut self, a: usize, b: usize) {
        let series = &self.market.series;
        let times = &self.market.times;
        let base = self.wallet_f() + self.collateral_value(false);
        // `quiet_until` answered past `a`: every wake bar is after it, so no position is hot
        debug_assert!(self.scan.iter().all(|c| !c.hot));
        if self.values.on {
            self.deferred_stretch(a, b, base);
            return;
        }
        let mut buf = std::mem::take(&mut self.equity_buf);
        buf.clear();
        buf.resize(b - a, base);
        for p in &self.positions {
            let close = &series[p.sym].close[a..b];
            for (e, &c) in buf.iter_mut().zip(close) {
                *e += p.value_at(c);
            }
            self.last_close[p.sym] = close[b - a - 1];
        }
        let cross = self.positions.iter().any(|p| p.mode == MarginMode::Cross);
        let (mut mb, mut mm) = std::mem::take(&mut self.cross_buf);
        mb.clear();
        mm.clear();
        if cross {
            mb.resize(b - a, self.wallet_f());
            mm.resize(b - a, 0.0);
            let basis = self.cfg.exchange.maintenance_basis;
            for p in self
                .positions
                .iter()
                .filter(|p| p.mode == MarginMode::Cross)
            {
                let s = &series[p.sym];
                let tiers = &self.tables[p.table].tiers_f;
                let mark = |j: usize| s.liq_hlc(j).2;
                let span = TierSpan::of(tiers, basis.notional(p.qty_f, mark(a), p.entry_f));
                for (j, (x, y)) in (a..b).zip(mb.iter_mut().zip(mm.iter_mut())) {
                    let m = mark(j);
                    *x += p.upnl_at(m);
                    let n = basis.notional(p.qty_f, m, p.entry_f);
                    let dmm = match span {
                        Some(t) if t.holds(n) => t.mm(n),
                        _ => mm_f64(tiers, n),
                    };
                    debug_assert_eq!(dmm.to_bits(), self.mm_of(p, m).to_bits());
                    *y += dmm;
                }
                self.last_mark[p.sym] = mark(b - 1);
            }
        }
        self.note_refresh_range(a, b);
        let open = self.positions.len() as u32;
        self.equity.reserve(b - a);
        for (k, (&e, &time)) in buf.iter().zip(&times[a..b]).enumerate() {
            let dd = self.drawdown_at(e);
            let ratio = if !cross {
                0.0
            } else if mb[k] > 0.0 {
                mm[k] / mb[k]
            } else {
                f64::INFINITY
            };
            self.equity.push(EquityPoint {
                time,
                equity: e,
                drawdown: dd,
                margin_ratio: ratio,
                open_positions: open,
                book_correlation: None,
                correlated_exposure: 0.0,
            });
        }
        self.equity_buf = buf;
        self.cross_buf = (mb, mm);
    }

    /// [`Sim::quiet_stretch`] of a deferred book: the points of bars `a..b` with their wallet
    /// term `base`, the terms of the positions left to [`super::stats::Values`].
    fn deferred_stretch(&mut self, a: usize, b: usize, base: f64) {
        self.note_refresh_range(a, b);
        self.equity.reserve(b - a);
        for i in a..b {
            self.push_bar_point(i, self.market.times[i], base);
        }
    }

    /// The closes as of bar `i` for the symbols whose closes are read (open positions and
    /// collateral); the others are brought up to date on demand by [`Sim::sync_close`], which gives
    /// the same values as refreshing every symbol at every refresh.
    pub(super) fn refresh_closes(&mut self, i: usize) {
        self.note_refresh(i);
        let series = &self.market.series;
        // the mark close is read only for cross positions and collateral (the book's margin ratio)
        let syms = self
            .positions
            .iter()
            .map(|p| (p.sym, p.mode == MarginMode::Cross))
            .chain(
                self.collateral
                    .iter()
                    .filter_map(|c| c.sym.map(|k| (k, true))),
            );
        for (k, with_mark) in syms {
            let s = &series[k];
            if s.has_bar(i) {
                self.last_close[k] = s.close[i];
                if with_mark {
                    self.last_mark[k] = s.liq_hlc(i).2;
                }
            }
        }
    }

    /// Records that the closes were refreshed at bars `a..b` (for [`Sim::sync_close`]).
    fn note_refresh_range(&mut self, a: usize, b: usize) {
        match self.refreshed.last_mut() {
            Some(r) if r.1 >= b - 1 => {}
            Some(r) if r.1 + 1 >= a => r.1 = b - 1,
            _ => self.refreshed.push((a, b - 1)),
        }
    }

    /// Records that the closes were refreshed at bar `i` (for [`Sim::sync_close`]).
    pub(super) fn note_refresh(&mut self, i: usize) {
        self.note_refresh_range(i, i + 1);
    }

    /// Sets symbol `k`'s last close and mark as if every refresh so far had updated it: the values
    /// of the latest refreshed bar where it has a bar, else its initial value.
    pub(super) fn sync_close(&mut self, k: usize) {
        let s = &self.market.series[k];
        (self.last_close[k], self.last_mark[k]) = match self.refreshed_bar(k) {
            Some(hi) => (s.close[hi], s.liq_hlc(hi).2),
            None => (self.init_close[k], self.init_close[k]),
        };
    }

    /// Symbol `k`'s close as every refresh so far would have left it (see [`Sim::sync_close`]).
    pub(super) fn refreshed_close(&self, k: usize) -> f64 {
        self.refreshed_bar(k)
            .map_or(self.init_close[k], |hi| self.market.series[k].close[hi])
    }

    /// The latest refreshed bar at which symbol `k` has a bar, if any.
    fn refreshed_bar(&self, k: usize) -> Option<usize> {
        let s = &self.market.series[k];
        self.refreshed.iter().rev().find_map(|&(a, b)| {
            let hi = b.min(s.end.saturating_sub(1));
            (s.end > s.first && hi >= a.max(s.first)).then_some(hi)
        })
    }

    /// The hot path: can anything trigger in main bar `i`? An allocation-free test on the raw
    /// columns (no path built): [`Touch::Skip`] only when the original full check
    /// ([`Sim::path_touches`] over every position, or a symbol without a bar) would skip the bar,
    /// so skipping changes no result. Per position it is the bar's range against the stop, the next
    /// target and the liquidation price, read from the position's scan window ([`first_touch`],
    /// rescanned from this bar when the window does not cover it): a position whose window ends
    /// at this bar is marked `hot`. A cross book is skipped when even its all-adverse worst case
    /// ([`Sim::cross_safe`]) is above maintenance.
    pub(super) fn may_touch(&mut self, i: usize) -> Touch {
        let series = &self.market.series;
        let times = &self.market.times;
        let ranges = self.ranges;
        let basis = self.cfg.exchange.maintenance_basis;
        // positions whose wake bar is after `i` are inside their windows and cold (see `wake`):
        // only the others are looked at
        debug_assert!(self.wake_holds(i));
        let mut any = false;
        let n = if self.next_wake() > i {
            0
        } else {
            self.positions.len()
        };
        let chunks = if n == 0 { 0 } else { self.wake_min.len() };
        for ch in 0..chunks {
            if self.wake_min[ch] > i {
                // no position of this chunk is due
                continue;
            }
            for k in ch * WAKE_CHUNK..((ch + 1) * WAKE_CHUNK).min(n) {
                if self.wake[k] > i {
                    continue;
                }
                let (p, c) = (&mut self.positions[k], &mut self.scan[k]);
                let s = &series[p.sym];
                if !c.still_covers(p, i) {
                    // rescan from this bar, bar after bar (position-major), up to the next funding
                    // settlement at most: it moves the liquidation price
                    let due = c.funding_due;
                    let horizon = if due == TimestampMs::MAX {
                        times.len()
                    } else {
                        times.partition_point(|&t| t < due)
                    }
                    .max(i + 1);
                    let to = s.end.min(i.saturating_add(SCAN_AHEAD)).min(horizon);
                    let found = loop {
                        let lp = if p.lp.is_finite() { p.lp } else { f64::NAN };
                        let found = first_touch(
                            s,
                            ranges.cells(p.sym),
                            i.max(s.first),
                            to,
                            p.s > 0.0,
                            p.stop,
                            p.next_tp(),
                            lp,
                        );
                        if (found < to || to <= i) && Sim::resolve_lp(&self.tables, basis, p) {
                            // something may trigger in the window while the liquidation price
                            // is only bounded: scan again with the exact price (the bound fires
                            // no later, so the bars before `found` fire with neither)
                            continue;
                        }
                        break found;
                    };
                    c.key = key(p);
                    p.stale = false;
                    c.from = i;
                    c.until = if i >= s.first { found } else { i };
                    self.values.note_window(k, p.stop, c.from, c.until);
                }
                self.wake[k] = c.until;
                if i < c.until {
                    c.hot = false;
                    continue;
                }
                if !s.has_bar(i) {
                    // the path cannot be built: the bar is skipped (as `build_path` would)
                    self.wake_min[ch] = chunk_least(&self.wake, ch);
                    return Touch::Skip;
                }
                // outside its window, so rescanned above at this bar, which has data: the scan's
                // first touch is bar `i` itself (`to > i`), so the position may trigger here
                debug_assert_eq!(c.until, i);
                debug_assert!(!p.lp_bound);
                c.hot = true;
                any = true;
            }
            self.wake_min[ch] = chunk_least(&self.wake, ch);
        }
        for p in &self.pending {
            let s = &series[p.sym];
            if !s.has_bar(i) {
                return Touch::Skip;
            }
            let (lo, hi) = last_range(s, i);
            any |= hi >= p.lo && lo <= p.hi;
        }
        let cross = self.cross_open > 0;
        if any || ((cross || self.collateral_debt()) && !self.cross_safe(i)) {
            Touch::Path
        } else {
            Touch::Skip
        }
    }

    /// True when no point of bar `i`'s path can bring the cross book to maintenance: margin balance
    /// with every symbol at its adverse extreme (longs and collateral at the low, shorts at the
    /// high, prices widened by 1e-12 to cover the rounding of path interpolation) still exceeds
    /// maintenance with every notional at its largest. Sums are taken in the order of
    /// [`Sim::cross_state`] term by term, and floating-point addition and multiplication by a
    /// non-negative factor are monotone, so the bound holds exactly in `f64`. A notional range
    /// that straddles a bracket boundary answers `false` (the exact check then decides).
    pub(super) fn cross_safe(&self, i: usize) -> bool {
        let mut mb = self.wallet_f();
        for c in &self.collateral {
            let keep = 1.0 - c.haircut;
            if !(keep >= 0.0 && c.amount_f >= 0.0) {
                return false;
            }
            let p = match c.sym {
                None => 1.0,
                Some(k) => match self.adverse_range(k, i) {
                    Some((lo, _)) => lo,
                    None => return false,
                },
            };
            mb += c.amount_f * p * keep;
        }
        let mut mm = 0.0;
        for p in &self.positions {
            if p.mode != MarginMode::Cross {
                continue;
            }
            let Some((dmb, dmm)) = self.cross_term(p, i) else {
                return false;
            };
            mb += dmb;
            mm += dmm;
        }
        mb > mm
    }

    /// Symbol `k`'s price range in bar `i` for [`Sim::cross_safe`]: the mark's range (else the
    /// last price's; the last close without a bar), widened by 1e-12; `None` when not positive and
    /// finite.
    fn adverse_range(&self, k: usize, i: usize) -> Option<(f64, f64)> {
        let s = &self.market.series[k];
        let (lo, hi) = if s.has_bar(i) {
            mark_range(s, i).unwrap_or_else(|| last_range(s, i))
        } else {
            (self.last_close[k], self.last_close[k])
        };
        (lo > 0.0 && hi.is_finite()).then_some((lo * (1.0 - WIDEN), hi * (1.0 + WIDEN)))
    }

    /// Cross position `p`'s terms of [`Sim::cross_safe`] in bar `i`: its PnL at the adverse
    /// extreme and its maintenance at the largest notional; `None` when the bound cannot be
    /// taken (no usable range, or a notional range straddling a bracket boundary).
    fn cross_term(&self, p: &Pos, i: usize) -> Option<(f64, f64)> {
        let (lo, hi) = self.adverse_range(p.sym, i)?;
        let adverse = if p.s > 0.0 { lo } else { hi };
        let dmb = p.upnl_at(adverse);
        let tiers = &self.tables[p.table].tiers_f;
        let basis = self.cfg.exchange.maintenance_basis;
        let (nlo, nhi) = basis.notional_range(p.qty_f, lo, hi, p.entry_f);
        let tier = |n: f64| tiers.partition_point(|b| b.cap <= n);
        let k = tier(nhi);
        let mmr = tiers[k.min(tiers.len() - 1)].mmr;
        if tier(nlo) != k || mmr.is_nan() || mmr < 0.0 {
            return None;
        }
        Some((dmb, mm_f64(tiers, nhi)))
    }

    /// Adds cross position `p`'s [`Sim::cross_term`]s of bars `a..a + mb.len()` to the per-bar
    /// margin balance `mb` and maintenance `mm` (a bar without the term gets a `NaN` balance, never
    /// above maintenance). Each bar's term is the same `f64` expression as `cross_term`'s; the
    /// bracket is looked up once ([`TierSpan`]) and the search is made only for notionals outside
    /// it. The symbol must have every bar of the range (as inside a scan window).
    fn add_cross_terms(&self, p: &Pos, a: usize, mb: &mut [f64], mm: &mut [f64]) {
        let s = &self.market.series[p.sym];
        let (_, mark) = columns(s, a..a + mb.len());
        let tiers = &self.tables[p.table].tiers_f;
        let basis = self.cfg.exchange.maintenance_basis;
        let span = TierSpan::of(
            tiers,
            basis.notional(p.qty_f, self.last_mark[p.sym], p.entry_f),
        )
        .filter(|t| !t.mmr.is_nan() && t.mmr >= 0.0)
        .unwrap_or(TierSpan::EMPTY);
        let long = p.s > 0.0;
        for (j, (x, y)) in mb.iter_mut().zip(mm.iter_mut()).enumerate() {
            let (mo, mh, ml, mc) = (mark[0][j], mark[1][j], mark[2][j], mark[3][j]);
            // `adverse_range` of a bar that exists is the mark's range when its candle is
            // complete (else the last price's, left to `cross_term`). With four finite values a
            // compare-and-select minimum is `f64::min`'s up to the sign of a zero, and a zero
            // low fails `lo > 0` either way
            let fin = mo.is_finite() & mh.is_finite() & ml.is_finite() & mc.is_finite();
            let (lo, hi) = (min4(mo, mh, ml, mc), max4(mo, mh, ml, mc));
            let (lo, hi) = (lo * (1.0 - WIDEN), hi * (1.0 + WIDEN));
            let (nlo, nhi) = basis.notional_range(p.qty_f, lo, hi, p.entry_f);
            let fast = fin & (lo > 0.0) & hi.is_finite() & span.holds(nlo) & span.holds(nhi);
            let term = if fast {
                let adverse = if long { lo } else { hi };
                Some((p.upnl_at(adverse), span.mm(nhi)))
            } else {
                // no complete mark candle, outside the bracket, or no usable range: the term
                // itself decides
                self.cross_term(p, a + j)
            };
            debug_assert_eq!(
                term.map(|(u, v)| (u.to_bits(), v.to_bits())),
                self.cross_term(p, a + j)
                    .map(|(u, v)| (u.to_bits(), v.to_bits()))
            );
            match term {
                Some((dmb, dmm)) => {
                    *x += dmb;
                    *y += dmm;
                }
                None => *x = f64::NAN,
            }
        }
    }
}

/// The first bar in `from..to` where [`Sim::may_touch`]'s per-position test fires for a position on
/// `s` (long or short) with these thresholds (`NaN` liquidation price: none); `to` when none does.
/// The same comparisons as [`last_range`] and [`mark_range`], without branches. Whole blocks of
/// [`BLOCK`] bars are tested at once through their bounds in `cells` (`s`'s part of a
/// [`super::ranges::RangeIndex`]), and only a block that fires is tested bar by bar, so the answer
/// is the bar-by-bar one.
#[allow(clippy::too_many_arguments)]
pub(super) fn first_touch(
    s: &SymbolSeries,
    cells: &[AtomicU64],
    from: usize,
    to: usize,
    long: bool,
    stop: Option<f64>,
    tp: Option<f64>,
    lp: f64,
) -> usize {
    if from >= to {
        return to;
    }
    let st = stop.unwrap_or(f64::NAN);
    let tp = tp.unwrap_or(f64::NAN);
    if long {
        scan_blocks::<true>(s, cells, from, to, st, tp, lp)
    } else {
        scan_blocks::<false>(s, cells, from, to, st, tp, lp)
    }
}

/// [`first_touch`] for one side (`NaN` thresholds never fire): block by block, bar by bar only
/// inside the first block that fires. The bars before the first block boundary and after the last
/// one are a part of a block: when that block lies whole inside the symbol's data, its bounds are
/// tested first (a block that does not fire has no bar that does), and the part is tested bar by
/// bar only when the block fires (or is not whole). The bars of a symbol the market marks clean
/// ([`SymbolSeries::clean`]), or of a whole block that the index marks clean, are tested on their
/// lows and highs, three columns a side ([`scan`]'s `clean`).
fn scan_blocks<const LONG: bool>(
    s: &SymbolSeries,
    cells: &[AtomicU64],
    from: usize,
    to: usize,
    st: f64,
    tp: f64,
    lp: f64,
) -> usize {
    if cells.is_empty() {
        return scan::<LONG>(s, from, to, (st, tp, lp), s.clean);
    }
    let whole = |j: usize| s.first <= j / BLOCK * BLOCK && (j / BLOCK + 1) * BLOCK <= s.end;
    // whether the block of bar `j` is whole inside the data, and does not fire
    let quiet_block =
        |j: usize| whole(j) && !fires::<LONG>(block_in(cells, s, j / BLOCK), st, tp, lp);
    // bars `a..b` of one block, bar by bar
    let bars = |a: usize, b: usize| {
        let clean = s.clean || (whole(a) && block_clean(cells, s, a / BLOCK));
        scan::<LONG>(s, a, b, (st, tp, lp), clean)
    };
    let head = from.next_multiple_of(BLOCK).min(to);
    if head > from && !quiet_block(from) {
        let found = bars(from, head);
        if found < head {
            return found;
        }
    }
    let mut j = head;
    while j + BLOCK <= to {
        if fires::<LONG>(block_in(cells, s, j / BLOCK), st, tp, lp) {
            return bars(j, j + BLOCK);
        }
        j += BLOCK;
    }
    if j < to && quiet_block(j) {
        return to;
    }
    bars(j, to)
}

/// The bar-by-bar test of [`first_touch`] for one side over `from..to`, for thresholds that are
/// finite (or `NaN`: none; an infinite one takes [`scan_bounds`]), a lane of [`LANES`] bars at a
/// time ([`first_fired`]).
/// - Bars that are all [`SymbolSeries::bar_is_clean`] (`clean`: of a symbol the market marks
///   clean, or inside one block the index marks clean) are tested on their lows and highs: each
///   bar's [`Bounds`](super::ranges::Bounds) are its last price's low and high and its mark's,
///   up to what no finite or `NaN` threshold can tell apart, and a side reads three of them.
/// - Other bars are tested on their eight prices: "the least of the bar's prices is at most
///   `st`" is "one of them is", as [`fires_any`] asks, with compares only (no `NaN`-aware
///   minimum).
pub(super) fn scan<const LONG: bool>(
    s: &SymbolSeries,
    from: usize,
    to: usize,
    (st, tp, lp): (f64, f64, f64),
    clean: bool,
) -> usize {
    if st.is_infinite() | tp.is_infinite() | lp.is_infinite() {
        return scan_bounds::<LONG>(s, from, to, (st, tp, lp));
    }
    let (last, mark) = columns(s, from..to);
    debug_assert!(
        !clean || (from..to).all(|j| s.bar_is_clean(j)),
        "{}: bars {from}..{to} scanned on their lows and highs are not all clean",
        s.symbol
    );
    let n = to - from;
    let found = if clean {
        // a long fires on its low, high and mark low; a short on its high, low and mark high
        let (lo, hi, m) = (last[2], last[1], if LONG { mark[2] } else { mark[1] });
        let fire = |l: f64, h: f64, x: f64| fires::<LONG>([l, h, x, x], st, tp, lp);
        first_fired(
            n,
            |j| {
                let (l, h, x) = (lane(lo, j), lane(hi, j), lane(m, j));
                (0..LANES).fold(false, |any, k| any | fire(l[k], h[k], x[k]))
            },
            |j| fire(lo[j], hi[j], m[j]),
        )
    } else {
        let stl = merged::<LONG>(st, lp);
        let fire = |v: [f64; 4], m: [f64; 4]| fires_any::<LONG>(v, m, st, tp, lp, stl);
        first_fired(
            n,
            |j| {
                let [o, h, l, c] = last.map(|col| lane(col, j));
                let [a, b, x, y] = mark.map(|col| lane(col, j));
                (0..LANES).fold(false, |any, k| {
                    any | fire([o[k], h[k], l[k], c[k]], [a[k], b[k], x[k], y[k]])
                })
            },
            |j| {
                fire(
                    [last[0][j], last[1][j], last[2][j], last[3][j]],
                    [mark[0][j], mark[1][j], mark[2][j], mark[3][j]],
                )
            },
        )
    };
    found.map_or(to, |j| from + j)
}

/// Bars a lane of the scan tests together.
const LANES: usize = 8;

/// Bars `j..j + LANES` of column `c`, as an array (no bound check per bar).
#[inline(always)]
fn lane(c: &[f64], j: usize) -> &[f64; LANES] {
    c[j..j + LANES].try_into().expect("a lane of LANES bars")
}

/// The first offset below `n` at which `bar_fires` holds: lanes of [`LANES`] offsets are tested
/// whole by `lane_fires` (true when one of its bars fires; no early exit inside a lane, so that
/// the compiler can vectorise it), then bar by bar from the lane that fired or the partial last
/// one.
#[inline(always)]
fn first_fired(
    n: usize,
    lane_fires: impl Fn(usize) -> bool,
    bar_fires: impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut j = 0;
    while j + LANES <= n && !lane_fires(j) {
        j += LANES;
    }
    (j..n).find(|&j| bar_fires(j))
}

/// [`fires`] for one bar of last prices `v` and mark `m` (open, high, low, close), for thresholds
/// none of which is infinite, with `stl` the stop and the liquidation price merged ([`merged`]).
/// It is the same answer: [`bar_bounds`]' low is the least of the values of `v` that are not `NaN`
/// (`+∞` when all are), so against a finite `st` "low ≤ st" is "some value of `v` is ≤ `st`", and
/// both are false against `NaN`; likewise for the high and the mark's bounds, which are `m`'s when
/// all four are finite and `v`'s otherwise. When they are `v`'s, a long's "some value ≤ `st` or
/// some value ≤ `lp`" is "some value ≤ `stl`" (a short's with ≥).
#[inline(always)]
fn fires_any<const LONG: bool>(
    v: [f64; 4],
    m: [f64; 4],
    st: f64,
    tp: f64,
    lp: f64,
    stl: f64,
) -> bool {
    let below = |x: [f64; 4], t: f64| (x[0] <= t) | (x[1] <= t) | (x[2] <= t) | (x[3] <= t);
    let above = |x: [f64; 4], t: f64| (x[0] >= t) | (x[1] >= t) | (x[2] >= t) | (x[3] >= t);
    let fin = all_finite(m);
    let t = if fin { st } else { stl };
    if LONG {
        below(v, t) | above(v, tp) | (fin & below(m, lp))
    } else {
        above(v, t) | below(v, tp) | (fin & above(m, lp))
    }
}

/// The stop and the liquidation price as one threshold on the last prices (`NaN`s ignored, both
/// `NaN`: `NaN`): for a long, a price at or below either is at or below their greatest; for a
/// short, at or above either is at or above their least.
fn merged<const LONG: bool>(st: f64, lp: f64) -> f64 {
    if LONG { st.max(lp) } else { st.min(lp) }
}

/// [`scan`] through each bar's [`bar_bounds`], for any thresholds.
pub(super) fn scan_bounds<const LONG: bool>(
    s: &SymbolSeries,
    from: usize,
    to: usize,
    (st, tp, lp): (f64, f64, f64),
) -> usize {
    let (last, mark) = columns(s, from..to);
    (0..to - from)
        .find(|&j| fires::<LONG>(bar_bounds(&last, &mark, j), st, tp, lp))
        .map_or(to, |j| from + j)
}

/// Lowest and highest last price of bar `i` over its four vertices (`NaN`s ignored, as the path's
/// bounds in [`Sim::path_touches`]).
#[inline]
pub(super) fn last_range(s: &SymbolSeries, i: usize) -> (f64, f64) {
    let (o, h, l, c) = (s.open[i], s.high[i], s.low[i], s.close[i]);
    (
        f64::INFINITY.min(o).min(h).min(l).min(c),
        f64::NEG_INFINITY.max(o).max(h).max(l).max(c),
    )
}

/// Lowest and highest mark price of bar `i`, when the bar has a complete finite mark candle (the
/// condition under which the path uses the mark).
#[inline]
pub(super) fn mark_range(s: &SymbolSeries, i: usize) -> Option<(f64, f64)> {
    let m = s.mark.as_ref()?;
    let (o, h, l, c) = (m.open[i], m.high[i], m.low[i], m.close[i]);
    (o.is_finite() && h.is_finite() && l.is_finite() && c.is_finite())
        .then(|| (o.min(h).min(l).min(c), o.max(h).max(l).max(c)))
}

/// Whether `at` is at or past the least of a column of the book, given `bound`, a value at most
/// that least (`None`: unknown), and `least`, which takes it afresh (`None`: an empty book). The
/// bound answers alone when it is after `at`; otherwise it is replaced by the least.
fn may_reach<T: Ord + Copy>(bound: &mut Option<T>, at: T, least: impl Fn() -> Option<T>) -> bool {
    debug_assert!(bound.is_none_or(|b| least().is_none_or(|l| b <= l)));
    if bound.is_some_and(|b| b > at) {
        return false;
    }
    match least() {
        Some(l) => {
            *bound = Some(l);
            l <= at
        }
        None => {
            *bound = None;
            false
        }
    }
}

/// Positions per chunk of [`Sim`]'s `wake_min`: the least wake bar of each run of this many
/// positions, so that a pass over the book passes a chunk with nothing due in one comparison.
pub(super) const WAKE_CHUNK: usize = 16;

/// The least wake bar of chunk `ch` of `wake` (`usize::MAX`: an empty chunk).
fn chunk_least(wake: &[usize], ch: usize) -> usize {
    let from = ch * WAKE_CHUNK;
    wake[from..(from + WAKE_CHUNK).min(wake.len())]
        .iter()
        .copied()
        .min()
        .unwrap_or(usize::MAX)
}
