//! `ringfence validate <scenario.toml>`: checks the scenario, its data and signals without running,
//! and prints the coverage.

use crate::prepare::{prepare, shown};
use crate::scenario;
use anyhow::Result;
use clap::Args;
use ringfence_model::Action;
use ringfence_model::time::{iso, timeframe_label};
use std::path::PathBuf;

/// Arguments of `ringfence validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The scenario file.
    pub scenario: PathBuf,
}

/// Runs the command: exit 0 when everything checks out (warnings are printed), 2 otherwise.
pub fn run(args: ValidateArgs) -> Result<()> {
    let sc = scenario::load(&args.scenario)?;
    let p = prepare(&sc)?;
    let jobs = sc.jobs()?;
    let m = &p.market;
    println!("scenario   {} ({})", sc.name, shown(&sc.path).display());
    println!(
        "market     {} bars of {} from {} to {}{}",
        m.len(),
        timeframe_label(m.timeframe_ms),
        iso(m.times[0]),
        iso(*m.times.last().unwrap_or(&m.times[0])),
        m.lower
            .as_ref()
            .map(|l| format!(
                "; {} refinement bars of {}",
                l.len(),
                timeframe_label(l.timeframe_ms)
            ))
            .unwrap_or_default()
    );
    println!();
    println!(
        "{:<14} {:>6} {:<22} {:<22} {:>5} {:>8} {:>8}",
        "symbol", "bars", "first", "last", "mark", "funding", "signals"
    );
    for s in &m.series {
        let n = p
            .signals
            .iter()
            .filter(|e| e.action == Action::Open && e.symbol.as_ref() == Some(&s.symbol))
            .count();
        println!(
            "{:<14} {:>6} {:<22} {:<22} {:>5} {:>8} {:>8}",
            s.symbol.as_str(),
            s.end - s.first,
            iso(m.times[s.first]),
            iso(m.times[s.end - 1]),
            if s.mark.is_some() { "yes" } else { "NO" },
            s.funding.times.len(),
            n
        );
    }
    let opens = p
        .signals
        .iter()
        .filter(|e| e.action == Action::Open)
        .count();
    println!();
    println!(
        "signals    {} events ({} calls) from {} file(s); every call is covered by data and brackets",
        p.signals.len(),
        opens,
        sc.signals.len()
    );
    for snap in p.brackets.snapshots() {
        println!(
            "brackets   {} from {} ({} symbols)",
            snap.source,
            snap.effective_label(),
            snap.tables.len()
        );
    }
    println!(
        "runs       {} (accounts × policies × sweep points)",
        jobs.len()
    );
    let warnings: Vec<String> = m
        .warnings
        .iter()
        .map(|w| w.message.clone())
        .chain(p.signal_warnings.iter().cloned())
        .chain(p.bracket_warnings.iter().cloned())
        .collect();
    if !warnings.is_empty() {
        println!();
        println!("{} warning(s):", warnings.len());
        for w in warnings {
            println!("  - {w}");
        }
    }
    Ok(())
}
