//! Statistics: equity points, the end of a run and its summary; rolling correlations.

use super::Sim;
use super::ledger::Pos;
use crate::num::{dec, flt};
use ringfence_model::MarginMode;
use ringfence_model::{EquityPoint, ExitReason, Market, RunResult, RunSummary, TimestampMs, Trade};
use rust_decimal::Decimal;

/// Deferred valuation, for books that can only hold isolated positions and have no collateral
/// (no cross state to watch) and no ADL (which reads the closes): the equity points are pushed
/// with the wallet term only, each position logs the stretches of bars over which its value terms
/// (`iso_f`, `qty_f`, `entry_f`) were constant, and [`Values::settle`] adds them (at the end of
/// the run, and early when many are logged), position by position in the book's order, into the
/// points of their bars. Each point then gets
/// the terms [`Sim::refresh_and_mark`] would have added, in the same order, from the same wallet
/// term: the same `f64`. The drawdowns follow, point by point as [`Sim::drawdown_at`] takes them.
/// The per-bar passes over the book (the refresh of every close and the sum) are gone.
#[derive(Debug)]
pub(super) struct Values<'a> {
    /// Whether the run's valuation is deferred.
    pub(super) on: bool,
    market: &'a Market,
    /// Per open position, in the order of the book: its value terms as of now and the bar they
    /// hold from, packed (also for [`Sim::equity_now`], which reads every position's and would
    /// otherwise touch each record).
    book: Vec<Term<'a>>,
    /// The bar being processed (whose equity point comes next).
    pub(super) bar: usize,
    /// Per open position, in the order of `book`: what its last scan window proved about its
    /// closes (see [`Fact`]).
    facts: Vec<Fact>,
    /// The stretches logged so far.
    segs: Vec<Seg<'a>>,
    /// [`Values::settle`]'s dense copy of the points' equity (kept to reuse its allocation).
    dense: Vec<f64>,
    /// Per main bar: the index of its equity point (`u32::MAX`: none).
    point_of_bar: Vec<u32>,
    /// Debug builds: each bar-valued point's index and the equity the eager sum gives it.
    #[cfg(debug_assertions)]
    check: Vec<(usize, f64)>,
}

/// One open position's value terms ([`Pos::value_at`]'s) since bar `from`, with its place in the
/// book's order and its symbol's closes and data range.
#[derive(Debug, Clone, Copy)]
struct Term<'a> {
    close: &'a [f64],
    first: usize,
    end: usize,
    sym: usize,
    seq: u64,
    from: usize,
    s: f64,
    iso: f64,
    qty: f64,
    entry: f64,
}

impl Term<'_> {
    /// The close the position is valued at when the last refreshed bar is `last`: the symbol's
    /// close there when it has that bar, else `refreshed(sym)`.
    fn close_at(&self, last: usize, refreshed: &impl Fn(usize) -> f64) -> f64 {
        if self.first <= last && last < self.end {
            self.close[last]
        } else {
            refreshed(self.sym)
        }
    }

    /// The term's value at price `px` (term for term `Pos::value_at`).
    #[inline(always)]
    fn value_at(&self, px: f64) -> f64 {
        self.iso + self.s * self.qty * (px - self.entry)
    }

    /// The size of [`Term::value_at`]'s operands, for the rounding bound of
    /// [`Values::surely_above`].
    #[inline(always)]
    fn size_at(&self, px: f64) -> f64 {
        self.iso.abs() + self.qty * (px.abs() + self.entry.abs())
    }
}

/// What a position's scan window proved about its closes: over bars `from..until`, no bar's last
/// price reached the stop `px` (the scan's per-bar test, `ranges::fires`), so each close there is
/// above `px` for a long and below it for a short (or `NaN`, data missing). It stays true when the
/// position's thresholds or terms change later: it is about the prices. A window without a stop
/// proves nothing about the closes: it is kept empty (`from == until`).
///
/// With it, the position's term valued at `px` as [`Values::surely_above`] adds it, `value` and
/// its size `size`, taken with the position's current terms (again when they change).
#[derive(Debug, Clone, Copy)]
struct Fact {
    px: f64,
    from: usize,
    until: usize,
    value: f64,
    size: f64,
}

