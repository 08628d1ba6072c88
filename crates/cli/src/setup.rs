//! Scenario set-up kept out of `prepare.rs`: the bracket tables of a scenario that names no file
//! (the built-in dated library, per symbol the snapshot in force), the warnings for
//! `[[brackets]]` files without an `effective` date, and the lower-timeframe files of
//! `[data.files]`.

use crate::scenario::Scenario;
use ringfence_data::bracket_library::BracketLibrary;
use ringfence_data::load::{Columns, FileSpec, SymbolSources};
use ringfence_model::time::{TimestampMs, iso};
use ringfence_model::{BracketBook, Market, SignalEvent, Symbol};
use std::path::Path;

/// Files dated by their name this long before the run's start earn a warning (about six months).
const STALE_MS: TimestampMs = 183 * 24 * 3_600_000;

/// The run's time range: its signals', else the market's.
fn range(signals: &[SignalEvent], market: &Market) -> (TimestampMs, TimestampMs) {
    match (signals.first(), signals.last()) {
        (Some(a), Some(b)) => (a.time, b.time),
        _ => (
            market.times.first().copied().unwrap_or(0),
            market.times.last().copied().unwrap_or(0),
        ),
    }
}

/// The built-in library's book for `symbols`, with a warning for every table borrowed from
/// another snapshot or taken from `exchange.bracket_fallback`.
pub fn builtin(
    sc: &Scenario,
    symbols: &[Symbol],
    signals: &[SignalEvent],
    market: &Market,
) -> (BracketBook, Vec<String>) {
    BracketLibrary::builtin().book(symbols, range(signals, market), &sc.bracket_fallback)
}

/// `[[brackets]]` files without `effective` apply to every date: say so, and warn when the run
/// starts long before the date in the file's name (`..._2026-09.json`).
pub fn undated_warnings(sc: &Scenario, signals: &[SignalEvent]) -> Vec<String> {
    let mut out = Vec::new();
    let start = signals.first().map(|e| e.time);
    for (path, eff) in &sc.brackets {
        if *eff != i64::MIN {
            continue;
        }
        out.push(format!(
            "{}: [[brackets]] without `effective`: its tables are applied to every date of the run",
            path.display()
        ));
        if let (Some(dated), Some(start)) = (date_in_name(path), start)
            && dated - start > STALE_MS
        {
            out.push(format!(
                "{}: the file is dated {} by its name, but the run starts {}, {} days earlier: tables change over time (give `effective`, or drop [[brackets]] to use the built-in dated library)",
                path.display(),
                iso(dated),
                iso(start),
                (dated - start) / (24 * 3_600_000)
            ));
        }
    }
    out
}

/// The `lower` candle files of `[data.files]` for the symbols needed (same format as the
/// symbol's other files; mark and funding are not needed for refinement).
pub fn lower_files(sc: &Scenario, symbols: &[Symbol], columns: &Columns) -> Vec<SymbolSources> {
    sc.data
        .files
        .iter()
        .filter_map(|(key, f)| {
            let symbol = Symbol::parse(key).ok().filter(|s| symbols.contains(s))?;
            let path = f.lower.clone()?;
            Some(SymbolSources {
                symbol,
                candles: FileSpec {
                    path,
                    format: f.format.with_columns(columns),
                },
                mark: None,
                funding: None,
            })
        })
        .collect()
}

/// A `YYYY-MM-DD` or `YYYY-MM` in a file name (the first day of the month for the latter).
fn date_in_name(path: &Path) -> Option<TimestampMs> {
    let name = path.file_name()?.to_str()?;
    let b = name.as_bytes();
    (0..b.len()).find_map(|i| {
        let digits =
            |r: std::ops::Range<usize>| r.end <= b.len() && b[r].iter().all(u8::is_ascii_digit);
        if !(digits(i..i + 4) && b.get(i + 4) == Some(&b'-') && digits(i + 5..i + 7)) {
            return None;
        }
        let day = if b.get(i + 7) == Some(&b'-') && digits(i + 8..i + 10) {
            &name[i..i + 10]
        } else {
            return ringfence_data::signals::parse_time(&format!("{}-01", &name[i..i + 7])).ok();
        };
        ringfence_data::signals::parse_time(day).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_file_names() {
        let d = |s: &str| date_in_name(Path::new(s)).map(iso);
        assert_eq!(
            d("x/binance_leverage_tiers_2026-09.json").as_deref(),
            Some("2026-09-01T00:00:00Z")
        );
        assert_eq!(
            d("tiers-2025-10-10.json").as_deref(),
            Some("2025-10-10T00:00:00Z")
        );
        assert_eq!(d("binance_leverage_tiers.json"), None);
    }
}
