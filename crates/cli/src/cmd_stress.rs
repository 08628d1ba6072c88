//! `ringfence stress <scenario.toml> --paths N`: every account × policy × sweep point on N
//! alternative market paths (block bootstrap or crash transplant, `ringfence_paths`), the same
//! paths for every policy; the distribution per run, the paired cross − isolated differences and
//! fan charts.
//!
//! Memory does not grow with a run's length or trades: each run on a path is folded into one
//! small record and a fixed-size fan histogram as soon as it ends. Paths are run in chunks, in
//! parallel inside a chunk and folded in path order, so the outputs do not depend on the thread
//! count. With `--shard i/n` (or a batch engine's array index) the process runs its slice of the
//! paths and writes `shard=i/` for `ringfence merge`.

use crate::exit::bad_input;
use crate::outputs::{Staging, write_json};
use crate::pipeline::{self, Loaded};
use crate::prepare::shown;
use crate::scenario::{Job, parse_time};
use crate::shard::{self, Manifest, Shard};
use crate::tables::{self, FanRow, PathRow};
use anyhow::{Context, Result};
use clap::Args;
use ringfence_data::tables::TableColumn;
use ringfence_model::time::{iso, parse_timeframe};
use ringfence_paths::distribution::{FanHistogram, PathOutcome, distribution, paired, ratios_at};
use ringfence_paths::{block_bootstrap, crash_transplant, rescale_signals, transplant_targets};
use ringfence_report::stress::{Fan, PairRow, StressRow, StressSection};
use ringfence_sim::ModeRule;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `ringfence stress`.
#[derive(Debug, Args)]
pub struct StressArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Number of paths (block bootstrap: required; crash transplant: at most this many
    /// placements, default all that fit).
    #[arg(long)]
    pub paths: Option<u64>,
    /// How paths are made: block-bootstrap or crash-transplant.
    #[arg(long, default_value = "block-bootstrap")]
    pub method: String,
    /// Mean block length of the bootstrap (a duration: 24h, 3d).
    #[arg(long, default_value = "24h")]
    pub block: String,
    /// Seed of the bootstrap: the same seed gives the same paths.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Crash window for crash-transplant: START..END (times, UTC; END exclusive), e.g.
    /// 2025-10-10T18:00..2025-10-11T06:00.
    #[arg(long)]
    pub window: Option<String>,
    /// Crash transplant: place the window every this long (same offset in each period).
    #[arg(long, default_value = "7d")]
    pub every: String,
    /// Compare these cross and isolated policies (CROSS:ISOLATED, repeatable; default: each cross
    /// policy with the isolated policy named like it, `cross-x` with `isolated-x`, else with every
    /// isolated policy).
    #[arg(long = "pair")]
    pub pairs: Vec<String>,
    /// Output directory (default: the scenario's output with `-stress` appended).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: `RAYON_NUM_THREADS`, else all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Skip the HTML/PNG report.
    #[arg(long)]
    pub no_report: bool,
    /// Run shard i of n (0-based) of the paths and write `<out>/shard=i` for `ringfence merge`
    /// (default: from JOB_COMPLETION_INDEX + RINGFENCE_SHARD_COUNT, or SLURM_ARRAY_TASK_ID +
    /// SLURM_ARRAY_TASK_COUNT, when set).
    #[arg(long)]
    pub shard: Option<String>,
}

/// How the paths are made (recorded in shard manifests and `stress.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum Method {
    /// Stationary block bootstrap.
    BlockBootstrap {
        /// Mean block length in bars.
        mean_block_bars: usize,
        /// As given (`24h`).
        block: String,
        /// Seed.
        seed: u64,
    },
    /// A window's moves placed at other times.
    CrashTransplant {
        /// Window bars `[start, end)`.
        window: (usize, usize),
        /// Window times, ISO.
        window_iso: (String, String),
        /// Bar where path `k` places the window.
        targets: Vec<usize>,
        /// As given (`7d`).
        every: String,
    },
}

/// One run of the job list, as the outputs name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Run name.
    pub name: String,
    /// Account.
    pub account: String,
    /// Policy.
    pub policy: String,
    /// Sweep point in words.
    pub params: String,
}

