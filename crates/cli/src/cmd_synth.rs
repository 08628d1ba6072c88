//! `ringfence data synth --out DIR [--seed N] [--signals FILE] [--days N]`: writes the
//! deterministic demo market (freqtrade-named CSVs) and its demo signal channel (by default into
//! `DIR`, never into `scenarios/` unless `--signals` says so).

use anyhow::Context as _;
use clap::Args;
use ringfence_data::synth::{SynthConfig, write_demo};
use std::path::PathBuf;

/// Arguments of `ringfence data synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Directory to write the market files into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the generator: the same seed writes the same bytes.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where to write the demo signal channel (CSV); default `<out>/demo-signals.csv`. To refresh
    /// the bundled channel, pass `--signals scenarios/demo-signals.csv` explicitly.
    #[arg(long)]
    pub signals: Option<PathBuf>,
    /// Where to write the demo channel as a Telegram Desktop JSON export (default: beside the
    /// signal file, `<signals stem>-telegram.json`); import it with `ringfence signals import`.
    #[arg(long)]
    pub telegram: Option<PathBuf>,
    /// Length of the market in days (at least 90).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(90..=3650))]
    pub days: u32,
}

/// Generates the demo dataset and prints what was written.
pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let cfg = SynthConfig {
        seed: args.seed,
        days: args.days,
        ..SynthConfig::default()
    };
    let signals = args
        .signals
        .clone()
        .unwrap_or_else(|| args.out.join("demo-signals.csv"));
    let files = write_demo(&args.out, &signals, &cfg)
        .with_context(|| format!("cannot write the demo dataset to {}", args.out.display()))?;
    let telegram = args.telegram.clone().unwrap_or_else(|| {
        let stem = signals
            .file_stem()
            .map_or_else(|| "signals".into(), |s| s.to_string_lossy().into_owned());
        signals.with_file_name(format!("{stem}-telegram.json"))
    });
    let channel = ringfence_data::signals::load_signals(&signals, None)
        .context("cannot read back the demo channel")?;
    let export =
        ringfence_channel::demo::telegram_export("Ringfence Demo Channel", &channel.events);
    std::fs::write(&telegram, export).with_context(|| {
        format!(
            "cannot write the demo Telegram export {}",
            telegram.display()
        )
    })?;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "wrote {} files ({:.1} MB) to {} and the demo channel to {} (Telegram export: {}) (seed {}, {} days)",
        files.len(),
        bytes as f64 / 1e6,
        args.out.display(),
        signals.display(),
        telegram.display(),
        cfg.seed,
        cfg.days
    );
    Ok(())
}
