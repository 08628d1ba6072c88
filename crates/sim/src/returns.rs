//! Return series and rolling correlations of one market, computed once and shared by every run of a
//! sweep (read-only after a lazy fill, so the runs of a rayon pool share one copy).
//!
//! The values are the ones [`crate::engine::correlation`] computes on the fly, bit for bit: the same
//! `ln(close[j] / close[j-1])`, the same pairs, the same summation order. Only the place they are
//! computed changes: a symbol's log returns once per market instead of once per point, pair and run,
//! and a pair's rolling correlation once per (pair, bar) instead of once per equity point and run.

use ringfence_model::Market;
use std::sync::OnceLock;

/// Bars per lazily computed block of one pair's rolling correlations.
const BLOCK: usize = 2048;

/// One pair's rolling correlations: blocks of [`BLOCK`] bars, each computed when first read
/// (NaN = none).
type PairBlocks = OnceLock<Box<[OnceLock<Box<[f64]>>]>>;

/// Log returns and rolling return correlations of a market's symbols, filled lazily and shared.
///
/// `returns(k)[j] = ln(close[j] / close[j-1])` of symbol `k` (aligned with the market grid; entries
/// outside the symbol's data are unused). [`MarketStats::correlation`] is the Pearson correlation of
/// two symbols' returns over the `window` bars before bar `i`, exactly as
/// [`crate::engine::correlation`] gives it.
pub struct MarketStats<'a> {
    market: &'a Market,
    window: usize,
    returns: Vec<OnceLock<Box<[f64]>>>,
    /// `pairs[a * n + b]` (a < b): blocks of `BLOCK` correlations (NaN = none).
    pairs: Vec<PairBlocks>,
}

