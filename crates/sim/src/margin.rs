//! Margin arithmetic of USDT-margined linear perpetuals in one-way mode (DESIGN.md §5).
//!
//! Exact formulas in [`Decimal`]: the engine calls them whenever the ledger changes (fill, funding,
//! margin added) and keeps only their `f64` results for the per-bar comparisons.

use ringfence_model::{Bracket, Price, Qty, Side, Usdt, bracket::bracket_for};
use rust_decimal::Decimal;

use crate::num::{dec, flt, signed};

/// A liquidation price and the bracket it was computed with.
#[derive(Debug, Clone, PartialEq)]
pub struct LiqPrice {
    /// The price at which margin balance equals maintenance margin.
    pub price: Price,
    /// The bracket holding the notional at that price.
    pub bracket: Bracket,
}

/// Maintenance margin of `notional` under a table: `N × mmr_k − cum_k` with `k` the bracket of `N`.
///
/// # Panics
/// If `tiers` is empty.
pub fn maintenance(tiers: &[Bracket], notional: Usdt) -> Usdt {
    Usdt(bracket_for(tiers, notional.0).maintenance(notional.0))
}

/// Price at which `wallet + side·qty·(P − entry) = 0`: the position's margin is exhausted.
pub fn bankruptcy_price(side: Side, qty: Qty, entry: Price, wallet: Usdt) -> Price {
    Price(entry.0 - side.sign_dec() * wallet.0 / qty.0)
}

/// Liquidation price of one position whose margin balance is `wallet + uPnL` (isolated margin, or a
/// cross wallet with nothing else open), maintenance valued at the mark (Binance):
/// `LP = (WB + cum − side·qty·entry) / (qty·mmr − side·qty)` with `mmr, cum` of the bracket that
/// holds the notional **at LP**. Returns `None` when no positive price liquidates the position (a
/// long with more margin than notional) or the table is empty or `qty` is not positive.
pub fn isolated_liq_price(
    side: Side,
    qty: Qty,
    entry: Price,
    wallet: Usdt,
    tiers: &[Bracket],
) -> Option<LiqPrice> {
    let (qty, entry, wallet) = (qty.0, entry.0, wallet.0);
    if qty <= Decimal::ZERO || tiers.is_empty() {
        return None;
    }
    // `s·qty` and `s·qty·entry` as the formula's products give them (`qty > 0`)
    let sq = signed(side, qty);
    let sqe = sq * entry;
    let last = tiers.len() - 1;
    for (k, b) in tiers.iter().enumerate() {
        let denom = qty * b.mmr - sq;
        if denom.is_zero() {
            continue;
        }
        let lp = (wallet + b.cum - sqe) / denom;
        if lp <= Decimal::ZERO {
            continue;
        }
        let n = qty * lp;
        let inside = n >= b.floor && (n < b.cap || k == last);
        if inside {
            return Some(LiqPrice {
                price: Price(lp),
                bracket: b.clone(),
            });
        }
    }
    None
}

/// Liquidation price when maintenance is valued at the **entry** notional (Bybit's convention):
/// `LP = entry − side·(WB − MM_entry)/qty`. Bybit's example: long 1 BTC at 20,000, 50× (IM 400),
/// MMR 0.5 % (MM 100) ⇒ 19,700. `None` when the price would not be positive.
pub fn liq_price_entry_basis(
    side: Side,
    qty: Qty,
    entry: Price,
    wallet: Usdt,
    tiers: &[Bracket],
) -> Option<LiqPrice> {
    let (qty, entry, wallet) = (qty.0, entry.0, wallet.0);
    if qty <= Decimal::ZERO || tiers.is_empty() {
        return None;
    }
    let b = bracket_for(tiers, qty * entry);
    let mm = b.maintenance(qty * entry);
    let lp = entry - side.sign_dec() * (wallet - mm) / qty;
    (lp > Decimal::ZERO).then(|| LiqPrice {
        price: Price(lp),
        bracket: b.clone(),
    })
}

