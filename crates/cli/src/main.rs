//! `ringfence`: the command line. Parses arguments, wires `data -> sim -> report`, prints errors.
//!
//! Exit codes: 0 success, 2 bad input (a file, row or key at fault), 1 internal error.

mod cmd_brackets;
mod cmd_checklist;
mod cmd_fetch;
mod cmd_inspect;
mod cmd_liq;
mod cmd_merge;
mod cmd_report;
mod cmd_run;
mod cmd_signals;
mod cmd_stress;
mod cmd_synth;
mod cmd_validate;
mod exit;
mod interrupt;
mod outputs;
mod pipeline;
mod prepare;
mod report_input;
mod robust;
mod scenario;
mod setup;
mod shard;
mod tables;
mod timings;
mod warnings;

use clap::{Parser, Subcommand};

/// Margin-mode backtests for crypto perpetual futures: isolated vs cross vs hybrid.
#[derive(Debug, Parser)]
#[command(name = "ringfence", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario: every account × policy × sweep point, tables, charts and report.html.
    Run(cmd_run::RunArgs),
    /// Stress a scenario on many market paths (block bootstrap or crash transplant): P(wipeout),
    /// liquidations, drawdown and final equity per policy, cross − isolated on the same paths.
    Stress(cmd_stress::StressArgs),
    /// Merge the `shard=i` directories of a sharded `run` or `stress` into one output directory,
    /// identical to a one-machine run.
    Merge(cmd_merge::MergeArgs),
    /// Check a scenario, its data, brackets and signals without running; print coverage.
    Validate(cmd_validate::ValidateArgs),
    /// Re-render the charts and report.html of a run directory without re-running.
    Report(cmd_report::ReportArgs),
    /// Market-data tools: inspect files, generate the demo market.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Liquidation price of one position (isolated or cross), with the bracket used.
    LiqPrice(cmd_liq::LiqPriceArgs),
    /// Pre-signal checklist of every call against one account and policy, with a verdict.
    Checklist(cmd_checklist::ChecklistArgs),
    /// Signal-channel tools: import a Telegram export.
    Signals {
        #[command(subcommand)]
        command: cmd_signals::SignalsCommand,
    },
    /// Maintenance brackets: show the built-in table in force, rebuild the built-in library.
    Brackets {
        #[command(subcommand)]
        command: cmd_brackets::BracketsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Per symbol: timeframes, first/last bar, rows, gaps, duplicates, mark and funding presence.
    Inspect(cmd_inspect::InspectArgs),
    /// Generate the deterministic demo market and signal channel.
    Synth(cmd_synth::SynthArgs),
    /// Download Binance USDⓈ-M public data (candles, mark, funding) into a data directory.
    Fetch(cmd_fetch::FetchArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data { command } => match command {
            DataCommand::Inspect(args) => cmd_inspect::run(args),
            DataCommand::Synth(args) => cmd_synth::run(args),
            DataCommand::Fetch(args) => cmd_fetch::run(args),
        },
        Command::LiqPrice(args) => cmd_liq::run(args),
        Command::Run(args) => cmd_run::run(args),
        Command::Stress(args) => cmd_stress::run(args),
        Command::Merge(args) => cmd_merge::run(args),
        Command::Validate(args) => cmd_validate::run(args),
        Command::Report(args) => cmd_report::run(args),
        Command::Checklist(args) => cmd_checklist::run(args),
        Command::Signals { command } => cmd_signals::run(command),
        Command::Brackets { command } => cmd_brackets::run(command),
    };
    if let Err(err) = result {
        std::process::exit(exit::report(&err));
    }
}
