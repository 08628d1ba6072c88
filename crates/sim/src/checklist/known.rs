//! What was known at a call's time: the market up to it, the book open in the backtest, the
//! account's equity, and the channel's own history of holding times.

use super::*;

/// The market as known at `t`: bars that closed at or before `t`.
pub(super) struct Known<'a> {
    pub(super) market: &'a Market,
    /// The market's log returns, computed once for every call.
    pub(super) stats: &'a MarketStats<'a>,
    /// Bars `0..closed` closed at or before `t`.
    pub(super) closed: usize,
    /// [`Known::rho`]'s values so far, by (lower symbol index, higher, window): a call asks for
    /// the same pair several times (book before and after, both orders of each pair).
    rhos: std::cell::RefCell<Vec<(RhoKey, Option<f64>)>>,
}

/// A return correlation's key in [`Known`]'s per-call table: (lower symbol index, higher, window).
type RhoKey = (usize, usize, usize);

impl<'a> Known<'a> {
    pub(super) fn new(stats: &'a MarketStats<'a>, t: TimestampMs) -> Self {
        let market = stats.market();
        let tf = market.timeframe_ms;
        let closed = market.times.partition_point(|&x| x.saturating_add(tf) <= t);
        Known {
            market,
            stats,
            closed,
            rhos: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Last finite close of series `k` among the closed bars, with its index.
    pub(super) fn close(&self, k: usize) -> Option<(usize, f64)> {
        let s = &self.market.series[k];
        let end = self.closed.min(s.end);
        (s.first..end)
            .rev()
            .map(|j| (j, s.close[j]))
            .find(|(_, c)| c.is_finite() && *c > 0.0)
    }

    pub(super) fn close_of(&self, symbol: &Symbol) -> Option<f64> {
        self.market
            .symbol_index(symbol)
            .and_then(|k| self.close(k))
            .map(|(_, c)| c)
    }

    /// The return correlation of `a` and `b` over the `window` bars before the first bar not
    /// closed ([`crate::engine::correlation`]'s value, from the shared returns).
    /// Computed once per pair and window for the call (the value is symmetric bit for bit).
    pub(super) fn rho(&self, a: usize, b: usize, window: usize) -> Option<f64> {
        let key = (a.min(b), a.max(b), window);
        if let Some(&(_, r)) = self.rhos.borrow().iter().find(|(k, _)| *k == key) {
            return r;
        }
        let r = self
            .stats
            .correlation_over(key.0, key.1, self.closed, window);
        self.rhos.borrow_mut().push((key, r));
        r
    }
}

/// One position of the book at the call's time.
pub(super) struct Open {
    pub(super) sym: usize,
    pub(super) symbol: Symbol,
    pub(super) side: Side,
    /// Signed notional at the last close.
    pub(super) notional: f64,
    pub(super) margin: f64,
    /// Unrealised PnL at the last close.
    pub(super) upnl: f64,
}

/// The positions open at `t`, in order of opening (the run lists trades in closing order, which
/// depends on later prices).
pub(super) fn open_book(
    book: &RunResult,
    known: &Known,
    t: TimestampMs,
    exclude: &str,
) -> Vec<Open> {
    let mut trades: Vec<&ringfence_model::Trade> = book
        .trades
        .iter()
        .filter(|tr| tr.open_time <= t && t < tr.close_time && &*tr.signal_id != exclude)
        .collect();
    trades.sort_by(|a, b| {
        (a.open_time, &a.signal_id, &a.symbol).cmp(&(b.open_time, &b.signal_id, &b.symbol))
    });
    trades
        .into_iter()
        .filter_map(|tr| {
            let exited: Decimal = tr.exits.iter().filter(|e| e.time <= t).map(|e| e.qty).sum();
            let left = flt(tr.qty - exited);
            if left <= 0.0 {
                return None;
            }
            let sym = known.market.symbol_index(&tr.symbol)?;
            let px = known.close(sym).map_or(tr.entry_price, |(_, c)| c);
            Some(Open {
                sym,
                symbol: tr.symbol.clone(),
                side: tr.side,
                notional: tr.side.sign() * left * px,
                margin: flt(tr.margin),
                upnl: tr.side.sign() * left * (px - tr.entry_price),
            })
        })
        .collect()
}

/// Correlated exposure `sqrt(max(0, Σ_i Σ_j n_i n_j ρ_ij))` (the same formula as the equity curve's).
pub(super) fn exposure(known: &Known, legs: &[(usize, f64)], window: usize) -> f64 {
    crate::exposure::book_stats(legs, |a, b| known.rho(a, b, window)).0
}

/// Equity at `t`: the last equity point whose bar closed at or before `t`, with non-stable
/// collateral revalued from that bar's close to the last close known at `t`; the starting
/// collateral at `t` when there is no such point.
pub(super) fn equity_at(book: &RunResult, known: &Known, account: &Account, t: TimestampMs) -> f64 {
    let m = known.market;
    let tf = m.timeframe_ms;
    let volatile = |at: &dyn Fn(&Symbol) -> Option<f64>| -> f64 {
        account
            .collateral
            .iter()
            .filter(|(a, _)| !crate::policy::is_stable(a))
            .map(|(a, amount)| {
                Symbol::parse(&format!("{a}USDT"))
                    .ok()
                    .and_then(|s| at(&s))
                    .map_or(0.0, |p| flt(*amount) * p)
            })
            .sum()
    };
    let now = volatile(&|s| known.close_of(s));
    // The last point whose bar had closed by `t`. The engine writes equity points in time order,
    // so the points that qualify are a prefix: a binary search finds the one a backward scan would.
    debug_assert!(book.equity.windows(2).all(|w| w[0].time <= w[1].time));
    let n = book
        .equity
        .partition_point(|p| p.time.saturating_add(tf) <= t);
    let last = n.checked_sub(1).map(|k| &book.equity[k]);
    match last {
        Some(p) => {
            let then = Known {
                market: m,
                stats: known.stats,
                closed: m.bar_at_or_after(p.time) + 1,
                rhos: std::cell::RefCell::new(Vec::new()),
            };
            p.equity + now - volatile(&|s| then.close_of(s))
        }
        None => {
            let stable: f64 = account
                .collateral
                .iter()
                .filter(|(a, _)| crate::policy::is_stable(a))
                .map(|(_, x)| flt(*x))
                .sum();
            stable + now
        }
    }
}

/// The channel's history of calls: `(channel, id, symbol, open time, update times)`.
pub(super) struct Call<'a> {
    pub(super) channel: &'a str,
    pub(super) id: &'a str,
    pub(super) symbol: &'a Symbol,
    pub(super) time: TimestampMs,
    pub(super) updates: Vec<TimestampMs>,
}

/// The calls in time order (ties in input order), each with its updates in time order.
pub(super) fn history(signals: &[SignalEvent]) -> Vec<Call<'_>> {
    let mut calls: Vec<Call> = Vec::new();
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut order: Vec<&SignalEvent> = signals.iter().collect();
    order.sort_by_key(|s| s.time);
    for s in order {
        let key = (s.source.as_str(), &*s.id);
        match (s.action, index.get(&key)) {
            (Action::Open, None) => {
                if let Some(symbol) = &s.symbol {
                    index.insert(key, calls.len());
                    calls.push(Call {
                        channel: &s.source,
                        id: &s.id,
                        symbol,
                        time: s.time,
                        updates: Vec::new(),
                    });
                }
            }
            (Action::Open, Some(_)) => {}
            (_, Some(&k)) => calls[k].updates.push(s.time),
            (_, None) => {}
        }
    }
    calls
}