impl<'a> MarketStats<'a> {
    /// Statistics of `market` for rolling correlations over `window` bars. Nothing is computed
    /// until it is asked for.
    pub fn new(market: &'a Market, window: usize) -> Self {
        let n = market.series.len();
        MarketStats {
            market,
            window,
            returns: (0..n).map(|_| OnceLock::new()).collect(),
            pairs: (0..n * n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The market these statistics describe.
    pub fn market(&self) -> &'a Market {
        self.market
    }

    /// The correlation window (bars) of [`MarketStats::correlation`].
    pub fn window(&self) -> usize {
        self.window
    }

    /// Close-to-close log returns of symbol `k`, indexed like the market grid.
    pub fn returns(&self, k: usize) -> &[f64] {
        self.returns[k].get_or_init(|| {
            let s = &self.market.series[k];
            let mut r = vec![f64::NAN; s.end.max(s.first)];
            if s.end > s.first {
                for (j, x) in r.iter_mut().enumerate().take(s.end).skip(s.first + 1) {
                    *x = (s.close[j] / s.close[j - 1]).ln();
                }
            }
            r.into_boxed_slice()
        })
    }

    /// Pearson correlation of the log returns of symbols `a` and `b` over the `window` bars before
    /// bar `i`; `None` when fewer than 3 returns are available. Computed once per (pair, bar).
    pub fn correlation(&self, a: usize, b: usize, i: usize) -> Option<f64> {
        if a == b {
            return Some(1.0);
        }
        let n = self.market.series.len();
        // Pearson's r is symmetric bit for bit (products and sums commute), so one table per pair.
        let (lo, hi) = (a.min(b), a.max(b));
        let blocks = self.pairs[lo * n + hi].get_or_init(|| {
            (0..self.market.len().div_ceil(BLOCK))
                .map(|_| OnceLock::new())
                .collect()
        });
        let Some(block) = blocks.get(i / BLOCK) else {
            return self.correlation_at(lo, hi, i, &mut Vec::new(), &mut Vec::new());
        };
        let values = block.get_or_init(|| {
            let start = (i / BLOCK) * BLOCK;
            let end = (start + BLOCK).min(self.market.len());
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            (start..end)
                .map(|j| {
                    self.correlation_at(lo, hi, j, &mut xs, &mut ys)
                        .unwrap_or(f64::NAN)
                })
                .collect()
        });
        let v = values[i % BLOCK];
        (!v.is_nan()).then_some(v)
    }

    /// The correlation of `a` and `b` over any `window` bars before bar `i`, from the cached
    /// returns but not cached itself (for a few values, or another window).
    pub(crate) fn correlation_over(
        &self,
        a: usize,
        b: usize,
        i: usize,
        window: usize,
    ) -> Option<f64> {
        if a == b {
            return Some(1.0);
        }
        self.window_correlation(a, b, i, window, &mut Vec::new(), &mut Vec::new())
    }

    /// [`MarketStats::correlation`] computed from the cached returns (`xs`, `ys`: scratch space).
    fn correlation_at(
        &self,
        a: usize,
        b: usize,
        i: usize,
        xs: &mut Vec<f64>,
        ys: &mut Vec<f64>,
    ) -> Option<f64> {
        self.window_correlation(a, b, i, self.window, xs, ys)
    }

    fn window_correlation(
        &self,
        a: usize,
        b: usize,
        i: usize,
        window: usize,
        xs: &mut Vec<f64>,
        ys: &mut Vec<f64>,
    ) -> Option<f64> {
        let (sa, sb) = (&self.market.series[a], &self.market.series[b]);
        let start = i.saturating_sub(window).max(sa.first).max(sb.first);
        let end = i.min(sa.end).min(sb.end);
        xs.clear();
        ys.clear();
        if start + 1 < end {
            let (ra, rb) = (self.returns(a), self.returns(b));
            let (wa, wb) = (&ra[start + 1..end], &rb[start + 1..end]);
            // The common case, every return of the window finite: no copy.
            if wa.iter().chain(wb).all(|v| v.is_finite()) {
                return pearson(wa, wb);
            }
            for (&x, &y) in wa.iter().zip(wb) {
                if x.is_finite() && y.is_finite() {
                    xs.push(x);
                    ys.push(y);
                }
            }
        }
        pearson(xs, ys)
    }
}

/// Pearson correlation of `xs` and `ys` (finite, of one length); `None` with fewer than 3 pairs
/// or no variance. Means first, then centred sums, in order: the one formula behind every return
/// correlation in this crate.
pub(crate) fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() < 3 {
        return None;
    }
    let n = xs.len() as f64;
    // Both sums in one pass (each still left to right, as `Iterator::sum`): the two dependency
    // chains overlap.
    let (mut sx, mut sy) = (-0.0, -0.0);
    for (x, y) in xs.iter().zip(ys) {
        sx += x;
        sy += y;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ringfence_model::{Funding, Symbol, SymbolSeries};

    /// A series whose bars are all at `closes` (open = high = low = close), data from `first`.
    pub(crate) fn series(name: &str, first: usize, closes: &[f64]) -> SymbolSeries {
        SymbolSeries {
            symbol: Symbol::parse(name).unwrap(),
            first,
            end: closes.len(),
            open: closes.to_vec(),
            high: closes.to_vec(),
            low: closes.to_vec(),
            close: closes.to_vec(),
            volume: None,
            mark: None,
            funding: Funding::default(),
        }
    }

    /// A seeded walk with a gap (NaN close) and a zero close (an infinite return).
    fn walk(seed: u64, n: usize) -> Vec<f64> {
        let mut x = seed;
        let mut p = 100.0;
        (0..n)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                p *= 1.0 + ((x >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.02;
                match i {
                    700 => f64::NAN,
                    1500 => 0.0,
                    _ => p,
                }
            })
            .collect()
    }

    #[test]
    fn cached_correlations_equal_the_engine_bit_for_bit() {
        let n = 5000;
        let market = Market {
            timeframe_ms: 3_600_000,
            times: (0..n as i64).map(|i| i * 3_600_000).collect(),
            series: vec![
                series("AAAUSDT", 0, &walk(1, n)),
                series("BBBUSDT", 40, &walk(2, n)),
                series("CCCUSDT", 0, &walk(3, n)),
            ],
            lower: None,
            warnings: Vec::new(),
        };
        for window in [3, 72, 500] {
            let stats = MarketStats::new(&market, window);
            for (a, b) in [(0, 1), (1, 0), (0, 2), (2, 1), (1, 1)] {
                for i in (0..n).step_by(7).chain([0, 1, 2, 41, 42, 43, n - 1]) {
                    let engine = crate::engine::correlation(&market, a, b, i, window);
                    let shared = stats.correlation(a, b, i);
                    assert_eq!(
                        engine.map(f64::to_bits),
                        shared.map(f64::to_bits),
                        "pair ({a}, {b}) bar {i} window {window}"
                    );
                    let other = crate::engine::correlation(&market, a, b, i, window + 5);
                    assert_eq!(
                        other.map(f64::to_bits),
                        stats
                            .correlation_over(a, b, i, window + 5)
                            .map(f64::to_bits),
                        "uncached, pair ({a}, {b}) bar {i} window {}",
                        window + 5
                    );
                }
            }
        }
    }
}
