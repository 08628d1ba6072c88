//! The `f64` bound a funding settlement writes for an isolated position's liquidation price
//! (`ringfence_sim::margin::isolated_liq_bound`) never fires later than the exact `Decimal` price
//! (`isolated_liq_price`), on every table of the two real Binance bracket files in
//! `../shared/data` (Oct 2024, 349 pairs; Sep 2026, 858 perps), loaded by the project's own
//! loader: for a long the bound is at least the exact price, for a short at most, and within a
//! millionth of it.
//!
//! Per table and bracket: both sides; leverage 1, 10 and the bracket's own maximum; a notional at
//! the bracket's floor, middle and just under its cap; the margin as opened, and moved 60 % down
//! and 60 % up by funding; and the wallets that put the exact price's notional on the bracket's
//! cap, and a hundred-millionth of a USDT either side, where the exact search changes brackets.
//! In CI (`CI=true`) missing shared data fails the test.

use ringfence_data::brackets::load_bracket_file;
use ringfence_data::testing::shared_data;
use ringfence_model::{Bracket, Price, Qty, Side, Usdt};
use ringfence_sim::f64_to_decimal as dec;
use ringfence_sim::margin::{
    bound_fires_no_later, isolated_liq_bound, isolated_liq_price, max_leverage_of, max_leverages,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Cases checked, and how many of them got a bound (the others take the exact price).
#[derive(Default)]
struct Tally {
    cases: usize,
    bounded: usize,
}

impl Tally {
    fn check(
        &mut self,
        what: &str,
        side: Side,
        qty: Decimal,
        px: f64,
        wallet: Decimal,
        t: &[Bracket],
    ) {
        if qty <= Decimal::ZERO || px <= 0.0 {
            return;
        }
        let exact = isolated_liq_price(side, Qty(qty), Price(dec(px)), Usdt(wallet), t)
            .map_or(f64::NAN, |l| l.price.0.to_f64().unwrap_or(f64::NAN));
        self.cases += 1;
        let Some(b) = isolated_liq_bound(side, qty, px, wallet, t) else {
            return;
        };
        self.bounded += 1;
        let long = side == Side::Long;
        assert!(
            bound_fires_no_later(long, b, exact),
            "{what}: {side:?} qty {qty} at {px} with {wallet}: bound {b} fires after the exact {exact}"
        );
        if exact.is_finite() {
            let scale = exact.abs() + px + (wallet.abs() / qty).to_f64().unwrap_or(0.0);
            assert!(
                (b - exact).abs() <= 1e-6 * scale,
                "{what}: {side:?} qty {qty} at {px} with {wallet}: bound {b} far from {exact}"
            );
        }
    }

    fn table(&mut self, what: &str, t: &[Bracket]) {
        for b in t {
            let floor = b.floor.to_f64().unwrap_or(0.0);
            let cap = b.cap.to_f64().unwrap_or(floor * 2.0 + 1.0);
            let max_lev = b.max_leverage.to_u32().unwrap_or(1).max(1);
            for side in [Side::Long, Side::Short] {
                for px in [0.0123, 61_234.5] {
                    for notional in [floor.max(5.0), (floor + cap) / 2.0, cap * 0.999_999] {
                        let qty = (dec(notional / px) * Decimal::from(1000)).round()
                            / Decimal::from(1000);
                        for lev in [1, 10, max_lev] {
                            let im = (qty * dec(px) / Decimal::from(lev)).round_dp(8);
                            for moved in [Decimal::new(4, 1), Decimal::ONE, Decimal::new(16, 1)] {
                                self.check(what, side, qty, px, (im * moved).round_dp(8), t);
                            }
                        }
                        self.at_cap(what, side, qty, px, b, t);
                    }
                }
            }
        }
    }

    /// The wallets whose exact price puts the notional on bracket `b`'s cap, and one step of
    /// 1e-8 USDT either side.
    fn at_cap(
        &mut self,
        what: &str,
        side: Side,
        qty: Decimal,
        px: f64,
        b: &Bracket,
        t: &[Bracket],
    ) {
        if qty <= Decimal::ZERO {
            return;
        }
        let s = side.sign_dec();
        let entry = dec(px);
        let lp = b.cap / qty;
        let Some(w) = lp
            .checked_mul(qty * b.mmr - s * qty)
            .and_then(|x| x.checked_sub(b.cum))
            .and_then(|x| x.checked_add(s * qty * entry))
        else {
            return;
        };
        for step in -1..=1 {
            self.check(
                what,
                side,
                qty,
                px,
                w.round_dp(8) + Decimal::new(step, 8),
                t,
            );
        }
    }
}

#[test]
fn the_bound_never_fires_later_on_any_real_bracket_table() {
    let Some(dir) = shared_data() else {
        return;
    };
    let files = [
        dir.join("freqtrade/binance_leverage_tiers.json"),
        dir.join("freqtrade/binance_leverage_tiers_2026-09.json"),
    ];
    let mut tally = Tally::default();
    let mut tables = 0;
    for f in &files {
        let loaded = load_bracket_file(f, i64::MIN).expect("the real bracket file loads");
        for (symbol, t) in &loaded.snapshot.tables {
            tally.table(&format!("{} {symbol}", f.display()), t);
            tables += 1;
        }
    }
    assert!(tables > 1_000, "both files' tables: {tables}");
    assert!(
        tally.bounded * 2 > tally.cases,
        "most positions get a bound: {} of {}",
        tally.bounded,
        tally.cases
    );
    eprintln!(
        "{tables} tables, {} positions, {} with a bound",
        tally.cases, tally.bounded
    );
}

/// The sizing's bracket maximum leverage read off the `f64` table (`max_leverages`, which the
/// engine uses) is the exact bracket's (`max_leverage_of`) on every table of both real files:
/// notionals at every cap and floor, a few units in the last place either side, a relative
/// hair (1e-10, 1e-9, 1e-8) either side, and the middle of every bracket.
#[test]
fn the_f64_max_leverage_is_the_exact_brackets_on_every_real_table() {
    let Some(dir) = shared_data() else {
        return;
    };
    let mut checked = 0usize;
    for f in [
        dir.join("freqtrade/binance_leverage_tiers.json"),
        dir.join("freqtrade/binance_leverage_tiers_2026-09.json"),
    ] {
        let loaded = load_bracket_file(&f, i64::MIN).expect("the real bracket file loads");
        for (symbol, t) in &loaded.snapshot.tables {
            let mut ns = Vec::new();
            for b in t {
                let floor = b.floor.to_f64().unwrap_or(0.0);
                let cap = b.cap.to_f64().unwrap_or(f64::MAX);
                ns.push((floor + cap.min(floor * 4.0 + 1e6)) / 2.0);
                for edge in [floor, cap] {
                    for ulps in -3i64..=3 {
                        ns.push(f64::from_bits((edge.to_bits() as i64 + ulps).max(0) as u64));
                    }
                    for rel in [1e-10, 1e-9, 1e-8] {
                        ns.push(edge * (1.0 + rel));
                        ns.push(edge * (1.0 - rel));
                    }
                }
            }
            let fast = max_leverages(t, &ns);
            for (&n, &v) in ns.iter().zip(&fast) {
                let exact = max_leverage_of(t, n);
                assert_eq!(
                    v.to_bits(),
                    exact.to_bits(),
                    "{} {symbol}: notional {n}: {v} against the exact bracket's {exact}",
                    f.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50_000, "notionals checked: {checked}");
    eprintln!("{checked} notionals, every one the exact bracket's maximum leverage");
}
