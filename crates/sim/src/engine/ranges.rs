//! The price range of every bar and of every block of [`BLOCK`] bars, as the scan compares them:
//! what lets a scan window pass over a block with one test instead of one per bar; and each
//! symbol's funding settlements in `Decimal`. Filled lazily and shared by every run over the same
//! market (a sweep, a run with its counterfactuals).

use super::ledger::{Settlement, settlements};
use ringfence_model::{Market, SymbolSeries};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bars per block of a [`RangeIndex`].
pub(crate) const BLOCK: usize = 16;

/// A bar's or a block's bounds, as [`fires`] compares them: the lowest and highest last price over
/// the bar's four vertices (`NaN`s ignored), and the lowest and highest "mark" (the mark candle
/// when all four of its values are finite, else the last price's bounds). For a block, the least
/// of its bars' lows and the greatest of their highs. None of the four is ever `NaN`.
pub(crate) type Bounds = [f64; 4];

/// The four columns of the last price and of the mark (open, high, low, close) over bars `r` of
/// `s`. Without a mark candle the path uses the last prices: as a "mark" that is always finite where
/// the last candle is, they give the same range.
#[inline(always)]
pub(crate) fn columns(s: &SymbolSeries, r: std::ops::Range<usize>) -> ([&[f64]; 4], [&[f64]; 4]) {
    let last = [
        &s.open[r.clone()],
        &s.high[r.clone()],
        &s.low[r.clone()],
        &s.close[r.clone()],
    ];
    let mark = s.mark.as_ref().map_or(last, |m| {
        [
            &m.open[r.clone()],
            &m.high[r.clone()],
            &m.low[r.clone()],
            &m.close[r],
        ]
    });
    (last, mark)
}

/// The least of four finite values (compare and select).
#[inline(always)]
pub(crate) fn min4(a: f64, b: f64, c: f64, d: f64) -> f64 {
    let x = if b < a { b } else { a };
    let y = if d < c { d } else { c };
    if y < x { y } else { x }
}

/// The greatest of four finite values (compare and select).
#[inline(always)]
pub(crate) fn max4(a: f64, b: f64, c: f64, d: f64) -> f64 {
    let x = if b > a { b } else { a };
    let y = if d > c { d } else { c };
    if y > x { y } else { x }
}

/// The [`Bounds`] of the bar at offset `j` of the columns (see [`columns`]).
#[inline(always)]
pub(crate) fn bar_bounds(last: &[&[f64]; 4], mark: &[&[f64]; 4], j: usize) -> Bounds {
    let (o, h, l, c) = (last[0][j], last[1][j], last[2][j], last[3][j]);
    let lo = f64::INFINITY.min(o).min(h).min(l).min(c);
    let hi = f64::NEG_INFINITY.max(o).max(h).max(l).max(c);
    let (a, b, x, y) = (mark[0][j], mark[1][j], mark[2][j], mark[3][j]);
    let fin = a.is_finite() & b.is_finite() & x.is_finite() & y.is_finite();
    // four finite values: compare-and-select is `f64::min`/`max` up to the sign of a zero,
    // which no comparison of `fires` can see
    let mlo = if fin { min4(a, b, x, y) } else { lo };
    let mhi = if fin { max4(a, b, x, y) } else { hi };
    [lo, hi, mlo, mhi]
}

/// Whether a position (long or short) with stop `st`, next target `tp` and liquidation price `lp`
/// (`NaN`: none) can trigger inside bounds `b`: for a bar, the scan's per-bar test; for a block, true
/// exactly when it is true for one of the block's bars (no bound is `NaN`, so "some bar's low is at
/// most `st`" is "the least low is at most `st`").
#[inline(always)]
pub(crate) fn fires<const LONG: bool>(b: Bounds, st: f64, tp: f64, lp: f64) -> bool {
    let [lo, hi, mlo, mhi] = b;
    if LONG {
        (lo <= st) | (hi >= tp) | (mlo <= lp)
    } else {
        (hi >= st) | (lo <= tp) | (mhi >= lp)
    }
}

/// Whether all four values are finite, with arithmetic only: `x · 0` is `0` for a finite `x` and
/// `NaN` for an infinite or `NaN` one, and a sum with a `NaN` is `NaN`.
#[inline(always)]
pub(crate) fn all_finite(v: [f64; 4]) -> bool {
    v[0] * 0.0 + v[1] * 0.0 + v[2] * 0.0 + v[3] * 0.0 == 0.0
}

