//! `ringfence checklist <scenario.toml>`: the pre-signal checklist (DESIGN.md §9) of every `open`
//! call, against one account × policy, printed as a table and written as `checklist.csv` and
//! `checklist.json`; and the checklist section of a run's `report.html`.
//!
//! The book each call meets is the backtest of the chosen account × policy (the first sweep point);
//! the cascade-victim share of the channel line comes from the account's `cross` runs. The checks
//! and the verdict rules are documented in `ringfence_sim::checklist`; the thresholds are flags here
//! (the report uses their defaults).

use crate::exit::bad_input;
use crate::outputs::write_json;
use crate::prepare::{Prepared, prepare, shown};
use crate::scenario::{self, Job, Scenario};
use anyhow::{Context, Result};
use clap::Args;
use ringfence_model::RunResult;
use ringfence_report::{HtmlSection, escape_html};
use ringfence_sim::{
    ChannelSummary, ChecklistConfig, ChecklistRow, ModeRule, channel_summaries, checklist,
};
use serde::Serialize;
use std::path::{Path, PathBuf};

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

/// The checklist's thresholds for a scenario (defaults, its correlation window).
pub fn default_config(sc: &Scenario) -> ChecklistConfig {
    ChecklistConfig {
        correlation_window: sc.correlation_window,
        ..ChecklistConfig::default()
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
    let sc = scenario::load(&args.scenario)?;
    let prepared = prepare(&sc)?;
    let jobs = sc.jobs()?;
    let chosen = choose(&sc, &jobs, args.account.as_deref(), args.policy.as_deref())?;
    let mut needed: Vec<Job> = vec![chosen.clone()];
    for j in cross_jobs(&jobs, &chosen.account.name) {
        if j.name != chosen.name {
            needed.push(j.clone());
        }
    }
    let results = crate::cmd_run::run_jobs(&prepared, &needed, &sc.engine, args.threads)?;
    let book = &results[0];
    let cross: Vec<&RunResult> = needed
        .iter()
        .zip(&results)
        .filter(|(j, _)| j.policy.mode == ModeRule::Cross)
        .map(|(_, r)| r)
        .collect();
    let ccfg = ChecklistConfig {
        stop_buffer: args.buffer / 100.0,
        max_correlation: args.max_correlation,
        max_funding_share: args.max_funding_share,
        ..default_config(&sc)
    };
    let rows = checklist(
        &prepared.market,
        &prepared.brackets,
        &prepared.signals,
        &chosen.account,
        &chosen.policy,
        &sc.engine,
        book,
        &ccfg,
    )
    .with_context(|| format!("checklist of {}", chosen.name))?;
    let channels = channel_summaries(&rows, &cross);

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| sc.output.join("checklist"));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    write_csv(&out.join("checklist.csv"), &rows)?;
    let file = ChecklistFile {
        scenario: &sc.name,
        account: &chosen.account.name,
        policy: &chosen.policy.name,
        run: &chosen.name,
        cross_runs: cross.iter().map(|r| r.run.as_str()).collect(),
        config: ConfigOut::from(&ccfg),
        channels: &channels,
        rows: &rows,
    };
    write_json(&out.join("checklist.json"), &file)?;

    print_table(&rows);
    println!();
    for c in &channels {
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

fn opt(x: Option<f64>, dp: usize) -> String {
    x.map(|v| format!("{v:.dp$}")).unwrap_or_default()
}

/// A price with enough significant digits for sub-dollar symbols.
fn px(x: Option<f64>) -> String {
    match x {
        Some(v) if v.abs() >= 1000.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.4}"),
        Some(v) => format!("{v:.6}"),
        None => String::new(),
    }
}

const CSV_HEADER: [&str; 38] = [
    "channel",
    "signal_id",
    "time",
    "symbol",
    "side",
    "entry_kind",
    "reference_price",
    "stop",
    "leverage",
    "notional",
    "margin",
    "fees",
    "liq_price",
    "stop_distance_pct",
    "liq_distance_pct",
    "stop_before_liq",
    "max_safe_leverage",
    "book_positions",
    "book",
    "max_book_correlation",
    "exposure_before",
    "exposure_after",
    "equity",
    "haircut",
    "usable_margin",
    "margin_share",
    "volatile_collateral_share",
    "collateral_correlation",
    "funding_rate",
    "expected_hold_hours",
    "hold_basis",
    "funding_headwind_pct",
    "funding_share_of_stop",
    "tier",
    "next_tier_distance_pct",
    "verdict",
    "reasons",
    "notes",
];

fn write_csv(path: &Path, rows: &[ChecklistRow]) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(CSV_HEADER)?;
    let g = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.channel.clone(),
            r.signal_id.clone(),
            r.time_iso.clone(),
            r.symbol.to_string(),
            r.side.to_string(),
            r.entry_kind.to_string(),
            g(r.reference_price),
            g(r.stop),
            r.leverage.to_string(),
            g(r.notional),
            g(r.margin),
            g(r.fees),
            g(r.liq_price),
            g(r.stop_distance_pct),
            g(r.liq_distance_pct),
            r.stop_before_liq.map(|b| b.to_string()).unwrap_or_default(),
            g(r.max_safe_leverage),
            r.book_positions.to_string(),
            r.book.clone(),
            g(r.max_book_correlation),
            r.exposure_before.to_string(),
            r.exposure_after.to_string(),
            r.equity.to_string(),
            r.haircut.to_string(),
            r.usable_margin.to_string(),
            g(r.margin_share),
            r.volatile_collateral_share.to_string(),
            g(r.collateral_correlation),
            g(r.funding_rate),
            r.expected_hold_hours.to_string(),
            r.hold_basis.clone(),
            g(r.funding_headwind_pct),
            g(r.funding_share_of_stop),
            r.tier.map(|t| t.to_string()).unwrap_or_default(),
            g(r.next_tier_distance_pct),
            r.verdict.to_string(),
            r.reasons.join("; "),
            r.notes.join("; "),
        ])?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn print_table(rows: &[ChecklistRow]) {
    let w = rows
        .iter()
        .map(|r| r.signal_id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    println!(
        "{:<w$}  {:<17}  {:<9}  {:<5}  {:>12}  {:>12}  {:>5}  {:>12}  {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {:>7}  {:>4}  {:<8}  reasons",
        "id",
        "time",
        "symbol",
        "side",
        "entry",
        "stop",
        "lev",
        "liq_price",
        "stop%",
        "liq%",
        "safe_x",
        "rho",
        "mrg%",
        "fund%",
        "tier",
        "verdict"
    );
    for r in rows {
        println!(
            "{:<w$}  {:<17}  {:<9}  {:<5}  {:>12}  {:>12}  {:>5}  {:>12}  {:>6}  {:>6}  {:>6}  {:>6}  {:>6}  {:>7}  {:>4}  {:<8}  {}",
            r.signal_id,
            r.time_iso.get(..16).unwrap_or(&r.time_iso),
            r.symbol.as_str(),
            r.side.to_string(),
            px(r.reference_price),
            px(r.stop),
            format!("{}x", r.leverage),
            px(r.liq_price),
            opt(r.stop_distance_pct, 2),
            opt(r.liq_distance_pct, 2),
            opt(r.max_safe_leverage, 1),
            opt(r.max_book_correlation, 2),
            opt(r.margin_share.map(|x| x * 100.0), 1),
            opt(r.funding_headwind_pct, 3),
            r.tier.map(|t| t.to_string()).unwrap_or_default(),
            r.verdict.as_str(),
            r.reasons.join("; ")
        );
    }
}

fn share(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1} %", v * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

/// The aggregate line of one channel.
fn channel_line(c: &ChannelSummary) -> String {
    format!(
        "channel {}: {} calls; stop beyond the liquidation price at the called leverage: {} of {} calls with a stop; cascade victims in {} cross run(s): {}; median safe leverage {}; verdicts: {} cross-ok, {} isolated, {} skip",
        c.channel,
        c.calls,
        share(c.stop_beyond_liq_share),
        c.calls_with_stop,
        c.cross_runs,
        share(c.cascade_victim_share),
        c.median_safe_leverage
            .map(|x| format!("{x:.1}x"))
            .unwrap_or_else(|| "n/a".into()),
        c.cross_ok,
        c.isolated,
        c.skip
    )
}

/// The report's checklist section: the calls checked against the first account × first policy of
/// the run (flagged calls first), with one line per channel. `runs` are the run's results in job
/// order. `None` (no section) when the scenario has no jobs or the checklist cannot be computed.
pub fn report_section(sc: &Scenario, p: &Prepared, runs: &[RunResult]) -> Option<HtmlSection> {
    let jobs = sc.jobs().ok()?;
    let first = jobs.first()?;
    let book = runs.first()?;
    let cross: Vec<&RunResult> = jobs
        .iter()
        .zip(runs)
        .filter(|(j, _)| j.account.name == first.account.name && j.policy.mode == ModeRule::Cross)
        .map(|(_, r)| r)
        .collect();
    let rows = checklist(
        &p.market,
        &p.brackets,
        &p.signals,
        &first.account,
        &first.policy,
        &sc.engine,
        book,
        &default_config(sc),
    )
    .ok()?;
    let channels = channel_summaries(&rows, &cross);
    Some(HtmlSection {
        title: "Pre-signal checklist".into(),
        html: render_html(&first.name, &rows, &channels),
    })
}

/// The HTML body of the checklist section: channel lines, then every call, flagged ones first.
pub fn render_html(run: &str, rows: &[ChecklistRow], channels: &[ChannelSummary]) -> String {
    let e = escape_html;
    let mut h = String::new();
    h.push_str(&format!(
        "<p>Every <code>open</code> call checked at its own time against <b>{}</b>, with only the \
         bars closed and the funding settled before it: stop vs liquidation price at the called \
         leverage (fees out of the margin), correlation with the book then open, collateral after \
         haircuts, funding over the channel's typical holding time, maintenance tier. \
         Verdict: <b>skip</b>, <b>isolated</b> or <b>cross-ok</b>; flagged calls first.</p>\n",
        e(run)
    ));
    h.push_str("<ul>\n");
    for c in channels {
        h.push_str(&format!("<li>{}</li>\n", e(&channel_line(c))));
    }
    h.push_str("</ul>\n");
    let mut order: Vec<&ChecklistRow> = rows.iter().collect();
    order.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.time.cmp(&b.time)));
    h.push_str(
        "<table>\n<thead><tr><th>id</th><th>time</th><th>symbol</th><th>side</th>\
         <th>entry</th><th>stop</th><th>lev</th><th>liq price</th><th>stop %</th><th>liq %</th>\
         <th>safe lev</th><th>ρ book</th><th>margin %</th><th>funding %</th><th>tier</th>\
         <th>verdict</th><th>reasons</th></tr></thead>\n<tbody>\n",
    );
    for r in order {
        let mut why = r.reasons.clone();
        why.extend(r.notes.iter().map(|n| format!("note: {n}")));
        h.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}x</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td></tr>\n",
            r.verdict.as_str(),
            e(&r.signal_id),
            e(r.time_iso.get(..16).unwrap_or(&r.time_iso)),
            e(r.symbol.as_str()),
            r.side,
            px(r.reference_price),
            px(r.stop),
            r.leverage,
            px(r.liq_price),
            opt(r.stop_distance_pct, 2),
            opt(r.liq_distance_pct, 2),
            opt(r.max_safe_leverage, 1),
            opt(r.max_book_correlation, 2),
            opt(r.margin_share.map(|x| x * 100.0), 1),
            opt(r.funding_headwind_pct, 3),
            r.tier.map(|t| t.to_string()).unwrap_or_default(),
            r.verdict.as_str(),
            e(&why.join("; "))
        ));
    }
    h.push_str("</tbody>\n</table>\n");
    h
}
