//! Conversions between the ledger's `Decimal` and the hot path's `f64`: one home for the engine and
//! the checklist.
//!
//! # `f64` → `Decimal` without the bit-by-bit loop
//!
//! [`dec`] must give exactly what `Decimal::from_f64` (rust_decimal 1.43) gives — mantissa, scale
//! and sign — because every ledger amount starts there. That conversion walks the binary exponent
//! one step at a time (halve, or multiply the 96-bit mantissa by 5 while it fits, else halve and
//! drop a bit), then rounds the 96-bit result a digit at a time (half up at each digit) until the
//! mantissa is below 2^52, with the scale at most 28, and strips trailing zeros. [`dec`] gets the
//! same answer from a closed form on `u128`, for `x = m · 2^-r` (`m` odd, below 2^53):
//!
//! - **digit-by-digit rounding is one division**: rounding half up at the last digit, then again
//!   at the new last digit, `j` times, is `⌊(M + 55…5) / 10^j⌋` (`j` fives); and the scaled value
//!   `M / 10^j` at scale `k` is `m · 5^k / 2^(r-k)`, an integer `N = m · 5^k < 2^118` shifted
//!   right, so the rounding is a shift, a mask and one comparison.
//! - **exact case** (`m · 5^r < 2^96`: the walk never drops a bit): the scale is the largest
//!   `k ≤ min(r, 28)` whose rounded mantissa is below 2^52, and the carry of the digit-by-digit
//!   rounding is `f · 5^j + 55…5 ≥ 10^j` for the fraction bits `f` — exact, no fallback.
//! - **saturated case** (the walk drops bits): the walk's 96-bit value is below the true value by
//!   a relative error of at most `5 · r / 2^96` (each dropped bit costs at most `1 / 2^94.7`
//!   relative, and multiplying by 5 or halving exactly does not grow it); with `r ≤ 128` that moves
//!   the final rounding by less than `11.25 · r · 2^-44 < 2^-32` of a unit in the last place,
//!   and `55…5 / 10^j` differs from `5/9` by less than that too, so the result is
//!   `⌊y + 5/9⌋` for `y = x · 10^k` computed exactly — unless `y + 5/9` lies within `2^-32` above
//!   an integer, or the next scale's rounding lands exactly on 2^52 (where the walk's lower value
//!   could pick a different scale). Those few values, and everything outside
//!   `2^-76 ≤ |x| < 2^96` (subnormals, tiny and huge values, non-finite), go to `from_f64`.
//!
//! Magnitudes `≥ 2^52` are integers and convert exactly (scale 0). The tests compare `serialize()`
//! (16 bytes, so the scale counts) with `from_f64` on random bit patterns, price-like decimals
//! and values near powers of ten and two; `benches/tests/dec_real.rs` runs every price and funding
//! rate of the shared real data through both.

use ringfence_model::Side;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

/// `f64` → `Decimal`, identical to `Decimal::from_f64` (mantissa, scale and sign); `0` for a
/// non-finite value. Prices from market data come out in their shortest decimal form (`0.1` →
/// `0.1`) because `from_f64` keeps about 15.6 significant digits.
///
/// Public only through the hidden re-export `ringfence_sim::f64_to_decimal`, for the real-data test
/// and the micro-benchmark in `benches`.
#[inline]
pub fn dec(x: f64) -> Decimal {
    match dec_fast(x) {
        Some(d) => d,
        None => Decimal::from_f64(x).unwrap_or(Decimal::ZERO),
    }
}

