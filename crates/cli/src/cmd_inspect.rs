//! `ringfence data inspect <dir-or-file> [--json]`: what market data a directory or file holds.

use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `ringfence data inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A freqtrade-style data directory or a single data file (Feather, Parquet, JSON, CSV, zip).
    pub path: PathBuf,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Inspects the path and prints the report on stdout; exits 2 (after printing) when it found
/// problems that would make a run fail (unreadable files, bad rows, gaps, no candles).
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let report = ringfence_data::inspect::inspect_path(&args.path)
        .with_context(|| format!("cannot inspect {}", args.path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    let problems = report.run_problems();
    if !problems.is_empty() {
        return Err(crate::exit::bad_input(format!(
            "{}: {} problem(s) that would make a run fail (listed above)",
            args.path.display(),
            problems.len()
        )));
    }
    Ok(())
}
