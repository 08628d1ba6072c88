//! Liquidation: isolated close-outs, cross book close-outs behind [`LiquidationProcess`] (the
//! venue's procedure: [`Full`] for Binance, [`BybitTiers`], [`OkxTiers`]), clearance fees and the
//! insurance shortfall.

use super::ledger::Pos;
use super::stats::book_correlation;
use super::{At, QTY_DP, Sim};
use crate::num::{dec, flt, money, round_down, signed};
use ringfence_model::{
    Bracket, ExitReason, LiquidatedPosition, LiquidationEvent, MarginMode, TimestampMs,
};
use rust_decimal::Decimal;

use crate::config;

/// How a venue liquidates. A position at the trigger may first be reduced to a lower tier
/// ([`LiquidationProcess::step_to`]); a cross book is taken one position (or step) at a time, the
/// largest loser first (a position whose stop filled past bankruptcy before all), and after each
/// the process says whether the close-out is over. The shared parts (clearance fee capped at what
/// margin remains, insurance shortfall, culprit/victim records) are the same for every process.
pub(super) trait LiquidationProcess: Sync {
    /// After one position (or step) was closed: is the close-out over? `remaining()` gives the
    /// cross book left at the trigger point: (margin balance, maintenance, open cross positions).
    /// The close-out also ends when no cross position is left.
    fn is_over(&self, remaining: &dyn Fn() -> (f64, f64, usize)) -> bool;

    /// The notional a position at `notional` in `tiers` is reduced to, at the mark, before it is
    /// closed whole; `None`: close it whole. `above_lowest`: its margin balance is above the
    /// maintenance it would have at the lowest tier.
    fn step_to(&self, tiers: &[Bracket], notional: Decimal, above_lowest: bool) -> Option<Decimal>;

    /// Whether [`LiquidationProcess::step_to`] may ever answer `Some`: a process that never steps
    /// down ([`Full`]) lets the engine skip the terms it would ask with.
    fn steps(&self) -> bool {
        true
    }
}

/// Binance USDⓈ-M: every cross position is closed; an isolated position whole.
pub(super) struct Full;

/// Bybit: a position above the lowest risk-limit tier is reduced to the next lower tier's limit,
/// re-checked, and so on; at the lowest tier it is closed (taken over at bankruptcy). A cross book
/// is re-checked after every step.
pub(super) struct BybitTiers;

/// OKX: a position in tier 3 or above whose margin is still above the lowest tier's maintenance is
/// reduced by two tiers and re-checked; otherwise closed whole. A cross book is re-checked after
/// every step.
pub(super) struct OkxTiers;

/// Index (0-based) of the tier holding `notional` (as [`ringfence_model::bracket::bracket_for`]:
/// a notional at a tier's cap belongs to the next tier).
fn tier_index(tiers: &[Bracket], notional: Decimal) -> usize {
    tiers
        .partition_point(|b| b.cap <= notional)
        .min(tiers.len().saturating_sub(1))
}

fn book_over(remaining: &dyn Fn() -> (f64, f64, usize)) -> bool {
    let (mb, mm, n) = remaining();
    n == 0 || mb > mm
}

impl LiquidationProcess for Full {
    fn is_over(&self, _remaining: &dyn Fn() -> (f64, f64, usize)) -> bool {
        false
    }
    fn step_to(&self, _: &[Bracket], _: Decimal, _: bool) -> Option<Decimal> {
        None
    }
    fn steps(&self) -> bool {
        false
    }
}

impl LiquidationProcess for BybitTiers {
    fn is_over(&self, remaining: &dyn Fn() -> (f64, f64, usize)) -> bool {
        book_over(remaining)
    }
    fn step_to(
        &self,
        tiers: &[Bracket],
        notional: Decimal,
        _above_lowest: bool,
    ) -> Option<Decimal> {
        let k = tier_index(tiers, notional);
        (k >= 1).then(|| tiers[k - 1].cap)
    }
}

impl LiquidationProcess for OkxTiers {
    fn is_over(&self, remaining: &dyn Fn() -> (f64, f64, usize)) -> bool {
        book_over(remaining)
    }
    fn step_to(&self, tiers: &[Bracket], notional: Decimal, above_lowest: bool) -> Option<Decimal> {
        let k = tier_index(tiers, notional);
        (k >= 2 && above_lowest).then(|| tiers[k - 2].cap)
    }
}

