//! Criterion benches: loading, the isolated scan, the cross book, the demo scenario and a sweep.
//! Set-up (data generation, files, the Parquet copy) happens outside the timed closures.
//!
//! `cargo bench -p ringfence-benches` (or `-- <filter>`; e.g. `-- isolated`).

use criterion::{Criterion, criterion_group, criterion_main};
use ringfence_benches::{demo, workload};
use ringfence_data::load::{
    FileSpec, GapPolicy, LoadOptions, SymbolSources, load_dir, load_market,
};
use std::hint::black_box;
use std::time::Duration;

fn shared_data() -> Option<std::path::PathBuf> {
    let dir = demo::workspace_root().join("../shared/data/harthor_binance_futures_2025");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing",
        dir.display()
    );
    eprintln!("note: {} not found, loading benches skipped", dir.display());
    None
}

fn loading(c: &mut Criterion) {
    let Some(dir) = shared_data() else { return };
    let opts = LoadOptions {
        gaps: GapPolicy::Fill,
        ..LoadOptions::default()
    };
    let market = load_dir(&dir, "5m", None, &opts).expect("shared 5m feather data loads");
    // a Parquet copy of the 5m candles, written once outside the timed part
    let tmp = tempfile::tempdir().expect("temporary directory");
    let parquet = ringfence_benches::copies::write_parquet_copy(&market, tmp.path())
        .expect("parquet copy written");
    let csv: Vec<SymbolSources> = market
        .series
        .iter()
        .map(|s| {
            let base = s.symbol.as_str().trim_end_matches("USDT");
            SymbolSources {
                symbol: s.symbol.clone(),
                candles: FileSpec::auto(dir.join(format!("{base}_USDT_USDT-1h-futures.csv"))),
                mark: None,
                funding: None,
            }
        })
        .collect();
    let mut g = c.benchmark_group("load");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("feather_5m_dir", |b| {
        b.iter(|| black_box(load_dir(&dir, "5m", None, &opts).expect("loads")))
    });
    g.bench_function("parquet_5m", |b| {
        b.iter(|| black_box(load_market(&parquet, 300_000, &opts).expect("loads")))
    });
    g.bench_function("csv_1h", |b| {
        b.iter(|| black_box(load_market(&csv, 3_600_000, &opts).expect("loads")))
    });
    g.finish();
}

fn engine(c: &mut Criterion) {
    let iso = workload::isolated_heavy(128, 4_000, None);
    let cross = workload::cross_heavy(16, 4_000, None);
    let mut g = c.benchmark_group("engine");
    g.sample_size(20);
    for w in [&iso, &cross] {
        g.bench_function(w.name, |b| {
            b.iter(|| {
                black_box(
                    ringfence_sim::simulate(
                        &w.market,
                        &w.brackets,
                        &w.signals,
                        &w.account,
                        &w.policy,
                        &w.cfg,
                    )
                    .expect("runs"),
                )
            })
        });
    }
    g.finish();
}

fn demo_scenario(c: &mut Criterion) {
    let d = demo::load_demo(&demo::workspace_root()).expect("demo data loads");
    let mut g = c.benchmark_group("demo");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    // one run (account × policy) with everything the CLI does per run (band, book annotation)
    let (account, policy) = &d.jobs[0];
    g.bench_function("one_run", |b| {
        b.iter(|| {
            black_box(
                ringfence_sim::run(&d.market, &d.brackets, &d.signals, account, policy, &d.cfg)
                    .expect("runs"),
            )
        })
    });
    // the whole scenario: 2 accounts × 5 policies × 4 sweep points, 1 and 2 threads
    for threads in [1, 2] {
        g.bench_function(format!("sweep_40_runs_{threads}_threads"), |b| {
            b.iter(|| {
                black_box(
                    ringfence_sim::run_all(
                        &d.market,
                        &d.brackets,
                        &d.signals,
                        &d.jobs,
                        &d.cfg,
                        Some(threads),
                        |_| {},
                    )
                    .expect("runs"),
                )
            })
        });
    }
    g.finish();
}

/// 4,096 values like the engine converts: market prices and funding rates (short decimals across
/// BTC's to 1000PEPE's magnitudes) and prices computed in `f64` (full 53-bit mantissas), from a
/// fixed seed.
fn dec_inputs() -> (Vec<f64>, Vec<f64>) {
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 11
    };
    // (typical price, decimals quoted): BTC, ETH, BNB, SOL, XRP, DOGE, 1000PEPE, a funding rate
    let kinds = [
        (65_000.0, 1),
        (2_500.0, 2),
        (600.0, 2),
        (150.0, 3),
        (0.6, 4),
        (0.08, 5),
        (0.01, 7),
        (0.0001, 8),
    ];
    let mut market = Vec::with_capacity(4096);
    let mut computed = Vec::with_capacity(4096);
    for i in 0..4096 {
        let (level, decimals) = kinds[i % kinds.len()];
        let unit = 10f64.powi(decimals);
        let ticks = (level * unit * (0.5 + (next() % 1000) as f64 / 1000.0)).round();
        market.push(ticks / unit); // correctly rounded, as parsing the quoted text gives
        computed.push(level * (0.5 + (next() as f64) / (1u64 << 53) as f64));
    }
    (market, computed)
}

fn dec_conversion(c: &mut Criterion) {
    use rust_decimal::Decimal;
    use rust_decimal::prelude::FromPrimitive;
    let (market, computed) = dec_inputs();
    let mut g = c.benchmark_group("f64_to_decimal");
    for (name, xs) in [("market", &market), ("computed", &computed)] {
        g.throughput(criterion::Throughput::Elements(xs.len() as u64));
        g.bench_function(format!("from_f64_{name}"), |b| {
            b.iter(|| {
                for &x in xs {
                    black_box(Decimal::from_f64(black_box(x)).unwrap_or(Decimal::ZERO));
                }
            })
        });
        g.bench_function(format!("closed_form_{name}"), |b| {
            b.iter(|| {
                for &x in xs {
                    black_box(ringfence_sim::f64_to_decimal(black_box(x)));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, loading, engine, demo_scenario, dec_conversion);
criterion_main!(benches);
