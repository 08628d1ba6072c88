//! Liquidation: isolated close-outs, cross book close-outs behind [`LiquidationProcess`] (the
//! venue's procedure: [`Full`], [`Partial`]), clearance fees and the insurance shortfall.

use super::ledger::Pos;
use super::stats::book_correlation;
use super::{At, Sim};
use crate::num::{dec, flt, money};
use ringfence_model::{ExitReason, LiquidatedPosition, LiquidationEvent, MarginMode, TimestampMs};
use rust_decimal::Decimal;

use crate::config;

/// How a venue closes out a cross book whose margin balance reached maintenance. Positions are
/// taken one at a time, the largest loser first (a position whose stop filled past bankruptcy
/// before all); after each one the process says whether the close-out is over. The shared parts
/// (clearance fee capped at what margin remains, insurance shortfall, culprit/victim records) are
/// the same for every process.
pub(super) trait LiquidationProcess: Sync {
    /// After one position was closed: is the close-out over? `remaining()` gives the cross book
    /// left at the trigger point: (margin balance, maintenance, open cross positions). The
    /// close-out also ends when no cross position is left.
    fn is_over(&self, remaining: &dyn Fn() -> (f64, f64, usize)) -> bool;
}

/// Every cross position is closed (Binance USDⓈ-M for a retail book).
pub(super) struct Full;

/// The largest loser is closed, the book re-checked, and so on while it stays at or below
/// maintenance (the step-down of tiered venues).
pub(super) struct Partial;

impl LiquidationProcess for Full {
    fn is_over(&self, _remaining: &dyn Fn() -> (f64, f64, usize)) -> bool {
        false
    }
}

impl LiquidationProcess for Partial {
    fn is_over(&self, remaining: &dyn Fn() -> (f64, f64, usize)) -> bool {
        let (mb, mm, n) = remaining();
        n == 0 || mb > mm
    }
}

/// The process of a preset's setting: the one place the setting is matched.
pub(super) fn process(kind: config::LiquidationProcess) -> &'static dyn LiquidationProcess {
    match kind {
        config::LiquidationProcess::Full => &Full,
        config::LiquidationProcess::Partial => &Partial,
    }
}

