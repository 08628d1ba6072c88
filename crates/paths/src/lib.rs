//! Alternative market histories for stress tests: pure functions `Market (+ seed, params) → Market`.
//!
//! No I/O, no clock, no environment, no threads: a path depends only on its inputs, so a stress
//! run gives the same paths whatever the thread count, the shard or the machine.
//!
//! # How a path is built
//!
//! Every bar of every symbol is stored as its **joint move** relative to the previous last-price
//! close: `open / prev_close`, `high / prev_close`, `low / prev_close`, `close / prev_close`, the
//! mark candle over the same *last-price* previous close (so the mark–last basis moves with it),
//! the volume, and the funding rate prevailing at the bar. A path is a list of **source bars**, one
//! per destination bar; the destination bar is rebuilt from the source bar's moves on top of the
//! destination's own previous close. All symbols take their move from the **same** source bar, so
//! the cross-asset correlation of a bar, the mark basis and the funding level travel together.
//!
//! - [`block_bootstrap`]: the stationary block bootstrap (Politis & Romano, 1994): blocks of
//!   consecutive source bars with geometric lengths (mean `mean_block` bars), each starting at a
//!   uniformly drawn bar of the pool, wrapping around its end. Inside a block the bars follow each
//!   other as they did, so volatility clusters and fat tails survive; a path's bar moves are a
//!   resample of the history's moves.
//! - [`crash_transplant`]: the bars of a window (e.g. the 2025-10-10 crash) moved to another
//!   time: cut out of the sequence of bars and inserted there, the bars in between shifting by the
//!   window's length. Bars before both places are the history's, bit for bit; after both, every
//!   bar has its own move and the history's level again.
//!
//! # What a path keeps and drops
//!
//! - Each symbol keeps its first bar (the anchor, copied) and its `[first, end)` range; bars
//!   outside it stay `NaN`. Only bars where **every** symbol has a bar and a previous close are
//!   drawn by the bootstrap (the common range). A transplanted window's bar that a symbol has no
//!   data for leaves that symbol its own move.
//! - Funding settlements keep their times; a settlement inside a rebuilt bar takes the rate that
//!   prevailed at the source bar (the last settlement before the source bar's end).
//! - The lower timeframe ([`Market::lower`]) is dropped: intrabar refinement does not apply to
//!   paths (the engine's intrabar model runs on the main bars).
//! - Signals carry absolute prices; [`rescale_signals`] moves a call's entry, stop, targets and
//!   ladder by the ratio of the path's close to the history's close at the last bar closed before
//!   the call, so stop and target distances in percent are kept.

pub mod distribution;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringfence_model::{EntrySpec, Funding, MarkColumns, Market, SignalEvent, SymbolSeries};
use std::ops::Range;

/// A path cannot be built from this market with these parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A parameter is out of range.
    #[error("{0}")]
    Params(String),
    /// The market cannot be resampled (too short, or a bad price).
    #[error("{0}")]
    Market(String),
}

/// The random generator of path `path` under `seed`: one ChaCha8 stream per path, so path `k` is
/// the same whether it is drawn first, last, alone, or on another machine.
pub fn path_rng(seed: u64, path: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(path);
    rng
}

/// The bars the bootstrap may draw: those where every symbol has a bar and a previous bar.
pub fn bootstrap_pool(history: &Market) -> Result<Range<usize>, PathError> {
    if history.series.is_empty() {
        return Err(PathError::Market("the market has no symbol".into()));
    }
    let lo = history.series.iter().map(|s| s.first).max().unwrap_or(0) + 1;
    let hi = history.series.iter().map(|s| s.end).min().unwrap_or(0);
    if hi < lo + 2 {
        return Err(PathError::Market(format!(
            "the symbols share fewer than 2 bars with a previous bar ({} bars of {} ms); \
             a bootstrap needs a common range (drop the symbol that starts late or ends early)",
            hi.saturating_sub(lo),
            history.timeframe_ms
        )));
    }
    check_prices(history, lo - 1..hi)?;
    Ok(lo..hi)
}

