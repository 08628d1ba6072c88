//! Validation rules of DESIGN.md §3, shared by loading (which fails on them) and inspection
//! (which counts them).

use super::read::{RawCandles, RawFunding};
use crate::error::DataError;
use ringfence_model::time::{iso, timeframe_label};

const DAY_MS: i64 = 86_400_000;

/// The kind of a row problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Problem {
    /// Same time as the previous row.
    Duplicate,
    /// Earlier than the previous row.
    OutOfOrder,
    /// Not on the timeframe's grid.
    OffGrid,
    /// A price not positive and finite, or a negative volume.
    BadPrice,
    /// `low > min(open, close)` or `high < max(open, close)`.
    BadOhlc,
}

/// Missing bars between two consecutive rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gap {
    /// Row after the gap.
    pub row: usize,
    /// First missing bar open time.
    pub from: i64,
    /// Last missing bar open time.
    pub to: i64,
    /// Number of missing bars.
    pub missing: usize,
}

/// Everything found in one candle file.
#[derive(Debug, Default)]
pub(crate) struct CandleScan {
    /// Row problems, each with its message.
    pub problems: Vec<(Problem, DataError)>,
    /// Gaps between consecutive rows.
    pub gaps: Vec<Gap>,
}

impl CandleScan {
    /// Number of problems of one kind.
    pub fn count(&self, kind: Problem) -> usize {
        self.problems.iter().filter(|(k, _)| *k == kind).count()
    }

    /// Total missing bars.
    pub fn missing_bars(&self) -> usize {
        self.gaps.iter().map(|g| g.missing).sum()
    }
}

/// The grid anchor: bars of a timeframe that divides a day open at multiples of it from the epoch;
/// longer or odd timeframes are anchored at `first`.
pub(crate) fn grid_anchor(timeframe_ms: i64, first: i64) -> i64 {
    if DAY_MS % timeframe_ms == 0 { 0 } else { first }
}

/// Checks order, grid, prices and OHLC consistency of every row, and finds gaps.
///
/// A file without any problem or gap (the common case) is recognised by one pass over each column
/// ([`all_clean`]); only a file with something to report is scanned row by row for its messages.
pub(crate) fn scan_candles(raw: &RawCandles, timeframe_ms: i64, anchor: i64) -> CandleScan {
    if all_clean(raw, timeframe_ms, anchor) {
        return CandleScan::default();
    }
    scan_rows(raw, timeframe_ms, anchor)
}

/// Whether `raw` has nothing [`scan_rows`] would report: every price positive and finite, no
/// negative volume, `low <= min(open, close)`, `high >= max(open, close)`, the first time on the
/// grid and every next one exactly one bar later (so all on the grid, in order, without
/// duplicates or gaps). Branch-free column passes, no integer division per row.
fn all_clean(raw: &RawCandles, timeframe_ms: i64, anchor: i64) -> bool {
    let Some(&first) = raw.times.first() else {
        return true;
    };
    let positive = |v: &[f64]| {
        v.iter()
            .fold(true, |ok, &x| ok & (x > 0.0) & (x < f64::INFINITY))
    };
    let consistent = raw
        .open
        .iter()
        .zip(&raw.high)
        .zip(raw.low.iter().zip(&raw.close))
        .fold(true, |ok, ((&o, &h), (&l, &c))| {
            ok & (l <= o.min(c)) & (h >= o.max(c))
        });
    let volume_ok = raw
        .volume
        .as_ref()
        .is_none_or(|v| v.iter().fold(true, |ok, &x| ok & (x >= 0.0 || x.is_nan())));
    let consecutive = raw
        .times
        .windows(2)
        .fold(true, |ok, w| ok & (w[1].wrapping_sub(w[0]) == timeframe_ms));
    (first - anchor).rem_euclid(timeframe_ms) == 0
        && positive(&raw.open)
        && positive(&raw.high)
        && positive(&raw.low)
        && positive(&raw.close)
        && consistent
        && volume_ok
        && consecutive
}