impl Sim<'_> {
    pub(super) fn liquidate_isolated(&mut self, k: usize, px: f64, time: TimestampMs) {
        let p = self.take_position(k);
        self.liquidate_isolated_pos(p, px, time);
    }

    /// Liquidates isolated position `p`, already taken out of the book, at `px`.
    pub(super) fn liquidate_isolated_pos(&mut self, mut p: Pos, px: f64, time: TimestampMs) {
        let exit = dec(px);
        let pnl = money(p.side.sign_dec() * p.qty * (exit - p.entry));
        let remaining = p.iso_margin + pnl;
        let tiers = &self.tables[p.table].tiers;
        let mm =
            ringfence_model::bracket::bracket_for(tiers, p.qty * exit).maintenance(p.qty * exit);
        // the exchange keeps what margin remains (clearance fee + insurance fund); a gap past
        // bankruptcy is covered by the insurance fund
        let (clearance, shortfall) = if remaining >= Decimal::ZERO {
            (remaining, Decimal::ZERO)
        } else {
            (Decimal::ZERO, -remaining)
        };
        let qty = p.qty;
        p.record_exit(time, px, qty, ExitReason::Liquidation, pnl, Decimal::ZERO);
        p.trade.clearance_fee += clearance;
        self.wallet += p.iso_margin + pnl - clearance + shortfall;
        let lost = -pnl - p.im;
        let ratio = if remaining > Decimal::ZERO {
            flt(mm / remaining)
        } else {
            f64::INFINITY
        };
        let lp = LiquidatedPosition {
            signal_id: p.trade.signal_id.clone(),
            symbol: p.trade.symbol.clone(),
            side: p.side,
            price: px,
            loss_beyond_margin: lost,
            upnl: pnl,
            culprit: true,
        };
        p.iso_margin = Decimal::ZERO;
        p.qty = Decimal::ZERO;
        self.finish_trade(p);
        let wipeout = self.equity_now() <= 1e-9;
        self.liquidations.push(LiquidationEvent {
            time,
            mode: MarginMode::Isolated,
            positions: vec![lp],
            margin_ratio: ratio,
            margin_balance: remaining,
            maintenance: mm,
            book_correlation: None,
            clearance_fee: clearance,
            insurance_shortfall: shortfall,
            wipeout,
            after_adl: None,
        });
    }

    pub(super) fn liquidate_cross(&mut self, seg: usize, t: f64, at: At) {
        self.liquidate_cross_at(seg, t, None, at);
    }

    /// Cross liquidation at path point (`seg`, `t`), every position at its mark there, except
    /// `forced = Some((symbol, price))`: the position of that symbol whose stop would have filled
    /// at `price` past the account's bankruptcy is taken first, at that price.
    pub(super) fn liquidate_cross_at(
        &mut self,
        seg: usize,
        t: f64,
        forced: Option<(usize, f64)>,
        at: At,
    ) {
        let price_of = |this: &Self, p: &Pos| match forced {
            Some((sym, px)) if p.sym == sym => px,
            _ => this.slot_mark(p.sym, seg, t),
        };
        let (mut mb0, mm0, _) = self.cross_f(seg, t);
        if let Some((sym, px)) = forced
            && let Some(p) = self
                .positions
                .iter()
                .find(|p| p.mode == MarginMode::Cross && p.sym == sym)
        {
            mb0 += p.s * p.qty_f * (px - self.slot_mark(sym, seg, t));
        }
        let rate = self.cfg.exchange.clearance_fee_rate;
        let process = process(self.cfg.exchange.liquidation);
        let cross_syms: Vec<usize> = self
            .positions
            .iter()
            .filter(|p| p.mode == MarginMode::Cross)
            .map(|p| p.sym)
            .collect();
        let corr = book_correlation(
            self.market,
            &cross_syms,
            at.bar,
            self.cfg.correlation_window,
        );
        let mut closed: Vec<(Pos, f64, Decimal)> = Vec::new();
        let mut clearance_total = Decimal::ZERO;
        let mut fees = Vec::new();
        loop {
            // the forced position first, then the cross position with the largest loss
            // (Partial) or every one (Full)
            let forced_k = forced.and_then(|(sym, _)| {
                self.positions
                    .iter()
                    .position(|p| p.mode == MarginMode::Cross && p.sym == sym)
            });
            let pick = forced_k.map(|k| (k, 0.0)).or_else(|| {
                self.positions
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.mode == MarginMode::Cross)
                    .map(|(k, p)| {
                        let m = self.slot_mark(p.sym, seg, t);
                        (k, p.s * p.qty_f * (m - p.entry_f))
                    })
                    .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            });
            let Some((k, _)) = pick else { break };
            let m = price_of(self, &self.positions[k]);
            let p = self.take_position(k);
            let exit = dec(m);
            let pnl = money(p.side.sign_dec() * p.qty * (exit - p.entry));
            self.wallet += pnl;
            // clearance: rate × liquidated notional, capped at the margin balance that remains
            let (mb, _, _) = self.cross_f(seg, t);
            let room = money(dec(mb.max(0.0)));
            let c = money(rate * p.qty * exit).min(room).max(Decimal::ZERO);
            self.wallet -= c;
            clearance_total += c;
            fees.push(c);
            closed.push((p, m, pnl));
            if process.is_over(&|| self.cross_f(seg, t)) {
                break;
            }
        }
        // a gap past bankruptcy: the margin balance is floored at zero by the insurance fund
        let (mb_after, _, left) = self.cross_f(seg, t);
        let mb_after = if left == 0 {
            // nothing left open in cross: settle exactly in Decimal
            self.wallet
                + self
                    .collateral
                    .iter()
                    .map(|c| {
                        let px = c.sym.map_or(1.0, |k| self.slot_mark(k, seg, t));
                        c.amount * dec(px) * dec(1.0 - c.haircut)
                    })
                    .sum::<Decimal>()
        } else {
            money(dec(mb_after))
        };
        let shortfall = money((-mb_after).max(Decimal::ZERO));
        self.wallet += shortfall;
        let any_culprit = closed.iter().any(|(p, _, pnl)| -*pnl > p.im);
        let worst = closed
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.2.cmp(&b.1.2).then(a.0.cmp(&b.0)))
            .map(|(k, _)| k);
        let mut listed = Vec::new();
        for (k, (mut p, m, pnl)) in closed.into_iter().enumerate() {
            let culprit = -pnl > p.im;
            let reason = if culprit || (!any_culprit && Some(k) == worst) {
                ExitReason::Liquidation
            } else {
                ExitReason::Cascade
            };
            p.trade.clearance_fee += fees[k];
            let qty = p.qty;
            p.record_exit(at.time, m, qty, reason, pnl, Decimal::ZERO);
            listed.push(LiquidatedPosition {
                signal_id: p.trade.signal_id.clone(),
                symbol: p.trade.symbol.clone(),
                side: p.side,
                price: m,
                loss_beyond_margin: -pnl - p.im,
                upnl: pnl,
                culprit,
            });
            p.qty = Decimal::ZERO;
            self.finish_trade(p);
        }
        let wipeout = self.equity_now() <= 1e-9;
        let after_adl = self.take_adl_attribution(at.time);
        self.liquidations.push(LiquidationEvent {
            time: at.time,
            mode: MarginMode::Cross,
            positions: listed,
            margin_ratio: if mb0 > 0.0 { mm0 / mb0 } else { f64::INFINITY },
            margin_balance: dec(mb0),
            maintenance: dec(mm0),
            book_correlation: corr,
            clearance_fee: clearance_total,
            insurance_shortfall: shortfall,
            wipeout,
            after_adl,
        });
    }
}
