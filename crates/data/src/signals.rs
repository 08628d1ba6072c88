//! Signal files: a channel's history as CSV or JSON Lines (DESIGN.md §4).
//!
//! One row (CSV) or one object (JSON Lines) per event, with the keys `id, time, action, symbol,
//! side, entry, entry_high, stop, targets, leverage, margin_mode, msg_id, entries`. Only `id` and
//! `time` are required; unknown keys are an error naming them. Both formats go through the same row parser,
//! so a CSV file and its JSON Lines twin give identical events.
//!
//! Validation reports every problem at once ([`DataError::Many`]), each naming the file, the line
//! and the values at fault. Things a real channel does (targets out of order, leverage above 125,
//! closing twice) are warnings in [`SignalSet::warnings`], not errors.
//!
//! Price checks, for a long (mirror for a short): the stop must be below the entry (below the
//! zone's lower edge for a zone), every target above the entry (above the zone's upper edge). A
//! market entry has no price to check against, so its targets must lie above its stop.
//!
//! Updates (`close`, `cancel`, `move_stop`) take their symbol and side from the call they refer to.
//!
//! Two optional columns carry what imported channels contain: `msg_id` (the message an event came
//! from) and `entries`, an entry ladder `a;b;c` or with weights `a@w;b@w` (instead of `entry` /
//! `entry_high`). `leverage` also takes a range `5-10` or `5-10x` (see
//! [`SignalEvent::leverage_high`]).

use crate::DataError;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rayon::prelude::*;
use ringfence_model::{
    Action, EntryLevel, EntrySpec, MarginMode, Side, SignalEvent, SignalId, Symbol, TimestampMs,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The parsed, validated events of one signal file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignalSet {
    /// Events sorted by `(time, line)`.
    pub events: Vec<SignalEvent>,
    /// Things worth a reader's attention that are not errors, each naming the file and line.
    pub warnings: Vec<String>,
}

/// The keys a signal row may carry.
pub const COLUMNS: [&str; 13] = ringfence_model::signal::SIGNAL_COLUMNS;

/// Leverage above this is warned about (Binance's highest bracket allows 125x).
const MAX_USUAL_LEVERAGE: f64 = 125.0;

/// Reads and validates a signal file.
///
/// The format is chosen by extension (`.csv`; `.jsonl` / `.ndjson`), else by content (a first
/// non-blank line starting with `{` means JSON Lines). When `known_symbols` is given, a symbol
/// outside it is an error.
pub fn load_signals(
    path: &Path,
    known_symbols: Option<&BTreeSet<Symbol>>,
) -> Result<SignalSet, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    parse_signals(&path.display().to_string(), &text, known_symbols)
}

