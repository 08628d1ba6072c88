//! A fetched Binance archive directory made readable: `OUT/archive/futures/um/...` (as written by
//! `ringfence data fetch`, the archive's own layout) becomes one freqtrade-named CSV per series in
//! `OUT`, which [`crate::load::discover`], `data inspect`, `validate` and `run` read like any
//! freqtrade directory:
//!
//! - `klines/SYM/TF/*.zip` → `BASE_QUOTE_QUOTE-TF-futures.csv` (`date,timestamp_ms,open,high,low,close,volume`);
//! - `markPriceKlines/SYM/TF/*.zip` → `BASE_QUOTE_QUOTE-TF-mark.csv` (`date,timestamp_ms,open,high,low,close`);
//! - `fundingRate/SYM/*.zip` → `BASE_QUOTE_QUOTE-8h-funding_rate.csv` (`date,timestamp_ms,funding_rate`;
//!   the `8h` is freqtrade's naming, the settlement times are kept as published).
//!
//! Monthly and daily files of a series are read with the Binance readers (every problem named by
//! file and row), merged in time order (a bar present in two files is kept once) and written
//! with the shortest decimal text that reads back as the same `f64`, so nothing is rounded.
//! Each CSV is written to `NAME.part` and renamed into place.

use crate::error::DataError;
use crate::load::{Decode, FileFormat, FileSpec, read_candles, read_funding, read_mark};
use crate::synth::iso_ms;
use ringfence_model::symbol::Symbol;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The kind of an archive series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Klines,
    Mark,
    Funding,
}

/// The freqtrade file stem of a symbol: `BTC_USDT_USDT` (the symbol itself when its quote is
/// not a known one).
pub fn freqtrade_stem(symbol: &Symbol) -> String {
    symbol
        .ccxt()
        .map(|c| c.replace(['/', ':'], "_"))
        .unwrap_or_else(|| symbol.to_string())
}

/// Writes the freqtrade-named CSVs of every series under `out/archive/futures/um/` into `out`.
/// Returns the files written, sorted. Zips still being downloaded (`.part`) are ignored.
pub fn build_from_archive(out: &Path) -> Result<Vec<PathBuf>, DataError> {
    let root = out.join("archive/futures/um");
    let mut series: BTreeMap<(Symbol, Kind, String), Vec<PathBuf>> = BTreeMap::new();
    for cadence in ["monthly", "daily"] {
        for (dataset, kind) in [
            ("klines", Kind::Klines),
            ("markPriceKlines", Kind::Mark),
            ("fundingRate", Kind::Funding),
        ] {
            let dir = root.join(cadence).join(dataset);
            for sym_dir in subdirs(&dir)? {
                let name = file_name(&sym_dir);
                let symbol = Symbol::parse(&name)
                    .map_err(|e| DataError::file(sym_dir.display().to_string(), e.to_string()))?;
                let groups = if kind == Kind::Funding {
                    vec![("8h".to_string(), sym_dir.clone())]
                } else {
                    subdirs(&sym_dir)?
                        .into_iter()
                        .map(|d| (file_name(&d), d))
                        .collect()
                };
                for (interval, dir) in groups {
                    series
                        .entry((symbol.clone(), kind, interval))
                        .or_default()
                        .extend(zips(&dir)?);
                }
            }
        }
    }
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for ((symbol, kind, interval), mut files) in series {
        files.sort();
        let suffix = match kind {
            Kind::Klines => "futures",
            Kind::Mark => "mark",
            Kind::Funding => "funding_rate",
        };
        let path = out.join(format!(
            "{}-{interval}-{suffix}.csv",
            freqtrade_stem(&symbol)
        ));
        let text = match kind {
            Kind::Funding => funding_text(&files),
            _ => candles_text(&files, kind == Kind::Mark),
        };
        match text.and_then(|t| write_atomic(&path, &t)) {
            Ok(()) => written.push(path),
            Err(e) => errors.push(e),
        }
    }
    DataError::collect(errors)?;
    written.sort();
    Ok(written)
}

fn candles_text(files: &[PathBuf], mark: bool) -> Result<String, DataError> {
    // (time, [open, high, low, close, volume])
    let mut rows: Vec<(i64, [f64; 5])> = Vec::new();
    for f in files {
        let spec = FileSpec {
            path: f.clone(),
            format: FileFormat::BinanceKlineCsv,
        };
        let c = if mark {
            read_mark(&spec, Decode::Parallel)?
        } else {
            read_candles(&spec, Decode::Parallel)?
        };
        for k in 0..c.len() {
            let v = c.volume.as_ref().map_or(0.0, |v| v[k]);
            rows.push((c.times[k], [c.open[k], c.high[k], c.low[k], c.close[k], v]));
        }
    }
    rows.sort_by_key(|r| r.0);
    rows.dedup_by_key(|r| r.0);
    let mut s = String::with_capacity(rows.len() * 80);
    s.push_str(if mark {
        "date,timestamp_ms,open,high,low,close\n"
    } else {
        "date,timestamp_ms,open,high,low,close,volume\n"
    });
    for (t, [o, h, l, c, v]) in &rows {
        let _ = write!(s, "{},{t},{o},{h},{l},{c}", iso_ms(*t));
        if !mark {
            let _ = write!(s, ",{v}");
        }
        s.push('\n');
    }
    Ok(s)
}