/// The closed-form conversion of [`dec`], `None` where it hands over to `Decimal::from_f64`
/// (non-finite, subnormal, `|x| < 2^-76`, `|x| ≥ 2^96`, and the rare near-tie values described in
/// the module docs). Public through the hidden re-export `ringfence_sim::f64_to_decimal_fast` so
/// the randomized check can count how often the fallback is taken.
#[inline]
pub fn dec_fast(x: f64) -> Option<Decimal> {
    let bits = x.to_bits();
    let negative = bits >> 63 != 0;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    if biased == 0 {
        if fraction != 0 {
            return None; // subnormal
        }
        let mut zero = Decimal::ZERO;
        zero.set_sign_negative(negative);
        return Some(zero);
    }
    // x = mantissa · 2^e2 (NaN and infinities have biased 0x7ff: outside the range below)
    let e2 = biased - 1075;
    if !(MIN_E2..=MAX_E2).contains(&e2) {
        return None;
    }
    let mantissa = fraction | (1u64 << 52);
    if e2 >= 0 {
        // an integer below 2^96: the walk shifts it left exactly, scale 0
        return Some(build(u128::from(mantissa) << e2, 0, negative));
    }
    // x = odd · 2^-r exactly
    let halvings = mantissa.trailing_zeros().min(e2.unsigned_abs());
    let odd = mantissa >> halvings;
    let r = e2.unsigned_abs() - halvings;
    let exact = r < POW5.len() as u32
        && u128::from(odd)
            .checked_mul(POW5[r as usize])
            .is_some_and(|p| p < 1u128 << 96);
    let (digits, scale) = if exact {
        exact_digits(odd, r)
    } else {
        saturated_digits(odd, r)?
    };
    let (digits, scale) = strip_zeros(digits, scale);
    Some(build(u128::from(digits), scale, negative))
}

/// Smallest binary exponent of the fast path: `r ≤ 128` keeps the saturated case's error bound
/// below `2^-32` and every rounded mantissa far from zero.
const MIN_E2: i32 = -128;
/// Largest binary exponent of the fast path: `2^53 · 2^43 = 2^96`.
const MAX_E2: i32 = 43;
/// The rounded mantissa stays below this (rust_decimal: about 15.6 significant digits).
const LIMIT: u64 = 1 << 52;
/// `Decimal`'s largest scale.
const MAX_SCALE: u32 = 28;

/// `t[0] = first`, `t[i] = t[i-1] · mul + add`: the power tables below.
const fn table<const N: usize>(first: u128, mul: u128, add: u128) -> [u128; N] {
    let mut t = [first; N];
    let mut i = 1;
    while i < N {
        t[i] = t[i - 1] * mul + add;
        i += 1;
    }
    t
}

/// `5^0 ..= 5^41` (`5^41 < 2^96 < 5^42`).
const POW5: [u128; 42] = table(1, 5, 0);

/// `10^0 ..= 10^38`.
const POW10: [u128; 39] = table(1, 10, 0);

/// `55…5` (`j` fives) = `5 · (10^j − 1) / 9`: rounding half up `j` times, a digit at a time, is
/// adding this once and dropping `j` digits.
const FIVES: [u128; 39] = table(0, 10, 5);

/// `floor(log10(2^n))` for `0 ≤ n ≤ 1650`.
fn log10_pow2(n: u32) -> u32 {
    (n * 78_913) >> 18
}

/// The first scale to try for `odd · 2^-r`: one above `floor((51 − b) · log10 2)` where
/// `b = floor(log2 x)`. At that scale's floor the value is below 2^52, two above it is over
/// `5 · 2^52`, so the largest scale with a mantissa below 2^52 is this one or one of the two
/// below it.
fn first_scale(odd: u64, r: u32) -> u32 {
    let log2 = 63 - odd.leading_zeros() as i32 - r as i32; // ≤ 51: x < 2^52 here
    log10_pow2((51 - log2) as u32) + 1
}

/// `odd · 5^k` split at bit `shift`: the integer part and the fraction bits of `odd · 10^k / 2^r`
/// (`shift = r − k`, `1 ≤ shift`).
fn split(odd: u64, k: u32, shift: u32) -> (u128, u128) {
    let n = u128::from(odd) * POW5[k as usize];
    (n >> shift, n & ((1u128 << shift) - 1))
}

/// Exact case: `M = odd · 5^r < 2^96` at scale `r`, rounded digit by digit at `j = r − k` digits
/// for the largest scale `k ≤ min(r, 28)` whose mantissa is below 2^52 (scale 0 when none is).
fn exact_digits(odd: u64, r: u32) -> (u64, u32) {
    let top = first_scale(odd, r).min(r).min(MAX_SCALE);
    let mut k = top;
    loop {
        let j = r - k;
        let rounded = if j == 0 {
            u128::from(odd) * POW5[k as usize]
        } else {
            let (int, frac) = split(odd, k, j);
            // carry when frac / 2^j + 55…5 / 10^j ≥ 1, times 10^j
            int + u128::from(frac * POW5[j as usize] + FIVES[j as usize] >= POW10[j as usize])
        };
        if rounded < u128::from(LIMIT) || k == 0 {
            return (rounded as u64, k);
        }
        k -= 1;
    }
}