/// The [`Bounds`] of bars `b·BLOCK .. (b + 1)·BLOCK` of `s`: each bar's bounds side by side, then
/// halved pairwise (the least of values none of which is `NaN` does not depend on the order, up to
/// the sign of a zero, which no comparison of [`fires`] can see).
fn block_bounds(s: &SymbolSeries, b: usize) -> Bounds {
    let (last, mark) = columns(s, b * BLOCK..(b + 1) * BLOCK);
    let bars: [Bounds; BLOCK] = std::array::from_fn(|j| bar_bounds(&last, &mark, j));
    let mut v: [[f64; BLOCK]; 4] = std::array::from_fn(|c| std::array::from_fn(|j| bars[j][c]));
    let mut w = BLOCK;
    while w > 1 {
        w /= 2;
        for j in 0..w {
            let (x, y) = (v[0][j], v[0][j + w]);
            v[0][j] = if y < x { y } else { x };
            let (x, y) = (v[1][j], v[1][j + w]);
            v[1][j] = if y > x { y } else { x };
            let (x, y) = (v[2][j], v[2][j + w]);
            v[2][j] = if y < x { y } else { x };
            let (x, y) = (v[3][j], v[3][j + w]);
            v[3][j] = if y > x { y } else { x };
        }
    }
    [v[0][0], v[1][0], v[2][0], v[3][0]]
}

/// Cells a block takes in a [`RangeIndex`]: its four [`Bounds`], then whether every bar of it is
/// [`SymbolSeries::bar_is_clean`] (`2`) or not (`1`).
const CELLS: usize = 5;

/// Per-symbol [`Bounds`] of every whole block of [`BLOCK`] bars of a market, each computed the first
/// time a scan asks for it and kept for every later scan, in any run over the same market on any
/// thread; and each symbol's funding settlements in `Decimal`, taken the first time a run settles
/// one of them. It borrows the market, so the columns cannot change under it.
///
/// A block's four bounds are stored as the bitwise complement of their `f64` bits, so that zero
/// (the complement of a `NaN` pattern, which no bound is) means "not yet computed", and so does a
/// zero clean mark. Two threads that compute the same block store the same bits.
pub struct RangeIndex<'a> {
    market: &'a Market,
    /// Per symbol (empty: an index that keeps nothing, see [`RangeIndex::none`]).
    blocks: Vec<OnceLock<Box<[AtomicU64]>>>,
    /// Per symbol, its funding settlements in `Decimal` (empty with `blocks`).
    funding: Vec<OnceLock<Box<[Settlement]>>>,
}

impl<'a> RangeIndex<'a> {
    /// An empty index of `market`: nothing is computed until a scan asks for it.
    pub fn new(market: &'a Market) -> Self {
        RangeIndex {
            market,
            blocks: (0..market.series.len()).map(|_| OnceLock::new()).collect(),
            funding: (0..market.series.len()).map(|_| OnceLock::new()).collect(),
        }
    }

    /// An index of `market` that keeps nothing: scans test every bar, as without an index. For a
    /// single run, where a block is rarely scanned twice and computing it would cost more than it
    /// saves.
    pub fn none(market: &'a Market) -> Self {
        RangeIndex {
            market,
            blocks: Vec::new(),
            funding: Vec::new(),
        }
    }

    /// [`RangeIndex::new`] when the market is to be replayed more than `1` time (the runs of a
    /// sweep, a run's counterfactuals), else [`RangeIndex::none`].
    pub fn for_replays(market: &'a Market, replays: usize) -> Self {
        if replays > 1 {
            Self::new(market)
        } else {
            Self::none(market)
        }
    }