fn funding_text(files: &[PathBuf]) -> Result<String, DataError> {
    let mut rows: Vec<(i64, f64)> = Vec::new();
    for f in files {
        let spec = FileSpec {
            path: f.clone(),
            format: FileFormat::BinanceFundingCsv,
        };
        let r = read_funding(&spec, Decode::Parallel)?;
        rows.extend(r.times.iter().copied().zip(r.rates.iter().copied()));
    }
    rows.sort_by_key(|r| r.0);
    rows.dedup_by_key(|r| r.0);
    let mut s = String::from("date,timestamp_ms,funding_rate\n");
    for (t, r) in rows {
        let _ = writeln!(s, "{},{t},{r}", iso_ms(t));
    }
    Ok(s)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Sub-directories of `dir`, sorted; none when `dir` does not exist.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    entries(dir, |p| p.is_dir())
}

/// The `.zip` files of `dir`, sorted.
fn zips(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    entries(dir, |p| {
        p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    })
}

fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, DataError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let p = e.map_err(|e| DataError::io(dir, e))?.path();
        if keep(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn write_atomic(path: &Path, text: &str) -> Result<(), DataError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadOptions, load_dir};
    use std::io::Write as _;

    fn zip_csv(path: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(text.as_bytes()).unwrap();
        zip.finish().unwrap();
    }

    fn klines(times: &[i64], price: f64) -> String {
        let mut s = String::from(
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n",
        );
        for &t in times {
            let _ = writeln!(
                s,
                "{t},{price},{},{},{price},1.5,{},0,0,0,0,0",
                price + 1.0,
                price - 1.0,
                t + 3_599_999
            );
        }
        s
    }

    /// A symbol written in Chinese characters, a monthly file and an overlapping daily file: one
    /// CSV per series, each bar once, read back by the loader under the symbol's own name.
    #[test]
    fn archive_becomes_a_loadable_directory_for_any_symbol() {
        let out = tempfile::tempdir().unwrap();
        let um = out.path().join("archive/futures/um");
        let h = 3_600_000;
        let t0 = 1_759_276_800_000; // 2025-10-01
        let sym = "币安人生USDT";
        zip_csv(
            &um.join(format!("monthly/klines/{sym}/1h/{sym}-1h-2025-10.zip")),
            "a.csv",
            &klines(&[t0, t0 + h], 10.0),
        );
        zip_csv(
            &um.join(format!("daily/klines/{sym}/1h/{sym}-1h-2025-10-01.zip")),
            "b.csv",
            &klines(&[t0 + h, t0 + 2 * h], 10.0),
        );
        zip_csv(
            &um.join(format!(
                "monthly/markPriceKlines/{sym}/1h/{sym}-1h-2025-10.zip"
            )),
            "c.csv",
            &klines(&[t0, t0 + h, t0 + 2 * h], 10.0),
        );
        zip_csv(
            &um.join(format!(
                "monthly/fundingRate/{sym}/{sym}-fundingRate-2025-10.zip"
            )),
            "d.csv",
            &format!("calc_time,funding_interval_hours,last_funding_rate\n{t0},8,-0.0003\n"),
        );
        // a download in progress is not read
        std::fs::write(
            um.join(format!("monthly/klines/{sym}/1h/{sym}-1h-2025-11.zip.part")),
            b"half",
        )
        .unwrap();
        let written = build_from_archive(out.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "币安人生_USDT_USDT-1h-futures.csv",
                "币安人生_USDT_USDT-1h-mark.csv",
                "币安人生_USDT_USDT-8h-funding_rate.csv"
            ]
        );
        let candles = std::fs::read_to_string(&written[0]).unwrap();
        assert_eq!(
            candles.lines().nth(2).unwrap(),
            "2025-10-01T01:00:00.000Z,1759280400000,10,11,9,10,1.5"
        );
        assert_eq!(candles.lines().count(), 4, "{candles}");
        let m = load_dir(out.path(), "1h", None, &LoadOptions::default()).unwrap();
        assert_eq!(m.series[0].symbol.as_str(), sym);
        assert_eq!(m.times.len(), 3);
        assert!(m.series[0].mark.is_some());
        assert_eq!(m.series[0].funding.rates, [-0.0003]);
    }
}
