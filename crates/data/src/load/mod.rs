//! Loading, validating and aligning market data (DESIGN.md §3).
//!
//! Sources per symbol: last-price candles (required), mark-price candles and funding settlements
//! (optional: their absence is a [`DataWarning`], never a silent zero). Supported files: freqtrade
//! Feather and JSON, the CSVs derived from them (`date,timestamp_ms,open,...`), Binance public
//! kline CSVs (12 columns, header or not, ms or µs, plain or zipped), Binance funding CSVs, and
//! generic CSV / Parquet with configurable column names.
//!
//! Every problem is reported with file, row and values, and all of them at once
//! ([`DataError::Many`]). Row numbers are 1-based: the line in text files (header = line 1), the
//! element in JSON arrays, the record in Feather / Parquet files.
//!
//! The result is one [`Market`] on a common regular grid from the earliest to the latest candle
//! of all symbols; each series holds `NaN` outside its own `[first, end)`. Mark candles are
//! trimmed to the symbol's candle range and are `NaN` where the mark file has no bar (the engine
//! falls back to last prices there). Funding times are kept exactly as given (settlement times,
//! which may carry a few ms of jitter), not snapped to bars.

mod read;
pub(crate) mod validate;

pub(crate) use read::{Decode, RawCandles, RawFunding, read_candles, read_funding, read_mark};

use crate::error::DataError;
use rayon::prelude::*;
use ringfence_model::market::{
    DataWarning, Funding, MarkColumns, Market, SymbolSeries, WarningKind,
};
use ringfence_model::symbol::Symbol;
use ringfence_model::time::{iso, parse_timeframe, timeframe_label};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use validate::{CandleScan, Gap, describe_gap, grid_anchor, scan_candles, scan_funding};

/// What to do with missing bars inside a series (`gaps = "error" | "fill"` in a scenario).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapPolicy {
    /// A gap is an error naming the file, the row after the gap and the missing times.
    #[default]
    Error,
    /// Fill each missing bar with a flat bar at the previous close (volume 0), and list the
    /// filled gaps in a [`WarningKind::GapFilled`] warning.
    Fill,
}

/// Options of [`load_market`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadOptions {
    /// Missing bars: error (default) or fill.
    pub gaps: GapPolicy,
    /// Keep only rows at or after this time (ms UTC).
    pub start: Option<i64>,
    /// Keep only rows before this time (ms UTC, exclusive).
    pub end: Option<i64>,
}

/// Column names of generic CSV / Parquet files. Matching is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// Bar open time (candles) or settlement time (funding): integer ms (µs / ns detected by
    /// magnitude), ISO-8601 text, or a datetime column.
    pub timestamp: String,
    /// Open price.
    pub open: String,
    /// High price.
    pub high: String,
    /// Low price.
    pub low: String,
    /// Close price.
    pub close: String,
    /// Volume, when the file has one.
    pub volume: Option<String>,
    /// Funding rate (funding files only).
    pub funding_rate: String,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            timestamp: "timestamp".into(),
            open: "open".into(),
            high: "high".into(),
            low: "low".into(),
            close: "close".into(),
            volume: Some("volume".into()),
            funding_rate: "funding_rate".into(),
        }
    }
}

/// The format of one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FileFormat {
    /// Detect from the extension (`.feather`/`.arrow`/`.ipc`, `.parquet`, `.json`, `.csv`/`.zip`)
    /// and the column names (well-known names such as `timestamp_ms`, `date`, `open_time`,
    /// `calc_time`, `funding_rate`, `last_funding_rate`, and for funding Feather the `open` column).
    #[default]
    Auto,
    /// freqtrade Feather: `date` (datetime) + `open, high, low, close, volume`; funding rate in `open`.
    FreqtradeFeather,
    /// freqtrade JSON candles `[[ms, o, h, l, c, v], ...]`.
    FreqtradeJson,
    /// Binance public kline CSV (12 columns, header or not, ms or µs; `.zip` with one CSV accepted).
    BinanceKlineCsv,
    /// Binance funding CSV `calc_time, funding_interval_hours, last_funding_rate`.
    BinanceFundingCsv,
    /// CSV with the given column names.
    GenericCsv(Columns),
    /// Parquet with the given column names.
    Parquet(Columns),
}

