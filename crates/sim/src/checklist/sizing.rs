//! Everything about a call that depends on the leverage: size (through [`crate::policy`]), fees and
//! liquidation price, the bracket's cap and the highest leverage whose stop stays ahead of the
//! liquidation price.

use super::*;

/// Everything that depends on the leverage: sizing, fees, liquidation price.
pub(super) struct Sized {
    pub(super) notional: f64,
    pub(super) qty: Decimal,
    pub(super) margin: f64,
    pub(super) fees: f64,
    pub(super) liq: Option<f64>,
}

/// [`Sizer::solve`]'s exact values.
struct Solved {
    qty: Decimal,
    im: Decimal,
    fees: Decimal,
    liq: Option<Decimal>,
}

pub(super) struct Sizer<'a> {
    pub(super) tiers: &'a [Bracket],
    pub(super) policy: &'a Policy,
    pub(super) cfg: &'a EngineConfig,
    pub(super) fee_mult: Decimal,
    pub(super) maker: bool,
    pub(super) side: Side,
    pub(super) price: f64,
    pub(super) stop: Option<f64>,
    pub(super) equity: f64,
    /// `price` and `stop` as `Decimal`, converted once per call rather than once per leverage
    /// tried (the search for the highest safe leverage tries about 60).
    pub(super) price_dec: Decimal,
    pub(super) stop_dec: Option<Decimal>,
}

