//! The one pipeline both `run` and `checklist` follow: scenario → prepared inputs → runs →
//! checklist. Commands call these steps and only decide what to write and print.

use crate::prepare::{Prepared, prepare};
use crate::scenario::{self, Job, Scenario};
use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ringfence_model::RunResult;
use ringfence_report::checklist::{self as plain, ChecklistSection};
use ringfence_sim::{
    ChannelSummary, ChecklistConfig, ChecklistRow, EngineConfig, Intrabar, ModeRule, SimError,
    channel_summaries,
};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A scenario read and resolved, its inputs loaded and checked, and its jobs.
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Its signals, market and brackets.
    pub prepared: Prepared,
    /// Every account × policy × sweep point, in the scenario's order.
    pub jobs: Vec<Job>,
}

/// Reads the scenario at `path` (with `intrabar`, when given, overriding its model), loads and
/// checks everything it reads, and lists its jobs.
pub fn load(path: &Path, intrabar: Option<Intrabar>) -> Result<Loaded> {
    let mut scenario = scenario::load(path)?;
    if let Some(m) = intrabar {
        scenario.engine.intrabar = m;
    }
    let prepared = prepare(&scenario)?;
    let jobs = scenario.jobs()?;
    Ok(Loaded {
        scenario,
        prepared,
        jobs,
    })
}

/// Runs `jobs` with [`ringfence_sim::run_all`] on `threads` workers; results in job order (named
/// after their jobs), identical for any thread count. A progress bar appears on stderr when the
/// runs take longer than a second and stderr is a terminal.
pub fn run_jobs(
    p: &Prepared,
    jobs: &[Job],
    cfg: &EngineConfig,
    threads: Option<usize>,
) -> Result<Vec<RunResult>> {
    let bar = ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let shown = AtomicBool::new(false);
    let tty = std::io::stderr().is_terminal();
    let tick = |_: usize| {
        bar.inc(1);
        if tty && start.elapsed().as_secs_f64() > 1.0 && !shown.swap(true, Ordering::Relaxed) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    };
    let pairs: Vec<_> = jobs
        .iter()
        .map(|j| (j.account.clone(), j.policy.clone()))
        .collect();
    let results = ringfence_sim::run_all(
        &p.market,
        &p.brackets,
        &p.signals,
        &pairs,
        cfg,
        threads,
        tick,
    );
    bar.finish_and_clear();
    let results = results.map_err(|e| match e {
        SimError::Job { index, error } => {
            anyhow::Error::new(*error).context(format!("run {}", jobs[index].name))
        }
        SimError::ThreadPool { .. } => anyhow::Error::new(e).context("cannot start worker threads"),
        e => anyhow::Error::new(e),
    })?;
    Ok(jobs
        .iter()
        .zip(results)
        .map(|(job, mut r)| {
            r.run = job.name.clone();
            r.params = job.params.clone();
            r
        })
        .collect())
}

/// The checklist's thresholds for a scenario (defaults, its correlation window).
pub fn default_checklist_config(sc: &Scenario) -> ChecklistConfig {
    ChecklistConfig {
        correlation_window: sc.correlation_window,
        ..ChecklistConfig::default()
    }
}

/// The pre-signal checklist of one job's calls.
pub struct Checked<'a> {
    /// The job whose account, policy and book the calls were checked against.
    pub job: &'a Job,
    /// One row per `open` call, in time order.
    pub rows: Vec<ChecklistRow>,
    /// One summary per channel.
    pub channels: Vec<ChannelSummary>,
    /// The runs of the job's account whose policy is cross (where cascade victims are counted).
    pub cross_runs: Vec<&'a str>,
}

/// The checklist of `jobs[0]`'s calls against its run `runs[0]`; cascade victims are counted in
/// the runs of the same account whose policy is cross. `jobs` and `runs` are in the same order.
pub fn checklist<'a>(
    sc: &Scenario,
    p: &Prepared,
    jobs: &'a [Job],
    runs: &'a [RunResult],
    cfg: &ChecklistConfig,
) -> Result<Checked<'a>> {
    let (Some(job), Some(book)) = (jobs.first(), runs.first()) else {
        return Err(anyhow!("no run to check the calls against"));
    };
    let cross: Vec<&RunResult> = jobs
        .iter()
        .zip(runs)
        .filter(|(j, _)| j.account.name == job.account.name && j.policy.mode == ModeRule::Cross)
        .map(|(_, r)| r)
        .collect();
    let rows = ringfence_sim::checklist(
        &p.market,
        &p.brackets,
        &p.signals,
        &job.account,
        &job.policy,
        &sc.engine,
        book,
        cfg,
    )
    .with_context(|| format!("checklist of {}", job.name))?;
    let channels = channel_summaries(&rows, &cross);
    Ok(Checked {
        job,
        rows,
        channels,
        cross_runs: cross.iter().map(|r| r.run.as_str()).collect(),
    })
}

impl Checked<'_> {
    /// The checklist as the report shows it: plain rows.
    pub fn section(&self) -> ChecklistSection {
        ChecklistSection {
            run: self.job.name.clone(),
            channels: self.channels.clone(),
            calls: self
                .rows
                .iter()
                .map(|r| plain::CheckedCall {
                    signal_id: r.signal_id.clone(),
                    time: r.time,
                    time_iso: r.time_iso.clone(),
                    symbol: r.symbol.clone(),
                    side: r.side,
                    reference_price: r.reference_price,
                    stop: r.stop,
                    leverage: r.leverage,
                    liq_price: r.liq_price,
                    stop_distance_pct: r.stop_distance_pct,
                    liq_distance_pct: r.liq_distance_pct,
                    max_safe_leverage: r.max_safe_leverage,
                    max_book_correlation: r.max_book_correlation,
                    margin_share: r.margin_share,
                    funding_headwind_pct: r.funding_headwind_pct,
                    tier: r.tier,
                    adl_quantile_at_target: r.adl_quantile_at_target,
                    adl_first_margin_share: r.adl_first_margin_share,
                    verdict: r.verdict,
                    reasons: r.reasons.clone(),
                    notes: r.notes.clone(),
                })
                .collect(),
        }
    }
}