impl FileFormat {
    /// The same format reading the given column names (generic CSV and Parquet); other formats
    /// are returned unchanged.
    pub fn with_columns(&self, columns: &Columns) -> FileFormat {
        match self {
            FileFormat::GenericCsv(_) => FileFormat::GenericCsv(columns.clone()),
            FileFormat::Parquet(_) => FileFormat::Parquet(columns.clone()),
            other => other.clone(),
        }
    }

    /// The format of a symbol's funding file when its files are said to be in this format: Binance
    /// kline CSVs come with Binance funding CSVs; every other format reads funding as itself.
    pub fn for_funding(self) -> FileFormat {
        match self {
            FileFormat::BinanceKlineCsv => FileFormat::BinanceFundingCsv,
            other => other,
        }
    }
}

/// Reads the names a scenario gives a format: `auto`, `feather`, `freqtrade_json`,
/// `binance_klines`, `binance_funding`, `csv`, `parquet` (the last two with the default
/// [`Columns`]; see [`FileFormat::with_columns`]).
impl<'de> serde::Deserialize<'de> for FileFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Name {
            Auto,
            Feather,
            FreqtradeJson,
            BinanceKlines,
            BinanceFunding,
            Csv,
            Parquet,
        }
        Ok(match Name::deserialize(d)? {
            Name::Auto => FileFormat::Auto,
            Name::Feather => FileFormat::FreqtradeFeather,
            Name::FreqtradeJson => FileFormat::FreqtradeJson,
            Name::BinanceKlines => FileFormat::BinanceKlineCsv,
            Name::BinanceFunding => FileFormat::BinanceFundingCsv,
            Name::Csv => FileFormat::GenericCsv(Columns::default()),
            Name::Parquet => FileFormat::Parquet(Columns::default()),
        })
    }
}

/// One input file and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Path of the file.
    pub path: PathBuf,
    /// Its format.
    pub format: FileFormat,
}

impl FileSpec {
    /// A file whose format is detected ([`FileFormat::Auto`]).
    pub fn auto(path: impl Into<PathBuf>) -> Self {
        FileSpec {
            path: path.into(),
            format: FileFormat::Auto,
        }
    }
}

/// The files of one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSources {
    /// The symbol.
    pub symbol: Symbol,
    /// Last-price candles (required).
    pub candles: FileSpec,
    /// Mark-price candles at the same timeframe.
    pub mark: Option<FileSpec>,
    /// Funding settlements.
    pub funding: Option<FileSpec>,
}

/// Validated rows of one symbol, before alignment.
struct Prepared {
    symbol: Symbol,
    candles: RawCandles,
    gaps: Vec<Gap>,
    mark: Option<(RawCandles, Vec<Gap>)>,
    funding: Option<RawFunding>,
}

fn push_flat(errors: &mut Vec<DataError>, e: DataError) {
    match e {
        DataError::Many(list) => list.into_iter().for_each(|e| push_flat(errors, e)),
        e => errors.push(e),
    }
}

