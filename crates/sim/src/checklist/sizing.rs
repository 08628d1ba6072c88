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
        crate::policy::cap_leverage(self.tiers, lev, |l| self.notional(l)).map_or(lev, |(l, _)| l)
    }

    pub(super) fn at(&self, lev: f64) -> Option<Sized> {
        let notional = self.notional(lev)?;
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
        Some(Sized {
            notional,
            qty,
            margin: flt(im),
            fees: flt(entry_fee + stop_fee),
            liq: lp.map(|l| flt(l.price.0)),
        })
    }

    /// True when the stop stays ahead of the liquidation price by `buffer × price` at `lev`.
    pub(super) fn safe(&self, lev: f64, stop: f64, buffer: f64) -> bool {
        match self.at(lev).and_then(|s| s.liq) {
            None => true,
            Some(lp) => self.side.sign() * (stop - lp) >= buffer * self.price,
        }
    }

    /// Highest leverage (down to 0.01) at which [`Sizer::safe`] holds, up to the bracket maximum.
    pub(super) fn max_safe(&self, stop: f64, buffer: f64) -> Option<f64> {
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
}