/// Source bars of a stationary block bootstrap for `n` destination bars: bar 0 is the anchor
/// (source 0), every later bar draws from `pool`. A new block starts with probability
/// `1 / mean_block`, at a uniform bar of the pool; otherwise the next bar of the pool follows
/// (wrapping to its start).
pub fn bootstrap_sources(
    n: usize,
    pool: Range<usize>,
    mean_block: usize,
    rng: &mut impl Rng,
) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    if n == 0 || pool.is_empty() {
        return out;
    }
    out.push(0);
    let p_new = 1.0 / mean_block.max(1) as f64;
    let mut cur = rng.random_range(pool.clone());
    for i in 1..n {
        if i > 1 {
            if rng.random::<f64>() < p_new {
                cur = rng.random_range(pool.clone());
            } else {
                cur += 1;
                if cur >= pool.end {
                    cur = pool.start;
                }
            }
        }
        out.push(cur);
    }
    out
}

/// Path `path` of a stationary block bootstrap of `history`'s joint moves with mean block length
/// `mean_block` bars, under `seed`.
pub fn block_bootstrap(
    history: &Market,
    mean_block: usize,
    seed: u64,
    path: u64,
) -> Result<Market, PathError> {
    if mean_block == 0 {
        return Err(PathError::Params(
            "the mean block length must be at least one bar".into(),
        ));
    }
    let pool = bootstrap_pool(history)?;
    let mut rng = path_rng(seed, path);
    let sources = bootstrap_sources(history.len(), pool, mean_block, &mut rng);
    Ok(rebuild(history, &sources, 1))
}

/// `history` with the bars of `window` **moved** to start at bar `at`: the window's moves are cut
/// out of the sequence of bars and inserted at `at`, so the bars between the old and the new place
/// shift by the window's length (in time order, the market is the history's bars with the crash
/// elsewhere). Bars before `min(at, window.start)` are copied bit for bit; from
/// `max(at, window.start) + window.len()` on, every bar has its own move again and the level is
/// the history's (the same moves, reordered, to rounding).
pub fn crash_transplant(
    history: &Market,
    window: Range<usize>,
    at: usize,
) -> Result<Market, PathError> {
    let n = history.len();
    if window.is_empty() || window.start == 0 || window.end > n {
        return Err(PathError::Params(format!(
            "the crash window (bars {}..{}) must hold at least one bar after the first bar of \
             the market ({n} bars)",
            window.start, window.end
        )));
    }
    if at == 0 || at + window.len() > n {
        return Err(PathError::Params(format!(
            "a crash window of {} bars cannot start at bar {at} of {n}: it must start after the \
             first bar and end by the last",
            window.len()
        )));
    }
    check_prices(history, window.start - 1..window.end)?;
    Ok(rebuild(
        history,
        &transplant_sources(n, window.clone(), at),
        at.min(window.start),
    ))
}

/// The source bar of every bar when `window` is moved to start at `at` (see [`crash_transplant`]).
pub fn transplant_sources(n: usize, window: Range<usize>, at: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let block: Vec<usize> = order.drain(window).collect();
    let at = at.min(order.len());
    order.splice(at..at, block);
    order
}

/// The bars a window of `len` bars starting at `window_start` is transplanted to when it is placed
/// every `every` bars: the same offset in every period (e.g. the same weekday and hour every week),
/// from the first bar that has a previous bar to the last start that fits in `n` bars.
pub fn transplant_targets(n: usize, window_start: usize, len: usize, every: usize) -> Vec<usize> {
    if every == 0 || len == 0 || len > n {
        return Vec::new();
    }
    let mut at = window_start % every;
    if at == 0 {
        at = every;
    }
    let mut out = Vec::new();
    while at + len <= n {
        out.push(at);
        at += every;
    }
    out
}

/// Refuses non-finite or non-positive last-price closes inside `bars` (they would poison every
/// later bar of a path).
fn check_prices(m: &Market, bars: Range<usize>) -> Result<(), PathError> {
    for s in &m.series {
        let lo = bars.start.max(s.first);
        let hi = bars.end.min(s.end);
        for i in lo..hi {
            if !(s.close[i].is_finite() && s.close[i] > 0.0) {
                return Err(PathError::Market(format!(
                    "{}: close {} at {} is not a positive price; a path cannot be built from it",
                    s.symbol,
                    s.close[i],
                    ringfence_model::time::iso(m.times[i])
                )));
            }
        }
    }
    Ok(())
}

/// Rebuilds `history` bar by bar: bars before `keep` (and each symbol's first bar) are copied;
/// bar `i ≥ keep` takes the moves of bar `sources[i]` on the destination's previous close. A
/// symbol without a bar (or previous bar) at the source keeps its own move.
fn rebuild(history: &Market, sources: &[usize], keep: usize) -> Market {
    let series = history
        .series
        .iter()
        .map(|s| rebuild_series(history, s, sources, keep))
        .collect();
    Market {
        timeframe_ms: history.timeframe_ms,
        times: history.times.clone(),
        series,
        lower: None,
        warnings: history.warnings.clone(),
    }
}

