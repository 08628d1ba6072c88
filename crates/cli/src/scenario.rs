//! Scenario files (`scenarios/*.toml`, DESIGN.md §6): the user-facing schema, its validation, and
//! its translation into engine settings, accounts, policies and sweep points.
//!
//! Relative paths in a scenario are relative to the scenario file. Unknown keys are errors naming
//! the file, the key and the nearest valid key. Times are ISO-8601 UTC (or a bare date); durations
//! are `90s`, `5m`, `1h`, `2d`.

use crate::exit::bad_input;
use anyhow::{Context, Result};
use ringfence_data::load::{FileFormat, GapPolicy};
use ringfence_model::time::parse_timeframe;
use ringfence_model::{MarginMode, Side, Symbol, TimestampMs};
use ringfence_sim::{
    Account, AdlConfig, AdlEventSpec, AdlMode, AdlRule, BackgroundPosition, EngineConfig,
    Execution, Intrabar, LeverageRule, LiquidationProcess, MaintenanceBasis, ModeRule, Policy,
    PresetName, Sizing, StopDiscipline,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The scenario file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Scenario name (default: the file stem); names the output directory.
    pub name: Option<String>,
    /// Free text shown in the report.
    pub description: Option<String>,
    /// One or more signal files (several = several channels followed on one account).
    pub signals: Vec<PathBuf>,
    /// Claims tables (`claims.csv` of `ringfence signals import`), one per signal file in the same
    /// order: the report and `claims_vs_replay.csv` put the channel's claims beside the replay.
    #[serde(default)]
    pub claims: Vec<PathBuf>,
    /// Output directory (default `reports/<name>` beside the current directory).
    pub output: Option<PathBuf>,
    /// Market data.
    pub data: DataSection,
    /// Maintenance-bracket snapshots (default: the built-in Binance BTC/ETH table).
    #[serde(default)]
    pub brackets: Vec<BracketSection>,
    /// Exchange preset and overrides.
    #[serde(default)]
    pub exchange: ExchangeSection,
    /// Execution settings.
    #[serde(default)]
    pub execution: ExecutionSection,
    /// Simulation settings.
    #[serde(default)]
    pub simulation: SimulationSection,
    /// Accounts.
    #[serde(rename = "account")]
    pub accounts: Vec<AccountSection>,
    /// Policies.
    #[serde(rename = "policy")]
    pub policies: Vec<PolicySection>,
    /// Sweeps: parameter name → list of values; every combination is one run.
    #[serde(default)]
    pub sweep: BTreeMap<String, Vec<toml::Value>>,
    /// Auto-deleveraging (off by default).
    #[serde(default)]
    pub adl: AdlSection,
    /// What the report shows.
    #[serde(default)]
    pub report: ReportSection,
}

/// `[report]`: what the report shows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// A sweep of more runs than this is reported by its distribution per account × policy and,
    /// in detail, by the best and the worst run of each (default 200); the tables always hold
    /// every run.
    #[serde(default = "default_detail_runs")]
    pub detail_runs: usize,
}

impl Default for ReportSection {
    fn default() -> Self {
        ReportSection {
            detail_runs: default_detail_runs(),
        }
    }
}

fn default_detail_runs() -> usize {
    crate::outputs::DETAIL_RUNS
}

/// `[adl]`: auto-deleveraging of the account's own profitable positions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdlSection {
    /// `off` (default), `data` (replay an ADL event file) or `rule` (the stress rule).
    #[serde(default)]
    pub mode: AdlModeName,
    /// `mode = "data"`: the ADL event file (docs/data-formats.md).
    pub file: Option<PathBuf>,
    /// `mode = "rule"`: the move that triggers ADL, percent (default 8).
    pub move_pct: Option<f64>,
    /// `mode = "rule"`: the window of the move (default `60m`).
    pub window: Option<String>,
    /// `mode = "rule"`: share of a position taken by quantile 0..4 (default `[0, 0, 0.25, 0.5, 1]`).
    pub fractions: Option<Vec<f64>>,
    /// Ranking scores from which a position is in quantile 1, 2, 3, 4
    /// (default `[0.001, 0.005, 0.02, 0.05]`).
    pub quantile_thresholds: Option<Vec<f64>>,
}

/// `[adl] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdlModeName {
    /// No ADL.
    #[default]
    Off,
    /// Replay an ADL event file.
    Data,
    /// The stress rule.
    Rule,
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A freqtrade-style directory (`BTC_USDT_USDT-1h-futures.feather`, `-mark`, `-funding_rate`).
    pub dir: Option<PathBuf>,
    /// Bar timeframe (`1h`).
    pub timeframe: String,
    /// Lower timeframe for intrabar refinement (`5m`), read from the same directory.
    pub lower_timeframe: Option<String>,
    /// Use freqtrade spot candles (`BTC_USDT-1h.json`) where a symbol has no perpetual candles:
    /// a stated proxy (no mark, no funding; the report says so).
    #[serde(default)]
    pub spot_proxy: bool,
    /// Restrict to these symbols (default: every symbol the signals, background books and
    /// collateral need).
    pub symbols: Option<Vec<String>>,
    /// Missing bars: `error` (default) or `fill`.
    #[serde(default)]
    pub gaps: GapPolicy,
    /// Keep only bars at or after this time.
    pub start: Option<String>,
    /// Keep only bars before this time.
    pub end: Option<String>,
    /// Per-symbol files, overriding the directory.
    #[serde(default)]
    pub files: BTreeMap<String, SymbolFiles>,
    /// Column names of generic CSV / Parquet files.
    pub columns: Option<ColumnsSection>,
}

