//! Numbers the page derives from the runs: money by cause, liquidations counted one way in every
//! margin mode, drawdown in money, and the per-account verdict ranked by money.
//!
//! Everything here is plain arithmetic over [`RunResult`]; nothing is drawn.

use ringfence_model::{ExitReason, LiquidationEvent, MarginMode, RunResult, TimestampMs};
use rust_decimal::Decimal;
use std::fmt::Write as _;

/// Liquidations counted the same way in isolated and cross: every position a liquidation closed,
/// and the liquidation events that closed them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiqCount {
    /// Positions closed by a liquidation (culprits and cascade victims alike).
    pub positions: u64,
    /// Liquidation events (an isolated liquidation closes one position; a cross one may close many).
    pub events: u64,
}

impl LiqCount {
    /// Counts the liquidations of one run.
    pub fn of(run: &RunResult) -> Self {
        LiqCount {
            positions: run
                .liquidations
                .iter()
                .map(|e| e.positions.len() as u64)
                .sum(),
            events: run.liquidations.len() as u64,
        }
    }

    /// `5 positions in 1 event` / `none`.
    pub fn words(self) -> String {
        if self.events == 0 {
            return "no liquidation".into();
        }
        format!(
            "{} position{} liquidated in {} event{}",
            self.positions,
            plural(self.positions),
            self.events,
            plural(self.events)
        )
    }
}

impl std::ops::Add for LiqCount {
    type Output = LiqCount;

