//! The ledger: the only place money changes (wallet, collateral, positions, fills, exit legs,
//! funding, equity valuation, cross state) and the bracket tables positions are valued with.

use super::{At, FUNDING_JITTER_MS, QTY_DP, Sim};
use crate::config::MaintenanceBasis;
use crate::error::SimError;
use crate::margin::{
    TierF, bound_fires_no_later, isolated_liq_price, liq_price_bound, mm_f64, tiers_f64,
};
use crate::num::{dec, flt, money, round_down, signed};
use ringfence_model::time::iso;
use ringfence_model::{
    Bracket, Exit, ExitReason, MarginMode, Side, SymbolSeries, TimestampMs, Trade,
};
use rust_decimal::Decimal;

use ringfence_model::{Price, Qty, Usdt};

/// A non-USDT collateral asset.
#[derive(Debug, Clone)]
pub(super) struct Collateral {
    pub(super) amount: Decimal,
    pub(super) amount_f: f64,
    pub(super) haircut: f64,
    /// Market symbol index pricing it; `None` for a stablecoin counted at 1.
    pub(super) sym: Option<usize>,
}

/// One open position: `f64` thresholds for the hot path, `Decimal` ledger, the trade record.
///
/// Laid out in declaration order (`repr(C)`), so that what the per-bar passes read of a due
/// position (symbol, side, quantity, entry, isolated margin, liquidation price, next target, mode)
/// is its first 64 bytes. The book holds it boxed, allocated as any other record: a cache-line
/// alignment would cost an aligned allocation per position for at most one line a read (the
/// passes over the whole book read the dense `wake` column, not the positions).
#[derive(Debug, Clone)]
#[repr(C)]
pub(super) struct Pos {
    pub(super) sym: usize,
    pub(super) s: f64,
    pub(super) qty_f: f64,
    pub(super) entry_f: f64,
    /// `iso_margin` as `f64` (kept in step by [`Sim::refresh_thresholds`]), for per-bar equity.
    pub(super) iso_f: f64,
    /// Isolated liquidation threshold on the mark (`NaN` when none): the exact price as `f64`, or
    /// while [`Pos::lp_bound`] is set a bound on it that fires no later.
    pub(super) lp: f64,
    /// The price of the next target (`NaN` when none left), kept in step with `targets` and
    /// `next_target` by [`Pos::sync_tp`].
    pub(super) tp: f64,
    pub(super) mode: MarginMode,
    pub(super) side: Side,
    pub(super) widened: bool,
    /// A threshold of the position (stop, next target, liquidation price) may have changed since
    /// its scan window was taken: set by every write of one ([`Pos::set_stop`], [`Pos::sync_tp`],
    /// [`Sim::refresh_thresholds`]), cleared by the rescan in [`Sim::may_touch`]. While it is
    /// clear the window's key is the position's (a debug assertion checks it at every read), so the
    /// per-bar passes need not rebuild the key.
    pub(super) stale: bool,
    /// [`Pos::lp`] is [`liq_price_bound`]'s bound, not the exact price: set by a funding
    /// settlement, cleared by [`Sim::resolve_lp`] before anything but a scan reads it. A scan
    /// with the bound finds no touch where the exact price would find one; where it finds one,
    /// [`Sim::may_touch`] takes the exact price and scans again. A position holding a bound is
    /// never hot: [`Sim::refresh_pos`] clears the flag when it writes one, and every place that
    /// sets the flag resolves first.
    pub(super) lp_bound: bool,
    pub(super) stop: Option<f64>,
    /// Remaining targets: price and quantity.
    pub(super) targets: Vec<(f64, Decimal)>,
    pub(super) next_target: usize,
    pub(super) table: usize,
    /// The trade record (the position itself is boxed in the book, which is shifted when one
    /// closes).
    pub(super) trade: Trade,
    pub(super) funding_next: usize,
    /// The call's whole notional when it came with an entry ladder (`NaN` otherwise): each
    /// later level adds its share of it.
    pub(super) call_notional: f64,
    pub(super) qty: Decimal,
    pub(super) entry: Decimal,
    pub(super) im: Decimal,
    pub(super) iso_margin: Decimal,
    /// The position's place in the book's order (increasing with every position opened).
    pub(super) seq: u64,
    /// Σ `qty · price` over the exit legs recorded so far, in `Decimal` (each price as
    /// `dec(price)`), in the order they were recorded: the numerator of the trade's mean exit
    /// price, kept as the legs are recorded so that [`Sim::finish_trade`] converts no price again.
    pub(super) exit_num: Decimal,
    /// Σ `qty` over the exit legs recorded so far: the mean exit price's denominator.
    pub(super) exit_den: Decimal,
}

