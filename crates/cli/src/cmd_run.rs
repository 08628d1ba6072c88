//! `ringfence run <scenario.toml>`: load, run every account × policy × sweep point in parallel,
//! write the tables, `run.json` and the report atomically.

use crate::exit::bad_input;
use crate::outputs::{Staging, write_json, write_tables};
use crate::pipeline::{self, Loaded};
use crate::prepare::{Prepared, shown};
use crate::report_input::report_input;
use crate::scenario::{Job, Scenario};
use crate::shard::{self, Manifest, Shard};
use anyhow::{Context, Result};
use clap::Args;
use ringfence_data::tables::TableColumn;
use ringfence_model::RunResult;
use ringfence_model::time::{iso, timeframe_label};
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

/// Runs the command.
pub fn run(args: RunArgs) -> Result<()> {
    let started = Instant::now();
    let intrabar = args.intrabar.as_deref().map(parse_intrabar).transpose()?;
    if args.threads == Some(0) {
        return Err(bad_input("--threads: must be at least 1"));
    }
    let shard = Shard::resolve(args.shard.as_deref())?;
    let Loaded {
        scenario: sc,
        prepared,
        jobs,
    } = pipeline::load(&args.scenario, intrabar)?;
    let out = args.out.clone().unwrap_or_else(|| sc.output.clone());
    if let Some(s) = shard {
        let range = s.range(jobs.len());
        let results =
            pipeline::run_jobs(&prepared, &jobs[range.clone()], &sc.engine, args.threads)?;
        let settings = serde_json::json!({ "intrabar": args.intrabar });
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
        let dest = write_shard(
            &shard::shard_dir(&out, &s),
            &manifest,
            range.start,
            &results,
        )?;
        eprintln!(
            "shard {} of {}: {} runs in {:.2} s; outputs in {}",
            s.index,
            s.count,
            results.len(),
            started.elapsed().as_secs_f64(),
            shown(&dest).display()
        );
        return Ok(());
    }
    let results = pipeline::run_jobs(&prepared, &jobs, &sc.engine, args.threads)?;
    let (dest, input) = write_outputs(&out, &sc, &prepared, &jobs, results, args.no_report)?;
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

/// Writes every output of a finished run (tables, `run.json`, `report-input.json`, claims, the
/// report) into a staging directory and renames it to `out`. `results` are the runs in job order.
/// `run` and `merge` both call it, so a merged sharded run is the one-machine run byte for byte.
pub fn write_outputs(
    out: &Path,
    sc: &Scenario,
    prepared: &Prepared,
    jobs: &[Job],
    results: Vec<RunResult>,
    no_report: bool,
) -> Result<(PathBuf, ringfence_report::ReportInput)> {
    let staging = Staging::new(out)?;
    write_tables(staging.dir(), &results)?;
    write_run_json(staging.dir(), sc, prepared, jobs)?;
    let input = report_input(sc, prepared, jobs, results);
    crate::warnings::print(&input);
    write_json(&staging.dir().join("report-input.json"), &input)?;
    if let Some(c) = &input.claims {
        let path = staging.dir().join("claims_vs_replay.csv");
        crate::tables::write_csv(&path, &crate::tables::claims(), &c.rows)?;
    }
    if !no_report {
        ringfence_report::write_report(&input, staging.dir())
            .with_context(|| format!("cannot write the report into {}", out.display()))?;
    }
    let dest = staging.commit()?;
    Ok((dest, input))
}

/// A shard's directory: `shard.json` and `runs.parquet` (one row per run: its index in the job
/// list and the run serialised as JSON, exact: floats round-trip, money as decimal strings).
fn write_shard(
    dir: &Path,
    manifest: &Manifest,
    first: usize,
    runs: &[RunResult],
) -> Result<PathBuf> {
    let staging = Staging::new(dir)?;
    write_json(&staging.dir().join("shard.json"), manifest)?;
    let json = runs
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    ringfence_data::tables::write_parquet(
        &staging.dir().join("runs.parquet"),
        vec![
            (
                "index".into(),
                TableColumn::I64((first..first + runs.len()).map(|i| i as i64).collect()),
            ),
            (
                "run".into(),
                TableColumn::Str(runs.iter().map(|r| r.run.clone()).collect()),
            ),
            ("result".into(), TableColumn::Str(json)),
        ],
    )?;
    staging.commit()
}

/// Merges the shards of a sharded `run` (already checked to be one complete set) into `out`: the
/// scenario is loaded again from the shards' working directory (its text must be unchanged), the
/// runs are read back in job order and written by [`write_outputs`].
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
    let intrabar = m
        .settings
        .get("intrabar")
        .and_then(|v| v.as_str())
        .map(parse_intrabar)
        .transpose()?;
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
    let mut results = Vec::with_capacity(jobs.len());
    for dir in &dirs {
        let path = dir.join("runs.parquet");
        let mut cols = ringfence_data::tables::read_parquet(&path)?;
        let Some(k) = cols.iter().position(|(n, _)| n == "result") else {
            return Err(bad_input(format!(
                "{}: column result missing",
                path.display()
            )));
        };
        let TableColumn::Str(rows) = cols.swap_remove(k).1 else {
            return Err(bad_input(format!(
                "{}: column result is not text",
                path.display()
            )));
        };
        for (i, row) in rows.iter().enumerate() {
            let r: RunResult = serde_json::from_str(row).map_err(|e| {
                bad_input(format!(
                    "{}: row {}: not a run result ({e})",
                    path.display(),
                    i + 1
                ))
            })?;
            let at = results.len();
            if jobs.get(at).map(|j| &j.name) != Some(&r.run) {
                return Err(bad_input(format!(
                    "{}: row {}: run {} where the job list has {}",
                    path.display(),
                    i + 1,
                    r.run,
                    jobs.get(at).map_or("nothing", |j| j.name.as_str())
                )));
            }
            results.push(r);
        }
    }
    if results.len() != jobs.len() {
        return Err(bad_input(format!(
            "merge: the shards hold {} runs of {}",
            results.len(),
            jobs.len()
        )));
    }
    let (dest, input) = write_outputs(&out, &sc, &prepared, &jobs, results, no_report)?;
    print_summary(&input.runs);
    Ok(dest)
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
