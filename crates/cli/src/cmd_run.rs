//! `ringfence run <scenario.toml>`: load, run every account × policy × sweep point in parallel,
//! write the tables, `run.json` and the report atomically.

use crate::exit::bad_input;
use crate::outputs::{OutputOptions, RunWriter, Staging, write_json};
use crate::pipeline::{self, Loaded};
use crate::prepare::{Prepared, shown};
use crate::report_input::report_input;
use crate::scenario::{Job, Scenario};
use crate::shard::{self, Manifest, Shard};
use crate::timings::Timings;
use anyhow::{Context, Result};
use clap::Args;
use ringfence_data::tables::{ParquetStream, TableColumn};
use ringfence_model::RunResult;
use ringfence_model::time::{iso, timeframe_label};
use ringfence_report::charts::{STORED_CURVE_POINTS, thin_equity};
use ringfence_sim::Intrabar;
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
    /// Also write `equity.parquet`: every equity point of every run (by default the equity is
    /// written at the report's bounded resolution only, in `equity.csv`).
    #[arg(long)]
    pub full_equity: bool,
    /// Print the time of each phase (load, prepare, simulate, annotate, checklist, outputs,
    /// report) to stderr.
    #[arg(long)]
    pub timings: bool,
    /// Run shard i of n (0-based) of the job list and write `<out>/shard=i` for `ringfence merge`
    /// (default: from JOB_COMPLETION_INDEX + RINGFENCE_SHARD_COUNT, or SLURM_ARRAY_TASK_ID +
    /// SLURM_ARRAY_TASK_COUNT, when set).
    #[arg(long)]
    pub shard: Option<String>,
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

/// Runs a merge reads from a shard's `runs.parquet` at a time, and the most a shard writes per row
/// group.
const MERGE_SLICE: usize = 64;

/// The most JSON text a shard holds before it writes a row group.
const SHARD_BATCH_BYTES: usize = 16 << 20;

/// Runs the command.
pub fn run(args: RunArgs) -> Result<()> {
    let started = Instant::now();
    let intrabar = args.intrabar.as_deref().map(parse_intrabar).transpose()?;
    if args.threads == Some(0) {
        return Err(bad_input("--threads: must be at least 1"));
    }
    let shard = Shard::resolve(args.shard.as_deref())?;
    let timings = Timings::default();
    let Loaded {
        scenario: sc,
        prepared,
        jobs,
    } = timings.time("load", || pipeline::load(&args.scenario, intrabar))?;
    let out = args.out.clone().unwrap_or_else(|| sc.output.clone());
    if let Some(s) = shard {
        return run_shard(&args, s, &sc, &prepared, &jobs, started);
    }
    let staging = Staging::new(&out)?;
    let opts = OutputOptions {
        full_equity: args.full_equity,
        adl: !sc.engine.adl.is_off(),
        detail_runs: sc.detail_runs,
    };
    // Each run's rows are written as soon as it and every run before it are done; only its
    // trades and its equity at the report's resolution are kept.
    let mut writer = timings.time("outputs", || {
        RunWriter::create(staging.dir(), opts, &jobs, &prepared.claims)
    })?;
    // The checklist of the first run's calls is computed on its own thread while the runs are
    // written (it reads the first run at full resolution; the writer keeps it thinned).
    let rows = std::thread::scope(|scope| -> Result<_> {
        let mut checklist = None;
        pipeline::stream_jobs(
            &prepared,
            &jobs,
            &sc.engine,
            args.threads,
            &timings,
            |i, r| {
                if i == 0 {
                    let (first, sc, prepared, job, timings) =
                        (r.clone(), &sc, &prepared, &jobs[0], &timings);
                    checklist = Some(scope.spawn(move || {
                        timings.time("checklist", || {
                            pipeline::checklist_rows(
                                sc,
                                prepared,
                                job,
                                &first,
                                &pipeline::default_checklist_config(sc),
                            )
                        })
                    }));
                }
                timings.time("outputs", || writer.push(r))
            },
        )?;
        Ok(checklist.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the checklist stopped unexpectedly")))
        }))
    })?;
    let input = finish_outputs(
        &staging,
        writer,
        &sc,
        &prepared,
        &jobs,
        rows,
        args.no_report,
        &timings,
    )?;
    let dest = staging.commit()?;
    print_summary(&input);
    eprintln!(
        "{} runs in {:.2} s; outputs in {}{}",
        input
            .sweep
            .as_ref()
            .map_or(input.runs.len() as u64, |s| s.runs),
        started.elapsed().as_secs_f64(),
        shown(&dest).display(),
        if args.no_report {
            String::new()
        } else {
            format!(" (open {}/report.html)", shown(&dest).display())
        }
    );
    if args.timings {
        let threads = args.threads.unwrap_or_else(rayon_threads);
        eprint!("{}", timings.render(started.elapsed(), threads));
    }
    Ok(())
}