impl Pos {
    /// The next target's price from `targets` and `next_target` (`NaN`: none left), which
    /// [`Pos::tp`] caches.
    fn tp_of_targets(&self) -> f64 {
        self.targets.get(self.next_target).map_or(f64::NAN, |t| t.0)
    }

    /// Sets [`Pos::tp`] from `targets` and `next_target` (after either changes).
    pub(super) fn sync_tp(&mut self) {
        self.tp = self.tp_of_targets();
        self.stale = true;
    }

    /// Sets the stop (the only way it is written once the position is open).
    pub(super) fn set_stop(&mut self, stop: Option<f64>) {
        self.stop = stop;
        self.stale = true;
    }

    /// The price of the next target, when one is left.
    #[inline(always)]
    pub(super) fn next_tp(&self) -> Option<f64> {
        debug_assert_eq!(self.tp.to_bits(), self.tp_of_targets().to_bits());
        (!self.tp.is_nan()).then_some(self.tp)
    }

    /// Unrealised PnL at `price`, in `f64`: the one expression every per-bar sum adds, so that
    /// sums taken in different places (bar by bar, position-major over a stretch) agree bit for
    /// bit.
    #[inline(always)]
    pub(super) fn upnl_at(&self, price: f64) -> f64 {
        self.s * self.qty_f * (price - self.entry_f)
    }

    /// The position's term of the account's equity at close `close`: its isolated margin and its
    /// unrealised PnL.
    #[inline(always)]
    pub(super) fn value_at(&self, close: f64) -> f64 {
        self.iso_f + self.upnl_at(close)
    }

    /// Appends an exit leg at `price` (`exit`: `dec(price)`) to the trade record and adds its PnL
    /// and fee to the trade's totals, and its terms to the mean exit price's sums.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_exit(
        &mut self,
        time: TimestampMs,
        price: f64,
        exit: Decimal,
        qty: Decimal,
        reason: ExitReason,
        pnl: Decimal,
        fee: Decimal,
    ) {
        debug_assert_eq!(exit.serialize(), dec(price).serialize());
        self.exit_num += qty * exit;
        self.exit_den += qty;
        self.trade.exits.push(Exit {
            time,
            price,
            qty,
            reason,
            pnl,
            fee,
        });
        self.trade.pnl += pnl;
        self.trade.fees += fee;
    }
}

/// One bracket table in use: symbol `sym`'s table in the snapshot effective from `from`, in
/// `Decimal` (exact formulas) and `f64` (per-bar maintenance).
pub(super) struct Table {
    pub(super) sym: usize,
    pub(super) from: TimestampMs,
    pub(super) tiers: Vec<Bracket>,
    pub(super) tiers_f: Vec<TierF>,
}

/// The `Decimal` mark and rate of a funding settlement of `rate` applied at bar `i` of `s` (the
/// mark's open, else the last price's), or `None` when either is not finite (the settlement is
/// skipped).
pub(super) fn settlement_terms(
    s: &SymbolSeries,
    i: usize,
    rate: f64,
) -> Option<(Decimal, Decimal)> {
    let mark = s
        .mark
        .as_ref()
        .map(|m| m.open[i])
        .filter(|x| x.is_finite())
        .unwrap_or(s.open[i]);
    (mark.is_finite() && rate.is_finite()).then(|| (dec(mark), dec(rate)))
}

/// One funding settlement of a symbol as a run applies it: the bar it is applied at (the first
/// whose open is at or after its time, less the jitter allowed) and its [`settlement_terms`]
/// there. They depend on the market alone, so a [`super::ranges::RangeIndex`] keeps them for
/// every run over it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settlement {
    /// The bar it is applied at (`times.len()`: after the last bar).
    pub(crate) bar: usize,
    /// Its `Decimal` mark and rate at that bar (`None`: skipped).
    pub(crate) terms: Option<(Decimal, Decimal)>,
}

/// Every funding settlement of `s` on the bar grid `times`, in order.
pub(super) fn settlements(times: &[TimestampMs], s: &SymbolSeries) -> Box<[Settlement]> {
    let fund = &s.funding;
    // a settlement is read by its index into both columns
    debug_assert_eq!(fund.times.len(), fund.rates.len());
    fund.times
        .iter()
        .zip(&fund.rates)
        .map(|(&t, &rate)| {
            // the first bar `i` with `t - FUNDING_JITTER_MS <= times[i]`, as `settle_funding` tests
            let bar = times.partition_point(|&x| x < t - FUNDING_JITTER_MS);
            Settlement {
                bar,
                terms: if bar < times.len() {
                    settlement_terms(s, bar, rate)
                } else {
                    None
                },
            }
        })
        .collect()
}

