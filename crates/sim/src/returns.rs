//! Return series and rolling correlations of one market, computed once and shared by every run of a
//! sweep (read-only after a lazy fill, so the runs of a rayon pool share one copy).
//!
//! A symbol's log returns are `ln(close[j] / close[j-1])`, as [`crate::engine::correlation`] takes
//! them, computed once per market instead of once per point, pair and run.
//!
//! A pair's rolling correlation ([`MarketStats::correlation`], the annotation's) is computed once per
//! (pair, bar) and **incrementally**: running sums of the window's returns, shifted by the window's
//! means at an anchor, updated as the window slides one bar. They are re-anchored (summed again
//! from scratch with [`pearson`], whose value is then used as is) every `max(window, 16)` bars
//! added, and whenever the centred sums are not large enough against everything summed since the
//! anchor ([`GUARD`]) to trust them to about 1e-12. So the values differ from the exact two-pass
//! formula ([`crate::engine::correlation`], which the checklist still uses) only in the last
//! digits: within [`MarketStats::tolerance`], `64 × max(window, 16) × f64::EPSILON` (1.0e-12 at 72
//! bars; the bound is derived at [`Rolling`]); property-tested against it.

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
/// two symbols' returns over the `window` bars before bar `i`, slid incrementally: within
/// [`MarketStats::tolerance`] of [`crate::engine::correlation`]'s exact value.
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

    /// How far [`MarketStats::correlation`] may be from the exact two-pass value (the bound of
    /// [`Rolling`], rounded up): `64 × max(window, 16) × ε`, 1.0e-12 at 72 bars.
    pub fn tolerance(&self) -> f64 {
        64.0 * self.window.max(16) as f64 * f64::EPSILON
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
    /// bar `i`; `None` when fewer than 3 returns are available. Computed once per (pair, bar),
    /// incrementally ([`Rolling`]): within [`MarketStats::tolerance`] of the exact two-pass value.
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
            return self.window_correlation(
                lo,
                hi,
                i,
                self.window,
                &mut Vec::new(),
                &mut Vec::new(),
            );
        };
        let values = block.get_or_init(|| {
            let start = (i / BLOCK) * BLOCK;
            self.rolling(lo, hi, start, (start + BLOCK).min(self.market.len()))
        });
        let v = values[i % BLOCK];
        (!v.is_nan()).then_some(v)
    }

    /// The window `lo..hi` of return indices behind the correlation of `a` and `b` at bar `i`
    /// (empty when `lo >= hi`): the `window` bars before `i` where both symbols have data.
    fn span(&self, a: usize, b: usize, i: usize, window: usize) -> (usize, usize) {
        let (sa, sb) = (&self.market.series[a], &self.market.series[b]);
        let start = i.saturating_sub(window).max(sa.first).max(sb.first);
        (start + 1, i.min(sa.end).min(sb.end))
    }

    /// The rolling correlations of `a` and `b` at bars `start..end` (NaN = none), slid
    /// incrementally and re-anchored as [`Rolling`] says.
    fn rolling(&self, a: usize, b: usize, start: usize, end: usize) -> Box<[f64]> {
        let (ra, rb) = (self.returns(a), self.returns(b));
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        // Sums added since an anchor before it is taken again: about one window's worth.
        let every = self.window.max(16);
        let mut roll: Option<Rolling> = None;
        (start..end)
            .map(|j| {
                let (lo, hi) = self.span(a, b, j, self.window);
                let slid = roll.as_mut().filter(|r| r.added < every).and_then(|r| {
                    r.slide(ra, rb, lo, hi);
                    r.value()
                });
                let value = match slid {
                    Some(v) => v,
                    None => {
                        let (pairs_x, pairs_y) = finite_pairs(ra, rb, lo, hi, &mut xs, &mut ys);
                        let anchored = Rolling::anchor(pairs_x, pairs_y, lo, hi);
                        let v = anchored.exact;
                        roll = Some(anchored);
                        v
                    }
                };
                value.unwrap_or(f64::NAN)
            })
            .collect()
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

    /// The exact correlation of `a` and `b` over the `window` bars before bar `i` (`xs`, `ys`:
    /// scratch space), as [`crate::engine::correlation`] gives it.
    fn window_correlation(
        &self,
        a: usize,
        b: usize,
        i: usize,
        window: usize,
        xs: &mut Vec<f64>,
        ys: &mut Vec<f64>,
    ) -> Option<f64> {
        let (lo, hi) = self.span(a, b, i, window);
        let (wa, wb) = finite_pairs(self.returns(a), self.returns(b), lo, hi, xs, ys);
        pearson(wa, wb)
    }
}