/// Loads, validates and aligns the given symbols on one common regular grid of `timeframe_ms`.
///
/// Every problem of every file is collected before failing ([`DataError::Many`]). Missing mark
/// or funding data yields a [`WarningKind::MissingMark`] / [`WarningKind::MissingFunding`] warning;
/// mark candles covering fewer bars than the candles yield a [`WarningKind::Other`] warning.
pub fn load_market(
    sources: &[SymbolSources],
    timeframe_ms: i64,
    opts: &LoadOptions,
) -> Result<Market, DataError> {
    if timeframe_ms <= 0 {
        return Err(DataError::file(
            "market",
            format!("timeframe must be positive, got {timeframe_ms} ms"),
        ));
    }
    if sources.is_empty() {
        return Err(DataError::file("market", "no symbols to load"));
    }
    let mut sorted: Vec<&SymbolSources> = sources.iter().collect();
    sorted.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    for w in sorted.windows(2) {
        if w[0].symbol == w[1].symbol {
            return Err(DataError::file(
                w[1].candles.path.display().to_string(),
                format!(
                    "symbol {} is given twice (also {})",
                    w[1].symbol,
                    w[0].candles.path.display()
                ),
            ));
        }
    }

    // Pass 1: read everything (the symbols in parallel; results and errors kept in symbol order).
    // With a symbol for every thread, each file is decoded on the thread that reads it.
    let decode = if sorted.len() >= rayon::current_num_threads() {
        Decode::Here
    } else {
        Decode::Parallel
    };
    let mut errors = Vec::new();
    let mut read: Vec<(Symbol, RawCandles, Option<RawCandles>, Option<RawFunding>)> = Vec::new();
    let files: Vec<_> = sorted
        .par_iter()
        .map(|src| {
            let candles = read_candles(&src.candles, decode).map(|mut c| {
                c.retain_window(opts.start, opts.end);
                c
            });
            let mark = src.mark.as_ref().map(|m| {
                read_mark(m, decode).map(|mut c| {
                    c.retain_window(opts.start, opts.end);
                    c
                })
            });
            let funding = src.funding.as_ref().map(|f| {
                read_funding(f, decode).map(|mut r| {
                    r.retain_window(opts.start, opts.end);
                    r
                })
            });
            (candles, mark, funding)
        })
        .collect();
    for (src, (candles, mark, funding)) in sorted.iter().zip(files) {
        let candles = match candles {
            Ok(c) if c.len() == 0 => {
                errors.push(DataError::file(
                    c.file.clone(),
                    format!("no candles{}", window_note(opts)),
                ));
                None
            }
            Ok(c) => Some(c),
            Err(e) => {
                push_flat(&mut errors, e);
                None
            }
        };
        let mark = match mark.transpose() {
            Ok(m) => m,
            Err(e) => {
                push_flat(&mut errors, e);
                None
            }
        };
        let funding = match funding.transpose() {
            Ok(f) => f,
            Err(e) => {
                push_flat(&mut errors, e);
                None
            }
        };
        if let Some(c) = candles {
            read.push((src.symbol.clone(), c, mark, funding));
        }
    }

    // Pass 2: validate against one grid anchor.
    let global_first = read
        .iter()
        .filter_map(|(_, c, _, _)| c.times.iter().min().copied())
        .min()
        .unwrap_or(0);
    let anchor = grid_anchor(timeframe_ms, global_first);
    // Each symbol's files scanned in parallel; their problems reported in symbol order.
    let scans: Vec<_> = read
        .par_iter()
        .map(|(_, candles, mark, funding)| {
            (
                scan_candles(candles, timeframe_ms, anchor),
                mark.as_ref().map(|m| scan_candles(m, timeframe_ms, anchor)),
                funding.as_ref().map(scan_funding),
            )
        })
        .collect();
    let mut prepared = Vec::with_capacity(read.len());
    for ((symbol, candles, mark, funding), (scan, mark_scan, funding_problems)) in
        read.into_iter().zip(scans)
    {
        let gaps = check(&candles, scan, timeframe_ms, opts.gaps, &mut errors);
        let mark = mark.zip(mark_scan).map(|(m, scan)| {
            let gaps = check(&m, scan, timeframe_ms, opts.gaps, &mut errors);
            (m, gaps)
        });
        if let Some(problems) = funding_problems {
            errors.extend(problems.into_iter().map(|(_, e)| e));
        }
        prepared.push(Prepared {
            symbol,
            candles,
            gaps,
            mark,
            funding,
        });
    }
    DataError::collect(errors)?;
    Ok(align(prepared, timeframe_ms))
}

fn window_note(opts: &LoadOptions) -> String {
    match (opts.start, opts.end) {
        (None, None) => String::new(),
        (s, e) => format!(
            " in the requested window [{}, {})",
            s.map(iso).unwrap_or_else(|| "start".into()),
            e.map(iso).unwrap_or_else(|| "end".into())
        ),
    }
}

