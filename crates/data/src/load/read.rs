//! Readers: one file of any supported format into raw rows, parsed but not yet validated.
//!
//! Row numbers in messages are 1-based: the line number in text files (a header is line 1), the
//! element index in JSON arrays, the record index in Feather and Parquet files.

use super::{Columns, FileFormat, FileSpec};
use crate::error::DataError;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use polars::prelude::*;
use std::io::Read;
use std::path::Path;

/// Candle rows as read from one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawCandles {
    /// The file, for messages.
    pub file: String,
    /// 1-based row of each record in the file.
    pub rows: Rows,
    /// Bar open times (ms UTC).
    pub times: Vec<i64>,
    /// Open prices.
    pub open: Vec<f64>,
    /// High prices.
    pub high: Vec<f64>,
    /// Low prices.
    pub low: Vec<f64>,
    /// Close prices.
    pub close: Vec<f64>,
    /// Volume, when the file has a volume column.
    pub volume: Option<Vec<f64>>,
}

impl RawCandles {
    /// Keeps only the records with `start <= time < end`.
    pub fn retain_window(&mut self, start: Option<i64>, end: Option<i64>) {
        let Some(keep) = window_mask(&self.times, start, end) else {
            return;
        };
        self.rows.retain(&keep);
        retain(&mut self.times, &keep);
        retain(&mut self.open, &keep);
        retain(&mut self.high, &keep);
        retain(&mut self.low, &keep);
        retain(&mut self.close, &keep);
        if let Some(v) = &mut self.volume {
            retain(v, &keep);
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.times.len()
    }
}

/// Funding settlements as read from one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawFunding {
    /// The file, for messages.
    pub file: String,
    /// 1-based row of each record in the file.
    pub rows: Rows,
    /// Settlement times (ms UTC), as given.
    pub times: Vec<i64>,
    /// Funding rates (fractions).
    pub rates: Vec<f64>,
}

impl RawFunding {
    /// Keeps only the records with `start <= time < end`.
    pub fn retain_window(&mut self, start: Option<i64>, end: Option<i64>) {
        let Some(keep) = window_mask(&self.times, start, end) else {
            return;
        };
        self.rows.retain(&keep);
        retain(&mut self.times, &keep);
        retain(&mut self.rates, &keep);
    }
}

/// The 1-based rows of a file's records: listed (text files, which skip blank lines and bad
/// records), or counted from a first row (Feather and Parquet records, one row each), which needs
/// no list of millions of numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rows {
    /// Row of each record.
    Listed(Vec<usize>),
    /// Record `i` is row `first + i`.
    Counted {
        /// Row of the first record.
        first: usize,
    },
}

impl Default for Rows {
    fn default() -> Self {
        Rows::Listed(Vec::new())
    }
}

impl Rows {
    /// Row of record `i`.
    pub fn get(&self, i: usize) -> usize {
        match self {
            Rows::Listed(rows) => rows[i],
            Rows::Counted { first } => first + i,
        }
    }

    /// Appends the row of a next record to listed rows.
    fn push(&mut self, row: usize) {
        if let Rows::Listed(rows) = self {
            rows.push(row);
        }
    }

    /// Keeps the rows of the kept records (counted still when they are one run of records).
    fn retain(&mut self, keep: &[bool]) {
        match self {
            Rows::Listed(rows) => retain(rows, keep),
            Rows::Counted { first } => {
                let from = keep.iter().position(|&k| k).unwrap_or(keep.len());
                let to = keep.iter().rposition(|&k| k).map_or(from, |i| i + 1);
                if keep[from..to].iter().all(|&k| k) {
                    *first += from;
                } else {
                    *self = Rows::Listed(
                        (0..keep.len())
                            .filter(|&i| keep[i])
                            .map(|i| *first + i)
                            .collect(),
                    );
                }
            }
        }
    }
}

/// Which of `times` fall in `start <= t < end`; `None` when there is no window at all.
fn window_mask(times: &[i64], start: Option<i64>, end: Option<i64>) -> Option<Vec<bool>> {
    if start.is_none() && end.is_none() {
        return None;
    }
    Some(
        times
            .iter()
            .map(|&t| start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e))
            .collect(),
    )
}