/// What [`Sim::refresh_thresholds`] takes as an isolated position's liquidation price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lp {
    /// The exact price.
    Exact,
    /// A bound on it ([`liq_price_bound`]) where one can be taken, else the exact price.
    Bound,
}

/// What [`Sim::open_position`] opens: a sized call (or background position) at a price.
pub(super) struct Opening<'s> {
    /// The channel event it comes from (`None`: a background position).
    pub(super) sig: Option<usize>,
    /// The trade's id (the call's id, or `bg:N`).
    pub(super) id: ringfence_model::SignalId,
    pub(super) sym: usize,
    pub(super) side: Side,
    pub(super) mode: MarginMode,
    pub(super) qty: Decimal,
    /// Fill price (slippage included).
    pub(super) px: f64,
    /// `dec(px)`, converted once by the caller (which sizes with it).
    pub(super) entry: Decimal,
    pub(super) lev: Decimal,
    /// Index into [`Sim`]'s bracket tables.
    pub(super) table: usize,
    pub(super) stop: Option<f64>,
    /// The call's target prices (borrowed from the channel event).
    pub(super) targets: &'s [f64],
    /// Maker fee (limit/zone fill) rather than taker.
    pub(super) maker: bool,
    /// A background position: opened regardless of margin, never counted as a channel trade.
    pub(super) background: bool,
    /// For the first fill of an entry ladder: the call's whole notional (later levels take their
    /// share of it) and the number of levels.
    pub(super) ladder: Option<(f64, u32)>,
}