/// The pairs of `ra[lo..hi]`, `rb[lo..hi]` whose returns are both finite: the slices themselves
/// when all are (the common case, no copy), else copied into `xs`, `ys`.
fn finite_pairs<'s>(
    ra: &'s [f64],
    rb: &'s [f64],
    lo: usize,
    hi: usize,
    xs: &'s mut Vec<f64>,
    ys: &'s mut Vec<f64>,
) -> (&'s [f64], &'s [f64]) {
    xs.clear();
    ys.clear();
    if lo < hi {
        let (wa, wb) = (&ra[lo..hi], &rb[lo..hi]);
        if wa.iter().chain(wb).all(|v| v.is_finite()) {
            return (wa, wb);
        }
        for (&x, &y) in wa.iter().zip(wb) {
            if x.is_finite() && y.is_finite() {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    (xs, ys)
}

/// Below this share of everything summed since the anchor, centred sums of a [`Rolling`] window
/// are not trusted and the window is summed again from scratch.
const GUARD: f64 = 0.125;

/// Running sums of one pair's returns over a sliding window (finite pairs only), shifted by the
/// window's means at the anchor (`cx`, `cy`) so that they stay small.
///
/// Each slide adds and removes the same rounded terms (`x - cx` and its products are computed the
/// same way both times), so the sums only carry the rounding of the additions themselves: at most
/// `ops × ε × A` on a sum of squares where `A` is everything added to it since the anchor
/// (`axx`, `ayy`) and `ops` the additions and removals since then (at most `3 × window` bars'
/// worth with re-anchoring every window). [`Rolling::value`] trusts the sums only while the
/// centred sums are at least [`GUARD`] of `A` (otherwise the caller re-anchors), which bounds the
/// relative error of each centred sum by `ops × ε / GUARD`, and that of the correlation by about
/// twice that: `~50 × window × ε`, 8e-13 at 72 bars.
struct Rolling {
    /// The return indices `lo..hi` in the sums.
    lo: usize,
    hi: usize,
    /// Finite pairs in the sums.
    n: usize,
    cx: f64,
    cy: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
    /// Everything added to `sxx` and `syy` since the anchor (their error scale).
    axx: f64,
    ayy: f64,
    /// Pairs added since the anchor.
    added: usize,
    /// The exact correlation of the anchor's window ([`pearson`]'s value).
    exact: Option<f64>,
}

impl Rolling {
    /// Sums of the finite pairs `xs`, `ys` of the window `lo..hi`, centred on their means exactly
    /// as [`pearson`] centres them; `exact` is [`pearson`]'s value, bit for bit.
    fn anchor(xs: &[f64], ys: &[f64], lo: usize, hi: usize) -> Rolling {
        let c = Centred::of(xs, ys);
        Rolling {
            lo,
            hi,
            n: xs.len(),
            cx: c.mx,
            cy: c.my,
            sx: xs.iter().map(|x| x - c.mx).sum(),
            sy: ys.iter().map(|y| y - c.my).sum(),
            sxx: c.sxx,
            syy: c.syy,
            sxy: c.sxy,
            axx: c.sxx,
            ayy: c.syy,
            added: 0,
            exact: c.pearson(),
        }
    }

    /// Slides the window to `lo..hi` (both ends only move forward).
    fn slide(&mut self, ra: &[f64], rb: &[f64], lo: usize, hi: usize) {
        for k in self.lo..lo.min(self.hi) {
            let (x, y) = (ra[k], rb[k]);
            if x.is_finite() && y.is_finite() {
                let (dx, dy) = (x - self.cx, y - self.cy);
                self.n -= 1;
                self.sx -= dx;
                self.sy -= dy;
                self.sxx -= dx * dx;
                self.syy -= dy * dy;
                self.sxy -= dx * dy;
            }
        }
        for k in self.hi.max(lo)..hi {
            let (x, y) = (ra[k], rb[k]);
            if x.is_finite() && y.is_finite() {
                let (dx, dy) = (x - self.cx, y - self.cy);
                self.n += 1;
                self.added += 1;
                self.sx += dx;
                self.sy += dy;
                self.sxx += dx * dx;
                self.syy += dy * dy;
                self.sxy += dx * dy;
                self.axx += dx * dx;
                self.ayy += dy * dy;
            }
        }
        self.lo = lo;
        self.hi = hi;
    }

    /// The correlation of the current window, or `None` when the sums cannot be trusted (fewer
    /// than 3 pairs, or centred sums too small against their error scale: re-anchor).
    fn value(&self) -> Option<Option<f64>> {
        if self.n < 3 {
            return None;
        }
        let n = self.n as f64;
        let cxx = self.sxx - self.sx * self.sx / n;
        let cyy = self.syy - self.sy * self.sy / n;
        if !(cxx > GUARD * self.axx && cyy > GUARD * self.ayy) {
            return None;
        }
        let cxy = self.sxy - self.sx * self.sy / n;
        Some(Some(cxy / (cxx * cyy).sqrt()))
    }
}

/// The two-pass sums of [`pearson`]: means, then centred sums, in order.
struct Centred {
    mx: f64,
    my: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
    n: usize,
}

impl Centred {
    fn of(xs: &[f64], ys: &[f64]) -> Centred {
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
        Centred {
            mx,
            my,
            sxx,
            syy,
            sxy,
            n: xs.len(),
        }
    }

    fn pearson(&self) -> Option<f64> {
        (self.n >= 3 && self.sxx > 0.0 && self.syy > 0.0)
            .then(|| self.sxy / (self.sxx * self.syy).sqrt())
    }
}

/// Pearson correlation of `xs` and `ys` (finite, of one length); `None` with fewer than 3 pairs
/// or no variance. Means first, then centred sums, in order: the one exact formula behind every
/// return correlation in this crate (the rolling one re-anchors on it).
pub(crate) fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    if xs.len() < 3 {
        return None;
    }
    Centred::of(xs, ys).pearson()
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
            clean: false,
        }
    }

    /// A seeded walk with a gap (NaN close) and a zero close (an infinite return).
    pub(crate) fn walk(seed: u64, n: usize) -> Vec<f64> {
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

    fn market_of(series: Vec<SymbolSeries>) -> Market {
        let n = series[0].close.len();
        Market {
            timeframe_ms: 3_600_000,
            times: (0..n as i64).map(|i| i * 3_600_000).collect(),
            series,
            lower: None,
            warnings: Vec::new(),
        }
    }

    /// `stats.correlation` against the engine's exact value at every bar: both none or within
    /// [`MarketStats::tolerance`]; returns the largest difference.
    fn check_rolling(market: &Market, window: usize, pairs: &[(usize, usize)]) -> f64 {
        let stats = MarketStats::new(market, window);
        let mut worst: f64 = 0.0;
        for &(a, b) in pairs {
            for i in 0..market.len() {
                let exact = crate::engine::correlation(market, a, b, i, window);
                let rolled = stats.correlation(a, b, i);
                match (exact, rolled) {
                    (None, None) => {}
                    (Some(x), Some(y)) => {
                        worst = worst.max((x - y).abs());
                        assert!(
                            (x - y).abs() <= stats.tolerance(),
                            "pair ({a}, {b}) bar {i} window {window}: exact {x}, rolling {y}"
                        );
                    }
                    other => panic!("pair ({a}, {b}) bar {i} window {window}: {other:?}"),
                }
            }
        }
        worst
    }

    #[test]
    fn rolling_correlations_stay_within_the_tolerance_of_the_engine() {
        let n = 5000;
        let market = market_of(vec![
            series("AAAUSDT", 0, &walk(1, n)),
            series("BBBUSDT", 40, &walk(2, n)),
            series("CCCUSDT", 0, &walk(3, n)),
        ]);
        for window in [3, 72, 500] {
            check_rolling(&market, window, &[(0, 1), (1, 0), (0, 2), (2, 1)]);
            let stats = MarketStats::new(&market, window);
            for (a, b) in [(0, 1), (1, 0), (0, 2), (2, 1), (1, 1)] {
                // Symmetric bit for bit, whichever order asks first.
                for i in (0..n).step_by(7).chain([0, 1, 2, 41, 42, 43, n - 1]) {
                    assert_eq!(
                        stats.correlation(a, b, i).map(f64::to_bits),
                        stats.correlation(b, a, i).map(f64::to_bits)
                    );
                    // The uncached correlation over another window is the exact one.
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

    #[test]
    fn a_spike_leaving_the_window_and_flat_stretches_fall_back_to_the_exact_sums() {
        // A 50 % jump and back (returns ~100× the usual), then a flat stretch (no variance: none),
        // then a walk again.
        let n = 3000;
        let mut a = walk(4, n);
        let b = walk(5, n);
        a[1000] *= 1.5;
        for p in &mut a[2000..2300] {
            *p = 100.0;
        }
        let market = market_of(vec![series("AAAUSDT", 0, &a), series("BBBUSDT", 0, &b)]);
        for window in [10, 72, 200] {
            check_rolling(&market, window, &[(0, 1)]);
            let stats = MarketStats::new(&market, window);
            assert_eq!(stats.correlation(0, 1, 2200), None);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Random walks (volatility regimes, a common factor, gaps, flat stretches, late starts)
        /// and windows: the rolling correlation is none exactly when the exact one is, and within
        /// [`MarketStats::tolerance`] of it otherwise.
        #[test]
        fn rolling_correlation_is_within_tolerance_of_the_exact_formula(
            seed in 0u64..1_000_000,
            window in 3usize..300,
            n in 50usize..3000,
            vol in proptest::collection::vec(1e-5f64..0.2, 1..6),
            beta in -2.0f64..2.0,
            first_b in 0usize..100,
            holes in proptest::collection::vec((0usize..3000, 1usize..40, 0u8..3), 0..6),
        ) {
            let mut x = seed;
            let mut next = || {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            };
            let (mut pa, mut pb) = (100.0, 3.0);
            let (mut ca, mut cb) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for i in 0..n {
                let v = vol[i * vol.len() / n];
                let common = next() * v;
                pa *= (common + next() * v * 0.5).exp();
                pb *= (beta * common + next() * v).exp();
                ca.push(pa);
                cb.push(pb);
            }
            for &(at, len, kind) in &holes {
                for i in at..(at + len).min(n) {
                    match kind {
                        0 => ca[i] = f64::NAN,
                        1 => cb[i] = ca[at.min(n - 1)],
                        _ => cb[i] = 0.0,
                    }
                }
            }
            let market = market_of(vec![
                series("AAAUSDT", 0, &ca),
                series("BBBUSDT", first_b.min(n - 1), &cb),
            ]);
            check_rolling(&market, window, &[(0, 1)]);
        }
    }
}