fn retain<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// What a file is read for: its column roles differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Candles,
    /// Mark-price candles: like candles, but a volume column is never required.
    Mark,
    Funding,
}

/// Container kinds a [`FileFormat`] resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Ipc,
    Parquet,
    Json,
    Csv,
}

/// How column names are chosen: by well-known candidates, or exactly as configured.
#[derive(Debug, Clone, Copy)]
enum Names<'a> {
    Auto,
    Explicit(&'a Columns),
}

const TIME_CANDIDATES: [&str; 9] = [
    "timestamp_ms",
    "timestamp",
    "open_time",
    "calc_time",
    "fundingtime",
    "funding_time",
    "date",
    "time",
    "datetime",
];
const RATE_CANDIDATES: [&str; 5] = [
    "funding_rate",
    "last_funding_rate",
    "fundingrate",
    "rate",
    "open",
];

/// One column wanted from a file: a label for messages, the accepted names, whether required.
struct Wanted {
    label: &'static str,
    names: Vec<String>,
    required: bool,
}

fn wanted(role: Role, names: Names<'_>) -> Vec<Wanted> {
    let w = |label, names: Vec<String>, required| Wanted {
        label,
        names,
        required,
    };
    let auto = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match (role, names) {
        (Role::Candles | Role::Mark, Names::Auto) => vec![
            w("timestamp", auto(&TIME_CANDIDATES), true),
            w("open", auto(&["open"]), true),
            w("high", auto(&["high"]), true),
            w("low", auto(&["low"]), true),
            w("close", auto(&["close"]), true),
            w("volume", auto(&["volume"]), false),
        ],
        (role @ (Role::Candles | Role::Mark), Names::Explicit(c)) => vec![
            w("timestamp", vec![c.timestamp.clone()], true),
            w("open", vec![c.open.clone()], true),
            w("high", vec![c.high.clone()], true),
            w("low", vec![c.low.clone()], true),
            w("close", vec![c.close.clone()], true),
            w(
                "volume",
                c.volume.iter().cloned().collect(),
                c.volume.is_some() && role == Role::Candles,
            ),
        ],
        (Role::Funding, Names::Auto) => vec![
            w("timestamp", auto(&TIME_CANDIDATES), true),
            w("funding rate", auto(&RATE_CANDIDATES), true),
        ],
        (Role::Funding, Names::Explicit(c)) => vec![
            w("timestamp", vec![c.timestamp.clone()], true),
            w("funding rate", vec![c.funding_rate.clone()], true),
        ],
    }
}

/// Resolves the wanted columns against a header (case-insensitive; candidates in order).
fn resolve(
    file: &str,
    header: &[String],
    wants: &[Wanted],
) -> Result<Vec<Option<usize>>, DataError> {
    let mut out = Vec::with_capacity(wants.len());
    let mut missing = Vec::new();
    for w in wants {
        let found = w.names.iter().find_map(|n| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(n.trim()))
        });
        if found.is_none() && w.required {
            missing.push(format!("{} (looked for {})", w.label, w.names.join(" / ")));
        }
        out.push(found);
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(DataError::file(
            file,
            format!(
                "missing column {}; the file has columns: {}",
                missing.join(", "),
                header.join(", ")
            ),
        ))
    }
}

fn container_and_names(spec: &FileSpec) -> Result<(Container, Names<'_>), DataError> {
    Ok(match &spec.format {
        FileFormat::Auto => (container_by_extension(&spec.path)?, Names::Auto),
        FileFormat::FreqtradeFeather => (Container::Ipc, Names::Auto),
        FileFormat::FreqtradeJson => (Container::Json, Names::Auto),
        FileFormat::BinanceKlineCsv | FileFormat::BinanceFundingCsv => {
            (Container::Csv, Names::Auto)
        }
        FileFormat::GenericCsv(c) => (Container::Csv, Names::Explicit(c)),
        FileFormat::Parquet(c) => (Container::Parquet, Names::Explicit(c)),
    })
}

fn container_by_extension(path: &Path) -> Result<Container, DataError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "feather" | "arrow" | "ipc" => Ok(Container::Ipc),
        "parquet" | "pq" => Ok(Container::Parquet),
        "json" => Ok(Container::Json),
        "csv" | "zip" | "txt" => Ok(Container::Csv),
        _ => Err(DataError::file(
            path.display().to_string(),
            format!("unknown file type {ext:?}: expected .feather, .parquet, .json, .csv or .zip"),
        )),
    }
}

