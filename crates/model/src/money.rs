//! Money types for public signatures: an amount of USDT, a quantity of the base asset, a price and
//! a leverage are different things, and a function taking three of them cannot have them swapped.
//!
//! Each wraps a [`Decimal`] (the ledger's representation; the per-bar hot path works in `f64`
//! inside the engine and never sees these). The arithmetic that makes sense is implemented, and
//! nothing else:
//!
//! | expression | result | meaning |
//! |---|---|---|
//! | `Qty × Price` | [`Usdt`] | notional |
//! | `Usdt ÷ Qty` | [`Price`] | price per unit (e.g. margin per unit) |
//! | `Usdt ÷ Price` | [`Qty`] | quantity bought by an amount |
//! | `Usdt ÷ Leverage` | [`Usdt`] | initial margin of a notional |
//! | `Usdt ± Usdt`, `Price ± Price`, `Qty ± Qty` | same type | sums and differences |
//! | `Usdt × Decimal` | [`Usdt`] | an amount times a rate (fee, maintenance rate, funding) |
//!
//! The inner value is public (`.0`) for the formulas that need plain `Decimal` arithmetic.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! money_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(Decimal::ZERO);

            /// The inner `Decimal`.
            pub fn get(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }
    };
}

money_type!(
    /// An amount of USDT: a balance, a margin, a notional, a fee, a PnL.
    Usdt
);
money_type!(
    /// A quantity of a contract's base asset (BTC for BTCUSDT).
    Qty
);
money_type!(
    /// A price in USDT per unit of the base asset.
    Price
);
money_type!(
    /// A leverage (notional ÷ initial margin), at least 1 where a venue accepts it.
    Leverage
);

impl Mul<Price> for Qty {
    type Output = Usdt;
    fn mul(self, rhs: Price) -> Usdt {
        Usdt(self.0 * rhs.0)
    }
}

impl Div<Qty> for Usdt {
    type Output = Price;
    fn div(self, rhs: Qty) -> Price {
        Price(self.0 / rhs.0)
    }
}

impl Div<Price> for Usdt {
    type Output = Qty;
    fn div(self, rhs: Price) -> Qty {
        Qty(self.0 / rhs.0)
    }
}

impl Div<Leverage> for Usdt {
    type Output = Usdt;
    fn div(self, rhs: Leverage) -> Usdt {
        Usdt(self.0 / rhs.0)
    }
}

impl Mul<Decimal> for Usdt {
    type Output = Usdt;
    fn mul(self, rate: Decimal) -> Usdt {
        Usdt(self.0 * rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn arithmetic_yields_the_documented_types() {
        let notional: Usdt = Qty(dec!(2)) * Price(dec!(50000));
        assert_eq!(notional, Usdt(dec!(100000)));
        let im: Usdt = notional / Leverage(dec!(20));
        assert_eq!(im, Usdt(dec!(5000)));
        let per_unit: Price = im / Qty(dec!(2));
        assert_eq!(per_unit, Price(dec!(2500)));
        let qty: Qty = notional / Price(dec!(50000));
        assert_eq!(qty, Qty(dec!(2)));
        assert_eq!(notional * dec!(0.0005), Usdt(dec!(50)));
        assert_eq!(Price(dec!(3)) - Price(dec!(5)), -Price(dec!(2)));
        assert_eq!(Usdt(dec!(1.5)).to_string(), "1.5");
    }
}