/// `[data.files.<SYMBOL>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolFiles {
    /// Last-price candles.
    pub candles: PathBuf,
    /// Mark-price candles.
    pub mark: Option<PathBuf>,
    /// Funding settlements.
    pub funding: Option<PathBuf>,
    /// Last-price candles at `data.lower_timeframe`, for intrabar refinement.
    pub lower: Option<PathBuf>,
    /// Format of every file of this symbol (default `auto`): `auto`, `feather`, `freqtrade_json`,
    /// `binance_klines`, `binance_funding`, `csv` or `parquet` (the last two read with
    /// `[data.columns]`).
    #[serde(default)]
    pub format: FileFormat,
}

/// `[data.columns]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnsSection {
    /// Timestamp column.
    pub timestamp: Option<String>,
    /// Open column.
    pub open: Option<String>,
    /// High column.
    pub high: Option<String>,
    /// Low column.
    pub low: Option<String>,
    /// Close column.
    pub close: Option<String>,
    /// Volume column.
    pub volume: Option<String>,
    /// Funding-rate column.
    pub funding_rate: Option<String>,
}

/// `[[brackets]]`: one dated snapshot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BracketSection {
    /// A ccxt leverage-tier JSON or a Binance `leverageBracket` JSON.
    pub file: PathBuf,
    /// When this snapshot takes effect (default: always).
    pub effective: Option<String>,
}

/// `[exchange]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSection {
    /// Preset (`binance_usdm`, the default).
    #[serde(default)]
    pub preset: PresetName,
    /// Taker fee rate.
    pub taker_fee: Option<Decimal>,
    /// Maker fee rate.
    pub maker_fee: Option<Decimal>,
    /// Clearance (liquidation) fee rate.
    pub clearance_fee_rate: Option<Decimal>,
    /// `full`, `bybit_tiers` or `okx_tiers` (default: the preset's).
    pub liquidation: Option<String>,
    /// Per-symbol clearance fee rates, merged over the preset's schedule (`SOLUSDT = 0.015`).
    #[serde(default)]
    pub clearance_fee_rates: BTreeMap<String, Decimal>,
    /// `mark` or `entry`.
    pub maintenance_basis: Option<MaintenanceBasis>,
    /// Haircuts by asset, merged over the preset's.
    #[serde(default)]
    pub haircuts: BTreeMap<String, f64>,
    /// Brackets for a symbol no built-in snapshot has: another symbol (`POLUSDT`) or `generic`.
    pub bracket_fallback: Option<String>,
}

/// `[execution]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionSection {
    /// Delay between a message and acting on it (`2m`).
    pub entry_delay: Option<String>,
    /// Slippage in basis points against the trader.
    pub slippage_bps: Option<f64>,
    /// How long limit/zone entries wait (`24h`), or `never`.
    pub zone_expiry: Option<String>,
}

/// `[simulation]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationSection {
    /// `adverse` (default), `close` or `ohlc`.
    pub intrabar: Option<Intrabar>,
    /// Also compute the `adverse`/`close` liquidation band.
    pub band: Option<bool>,
    /// Replay trigger bars on the lower timeframe when present (default true).
    pub refine: Option<bool>,
    /// Rolling correlation window in bars (default 72).
    pub correlation_window: Option<usize>,
}

/// `[[account]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    /// Name.
    pub name: String,
    /// Starting collateral by asset (`{ USDT = 1000, BTC = 0.02 }`).
    pub collateral: BTreeMap<String, Decimal>,
    /// Multiplier on the preset's fees (fee tier).
    pub fee_multiplier: Option<Decimal>,
    /// Positions held regardless of the channel.
    #[serde(default)]
    pub background: Vec<BackgroundSection>,
}

/// `[[account.background]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundSection {
    /// Symbol.
    pub symbol: String,
    /// `long` / `short`.
    pub side: Side,
    /// Quantity in the base asset.
    pub qty: Decimal,
    /// Leverage.
    pub leverage: Decimal,
    /// `cross` (default) or `isolated`.
    #[serde(default = "cross")]
    pub mode: MarginMode,
    /// Opening time (default: the first bar).
    pub open: Option<String>,
}