/// Where a Parquet file's columns are decoded: on the calling thread, when the caller reads
/// several files in parallel already (two thread pools on the same cores only wait on each
/// other), or on polars' threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    /// On the calling thread.
    Here,
    /// As polars parallelises it.
    Parallel,
}

/// Reads the candle rows of one file.
pub(crate) fn read_candles(spec: &FileSpec, decode: Decode) -> Result<RawCandles, DataError> {
    read_candles_as(spec, Role::Candles, decode)
}

/// Reads the mark-price candle rows of one file (a configured volume column may be absent).
pub(crate) fn read_mark(spec: &FileSpec, decode: Decode) -> Result<RawCandles, DataError> {
    read_candles_as(spec, Role::Mark, decode)
}

fn read_candles_as(spec: &FileSpec, role: Role, decode: Decode) -> Result<RawCandles, DataError> {
    let file = spec.path.display().to_string();
    let (container, names) = container_and_names(spec)?;
    let table = read_table(&spec.path, &file, container, names, role, decode)?;
    let [open, high, low, close, volume] = take_columns::<5>(table.values);
    Ok(RawCandles {
        file,
        rows: table.rows,
        times: table.times,
        open: open.unwrap_or_default(),
        high: high.unwrap_or_default(),
        low: low.unwrap_or_default(),
        close: close.unwrap_or_default(),
        volume,
    })
}

/// Reads the funding settlements of one file.
pub(crate) fn read_funding(spec: &FileSpec, decode: Decode) -> Result<RawFunding, DataError> {
    let file = spec.path.display().to_string();
    let (container, names) = container_and_names(spec)?;
    let table = read_table(&spec.path, &file, container, names, Role::Funding, decode)?;
    let [rates] = take_columns::<1>(table.values);
    Ok(RawFunding {
        file,
        rows: table.rows,
        times: table.times,
        rates: rates.unwrap_or_default(),
    })
}

fn take_columns<const N: usize>(values: Vec<Option<Vec<f64>>>) -> [Option<Vec<f64>>; N] {
    let mut it = values.into_iter();
    std::array::from_fn(|_| it.next().flatten())
}

/// A parsed table: times plus the wanted value columns (None where an optional column is absent).
struct Table {
    rows: Rows,
    times: Vec<i64>,
    values: Vec<Option<Vec<f64>>>,
}

fn read_table(
    path: &Path,
    file: &str,
    container: Container,
    names: Names<'_>,
    role: Role,
    decode: Decode,
) -> Result<Table, DataError> {
    let wants = wanted(role, names);
    match container {
        Container::Ipc | Container::Parquet => read_frame(path, file, container, &wants, decode),
        Container::Json => read_json(path, file, &wants),
        Container::Csv => {
            let bytes = read_text_bytes(path, file)?;
            read_csv(&bytes, file, &wants, role)
        }
    }
}

/// The bytes of a CSV file, or of the single CSV inside a `.zip`.
fn read_text_bytes(path: &Path, file: &str) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(bytes);
    }
    let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| DataError::file(file, format!("unreadable zip archive: {e}")))?;
    let mut csv_entries = Vec::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| DataError::file(file, format!("unreadable zip entry {i}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| DataError::file(file, format!("unreadable zip entry name {i}: {e}")))?
            .to_string();
        if !entry.is_dir() && name.to_ascii_lowercase().ends_with(".csv") {
            csv_entries.push((i, name));
        }
    }
    let (index, name) = match csv_entries.as_slice() {
        [one] => one.clone(),
        [] => return Err(DataError::file(file, "zip archive holds no .csv file")),
        many => {
            let names: Vec<&str> = many.iter().map(|(_, n)| n.as_str()).collect();
            return Err(DataError::file(
                file,
                format!(
                    "zip archive holds several .csv files ({}); expected one",
                    names.join(", ")
                ),
            ));
        }
    };
    let mut entry = archive
        .by_index(index)
        .map_err(|e| DataError::file(file, format!("unreadable zip entry {name}: {e}")))?;
    let mut out = Vec::new();
    entry
        .read_to_end(&mut out)
        .map_err(|e| DataError::file(file, format!("cannot decompress {name}: {e}")))?;
    Ok(out)
}