impl Fact {
    const NONE: Fact = Fact {
        px: f64::NAN,
        from: 0,
        until: 0,
        value: f64::NAN,
        size: f64::NAN,
    };

    /// The fact that bars `from..until` stay beyond `px` (`NaN`: no stop, an empty window), with
    /// the term `t` valued at it.
    fn new(px: f64, from: usize, until: usize, t: &Term<'_>) -> Fact {
        if px.is_nan() {
            return Fact::NONE;
        }
        Fact {
            px,
            from,
            until,
            value: t.value_at(px),
            size: t.size_at(px),
        }
    }

    /// Whether the window covers bar `i`.
    #[inline(always)]
    fn covers(&self, i: usize) -> bool {
        self.from <= i && i < self.until
    }
}

/// The relative margin by which [`Values::surely_above`] wants its bound above the floor, against
/// the size of the terms: far above the rounding of sums of up to millions of terms (about
/// `n · 2^-53` of that size each).
const MARGIN: f64 = 1e-6;

/// A stretch of bars `term.from..to` over which a position's value terms were `term`.
#[derive(Debug, Clone, Copy)]
struct Seg<'a> {
    term: Term<'a>,
    to: usize,
}

impl<'a> Values<'a> {
    /// Deferred valuation of the points of `market` when `on`.
    pub(super) fn new(on: bool, market: &'a Market) -> Self {
        Values {
            on,
            market,
            book: Vec::new(),
            facts: Vec::new(),
            bar: 0,
            segs: if on {
                Vec::with_capacity(SETTLE_EVERY)
            } else {
                Vec::new()
            },
            dense: Vec::new(),
            point_of_bar: if on {
                vec![u32::MAX; market.len()]
            } else {
                Vec::new()
            },
            #[cfg(debug_assertions)]
            check: Vec::new(),
        }
    }

    /// Position `p`, the `k`-th of the book, is valued with its current terms from this bar on
    /// (it was just added, or its terms just changed).
    pub(super) fn start(&mut self, p: &Pos, k: usize) {
        if !self.on {
            return;
        }
        let s = &self.market.series[p.sym];
        let term = Term {
            close: &s.close,
            first: s.first,
            end: s.end,
            sym: p.sym,
            seq: p.seq,
            from: self.bar,
            s: p.s,
            iso: p.iso_f,
            qty: p.qty_f,
            entry: p.entry_f,
        };
        if k == self.book.len() {
            self.book.push(term);
            self.facts.push(Fact::NONE);
        } else {
            self.book[k] = term;
            let f = self.facts[k];
            self.facts[k] = Fact::new(f.px, f.from, f.until, &term);
        }
    }

    /// The `k`-th position was scanned: no bar of `from..until` reaches its stop `stop`.
    pub(super) fn note_window(&mut self, k: usize, stop: Option<f64>, from: usize, until: usize) {
        if self.on {
            self.facts[k] = Fact::new(stop.unwrap_or(f64::NAN), from, until, &self.book[k]);
        }
    }

    /// True when the book's equity at bar `last` from `base` (as [`Values::add_book`] sums it)
    /// is surely above `floor`, as `!(equity <= floor)` would say, without reading the close of a
    /// position whose scan window covers `last`: each such position is valued at its stop
    /// instead, below its value at any close the window allows (a long's close is above the stop,
    /// a short's below). `false`: cannot tell.
    ///
    /// Why it is exact: the equity's terms are each at least the bound's, and the sum of terms at
    /// least their bounds is at least the sum of the bounds, less the rounding of both sums.
    /// Each rounding is below `(n + 4) · 2^-53` of the terms' size (`|base|` plus each position's
    /// `|iso| + qty · (|price| + |entry|)`); a term above its bound adds more to the sum than to
    /// its rounding. So a bound above `floor` by [`MARGIN`] of that size leaves the equity above
    /// it. A `NaN` anywhere the bound reads makes it answer `false`; a `NaN` close it does not
    /// read makes the equity `NaN`, which is not at or below the floor either.
    pub(super) fn surely_above(
        &self,
        base: f64,
        last: usize,
        floor: f64,
        refreshed: impl Fn(usize) -> f64,
    ) -> bool {
        let (mut lower, mut size) = (base, base.abs());
        for (k, f) in self.facts.iter().enumerate() {
            if f.covers(last) {
                lower += f.value;
                size += f.size;
            } else {
                let t = &self.book[k];
                let px = t.close_at(last, &refreshed);
                lower += t.value_at(px);
                size += t.size_at(px);
            }
        }
        lower.is_finite() && size.is_finite() && lower - MARGIN * size > floor
    }

