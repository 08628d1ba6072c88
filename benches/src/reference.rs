//! A naive reference for isolated margin: `Decimal` everywhere, bar by bar, position by position,
//! written for clarity rather than speed. The harness checks that the engine produces the same
//! trades, then reports how much faster the engine is.
//!
//! Scope (what the synthetic workloads use): isolated margin only, market entries at the bar open,
//! fixed-margin sizing, leverage as called / fixed / capped (and never above the bracket maximum),
//! stops honoured (optionally moved to break-even after the first target), targets split equally
//! (the last takes the rest), funding settled against the isolated margin, liquidation on the mark
//! when the bar has a finite mark candle, the `adverse` intrabar path, no refinement, an account
//! large enough that no signal is refused for margin. The rules are the engine's (crate docs of
//! `ringfence-sim`), restated here in the plainest form.

use ringfence_model::{
    Action, Bracket, BracketBook, EntrySpec, Exit, ExitReason, MarginMode, Market, Side,
    SignalEvent, Trade,
};
use ringfence_sim::{
    EngineConfig, Intrabar, LeverageRule, ModeRule, Policy, Sizing, StopDiscipline,
};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;

/// Why the reference cannot run a workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The workload uses a feature outside the reference's scope.
    #[error("the naive reference does not support {0}")]
    Unsupported(String),
    /// A traded symbol has no bracket table.
    #[error("no bracket table for {0}")]
    NoBrackets(String),
}

fn d(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or(Decimal::ZERO)
}

fn money(x: Decimal) -> Decimal {
    x.round_dp(10)
}

fn to_f(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// One open position of the reference.
struct RefPos {
    sym: usize,
    sign: Decimal,
    long: bool,
    qty: Decimal,
    entry: Decimal,
    margin: Decimal,
    stop: Option<Decimal>,
    targets: Vec<(Decimal, Decimal)>,
    next_target: usize,
    lp: Option<Decimal>,
    tiers: Vec<Bracket>,
    funding_next: usize,
    trade: Trade,
}

impl RefPos {
    /// `LP = (margin + cum − side·qty·entry) / (qty·mmr − side·qty)` with the bracket at LP.
    fn update_lp(&mut self) {
        self.lp = None;
        let last = self.tiers.len().saturating_sub(1);
        for (k, b) in self.tiers.iter().enumerate() {
            let denom = self.qty * b.mmr - self.sign * self.qty;
            if denom.is_zero() {
                continue;
            }
            let lp = (self.margin + b.cum - self.sign * self.qty * self.entry) / denom;
            let notional = self.qty * lp;
            if lp > Decimal::ZERO && notional >= b.floor && (notional < b.cap || k == last) {
                self.lp = Some(lp);
                return;
            }
        }
    }

    fn pnl_at(&self, qty: Decimal, price: Decimal) -> Decimal {
        money(self.sign * qty * (price - self.entry))
    }
}

/// What happens next on a path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    // the order at equal times: liquidation, stop, target
    Liquidation,
    Stop,
    Target,
}

/// Where a linear move `a → b`, already at parameter `t0`, first reaches `level` from the side
/// given by `down` (true: at or below the level). Returns the parameter and the price there.
fn reach(
    a: Decimal,
    b: Decimal,
    t0: Decimal,
    level: Decimal,
    down: bool,
) -> Option<(Decimal, Decimal)> {
    let hit = |x: Decimal| if down { x <= level } else { x >= level };
    let x0 = a + (b - a) * t0;
    if hit(x0) {
        return Some((t0, x0));
    }
    if hit(b) && b != a {
        let t = ((level - a) / (b - a)).clamp(t0, Decimal::ONE);
        return Some((t, level));
    }
    None
}