/// Reports the scan of one candle file; returns its gaps (already reported as errors under
/// [`GapPolicy::Error`]).
fn check(
    raw: &RawCandles,
    scan: CandleScan,
    timeframe_ms: i64,
    policy: GapPolicy,
    errors: &mut Vec<DataError>,
) -> Vec<Gap> {
    errors.extend(scan.problems.into_iter().map(|(_, e)| e));
    if policy == GapPolicy::Error {
        for g in &scan.gaps {
            errors.push(DataError::at(
                raw.file.clone(),
                g.row,
                format!(
                    "gap before this row: {} at timeframe {}",
                    describe_gap(g),
                    timeframe_label(timeframe_ms)
                ),
            ));
        }
    }
    scan.gaps
}

/// Places validated rows on the common grid.
fn align(prepared: Vec<Prepared>, timeframe_ms: i64) -> Market {
    let start = prepared
        .iter()
        .map(|p| p.candles.times[0])
        .min()
        .unwrap_or(0);
    let last = prepared
        .iter()
        .map(|p| p.candles.times[p.candles.len() - 1])
        .max()
        .unwrap_or(start);
    let n = ((last - start) / timeframe_ms + 1) as usize;
    let times: Vec<i64> = (0..n).map(|i| start + i as i64 * timeframe_ms).collect();
    let index = |t: i64| ((t - start) / timeframe_ms) as usize;
    let mut warnings = Vec::new();
    let mut series = Vec::with_capacity(prepared.len());
    for mut p in prepared {
        let first = index(p.candles.times[0]);
        let end = index(p.candles.times[p.candles.len() - 1]) + 1;
        let nan = || vec![f64::NAN; n];
        // Validated times are on the grid and strictly increasing: as many rows as bars in
        // `first..end` means no bar is missing, and the columns are placed whole (moved when they
        // span the grid).
        let (mut open, mut high, mut low, mut close, mut volume) = if end - first == p.candles.len()
        {
            let c = &mut p.candles;
            let place = |v: &mut Vec<f64>| on_grid(std::mem::take(v), first, n);
            (
                place(&mut c.open),
                place(&mut c.high),
                place(&mut c.low),
                place(&mut c.close),
                c.volume.as_mut().map(place),
            )
        } else {
            let c = &p.candles;
            let (mut open, mut high, mut low, mut close) = (nan(), nan(), nan(), nan());
            let mut volume = c.volume.as_ref().map(|_| nan());
            for k in 0..c.len() {
                let i = index(c.times[k]);
                open[i] = c.open[k];
                high[i] = c.high[k];
                low[i] = c.low[k];
                close[i] = c.close[k];
                if let (Some(v), Some(src)) = (volume.as_mut(), c.volume.as_ref()) {
                    v[i] = src[k];
                }
            }
            (open, high, low, close, volume)
        };
        let c = &p.candles;
        if !p.gaps.is_empty() {
            for i in first + 1..end {
                if open[i].is_nan() {
                    let prev = close[i - 1];
                    (open[i], high[i], low[i], close[i]) = (prev, prev, prev, prev);
                    if let Some(v) = volume.as_mut() {
                        v[i] = 0.0;
                    }
                }
            }
            warnings.push(gap_warning(&p.symbol, c, &p.gaps));
        }

        // Every row passed validation (positive, finite, low and high the extremes) and filled
        // gaps repeat the previous close, so each bar in `first..end` has a clean last-price
        // candle and every other bar none: the series is clean unless mark candles are missing
        // on some of its bars (`SymbolSeries::bar_is_clean`).
        let (mark, clean) = match p.mark {
            None => {
                warnings.push(DataWarning {
                    symbol: Some(p.symbol.clone()),
                    kind: WarningKind::MissingMark,
                    message: format!(
                        "{}: no mark-price data: liquidations checked against last price",
                        p.symbol
                    ),
                });
                (None, true)
            }
            Some((mut m, gaps)) => {
                let lo = times[first];
                let hi = times[end - 1];
                // The rows inside the candles' range (validated: on the grid, strictly increasing).
                let k0 = m.times.partition_point(|&t| t < lo);
                let k1 = m.times.partition_point(|&t| t <= hi);
                let (mut cols, mut covered, m_first, m_last) =
                    if k0 < k1 && index(m.times[k1 - 1]) - index(m.times[k0]) + 1 == k1 - k0 {
                        // No bar missing in between: placed whole (moved when they span the grid).
                        let at = index(m.times[k0]);
                        let whole = k0 == 0 && k1 == m.len();
                        let place = |v: &mut Vec<f64>| {
                            if whole {
                                on_grid(std::mem::take(v), at, n)
                            } else {
                                on_grid(v[k0..k1].to_vec(), at, n)
                            }
                        };
                        let cols = MarkColumns {
                            open: place(&mut m.open),
                            high: place(&mut m.high),
                            low: place(&mut m.low),
                            close: place(&mut m.close),
                        };
                        (cols, k1 - k0, at, at + (k1 - k0) - 1)
                    } else {
                        let mut cols = MarkColumns {
                            open: nan(),
                            high: nan(),
                            low: nan(),
                            close: nan(),
                        };
                        let mut covered = 0usize;
                        let (mut m_first, mut m_last) = (usize::MAX, 0usize);
                        for k in 0..m.len() {
                            let t = m.times[k];
                            if t < lo || t > hi {
                                continue;
                            }
                            let i = index(t);
                            cols.open[i] = m.open[k];
                            cols.high[i] = m.high[k];
                            cols.low[i] = m.low[k];
                            cols.close[i] = m.close[k];
                            covered += 1;
                            m_first = m_first.min(i);
                            m_last = m_last.max(i);
                        }
                        (cols, covered, m_first, m_last)
                    };
                if covered > 0 && !gaps.is_empty() {
                    for i in m_first + 1..=m_last {
                        if cols.open[i].is_nan() {
                            let prev = cols.close[i - 1];
                            (cols.open[i], cols.high[i], cols.low[i], cols.close[i]) =
                                (prev, prev, prev, prev);
                            covered += 1;
                        }
                    }
                    warnings.push(gap_warning(&p.symbol, &m, &gaps));
                }
                let bars = end - first;
                if covered == 0 {
                    warnings.push(DataWarning {
                        symbol: Some(p.symbol.clone()),
                        kind: WarningKind::MissingMark,
                        message: format!(
                            "{}: mark-price file {} has no bar inside the candles' range {} to {}: liquidations checked against last price",
                            p.symbol, m.file, iso(lo), iso(hi)
                        ),
                    });
                    (None, true)
                } else {
                    if covered < bars {
                        warnings.push(DataWarning {
                            symbol: Some(p.symbol.clone()),
                            kind: WarningKind::Other,
                            message: format!(
                                "{}: mark-price candles cover {covered} of {bars} bars ({} to {}); liquidations use last prices on the other bars",
                                p.symbol,
                                iso(times[m_first]),
                                iso(times[m_last])
                            ),
                        });
                    }
                    (Some(cols), covered == bars)
                }
            }
        };

        let funding = match p.funding {
            Some(f) if !f.times.is_empty() => Funding {
                times: f.times,
                rates: f.rates,
            },
            other => {
                let why = match other {
                    Some(f) => format!("funding file {} has no settlement in range", f.file),
                    None => "no funding data".to_string(),
                };
                warnings.push(DataWarning {
                    symbol: Some(p.symbol.clone()),
                    kind: WarningKind::MissingFunding,
                    message: format!("{}: {why}: funding assumed zero", p.symbol),
                });
                Funding::default()
            }
        };
        let s = SymbolSeries {
            symbol: p.symbol,
            first,
            end,
            open,
            high,
            low,
            close,
            volume,
            mark,
            funding,
            clean,
        };
        debug_assert_eq!(s.clean, s.all_bars_clean(), "{}: clean flag", s.symbol);
        series.push(s);
    }
    warnings.sort_by(|a, b| (&a.symbol, a.kind).cmp(&(&b.symbol, b.kind)));
    Market {
        timeframe_ms,
        times,
        series,
        lower: None,
        warnings,
    }
}

