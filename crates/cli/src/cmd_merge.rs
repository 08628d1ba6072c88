//! `ringfence merge <dirs…> --out DIR`: the `shard=i` directories of a sharded `run` or `stress`
//! into the outputs a one-machine run writes, byte for byte, through the same writer.

use crate::exit::bad_input;
use crate::prepare::shown;
use crate::shard;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `ringfence merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard directories (`shard=i`), or directories holding them.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Skip the HTML/PNG report.
    #[arg(long)]
    pub no_report: bool,
}

/// Runs the command.
pub fn run(args: MergeArgs) -> Result<()> {
    let shards = shard::collect(&args.dirs)?;
    let kind = shards[0].1.kind.clone();
    let dest = match kind.as_str() {
        "stress" => crate::cmd_stress::merge(&shards, &args.out, args.no_report)?,
        "run" => crate::cmd_run::merge(&shards, &args.out, args.no_report)?,
        other => {
            return Err(bad_input(format!(
                "{}: unknown shard kind {other:?}",
                shards[0].0.display()
            )));
        }
    };
    eprintln!(
        "{} shards merged into {}",
        shards.len(),
        shown(&dest).display()
    );
    Ok(())
}