/// `[[policy]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// Name.
    pub name: String,
    /// `isolated`, `cross`, or `hybrid`.
    pub mode: PolicyMode,
    /// Hybrid: symbols traded in cross.
    pub cross_symbols: Option<Vec<String>>,
    /// Hybrid: highest return correlation with the open cross book still allowed into cross.
    pub max_correlation: Option<f64>,
    /// Fixed margin per trade (USDT).
    pub fixed_margin: Option<Decimal>,
    /// Margin per trade as a fraction of equity.
    pub margin_fraction: Option<f64>,
    /// Loss at the stop as a fraction of equity.
    pub risk_fraction: Option<f64>,
    /// Fixed notional per trade (USDT).
    pub fixed_notional: Option<Decimal>,
    /// Always this leverage.
    pub leverage: Option<f64>,
    /// The called leverage, capped at this.
    pub max_leverage: Option<f64>,
    /// Leverage when the call gives none and neither `leverage` nor `max_leverage` is set (default 10).
    pub default_leverage: Option<f64>,
    /// `honor` (default), `ignore`, or `widen`.
    #[serde(default)]
    pub stops: StopsSetting,
    /// With `stops = "widen"`: the factor (default 2).
    pub widen_factor: Option<f64>,
    /// Isolated auto-add margin: the most that may be added per position (USDT).
    pub auto_add_margin_cap: Option<Decimal>,
    /// Move the stop to the entry after the first target.
    pub breakeven_after_first_target: Option<bool>,
    /// Most channel positions open at once.
    pub max_open: Option<usize>,
    /// Share closed at each target.
    pub target_weights: Option<Vec<f64>>,
    /// Which end of a called leverage range (`5-10x`) to use: `low` (default), `high` or `mid`.
    pub leverage_from_range: Option<ringfence_sim::LeverageFromRange>,
}

fn cross() -> MarginMode {
    MarginMode::Cross
}

/// `mode` of a `[[policy]]`: which margin mode new positions get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Every position isolated.
    Isolated,
    /// Every position cross.
    Cross,
    /// Cross for `cross_symbols`, or while the correlation with the cross book is at most
    /// `max_correlation`; isolated otherwise.
    Hybrid,
}

/// `stops` of a `[[policy]]`: what the follower does with the channel's stop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopsSetting {
    /// Stops fill as called.
    #[default]
    Honor,
    /// Stops are not placed.
    Ignore,
    /// Stops are moved out once to `widen_factor` × their distance.
    Widen,
}

/// Keys a `[sweep]` table may vary, with the short label used in run names.
pub const SWEEP_KEYS: [(&str, &str); 9] = [
    ("leverage", "lev"),
    ("max_leverage", "maxlev"),
    ("margin_fraction", "margin"),
    ("fixed_margin", "fmargin"),
    ("risk_fraction", "risk"),
    ("fixed_notional", "notional"),
    ("max_open", "maxopen"),
    ("max_correlation", "rho"),
    ("auto_add_margin_cap", "addcap"),
];

/// A scenario read, checked and resolved: absolute paths, engine settings, accounts and policies.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's text as read (recorded in `run.json`).
    pub text: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Resolved signal files.
    pub signals: Vec<PathBuf>,
    /// Resolved claims tables (the i-th belongs to the i-th signal file).
    pub claims: Vec<PathBuf>,
    /// Resolved output directory.
    pub output: PathBuf,
    /// The `[data]` section with resolved paths.
    pub data: DataSection,
    /// Resolved bracket snapshots: (file, effective ms).
    pub brackets: Vec<(PathBuf, TimestampMs)>,
    /// Engine settings.
    pub engine: EngineConfig,
    /// Rolling correlation window in bars.
    pub correlation_window: usize,
    /// What a symbol in no built-in bracket snapshot gets (`exchange.bracket_fallback`).
    pub bracket_fallback: ringfence_data::bracket_library::Fallback,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Policies (before sweeps).
    pub policies: Vec<PolicySection>,
    /// Sweep axes in file order of keys (sorted by key).
    pub sweep: Vec<(String, Vec<toml::Value>)>,
    /// `report.detail_runs`: the most runs the report shows one by one.
    pub detail_runs: usize,
}

/// One run to do: account × policy × sweep point.
#[derive(Debug, Clone)]
pub struct Job {
    /// Readable name (`small/cross/maxlev=20/margin=0.05`).
    pub name: String,
    /// The account.
    pub account: Account,
    /// The policy with the sweep point applied.
    pub policy: Policy,
    /// The sweep point.
    pub params: Vec<(String, String)>,
}

/// Reads and checks a scenario file.
pub fn load(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read scenario {}", path.display()))
        .map_err(|e| bad_input(format!("{e:#}")))?;
    let file: ScenarioFile =
        toml::from_str(&text).map_err(|e| bad_input(describe_toml_error(path, &text, &e)))?;
    resolve(path, &text, file)
}

/// Renders a TOML error with the file, line, key, and the nearest valid key for unknown keys.
fn describe_toml_error(path: &Path, text: &str, err: &toml::de::Error) -> String {
    let msg = err.message().trim().to_string();
    let at = err
        .span()
        .map(|s| {
            let start = s.start.min(text.len());
            let line = text[..start].matches('\n').count() + 1;
            match key_at(text, start) {
                Some(key) if !msg.contains(&format!("`{key}`")) => {
                    format!(", line {line}, key `{key}`")
                }
                _ => format!(", line {line}"),
            }
        })
        .unwrap_or_default();
    let mut out = format!("{}{at}: {msg}", path.display());
    if let Some(hint) = nearest_key_hint(&msg) {
        out.push_str(&format!(" (did you mean `{hint}`?)"));
    }
    out
}

