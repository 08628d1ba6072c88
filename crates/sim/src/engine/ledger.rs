//! The ledger: the only place money changes (wallet, collateral, positions, fills, exit legs,
//! funding, equity valuation, cross state) and the bracket tables positions are valued with.

use super::*;

impl Sim<'_> {
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

    /// Equity at the last known closes: wallet + isolated margins + uPnL + collateral at market value.
    pub(super) fn equity_now(&self) -> f64 {
        let mut e = f(self.wallet) + self.collateral_value(false);
        for p in &self.positions {
            e += p.iso_f + p.s * p.qty_f * (self.last_close[p.sym] - p.entry_f);
        }
        e
    }

    pub(super) fn mm_of(&self, p: &Pos, mark: f64) -> f64 {
        let tiers = &self.tables[p.table].3;
        match self.cfg.exchange.maintenance_basis {
            MaintenanceBasis::Mark => mm_f64(tiers, p.qty_f * mark),
            MaintenanceBasis::Entry => mm_f64(tiers, p.qty_f * p.entry_f),
        }
    }

    /// Cross margin balance and maintenance with prices given per symbol.
    pub(super) fn cross_state(&self, mark: impl Fn(usize) -> f64) -> (f64, f64, usize) {
        let mut mb = f(self.wallet);
        for c in &self.collateral {
            let p = c.sym.map_or(1.0, &mark);
            mb += c.amount_f * p * (1.0 - c.haircut);
        }
        let mut mm = 0.0;
        let mut n = 0;
        for p in &self.positions {
            if p.mode == MarginMode::Cross {
                let m = mark(p.sym);
                mb += p.s * p.qty_f * (m - p.entry_f);
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
        if let Some(k) = self
            .tables
            .iter()
            .position(|(s, from, _, _)| *s == sym && *from == snap)
        {
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
        self.tables
            .push((sym, snap, tiers.to_vec(), tiers_f64(tiers)));
        Ok(self.tables.len() - 1)
    }

    pub(super) fn recompute_lp(&self, p: &mut Pos) {
        Self::refresh_thresholds(&self.tables, self.cfg.exchange.maintenance_basis, p);
    }

    /// Recomputes a position's `f64` thresholds from its ledger (after a fill, funding, margin
    /// added or a partial exit): the isolated liquidation price and the `f64` copy of its margin.
    /// An associated function so that a position can be updated in place inside `positions`.
    pub(super) fn refresh_thresholds(
        tables: &[(usize, TimestampMs, Vec<Bracket>, Vec<TierF>)],
        basis: MaintenanceBasis,
        p: &mut Pos,
    ) {
        p.iso_f = f(p.iso_margin);
        if p.mode != MarginMode::Isolated {
            p.lp = f64::NAN;
            return;
        }
        let tiers = &tables[p.table].2;
        let lp = match basis {
            MaintenanceBasis::Mark => {
                isolated_liq_price(p.side, p.qty, p.entry, p.iso_margin, tiers)
            }
            MaintenanceBasis::Entry => {
                liq_price_entry_basis(p.side, p.qty, p.entry, p.iso_margin, tiers)
            }
        };
        p.lp = lp.map_or(f64::NAN, |l| f(l.price));
    }

    pub(super) fn settle_funding(&mut self, i: usize) {
        let open_t = self.market.times[i];
        for k in 0..self.positions.len() {
            if self.positions[k].funding_due > open_t {
                continue;
            }
            let sym = self.positions[k].sym;
            let s = &self.market.series[sym];
            let fund = &s.funding;
            let mut changed = false;
            while self.positions[k].funding_next < fund.times.len()
                && fund.times[self.positions[k].funding_next] - FUNDING_JITTER_MS <= open_t
            {
                let rate = fund.rates[self.positions[k].funding_next];
                self.positions[k].funding_next += 1;
                let mark = s
                    .mark
                    .as_ref()
                    .map(|m| m.open[i])
                    .filter(|x| x.is_finite())
                    .unwrap_or(s.open[i]);
                if !mark.is_finite() || !rate.is_finite() {
                    continue;
                }
                let p = &mut self.positions[k];
                // received: −side × qty × mark × rate
                let received = money(-(p.side.sign_dec() * p.qty * dec(mark) * dec(rate)));
                p.trade.funding += received;
                match p.mode {
                    MarginMode::Isolated => p.iso_margin += received,
                    MarginMode::Cross => self.wallet += received,
                }
                changed = true;
            }
            let p = &mut self.positions[k];
            p.funding_due = funding_due(fund, p.funding_next);
            if changed {
                let basis = self.cfg.exchange.maintenance_basis;
                Self::refresh_thresholds(&self.tables, basis, &mut self.positions[k]);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_position(
        &mut self,
        sig: Option<usize>,
        id: String,
        sym: usize,
        side: Side,
        mode: MarginMode,
        qty: Decimal,
        px: f64,
        lev: Decimal,
        table: usize,
        stop: Option<f64>,
        targets: Vec<f64>,
        maker: bool,
        background: bool,
    ) -> Result<(), SimError> {
        let entry = dec(px);
        let notional = qty * entry;
        let im = money(notional / lev);
        let rate = if maker {
            self.cfg.exchange.maker_fee
        } else {
            self.cfg.exchange.taker_fee
        };
        let fee = money(notional * rate * self.fee_mult);
        // available for new margin: cross margin balance − cross initial margins (at last closes)
        let (mb, _, _) = self.cross_state(|k| self.last_close[k]);
        let cross_im: f64 = self
            .positions
            .iter()
            .filter(|p| p.mode == MarginMode::Cross)
            .map(|p| f(p.im))
            .sum();
        let available = mb - cross_im;
        let need = f(im + fee);
        let short_wallet = mode == MarginMode::Isolated && self.wallet < im + fee;
        if !background && (available < need || short_wallet) {
            if let Some(k) = sig {
                let what = if short_wallet {
                    "USDT wallet"
                } else {
                    "available margin"
                };
                let have = if short_wallet {
                    f(self.wallet)
                } else {
                    available
                };
                self.skip(
                    k,
                    format!("insufficient margin: needs {need:.2} USDT, {what} {have:.2}"),
                );
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
        // target quantities: weights, last takes the rest
        let mut tq = Vec::with_capacity(targets.len());
        let mut left = qty;
        let n = targets.len();
        for (j, &tp) in targets.iter().enumerate() {
            let q = if j + 1 == n {
                left
            } else {
                let w = self
                    .policy
                    .target_weights
                    .get(j)
                    .copied()
                    .unwrap_or(1.0 / n as f64);
                (qty * dec(w))
                    .round_dp_with_strategy(QTY_DP, rust_decimal::RoundingStrategy::ToZero)
                    .min(left)
            };
            left -= q;
            tq.push((tp, q));
        }
        let i = self.bar;
        let fund = &self.market.series[sym].funding;
        let open_t = self.market.times[i];
        let funding_next = fund
            .times
            .partition_point(|&t| t - FUNDING_JITTER_MS <= open_t);
        self.sync_close(sym);
        let mut p = Pos {
            sym,
            side,
            s: side.sign(),
            mode,
            qty,
            qty_f: f(qty),
            entry,
            entry_f: px,
            im,
            iso_margin,
            iso_f: 0.0,
            lp: f64::NAN,
            stop,
            widened: false,
            targets: tq,
            next_target: 0,
            table,
            hot: true,
            scan_from: usize::MAX,
            scan_until: 0,
            scan_key: (None, None, 0),
            funding_next,
            funding_due: funding_due(fund, funding_next),
            sym_end: self.market.series[sym].end,
            trade: Trade {
                signal_id: id,
                symbol: self.market.series[sym].symbol.clone(),
                side,
                mode,
                background,
                open_time: self.now,
                entry_price: px,
                qty,
                leverage: lev,
                margin: im,
                margin_added: Decimal::ZERO,
                liq_price_at_entry: None,
                close_time: self.now,
                exit_price: f64::NAN,
                exit_reason: ExitReason::EndOfData,
                pnl: Decimal::ZERO,
                fees: fee,
                clearance_fee: Decimal::ZERO,
                funding: Decimal::ZERO,
                exits: Vec::new(),
            },
        };
        self.recompute_lp(&mut p);
        p.trade.liq_price_at_entry = if mode == MarginMode::Isolated {
            p.lp.is_finite().then_some(p.lp)
        } else {
            // this position alone on the cross balance at entry
            let wb = mb - fee.to_f64().unwrap_or(0.0);
            let tiers = &self.tables[table].2;
            isolated_liq_price(side, qty, entry, dec(wb), tiers).map(|l| f(l.price))
        };
        self.positions.push(p);
        Ok(())
    }

    /// Records an exit leg; closes the position when nothing is left. `fee_rate` applies to the leg.
    pub(super) fn exit_leg(&mut self, k: usize, qty: Decimal, px: f64, reason: ExitReason, fee_rate: Decimal) {
        let p = &mut self.positions[k];
        let exit = dec(px);
        let pnl = money(p.side.sign_dec() * qty * (exit - p.entry));
        let fee = money(qty * exit * fee_rate);
        p.record_exit(self.now, px, qty, reason, pnl, fee);
        self.wallet += pnl - fee;
        p.qty -= qty;
        p.qty_f = f(p.qty);
        if p.mode == MarginMode::Isolated && !p.qty.is_zero() {
            // release margin in proportion to the quantity closed
            let release = money(p.iso_margin * qty / (p.qty + qty));
            p.iso_margin -= release;
            self.wallet += release;
        }
        if p.qty.is_zero() {
            self.wallet += p.iso_margin;
            p.iso_margin = Decimal::ZERO;
            let p = self.positions.remove(k);
            self.finish_trade(p);
        } else {
            let basis = self.cfg.exchange.maintenance_basis;
            Self::refresh_thresholds(&self.tables, basis, &mut self.positions[k]);
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
        let fee = p.qty_f * fill * f(fee_rate);
        mb - p.s * p.qty_f * (m - p.entry_f) + p.s * p.qty_f * (fill - p.entry_f) - fee < 0.0
    }

    /// True when closing an isolated position at `px` would lose more than its isolated margin (last
    /// price beyond the bankruptcy price while the mark stayed inside the liquidation price): the
    /// exchange's liquidation engine takes it, and the excess is an insurance shortfall.
    pub(super) fn beyond_bankruptcy(&self, p: &Pos, px: f64) -> bool {
        let pnl = money(p.side.sign_dec() * p.qty * (dec(px) - p.entry));
        p.iso_margin + pnl < Decimal::ZERO
    }

    pub(super) fn close_pos(
        &mut self,
        mut p: Pos,
        px: f64,
        time: TimestampMs,
        reason: ExitReason,
        fee_rate: Decimal,
    ) {
        if p.mode == MarginMode::Isolated && self.beyond_bankruptcy(&p, px) {
            let now = self.now;
            self.now = time;
            self.positions.push(p);
            self.liquidate_isolated(self.positions.len() - 1, px);
            self.now = now;
            return;
        }
        let qty = p.qty;
        let exit = dec(px);
        let pnl = money(p.side.sign_dec() * qty * (exit - p.entry));
        let fee = money(qty * exit * fee_rate);
        p.record_exit(time, px, qty, reason, pnl, fee);
        self.wallet += p.iso_margin + pnl - fee;
        p.iso_margin = Decimal::ZERO;
        p.qty = Decimal::ZERO;
        self.finish_trade(p);
    }

    pub(super) fn finish_trade(&mut self, mut p: Pos) {
        let t = &mut p.trade;
        let (mut num, mut den) = (Decimal::ZERO, Decimal::ZERO);
        for e in &t.exits {
            num += e.qty * dec(e.price);
            den += e.qty;
        }
        if let Some(last) = t.exits.last() {
            t.close_time = last.time;
            t.exit_reason = last.reason;
        }
        t.exit_price = if den.is_zero() {
            f64::NAN
        } else {
            f(num / den)
        };
        self.trades.push(p.trade);
    }
}

/// When settlement `next` of `fund` is due at a bar open (`MAX` when there is none): the condition
/// of [`Sim::settle_funding`], `time − jitter ≤ open`.
pub(super) fn funding_due(fund: &ringfence_model::Funding, next: usize) -> TimestampMs {
    fund.times
        .get(next)
        .map_or(TimestampMs::MAX, |&t| t - FUNDING_JITTER_MS)
}
