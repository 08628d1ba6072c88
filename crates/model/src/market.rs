//! The aligned, read-only columnar market handed to the engine (DESIGN.md §3 "Layout").
//!
//! One [`Market`] holds one timeframe: a shared grid of bar open times and, per symbol,
//! contiguous `f64` columns aligned to that grid. A symbol whose history starts later or ends
//! earlier than the grid holds `NaN` outside `[first, end)`. A lower-timeframe market used for
//! intrabar refinement hangs off [`Market::lower`] with its own grid.

use crate::symbol::Symbol;
use crate::time::TimestampMs;
use serde::{Deserialize, Serialize};

/// A market's symbol indices by name ([`Market::symbol_lookup`]).
#[derive(Debug, Clone)]
pub struct SymbolLookup<'a>(std::collections::HashMap<&'a str, usize>);

impl SymbolLookup<'_> {
    /// Index of `symbol` in [`Market::series`], as [`Market::symbol_index`] gives it.
    pub fn index(&self, symbol: &Symbol) -> Option<usize> {
        self.0.get(symbol.as_str()).copied()
    }
}

/// Mark-price columns aligned to the market grid (`NaN` where the mark series has no bar).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarkColumns {
    /// Mark open.
    pub open: Vec<f64>,
    /// Mark high.
    pub high: Vec<f64>,
    /// Mark low.
    pub low: Vec<f64>,
    /// Mark close.
    pub close: Vec<f64>,
}

/// Funding settlements of one symbol: sorted, strictly increasing times with their rates
/// (fractions: `0.0001` = 0.01 %, paid by longs when positive).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Funding {
    /// Settlement times (ms UTC), strictly increasing.
    pub times: Vec<TimestampMs>,
    /// Funding rate at each settlement.
    pub rates: Vec<f64>,
}

impl Funding {
    /// True when no settlement is known.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Index of the first settlement at or after `t`.
    pub fn first_at_or_after(&self, t: TimestampMs) -> usize {
        self.times.partition_point(|&x| x < t)
    }
}

/// One symbol's columns on the market grid.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolSeries {
    /// The normalised symbol.
    pub symbol: Symbol,
    /// First grid index holding data.
    pub first: usize,
    /// One past the last grid index holding data.
    pub end: usize,
    /// Last-price open.
    pub open: Vec<f64>,
    /// Last-price high.
    pub high: Vec<f64>,
    /// Last-price low.
    pub low: Vec<f64>,
    /// Last-price close.
    pub close: Vec<f64>,
    /// Base-asset volume, when the source has it.
    pub volume: Option<Vec<f64>>,
    /// Mark-price candles, when the source has them.
    pub mark: Option<MarkColumns>,
    /// Funding settlements (empty when the source has none: a warning, never a silent zero).
    pub funding: Funding,
    /// Whether every bar is clean ([`SymbolSeries::bar_is_clean`]), so that a threshold scan may
    /// read each bar's lows and highs alone. `false` is always safe (the scan then reads all eight
    /// prices, except in the blocks a sweep's range index has found clean). Whoever builds or
    /// changes the columns keeps it true to them: the loader knows it from its validation, other
    /// builders take [`SymbolSeries::all_bars_clean`]. The engine checks it in debug builds
    /// wherever it relies on it.
    pub clean: bool,
}

impl SymbolSeries {
    /// A series whose last-price columns (open, high, low, close) and mark columns cover the grid
    /// from index 0 (`first` 0, `end` their length), without volume or funding, and
    /// [`clean`](SymbolSeries::clean) as its bars are.
    pub fn from_columns(
        symbol: Symbol,
        [open, high, low, close]: [Vec<f64>; 4],
        mark: Option<MarkColumns>,
    ) -> Self {
        let mut s = SymbolSeries {
            symbol,
            first: 0,
            end: close.len(),
            open,
            high,
            low,
            close,
            volume: None,
            mark,
            funding: Funding::default(),
            clean: false,
        };
        s.clean = s.all_bars_clean();
        s
    }