/// Parses and validates signal text; `name` is used in messages and for format detection.
pub fn parse_signals(
    name: &str,
    text: &str,
    known_symbols: Option<&BTreeSet<Symbol>>,
) -> Result<SignalSet, DataError> {
    let rows = match detect_format(name, text) {
        Format::Csv => csv_rows(name, text)?,
        Format::JsonLines => json_rows(name, text)?,
    };
    // Rows are read independently of each other, so in parallel; their results (and warnings)
    // are then taken in row order, as a sequential pass would give them.
    let read: Vec<RowRead> = rows
        .par_iter()
        .with_min_len(ROWS_PER_TASK)
        .map(|row| {
            let mut warnings = Vec::new();
            let event = parse_row(name, row, known_symbols, &mut warnings);
            (event, warnings)
        })
        .collect();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut events = Vec::with_capacity(read.len());
    for (event, mut row_warnings) in read {
        warnings.append(&mut row_warnings);
        match event {
            Ok(ev) => events.push(ev),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    events.sort_by_key(|e| (e.time, e.line));
    link_updates(name, &mut events, &mut errors, &mut warnings);
    if !errors.is_empty() {
        errors.sort_by_key(|e| match e {
            DataError::Invalid { row, .. } => row.unwrap_or(0),
            _ => 0,
        });
        DataError::collect(errors)?;
    }
    Ok(SignalSet { events, warnings })
}

/// A row read: its event or its errors, and its warnings.
type RowRead = (Result<SignalEvent, Vec<DataError>>, Vec<String>);

/// Rows read by one parallel task at least (small files stay on one thread).
const ROWS_PER_TASK: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

fn detect_format(name: &str, text: &str) -> Format {
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => Format::Csv,
        Some("jsonl" | "ndjson") => Format::JsonLines,
        _ => {
            let first = text.lines().map(str::trim).find(|l| !l.is_empty());
            if first.is_some_and(|l| l.starts_with('{')) {
                Format::JsonLines
            } else {
                Format::Csv
            }
        }
    }
}

/// One row's text per column, in the order of [`COLUMNS`] (absent and empty values read as
/// none), with its 1-based line. No map per row: a file of calls is mostly rows.
struct RawRow {
    line: usize,
    cells: Cells,
}

/// A row's values.
enum Cells {
    /// A CSV record as read, with where each of [`COLUMNS`] stands in it (no string per value).
    Record(csv::StringRecord, [Option<u8>; COLUMNS.len()]),
    /// One value per column of [`COLUMNS`].
    Texts(Vec<Option<String>>),
}

impl RawRow {
    fn new(line: usize) -> RawRow {
        RawRow {
            line,
            cells: Cells::Texts(vec![None; COLUMNS.len()]),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        let i = column_index(key)?;
        let value = match &self.cells {
            Cells::Record(record, at) => at[i].and_then(|p| record.get(usize::from(p))),
            Cells::Texts(fields) => fields[i].as_deref(),
        };
        value.filter(|v| !v.is_empty())
    }

    /// Sets column `i` (a row made by [`RawRow::new`]).
    fn set(&mut self, i: usize, text: String) {
        if let Cells::Texts(fields) = &mut self.cells {
            fields[i] = Some(text);
        }
    }
}

/// Where `key` (lowercase) stands in [`COLUMNS`].
fn column_index(key: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| *c == key)
}

fn unknown_key_message(keys: &[String]) -> String {
    let list: Vec<String> = keys
        .iter()
        .map(|k| match nearest_column(k) {
            Some(near) => format!("{k:?} (did you mean {near:?}?)"),
            None => format!("{k:?}"),
        })
        .collect();
    format!(
        "unknown column{} {}; expected {}",
        if keys.len() > 1 { "s" } else { "" },
        list.join(", "),
        COLUMNS.join(", ")
    )
}

/// The valid column closest to `key` by edit distance, when close enough to be a typo.
fn nearest_column(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    ringfence_model::text::nearest(&key, COLUMNS, |c| 2.max(c.len() / 3))
}

fn csv_rows(name: &str, text: &str) -> Result<Vec<RawRow>, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| DataError::at(name, 1, format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(DataError::file(name, "empty signal file: no header row"));
    }
    let unknown: Vec<String> = headers
        .iter()
        .filter(|h| !COLUMNS.contains(&h.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(DataError::at(name, 1, unknown_key_message(&unknown)));
    }
    let mut seen = BTreeSet::new();
    for h in &headers {
        if !seen.insert(h.as_str()) {
            return Err(DataError::at(
                name,
                1,
                format!("column {h:?} appears twice"),
            ));
        }
    }
    let missing: Vec<&str> = ["id", "time"]
        .into_iter()
        .filter(|c| !seen.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(DataError::at(
            name,
            1,
            format!("missing required column(s) {}", missing.join(", ")),
        ));
    }
    // every header is a known column (checked above), and appears once
    let mut at = [None; COLUMNS.len()];
    for (p, h) in headers.iter().enumerate() {
        if let Some(i) = column_index(h) {
            at[i] = u8::try_from(p).ok();
        }
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        match record {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line() as usize);
                rows.push(RawRow {
                    line,
                    cells: Cells::Record(rec, at),
                });
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                let msg = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("expected {expected_len} fields like the header, found {len}"),
                    _ => format!("unreadable csv row: {e}"),
                };
                errors.push(DataError::at(name, line, msg));
            }
        }
    }
    DataError::collect(errors)?;
    Ok(rows)
}