/// Everything the stress outputs depend on besides the per-path records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Scenario name.
    pub title: String,
    /// Program.
    pub generated_by: String,
    /// Method and its parameters.
    pub method: Method,
    /// The method in words.
    pub method_text: String,
    /// Number of paths.
    pub paths: u64,
    /// Runs per path, in job order.
    pub jobs: Vec<JobInfo>,
    /// (cross job, isolated job) pairs.
    pub pairs: Vec<(usize, usize)>,
    /// Fan-chart times.
    pub fan_times: Vec<i64>,
    /// What the numbers rest on.
    pub assumptions: Vec<(String, String)>,
}

/// Time points of the fan charts.
const FAN_POINTS: usize = 120;
/// Paths run in parallel before their records are folded (in path order).
const CHUNK: usize = 64;
/// Rows of `stress_paths.parquet` built in memory at a time (one row group each).
const PARQUET_BATCH: usize = 65_536;

/// Runs the command.
pub fn run(args: StressArgs) -> Result<()> {
    let started = Instant::now();
    if args.threads == Some(0) {
        return Err(bad_input("--threads: must be at least 1"));
    }
    let shard = Shard::resolve(args.shard.as_deref())?;
    let Loaded {
        scenario: sc,
        prepared: p,
        jobs,
    } = pipeline::load(&args.scenario, None)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let mut name = sc.output.file_name().unwrap_or_default().to_os_string();
        name.push("-stress");
        sc.output.with_file_name(name)
    });
    let plan = plan(&args, &sc, &p, &jobs)?;
    let range = match shard {
        Some(s) => {
            let r = s.range(plan.paths as usize);
            r.start as u64..r.end as u64
        }
        None => 0..plan.paths,
    };
    let mut cfg = sc.engine.clone();
    cfg.band = false;
    let (records, fans) = run_paths(&p, &jobs, &cfg, &plan, range.clone(), args.threads)?;
    let dest = match shard {
        Some(s) => {
            let dir = shard::shard_dir(&out, &s);
            let staging = Staging::new(&dir)?;
            let manifest = Manifest {
                kind: "stress".into(),
                program: plan.generated_by.clone(),
                shard: s,
                items: plan.paths as usize,
                range: (range.start as usize, range.end as usize),
                fingerprint: shard::fingerprint(&[&sc.text, &serde_json::to_string(&plan)?]),
                cwd: std::env::current_dir().context("cannot read the working directory")?,
                scenario: args.scenario.clone(),
                settings: serde_json::to_value(&plan)?,
            };
            write_json(&staging.dir().join("shard.json"), &manifest)?;
            write_shard(staging.dir(), &records, &fans)?;
            staging.commit()?
        }
        None => {
            let staging = Staging::new(&out)?;
            let section = write_outputs(staging.dir(), &plan, &records, &fans, args.no_report)?;
            let dest = staging.commit()?;
            print_summary(&section);
            dest
        }
    };
    eprintln!(
        "{} paths × {} runs in {:.2} s; outputs in {}",
        range.end - range.start,
        jobs.len(),
        started.elapsed().as_secs_f64(),
        shown(&dest).display()
    );
    Ok(())
}

fn duration(key: &str, s: &str) -> Result<i64> {
    parse_timeframe(s.trim()).ok_or_else(|| {
        bad_input(format!(
            "{key}: unparseable duration {s:?} (expected e.g. 12h, 1d, 7d)"
        ))
    })
}