/// A bracket in `f64`, for the per-bar threshold arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TierF {
    /// Lowest notional of the bracket (its `floor`).
    pub floor: f64,
    pub cap: f64,
    pub mmr: f64,
    pub cum: f64,
    /// The bracket's maximum leverage, `flt(max_leverage)`.
    pub max_lev: f64,
}

/// `f64` copy of a table.
pub(crate) fn tiers_f64(tiers: &[Bracket]) -> Vec<TierF> {
    use rust_decimal::prelude::ToPrimitive;
    tiers
        .iter()
        .map(|b| TierF {
            floor: b.floor.to_f64().unwrap_or(f64::NAN),
            cap: b.cap.to_f64().unwrap_or(f64::INFINITY),
            mmr: b.mmr_f64(),
            cum: b.cum_f64(),
            max_lev: flt(b.max_leverage),
        })
        .collect()
}

/// The maximum leverage of the bracket of `tiers` holding notional `n` (as `f64`), exactly:
/// `bracket_for` on `dec(n)`.
pub fn max_leverage_of(tiers: &[Bracket], n: f64) -> f64 {
    flt(bracket_for(tiers, dec(n)).max_leverage)
}

/// Relative distance from a bracket cap beyond which [`max_leverage_at`] trusts the `f64`
/// comparison: far above `dec`'s and `to_f64`'s relative errors (below 1e-15), so a notional
/// that far from every cap is on the same side of each in `f64` and in `Decimal`.
const CAP_SLACK: f64 = 1e-9;

/// [`max_leverage_of`] `tiers` and `n`, read off the `f64` copy `tiers_f` of `tiers`
/// when `n` is farther than [`CAP_SLACK`] from every cap (and the `f64` caps are in order), else
/// computed so. `bracket_for` takes the first bracket whose cap is above the notional; when every
/// cap's side is the same in `f64` as in `Decimal`, so is that bracket.
pub(crate) fn max_leverage_at(tiers: &[Bracket], tiers_f: &[TierF], n: f64) -> f64 {
    let exact = || max_leverage_of(tiers, n);
    if tiers_f.len() != tiers.len() || tiers.is_empty() || !n.is_finite() {
        return exact();
    }
    // the number of caps at or below `n`, each cap's side certain, the caps in order
    let (mut below, mut prev) = (0, f64::NEG_INFINITY);
    for b in tiers_f {
        let c = b.cap;
        // false for a NaN cap, or one out of order
        if !(c >= prev && (c - n).abs() > CAP_SLACK * c.abs().max(n.abs())) {
            return exact();
        }
        prev = c;
        below += usize::from(c <= n);
    }
    let v = tiers_f[below.min(tiers_f.len() - 1)].max_lev;
    debug_assert_eq!(v.to_bits(), exact().to_bits(), "max_leverage_at({n})");
    v
}

/// Relative slack of [`liq_price_bound`]: far above the error of its `f64` arithmetic (a few
/// units of 2^-53 on each input and operation, and `Decimal::to_f64`'s on the inputs and on the
/// exact price), far below any price move that matters.
const LP_SLACK: f64 = 1e-9;