impl Sizer<'_> {
    pub(super) fn notional(&self, lev: f64) -> Option<f64> {
        crate::policy::notional(&self.policy.sizing, lev, self.equity, self.price, self.stop)
            .filter(|n| n.is_finite() && *n > 0.0)
    }

    /// The leverage the exchange allows: `lev` lowered to the bracket maximum of its notional.
    pub(super) fn capped(&self, lev: f64) -> f64 {
        let max = |n| crate::margin::max_leverage_of(self.tiers, n);
        crate::policy::cap_leverage(max, lev, |l| self.notional(l)).map_or(lev, |(l, _)| l)
    }

    pub(super) fn at(&self, lev: f64) -> Option<Sized> {
        let notional = self.notional(lev)?;
        let z = self.solve(notional, lev);
        Some(Sized {
            notional,
            qty: z.qty,
            margin: flt(z.im),
            fees: flt(z.fees),
            liq: z.liq.map(flt),
        })
    }

    /// The exact `Decimal` quantity, initial margin, fees and isolated liquidation price of
    /// `notional` at `lev`: what [`Sizer::at`] reports and [`Sizer::safe`] needs.
    fn solve(&self, notional: f64, lev: f64) -> Solved {
        let entry = self.price_dec;
        let notional_dec = dec(notional);
        let qty = notional_dec / entry;
        let ex = &self.cfg.exchange;
        let entry_rate = if self.maker {
            ex.maker_fee
        } else {
            ex.taker_fee
        };
        let entry_fee = notional_dec * entry_rate * self.fee_mult;
        let stop_fee = self
            .stop_dec
            .map_or(Decimal::ZERO, |s| qty * s * ex.taker_fee * self.fee_mult);
        let im = dec(notional / lev);
        let wb = im - entry_fee - stop_fee;
        let lp = ex.maintenance_basis.isolated_liq_price(
            self.side,
            Qty(qty),
            Price(entry),
            Usdt(wb),
            self.tiers,
        );
        Solved {
            qty,
            im,
            fees: entry_fee + stop_fee,
            liq: lp.map(|l| l.price.0),
        }
    }

    /// True when the stop stays ahead of the liquidation price by `buffer × price` at `lev`.
    pub(super) fn safe(&self, lev: f64, stop: f64, buffer: f64) -> bool {
        let liq = self
            .notional(lev)
            .and_then(|n| self.solve(n, lev).liq)
            .map(flt);
        match liq {
            None => true,
            Some(lp) => self.side.sign() * (stop - lp) >= buffer * self.price,
        }
    }

    /// Highest leverage (down to 0.01) at which [`Sizer::safe`] holds, up to the bracket maximum.
    ///
    /// A bisection of 60 steps over `[0.01, top]`. Each step's outcome is first decided in `f64`
    /// ([`Sizer::screen`]), which is cheap and certain away from the threshold; only the steps
    /// the screen cannot decide (the last dozen or so, within ~1e-13 of the threshold) run the
    /// exact `Decimal` [`Sizer::safe`]. The bisection stops once its midpoint equals an end
    /// (the remaining steps would repeat it). The result is the same as testing every step
    /// exactly ([`Sizer::max_safe_exact`], compared in the tests).
    pub(super) fn max_safe(&self, stop: f64, buffer: f64) -> Option<f64> {
        let tiers: Vec<TierScreen> = self.tiers.iter().map(TierScreen::of).collect();
        let safe = |lev: f64| {
            self.screen(&tiers, lev, stop, buffer)
                .unwrap_or_else(|| self.safe(lev, stop, buffer))
        };
        let top = self.capped(flt(self.tiers.first()?.max_leverage));
        if safe(top) {
            return Some(top);
        }
        let mut lo = 0.01;
        if !safe(lo) {
            return Some(0.0);
        }
        let mut hi = top;
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            // `lo` is known safe and `hi` unsafe: a midpoint equal to either changes nothing,
            // now or in any later step.
            if mid == lo || mid == hi {
                break;
            }
            if safe(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// [`Sizer::max_safe`] with every step decided by the exact [`Sizer::safe`]: the reference
    /// the screened search is tested against.
    #[cfg(test)]
    pub(super) fn max_safe_exact(&self, stop: f64, buffer: f64) -> Option<f64> {
        let top = self.capped(flt(self.tiers.first()?.max_leverage));
        if self.safe(top, stop, buffer) {
            return Some(top);
        }
        let mut lo = 0.01;
        if !self.safe(lo, stop, buffer) {
            return Some(0.0);
        }
        let mut hi = top;
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.safe(mid, stop, buffer) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// [`Sizer::safe`] decided in `f64` when that is certain: `Some(outcome)` when the `f64`
    /// liquidation price is farther from the decision boundary (the stop less the buffer, a
    /// bracket's floor or cap, zero) than a generous bound on its error, `None` when only the
    /// exact computation can tell (and for the entry-price maintenance basis, not screened).
    ///
    /// The bound: the exact path converts the same `f64` inputs to `Decimal` (each within half
    /// an ulp) and computes in 28 digits; the `f64` path rounds about a dozen times. Both stay
    /// within `ERR_ULPS` ulps of the magnitudes involved (numerator terms over the denominator,
    /// plus the result), far more than the few ulps the operations can lose.
    fn screen(&self, tiers: &[TierScreen], lev: f64, stop: f64, buffer: f64) -> Option<bool> {
        const ERR_ULPS: f64 = 64.0;
        let tol = ERR_ULPS * f64::EPSILON;
        let ex = &self.cfg.exchange;
        if ex.maintenance_basis != crate::config::MaintenanceBasis::Mark {
            return None;
        }
        let Some(notional) = self.notional(lev) else {
            return Some(true);
        };
        let entry = self.price;
        let qty = notional / entry;
        if !(qty > 0.0 && qty.is_finite()) {
            return None;
        }
        let fee_mult = flt(self.fee_mult);
        let entry_rate = flt(if self.maker {
            ex.maker_fee
        } else {
            ex.taker_fee
        });
        let entry_fee = notional * entry_rate * fee_mult;
        let stop_fee = self
            .stop
            .map_or(0.0, |s| qty * s * flt(ex.taker_fee) * fee_mult);
        let im = notional / lev;
        let wb = im - entry_fee - stop_fee;
        let s = self.side.sign();
        let last = tiers.len().checked_sub(1)?;
        let mut liq = None;
        for (k, b) in tiers.iter().enumerate() {
            if (b.mmr - s).abs() <= 1e-9 {
                return None;
            }
            let denom = qty * b.mmr - s * qty;
            let lp = (wb + b.cum - s * qty * entry) / denom;
            let size = im.abs() + entry_fee.abs() + stop_fee.abs() + b.cum.abs() + qty * entry;
            let err = tol * (size / denom.abs() + lp.abs());
            if !(lp.is_finite() && err.is_finite()) {
                return None;
            }
            if lp + err <= 0.0 {
                continue;
            }
            if lp - err <= 0.0 {
                return None;
            }
            let n = qty * lp;
            let n_err = qty * err + tol * n;
            let near = |edge: f64| (n - edge).abs() <= n_err;
            if near(b.floor) || (k != last && near(b.cap)) {
                return None;
            }
            if n >= b.floor && (n < b.cap || k == last) {
                liq = Some((lp, err));
                break;
            }
        }
        let Some((lp, err)) = liq else {
            return Some(true);
        };
        let margin = self.side.sign() * (stop - lp) - buffer * self.price;
        let slack = err + tol * (stop.abs() + lp.abs() + (buffer * self.price).abs());
        if margin > slack {
            Some(true)
        } else if margin < -slack {
            Some(false)
        } else {
            None
        }
    }
}

/// A bracket in `f64` for [`Sizer::screen`].
pub(super) struct TierScreen {
    floor: f64,
    cap: f64,
    mmr: f64,
    cum: f64,
}

impl TierScreen {
    fn of(b: &Bracket) -> Self {
        Self {
            floor: flt(b.floor),
            cap: flt(b.cap),
            mmr: b.mmr_f64(),
            cum: b.cum_f64(),
        }
    }
}
