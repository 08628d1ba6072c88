//! `ringfence data inspect`: what a data directory or file holds, per symbol — timeframes, first
//! and last bar, row counts, gaps, duplicates, mark and funding presence and ranges.
//!
//! Inspection **reports** problems (gaps, duplicates, out-of-order or off-grid rows, bad prices)
//! instead of failing on them. In a directory, a file that cannot be read at all is reported with
//! its error; a single file that cannot be read is an error.

use crate::error::DataError;
use crate::load::validate::{Problem, grid_anchor, scan_candles, scan_funding};
use crate::load::{
    Decode, FileSpec, FtKind, parse_ft_name, read_candles, read_funding, read_mark, scan_ft_dir,
};
use ringfence_model::symbol::Symbol;
use ringfence_model::time::{iso, timeframe_label};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// What [`inspect_path`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectReport {
    /// The inspected path.
    pub path: String,
    /// Per symbol, sorted by symbol.
    pub symbols: Vec<SymbolReport>,
    /// Files of a directory not inspected: not freqtrade-named market data, or another format of
    /// a file that was inspected (Feather is preferred, then Parquet, JSON, CSV).
    pub other_files: Vec<String>,
}

/// The files of one symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolReport {
    /// The symbol (normalised), or the file stem when the name holds no symbol.
    pub symbol: String,
    /// Last-price candle files, shortest timeframe first.
    pub candles: Vec<SeriesReport>,
    /// Mark-price candle files, shortest timeframe first.
    pub mark: Vec<SeriesReport>,
    /// Funding files.
    pub funding: Vec<FundingReport>,
    /// Spot candle files (`BTC_USDT-1h.json`): not perpetual data, usable as a stated proxy.
    pub spot: Vec<SeriesReport>,
}

impl SymbolReport {
    /// True when a readable mark-price file exists.
    pub fn has_mark(&self) -> bool {
        self.mark.iter().any(|m| m.error.is_none() && m.rows > 0)
    }

    /// True when a readable funding file exists.
    pub fn has_funding(&self) -> bool {
        self.funding.iter().any(|f| f.error.is_none() && f.rows > 0)
    }
}

/// One candle file (last or mark price).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SeriesReport {
    /// The file.
    pub file: String,
    /// Timeframe label (from the file name, else the most common spacing of its rows).
    pub timeframe: String,
    /// Number of rows read.
    pub rows: usize,
    /// First bar open time (ISO-8601 UTC).
    pub first: Option<String>,
    /// Last bar open time (ISO-8601 UTC).
    pub last: Option<String>,
    /// Number of gaps (stretches of missing bars).
    pub gaps: usize,
    /// Number of missing bars inside all gaps.
    pub missing_bars: usize,
    /// Rows repeating the previous row's time.
    pub duplicates: usize,
    /// Rows earlier than the previous row.
    pub out_of_order: usize,
    /// Rows off the timeframe's grid.
    pub off_grid: usize,
    /// Rows with a price not positive and finite (or a negative volume).
    pub bad_prices: usize,
    /// Rows with low above min(open, close) or high below max(open, close).
    pub bad_ohlc: usize,
    /// The first problems found (at most 5), with file, row and values.
    pub examples: Vec<String>,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
}

/// One funding file.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FundingReport {
    /// The file.
    pub file: String,
    /// Number of settlements.
    pub rows: usize,
    /// First settlement time.
    pub first: Option<String>,
    /// Last settlement time.
    pub last: Option<String>,
    /// Most common spacing between settlements (`8h`, `4h`), rounded to the minute.
    pub interval: Option<String>,
    /// Lowest rate.
    pub min_rate: Option<f64>,
    /// Highest rate.
    pub max_rate: Option<f64>,
    /// Rows repeating the previous row's time.
    pub duplicates: usize,
    /// Rows earlier than the previous row.
    pub out_of_order: usize,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
}

const EXAMPLES: usize = 5;