/// Runs the reference over a workload and returns its trades sorted by signal id.
///
/// # Errors
/// [`ReferenceError`] when the workload is outside the reference's scope.
pub fn run_reference(
    market: &Market,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    policy: &Policy,
    cfg: &EngineConfig,
) -> Result<Vec<Trade>, ReferenceError> {
    if policy.mode != ModeRule::Isolated {
        return Err(ReferenceError::Unsupported(
            "margin modes other than isolated".into(),
        ));
    }
    let Sizing::FixedMargin(margin_per_trade) = policy.sizing else {
        return Err(ReferenceError::Unsupported(
            "sizing other than fixed margin".into(),
        ));
    };
    if cfg.intrabar != Intrabar::Adverse || (cfg.refine && market.lower.is_some()) {
        return Err(ReferenceError::Unsupported(
            "intrabar models other than adverse".into(),
        ));
    }
    if policy.stops != StopDiscipline::Honor
        || policy.auto_add_margin_cap.is_some()
        || policy.max_open.is_some()
        || !policy.target_weights.is_empty()
    {
        return Err(ReferenceError::Unsupported(
            "stop disciplines, auto-add, position limits or target weights".into(),
        ));
    }
    if signals
        .iter()
        .any(|s| s.action != Action::Open || s.entry != EntrySpec::Market)
    {
        return Err(ReferenceError::Unsupported(
            "events other than market opens".into(),
        ));
    }
    let taker = cfg.exchange.taker_fee;
    let maker = cfg.exchange.maker_fee;
    let slip = d(cfg.execution.slippage_bps) / Decimal::from(10_000);
    let delay = cfg.execution.entry_delay_ms;

    let mut order: Vec<usize> = (0..signals.len()).collect();
    order.sort_by_key(|&k| signals[k].time.saturating_add(delay));
    let mut next_signal = 0;

    let mut open: BTreeMap<usize, RefPos> = BTreeMap::new();
    let mut done: Vec<Trade> = Vec::new();

    for i in 0..market.len() {
        let now = market.times[i];

        // 1. funding for positions held before this open
        for p in open.values_mut() {
            let s = &market.series[p.sym];
            let mut changed = false;
            while p.funding_next < s.funding.times.len()
                && s.funding.times[p.funding_next] - 1_000 <= now
            {
                let rate = s.funding.rates[p.funding_next];
                p.funding_next += 1;
                let mark = s
                    .mark
                    .as_ref()
                    .map(|m| m.open[i])
                    .filter(|x| x.is_finite())
                    .unwrap_or(s.open[i]);
                let received = money(-(p.sign * p.qty * d(mark) * d(rate)));
                p.trade.funding += received;
                p.margin += received;
                changed = true;
            }
            if changed {
                p.update_lp();
            }
        }

        // 2. calls due at this open
        while next_signal < order.len()
            && signals[order[next_signal]].time.saturating_add(delay) <= now
        {
            let sig = &signals[order[next_signal]];
            next_signal += 1;
            let Some(sym) = sig.symbol.as_ref().and_then(|s| market.symbol_index(s)) else {
                continue;
            };
            let series = &market.series[sym];
            if !series.has_bar(i) || open.contains_key(&sym) {
                continue; // skipped: no data, or one-way mode
            }
            let side = sig.side.unwrap_or(Side::Long);
            let sign = side.sign_dec();
            let entry = d(series.open[i]) * (Decimal::ONE + sign * slip);
            let stop = sig.stop.map(d);
            if let Some(st) = stop
                && sign * (entry - st) <= Decimal::ZERO
            {
                continue; // already beyond the stop
            }
            let tiers = brackets
                .table(&series.symbol, now)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ReferenceError::NoBrackets(series.symbol.to_string()))?
                .to_vec();
            let mut lev = match policy.leverage {
                LeverageRule::AsCalled { default } => sig.leverage.unwrap_or(default),
                LeverageRule::Fixed(x) => x,
                LeverageRule::Capped(x) => sig.leverage.map_or(x, |c| c.min(x)),
            };
            if !(lev.is_finite() && lev >= 1.0) {
                lev = 1.0;
            }
            let mut leverage = d(lev);
            let mut notional = margin_per_trade * leverage;
            loop {
                let k = tiers
                    .partition_point(|b| b.cap <= notional)
                    .min(tiers.len() - 1);
                if leverage <= tiers[k].max_leverage {
                    break;
                }
                leverage = tiers[k].max_leverage;
                notional = margin_per_trade * leverage;
            }
            let qty = (notional / entry).round_dp_with_strategy(8, RoundingStrategy::ToZero);
            if qty <= Decimal::ZERO {
                continue;
            }
            let im = money(qty * entry / leverage);
            let fee = money(qty * entry * taker);
            let n = sig.targets.len();
            let mut left = qty;
            let mut targets = Vec::new();
            for (j, &tp) in sig.targets.iter().enumerate() {
                let q = if j + 1 == n {
                    left
                } else {
                    (qty * d(1.0 / n as f64))
                        .round_dp_with_strategy(8, RoundingStrategy::ToZero)
                        .min(left)
                };
                left -= q;
                targets.push((d(tp), q));
            }
            let funding = &series.funding.times;
            let mut p = RefPos {
                sym,
                sign,
                long: side == Side::Long,
                qty,
                entry,
                margin: im,
                stop,
                targets,
                next_target: 0,
                lp: None,
                tiers,
                funding_next: funding.partition_point(|&t| t - 1_000 <= now),
                trade: Trade {
                    signal_id: sig.id.clone(),
                    symbol: series.symbol.clone(),
                    side,
                    mode: MarginMode::Isolated,
                    background: false,
                    open_time: now,
                    entry_price: to_f(entry),
                    qty,
                    leverage,
                    margin: im,
                    margin_added: Decimal::ZERO,
                    liq_price_at_entry: None,
                    close_time: now,
                    exit_price: f64::NAN,
                    exit_reason: ExitReason::EndOfData,
                    pnl: Decimal::ZERO,
                    fees: fee,
                    clearance_fee: Decimal::ZERO,
                    funding: Decimal::ZERO,
                    exits: Vec::new(),
                    entry_levels: 1,
                    levels_filled: 1,
                },
            };
            p.update_lp();
            p.trade.liq_price_at_entry = p.lp.map(to_f);
            open.insert(sym, p);
        }

        // 3. the bar's adverse path, one position at a time
        let syms: Vec<usize> = open.keys().copied().collect();
        for sym in syms {
            let s = &market.series[sym];
            let Some(mut p) = open.remove(&sym) else {
                continue;
            };
            let (o, h, l, c) = (s.open[i], s.high[i], s.low[i], s.close[i]);
            let (mo, mh, ml, mc) = match &s.mark {
                Some(m)
                    if [m.open[i], m.high[i], m.low[i], m.close[i]]
                        .iter()
                        .all(|x| x.is_finite()) =>
                {
                    (m.open[i], m.high[i], m.low[i], m.close[i])
                }
                _ => (o, h, l, c),
            };
            let (last, mark) = if p.long {
                ([o, l, h, c], [mo, ml, mh, mc])
            } else {
                ([o, h, l, c], [mo, mh, ml, mc])
            };
            let last = last.map(d);
            let mark = mark.map(d);
            let mut closed = false;
            'path: for seg in 0..3 {
                let mut t = Decimal::ZERO;
                loop {
                    let mut next: Option<(Decimal, Kind, Decimal)> = None;
                    let mut consider = |hit: Option<(Decimal, Decimal)>, kind: Kind| {
                        if let Some((te, px)) = hit
                            && next.is_none_or(|(bt, bk, _)| (te, kind) < (bt, bk))
                        {
                            next = Some((te, kind, px));
                        }
                    };
                    let (a, b) = (last[seg], last[seg + 1]);
                    if let Some(st) = p.stop {
                        consider(reach(a, b, t, st, p.long), Kind::Stop);
                    }
                    if let Some(&(tp, _)) = p.targets.get(p.next_target) {
                        consider(reach(a, b, t, tp, !p.long), Kind::Target);
                    }
                    if let Some(lp) = p.lp {
                        consider(
                            reach(mark[seg], mark[seg + 1], t, lp, p.long),
                            Kind::Liquidation,
                        );
                    }
                    let Some((te, kind, px)) = next else { break };
                    t = te;
                    match kind {
                        Kind::Liquidation => {
                            liquidate(&mut p, px, now);
                            closed = true;
                        }
                        Kind::Stop => {
                            let fill = px * (Decimal::ONE - p.sign * slip);
                            if p.margin + p.pnl_at(p.qty, fill) < Decimal::ZERO {
                                liquidate(&mut p, fill, now);
                            } else {
                                let q = p.qty;
                                exit_leg(&mut p, q, fill, ExitReason::Stop, taker, now);
                            }
                            closed = true;
                        }
                        Kind::Target => {
                            let (_, q) = p.targets[p.next_target];
                            p.next_target += 1;
                            if p.next_target == 1 && policy.breakeven_after_first_target {
                                p.stop = Some(p.entry);
                            }
                            let q = q.min(p.qty);
                            if q > Decimal::ZERO {
                                let n = p.next_target as u8;
                                exit_leg(&mut p, q, px, ExitReason::Target(n), maker, now);
                            }
                            closed = p.qty.is_zero();
                        }
                    }
                    if closed {
                        break 'path;
                    }
                }
            }
            if closed {
                done.push(finish(p.trade));
            } else {
                open.insert(sym, p);
            }
        }
    }

    // 4. what is still open closes at the last close, without a fee
    let last_bar = market.len().saturating_sub(1);
    for (_, mut p) in std::mem::take(&mut open) {
        let s = &market.series[p.sym];
        let px = d(s.close[s.end.saturating_sub(1).max(s.first)]);
        let t = market.times[last_bar];
        if p.margin + p.pnl_at(p.qty, px) < Decimal::ZERO {
            liquidate(&mut p, px, t);
        } else {
            let q = p.qty;
            exit_leg(&mut p, q, px, ExitReason::EndOfData, Decimal::ZERO, t);
        }
        done.push(finish(p.trade));
    }
    done.sort_by(|a, b| a.signal_id.cmp(&b.signal_id));
    Ok(done)
}