fn json_rows(name: &str, text: &str) -> Result<Vec<RawRow>, DataError> {
    // lines are read independently, in parallel; rows and errors are taken in line order
    let lines: Vec<&str> = text.lines().collect();
    let read: Vec<(Option<RawRow>, Vec<DataError>)> = lines
        .par_iter()
        .enumerate()
        .with_min_len(ROWS_PER_TASK)
        .map(|(i, raw)| json_row(name, i + 1, raw))
        .collect();
    let mut rows = Vec::with_capacity(read.len());
    let mut errors = Vec::new();
    for (row, mut errs) in read {
        errors.append(&mut errs);
        rows.extend(row);
    }
    DataError::collect(errors)?;
    Ok(rows)
}

/// One line of a JSON Lines file: its row (none for a blank or unreadable line) and its errors.
fn json_row(name: &str, line: usize, raw: &str) -> (Option<RawRow>, Vec<DataError>) {
    let mut errors = Vec::new();
    let raw = raw.trim().trim_start_matches('\u{feff}');
    if raw.is_empty() {
        return (None, errors);
    }
    let obj = match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(obj)) => obj,
        Ok(other) => {
            errors.push(DataError::at(
                name,
                line,
                format!("expected a json object, found {}", json_kind(&other)),
            ));
            return (None, errors);
        }
        Err(e) => {
            errors.push(DataError::at(name, line, format!("invalid json: {e}")));
            return (None, errors);
        }
    };
    let mut row = RawRow::new(line);
    let mut unknown = Vec::new();
    for (key, value) in obj {
        let key = key.to_ascii_lowercase();
        if !COLUMNS.contains(&key.as_str()) {
            unknown.push(key);
            continue;
        }
        match json_text(&key, &value) {
            Ok(text) => {
                if let Some(i) = column_index(&key) {
                    row.set(i, text);
                }
            }
            Err(msg) => errors.push(DataError::at(name, line, msg)),
        }
    }
    if !unknown.is_empty() {
        errors.push(DataError::at(name, line, unknown_key_message(&unknown)));
    }
    (Some(row), errors)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Renders a JSON value as the text a CSV cell would hold (`targets` may be an array).
fn json_text(key: &str, v: &serde_json::Value) -> Result<String, String> {
    use serde_json::Value;
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(items) if key == "targets" || key == "entries" => items
            .iter()
            .map(|item| match item {
                Value::Number(n) => Ok(n.to_string()),
                Value::String(s) => Ok(s.trim().to_string()),
                other => Err(format!(
                    "{key}: expected numbers, found {}",
                    json_kind(other)
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(";")),
        other => Err(format!(
            "{key}: expected a string or number, found {}",
            json_kind(other)
        )),
    }
}

/// Parses a time: integer milliseconds, or ISO-8601 (RFC 3339; a zone-less time or a bare date is UTC).
pub fn parse_time(s: &str) -> Result<TimestampMs, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        // Plausible ms timestamps: 1973-03 .. 5138-11; anything else is seconds or microseconds.
        return if (100_000_000_000..100_000_000_000_000).contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "time {n} is not a millisecond timestamp (seconds or microseconds?)"
            ))
        };
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(dt) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc().timestamp_millis());
    }
    Err(format!(
        "unparseable time {s:?} (expected ISO-8601 UTC such as 2025-10-10T21:00:00Z, or milliseconds)"
    ))
}

/// Parses a positive finite price.
fn parse_price(key: &str, s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{key} {s:?} is not a number"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("{key} {s} must be a positive price"));
    }
    Ok(v)
}