fn plan(
    args: &StressArgs,
    sc: &crate::scenario::Scenario,
    p: &crate::prepare::Prepared,
    jobs: &[Job],
) -> Result<Plan> {
    let m = &p.market;
    let where_ = args.scenario.display();
    if m.len() < 3 {
        return Err(bad_input(format!(
            "{where_}: the market has {} bars; a stress test needs at least 3",
            m.len()
        )));
    }
    let tf = m.timeframe_ms;
    let (method, paths, text) = match args.method.as_str() {
        "block-bootstrap" => {
            let Some(n) = args.paths else {
                return Err(bad_input(
                    "--paths: the block bootstrap needs a number of paths, e.g. --paths 1000",
                ));
            };
            if n == 0 {
                return Err(bad_input("--paths: must be at least 1"));
            }
            let block_ms = duration("--block", &args.block)?;
            if block_ms < tf {
                return Err(bad_input(format!(
                    "--block: {} is shorter than one bar ({})",
                    args.block,
                    ringfence_model::time::timeframe_label(tf)
                )));
            }
            let bars = (block_ms / tf) as usize;
            ringfence_paths::bootstrap_pool(m).map_err(|e| bad_input(format!("{where_}: {e}")))?;
            let text = format!(
                "stationary block bootstrap of the joint moves of {} symbols (last, mark, funding), mean block {} ({bars} bars), seed {}",
                m.series.len(),
                args.block,
                args.seed
            );
            (
                Method::BlockBootstrap {
                    mean_block_bars: bars,
                    block: args.block.clone(),
                    seed: args.seed,
                },
                n,
                text,
            )
        }
        "crash-transplant" => {
            let Some(w) = &args.window else {
                return Err(bad_input(
                    "--window: crash-transplant needs the crash window, e.g. --window 2025-10-10T18:00..2025-10-11T06:00",
                ));
            };
            let Some((a, b)) = w.split_once("..") else {
                return Err(bad_input(format!(
                    "--window: {w:?} is not START..END (e.g. 2025-10-10T18:00..2025-10-11T06:00)"
                )));
            };
            let (ta, tb) = (parse_time("--window", a)?, parse_time("--window", b)?);
            let (wa, wb) = (m.bar_at_or_after(ta), m.bar_at_or_after(tb));
            if wa == 0 || wb <= wa {
                return Err(bad_input(format!(
                    "--window: {w} holds no bar after the first bar of the market ({} to {})",
                    iso(m.times[0]),
                    iso(*m.times.last().unwrap_or(&m.times[0]))
                )));
            }
            let every = duration("--every", &args.every)?;
            if every < tf {
                return Err(bad_input(format!(
                    "--every: {} is shorter than one bar",
                    args.every
                )));
            }
            let mut targets = transplant_targets(m.len(), wa, wb - wa, (every / tf) as usize);
            if let Some(n) = args.paths {
                targets.truncate(n as usize);
            }
            if targets.is_empty() {
                return Err(bad_input(format!(
                    "--window: a window of {} bars fits nowhere in the market's {} bars",
                    wb - wa,
                    m.len()
                )));
            }
            let text = format!(
                "crash transplant: the moves of {} to {} ({} bars) placed every {} ({} placements)",
                iso(m.times[wa]),
                iso(m.times[wb - 1] + tf),
                wb - wa,
                args.every,
                targets.len()
            );
            let n = targets.len() as u64;
            (
                Method::CrashTransplant {
                    window: (wa, wb),
                    window_iso: (iso(m.times[wa]), iso(m.times[wb - 1] + tf)),
                    targets,
                    every: args.every.clone(),
                },
                n,
                text,
            )
        }
        other => {
            return Err(bad_input(format!(
                "--method: unknown method {other:?}; expected block-bootstrap or crash-transplant"
            )));
        }
    };
    let infos: Vec<JobInfo> = jobs
        .iter()
        .map(|j| JobInfo {
            name: j.name.clone(),
            account: j.account.name.clone(),
            policy: j.policy.name.clone(),
            params: params_text(&j.params),
        })
        .collect();
    let pairs = pairs(&args.pairs, jobs, &infos)?;
    let end = m.times[m.len() - 1] + tf;
    let k = FAN_POINTS.min(m.len()).max(2) as i64;
    let fan_times = (0..k)
        .map(|i| m.times[0] + (end - m.times[0]) * i / (k - 1))
        .collect();
    let mut assumptions = sc.engine.assumptions(m, &p.brackets);
    if let Some(d) = &sc.description {
        assumptions.insert(0, ("Scenario".to_string(), d.clone()));
    }
    assumptions.extend([
        ("Paths".to_string(), "Each path is the history rebuilt from other bars' joint moves (open, high, low, close and mark over the previous close, volume, the prevailing funding rate), all symbols from the same source bar; each symbol's first bar is kept".to_string()),
        ("Lower timeframe".to_string(), "Paths carry no lower-timeframe bars: intrabar refinement does not apply; the intrabar model runs on the main bars".to_string()),
        ("Signals on a path".to_string(), "A call's entry, stop, targets and ladder are moved by the ratio of the path's close to the history's close at the last bar closed before the call (distances in percent kept)".to_string()),
        ("Wipeout".to_string(), "A path is a wipeout for a run when the account's equity reached zero on it: at a liquidation, or anywhere on its equity curve".to_string()),
        ("Liquidation band".to_string(), "Not computed on paths: liquidations are counted under the scenario's intrabar model".to_string()),
    ]);
    Ok(Plan {
        title: sc.name.clone(),
        generated_by: format!("ringfence {}", env!("CARGO_PKG_VERSION")),
        method,
        method_text: text,
        paths,
        jobs: infos,
        pairs,
        fan_times,
        assumptions,
    })
}