/// What every run directory gets once all runs went through `writer` (in job order): the
/// writer's closing tables, `run.json`, `report-input.json`, claims, the report. `run` and `merge`
/// both call it after pushing the same runs in the same order, so a merged sharded run is the
/// one-machine run byte for byte.
#[allow(clippy::too_many_arguments)]
fn finish_outputs(
    staging: &Staging,
    writer: RunWriter,
    sc: &Scenario,
    prepared: &Prepared,
    jobs: &[Job],
    rows: Option<Result<Vec<ringfence_sim::ChecklistRow>>>,
    no_report: bool,
    timings: &Timings,
) -> Result<ringfence_report::ReportInput> {
    let finished = timings.time("outputs", || -> Result<_> {
        let finished = writer.finish()?;
        write_run_json(staging.dir(), sc, prepared, jobs)?;
        Ok(finished)
    })?;
    let mut input = timings.time("checklist", || {
        report_input(sc, prepared, jobs, finished, rows)
    });
    crate::warnings::print(&input);
    timings.time("outputs", || {
        crate::report_input::write_input(staging.dir(), &mut input)
    })?;
    if !no_report {
        timings.time("report", || {
            ringfence_report::write_report(&input, staging.dir()).with_context(|| {
                format!("cannot write the report into {}", staging.dir().display())
            })
        })?;
    }
    Ok(input)
}