/// The `values` of bars `first..first + values.len()` on a grid of `n` bars (NaN elsewhere):
/// `values` itself when it spans the grid.
fn on_grid(values: Vec<f64>, first: usize, n: usize) -> Vec<f64> {
    if first == 0 && values.len() == n {
        return values;
    }
    let mut out = vec![f64::NAN; n];
    out[first..first + values.len()].copy_from_slice(&values);
    out
}

fn gap_warning(symbol: &Symbol, raw: &RawCandles, gaps: &[Gap]) -> DataWarning {
    const LISTED: usize = 10;
    let missing: usize = gaps.iter().map(|g| g.missing).sum();
    let mut list: Vec<String> = gaps.iter().take(LISTED).map(describe_gap).collect();
    if gaps.len() > LISTED {
        list.push(format!("and {} more gaps", gaps.len() - LISTED));
    }
    DataWarning {
        symbol: Some(symbol.clone()),
        kind: WarningKind::GapFilled,
        message: format!(
            "{}: {}: filled {missing} missing bar(s) with flat bars at the previous close: {}",
            symbol,
            raw.file,
            list.join("; ")
        ),
    }
}

/// Hangs a lower-timeframe market (for intrabar refinement) under `market`, checking that its
/// timeframe is shorter and divides the upper one and that both grids line up.
pub fn attach_lower(market: &mut Market, lower: Market) -> Result<(), DataError> {
    let (up, low) = (market.timeframe_ms, lower.timeframe_ms);
    let label = |ms| timeframe_label(ms);
    if low <= 0 || low >= up || up % low != 0 {
        return Err(DataError::file(
            "lower timeframe",
            format!(
                "lower timeframe {} must be shorter than and divide the market timeframe {}",
                label(low),
                label(up)
            ),
        ));
    }
    if let (Some(&a), Some(&b)) = (market.times.first(), lower.times.first())
        && (b - a).rem_euclid(low) != 0
    {
        return Err(DataError::file(
            "lower timeframe",
            format!(
                "lower grid starting {} is not aligned with the {} grid starting {}",
                iso(b),
                label(up),
                iso(a)
            ),
        ));
    }
    market.lower = Some(Box::new(lower));
    Ok(())
}