/// A bound on the liquidation price [`isolated_liq_price`] gives (as the `f64` the engine keeps of
/// it) that errs on the side of firing: at least it for a long (`s = 1`), at most it for a short
/// (`s = -1`). The same formula in `f64`, on the `f64` copies of the quantity `q`, entry `e`,
/// wallet `w` and table, each bracket's price widened by [`LP_SLACK`] of the terms it is made of;
/// over every bracket whose widened price may fall in it up to the first whose widened price
/// surely does (the exact search takes the first that does), the highest for a long and the
/// lowest for a short.
///
/// `None` where the bound cannot be taken cheaply and the exact price must be computed: a
/// non-finite input, a denominator that may be zero, or no bracket that may hold its price (the
/// exact answer is then most likely "no liquidation price", which only the exact search can say).
pub(crate) fn liq_price_bound(s: f64, q: f64, e: f64, w: f64, tiers: &[TierF]) -> Option<f64> {
    if !(q > 0.0 && q.is_finite() && e.is_finite() && w.is_finite()) {
        return None;
    }
    let last = tiers.len().checked_sub(1)?;
    let sqe = s * q * e;
    let mut bound: Option<f64> = None;
    for (k, b) in tiers.iter().enumerate() {
        let denom = q * b.mmr - s * q;
        let scale = q * (b.mmr.abs() + 1.0);
        if !(denom.is_finite() && scale.is_finite() && b.cum.is_finite()) {
            return None;
        }
        if denom.abs() <= LP_SLACK * scale {
            // the exact denominator may be zero (that bracket is skipped) or not
            return None;
        }
        let lp = (w + b.cum - sqe) / denom;
        // the numerator's terms and the denominator's (whose relative error grows as it cancels)
        let err = LP_SLACK * (w.abs() + b.cum.abs() + sqe.abs() + lp.abs() * scale) / denom.abs();
        let (lo, hi) = (lp - err, lp + err);
        let may_hold = hi > 0.0
            && q * hi * (1.0 + LP_SLACK) >= b.floor
            && (k == last || q * lo * (1.0 - LP_SLACK) < b.cap);
        if !(may_hold && lo.is_finite() && hi.is_finite()) {
            if !b.floor.is_finite() || (k != last && b.cap.is_nan()) {
                return None;
            }
            continue;
        }
        let x = if s > 0.0 { hi } else { lo };
        bound = Some(bound.map_or(x, |y| if s > 0.0 { y.max(x) } else { y.min(x) }));
        let surely_holds = lo > 0.0
            && q * lo * (1.0 - LP_SLACK) >= b.floor
            && (k == last || q * hi * (1.0 + LP_SLACK) < b.cap);
        if surely_holds {
            // the exact search stops at this bracket or before it
            break;
        }
    }
    bound
}

/// The contract of [`liq_price_bound`]: a long's bound is at least the exact price, a short's at
/// most (a long liquidates when the mark falls to the price, a short when it rises to it), so the
/// bound fires no later; any bound holds where there is no exact price (`NaN`).
#[doc(hidden)]
pub fn bound_fires_no_later(long: bool, bound: f64, exact: f64) -> bool {
    exact.is_nan() || if long { exact <= bound } else { exact >= bound }
}

/// [`liq_price_bound`] of an isolated position as the engine holds it: quantity and margin in
/// `Decimal` (taken as `f64`), the entry as the `f64` price it was filled at. Public (hidden) for
/// the real-data test in `benches`, which runs every table of the real bracket files through it.
#[doc(hidden)]
pub fn isolated_liq_bound(
    side: Side,
    qty: Decimal,
    px: f64,
    wallet: Decimal,
    tiers: &[Bracket],
) -> Option<f64> {
    let s = if side == Side::Long { 1.0 } else { -1.0 };
    let (q, w) = (crate::num::flt(qty), crate::num::flt(wallet));
    liq_price_bound(s, q, px, w, &tiers_f64(tiers))
}

/// [`max_leverage_at`] of each notional in `notionals` under `tiers` (its `f64` copy taken once).
/// Public (hidden) for the real-data test in `benches`, which checks it against the exact
/// bracket on every table of the real bracket files.
#[doc(hidden)]
pub fn max_leverages(tiers: &[Bracket], notionals: &[f64]) -> Vec<f64> {
    let tf = tiers_f64(tiers);
    notionals
        .iter()
        .map(|&n| max_leverage_at(tiers, &tf, n))
        .collect()
}

/// Maintenance margin of a notional under an `f64` table (last bracket beyond the last cap).
pub(crate) fn mm_f64(tiers: &[TierF], notional: f64) -> f64 {
    let n = tiers.partition_point(|b| b.cap <= notional);
    let b = &tiers[n.min(tiers.len() - 1)];
    notional * b.mmr - b.cum
}