    /// The terms of the `k`-th position are about to change, or it leaves the book, at this
    /// bar: logs the stretch it was valued over with the terms it had.
    pub(super) fn end(&mut self, k: usize) {
        if !self.on {
            return;
        }
        let term = self.book[k];
        if term.from < self.bar {
            self.segs.push(Seg { term, to: self.bar });
        }
    }

    /// The `k`-th position of the book was taken out.
    pub(super) fn remove(&mut self, k: usize) {
        if self.on {
            self.book.remove(k);
            self.facts.remove(k);
        }
    }

    /// The book was emptied.
    pub(super) fn clear(&mut self) {
        self.book.clear();
        self.facts.clear();
    }

    /// The sum of [`Sim::equity_now`] over the book from `e`: each position valued at its
    /// close at bar `last` (the last refreshed) when its symbol has that bar, else at
    /// `refreshed(sym)`; term for term `Pos::value_at`, in the book's order.
    pub(super) fn add_book(
        &self,
        mut e: f64,
        last: usize,
        refreshed: impl Fn(usize) -> f64,
    ) -> f64 {
        for t in &self.book {
            e += t.value_at(t.close_at(last, &refreshed));
        }
        e
    }

    /// Adds the logged stretches into `points` (the run's equity points, bar-valued ones holding
    /// only their wallet term and the stretches settled before), position by position in the
    /// book's order, and forgets them. Every stretch of a bar is settled at once: the run settles
    /// only at its end and at [`Sim::settle_early`], which first cuts every open position's
    /// stretch there.
    ///
    /// The sums are taken on a dense copy of the points' equity (one `f64` per point, not one
    /// 64-byte record), so that a stretch's adds run over contiguous values: every add is the
    /// same operation on the same operands, lane by lane.
    fn settle(&mut self, points: &mut [EquityPoint]) {
        let segs = by_position(&self.segs);
        let point = |bar: usize| self.point_of_bar[bar] as usize;
        let lo = segs.iter().map(|g| point(g.term.from)).min().unwrap_or(0);
        let hi = segs.iter().map(|g| point(g.to - 1) + 1).max().unwrap_or(0);
        let dense = &mut self.dense;
        dense.clear();
        dense.extend(points[lo..hi].iter().map(|p| p.equity));
        for &Seg { term: t, to } in &segs {
            let p0 = point(t.from) - lo;
            let n = to - t.from;
            debug_assert_eq!(point(to - 1) - lo, p0 + n - 1);
            let (dense, close) = (&mut dense[p0..p0 + n], &t.close[t.from..to]);
            // blocks of eight lines: the lines `PREFETCH` ahead are hinted, then the block's
            // adds run over contiguous values as one loop
            for (b, (e, c)) in dense.chunks_mut(64).zip(close.chunks(64)).enumerate() {
                for l in (0..64).step_by(8) {
                    super::prefetch::at(close, 64 * b + l + PREFETCH);
                }
                for (e, &c) in e.iter_mut().zip(c) {
                    *e += t.value_at(c);
                }
            }
        }
        for (p, &e) in points[lo..hi].iter_mut().zip(dense.iter()) {
            p.equity = e;
        }
        self.segs.clear();
    }