/// The process of a preset's setting: the one place the setting is matched.
pub(super) fn process(kind: config::LiquidationProcess) -> &'static dyn LiquidationProcess {
    match kind {
        config::LiquidationProcess::Full => &Full,
        config::LiquidationProcess::BybitTiers => &BybitTiers,
        config::LiquidationProcess::OkxTiers => &OkxTiers,
    }
}

/// The record of `close` of position `p` cut at `px` by a step-down: its PnL, its loss beyond its
/// share of the initial margin, culprit when that loss is positive.
fn step_record(p: &Pos, close: Decimal, px: f64) -> LiquidatedPosition {
    let pnl = money(signed(p.side, close) * (dec(px) - p.entry));
    let beyond = -pnl - money(p.im * close / p.qty);
    LiquidatedPosition {
        signal_id: p.trade.signal_id.clone(),
        symbol: p.trade.symbol.clone(),
        side: p.side,
        price: px,
        loss_beyond_margin: beyond,
        upnl: pnl,
        culprit: beyond > Decimal::ZERO,
    }
}

/// The quantity left when a position of `qty` at `px` is reduced to a notional under `cap`.
pub(crate) fn qty_under(cap: Decimal, px: Decimal, qty: Decimal) -> Decimal {
    let q = round_down(cap / px, QTY_DP);
    let q = if q * px >= cap {
        q - Decimal::new(1, QTY_DP)
    } else {
        q
    };
    q.max(Decimal::ZERO).min(qty)
}

