//! `ringfence data synth --scale`: a large seeded market for scale benchmarks (by default 20
//! perpetuals, one year of 1m bars, about 10.5 M bars) with mark prices, 8-hourly funding and a
//! channel of random calls, written as freqtrade-named Parquet files that `data.dir` reads.
//!
//! The prices are random walks with a common market factor, wicks, and one market-wide crash (a
//! fall of about 9 % within ten minutes, a 3 % deeper wick, half of it recovered within the hour),
//! so that tight calls stop out, hit targets and get liquidated. Nothing about it is
//! meant to look like a particular market; it is sized like one.

use crate::DataError;
use crate::tables::{TableColumn, write_parquet};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use ringfence_model::TimestampMs;
use ringfence_model::time::iso;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const MINUTE_MS: TimestampMs = 60_000;
const DAY_MS: TimestampMs = 24 * 60 * MINUTE_MS;
const FUNDING_MS: TimestampMs = 8 * 60 * MINUTE_MS;

/// The bases the scale market uses, in order (every one is in the built-in bracket library).
pub const SCALE_BASES: [(&str, f64); 24] = [
    ("BTC", 60_000.0),
    ("ETH", 3_000.0),
    ("SOL", 150.0),
    ("BNB", 550.0),
    ("XRP", 0.6),
    ("DOGE", 0.12),
    ("ADA", 0.45),
    ("AVAX", 30.0),
    ("LINK", 14.0),
    ("DOT", 6.5),
    ("LTC", 75.0),
    ("BCH", 380.0),
    ("TRX", 0.15),
    ("NEAR", 5.0),
    ("ATOM", 7.0),
    ("UNI", 8.0),
    ("ETC", 22.0),
    ("FIL", 4.5),
    ("APT", 8.0),
    ("ARB", 0.8),
    ("OP", 1.8),
    ("INJ", 22.0),
    ("SUI", 1.2),
    ("AAVE", 150.0),
];

/// Settings of the scale market.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleConfig {
    /// Seed: same seed and settings, same bytes.
    pub seed: u64,
    /// Number of perpetuals, 1 to [`SCALE_BASES`]`.len()`.
    pub symbols: usize,
    /// Length in days (at least 1).
    pub days: u32,
    /// Bar length in minutes (at least 1).
    pub minutes: u32,
    /// Calls in the channel.
    pub calls: u32,
    /// Open time of the first bar (ms UTC, rounded down to a day).
    pub start: TimestampMs,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        ScaleConfig {
            seed: 11,
            symbols: 20,
            days: 365,
            minutes: 1,
            calls: 500,
            // 2025-01-01T00:00:00Z
            start: 1_735_689_600_000,
        }
    }
}

/// Writes the scale market into `dir` (`<BASE>_USDT_USDT-<tf>-futures.parquet`, `-<tf>-mark.parquet`,
/// `-8h-funding_rate.parquet`) and its channel to `signals` (CSV); returns the files written.
///
/// # Errors
/// [`DataError`] when a setting is out of range or a file cannot be written.
pub fn write_scale(
    dir: &Path,
    signals: &Path,
    cfg: &ScaleConfig,
) -> Result<Vec<PathBuf>, DataError> {
    if cfg.symbols == 0 || cfg.symbols > SCALE_BASES.len() {
        return Err(DataError::file(
            "--symbols",
            format!(
                "{} symbols: expected 1 to {}",
                cfg.symbols,
                SCALE_BASES.len()
            ),
        ));
    }
    if cfg.days == 0 || cfg.minutes == 0 {
        return Err(DataError::file(
            "--days",
            "days and bar minutes must be at least 1",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let step = TimestampMs::from(cfg.minutes) * MINUTE_MS;
    let start = cfg.start.div_euclid(DAY_MS) * DAY_MS;
    let n = usize::try_from(TimestampMs::from(cfg.days) * DAY_MS / step).unwrap_or(0);
    let tf = format!("{}m", cfg.minutes);
    let times: Vec<TimestampMs> = (0..n as i64).map(|i| start + i * step).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    // Per-bar volatility scaled from 1m figures (market 0.06 %, idiosyncratic 0.05 %).
    let scale = f64::from(cfg.minutes).sqrt();
    let (market_vol, idio_vol) = (0.0006 * scale, 0.0005 * scale);
    let crash = n / 2 + (n / 2).min(rng.random_range(0..n.max(1)) / 4);
    let crash_bars = (10 / cfg.minutes.max(1) as usize).max(1);
    let factor: Vec<f64> = (0..n)
        .map(|i| {
            let z: f64 = StandardNormal.sample(&mut rng);
            let shock = if (crash..crash + crash_bars).contains(&i) {
                -0.09 / crash_bars as f64
            } else if (crash + crash_bars..crash + 6 * crash_bars).contains(&i) {
                0.045 / (5 * crash_bars) as f64
            } else {
                0.0
            };
            z * market_vol + shock
        })
        .collect();
    let mut written = Vec::new();
    let mut closes: Vec<Vec<f64>> = Vec::with_capacity(cfg.symbols);
    for (base, p0) in SCALE_BASES.iter().take(cfg.symbols) {
        let beta = rng.random_range(0.7..1.4);
        let mut open = Vec::with_capacity(n);
        let mut high = Vec::with_capacity(n);
        let mut low = Vec::with_capacity(n);
        let mut close = Vec::with_capacity(n);
        let mut volume = Vec::with_capacity(n);
        let mut p = *p0;
        for (i, f) in factor.iter().enumerate() {
            let z: f64 = StandardNormal.sample(&mut rng);
            let o = p;
            let c = o * (beta * f + idio_vol * z).exp();
            let w: f64 = StandardNormal.sample(&mut rng);
            let wick = (w.abs() * idio_vol).min(0.05)
                + if i == crash + crash_bars - 1 {
                    0.03
                } else {
                    0.0
                };
            open.push(o);
            close.push(c);
            high.push(o.max(c) * (1.0 + 0.5 * (w.abs() * idio_vol).min(0.05)));
            low.push(o.min(c) * (1.0 - wick));
            volume.push(1_000.0 / p0.max(1e-9) * (1.0 + w.abs()));
            p = c;
        }
        let stem = format!("{base}_USDT_USDT");
        let bars = |o: Vec<f64>, h: Vec<f64>, l: Vec<f64>, c: Vec<f64>, v: Option<Vec<f64>>| {
            let mut cols = vec![
                ("timestamp".to_string(), TableColumn::I64(times.clone())),
                ("open".to_string(), TableColumn::F64(o)),
                ("high".to_string(), TableColumn::F64(h)),
                ("low".to_string(), TableColumn::F64(l)),
                ("close".to_string(), TableColumn::F64(c)),
            ];
            if let Some(v) = v {
                cols.push(("volume".to_string(), TableColumn::F64(v)));
            }
            cols
        };
        // The mark follows the last price without its wicks.
        let mark_high: Vec<f64> = open.iter().zip(&close).map(|(o, c)| o.max(*c)).collect();
        let mark_low: Vec<f64> = open.iter().zip(&close).map(|(o, c)| o.min(*c)).collect();
        let path = dir.join(format!("{stem}-{tf}-mark.parquet"));
        write_parquet(
            &path,
            bars(open.clone(), mark_high, mark_low, close.clone(), None),
        )?;
        written.push(path);
        let path = dir.join(format!("{stem}-{tf}-futures.parquet"));
        write_parquet(&path, bars(open, high, low, close.clone(), Some(volume)))?;
        written.push(path);
        let funding_times: Vec<TimestampMs> = (0..)
            .map(|k| start + k * FUNDING_MS)
            .take_while(|t| *t < start + n as i64 * step)
            .collect();
        let rates: Vec<f64> = funding_times
            .iter()
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                0.0001 + 0.0002 * z
            })
            .collect();
        let path = dir.join(format!("{stem}-8h-funding_rate.parquet"));
        write_parquet(
            &path,
            vec![
                ("timestamp".to_string(), TableColumn::I64(funding_times)),
                ("funding_rate".to_string(), TableColumn::F64(rates)),
            ],
        )?;
        written.push(path);
        closes.push(close);
    }
    let text = scale_signals(cfg, &times, &closes, &mut rng);
    if let Some(parent) = signals.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    }
    std::fs::write(signals, text).map_err(|e| DataError::io(signals, e))?;
    written.push(signals.to_path_buf());
    Ok(written)
}