fn params_text(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// (cross, isolated) job pairs on the same account and sweep point: the named pairs, or every
/// cross policy with every isolated one.
fn pairs(wanted: &[String], jobs: &[Job], infos: &[JobInfo]) -> Result<Vec<(usize, usize)>> {
    let mut named: Vec<(String, String)> = Vec::new();
    for w in wanted {
        let Some((c, i)) = w.split_once(':') else {
            return Err(bad_input(format!(
                "--pair: {w:?} is not CROSS:ISOLATED (two policy names)"
            )));
        };
        for name in [c, i] {
            if !infos.iter().any(|j| j.policy == name) {
                let mut names: Vec<&str> = infos.iter().map(|j| j.policy.as_str()).collect();
                names.dedup();
                return Err(bad_input(format!(
                    "--pair: no policy {name:?} in the scenario (policies: {})",
                    names.join(", ")
                )));
            }
        }
        named.push((c.to_string(), i.to_string()));
    }
    let mut out = Vec::new();
    for (a, ja) in jobs.iter().enumerate() {
        for (b, jb) in jobs.iter().enumerate() {
            let same = infos[a].account == infos[b].account && infos[a].params == infos[b].params;
            let wanted = if named.is_empty() {
                // A cross policy is compared with the isolated policy named like it (`cross-x`
                // with `isolated-x`) when there is one, else with every isolated policy.
                let twin = infos[a].policy.replacen("cross", "isolated", 1);
                let has_twin = infos[a].policy != twin
                    && jobs
                        .iter()
                        .zip(infos)
                        .any(|(j, i)| i.policy == twin && j.policy.mode == ModeRule::Isolated);
                ja.policy.mode == ModeRule::Cross
                    && jb.policy.mode == ModeRule::Isolated
                    && (!has_twin || infos[b].policy == twin)
            } else {
                named
                    .iter()
                    .any(|(c, i)| *c == infos[a].policy && *i == infos[b].policy)
            };
            if same && wanted && a != b {
                out.push((a, b));
            }
        }
    }
    Ok(out)
}

/// One run on one path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Path number.
    pub path: u64,
    /// Job index.
    pub job: u32,
    /// What it ended with.
    pub outcome: PathOutcome,
}

