//! `ringfence run <scenario.toml>`: load, run every account × policy × sweep point in parallel,
//! write the tables, `run.json` and the report atomically.

use crate::exit::bad_input;
use crate::outputs::{Staging, write_json, write_tables};
use crate::prepare::{Prepared, prepare, shown};
use crate::scenario::{self, Job, Scenario};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use ringfence_model::time::{iso, timeframe_label};
use ringfence_model::{Market, RunResult, WarningKind};
use ringfence_report::{PriceSeries, ReportInput};
use ringfence_sim::{EngineConfig, Intrabar};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `ringfence run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Output directory (default: the scenario's `output`, else `reports/<name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: `RAYON_NUM_THREADS`, else all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Intrabar model, overriding the scenario: adverse, close or ohlc.
    #[arg(long)]
    pub intrabar: Option<String>,
    /// Skip the HTML/PNG report (tables and run.json only).
    #[arg(long)]
    pub no_report: bool,
}

/// Parses `adverse|close|ohlc`.
pub fn parse_intrabar(s: &str) -> Result<Intrabar> {
    match s {
        "adverse" => Ok(Intrabar::Adverse),
        "close" => Ok(Intrabar::Close),
        "ohlc" => Ok(Intrabar::Ohlc),
        other => Err(bad_input(format!(
            "--intrabar: unknown model {other:?}; expected adverse, close or ohlc"
        ))),
    }
}

/// Runs the command.
pub fn run(args: RunArgs) -> Result<()> {
    let started = Instant::now();
    let mut sc = scenario::load(&args.scenario)?;
    if let Some(m) = &args.intrabar {
        sc.engine.intrabar = parse_intrabar(m)?;
    }
    if args.threads == Some(0) {
        return Err(bad_input("--threads: must be at least 1"));
    }
    let out = args.out.clone().unwrap_or_else(|| sc.output.clone());
    let prepared = prepare(&sc)?;
    let jobs = sc.jobs()?;
    let results = run_jobs(&prepared, &jobs, &sc.engine, args.threads)?;
    let staging = Staging::new(&out)?;
    write_tables(staging.dir(), &results)?;
    write_run_json(staging.dir(), &sc, &prepared, &jobs)?;
    let input = report_input(&sc, &prepared, results);
    crate::warnings::print(&input);
    write_json(&staging.dir().join("report-input.json"), &input)?;
    if !args.no_report {
        ringfence_report::write_report(&input, staging.dir())
            .with_context(|| format!("cannot write the report into {}", out.display()))?;
    }
    let dest = staging.commit()?;
    print_summary(&input.runs);
    eprintln!(
        "{} runs in {:.2} s; outputs in {}{}",
        input.runs.len(),
        started.elapsed().as_secs_f64(),
        shown(&dest).display(),
        if args.no_report {
            String::new()
        } else {
            format!(" (open {}/report.html)", shown(&dest).display())
        }
    );
    Ok(())
}

