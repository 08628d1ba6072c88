//! The Ringfence engine: accounts, positions, margin, liquidation and funding over a read-only
//! market (DESIGN.md §5).
//!
//! # Entry points
//! - [`run`]: one account × one policy → one [`RunResult`].
//! - [`run_all`]: many (account, policy) jobs in parallel on worker threads, with a progress
//!   callback; results in input order and byte-identical for any thread count.
//! - [`margin`]: the exact liquidation-price and maintenance formulas (also used by `ringfence liq-price`).
//! - [`EngineConfig::assumptions`]: what a run's numbers rest on, in words, for the report.
//!
//! # Assumptions (cited by ARCHITECTURE.md and the report)
//! - **One-way mode**: at most one position per symbol. An `open` for a symbol that is already open
//!   or has an entry waiting is skipped with the reason "already open or pending (one-way mode)".
//! - **Order at one bar open**: positions whose symbol's data ended are closed (`end_of_data`) →
//!   funding settlements (a settlement is applied at the first bar open at or after its time, with
//!   1 s tolerance for exchange timestamp jitter; positions filled at that open do not pay it, positions
//!   closed at that open do) → channel events due at or before the open (`time + entry_delay`), in
//!   time order: close / cancel / move_stop / market entries (filled at the open ± slippage) / new
//!   limit and zone entries → expired entries withdrawn → the bar's intrabar path → end-of-bar marks.
//! - **Intrabar path** ([`Intrabar`]): every symbol involved (positions, waiting entries, collateral)
//!   moves along three linear segments with a common parameter t: `adverse` open → adverse extreme
//!   (low for longs and collateral, high for shorts) → favourable extreme → close; `ohlc` O→L→H→C for
//!   bars closing up, O→H→L→C otherwise; `close` uses the adverse path for stops and targets and checks
//!   liquidation only at the close. Stops, targets and entries trigger on last prices, liquidation on
//!   mark prices (last prices where the bar has no finite mark). Triggers fire in path order: a stop
//!   crossed before the liquidation price fills first. At the same t (a gap through both at the open)
//!   the order is entry fill, isolated liquidation, cross liquidation, stop, target: the exchange's
//!   liquidation engine takes a position that opens beyond its liquidation price. A cross book is
//!   liquidated at the first t where margin balance ≤ Σ maintenance (margin balance − maintenance is
//!   concave in t within a segment, so checking the segment ends is exact and the crossing is found by
//!   bisection), positions closed at their mark prices at that t.
//! - **Refinement**: when the market has lower-timeframe bars and a bar touches any trigger, the bar is
//!   replayed on its sub-bars (each with the same intrabar model) when every involved symbol has them.
//! - **Isolated liquidation**: the trader loses the position's whole isolated margin: what remains at
//!   the liquidation price is recorded as clearance fee (clearance fee and insurance-fund contribution
//!   together); a gap past bankruptcy is recorded as an insurance shortfall and costs nothing more.
//! - **Cross liquidation**: `full` closes every cross position, `partial` closes the largest loser
//!   first and re-checks. Clearance fee per position = rate × notional, capped at the margin balance
//!   left. A position whose loss exceeds its own initial margin is a culprit (`liquidation`); healthy
//!   positions closed with it are victims (`cascade`); when no position is a culprit (collateral or
//!   funding drove the book under), the largest loser is recorded as `liquidation`. A negative margin
//!   balance after the close-out is floored at zero (insurance shortfall). A cross stop whose
//!   last-price fill would leave the margin balance below zero (a spike the marks did not follow)
//!   is taken by the liquidation engine at that price together with the rest of the book. The run
//!   goes on; an account without equity skips new signals ("account wiped out").
//! - **Entry ladders** (a call with several entry prices): each level is a maker limit order for
//!   its share of the call's size (the call is sized once, at its first fill, with the bracket
//!   cap). A level that fills adds to the position: quantity-weighted mean entry, more initial (and
//!   isolated) margin from the wallet, targets split again, liquidation price recomputed. A level
//!   the account cannot pay for stays unfilled. Levels still waiting are cancelled when the first
//!   target fills, the position closes, the channel closes or cancels the call, or the entry
//!   expires. A called leverage range resolves by the policy's `leverage_from_range`.
//! - **Margin for new positions**: available = cross margin balance − cross initial margins (at the last
//!   closes); isolated margin is drawn from the USDT wallet, which must hold it plus the fee. Non-USDT
//!   collateral counts in cross at `amount × price × (1 − haircut)` and is never sold; the USDT wallet
//!   may go negative against it. Background positions are opened regardless of margin.
//! - **Fees**: taker on market entries, signal closes and stops; maker on limit/zone entries and
//!   targets; none on liquidations (the clearance fee applies) or on `end_of_data` closes. Slippage
//!   (bps, against the trader) on market entries, signal closes and stop fills.
//! - **Brackets**: a position uses the table in force when it opened; maintenance is valued at the mark
//!   (Binance) or at the entry ([`MaintenanceBasis::Entry`], Bybit's examples).
//! - **Money**: the ledger is `Decimal`; per bar only `f64` comparisons against thresholds recomputed
//!   when the ledger changes. Conservation: start USDT + Σ PnL − Σ fees + Σ funding − Σ clearance +
//!   Σ insurance shortfall = final USDT wallet, exactly.
//! - **Idle stretches** (no position, no waiting entry) are skipped by jumping to the next event.