    /// True when grid index `i` holds a bar of this symbol.
    pub fn has_bar(&self, i: usize) -> bool {
        i >= self.first && i < self.end
    }

    /// The price liquidation checks use at bar `i`: mark (high, low, close) when present and finite,
    /// else last price.
    pub fn liq_hlc(&self, i: usize) -> (f64, f64, f64) {
        if let Some(m) = &self.mark {
            let (h, l, c) = (m.high[i], m.low[i], m.close[i]);
            if h.is_finite() && l.is_finite() && c.is_finite() {
                return (h, l, c);
            }
        }
        (self.high[i], self.low[i], self.close[i])
    }

    /// Whether bar `i` is clean: its last-price candle is all finite with its low and high the
    /// extremes of its four prices, or all `NaN` (no bar); its mark candle likewise, and all `NaN`
    /// only where the last-price one is. Without mark candles, the last-price candle alone. On a
    /// clean bar, a finite threshold touched by any of the bar's prices is touched by its low or
    /// high (the mark's, where it has one).
    pub fn bar_is_clean(&self, i: usize) -> bool {
        let candle = |o: f64, h: f64, l: f64, c: f64| {
            let tidy =
                [o, h, l, c].iter().all(|x| x.is_finite()) && l <= o && l <= c && o <= h && c <= h;
            let gap = [o, h, l, c].iter().all(|x| x.is_nan());
            (tidy, gap)
        };
        let (last_tidy, last_gap) = candle(self.open[i], self.high[i], self.low[i], self.close[i]);
        let (mark_tidy, mark_gap) = match &self.mark {
            Some(m) => candle(m.open[i], m.high[i], m.low[i], m.close[i]),
            None => (last_tidy, last_gap),
        };
        (last_tidy || last_gap) && (mark_tidy || (mark_gap && last_gap))
    }

    /// Whether every bar of the grid is [`SymbolSeries::bar_is_clean`]: the value [`clean`] must
    /// not exceed.
    ///
    /// [`clean`]: SymbolSeries::clean
    pub fn all_bars_clean(&self) -> bool {
        (0..self.close.len()).all(|i| self.bar_is_clean(i))
    }
}

/// What kind of data problem a warning describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// No mark-price data: liquidations are checked against last prices.
    MissingMark,
    /// No funding data: funding is assumed zero.
    MissingFunding,
    /// Missing bars that the scenario allowed to be filled.
    GapFilled,
    /// Anything else worth a reader's attention.
    Other,
}

/// A data warning carried into the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataWarning {
    /// The symbol concerned, when there is one.
    pub symbol: Option<Symbol>,
    /// The kind of warning.
    pub kind: WarningKind,
    /// A sentence for a person.
    pub message: String,
}

/// The aligned market of one timeframe.
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    /// Bar length in ms.
    pub timeframe_ms: TimestampMs,
    /// Bar open times on a regular grid (ms UTC), strictly increasing, step `timeframe_ms`.
    pub times: Vec<TimestampMs>,
    /// Per-symbol columns, sorted by symbol.
    pub series: Vec<SymbolSeries>,
    /// Lower-timeframe bars for intrabar refinement (own grid, may cover only a window).
    pub lower: Option<Box<Market>>,
    /// Data warnings (missing mark or funding, filled gaps).
    pub warnings: Vec<DataWarning>,
}

impl Market {
    /// Index of `symbol` in [`Market::series`].
    pub fn symbol_index(&self, symbol: &Symbol) -> Option<usize> {
        self.series.binary_search_by(|s| s.symbol.cmp(symbol)).ok()
    }

