//! Dated maintenance-margin bracket tables (DESIGN.md §5 "Margin arithmetic", §11).
//!
//! `MM = N × mmr_k − cum_k`, with bracket `k` the one whose notional range holds the notional `N`
//! (valued at mark), and `cum_k = cum_{k−1} + floor_k × (mmr_k − mmr_{k−1})`. Tier lookups use the
//! notional, never the margin. Tables change over time: a [`BracketBook`] holds dated snapshots and
//! answers with the one in force at a given moment.

use crate::symbol::Symbol;
use crate::time::{TimestampMs, iso};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One maintenance bracket: notionals in `[floor, cap)` use `mmr` and `cum`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    /// 1-based bracket number as the exchange counts it.
    pub tier: u32,
    /// Lowest notional (USDT) of the bracket.
    pub floor: Decimal,
    /// Notional cap (USDT) of the bracket.
    pub cap: Decimal,
    /// Maintenance margin rate (fraction).
    pub mmr: Decimal,
    /// Maintenance amount (`cum`, USDT).
    pub cum: Decimal,
    /// Highest leverage allowed inside the bracket.
    pub max_leverage: Decimal,
}

impl Bracket {
    /// Maintenance margin of a notional inside this bracket: `N × mmr − cum`.
    pub fn maintenance(&self, notional: Decimal) -> Decimal {
        notional * self.mmr - self.cum
    }

    /// `mmr` as `f64` for threshold arithmetic.
    pub fn mmr_f64(&self) -> f64 {
        self.mmr.to_f64().unwrap_or(f64::NAN)
    }

    /// `cum` as `f64` for threshold arithmetic.
    pub fn cum_f64(&self) -> f64 {
        self.cum.to_f64().unwrap_or(f64::NAN)
    }
}

/// Something wrong with a bracket table, found by [`validate_brackets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BracketIssue {
    /// The symbol whose table is at fault.
    pub symbol: Symbol,
    /// 1-based tier number at fault.
    pub tier: u32,
    /// What is wrong, with the values.
    pub problem: String,
}

impl fmt::Display for BracketIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} tier {}: {}", self.symbol, self.tier, self.problem)
    }
}

/// Checks one symbol's table: non-empty, first floor 0, ranges contiguous and increasing, MMR
/// increasing, `cum` consistent with the recurrence (to within 0.01 USDT, as exchanges round).
/// Reports every problem; never fixes anything.
pub fn validate_brackets(symbol: &Symbol, tiers: &[Bracket]) -> Vec<BracketIssue> {
    let mut issues = Vec::new();
    let mut push = |tier: u32, problem: String| {
        issues.push(BracketIssue {
            symbol: symbol.clone(),
            tier,
            problem,
        })
    };
    let Some(first) = tiers.first() else {
        push(0, "table has no brackets".into());
        return issues;
    };
    if !first.floor.is_zero() {
        push(
            first.tier,
            format!("first floor is {}, expected 0", first.floor),
        );
    }
    if !first.cum.is_zero() {
        push(
            first.tier,
            format!("first cum is {}, expected 0", first.cum),
        );
    }
    let tolerance = Decimal::new(1, 2);
    for (k, b) in tiers.iter().enumerate() {
        if b.cap <= b.floor {
            push(
                b.tier,
                format!("cap {} is not above floor {}", b.cap, b.floor),
            );
        }
        if b.mmr <= Decimal::ZERO || b.mmr >= Decimal::ONE {
            push(
                b.tier,
                format!("maintenance rate {} is outside (0, 1)", b.mmr),
            );
        }
        if b.max_leverage < Decimal::ONE {
            push(
                b.tier,
                format!("max leverage {} is below 1", b.max_leverage),
            );
        }
        if k == 0 {
            continue;
        }
        let prev = &tiers[k - 1];
        if b.floor != prev.cap {
            push(
                b.tier,
                format!(
                    "floor {} does not continue previous cap {}",
                    b.floor, prev.cap
                ),
            );
        }
        if b.mmr <= prev.mmr {
            push(
                b.tier,
                format!(
                    "maintenance rate {} is not above previous {}",
                    b.mmr, prev.mmr
                ),
            );
        }
        let expected = prev.cum + b.floor * (b.mmr - prev.mmr);
        if (b.cum - expected).abs() > tolerance {
            push(
                b.tier,
                format!(
                    "cum {} inconsistent with recurrence (expected {})",
                    b.cum,
                    expected.normalize()
                ),
            );
        }
    }
    issues
}

/// One snapshot: the tables of every symbol in force from `effective_from` on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BracketSnapshot {
    /// When this snapshot takes effect (ms UTC); `i64::MIN` for "always".
    pub effective_from: TimestampMs,
    /// Where it came from (file name), for reports.
    pub source: String,
    /// Tables by symbol, each sorted by floor.
    pub tables: BTreeMap<Symbol, Vec<Bracket>>,
}

impl BracketSnapshot {
    /// Human-readable effective date (`always` for an undated snapshot).
    pub fn effective_label(&self) -> String {
        if self.effective_from == i64::MIN {
            "always".into()
        } else {
            iso(self.effective_from)
        }
    }
}

/// Dated snapshots of bracket tables, sorted by effective time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BracketBook {
    snapshots: Vec<BracketSnapshot>,
}

impl BracketBook {
    /// Builds a book from snapshots (sorted by effective time here).
    pub fn new(mut snapshots: Vec<BracketSnapshot>) -> Self {
        snapshots.sort_by_key(|s| s.effective_from);
        BracketBook { snapshots }
    }