/// One exit leg at `px`; releases isolated margin in proportion to the quantity closed.
fn exit_leg(p: &mut RefPos, q: Decimal, px: Decimal, reason: ExitReason, rate: Decimal, t: i64) {
    let pnl = p.pnl_at(q, px);
    let fee = money(q * px * rate);
    p.trade.exits.push(Exit {
        time: t,
        price: to_f(px),
        qty: q,
        reason,
        pnl,
        fee,
    });
    p.trade.pnl += pnl;
    p.trade.fees += fee;
    p.qty -= q;
    if p.qty.is_zero() {
        p.margin = Decimal::ZERO;
    } else {
        let release = money(p.margin * q / (p.qty + q));
        p.margin -= release;
        p.update_lp();
    }
}

/// Liquidation at `px`: the whole isolated margin is lost (what remains is the clearance fee).
fn liquidate(p: &mut RefPos, px: Decimal, t: i64) {
    let pnl = p.pnl_at(p.qty, px);
    let remaining = p.margin + pnl;
    p.trade.exits.push(Exit {
        time: t,
        price: to_f(px),
        qty: p.qty,
        reason: ExitReason::Liquidation,
        pnl,
        fee: Decimal::ZERO,
    });
    p.trade.pnl += pnl;
    p.trade.clearance_fee += remaining.max(Decimal::ZERO);
    p.qty = Decimal::ZERO;
    p.margin = Decimal::ZERO;
}