/// Parses a timestamp cell: integer ms (µs and ns detected by magnitude), or ISO-8601 UTC.
pub(crate) fn parse_time_text(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(v) = s.parse::<i64>() {
        return Some(normalise_epoch(v));
    }
    if let Ok(v) = s.parse::<f64>() {
        return (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e18)
            .then(|| normalise_epoch(v as i64));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    let spaced = s.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&spaced) {
        return Some(dt.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&spaced, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// Integer epoch in ms, µs or ns (by magnitude: µs from 10^14, ns from 10^17) into ms.
pub(crate) fn normalise_epoch(v: i64) -> i64 {
    let a = v.unsigned_abs();
    if a >= 100_000_000_000_000_000 {
        v.div_euclid(1_000_000)
    } else if a >= 100_000_000_000_000 {
        v.div_euclid(1000)
    } else {
        v
    }
}

fn parse_value(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    s.parse::<f64>().ok()
}

/// Reads a CSV: by header names when the first line is a header, else by position
/// (Binance kline order `open_time, open, high, low, close, volume, ...`; funding
/// `calc_time, funding_interval_hours, last_funding_rate` or `time, rate`).
fn read_csv(bytes: &[u8], file: &str, wants: &[Wanted], role: Role) -> Result<Table, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut records = reader.records();
    let first = match records.next() {
        None => return Err(DataError::file(file, "file is empty")),
        Some(r) => r.map_err(|e| csv_error(file, e))?,
    };
    let first_cell = first.get(0).unwrap_or("");
    // A header is a first line whose first cell is not a timestamp.
    let has_header = parse_time_text(first_cell).is_none();
    let width = first.len();
    let indices: Vec<Option<usize>> = if has_header {
        let header: Vec<String> = first
            .iter()
            .map(|s| s.trim_start_matches('\u{feff}').to_string())
            .collect();
        resolve(file, &header, wants)?
    } else {
        positional(file, width, wants, role)?
    };

    let mut table = Table {
        rows: Rows::default(),
        times: Vec::new(),
        values: wants
            .iter()
            .skip(1)
            .zip(indices.iter().skip(1))
            .map(|(_, i)| i.map(|_| Vec::new()))
            .collect(),
    };
    let mut errors = Vec::new();
    let mut push_record = |record: &csv::StringRecord, line: usize, errors: &mut Vec<DataError>| {
        let mut bad = Vec::new();
        let time_idx = indices[0].unwrap_or(0);
        let time_cell = record.get(time_idx).unwrap_or("");
        let time = parse_time_text(time_cell);
        if time.is_none() {
            bad.push(format!("timestamp {time_cell:?}"));
        }
        let mut vals = Vec::with_capacity(wants.len());
        for (w, idx) in wants.iter().zip(indices.iter()).skip(1) {
            let Some(idx) = idx else {
                vals.push(None);
                continue;
            };
            let cell = record.get(*idx).unwrap_or("");
            match parse_value(cell) {
                Some(v) => vals.push(Some(v)),
                None => {
                    bad.push(format!("{} {cell:?}", w.label));
                    vals.push(Some(f64::NAN));
                }
            }
        }
        if !bad.is_empty() {
            errors.push(DataError::at(
                file,
                line,
                format!("unparseable {}", bad.join(", ")),
            ));
            return;
        }
        table.rows.push(line);
        table.times.push(time.unwrap_or_default());
        for (col, v) in table.values.iter_mut().zip(vals) {
            if let (Some(col), Some(v)) = (col.as_mut(), v) {
                col.push(v);
            }
        }
    };
    if !has_header {
        push_record(&first, 1, &mut errors);
    }
    for record in records {
        let record = record.map_err(|e| csv_error(file, e))?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        if record.iter().all(|c| c.is_empty()) {
            continue;
        }
        push_record(&record, line, &mut errors);
    }
    DataError::collect(errors)?;
    if table.times.is_empty() {
        return Err(DataError::file(file, "file has no data rows"));
    }
    Ok(table)
}

fn positional(
    file: &str,
    width: usize,
    wants: &[Wanted],
    role: Role,
) -> Result<Vec<Option<usize>>, DataError> {
    match role {
        Role::Candles | Role::Mark => {
            if width < 5 {
                return Err(DataError::file(
                    file,
                    format!(
                        "headerless file has {width} columns; expected at least 5 (time, open, high, low, close)"
                    ),
                ));
            }
            let volume = (width >= 6).then_some(5);
            Ok(vec![Some(0), Some(1), Some(2), Some(3), Some(4), volume]
                .into_iter()
                .take(wants.len())
                .collect())
        }
        Role::Funding => match width {
            2 => Ok(vec![Some(0), Some(1)]),
            3 => Ok(vec![Some(0), Some(2)]),
            _ => Err(DataError::file(
                file,
                format!(
                    "headerless funding file has {width} columns; expected 2 (time, rate) or 3 (calc_time, funding_interval_hours, last_funding_rate)"
                ),
            )),
        },
    }
}

fn csv_error(file: &str, e: csv::Error) -> DataError {
    match e.position() {
        Some(p) => DataError::at(file, p.line() as usize, format!("unreadable csv: {e}")),
        None => DataError::file(file, format!("unreadable csv: {e}")),
    }
}

/// Reads a freqtrade JSON candle file `[[ms, o, h, l, c, v], ...]` (funding: `[[ms, rate, ...]]`
/// uses the second element).
fn read_json(path: &Path, file: &str, wants: &[Wanted]) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| DataError::at(file, e.line(), format!("invalid json: {e}")))?;
    let Some(rows) = value.as_array() else {
        return Err(DataError::file(
            file,
            "expected a json array of [time, open, high, low, close, volume] rows",
        ));
    };
    let n_values = wants.len() - 1;
    let mut table = Table {
        rows: Rows::Listed(Vec::with_capacity(rows.len())),
        times: Vec::with_capacity(rows.len()),
        values: (0..n_values)
            .map(|_| Some(Vec::with_capacity(rows.len())))
            .collect(),
    };
    let mut errors = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        let Some(cells) = row.as_array() else {
            errors.push(DataError::at(
                file,
                n,
                format!("expected an array, found {row}"),
            ));
            continue;
        };
        let min_len = if n_values == 1 { 2 } else { 5 };
        if cells.len() < min_len {
            errors.push(DataError::at(
                file,
                n,
                format!("expected at least {min_len} values, found {row}"),
            ));
            continue;
        }
        let time = match &cells[0] {
            serde_json::Value::Number(x) => x
                .as_i64()
                .or_else(|| x.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(normalise_epoch),
            serde_json::Value::String(s) => parse_time_text(s),
            _ => None,
        };
        let Some(time) = time else {
            errors.push(DataError::at(
                file,
                n,
                format!("unparseable timestamp {}", cells[0]),
            ));
            continue;
        };
        let mut bad = false;
        let mut vals = Vec::with_capacity(n_values);
        for k in 0..n_values {
            let v = match cells.get(k + 1) {
                Some(serde_json::Value::Number(x)) => x.as_f64(),
                Some(serde_json::Value::String(s)) => parse_value(s),
                Some(serde_json::Value::Null) => Some(f64::NAN),
                None if k + 1 >= min_len => Some(f64::NAN),
                _ => None,
            };
            match v {
                Some(v) => vals.push(v),
                None => {
                    errors.push(DataError::at(
                        file,
                        n,
                        format!(
                            "unparseable {} {}",
                            wants[k + 1].label,
                            cells.get(k + 1).map(|c| c.to_string()).unwrap_or_default()
                        ),
                    ));
                    bad = true;
                    break;
                }
            }
        }
        if bad {
            continue;
        }
        table.rows.push(n);
        table.times.push(time);
        for (col, v) in table.values.iter_mut().zip(vals) {
            if let Some(col) = col {
                col.push(v);
            }
        }
    }
    DataError::collect(errors)?;
    if table.times.is_empty() {
        return Err(DataError::file(file, "file has no data rows"));
    }
    Ok(table)
}