/// Inspects a freqtrade-style data directory or a single market-data file.
pub fn inspect_path(path: &Path) -> Result<InspectReport, DataError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        return inspect_dir(path);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (symbol, kind, tf) = match parse_ft_name(name) {
        Some(n) => (n.symbol.to_string(), n.kind, Some(n.timeframe_ms)),
        None => {
            let lower = name.to_ascii_lowercase();
            let kind = if lower.contains("funding") {
                FtKind::Funding
            } else if lower.contains("mark") {
                FtKind::Mark
            } else {
                FtKind::Futures
            };
            let head = name.split(['-', '.']).next().unwrap_or(name);
            let symbol = Symbol::parse(head)
                .map(|s| s.to_string())
                .unwrap_or_else(|_| head.to_string());
            (symbol, kind, None)
        }
    };
    let mut report = SymbolReport {
        symbol,
        candles: Vec::new(),
        mark: Vec::new(),
        funding: Vec::new(),
        spot: Vec::new(),
    };
    let spec = FileSpec::auto(path);
    match kind {
        FtKind::Funding => report
            .funding
            .push(funding_report(&read_funding(&spec, Decode::Parallel)?)),
        FtKind::Futures => report
            .candles
            .push(series_report(&read_candles(&spec, Decode::Parallel)?, tf)),
        FtKind::Spot => report
            .spot
            .push(series_report(&read_candles(&spec, Decode::Parallel)?, tf)),
        FtKind::Mark => report
            .mark
            .push(series_report(&read_mark(&spec, Decode::Parallel)?, tf)),
    }
    Ok(InspectReport {
        path: shown,
        symbols: vec![report],
        other_files: Vec::new(),
    })
}

fn inspect_dir(dir: &Path) -> Result<InspectReport, DataError> {
    let found = scan_ft_dir(dir)?;
    let mut symbols = Vec::new();
    let mut alternates = Vec::new();
    for (symbol, files) in &found {
        let mut report = SymbolReport {
            symbol: symbol.to_string(),
            candles: Vec::new(),
            mark: Vec::new(),
            funding: Vec::new(),
            spot: Vec::new(),
        };
        let mut seen: Vec<(FtKind, i64)> = Vec::new();
        for (name, path) in files {
            // files are sorted by preference: inspect the first format of each kind and timeframe
            if seen.contains(&(name.kind, name.timeframe_ms)) {
                alternates.push(
                    path.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                );
                continue;
            }
            seen.push((name.kind, name.timeframe_ms));
            let spec = FileSpec::auto(path);
            let file = path.display().to_string();
            match name.kind {
                FtKind::Funding => report.funding.push(
                    read_funding(&spec, Decode::Parallel)
                        .map(|r| funding_report(&r))
                        .unwrap_or_else(|e| FundingReport {
                            file,
                            error: Some(e.to_string()),
                            ..FundingReport::default()
                        }),
                ),
                kind => {
                    let read = if kind == FtKind::Mark {
                        read_mark
                    } else {
                        read_candles
                    };
                    let r = read(&spec, Decode::Parallel)
                        .map(|r| series_report(&r, Some(name.timeframe_ms)))
                        .unwrap_or_else(|e| SeriesReport {
                            file,
                            timeframe: name.timeframe.clone(),
                            error: Some(e.to_string()),
                            ..SeriesReport::default()
                        });
                    match kind {
                        FtKind::Mark => report.mark.push(r),
                        FtKind::Spot => report.spot.push(r),
                        _ => report.candles.push(r),
                    }
                }
            }
        }
        symbols.push(report);
    }
    let mut other_files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.path().is_file() && parse_ft_name(&name).is_none() {
            other_files.push(name);
        }
    }
    other_files.extend(alternates);
    other_files.sort();
    Ok(InspectReport {
        path: dir.display().to_string(),
        symbols,
        other_files,
    })
}

/// Most common positive spacing of sorted-or-not times, optionally rounded to the minute.
fn typical_step(times: &[i64], round_to: i64) -> Option<i64> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for w in times.windows(2) {
        let d = w[1] - w[0];
        if d > 0 {
            let d = ((d + round_to / 2) / round_to) * round_to;
            *counts.entry(d).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(d, _)| d)
}

fn series_report(raw: &crate::load::RawCandles, tf: Option<i64>) -> SeriesReport {
    let tf = tf
        .or_else(|| typical_step(&raw.times, 1))
        .filter(|&t| t > 0);
    let mut report = SeriesReport {
        file: raw.file.clone(),
        timeframe: tf.map(timeframe_label).unwrap_or_else(|| "?".into()),
        rows: raw.len(),
        first: raw.times.iter().min().map(|&t| iso(t)),
        last: raw.times.iter().max().map(|&t| iso(t)),
        ..SeriesReport::default()
    };
    let Some(tf) = tf else {
        return report;
    };
    let first = raw.times.iter().min().copied().unwrap_or(0);
    let scan = scan_candles(raw, tf, grid_anchor(tf, first));
    report.gaps = scan.gaps.len();
    report.missing_bars = scan.missing_bars();
    let count = |k: Problem| scan.count(k);
    report.duplicates = count(Problem::Duplicate);
    report.out_of_order = count(Problem::OutOfOrder);
    report.off_grid = count(Problem::OffGrid);
    report.bad_prices = count(Problem::BadPrice);
    report.bad_ohlc = count(Problem::BadOhlc);
    let mut examples: Vec<(usize, String)> = scan
        .problems
        .iter()
        .map(|(_, e)| (row_of(e), e.to_string()))
        .collect();
    examples.extend(scan.gaps.iter().map(|g| {
        (
            g.row,
            DataError::at(
                raw.file.clone(),
                g.row,
                format!(
                    "gap before this row: {}",
                    crate::load::validate::describe_gap(g)
                ),
            )
            .to_string(),
        )
    }));
    examples.sort();
    report.examples = examples
        .into_iter()
        .take(EXAMPLES)
        .map(|(_, m)| m)
        .collect();
    report
}

