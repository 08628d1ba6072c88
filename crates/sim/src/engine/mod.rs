//! The event loop of one run (one account × one policy). See the crate docs for the assumptions.

use crate::config::{Account, EngineConfig, Intrabar, Policy};
use crate::error::SimError;
use crate::num::{dec, flt};
use crate::policy;
use ringfence_model::{
    Action, BracketBook, EquityPoint, ExitReason, LiquidationEvent, Market, RunResult, Side,
    SignalEvent, SkippedSignal, Symbol, TimestampMs, Trade,
};
use rust_decimal::Decimal;

// The rooms of one run, each with one job (see ARCHITECTURE.md):
/// Auto-deleveraging of the account's own profitable positions.
mod adl;
/// Channel events, waiting entries, background positions, skip records.
mod entries;
/// The ledger: the only place money changes.
mod ledger;
/// Isolated and cross close-outs behind the `LiquidationProcess` trait.
mod liquidation;
/// The intrabar path of one (sub-)bar and the triggers along it.
mod path;
/// Cache-line hints for what the next events read.
mod prefetch;
/// Per-block price ranges shared by the runs over one market.
pub(crate) mod ranges;
/// Which bars can be skipped, and the per-position scan cache.
mod scan;
/// Equity points, the summary, rolling correlations.
mod stats;

use entries::Pending;
use ledger::{Collateral, Pos, Table};
use path::Slot;
use ranges::RangeIndex;
use scan::{ScanCache, Touch};
use stats::Values;
/// The engine's exact return correlation, which `returns::MarketStats` slides incrementally within
/// its tolerance (tested).
#[cfg(test)]
pub(crate) use stats::correlation;

/// Funding settlements whose timestamp is at most this much after a bar open are settled at that
/// open (exchange timestamps carry a few ms of jitter).
const FUNDING_JITTER_MS: TimestampMs = 1_000;
/// Quantities are rounded down to this many decimals (no exchange lot sizes are modelled).
const QTY_DP: u32 = 8;
/// Guard against a pathological event loop inside one bar.
const MAX_EVENTS_PER_PATH: usize = 100_000;

/// Something due at a bar open: a channel event or a background position.
#[derive(Debug, Clone, Copy)]
enum Due {
    Signal(usize),
    Background(usize),
}

/// The moment being processed, passed explicitly to everything that records or depends on time:
/// the main bar's index and the time of the (sub-)bar.
#[derive(Debug, Clone, Copy)]
pub(super) struct At {
    /// Main bar index (correlation windows, funding schedule position).
    pub(super) bar: usize,
    /// Open time of the (sub-)bar: the time of fills, exits, liquidations and skip records.
    pub(super) time: TimestampMs,
}