    /// Whether so many stretches are logged that they should be settled now (a book settling
    /// funding every few bars logs one per settlement and position).
    pub(super) fn full(&self) -> bool {
        self.segs.len() >= SETTLE_EVERY
    }
}

/// How many bars ahead [`Values::settle`] hints the closes it reads next.
const PREFETCH: usize = 128;

/// The number of logged stretches at which [`Values`] settles early (about 1 MB of them; in debug
/// builds 64, so that the test suite settles early often and compares every point).
const SETTLE_EVERY: usize = if cfg!(debug_assertions) { 64 } else { 16_384 };

/// `segs` grouped by position in the book's order (`seq`), each position's stretches in the
/// order they were logged (the order of their bars): a counting sort, linear in the number of
/// stretches (a run with frequent funding logs one per settlement and position).
fn by_position<'a>(segs: &[Seg<'a>]) -> Vec<Seg<'a>> {
    let seq = |g: &Seg| g.term.seq as usize;
    let n = segs.iter().map(|g| seq(g) + 1).max().unwrap_or(0);
    let mut at = vec![0usize; n + 1];
    for g in segs {
        at[seq(g) + 1] += 1;
    }
    for k in 1..=n {
        at[k] += at[k - 1];
    }
    let mut out = segs.to_vec();
    for g in segs {
        let slot = &mut at[seq(g)];
        out[*slot] = *g;
        *slot += 1;
    }
    debug_assert!(
        out.windows(2)
            .all(|w| (seq(&w[0]), w[0].to) <= (seq(&w[1]), w[1].term.from))
    );
    out
}