fn f64_of(d: rust_decimal::Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// What one run ended with, as the distributions count it (the lowest equity from its curve).
pub fn outcome_of(r: &ringfence_model::RunResult) -> PathOutcome {
    let s = &r.summary;
    let start = f64_of(s.start_equity);
    PathOutcome {
        start_equity: start,
        final_equity: f64_of(s.final_equity),
        max_drawdown_pct: s.max_drawdown_pct,
        liquidations: s.liquidations,
        wipeouts: s.wipeouts,
        min_equity: r.equity.iter().map(|p| p.equity).fold(start, f64::min),
        cascades: s.cascades,
    }
}

/// The distribution of `outcomes` as a report row named `run`, `account`, `policy`, `params`.
pub fn distribution_row(
    run: &str,
    account: &str,
    policy: &str,
    params: &str,
    outcomes: &[PathOutcome],
) -> StressRow {
    let d = distribution(outcomes);
    StressRow {
        run: run.to_string(),
        account: account.to_string(),
        policy: policy.to_string(),
        params: params.to_string(),
        paths: d.paths,
        wipeouts: d.wipeouts,
        p_wipeout: d.p_wipeout,
        p_wipeout_low: d.p_wipeout_ci.0,
        p_wipeout_high: d.p_wipeout_ci.1,
        p_liquidated: d.p_liquidated,
        mean_liquidations: d.mean_liquidations,
        max_drawdown_median: d.max_drawdown_median,
        max_drawdown_p95: d.max_drawdown_p95,
        start_equity: outcomes.first().map_or(f64::NAN, |x| x.start_equity),
        final_p05: d.final_equity[0],
        final_median: d.final_equity[1],
        final_p95: d.final_equity[2],
        final_mean: d.final_equity_mean,
    }
}

/// Runs `paths` (in chunks, folded in path order): one record per path and job, and the fan
/// histograms of every job.
fn run_paths(
    p: &crate::prepare::Prepared,
    jobs: &[Job],
    cfg: &ringfence_sim::EngineConfig,
    plan: &Plan,
    paths: Range<u64>,
    threads: Option<usize>,
) -> Result<(Vec<Record>, Vec<FanHistogram>)> {
    use rayon::prelude::*;
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let pool = builder
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start worker threads: {e}"))?;
    let mut fans: Vec<FanHistogram> = (0..jobs.len())
        .map(|_| FanHistogram::new(plan.fan_times.len()))
        .collect();
    let mut records = Vec::with_capacity((paths.end - paths.start) as usize * jobs.len());
    let all: Vec<u64> = paths.collect();
    for chunk in all.chunks(CHUNK) {
        let done: Vec<Result<PathRuns>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|&k| one_path(p, jobs, cfg, plan, k))
                .collect()
        });
        for (&k, runs) in chunk.iter().zip(done) {
            for (j, (outcome, ratios)) in runs?.into_iter().enumerate() {
                fans[j].add(&ratios);
                records.push(Record {
                    path: k,
                    job: j as u32,
                    outcome,
                });
            }
        }
    }
    Ok((records, fans))
}

/// Every run of one path: its outcome and its equity ratios at the fan-chart times.
type PathRuns = Vec<(PathOutcome, Vec<f64>)>;

fn one_path(
    p: &crate::prepare::Prepared,
    jobs: &[Job],
    cfg: &ringfence_sim::EngineConfig,
    plan: &Plan,
    k: u64,
) -> Result<PathRuns> {
    let market = match &plan.method {
        Method::BlockBootstrap {
            mean_block_bars,
            seed,
            ..
        } => block_bootstrap(&p.market, *mean_block_bars, *seed, k),
        Method::CrashTransplant {
            window, targets, ..
        } => crash_transplant(&p.market, window.0..window.1, targets[k as usize]),
    }
    .map_err(|e| bad_input(format!("path {k}: {e}")))?;
    let signals = rescale_signals(&p.signals, &p.market, &market);
    // every job replays this path's market: they share its range index
    let ranges = ringfence_sim::RangeIndex::for_replays(&market, jobs.len());
    jobs.iter()
        .map(|j| {
            let r = ringfence_sim::simulate_in(
                &ranges,
                &p.brackets,
                &signals,
                &j.account,
                &j.policy,
                cfg,
            )
            .with_context(|| format!("path {k}, run {}", j.name))?;
            let outcome = outcome_of(&r);
            let curve: Vec<(i64, f64)> = r.equity.iter().map(|e| (e.time, e.equity)).collect();
            Ok((
                outcome,
                ratios_at(&curve, outcome.start_equity, &plan.fan_times),
            ))
        })
        .collect()
}

