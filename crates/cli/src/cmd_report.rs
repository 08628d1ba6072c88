//! `ringfence report <run-dir>`: re-renders the PNG charts and `report.html` from a run's
//! `report-input.json`, without re-running the simulation.

use crate::exit::bad_input;
use anyhow::{Context, Result};
use clap::Args;
use ringfence_report::ReportInput;
use std::path::PathBuf;

/// Arguments of `ringfence report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A directory written by `ringfence run`.
    pub run_dir: PathBuf,
}

/// Runs the command.
pub fn run(args: ReportArgs) -> Result<()> {
    let path = args.run_dir.join("report-input.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad_input(format!(
            "{}: {e} (is {} a directory written by `ringfence run`?)",
            path.display(),
            args.run_dir.display()
        ))
    })?;
    let input: ReportInput = serde_json::from_str(&text)
        .map_err(|e| bad_input(format!("{}: line {}: {e}", path.display(), e.line())))?;
    ringfence_report::write_report(&input, &args.run_dir)
        .with_context(|| format!("cannot write the report into {}", args.run_dir.display()))?;
    eprintln!(
        "report written to {}",
        args.run_dir.join("report.html").display()
    );
    Ok(())
}
