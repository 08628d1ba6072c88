//! The built-in library of dated Binance USDⓈ-M maintenance-bracket snapshots.
//!
//! Generated from public leverage-tier tables (freqtrade's `binance_leverage_tiers.json`, ccxt
//! format) by `ringfence brackets build`, committed as `crates/data/brackets/binance_usdm.json`
//! and compiled into the binary. The artefact is compact: identical tables are stored once
//! (`tables`), each snapshot maps symbols to a table index. Rerun the command on a newer table to
//! add a snapshot (see `docs/data.md`).
//!
//! Lookups ([`BracketLibrary::in_force`], [`BracketLibrary::book`]) use, per symbol, the snapshot
//! in force at each moment; a symbol absent from that snapshot (listed later) takes its table from
//! the nearest snapshot that has it, and a symbol no snapshot has (delisted or renamed) takes the
//! scenario's [`Fallback`] — each with a warning.

use crate::brackets::LoadedBrackets;
use crate::error::DataError;
use ringfence_model::bracket::{Bracket, BracketBook, BracketSnapshot};
use ringfence_model::symbol::Symbol;
use ringfence_model::time::TimestampMs;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

/// The committed artefact.
const BUILTIN_JSON: &str = include_str!("../brackets/binance_usdm.json");
/// The format tag of the artefact.
const FORMAT: &str = "ringfence-brackets-1";

/// One dated snapshot of the library.
#[derive(Debug, Clone, PartialEq)]
pub struct LibrarySnapshot {
    /// The day it takes effect (`2024-10-01`).
    pub date: String,
    /// The same, in ms UTC.
    pub effective_from: TimestampMs,
    /// The public table it was generated from.
    pub source: String,
    symbols: BTreeMap<Symbol, usize>,
}

impl LibrarySnapshot {
    /// Symbols with a table in this snapshot.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.symbols.keys()
    }
}

/// A symbol's table at a moment, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InForce<'a> {
    /// The tiers.
    pub table: &'a [Bracket],
    /// The snapshot in force at that moment.
    pub in_force: &'a LibrarySnapshot,
    /// The snapshot the table comes from (another one when the symbol is absent from `in_force`).
    pub from: &'a LibrarySnapshot,
}

/// What a symbol that no snapshot has gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Nothing: calls on it are refused (the scenario says why).
    #[default]
    None,
    /// Another symbol's table (e.g. `POLUSDT` for `MATICUSDT`).
    Symbol(Symbol),
    /// The library's generic alt table (the most common table of the latest snapshot: the one
    /// Binance gives its small alts).
    GenericAlt,
}

impl Fallback {
    /// Parses a scenario value: `generic` (or `generic-alt`) or a symbol.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(Fallback::None),
            "generic" | "generic-alt" | "generic_alt" => Ok(Fallback::GenericAlt),
            _ => Symbol::parse(s)
                .map(Fallback::Symbol)
                .map_err(|e| format!("{e}; expected a symbol (e.g. ETHUSDT) or \"generic\"")),
        }
    }
}

/// Dated snapshots with deduplicated tables.
#[derive(Debug, Clone, PartialEq)]
pub struct BracketLibrary {
    snapshots: Vec<LibrarySnapshot>,
    tables: Vec<Vec<Bracket>>,
    generic_alt: usize,
}

/// The on-disk form.
#[derive(Serialize, Deserialize)]
struct Artefact {
    format: String,
    venue: String,
    generated_by: String,
    snapshots: Vec<ArtefactSnapshot>,
    generic_alt: usize,
    /// Each table: tiers `[floor, cap, maintenance rate, max leverage, cum]` as decimal text.
    tables: Vec<Vec<[String; 5]>>,
}

#[derive(Serialize, Deserialize)]
struct ArtefactSnapshot {
    date: String,
    source: String,
    symbols: BTreeMap<String, usize>,
}

fn day_ms(date: &str) -> Option<TimestampMs> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