    /// The market this index describes.
    pub fn market(&self) -> &'a Market {
        self.market
    }

    /// Computes every whole block inside each symbol's data and every funding settlement now, as
    /// a sweep's later runs find them (for benchmarks that measure that steady state).
    pub fn fill(&self) {
        for (k, s) in self.market.series.iter().enumerate() {
            let cells = self.cells(k);
            for b in s.first.div_ceil(BLOCK)..s.end / BLOCK {
                block_in(cells, s, b);
            }
            self.settlements(k);
        }
    }

    /// Symbol `k`'s funding settlements as runs apply them, converted to `Decimal` on first use
    /// (`None` for [`RangeIndex::none`]: a single run converts each where it applies it).
    #[inline]
    pub(crate) fn settlements(&self, k: usize) -> Option<&[Settlement]> {
        let cell = self.funding.get(k)?;
        Some(cell.get_or_init(|| settlements(&self.market.times, &self.market.series[k])))
    }

    /// The block cells of symbol `k` (allocated on first use; empty for [`RangeIndex::none`]).
    #[inline]
    pub(crate) fn cells(&self, k: usize) -> &[AtomicU64] {
        let Some(cells) = self.blocks.get(k) else {
            return &[];
        };
        cells.get_or_init(|| {
            let n = self.market.series[k].open.len() / BLOCK;
            (0..CELLS * n).map(|_| AtomicU64::new(0)).collect()
        })
    }
}

/// The [`Bounds`] of block `b` of `s` from its cells (see [`RangeIndex::cells`]), computed and
/// stored when not yet there. Only for blocks inside the symbol's data.
#[inline(always)]
pub(crate) fn block_in(cells: &[AtomicU64], s: &SymbolSeries, b: usize) -> Bounds {
    let c = &cells[CELLS * b..CELLS * b + 4];
    let raw = [
        c[0].load(Ordering::Relaxed),
        c[1].load(Ordering::Relaxed),
        c[2].load(Ordering::Relaxed),
        c[3].load(Ordering::Relaxed),
    ];
    if (raw[0] != 0) & (raw[1] != 0) & (raw[2] != 0) & (raw[3] != 0) {
        return raw.map(|x| f64::from_bits(!x));
    }
    store(&cells[CELLS * b..CELLS * (b + 1)], s, b).0
}

/// Whether every bar of block `b` of `s` is [`SymbolSeries::bar_is_clean`], from its cells
/// (computed and stored when not yet there). Only for blocks inside the symbol's data.
#[inline(always)]
pub(crate) fn block_clean(cells: &[AtomicU64], s: &SymbolSeries, b: usize) -> bool {
    match cells[CELLS * b + 4].load(Ordering::Relaxed) {
        0 => store(&cells[CELLS * b..CELLS * (b + 1)], s, b).1,
        mark => mark == 2,
    }
}

