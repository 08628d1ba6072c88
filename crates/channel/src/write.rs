//! Renders an [`Import`]: the signal file (CSV or JSON Lines in the project's format, DESIGN.md §4
//! plus `msg_id` and `entries`), the import report (CSV and JSON) and the claims table (CSV).
//! Everything is rendered to memory; the caller writes files.

use crate::classify::{Claim, Import, Record};
use rayon::prelude::*;
use ringfence_model::signal::SIGNAL_COLUMNS;
use ringfence_model::{Action, EntrySpec, SignalEvent, time::iso};

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
        e.id.clone(),
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
/// joined in order give the same bytes as one writer.
const RENDER_CHUNK: usize = 4096;

fn csv_string<T: Sync, R: AsRef<[String]>>(
    header: &[&str],
    items: &[T],
    row: impl Fn(&T) -> R + Sync,
) -> String {
    let render = |rows: &[T], header: Option<&[&str]>| {
        let mut w = csv::Writer::from_writer(Vec::new());
        // writing to memory cannot fail
        if let Some(h) = header {
            let _ = w.write_record(h);
        }
        for r in rows {
            let _ = w.write_record(row(r).as_ref());
        }
        w.into_inner().unwrap_or_default()
    };
    let mut out = render(&[], Some(header));
    let parts: Vec<Vec<u8>> = items
        .par_chunks(RENDER_CHUNK)
        .map(|c| render(c, None))
        .collect();
    out.reserve(parts.iter().map(Vec::len).sum());
    for p in parts {
        out.extend_from_slice(&p);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The signal file as CSV.
pub fn signals_csv(events: &[SignalEvent]) -> String {
    csv_string(&SIGNAL_COLUMNS, events, cells)
}

/// The signal file as JSON Lines (same keys; empty cells left out).
pub fn signals_jsonl(events: &[SignalEvent]) -> String {
    let mut out = String::new();
    for e in events {
        let mut obj = serde_json::Map::new();
        for (k, v) in SIGNAL_COLUMNS.iter().zip(cells(e)) {
            if !v.is_empty() {
                obj.insert((*k).to_string(), serde_json::Value::String(v));
            }
        }
        out.push_str(&serde_json::Value::Object(obj).to_string());
        out.push('\n');
    }
    out
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

fn record_cells(r: &Record) -> Vec<String> {
    vec![
        r.msg_id.to_string(),
        iso(r.time),
        r.class.as_str().to_string(),
        r.reason.clone(),
        r.call_id.map(|c| c.to_string()).unwrap_or_default(),
        r.symbol.clone().unwrap_or_default(),
        r.edited.to_string(),
        r.forwarded_from.clone().unwrap_or_default(),
        r.detail.clone(),
        r.text.clone(),
    ]
}

/// The import report as CSV: one row per message.
pub fn report_csv(import: &Import) -> String {
    csv_string(&REPORT_COLUMNS, &import.records, record_cells)
}

/// The import report as JSON: the counts and the parse rate, then `messages` with one object per
/// message, one per line (readable with `grep`, and rendered in parallel chunks).
pub fn report_json(import: &Import) -> String {
    let c = import.counts();
    let mut out = serde_json::json!({
        "calls": c.calls,
        "updates": c.updates,
        "claims": c.claims,
        "chatter": c.chatter,
        "unparsed": c.unparsed,
        "parse_rate": c.parse_rate(),
    })
    .to_string();
    out.pop(); // the closing brace: `messages` follows
    out.push_str(",\"messages\":[");
    let parts: Vec<String> = import
        .records
        .par_chunks(RENDER_CHUNK)
        .map(|rows| {
            let mut s = String::new();
            for r in rows {
                s.push('\n');
                // a record of plain fields always serializes
                s.push_str(&serde_json::to_string(r).unwrap_or_default());
                s.push(',');
            }
            s
        })
        .collect();
    for p in parts {
        out.push_str(&p);
    }
    if !import.records.is_empty() {
        out.pop(); // the last comma
    }
    out.push_str("\n]}\n");
    out
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

/// The claims table as CSV.
pub fn claims_csv(claims: &[Claim]) -> String {
    csv_string(&CLAIM_COLUMNS, claims, claim_cells)
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
    let (report_csv, (report_json, claims_csv)) = rayon::join(
        || report_csv(import),
        || rayon::join(|| report_json(import), || claims_csv(&import.claims)),
    );
    (report_csv, report_json, claims_csv)
}
