//! Outcomes over paths: per-policy distributions, paired differences and fan-chart histograms.
//!
//! Everything here is a fold over small per-path records, so a stress run keeps one record per
//! path and run, never a run's trades or equity curve. Fan charts use fixed-bin histograms of
//! equity over start equity at a fixed set of times: their memory does not grow with the path
//! count, shards add up exactly (integer counts), and the result does not depend on the order in
//! which paths finish.

/// What one run on one path ended with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathOutcome {
    /// Equity at the start.
    pub start_equity: f64,
    /// Equity at the end.
    pub final_equity: f64,
    /// Maximum drawdown in percent.
    pub max_drawdown_pct: f64,
    /// Liquidation events.
    pub liquidations: u32,
    /// Liquidations at which the account's equity reached zero (the engine's count).
    pub wipeouts: u32,
    /// Lowest equity of the run's equity curve.
    pub min_equity: f64,
    /// Cross liquidations that closed two or more positions.
    pub cascades: u32,
}

impl PathOutcome {
    /// True when the account's equity reached zero on this path: at a liquidation (the engine's
    /// `wipeouts`), or anywhere on the equity curve (an account with collateral other than USDT can
    /// go below zero after its liquidations).
    pub fn wiped(&self) -> bool {
        self.wipeouts > 0 || self.min_equity <= 0.0
    }
}

/// Quantile `q` (0–1) of sorted values, linear between order statistics (R's type 7); `NaN` when
/// empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// The 95 % Wilson score interval of a proportion `k / n` (`(0, 1)` when `n = 0`).
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let centre = p + z * z / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let d = 1.0 + z * z / n;
    let lo = if k == 0.0 {
        0.0
    } else {
        ((centre - half) / d).max(0.0)
    };
    let hi = if k == n {
        1.0
    } else {
        ((centre + half) / d).min(1.0)
    };
    (lo, hi)
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// The distribution of one run (account × policy × sweep point) over the paths.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// Paths.
    pub paths: u64,
    /// Paths on which the account was wiped out.
    pub wipeouts: u64,
    /// Share of paths wiped out.
    pub p_wipeout: f64,
    /// 95 % Wilson interval of `p_wipeout`.
    pub p_wipeout_ci: (f64, f64),
    /// Share of paths with at least one liquidation.
    pub p_liquidated: f64,
    /// Mean liquidation events per path.
    pub mean_liquidations: f64,
    /// Median of the maximum drawdown (percent).
    pub max_drawdown_median: f64,
    /// 95th percentile of the maximum drawdown (percent).
    pub max_drawdown_p95: f64,
    /// Final equity: 5th percentile, median, 95th percentile.
    pub final_equity: [f64; 3],
    /// Mean final equity.
    pub final_equity_mean: f64,
}

/// The distribution of `outcomes` (one per path).
pub fn distribution(outcomes: &[PathOutcome]) -> Distribution {
    let n = outcomes.len() as u64;
    let wiped = outcomes.iter().filter(|o| o.wiped()).count() as u64;
    let liquidated = outcomes.iter().filter(|o| o.liquidations > 0).count() as u64;
    let finals = sorted(outcomes.iter().map(|o| o.final_equity).collect());
    let dd = sorted(outcomes.iter().map(|o| o.max_drawdown_pct).collect());
    let nf = (n.max(1)) as f64;
    Distribution {
        paths: n,
        wipeouts: wiped,
        p_wipeout: wiped as f64 / nf,
        p_wipeout_ci: wilson(wiped, n),
        p_liquidated: liquidated as f64 / nf,
        mean_liquidations: outcomes
            .iter()
            .map(|o| f64::from(o.liquidations))
            .sum::<f64>()
            / nf,
        max_drawdown_median: quantile(&dd, 0.5),
        max_drawdown_p95: quantile(&dd, 0.95),
        final_equity: [
            quantile(&finals, 0.05),
            quantile(&finals, 0.5),
            quantile(&finals, 0.95),
        ],
        final_equity_mean: finals.iter().sum::<f64>() / nf,
    }
}