/// The report's plain records from the per-path records and fan histograms.
pub fn section(plan: &Plan, records: &[Record], fans: &[FanHistogram]) -> StressSection {
    let per_job: Vec<Vec<PathOutcome>> = (0..plan.jobs.len())
        .map(|j| {
            records
                .iter()
                .filter(|r| r.job as usize == j)
                .map(|r| r.outcome)
                .collect()
        })
        .collect();
    let rows = plan
        .jobs
        .iter()
        .zip(&per_job)
        .map(|(j, o)| distribution_row(&j.name, &j.account, &j.policy, &j.params, o))
        .collect();
    let pairs = plan
        .pairs
        .iter()
        .map(|&(c, i)| {
            let p = paired(&per_job[c], &per_job[i]);
            PairRow {
                account: plan.jobs[c].account.clone(),
                params: plan.jobs[c].params.clone(),
                cross: plan.jobs[c].policy.clone(),
                isolated: plan.jobs[i].policy.clone(),
                paths: p.paths,
                wipeout_diff: p.wipeout_diff,
                wipeout_diff_low: p.wipeout_diff_ci.0,
                wipeout_diff_high: p.wipeout_diff_ci.1,
                only_cross_wiped: p.only_a_wiped,
                only_isolated_wiped: p.only_b_wiped,
                final_diff_p05: p.final_diff[0],
                final_diff_median: p.final_diff[1],
                final_diff_p95: p.final_diff[2],
                final_diff_mean: p.final_diff_mean.0,
                final_diff_mean_low: p.final_diff_mean.1,
                final_diff_mean_high: p.final_diff_mean.2,
                cross_lower_share: p.a_lower_share,
            }
        })
        .collect();
    let fans = plan
        .jobs
        .iter()
        .zip(fans)
        .zip(&per_job)
        .map(|((j, h), o)| {
            let start = o.first().map_or(f64::NAN, |x| x.start_equity);
            let q =
                |q: f64| -> Vec<f64> { (0..h.points).map(|p| h.quantile(p, q) * start).collect() };
            Fan {
                run: j.name.clone(),
                account: j.account.clone(),
                policy: j.policy.clone(),
                params: j.params.clone(),
                times: plan.fan_times.clone(),
                quantiles: [q(0.05), q(0.25), q(0.5), q(0.75), q(0.95)],
            }
        })
        .collect();
    StressSection {
        title: plan.title.clone(),
        generated_by: plan.generated_by.clone(),
        method: plan.method_text.clone(),
        paths: plan.paths,
        rows,
        pairs,
        fans,
        assumptions: plan.assumptions.clone(),
    }
}

/// Writes every stress output into `dir`: `stress_summary.csv`, `stress_paired.csv`,
/// `stress_paths.csv` (+ Parquet), `stress_fan.csv`, `stress.json` and (unless `no_report`) the
/// report. `run` and `merge` both call it.
pub fn write_outputs(
    dir: &Path,
    plan: &Plan,
    records: &[Record],
    fans: &[FanHistogram],
    no_report: bool,
) -> Result<StressSection> {
    let s = section(plan, records, fans);
    tables::write_csv(
        &dir.join("stress_summary.csv"),
        &tables::stress_rows(),
        &s.rows,
    )?;
    tables::write_csv(
        &dir.join("stress_paired.csv"),
        &tables::stress_pairs(),
        &s.pairs,
    )?;
    let rows: Vec<PathRow> = records
        .iter()
        .map(|r| PathRow {
            path: r.path,
            job: &plan.jobs[r.job as usize],
            outcome: r.outcome,
        })
        .collect();
    tables::write_csv(
        &dir.join("stress_paths.csv"),
        &tables::stress_paths(),
        &rows,
    )?;
    tables::write_parquet_batched(
        &dir.join("stress_paths.parquet"),
        &tables::stress_paths(),
        &rows,
        PARQUET_BATCH,
    )?;
    let fan_rows: Vec<FanRow> = s
        .fans
        .iter()
        .flat_map(|f| (0..f.times.len()).map(move |i| FanRow { fan: f, i }))
        .collect();
    tables::write_csv(
        &dir.join("stress_fan.csv"),
        &tables::stress_fan(),
        &fan_rows,
    )?;
    write_json(
        &dir.join("stress.json"),
        &serde_json::json!({"plan": plan, "distribution": s.rows, "paired": s.pairs}),
    )?;
    if !no_report {
        ringfence_report::stress::write_stress_report(&s, dir)
            .with_context(|| format!("cannot write the stress report into {}", dir.display()))?;
    }
    Ok(s)
}