    fn add(self, o: LiqCount) -> LiqCount {
        LiqCount {
            positions: self.positions + o.positions,
            events: self.events + o.events,
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Where the money went in one run (USDT; positive = gained, negative = lost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoneyByCause {
    /// PnL of exits at a stop.
    pub stop: Decimal,
    /// PnL of exits at a take-profit target.
    pub target: Decimal,
    /// PnL of positions closed by their own liquidation (isolated, or the cross culprits).
    pub liquidation: Decimal,
    /// PnL of healthy cross positions closed by another position's liquidation.
    pub cascade_victim: Decimal,
    /// PnL of closes the channel called, ADL and positions still open at the end of the data.
    pub other_exits: Decimal,
    /// Net funding (received − paid).
    pub funding: Decimal,
    /// Trading fees (entries and exits), as a negative amount.
    pub trading_fees: Decimal,
    /// Liquidation clearance fees, as a negative amount.
    pub clearance_fees: Decimal,
    /// Insurance-fund cover of losses beyond zero equity (positive: the trader did not pay it).
    pub insurance_cover: Decimal,
    /// Change in equity not explained by the trades: revaluation of non-USDT collateral (e.g. BTC
    /// held as margin) between the first and last bar, or until a liquidation sold it to repay
    /// a negative USDT wallet (then with the haircut share lost in that sale).
    pub collateral_revaluation: Decimal,
}

/// The causes in display order, with their labels.
pub const CAUSES: [&str; 10] = [
    "stop",
    "target",
    "liquidation",
    "cascade victim",
    "other exits",
    "funding",
    "trading fees",
    "clearance fees",
    "insurance cover",
    "collateral revaluation",
];

impl MoneyByCause {
    /// The breakdown of one run. The collateral revaluation is what is left of the equity change
    /// once every trade's result and the insurance cover are accounted for (the ledger conserves
    /// money exactly, so for a USDT-only account it is zero up to rounding).
    pub fn of(run: &RunResult) -> Self {
        let mut m = MoneyByCause::default();
        for t in &run.trades {
            for x in &t.exits {
                let slot = match x.reason {
                    ExitReason::Stop => &mut m.stop,
                    ExitReason::Target(_) => &mut m.target,
                    ExitReason::Liquidation => &mut m.liquidation,
                    ExitReason::Cascade => &mut m.cascade_victim,
                    ExitReason::SignalClose | ExitReason::EndOfData | ExitReason::Adl => {
                        &mut m.other_exits
                    }
                };
                *slot += x.pnl;
            }
            m.funding += t.funding;
            m.trading_fees -= t.fees;
            m.clearance_fees -= t.clearance_fee;
        }
        m.insurance_cover = run.summary.insurance_shortfall;
        let explained = m.trading_total() + m.insurance_cover;
        m.collateral_revaluation = run.summary.final_equity - run.summary.start_equity - explained;
        m
    }

    /// Everything but the collateral revaluation: the trading result.
    pub fn trading_total(&self) -> Decimal {
        self.stop
            + self.target
            + self.liquidation
            + self.cascade_victim
            + self.other_exits
            + self.funding
            + self.trading_fees
            + self.clearance_fees
    }

    /// The values in [`CAUSES`] order.
    pub fn values(&self) -> [Decimal; 10] {
        [
            self.stop,
            self.target,
            self.liquidation,
            self.cascade_victim,
            self.other_exits,
            self.funding,
            self.trading_fees,
            self.clearance_fees,
            self.insurance_cover,
            self.collateral_revaluation,
        ]
    }
}

impl std::ops::Add for MoneyByCause {
    type Output = MoneyByCause;

    fn add(self, o: MoneyByCause) -> MoneyByCause {
        MoneyByCause {
            stop: self.stop + o.stop,
            target: self.target + o.target,
            liquidation: self.liquidation + o.liquidation,
            cascade_victim: self.cascade_victim + o.cascade_victim,
            other_exits: self.other_exits + o.other_exits,
            funding: self.funding + o.funding,
            trading_fees: self.trading_fees + o.trading_fees,
            clearance_fees: self.clearance_fees + o.clearance_fees,
            insurance_cover: self.insurance_cover + o.insurance_cover,
            collateral_revaluation: self.collateral_revaluation + o.collateral_revaluation,
        }
    }
}

/// The largest fall of equity below its running peak, in money (USDT).
pub fn max_drawdown_money(run: &RunResult) -> f64 {
    let mut peak = f64::NEG_INFINITY;
    let mut worst = 0.0f64;
    for p in &run.equity {
        peak = peak.max(p.equity);
        worst = worst.max(peak - p.equity);
    }
    worst
}

/// Money one liquidation event cost: the losses of the positions it closed (their unrealised PnL
/// at the trigger, negated; a victim's gain reduces it) plus the clearance fee.
pub fn event_loss(ev: &LiquidationEvent) -> Decimal {
    -ev.positions.iter().map(|p| p.upnl).sum::<Decimal>() + ev.clearance_fee
}

/// A run's standing for the ranking by money.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing<'a> {
    /// The run.
    pub run: &'a RunResult,
    /// Final equity (USDT).
    pub final_equity: f64,
    /// Largest drawdown in money (USDT).
    pub drawdown: f64,
    /// Times the account was wiped out.
    pub wipeouts: u32,
}

impl<'a> Standing<'a> {
    /// The standing of one run.
    pub fn of(run: &'a RunResult) -> Self {
        Standing {
            run,
            final_equity: dec_f64(run.summary.final_equity),
            drawdown: max_drawdown_money(run),
            wipeouts: run.summary.wipeouts,
        }
    }

    /// The order of [`rank_by_money`], best first: fewer wipeouts, then higher final equity, then
    /// smaller drawdown in money, then run name (total).
    pub fn money_order(&self, other: &Standing<'_>) -> std::cmp::Ordering {
        self.wipeouts
            .cmp(&other.wipeouts)
            .then(other.final_equity.total_cmp(&self.final_equity))
            .then(self.drawdown.total_cmp(&other.drawdown))
            .then(self.run.run.cmp(&other.run.run))
    }
}

/// Ranks runs by money, best first: fewer wipeouts, then higher final equity, then smaller
/// drawdown in money, then run name (so the order is total and stable).
pub fn rank_by_money<'a>(runs: impl IntoIterator<Item = &'a RunResult>) -> Vec<Standing<'a>> {
    let mut v: Vec<Standing<'a>> = runs.into_iter().map(Standing::of).collect();
    v.sort_by(Standing::money_order);
    v
}

/// A ledger amount as `f64` (for sorting and charts only).
pub fn dec_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

/// The first time the run's equity reached zero, from its liquidation events.
pub fn wipeout_time(run: &RunResult) -> Option<TimestampMs> {
    run.liquidations.iter().find(|e| e.wipeout).map(|e| e.time)
}

/// What happened to one run, in words (without the policy name): the wipeout and the cascade
/// that caused it with its culprits, or the loss and how the liquidations were contained.
pub fn fate_in_words(run: &RunResult, money: impl Fn(f64) -> String) -> String {
    let s = &run.summary;
    let count = LiqCount::of(run);
    let mut out = String::new();
    if let Some(t) = wipeout_time(run) {
        let _ = write!(out, "wiped out {}", short_iso(t));
        if let Some(ev) = run.liquidations.iter().find(|e| e.wipeout) {
            let culprits: Vec<String> = ev
                .positions
                .iter()
                .filter(|p| p.culprit)
                .map(|p| position_words(run, &p.signal_id, p.symbol.as_str(), p.side))
                .collect();
            let what = if ev.mode == MarginMode::Cross && ev.positions.len() >= 2 {
                format!(" — one cascade closed {} positions", ev.positions.len())
            } else {
                format!(
                    " — a {} liquidation closed {} position{}",
                    ev.mode,
                    ev.positions.len(),
                    plural(ev.positions.len() as u64)
                )
            };
            out.push_str(&what);
            if !culprits.is_empty() {
                let _ = write!(out, ", started by {}", join_words(&culprits));
            }
            // the hedge auto-deleveraging took before the book went (the cause a reader needs)
            if let Some(why) = &ev.after_adl {
                let _ = write!(out, ", after ADL: {why}");
            }
        }
        let _ = write!(
            out,
            "; final equity {} ({:+.0} %)",
            money(dec_f64(s.final_equity)),
            s.return_pct
        );
        if count.events > 1 {
            let _ = write!(out, "; {} in all", count.words());
        }
        return out;
    }
    let _ = write!(
        out,
        "{:+.0} % (final equity {}, max drawdown {})",
        s.return_pct,
        money(dec_f64(s.final_equity)),
        money(max_drawdown_money(run))
    );
    if count.events == 0 {
        out.push_str(", no liquidation");
        return out;
    }
    let _ = write!(out, ", {}", count.words());
    let isolated_only = run
        .liquidations
        .iter()
        .all(|e| e.mode == MarginMode::Isolated);
    if isolated_only && count.positions == 1 {
        out.push_str(", which lost only its own margin");
    } else if isolated_only {
        out.push_str(", each lost only its own margin");
    } else {
        let victims: u64 = u64::from(s.cascade_victims);
        if victims > 0 {
            let _ = write!(
                out,
                ", {victims} healthy position{} lost to another's loss",
                plural(victims)
            );
        }
    }
    out
}

/// `10× XRPUSDT long` (leverage from the run's trade for that call, when known).
fn position_words(
    run: &RunResult,
    signal_id: &str,
    symbol: &str,
    side: ringfence_model::Side,
) -> String {
    let lev = run
        .trades
        .iter()
        .find(|t| &*t.signal_id == signal_id && t.symbol.as_str() == symbol)
        .map(|t| format!("{}× ", t.leverage.normalize()))
        .unwrap_or_default();
    format!("the {lev}{symbol} {side}")
}

fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `2025-10-10 21:00` (UTC) for whole minutes.
pub fn short_iso(ts: TimestampMs) -> String {
    let s = ringfence_model::time::iso(ts);
    match s.strip_suffix(":00Z") {
        Some(head) if head.len() == 16 => head.replacen('T', " ", 1),
        _ => s,
    }
}