impl Sim<'_> {
    pub(super) fn liquidate_isolated(&mut self, k: usize, px: f64, time: TimestampMs) {
        if self.step_down_isolated(k, px, time) {
            return;
        }
        let p = self.take_position(k);
        self.liquidate_isolated_pos(p, px, time);
    }

    /// The venue's step-down of isolated position `k` at mark `px` (Bybit, OKX): reduce to a lower
    /// tier at the mark (taker fee), record the partial liquidation, re-check; true when the
    /// position survives, false when it must be closed whole.
    fn step_down_isolated(&mut self, k: usize, px: f64, time: TimestampMs) -> bool {
        let process = process(self.cfg.exchange.liquidation);
        if !process.steps() {
            // the loop below would ask `step_to`, which never steps, and return
            return false;
        }
        let exit = dec(px);
        loop {
            let p = &self.positions[k];
            let tiers = &self.tables[p.table].tiers;
            let notional = p.qty * exit;
            let upnl = money(signed(p.side, p.qty) * (exit - p.entry));
            let balance = p.iso_margin + upnl;
            let above_lowest = balance > tiers[0].maintenance(notional);
            let Some(cap) = process.step_to(tiers, notional, above_lowest) else {
                return false;
            };
            let keep = qty_under(cap, exit, p.qty);
            if keep.is_zero() || keep >= p.qty {
                return false;
            }
            let mm = ringfence_model::bracket::bracket_for(tiers, notional).maintenance(notional);
            let close = p.qty - keep;
            // an isolated liquidation is always its own culprit
            let lp = LiquidatedPosition {
                culprit: true,
                ..step_record(p, close, px)
            };
            let fee_rate = self.cfg.exchange.taker_fee * self.fee_mult;
            self.exit_leg(k, close, px, ExitReason::Liquidation, fee_rate, time);
            self.walk_now(k);
            let wipeout = !self.equity_above(1e-9);
            self.liquidations.push(LiquidationEvent {
                time,
                mode: MarginMode::Isolated,
                positions: vec![lp],
                margin_ratio: if balance > Decimal::ZERO {
                    flt(mm / balance)
                } else {
                    f64::INFINITY
                },
                margin_balance: balance,
                maintenance: mm,
                book_correlation: None,
                clearance_fee: Decimal::ZERO,
                insurance_shortfall: Decimal::ZERO,
                wipeout,
                after_adl: None,
            });
            // re-check the rest at its (lower) tier
            let p = &self.positions[k];
            let tiers = &self.tables[p.table].tiers;
            let n = p.qty * exit;
            let left = p.iso_margin + money(signed(p.side, p.qty) * (exit - p.entry));
            if left > ringfence_model::bracket::bracket_for(tiers, n).maintenance(n) {
                return true;
            }
        }
    }

    /// Liquidates isolated position `p`, already taken out of the book, at `px`.
    pub(super) fn liquidate_isolated_pos(&mut self, mut p: Box<Pos>, px: f64, time: TimestampMs) {
        let exit = dec(px);
        let pnl = money(signed(p.side, p.qty) * (exit - p.entry));
        let remaining = p.iso_margin + pnl;
        let tiers = &self.tables[p.table].tiers;
        let notional = p.qty * exit;
        let mm = ringfence_model::bracket::bracket_for(tiers, notional).maintenance(notional);
        // the exchange keeps what margin remains (clearance fee + insurance fund); a gap past
        // bankruptcy is covered by the insurance fund
        let (clearance, shortfall) = if remaining >= Decimal::ZERO {
            (remaining, Decimal::ZERO)
        } else {
            (Decimal::ZERO, -remaining)
        };
        let qty = p.qty;
        p.record_exit(
            time,
            px,
            exit,
            qty,
            ExitReason::Liquidation,
            pnl,
            Decimal::ZERO,
        );
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
        let wipeout = !self.equity_above(1e-9);
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

    /// The venue's step-down of cross position `k` at mark `m` (Bybit, OKX): reduced to a lower
    /// tier at the mark (taker fee); `None` when the process closes it whole.
    fn cross_step(
        &mut self,
        k: usize,
        m: f64,
        seg: usize,
        t: f64,
        process: &dyn LiquidationProcess,
        time: TimestampMs,
    ) -> Option<LiquidatedPosition> {
        if !process.steps() {
            return None;
        }
        let (mb, mm, _) = self.cross_f(seg, t);
        let p = &self.positions[k];
        let tiers = &self.tables[p.table].tiers;
        let exit = dec(m);
        let notional = p.qty * exit;
        let lowest = flt(tiers[0].maintenance(notional));
        let above_lowest = mb > mm - self.mm_of(p, m) + lowest;
        let cap = process.step_to(tiers, notional, above_lowest)?;
        let keep = qty_under(cap, exit, p.qty);
        if keep.is_zero() || keep >= p.qty {
            return None;
        }
        let close = p.qty - keep;
        let lp = step_record(p, close, m);
        let fee_rate = self.cfg.exchange.taker_fee * self.fee_mult;
        self.exit_leg(k, close, m, ExitReason::Liquidation, fee_rate, time);
        self.walk_now(k);
        Some(lp)
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
        let mut closed: Vec<(Box<Pos>, f64, Decimal)> = Vec::new();
        // positions reduced to a lower tier (Bybit, OKX) rather than closed
        let mut stepped: Vec<LiquidatedPosition> = Vec::new();
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
                        (k, p.upnl_at(m))
                    })
                    .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            });
            let Some((k, _)) = pick else { break };
            let m = price_of(self, &self.positions[k]);
            if forced_k.is_none()
                && let Some(step) = self.cross_step(k, m, seg, t, process, at.time)
            {
                stepped.push(step);
                if process.is_over(&|| self.cross_f(seg, t)) {
                    break;
                }
                continue;
            }
            let p = self.take_position(k);
            let exit = dec(m);
            let pnl = money(signed(p.side, p.qty) * (exit - p.entry));
            self.wallet += pnl;
            // clearance: rate × liquidated notional, capped at the margin balance that remains
            let (mb, _, _) = self.cross_f(seg, t);
            let room = money(dec(mb.max(0.0)));
            let rate = self.cfg.exchange.clearance_rate(&p.trade.symbol);
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
        // Zero when the balance is not negative: a positive zero (`max` of −0 and 0 kept the sign
        // of −0, which JSON then showed as "-0" and a merge of shards read back as "0").
        let shortfall = if mb_after < Decimal::ZERO {
            money(-mb_after)
        } else {
            Decimal::ZERO
        };
        self.wallet += shortfall;
        self.auto_exchange(seg, t);
        let any_culprit = closed.iter().any(|(p, _, pnl)| -*pnl > p.im);
        let worst = closed
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.2.cmp(&b.1.2).then(a.0.cmp(&b.0)))
            .map(|(k, _)| k);
        let mut listed = stepped;
        for (k, (mut p, m, pnl)) in closed.into_iter().enumerate() {
            let culprit = -pnl > p.im;
            let reason = if culprit || (!any_culprit && Some(k) == worst) {
                ExitReason::Liquidation
            } else {
                ExitReason::Cascade
            };
            p.trade.clearance_fee += fees[k];
            let qty = p.qty;
            p.record_exit(at.time, m, dec(m), qty, reason, pnl, Decimal::ZERO);
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
        let wipeout = !self.equity_above(1e-9);
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
