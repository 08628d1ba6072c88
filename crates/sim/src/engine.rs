//! The event loop of one run (one account × one policy). See the crate docs for the assumptions.

use crate::config::{
    Account, EngineConfig, Intrabar, LeverageRule, MaintenanceBasis, ModeRule, Policy, Sizing,
    StopDiscipline,
};
use crate::error::SimError;
use crate::margin::{TierF, isolated_liq_price, liq_price_entry_basis, mm_f64, tiers_f64};
use ringfence_model::time::iso;
use ringfence_model::{
    Action, Bracket, BracketBook, EntrySpec, EquityPoint, Exit, ExitReason, LiquidatedPosition,
    LiquidationEvent, MarginMode, Market, RunResult, RunSummary, Side, SignalEvent, SkippedSignal,
    Symbol, SymbolSeries, TimestampMs, Trade,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

/// Funding settlements whose timestamp is at most this much after a bar open are settled at that
/// open (exchange timestamps carry a few ms of jitter).
const FUNDING_JITTER_MS: TimestampMs = 1_000;
/// Quantities are rounded down to this many decimals (no exchange lot sizes are modelled).
const QTY_DP: u32 = 8;
/// Guard against a pathological event loop inside one bar.
const MAX_EVENTS_PER_PATH: usize = 100_000;

/// `f64` → `Decimal` by the shortest representation (prices from market data).
pub(crate) fn dec(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or(Decimal::ZERO)
}

/// Ledger amounts are kept to 10 decimals so that sums stay exact within `Decimal`'s 28 digits.
pub(crate) fn money(x: Decimal) -> Decimal {
    x.round_dp(10)
}

fn f(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// A non-USDT collateral asset.
#[derive(Debug, Clone)]
struct Collateral {
    amount: Decimal,
    amount_f: f64,
    haircut: f64,
    /// Market symbol index pricing it; `None` for a stablecoin counted at 1.
    sym: Option<usize>,
}

/// One open position: `f64` thresholds for the hot path, `Decimal` ledger, the trade record.
#[derive(Debug, Clone)]
struct Pos {
    sym: usize,
    side: Side,
    s: f64,
    mode: MarginMode,
    qty: Decimal,
    qty_f: f64,
    entry: Decimal,
    entry_f: f64,
    im: Decimal,
    iso_margin: Decimal,
    /// `iso_margin` as `f64` (kept in step by [`Sim::refresh_thresholds`]), for per-bar equity.
    iso_f: f64,
    /// Isolated liquidation threshold on the mark (`NaN` when none).
    lp: f64,
    stop: Option<f64>,
    widened: bool,
    /// Remaining targets: price and quantity.
    targets: Vec<(f64, Decimal)>,
    next_target: usize,
    table: usize,
    /// Whether the current bar's range reaches one of this position's thresholds (set per bar by
    /// [`Sim::may_touch`]; true for a position opened inside the bar). Only such positions are
    /// walked along the path.
    hot: bool,
    /// Scan cache of [`Sim::may_touch`]: no bar in `scan_from..scan_until` can reach the
    /// thresholds in `scan_key` (every bar of it exists for the symbol).
    scan_from: usize,
    scan_until: usize,
    scan_key: ScanKey,
    trade: Trade,
    funding_next: usize,
    /// Bar open time from which the settlement `funding_next` is due (`MAX`: none left), so that
    /// the per-bar check reads the position only.
    funding_due: TimestampMs,
    /// The end of the symbol's data (`SymbolSeries::end`).
    sym_end: usize,
}

impl Pos {
    /// Appends an exit leg to the trade record and adds its PnL and fee to the trade's totals.
    fn record_exit(
        &mut self,
        time: TimestampMs,
        price: f64,
        qty: Decimal,
        reason: ExitReason,
        pnl: Decimal,
        fee: Decimal,
    ) {
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

    /// The thresholds [`Sim::may_touch`]'s scan cache is keyed on.
    fn key(&self) -> ScanKey {
        (
            self.stop.map(f64::to_bits),
            self.targets.get(self.next_target).map(|t| t.0.to_bits()),
            self.lp.to_bits(),
        )
    }

    /// True when the scan cache says bar `i` cannot reach this position's thresholds.
    fn scan_covers(&self, i: usize) -> bool {
        self.scan_from <= i && i < self.scan_until && self.key() == self.scan_key
    }
}

/// The thresholds a scan was made for (bit patterns: a change of any of them voids the scan).
type ScanKey = (Option<u64>, Option<u64>, u64);

/// Bars scanned ahead at once for one position by [`first_touch`].
const SCAN_AHEAD: usize = 4096;

/// A limit or zone entry waiting to fill.
#[derive(Debug, Clone)]
struct Pending {
    sig: usize,
    sym: usize,
    side: Side,
    lo: f64,
    hi: f64,
    stop: Option<f64>,
    expiry: TimestampMs,
}

/// Vertex prices of one symbol for one (sub-)bar, in path order.
#[derive(Debug, Clone, Copy)]
struct Slot {
    last: [f64; 4],
    mark: [f64; 4],
}

/// What the path found next.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ev {
    Fill(usize, f64),
    Target(usize, f64),
    Stop(usize, f64),
    IsoLiq(usize, f64),
    CrossLiq,
}

impl Ev {
    fn rank(self) -> u8 {
        match self {
            Ev::Fill(..) => 0,
            Ev::IsoLiq(..) => 1,
            Ev::CrossLiq => 2,
            Ev::Stop(..) => 3,
            Ev::Target(..) => 4,
        }
    }
}

/// What [`Sim::may_touch`] found for a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Touch {
    /// Nothing can trigger (or the path cannot be built): the bar is skipped.
    Skip,
    /// Something may trigger: build the path and walk it.
    Path,
}

/// Something due at a bar open: a channel event or a background position.
#[derive(Debug, Clone, Copy)]
enum Due {
    Signal(usize),
    Background(usize),
}

fn price_at(v: &[f64; 4], seg: usize, t: f64) -> f64 {
    v[seg] + (v[seg + 1] - v[seg]) * t
}

/// One run's state.
pub(crate) struct Sim<'a> {
    market: &'a Market,
    brackets: &'a BracketBook,
    signals: &'a [SignalEvent],
    account: &'a Account,
    policy: &'a Policy,
    cfg: &'a EngineConfig,
    model: Intrabar,
    fee_mult: Decimal,
    wallet: Decimal,
    start_usdt: Decimal,
    collateral: Vec<Collateral>,
    positions: Vec<Pos>,
    pending: Vec<Pending>,
    tables: Vec<(usize, TimestampMs, Vec<Bracket>, Vec<TierF>)>,
    /// Main symbol index → lower-market symbol index.
    lower_map: Vec<Option<usize>>,
    /// Per symbol: its path slot for the current (sub-)bar.
    slot_of: Vec<usize>,
    slots: Vec<Slot>,
    slot_syms: Vec<usize>,
    /// Scratch list of the symbols on the current path (kept to avoid an allocation per bar).
    involved: Vec<(usize, Side, bool)>,
    /// Per symbol: the last known close. Kept up to date only for symbols with an open position
    /// or collateral; a symbol is brought up to date by [`Sim::sync_close`] when a position opens.
    last_close: Vec<f64>,
    /// Per symbol: the last known liquidation price (mark close, else last close). Kept up to date
    /// only for symbols with a cross position or collateral (the only ones it is read for).
    last_mark: Vec<f64>,
    /// `last_close` before any refresh (the first open, `NaN` without bars).
    init_close: Vec<f64>,
    /// The bars at which the closes were refreshed, as increasing inclusive ranges.
    refreshed: Vec<(usize, usize)>,
    trades: Vec<Trade>,
    liquidations: Vec<LiquidationEvent>,
    equity: Vec<EquityPoint>,
    skipped: Vec<SkippedSignal>,
    peak: f64,
    /// Time of the (sub-)bar being processed.
    now: TimestampMs,
    /// Main bar index being processed.
    bar: usize,
    /// Scratch equity buffer of [`Sim::quiet_stretch`].
    equity_buf: Vec<f64>,
}

