//! The performance harness: `cargo run --release -p ringfence-benches --bin perf -- [--quick]`.
//!
//! In one process: loads real market data (Feather, CSV, and a Parquet copy written to a temporary
//! directory) and times the load; builds the synthetic workloads once; checks that the engine and the
//! naive `Decimal` reference produce the same trades; then times, interleaved (A B C A B C ...),
//! the floor kernel, the engine and the reference, on 1 and 2 threads, and the demo sweep on 1 and
//! 2 threads. Prints medians and the ratios engine/floor and reference/engine.

use ringfence_benches::demo;
use ringfence_benches::floor::{Span, floor_kernel, position_bars, spans};
use ringfence_benches::reference::{compare_trades, run_reference};
use ringfence_benches::timing::{median, timed};
use ringfence_benches::workload::{self, Workload};
use ringfence_data::load::{
    FileSpec, GapPolicy, LoadOptions, SymbolSources, load_dir, load_market,
};
use ringfence_model::Market;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(k) = args.iter().position(|a| a == "--dump") {
        let Some(path) = args.get(k + 1) else {
            eprintln!("perf: --dump needs a file name");
            return ExitCode::FAILURE;
        };
        return match dump(Path::new(path)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("perf: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(k) = args.iter().position(|a| a == "--loop") {
        let which = args.get(k + 1).map_or("iso", String::as_str);
        let secs: f64 = args.get(k + 2).and_then(|s| s.parse().ok()).unwrap_or(10.0);
        return match engine_loop(which, secs) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("perf: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let quick = args.iter().any(|a| a == "--quick");
    match run(quick) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perf: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sizes of one harness run.
struct Plan {
    iso_symbols: usize,
    cross_symbols: usize,
    bars: usize,
    reps: usize,
    reference_reps: usize,
    sweep_reps: usize,
}

fn run(quick: bool) -> Result<(), String> {
    let plan = if quick {
        Plan {
            iso_symbols: 128,
            cross_symbols: 16,
            bars: 4_000,
            reps: 5,
            reference_reps: 1,
            sweep_reps: 3,
        }
    } else {
        Plan {
            iso_symbols: 128,
            cross_symbols: 16,
            bars: 20_000,
            reps: 9,
            reference_reps: 3,
            sweep_reps: 5,
        }
    };
    println!(
        "ringfence perf harness ({}): {} cores available",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    loading(plan.reps.min(5))?;

    let workloads = [
        workload::isolated_heavy(plan.iso_symbols, plan.bars, None),
        workload::isolated_heavy(plan.iso_symbols, plan.bars, Some(8)),
        workload::cross_heavy(plan.cross_symbols, plan.bars, None),
    ];
    let labels = [
        "isolated-heavy",
        "isolated-heavy, funding every 8 bars",
        "cross-heavy",
    ];
    for (w, label) in workloads.iter().zip(labels) {
        engine_vs_floor(w, label, &plan)?;
    }
    sweep(&plan)?;
    Ok(())
}

/// `--loop iso|funding|cross[-cold][-fresh] [SECONDS]`: runs the engine alone on one full-size
/// workload for about `SECONDS` (default 10), for a profiler (`perf record -e cpu-clock`). Each run
/// reads a range index filled beforehand (a sweep's later runs), or with `-cold` none (a single
/// run); with `-fresh` each run is on a thread of its own, as the harness times them, else all on
/// the main thread.
fn engine_loop(which: &str, secs: f64) -> Result<(), String> {
    let (which, fresh) = match which.strip_suffix("-fresh") {
        Some(w) => (w, true),
        None => (which, false),
    };
    let (which, cold) = match which.strip_suffix("-cold") {
        Some(w) => (w, true),
        None => (which, false),
    };
    let w = match which {
        "iso" => workload::isolated_heavy(128, 20_000, None),
        "funding" => workload::isolated_heavy(128, 20_000, Some(8)),
        "cross" => workload::cross_heavy(16, 20_000, None),
        other => {
            return Err(format!(
                "--loop: unknown workload {other} (iso, funding, cross)"
            ));
        }
    };
    let ranges = if cold {
        ringfence_sim::RangeIndex::none(&w.market)
    } else {
        let r = ringfence_sim::RangeIndex::new(&w.market);
        r.fill();
        r
    };
    let start = std::time::Instant::now();
    let mut runs = 0u32;
    while start.elapsed().as_secs_f64() < secs {
        if fresh {
            // each run on a thread of its own, as the harness times it
            std::thread::scope(|scope| {
                scope
                    .spawn(|| simulate_in(&ranges, &w).map(black_box))
                    .join()
            })
            .map_err(|_| "a run panicked".to_string())??;
        } else {
            black_box(simulate_in(&ranges, &w)?);
        }
        runs += 1;
    }
    println!(
        "{which}{}: {runs} runs, {:.2} ms per run",
        if cold { " (cold)" } else { "" },
        ms(start.elapsed()) / f64::from(runs.max(1))
    );
    Ok(())
}

fn load_err(e: impl std::fmt::Display) -> String {
    format!("loading real data: {e}")
}

/// Load timing: Feather (5m, freqtrade directory), CSV (1h), Parquet (a copy of the 5m bars).
fn loading(reps: usize) -> Result<(), String> {
    let dir = demo::workspace_root().join("../shared/data/harthor_binance_futures_2025");
    if !dir.is_dir() {
        if std::env::var("CI").as_deref() == Ok("true") {
            return Err(format!("{} is missing", dir.display()));
        }
        println!("\nloading: {} not found, skipped", dir.display());
        return Ok(());
    }
    let opts = LoadOptions {
        gaps: GapPolicy::Fill,
        ..LoadOptions::default()
    };
    let feather = || load_dir(&dir, "5m", None, &opts);
    let market = feather().map_err(load_err)?;
    let csv_sources: Vec<SymbolSources> = std::fs::read_dir(&dir)
        .map_err(load_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-1h-futures.csv"))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let symbol = ringfence_model::Symbol::parse(name.split('-').next()?).ok()?;
            Some(SymbolSources {
                symbol,
                candles: FileSpec::auto(p),
                mark: None,
                funding: None,
            })
        })
        .collect();
    let csv = || load_market(&csv_sources, 3_600_000, &opts);
    let csv_market = csv().map_err(load_err)?;
    let tmp = tempfile::tempdir().map_err(load_err)?;
    let parquet_sources =
        ringfence_benches::copies::write_parquet_copy(&market, tmp.path()).map_err(load_err)?;
    let parquet = || load_market(&parquet_sources, 300_000, &opts);
    let parquet_market = parquet().map_err(load_err)?;

    let (mut tf, mut tc, mut tp) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        tf.push(timed(|| black_box(feather())).1);
        tc.push(timed(|| black_box(csv())).1);
        tp.push(timed(|| black_box(parquet())).1);
    }
    println!("\nloading into the engine layout (median of {reps}, validation included):");
    for (what, m, t) in [
        ("feather 5m (candles, mark, funding)", &market, median(&tf)),
        ("csv 1h (candles)", &csv_market, median(&tc)),
        ("parquet 5m (candles)", &parquet_market, median(&tp)),
    ] {
        let bars = bars_of(m);
        println!(
            "  {what:<38} {bars:>9} bars {:>9.1} ms  {:>7.1} M bars/s  => {:>6.1} ms per 1M bars",
            ms(t),
            bars as f64 / t.as_secs_f64() / 1e6,
            ms(t) * 1e6 / bars as f64
        );
    }
    Ok(())
}

fn bars_of(m: &Market) -> usize {
    m.series.iter().map(|s| s.end - s.first).sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One run over the market of `ranges`.
fn simulate_in(
    ranges: &ringfence_sim::RangeIndex<'_>,
    w: &Workload,
) -> Result<ringfence_model::RunResult, String> {
    ringfence_sim::simulate_in(
        ranges,
        &w.brackets,
        &w.signals,
        &w.account,
        &w.policy,
        &w.cfg,
    )
    .map_err(|e| format!("{}: {e}", w.name))
}

/// One run as `ringfence_sim::simulate` makes it (no range index).
fn simulate(w: &Workload) -> Result<ringfence_model::RunResult, String> {
    simulate_in(&ringfence_sim::RangeIndex::none(&w.market), w)
}

/// Runs `jobs` copies of `f` on `threads` threads (jobs split evenly) and returns the wall time.
fn parallel<F: Fn() + Sync>(threads: usize, jobs: usize, f: F) -> Duration {
    timed(|| {
        std::thread::scope(|scope| {
            for t in 0..threads {
                let f = &f;
                scope.spawn(move || {
                    for _ in (t..jobs).step_by(threads) {
                        f();
                    }
                });
            }
        });
    })
    .1
}

fn engine_vs_floor(w: &Workload, label: &str, plan: &Plan) -> Result<(), String> {
    let first = simulate(w)?;
    let sp: Vec<Span> = spans(&w.market, &first);
    let pb = position_bars(&sp) as f64;
    let bars = w.market.len() as f64;
    let max_open = first
        .equity
        .iter()
        .map(|e| e.open_positions)
        .max()
        .unwrap_or(0);
    let mean_open = pb / bars;
    let with_reference = w.policy.mode == ringfence_sim::ModeRule::Isolated;
    if with_reference {
        let reference = run_reference(&w.market, &w.brackets, &w.signals, &w.policy, &w.cfg)
            .map_err(|e| e.to_string())?;
        compare_trades(&first.trades, &reference)
            .map_err(|e| format!("{label}: engine and reference disagree: {e}"))?;
    }
    let liqs = first.summary.liquidations;
    println!(
        "\n{label}: {} symbols x {} bars, {} trades, {liqs} liquidations, open positions mean {mean_open:.1} max {max_open}, {:.2} M position-bars{}",
        w.market.series.len(),
        w.market.len(),
        first.trades.len(),
        pb / 1e6,
        if with_reference {
            "; engine and reference: same trades"
        } else {
            ""
        }
    );
    let engine_run = || {
        black_box(simulate(w).ok());
    };
    // a sweep's later runs: the market's range index already filled by earlier ones
    let ranges = ringfence_sim::RangeIndex::new(&w.market);
    let (_, fill) = timed(|| ranges.fill());
    let warm_run = || {
        black_box(simulate_in(&ranges, w).ok());
    };
    let floor_run = || {
        black_box(floor_kernel(&w.market, &sp));
    };
    // [floor, engine, engine on a warm range index][threads-1]
    let mut times: [[Vec<Duration>; 2]; 3] = Default::default();
    let mut reference_times = Vec::new();
    for rep in 0..plan.reps {
        for (k, threads) in [1usize, 2].into_iter().enumerate() {
            times[0][k].push(parallel(threads, threads, floor_run) / threads as u32);
            times[1][k].push(parallel(threads, threads, engine_run) / threads as u32);
            times[2][k].push(parallel(threads, threads, warm_run) / threads as u32);
        }
        if with_reference && rep < plan.reference_reps {
            reference_times.push(
                timed(|| {
                    black_box(run_reference(
                        &w.market,
                        &w.brackets,
                        &w.signals,
                        &w.policy,
                        &w.cfg,
                    ))
                })
                .1,
            );
        }
    }
    // per-job time on `threads` threads = wall / jobs: throughput = pb / that time
    for (k, threads) in [1usize, 2].into_iter().enumerate() {
        let floor = median(&times[0][k]);
        let engine = median(&times[1][k]);
        let rate = |d: Duration| pb / d.as_secs_f64() / 1e6;
        println!(
            "  {threads} thread{}: floor {:>8.2} ms {:>8.0} M pos-bars/s | engine {:>8.2} ms {:>7.1} M pos-bars/s {:>6.2} M bars/s | engine/floor {:>5.1} %{}",
            if threads == 1 { " " } else { "s" },
            ms(floor),
            rate(floor),
            ms(engine),
            rate(engine),
            bars / engine.as_secs_f64() / 1e6,
            100.0 * floor.as_secs_f64() / engine.as_secs_f64(),
            if threads == 1 {
                ""
            } else {
                " (aggregate over both threads)"
            }
        );
    }
    let warm = median(&times[2][0]);
    println!(
        "  warm range index (a sweep's later runs), 1 thread: engine {:>8.2} ms {:>7.1} M pos-bars/s, {:.2}x the engine above; 2 threads {:>7.1} M pos-bars/s; filling the index once: {:.2} ms ({:.0} M bars/s)",
        ms(warm),
        pb / warm.as_secs_f64() / 1e6,
        median(&times[1][0]).as_secs_f64() / warm.as_secs_f64(),
        pb / median(&times[2][1]).as_secs_f64() / 1e6,
        ms(fill),
        bars_of(&w.market) as f64 / fill.as_secs_f64() / 1e6
    );
    if !reference_times.is_empty() {
        let r = median(&reference_times);
        let e = median(&times[1][0]);
        println!(
            "  reference (1 thread): {:>8.1} ms {:>7.2} M pos-bars/s | reference/engine {:>6.1}x",
            ms(r),
            pb / r.as_secs_f64() / 1e6,
            r.as_secs_f64() / e.as_secs_f64()
        );
    }
    Ok(())
}

/// The demo sweep (40 runs, `run_all` as the CLI calls it) on 1 and 2 threads, interleaved.
fn sweep(plan: &Plan) -> Result<(), String> {
    let root = demo::workspace_root();
    let (d, load) = timed(|| demo::load_demo(&root));
    let d = d.map_err(|e| format!("demo: {e}"))?;
    let run = |threads: usize| {
        timed(|| {
            ringfence_sim::run_all(
                &d.market,
                &d.brackets,
                &d.signals,
                &d.jobs,
                &d.cfg,
                Some(threads),
                |_| {},
            )
        })
    };
    let (first, _) = run(1);
    let first = first.map_err(|e| format!("demo: {e}"))?;
    let (t1, t2) = {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..plan.sweep_reps {
            a.push(run(1).1);
            b.push(run(2).1);
        }
        (median(&a), median(&b))
    };
    let liqs: u32 = first.iter().map(|r| r.summary.liquidations).sum();
    println!(
        "\ndemo sweep: {} runs ({} liquidations in all), load {:.1} ms; run_all 1 thread {:.1} ms, 2 threads {:.1} ms, speed-up {:.2}x",
        d.jobs.len(),
        liqs,
        ms(load),
        ms(t1),
        ms(t2),
        t1.as_secs_f64() / t2.as_secs_f64()
    );
    Ok(())
}

/// `--dump FILE`: writes every result of the synthetic workloads (all three intrabar models) and
/// of the demo sweep in `Debug` form (exact floats), to diff the engine's output before and after
/// a performance change.
fn dump(path: &Path) -> Result<(), String> {
    use ringfence_sim::Intrabar;
    use std::fmt::Write;
    let mut out = String::new();
    let workloads = [
        workload::isolated_heavy(48, 3_000, None),
        workload::isolated_heavy(48, 3_000, Some(8)),
        workload::cross_heavy(16, 3_000, Some(8)),
        workload::cross_heavy(40, 3_000, None),
    ];
    for w in &workloads {
        for model in [Intrabar::Adverse, Intrabar::Close, Intrabar::Ohlc] {
            let mut w = w.clone();
            w.cfg.intrabar = model;
            let r = simulate(&w)?;
            writeln!(out, "{} {model:?}\n{r:?}", w.name).map_err(|e| e.to_string())?;
        }
    }
    let d = demo::load_demo(&demo::workspace_root()).map_err(|e| format!("demo: {e}"))?;
    let all = ringfence_sim::run_all(
        &d.market,
        &d.brackets,
        &d.signals,
        &d.jobs,
        &d.cfg,
        None,
        |_| {},
    )
    .map_err(|e| format!("demo: {e}"))?;
    for r in &all {
        writeln!(out, "demo\n{r:?}").map_err(|e| e.to_string())?;
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}
