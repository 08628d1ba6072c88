//! Renders an [`Import`]: the signal file (CSV or JSON Lines in the project's format, DESIGN.md §4
//! plus `msg_id` and `entries`), the import report (CSV and JSON) and the claims table (CSV).
//! Each is written to any [`Write`] (the command streams them into its staging files, rendered in
//! parallel chunks) or rendered to a `String`.

use crate::classify::{Claim, Import, Record};
use rayon::prelude::*;
use ringfence_model::signal::SIGNAL_COLUMNS;
use ringfence_model::{Action, EntrySpec, SignalEvent, time::iso};
use std::borrow::Cow;
use std::io::{self, Write};

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Open => "open",
        Action::Close => "close",
        Action::Cancel => "cancel",
        Action::MoveStop => "move_stop",
    }
}

/// One event as the 13 cells of [`SIGNAL_COLUMNS`] (the model's column order).
fn cells(e: &SignalEvent) -> [String; 13] {
    let (entry, entry_high) = match (e.ladder.is_empty(), e.entry) {
        (false, _) | (true, EntrySpec::Market) => (String::new(), String::new()),
        (true, EntrySpec::Limit { price }) => (price.to_string(), String::new()),
        (true, EntrySpec::Zone { low, high }) => (low.to_string(), high.to_string()),
    };
    let entries = e
        .ladder
        .iter()
        .map(|l| match l.weight {
            Some(w) => format!("{}@{w}", l.price),
            None => l.price.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";");
    let leverage = match (e.leverage, e.leverage_high) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        (a, _) => opt(a),
    };
    [
        e.id.to_string(),
        iso(e.time),
        action_name(e.action).to_string(),
        e.symbol
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        e.side.map(|s| s.to_string()).unwrap_or_default(),
        entry,
        entry_high,
        opt(e.stop),
        e.targets
            .iter()
            .map(f64::to_string)
            .collect::<Vec<_>>()
            .join(";"),
        leverage,
        e.margin_mode.map(|m| m.to_string()).unwrap_or_default(),
        e.msg_id.clone().unwrap_or_default(),
        entries,
    ]
}

/// Rows rendered per task: CSV quoting is decided field by field, so chunks rendered apart and
/// written in order give the same bytes as one writer.
const RENDER_CHUNK: usize = 4096;

/// Chunks rendered side by side before they are written; their buffers are reused for the next
/// group, so an output of any size needs only this many chunk buffers in memory.
const RENDER_WINDOW: usize = 4;

/// Writes `items` to `out`: `render(first, rows, buf)` appends the bytes of `rows` (the first of
/// which is `items[first]`) to `buf`. Chunks of [`RENDER_CHUNK`] rows are rendered in parallel,
/// [`RENDER_WINDOW`] at a time, and written in order.
fn write_chunked<T: Sync, W: Write + ?Sized>(
    out: &mut W,
    items: &[T],
    render: impl Fn(usize, &[T], &mut Vec<u8>) + Sync,
) -> io::Result<()> {
    let mut bufs: Vec<Vec<u8>> = (0..RENDER_WINDOW).map(|_| Vec::new()).collect();
    for (g, group) in items.chunks(RENDER_CHUNK * RENDER_WINDOW).enumerate() {
        let n = group.len().div_ceil(RENDER_CHUNK);
        let first = g * RENDER_CHUNK * RENDER_WINDOW;
        bufs[..n]
            .par_iter_mut()
            .zip(group.par_chunks(RENDER_CHUNK))
            .enumerate()
            .for_each(|(k, (buf, rows))| {
                buf.clear();
                render(first + k * RENDER_CHUNK, rows, buf);
            });
        for buf in &bufs[..n] {
            out.write_all(buf)?;
        }
    }
    Ok(())
}