/// Reads the wanted columns of a Feather (Arrow IPC) or Parquet file through polars.
fn read_frame(
    path: &Path,
    file: &str,
    container: Container,
    wants: &[Wanted],
    decode: Decode,
) -> Result<Table, DataError> {
    let pe = |e: PolarsError| {
        DataError::file(
            file,
            format!(
                "unreadable {} file: {e}",
                if container == Container::Ipc {
                    "feather"
                } else {
                    "parquet"
                }
            ),
        )
    };
    let open = || std::fs::File::open(path).map_err(|e| DataError::io(path, e));
    let header: Vec<String> = match container {
        Container::Ipc => IpcReader::new(open()?)
            .schema()
            .map_err(pe)?
            .iter_names()
            .map(|n| n.to_string())
            .collect(),
        _ => ParquetReader::new(open()?)
            .schema()
            .map_err(pe)?
            .iter_names()
            .map(|n| n.to_string())
            .collect(),
    };
    let indices = resolve(file, &header, wants)?;
    let selected: Vec<String> = indices
        .iter()
        .flatten()
        .map(|&i| header[i].clone())
        .collect();
    let mut unique = selected.clone();
    unique.sort();
    unique.dedup();
    let df = match container {
        Container::Ipc => IpcReader::new(open()?)
            .with_columns(Some(unique))
            .finish()
            .map_err(pe)?,
        _ => ParquetReader::new(open()?)
            .read_parallel(match decode {
                Decode::Here => ParallelStrategy::None,
                Decode::Parallel => ParallelStrategy::default(),
            })
            .with_columns(Some(unique))
            .finish()
            .map_err(pe)?,
    };
    let height = df.height();
    let time_name = &header[indices[0].unwrap_or(0)];
    let time_col = df.column(time_name).map_err(pe)?.as_materialized_series();
    let (times, time_errors) = frame_times(file, time_col)?;
    DataError::collect(time_errors)?;
    let mut values = Vec::with_capacity(wants.len() - 1);
    let mut columns: Vec<Option<Column>> = df.into_columns().into_iter().map(Some).collect();
    for (w, idx) in indices.iter().enumerate().skip(1) {
        let Some(idx) = idx else {
            values.push(None);
            continue;
        };
        let name = &header[*idx];
        let slot = columns
            .iter_mut()
            .find(|c| {
                c.as_ref()
                    .is_some_and(|c| c.name().as_str() == name.as_str())
            })
            .ok_or_else(|| DataError::file(file, format!("column {name} was not read")))?;
        // The column itself at its last use (its buffer can then be moved), a copy before.
        let col = if indices[w + 1..].contains(&Some(*idx)) {
            slot.clone()
        } else {
            slot.take()
        };
        let series = col
            .map(Column::take_materialized_series)
            .ok_or_else(|| DataError::file(file, format!("column {name} was not read")))?;
        if series.dtype() == &DataType::Float64 {
            values.push(Some(owned_f64_values(series).map_err(pe)?));
            continue;
        }
        let cast = series.cast(&DataType::Float64).map_err(|e| {
            DataError::file(
                file,
                format!(
                    "column {} ({}) is not numeric: {e}",
                    header[*idx],
                    series.dtype()
                ),
            )
        })?;
        values.push(Some(f64_values(cast.f64().map_err(pe)?)));
    }
    if height == 0 {
        return Err(DataError::file(file, "file has no data rows"));
    }
    Ok(Table {
        rows: Rows::Counted { first: 1 },
        times,
        values,
    })
}