fn row_of(e: &DataError) -> usize {
    match e {
        DataError::Invalid { row: Some(r), .. } => *r,
        _ => 0,
    }
}

fn funding_report(raw: &crate::load::RawFunding) -> FundingReport {
    let problems = scan_funding(raw);
    let finite = raw.rates.iter().copied().filter(|r| r.is_finite());
    FundingReport {
        file: raw.file.clone(),
        rows: raw.times.len(),
        first: raw.times.iter().min().map(|&t| iso(t)),
        last: raw.times.iter().max().map(|&t| iso(t)),
        interval: typical_step(&raw.times, 60_000).map(timeframe_label),
        min_rate: finite.clone().reduce(f64::min),
        max_rate: finite.reduce(f64::max),
        duplicates: problems
            .iter()
            .filter(|(p, _)| *p == Problem::Duplicate)
            .count(),
        out_of_order: problems
            .iter()
            .filter(|(p, _)| *p == Problem::OutOfOrder)
            .count(),
        error: None,
    }
}

impl SymbolReport {
    /// The mark column of the summary line: present at the candle timeframe, only at another
    /// timeframe (not used), or absent.
    fn mark_note(&self) -> String {
        if self.candles.is_empty() {
            return if self.has_mark() { "yes" } else { "NO" }.into();
        }
        let usable = |tf: &str| {
            self.mark
                .iter()
                .any(|m| m.timeframe == tf && m.error.is_none() && m.rows > 0)
        };
        let missing: Vec<&str> = self
            .candles
            .iter()
            .map(|c| c.timeframe.as_str())
            .filter(|tf| !usable(tf))
            .collect();
        if missing.is_empty() {
            return "yes".into();
        }
        let elsewhere: Vec<&str> = self
            .mark
            .iter()
            .filter(|m| m.error.is_none() && m.rows > 0)
            .map(|m| m.timeframe.as_str())
            .collect();
        let covered: Vec<&str> = self
            .candles
            .iter()
            .map(|c| c.timeframe.as_str())
            .filter(|tf| usable(tf))
            .collect();
        if !covered.is_empty() {
            format!(
                "yes at {}, not at {}",
                covered.join(", "),
                missing.join(", ")
            )
        } else if elsewhere.is_empty() {
            "NO (liquidations would use last price)".into()
        } else {
            format!(
                "only at {} (not at {}: a run at {} uses last price for liquidations)",
                elsewhere.join(", "),
                missing.join(", "),
                missing.join(", ")
            )
        }
    }
}