/// Expected holding time at `t` and where it comes from.
pub(super) fn expected_hold(
    calls: &[Call],
    sig: &SignalEvent,
    symbol: &Symbol,
    default_ms: TimestampMs,
) -> (TimestampMs, String) {
    let t = sig.time;
    // `calls` are in time order and each call's updates too: the calls before `t` are a prefix,
    // and a call has an update at or before `t` when its first one is. The cheap tests go first;
    // the calls kept, and their order, are those of the plain filter.
    let before = &calls[..calls.partition_point(|c| c.time < t)];
    let holds = |same_symbol: bool| -> Vec<f64> {
        before
            .iter()
            .filter(|c| c.updates.first().is_some_and(|&u| u <= t))
            .filter(|c| c.channel == sig.source && c.id != &*sig.id)
            .filter(|c| !same_symbol || c.symbol == symbol)
            .filter_map(|c| {
                let last = c.updates.iter().copied().filter(|&u| u <= t).max()?;
                Some((last - c.time) as f64)
            })
            .collect()
    };
    let own = holds(true);
    if let Some(m) = median(own.clone()) {
        return (
            m as TimestampMs,
            format!("symbol history ({} calls)", own.len()),
        );
    }
    let all = holds(false);
    if let Some(m) = median(all.clone()) {
        return (
            m as TimestampMs,
            format!("channel history ({} calls)", all.len()),
        );
    }
    (default_ms, "default".into())
}
