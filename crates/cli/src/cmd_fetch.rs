//! `ringfence data fetch`: Binance USDⓈ-M public-data archive → a data directory that `run`,
//! `validate` and `data inspect` read directly.
//!
//! The download itself (plan, checksums, retries, manifest) is `ringfence-fetch`; turning the
//! archive's zips into freqtrade-named CSVs is `ringfence_data::archive`. This file only wires
//! them: arguments, `--for scenario.toml`, the progress bar and the summary.

use crate::exit::bad_input;
use crate::{prepare, scenario};
use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ringfence_fetch::{FetchError, FetchOptions, FileStatus, MANIFEST_NAME, Request};
use ringfence_model::symbol::Symbol;
use ringfence_model::time::{TimestampMs, parse_timeframe};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `ringfence data fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Symbols, comma-separated (`BTCUSDT,ETHUSDT`; `BTC/USDT:USDT` and other spellings accepted).
    #[arg(long, value_delimiter = ',', required_unless_present = "for_scenario", conflicts_with = "for_scenario", requires_all = ["from", "to"])]
    pub symbols: Vec<String>,
    /// First day to fetch (UTC, `2025-10-01`).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day to fetch (UTC, inclusive; days up to yesterday exist in the archive).
    #[arg(long)]
    pub to: Option<String>,
    /// Fetch what a scenario needs: the symbols its signals, background books and collateral use,
    /// from its first signal (or `data.start`) minus the correlation look-back to its last signal
    /// (or `data.end`); timeframes and output directory default to the scenario's `[data]`.
    #[arg(long = "for", value_name = "SCENARIO")]
    pub for_scenario: Option<PathBuf>,
    /// Candle timeframe (`1h`; default: the scenario's, else 1h).
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Lower timeframe for intrabar refinement (`5m`).
    #[arg(long)]
    pub lower: Option<String>,
    /// Output directory (default with `--for`: the scenario's `data.dir`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Downloads at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Base URL of the archive (for mirrors and tests).
    #[arg(long, default_value = ringfence_fetch::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Extra attempts after a server error, time-out or broken transfer.
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Seconds to wait for a connection or for the next bytes of an answer.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Treat this day as today (which months count as complete); for tests.
    #[arg(long, hide = true)]
    pub today: Option<String>,
}

/// Fetches, writes the CSVs, prints a summary.
pub fn run(args: FetchArgs) -> Result<()> {
    let today = match &args.today {
        Some(s) => day("--today", s)?,
        None => Utc::now().date_naive(),
    };
    let (req, out) = request(&args)?;
    let plan = ringfence_fetch::plan(&req, today).map_err(to_anyhow)?;
    let opts = FetchOptions {
        base_url: args.base_url.clone(),
        jobs: args.jobs.max(1),
        retries: args.retries,
        backoff: Duration::from_millis(500),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    eprintln!(
        "fetching {} file(s) for {} from {} to {} ({}) into {}",
        plan.items.len(),
        req.symbols
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        req.from,
        plan.to,
        req.intervals.join(", "),
        out.display()
    );
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(plan.items.len() as u64), target);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} files {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = ringfence_fetch::fetch(&plan, &req, &out, &opts, &|p| {
        bar.set_position(p.done as u64);
        bar.set_message(p.item.file_name());
    });
    bar.finish_and_clear();
    let report = result.map_err(to_anyhow)?;
    let written = ringfence_data::archive::build_from_archive(&out)
        .with_context(|| format!("{}: building the data files", out.display()))?;
    println!(
        "{} file(s) downloaded ({:.1} MB), {} already present and verified, {} not in the archive",
        report.count(FileStatus::Downloaded),
        report.bytes_downloaded() as f64 / 1e6,
        report.count(FileStatus::Present),
        report.count(FileStatus::NotInArchive)
    );
    for note in &report.notes {
        println!("note: {note}");
    }
    for f in &written {
        println!("wrote {}", f.display());
    }
    println!("manifest {}", out.join(MANIFEST_NAME).display());
    Ok(())
}

/// Unusable requests and unknown symbols are the user's input (exit 2); the rest is not.
fn to_anyhow(e: FetchError) -> anyhow::Error {
    match e {
        FetchError::Request(_) | FetchError::UnknownSymbol { .. } => bad_input(e.to_string()),
        e => anyhow::Error::new(e),
    }
}

fn day(key: &str, s: &str) -> Result<NaiveDate> {
    let ms = scenario::parse_time(key, s)?;
    date_of(key, ms)
}

fn date_of(key: &str, ms: TimestampMs) -> Result<NaiveDate> {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.date_naive())
        .ok_or_else(|| bad_input(format!("{key}: time out of range")))
}

fn check_timeframe(key: &str, tf: &str) -> Result<()> {
    parse_timeframe(tf).map(|_| ()).ok_or_else(|| {
        bad_input(format!(
            "{key}: unknown timeframe {tf:?} (e.g. 1m, 5m, 1h, 4h, 1d)"
        ))
    })
}

/// The request and the output directory, from the arguments or the scenario.
fn request(args: &FetchArgs) -> Result<(Request, PathBuf)> {
    let Some(path) = &args.for_scenario else {
        let symbols = args
            .symbols
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Symbol::parse(s).map_err(|e| bad_input(format!("--symbols: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        let from = day("--from", args.from.as_deref().unwrap_or_default())?;
        let to = day("--to", args.to.as_deref().unwrap_or_default())?;
        let timeframe = args.timeframe.clone().unwrap_or_else(|| "1h".into());
        let out = args
            .out
            .clone()
            .ok_or_else(|| bad_input("--out DIR is needed (where the data goes)"))?;
        return Ok((
            build(symbols, from, to, timeframe, args.lower.clone())?,
            out,
        ));
    };
    let sc = scenario::load(path)?;
    let (signals, _, _) = prepare::load_signals(&sc)?;
    let symbols = prepare::needed_symbols(&sc, &signals)?;
    let timeframe = args
        .timeframe
        .clone()
        .unwrap_or_else(|| sc.data.timeframe.clone());
    let lower = args
        .lower
        .clone()
        .or_else(|| sc.data.lower_timeframe.clone());
    let tf_ms = parse_timeframe(&timeframe)
        .ok_or_else(|| bad_input(format!("timeframe: unknown timeframe {timeframe:?}")))?;
    let where_ = sc.path.display().to_string();
    let first = match &sc.data.start {
        Some(s) => scenario::parse_time("data.start", s)?,
        None => signals
            .first()
            .map(|e| e.time)
            .ok_or_else(|| bad_input(format!("{where_}: the signals hold no event")))?,
    };
    let last = match &sc.data.end {
        Some(s) => scenario::parse_time("data.end", s)?,
        None => signals.last().map_or(first, |e| e.time),
    };
    let lookback = tf_ms.saturating_mul(sc.correlation_window as i64);
    let from = date_of("data.start", first.saturating_sub(lookback))?;
    let to = date_of("data.end", last)?;
    let out = match (&args.out, &sc.data.dir) {
        (Some(o), _) => o.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => {
            return Err(bad_input(format!(
                "{where_}: the scenario has no data.dir: give --out DIR"
            )));
        }
    };
    Ok((build(symbols, from, to, timeframe, lower)?, out))
}

fn build(
    symbols: Vec<Symbol>,
    from: NaiveDate,
    to: NaiveDate,
    timeframe: String,
    lower: Option<String>,
) -> Result<Request> {
    check_timeframe("--timeframe", &timeframe)?;
    let mut intervals = vec![timeframe];
    if let Some(l) = lower {
        check_timeframe("--lower", &l)?;
        intervals.push(l);
    }
    if symbols.is_empty() {
        return Err(bad_input("no symbols to fetch"));
    }
    Ok(Request {
        symbols,
        from,
        to,
        intervals,
        mark: true,
        funding: true,
    })
}