impl Sim<'_> {
    /// Raises the running peak to equity `e` if above it and returns the drawdown from it.
    pub(super) fn drawdown_at(&mut self, e: f64) -> f64 {
        if e > self.peak {
            self.peak = e;
        }
        if self.peak > 0.0 {
            ((self.peak - e) / self.peak).max(0.0)
        } else {
            0.0
        }
    }

    pub(super) fn mark_equity(&mut self, time: TimestampMs) {
        let e = self.equity_now();
        let (mb, mm, n) = self.cross_state(|k| self.last_mark[k]);
        self.push_point(time, e, (mb, mm, n));
    }

    /// [`Sim::refresh_closes`] at bar `i` followed by [`Sim::mark_equity`], in one pass over the
    /// positions, for a book without collateral. Each position's close (and a cross position's
    /// mark) is refreshed just before its terms are added; the refresh writes the same value
    /// whichever position of a symbol does it, so every term reads what it would read after the
    /// full refresh, and the equity, margin balance and maintenance are summed in the same order.
    pub(super) fn refresh_and_mark(&mut self, i: usize, time: TimestampMs) {
        debug_assert!(self.collateral.is_empty());
        self.note_refresh(i);
        if self.values.on {
            let base = self.wallet_f() + self.collateral_value(false);
            self.push_bar_point(i, time, base);
            return;
        }
        let mut e = self.wallet_f() + self.collateral_value(false);
        let (mut mb, mut mm, mut n) = (self.wallet_f(), 0.0, 0);
        let basis = self.cfg.exchange.maintenance_basis;
        let (series, tables) = (&self.market.series, &self.tables);
        let (last_close, last_mark) = (&mut self.last_close, &mut self.last_mark);
        for p in &self.positions {
            let s = &series[p.sym];
            let cross = p.mode == MarginMode::Cross;
            if s.has_bar(i) {
                last_close[p.sym] = s.close[i];
                if cross {
                    last_mark[p.sym] = s.liq_hlc(i).2;
                }
            }
            e += p.value_at(last_close[p.sym]);
            if cross {
                let m = last_mark[p.sym];
                mb += p.upnl_at(m);
                mm += Self::mm_in(tables, basis, p, m);
                n += 1;
            }
        }
        self.push_point(time, e, (mb, mm, n));
    }

    /// Records the equity point at `time`: equity `e` and the cross state (margin balance,
    /// maintenance, number of cross positions) it was taken with.
    fn push_point(&mut self, time: TimestampMs, e: f64, (mb, mm, n): (f64, f64, usize)) {
        if self.values.on {
            // its drawdown is taken by `settle_values`, once every point is complete
            debug_assert_eq!(n, 0);
            self.push_deferred(time, e);
            return;
        }
        let dd = self.drawdown_at(e);
        let ratio = if n == 0 {
            0.0
        } else if mb > 0.0 {
            mm / mb
        } else {
            f64::INFINITY
        };
        self.equity.push(EquityPoint {
            time,
            equity: e,
            drawdown: dd,
            margin_ratio: ratio,
            open_positions: self.positions.len() as u32,
            book_correlation: None,
            correlated_exposure: 0.0,
        });
    }

    /// The equity point of bar `i` of a deferred book, with its wallet term `base` only.
    pub(super) fn push_bar_point(&mut self, i: usize, time: TimestampMs, base: f64) {
        #[cfg(debug_assertions)]
        {
            // the equity the per-bar sum gives the point, for `Values::settle` to compare
            let e = self.positions.iter().fold(base, |e, p| {
                e + p.value_at(self.market.series[p.sym].close[i])
            });
            self.values.check.push((self.equity.len(), e));
        }
        self.values.point_of_bar[i] = self.equity.len() as u32;
        self.push_deferred(time, base);
    }

    fn push_deferred(&mut self, time: TimestampMs, e: f64) {
        self.equity.push(EquityPoint {
            time,
            equity: e,
            drawdown: 0.0,
            margin_ratio: 0.0,
            open_positions: self.positions.len() as u32,
            book_correlation: None,
            correlated_exposure: 0.0,
        });
    }

    /// Completes a deferred book's equity points ([`Values::settle`]) and takes their drawdowns
    /// in order from the starting peak (the first point, the start, has none).
    fn settle_values(&mut self) {
        let mut points = std::mem::take(&mut self.equity);
        self.values.settle(&mut points);
        #[cfg(debug_assertions)]
        for &(k, e) in &self.values.check {
            let got = points[k].equity;
            debug_assert_eq!(got.to_bits(), e.to_bits(), "deferred equity of point {k}");
        }
        for p in points.iter_mut().skip(1) {
            p.drawdown = self.drawdown_at(p.equity);
        }
        self.equity = points;
    }

    /// Settles the logged stretches at the open of the bar being processed: every open
    /// position's stretch is cut there (logged, and restarted with the same terms), so that all
    /// the stretches of every earlier bar are settled together. Keeps the log small.
    pub(super) fn settle_early(&mut self) {
        for (k, p) in self.positions.iter().enumerate() {
            self.values.end(k);
            self.values.start(p, k);
        }
        self.values.settle(&mut self.equity);
    }

    /// Ends the run at `now` (the last bar processed): waiting entries are withdrawn, open
    /// positions closed at their symbol's last close.
    pub(super) fn finish(&mut self, now: TimestampMs) {
        while !self.pending.is_empty() {
            let p = self.pending.remove(0);
            if self.call_unfilled(&p) {
                self.skip(
                    p.sig,
                    "entry not filled before the market data ended".into(),
                    now,
                );
            }
        }
        let positions = std::mem::take(&mut self.positions);
        for k in 0..positions.len() {
            self.values.end(k);
        }
        self.values.clear();
        self.scan.clear();
        self.wake.clear();
        self.wake_min.clear();
        self.least_end = None;
        self.least_funding = None;
        self.held.fill(0);
        for p in positions {
            let s = &self.market.series[p.sym];
            let last = s.end.saturating_sub(1).max(s.first);
            let px = s.close[last];
            let t = self.market.times[last.min(self.market.len() - 1)];
            self.close_pos(p, px, t, ExitReason::EndOfData, Decimal::ZERO);
        }
        let t = *self.market.times.last().unwrap_or(&0);
        self.refresh_closes(self.market.len() - 1);
        if self.equity.last().is_none_or(|e| e.time != t) {
            self.mark_equity(t);
        }
        if self.values.on {
            self.settle_values();
        }
    }

    pub(super) fn into_result(self, start_equity: f64, liquidations: u32) -> RunResult {
        let final_equity = self.wallet
            + self
                .collateral
                .iter()
                .map(|c| c.amount * c.sym.map_or(Decimal::ONE, |k| dec(self.last_close[k])))
                .sum::<Decimal>();
        let start = dec(start_equity);
        let closed: Vec<Decimal> = self
            .trades
            .iter()
            .filter(|t| !t.background)
            .map(Trade::net)
            .collect();
        let wins = closed.iter().filter(|n| **n > Decimal::ZERO).count();
        let gross_win: Decimal = closed.iter().filter(|n| **n > Decimal::ZERO).sum();
        let gross_loss: Decimal = -closed
            .iter()
            .filter(|n| **n < Decimal::ZERO)
            .sum::<Decimal>();
        let profit_factor = if gross_loss.is_zero() {
            if gross_win.is_zero() {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            flt(gross_win / gross_loss)
        };
        let fees: Decimal = self.trades.iter().map(|t| t.fees + t.clearance_fee).sum();
        let funding: Decimal = self.trades.iter().map(|t| t.funding).sum();
        let summary = RunSummary {
            start_equity: start,
            final_equity,
            return_pct: if start_equity > 0.0 {
                (flt(final_equity) / start_equity - 1.0) * 100.0
            } else {
                0.0
            },
            max_drawdown_pct: self.equity.iter().map(|e| e.drawdown).fold(0.0, f64::max) * 100.0,
            liquidations,
            cascades: self.liquidations.iter().filter(|l| l.is_cascade()).count() as u32,
            cascade_victims: self
                .trades
                .iter()
                .filter(|t| t.exit_reason == ExitReason::Cascade)
                .count() as u32,
            wipeouts: self.liquidations.iter().filter(|l| l.wipeout).count() as u32,
            insurance_shortfall: self
                .liquidations
                .iter()
                .map(|l| l.insurance_shortfall)
                .sum(),
            fees,
            funding,
            trades: self.trades.len() as u32,
            skipped_signals: self.skipped.len() as u32,
            win_rate: if closed.is_empty() {
                0.0
            } else {
                wins as f64 / closed.len() as f64
            },
            profit_factor,
        };
        let mut r = RunResult {
            run: format!("{}/{}", self.account.name, self.policy.name),
            account: self.account.name.clone(),
            policy: self.policy.name.clone(),
            params: Vec::new(),
            trades: self.trades,
            liquidations: self.liquidations,
            equity: self.equity,
            skipped: self.skipped,
            summary,
            liquidation_band: None,
            adl: self.adl_log,
            adl_off_final_equity: None,
        };
        r.unsign_zeros();
        r
    }
}