/// Runs shard `s` of the job list and writes `<out>/shard=i`: `shard.json` and `runs.parquet`
/// (one row per run: its index in the job list, its name and the run serialised as JSON, exact:
/// floats round-trip, money as decimal strings; its equity at the report's bounded resolution,
/// except with `--full-equity` and for the first job, whose curve the checklist reads).
fn run_shard(
    args: &RunArgs,
    s: Shard,
    sc: &Scenario,
    prepared: &Prepared,
    jobs: &[Job],
    started: Instant,
) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| sc.output.clone());
    let range = s.range(jobs.len());
    let settings = serde_json::json!({
        "intrabar": args.intrabar,
        "full_equity": args.full_equity,
        "no_report": args.no_report,
    });
    let manifest = Manifest {
        kind: "run".into(),
        program: format!("ringfence {}", env!("CARGO_PKG_VERSION")),
        shard: s,
        items: jobs.len(),
        range: (range.start, range.end),
        fingerprint: shard::fingerprint(&[&sc.text, &settings.to_string()]),
        cwd: std::env::current_dir().context("cannot read the working directory")?,
        scenario: args.scenario.clone(),
        settings,
    };
    let staging = Staging::new(&shard::shard_dir(&out, &s))?;
    write_json(&staging.dir().join("shard.json"), &manifest)?;
    // Each run is serialised as it finishes and written in row groups of at most MERGE_SLICE runs
    // and SHARD_BATCH_BYTES of text: memory holds a slice of the shard's runs, not all of them.
    let mut stream = ParquetStream::create(&staging.dir().join("runs.parquet"))?;
    let mut batch: Vec<(i64, String, String)> = Vec::new();
    let columns = |batch: &mut Vec<(i64, String, String)>| {
        let (mut index, mut run, mut result) = (Vec::new(), Vec::new(), Vec::new());
        for (i, n, j) in batch.drain(..) {
            index.push(i);
            run.push(n);
            result.push(j);
        }
        vec![
            ("index".to_string(), TableColumn::I64(index)),
            ("run".to_string(), TableColumn::Str(run)),
            ("result".to_string(), TableColumn::Str(result)),
        ]
    };
    let mut done = 0usize;
    let mut batch_bytes = 0usize;
    pipeline::stream_jobs(
        prepared,
        &jobs[range.clone()],
        &sc.engine,
        args.threads,
        &Timings::default(),
        |i, mut r| {
            let index = range.start + i;
            if index > 0 && !args.full_equity {
                // Only the first job's curve is read at full resolution (by the checklist);
                // the others are stored as the run directory keeps them.
                r.equity = thin_equity(&r.equity, STORED_CURVE_POINTS);
            }
            batch.push((index as i64, r.run.clone(), serde_json::to_string(&r)?));
            done += 1;
            batch_bytes += batch.last().map_or(0, |b| b.2.len());
            if batch.len() >= MERGE_SLICE || batch_bytes >= SHARD_BATCH_BYTES {
                batch_bytes = 0;
                stream.write(columns(&mut batch))?;
            }
            Ok(())
        },
    )?;
    if !batch.is_empty() {
        stream.write(columns(&mut batch))?;
    }
    stream.finish(columns(&mut batch))?;
    let dest = staging.commit()?;
    eprintln!(
        "shard {} of {}: {} runs in {:.2} s; outputs in {}",
        s.index,
        s.count,
        done,
        started.elapsed().as_secs_f64(),
        shown(&dest).display()
    );
    Ok(())
}

