//! The floor kernel and the work count: the least work that touches the same bars as the engine.

use ringfence_model::{Market, RunResult};

/// One position's life on the grid: symbol index and the bars `[first, last]` it was open in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Index in [`Market::series`].
    pub sym: usize,
    /// First bar (the bar of the fill).
    pub first: usize,
    /// Last bar (the bar of the final exit), inclusive.
    pub last: usize,
}

/// The spans of every trade of a run (trades on symbols absent from `market` are ignored).
pub fn spans(market: &Market, result: &RunResult) -> Vec<Span> {
    let last_bar = market.len().saturating_sub(1);
    result
        .trades
        .iter()
        .filter_map(|t| {
            let sym = market.symbol_index(&t.symbol)?;
            let first = bar_of(market, t.open_time);
            let last = bar_of(market, t.close_time).max(first).min(last_bar);
            Some(Span { sym, first, last })
        })
        .collect()
}

/// The bar holding time `t` (the last bar opening at or before it).
fn bar_of(market: &Market, t: i64) -> usize {
    market.times.partition_point(|&x| x <= t).saturating_sub(1)
}

/// Position-bar updates of a run: Σ over positions of the bars they were open in.
pub fn position_bars(spans: &[Span]) -> u64 {
    spans.iter().map(|s| (s.last - s.first + 1) as u64).sum()
}

/// The floor kernel: for every span, the lowest low and highest high of the last and mark prices
/// over its bars (what any engine must at least read to know whether a threshold was touched).
/// Returns a checksum so the work cannot be optimised away.
pub fn floor_kernel(market: &Market, spans: &[Span]) -> f64 {
    let mut acc = 0.0;
    for sp in spans {
        let s = &market.series[sp.sym];
        let r = sp.first..sp.last + 1;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (l, h) in s.low[r.clone()].iter().zip(&s.high[r.clone()]) {
            lo = lo.min(*l);
            hi = hi.max(*h);
        }
        if let Some(m) = &s.mark {
            for (l, h) in m.low[r.clone()].iter().zip(&m.high[r]) {
                lo = lo.min(*l);
                hi = hi.max(*h);
            }
        }
        acc += hi - lo;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload;

    #[test]
    fn spans_cover_every_trade_and_the_floor_sees_their_range() {
        let w = workload::isolated_heavy(8, 400, None);
        let r = ringfence_sim::simulate(
            &w.market,
            &w.brackets,
            &w.signals,
            &w.account,
            &w.policy,
            &w.cfg,
        )
        .expect("synthetic workload runs");
        let sp = spans(&w.market, &r);
        assert_eq!(sp.len(), r.trades.len());
        assert!(sp.iter().all(|s| s.first <= s.last && s.last < 400));
        let n = position_bars(&sp);
        assert!(n >= sp.len() as u64);
        // with wide calls most symbols stay open: well over a bar per position on average
        assert!(n > 4 * 400, "position bars {n}");
        assert!(floor_kernel(&w.market, &sp) > 0.0);
    }
}