/// Runs every job on a local pool; results in job order, identical for any thread count. A progress
/// bar appears on stderr when the runs take longer than a second and stderr is a terminal.
pub fn run_jobs(
    p: &Prepared,
    jobs: &[Job],
    cfg: &EngineConfig,
    threads: Option<usize>,
) -> Result<Vec<RunResult>> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let pool = builder.build().context("cannot start worker threads")?;
    let bar = ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let shown = std::sync::atomic::AtomicBool::new(false);
    let tty = std::io::stderr().is_terminal();
    let tick = || {
        bar.inc(1);
        if tty
            && start.elapsed().as_secs_f64() > 1.0
            && !shown.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    };
    let results: Vec<Result<RunResult>> = pool.install(|| {
        jobs.par_iter()
            .map(|job| {
                let r = ringfence_sim::run(
                    &p.market,
                    &p.brackets,
                    &p.signals,
                    &job.account,
                    &job.policy,
                    cfg,
                )
                .with_context(|| format!("run {}", job.name))
                .map(|mut r| {
                    r.run = job.name.clone();
                    r.params = job.params.clone();
                    r
                });
                tick();
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    results.into_iter().collect()
}

fn write_run_json(dir: &Path, sc: &Scenario, p: &Prepared, jobs: &[Job]) -> Result<()> {
    let scenario_text = std::fs::read_to_string(&sc.path).unwrap_or_default();
    let m = &p.market;
    let series: Vec<serde_json::Value> = m
        .series
        .iter()
        .map(|s| {
            serde_json::json!({
                "symbol": s.symbol,
                "first_bar": iso(m.times[s.first]),
                "last_bar": iso(m.times[s.end - 1]),
                "bars": s.end - s.first,
                "mark": s.mark.is_some(),
                "funding_settlements": s.funding.times.len(),
            })
        })
        .collect();
    let snapshots: Vec<serde_json::Value> = p
        .brackets
        .snapshots()
        .iter()
        .map(|s| serde_json::json!({"source": s.source, "effective_from": s.effective_label(), "symbols": s.tables.len()}))
        .collect();
    let json = serde_json::json!({
        "program": format!("ringfence {}", env!("CARGO_PKG_VERSION")),
        "scenario": {
            "name": sc.name,
            "path": sc.path.display().to_string(),
            "text": scenario_text,
        },
        "engine": {
            "intrabar": format!("{:?}", sc.engine.intrabar).to_lowercase(),
            "band": sc.engine.band,
            "refine": sc.engine.refine,
            "exchange": format!("{:?}", sc.engine.exchange),
            "execution": format!("{:?}", sc.engine.execution),
        },
        "market": {
            "timeframe": timeframe_label(m.timeframe_ms),
            "first_bar": iso(m.times[0]),
            "last_bar": iso(*m.times.last().unwrap_or(&m.times[0])),
            "lower_timeframe": m.lower.as_ref().map(|l| timeframe_label(l.timeframe_ms)),
            "series": series,
        },
        "inputs": p.inputs,
        "brackets": snapshots,
        "runs": jobs.iter().map(|j| j.name.clone()).collect::<Vec<_>>(),
    });
    write_json(&dir.join("run.json"), &json)
}

/// Close prices of the market's symbols, downsampled to at most `max` points each.
fn price_series(m: &Market, max: usize) -> Vec<PriceSeries> {
    m.series
        .iter()
        .map(|s| {
            let n = s.end - s.first;
            let step = n.div_ceil(max.max(1)).max(1);
            let idx: Vec<usize> = (s.first..s.end).step_by(step).collect();
            PriceSeries {
                symbol: s.symbol.clone(),
                times: idx.iter().map(|&i| m.times[i]).collect(),
                close: idx.iter().map(|&i| s.close[i]).collect(),
            }
        })
        .collect()
}

/// The report's input: runs, prices, warnings and the assumptions the numbers rest on.
pub fn report_input(sc: &Scenario, p: &Prepared, runs: Vec<RunResult>) -> ReportInput {
    let m = &p.market;
    let cfg = &sc.engine;
    let ex = &cfg.exchange;
    let missing_mark: Vec<String> = m
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::MissingMark)
        .filter_map(|w| w.symbol.as_ref().map(|s| s.to_string()))
        .collect();
    let missing_funding: Vec<String> = m
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::MissingFunding)
        .filter_map(|w| w.symbol.as_ref().map(|s| s.to_string()))
        .collect();
    let intrabar = format!("{:?}", cfg.intrabar).to_lowercase();
    let mut assumptions = vec![
        (
            "Intrabar model".to_string(),
            format!(
                "{intrabar}{}{}",
                if cfg.band {
                    "; band computed under adverse and close"
                } else {
                    ""
                },
                match (&m.lower, cfg.refine) {
                    (Some(l), true) => format!(
                        "; bars touching a trigger replayed on {} sub-bars",
                        timeframe_label(l.timeframe_ms)
                    ),
                    _ => "; no lower-timeframe refinement".to_string(),
                }
            ),
        ),
        (
            "Mark vs last".to_string(),
            if missing_mark.is_empty() {
                "liquidations checked on mark prices; stops, targets and entries on last prices"
                    .to_string()
            } else {
                format!(
                    "liquidations checked on mark prices, except {} (no mark data: last prices); stops and targets on last prices",
                    missing_mark.join(", ")
                )
            },
        ),
        (
            "Brackets".to_string(),
            p.brackets
                .snapshots()
                .iter()
                .map(|s| format!("{} (from {})", s.source, s.effective_label()))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (
            "Fees".to_string(),
            format!(
                "taker {}%, maker {}% of notional (times each account's fee multiplier); clearance fee {}% of liquidated notional, capped at the margin left",
                ex.taker_fee * rust_decimal::Decimal::ONE_HUNDRED,
                ex.maker_fee * rust_decimal::Decimal::ONE_HUNDRED,
                ex.clearance_fee_rate * rust_decimal::Decimal::ONE_HUNDRED
            ),
        ),
        (
            "Liquidation process".to_string(),
            format!("{:?}", ex.liquidation).to_lowercase(),
        ),
        (
            "Funding".to_string(),
            if missing_funding.is_empty() {
                "settlements from the funding history, valued at mark".to_string()
            } else {
                format!(
                    "settlements from the funding history; assumed zero for {}",
                    missing_funding.join(", ")
                )
            },
        ),
        (
            "Execution".to_string(),
            format!(
                "entry delay {}, slippage {} bps on market entries, closes and stops; zone entries expire after {}",
                if cfg.execution.entry_delay_ms == 0 {
                    "none".to_string()
                } else {
                    timeframe_label(cfg.execution.entry_delay_ms)
                },
                cfg.execution.slippage_bps,
                cfg.execution
                    .zone_expiry_ms
                    .map(timeframe_label)
                    .unwrap_or_else(|| "never".into())
            ),
        ),
        (
            "Data".to_string(),
            format!(
                "{} bars of {} from {} to {}",
                m.len(),
                timeframe_label(m.timeframe_ms),
                iso(m.times[0]),
                iso(*m.times.last().unwrap_or(&m.times[0]))
            ),
        ),
        (
            "Margin mode".to_string(),
            "USDT-margined linear perpetuals, one-way mode (one position per symbol)".to_string(),
        ),
    ];
    if let Some(d) = &sc.description {
        assumptions.insert(0, ("Scenario".to_string(), d.clone()));
    }
    let mut warnings = m.warnings.clone();
    for w in p.signal_warnings.iter().chain(&p.bracket_warnings) {
        warnings.push(ringfence_model::DataWarning {
            symbol: None,
            kind: WarningKind::Other,
            message: w.clone(),
        });
    }
    let extra_sections = crate::cmd_checklist::report_section(sc, p, &runs)
        .into_iter()
        .collect();
    ReportInput {
        title: sc.name.clone(),
        generated_by: format!("ringfence {}", env!("CARGO_PKG_VERSION")),
        runs,
        prices: price_series(m, 2000),
        warnings,
        assumptions,
        extra_sections,
    }
}

fn print_summary(runs: &[RunResult]) {
    let w = runs.iter().map(|r| r.run.len()).max().unwrap_or(3).max(3);
    println!(
        "{:<w$}  {:>12}  {:>8}  {:>7}  {:>6}  {:>8}  {:>7}  {:>6}",
        "run", "final_equity", "return%", "max_dd%", "liqs", "cascades", "victims", "trades"
    );
    for r in runs {
        let s = &r.summary;
        let liqs = match r.liquidation_band {
            Some((a, c)) if a != c => format!("{} ({}-{})", s.liquidations, a.min(c), a.max(c)),
            _ => s.liquidations.to_string(),
        };
        println!(
            "{:<w$}  {:>12}  {:>8.2}  {:>7.2}  {:>6}  {:>8}  {:>7}  {:>6}",
            r.run,
            s.final_equity.round_dp(2),
            s.return_pct,
            s.max_drawdown_pct,
            liqs,
            s.cascades,
            s.cascade_victims,
            s.trades
        );
    }
}