    /// The market's symbols by name, for resolving many symbols in a row (a channel's calls): one
    /// hash a lookup instead of [`Market::symbol_index`]'s binary search of string comparisons,
    /// with the same answers (a market's symbols are distinct).
    pub fn symbol_lookup(&self) -> SymbolLookup<'_> {
        SymbolLookup(
            self.series
                .iter()
                .enumerate()
                .map(|(k, s)| (s.symbol.as_str(), k))
                .collect(),
        )
    }

    /// The series of `symbol`.
    pub fn series_of(&self, symbol: &Symbol) -> Option<&SymbolSeries> {
        self.symbol_index(symbol).map(|i| &self.series[i])
    }

    /// Index of the first bar whose open time is at or after `t` (`times.len()` if none).
    pub fn bar_at_or_after(&self, t: TimestampMs) -> usize {
        self.times.partition_point(|&x| x < t)
    }

    /// Number of bars on the grid.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True when the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Grid indices of the lower-timeframe bars inside bar `i` of this market, if any.
    pub fn sub_bars(&self, i: usize) -> Option<(&Market, std::ops::Range<usize>)> {
        let lower = self.lower.as_deref()?;
        let start = self.times[i];
        let end = start + self.timeframe_ms;
        let a = lower.bar_at_or_after(start);
        let b = lower.bar_at_or_after(end);
        (b > a).then_some((lower, a..b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bar: last-price (open, high, low, close), then the mark's when given.
    type Bar = ([f64; 4], Option<[f64; 4]>);

    /// One bar per entry.
    fn series(bars: &[Bar]) -> SymbolSeries {
        let col = |c: usize| bars.iter().map(|b| b.0[c]).collect::<Vec<f64>>();
        let mcol = |c: usize| bars.iter().map(|b| b.1.unwrap()[c]).collect::<Vec<f64>>();
        let mark = bars[0].1.map(|_| MarkColumns {
            open: mcol(0),
            high: mcol(1),
            low: mcol(2),
            close: mcol(3),
        });
        let symbol = Symbol::parse("BTCUSDT").unwrap();
        SymbolSeries::from_columns(symbol, [col(0), col(1), col(2), col(3)], mark)
    }

    const N: f64 = f64::NAN;
    const GOOD: [f64; 4] = [100.0, 110.0, 90.0, 105.0];
    const GAP: [f64; 4] = [N; 4];

    #[test]
    fn a_bar_is_clean_when_its_low_and_high_are_its_extremes_or_it_is_a_gap() {
        const BROKEN: [f64; 4] = [100.0, 104.0, 90.0, 105.0];
        const MARK: [f64; 4] = [101.0, 108.0, 95.0, 104.0];
        let cases: [(Bar, bool, &str); 10] = [
            ((GOOD, None), true, "well-formed, no mark"),
            ((GAP, None), true, "no bar"),
            ((BROKEN, None), false, "close above the high"),
            (
                ([89.0, 110.0, 90.0, 105.0], None),
                false,
                "open below the low",
            ),
            (([100.0, 110.0, N, 105.0], None), false, "one price missing"),
            (
                ([100.0, f64::INFINITY, 90.0, 105.0], None),
                false,
                "an infinite high",
            ),
            ((GOOD, Some(MARK)), true, "with a well-formed mark"),
            ((GOOD, Some(GAP)), false, "a bar without its mark candle"),
            ((GAP, Some(GAP)), true, "neither"),
            ((GOOD, Some(BROKEN)), false, "a broken mark"),
        ];
        for (bar, clean, what) in cases {
            let s = series(&[bar]);
            assert_eq!(s.bar_is_clean(0), clean, "{what}");
            assert_eq!(s.all_bars_clean(), clean, "{what}");
        }
        // a mark candle where the last price has none does not spoil the bar: no finite
        // threshold reaches the gap's bounds, and the mark's are tidy
        assert!(series(&[(GAP, Some(GOOD))]).bar_is_clean(0));
        let s = series(&[(GOOD, None), (GAP, None), ([100.0, 99.0, 90.0, 95.0], None)]);
        assert_eq!(
            (s.bar_is_clean(0), s.bar_is_clean(1), s.bar_is_clean(2)),
            (true, true, false)
        );
        assert!(!s.all_bars_clean());
    }
}