/// The dotted key (`simulation.intrabar`) whose value starts at byte `at` of `text`: the key before
/// `=` on that line, under the last `[table]` / `[[array]]` header above it. `None` when the
/// position is not in a `key = value` line.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..at];
    let (key, _) = before.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('#') || key.starts_with('[') {
        return None;
    }
    let table = text[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[').then(|| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), the expected
/// name closest to `x`.
fn nearest_key_hint(msg: &str) -> Option<String> {
    let unknown = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))?;
    let (given, rest) = unknown.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    nearest(given, &expected)
}

/// The candidate nearest to `given` (see [`ringfence_model::text::nearest`]), when it is within half
/// the longer name's length (at least two edits).
pub fn nearest(given: &str, candidates: &[&str]) -> Option<String> {
    ringfence_model::text::nearest(given, candidates.iter().copied(), |c| {
        (c.len().max(given.len()) / 2).max(2)
    })
    .map(str::to_string)
}

/// Parses a duration such as `90s`, `5m`, `1h`, `2d`, or zero (`0`, `0s`, `0m`, ...).
fn parse_duration(key: &str, s: &str) -> Result<TimestampMs> {
    let t = s.trim();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !digits.is_empty()
        && digits.bytes().all(|b| b == b'0')
        && matches!(&t[digits.len()..], "" | "s" | "m" | "h" | "d" | "w")
    {
        return Ok(0);
    }
    parse_timeframe(s).ok_or_else(|| {
        bad_input(format!(
            "{key}: unparseable duration {s:?} (expected e.g. 90s, 5m, 1h, 2d)"
        ))
    })
}

/// Parses a time (ISO-8601 UTC or a bare date).
pub fn parse_time(key: &str, s: &str) -> Result<TimestampMs> {
    ringfence_data::signals::parse_time(s).map_err(|e| bad_input(format!("{key}: {e}")))
}

fn resolve(path: &Path, text: &str, file: ScenarioFile) -> Result<Scenario> {
    let where_ = path.display().to_string();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let rel = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            normalize(&base.join(p))
        }
    };
    let name = file.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into())
    });
    if file.signals.is_empty() {
        return Err(bad_input(format!(
            "{where_}: signals: at least one signal file is needed"
        )));
    }
    if file.claims.len() > file.signals.len() {
        return Err(bad_input(format!(
            "{where_}: claims: {} claims tables for {} signal files; give at most one per signal \
             file, in the same order",
            file.claims.len(),
            file.signals.len()
        )));
    }
    if file.accounts.is_empty() {
        return Err(bad_input(format!(
            "{where_}: at least one [[account]] is needed"
        )));
    }
    if file.policies.is_empty() {
        return Err(bad_input(format!(
            "{where_}: at least one [[policy]] is needed"
        )));
    }
    unique_names(
        &where_,
        "account",
        file.accounts.iter().map(|a| a.name.as_str()),
    )?;
    unique_names(
        &where_,
        "policy",
        file.policies.iter().map(|p| p.name.as_str()),
    )?;

    let mut data = file.data.clone();
    if parse_timeframe(&data.timeframe).is_none() {
        return Err(bad_input(format!(
            "{where_}: data.timeframe: unknown timeframe {:?} (expected e.g. 5m, 1h, 4h)",
            data.timeframe
        )));
    }
    if let Some(lower) = &data.lower_timeframe {
        let (Some(l), Some(u)) = (parse_timeframe(lower), parse_timeframe(&data.timeframe)) else {
            return Err(bad_input(format!(
                "{where_}: data.lower_timeframe: unknown timeframe {lower:?}"
            )));
        };
        if l >= u || u % l != 0 {
            return Err(bad_input(format!(
                "{where_}: data.lower_timeframe: {lower} must divide data.timeframe {}",
                data.timeframe
            )));
        }
    }
    if data.dir.is_none() && data.files.is_empty() {
        return Err(bad_input(format!(
            "{where_}: data: give `dir` (a freqtrade-style directory) or [data.files.<SYMBOL>]"
        )));
    }
    data.dir = data.dir.as_deref().map(rel);
    for (sym, f) in data.files.iter_mut() {
        Symbol::parse(sym).map_err(|e| bad_input(format!("{where_}: data.files.{sym}: {e}")))?;
        f.candles = rel(&f.candles);
        f.mark = f.mark.as_deref().map(rel);
        f.funding = f.funding.as_deref().map(rel);
    }
    for (key, v) in [("data.start", &data.start), ("data.end", &data.end)] {
        if let Some(s) = v {
            parse_time(&format!("{where_}: {key}"), s)?;
        }
    }

    let brackets = file
        .brackets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let eff = match &b.effective {
                Some(s) => parse_time(&format!("{where_}: brackets[{i}].effective"), s)?,
                None => i64::MIN,
            };
            Ok((rel(&b.file), eff))
        })
        .collect::<Result<Vec<_>>>()?;

    let mut engine = engine_config(&where_, &file)?;
    engine.adl = adl_config(&where_, &file.adl, &rel)?;
    let correlation_window = file.simulation.correlation_window.unwrap_or(72);
    if correlation_window < 3 {
        return Err(bad_input(format!(
            "{where_}: simulation.correlation_window: {correlation_window} bars is too short (at least 3)"
        )));
    }
    let accounts = file
        .accounts
        .iter()
        .map(|a| account(&where_, a))
        .collect::<Result<Vec<_>>>()?;

    let sweep: Vec<(String, Vec<toml::Value>)> = file.sweep.clone().into_iter().collect();
    for (key, values) in &sweep {
        if !SWEEP_KEYS.iter().any(|(k, _)| k == key) {
            let keys: Vec<&str> = SWEEP_KEYS.iter().map(|(k, _)| *k).collect();
            let hint = nearest(key, &keys)
                .map(|h| format!(" (did you mean `{h}`?)"))
                .unwrap_or_default();
            return Err(bad_input(format!(
                "{where_}: sweep.{key}: not a sweepable parameter{hint}; sweepable: {}",
                keys.join(", ")
            )));
        }
        if values.is_empty() {
            return Err(bad_input(format!(
                "{where_}: sweep.{key}: the list of values is empty"
            )));
        }
    }
    let scenario = Scenario {
        path: path.to_path_buf(),
        text: text.to_string(),
        name: name.clone(),
        description: file.description.clone(),
        signals: file.signals.iter().map(|p| rel(p)).collect(),
        claims: file.claims.iter().map(|p| rel(p)).collect(),
        output: file
            .output
            .as_deref()
            .map(rel)
            .unwrap_or_else(|| PathBuf::from("reports").join(&name)),
        data,
        brackets,
        engine,
        correlation_window,
        bracket_fallback: match &file.exchange.bracket_fallback {
            Some(f) => ringfence_data::bracket_library::Fallback::parse(f)
                .map_err(|e| bad_input(format!("{where_}: exchange.bracket_fallback: {e}")))?,
            None => Default::default(),
        },
        accounts,
        policies: file.policies.clone(),
        sweep,
        detail_runs: file.report.detail_runs,
    };
    // Build every job once now, so a bad policy or sweep value fails before any data is read.
    scenario.jobs()?;
    Ok(scenario)
}