fn write_shard(dir: &Path, records: &[Record], fans: &[FanHistogram]) -> Result<()> {
    let i = |f: fn(&Record) -> i64| TableColumn::I64(records.iter().map(f).collect());
    let x = |f: fn(&Record) -> f64| TableColumn::F64(records.iter().map(f).collect());
    let cols = vec![
        ("path".to_string(), i(|r| r.path as i64)),
        ("job".to_string(), i(|r| i64::from(r.job))),
        ("start_equity".to_string(), x(|r| r.outcome.start_equity)),
        ("final_equity".to_string(), x(|r| r.outcome.final_equity)),
        (
            "max_drawdown_pct".to_string(),
            x(|r| r.outcome.max_drawdown_pct),
        ),
        (
            "liquidations".to_string(),
            i(|r| i64::from(r.outcome.liquidations)),
        ),
        ("wipeouts".to_string(), i(|r| i64::from(r.outcome.wipeouts))),
        ("min_equity".to_string(), x(|r| r.outcome.min_equity)),
        ("cascades".to_string(), i(|r| i64::from(r.outcome.cascades))),
    ];
    ringfence_data::tables::write_parquet(&dir.join("outcomes.parquet"), cols)?;
    let (mut job, mut point, mut bin, mut count) = (vec![], vec![], vec![], vec![]);
    for (j, h) in fans.iter().enumerate() {
        for (k, &c) in h.counts.iter().enumerate() {
            if c > 0 {
                job.push(j as i64);
                point.push((k / FanHistogram::BINS) as i64);
                bin.push((k % FanHistogram::BINS) as i64);
                count.push(c as i64);
            }
        }
    }
    ringfence_data::tables::write_parquet(
        &dir.join("fan.parquet"),
        vec![
            ("job".into(), TableColumn::I64(job)),
            ("point".into(), TableColumn::I64(point)),
            ("bin".into(), TableColumn::I64(bin)),
            ("count".into(), TableColumn::I64(count)),
        ],
    )?;
    Ok(())
}

fn columns(path: &Path, want: &[&str]) -> Result<Vec<TableColumn>> {
    let mut cols = ringfence_data::tables::read_parquet(path)?;
    want.iter()
        .map(|w| {
            let k = cols
                .iter()
                .position(|(n, _)| n == w)
                .ok_or_else(|| bad_input(format!("{}: column {w} missing", path.display())))?;
            Ok(cols.swap_remove(k).1)
        })
        .collect()
}

fn ints(c: TableColumn, path: &Path) -> Result<Vec<i64>> {
    match c {
        TableColumn::I64(v) => Ok(v),
        _ => Err(bad_input(format!(
            "{}: an integer column is not integer",
            path.display()
        ))),
    }
}

fn floats(c: TableColumn, path: &Path) -> Result<Vec<f64>> {
    match c {
        TableColumn::F64(v) => Ok(v),
        _ => Err(bad_input(format!(
            "{}: a float column is not float",
            path.display()
        ))),
    }
}

