//! `ringfence report <run-dir>`: re-renders the PNG charts and `report.html` from a run's
//! `report-input.json` and `report-curves.parquet`, without re-running the simulation.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `ringfence report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A directory written by `ringfence run`.
    pub run_dir: PathBuf,
}

/// Runs the command.
pub fn run(args: ReportArgs) -> Result<()> {
    let input = crate::report_input::read_input(&args.run_dir)?;
    ringfence_report::write_report(&input, &args.run_dir)
        .with_context(|| format!("cannot write the report into {}", args.run_dir.display()))?;
    eprintln!(
        "report written to {}",
        args.run_dir.join("report.html").display()
    );
    Ok(())
}