pub mod adl;
mod assumptions;
pub mod checklist;
pub mod claims;
mod config;
mod engine;
mod error;
mod exposure;
pub mod margin;
mod num;
mod ordered;
pub mod policy;
mod returns;

pub use exposure::annotate_book_exposure;
pub use ordered::for_each_in_order;
pub use returns::MarketStats;

pub use checklist::{
    ChannelSummary, ChecklistConfig, ChecklistRow, Verdict, add_cascade_victims, channel_summaries,
    channel_summaries_of, checklist,
};

pub use config::{
    Account, AdlConfig, AdlEventSpec, AdlMode, AdlRule, BINANCE_LATE_2024_FROM, BackgroundPosition,
    EngineConfig, ExchangePreset, Execution, Intrabar, LeverageFromRange, LeverageRule,
    LiquidationProcess, MaintenanceBasis, ModeRule, Policy, PresetName, Sizing, StopDiscipline,
    binance_default_brackets,
};
pub use engine::ranges::RangeIndex;
pub use error::SimError;
/// The engine's exact `f64` → `Decimal` conversion (identical to `Decimal::from_f64`) and its fast
/// path alone; for the real-data test and the micro-benchmark in `benches`, not an API.
#[doc(hidden)]
pub use num::{dec as f64_to_decimal, dec_fast as f64_to_decimal_fast};

use ringfence_model::{BracketBook, Market, RunResult, SignalEvent};

/// Runs one account under one policy over the market and the channel's events.
///
/// `signals` need not be sorted: they are processed by `time + entry_delay` (ties in input order).
/// With `cfg.band`, the run also counts liquidations under `adverse` and `close`
/// ([`RunResult::liquidation_band`]).
///
/// # Errors
/// [`SimError`] for input the engine cannot run on: an empty market, a signal naming a symbol
/// without data, no bracket table for a traded symbol at a date, collateral that cannot be valued, a
/// policy setting out of range.
pub fn run(
    market: &Market,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    account: &Account,
    policy: &Policy,
    cfg: &EngineConfig,
) -> Result<RunResult, SimError> {
    let ranges = RangeIndex::for_replays(market, replays(cfg));
    let mut result = run_unannotated(&ranges, brackets, signals, account, policy, cfg)?;
    annotate_book_exposure(
        &MarketStats::new(market, cfg.correlation_window),
        &mut result,
    );
    Ok(result)
}

/// [`run`] without the post-run book annotation ([`annotate_book_exposure`]): the simulation, its
/// ADL-off counterfactual when ADL is on, and with `cfg.band` the liquidation band, over the market
/// of `ranges` (which they share). A sweep annotates each result with one [`MarketStats`] shared by
/// all its runs.
///
/// # Errors
/// As [`run`].
pub fn run_unannotated(
    ranges: &RangeIndex<'_>,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    account: &Account,
    policy: &Policy,
    cfg: &EngineConfig,
) -> Result<RunResult, SimError> {
    // the engine on these inputs under settings `c` and intrabar model `model`
    let engine = |c: &EngineConfig, model: Intrabar| {
        engine::Sim::new(ranges, brackets, signals, account, policy, c, model)?.run()
    };
    let mut result = engine(cfg, cfg.intrabar)?;
    if !cfg.adl.is_off() {
        // the counterfactual: the same run with ADL off, for the PnL ADL cost or saved
        let off = EngineConfig {
            adl: AdlConfig::default(),
            ..cfg.clone()
        };
        result.adl_off_final_equity = Some(engine(&off, cfg.intrabar)?.summary.final_equity);
    }
    if cfg.band {
        let count = |model: Intrabar| -> Result<u32, SimError> {
            if model == cfg.intrabar {
                return Ok(result.summary.liquidations);
            }
            Ok(engine(cfg, model)?.summary.liquidations)
        };
        let band = (count(Intrabar::Adverse)?, count(Intrabar::Close)?);
        result.liquidation_band = Some(band);
    }
    Ok(result)
}