/// One run's state.
pub(crate) struct Sim<'a> {
    market: &'a Market,
    /// The market's per-block price ranges (shared with the other runs over it).
    ranges: &'a RangeIndex<'a>,
    brackets: &'a BracketBook,
    signals: &'a [SignalEvent],
    account: &'a Account,
    policy: &'a Policy,
    cfg: &'a EngineConfig,
    model: Intrabar,
    fee_mult: Decimal,
    wallet: Decimal,
    collateral: Vec<Collateral>,
    /// The open positions in the book's order (boxed: the book is shifted when one leaves).
    #[allow(
        clippy::vec_box,
        reason = "a position leaving shifts the rest of the book: pointers move, not records"
    )]
    positions: Vec<Box<Pos>>,
    /// The skip machinery's cache per open position, in the order of `positions`.
    scan: Vec<ScanCache>,
    pending: Vec<Pending>,
    /// The bracket tables in use, one per (symbol, snapshot); positions refer to them by index.
    tables: Vec<Table>,
    /// Per symbol: the index in `tables` of the table it used last (`usize::MAX`: none yet).
    table_of: Vec<usize>,
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
    /// Scratch equity buffer of [`Sim::quiet_stretch`].
    equity_buf: Vec<f64>,
    /// Scratch margin balance and maintenance buffers of [`Sim::quiet_until`] and
    /// [`Sim::quiet_stretch`] for cross books.
    cross_buf: (Vec<f64>, Vec<f64>),
    /// Per channel event: the market symbol index of an open call (resolved once, before the
    /// run; `usize::MAX` for other events).
    sig_sym: Vec<usize>,
    /// Per symbol: the number of open positions on it.
    held: Vec<u32>,
    /// Per symbol, the skip reason of a call on it while it is held or pending (the same text
    /// every time), formatted at its first use.
    busy_reason: Vec<Option<String>>,
    /// How many open positions are cross (kept by `push_position` and `take_position`).
    cross_open: usize,
    /// Per open position, in the order of `positions`: the first bar at which the per-bar passes
    /// must look at it. It is the end of its scan window (`ScanCache::until`), set when
    /// [`Sim::may_touch`] looks at it, and 0 for a new position, after a write of one of its
    /// thresholds ([`Sim::refresh_pos`], stops moved) and when every position is walked. Before
    /// that bar the position is cold and inside its window (its thresholds unwritten since the
    /// scan), which ends by its symbol's data end and its next funding settlement: `close_ended`,
    /// `settle_funding`, `may_touch` and `quiet_until` pass it by reading this dense column only.
    wake: Vec<usize>,
    /// Per chunk of [`scan::WAKE_CHUNK`] positions, the least of their `wake` bars (kept exact
    /// by every write of `wake`).
    wake_min: Vec<usize>,
    /// A bound on (at most) the least `ScanCache::sym_end` of the book (see
    /// [`Sim::may_have_ended`]).
    least_end: Option<usize>,
    /// A bound on the least `ScanCache::funding_due` of the book (see [`Sim::may_settle`]).
    least_funding: Option<TimestampMs>,
    /// The last wallet converted by [`Sim::wallet_f`] (its exact representation) and its `f64`.
    wallet_cache: std::cell::Cell<([u8; 16], f64)>,
    /// The last target weight converted to `Decimal` (its bits and `dec` of it); starts as
    /// `NaN`'s, whose `dec` is zero.
    weight_cache: std::cell::Cell<(u64, Decimal)>,
    /// The run's ADL events in time order (empty with ADL off) and the next one not yet applied.
    adl_events: Vec<crate::adl::Scheduled>,
    adl_next: usize,
    /// Every ADL of the account's positions.
    adl_log: Vec<ringfence_model::AdlRecord>,
    /// Cross ADL since the last cross liquidation, in words (its attribution).
    adl_since_liq: Vec<(TimestampMs, String)>,
    /// Positions opened so far (the next one's [`Pos::seq`]).
    opened: u64,
    /// The deferred valuation of books that can only hold isolated positions.
    values: Values<'a>,
}