/// `cfg.calls` market calls at random bars (sorted by time), each on a random symbol, long or
/// short, with a stop 1–6 % away, two targets at 1× and 2× that distance and a leverage of 3–50×.
fn scale_signals(
    cfg: &ScaleConfig,
    times: &[TimestampMs],
    closes: &[Vec<f64>],
    rng: &mut ChaCha8Rng,
) -> String {
    let mut out = String::from("id,time,symbol,side,stop,targets,leverage\n");
    if times.len() < 2 {
        return out;
    }
    let mut at: Vec<usize> = (0..cfg.calls)
        .map(|_| rng.random_range(0..times.len() - 1))
        .collect();
    at.sort_unstable();
    for (k, i) in at.into_iter().enumerate() {
        let s = rng.random_range(0..closes.len());
        let long = rng.random_bool(0.5);
        let d = rng.random_range(0.01..0.06);
        let lev = [3, 5, 10, 20, 25, 50][rng.random_range(0..6)];
        let px = closes[s][i];
        let sign = if long { 1.0 } else { -1.0 };
        let _ = writeln!(
            out,
            "S{k:05},{},{}USDT,{},{},{};{},{lev}",
            iso(times[i] + 30_000),
            SCALE_BASES[s].0,
            if long { "long" } else { "short" },
            fmt(px * (1.0 - sign * d)),
            fmt(px * (1.0 + sign * d)),
            fmt(px * (1.0 + sign * 2.0 * d)),
        );
    }
    out
}

/// A price with 6 significant digits.
fn fmt(x: f64) -> String {
    let digits = (5 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_scale_market_is_seeded_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ScaleConfig {
            symbols: 3,
            days: 2,
            calls: 20,
            ..ScaleConfig::default()
        };
        let sig = dir.path().join("signals.csv");
        let files = write_scale(&dir.path().join("m"), &sig, &cfg).unwrap();
        assert_eq!(files.len(), 3 * 3 + 1);
        let text = std::fs::read_to_string(&sig).unwrap();
        assert_eq!(text.lines().count(), 21);
        // same seed, same bytes
        let again = dir.path().join("again.csv");
        write_scale(&dir.path().join("m2"), &again, &cfg).unwrap();
        assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        {
            let name = f.file_name().unwrap().to_string_lossy();
            let other = dir.path().join("m2").join(&*name);
            assert_eq!(
                std::fs::read(f).unwrap(),
                std::fs::read(other).unwrap(),
                "{name}"
            );
        }
        let cols =
            crate::tables::read_parquet(&dir.path().join("m/BTC_USDT_USDT-1m-futures.parquet"))
                .unwrap();
        assert_eq!(cols[0].1.len(), 2 * 24 * 60);
        let err = write_scale(dir.path(), &sig, &ScaleConfig { symbols: 99, ..cfg }).unwrap_err();
        assert!(err.to_string().contains("99 symbols"), "{err}");
    }
}