/// The kind of a freqtrade data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FtKind {
    /// `-futures`: last-price candles.
    Futures,
    /// `-mark`: mark-price candles.
    Mark,
    /// `-funding_rate`: settlements.
    Funding,
    /// Spot candles `<BASE>_<QUOTE>-<tf>.<ext>` (freqtrade's spot naming): used for candles only
    /// when a scenario opts in to spot as a proxy for the perpetual.
    Spot,
}

/// A parsed freqtrade file name `<PAIR>-<tf>-<kind>.<ext>`.
#[derive(Debug, Clone)]
pub(crate) struct FtName {
    pub symbol: Symbol,
    pub timeframe: String,
    pub timeframe_ms: i64,
    pub kind: FtKind,
    /// Preference of the extension (lower is preferred): feather, parquet, json, csv.
    pub rank: u8,
}

/// Parses a freqtrade futures file name; `None` for anything else.
pub(crate) fn parse_ft_name(file_name: &str) -> Option<FtName> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    let rank = match ext.to_ascii_lowercase().as_str() {
        "feather" => 0,
        "parquet" => 1,
        "json" => 2,
        "csv" => 3,
        _ => return None,
    };
    let mut parts = stem.split('-');
    let (pair, tf, kind) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() {
        return None;
    }
    let Some(kind) = kind else {
        return parse_spot(pair, tf, rank);
    };
    let kind = match kind {
        "futures" => FtKind::Futures,
        "mark" => FtKind::Mark,
        "funding_rate" => FtKind::Funding,
        _ => return None,
    };
    let timeframe_ms = parse_timeframe(tf)?;
    let symbol = Symbol::parse(pair).ok()?;
    Some(FtName {
        symbol,
        timeframe: tf.to_string(),
        timeframe_ms,
        kind,
        rank,
    })
}