/// Saturated case: the scale `k` is the largest `≤ 28` with `⌊x · 10^k + 5/9⌋ < 2^52`, the mantissa
/// that floor; `None` (fall back) when the walk's truncations could change either.
fn saturated_digits(odd: u64, r: u32) -> Option<(u64, u32)> {
    let top = first_scale(odd, r).min(MAX_SCALE);
    let mut k = top;
    let mut above: Option<u128> = None;
    loop {
        let shift = r.checked_sub(k).filter(|s| (1..=120).contains(s))?;
        let (int, frac) = split(odd, k, shift);
        let four_ninths = 4u128 << shift; // compare 9 · frac with 4 · 2^shift
        let nine_frac = 9 * frac;
        let rounded = int + u128::from(nine_frac > four_ninths);
        if rounded < u128::from(LIMIT) {
            // y + 5/9 just above an integer: the walk's lower value may round down
            if nine_frac > four_ninths && nine_frac - four_ninths <= (9u128 << shift) >> 32 {
                return None;
            }
            // the scale above rounds to 2^52 exactly: the walk's lower value could keep it
            if above == Some(u128::from(LIMIT)) {
                return None;
            }
            return Some((rounded as u64, k));
        }
        if k == 0 {
            return None;
        }
        above = Some(rounded);
        k -= 1;
    }
}

/// Drops trailing zero digits while the scale is positive (`from_f64` does the same).
fn strip_zeros(mut digits: u64, mut scale: u32) -> (u64, u32) {
    for (pow, step) in [(100_000_000u64, 8u32), (10_000, 4), (100, 2), (10, 1)] {
        if scale >= step && digits.is_multiple_of(pow) {
            digits /= pow;
            scale -= step;
        }
    }
    // digits < 2^53 has at most 15 trailing zeros: 8 + 4 + 2 + 1, each taken while both the
    // zeros and the scale allow it, removes min(zeros, scale) of them
    (digits, scale)
}

/// A `Decimal` from a mantissa below 2^96, a scale `≤ 28` and a sign.
fn build(mantissa: u128, scale: u32, negative: bool) -> Decimal {
    Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        (mantissa >> 64) as u32,
        negative,
        scale,
    )
}

/// `side.sign_dec() * x`, identical to that product (mantissa, scale and sign), without the
/// multiplication: rust_decimal's product of `±1` (scale 0, mantissa 1) and `x` is `x`'s mantissa
/// at `x`'s scale with the sign of `±1` times `x`'s, and `Decimal::ZERO` (scale 0) when `x` is
/// zero. Checked against the product on every sign, scale and width by a property test.
#[inline]
pub(crate) fn signed(side: Side, x: Decimal) -> Decimal {
    if x.is_zero() {
        return Decimal::ZERO;
    }
    match side {
        Side::Long => x,
        Side::Short => -x,
    }
}

/// Ledger amounts are kept to 10 decimals so that sums stay exact within `Decimal`'s 28 digits.
pub(crate) fn money(x: Decimal) -> Decimal {
    round_dp(x, 10, Rounding::HalfEven)
}

/// A quantity rounded down (towards zero) to `dp` decimals: what a venue's step size does.
pub(crate) fn round_down(x: Decimal, dp: u32) -> Decimal {
    round_dp(x, dp, Rounding::ToZero)
}

/// The two rounding rules of the ledger ([`round_dp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rounding {
    /// Half to even (`RoundingStrategy::MidpointNearestEven`, `Decimal::round_dp`'s).
    HalfEven,
    /// Towards zero (`RoundingStrategy::ToZero`).
    ToZero,
}