/// `a − b` on the same paths (e.g. cross − isolated).
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// Paths compared.
    pub paths: u64,
    /// `P(a wiped out) − P(b wiped out)`.
    pub wipeout_diff: f64,
    /// 95 % interval of `wipeout_diff` (normal approximation on the per-path differences, which
    /// are −1, 0 or 1).
    pub wipeout_diff_ci: (f64, f64),
    /// Paths where only `a` was wiped out.
    pub only_a_wiped: u64,
    /// Paths where only `b` was wiped out.
    pub only_b_wiped: u64,
    /// Final equity `a − b`: 5th percentile, median, 95th percentile.
    pub final_diff: [f64; 3],
    /// Mean of final equity `a − b`, with its 95 % interval (normal approximation).
    pub final_diff_mean: (f64, f64, f64),
    /// Share of paths where `a` ended with less than `b`.
    pub a_lower_share: f64,
}

/// The paired comparison of `a` and `b`, which hold one outcome per path in the same path order.
pub fn paired(a: &[PathOutcome], b: &[PathOutcome]) -> Paired {
    let n = a.len().min(b.len());
    let nf = n.max(1) as f64;
    let wd: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(u8::from(x.wiped())) - f64::from(u8::from(y.wiped())))
        .collect();
    let fd: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.final_equity - y.final_equity)
        .collect();
    let ci = |v: &[f64]| -> (f64, f64, f64) {
        let m = v.iter().sum::<f64>() / nf;
        if v.len() < 2 {
            return (m, m, m);
        }
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64;
        let half = 1.959_963_984_540_054 * (var / v.len() as f64).sqrt();
        (m, m - half, m + half)
    };
    let (wm, wl, wh) = ci(&wd);
    let fs = sorted(fd.clone());
    Paired {
        paths: n as u64,
        wipeout_diff: wm,
        wipeout_diff_ci: (wl, wh),
        only_a_wiped: wd.iter().filter(|&&d| d > 0.0).count() as u64,
        only_b_wiped: wd.iter().filter(|&&d| d < 0.0).count() as u64,
        final_diff: [quantile(&fs, 0.05), quantile(&fs, 0.5), quantile(&fs, 0.95)],
        final_diff_mean: ci(&fd),
        a_lower_share: fd.iter().filter(|&&d| d < 0.0).count() as f64 / nf,
    }
}

/// Fixed-bin histograms of `equity / start equity` at `points` times, for one run over all paths.
///
/// Bin 0 holds ratios at or below [`FanHistogram::LOW`] (including wiped-out accounts); bins
/// `1..BINS-1` split `ln(ratio)` evenly over `[ln LOW, ln HIGH)` (2 % wide); the last bin holds
/// ratios at or above `HIGH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanHistogram {
    /// Number of time points.
    pub points: usize,
    /// `points × BINS` counts, point-major.
    pub counts: Vec<u64>,
}

impl FanHistogram {
    /// Bins per time point.
    pub const BINS: usize = 462;
    /// Lowest ratio with its own bin.
    pub const LOW: f64 = 0.01;
    /// Highest ratio with its own bin.
    pub const HIGH: f64 = 100.0;

    /// Empty histograms for `points` time points.
    pub fn new(points: usize) -> Self {
        FanHistogram {
            points,
            counts: vec![0; points * Self::BINS],
        }
    }

    fn width() -> f64 {
        (Self::HIGH / Self::LOW).ln() / (Self::BINS - 2) as f64
    }

    /// The bin of a ratio.
    pub fn bin(ratio: f64) -> usize {
        if ratio.is_nan() || ratio <= Self::LOW {
            return 0;
        }
        if ratio >= Self::HIGH {
            return Self::BINS - 1;
        }
        let k = ((ratio / Self::LOW).ln() / Self::width()) as usize;
        (1 + k).min(Self::BINS - 2)
    }

    /// The ratio a bin stands for: 0 for bin 0, `HIGH` for the last, else the geometric midpoint.
    pub fn value(bin: usize) -> f64 {
        match bin {
            0 => 0.0,
            b if b >= Self::BINS - 1 => Self::HIGH,
            b => Self::LOW * (((b - 1) as f64 + 0.5) * Self::width()).exp(),
        }
    }