fn rebuild_series(m: &Market, s: &SymbolSeries, sources: &[usize], keep: usize) -> SymbolSeries {
    let mut out = s.clone();
    let start = keep.max(s.first + 1);
    for i in start..s.end {
        let j = match sources[i] {
            j if j > s.first && j < s.end => j,
            _ => i,
        };
        let prev_dest = out.close[i - 1];
        let prev_src = s.close[j - 1];
        let k = prev_dest / prev_src;
        out.open[i] = s.open[j] * k;
        out.high[i] = s.high[j] * k;
        out.low[i] = s.low[j] * k;
        out.close[i] = s.close[j] * k;
        if let (Some(v), Some(src)) = (out.volume.as_mut(), s.volume.as_ref()) {
            v[i] = src[j];
        }
        if let (Some(mk), Some(src)) = (out.mark.as_mut(), s.mark.as_ref()) {
            move_mark(mk, src, i, j, k);
        }
    }
    out.funding = rebuild_funding(m, s, sources, start);
    out.clean = out.all_bars_clean();
    out
}

fn move_mark(dest: &mut MarkColumns, src: &MarkColumns, i: usize, j: usize, k: f64) {
    dest.open[i] = src.open[j] * k;
    dest.high[i] = src.high[j] * k;
    dest.low[i] = src.low[j] * k;
    dest.close[i] = src.close[j] * k;
}

/// Settlement times are kept; a settlement in a rebuilt bar `i` (at or after `start`) takes the
/// rate prevailing at its source bar: the last settlement before the source bar's end (the first
/// settlement when none precedes it).
fn rebuild_funding(m: &Market, s: &SymbolSeries, sources: &[usize], start: usize) -> Funding {
    let f = &s.funding;
    let tf = m.timeframe_ms;
    let rates = f
        .times
        .iter()
        .zip(&f.rates)
        .map(|(&t, &r)| {
            let after = m.times.partition_point(|&x| x <= t);
            if after == 0 || t >= m.times[after - 1] + tf {
                return r;
            }
            let i = after - 1;
            if i < start || i >= s.end {
                return r;
            }
            let j = match sources[i] {
                j if j > s.first && j < s.end => j,
                _ => i,
            };
            let before = f.times.partition_point(|&x| x < m.times[j] + tf);
            f.rates[before.max(1) - 1]
        })
        .collect();
    Funding {
        times: f.times.clone(),
        rates,
    }
}

/// `signals` moved onto `path`: the prices of a call (limit or zone entry, ladder, stop, targets;
/// a `move_stop`'s new stop) are multiplied by `path close / history close` of its symbol at the
/// last bar closed at the call's time. A call before its symbol's first closed bar, or on a
/// symbol the market does not hold, is left as it is.
pub fn rescale_signals(
    signals: &[SignalEvent],
    history: &Market,
    path: &Market,
) -> Vec<SignalEvent> {
    signals
        .iter()
        .map(|e| {
            let ratio = e
                .symbol
                .as_ref()
                .and_then(|sym| Some((history.series_of(sym)?, path.series_of(sym)?)))
                .and_then(|(h, p)| {
                    let closed = history
                        .times
                        .partition_point(|&t| t + history.timeframe_ms <= e.time);
                    let k = closed.checked_sub(1)?;
                    h.has_bar(k).then(|| p.close[k] / h.close[k])
                })
                .filter(|r| r.is_finite() && *r > 0.0);
            match ratio {
                Some(r) if r != 1.0 => scaled(e, r),
                _ => e.clone(),
            }
        })
        .collect()
}

fn scaled(e: &SignalEvent, r: f64) -> SignalEvent {
    let mut e = e.clone();
    e.entry = match e.entry {
        EntrySpec::Market => EntrySpec::Market,
        EntrySpec::Limit { price } => EntrySpec::Limit { price: price * r },
        EntrySpec::Zone { low, high } => EntrySpec::Zone {
            low: low * r,
            high: high * r,
        },
    };
    e.stop = e.stop.map(|x| x * r);
    for t in &mut e.targets {
        *t *= r;
    }
    for l in &mut e.ladder {
        l.price *= r;
    }
    e
}

#[cfg(test)]
mod tests;