/// `[adl]` → the engine's ADL settings; a data file is read here (every bad row named).
fn adl_config(where_: &str, a: &AdlSection, rel: &dyn Fn(&Path) -> PathBuf) -> Result<AdlConfig> {
    let key = |k: &str| format!("{where_}: adl.{k}");
    let mut cfg = AdlConfig::default();
    if let Some(t) = &a.quantile_thresholds {
        let arr: [f64; 4] = t.as_slice().try_into().map_err(|_| {
            bad_input(format!(
                "{}: {} values given; give four increasing scores (quantiles 1 to 4)",
                key("quantile_thresholds"),
                t.len()
            ))
        })?;
        if arr.iter().any(|x| !x.is_finite() || *x < 0.0) || arr.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad_input(format!(
                "{}: {arr:?} must be non-negative and non-decreasing",
                key("quantile_thresholds")
            )));
        }
        cfg.quantile_thresholds = arr;
    }
    let rule_keys = a.move_pct.is_some() || a.window.is_some() || a.fractions.is_some();
    match a.mode {
        AdlModeName::Off => {
            if a.file.is_some() || rule_keys || a.quantile_thresholds.is_some() {
                return Err(bad_input(format!(
                    "{}: ADL is off (the default) but other [adl] keys are set; add mode = \"data\" or mode = \"rule\"",
                    key("mode")
                )));
            }
        }
        AdlModeName::Data => {
            if rule_keys {
                return Err(bad_input(format!(
                    "{}: move_pct, window and fractions belong to mode = \"rule\"; mode = \"data\" replays the file's events",
                    key("mode")
                )));
            }
            let Some(f) = &a.file else {
                return Err(bad_input(format!(
                    "{}: mode = \"data\" needs `file = \"<ADL event file>\"` (docs/data-formats.md)",
                    key("file")
                )));
            };
            let path = rel(f);
            let rows = ringfence_data::adl_events::read(&path)
                .map_err(|e| bad_input(format!("{}: {e}", key("file"))))?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            cfg.trigger = AdlMode::Data(
                rows.into_iter()
                    .map(|r| AdlEventSpec {
                        time: r.time,
                        symbol: r.symbol,
                        side: r.side,
                        share: r.share,
                        price: r.price,
                        source: format!("{name} row {}", r.line),
                    })
                    .collect(),
            );
        }
        AdlModeName::Rule => {
            if a.file.is_some() {
                return Err(bad_input(format!(
                    "{}: a file belongs to mode = \"data\"; mode = \"rule\" derives events from the market",
                    key("file")
                )));
            }
            let mut rule = AdlRule::default();
            if let Some(m) = a.move_pct {
                if !(m.is_finite() && m > 0.0 && m < 100.0) {
                    return Err(bad_input(format!(
                        "{}: {m} is not a percentage in (0, 100)",
                        key("move_pct")
                    )));
                }
                rule.move_pct = m;
            }
            if let Some(w) = &a.window {
                rule.window_ms = parse_duration(&key("window"), w)?;
                if rule.window_ms <= 0 {
                    return Err(bad_input(format!(
                        "{}: the window must be positive",
                        key("window")
                    )));
                }
            }
            if let Some(f) = &a.fractions {
                let arr: [f64; 5] = f.as_slice().try_into().map_err(|_| {
                    bad_input(format!(
                        "{}: {} values given; give five shares, for quantiles 0 to 4",
                        key("fractions"),
                        f.len()
                    ))
                })?;
                if arr.iter().any(|x| !(0.0..=1.0).contains(x))
                    || arr.windows(2).any(|w| w[0] > w[1])
                {
                    return Err(bad_input(format!(
                        "{}: {arr:?} must be shares in [0, 1], non-decreasing with the quantile",
                        key("fractions")
                    )));
                }
                rule.fractions = arr;
            }
            cfg.trigger = AdlMode::Rule(rule);
        }
    }
    Ok(cfg)
}