/// A freqtrade spot file `<BASE>_<QUOTE>-<tf>` (two pair parts, no kind suffix).
fn parse_spot(pair: &str, tf: &str, rank: u8) -> Option<FtName> {
    if pair.split('_').count() != 2 {
        return None;
    }
    Some(FtName {
        symbol: Symbol::parse(pair).ok()?,
        timeframe: tf.to_string(),
        timeframe_ms: parse_timeframe(tf)?,
        kind: FtKind::Spot,
        rank,
    })
}

/// The freqtrade files of a directory, by symbol: `(name, path)` sorted by kind, timeframe, rank.
pub(crate) fn scan_ft_dir(
    dir: &Path,
) -> Result<BTreeMap<Symbol, Vec<(FtName, PathBuf)>>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut out: BTreeMap<Symbol, Vec<(FtName, PathBuf)>> = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_ft_name)
        else {
            continue;
        };
        out.entry(name.symbol.clone())
            .or_default()
            .push((name, path));
    }
    for files in out.values_mut() {
        files.sort_by(|(a, pa), (b, pb)| {
            (a.kind, a.timeframe_ms, a.rank, pa).cmp(&(b.kind, b.timeframe_ms, b.rank, pb))
        });
    }
    Ok(out)
}

/// What [`discover`] found: the sources, plus notes worth a warning (e.g. mark candles present
/// only at another timeframe).
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// Sources by symbol, sorted by symbol.
    pub sources: Vec<SymbolSources>,
    /// Notes to carry into the market's warnings.
    pub notes: Vec<DataWarning>,
}

/// Like [`discover_dir`], also returning notes about files present but not used.
pub fn discover(
    dir: &Path,
    timeframe: &str,
    symbols: Option<&[Symbol]>,
) -> Result<Discovery, DataError> {
    discover_with(dir, timeframe, symbols, false)
}

/// Like [`discover`]; with `spot_proxy`, a symbol without perpetual candles uses its freqtrade
/// spot candles (`BTC_USDT-1h.json`) instead, with a note saying so (no mark, no funding).
pub fn discover_with(
    dir: &Path,
    timeframe: &str,
    symbols: Option<&[Symbol]>,
    spot_proxy: bool,
) -> Result<Discovery, DataError> {
    let dir_name = dir.display().to_string();
    let tf_ms = parse_timeframe(timeframe).ok_or_else(|| {
        DataError::file(
            &dir_name,
            format!("unknown timeframe {timeframe:?}: expected e.g. 1m, 5m, 1h, 4h, 1d"),
        )
    })?;
    let found = scan_ft_dir(dir)?;
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    for (symbol, files) in &found {
        if let Some(wanted) = symbols
            && !wanted.contains(symbol)
        {
            continue;
        }
        let pick = |kind: FtKind, tf: Option<i64>| {
            files
                .iter()
                .find(|(n, _)| n.kind == kind && tf.is_none_or(|t| n.timeframe_ms == t))
                .map(|(_, p)| FileSpec::auto(p.clone()))
        };
        let spot = spot_proxy
            .then(|| pick(FtKind::Spot, Some(tf_ms)))
            .flatten();
        let Some(candles) = pick(FtKind::Futures, Some(tf_ms)).or(spot.clone()) else {
            continue;
        };
        if spot.as_ref() == Some(&candles) {
            notes.push(DataWarning {
                symbol: Some(symbol.clone()),
                kind: WarningKind::Other,
                message: format!(
                    "{symbol}: spot candles ({}) used as a proxy for the perpetual (data.spot_proxy): no mark price (liquidations on last price), no funding",
                    candles.path.display()
                ),
            });
        }
        let mark = pick(FtKind::Mark, Some(tf_ms));
        if mark.is_none()
            && let Some((other, path)) = files.iter().find(|(n, _)| n.kind == FtKind::Mark)
        {
            notes.push(DataWarning {
                symbol: Some(symbol.clone()),
                kind: WarningKind::Other,
                message: format!(
                    "{symbol}: mark-price candles exist only at {} ({}), not at {timeframe}: not used",
                    other.timeframe,
                    path.display()
                ),
            });
        }
        let funding = pick(FtKind::Funding, Some(tf_ms)).or_else(|| pick(FtKind::Funding, None));
        sources.push(SymbolSources {
            symbol: symbol.clone(),
            candles,
            mark,
            funding,
        });
    }
    if let Some(wanted) = symbols {
        let missing: Vec<String> = wanted
            .iter()
            .filter(|s| !sources.iter().any(|src| &src.symbol == *s))
            .map(|s| {
                let pair = crate::archive::freqtrade_stem(s);
                let spot = found.get(s).and_then(|files| {
                    files
                        .iter()
                        .find(|(n, _)| n.kind == FtKind::Spot && n.timeframe_ms == tf_ms)
                });
                match spot {
                    Some((_, p)) if !spot_proxy => format!(
                        "{s} (expected {pair}-{timeframe}-futures.feather/.json/.csv; found spot candles {}: set data.spot_proxy = true to use them as a stated proxy)",
                        p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
                    ),
                    _ => format!("{s} (expected {pair}-{timeframe}-futures.feather/.json/.csv)"),
                }
            })
            .collect();
        if !missing.is_empty() {
            return Err(DataError::file(
                dir_name,
                format!("no {timeframe} candles for {}", missing.join(", ")),
            ));
        }
    }
    if sources.is_empty() {
        let available: Vec<String> = found
            .iter()
            .flat_map(|(s, files)| {
                files
                    .iter()
                    .filter(|(n, _)| n.kind == FtKind::Futures)
                    .map(move |(n, _)| format!("{s} {}", n.timeframe))
            })
            .collect();
        return Err(DataError::file(
            dir_name,
            format!(
                "no {timeframe} candle files (named like BTC_USDT_USDT-{timeframe}-futures.feather); found: {}",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            ),
        ));
    }
    Ok(Discovery { sources, notes })
}