/// Merges stress shards (already checked to be one complete set) into `out`.
pub fn merge(shards: &[(PathBuf, Manifest)], out: &Path, no_report: bool) -> Result<PathBuf> {
    let plan: Plan = serde_json::from_value(shards[0].1.settings.clone())
        .map_err(|e| bad_input(format!("{}: shard.json: {e}", shards[0].0.display())))?;
    let mut records = Vec::new();
    let mut fans: Vec<FanHistogram> = (0..plan.jobs.len())
        .map(|_| FanHistogram::new(plan.fan_times.len()))
        .collect();
    let mut next = 0usize;
    for (dir, m) in shards {
        if m.range.0 != next {
            return Err(bad_input(format!(
                "{}: shard {} starts at path {} but the previous shard ended at {next}",
                dir.display(),
                m.shard.index,
                m.range.0
            )));
        }
        next = m.range.1;
        let path = dir.join("outcomes.parquet");
        let cols = columns(
            &path,
            &[
                "path",
                "job",
                "start_equity",
                "final_equity",
                "max_drawdown_pct",
                "liquidations",
                "wipeouts",
                "min_equity",
                "cascades",
            ],
        )?;
        let Ok([pth, job, se, fe, dd, lq, wp, me, cs]) = <[TableColumn; 9]>::try_from(cols) else {
            return Err(bad_input(format!("{}: wrong columns", path.display())));
        };
        let (pth, job) = (ints(pth, &path)?, ints(job, &path)?);
        let (se, fe, dd) = (floats(se, &path)?, floats(fe, &path)?, floats(dd, &path)?);
        let (lq, wp, cs) = (ints(lq, &path)?, ints(wp, &path)?, ints(cs, &path)?);
        let me = floats(me, &path)?;
        let want = (m.range.1 - m.range.0) * plan.jobs.len();
        if pth.len() != want {
            return Err(bad_input(format!(
                "{}: {} records, expected {want} ({} paths × {} runs); the shard is incomplete",
                path.display(),
                pth.len(),
                m.range.1 - m.range.0,
                plan.jobs.len()
            )));
        }
        for k in 0..pth.len() {
            let job_k = job[k] as usize;
            if job_k >= plan.jobs.len() {
                return Err(bad_input(format!(
                    "{}: row {}: no job {job_k}",
                    path.display(),
                    k + 1
                )));
            }
            records.push(Record {
                path: pth[k] as u64,
                job: job_k as u32,
                outcome: PathOutcome {
                    start_equity: se[k],
                    final_equity: fe[k],
                    max_drawdown_pct: dd[k],
                    liquidations: lq[k] as u32,
                    wipeouts: wp[k] as u32,
                    min_equity: me[k],
                    cascades: cs[k] as u32,
                },
            });
        }
        let fpath = dir.join("fan.parquet");
        let cols = columns(&fpath, &["job", "point", "bin", "count"])?;
        let Ok([j, p, b, n]) = <[TableColumn; 4]>::try_from(cols) else {
            return Err(bad_input(format!("{}: wrong columns", fpath.display())));
        };
        let (j, p) = (ints(j, &fpath)?, ints(p, &fpath)?);
        let (b, n) = (ints(b, &fpath)?, ints(n, &fpath)?);
        for k in 0..j.len() {
            let (jj, pp, bb) = (j[k] as usize, p[k] as usize, b[k] as usize);
            if jj >= fans.len() || pp >= plan.fan_times.len() || bb >= FanHistogram::BINS {
                return Err(bad_input(format!(
                    "{}: row {} out of range",
                    fpath.display(),
                    k + 1
                )));
            }
            fans[jj].counts[pp * FanHistogram::BINS + bb] += n[k] as u64;
        }
    }
    let staging = Staging::new(out)?;
    let section = write_outputs(staging.dir(), &plan, &records, &fans, no_report)?;
    let dest = staging.commit()?;
    print_summary(&section);
    Ok(dest)
}

fn print_summary(s: &StressSection) {
    let w = s.rows.iter().map(|r| r.run.len()).max().unwrap_or(3).max(3);
    println!(
        "{:<w$}  {:>9}  {:>15}  {:>9}  {:>12}  {:>12}  {:>12}",
        "run", "P(wipe)", "95% interval", "liq/path", "final p5", "final median", "final p95"
    );
    for r in &s.rows {
        println!(
            "{:<w$}  {:>8.1}%  {:>6.1}% – {:>5.1}%  {:>9.2}  {:>12.2}  {:>12.2}  {:>12.2}",
            r.run,
            100.0 * r.p_wipeout,
            100.0 * r.p_wipeout_low,
            100.0 * r.p_wipeout_high,
            r.mean_liquidations,
            r.final_p05,
            r.final_median,
            r.final_p95
        );
    }
    for p in &s.pairs {
        let at = if p.params.is_empty() {
            p.account.clone()
        } else {
            format!("{} {}", p.account, p.params)
        };
        println!(
            "{at} {} − {}: ΔP(wipe) {:+.1} pp ({:+.1} – {:+.1}), median Δ final {:.2}",
            p.cross,
            p.isolated,
            100.0 * p.wipeout_diff,
            100.0 * p.wipeout_diff_low,
            100.0 * p.wipeout_diff_high,
            p.final_diff_median
        );
    }
}