/// The values of a `Float64` series, nulls as NaN: without nulls, its buffers themselves where
/// nothing else holds them (the first chunk moved, no copy), else [`f64_values`].
fn owned_f64_values(series: Series) -> PolarsResult<Vec<f64>> {
    let ca = series.f64()?.clone();
    drop(series);
    if ca.null_count() > 0 {
        return Ok(f64_values(&ca));
    }
    let mut out = Vec::new();
    for arr in ca.downcast_into_iter() {
        let values = arr.into_inner().1.into_mut().right_or_else(|b| b.to_vec());
        if out.is_empty() {
            out = values;
        } else {
            out.extend_from_slice(&values);
        }
    }
    Ok(out)
}

/// The values of a float column, nulls as NaN (without nulls: copied a chunk's slice at a time).
fn f64_values(ca: &Float64Chunked) -> Vec<f64> {
    if ca.null_count() > 0 {
        return ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
    }
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        out.extend_from_slice(arr.values());
    }
    out
}

/// The times of an `i64` column without nulls, as the general path reads any integer column
/// (through `f64`, then [`normalise_epoch`]), without materialising the cast column.
fn i64_times(ca: &Int64Chunked) -> Vec<i64> {
    let mut out = Vec::with_capacity(ca.len());
    for arr in ca.downcast_iter() {
        out.extend(
            arr.values()
                .iter()
                .map(|&v| normalise_epoch(v as f64 as i64)),
        );
    }
    out
}