/// Merges the shards of a sharded `run` (already checked to be one complete set) into `out`: the
/// scenario is loaded again from the shards' working directory (its text must be unchanged), the
/// runs are read back in job order and pushed through the same writer as `run`.
pub fn merge(shards: &[(PathBuf, Manifest)], out: &Path, no_report: bool) -> Result<PathBuf> {
    let m = &shards[0].1;
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let out = cwd.join(out);
    let dirs: Vec<PathBuf> = shards.iter().map(|(d, _)| cwd.join(d)).collect();
    std::env::set_current_dir(&m.cwd).map_err(|e| {
        bad_input(format!(
            "{}: the shards ran in {}, which is not here ({e}); merge where the scenario's \
             paths resolve as they did for the shards",
            shards[0].0.display(),
            m.cwd.display()
        ))
    })?;
    let setting = |k: &str| m.settings.get(k);
    let intrabar = setting("intrabar")
        .and_then(|v| v.as_str())
        .map(parse_intrabar)
        .transpose()?;
    let full_equity = setting("full_equity")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let no_report = no_report
        || setting("no_report")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    let Loaded {
        scenario: sc,
        prepared,
        jobs,
    } = pipeline::load(&m.scenario, intrabar)?;
    if shard::fingerprint(&[&sc.text, &m.settings.to_string()]) != m.fingerprint {
        return Err(bad_input(format!(
            "{}: the scenario changed since the shards ran; run the shards again",
            m.scenario.display()
        )));
    }
    if jobs.len() != m.items {
        return Err(bad_input(format!(
            "{}: {} runs now, {} when the shards ran",
            m.scenario.display(),
            jobs.len(),
            m.items
        )));
    }
    let staging = Staging::new(&out)?;
    let opts = OutputOptions {
        full_equity,
        adl: !sc.engine.adl.is_off(),
        detail_runs: sc.detail_runs,
    };
    let mut writer = RunWriter::create(staging.dir(), opts, &jobs, &prepared.claims)?;
    let mut rows = None;
    let mut at = 0usize;
    for dir in &dirs {
        let path = dir.join("runs.parquet");
        let rows_in_file = ringfence_data::tables::parquet_rows(&path)?;
        // A slice of runs at a time: memory holds MERGE_SLICE runs of a shard, not the shard.
        for first in (0..rows_in_file).step_by(MERGE_SLICE) {
            let slice = (first, MERGE_SLICE.min(rows_in_file - first));
            let mut cols = ringfence_data::tables::read_parquet_slice(&path, Some(slice))?;
            let Some(k) = cols.iter().position(|(n, _)| n == "result") else {
                return Err(bad_input(format!(
                    "{}: column result missing",
                    path.display()
                )));
            };
            let TableColumn::Str(texts) = cols.swap_remove(k).1 else {
                return Err(bad_input(format!(
                    "{}: column result is not text",
                    path.display()
                )));
            };
            for (j, text) in texts.iter().enumerate() {
                let i = first + j;
                let r: RunResult = serde_json::from_str(text).map_err(|e| {
                    bad_input(format!(
                        "{}: row {}: not a run result ({e})",
                        path.display(),
                        i + 1
                    ))
                })?;
                if jobs.get(at).map(|j| &j.name) != Some(&r.run) {
                    return Err(bad_input(format!(
                        "{}: row {}: run {} where the job list has {}",
                        path.display(),
                        i + 1,
                        r.run,
                        jobs.get(at).map_or("nothing", |j| j.name.as_str())
                    )));
                }
                if at == 0 {
                    rows = Some(pipeline::checklist_rows(
                        &sc,
                        &prepared,
                        &jobs[0],
                        &r,
                        &pipeline::default_checklist_config(&sc),
                    ));
                }
                if at == 0 || full_equity {
                    writer.push(r)?;
                } else {
                    writer.push_thinned(r)?;
                }
                at += 1;
            }
        }
    }
    if at != jobs.len() {
        return Err(bad_input(format!(
            "merge: the shards hold {at} runs of {}",
            jobs.len()
        )));
    }
    let input = finish_outputs(
        &staging,
        writer,
        &sc,
        &prepared,
        &jobs,
        rows,
        no_report,
        &Timings::default(),
    )?;
    let dest = staging.commit()?;
    print_summary(&input);
    Ok(dest)
}

/// The worker threads a run uses without `--threads` (`RAYON_NUM_THREADS`, else every core).
fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn write_run_json(dir: &Path, sc: &Scenario, p: &Prepared, jobs: &[Job]) -> Result<()> {
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
            "text": sc.text,
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

fn print_summary(input: &ringfence_report::ReportInput) {
    if let Some(sweep) = &input.sweep {
        return print_sweep(sweep);
    }
    let runs = &input.runs;
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

/// A large sweep's table on stdout: one line per account × policy over its runs.
fn print_sweep(sweep: &ringfence_report::SweepSection) {
    let name = |g: &ringfence_report::stress::StressRow| format!("{}/{}", g.account, g.policy);
    let w = sweep
        .groups
        .iter()
        .map(|g| name(g).len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<w$}  {:>6}  {:>9}  {:>12}  {:>12}  {:>12}  {:>11}",
        "group", "runs", "wiped%", "final_p05", "final_median", "final_p95", "max_dd%_med"
    );
    for g in &sweep.groups {
        println!(
            "{:<w$}  {:>6}  {:>9.1}  {:>12.2}  {:>12.2}  {:>12.2}  {:>11.2}",
            name(g),
            g.paths,
            100.0 * g.p_wipeout,
            zero_if_cents(g.final_p05),
            zero_if_cents(g.final_median),
            zero_if_cents(g.final_p95),
            g.max_drawdown_median
        );
    }
    println!(
        "({} runs: every one in summary.csv; the report shows the best and the worst run of each \
         group in detail)",
        sweep.runs
    );
}

/// `v`, or 0 when it rounds to 0.00 (so that no "-0.00" is printed).
fn zero_if_cents(v: f64) -> f64 {
    if v.abs() < 0.005 { 0.0 } else { v }
}