impl BracketLibrary {
    /// The library compiled into the binary.
    pub fn builtin() -> &'static BracketLibrary {
        static LIB: OnceLock<BracketLibrary> = OnceLock::new();
        LIB.get_or_init(|| {
            // The artefact is generated and tested (`builtin_library_parses`): failing here is a
            // build defect, not user input.
            BracketLibrary::parse(BUILTIN_JSON, "built-in bracket library")
                .unwrap_or_else(|e| panic!("{e}"))
        })
    }

    /// Builds a library from loaded tables, each with the day it takes effect (`2024-10-01`).
    /// Only perpetuals are kept (dated contracts were skipped when loading).
    pub fn from_tables(inputs: Vec<(LoadedBrackets, String)>) -> Result<Self, DataError> {
        let mut tables: Vec<Vec<Bracket>> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut snapshots = Vec::new();
        for (loaded, date) in inputs {
            let effective_from = day_ms(&date).ok_or_else(|| {
                DataError::file(
                    &loaded.snapshot.source,
                    format!("date {date:?} is not a day (YYYY-MM-DD)"),
                )
            })?;
            let mut symbols = BTreeMap::new();
            for (sym, tiers) in loaded.snapshot.tables {
                let key = serde_json::to_string(&rows(&tiers)).unwrap_or_default();
                let k = *index.entry(key).or_insert_with(|| {
                    tables.push(tiers);
                    tables.len() - 1
                });
                symbols.insert(sym, k);
            }
            snapshots.push(LibrarySnapshot {
                date,
                effective_from,
                source: loaded.snapshot.source,
                symbols,
            });
        }
        snapshots.sort_by_key(|s| s.effective_from);
        let latest = snapshots
            .last()
            .ok_or_else(|| DataError::file("bracket library", "no table given"))?;
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for (sym, &k) in &latest.symbols {
            if sym.as_str().ends_with("USDT") {
                *counts.entry(k).or_default() += 1;
            }
        }
        let generic_alt = counts
            .iter()
            .max_by_key(|(k, n)| (**n, std::cmp::Reverse(**k)))
            .map(|(k, _)| *k)
            .unwrap_or(0);
        Ok(BracketLibrary {
            snapshots,
            tables,
            generic_alt,
        })
    }

    /// Reads the artefact; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<Self, DataError> {
        let a: Artefact = serde_json::from_str(text)
            .map_err(|e| DataError::at(file, e.line(), format!("invalid bracket library: {e}")))?;
        if a.format != FORMAT {
            return Err(DataError::file(
                file,
                format!("format {:?}, expected {FORMAT:?}", a.format),
            ));
        }
        let mut tables = Vec::with_capacity(a.tables.len());
        for (i, t) in a.tables.iter().enumerate() {
            let mut tiers = Vec::with_capacity(t.len());
            for (k, row) in t.iter().enumerate() {
                let d = |j: usize| {
                    Decimal::from_str(&row[j]).map_err(|e| {
                        DataError::file(
                            file,
                            format!("table {i} tier {}: {:?}: {e}", k + 1, row[j]),
                        )
                    })
                };
                tiers.push(Bracket {
                    tier: k as u32 + 1,
                    floor: d(0)?,
                    cap: d(1)?,
                    mmr: d(2)?,
                    max_leverage: d(3)?,
                    cum: d(4)?,
                });
            }
            tables.push(tiers);
        }
        let mut snapshots = Vec::new();
        for s in a.snapshots {
            let effective_from = day_ms(&s.date).ok_or_else(|| {
                DataError::file(file, format!("snapshot date {:?} is not a day", s.date))
            })?;
            let mut symbols = BTreeMap::new();
            for (name, k) in s.symbols {
                let sym = Symbol::parse(&name)
                    .map_err(|e| DataError::file(file, format!("snapshot {}: {e}", s.date)))?;
                if k >= tables.len() {
                    return Err(DataError::file(
                        file,
                        format!("snapshot {}: {name} points at missing table {k}", s.date),
                    ));
                }
                symbols.insert(sym, k);
            }
            snapshots.push(LibrarySnapshot {
                date: s.date,
                effective_from,
                source: s.source,
                symbols,
            });
        }
        snapshots.sort_by_key(|s| s.effective_from);
        if snapshots.is_empty() || a.generic_alt >= tables.len() {
            return Err(DataError::file(
                file,
                "no snapshot, or no generic alt table",
            ));
        }
        Ok(BracketLibrary {
            snapshots,
            tables,
            generic_alt: a.generic_alt,
        })
    }

    /// The artefact's text: one table per line, so a regenerated library diffs readably.
    pub fn to_json(&self, generated_by: &str) -> String {
        let mut out = String::from("{\n");
        out.push_str(&format!("  \"format\": {},\n", FORMAT.json()));
        out.push_str(&format!(
            "  \"venue\": {},\n",
            "Binance USDⓈ-M perpetuals".json()
        ));
        out.push_str(&format!("  \"generated_by\": {},\n", generated_by.json()));
        out.push_str(&format!("  \"generic_alt\": {},\n", self.generic_alt));
        out.push_str("  \"snapshots\": [\n");
        for (i, s) in self.snapshots.iter().enumerate() {
            let symbols: BTreeMap<String, usize> =
                s.symbols.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            let snap = ArtefactSnapshot {
                date: s.date.clone(),
                source: s.source.clone(),
                symbols,
            };
            let comma = if i + 1 < self.snapshots.len() {
                ","
            } else {
                ""
            };
            out.push_str(&format!("    {}{comma}\n", snap.json()));
        }
        out.push_str("  ],\n  \"tables\": [\n");
        for (i, t) in self.tables.iter().enumerate() {
            let comma = if i + 1 < self.tables.len() { "," } else { "" };
            out.push_str(&format!("    {}{comma}\n", rows(t).json()));
        }
        out.push_str("  ]\n}\n");
        out
    }

    /// Snapshots, oldest first.
    pub fn snapshots(&self) -> &[LibrarySnapshot] {
        &self.snapshots
    }

    /// The generic alt table.
    pub fn generic_alt(&self) -> &[Bracket] {
        &self.tables[self.generic_alt]
    }

    /// Index of the snapshot in force at `t` (the earliest when `t` precedes all).
    fn index_at(&self, t: TimestampMs) -> usize {
        self.snapshots
            .partition_point(|s| s.effective_from <= t)
            .saturating_sub(1)
    }

    /// The snapshot nearest in time to snapshot `i` that has `symbol` (itself first; ties go to
    /// the later one).
    fn nearest_having(&self, i: usize, symbol: &Symbol) -> Option<usize> {
        let at = self.snapshots[i].effective_from;
        (0..self.snapshots.len())
            .filter(|&j| self.snapshots[j].symbols.contains_key(symbol))
            .min_by_key(|&j| {
                (
                    (self.snapshots[j].effective_from - at).unsigned_abs(),
                    std::cmp::Reverse(j),
                )
            })
    }

    /// `symbol`'s table at `t`: from the snapshot in force, else from the nearest snapshot that
    /// has it; `None` when no snapshot has it.
    pub fn in_force(&self, symbol: &Symbol, t: TimestampMs) -> Option<InForce<'_>> {
        let i = self.index_at(t);
        let j = self.nearest_having(i, symbol)?;
        Some(InForce {
            table: &self.tables[self.snapshots[j].symbols[symbol]],
            in_force: &self.snapshots[i],
            from: &self.snapshots[j],
        })
    }

    /// A book with the tables of `symbols`, one snapshot per library snapshot, and the warnings
    /// a run over `[range.0, range.1]` needs: a table borrowed from another snapshot (naming both
    /// dates) or a fallback. Snapshots not in force during the range produce no warning.
    pub fn book(
        &self,
        symbols: &[Symbol],
        range: (TimestampMs, TimestampMs),
        fallback: &Fallback,
    ) -> (BracketBook, Vec<String>) {
        let mut warnings = Vec::new();
        let mut snaps = Vec::with_capacity(self.snapshots.len());
        for (i, s) in self.snapshots.iter().enumerate() {
            let starts = if i == 0 { i64::MIN } else { s.effective_from };
            let ends = self
                .snapshots
                .get(i + 1)
                .map_or(i64::MAX, |n| n.effective_from);
            let used = starts <= range.1 && range.0 < ends;
            let until = self
                .snapshots
                .get(i + 1)
                .map_or_else(|| "on".to_string(), |n| format!("until {}", n.date));
            let mut tables = BTreeMap::new();
            for sym in symbols {
                if let Some(k) = s.symbols.get(sym) {
                    tables.insert(sym.clone(), self.tables[*k].clone());
                    continue;
                }
                if let Some(j) = self.nearest_having(i, sym) {
                    let other = &self.snapshots[j];
                    tables.insert(sym.clone(), self.tables[other.symbols[sym]].clone());
                    if used {
                        warnings.push(format!(
                            "{sym}: not in the built-in {} bracket snapshot (listed later, or delisted by then): its {} table is used from {} {until}",
                            s.date, other.date, s.date
                        ));
                    }
                    continue;
                }
                let (table, what) = match fallback {
                    Fallback::None => continue,
                    Fallback::GenericAlt => (
                        self.generic_alt().to_vec(),
                        "the generic alt table".to_string(),
                    ),
                    Fallback::Symbol(other) => match self.in_force(other, s.effective_from) {
                        Some(f) => (
                            f.table.to_vec(),
                            format!("the {other} table of {}", f.from.date),
                        ),
                        None => continue,
                    },
                };
                tables.insert(sym.clone(), table);
                if used {
                    warnings.push(format!(
                        "{sym}: in no built-in bracket snapshot (delisted or renamed?): {what} is used (exchange.bracket_fallback), from {} {until}",
                        s.date
                    ));
                }
            }
            snaps.push(BracketSnapshot {
                effective_from: s.effective_from,
                source: format!("built-in Binance USDⓈ-M brackets {} ({})", s.date, s.source),
                tables,
            });
        }
        // The earliest snapshot also answers for times before it (BracketBook's rule).
        (BracketBook::new(snaps), warnings)
    }
}

/// `[floor, cap, mmr, max leverage, cum]` rows as normalised decimal text.
fn rows(tiers: &[Bracket]) -> Vec<[String; 5]> {
    tiers
        .iter()
        .map(|b| [b.floor, b.cap, b.mmr, b.max_leverage, b.cum].map(|d| d.normalize().to_string()))
        .collect()
}

/// Compact JSON of any serialisable value (one line).
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
use erased::Json as _;