/// [`scan_candles`] row by row: every problem with its message, and the gaps.
fn scan_rows(raw: &RawCandles, timeframe_ms: i64, anchor: i64) -> CandleScan {
    let mut scan = CandleScan::default();
    let file = raw.file.as_str();
    let tf = timeframe_label(timeframe_ms);
    for i in 0..raw.len() {
        let row = raw.rows.get(i);
        let t = raw.times[i];
        let (o, h, l, c) = (raw.open[i], raw.high[i], raw.low[i], raw.close[i]);
        let mut prices_ok = true;
        for (name, v) in [("open", o), ("high", h), ("low", l), ("close", c)] {
            if !v.is_finite() || v <= 0.0 {
                prices_ok = false;
                let what = if v.is_nan() {
                    "is missing or NaN".to_string()
                } else if v.is_finite() {
                    format!("{v} is not positive")
                } else {
                    format!("{v} is not finite")
                };
                scan.problems.push((
                    Problem::BadPrice,
                    DataError::at(file, row, format!("{} {name} {what}", iso(t))),
                ));
            }
        }
        if let Some(vol) = raw.volume.as_ref().map(|v| v[i])
            && vol < 0.0
        {
            scan.problems.push((
                Problem::BadPrice,
                DataError::at(file, row, format!("{} volume {vol} is negative", iso(t))),
            ));
        }
        if prices_ok {
            if l > o.min(c) {
                scan.problems.push((
                    Problem::BadOhlc,
                    DataError::at(
                        file,
                        row,
                        format!("{} low {l} is above min(open {o}, close {c})", iso(t)),
                    ),
                ));
            }
            if h < o.max(c) {
                scan.problems.push((
                    Problem::BadOhlc,
                    DataError::at(
                        file,
                        row,
                        format!("{} high {h} is below max(open {o}, close {c})", iso(t)),
                    ),
                ));
            }
        }
        let on_grid = (t - anchor).rem_euclid(timeframe_ms) == 0;
        if !on_grid {
            scan.problems.push((
                Problem::OffGrid,
                DataError::at(
                    file,
                    row,
                    format!(
                        "time {} is not on the {tf} grid (bars open at multiples of {tf} from {})",
                        iso(t),
                        iso(anchor)
                    ),
                ),
            ));
        }
        if i == 0 {
            continue;
        }
        let (prev_t, prev_row) = (raw.times[i - 1], raw.rows.get(i - 1));
        if t == prev_t {
            scan.problems.push((
                Problem::Duplicate,
                DataError::at(
                    file,
                    row,
                    format!("duplicate time {} (same as row {prev_row})", iso(t)),
                ),
            ));
        } else if t < prev_t {
            scan.problems.push((
                Problem::OutOfOrder,
                DataError::at(
                    file,
                    row,
                    format!(
                        "time {} is out of order: before {} at row {prev_row}",
                        iso(t),
                        iso(prev_t)
                    ),
                ),
            ));
        } else if t - prev_t > timeframe_ms
            && on_grid
            && (prev_t - anchor).rem_euclid(timeframe_ms) == 0
        {
            let missing = ((t - prev_t) / timeframe_ms - 1) as usize;
            scan.gaps.push(Gap {
                row,
                from: prev_t + timeframe_ms,
                to: t - timeframe_ms,
                missing,
            });
        }
    }
    scan
}

/// Renders a gap for messages.
pub(crate) fn describe_gap(g: &Gap) -> String {
    if g.missing == 1 {
        format!("1 missing bar at {}", iso(g.from))
    } else {
        format!(
            "{} missing bars from {} to {}",
            g.missing,
            iso(g.from),
            iso(g.to)
        )
    }
}

/// Checks funding settlements: strictly increasing times, finite rates.
pub(crate) fn scan_funding(raw: &RawFunding) -> Vec<(Problem, DataError)> {
    let mut out = Vec::new();
    let file = raw.file.as_str();
    for i in 0..raw.times.len() {
        let (row, t, r) = (raw.rows.get(i), raw.times[i], raw.rates[i]);
        if !r.is_finite() {
            out.push((
                Problem::BadPrice,
                DataError::at(
                    file,
                    row,
                    format!("{} funding rate {r} is not finite", iso(t)),
                ),
            ));
        }
        if i == 0 {
            continue;
        }
        let (prev_t, prev_row) = (raw.times[i - 1], raw.rows.get(i - 1));
        if t == prev_t {
            out.push((
                Problem::Duplicate,
                DataError::at(
                    file,
                    row,
                    format!("duplicate funding time {} (same as row {prev_row})", iso(t)),
                ),
            ));
        } else if t < prev_t {
            out.push((
                Problem::OutOfOrder,
                DataError::at(
                    file,
                    row,
                    format!(
                        "funding time {} is out of order: before {} at row {prev_row}",
                        iso(t),
                        iso(prev_t)
                    ),
                ),
            ));
        }
    }
    out
}
