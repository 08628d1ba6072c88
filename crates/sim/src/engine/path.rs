//! The intrabar path of one (sub-)bar: vertex prices per symbol and the triggers crossed along it,
//! fired in path order.

use super::entries::EntryFill;
use super::ledger::Lp;
use super::{At, MAX_EVENTS_PER_PATH, Sim};
use crate::config::{Intrabar, StopDiscipline};
use crate::error::SimError;
use ringfence_model::{ExitReason, MarginMode, Side};
use rust_decimal::Decimal;

/// Vertex prices of one symbol for one (sub-)bar, in path order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) last: [f64; 4],
    pub(super) mark: [f64; 4],
}

/// What the path found next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Ev {
    Fill(usize, f64),
    Target(usize, f64),
    Stop(usize, f64),
    IsoLiq(usize, f64),
    CrossLiq,
}

impl Ev {
    pub(super) fn rank(self) -> u8 {
        match self {
            Ev::Fill(..) => 0,
            Ev::IsoLiq(..) => 1,
            Ev::CrossLiq => 2,
            Ev::Stop(..) => 3,
            Ev::Target(..) => 4,
        }
    }
}

impl Sim<'_> {
    pub(super) fn slot_mark(&self, sym: usize, seg: usize, t: f64) -> f64 {
        match self.slot_of[sym] {
            usize::MAX => self.last_close[sym],
            s => price_at(&self.slots[s].mark, seg, t),
        }
    }

    pub(super) fn cross_f(&self, seg: usize, t: f64) -> (f64, f64, usize) {
        self.cross_state(|k| self.slot_mark(k, seg, t))
    }

    /// Fills `slots` for the symbols involved, from market `m` at bar `j` (symbol map for the lower
    /// market). Returns false when a symbol with a position or pending entry has no bar there.
    pub(super) fn build_path(&mut self, lower: bool, j: usize) -> bool {
        let m = if lower {
            match self.market.lower.as_deref() {
                Some(l) => l,
                None => return false,
            }
        } else {
            self.market
        };
        for &k in &self.slot_syms {
            self.slot_of[k] = usize::MAX;
        }
        self.slot_syms.clear();
        self.slots.clear();
        // direction per symbol: the position's or pending entry's side; collateral counts as long
        // positions that cannot trigger in this bar need no path, unless they are cross (the book's
        // margin) or share a symbol with collateral (their side orients that symbol's path)
        let mut involved = std::mem::take(&mut self.involved);
        involved.clear();
        if !lower && self.cross_open == 0 && self.collateral.is_empty() {
            // only the hot positions are involved
            for (_, p) in self.hot_positions(j) {
                involved.push((p.sym, p.side, true));
            }
        } else {
            for (p, c) in self.positions.iter().zip(&self.scan) {
                if c.hot
                    || p.mode == MarginMode::Cross
                    || self.collateral.iter().any(|c| c.sym == Some(p.sym))
                {
                    involved.push((p.sym, p.side, true));
                }
            }
        }
        for p in &self.pending {
            involved.push((p.sym, p.side, true));
        }
        for c in &self.collateral {
            if let Some(k) = c.sym {
                involved.push((k, Side::Long, false));
            }
        }
        let mut complete = true;
        for &(k, side, required) in &involved {
            if self.slot_of[k] != usize::MAX {
                continue;
            }
            let idx = if lower { self.lower_map[k] } else { Some(k) };
            let s = idx.map(|x| &m.series[x]);
            let Some(s) = s.filter(|s| s.has_bar(j)) else {
                if required {
                    complete = false;
                    break;
                }
                let c = self.last_close[k];
                self.slot_of[k] = self.slots.len();
                self.slots.push(Slot {
                    last: [c; 4],
                    mark: [c; 4],
                });
                self.slot_syms.push(k);
                continue;
            };
            let (o, h, l, c) = (s.open[j], s.high[j], s.low[j], s.close[j]);
            let (mo, mh, ml, mc) = match &s.mark {
                Some(mk)
                    if mk.open[j].is_finite()
                        && mk.high[j].is_finite()
                        && mk.low[j].is_finite()
                        && mk.close[j].is_finite() =>
                {
                    (mk.open[j], mk.high[j], mk.low[j], mk.close[j])
                }
                _ => (o, h, l, c),
            };
            let low_first = match self.model {
                Intrabar::Adverse | Intrabar::Close => side == Side::Long,
                Intrabar::Ohlc => c >= o,
            };
            let slot = if low_first {
                Slot {
                    last: [o, l, h, c],
                    mark: [mo, ml, mh, mc],
                }
            } else {
                Slot {
                    last: [o, h, l, c],
                    mark: [mo, mh, ml, mc],
                }
            };
            self.slot_of[k] = self.slots.len();
            self.slots.push(slot);
            self.slot_syms.push(k);
        }
        self.involved = involved;
        complete
    }

    /// Does the current path (of main bar `i`) touch any trigger (quick check over the vertices)?
    pub(super) fn path_touches(&self, i: usize) -> bool {
        let bound = |v: &[f64; 4]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        };
        for (_, p) in self.hot_positions(i) {
            let sl = &self.slots[self.slot_of[p.sym]];
            let (lo, hi) = bound(&sl.last);
            if let Some(st) = p.stop
                && (if p.s > 0.0 { lo <= st } else { hi >= st })
            {
                return true;
            }
            if let Some(&(tp, _)) = p.targets.get(p.next_target)
                && (if p.s > 0.0 { hi >= tp } else { lo <= tp })
            {
                return true;
            }
            if p.lp.is_finite() {
                let (mlo, mhi) = bound(&sl.mark);
                if if p.s > 0.0 { mlo <= p.lp } else { mhi >= p.lp } {
                    return true;
                }
            }
        }
        for p in &self.pending {
            let (lo, hi) = bound(&self.slots[self.slot_of[p.sym]].last);
            if hi >= p.lo && lo <= p.hi {
                return true;
            }
        }
        for seg in 0..3 {
            for t in [0.0, 1.0] {
                let (mb, mm, n) = self.cross_f(seg, t);
                if self.cross_watched(n) && mb <= mm {
                    return true;
                }
            }
        }
        false
    }

    /// Walks the current path's three segments firing triggers in path order.
    pub(super) fn run_path(&mut self, at: At) -> Result<(), SimError> {
        let liq_in_path = self.model != Intrabar::Close;
        let mut guard = 0;
        for seg in 0..3 {
            let mut t = 0.0;
            while let Some((te, ev)) = self.next_event(at.bar, seg, t, liq_in_path) {
                guard += 1;
                if guard > MAX_EVENTS_PER_PATH {
                    return Ok(());
                }
                t = te;
                self.apply(ev, seg, t, at)?;
            }
        }
        if !liq_in_path {
            // liquidation seen at the close only
            let mut k = 0;
            while k < self.positions.len() {
                let p = &self.positions[k];
                if !self.scan[k].hot {
                    // its mark range did not reach the liquidation price: nor does its close
                    k += 1;
                    continue;
                }
                let m = self.slot_mark(p.sym, 2, 1.0);
                if p.lp.is_finite() && p.s * (m - p.lp) <= 0.0 {
                    self.liquidate_isolated(k, m, at.time);
                } else {
                    k += 1;
                }
            }
            let (mb, mm, n) = self.cross_f(2, 1.0);
            if self.cross_watched(n) && mb <= mm {
                self.liquidate_cross(2, 1.0, at);
            }
        }
        Ok(())
    }

    /// The first trigger along segment `seg` of the path of main bar `i` from `t0`: a hot
    /// position's stop, target or (with `liq`) isolated liquidation, a pending entry's fill, a
    /// cross liquidation. Ties go to the lower [`Ev::rank`], then to the earlier in the book.
    pub(super) fn next_event(&self, i: usize, seg: usize, t0: f64, liq: bool) -> Option<(f64, Ev)> {
        let mut best: Option<(f64, Ev)> = None;
        let mut consider = |t: f64, ev: Ev| {
            if best.is_none_or(|(bt, bev)| t < bt || (t == bt && ev.rank() < bev.rank())) {
                best = Some((t, ev));
            }
        };
        // crossing of a level by a linear path a→b from t0: returns (t, already)
        let cross = |a: f64, b: f64, level: f64, below: bool| -> Option<(f64, bool)> {
            let x0 = a + (b - a) * t0;
            let hit = |x: f64| if below { x <= level } else { x >= level };
            if hit(x0) {
                return Some((t0, true));
            }
            if hit(b) && b != a {
                return Some((((level - a) / (b - a)).clamp(t0, 1.0), false));
            }
            None
        };
        // in the book's order, so ties go to the earlier position
        for (k, p) in self.hot_positions(i) {
            let sl = &self.slots[self.slot_of[p.sym]];
            let (a, b) = (sl.last[seg], sl.last[seg + 1]);
            let long = p.s > 0.0;
            if let Some(st) = p.stop
                && let Some((t, already)) = cross(a, b, st, long)
            {
                let px = if already { a + (b - a) * t } else { st };
                consider(t, Ev::Stop(k, px));
            }
            if let Some(&(tp, _)) = p.targets.get(p.next_target)
                && let Some((t, already)) = cross(a, b, tp, !long)
            {
                // a resting limit: a gap through it fills at the (better) price of that moment
                let px = if already { a + (b - a) * t } else { tp };
                consider(t, Ev::Target(k, px));
            }
            if liq && p.lp.is_finite() {
                let (ma, mb) = (sl.mark[seg], sl.mark[seg + 1]);
                if let Some((t, already)) = cross(ma, mb, p.lp, long) {
                    let px = if already { ma + (mb - ma) * t } else { p.lp };
                    consider(t, Ev::IsoLiq(k, px));
                }
            }
        }
        for (k, p) in self.pending.iter().enumerate() {
            let sl = &self.slots[self.slot_of[p.sym]];
            let (a, b) = (sl.last[seg], sl.last[seg + 1]);
            let x0 = a + (b - a) * t0;
            if x0 >= p.lo && x0 <= p.hi {
                consider(t0, Ev::Fill(k, x0));
            } else if x0 > p.hi && b <= p.hi {
                consider(((p.hi - a) / (b - a)).clamp(t0, 1.0), Ev::Fill(k, p.hi));
            } else if x0 < p.lo && b >= p.lo {
                consider(((p.lo - a) / (b - a)).clamp(t0, 1.0), Ev::Fill(k, p.lo));
            }
        }
        if liq {
            let (mb0, mm0, n) = self.cross_f(seg, t0);
            if self.cross_watched(n) {
                if mb0 <= mm0 {
                    consider(t0, Ev::CrossLiq);
                } else {
                    let (mb1, mm1, _) = self.cross_f(seg, 1.0);
                    if mb1 <= mm1 {
                        // concave in t within a segment: one crossing; bisect to the first t with
                        // margin balance ≤ maintenance
                        let (mut lo, mut hi) = (t0, 1.0);
                        for _ in 0..80 {
                            let mid = 0.5 * (lo + hi);
                            let (mb, mm, _) = self.cross_f(seg, mid);
                            if mb <= mm {
                                hi = mid;
                            } else {
                                lo = mid;
                            }
                        }
                        consider(hi, Ev::CrossLiq);
                    }
                }
            }
        }
        best
    }

    pub(super) fn apply(&mut self, ev: Ev, seg: usize, t: f64, at: At) -> Result<(), SimError> {
        let slip = self.cfg.execution.slippage_bps / 1e4;
        match ev {
            Ev::Fill(k, px) => {
                let p = self.pending[k].clone();
                // a later level of a ladder adds to the position its first fill opened
                let opened = p.level.and_then(|_| self.position_of(p.sig));
                let r = match (p.level, opened) {
                    (Some(level), Some(pk)) => {
                        self.add_level(pk, px, level.share);
                        Ok(())
                    }
                    (level, _) => {
                        let fill = EntryFill {
                            px,
                            maker: true,
                            level,
                        };
                        self.open_signal(p.sig, p.sym, p.side, fill, at)
                    }
                };
                self.pending.remove(k);
                r?;
            }
            Ev::Target(k, tp) => {
                self.rewake(k);
                let p = &mut self.positions[k];
                let (_, q) = p.targets[p.next_target];
                p.next_target += 1;
                p.sync_tp();
                let n = p.next_target as u8;
                if n == 1 && self.policy.breakeven_after_first_target {
                    p.set_stop(Some(p.entry_f));
                }
                if n == 1 && p.trade.entry_levels > 1 {
                    // the first target cancels the ladder levels still waiting
                    let id = p.trade.signal_id.clone();
                    self.cancel_levels(&id);
                }
                let p = &mut self.positions[k];
                let q = q.min(p.qty);
                let fee = self.cfg.exchange.maker_fee * self.fee_mult;
                if q > Decimal::ZERO {
                    self.exit_leg(k, q, tp, ExitReason::Target(n), fee, at.time);
                }
            }
            Ev::Stop(k, px) => {
                self.rewake(k);
                let p = &mut self.positions[k];
                if let StopDiscipline::Widen(factor) = self.policy.stops
                    && !p.widened
                {
                    let st = p.stop.unwrap_or(px);
                    p.set_stop(Some(p.entry_f - p.s * factor * (p.entry_f - st).abs()));
                    p.widened = true;
                    return Ok(());
                }
                let fill = px * (1.0 - p.s * slip);
                let q = p.qty;
                let mode = p.mode;
                if mode == MarginMode::Isolated && self.beyond_bankruptcy(&self.positions[k], fill)
                {
                    self.liquidate_isolated(k, fill, at.time);
                    return Ok(());
                }
                let fee = self.cfg.exchange.taker_fee * self.fee_mult;
                if mode == MarginMode::Cross && self.cross_fill_bankrupts(k, fill, fee, seg, t) {
                    let sym = self.positions[k].sym;
                    self.liquidate_cross_at(seg, t, Some((sym, fill)), at);
                    return Ok(());
                }
                self.exit_leg(k, q, fill, ExitReason::Stop, fee, at.time);
            }
            Ev::IsoLiq(k, px) => {
                if let Some(cap) = self.policy.auto_add_margin_cap {
                    let p = &self.positions[k];
                    let room = (cap - p.trade.margin_added).min(p.im).min(self.wallet);
                    if room > Decimal::ZERO {
                        let p = &mut self.positions[k];
                        p.iso_margin += room;
                        p.trade.margin_added += room;
                        self.wallet -= room;
                        self.refresh_pos(k, Lp::Exact);
                        return Ok(());
                    }
                }
                self.liquidate_isolated(k, px, at.time);
            }
            Ev::CrossLiq => self.liquidate_cross(seg, t, at),
        }
        Ok(())
    }
}

pub(super) fn price_at(v: &[f64; 4], seg: usize, t: f64) -> f64 {
    v[seg] + (v[seg + 1] - v[seg]) * t
}
