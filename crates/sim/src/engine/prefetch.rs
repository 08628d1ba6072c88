//! Cache-line prefetch hints: the engine asks for the lines an event will read (a call's
//! record, its symbol's candles at the bar, the candles of the positions due there) before it
//! handles the event, so that these first reads of cold memory overlap instead of waiting one
//! after another; `Values::settle` asks for the closes a little ahead of its
//! sums. A hint changes no result; off x86-64 it does nothing.

use ringfence_model::SymbolSeries;

/// Hints the cache line holding `x`.
#[inline(always)]
pub(super) fn line<T>(x: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    safe_arch::prefetch_t0(x);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = x;
}

/// Hints element `i` of `v`, when it has one.
#[inline(always)]
pub(super) fn at<T>(v: &[T], i: usize) {
    if let Some(x) = v.get(i) {
        line(x);
    }
}

/// Hints bar `i` of every price column of `s` (the last price's candle and the mark's).
#[inline(always)]
pub(super) fn bar(s: &SymbolSeries, i: usize) {
    for c in [&s.open, &s.high, &s.low, &s.close] {
        at(c, i);
    }
    if let Some(m) = &s.mark {
        for c in [&m.open, &m.high, &m.low, &m.close] {
            at(c, i);
        }
    }
}