/// Lexically removes `.` and resolves `..` against a preceding normal component
/// (`scenarios/../reports/demo` → `reports/demo`), without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

fn unique_names<'a>(where_: &str, what: &str, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if n.is_empty() || n.contains('/') {
            return Err(bad_input(format!(
                "{where_}: {what} name {n:?} must be non-empty without '/'"
            )));
        }
        if !seen.insert(n) {
            return Err(bad_input(format!(
                "{where_}: two [[{what}]] entries are named {n:?}"
            )));
        }
    }
    Ok(())
}

fn engine_config(where_: &str, file: &ScenarioFile) -> Result<EngineConfig> {
    let ex = &file.exchange;
    let mut exchange = ex.preset.preset();
    let rate = |key: &str, v: Option<Decimal>, into: &mut Decimal| -> Result<()> {
        if let Some(v) = v {
            if v < Decimal::ZERO || v >= Decimal::ONE {
                return Err(bad_input(format!(
                    "{where_}: exchange.{key}: {v} is outside [0, 1)"
                )));
            }
            *into = v;
        }
        Ok(())
    };
    rate("taker_fee", ex.taker_fee, &mut exchange.taker_fee)?;
    rate("maker_fee", ex.maker_fee, &mut exchange.maker_fee)?;
    rate(
        "clearance_fee_rate",
        ex.clearance_fee_rate,
        &mut exchange.clearance_fee_rate,
    )?;
    if let Some(l) = &ex.liquidation {
        exchange.liquidation = LiquidationProcess::parse(l)
            .map_err(|m| bad_input(format!("{where_}: exchange.liquidation: {m}")))?;
    }
    for (sym, rate) in &ex.clearance_fee_rates {
        let key = format!("{where_}: exchange.clearance_fee_rates.{sym}");
        let symbol = Symbol::parse(sym).map_err(|e| bad_input(format!("{key}: {e}")))?;
        if *rate < Decimal::ZERO || *rate > Decimal::ONE {
            return Err(bad_input(format!("{key}: {rate} is outside [0, 1]")));
        }
        exchange.clearance_fee_rates.insert(symbol, *rate);
    }
    if let Some(b) = ex.maintenance_basis {
        exchange.maintenance_basis = b;
    }
    for (asset, h) in &ex.haircuts {
        if !(0.0..1.0).contains(h) {
            return Err(bad_input(format!(
                "{where_}: exchange.haircuts.{asset}: {h} is outside [0, 1)"
            )));
        }
        exchange.haircuts.insert(asset.to_ascii_uppercase(), *h);
    }
    let ex_sec = &file.execution;
    let mut execution = Execution::default();
    if let Some(d) = &ex_sec.entry_delay {
        execution.entry_delay_ms = parse_duration(&format!("{where_}: execution.entry_delay"), d)?;
    }
    if let Some(s) = ex_sec.slippage_bps {
        if !(0.0..=1000.0).contains(&s) {
            return Err(bad_input(format!(
                "{where_}: execution.slippage_bps: {s} is outside [0, 1000]"
            )));
        }
        execution.slippage_bps = s;
    }
    if let Some(z) = &ex_sec.zone_expiry {
        execution.zone_expiry_ms = if z == "never" {
            None
        } else {
            Some(parse_duration(
                &format!("{where_}: execution.zone_expiry"),
                z,
            )?)
        };
    }
    let sim = &file.simulation;
    Ok(EngineConfig {
        exchange,
        execution,
        intrabar: sim.intrabar.unwrap_or_default(),
        band: sim.band.unwrap_or(false),
        refine: sim.refine.unwrap_or(true),
        correlation_window: sim.correlation_window.unwrap_or(72),
        adl: AdlConfig::default(),
    })
}