impl InspectReport {
    /// Problems that make `run` fail on this data with default settings: unreadable files, rows
    /// out of order, duplicated, off the grid or with bad prices, gaps (unless `data.gaps =
    /// "fill"`), funding rows duplicated or out of order, no perpetual candles at all.
    pub fn run_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.symbols {
            for r in s.candles.iter().chain(&s.mark) {
                if let Some(e) = &r.error {
                    out.push(format!("{}: unreadable: {e}", r.file));
                    continue;
                }
                let bad = r.duplicates + r.out_of_order + r.off_grid + r.bad_prices + r.bad_ohlc;
                if bad > 0 {
                    out.push(format!(
                        "{}: {bad} bad row(s) (duplicates, order, grid or prices)",
                        r.file
                    ));
                }
                if r.gaps > 0 {
                    out.push(format!(
                        "{}: {} gap(s), {} missing bar(s) (a run fails unless data.gaps = \"fill\")",
                        r.file, r.gaps, r.missing_bars
                    ));
                }
            }
            for f in &s.funding {
                if let Some(e) = &f.error {
                    out.push(format!("{}: unreadable: {e}", f.file));
                } else if f.duplicates + f.out_of_order > 0 {
                    out.push(format!(
                        "{}: {} duplicated or out-of-order settlement(s)",
                        f.file,
                        f.duplicates + f.out_of_order
                    ));
                }
            }
        }
        if self.symbols.iter().all(|s| s.candles.is_empty()) && Path::new(&self.path).is_dir() {
            let spot = self.symbols.iter().any(|s| !s.spot.is_empty());
            out.push(format!(
                "{}: no perpetual candle file (named like BTC_USDT_USDT-1h-futures.feather){}",
                self.path,
                if spot {
                    "; to run on the spot candles set data.spot_proxy = true"
                } else {
                    ""
                }
            ));
        }
        out
    }

    /// An aligned plain-text table: one line per file, grouped by symbol, then a summary line per
    /// symbol of mark and funding presence.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<[String; 9]> = vec![[
            "symbol".into(),
            "kind".into(),
            "tf".into(),
            "first".into(),
            "last".into(),
            "rows".into(),
            "gaps (bars)".into(),
            "dup/order/grid/price".into(),
            "file".into(),
        ]];
        let file_name = |f: &str| {
            Path::new(f)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(f)
                .to_string()
        };
        for s in &self.symbols {
            for (kind, list) in [
                ("candles", &s.candles),
                ("mark", &s.mark),
                ("spot", &s.spot),
            ] {
                for r in list {
                    rows.push([
                        s.symbol.clone(),
                        kind.into(),
                        r.timeframe.clone(),
                        r.first.clone().unwrap_or_else(|| "-".into()),
                        r.last.clone().unwrap_or_else(|| "-".into()),
                        r.rows.to_string(),
                        format!("{} ({})", r.gaps, r.missing_bars),
                        format!(
                            "{}/{}/{}/{}",
                            r.duplicates,
                            r.out_of_order,
                            r.off_grid,
                            r.bad_prices + r.bad_ohlc
                        ),
                        match &r.error {
                            Some(_) => format!("{} (unreadable)", file_name(&r.file)),
                            None => file_name(&r.file),
                        },
                    ]);
                }
            }
            for f in &s.funding {
                rows.push([
                    s.symbol.clone(),
                    "funding".into(),
                    f.interval
                        .clone()
                        .map(|i| format!("every {i}"))
                        .unwrap_or_else(|| "-".into()),
                    f.first.clone().unwrap_or_else(|| "-".into()),
                    f.last.clone().unwrap_or_else(|| "-".into()),
                    f.rows.to_string(),
                    "-".into(),
                    format!("{}/{}/-/-", f.duplicates, f.out_of_order),
                    match &f.error {
                        Some(_) => format!("{} (unreadable)", file_name(&f.file)),
                        None => file_name(&f.file),
                    },
                ]);
            }
        }
        let widths: Vec<usize> = (0..9)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        let _ = writeln!(out, "{}: {} symbol(s)", self.path, self.symbols.len());
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        out.push('\n');
        for s in &self.symbols {
            let tfs: Vec<&str> = s.candles.iter().map(|c| c.timeframe.as_str()).collect();
            let _ = writeln!(
                out,
                "{}: candles {}; mark {}; funding {}",
                s.symbol,
                if tfs.is_empty() {
                    "none".into()
                } else {
                    tfs.join(", ")
                },
                s.mark_note(),
                if s.has_funding() {
                    "yes"
                } else {
                    "NO (funding would be assumed zero)"
                },
            );
        }
        let problems: Vec<&String> = self
            .symbols
            .iter()
            .flat_map(|s| s.candles.iter().chain(&s.mark))
            .flat_map(|r| r.error.iter().chain(&r.examples))
            .chain(
                self.symbols
                    .iter()
                    .flat_map(|s| s.funding.iter().filter_map(|f| f.error.as_ref())),
            )
            .collect();
        if !problems.is_empty() {
            let _ = writeln!(out, "\nproblems (first of each file):");
            for p in problems {
                let _ = writeln!(out, "  - {p}");
            }
        }
        let spot: Vec<&SymbolReport> = self.symbols.iter().filter(|s| !s.spot.is_empty()).collect();
        if !spot.is_empty() {
            let _ = writeln!(
                out,
                "\nspot candles (freqtrade spot naming BASE_QUOTE-TF): {}\n  not perpetual data: no mark price, no funding. Perpetual files are named BASE_QUOTE_QUOTE-TF-futures (+ -mark, -funding_rate), e.g. BTC_USDT_USDT-1h-futures.feather; a scenario can use spot as a stated proxy with data.spot_proxy = true.",
                spot.iter()
                    .map(|s| {
                        let tfs: Vec<&str> = s.spot.iter().map(|c| c.timeframe.as_str()).collect();
                        format!("{} {}", s.symbol, tfs.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        let fatal = self.run_problems();
        if !fatal.is_empty() {
            let _ = writeln!(out, "\na run on this data would fail:");
            for p in &fatal {
                let _ = writeln!(out, "  - {p}");
            }
        }
        if !self.other_files.is_empty() {
            let _ = writeln!(
                out,
                "\nnot inspected (other names, or another format of an inspected file): {}",
                self.other_files.join(", ")
            );
        }
        out
    }
}