/// Pearson correlation of close-to-close log returns of two symbols over the `window` bars before
/// bar `i`; `None` when fewer than 3 returns are available.
pub(crate) fn correlation(m: &Market, a: usize, b: usize, i: usize, window: usize) -> Option<f64> {
    if a == b {
        return Some(1.0);
    }
    let (sa, sb) = (&m.series[a], &m.series[b]);
    let start = i.saturating_sub(window).max(sa.first).max(sb.first);
    let end = i.min(sa.end).min(sb.end);
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for j in start + 1..end {
        let x = (sa.close[j] / sa.close[j - 1]).ln();
        let y = (sb.close[j] / sb.close[j - 1]).ln();
        if x.is_finite() && y.is_finite() {
            xs.push(x);
            ys.push(y);
        }
    }
    crate::returns::pearson(&xs, &ys)
}

/// Average pairwise correlation of distinct symbols of a book (`None` with fewer than two).
pub(super) fn book_correlation(m: &Market, syms: &[usize], i: usize, window: usize) -> Option<f64> {
    let mut sum = 0.0;
    let mut n = 0;
    for (x, &a) in syms.iter().enumerate() {
        for &b in &syms[x + 1..] {
            if a != b
                && let Some(c) = correlation(m, a, b, i, window)
            {
                sum += c;
                n += 1;
            }
        }
    }
    (n > 0).then(|| sum / n as f64)
}