fn account(where_: &str, a: &AccountSection) -> Result<Account> {
    let key = format!("{where_}: account {}", a.name);
    let collateral = a
        .collateral
        .iter()
        .map(|(asset, amount)| (asset.to_ascii_uppercase(), *amount))
        .collect();
    let background = a
        .background
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let k = format!("{key}: background[{i}]");
            let symbol =
                Symbol::parse(&b.symbol).map_err(|e| bad_input(format!("{k}.symbol: {e}")))?;
            let open_time = match &b.open {
                Some(s) => parse_time(&format!("{k}.open"), s)?,
                None => i64::MIN,
            };
            Ok(BackgroundPosition {
                symbol,
                side: b.side,
                qty: b.qty,
                leverage: b.leverage,
                mode: b.mode,
                open_time,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let account = Account {
        name: a.name.clone(),
        collateral,
        background,
        fee_multiplier: a.fee_multiplier.unwrap_or(Decimal::ONE),
    };
    // the value checks are the engine's own (ringfence_sim::policy)
    ringfence_sim::policy::validate_account(&account)
        .map_err(|e| bad_input(format!("{where_}: {e}")))?;
    Ok(account)
}

fn dec(key: &str, v: f64) -> Result<Decimal> {
    Decimal::from_f64(v).ok_or_else(|| bad_input(format!("{key}: {v} is not a number")))
}

/// Turns a policy section into an engine policy, checking every value.
pub fn policy(where_: &str, p: &PolicySection) -> Result<Policy> {
    let key = format!("{where_}: policy {}", p.name);
    let mode = match p.mode {
        PolicyMode::Isolated => ModeRule::Isolated,
        PolicyMode::Cross => ModeRule::Cross,
        PolicyMode::Hybrid => match (&p.cross_symbols, p.max_correlation) {
            (Some(list), None) => ModeRule::Hybrid {
                cross_symbols: list
                    .iter()
                    .map(|s| {
                        Symbol::parse(s).map_err(|e| bad_input(format!("{key}.cross_symbols: {e}")))
                    })
                    .collect::<Result<Vec<_>>>()?,
            },
            (None, Some(rho)) => ModeRule::HybridCorrelation {
                max_correlation: rho,
                window_bars: 72,
            },
            _ => {
                return Err(bad_input(format!(
                    "{key}: a hybrid policy needs exactly one of cross_symbols or max_correlation"
                )));
            }
        },
    };
    if p.mode != PolicyMode::Hybrid && (p.cross_symbols.is_some() || p.max_correlation.is_some()) {
        return Err(bad_input(format!(
            "{key}: cross_symbols / max_correlation only apply to mode = \"hybrid\""
        )));
    }
    let sizings = [
        p.fixed_margin.map(Sizing::FixedMargin),
        p.margin_fraction.map(Sizing::MarginFraction),
        p.risk_fraction.map(Sizing::RiskFraction),
        p.fixed_notional.map(Sizing::FixedNotional),
    ];
    let mut given = sizings.into_iter().flatten();
    let sizing = match (given.next(), given.next()) {
        (Some(s), None) => s,
        (None, _) => {
            return Err(bad_input(format!(
                "{key}: give one sizing: fixed_margin, margin_fraction, risk_fraction or fixed_notional"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(bad_input(format!(
                "{key}: give only one of fixed_margin, margin_fraction, risk_fraction, fixed_notional"
            )));
        }
    };
    let leverage = match (p.leverage, p.max_leverage) {
        (Some(_), Some(_)) => {
            return Err(bad_input(format!(
                "{key}: give leverage (fixed) or max_leverage (cap), not both"
            )));
        }
        (Some(l), None) => LeverageRule::Fixed(l),
        (None, Some(m)) => LeverageRule::Capped(m),
        (None, None) => LeverageRule::AsCalled {
            default: p.default_leverage.unwrap_or(10.0),
        },
    };
    let stops = match p.stops {
        StopsSetting::Honor => StopDiscipline::Honor,
        StopsSetting::Ignore => StopDiscipline::Ignore,
        StopsSetting::Widen => StopDiscipline::Widen(p.widen_factor.unwrap_or(2.0)),
    };
    let policy = Policy {
        name: p.name.clone(),
        mode,
        sizing,
        leverage,
        stops,
        auto_add_margin_cap: p.auto_add_margin_cap,
        breakeven_after_first_target: p.breakeven_after_first_target.unwrap_or(false),
        max_open: p.max_open,
        target_weights: p.target_weights.clone().unwrap_or_default(),
        leverage_from_range: p.leverage_from_range.unwrap_or_default(),
    };
    // every value range is the engine's own rule (one home: ringfence_sim::policy)
    ringfence_sim::policy::validate(&policy).map_err(|e| bad_input(format!("{where_}: {e}")))?;
    Ok(policy)
}

/// Applies one sweep value to a policy section.
fn apply_sweep(where_: &str, p: &mut PolicySection, key: &str, v: &toml::Value) -> Result<String> {
    let num = || -> Result<f64> {
        match v {
            toml::Value::Integer(i) => Ok(*i as f64),
            toml::Value::Float(f) => Ok(*f),
            other => Err(bad_input(format!(
                "{where_}: sweep.{key}: {other} is not a number"
            ))),
        }
    };
    let x = num()?;
    let k = format!("{where_}: sweep.{key}");
    match key {
        "leverage" => {
            p.leverage = Some(x);
            p.max_leverage = None;
        }
        "max_leverage" => {
            p.max_leverage = Some(x);
            p.leverage = None;
        }
        "margin_fraction" | "fixed_margin" | "risk_fraction" | "fixed_notional" => {
            p.fixed_margin = None;
            p.margin_fraction = None;
            p.risk_fraction = None;
            p.fixed_notional = None;
            match key {
                "margin_fraction" => p.margin_fraction = Some(x),
                "risk_fraction" => p.risk_fraction = Some(x),
                "fixed_margin" => p.fixed_margin = Some(dec(&k, x)?),
                _ => p.fixed_notional = Some(dec(&k, x)?),
            }
        }
        "max_open" => {
            if x < 1.0 || x.fract() != 0.0 {
                return Err(bad_input(format!(
                    "{k}: {x} is not a positive whole number"
                )));
            }
            p.max_open = Some(x as usize);
        }
        "max_correlation" => {
            if p.mode != PolicyMode::Hybrid {
                // Only hybrid policies read it; others are unaffected.
                return Ok(format!("{x}"));
            }
            p.max_correlation = Some(x);
            p.cross_symbols = None;
        }
        "auto_add_margin_cap" => p.auto_add_margin_cap = Some(dec(&k, x)?),
        _ => return Err(bad_input(format!("{k}: not a sweepable parameter"))),
    }
    Ok(format!("{x}"))
}

impl Scenario {
    /// Every (account × policy × sweep point) job, in a fixed order: accounts, then policies, then
    /// sweep points (the last sweep key varying fastest).
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let where_ = self.path.display().to_string();
        let mut points: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
        for (key, values) in &self.sweep {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((key.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        let mut jobs = Vec::new();
        for account in &self.accounts {
            for section in &self.policies {
                for point in &points {
                    let mut p = section.clone();
                    let mut params = Vec::new();
                    let mut name = format!("{}/{}", account.name, section.name);
                    for (key, value) in point {
                        let shown = apply_sweep(&where_, &mut p, key, value)?;
                        let label = SWEEP_KEYS
                            .iter()
                            .find(|(k, _)| k == key)
                            .map(|(_, l)| *l)
                            .unwrap_or(key);
                        name.push_str(&format!("/{label}={shown}"));
                        params.push((label.to_string(), shown));
                    }
                    let mut policy = policy(&where_, &p)?;
                    if let ModeRule::HybridCorrelation { window_bars, .. } = &mut policy.mode {
                        *window_bars = self.correlation_window;
                    }
                    jobs.push(Job {
                        name,
                        account: account.clone(),
                        policy,
                        params,
                    });
                }
            }
        }
        Ok(jobs)
    }

    /// The `[data.columns]` names as the loader wants them.
    pub fn columns(&self) -> ringfence_data::load::Columns {
        let mut c = ringfence_data::load::Columns::default();
        if let Some(s) = &self.data.columns {
            let set = |dst: &mut String, v: &Option<String>| {
                if let Some(v) = v {
                    *dst = v.clone();
                }
            };
            set(&mut c.timestamp, &s.timestamp);
            set(&mut c.open, &s.open);
            set(&mut c.high, &s.high);
            set(&mut c.low, &s.low);
            set(&mut c.close, &s.close);
            set(&mut c.funding_rate, &s.funding_rate);
            if s.volume.is_some() {
                c.volume = s.volume.clone();
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_durations_parse() {
        for z in ["0", "0s", "0m", " 00h "] {
            assert_eq!(parse_duration("k", z).unwrap(), 0, "{z}");
        }
        assert_eq!(parse_duration("k", "2m").unwrap(), 120_000);
        assert!(parse_duration("k", "0x").is_err());
        assert!(parse_duration("k", "s").is_err());
    }

    #[test]
    fn paths_are_normalised_lexically() {
        assert_eq!(
            normalize(Path::new("scenarios/../reports/demo")),
            PathBuf::from("reports/demo")
        );
        assert_eq!(
            normalize(Path::new("a/./b/../../../c")),
            PathBuf::from("../c")
        );
        assert_eq!(normalize(Path::new("a/..")), PathBuf::from("."));
    }

    #[test]
    fn nearest_key_is_suggested() {
        assert_eq!(
            nearest("leverag", &["leverage", "max_leverage"]).as_deref(),
            Some("leverage")
        );
        assert_eq!(nearest("zzzzzz", &["leverage"]), None);
        assert_eq!(
            nearest_key_hint("unknown field `slipage_bps`, expected one of `entry_delay`, `slippage_bps`, `zone_expiry`")
                .as_deref(),
            Some("slippage_bps")
        );
    }
}
