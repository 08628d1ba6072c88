//! Conversions between the ledger's `Decimal` and the hot path's `f64`: one home for the engine and
//! the checklist.

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

/// `f64` → `Decimal` by the shortest representation (prices from market data); `0` for a
/// non-finite value.
pub(crate) fn dec(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or(Decimal::ZERO)
}

/// Ledger amounts are kept to 10 decimals so that sums stay exact within `Decimal`'s 28 digits.
pub(crate) fn money(x: Decimal) -> Decimal {
    x.round_dp(10)
}

/// `Decimal` → `f64` (`NaN` when it does not fit).
pub(crate) fn flt(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}