/// `x.round_dp_with_strategy(dp, rule)`, identical to rust_decimal 1.43 (mantissa, scale and sign).
///
/// That method divides the 96-bit mantissa `m` by `10^d` (`d` = scale − `dp`) nine digits at a time
/// and compares the remainder with `5 · 10^(d−1)`; its result is `m / 10^d`, plus one when the rule
/// rounds up, at scale `dp` through `from_parts` (so a result of zero is never negative). Here the
/// same quotient and remainder come from one `u64` or `u128` division. A zero, and a scale already
/// at most `dp`, go to the method itself (it returns those unchanged, or with the scale raised). In
/// debug builds every result is checked against it.
#[inline]
pub(crate) fn round_dp(x: Decimal, dp: u32, rule: Rounding) -> Decimal {
    let strategy = match rule {
        Rounding::HalfEven => rust_decimal::RoundingStrategy::MidpointNearestEven,
        Rounding::ToZero => rust_decimal::RoundingStrategy::ToZero,
    };
    let scale = x.scale();
    if scale <= dp || x.is_zero() {
        return x.round_dp_with_strategy(dp, strategy);
    }
    let d = scale - dp;
    let m = x.mantissa().unsigned_abs();
    let (q, r, half) = if m <= u128::from(u64::MAX) && d <= 19 {
        let p = POW10[d as usize] as u64;
        let m = m as u64;
        (u128::from(m / p), u128::from(m % p), u128::from(p / 2))
    } else {
        let p = 10u128.pow(d);
        (m / p, m % p, p / 2)
    };
    let up = match rule {
        Rounding::HalfEven => r > half || (r == half && q & 1 == 1),
        Rounding::ToZero => false,
    };
    let out = build(q + u128::from(up), dp, x.is_sign_negative());
    debug_assert_eq!(
        out.serialize(),
        x.round_dp_with_strategy(dp, strategy).serialize(),
        "round_dp({x}, {dp}, {rule:?})"
    );
    out
}

/// `Decimal` → `f64`, identical to `Decimal::to_f64` (rust_decimal 1.43, which always answers).
///
/// That conversion splits the mantissa `m` at scale `s` into `m / 10^s` and `m % 10^s` on `u128`,
/// adds the fraction `(m % 10^s) / 10^s` to the integral part, and rounds the sum to `s` decimals
/// through `10^s` as `f64`. For `m < 2^64` and `s ≤ 19` the same steps run here on `u64` (the same
/// integers, and integer → `f64` conversions are correctly rounded whatever the width), with the
/// powers of ten from a table: `10^s` for `s ≤ 22` is exact in `f64`, so `10f64.powi(s)` is that
/// exact value however it is computed. Wider mantissas and larger scales (up to 28) take the same
/// steps on `u128` with the powers of ten from a table ([`flt_wide`]); a scale of 0 with a mantissa
/// of 64 bits or more goes to `to_f64`. In debug builds every conversion is checked against
/// `to_f64`.
#[inline]
pub(crate) fn flt(x: Decimal) -> f64 {
    let fast = flt_fast(x);
    debug_assert!(
        fast.is_none_or(|v| Some(v.to_bits()) == x.to_f64().map(f64::to_bits)),
        "flt({x:?})"
    );
    fast.unwrap_or_else(|| x.to_f64().unwrap_or(f64::NAN))
}

/// `n as f64`, taken through `u64` when `n` fits (both conversions are correctly rounded, so they
/// agree; the `u128` one is a library routine).
#[inline]
fn u128_to_f64(n: u128) -> f64 {
    match u64::try_from(n) {
        Ok(n) => n as f64,
        Err(_) => n as f64,
    }
}

/// [`flt`]'s fast path (`None`: outside it).
#[inline]
fn flt_fast(x: Decimal) -> Option<f64> {
    let Ok(m) = u64::try_from(x.mantissa().unsigned_abs()) else {
        return flt_wide(x);
    };
    let scale = x.scale() as usize;
    let neg = x.is_sign_negative();
    if scale == 0 {
        // `to_f64` converts the signed integer, so a negative zero comes out as `+0.0`
        let v = m as f64;
        return Some(if neg && m != 0 { -v } else { v });
    }
    if scale > 19 {
        return flt_wide(x);
    }
    let p = POW10[scale] as u64;
    let (integral, frac) = ((m / p) as f64, (m % p) as f64 / p as f64);
    // `10^scale` exactly (`scale ≤ 19`), as `to_f64`'s `10f64.powi(scale)`
    Some(to_f64_tail(integral, frac, || p as f64, neg))
}