fn parse_row(
    name: &str,
    row: &RawRow,
    known: Option<&BTreeSet<Symbol>>,
    warnings: &mut Vec<String>,
) -> Result<SignalEvent, Vec<DataError>> {
    let line = row.line;
    let mut errs: Vec<String> = Vec::new();

    let id = row.get("id").unwrap_or_default().to_string();
    if id.is_empty() {
        errs.push("missing id".into());
    }
    let time = match row.get("time") {
        None => {
            errs.push("missing time".into());
            0
        }
        Some(t) => parse_time(t).unwrap_or_else(|e| {
            errs.push(e);
            0
        }),
    };
    let action = match row.get("action") {
        None => Action::Open,
        Some(a) => Action::parse(a).unwrap_or_else(|| {
            errs.push(format!(
                "unknown action {a:?} (expected open, close, cancel or move_stop)"
            ));
            Action::Open
        }),
    };
    let symbol = row.get("symbol").and_then(|s| match Symbol::parse(s) {
        Ok(sym) => {
            if known.is_some_and(|k| !k.contains(&sym)) {
                errs.push(format!("unknown symbol {sym} (no market data for it)"));
            }
            Some(sym)
        }
        Err(e) => {
            errs.push(e.to_string());
            None
        }
    });
    let side = row.get("side").and_then(|s| {
        Side::parse(s).or_else(|| {
            errs.push(format!(
                "unknown side {s:?} (expected long, short, buy or sell)"
            ));
            None
        })
    });
    let mut price = |key: &str| -> Option<f64> {
        row.get(key)
            .and_then(|s| parse_price(key, s).map_err(|e| errs.push(e)).ok())
    };
    let entry_lo = price("entry");
    let entry_hi = price("entry_high");
    let stop = price("stop");
    let mut targets = Vec::new();
    if let Some(t) = row.get("targets") {
        for part in t.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match parse_price("target", part) {
                Ok(v) => targets.push(v),
                Err(e) => errs.push(e),
            }
        }
    }
    let (leverage, leverage_high) = match row.get("leverage").map(parse_leverage) {
        None => (None, None),
        Some(Ok(range)) => range,
        Some(Err(e)) => {
            errs.push(e);
            (None, None)
        }
    };
    let ladder = match row.get("entries").map(parse_ladder) {
        None => Vec::new(),
        Some(Ok(levels)) => levels,
        Some(Err(e)) => {
            errs.push(e);
            Vec::new()
        }
    };
    let margin_mode = row.get("margin_mode").and_then(|s| {
        MarginMode::parse(s).or_else(|| {
            errs.push(format!(
                "unknown margin_mode {s:?} (expected cross or isolated)"
            ));
            None
        })
    });

    let entry = match (entry_lo, entry_hi) {
        _ if !ladder.is_empty() => {
            if entry_lo.is_some() || entry_hi.is_some() {
                errs.push("give either entries (a ladder) or entry/entry_high, not both".into());
            }
            ladder_entry(&ladder)
        }
        (None, None) => EntrySpec::Market,
        (Some(p), None) => EntrySpec::Limit { price: p },
        (None, Some(h)) => {
            errs.push(format!("entry_high {h} given without entry"));
            EntrySpec::Market
        }
        (Some(a), Some(b)) if a == b => EntrySpec::Limit { price: a },
        (Some(a), Some(b)) => EntrySpec::Zone {
            low: a.min(b),
            high: a.max(b),
        },
    };
    let warn = |w: &mut Vec<String>, msg: String| w.push(format!("{name}, line {line}: {msg}"));

    if action == Action::Open {
        if symbol.is_none() && row.get("symbol").is_none() {
            errs.push(format!("open {id:?} has no symbol"));
        }
        if side.is_none() && row.get("side").is_none() {
            errs.push(format!("open {id:?} has no side"));
        }
        if let Some(side) = side {
            check_prices(side, entry, stop, &targets, &mut errs);
            if !targets_in_order(side, &targets) {
                warn(
                    warnings,
                    format!(
                        "targets {} of {id:?} are not in {} order (kept as given)",
                        fmt_list(&targets),
                        if side == Side::Long {
                            "ascending"
                        } else {
                            "descending"
                        }
                    ),
                );
            }
        }
        if let Some(l) = leverage.filter(|l| *l > MAX_USUAL_LEVERAGE) {
            warn(
                warnings,
                format!("leverage {l}x of {id:?} is above {MAX_USUAL_LEVERAGE}x"),
            );
        }
    } else if action == Action::MoveStop && row.get("stop").is_none() {
        errs.push(format!("move_stop of {id:?} has no stop"));
    }

    if !errs.is_empty() {
        return Err(errs
            .into_iter()
            .map(|m| DataError::at(name, line, m))
            .collect());
    }
    Ok(SignalEvent {
        id: id.into(),
        time,
        action,
        symbol,
        side,
        entry,
        stop,
        targets,
        leverage,
        margin_mode,
        ladder,
        leverage_high,
        msg_id: row.get("msg_id").map(str::to_string),
        source: name.to_string(),
        line,
    })
}