impl<'a> Sim<'a> {
    pub(crate) fn new(
        market: &'a Market,
        brackets: &'a BracketBook,
        signals: &'a [SignalEvent],
        account: &'a Account,
        policy: &'a Policy,
        cfg: &'a EngineConfig,
        model: Intrabar,
    ) -> Result<Self, SimError> {
        if market.is_empty() {
            return Err(SimError::EmptyMarket);
        }
        validate_policy(policy)?;
        let bad_account = |message: String| SimError::BadAccount {
            account: account.name.clone(),
            message,
        };
        let mut wallet = Decimal::ZERO;
        let mut collateral = Vec::new();
        for (asset, amount) in &account.collateral {
            if *amount < Decimal::ZERO {
                return Err(bad_account(format!(
                    "collateral {asset} is negative ({amount})"
                )));
            }
            let a = asset.trim().to_ascii_uppercase();
            if a == "USDT" {
                wallet += *amount;
                continue;
            }
            let sym = if matches!(a.as_str(), "USDC" | "BUSD" | "FDUSD") {
                None
            } else {
                let s = Symbol::parse(&format!("{a}USDT"))
                    .map_err(|e| bad_account(format!("collateral {asset}: {e}")))?;
                Some(market.symbol_index(&s).ok_or_else(|| {
                    bad_account(format!(
                        "collateral {asset} needs {s} market data to be valued"
                    ))
                })?)
            };
            collateral.push(Collateral {
                amount: *amount,
                amount_f: f(*amount),
                haircut: cfg.exchange.haircut(&a),
                sym,
            });
        }
        for (k, bg) in account.background.iter().enumerate() {
            if market.symbol_index(&bg.symbol).is_none() {
                return Err(bad_account(format!(
                    "background position {} names {}, which has no market data",
                    k + 1,
                    bg.symbol
                )));
            }
            if bg.qty <= Decimal::ZERO || bg.leverage < Decimal::ONE {
                return Err(bad_account(format!(
                    "background position {} needs qty > 0 and leverage >= 1 (qty {}, leverage {})",
                    k + 1,
                    bg.qty,
                    bg.leverage
                )));
            }
        }
        let lower_map = match market.lower.as_deref() {
            Some(lower) => market
                .series
                .iter()
                .map(|s| lower.symbol_index(&s.symbol))
                .collect(),
            None => vec![None; market.series.len()],
        };
        let last_close: Vec<f64> = market
            .series
            .iter()
            .map(|s| {
                if s.end > s.first {
                    s.open[s.first]
                } else {
                    f64::NAN
                }
            })
            .collect();
        Ok(Sim {
            market,
            brackets,
            signals,
            account,
            policy,
            cfg,
            model,
            fee_mult: account.fee_multiplier,
            wallet,
            start_usdt: wallet,
            collateral,
            positions: Vec::new(),
            pending: Vec::new(),
            tables: Vec::new(),
            lower_map,
            slot_of: vec![usize::MAX; market.series.len()],
            slots: Vec::new(),
            slot_syms: Vec::new(),
            involved: Vec::new(),
            last_mark: last_close.clone(),
            init_close: last_close.clone(),
            last_close,
            refreshed: Vec::new(),
            trades: Vec::new(),
            liquidations: Vec::new(),
            equity: Vec::new(),
            skipped: Vec::new(),
            peak: 0.0,
            now: market.times[0],
            bar: 0,
            equity_buf: Vec::new(),
        })
    }

    // ------------------------------------------------------------------ valuation

