//! The bootstrap and the crash transplant on the real 2025 Binance data
//! (`../shared/data/harthor_binance_futures_2025`, 1h last, mark and funding).
//!
//! Stated tolerances (pooled over 16 paths of a year of hourly bars, mean block 24 h):
//! - pairwise correlation of hourly log returns: within 0.03 of the source's, for every pair;
//! - excess kurtosis of hourly log returns: within 25 % of the source's, per symbol;
//! - volatility clustering (lag-1 autocorrelation of |return|): at least 80 % of the source's
//!   (block junctions break the dependence at a rate of 1 / 24).

use ringfence_data::load::{LoadOptions, load_dir};
use ringfence_data::signals::parse_time as parse_iso;
use ringfence_data::testing::shared_data;
use ringfence_model::{Market, Symbol};
use ringfence_paths::{block_bootstrap, crash_transplant, transplant_targets};

const SYMBOLS: [&str; 6] = [
    "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT",
];

fn load_2025() -> Option<Market> {
    let dir = shared_data()?.join("harthor_binance_futures_2025");
    let symbols: Vec<Symbol> = SYMBOLS.iter().map(|s| Symbol::parse(s).unwrap()).collect();
    let opts = LoadOptions {
        start: Some(parse_iso("2025-01-01").unwrap()),
        end: Some(parse_iso("2026-01-01").unwrap()),
        ..LoadOptions::default()
    };
    Some(load_dir(&dir, "1h", Some(&symbols), &opts).unwrap())
}

/// Hourly log returns of every symbol from bar 2 on (bar 1's move is drawn too, but keep the
/// comparison to whole moves).
fn returns(m: &Market) -> Vec<Vec<f64>> {
    m.series
        .iter()
        .map(|s| {
            (2..m.len())
                .map(|i| (s.close[i] / s.close[i - 1]).ln())
                .collect()
        })
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

fn excess_kurtosis(x: &[f64]) -> f64 {
    let m = mean(x);
    let m2 = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64;
    let m4 = x.iter().map(|v| (v - m).powi(4)).sum::<f64>() / x.len() as f64;
    m4 / (m2 * m2) - 3.0
}

fn abs_autocorr(x: &[f64]) -> f64 {
    let a: Vec<f64> = x.iter().map(|v| v.abs()).collect();
    corr(&a[..a.len() - 1], &a[1..])
}

#[test]
fn bootstrap_keeps_correlation_fat_tails_and_clustering_of_2025() {
    let Some(m) = load_2025() else { return };
    assert_eq!(m.series.len(), 6);
    assert!(m.len() > 8_000);
    let src = returns(&m);
    let mut pooled: Vec<Vec<f64>> = vec![Vec::new(); src.len()];
    let mut clustering = vec![0.0; src.len()];
    let paths = 16;
    for k in 0..paths {
        let p = block_bootstrap(&m, 24, 2025, k).unwrap();
        for (s, r) in returns(&p).into_iter().enumerate() {
            clustering[s] += abs_autocorr(&r) / paths as f64;
            pooled[s].extend(r);
        }
    }
    for a in 0..src.len() {
        for b in a + 1..src.len() {
            let (cs, cp) = (corr(&src[a], &src[b]), corr(&pooled[a], &pooled[b]));
            eprintln!(
                "corr {} {}: source {cs:.4}, paths {cp:.4}",
                SYMBOLS[a], SYMBOLS[b]
            );
            assert!(
                (cs - cp).abs() < 0.03,
                "{} {}: {cs} vs {cp}",
                SYMBOLS[a],
                SYMBOLS[b]
            );
        }
        let (ks, kp) = (excess_kurtosis(&src[a]), excess_kurtosis(&pooled[a]));
        let (vs, vp) = (abs_autocorr(&src[a]), clustering[a]);
        eprintln!(
            "{}: excess kurtosis source {ks:.2}, paths {kp:.2}; |r| lag-1 autocorrelation \
             source {vs:.3}, paths {vp:.3}",
            SYMBOLS[a]
        );
        assert!(ks > 3.0, "the source has fat tails");
        assert!(
            (kp / ks - 1.0).abs() < 0.25,
            "{}: kurtosis {ks} vs {kp}",
            SYMBOLS[a]
        );
        assert!(vp > 0.8 * vs, "{}: clustering {vs} vs {vp}", SYMBOLS[a]);
    }
}

#[test]
fn the_2025_10_10_crash_moves_exactly_to_every_week_of_2025() {
    let Some(m) = load_2025() else { return };
    let a = m.bar_at_or_after(parse_iso("2025-10-10T18:00:00Z").unwrap());
    let b = m.bar_at_or_after(parse_iso("2025-10-11T06:00:00Z").unwrap());
    let targets = transplant_targets(m.len(), a, b - a, 7 * 24);
    assert_eq!(targets.len(), 52, "one placement per week of 2025");
    for &at in targets.iter().step_by(5) {
        let p = crash_transplant(&m, a..b, at).unwrap();
        for (h, s) in m.series.iter().zip(&p.series) {
            assert_eq!(h.close[..at.min(a)], s.close[..at.min(a)]);
            // after both places the history's level is back (the same moves, reordered)
            let last = m.len() - 1;
            assert!(
                (h.close[last] / s.close[last] - 1.0).abs() < 1e-9,
                "{}",
                h.symbol
            );
            for k in 0..b - a {
                let (i, j) = (at + k, a + k);
                let src = [h.open[j], h.high[j], h.low[j], h.close[j]].map(|x| x / h.close[j - 1]);
                let dst = [s.open[i], s.high[i], s.low[i], s.close[i]].map(|x| x / s.close[i - 1]);
                for (x, y) in src.iter().zip(dst) {
                    assert!((x / y - 1.0).abs() < 1e-12, "{} bar {i}", h.symbol);
                }
                let (hm, sm) = (h.mark.as_ref().unwrap(), s.mark.as_ref().unwrap());
                let (x, y) = (hm.low[j] / h.close[j - 1], sm.low[i] / s.close[i - 1]);
                assert!((x / y - 1.0).abs() < 1e-12, "{} mark bar {i}", h.symbol);
            }
            // the crash's worst low, relative to the close before it, is the same at the target
            let worst = |x: &ringfence_model::SymbolSeries, from: usize| {
                (from..from + (b - a))
                    .map(|i| x.low[i] / x.close[from - 1])
                    .fold(f64::INFINITY, f64::min)
            };
            let (ws, wd) = (worst(h, a), worst(s, at));
            assert!((ws / wd - 1.0).abs() < 1e-12);
        }
    }
}