impl<'a> Sim<'a> {
    pub(crate) fn new(
        ranges: &'a RangeIndex<'a>,
        brackets: &'a BracketBook,
        signals: &'a [SignalEvent],
        account: &'a Account,
        policy: &'a Policy,
        cfg: &'a EngineConfig,
        model: Intrabar,
    ) -> Result<Self, SimError> {
        let market = ranges.market();
        if market.is_empty() {
            return Err(SimError::EmptyMarket);
        }
        policy::validate(policy)?;
        policy::validate_account(account)?;
        let bad_account = |message: String| SimError::BadAccount {
            account: account.name.clone(),
            message,
        };
        let mut wallet = Decimal::ZERO;
        let mut collateral = Vec::new();
        for (asset, amount) in &account.collateral {
            let a = asset.trim().to_ascii_uppercase();
            if a == "USDT" {
                wallet += *amount;
                continue;
            }
            let sym = if policy::is_stable(&a) {
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
                amount_f: flt(*amount),
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
        }
        let adl_events = crate::adl::schedule(market, &cfg.adl)?;
        // only isolated positions, no collateral and no ADL (which reads the closes): nothing
        // but the equity points needs the closes bar by bar, so their valuation is deferred
        let defer = collateral.is_empty()
            && adl_events.is_empty()
            && policy.mode == crate::config::ModeRule::Isolated
            && account
                .background
                .iter()
                .all(|b| b.mode == ringfence_model::MarginMode::Isolated);
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
            ranges,
            brackets,
            signals,
            account,
            policy,
            cfg,
            model,
            fee_mult: account.fee_multiplier,
            wallet,
            collateral,
            positions: Vec::new(),
            scan: Vec::new(),
            pending: Vec::new(),
            tables: Vec::new(),
            table_of: vec![usize::MAX; market.series.len()],
            lower_map,
            slot_of: vec![usize::MAX; market.series.len()],
            slots: Vec::new(),
            slot_syms: Vec::new(),
            involved: Vec::new(),
            last_mark: last_close.clone(),
            init_close: last_close.clone(),
            last_close,
            refreshed: Vec::new(),
            // one trade per opening call at most, one equity point per bar and the start: reserved
            // up front, so that the records are not copied as they grow
            trades: Vec::with_capacity(
                signals.iter().filter(|s| s.action == Action::Open).count()
                    + account.background.len(),
            ),
            liquidations: Vec::new(),
            equity: Vec::with_capacity(market.len() + 1),
            skipped: Vec::new(),
            peak: 0.0,
            equity_buf: Vec::new(),
            cross_buf: (Vec::new(), Vec::new()),
            sig_sym: Vec::new(),
            held: vec![0; market.series.len()],
            busy_reason: vec![None; market.series.len()],
            cross_open: 0,
            wake: Vec::new(),
            wake_min: Vec::new(),
            least_end: None,
            least_funding: None,
            wallet_cache: std::cell::Cell::new((wallet.serialize(), flt(wallet))),
            weight_cache: std::cell::Cell::new((f64::NAN.to_bits(), dec(f64::NAN))),
            adl_events,
            adl_next: 0,
            adl_log: Vec::new(),
            adl_since_liq: Vec::new(),
            opened: 0,
            values: Values::new(defer, market),
        })
    }

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
        // the bar of each due event (`Market::bar_at_or_after`), in one walk of the sorted times
        let due_bars: Vec<usize> = {
            let mut j = 0;
            due.iter()
                .map(|&(t, _)| {
                    while j < market.times.len() && market.times[j] < t {
                        j += 1;
                    }
                    j
                })
                .collect()
        };
        debug_assert!(
            due.iter()
                .zip(&due_bars)
                .all(|(&(t, _), &j)| j == market.bar_at_or_after(t))
        );
        // validate every open before running: unknown symbols are input errors
        self.sig_sym = vec![usize::MAX; self.signals.len()];
        let lookup = market.symbol_lookup();
        for (k, s) in self.signals.iter().enumerate() {
            if s.action == Action::Open {
                self.sig_sym[k] = self.signal_symbol(s, |x| lookup.index(x))?;
                if s.side.is_none() {
                    return Err(SimError::IncompleteSignal {
                        id: s.id.to_string(),
                        source_file: s.source.clone(),
                        line: s.line,
                        missing: "side",
                    });
                }
            }
        }
        let start_equity = flt(self.wallet) + self.collateral_value(false);
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
        // each due call is hinted once, when the event before it is taken
        self.prefetch_next(&due, &due_bars, ptr);
        let mut i = 0;
        // the time of the last bar processed (for records made after the loop)
        let mut now = market.times[0];
        while i < n {
            let debt = self.collateral_debt();
            if self.positions.is_empty() && self.pending.is_empty() && !debt {
                let Some(&j) = due_bars.get(ptr) else { break };
                if j > i {
                    // idle: bring the collateral prices forward before the jump
                    i = j;
                    if i >= n {
                        break;
                    }
                    self.refresh_closes(i - 1);
                }
            }
            let at = At {
                bar: i,
                time: market.times[i],
            };
            now = at.time;
            self.values.bar = i;
            if self.values.full() {
                self.settle_early();
            }
            let had_open = !self.positions.is_empty();
            self.close_ended(i);
            self.settle_funding(i);
            // ADL due by this open, before any position opens at it
            self.apply_adl(at, None);
            // due events at this open, in time order
            while let Some(&(t, d)) = due.get(ptr) {
                if t > at.time {
                    break;
                }
                ptr += 1;
                self.prefetch_next(&due, &due_bars, ptr);
                match d {
                    Due::Signal(k) => self.on_signal(k, at)?,
                    Due::Background(k) => self.open_background(k, at)?,
                }
            }
            self.expire_pending(at.time);
            // a collateral debt is watched bar by bar, with or without positions
            let active = had_open || debt || !self.positions.is_empty();
            if !self.positions.is_empty() || !self.pending.is_empty() || self.collateral_debt() {
                self.process_bar(i)?;
            }
            if (active || !self.positions.is_empty()) && self.collateral.is_empty() {
                self.refresh_and_mark(i, at.time);
            } else {
                self.refresh_closes(i);
                if active || !self.positions.is_empty() {
                    self.mark_equity(at.time);
                }
            }
            i += 1;
            if !self.positions.is_empty() && i < n {
                // jump over the bars where nothing can happen, recording only their equity
                let next_due = due_bars.get(ptr).copied().unwrap_or(n);
                let next_due = next_due.min(self.adl_stop_bar());
                let end = self.quiet_until(i, next_due);
                if end > i {
                    self.prefetch_due(end);
                    self.quiet_stretch(i, end);
                    now = market.times[end - 1];
                    i = end;
                } else {
                    self.prefetch_due(i);
                }
            }
        }
        // positions still open were valued up to the last bar processed
        self.values.bar = i.min(n);
        // signals due after the data ends
        for &(_, d) in &due[ptr..] {
            if let Due::Signal(k) = d {
                let s = &self.signals[k];
                if s.action == Action::Open {
                    self.skip(k, "signal after the end of the market data".into(), now);
                }
            }
        }
        self.finish(now);
        let liq = self.liquidations.len() as u32;
        Ok(self.into_result(start_equity, liq))
    }

    /// Hints the lines call `k` reads when it is handled at bar `j`: its record, its id's shared
    /// text, and its symbol's candles at `j` and `j - 1` (the open it fills at, the closes a
    /// sync reads, the bar its first walk reads).
    fn prefetch_call(&self, k: usize, j: usize) {
        let s = &self.signals[k];
        // the shared text's count, which the records' clones write (it sits just before the text)
        prefetch::at(s.id.as_bytes(), 0);
        prefetch::at(&s.targets, 0);
        let Some(&sym) = self.sig_sym.get(k) else {
            return;
        };
        let Some(series) = self.market.series.get(sym) else {
            return;
        };
        prefetch::bar(series, j.saturating_sub(1));
        prefetch::bar(series, j);
    }

    /// Hints the lines of call `k`'s record that handling it reads (its fields span them).
    fn prefetch_record(&self, k: usize) {
        let s = &self.signals[k];
        prefetch::line(&s.action);
        prefetch::line(&s.id);
        prefetch::line(&s.entry);
        prefetch::line(&s.stop);
        prefetch::line(&s.targets);
        prefetch::line(&s.leverage_high);
    }

    /// Hints what the next due events read: the first's record, text and candles
    /// ([`Sim::prefetch_call`]), the second's record (whose fields the first hint of it reads).
    fn prefetch_next(&self, due: &[(TimestampMs, Due)], due_bars: &[usize], ptr: usize) {
        if let Some(&(_, Due::Signal(k))) = due.get(ptr) {
            self.prefetch_call(k, due_bars[ptr]);
        }
        if let Some(&(_, Due::Signal(k))) = due.get(ptr + 1) {
            self.prefetch_record(k);
        }
    }

    /// Hints the candles at bar `i` of the positions due there (their wake bar is reached): the
    /// lines their scans and walks read first.
    fn prefetch_due(&self, i: usize) {
        for k in self.due_positions(i) {
            // the record's address only: its symbol is read from the scan cache
            let p = &*self.positions[k];
            debug_assert_eq!(self.scan[k].sym, p.sym);
            prefetch::line(&p.stop);
            prefetch::line(&p.stale);
            prefetch::bar(&self.market.series[self.scan[k].sym], i);
        }
    }

    /// The market index of call `s`'s symbol, found with `find` ([`Market::symbol_index`], or a
    /// [`ringfence_model::SymbolLookup`]'s for a whole channel); an error naming the call when it
    /// has no symbol or the market lacks it.
    fn signal_symbol(
        &self,
        s: &SignalEvent,
        find: impl Fn(&Symbol) -> Option<usize>,
    ) -> Result<usize, SimError> {
        let sym = s
            .symbol
            .as_ref()
            .ok_or_else(|| SimError::IncompleteSignal {
                id: s.id.to_string(),
                source_file: s.source.clone(),
                line: s.line,
                missing: "symbol",
            })?;
        find(sym).ok_or_else(|| SimError::NoMarketData {
            id: s.id.to_string(),
            source_file: s.source.clone(),
            line: s.line,
            symbol: sym.clone(),
        })
    }

    /// Closes positions whose symbol's data ended before bar `i`.
    fn close_ended(&mut self, i: usize) {
        if self.next_wake() > i || !self.may_have_ended(i) {
            // every position has data at `i` (see `wake`), or every symbol of the book has
            return;
        }
        let mut k = 0;
        while k < self.positions.len() {
            // a position whose wake bar is after `i` has data there (see `wake`)
            if self.wake[k] > i || i < self.scan[k].sym_end {
                k += 1;
                continue;
            }
            let s = &self.market.series[self.positions[k].sym];
            if i >= s.end {
                let px = s.close[s.end - 1];
                let t = self.market.times[s.end - 1];
                let p = self.take_position(k);
                self.close_pos(p, px, t, ExitReason::EndOfData, Decimal::ZERO);
            } else {
                k += 1;
            }
        }
    }

    fn process_bar(&mut self, i: usize) -> Result<(), SimError> {
        let at = At {
            bar: i,
            time: self.market.times[i],
        };
        // an ADL event inside the bar is applied at its sub-bar: walk the sub-bars
        let adl_inside = self.cfg.refine && self.market.sub_bars(i).is_some() && self.adl_inside(i);
        if self.may_touch(i) == Touch::Skip && !adl_inside {
            return Ok(());
        }
        if self.cfg.refine && self.market.sub_bars(i).is_some() {
            // sub-bars may reach beyond the bar's range: walk every position, as before, with
            // its exact liquidation price
            let basis = self.cfg.exchange.maintenance_basis;
            for p in &mut self.positions {
                Self::resolve_lp(&self.tables, basis, p);
            }
            for c in &mut self.scan {
                c.hot = true;
            }
            self.rewake_all();
        }
        if !self.build_path(false, i) {
            return Ok(());
        }
        if !self.path_touches(i) && !adl_inside {
            return Ok(());
        }
        if self.cfg.refine
            && let Some((lower, range)) = self.market.sub_bars(i)
        {
            let lower_times: Vec<TimestampMs> = lower.times[range.clone()].to_vec();
            // refine only when every involved symbol has every sub-bar
            let ok = range.clone().all(|j| self.build_path(true, j));
            if ok {
                for (j, time) in range.zip(lower_times) {
                    if self.positions.is_empty()
                        && self.pending.is_empty()
                        && !self.collateral_debt()
                    {
                        break;
                    }
                    self.apply_adl(At { bar: i, time }, Some(j));
                    if self.build_path(true, j) {
                        self.run_path(At { bar: i, time })?;
                    }
                }
                return Ok(());
            }
            self.build_path(false, i);
        }
        self.run_path(at)
    }
}
