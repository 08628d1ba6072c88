//! The one pipeline both `run` and `checklist` follow: scenario → prepared inputs → runs →
//! checklist. Commands call these steps and only decide what to write and print.

use crate::prepare::{Prepared, prepare};
use crate::scenario::{self, Job, Scenario};
use crate::timings::Timings;
use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ringfence_model::RunResult;
use ringfence_report::checklist::{self as plain, ChecklistSection};
use ringfence_sim::{
    ChannelSummary, ChecklistConfig, ChecklistRow, EngineConfig, Intrabar, MarketStats, ModeRule,
    SimError, add_cascade_victims, annotate_book_exposure, channel_summaries_of,
};
use std::collections::BTreeSet;
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

/// Runs `jobs` on `threads` workers; results in job order (named after their jobs), identical for
/// any thread count. A progress bar appears on stderr when the runs take longer than a second and
/// stderr is a terminal.
pub fn run_jobs(
    p: &Prepared,
    jobs: &[Job],
    cfg: &EngineConfig,
    threads: Option<usize>,
) -> Result<Vec<RunResult>> {
    let mut results = Vec::with_capacity(jobs.len());
    stream_jobs(p, jobs, cfg, threads, &Timings::default(), |_, r| {
        results.push(r);
        Ok(())
    })?;
    Ok(results)
}

/// Runs `jobs` on `threads` workers and hands each finished run (named after its job, annotated
/// with the book's correlation and exposure) to `sink` in job order as soon as it and every job
/// before it are done ([`ringfence_sim::run_each`]): at most `2 × threads` runs are held at once, so
/// a sink that writes each run and keeps only what it needs keeps memory flat in the number of
/// runs. The engine's and the annotation's time go to `timings` (`simulate`, `annotate`). A
/// progress bar appears on stderr when the runs take longer than a second and stderr is a
/// terminal.
pub fn stream_jobs(
    p: &Prepared,
    jobs: &[Job],
    cfg: &EngineConfig,
    threads: Option<usize>,
    timings: &Timings,
    mut sink: impl FnMut(usize, RunResult) -> Result<()>,
) -> Result<()> {
    let bar = ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let shown = AtomicBool::new(false);
    let tty = std::io::stderr().is_terminal();
    let tick = || {
        bar.inc(1);
        if tty && start.elapsed().as_secs_f64() > 1.0 && !shown.swap(true, Ordering::Relaxed) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    };
    let pairs: Vec<_> = jobs.iter().map(|j| (&j.account, &j.policy)).collect();
    let stats = timings.time("prepare", || {
        MarketStats::new(&p.market, cfg.correlation_window)
    });
    let started = Instant::now();
    let result = ringfence_sim::run_each(
        &stats,
        &p.brackets,
        &p.signals,
        &pairs,
        cfg,
        threads,
        |_, simulate| {
            let mut r = timings.time("simulate", simulate)?;
            timings.time("annotate", || annotate_book_exposure(&stats, &mut r));
            tick();
            Ok(r)
        },
        |i, mut r| {
            r.run = jobs[i].name.clone();
            r.params = jobs[i].params.clone();
            sink(i, r)
        },
    );
    bar.finish_and_clear();
    timings.sweep(jobs.len(), started.elapsed());
    result.map_err(|e| match e.downcast::<SimError>() {
        Ok(SimError::Job { index, error }) => {
            anyhow::Error::new(*error).context(format!("run {}", jobs[index].name))
        }
        Ok(e @ SimError::ThreadPool { .. }) => {
            anyhow::Error::new(e).context("cannot start worker threads")
        }
        Ok(e) => anyhow::Error::new(e),
        Err(e) => e,
    })
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
    let rows = checklist_rows(sc, p, job, book, cfg)?;
    Ok(Checked::new(rows, jobs, runs))
}

/// The rows of the checklist of `job`'s calls against its run `book` (at full resolution: the
/// equity at each call is read from it). [`Checked::new`] completes them once every run is done.
pub fn checklist_rows(
    sc: &Scenario,
    p: &Prepared,
    job: &Job,
    book: &RunResult,
    cfg: &ChecklistConfig,
) -> Result<Vec<ChecklistRow>> {
    ringfence_sim::checklist(
        &p.market,
        &p.brackets,
        &p.signals,
        &job.account,
        &job.policy,
        &sc.engine,
        book,
        cfg,
    )
    .with_context(|| format!("checklist of {}", job.name))
}

/// True when `job`'s run is one whose cascade victims the checklist of `first`'s calls counts:
/// a cross run of the same account.
pub fn counts_cascades_for(job: &Job, first: &Job) -> bool {
    job.account.name == first.account.name && job.policy.mode == ModeRule::Cross
}

impl<'a> Checked<'a> {
    /// The checklist of `jobs[0]`'s calls from its `rows`, with one summary per channel whose
    /// cascade victims are counted in the runs of the same account whose policy is cross. `jobs`
    /// and `runs` are in the same order; `jobs` is not empty.
    pub fn new(rows: Vec<ChecklistRow>, jobs: &'a [Job], runs: &'a [RunResult]) -> Self {
        let job = &jobs[0];
        let mut victims = BTreeSet::new();
        let mut cross_runs = Vec::new();
        for (_, r) in jobs
            .iter()
            .zip(runs)
            .filter(|(j, _)| counts_cascades_for(j, job))
        {
            add_cascade_victims(r, &mut victims);
            cross_runs.push(r.run.as_str());
        }
        Self::from_victims(rows, job, &victims, cross_runs)
    }

    /// The checklist of `job`'s calls from its `rows`, with the cascade victims gathered from the
    /// cross runs of its account ([`add_cascade_victims`]) as the runs finished.
    pub fn from_victims(
        rows: Vec<ChecklistRow>,
        job: &'a Job,
        victims: &BTreeSet<String>,
        cross_runs: Vec<&'a str>,
    ) -> Self {
        let channels = channel_summaries_of(&rows, victims, cross_runs.len());
        Checked {
            job,
            rows,
            channels,
            cross_runs,
        }
    }

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