    /// All snapshots, oldest first.
    pub fn snapshots(&self) -> &[BracketSnapshot] {
        &self.snapshots
    }

    /// The snapshot in force at `t`: the latest whose effective time is `<= t`; if `t` precedes every
    /// snapshot, the earliest one (the best information available).
    pub fn snapshot_at(&self, t: TimestampMs) -> Option<&BracketSnapshot> {
        let n = self.snapshots.partition_point(|s| s.effective_from <= t);
        self.snapshots.get(n.saturating_sub(1))
    }

    /// The table of `symbol` in force at `t`.
    pub fn table(&self, symbol: &Symbol, t: TimestampMs) -> Option<&[Bracket]> {
        self.snapshot_at(t)
            .and_then(|s| s.tables.get(symbol))
            .map(Vec::as_slice)
    }

    /// The bracket of `symbol` holding `notional` at time `t`.
    pub fn lookup(&self, symbol: &Symbol, notional: Decimal, t: TimestampMs) -> Option<&Bracket> {
        self.table(symbol, t)
            .map(|tiers| bracket_for(tiers, notional))
    }

    /// Every issue of every table of every snapshot.
    pub fn validate(&self) -> Vec<(String, BracketIssue)> {
        self.snapshots
            .iter()
            .flat_map(|s| {
                s.tables
                    .iter()
                    .flat_map(move |(sym, t)| validate_brackets(sym, t))
                    .map(move |i| (s.source.clone(), i))
            })
            .collect()
    }
}

/// The bracket of a (non-empty, validated) table holding `notional`: `floor <= N < cap`; notionals
/// beyond the last cap use the last bracket.
///
/// # Panics
/// If `tiers` is empty.
pub fn bracket_for(tiers: &[Bracket], notional: Decimal) -> &Bracket {
    let n = tiers.partition_point(|b| b.cap <= notional);
    &tiers[n.min(tiers.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    /// BTCUSDT, late 2024 (DESIGN.md §11).
    pub(crate) fn btc() -> Vec<Bracket> {
        let rows = [
            (dec!(0), dec!(50000), dec!(125), dec!(0.004), dec!(0)),
            (dec!(50000), dec!(600000), dec!(100), dec!(0.005), dec!(50)),
            (
                dec!(600000),
                dec!(3000000),
                dec!(75),
                dec!(0.0065),
                dec!(950),
            ),
            (
                dec!(3000000),
                dec!(12000000),
                dec!(50),
                dec!(0.01),
                dec!(11450),
            ),
            (
                dec!(12000000),
                dec!(70000000),
                dec!(25),
                dec!(0.02),
                dec!(131450),
            ),
            (
                dec!(70000000),
                dec!(100000000),
                dec!(20),
                dec!(0.025),
                dec!(481450),
            ),
            (
                dec!(100000000),
                dec!(230000000),
                dec!(10),
                dec!(0.05),
                dec!(2981450),
            ),
            (
                dec!(230000000),
                dec!(480000000),
                dec!(5),
                dec!(0.10),
                dec!(14481450),
            ),
        ];
        rows.iter()
            .enumerate()
            .map(|(i, &(floor, cap, lev, mmr, cum))| Bracket {
                tier: i as u32 + 1,
                floor,
                cap,
                mmr,
                cum,
                max_leverage: lev,
            })
            .collect()
    }

    #[test]
    fn reference_table_is_consistent() {
        let sym = Symbol::parse("BTCUSDT").unwrap();
        assert_eq!(validate_brackets(&sym, &btc()), vec![]);
    }

    #[test]
    fn lookup_is_by_notional() {
        let t = btc();
        assert_eq!(bracket_for(&t, dec!(49999.99)).tier, 1);
        assert_eq!(bracket_for(&t, dec!(50000)).tier, 2);
        assert_eq!(bracket_for(&t, dec!(5000000)).tier, 4);
        assert_eq!(bracket_for(&t, dec!(900000000)).tier, 8);
        // MM at 1 BTC x 60,000 = 60,000 x 0.5% - 50 = 250
        assert_eq!(
            bracket_for(&t, dec!(60000)).maintenance(dec!(60000)),
            dec!(250)
        );
    }

    #[test]
    fn inconsistent_tables_are_reported() {
        let sym = Symbol::parse("BTCUSDT").unwrap();
        let mut t = btc();
        t[2].cum = dec!(1000);
        t[4].floor = dec!(11000000);
        t[5].mmr = dec!(0.015);
        let issues = validate_brackets(&sym, &t);
        let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        assert!(
            text.iter()
                .any(|m| m.contains("tier 3: cum 1000 inconsistent")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("tier 5: floor 11000000 does not continue")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|m| m.contains("tier 6: maintenance rate 0.015 is not above")),
            "{text:?}"
        );
    }

    #[test]
    fn snapshots_are_dated() {
        let sym = Symbol::parse("BTCUSDT").unwrap();
        let mut old = btc();
        old[1].cap = dec!(250000);
        old[2].floor = dec!(250000);
        let snap = |from, tiers: Vec<Bracket>| BracketSnapshot {
            effective_from: from,
            source: format!("s{from}"),
            tables: [(sym.clone(), tiers)].into_iter().collect(),
        };
        let book = BracketBook::new(vec![snap(2000, btc()), snap(1000, old)]);
        assert_eq!(book.lookup(&sym, dec!(300000), 1500).unwrap().tier, 3);
        assert_eq!(book.lookup(&sym, dec!(300000), 2500).unwrap().tier, 2);
        // before every snapshot: the earliest
        assert_eq!(book.lookup(&sym, dec!(300000), 0).unwrap().tier, 3);
    }
}