/// Writes a CSV table: `header`, then one record per item (rendered in parallel chunks);
/// `row(item, writer)` writes an item's record.
fn write_csv<T: Sync, W: Write + ?Sized>(
    out: &mut W,
    header: &[&str],
    items: &[T],
    row: impl Fn(&T, &mut csv::Writer<&mut Vec<u8>>) -> csv::Result<()> + Sync,
) -> io::Result<()> {
    let mut head = csv::Writer::from_writer(Vec::new());
    head.write_record(header)?;
    out.write_all(&head.into_inner().map_err(|e| e.into_error())?)?;
    write_chunked(out, items, |_, rows, buf| {
        let mut w = csv::Writer::from_writer(buf);
        // writing to memory cannot fail
        for r in rows {
            let _ = row(r, &mut w);
        }
        let _ = w.flush();
    })
}

/// Renders to memory with a writer function (writing to a `Vec` cannot fail; every writer here
/// writes UTF-8).
fn to_string(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
    let mut out = Vec::new();
    let _ = write(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the signal file as CSV, or as JSON Lines when `jsonl`.
pub fn write_signals<W: Write + ?Sized>(
    out: &mut W,
    events: &[SignalEvent],
    jsonl: bool,
) -> io::Result<()> {
    if jsonl {
        write_chunked(out, events, |_, rows, buf| {
            for e in rows {
                let mut obj = serde_json::Map::new();
                for (k, v) in SIGNAL_COLUMNS.iter().zip(cells(e)) {
                    if !v.is_empty() {
                        obj.insert((*k).to_string(), serde_json::Value::String(v));
                    }
                }
                // a map of strings always serializes
                let _ = serde_json::to_writer(&mut *buf, &serde_json::Value::Object(obj));
                buf.push(b'\n');
            }
        })
    } else {
        write_csv(out, &SIGNAL_COLUMNS, events, |e, w| {
            w.write_record(cells(e))
        })
    }
}

/// The signal file as CSV.
pub fn signals_csv(events: &[SignalEvent]) -> String {
    to_string(|out| write_signals(out, events, false))
}

/// The signal file as JSON Lines (same keys; empty cells left out).
pub fn signals_jsonl(events: &[SignalEvent]) -> String {
    to_string(|out| write_signals(out, events, true))
}

const REPORT_COLUMNS: [&str; 10] = [
    "msg_id",
    "time",
    "class",
    "reason",
    "call_id",
    "symbol",
    "edited",
    "forwarded_from",
    "detail",
    "text",
];

/// One record as the cells of [`REPORT_COLUMNS`] (its texts borrowed, not copied).
fn record_cells(r: &Record) -> [Cow<'_, str>; 10] {
    [
        Cow::Owned(r.msg_id.to_string()),
        Cow::Owned(iso(r.time)),
        Cow::Borrowed(r.class.as_str()),
        Cow::Borrowed(&r.reason),
        r.call_id
            .map_or(Cow::Borrowed(""), |c| Cow::Owned(c.to_string())),
        Cow::Borrowed(r.symbol.as_deref().unwrap_or_default()),
        Cow::Borrowed(if r.edited { "true" } else { "false" }),
        Cow::Borrowed(r.forwarded_from.as_deref().unwrap_or_default()),
        Cow::Borrowed(&r.detail),
        Cow::Borrowed(&r.text),
    ]
}

/// Writes the import report as CSV: one row per message.
pub fn write_report_csv<W: Write + ?Sized>(out: &mut W, import: &Import) -> io::Result<()> {
    write_csv(out, &REPORT_COLUMNS, &import.records, |r, w| {
        w.write_record(record_cells(r).iter().map(|c| c.as_bytes()))
    })
}

/// The import report as CSV: one row per message.
pub fn report_csv(import: &Import) -> String {
    to_string(|out| write_report_csv(out, import))
}

/// Writes the import report as JSON: the counts and the parse rate, then `messages` with one
/// object per message, one per line (readable with `grep`, and rendered in parallel chunks).
pub fn write_report_json<W: Write + ?Sized>(out: &mut W, import: &Import) -> io::Result<()> {
    let c = import.counts();
    let mut head = serde_json::json!({
        "calls": c.calls,
        "updates": c.updates,
        "claims": c.claims,
        "chatter": c.chatter,
        "unparsed": c.unparsed,
        "parse_rate": c.parse_rate(),
    })
    .to_string();
    head.pop(); // the closing brace: `messages` follows
    head.push_str(",\"messages\":[");
    out.write_all(head.as_bytes())?;
    write_chunked(out, &import.records, |first, rows, buf| {
        for (i, r) in rows.iter().enumerate() {
            // a comma between records, none after the last
            if first + i > 0 {
                buf.push(b',');
            }
            buf.push(b'\n');
            // a record of plain fields always serializes
            let _ = serde_json::to_writer(&mut *buf, r);
        }
    })?;
    out.write_all(b"\n]}\n")
}

/// The import report as JSON (see [`write_report_json`]).
pub fn report_json(import: &Import) -> String {
    to_string(|out| write_report_json(out, import))
}

const CLAIM_COLUMNS: [&str; 7] = [
    "msg_id",
    "time",
    "call_msg_id",
    "symbol",
    "kind",
    "targets_hit",
    "claimed_pct",
];

fn claim_cells(c: &Claim) -> Vec<String> {
    vec![
        c.msg_id.to_string(),
        iso(c.time),
        c.call_id.map(|x| x.to_string()).unwrap_or_default(),
        c.symbol.clone().unwrap_or_default(),
        c.kind.as_str().to_string(),
        c.targets_hit.map(|x| x.to_string()).unwrap_or_default(),
        opt(c.claimed_pct),
    ]
}

/// Writes the claims table as CSV.
pub fn write_claims_csv<W: Write + ?Sized>(out: &mut W, claims: &[Claim]) -> io::Result<()> {
    write_csv(out, &CLAIM_COLUMNS, claims, |c, w| {
        w.write_record(claim_cells(c))
    })
}

/// The claims table as CSV.
pub fn claims_csv(claims: &[Claim]) -> String {
    to_string(|out| write_claims_csv(out, claims))
}

/// Everything an import writes, rendered to memory.
#[derive(Debug)]
pub struct Rendered {
    /// The signal file (CSV, or JSON Lines when asked).
    pub signals: String,
    /// The import report as CSV.
    pub report_csv: String,
    /// The import report as JSON.
    pub report_json: String,
    /// The claims table as CSV.
    pub claims_csv: String,
}

/// Renders the signal file (`jsonl` chooses JSON Lines over CSV) beside [`render_reports`].
pub fn render_all(import: &Import, jsonl: bool) -> Rendered {
    let (signals, (report_csv, report_json, claims_csv)) = rayon::join(
        || {
            if jsonl {
                signals_jsonl(&import.events)
            } else {
                signals_csv(&import.events)
            }
        },
        || render_reports(import),
    );
    Rendered {
        signals,
        report_csv,
        report_json,
        claims_csv,
    }
}

/// The import report (CSV, JSON) and the claims table, rendered side by side on the thread pool.
pub fn render_reports(import: &Import) -> (String, String, String) {
    let (mut csv, mut json, mut claims) = (Vec::new(), Vec::new(), Vec::new());
    // writing to memory cannot fail
    let _ = write_reports(import, [&mut csv, &mut json, &mut claims]);
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap_or_default();
    (text(csv), text(json), text(claims))
}

/// Writes the import report CSV, the import report JSON and the claims table to `outs` (in that
/// order), side by side on the thread pool; the result of each, in the same order.
pub fn write_reports<W: Write + Send + ?Sized>(
    import: &Import,
    outs: [&mut W; 3],
) -> [io::Result<()>; 3] {
    let [csv, json, claims] = outs;
    let (a, (b, c)) = rayon::join(
        || write_report_csv(csv, import),
        || {
            rayon::join(
                || write_report_json(json, import),
                || write_claims_csv(claims, &import.claims),
            )
        },
    );
    [a, b, c]
}