    fn collateral_value(&self, haircut: bool) -> f64 {
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
    fn equity_now(&self) -> f64 {
        let mut e = f(self.wallet) + self.collateral_value(false);
        for p in &self.positions {
            e += p.iso_f + p.s * p.qty_f * (self.last_close[p.sym] - p.entry_f);
        }
        e
    }

    fn mm_of(&self, p: &Pos, mark: f64) -> f64 {
        let tiers = &self.tables[p.table].3;
        match self.cfg.exchange.maintenance_basis {
            MaintenanceBasis::Mark => mm_f64(tiers, p.qty_f * mark),
            MaintenanceBasis::Entry => mm_f64(tiers, p.qty_f * p.entry_f),
        }
    }

    /// Cross margin balance and maintenance with prices given per symbol.
    fn cross_state(&self, mark: impl Fn(usize) -> f64) -> (f64, f64, usize) {
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

    fn slot_mark(&self, sym: usize, seg: usize, t: f64) -> f64 {
        match self.slot_of[sym] {
            usize::MAX => self.last_close[sym],
            s => price_at(&self.slots[s].mark, seg, t),
        }
    }

    fn cross_f(&self, seg: usize, t: f64) -> (f64, f64, usize) {
        self.cross_state(|k| self.slot_mark(k, seg, t))
    }

    // ------------------------------------------------------------------ brackets

    fn table_for(&mut self, sym: usize, t: TimestampMs) -> Result<usize, SimError> {
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

    fn recompute_lp(&self, p: &mut Pos) {
        Self::refresh_thresholds(&self.tables, self.cfg.exchange.maintenance_basis, p);
    }

    /// Recomputes a position's `f64` thresholds from its ledger (after a fill, funding, margin
    /// added or a partial exit): the isolated liquidation price and the `f64` copy of its margin.
    /// An associated function so that a position can be updated in place inside `positions`.
    fn refresh_thresholds(
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

    // ------------------------------------------------------------------ main loop

    pub(crate) fn run(mut self) -> Result<RunResult, SimError> {
        let market = self.market;
        let delay = self.cfg.execution.entry_delay_ms;
        let mut due: Vec<(TimestampMs, Due)> = self
            .signals
            .iter()
            .enumerate()
            .map(|(k, s)| (s.time.saturating_add(delay), Due::Signal(k)))
            .chain(
                self.account
                    .background
                    .iter()
                    .enumerate()
                    .map(|(k, b)| (b.open_time, Due::Background(k))),
            )
            .collect();
        due.sort_by_key(|&(t, d)| (t, matches!(d, Due::Signal(_))));
        // validate every open before running: unknown symbols are input errors
        for s in self.signals {
            if s.action == Action::Open {
                let sym = self.signal_symbol(s)?;
                if s.side.is_none() {
                    return Err(SimError::IncompleteSignal {
                        id: s.id.clone(),
                        source_file: s.source.clone(),
                        line: s.line,
                        missing: "side",
                    });
                }
                let _ = sym;
            }
        }
        let start_equity = f(self.wallet) + self.collateral_value(false);
        self.peak = start_equity;
        self.equity.push(EquityPoint {
            time: market.times[0],
            equity: start_equity,
            drawdown: 0.0,
            margin_ratio: 0.0,
            open_positions: 0,
            book_correlation: None,
            correlated_exposure: 0.0,
        });
        let n = market.len();
        let mut ptr = 0;
        let mut i = 0;
        while i < n {
            if self.positions.is_empty() && self.pending.is_empty() {
                let Some(&(t, _)) = due.get(ptr) else { break };
                let j = market.bar_at_or_after(t);
                if j > i {
                    // idle: bring the collateral prices forward before the jump
                    i = j;
                    if i >= n {
                        break;
                    }
                    self.refresh_closes(i - 1);
                }
            }
            self.bar = i;
            self.now = market.times[i];
            let had_open = !self.positions.is_empty();
            self.close_ended(i);
            self.settle_funding(i);
            // due events at this open, in time order
            while let Some(&(t, d)) = due.get(ptr) {
                if t > self.now {
                    break;
                }
                ptr += 1;
                match d {
                    Due::Signal(k) => self.on_signal(k, i)?,
                    Due::Background(k) => self.open_background(k, i)?,
                }
            }
            self.expire_pending(i);
            let active = had_open || !self.positions.is_empty();
            if !self.positions.is_empty() || !self.pending.is_empty() {
                self.process_bar(i)?;
            }
            self.refresh_closes(i);
            if active || !self.positions.is_empty() {
                self.mark_equity(self.now);
            }
            i += 1;
            if !self.positions.is_empty() && i < n {
                // jump over the bars where nothing can happen, recording only their equity
                let next_due = due
                    .get(ptr)
                    .map_or(n, |&(t, _)| market.bar_at_or_after(t).min(n));
                let end = self.quiet_until(i, next_due);
                if end > i {
                    self.quiet_stretch(i, end);
                    i = end;
                }
            }
        }
        // signals due after the data ends
        for &(_, d) in &due[ptr..] {
            if let Due::Signal(k) = d {
                let s = &self.signals[k];
                if s.action == Action::Open {
                    self.skip(k, "signal after the end of the market data".into());
                }
            }
        }
        self.finish();
        let liq = self.liquidations.len() as u32;
        Ok(self.into_result(start_equity, liq))
    }

    fn signal_symbol(&self, s: &SignalEvent) -> Result<usize, SimError> {
        let sym = s
            .symbol
            .as_ref()
            .ok_or_else(|| SimError::IncompleteSignal {
                id: s.id.clone(),
                source_file: s.source.clone(),
                line: s.line,
                missing: "symbol",
            })?;
        self.market
            .symbol_index(sym)
            .ok_or_else(|| SimError::NoMarketData {
                id: s.id.clone(),
                source_file: s.source.clone(),
                line: s.line,
                symbol: sym.clone(),
            })
    }

    /// The first bar at or after `i` (at most `next_due`, the bar of the next due signal or
    /// background open) at which the per-bar passes of [`Sim::run`] can do more than refresh the
    /// closes and record the equity point; `i` when that cannot be shown cheaply. It applies only to
    /// books of isolated positions without pending entries or collateral, every position inside a
    /// valid scan window of [`Sim::may_touch`] (which ends at the latest at the symbol's data end
    /// and at the position's next funding settlement): on every bar before the answer,
    /// `close_ended`, `settle_funding` and `expire_pending` do nothing, no event is due and
    /// `may_touch` answers [`Touch::Skip`] with every position cold.
    fn quiet_until(&self, i: usize, next_due: usize) -> usize {
        if !self.pending.is_empty() || !self.collateral.is_empty() {
            return i;
        }
        let mut end = next_due;
        for p in &self.positions {
            if p.mode != MarginMode::Isolated || !p.scan_covers(i) {
                return i;
            }
            end = end.min(p.scan_until).min(p.sym_end);
        }
        end
    }

    /// Bars `a..b` as [`Sim::run`] would process them when [`Sim::quiet_until`] says nothing can
    /// happen there: the closes refreshed and one equity point per bar. The equity is summed
    /// position-major into a per-bar buffer that starts from the wallet term, adding each position's
    /// term in position order, which is the floating-point order of [`Sim::equity_now`]; the peak,
    /// drawdown and (zero: no cross position) margin ratio then follow bar by bar as in
    /// [`Sim::mark_equity`].
    fn quiet_stretch(&mut self, a: usize, b: usize) {
        let series = &self.market.series;
        let times = &self.market.times;
        let base = f(self.wallet) + self.collateral_value(false);
        let mut buf = std::mem::take(&mut self.equity_buf);
        buf.clear();
        buf.resize(b - a, base);
        for p in &mut self.positions {
            p.hot = false;
            let close = &series[p.sym].close[a..b];
            let (iso, sq, entry) = (p.iso_f, p.s * p.qty_f, p.entry_f);
            for (e, &c) in buf.iter_mut().zip(close) {
                *e += iso + sq * (c - entry);
            }
            self.last_close[p.sym] = close[b - a - 1];
        }
        match self.refreshed.last_mut() {
            Some(r) if r.1 >= b - 1 => {}
            Some(r) if r.1 + 1 >= a => r.1 = b - 1,
            _ => self.refreshed.push((a, b - 1)),
        }
        let open = self.positions.len() as u32;
        self.equity.reserve(b - a);
        for (&e, &time) in buf.iter().zip(&times[a..b]) {
            if e > self.peak {
                self.peak = e;
            }
            let dd = if self.peak > 0.0 {
                ((self.peak - e) / self.peak).max(0.0)
            } else {
                0.0
            };
            self.equity.push(EquityPoint {
                time,
                equity: e,
                drawdown: dd,
                margin_ratio: 0.0,
                open_positions: open,
                book_correlation: None,
                correlated_exposure: 0.0,
            });
        }
        self.equity_buf = buf;
        self.bar = b - 1;
        self.now = times[b - 1];
    }

    /// The closes as of bar `i` for the symbols whose closes are read (open positions and
    /// collateral); the others are brought up to date on demand by [`Sim::sync_close`], which gives
    /// the same values as refreshing every symbol at every refresh.
    fn refresh_closes(&mut self, i: usize) {
        match self.refreshed.last_mut() {
            Some(r) if r.1 >= i => {}
            Some(r) if r.1 + 1 == i => r.1 = i,
            _ => self.refreshed.push((i, i)),
        }
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

    /// Sets symbol `k`'s last close and mark as if every refresh so far had updated it: the values
    /// of the latest refreshed bar where it has a bar, else its initial value.
    fn sync_close(&mut self, k: usize) {
        let s = &self.market.series[k];
        for &(a, b) in self.refreshed.iter().rev() {
            let hi = b.min(s.end.saturating_sub(1));
            if s.end > s.first && hi >= a.max(s.first) {
                self.last_close[k] = s.close[hi];
                self.last_mark[k] = s.liq_hlc(hi).2;
                return;
            }
        }
        self.last_close[k] = self.init_close[k];
        self.last_mark[k] = self.init_close[k];
    }

    fn skip(&mut self, sig: usize, reason: String) {
        let s = &self.signals[sig];
        self.skipped.push(SkippedSignal {
            signal_id: s.id.clone(),
            time: self.now,
            symbol: s.symbol.clone(),
            reason,
        });
    }

    /// Closes positions whose symbol's data ended before bar `i`.
    fn close_ended(&mut self, i: usize) {
        let mut k = 0;
        while k < self.positions.len() {
            if i < self.positions[k].sym_end {
                k += 1;
                continue;
            }
            let s = &self.market.series[self.positions[k].sym];
            if i >= s.end {
                let px = s.close[s.end - 1];
                let t = self.market.times[s.end - 1];
                let p = self.positions.remove(k);
                self.close_pos(p, px, t, ExitReason::EndOfData, Decimal::ZERO);
            } else {
                k += 1;
            }
        }
    }

    fn settle_funding(&mut self, i: usize) {
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

    fn expire_pending(&mut self, _i: usize) {
        let now = self.now;
        let mut k = 0;
        while k < self.pending.len() {
            if now >= self.pending[k].expiry {
                let p = self.pending.remove(k);
                self.skip(p.sig, "entry zone not reached before expiry".into());
            } else {
                k += 1;
            }
        }
    }

    // ------------------------------------------------------------------ signals

    fn on_signal(&mut self, k: usize, i: usize) -> Result<(), SimError> {
        let s = &self.signals[k];
        match s.action {
            Action::Open => self.on_open(k, i),
            Action::Close => {
                if let Some(pk) = self
                    .positions
                    .iter()
                    .position(|p| p.trade.signal_id == s.id)
                {
                    let p = self.positions.remove(pk);
                    let open = self.market.series[p.sym].open[i];
                    let px = open * (1.0 - p.s * self.cfg.execution.slippage_bps / 1e4);
                    let fee = self.cfg.exchange.taker_fee * self.fee_mult;
                    self.close_pos(p, px, self.now, ExitReason::SignalClose, fee);
                } else {
                    self.withdraw_pending(&s.id, "closed by the channel before the entry filled");
                }
                Ok(())
            }
            Action::Cancel => {
                self.withdraw_pending(&s.id, "entry cancelled by the channel before it filled");
                Ok(())
            }
            Action::MoveStop => {
                if self.policy.stops == StopDiscipline::Ignore {
                    return Ok(());
                }
                let new = s.stop;
                for p in self
                    .positions
                    .iter_mut()
                    .filter(|p| p.trade.signal_id == s.id)
                {
                    p.stop = new;
                    p.widened = false;
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

    fn on_open(&mut self, k: usize, i: usize) -> Result<(), SimError> {
        let s = &self.signals[k];
        let sym = self.signal_symbol(s)?;
        let side = s.side.unwrap_or(Side::Long);
        let series = &self.market.series[sym];
        if !series.has_bar(i) {
            self.skip(
                k,
                format!("no market data for {} at {}", series.symbol, iso(self.now)),
            );
            return Ok(());
        }
        if self.positions.iter().any(|p| p.sym == sym) || self.pending.iter().any(|p| p.sym == sym)
        {
            self.skip(
                k,
                format!(
                    "{} already open or pending (one-way mode: one position per symbol)",
                    series.symbol
                ),
            );
            return Ok(());
        }
        let open_count = self
            .positions
            .iter()
            .filter(|p| !p.trade.background)
            .count()
            + self.pending.len();
        if let Some(max) = self.policy.max_open
            && open_count >= max
        {
            self.skip(k, format!("max open positions reached ({max})"));
            return Ok(());
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
                    );
                    return Ok(());
                }
                self.open_signal(k, sym, side, px, false)?;
            }
            EntrySpec::Limit { price } => {
                let (lo, hi) = match side {
                    Side::Long => (f64::NEG_INFINITY, price),
                    Side::Short => (price, f64::INFINITY),
                };
                self.add_pending(k, sym, side, lo, hi, stop);
            }
            EntrySpec::Zone { low, high } => self.add_pending(k, sym, side, low, high, stop),
        }
        Ok(())
    }

    fn add_pending(
        &mut self,
        sig: usize,
        sym: usize,
        side: Side,
        lo: f64,
        hi: f64,
        stop: Option<f64>,
    ) {
        let expiry = self
            .cfg
            .execution
            .zone_expiry_ms
            .map_or(TimestampMs::MAX, |e| self.now.saturating_add(e));
        self.pending.push(Pending {
            sig,
            sym,
            side,
            lo,
            hi,
            stop,
            expiry,
        });
    }

    /// Equity for sizing: at the last known closes.
    fn sizing_equity(&self) -> f64 {
        self.equity_now()
    }

    fn choose_mode(&self, sym: usize) -> MarginMode {
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
                        correlation(self.market, sym, p.sym, self.bar, *window_bars)
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

    fn open_signal(
        &mut self,
        k: usize,
        sym: usize,
        side: Side,
        px: f64,
        maker: bool,
    ) -> Result<(), SimError> {
        let s = &self.signals[k];
        let mode = self.choose_mode(sym);
        let stop = match self.policy.stops {
            StopDiscipline::Ignore => None,
            _ => self
                .pending
                .iter()
                .find(|p| p.sig == k)
                .map_or(s.stop, |p| p.stop),
        };
        let called = s.leverage;
        let mut lev = match self.policy.leverage {
            LeverageRule::AsCalled { default } => called.unwrap_or(default),
            LeverageRule::Fixed(x) => x,
            LeverageRule::Capped(x) => called.map_or(x, |c| c.min(x)),
        };
        if !(lev.is_finite() && lev >= 1.0) {
            lev = 1.0;
        }
        let equity = self.sizing_equity();
        if equity <= 0.0 {
            self.skip(
                k,
                "account wiped out: no equity left to open positions".into(),
            );
            return Ok(());
        }
        let table = self.table_for(sym, self.now)?;
        // notional as a function of leverage, then cap leverage by the bracket of the notional
        let notional_for = |lev: f64| -> Option<f64> {
            match &self.policy.sizing {
                Sizing::FixedMargin(m) => Some(f(*m) * lev),
                Sizing::MarginFraction(x) => Some(x * equity * lev),
                Sizing::RiskFraction(x) => {
                    let st = stop?;
                    let dist = (px - st).abs();
                    (dist > 0.0).then(|| x * equity / dist * px)
                }
                Sizing::FixedNotional(n) => Some(f(*n)),
            }
        };
        let Some(mut notional) = notional_for(lev) else {
            self.skip(k, "risk sizing needs a stop and the call has none".into());
            return Ok(());
        };
        for _ in 0..64 {
            let tiers = &self.tables[table].2;
            let b = ringfence_model::bracket::bracket_for(tiers, dec(notional));
            let max = f(b.max_leverage);
            if lev <= max {
                break;
            }
            lev = max;
            notional = notional_for(lev).unwrap_or(notional);
        }
        let qty = (dec(notional) / dec(px))
            .round_dp_with_strategy(QTY_DP, rust_decimal::RoundingStrategy::ToZero);
        if qty <= Decimal::ZERO {
            self.skip(k, format!("size rounds to zero at price {px}"));
            return Ok(());
        }
        let id = s.id.clone();
        let targets = s.targets.clone();
        self.open_position(
            Some(k),
            id,
            sym,
            side,
            mode,
            qty,
            px,
            dec(lev),
            table,
            stop,
            targets,
            maker,
            false,
        )
    }

    fn open_background(&mut self, k: usize, i: usize) -> Result<(), SimError> {
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
        if !series.has_bar(i) || self.positions.iter().any(|p| p.sym == sym) {
            return Err(SimError::BadAccount {
                account: self.account.name.clone(),
                message: format!(
                    "background position {} on {} cannot open at {} (no data, or symbol already held)",
                    k + 1,
                    bg.symbol,
                    iso(self.now)
                ),
            });
        }
        let table = self.table_for(sym, self.now)?;
        let (side, mode, qty, lev) = (bg.side, bg.mode, bg.qty, bg.leverage);
        self.open_position(
            None,
            format!("bg:{}", k + 1),
            sym,
            side,
            mode,
            qty,
            series.open[i],
            lev,
            table,
            None,
            Vec::new(),
            false,
            true,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn open_position(
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
    fn exit_leg(&mut self, k: usize, qty: Decimal, px: f64, reason: ExitReason, fee_rate: Decimal) {
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
    fn cross_fill_bankrupts(
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
    fn beyond_bankruptcy(&self, p: &Pos, px: f64) -> bool {
        let pnl = money(p.side.sign_dec() * p.qty * (dec(px) - p.entry));
        p.iso_margin + pnl < Decimal::ZERO
    }

    fn close_pos(
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

    fn finish_trade(&mut self, mut p: Pos) {
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

    // ------------------------------------------------------------------ the bar

    /// Fills `slots` for the symbols involved, from market `m` at bar `j` (symbol map for the lower
    /// market). Returns false when a symbol with a position or pending entry has no bar there.
    fn build_path(&mut self, lower: bool, j: usize) -> bool {
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
        for p in &self.positions {
            if p.hot
                || p.mode == MarginMode::Cross
                || self.collateral.iter().any(|c| c.sym == Some(p.sym))
            {
                involved.push((p.sym, p.side, true));
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

    /// Does the current path touch any trigger (quick check over the vertices)?
    fn path_touches(&self) -> bool {
        let bound = |v: &[f64; 4]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        };
        for p in self.positions.iter().filter(|p| p.hot) {
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
                if n > 0 && mb <= mm {
                    return true;
                }
            }
        }
        false
    }

    /// The hot path: can anything trigger in main bar `i`? An allocation-free test on the raw
    /// columns (no path built): [`Touch::Skip`] only when the original full check
    /// ([`Sim::path_touches`] over every position, or a symbol without a bar) would skip the bar,
    /// so skipping changes no result. Per position it is a handful of `f64` compares of the bar's
    /// range against the stop, the next target and the liquidation price, which also marks the
    /// position `hot`; a cross book is skipped when even its all-adverse worst case
    /// ([`Sim::cross_safe`]) is above maintenance.
    fn may_touch(&mut self, i: usize) -> Touch {
        let series = &self.market.series;
        let times = &self.market.times;
        let mut cross = false;
        let mut any = false;
        for p in self.positions.iter_mut() {
            let s = &series[p.sym];
            cross |= p.mode == MarginMode::Cross;
            let tp = p.targets.get(p.next_target).map(|t| t.0);
            let key = p.key();
            if key != p.scan_key || i < p.scan_from || i >= p.scan_until {
                // rescan from this bar: the same test as below, bar after bar, position-major
                // up to the next funding settlement at most: it moves the liquidation price
                let due = p.funding_due;
                let horizon = times.partition_point(|&t| t < due).max(i + 1);
                let to = s.end.min(i.saturating_add(SCAN_AHEAD)).min(horizon);
                let lp = if p.lp.is_finite() { p.lp } else { f64::NAN };
                let found = first_touch(s, i.max(s.first), to, p.s > 0.0, p.stop, tp, lp);
                p.scan_key = key;
                p.scan_from = i;
                p.scan_until = if i >= s.first { found } else { i };
            }
            if i < p.scan_until {
                p.hot = false;
                continue;
            }
            if !s.has_bar(i) {
                // the path cannot be built: the bar is skipped (as `build_path` would)
                return Touch::Skip;
            }
            let (lo, hi) = last_range(s, i);
            let long = p.s > 0.0;
            let stop = p
                .stop
                .is_some_and(|st| if long { lo <= st } else { hi >= st });
            let target = p
                .targets
                .get(p.next_target)
                .is_some_and(|&(tp, _)| if long { hi >= tp } else { lo <= tp });
            let liq = p.lp.is_finite() && {
                let (mlo, mhi) = mark_range(s, i).unwrap_or((lo, hi));
                if long { mlo <= p.lp } else { mhi >= p.lp }
            };
            p.hot = stop || target || liq;
            any |= p.hot;
        }
        for p in &self.pending {
            let s = &series[p.sym];
            if !s.has_bar(i) {
                return Touch::Skip;
            }
            let (lo, hi) = last_range(s, i);
            any |= hi >= p.lo && lo <= p.hi;
        }
        if any || (cross && !self.cross_safe(i)) {
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
    fn cross_safe(&self, i: usize) -> bool {
        const WIDEN: f64 = 1e-12;
        let series = &self.market.series;
        let range = |k: usize| -> Option<(f64, f64)> {
            let s = &series[k];
            let (lo, hi) = if s.has_bar(i) {
                mark_range(s, i).unwrap_or_else(|| last_range(s, i))
            } else {
                (self.last_close[k], self.last_close[k])
            };
            (lo > 0.0 && hi.is_finite()).then_some((lo * (1.0 - WIDEN), hi * (1.0 + WIDEN)))
        };
        let mut mb = f(self.wallet);
        for c in &self.collateral {
            let keep = 1.0 - c.haircut;
            if !(keep >= 0.0 && c.amount_f >= 0.0) {
                return false;
            }
            let p = match c.sym {
                None => 1.0,
                Some(k) => match range(k) {
                    Some((lo, _)) => lo,
                    None => return false,
                },
            };
            mb += c.amount_f * p * keep;
        }
        let basis = self.cfg.exchange.maintenance_basis;
        let mut mm = 0.0;
        for p in &self.positions {
            if p.mode != MarginMode::Cross {
                continue;
            }
            let Some((lo, hi)) = range(p.sym) else {
                return false;
            };
            let adverse = if p.s > 0.0 { lo } else { hi };
            mb += p.s * p.qty_f * (adverse - p.entry_f);
            let tiers = &self.tables[p.table].3;
            mm += match basis {
                MaintenanceBasis::Mark => {
                    let (nlo, nhi) = (p.qty_f * lo, p.qty_f * hi);
                    let tier = |n: f64| tiers.partition_point(|b| b.cap <= n);
                    let k = tier(nhi);
                    let mmr = tiers[k.min(tiers.len() - 1)].mmr;
                    if tier(nlo) != k || mmr.is_nan() || mmr < 0.0 {
                        return false;
                    }
                    mm_f64(tiers, nhi)
                }
                MaintenanceBasis::Entry => mm_f64(tiers, p.qty_f * p.entry_f),
            };
        }
        mb > mm
    }

    fn process_bar(&mut self, i: usize) -> Result<(), SimError> {
        let time = self.market.times[i];
        if self.may_touch(i) == Touch::Skip {
            return Ok(());
        }
        if self.cfg.refine && self.market.sub_bars(i).is_some() {
            // sub-bars may reach beyond the bar's range: walk every position, as before
            for p in &mut self.positions {
                p.hot = true;
            }
        }
        if !self.build_path(false, i) {
            return Ok(());
        }
        if !self.path_touches() {
            return Ok(());
        }
        if self.cfg.refine
            && let Some((lower, range)) = self.market.sub_bars(i)
        {
            let lower_times: Vec<TimestampMs> = lower.times[range.clone()].to_vec();
            // refine only when every involved symbol has every sub-bar
            let ok = range.clone().all(|j| self.build_path(true, j));
            if ok {
                for (j, t) in range.zip(lower_times) {
                    self.now = t;
                    if self.positions.is_empty() && self.pending.is_empty() {
                        break;
                    }
                    if self.build_path(true, j) {
                        self.run_path()?;
                    }
                }
                self.now = time;
                return Ok(());
            }
            self.build_path(false, i);
        }
        self.run_path()
    }

    /// Walks the current path's three segments firing triggers in path order.
    fn run_path(&mut self) -> Result<(), SimError> {
        let liq_in_path = self.model != Intrabar::Close;
        let mut guard = 0;
        for seg in 0..3 {
            let mut t = 0.0;
            while let Some((te, ev)) = self.next_event(seg, t, liq_in_path) {
                guard += 1;
                if guard > MAX_EVENTS_PER_PATH {
                    return Ok(());
                }
                t = te;
                self.apply(ev, seg, t)?;
            }
        }
        if !liq_in_path {
            // liquidation seen at the close only
            let mut k = 0;
            while k < self.positions.len() {
                let p = &self.positions[k];
                if !p.hot {
                    // its mark range did not reach the liquidation price: nor does its close
                    k += 1;
                    continue;
                }
                let m = self.slot_mark(p.sym, 2, 1.0);
                if p.lp.is_finite() && p.s * (m - p.lp) <= 0.0 {
                    self.liquidate_isolated(k, m);
                } else {
                    k += 1;
                }
            }
            let (mb, mm, n) = self.cross_f(2, 1.0);
            if n > 0 && mb <= mm {
                self.liquidate_cross(2, 1.0);
            }
        }
        Ok(())
    }

    fn next_event(&self, seg: usize, t0: f64, liq: bool) -> Option<(f64, Ev)> {
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
        for (k, p) in self.positions.iter().enumerate() {
            if !p.hot {
                continue;
            }
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
            if n > 0 {
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

    fn apply(&mut self, ev: Ev, seg: usize, t: f64) -> Result<(), SimError> {
        let slip = self.cfg.execution.slippage_bps / 1e4;
        match ev {
            Ev::Fill(k, px) => {
                let p = self.pending[k].clone();
                let r = self.open_signal(p.sig, p.sym, p.side, px, true);
                self.pending.remove(k);
                r?;
            }
            Ev::Target(k, tp) => {
                let p = &mut self.positions[k];
                let (_, q) = p.targets[p.next_target];
                p.next_target += 1;
                let n = p.next_target as u8;
                if n == 1 && self.policy.breakeven_after_first_target {
                    p.stop = Some(p.entry_f);
                }
                let q = q.min(p.qty);
                let fee = self.cfg.exchange.maker_fee * self.fee_mult;
                if q > Decimal::ZERO {
                    self.exit_leg(k, q, tp, ExitReason::Target(n), fee);
                }
            }
            Ev::Stop(k, px) => {
                let p = &mut self.positions[k];
                if let StopDiscipline::Widen(factor) = self.policy.stops
                    && !p.widened
                {
                    let st = p.stop.unwrap_or(px);
                    p.stop = Some(p.entry_f - p.s * factor * (p.entry_f - st).abs());
                    p.widened = true;
                    return Ok(());
                }
                let fill = px * (1.0 - p.s * slip);
                let q = p.qty;
                let mode = p.mode;
                if mode == MarginMode::Isolated && self.beyond_bankruptcy(&self.positions[k], fill)
                {
                    self.liquidate_isolated(k, fill);
                    return Ok(());
                }
                let fee = self.cfg.exchange.taker_fee * self.fee_mult;
                if mode == MarginMode::Cross && self.cross_fill_bankrupts(k, fill, fee, seg, t) {
                    let sym = self.positions[k].sym;
                    self.liquidate_cross_at(seg, t, Some((sym, fill)));
                    return Ok(());
                }
                self.exit_leg(k, q, fill, ExitReason::Stop, fee);
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
                        let basis = self.cfg.exchange.maintenance_basis;
                        Self::refresh_thresholds(&self.tables, basis, &mut self.positions[k]);
                        return Ok(());
                    }
                }
                self.liquidate_isolated(k, px);
            }
            Ev::CrossLiq => self.liquidate_cross(seg, t),
        }
        Ok(())
    }

    fn liquidate_isolated(&mut self, k: usize, px: f64) {
        let mut p = self.positions.remove(k);
        let exit = dec(px);
        let pnl = money(p.side.sign_dec() * p.qty * (exit - p.entry));
        let remaining = p.iso_margin + pnl;
        let tiers = &self.tables[p.table].2;
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
        p.record_exit(
            self.now,
            px,
            qty,
            ExitReason::Liquidation,
            pnl,
            Decimal::ZERO,
        );
        p.trade.clearance_fee += clearance;
        self.wallet += p.iso_margin + pnl - clearance + shortfall;
        let lost = -pnl - p.im;
        let ratio = if remaining > Decimal::ZERO {
            f(mm / remaining)
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
            time: self.now,
            mode: MarginMode::Isolated,
            positions: vec![lp],
            margin_ratio: ratio,
            margin_balance: remaining,
            maintenance: mm,
            book_correlation: None,
            clearance_fee: clearance,
            insurance_shortfall: shortfall,
            wipeout,
        });
    }

    fn liquidate_cross(&mut self, seg: usize, t: f64) {
        self.liquidate_cross_at(seg, t, None);
    }

    /// Cross liquidation at path point (`seg`, `t`), every position at its mark there, except
    /// `forced = Some((symbol, price))`: the position of that symbol whose stop would have filled
    /// at `price` past the account's bankruptcy is taken first, at that price.
    fn liquidate_cross_at(&mut self, seg: usize, t: f64, forced: Option<(usize, f64)>) {
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
        let partial = self.cfg.exchange.liquidation == crate::config::LiquidationProcess::Partial;
        let cross_syms: Vec<usize> = self
            .positions
            .iter()
            .filter(|p| p.mode == MarginMode::Cross)
            .map(|p| p.sym)
            .collect();
        let corr = book_correlation(
            self.market,
            &cross_syms,
            self.bar,
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
            let p = self.positions.remove(k);
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
            if partial {
                let (mb, mm, n) = self.cross_f(seg, t);
                if n == 0 || mb > mm {
                    break;
                }
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
            p.record_exit(self.now, m, qty, reason, pnl, Decimal::ZERO);
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
        self.liquidations.push(LiquidationEvent {
            time: self.now,
            mode: MarginMode::Cross,
            positions: listed,
            margin_ratio: if mb0 > 0.0 { mm0 / mb0 } else { f64::INFINITY },
            margin_balance: dec(mb0),
            maintenance: dec(mm0),
            book_correlation: corr,
            clearance_fee: clearance_total,
            insurance_shortfall: shortfall,
            wipeout,
        });
    }

    /// Withdraws the waiting entry of call `id`, if any, recording why it was skipped.
    fn withdraw_pending(&mut self, id: &str, reason: &str) {
        if let Some(pk) = self
            .pending
            .iter()
            .position(|p| self.signals[p.sig].id == id)
        {
            let p = self.pending.remove(pk);
            self.skip(p.sig, reason.into());
        }
    }

    fn mark_equity(&mut self, time: TimestampMs) {
        let e = self.equity_now();
        if e > self.peak {
            self.peak = e;
        }
        let dd = if self.peak > 0.0 {
            ((self.peak - e) / self.peak).max(0.0)
        } else {
            0.0
        };
        let (mb, mm, n) = self.cross_state(|k| self.last_mark[k]);
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

    fn finish(&mut self) {
        let pend = std::mem::take(&mut self.pending);
        for p in pend {
            self.skip(
                p.sig,
                "entry not filled before the market data ended".into(),
            );
        }
        let positions = std::mem::take(&mut self.positions);
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
    }

    fn into_result(self, start_equity: f64, liquidations: u32) -> RunResult {
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
            f(gross_win / gross_loss)
        };
        let fees: Decimal = self.trades.iter().map(|t| t.fees + t.clearance_fee).sum();
        let funding: Decimal = self.trades.iter().map(|t| t.funding).sum();
        let summary = RunSummary {
            start_equity: start,
            final_equity,
            return_pct: if start_equity > 0.0 {
                (f(final_equity) / start_equity - 1.0) * 100.0
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
        let _ = self.start_usdt;
        RunResult {
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
        }
    }
}

/// When settlement `next` of `fund` is due at a bar open (`MAX` when there is none): the condition
/// of [`Sim::settle_funding`], `time − jitter ≤ open`.
fn funding_due(fund: &ringfence_model::Funding, next: usize) -> TimestampMs {
    fund.times
        .get(next)
        .map_or(TimestampMs::MAX, |&t| t - FUNDING_JITTER_MS)
}

/// The first bar in `from..to` where [`Sim::may_touch`]'s per-position test fires for a position on
/// `s` (long or short) with these thresholds (`NaN` liquidation price: none); `to` when none does.
/// The same comparisons as [`last_range`] and [`mark_range`], without branches, eight bars at a
/// time so that the compiler can vectorise them.
fn first_touch(
    s: &SymbolSeries,
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
        scan::<true>(s, from, to, st, tp, lp)
    } else {
        scan::<false>(s, from, to, st, tp, lp)
    }
}

/// [`first_touch`] for one side (`NaN` thresholds never fire).
fn scan<const LONG: bool>(
    s: &SymbolSeries,
    from: usize,
    to: usize,
    st: f64,
    tp: f64,
    lp: f64,
) -> usize {
    const LANES: usize = 8;
    let r = from..to;
    let last = [
        &s.open[r.clone()],
        &s.high[r.clone()],
        &s.low[r.clone()],
        &s.close[r.clone()],
    ];
    // without a mark candle the path uses the last prices: as a "mark" that is always finite
    // where the last candle is, they give the same range
    let mark = s.mark.as_ref().map_or(last, |m| {
        [
            &m.open[r.clone()],
            &m.high[r.clone()],
            &m.low[r.clone()],
            &m.close[r],
        ]
    });
    let n = to - from;
    let mut j = 0;
    while j + LANES <= n {
        let mut any = false;
        for k in j..j + LANES {
            any |= touch::<LONG>(&last, &mark, k, st, tp, lp);
        }
        if any {
            break;
        }
        j += LANES;
    }
    while j < n {
        if touch::<LONG>(&last, &mark, j, st, tp, lp) {
            return from + j;
        }
        j += 1;
    }
    to
}

/// [`Sim::may_touch`]'s per-position test at offset `j` of the columns (open, high, low, close).
#[inline(always)]
fn touch<const LONG: bool>(
    last: &[&[f64]; 4],
    mark: &[&[f64]; 4],
    j: usize,
    st: f64,
    tp: f64,
    lp: f64,
) -> bool {
    let (o, h, l, c) = (last[0][j], last[1][j], last[2][j], last[3][j]);
    let lo = f64::INFINITY.min(o).min(h).min(l).min(c);
    let hi = f64::NEG_INFINITY.max(o).max(h).max(l).max(c);
    let (a, b, x, y) = (mark[0][j], mark[1][j], mark[2][j], mark[3][j]);
    let fin = a.is_finite() & b.is_finite() & x.is_finite() & y.is_finite();
    let mlo = if fin { a.min(b).min(x).min(y) } else { lo };
    let mhi = if fin { a.max(b).max(x).max(y) } else { hi };
    if LONG {
        (lo <= st) | (hi >= tp) | (mlo <= lp)
    } else {
        (hi >= st) | (lo <= tp) | (mhi >= lp)
    }
}

/// Lowest and highest last price of bar `i` over its four vertices (`NaN`s ignored, as the path's
/// bounds in [`Sim::path_touches`]).
#[inline]
fn last_range(s: &SymbolSeries, i: usize) -> (f64, f64) {
    let (o, h, l, c) = (s.open[i], s.high[i], s.low[i], s.close[i]);
    (
        f64::INFINITY.min(o).min(h).min(l).min(c),
        f64::NEG_INFINITY.max(o).max(h).max(l).max(c),
    )
}

/// Lowest and highest mark price of bar `i`, when the bar has a complete finite mark candle (the
/// condition under which the path uses the mark).
#[inline]
fn mark_range(s: &SymbolSeries, i: usize) -> Option<(f64, f64)> {
    let m = s.mark.as_ref()?;
    let (o, h, l, c) = (m.open[i], m.high[i], m.low[i], m.close[i]);
    (o.is_finite() && h.is_finite() && l.is_finite() && c.is_finite())
        .then(|| (o.min(h).min(l).min(c), o.max(h).max(l).max(c)))
}

fn validate_policy(p: &Policy) -> Result<(), SimError> {
    let bad = |key: &str, message: String| SimError::BadConfig {
        key: format!("policy {}.{key}", p.name),
        message,
    };
    match &p.sizing {
        Sizing::FixedMargin(m) | Sizing::FixedNotional(m) if *m <= Decimal::ZERO => {
            return Err(bad("sizing", format!("amount must be positive, got {m}")));
        }
        Sizing::MarginFraction(x) | Sizing::RiskFraction(x) if !(*x > 0.0 && *x <= 1.0) => {
            return Err(bad(
                "sizing",
                format!("fraction must be in (0, 1], got {x}"),
            ));
        }
        _ => {}
    }
    let lev = match p.leverage {
        LeverageRule::AsCalled { default } => default,
        LeverageRule::Fixed(x) | LeverageRule::Capped(x) => x,
    };
    if !(lev >= 1.0 && lev.is_finite()) {
        return Err(bad("leverage", format!("must be at least 1, got {lev}")));
    }
    if let StopDiscipline::Widen(x) = p.stops
        && !(x > 1.0 && x.is_finite())
    {
        return Err(bad(
            "stops",
            format!("widen factor must be above 1, got {x}"),
        ));
    }
    if let ModeRule::HybridCorrelation { window_bars, .. } = p.mode
        && window_bars < 3
    {
        return Err(bad(
            "mode",
            format!("correlation window must be at least 3 bars, got {window_bars}"),
        ));
    }
    Ok(())
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
    if xs.len() < 3 {
        return None;
    }
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(&ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Average pairwise correlation of distinct symbols of a book (`None` with fewer than two).
fn book_correlation(m: &Market, syms: &[usize], i: usize, window: usize) -> Option<f64> {
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