/// `to_f64`'s last steps, from the `f64` integral part, the fraction and `10^scale` (`round_to`,
/// taken only when needed): the integral part alone when the fraction is zero, else their sum
/// rounded to `scale` decimals through `round_to`; negated for a negative value.
#[inline]
fn to_f64_tail(integral: f64, frac: f64, round_to: impl FnOnce() -> f64, neg: bool) -> f64 {
    let v = if frac == 0.0 {
        integral
    } else {
        let round_to = round_to();
        ((integral + frac) * round_to).round() / round_to
    };
    if neg { -v } else { v }
}

/// [`flt_fast`] for a mantissa of 64 to 96 bits at a scale of 1 to 28 (a quotient's 28 digits, a
/// large wallet): `to_f64`'s own steps, with its `u128` power of ten from a table and its integer
/// → `f64` conversions through `u64` where the integer fits; the same integers, the same
/// correctly rounded conversions and the same `f64` operations (`10f64.powi(scale)` included), so
/// the same result. A scale of 0 goes to `to_f64`.
#[inline]
fn flt_wide(x: Decimal) -> Option<f64> {
    let scale = x.scale();
    if scale == 0 {
        return None;
    }
    let m = x.mantissa().unsigned_abs();
    let p = POW10[scale as usize];
    let (integral, frac) = (u128_to_f64(m / p), u128_to_f64(m % p) / u128_to_f64(p));
    let round_to = || 10f64.powi(scale as i32);
    Some(to_f64_tail(integral, frac, round_to, x.is_sign_negative()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `signed` is `side.sign_dec() * x` bit for bit: every scale, mantissas of every width
        /// (up to 96 bits), both signs and both sides, zeros of any scale and sign.
        #[test]
        fn signed_is_the_product(lo in any::<u32>(), mid in any::<u32>(), hi in any::<u32>(),
                                 neg in any::<bool>(), scale in 0u32..=28, width in 0u8..4,
                                 long in any::<bool>()) {
            let (mid, hi) = match width {
                0 => (0, 0),
                1 => (mid, 0),
                2 => (mid, hi),
                _ => (0, 0),
            };
            let lo = if width == 3 { 0 } else { lo };
            let mut x = Decimal::from_parts(lo, mid, hi, neg, scale);
            if width == 3 && neg {
                // a negative zero (`from_parts` never makes one)
                x = -x;
            }
            let side = if long { Side::Long } else { Side::Short };
            prop_assert_eq!(signed(side, x).serialize(), (side.sign_dec() * x).serialize());
        }

        /// `flt` is `to_f64` bit for bit: every scale, mantissas of every width (up to 96 bits),
        /// both signs, zeros.
        #[test]
        fn flt_is_to_f64(lo in any::<u32>(), mid in any::<u32>(), hi in any::<u32>(),
                         width in 0u32..4, scale in 0u32..=28, neg in any::<bool>()) {
            let (mid, hi) = match width {
                0 => (0, 0),
                1 => (mid, 0),
                2 => (mid & 0xffff, 0),
                _ => (mid, hi),
            };
            let x = Decimal::from_parts(lo, mid, hi, neg, scale);
            prop_assert_eq!(flt(x).to_bits(), x.to_f64().unwrap().to_bits(), "{:?}", x);
            let y = Decimal::from_parts(lo % 1000, 0, 0, neg, scale);
            prop_assert_eq!(flt(y).to_bits(), y.to_f64().unwrap().to_bits(), "{:?}", y);
        }
    }

    proptest! {
        /// `round_dp` is `round_dp_with_strategy` (mantissa, scale and sign) for both rules: every
        /// scale and target, mantissas of every width, both signs, zeros, and remainders at,
        /// just below and just above the midpoint.
        #[test]
        fn round_dp_is_the_method(lo in any::<u32>(), mid in any::<u32>(), hi in any::<u32>(),
                                  width in 0u32..4, scale in 0u32..=28, dp in 0u32..=28,
                                  neg in any::<bool>(), tie in 0u32..4) {
            let (mid, hi) = match width {
                0 => (0, 0),
                1 => (mid, 0),
                2 => (mid & 0xffff, 0),
                _ => (mid, hi),
            };
            let mut x = Decimal::from_parts(lo, mid, hi, neg, scale);
            if tie > 0 && scale > dp {
                // move the digits below `dp` to the midpoint (or one unit either side of it)
                let p = 10u128.pow(scale - dp);
                let m = x.mantissa().unsigned_abs();
                let at = (m / p) * p + p / 2 + u128::from(tie) - 2;
                if at < (1u128 << 96) {
                    x = Decimal::from_i128_with_scale(at as i128, scale);
                    x.set_sign_negative(neg);
                }
            }
            for (rule, strategy) in [
                (Rounding::HalfEven, rust_decimal::RoundingStrategy::MidpointNearestEven),
                (Rounding::ToZero, rust_decimal::RoundingStrategy::ToZero),
            ] {
                prop_assert_eq!(
                    round_dp(x, dp, rule).serialize(),
                    x.round_dp_with_strategy(dp, strategy).serialize(),
                    "{:?} to {} ({:?})", x, dp, rule
                );
            }
        }
    }

    #[test]
    fn round_dp_worked_examples() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        // half to even at the tenth decimal, as `money` takes it
        assert_eq!(money(d("0.00000000005")).to_string(), "0.0000000000");
        assert_eq!(money(d("0.00000000015")).to_string(), "0.0000000002");
        assert_eq!(money(d("-2.12345678905")).to_string(), "-2.1234567890");
        assert_eq!(money(d("-2.123456789051")).to_string(), "-2.1234567891");
        // a rounded-away negative amount is zero, not negative zero
        assert!(!money(d("-0.00000000001")).is_sign_negative());
        // quantities go down to the step
        assert_eq!(round_down(d("0.123456789"), 8).to_string(), "0.12345678");
        assert_eq!(round_down(d("-0.123456789"), 8).to_string(), "-0.12345678");
        assert_eq!(round_down(d("1.5"), 8).to_string(), "1.5");
        // a 96-bit mantissa at scale 28 (the `u128` path)
        let wide = Decimal::from_parts(u32::MAX, u32::MAX, u32::MAX, false, 28);
        assert_eq!(
            round_down(wide, 8).serialize(),
            wide.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero)
                .serialize()
        );
    }

    #[test]
    fn flt_handles_zeros_and_the_edges_of_its_fast_path() {
        for neg in [false, true] {
            for scale in [0, 1, 18, 19, 20, 28] {
                for (lo, mid, hi) in [
                    (0, 0, 0),
                    (1, 0, 0),
                    (u32::MAX, u32::MAX, 0),
                    (0, 0, 1),
                    (u32::MAX, u32::MAX, u32::MAX),
                ] {
                    let x = Decimal::from_parts(lo, mid, hi, neg, scale);
                    assert_eq!(flt(x).to_bits(), x.to_f64().unwrap().to_bits(), "{x:?}");
                }
            }
        }
        // prices and money as the ledger holds them
        for s in [
            "0.1",
            "-0.3",
            "64123.45",
            "0.00001234",
            "1e-10",
            "123456789.0123456789",
        ] {
            let x: Decimal = s
                .parse()
                .unwrap_or_else(|_| Decimal::from_scientific(s).unwrap());
            assert_eq!(flt(x).to_bits(), x.to_f64().unwrap().to_bits(), "{s}");
        }
    }

    /// `from_f64` as the engine used it before (`0` for non-finite).
    fn reference(x: f64) -> Decimal {
        Decimal::from_f64(x).unwrap_or(Decimal::ZERO)
    }

    /// Same mantissa, scale and sign, byte for byte.
    fn assert_same(x: f64) {
        let (got, want) = (dec(x), reference(x));
        assert_eq!(
            got.serialize(),
            want.serialize(),
            "x = {x:e} (bits {:#018x}): got {got} (scale {}), from_f64 gives {want} (scale {})",
            x.to_bits(),
            got.scale(),
            want.scale()
        );
    }

    /// `x` moved by `steps` units in the last place (either way).
    fn ulps(x: f64, steps: i64) -> f64 {
        f64::from_bits((x.to_bits() as i64 + steps) as u64)
    }

    #[test]
    fn worked_examples() {
        let cases: [(f64, &str); 12] = [
            (0.1, "0.1"),
            (1234.56, "1234.56"),
            (-0.000_123_4, "-0.0001234"),
            (0.0001, "0.0001"),
            (0.5, "0.5"),
            (65_000.0, "65000"),
            (1e15, "1000000000000000"),
            (0.3, "0.3"),
            (2.0f64.powi(52) - 0.5, "4503599627370496"),
            (9_007_199_254_740_993.0, "9007199254740992"),
            (1e-12, "0.000000000001"),
            (123_456_789.123_456_79, "123456789.1234568"),
        ];
        for (x, text) in cases {
            assert_eq!(dec(x).to_string(), text, "{x:e}");
            assert_same(x);
        }
    }

    #[test]
    fn zeros_specials_and_subnormals() {
        let specials = [
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            7.9e28,
            8e28,
        ];
        for x in specials {
            assert_same(x);
        }
        assert!(dec(-0.0).is_sign_negative() && dec(-0.0).is_zero());
        assert_eq!(dec(f64::NAN), Decimal::ZERO);
    }

    #[test]
    fn every_exponent_of_the_fast_range_and_its_edges() {
        let mantissas = [
            0u64,
            1,
            2,
            3,
            0x000f_ffff_ffff_ffff,
            0x0008_0000_0000_0001,
            0x0009_9999_9999_999a,
            0x0003_3333_3333_3333,
            0x000a_bcde_f012_3456,
        ];
        for biased in (1075 + MIN_E2 - 3)..=(1075 + MAX_E2 + 3) {
            for &m in &mantissas {
                for sign in [0u64, 1] {
                    let bits = (sign << 63) | ((biased as u64) << 52) | m;
                    assert_same(f64::from_bits(bits));
                }
            }
        }
    }

    #[test]
    fn near_powers_of_ten_and_two() {
        for p in -30..=30 {
            let ten = 10f64.powi(p);
            for p2 in [p * 3, p * 3 + 1, p * 3 + 2] {
                let two = 2f64.powi(p2);
                for s in -40..=40 {
                    assert_same(ulps(ten, s));
                    assert_same(-ulps(ten, s));
                    assert_same(ulps(two, s));
                }
            }
        }
        // 2^52 (the mantissa limit), 2^96 (Decimal's limit) and the fast range's ends
        for p in [51, 52, 53, 95, 96, 97, -76, -75, -77] {
            for s in -1000..=1000 {
                assert_same(ulps(2f64.powi(p), s));
            }
        }
    }

    #[test]
    fn price_like_values_take_the_fast_path() {
        let mut fast = 0;
        let mut all = 0;
        for digits in 1..=10u32 {
            for scale in 0..=12u32 {
                for n in [1u64, 7, 12_345, 99_999_999, 1_234_567_891, 9_999_999_999] {
                    let n = n % 10u64.pow(digits);
                    let x: f64 = format!("{n}e-{scale}").parse().unwrap();
                    assert_same(x);
                    all += 1;
                    fast += usize::from(dec_fast(x).is_some());
                }
            }
        }
        assert_eq!(
            fast, all,
            "every price-like value should convert without the fallback"
        );
    }

    /// `a⁻¹ mod 2^64` for odd `a` (Newton's iteration doubles the correct bits each step).
    fn inverse_mod_2_64(a: u64) -> u64 {
        let mut inv = a; // correct to 3 bits for odd a
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(inv)));
        }
        inv
    }

    /// Values built so that `x · 10^k` (k the scale `from_f64` keeps) has a fraction just above or
    /// below 4/9, where the fallback's margin decides: around the margin, far inside it and just
    /// outside it, for every binade from 2^-22 to 2^32. Each must equal `from_f64`, and the ones
    /// closest to the tie must actually take the fallback.
    #[test]
    fn near_ties_match_from_f64() {
        let (mut total, mut fell_back) = (0usize, 0usize);
        for r in 20u32..=74 {
            // the scale kept for the middle of the binade [2^(52-r), 2^(53-r))
            let mid = (3u64 << 51) | 1;
            let Some((_, k)) = saturated_digits(mid, r) else {
                continue;
            };
            let shift = r - k;
            if shift == 0 || shift > 52 {
                continue;
            }
            let mask = (1u64 << shift) - 1;
            // 5^k mod 2^64 is odd, and invertible modulo 2^shift
            let inv = inverse_mod_2_64(POW5[k as usize] as u64) & mask;
            let tie = ((4u128 << shift) / 9 + 1) as u64; // first fraction above 4/9
            let mut deltas: Vec<i64> = (-3..=3).collect();
            // (2^i with i near `shift` would wrap at the neighbouring scale, where the tie is
            // at 4/9 again since 10 · 4/9 = 4 + 4/9)
            for i in 0..shift.saturating_sub(5).min(40) {
                for d in [1i64 << i, (1i64 << i) + 1, (1i64 << i) - 1] {
                    deltas.extend([d, -d]);
                }
            }
            for delta in deltas {
                let target = (tie as i64).wrapping_add(delta) as u64 & mask;
                let low = target.wrapping_mul(inv) & mask; // m · 5^k ≡ target (mod 2^shift)
                for j in 0..6u64 {
                    let span = 1u64 << (52 - shift.min(52));
                    let spread = j.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 12;
                    let high = (1u64 << 52) + ((spread % span) << shift);
                    let m = (high & !mask) | low;
                    if !(1u64 << 52..1u64 << 53).contains(&m) {
                        continue;
                    }
                    let bits = ((1075 - r as u64) << 52) | (m - (1u64 << 52));
                    // the margin is 2^-32 of a unit: 2^(shift-32) in units of the fraction bits
                    // at scale k; the scale below (upper part of the binade) sees a tenth of the
                    // distance, so "outside" is 16 times the margin
                    let outside =
                        delta < 0 || delta > 16 * ((1i64 << shift.saturating_sub(32)) + 1);
                    for x in [f64::from_bits(bits), -f64::from_bits(bits)] {
                        assert_same(x);
                        total += 1;
                        let fast = dec_fast(x).is_some();
                        fell_back += usize::from(!fast);
                        assert!(
                            fast || !outside,
                            "{x:e} fell back outside the margin (r {r}, k {k}, delta {delta})"
                        );
                    }
                }
            }
        }
        eprintln!("{total} values near ties, {fell_back} of them by the fallback");
        assert!(total > 50_000, "{total} values");
        assert!(
            fell_back > 0,
            "no near tie reached the fallback ({total} values)"
        );
        assert!(fell_back * 4 < total, "{fell_back} of {total} fell back");
    }

    /// A decimal string with 1–10 significant digits and a scale of 0–12, read as `f64`.
    fn price_like() -> impl Strategy<Value = f64> {
        (1u32..=10, 0u32..=12, any::<u64>(), any::<bool>()).prop_map(
            |(digits, scale, raw, negative)| {
                let n = raw % 10u64.pow(digits);
                let sign = if negative { "-" } else { "" };
                format!("{sign}{n}e-{scale}").parse().unwrap()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn any_bit_pattern(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assert_eq!(dec(x).serialize(), reference(x).serialize(), "{:e}", x);
        }

        #[test]
        fn any_bit_pattern_in_the_fast_range(
            m in 0u64..(1 << 52),
            biased in (1075 + MIN_E2)..=(1075 + MAX_E2),
            negative in any::<bool>(),
        ) {
            let x = f64::from_bits((u64::from(negative) << 63) | ((biased as u64) << 52) | m);
            prop_assert_eq!(dec(x).serialize(), reference(x).serialize(), "{:e}", x);
        }

        #[test]
        fn price_like_decimals(x in price_like()) {
            prop_assert_eq!(dec(x).serialize(), reference(x).serialize(), "{:e}", x);
            prop_assert!(dec_fast(x).is_some(), "{:e} fell back", x);
        }

        #[test]
        fn near_powers(p in -40i32..=40, steps in -1_000_000i64..=1_000_000, two in any::<bool>()) {
            let base = if two { 2f64.powi(p * 3) } else { 10f64.powi(p) };
            let x = ulps(base, steps);
            prop_assert_eq!(dec(x).serialize(), reference(x).serialize(), "{:e}", x);
        }
    }
}