/// Finds the sources of a freqtrade-style data directory for one timeframe label ("1h", "5m").
///
/// Files `<BASE>_<QUOTE>_<SETTLE>-<tf>-futures.{feather,parquet,json,csv}` (feather preferred when
/// several exist), `...-<tf>-mark.*` (only at the candle timeframe: a mark file at another
/// timeframe is not used, see [`discover`] for the note), `...-<any tf>-funding_rate.*` (the
/// candle timeframe's preferred, else the shortest). `symbols`: restrict to these (an error names
/// any that is absent).
pub fn discover_dir(
    dir: &Path,
    timeframe: &str,
    symbols: Option<&[Symbol]>,
) -> Result<Vec<SymbolSources>, DataError> {
    discover(dir, timeframe, symbols).map(|d| d.sources)
}

/// Convenience: [`discover`] + [`load_market`], with the discovery notes added to the warnings.
pub fn load_dir(
    dir: &Path,
    timeframe: &str,
    symbols: Option<&[Symbol]>,
    opts: &LoadOptions,
) -> Result<Market, DataError> {
    let found = discover(dir, timeframe, symbols)?;
    let tf_ms = parse_timeframe(timeframe).unwrap_or(1);
    let mut market = load_market(&found.sources, tf_ms, opts)?;
    market.warnings.extend(found.notes);
    market
        .warnings
        .sort_by(|a, b| (&a.symbol, a.kind).cmp(&(&b.symbol, b.kind)));
    Ok(market)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freqtrade_names_parse() {
        let n = parse_ft_name("1000PEPE_USDT_USDT-1h-funding_rate.feather").unwrap();
        assert_eq!(n.symbol.as_str(), "1000PEPEUSDT");
        assert_eq!(
            (n.timeframe.as_str(), n.kind, n.rank),
            ("1h", FtKind::Funding, 0)
        );
        assert!(
            parse_ft_name("BNB_USDT_USDT-5m-futures.window_2025-10-08_2025-10-14.csv").is_none()
        );
        assert!(parse_ft_name("SOURCES.md").is_none());
        let spot = parse_ft_name("BTC_USDT-1h.json").unwrap();
        assert_eq!((spot.symbol.as_str(), spot.kind), ("BTCUSDT", FtKind::Spot));
        assert!(parse_ft_name("BTC-1h.json").is_none());
    }
}