fn frame_times(file: &str, s: &Series) -> Result<(Vec<i64>, Vec<DataError>), DataError> {
    if s.dtype() == &DataType::Int64 && s.null_count() == 0 {
        let ca = s.i64().map_err(|e| DataError::file(file, e.to_string()))?;
        return Ok((i64_times(ca), Vec::new()));
    }
    let mut errors = Vec::new();
    let name = s.name().to_string();
    let mut missing = |row: usize| {
        errors.push(DataError::at(
            file,
            row,
            format!("missing timestamp in column {name}"),
        ))
    };
    let times = match s.dtype() {
        DataType::Datetime(unit, _) => {
            let div = match unit {
                TimeUnit::Nanoseconds => 1_000_000,
                TimeUnit::Microseconds => 1000,
                TimeUnit::Milliseconds => 1,
            };
            let ca = s
                .datetime()
                .map_err(|e| DataError::file(file, e.to_string()))?;
            if ca.null_count() == 0 {
                let mut out = Vec::with_capacity(ca.len());
                for arr in ca.physical().downcast_iter() {
                    if div == 1 {
                        out.extend_from_slice(arr.values());
                    } else {
                        out.extend(arr.values().iter().map(|v| v.div_euclid(div)));
                    }
                }
                return Ok((out, Vec::new()));
            }
            ca.physical()
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Some(v) => v.div_euclid(div),
                    None => {
                        missing(i + 1);
                        0
                    }
                })
                .collect()
        }
        DataType::String => {
            let ca = s.str().map_err(|e| DataError::file(file, e.to_string()))?;
            let mut out = Vec::with_capacity(ca.len());
            for (i, v) in ca.iter().enumerate() {
                match v.and_then(parse_time_text) {
                    Some(t) => out.push(t),
                    None => {
                        errors.push(DataError::at(
                            file,
                            i + 1,
                            format!("unparseable timestamp {:?}", v.unwrap_or("")),
                        ));
                        out.push(0);
                    }
                }
            }
            out
        }
        dt if dt.is_integer() || dt.is_float() => {
            let cast = s
                .cast(&DataType::Float64)
                .map_err(|e| DataError::file(file, e.to_string()))?;
            let ca = cast
                .f64()
                .map_err(|e| DataError::file(file, e.to_string()))?;
            ca.iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Some(v) if v.is_finite() => normalise_epoch(v as i64),
                    _ => {
                        missing(i + 1);
                        0
                    }
                })
                .collect()
        }
        other => {
            return Err(DataError::file(
                file,
                format!(
                    "timestamp column {name} has type {other}; expected a datetime, an integer (ms) or ISO-8601 text"
                ),
            ));
        }
    };
    Ok((times, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rows_stay_counted_for_one_run_of_records() {
        let mut rows = Rows::Counted { first: 1 };
        rows.retain(&[false, false, true, true, true, false]);
        assert_eq!(rows, Rows::Counted { first: 3 });
        assert_eq!(rows.get(2), 5);
        rows.retain(&[true, false, true]);
        assert_eq!(rows, Rows::Listed(vec![3, 5]));
        let mut none = Rows::Counted { first: 1 };
        none.retain(&[false, false]);
        assert_eq!(none, Rows::Counted { first: 3 });
    }

    #[test]
    fn times_parse_in_every_spelling() {
        let t = 1_760_130_000_000;
        for s in [
            "1760130000000",
            "1760130000000000",
            "1760130000000000000",
            "2025-10-10T21:00:00.000Z",
            "2025-10-10T21:00:00Z",
            "2025-10-10 21:00:00",
            "2025-10-10 21:00:00+00:00",
            "2025-10-10T23:00:00+02:00",
        ] {
            assert_eq!(parse_time_text(s), Some(t), "{s}");
        }
        assert_eq!(parse_time_text("2025-10-10"), Some(1_760_054_400_000));
        assert_eq!(parse_time_text("yesterday"), None);
        assert_eq!(parse_time_text(""), None);
    }
}
