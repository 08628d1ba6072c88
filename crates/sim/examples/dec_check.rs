//! The long randomized check of the engine's `f64` → `Decimal` conversion, run by hand (it takes
//! minutes in an optimised build): every value's `serialize()` against `Decimal::from_f64`.
//!
//! ```text
//! cargo run -p ringfence-sim --profile fuzz --example dec_check -- [uniform] [in_range] [price_like]
//! ```
//!
//! (defaults 10^9, 10^9, 10^8). Three sets, each from a fixed seed:
//! - `uniform`: any `u64` bit pattern. Outside the closed form's range (`dec_fast` is `None`) the
//!   conversion *is* `from_f64`, so only the values the closed form takes are compared;
//! - `in_range`: random mantissa, sign and binary exponent inside the closed form's range
//!   (`2^-76 ≤ |x| < 2^96`), every value compared;
//! - `price_like`: `n / 10^s` with `n` of 1–10 digits and `s` in 0–12 (the correctly rounded
//!   quotient, the same `f64` as parsing the decimal text), every value compared.
//!
//! Prints the counts per set and exits 1 on the first mismatch.

use ringfence_sim::{f64_to_decimal, f64_to_decimal_fast};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use std::process::ExitCode;

/// SplitMix64: a fixed, fast stream of 64-bit values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[derive(Clone, Copy, Default)]
struct Counts {
    values: u64,
    compared: u64,
    fast: u64,
    mismatches: u64,
}

fn reference(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap_or(Decimal::ZERO)
}

/// Compares one value; `all`: compare even when the fallback is taken.
fn check(x: f64, all: bool, c: &mut Counts) {
    c.values += 1;
    let fast = f64_to_decimal_fast(x);
    c.fast += u64::from(fast.is_some());
    if fast.is_none() && !all {
        return;
    }
    c.compared += 1;
    let got = f64_to_decimal(x);
    let want = reference(x);
    if got.serialize() != want.serialize() {
        c.mismatches += 1;
        if c.mismatches <= 10 {
            eprintln!(
                "mismatch: {x:e} (bits {:#018x}): {got} (scale {}) vs from_f64 {want} (scale {})",
                x.to_bits(),
                got.scale(),
                want.scale()
            );
        }
    }
}

fn value(set: &str, rng: &mut Rng) -> f64 {
    match set {
        "uniform" => f64::from_bits(rng.next()),
        "in_range" => {
            let r = rng.next();
            let biased = 1075 - 128 + (r >> 52) % 172; // e2 in -128..=43
            f64::from_bits((r & (1 << 63)) | (biased << 52) | (rng.next() >> 12))
        }
        _ => {
            let r = rng.next();
            let digits = 1 + (r % 10) as u32;
            let scale = ((r >> 8) % 13) as i32;
            let n = (rng.next() % 10u64.pow(digits)) as f64;
            let x = n / 10f64.powi(scale); // both exact: the quotient is correctly rounded
            if r >> 63 == 1 { -x } else { x }
        }
    }
}

fn run(set: &'static str, count: u64, seed: u64) -> Counts {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2)) as u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = Rng(seed ^ (t + 1).wrapping_mul(0xd6e8_feb8_6659_fd93));
                let mut c = Counts::default();
                let all = set != "uniform";
                for _ in 0..count / threads + u64::from(t < count % threads) {
                    check(value(set, &mut rng), all, &mut c);
                }
                c
            })
        })
        .collect();
    handles.into_iter().fold(Counts::default(), |a, h| {
        let c = h.join().expect("worker thread");
        Counts {
            values: a.values + c.values,
            compared: a.compared + c.compared,
            fast: a.fast + c.fast,
            mismatches: a.mismatches + c.mismatches,
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("counts are whole numbers"))
        .collect();
    let count = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let mut failed = false;
    for (i, (set, default, seed)) in [
        ("uniform", 1_000_000_000u64, 1u64),
        ("in_range", 1_000_000_000, 2),
        ("price_like", 100_000_000, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let started = std::time::Instant::now();
        let c = run(set, count(i, default), seed);
        println!(
            "{set}: {} values, {} by the closed form, {} compared with from_f64, {} mismatches ({:.0?})",
            c.values,
            c.fast,
            c.compared,
            c.mismatches,
            started.elapsed()
        );
        failed |= c.mismatches > 0;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
