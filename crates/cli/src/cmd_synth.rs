//! `ringfence data synth --out DIR [--seed N] [--signals FILE] [--days N]`: writes the
//! deterministic demo market (freqtrade-named CSVs) and its demo signal channel (by default into
//! `DIR`, never into `scenarios/` unless `--signals` says so). With `--scale`, the scale market of
//! the benchmarks instead (`--symbols`, `--days`, `--minutes`, `--calls`; Parquet files).

use anyhow::Context as _;
use clap::Args;
use ringfence_data::synth::{SynthConfig, write_demo};
use ringfence_data::synth_scale::{SCALE_BASES, ScaleConfig, write_scale};
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
    /// Length of the market in days (demo: at least 90, default 120; `--scale`: default 365).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: Option<u32>,
    /// Write the scale market of the benchmarks instead of the demo: `--symbols` perpetuals of
    /// `--minutes` bars over `--days` days with mark prices and funding (Parquet), and a channel of
    /// `--calls` random calls (default `<out>/scale-signals.csv`).
    #[arg(long)]
    pub scale: bool,
    /// `--scale`: number of perpetuals (1 to 24).
    #[arg(long, default_value_t = 20, requires = "scale")]
    pub symbols: usize,
    /// `--scale`: bar length in minutes.
    #[arg(long, default_value_t = 1, requires = "scale", value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub minutes: u32,
    /// `--scale`: calls in the channel.
    #[arg(long, default_value_t = 500, requires = "scale")]
    pub calls: u32,
}

/// Generates the demo dataset (or, with `--scale`, the scale market) and prints what was written.
pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    if args.scale {
        return scale(args);
    }
    let days = args.days.unwrap_or(120);
    if days < 90 {
        return Err(crate::exit::bad_input(format!(
            "--days: {days} is too short for the demo market; give at least 90"
        )));
    }
    let cfg = SynthConfig {
        seed: args.seed,
        days,
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
    let bytes = total_bytes(&files);
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

/// `data synth --scale`.
fn scale(args: SynthArgs) -> anyhow::Result<()> {
    let cfg = ScaleConfig {
        seed: args.seed,
        symbols: args.symbols,
        days: args.days.unwrap_or(365),
        minutes: args.minutes,
        calls: args.calls,
        ..ScaleConfig::default()
    };
    if cfg.symbols == 0 || cfg.symbols > SCALE_BASES.len() {
        return Err(crate::exit::bad_input(format!(
            "--symbols: {} is out of range; give 1 to {}",
            cfg.symbols,
            SCALE_BASES.len()
        )));
    }
    let signals = args
        .signals
        .clone()
        .unwrap_or_else(|| args.out.join("scale-signals.csv"));
    let files = write_scale(&args.out, &signals, &cfg)
        .with_context(|| format!("cannot write the scale market to {}", args.out.display()))?;
    let bytes = total_bytes(&files);
    let bars = u64::from(cfg.days) * 1440 / u64::from(cfg.minutes) * cfg.symbols as u64;
    println!(
        "wrote {} files ({:.1} MB) to {}: {} perpetuals x {} days of {}m bars ({:.1} M bars), channel of {} calls in {} (seed {})",
        files.len(),
        bytes as f64 / 1e6,
        args.out.display(),
        cfg.symbols,
        cfg.days,
        cfg.minutes,
        bars as f64 / 1e6,
        cfg.calls,
        signals.display(),
        cfg.seed
    );
    Ok(())
}

/// Bytes in `files` (those that can be read).
fn total_bytes(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}