/// Parses a leverage `10`, `10x` or a range `5-10` / `5-10x` into `(low, high)` (high only for a
/// range).
fn parse_leverage(s: &str) -> Result<(Option<f64>, Option<f64>), String> {
    let num = s.trim().trim_end_matches(['x', 'X']).trim();
    let one = |part: &str| -> Result<f64, String> {
        let part = part.trim().trim_end_matches(['x', 'X']).trim();
        match part.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 1.0 => Ok(v),
            Ok(_) => Err(format!("leverage {s} must be at least 1")),
            Err(_) => Err(format!(
                "leverage {s:?} is not a number or range (e.g. 10, 10x or 5-10x)"
            )),
        }
    };
    match num.split_once('-') {
        None => Ok((Some(one(num)?), None)),
        Some((lo, hi)) => {
            let (lo, hi) = (one(lo)?, one(hi)?);
            if lo > hi {
                return Err(format!("leverage range {s} is reversed (low-high)"));
            }
            Ok((Some(lo), (hi > lo).then_some(hi)))
        }
    }
}

/// Parses an entry ladder `a;b;c` or `a@w;b@w` (weights positive, relative).
fn parse_ladder(s: &str) -> Result<Vec<EntryLevel>, String> {
    let mut levels = Vec::new();
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (price, weight) = match part.split_once('@') {
            None => (part, None),
            Some((p, w)) => (p, Some(w)),
        };
        let price = parse_price("entries level", price)?;
        let weight = match weight {
            None => None,
            Some(w) => match w.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Some(v),
                _ => return Err(format!("entries weight {w:?} must be a positive number")),
            },
        };
        levels.push(EntryLevel { price, weight });
    }
    if levels.is_empty() {
        return Err(format!("entries {s:?} holds no price"));
    }
    Ok(levels)
}

/// The entry an engine without ladder fills sees: one level is a limit, several the zone spanning them.
fn ladder_entry(levels: &[EntryLevel]) -> EntrySpec {
    let lo = levels.iter().map(|l| l.price).fold(f64::INFINITY, f64::min);
    let hi = levels
        .iter()
        .map(|l| l.price)
        .fold(f64::NEG_INFINITY, f64::max);
    if lo == hi {
        EntrySpec::Limit { price: lo }
    } else {
        EntrySpec::Zone { low: lo, high: hi }
    }
}

fn fmt_list(v: &[f64]) -> String {
    v.iter().map(f64::to_string).collect::<Vec<_>>().join(";")
}

fn targets_in_order(side: Side, targets: &[f64]) -> bool {
    targets.windows(2).all(|w| match side {
        Side::Long => w[0] < w[1],
        Side::Short => w[0] > w[1],
    })
}

/// Stop below / targets above the entry for a long (mirror for a short); for a market entry,
/// targets on the profitable side of the stop.
fn check_prices(
    side: Side,
    entry: EntrySpec,
    stop: Option<f64>,
    targets: &[f64],
    errs: &mut Vec<String>,
) {
    let (lo, hi, what) = match entry {
        EntrySpec::Market => {
            if let Some(s) = stop {
                for &t in targets {
                    let bad = match side {
                        Side::Long => t <= s,
                        Side::Short => t >= s,
                    };
                    if bad {
                        errs.push(format!(
                            "{side} market entry: target {t} must be {} its stop {s}",
                            above_below(side, true)
                        ));
                    }
                }
            }
            return;
        }
        EntrySpec::Limit { price } => (price, price, format!("entry {price}")),
        EntrySpec::Zone { low, high } => (low, high, format!("entry zone {low}-{high}")),
    };
    // For a long: stop below the zone's lower edge, targets above its upper edge.
    let (stop_ref, target_ref) = match side {
        Side::Long => (lo, hi),
        Side::Short => (hi, lo),
    };
    if let Some(s) = stop {
        let bad = match side {
            Side::Long => s >= stop_ref,
            Side::Short => s <= stop_ref,
        };
        if bad {
            errs.push(format!(
                "{side} stop {s} must be {} {what}",
                above_below(side, false)
            ));
        }
    }
    for &t in targets {
        let bad = match side {
            Side::Long => t <= target_ref,
            Side::Short => t >= target_ref,
        };
        if bad {
            errs.push(format!(
                "{side} target {t} must be {} {what}",
                above_below(side, true)
            ));
        }
    }
}