    /// Adds one path's ratios, one per time point.
    pub fn add(&mut self, ratios: &[f64]) {
        for (p, &r) in ratios.iter().enumerate().take(self.points) {
            self.counts[p * Self::BINS + Self::bin(r)] += 1;
        }
    }

    /// Adds another histogram of the same shape (a shard's).
    pub fn merge(&mut self, other: &FanHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Quantile `q` of the ratio at time point `p` (the value of the bin holding it); `NaN` when
    /// the point holds no path.
    pub fn quantile(&self, p: usize, q: f64) -> f64 {
        let row = &self.counts[p * Self::BINS..(p + 1) * Self::BINS];
        let n: u64 = row.iter().sum();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in row.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(b);
            }
        }
        Self::value(Self::BINS - 1)
    }
}

/// Equity over start equity at each of `points` (ms): the last curve value at or before the point,
/// 1 before the first one. `curve` is `(time, equity)` in time order.
pub fn ratios_at(curve: &[(i64, f64)], start_equity: f64, points: &[i64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(points.len());
    let mut k = 0;
    let mut last = start_equity;
    for &t in points {
        while k < curve.len() && curve[k].0 <= t {
            last = curve[k].1;
            k += 1;
        }
        out.push(if start_equity > 0.0 {
            last / start_equity
        } else {
            f64::NAN
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(final_equity: f64, wipeouts: u32) -> PathOutcome {
        PathOutcome {
            start_equity: 100.0,
            final_equity,
            max_drawdown_pct: 100.0 - final_equity.min(100.0),
            liquidations: wipeouts,
            wipeouts,
            min_equity: final_equity.min(100.0),
            cascades: 0,
        }
    }

    #[test]
    fn quantiles_interpolate_like_r_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.05), 1.2);
        assert_eq!(quantile(&v, 0.95), 4.8);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn wilson_matches_a_worked_value() {
        // 10 of 100: the textbook 95 % Wilson interval is 0.0552 .. 0.1744
        let (lo, hi) = wilson(10, 100);
        assert!(
            (lo - 0.0552).abs() < 1e-4 && (hi - 0.1744).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 50);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.0714).abs() < 1e-4, "{hi}");
    }

    #[test]
    fn distribution_and_pairs() {
        let cross = [o(0.0, 1), o(120.0, 0), o(0.0, 1), o(90.0, 0)];
        let iso = [o(80.0, 0), o(110.0, 0), o(0.0, 1), o(95.0, 0)];
        let d = distribution(&cross);
        assert_eq!((d.paths, d.wipeouts, d.p_wipeout), (4, 2, 0.5));
        assert_eq!(d.final_equity[1], 45.0);
        let p = paired(&cross, &iso);
        assert_eq!(p.wipeout_diff, 0.25);
        assert_eq!((p.only_a_wiped, p.only_b_wiped), (1, 0));
        assert_eq!(p.a_lower_share, 0.5);
        assert_eq!(p.final_diff[1], (-5.0 + 0.0) / 2.0);
    }

    #[test]
    fn histogram_quantiles_within_a_bin_and_shards_add_up() {
        let mut all = FanHistogram::new(2);
        let (mut a, mut b) = (FanHistogram::new(2), FanHistogram::new(2));
        for k in 0..1000 {
            let r = [0.5 + k as f64 / 1000.0, if k % 10 == 0 { 0.0 } else { 1.0 }];
            all.add(&r);
            if k % 3 == 0 { a.add(&r) } else { b.add(&r) }
        }
        a.merge(&b);
        assert_eq!(a, all);
        let med = all.quantile(0, 0.5);
        assert!((med / 1.0 - 1.0).abs() < 0.02, "{med}");
        assert_eq!(all.quantile(1, 0.05), 0.0);
        assert!((all.quantile(1, 0.5) - 1.0).abs() < 0.02);
        assert_eq!(FanHistogram::bin(1e9), FanHistogram::BINS - 1);
    }

    #[test]
    fn ratios_follow_the_curve() {
        let curve = [(10, 110.0), (20, 50.0), (30, 0.0)];
        assert_eq!(
            ratios_at(&curve, 100.0, &[0, 10, 25, 40]),
            vec![1.0, 1.1, 0.5, 0.0]
        );
    }
}