/// Computes block `b` of `s` and stores it in its cells `c`: its bounds and whether it is clean.
#[cold]
fn store(c: &[AtomicU64], s: &SymbolSeries, b: usize) -> (Bounds, bool) {
    debug_assert!(s.first <= b * BLOCK && (b + 1) * BLOCK <= s.end);
    let v = block_bounds(s, b);
    let clean = (0..BLOCK).all(|j| s.bar_is_clean(b * BLOCK + j));
    for (cell, x) in c.iter().zip(v) {
        cell.store(!x.to_bits(), Ordering::Relaxed);
    }
    c[4].store(if clean { 2 } else { 1 }, Ordering::Relaxed);
    (v, clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ringfence_model::{MarkColumns, Symbol};

    /// A price, or now and then a `NaN` or an infinity (missing or broken values).
    fn price() -> impl Strategy<Value = f64> {
        prop_oneof![
            20 => 90.0f64..110.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
        ]
    }

    fn series(bars: Vec<[f64; 8]>, with_mark: bool) -> SymbolSeries {
        let col = |c: usize| bars.iter().map(|b| b[c]).collect::<Vec<f64>>();
        let mark = with_mark.then(|| MarkColumns {
            open: col(4),
            high: col(5),
            low: col(6),
            close: col(7),
        });
        let symbol = Symbol::parse("BTCUSDT").unwrap();
        SymbolSeries::from_columns(symbol, [col(0), col(1), col(2), col(3)], mark)
    }

    /// A candle (open, high, low, close): mostly well-formed, now and then a gap (all `NaN`) or
    /// broken (any value, `NaN` and infinities among them).
    fn candle() -> impl Strategy<Value = [f64; 4]> {
        prop_oneof![
            30 => (95.0f64..105.0, 0.0f64..2.0, 0.0f64..2.0, 0.0f64..1.0, 0.0f64..1.0).prop_map(
                |(base, up, down, a, b)| {
                    let (h, l) = (base + up, base - down);
                    [l + a * (h - l), h, l, l + b * (h - l)]
                }
            ),
            2 => Just([f64::NAN; 4]),
            1 => prop::array::uniform4(prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                90.0f64..110.0,
            ]),
        ]
    }

    /// A threshold: mostly a price, now and then none (`NaN`) or an infinity.
    fn threshold() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => 90.0f64..110.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
        ]
    }

    /// [`scan`] (`clean` as given) finds over `from..to` the bar [`scan_bounds`] finds, for
    /// either side.
    fn scan_is_bounds(
        s: &SymbolSeries,
        from: usize,
        to: usize,
        [st, tp, lp]: [f64; 3],
        clean: bool,
    ) -> Result<(), TestCaseError> {
        use crate::engine::scan::{scan, scan_bounds};
        let t = (st, tp, lp);
        prop_assert_eq!(
            scan::<true>(s, from, to, t, clean),
            scan_bounds::<true>(s, from, to, t)
        );
        prop_assert_eq!(
            scan::<false>(s, from, to, t, clean),
            scan_bounds::<false>(s, from, to, t)
        );
        Ok(())
    }

    proptest! {
        /// A block fires exactly when one of its bars does, for either side and any thresholds
        /// (`NaN`: none), with missing values in the last and mark candles.
        #[test]
        fn a_block_fires_when_one_of_its_bars_does(
            bars in prop::collection::vec(prop::array::uniform8(price()), BLOCK),
            with_mark in any::<bool>(),
            st in prop_oneof![Just(f64::NAN), 85.0f64..115.0],
            tp in prop_oneof![Just(f64::NAN), 85.0f64..115.0],
            lp in prop_oneof![Just(f64::NAN), 85.0f64..115.0],
        ) {
            let s = series(bars, with_mark);
            let block = block_bounds(&s, 0);
            prop_assert!(block.iter().all(|x| !x.is_nan()));
            let (last, mark) = columns(&s, 0..BLOCK);
            let any = |long: bool| (0..BLOCK).any(|j| {
                let b = bar_bounds(&last, &mark, j);
                if long { fires::<true>(b, st, tp, lp) } else { fires::<false>(b, st, tp, lp) }
            });
            prop_assert_eq!(fires::<true>(block, st, tp, lp), any(true));
            prop_assert_eq!(fires::<false>(block, st, tp, lp), any(false));
        }

        /// In a block whose bars are all clean, the scan on lows and highs finds the first bar the
        /// bounds' test finds, over any part of it, for either side and any thresholds; the blocks
        /// mix well-formed candles, gaps (all `NaN`) and broken ones in both the last price and
        /// the mark.
        #[test]
        fn a_clean_block_scans_on_its_lows_and_highs(
            bars in prop::collection::vec((candle(), candle()), BLOCK),
            with_mark in any::<bool>(),
            cut in (0usize..=BLOCK, 0usize..=BLOCK),
            thresholds in prop::array::uniform3(threshold()),
        ) {
            let bars: Vec<[f64; 8]> = bars
                .into_iter()
                .map(|(a, b)| [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]])
                .collect();
            let s = series(bars, with_mark);
            let clean = s.all_bars_clean();
            let cells: Vec<AtomicU64> = (0..CELLS).map(|_| AtomicU64::new(0)).collect();
            prop_assert_eq!(block_clean(&cells, &s, 0), clean);
            prop_assert_eq!(block_clean(&cells, &s, 0), clean, "read back from the cells");
            if clean {
                let (from, to) = (cut.0.min(cut.1), cut.0.max(cut.1));
                scan_is_bounds(&s, from, to, thresholds, true)?;
            }
        }

        /// The scan's compare-only test finds the first bar the bounds' test finds, for either
        /// side, over any stretch (whole lanes of eight and a tail), with missing and infinite
        /// prices in both candles and thresholds that are `NaN`, finite or infinite.
        #[test]
        fn the_scan_finds_the_bar_the_bounds_find(
            bars in prop::collection::vec(prop::array::uniform8(prop_oneof![
                40 => 95.0f64..105.0,
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
            ]), 0..40),
            with_mark in any::<bool>(),
            cut in (0usize..40, 0usize..40),
            thresholds in prop::array::uniform3(threshold()),
        ) {
            let n = bars.len();
            let (from, to) = (cut.0.min(n), cut.1.min(n));
            let (from, to) = (from.min(to), from.max(to));
            let s = series(bars, with_mark);
            scan_is_bounds(&s, from, to, thresholds, false)?;
        }
    }
}
