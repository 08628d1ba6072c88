//! `ringfence checklist <scenario.toml>`: the pre-signal checklist (DESIGN.md §9) of every `open`
//! call, against one account × policy, printed as a table and written as `checklist.csv` and
//! `checklist.json` (the report's checklist section is rendered by `ringfence_report::checklist`).
//!
//! The book each call meets is the backtest of the chosen account × policy (the first sweep point);
//! the cascade-victim share of the channel line comes from the account's `cross` runs. The checks
//! and the verdict rules are documented in `ringfence_sim::checklist`; the thresholds are flags here
//! (the report uses their defaults).

use crate::exit::bad_input;
use crate::outputs::write_json;
use crate::pipeline::{self, Loaded};
use crate::prepare::shown;
use crate::scenario::{Job, Scenario};
use crate::tables;
use anyhow::{Context, Result};
use clap::Args;
use ringfence_report::checklist::{channel_line, text_table};
use ringfence_sim::{ChannelSummary, ChecklistConfig, ChecklistRow, ModeRule};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `ringfence checklist`.
#[derive(Debug, Args)]
pub struct ChecklistArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Account to check against (default: the scenario's first).
    #[arg(long)]
    pub account: Option<String>,
    /// Policy to check against (default: the scenario's first; its first sweep point).
    #[arg(long)]
    pub policy: Option<String>,
    /// Output directory (default: the scenario's output directory + `/checklist`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Gap, in % of price, the stop must keep ahead of the liquidation price for a leverage to count
    /// as safe.
    #[arg(long, default_value_t = 0.5)]
    pub buffer: f64,
    /// Directional correlation with the open book or non-stable collateral above which a call is
    /// advised isolated.
    #[arg(long, default_value_t = 0.6)]
    pub max_correlation: f64,
    /// Funding headwind over the expected hold, as a share of the stop distance, above which a call
    /// is advised skipped.
    #[arg(long, default_value_t = 0.5)]
    pub max_funding_share: f64,
    /// Worker threads for the backtests the checklist reads its book from.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// What `checklist.json` holds.
#[derive(Debug, Serialize)]
struct ChecklistFile<'a> {
    scenario: &'a str,
    account: &'a str,
    policy: &'a str,
    run: &'a str,
    cross_runs: Vec<&'a str>,
    config: ConfigOut,
    channels: &'a [ChannelSummary],
    rows: &'a [ChecklistRow],
}

#[derive(Debug, Serialize)]
struct ConfigOut {
    stop_buffer: f64,
    correlation_window: usize,
    max_correlation: f64,
    max_funding_share: f64,
    max_margin_share: f64,
    min_volatile_share: f64,
    default_hold_hours: f64,
    near_next_tier: f64,
}

impl From<&ChecklistConfig> for ConfigOut {
    fn from(c: &ChecklistConfig) -> Self {
        ConfigOut {
            stop_buffer: c.stop_buffer,
            correlation_window: c.correlation_window,
            max_correlation: c.max_correlation,
            max_funding_share: c.max_funding_share,
            max_margin_share: c.max_margin_share,
            min_volatile_share: c.min_volatile_share,
            default_hold_hours: c.default_hold_ms as f64 / 3_600_000.0,
            near_next_tier: c.near_next_tier,
        }
    }
}

/// Runs the command.
pub fn run(args: ChecklistArgs) -> Result<()> {
    if !(args.buffer.is_finite() && args.buffer >= 0.0) {
        return Err(bad_input(format!(
            "--buffer: must be a non-negative percentage, got {}",
            args.buffer
        )));
    }
    if !args.max_correlation.is_finite() || !args.max_funding_share.is_finite() {
        return Err(bad_input(
            "--max-correlation and --max-funding-share must be finite numbers",
        ));
    }
    if args.threads == Some(0) {
        return Err(bad_input("--threads: must be at least 1"));
    }
    let Loaded {
        scenario: sc,
        prepared,
        jobs,
    } = pipeline::load(&args.scenario, None)?;
    let chosen = choose(&sc, &jobs, args.account.as_deref(), args.policy.as_deref())?;
    let mut needed: Vec<Job> = vec![chosen.clone()];
    for j in cross_jobs(&jobs, &chosen.account.name) {
        if j.name != chosen.name {
            needed.push(j.clone());
        }
    }
    let results = pipeline::run_jobs(&prepared, &needed, &sc.engine, args.threads)?;
    let ccfg = ChecklistConfig {
        stop_buffer: args.buffer / 100.0,
        max_correlation: args.max_correlation,
        max_funding_share: args.max_funding_share,
        ..pipeline::default_checklist_config(&sc)
    };
    let checked = pipeline::checklist(&sc, &prepared, &needed, &results, &ccfg)?;
    let (rows, channels) = (&checked.rows, &checked.channels);

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| sc.output.join("checklist"));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    let columns = if sc.engine.adl.is_off() {
        tables::checklist()
    } else {
        tables::checklist_adl()
    };
    tables::write_csv(&out.join("checklist.csv"), &columns, rows)?;
    let file = ChecklistFile {
        scenario: &sc.name,
        account: &chosen.account.name,
        policy: &chosen.policy.name,
        run: &chosen.name,
        cross_runs: checked.cross_runs.clone(),
        config: ConfigOut::from(&ccfg),
        channels,
        rows,
    };
    write_json(&out.join("checklist.json"), &file)?;

    let section = checked.section();
    print!("{}", text_table(&section.calls));
    println!();
    for c in &section.channels {
        println!("{}", channel_line(c));
    }
    eprintln!(
        "checklist of {} calls against {}; outputs in {}",
        rows.len(),
        chosen.name,
        shown(&out).display()
    );
    Ok(())
}

/// The job of `account` × `policy` (first sweep point), defaults the first of each.
/// The name asked for with `--<kind>` (it must exist), or the scenario's first.
fn pick<'n>(sc: &Scenario, kind: &str, given: Option<&str>, names: &[&'n str]) -> Result<&'n str> {
    match given {
        Some(g) => names.iter().copied().find(|n| *n == g).ok_or_else(|| {
            bad_input(format!(
                "--{kind}: {} has no {kind} {g:?}; {kind}s: {}",
                sc.path.display(),
                names.join(", ")
            ))
        }),
        None => names
            .first()
            .copied()
            .ok_or_else(|| bad_input(format!("{}: no {kind}", sc.path.display()))),
    }
}

fn choose<'a>(
    sc: &Scenario,
    jobs: &'a [Job],
    account: Option<&str>,
    policy: Option<&str>,
) -> Result<&'a Job> {
    let accounts: Vec<&str> = sc.accounts.iter().map(|x| x.name.as_str()).collect();
    let policies: Vec<&str> = sc.policies.iter().map(|x| x.name.as_str()).collect();
    let account = pick(sc, "account", account, &accounts)?;
    let policy = pick(sc, "policy", policy, &policies)?;
    jobs.iter()
        .find(|j| j.account.name == account && j.policy.name == policy)
        .ok_or_else(|| bad_input(format!("no run of account {account} with policy {policy}")))
}

/// The account's runs whose policy puts every position in cross.
fn cross_jobs<'a>(jobs: &'a [Job], account: &'a str) -> impl Iterator<Item = &'a Job> {
    jobs.iter()
        .filter(move |j| j.account.name == account && j.policy.mode == ModeRule::Cross)
}