/// "above" for a long's targets and a short's stop, "below" otherwise.
fn above_below(side: Side, target: bool) -> &'static str {
    if (side == Side::Long) == target {
        "above"
    } else {
        "below"
    }
}

/// Links updates to their calls: checks ids, order and duplicates; fills an update's symbol and
/// side from its call.
fn link_updates(
    name: &str,
    events: &mut [SignalEvent],
    errors: &mut Vec<DataError>,
    warnings: &mut Vec<String>,
) {
    struct Call {
        line: usize,
        symbol: Option<Symbol>,
        side: Option<Side>,
        closed_at: Option<usize>,
    }
    // Opens by id over the whole file, to tell "before its open" from "unknown id".
    let mut all_opens: BTreeMap<SignalId, (TimestampMs, usize)> = BTreeMap::new();
    for ev in events.iter().filter(|e| e.action == Action::Open) {
        all_opens
            .entry(ev.id.clone())
            .and_modify(|first| {
                if (ev.time, ev.line) < *first {
                    *first = (ev.time, ev.line);
                }
            })
            .or_insert((ev.time, ev.line));
    }
    let mut calls: BTreeMap<SignalId, Call> = BTreeMap::new();
    for ev in events.iter_mut() {
        let line = ev.line;
        if ev.action == Action::Open {
            if let Some(prev) = calls.get(&ev.id) {
                errors.push(DataError::at(
                    name,
                    line,
                    format!(
                        "duplicate open id {:?} (first opened at line {})",
                        ev.id, prev.line
                    ),
                ));
            } else {
                calls.insert(
                    ev.id.clone(),
                    Call {
                        line,
                        symbol: ev.symbol.clone(),
                        side: ev.side,
                        closed_at: None,
                    },
                );
            }
            continue;
        }
        let verb = match ev.action {
            Action::Close => "close",
            Action::Cancel => "cancel",
            _ => "move_stop",
        };
        let Some(call) = calls.get_mut(&ev.id) else {
            let msg = match all_opens.get(&ev.id) {
                Some((t, l)) => format!(
                    "{verb} of {:?} at {} appears before its open (line {l}, {})",
                    ev.id,
                    ringfence_model::time::iso(ev.time),
                    ringfence_model::time::iso(*t)
                ),
                None => format!("{verb} refers to unknown id {:?}", ev.id),
            };
            errors.push(DataError::at(name, line, msg));
            continue;
        };
        if let (Some(given), Some(called)) = (&ev.symbol, &call.symbol)
            && given != called
        {
            errors.push(DataError::at(
                name,
                line,
                format!(
                    "{verb} of {:?} names symbol {given} but the call (line {}) is {called}",
                    ev.id, call.line
                ),
            ));
        }
        if let (Some(given), Some(called)) = (ev.side, call.side)
            && given != called
        {
            errors.push(DataError::at(
                name,
                line,
                format!(
                    "{verb} of {:?} names side {given} but the call (line {}) is {called}",
                    ev.id, call.line
                ),
            ));
        }
        if ev.symbol.is_none() {
            ev.symbol = call.symbol.clone();
        }
        if ev.side.is_none() {
            ev.side = call.side;
        }
        if let Some(closed) = call.closed_at {
            warnings.push(format!(
                "{name}, line {line}: {verb} of {:?} after it was already closed at line {closed}",
                ev.id
            ));
        }
        if ev.action == Action::Close && call.closed_at.is_none() {
            call.closed_at = Some(line);
        }
    }
}