/// How many times [`run_unannotated`] replays the market under `cfg`: the run, its ADL-off
/// counterfactual, and the two other intrabar models of the liquidation band.
fn replays(cfg: &EngineConfig) -> usize {
    1 + usize::from(!cfg.adl.is_off()) + 2 * usize::from(cfg.band)
}

/// Runs the engine alone: like [`run`] without the post-run book annotation
/// ([`annotate_book_exposure`]) and without the liquidation band. For benchmarks and callers that
/// only need trades, liquidations and the equity curve.
///
/// # Errors
/// As [`run`].
pub fn simulate(
    market: &Market,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    account: &Account,
    policy: &Policy,
    cfg: &EngineConfig,
) -> Result<RunResult, SimError> {
    simulate_in(
        &RangeIndex::none(market),
        brackets,
        signals,
        account,
        policy,
        cfg,
    )
}

/// [`simulate`] over the market of `ranges`, whose per-block price ranges it fills as it goes and
/// reuses from earlier runs over the same market (results do not depend on what it holds).
///
/// # Errors
/// As [`run`].
pub fn simulate_in(
    ranges: &RangeIndex<'_>,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    account: &Account,
    policy: &Policy,
    cfg: &EngineConfig,
) -> Result<RunResult, SimError> {
    engine::Sim::new(
        ranges,
        brackets,
        signals,
        account,
        policy,
        cfg,
        cfg.intrabar,
    )?
    .run()
}

/// Runs every (account, policy) job, in parallel on `threads` worker threads (`None`: rayon's
/// default, which honours `RAYON_NUM_THREADS`). Results come back in input order and are identical
/// for any thread count. `progress` is called with a job's index as soon as that job is done (from
/// the worker thread, in completion order), e.g. to advance a progress bar. Every run is annotated
/// with one [`MarketStats`] shared by all of them. [`run_each`] hands the results on one by one
/// instead of collecting them.
///
/// # Errors
/// [`SimError::Job`] with the index and error of the first failed job in input order, or
/// [`SimError::ThreadPool`] when no worker thread can be started.
pub fn run_all(
    market: &Market,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    jobs: &[(Account, Policy)],
    cfg: &EngineConfig,
    threads: Option<usize>,
    progress: impl Fn(usize) + Sync,
) -> Result<Vec<RunResult>, SimError> {
    let stats = MarketStats::new(market, cfg.correlation_window);
    let mut results = Vec::with_capacity(jobs.len());
    run_each(
        &stats,
        brackets,
        signals,
        jobs,
        cfg,
        threads,
        |i, simulate| {
            let mut r = simulate()?;
            annotate_book_exposure(&stats, &mut r);
            progress(i);
            Ok(r)
        },
        |_, r| {
            results.push(r);
            Ok::<(), SimError>(())
        },
    )?;
    Ok(results)
}

/// A job's simulation as [`run_each`] hands it to its `each`: call it to run the job.
pub type Simulate<'a> = &'a dyn Fn() -> Result<RunResult, SimError>;

/// Runs every (account, policy) job (owned or borrowed) like [`run_all`] over `stats`' market, and
/// hands each result to `sink` on the calling thread in job order as soon as it and every job
/// before it are done, so that results can be written as they come while at most `2 × threads`
/// are held ([`for_each_in_order`]).
///
/// On the worker thread, `each(i, simulate)` is called for job `i`: `simulate()` runs it
/// ([`run_unannotated`]); `each` is where the caller annotates the result
/// ([`annotate_book_exposure`] with `stats`), times the parts, or slims the result down in
/// parallel, before it is handed to `sink`.
///
/// # Errors
/// The first error in job order: [`SimError::Job`] (converted into `E`) for a failed job, or
/// `sink`'s error.
#[allow(clippy::too_many_arguments)]
pub fn run_each<T: Send, E: From<SimError>, A, P>(
    stats: &MarketStats<'_>,
    brackets: &BracketBook,
    signals: &[SignalEvent],
    jobs: &[(A, P)],
    cfg: &EngineConfig,
    threads: Option<usize>,
    each: impl Fn(usize, Simulate<'_>) -> Result<T, SimError> + Sync,
    mut sink: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E>
where
    A: std::borrow::Borrow<Account> + Sync,
    P: std::borrow::Borrow<Policy> + Sync,
{
    let ranges = RangeIndex::for_replays(stats.market(), jobs.len() * replays(cfg));
    for_each_in_order(
        jobs.len(),
        threads,
        |i| {
            let (account, policy) = &jobs[i];
            each(i, &|| {
                run_unannotated(
                    &ranges,
                    brackets,
                    signals,
                    account.borrow(),
                    policy.borrow(),
                    cfg,
                )
            })
        },
        |i, r| match r {
            Ok(v) => sink(i, v),
            Err(e) => Err(SimError::Job {
                index: i,
                error: Box::new(e),
            }
            .into()),
        },
    )
}
