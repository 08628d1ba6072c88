//! Realism check: the generated demo market against real Binance data (2025, incl. the 2025-10-10
//! crash) in `../shared/data/harthor_binance_futures_2025`. Prints the comparison table that
//! `datasets/README.md` quotes (`cargo test -p ringfence-data --test synth_realism -- --nocapture`).

use ringfence_data::synth::{SynthConfig, generate};
use std::path::PathBuf;

const SYMBOLS: [&str; 6] = ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE"];
/// Open time of the real crash hour (2025-10-10T21:00:00Z).
const REAL_CRASH: i64 = 1_760_130_000_000;
const HOUR: i64 = 3_600_000;

fn real_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/harthor_binance_futures_2025"
    ));
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "shared data missing at {} (required when CI=true)",
            dir.display()
        );
    } else {
        eprintln!(
            "note: {} missing, skipping the real-data comparison",
            dir.display()
        );
        None
    }
}

/// (times, high, low, close) of a derived CSV.
struct Candles {
    times: Vec<i64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

fn read_csv(path: &PathBuf) -> Candles {
    let mut rdr = csv::Reader::from_path(path).expect("readable csv");
    let mut c = Candles {
        times: vec![],
        high: vec![],
        low: vec![],
        close: vec![],
    };
    for rec in rdr.records() {
        let rec = rec.expect("csv record");
        c.times.push(rec[1].parse().expect("timestamp"));
        c.high.push(rec[3].parse().expect("high"));
        c.low.push(rec[4].parse().expect("low"));
        c.close.push(rec[5].parse().expect("close"));
    }
    c
}

fn log_returns(close: &[f64]) -> Vec<f64> {
    close.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn excess_kurtosis(x: &[f64]) -> f64 {
    let m = mean(x);
    let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / x.len() as f64;
    x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / x.len() as f64 / (v * v) - 3.0
}

fn std(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn corr(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

/// Lag-1 autocorrelation of |r| (volatility clustering).
fn abs_acf1(r: &[f64]) -> f64 {
    let a: Vec<f64> = r.iter().map(|x| x.abs()).collect();
    corr(&a[1..], &a[..a.len() - 1])
}

/// Figures of one market (six symbols, same order as `SYMBOLS`).
struct Figures {
    kurtosis: Vec<f64>,
    vol: Vec<f64>,
    mean_corr: f64,
    acf: Vec<f64>,
    /// 5m low in the crash hour vs the open of the hour before (fraction, positive = fall).
    wick: Vec<f64>,
    /// Lowest 5m low in the crash hour vs the highest 1h high of the 7 days before.
    peak_to_trough: Vec<f64>,
}

fn figures(closes: &[Vec<f64>], crash: &[(f64, f64, f64)]) -> Figures {
    let rets: Vec<Vec<f64>> = closes.iter().map(|c| log_returns(c)).collect();
    let mut cs = vec![];
    for i in 0..rets.len() {
        for j in i + 1..rets.len() {
            cs.push(corr(&rets[i], &rets[j]));
        }
    }
    Figures {
        kurtosis: rets.iter().map(|r| excess_kurtosis(r)).collect(),
        vol: rets.iter().map(|r| std(r)).collect(),
        mean_corr: mean(&cs),
        acf: rets.iter().map(|r| abs_acf1(r)).collect(),
        wick: crash
            .iter()
            .map(|(open_before, low, _)| 1.0 - low / open_before)
            .collect(),
        peak_to_trough: crash
            .iter()
            .map(|(_, low, peak)| 1.0 - low / peak)
            .collect(),
    }
}

/// (open of the hour before the crash hour, 5m low of the crash hour, 7-day 1h peak).
fn crash_figures(
    t1h: &[i64],
    high1h: &[f64],
    close1h: &[f64],
    t5m: &[i64],
    low5m: &[f64],
    crash: i64,
) -> (f64, f64, f64) {
    let i = t1h
        .iter()
        .position(|&t| t == crash)
        .expect("crash hour present");
    let open_before = close1h[i - 2];
    let low = t5m
        .iter()
        .zip(low5m)
        .filter(|(t, _)| **t >= crash && **t < crash + HOUR)
        .map(|(_, l)| *l)
        .fold(f64::MAX, f64::min);
    let peak = high1h[i - 7 * 24..i]
        .iter()
        .copied()
        .fold(f64::MIN, f64::max);
    (open_before, low, peak)
}

fn synthetic() -> Figures {
    let m = generate(&SynthConfig::default());
    let closes: Vec<Vec<f64>> = m.series.iter().map(|s| s.bars_1h.close.clone()).collect();
    let crash: Vec<_> = m
        .series
        .iter()
        .map(|s| {
            crash_figures(
                &s.bars_1h.times,
                &s.bars_1h.high,
                &s.bars_1h.close,
                &s.bars_5m.times,
                &s.bars_5m.low,
                m.crash_time,
            )
        })
        .collect();
    figures(&closes, &crash)
}

fn real(dir: &std::path::Path) -> Figures {
    let mut closes = vec![];
    let mut crash = vec![];
    for s in SYMBOLS {
        let h = read_csv(&dir.join(format!("{s}_USDT_USDT-1h-futures.csv")));
        let f = read_csv(&dir.join(format!(
            "{s}_USDT_USDT-5m-futures.window_2025-10-08_2025-10-14.csv"
        )));
        crash.push(crash_figures(
            &h.times, &h.high, &h.close, &f.times, &f.low, REAL_CRASH,
        ));
        closes.push(h.close);
    }
    figures(&closes, &crash)
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

#[test]
fn generated_market_is_in_plausible_ranges() {
    let g = synthetic();
    for (i, s) in SYMBOLS.iter().enumerate() {
        assert!(
            g.kurtosis[i] > 3.0,
            "{s}: excess kurtosis {} (fat tails expected)",
            g.kurtosis[i]
        );
        assert!(
            (0.1..0.5).contains(&g.acf[i]),
            "{s}: acf(|r|,1) {} (volatility clustering expected)",
            g.acf[i]
        );
        assert!(
            (0.003..0.015).contains(&g.vol[i]),
            "{s}: hourly vol {}",
            g.vol[i]
        );
    }
    assert!(
        (0.5..0.9).contains(&g.mean_corr),
        "mean pairwise correlation {}",
        g.mean_corr
    );
    // Crash depth: BTC the shallowest, alts deeper, DOGE the deepest.
    let btc = g.wick[0];
    assert!((0.08..0.2).contains(&btc), "BTC crash wick {btc}");
    for (i, s) in SYMBOLS.iter().enumerate().skip(1) {
        assert!(
            g.wick[i] > btc,
            "{s} wick {} not deeper than BTC {btc}",
            g.wick[i]
        );
        assert!(g.wick[i] <= g.wick[5] + 1e-12, "{s} wick deeper than DOGE");
    }
    assert!(g.wick[5] > 0.45, "DOGE wick {}", g.wick[5]);
}

#[test]
fn comparison_with_real_data() {
    let g = synthetic();
    let Some(dir) = real_dir() else { return };
    let r = real(&dir);
    // The real figures this comparison quotes must be what the README says they are.
    assert!(r.kurtosis.iter().all(|k| *k > 3.0));
    assert!(
        (0.6..0.85).contains(&r.mean_corr),
        "real mean corr {}",
        r.mean_corr
    );
    println!("| figure | symbol | generated | real (Binance 2025) |");
    println!("|---|---|---:|---:|");
    for (i, s) in SYMBOLS.iter().enumerate() {
        println!(
            "| hourly vol | {s} | {} | {} |",
            pct(g.vol[i]),
            pct(r.vol[i])
        );
    }
    for (i, s) in SYMBOLS.iter().enumerate() {
        println!(
            "| excess kurtosis | {s} | {:.1} | {:.1} |",
            g.kurtosis[i], r.kurtosis[i]
        );
    }
    for (i, s) in SYMBOLS.iter().enumerate() {
        println!(
            "| acf(abs r, 1) | {s} | {:.2} | {:.2} |",
            g.acf[i], r.acf[i]
        );
    }
    println!(
        "| mean pairwise corr | all | {:.2} | {:.2} |",
        g.mean_corr, r.mean_corr
    );
    for (i, s) in SYMBOLS.iter().enumerate() {
        println!(
            "| crash 5m low vs prior hour open | {s} | -{} | -{} |",
            pct(g.wick[i]),
            pct(r.wick[i])
        );
    }
    for (i, s) in SYMBOLS.iter().enumerate() {
        println!(
            "| crash peak-to-trough (7d) | {s} | -{} | -{} |",
            pct(g.peak_to_trough[i]),
            pct(r.peak_to_trough[i])
        );
    }
    // Same ballpark as the real market.
    assert!((g.mean_corr - r.mean_corr).abs() < 0.15);
    for (i, s) in SYMBOLS.iter().enumerate() {
        assert!((g.wick[i] - r.wick[i]).abs() < 0.1, "{s} wick");
        let ratio = g.vol[i] / r.vol[i];
        assert!(ratio > 0.6 && ratio < 1.6, "{s} vol ratio {ratio}");
    }
}