fn finish(mut t: Trade) -> Trade {
    let qty: Decimal = t.exits.iter().map(|e| e.qty).sum();
    let value: Decimal = t.exits.iter().map(|e| e.qty * d(e.price)).sum();
    if let Some(last) = t.exits.last() {
        t.close_time = last.time;
        t.exit_reason = last.reason;
    }
    t.exit_price = if qty.is_zero() {
        f64::NAN
    } else {
        to_f(value / qty)
    };
    t
}

/// Compares two trade lists (any order) field by field: ids, times, reasons, quantities exactly;
/// prices to a relative 1e-9 and money to 1e-6 USDT (the engine computes path prices in `f64`,
/// the reference in `Decimal`). Returns the first difference found.
pub fn compare_trades(engine: &[Trade], reference: &[Trade]) -> Result<(), String> {
    let mut a: Vec<&Trade> = engine.iter().filter(|t| !t.background).collect();
    let mut b: Vec<&Trade> = reference.iter().collect();
    a.sort_by(|x, y| x.signal_id.cmp(&y.signal_id));
    b.sort_by(|x, y| x.signal_id.cmp(&y.signal_id));
    if a.len() != b.len() {
        let ids = |v: &[&Trade]| v.iter().map(|t| t.signal_id.clone()).collect::<Vec<_>>();
        let (ia, ib) = (ids(&a), ids(&b));
        let only_a: Vec<_> = ia.iter().filter(|x| !ib.contains(x)).take(5).collect();
        let only_b: Vec<_> = ib.iter().filter(|x| !ia.contains(x)).take(5).collect();
        return Err(format!(
            "engine has {} trades, reference {}; only in engine {only_a:?}, only in reference {only_b:?}",
            a.len(),
            b.len()
        ));
    }
    let price_eq = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) || x == y;
    let money_eq = |x: Decimal, y: Decimal| (x - y).abs() <= Decimal::new(1, 6);
    for (x, y) in a.iter().zip(&b) {
        let id = &x.signal_id;
        let same = x.signal_id == y.signal_id
            && x.symbol == y.symbol
            && x.side == y.side
            && x.open_time == y.open_time
            && x.close_time == y.close_time
            && x.exit_reason == y.exit_reason
            && x.qty == y.qty
            && price_eq(x.entry_price, y.entry_price)
            && (price_eq(x.exit_price, y.exit_price)
                || (x.exit_price.is_nan() && y.exit_price.is_nan()))
            && money_eq(x.margin, y.margin)
            && money_eq(x.pnl, y.pnl)
            && money_eq(x.fees, y.fees)
            && money_eq(x.funding, y.funding)
            && money_eq(x.clearance_fee, y.clearance_fee)
            && x.exits.len() == y.exits.len();
        if !same {
            return Err(format!(
                "trade {id} differs:\n engine    {x:?}\n reference {y:?}"
            ));
        }
        for (e, r) in x.exits.iter().zip(&y.exits) {
            if e.time != r.time
                || e.reason != r.reason
                || e.qty != r.qty
                || !price_eq(e.price, r.price)
                || !money_eq(e.pnl, r.pnl)
                || !money_eq(e.fee, r.fee)
            {
                return Err(format!(
                    "trade {id}: exit differs:\n engine    {e:?}\n reference {r:?}"
                ));
            }
        }
    }
    Ok(())
}