/// The bracket of an `f64` table that holds one notional, as a half-open notional range with the
/// bracket's rate and offset: a notional inside the range gets [`mm_f64`]'s value without a
/// search. Per-bar loops take it once per position and fall back to the search outside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TierSpan {
    /// Lowest notional of the bracket (the previous cap; `-∞` for the first).
    lo: f64,
    /// First notional beyond it (its cap; `+∞` past the last cap).
    hi: f64,
    pub(crate) mmr: f64,
    cum: f64,
}

impl TierSpan {
    /// A span that holds no notional.
    pub(crate) const EMPTY: TierSpan = TierSpan {
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
        mmr: f64::NAN,
        cum: f64::NAN,
    };

    /// The bracket `mm_f64` would use for `notional`; `None` unless the caps are non-decreasing
    /// (the order under which "cap ≤ n" holds for a prefix, so that the search's answer is
    /// exactly the bracket whose range holds `n`).
    pub(crate) fn of(tiers: &[TierF], notional: f64) -> Option<TierSpan> {
        if tiers.is_empty() || !tiers.windows(2).all(|w| w[0].cap <= w[1].cap) {
            return None;
        }
        let k = tiers.partition_point(|b| b.cap <= notional);
        let b = &tiers[k.min(tiers.len() - 1)];
        Some(TierSpan {
            lo: if k == 0 {
                f64::NEG_INFINITY
            } else {
                tiers[k - 1].cap
            },
            hi: tiers.get(k).map_or(f64::INFINITY, |t| t.cap),
            mmr: b.mmr,
            cum: b.cum,
        })
    }

    /// Whether `notional` falls in this bracket (never for `NaN` or `+∞`).
    #[inline]
    pub(crate) fn holds(&self, notional: f64) -> bool {
        self.lo <= notional && notional < self.hi
    }

    /// [`mm_f64`] of a notional this bracket [`holds`](Self::holds): the same expression on the
    /// same bracket.
    #[inline]
    pub(crate) fn mm(&self, notional: f64) -> f64 {
        notional * self.mmr - self.cum
    }
}

impl crate::config::MaintenanceBasis {
    /// The notional maintenance is looked up and charged on, for `qty` at `mark` (entry price
    /// `entry`): valued at the mark (Binance) or at the entry (Bybit's examples).
    pub fn notional(self, qty: f64, mark: f64, entry: f64) -> f64 {
        match self {
            Self::Mark => qty * mark,
            Self::Entry => qty * entry,
        }
    }

    /// The range of [`Self::notional`] while the mark moves within `lo..=hi`.
    pub fn notional_range(self, qty: f64, lo: f64, hi: f64, entry: f64) -> (f64, f64) {
        (self.notional(qty, lo, entry), self.notional(qty, hi, entry))
    }