impl Sim<'_> {
    /// The wallet as `f64` (`flt(wallet)`), converted once per wallet value: the per-bar passes
    /// read it every bar and the wallet changes only at fills, exits and settlements.
    pub(super) fn wallet_f(&self) -> f64 {
        let bits = self.wallet.serialize();
        let (cached, f) = self.wallet_cache.get();
        if cached == bits {
            return f;
        }
        let f = flt(self.wallet);
        self.wallet_cache.set((bits, f));
        f
    }

    /// `dec(w)` for a target weight `w`, converted once per weight value: every call of a run
    /// usually splits by the same weights (the policy's, or `1/n` for `n` targets).
    fn dec_weight(&self, w: f64) -> Decimal {
        let (bits, d) = self.weight_cache.get();
        if bits == w.to_bits() {
            return d;
        }
        let d = dec(w);
        self.weight_cache.set((w.to_bits(), d));
        d
    }

    pub(super) fn collateral_value(&self, haircut: bool) -> f64 {
        self.collateral
            .iter()
            .map(|c| {
                let p = c.sym.map_or(1.0, |k| self.last_close[k]);
                let h = if haircut { 1.0 - c.haircut } else { 1.0 };
                c.amount_f * p * h
            })
            .sum()
    }

    /// A USDT debt behind non-USDT collateral: the wallet is negative and some collateral is left.
    /// With no cross position open, the cross margin balance (wallet + haircut collateral) is
    /// still watched: at zero the venue sells the collateral (Binance Multi-Assets auto-exchange
    /// at LTV ≥ 1), so a falling collateral cannot take equity below zero.
    pub(super) fn collateral_debt(&self) -> bool {
        self.wallet < Decimal::ZERO && self.collateral.iter().any(|c| c.amount > Decimal::ZERO)
    }

    /// Whether the cross margin balance is checked against maintenance: with `n` cross positions
    /// open, or with none and a [`Sim::collateral_debt`] (maintenance 0).
    pub(super) fn cross_watched(&self, n: usize) -> bool {
        n > 0 || self.collateral_debt()
    }

    /// Binance Multi-Assets auto-exchange at a cross liquidation (and at a watched
    /// [`Sim::collateral_debt`] reaching zero margin balance): a USDT wallet left negative
    /// is repaid at once by selling non-USDT collateral at its haircut value at the mark (the
    /// value the margin balance counted it at), asset by asset in the account's order, until the
    /// wallet is zero or the collateral is gone. Without it the debt would stay behind collateral
    /// that can keep falling with no position left to liquidate, and equity would go below zero.
    /// The margin balance does not change; equity loses the haircut share of what is sold.
    pub(super) fn auto_exchange(&mut self, seg: usize, t: f64) {
        for k in 0..self.collateral.len() {
            if self.wallet >= Decimal::ZERO {
                return;
            }
            let c = &self.collateral[k];
            let px = c.sym.map_or(1.0, |s| self.slot_mark(s, seg, t));
            let unit = dec(px) * dec(1.0 - c.haircut);
            if unit <= Decimal::ZERO || c.amount <= Decimal::ZERO {
                continue;
            }
            let debt = -self.wallet;
            let c = &mut self.collateral[k];
            if c.amount * unit > debt {
                c.amount -= debt / unit;
                self.wallet = Decimal::ZERO;
            } else {
                self.wallet += c.amount * unit;
                c.amount = Decimal::ZERO;
            }
            c.amount_f = flt(c.amount);
        }
    }

    /// Equity at the last known closes: wallet + isolated margins + uPnL + collateral at market value.
    pub(super) fn equity_now(&self) -> f64 {
        let mut e = self.wallet_f() + self.collateral_value(false);
        if !self.values.on {
            for p in &self.positions {
                e += p.value_at(self.last_close[p.sym]);
            }
            return e;
        }
        // the closes of a deferred book are not refreshed: each position's is the one a refresh
        // would have left, the close at the last refreshed bar when its symbol has that bar
        let last = self.refreshed.last().map_or(usize::MAX, |r| r.1);
        let sum = self.values.add_book(e, last, |k| self.refreshed_close(k));
        debug_assert_eq!(
            sum.to_bits(),
            self.positions
                .iter()
                .fold(e, |e, p| e + p.value_at(self.refreshed_close(p.sym)))
                .to_bits()
        );
        sum
    }

    /// Whether equity at the last known closes is above `floor`, as `!(self.equity_now() <=
    /// floor)` says: for a test that needs only that (the wipe-out test of equity-free sizing,
    /// the wipe-out flag of a liquidation). A deferred book answers from its scan windows when it
    /// can ([`Values::surely_above`]), without reading the closes of the positions they cover.
    pub(super) fn equity_above(&self, floor: f64) -> bool {
        if self.values.on {
            let base = self.wallet_f() + self.collateral_value(false);
            let last = self.refreshed.last().map_or(usize::MAX, |r| r.1);
            if self
                .values
                .surely_above(base, last, floor, |k| self.refreshed_close(k))
            {
                debug_assert!(
                    not_at_or_below(self.equity_now(), floor),
                    "bound above {floor}"
                );
                return true;
            }
        }
        not_at_or_below(self.equity_now(), floor)
    }

    pub(super) fn mm_of(&self, p: &Pos, mark: f64) -> f64 {
        Self::mm_in(&self.tables, self.cfg.exchange.maintenance_basis, p, mark)
    }

    /// [`Sim::mm_of`] with the tables and basis passed in (for a pass that writes other fields of
    /// the run while it reads them).
    pub(super) fn mm_in(tables: &[Table], basis: MaintenanceBasis, p: &Pos, mark: f64) -> f64 {
        mm_f64(
            &tables[p.table].tiers_f,
            basis.notional(p.qty_f, mark, p.entry_f),
        )
    }

    /// Cross margin balance and maintenance with prices given per symbol.
    pub(super) fn cross_state(&self, mark: impl Fn(usize) -> f64) -> (f64, f64, usize) {
        debug_assert_eq!(
            self.cross_open,
            self.positions
                .iter()
                .filter(|p| p.mode == MarginMode::Cross)
                .count()
        );
        if self.cross_open == 0 && self.collateral.is_empty() {
            // what the sums below come to without a term
            return (self.wallet_f(), 0.0, 0);
        }
        let mut mb = self.wallet_f();
        for c in &self.collateral {
            let p = c.sym.map_or(1.0, &mark);
            mb += c.amount_f * p * (1.0 - c.haircut);
        }
        let mut mm = 0.0;
        let mut n = 0;
        for p in &self.positions {
            if p.mode == MarginMode::Cross {
                let m = mark(p.sym);
                mb += p.upnl_at(m);
                mm += self.mm_of(p, m);
                n += 1;
            }
        }
        (mb, mm, n)
    }

    pub(super) fn table_for(&mut self, sym: usize, t: TimestampMs) -> Result<usize, SimError> {
        let symbol = &self.market.series[sym].symbol;
        let snap = self
            .brackets
            .snapshot_at(t)
            .map_or(i64::MIN, |s| s.effective_from);
        let last = self.table_of[sym];
        if last != usize::MAX && self.tables[last].from == snap {
            return Ok(last);
        }
        if let Some(k) = self
            .tables
            .iter()
            .position(|tb| tb.sym == sym && tb.from == snap)
        {
            self.table_of[sym] = k;
            return Ok(k);
        }
        let tiers = self
            .brackets
            .table(symbol, t)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SimError::NoBrackets {
                symbol: symbol.clone(),
                date: iso(t),
            })?;
        let mut tiers = tiers.to_vec();
        let add = self.cfg.exchange.trigger_fee_rate;
        if !add.is_zero() {
            // the venue liquidates at maintenance plus its liquidation fee (OKX): the same
            // constant on every tier's rate keeps the `cum` offsets
            for b in &mut tiers {
                b.mmr += add;
            }
        }
        self.tables.push(Table {
            sym,
            from: snap,
            tiers_f: tiers_f64(&tiers),
            tiers,
        });
        self.table_of[sym] = self.tables.len() - 1;
        Ok(self.tables.len() - 1)
    }

    /// [`Sim::refresh_thresholds`] of open position `k`, telling the deferred valuation that its
    /// value terms may have changed at this bar.
    pub(super) fn refresh_pos(&mut self, k: usize, lp: Lp) {
        let basis = self.cfg.exchange.maintenance_basis;
        self.values.end(k);
        let p = &mut self.positions[k];
        Self::refresh_thresholds(&self.tables, basis, p, lp);
        if p.lp_bound {
            // a position holding a bound is never hot: `may_touch` looks at it again (it is
            // rewoken) before anything is walked
            self.scan[k].hot = false;
        }
        self.values.start(p, k);
        self.rewake(k);
    }

    pub(super) fn recompute_lp(&self, p: &mut Pos) {
        Self::refresh_thresholds(
            &self.tables,
            self.cfg.exchange.maintenance_basis,
            p,
            Lp::Exact,
        );
    }

    /// Recomputes a position's `f64` thresholds from its ledger (after a fill, funding, margin
    /// added or a partial exit): the isolated liquidation price (exact, or with [`Lp::Bound`] a
    /// bound on it where one can be taken) and the `f64` copy of its margin. An associated
    /// function so that a position can be updated in place inside `positions`.
    pub(super) fn refresh_thresholds(
        tables: &[Table],
        basis: MaintenanceBasis,
        p: &mut Pos,
        lp: Lp,
    ) {
        p.stale = true;
        p.iso_f = flt(p.iso_margin);
        p.lp_bound = false;
        if p.mode != MarginMode::Isolated {
            p.lp = f64::NAN;
            return;
        }
        if lp == Lp::Bound
            && basis == MaintenanceBasis::Mark
            && let Some(b) =
                liq_price_bound(p.s, p.qty_f, p.entry_f, p.iso_f, &tables[p.table].tiers_f)
        {
            p.lp = b;
            p.lp_bound = true;
            debug_assert!(bound_fires_no_later(
                p.s > 0.0,
                b,
                Self::exact_lp(tables, basis, p)
            ));
            return;
        }
        p.lp = Self::exact_lp(tables, basis, p);
    }

    /// The exact isolated liquidation price of `p` from its ledger, as `f64` (`NaN`: none).
    fn exact_lp(tables: &[Table], basis: MaintenanceBasis, p: &Pos) -> f64 {
        let tiers = &tables[p.table].tiers;
        let (qty, entry, margin) = (Qty(p.qty), Price(p.entry), Usdt(p.iso_margin));
        let lp = basis.isolated_liq_price(p.side, qty, entry, margin, tiers);
        lp.map_or(f64::NAN, |l| flt(l.price.0))
    }

    /// Replaces a bound liquidation price ([`Pos::lp_bound`]) by the exact one, marking the
    /// position's scan stale; `false` (and nothing done) when the price is already exact.
    pub(super) fn resolve_lp(tables: &[Table], basis: MaintenanceBasis, p: &mut Pos) -> bool {
        if !p.lp_bound {
            return false;
        }
        p.lp = Self::exact_lp(tables, basis, p);
        p.lp_bound = false;
        p.stale = true;
        true
    }

    pub(super) fn settle_funding(&mut self, i: usize) {
        let open_t = self.market.times[i];
        if self.next_wake() > i || !self.may_settle(open_t) {
            // every position is inside a scan window, which ends by its next settlement, or no
            // settlement of the book is due yet
            return;
        }
        for k in 0..self.positions.len() {
            // a position whose wake bar is after `i` is inside a scan window, which ends by its
            // next settlement (see `wake`)
            if self.wake[k] > i || self.scan[k].funding_due > open_t {
                continue;
            }
            let sym = self.positions[k].sym;
            let s = &self.market.series[sym];
            let fund = &s.funding;
            let cached = self.ranges.settlements(sym);
            let mut changed = false;
            while self.positions[k].funding_next < fund.times.len()
                && fund.times[self.positions[k].funding_next] - FUNDING_JITTER_MS <= open_t
            {
                let j = self.positions[k].funding_next;
                self.positions[k].funding_next += 1;
                // the market's terms of this settlement, converted once for every run, when it is
                // applied at the bar they were taken at (always, unless the book skipped it)
                let terms = match cached.map(|c| c[j]) {
                    Some(c) if c.bar == i => c.terms,
                    _ => settlement_terms(s, i, fund.rates[j]),
                };
                let Some((mark, rate)) = terms else {
                    continue;
                };
                let p = &mut self.positions[k];
                // received: −side × qty × mark × rate
                let received = money(-(signed(p.side, p.qty) * mark * rate));
                p.trade.funding += received;
                match p.mode {
                    MarginMode::Isolated => p.iso_margin += received,
                    MarginMode::Cross => self.wallet += received,
                }
                changed = true;
            }
            self.scan[k].funding_due = funding_due(fund, self.positions[k].funding_next);
            if changed {
                // the exact price is taken only if a scan finds the bound touched
                self.refresh_pos(k, Lp::Bound);
            }
        }
    }

    /// Opens a position at the current bar when the account has the margin (background positions
    /// always open); otherwise records why the signal was skipped.
    pub(super) fn open_position(&mut self, o: Opening<'_>, at: At) -> Result<(), SimError> {
        let Opening {
            sig,
            id,
            sym,
            side,
            mode,
            qty,
            px,
            entry,
            lev,
            table,
            stop,
            targets,
            maker,
            background,
            ladder,
        } = o;
        debug_assert_eq!(entry.serialize(), dec(px).serialize());
        let notional = qty * entry;
        let im = money(notional / lev);
        let rate = if maker {
            self.cfg.exchange.maker_fee
        } else {
            self.cfg.exchange.taker_fee
        };
        let fee = money(notional * rate * self.fee_mult);
        let (mb, _, _) = self.cross_state(|k| self.last_close[k]);
        if !background && let Some(reason) = self.margin_shortfall(mode, im, fee, mb) {
            if let Some(k) = sig {
                self.skip(k, reason, at.time);
            }
            return Ok(());
        }
        self.wallet -= fee;
        let iso_margin = if mode == MarginMode::Isolated {
            self.wallet -= im;
            im
        } else {
            Decimal::ZERO
        };
        let tq = self.split_targets(qty, targets.iter().copied());
        let i = at.bar;
        let fund = &self.market.series[sym].funding;
        let open_t = self.market.times[i];
        let funding_next = fund
            .times
            .partition_point(|&t| t - FUNDING_JITTER_MS <= open_t);
        self.sync_close(sym);
        let mut p = Box::new(Pos {
            sym,
            side,
            s: side.sign(),
            mode,
            qty,
            qty_f: flt(qty),
            entry,
            entry_f: px,
            im,
            iso_margin,
            iso_f: 0.0,
            lp: f64::NAN,
            tp: f64::NAN,
            stop,
            widened: false,
            stale: true,
            lp_bound: false,
            targets: tq,
            next_target: 0,
            table,
            funding_next,
            call_notional: ladder.map_or(f64::NAN, |(n, _)| n),
            seq: 0,
            exit_num: Decimal::ZERO,
            exit_den: Decimal::ZERO,
            trade: Trade {
                signal_id: id,
                symbol: self.market.series[sym].symbol.clone(),
                side,
                mode,
                background,
                open_time: at.time,
                entry_price: px,
                qty,
                leverage: lev,
                margin: im,
                margin_added: Decimal::ZERO,
                liq_price_at_entry: None,
                close_time: at.time,
                exit_price: f64::NAN,
                exit_reason: ExitReason::EndOfData,
                pnl: Decimal::ZERO,
                fees: fee,
                clearance_fee: Decimal::ZERO,
                funding: Decimal::ZERO,
                exits: Vec::new(),
                entry_levels: ladder.map_or(1, |(_, n)| n),
                levels_filled: 1,
            },
        });
        p.sync_tp();
        self.recompute_lp(&mut p);
        p.trade.liq_price_at_entry = if mode == MarginMode::Isolated {
            p.lp.is_finite().then_some(p.lp)
        } else {
            // this position alone on the cross balance at entry
            let wb = mb - flt(fee);
            let tiers = &self.tables[table].tiers;
            isolated_liq_price(side, Qty(qty), Price(entry), Usdt(dec(wb)), tiers)
                .map(|l| flt(l.price.0))
        };
        self.push_position(p, funding_due(fund, funding_next));
        Ok(())
    }

    /// Records an exit leg; closes the position when nothing is left. `fee_rate` applies to the leg.
    pub(super) fn exit_leg(
        &mut self,
        k: usize,
        qty: Decimal,
        px: f64,
        reason: ExitReason,
        fee_rate: Decimal,
        time: TimestampMs,
    ) {
        let p = &mut self.positions[k];
        let exit = dec(px);
        let pnl = money(signed(p.side, qty) * (exit - p.entry));
        let fee = money(qty * exit * fee_rate);
        p.record_exit(time, px, exit, qty, reason, pnl, fee);
        self.wallet += pnl - fee;
        p.qty -= qty;
        p.qty_f = flt(p.qty);
        if p.mode == MarginMode::Isolated && !p.qty.is_zero() {
            // release margin in proportion to the quantity closed
            let release = money(p.iso_margin * qty / (p.qty + qty));
            p.iso_margin -= release;
            self.wallet += release;
        }
        if p.qty.is_zero() {
            self.wallet += p.iso_margin;
            p.iso_margin = Decimal::ZERO;
            let p = self.take_position(k);
            self.finish_trade(p);
        } else {
            self.refresh_pos(k, Lp::Exact);
        }
    }

    /// True when filling cross position `k`'s stop at `fill` (last price, with fee rate `fee_rate`)
    /// would leave the cross margin balance below zero at path point (`seg`, `t`): a last-price
    /// spike past the account's bankruptcy while the marks had not triggered liquidation (possible
    /// under `intrabar = "close"`). As for isolated, the liquidation engine takes the position at
    /// that price and the rest of the book with it (margin balance < 0 ≤ maintenance); any loss
    /// beyond zero equity is an insurance shortfall, never a negative account.
    pub(super) fn cross_fill_bankrupts(
        &self,
        k: usize,
        fill: f64,
        fee_rate: Decimal,
        seg: usize,
        t: f64,
    ) -> bool {
        let p = &self.positions[k];
        let (mb, _, _) = self.cross_f(seg, t);
        let m = self.slot_mark(p.sym, seg, t);
        let fee = p.qty_f * fill * flt(fee_rate);
        mb - p.upnl_at(m) + p.upnl_at(fill) - fee < 0.0
    }

    /// True when closing an isolated position at `px` would lose more than its isolated margin (last
    /// price beyond the bankruptcy price while the mark stayed inside the liquidation price): the
    /// exchange's liquidation engine takes it, and the excess is an insurance shortfall.
    pub(super) fn beyond_bankruptcy(&self, p: &Pos, px: f64) -> bool {
        let pnl = money(signed(p.side, p.qty) * (dec(px) - p.entry));
        p.iso_margin + pnl < Decimal::ZERO
    }

    pub(super) fn close_pos(
        &mut self,
        mut p: Box<Pos>,
        px: f64,
        time: TimestampMs,
        reason: ExitReason,
        fee_rate: Decimal,
    ) {
        if p.mode == MarginMode::Isolated && self.beyond_bankruptcy(&p, px) {
            self.liquidate_isolated_pos(p, px, time);
            return;
        }
        let qty = p.qty;
        let exit = dec(px);
        let pnl = money(signed(p.side, qty) * (exit - p.entry));
        let fee = money(qty * exit * fee_rate);
        p.record_exit(time, px, exit, qty, reason, pnl, fee);
        self.wallet += p.iso_margin + pnl - fee;
        p.iso_margin = Decimal::ZERO;
        p.qty = Decimal::ZERO;
        self.finish_trade(p);
    }

    pub(super) fn finish_trade(&mut self, mut p: Box<Pos>) {
        // Σ qty · dec(price) and Σ qty over the legs, in their order, as the legs were recorded
        let (num, den) = (p.exit_num, p.exit_den);
        let t = &mut p.trade;
        #[cfg(debug_assertions)]
        {
            // the sums are those of the recorded legs
            let (mut n, mut d) = (Decimal::ZERO, Decimal::ZERO);
            for e in &t.exits {
                n += e.qty * dec(e.price);
                d += e.qty;
            }
            debug_assert_eq!(
                (n.serialize(), d.serialize()),
                (num.serialize(), den.serialize())
            );
        }
        if let Some(last) = t.exits.last() {
            t.close_time = last.time;
            t.exit_reason = last.reason;
        }
        t.exit_price = if den.is_zero() {
            f64::NAN
        } else {
            flt(num / den)
        };
        if t.entry_levels > 1 {
            // a closed position's ladder levels still waiting are cancelled
            let id = t.signal_id.clone();
            self.cancel_levels(&id);
        }
        self.trades.push(p.trade);
    }

    /// Why the account cannot put up initial margin `im` plus fee `fee` for a new position (or
    /// ladder level) in `mode`: available = cross margin balance `mb` (at the last closes) − cross
    /// initial margins; isolated margin comes out of the USDT wallet. `None` when it can.
    fn margin_shortfall(
        &self,
        mode: MarginMode,
        im: Decimal,
        fee: Decimal,
        mb: f64,
    ) -> Option<String> {
        let cross_im: f64 = if self.cross_open == 0 {
            // the sum below over no term, without reading every position
            std::iter::empty::<f64>().sum()
        } else {
            self.positions
                .iter()
                .filter(|p| p.mode == MarginMode::Cross)
                .map(|p| flt(p.im))
                .sum()
        };
        let available = mb - cross_im;
        let need_d = im + fee;
        let need = flt(need_d);
        let short_wallet = mode == MarginMode::Isolated && self.wallet < need_d;
        if available >= need && !short_wallet {
            return None;
        }
        let (what, have) = if short_wallet {
            ("USDT wallet", self.wallet_f())
        } else {
            ("available margin", available)
        };
        Some(format!(
            "insufficient margin: needs {need:.2} USDT, {what} {have:.2}"
        ))
    }

    /// Target quantities for a position of `qty`: the policy's weights per target, the last takes
    /// the rest.
    fn split_targets(
        &self,
        qty: Decimal,
        targets: impl ExactSizeIterator<Item = f64>,
    ) -> Vec<(f64, Decimal)> {
        let n = targets.len();
        let mut tq = Vec::with_capacity(n);
        let mut left = qty;
        for (j, tp) in targets.enumerate() {
            let q = if j + 1 == n {
                left
            } else {
                let w = self
                    .policy
                    .target_weights
                    .get(j)
                    .copied()
                    .unwrap_or(1.0 / n as f64);
                round_down(qty * self.dec_weight(w), QTY_DP).min(left)
            };
            left -= q;
            tq.push((tp, q));
        }
        tq
    }

    /// Fills a later level of position `k`'s entry ladder at `px` (maker): `share` of the call's
    /// notional is added to the position, its entry becomes the quantity-weighted mean, its
    /// initial (and isolated) margin grows, its targets are split again over the larger size and
    /// its liquidation price is recomputed. Levels fill only before the first target, so no
    /// target has been taken yet. A level the account cannot pay for is left unfilled.
    pub(super) fn add_level(&mut self, k: usize, px: f64, share: f64) {
        let p = &self.positions[k];
        let notional = p.call_notional * share;
        let qty = round_down(dec(notional) / dec(px), QTY_DP);
        if qty <= Decimal::ZERO {
            return;
        }
        let fill = dec(px);
        let added = qty * fill;
        let im = money(added / p.trade.leverage);
        let fee = money(added * self.cfg.exchange.maker_fee * self.fee_mult);
        let (mb, _, _) = self.cross_state(|k| self.last_close[k]);
        if self.margin_shortfall(p.mode, im, fee, mb).is_some() {
            return;
        }
        self.wallet -= fee;
        let p = &mut self.positions[k];
        if p.mode == MarginMode::Isolated {
            self.wallet -= im;
            p.iso_margin += im;
        }
        let total = p.qty + qty;
        p.entry = (p.entry * p.qty + fill * qty) / total;
        p.entry_f = flt(p.entry);
        p.qty = total;
        p.qty_f = flt(total);
        p.im += im;
        p.trade.qty = total;
        p.trade.entry_price = p.entry_f;
        p.trade.margin += im;
        p.trade.fees += fee;
        p.trade.levels_filled += 1;
        let prices: Vec<f64> = p.targets.iter().map(|t| t.0).collect();
        let tq = self.split_targets(total, prices.into_iter());
        let p = &mut self.positions[k];
        p.targets = tq;
        p.sync_tp();
        self.refresh_pos(k, Lp::Exact);
    }
}

/// When settlement `next` of `fund` is due at a bar open (`MAX` when there is none): the condition
/// of [`Sim::settle_funding`], `time − jitter ≤ open`.
pub(super) fn funding_due(fund: &ringfence_model::Funding, next: usize) -> TimestampMs {
    fund.times
        .get(next)
        .map_or(TimestampMs::MAX, |&t| t - FUNDING_JITTER_MS)
}

/// `!(x <= floor)`: true above the floor, and for a `NaN` (which compares with nothing), as the
/// wipe-out tests have always read an equity.
pub(super) fn not_at_or_below(x: f64, floor: f64) -> bool {
    !matches!(
        x.partial_cmp(&floor),
        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
    )
}