    /// The isolated liquidation price under this basis ([`isolated_liq_price`] or
    /// [`liq_price_entry_basis`]).
    pub fn isolated_liq_price(
        self,
        side: Side,
        qty: Qty,
        entry: Price,
        wallet: Usdt,
        tiers: &[Bracket],
    ) -> Option<LiqPrice> {
        match self {
            Self::Mark => isolated_liq_price(side, qty, entry, wallet, tiers),
            Self::Entry => liq_price_entry_basis(side, qty, entry, wallet, tiers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::binance_default_brackets;
    use ringfence_model::{Price, Qty, Symbol, Usdt};
    use rust_decimal_macros::dec;

    proptest::proptest! {
        /// `max_leverage_at` is the exact bracket's maximum leverage: notionals anywhere, and
        /// within a few units in the last place of every cap of BTC's table.
        #[test]
        fn max_leverage_at_is_the_exact_bracket(
            k in 0usize..16,
            ulps in -4i64..=4,
            scale in -3.0f64..9.0,
            near in proptest::bool::ANY,
        ) {
            let t = btc();
            let tf = tiers_f64(&t);
            let n = if near {
                let c = tf[k % tf.len()].cap;
                f64::from_bits((c.to_bits() as i64 + ulps) as u64)
            } else {
                10f64.powf(scale) * (1.0 + 0.37 * ulps as f64 / 4.0).abs().max(0.1)
            };
            let exact = flt(bracket_for(&t, dec(n)).max_leverage);
            proptest::prop_assert_eq!(max_leverage_at(&t, &tf, n).to_bits(), exact.to_bits());
        }
    }

    fn btc() -> Vec<Bracket> {
        binance_default_brackets()
            .table(&Symbol::parse("BTCUSDT").unwrap(), i64::MAX)
            .unwrap()
            .to_vec()
    }

    /// [`isolated_liq_price`] on plain numbers (quantity, entry, wallet).
    fn lp(
        side: Side,
        qty: Decimal,
        entry: Decimal,
        wallet: Decimal,
        t: &[Bracket],
    ) -> Option<LiqPrice> {
        isolated_liq_price(side, Qty(qty), Price(entry), Usdt(wallet), t)
    }

    fn round2(d: Decimal) -> Decimal {
        d.round_dp(2)
    }

    #[test]
    fn binance_long_uses_the_bracket_at_lp() {
        // DESIGN.md §5: 49,196.79 (first bracket), not 49,195.98 (second).
        let lp = lp(Side::Long, dec!(1), dec!(50000), dec!(1000), &btc()).unwrap();
        assert_eq!(round2(lp.price.0), dec!(49196.79));
        assert_eq!(lp.bracket.tier, 1);
        // at LP, margin balance equals maintenance margin
        let mb = dec!(1000) + (lp.price.0 - dec!(50000));
        let mm = maintenance(&btc(), Qty(dec!(1)) * lp.price).0;
        assert!((mb - mm).abs() < dec!(0.000001), "{mb} vs {mm}");
    }

    #[test]
    fn binance_short_is_mirrored() {
        // short 1 BTC at 50,000 with 1,000: LP = (1000 + 50 + 50000) / (0.005 + 1) in bracket 2
        let lp = lp(Side::Short, dec!(1), dec!(50000), dec!(1000), &btc()).unwrap();
        assert_eq!(lp.bracket.tier, 2);
        assert_eq!(round2(lp.price.0), dec!(50796.02));
        let mb = dec!(1000) - (lp.price.0 - dec!(50000));
        assert!((mb - maintenance(&btc(), Qty(dec!(1)) * lp.price).0).abs() < dec!(0.000001));
    }

    #[test]
    fn lp_in_another_bracket_than_entry() {
        // long 13 BTC at 50,000 (notional 650k, bracket 3) with 65,000 margin: the LP's notional
        // falls below 600k, so the bracket at LP is 2, not the entry's 3.
        let t = btc();
        let lp = lp(Side::Long, dec!(13), dec!(50000), dec!(65000), &t).unwrap();
        assert_eq!(bracket_for(&t, dec!(650000)).tier, 3);
        assert_eq!(lp.bracket.tier, 2);
        let expect = (dec!(65000) + dec!(50) - dec!(650000)) / (dec!(13) * dec!(0.005) - dec!(13));
        assert_eq!(lp.price.0, expect);
        // the entry bracket's formula would give a different (inconsistent) price
        let wrong = (dec!(65000) + dec!(950) - dec!(650000)) / (dec!(13) * dec!(0.0065) - dec!(13));
        assert_ne!(round2(wrong), round2(lp.price.0));
    }

    #[test]
    fn bybit_example_with_entry_basis() {
        let flat = vec![Bracket {
            tier: 1,
            floor: dec!(0),
            cap: dec!(2000000),
            mmr: dec!(0.005),
            cum: dec!(0),
            max_leverage: dec!(100),
        }];
        // 50x on 20,000 notional: IM 400
        let lp = liq_price_entry_basis(
            Side::Long,
            Qty(dec!(1)),
            Price(dec!(20000)),
            Usdt(dec!(400)),
            &flat,
        )
        .unwrap();
        assert_eq!(lp.price, Price(dec!(19700)));
        let lp = liq_price_entry_basis(
            Side::Short,
            Qty(dec!(1)),
            Price(dec!(20000)),
            Usdt(dec!(400)),
            &flat,
        )
        .unwrap();
        assert_eq!(lp.price, Price(dec!(20300)));
        assert_eq!(
            bankruptcy_price(
                Side::Long,
                Qty(dec!(1)),
                Price(dec!(20000)),
                Usdt(dec!(400))
            ),
            Price(dec!(19600))
        );
    }

    #[test]
    fn overcollateralised_long_has_no_lp() {
        assert_eq!(lp(Side::Long, dec!(1), dec!(100), dec!(200), &btc()), None);
    }

    #[test]
    fn f64_maintenance_matches_decimal() {
        let t = btc();
        let tf = tiers_f64(&t);
        for n in [1000.0, 49_999.0, 50_000.0, 650_000.0, 5e6, 2e9] {
            let d = maintenance(&t, Usdt(Decimal::try_from(n).unwrap())).0;
            let f = mm_f64(&tf, n);
            assert!(
                (f - d.to_string().parse::<f64>().unwrap()).abs() < 1e-6,
                "{n}"
            );
        }
    }

    /// Notionals around every cap of `tiers` (the cap, one ulp either side) and some specials.
    fn edges(tiers: &[TierF]) -> Vec<f64> {
        let mut xs = vec![0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        for t in tiers {
            xs.extend([t.cap, t.cap.next_down(), t.cap.next_up()]);
        }
        xs
    }

    proptest::proptest! {
        /// A notional a [`TierSpan`] holds gets `mm_f64`'s value bit for bit, and the span holds
        /// exactly the notionals the search puts in the span's bracket: on the Binance BTC table,
        /// on a table with a repeated cap, at and beside every cap and at random notionals.
        #[test]
        fn a_tier_span_answers_as_the_search(
            repeated in proptest::bool::ANY,
            at in -10.0f64..1e9,
            xs in proptest::collection::vec(-10.0f64..1e9, 1..40),
        ) {
            let mut tiers = tiers_f64(&btc());
            if repeated {
                let t = tiers[2];
                tiers.insert(2, TierF { mmr: t.mmr * 0.5, ..t });
            }
            let search = |n: f64| tiers.partition_point(|b| b.cap <= n);
            let mut starts = edges(&tiers);
            starts.push(at);
            let mut probes = edges(&tiers);
            probes.extend(xs);
            for &n0 in &starts {
                let span = TierSpan::of(&tiers, n0).expect("sorted caps");
                for &n in &probes {
                    proptest::prop_assert_eq!(span.holds(n), !n.is_nan() && n != f64::INFINITY
                        && search(n) == search(n0));
                    if span.holds(n) {
                        proptest::prop_assert_eq!(span.mm(n).to_bits(), mm_f64(&tiers, n).to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn a_tier_span_needs_sorted_caps() {
        let mut tiers = tiers_f64(&btc());
        assert!(TierSpan::of(&tiers, 1.0).is_some());
        tiers.swap(1, 2);
        assert_eq!(TierSpan::of(&tiers, 1.0), None);
        assert_eq!(TierSpan::of(&[], 1.0), None);
    }

    /// BTC's table with every notional a hundredth as large: an altcoin's narrow brackets, which
    /// a position's liquidation price crosses at ordinary sizes.
    fn narrow() -> Vec<Bracket> {
        btc()
            .into_iter()
            .map(|b| Bracket {
                floor: b.floor / dec!(100),
                cap: b.cap / dec!(100),
                cum: b.cum / dec!(100),
                ..b
            })
            .collect()
    }

    /// [`liq_price_bound`] of a position given as the engine keeps it, with the exact price as
    /// the engine keeps it (`NaN`: none).
    fn bound_and_exact(
        side: Side,
        qty: Decimal,
        px: f64,
        wallet: Decimal,
        t: &[Bracket],
    ) -> (Option<f64>, f64) {
        let exact = isolated_liq_price(side, Qty(qty), Price(crate::num::dec(px)), Usdt(wallet), t)
            .map_or(f64::NAN, |l| crate::num::flt(l.price.0));
        (isolated_liq_bound(side, qty, px, wallet, t), exact)
    }

    #[test]
    fn the_bound_is_taken_for_ordinary_positions_and_is_tight() {
        for (side, wallet) in [(Side::Long, dec!(1000)), (Side::Short, dec!(1000))] {
            let (bound, exact) = bound_and_exact(side, dec!(1), 50_000.0, wallet, &btc());
            let b = bound.expect("an ordinary position has a bound");
            assert!(exact.is_finite());
            assert!(if side == Side::Long {
                b >= exact
            } else {
                b <= exact
            });
            assert!((b - exact).abs() <= 1e-6 * exact, "{b} vs {exact}");
        }
        // a 1x long has no liquidation price; its bound (if any) fires only at a price near zero
        let (bound, exact) = bound_and_exact(Side::Long, dec!(1), 50_000.0, dec!(50000), &btc());
        assert!(exact.is_nan());
        assert!(bound.is_none_or(|b| b < 1e-3), "{bound:?}");
        // non-finite inputs and an empty table give no bound
        assert_eq!(
            liq_price_bound(1.0, 1.0, f64::NAN, 100.0, &tiers_f64(&btc())),
            None
        );
        assert_eq!(liq_price_bound(1.0, 1.0, 100.0, 10.0, &[]), None);
    }

    proptest::proptest! {
        /// The bound errs on the side of firing (at least the exact price for a long, at most it
        /// for a short) and sits within a millionth of it: on BTC's and an altcoin's table, at
        /// leverage 1 to 125, with the margin moved by funding either way, and for wallets that
        /// put the exact price's notional at a bracket's cap, one ulp-sized step either side.
        #[test]
        fn the_liquidation_bound_never_fires_later_than_the_exact_price(
            long in proptest::bool::ANY,
            alt in proptest::bool::ANY,
            px_e in -4.0f64..5.0,
            px_m in 1.0f64..10.0,
            notional in 5.0f64..2e6,
            lev in 1u32..=125,
            moved in -0.9f64..0.9,
            at_cap in proptest::option::of((0usize..12, -3i64..=3)),
        ) {
            use crate::num::dec;
            let t = if alt { narrow() } else { btc() };
            let side = if long { Side::Long } else { Side::Short };
            let px = (px_m * 10f64.powf(px_e) * 1e6).round() / 1e6;
            proptest::prop_assume!(px > 0.0);
            let qty = (dec(notional / px) * dec!(1000)).round() / dec!(1000);
            proptest::prop_assume!(qty > Decimal::ZERO);
            let entry = dec(px);
            let mut wallet = (qty * entry / Decimal::from(lev) * dec(1.0 + moved)).round_dp(8);
            if let Some((k, step)) = at_cap {
                // the wallet whose price puts the notional at bracket k's cap
                let b = &t[k.min(t.len() - 1)];
                let s = side.sign_dec();
                let lp = b.cap / qty;
                wallet = (lp * (qty * b.mmr - s * qty) - b.cum + s * qty * entry).round_dp(8)
                    + Decimal::new(step, 8);
            }
            let (bound, exact) = bound_and_exact(side, qty, px, wallet, &t);
            if let Some(b) = bound {
                proptest::prop_assert!(
                    bound_fires_no_later(long, b, exact),
                    "bound {} exact {}", b, exact
                );
                if exact.is_finite() {
                    let scale = exact.abs() + px + crate::num::flt(wallet.abs() / qty);
                    proptest::prop_assert!(
                        (b - exact).abs() <= 1e-6 * scale,
                        "bound {} exact {}", b, exact
                    );
                }
            }
        }
    }
}
