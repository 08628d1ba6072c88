//! Everything a scenario needs before the engine runs: signals, market data (with the lower
//! timeframe), brackets, and the coverage checks. Shared by `run`, `validate` and `checklist`.

use crate::exit::bad_input;
use crate::scenario::Scenario;
use anyhow::{Context, Result};
use ringfence_data::load::{
    FileSpec, LoadOptions, SymbolSources, attach_lower, discover_with, load_market,
};
use ringfence_model::time::{iso, parse_timeframe, timeframe_label};
use ringfence_model::{
    Action, BracketBook, Claim, DataWarning, Market, SignalEvent, Symbol, WarningKind,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The inputs of a scenario, loaded and checked.
pub struct Prepared {
    /// All signal events of all files, sorted by time (ids prefixed by the file stem when several
    /// files are followed).
    pub signals: Vec<SignalEvent>,
    /// Warnings from the signal files.
    pub signal_warnings: Vec<String>,
    /// The channels' claims (`claims` of the scenario), call ids prefixed like the signals'.
    pub claims: Vec<Claim>,
    /// The market (with `lower` when a lower timeframe is given and present).
    pub market: Market,
    /// Bracket snapshots.
    pub brackets: BracketBook,
    /// Warnings about bracket tables of symbols not traded here.
    pub bracket_warnings: Vec<String>,
    /// Fingerprints of every input file, for `run.json`.
    pub inputs: Vec<InputFile>,
}

/// One input file as recorded in `run.json`.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    /// What it is (`signals`, `candles BTCUSDT 1h`, `brackets`).
    pub role: String,
    /// The path as given (relative to the scenario when it was).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// First and last time it covers, when it is a time series.
    pub range: Option<(String, String)>,
}

fn fingerprint(role: String, path: &Path) -> InputFile {
    InputFile {
        role,
        path: path.display().to_string(),
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        range: None,
    }
}

/// The symbols a scenario needs: those its signals open, its background books hold, and the
/// `<ASSET>USDT` pairs that value non-stable collateral; or `data.symbols` when given.
pub(crate) fn needed_symbols(sc: &Scenario, signals: &[SignalEvent]) -> Result<Vec<Symbol>> {
    if let Some(list) = &sc.data.symbols {
        return list
            .iter()
            .map(|s| {
                Symbol::parse(s)
                    .map_err(|e| bad_input(format!("{}: data.symbols: {e}", sc.path.display())))
            })
            .collect();
    }
    let mut set = BTreeSet::new();
    for e in signals {
        if let Some(s) = &e.symbol {
            set.insert(s.clone());
        }
    }
    for a in &sc.accounts {
        for b in &a.background {
            set.insert(b.symbol.clone());
        }
        for (asset, _) in &a.collateral {
            if !ringfence_sim::policy::is_stable(asset) {
                let s = Symbol::parse(&format!("{asset}USDT")).map_err(|e| {
                    bad_input(format!("account {}: collateral {asset}: {e}", a.name))
                })?;
                set.insert(s);
            }
        }
    }
    Ok(set.into_iter().collect())
}

pub(crate) fn load_signals(
    sc: &Scenario,
) -> Result<(Vec<SignalEvent>, Vec<String>, Vec<InputFile>)> {
    let many = sc.signals.len() > 1;
    let mut events = Vec::new();
    let mut warnings = Vec::new();
    let mut inputs = Vec::new();
    let mut stems = BTreeSet::new();
    for path in &sc.signals {
        let set = ringfence_data::signals::load_signals(path, None)
            .with_context(|| format!("{}: signals", sc.path.display()))?;
        let stem = stem_of(path);
        if many && !stems.insert(stem.clone()) {
            return Err(bad_input(format!(
                "{}: two signal files share the name {stem:?}; their ids would collide",
                sc.path.display()
            )));
        }
        let mut fp = fingerprint("signals".into(), path);
        if let (Some(a), Some(b)) = (set.events.first(), set.events.last()) {
            fp.range = Some((iso(a.time), iso(b.time)));
        }
        inputs.push(fp);
        warnings.extend(set.warnings);
        events.extend(set.events.into_iter().map(|mut e| {
            if many {
                e.id = format!("{stem}:{}", e.id).into();
            }
            e
        }));
    }
    events.sort_by_key(|e| e.time);
    Ok((events, warnings, inputs))
}

/// Loads and checks everything a scenario reads.
pub fn prepare(sc: &Scenario) -> Result<Prepared> {
    let (signals, signal_warnings, mut inputs) = load_signals(sc)?;
    let symbols = needed_symbols(sc, &signals)?;
    if symbols.is_empty() {
        return Err(bad_input(format!(
            "{}: the signals name no symbol",
            sc.path.display()
        )));
    }
    let tf = sc.data.timeframe.as_str();
    let tf_ms = parse_timeframe(tf).unwrap_or(3_600_000);
    let where_ = sc.path.display().to_string();
    let opts = LoadOptions {
        gaps: sc.data.gaps,
        start: match &sc.data.start {
            Some(s) => Some(crate::scenario::parse_time(
                &format!("{where_}: data.start"),
                s,
            )?),
            None => None,
        },
        end: match &sc.data.end {
            Some(s) => Some(crate::scenario::parse_time(
                &format!("{where_}: data.end"),
                s,
            )?),
            None => None,
        },
    };
    let columns = sc.columns();
    // Explicit files first, the directory for the rest.
    let mut sources: Vec<SymbolSources> = Vec::new();
    let mut from_dir: Vec<Symbol> = Vec::new();
    for s in &symbols {
        match sc
            .data
            .files
            .iter()
            .find(|(k, _)| Symbol::parse(k).ok().as_ref() == Some(s))
        {
            Some((_, f)) => sources.push(SymbolSources {
                symbol: s.clone(),
                candles: FileSpec {
                    path: f.candles.clone(),
                    format: f.format.with_columns(&columns),
                },
                mark: f.mark.as_ref().map(|p| FileSpec {
                    path: p.clone(),
                    format: f.format.with_columns(&columns),
                }),
                funding: f.funding.as_ref().map(|p| FileSpec {
                    path: p.clone(),
                    format: f.format.with_columns(&columns).for_funding(),
                }),
            }),
            None => from_dir.push(s.clone()),
        }
    }
    let mut notes: Vec<DataWarning> = Vec::new();
    if !from_dir.is_empty() {
        let Some(dir) = &sc.data.dir else {
            return Err(bad_input(format!(
                "{where_}: no [data.files.{}] and no data.dir to find it in",
                from_dir[0]
            )));
        };
        let found = discover_with(dir, tf, Some(&from_dir), sc.data.spot_proxy)
            .with_context(|| format!("{where_}: data.dir {}", dir.display()))?;
        notes.extend(found.notes);
        sources.extend(found.sources);
    }
    sources.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    for s in &sources {
        inputs.push(fingerprint(
            format!("candles {} {tf}", s.symbol),
            &s.candles.path,
        ));
        if let Some(m) = &s.mark {
            inputs.push(fingerprint(format!("mark {} {tf}", s.symbol), &m.path));
        }
        if let Some(f) = &s.funding {
            inputs.push(fingerprint(format!("funding {}", s.symbol), &f.path));
        }
    }
    let mut market = load_market(&sources, tf_ms, &opts)?;
    market.warnings.extend(notes);

    if let Some(lower) = &sc.data.lower_timeframe {
        let l_ms = parse_timeframe(lower).unwrap_or(300_000);
        // `lower` files of [data.files] first, then the directory for the other symbols; a
        // directory without usable lower-timeframe files is a warning (bars are not refined),
        // with the reason when discovery failed.
        let mut lower_sources = crate::setup::lower_files(sc, &symbols, &columns);
        let mut why = String::new();
        if let Some(dir) = &sc.data.dir {
            let listed: Vec<Symbol> = lower_sources.iter().map(|s| s.symbol.clone()).collect();
            match discover_with(dir, lower, None, sc.data.spot_proxy) {
                Ok(d) => lower_sources.extend(
                    d.sources
                        .into_iter()
                        .filter(|s| symbols.contains(&s.symbol) && !listed.contains(&s.symbol)),
                ),
                Err(e) => why = format!(" ({e})"),
            }
        }
        if lower_sources.is_empty() {
            market.warnings.push(DataWarning {
                symbol: None,
                kind: WarningKind::Other,
                message: format!(
                    "no {lower} candles found ({}): bars are not refined{why}",
                    sc.data.dir.as_ref().map_or_else(
                        || "give `lower` files in [data.files]".to_string(),
                        |d| format!("in {}, nor as `lower` in [data.files]", d.display())
                    )
                ),
            });
        } else {
            for s in &lower_sources {
                inputs.push(fingerprint(
                    format!("candles {} {lower}", s.symbol),
                    &s.candles.path,
                ));
            }
            let lower_opts = LoadOptions {
                gaps: opts.gaps,
                ..opts
            };
            let lm = load_market(&lower_sources, l_ms, &lower_opts)?;
            let missing: Vec<String> = symbols
                .iter()
                .filter(|s| lm.symbol_index(s).is_none())
                .map(|s| s.to_string())
                .collect();
            if !missing.is_empty() {
                market.warnings.push(DataWarning {
                    symbol: None,
                    kind: WarningKind::Other,
                    message: format!(
                        "no {lower} candles for {}: bars involving them are not refined",
                        missing.join(", ")
                    ),
                });
            }
            attach_lower(&mut market, lm)?;
        }
    }

    // Brackets.
    let (brackets, bracket_warnings) = if sc.brackets.is_empty() {
        crate::setup::builtin(sc, &symbols, &signals, &market)
    } else {
        let mut snaps = Vec::new();
        let mut warnings = crate::setup::undated_warnings(sc, &signals);
        let mut errors = Vec::new();
        for (path, eff) in &sc.brackets {
            let loaded = ringfence_data::brackets::load_bracket_file(path, *eff)?;
            inputs.push(fingerprint("brackets".into(), path));
            for issue in &loaded.issues {
                if symbols.contains(&issue.symbol) {
                    errors.push(format!("{}: {issue}", path.display()));
                } else {
                    warnings.push(format!("{}: {issue}", path.display()));
                }
            }
            snaps.push(loaded.snapshot);
        }
        if !errors.is_empty() {
            return Err(bad_input(format!(
                "inconsistent bracket tables for traded symbols:\n  - {}",
                errors.join("\n  - ")
            )));
        }
        (BracketBook::new(snaps), warnings)
    };

    check_coverage(sc, &signals, &market, &brackets)?;
    let first_tf = timeframe_label(market.timeframe_ms);
    debug_assert!(!first_tf.is_empty());
    let claims = load_claims(sc, &mut inputs)?;
    Ok(Prepared {
        signals,
        signal_warnings,
        claims,
        market,
        brackets,
        bracket_warnings,
        inputs,
    })
}

/// A signal file's stem: the channel name that prefixes its ids when several files are followed.
fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The scenario's claims tables; with several signal files, call ids get the stem prefix the
/// signals get, so that claims and calls still match.
fn load_claims(sc: &Scenario, inputs: &mut Vec<InputFile>) -> Result<Vec<Claim>> {
    let many = sc.signals.len() > 1;
    let mut all = Vec::new();
    for (path, signals) in sc.claims.iter().zip(&sc.signals) {
        let claims = ringfence_data::claims::load_claims(path)
            .with_context(|| format!("{}: claims", sc.path.display()))?;
        inputs.push(fingerprint("claims".into(), path));
        let stem = stem_of(signals);
        all.extend(claims.into_iter().map(|mut c| {
            if many {
                c.call_id = c.call_id.map(|id| format!("{stem}:{id}"));
                c.channel = stem.clone();
            }
            c
        }));
    }
    Ok(all)
}

/// Every signal's symbol has data covering its life (from the call to its last update, at least one
/// bar after the call), and a bracket table at its time.
fn check_coverage(
    sc: &Scenario,
    signals: &[SignalEvent],
    market: &Market,
    brackets: &BracketBook,
) -> Result<()> {
    let mut last_update: BTreeMap<&str, i64> = BTreeMap::new();
    for e in signals {
        last_update
            .entry(&*e.id)
            .and_modify(|t| *t = (*t).max(e.time))
            .or_insert(e.time);
    }
    let mut problems = Vec::new();
    for e in signals.iter().filter(|e| e.action == Action::Open) {
        let Some(sym) = &e.symbol else { continue };
        let Some(series) = market.series_of(sym) else {
            problems.push(format!(
                "{}, line {}: signal {} names {sym}, which has no market data",
                e.source, e.line, e.id
            ));
            continue;
        };
        let first = market.times.get(series.first).copied().unwrap_or(i64::MAX);
        let last = series
            .end
            .checked_sub(1)
            .and_then(|i| market.times.get(i).copied())
            .unwrap_or(i64::MIN);
        let until = last_update.get(&*e.id).copied().unwrap_or(e.time);
        if e.time < first || until >= last + market.timeframe_ms {
            problems.push(format!(
                "{}, line {}: signal {} ({sym}, {}..{}) is not covered by its data ({}..{})",
                e.source,
                e.line,
                e.id,
                iso(e.time),
                iso(until),
                iso(first),
                iso(last)
            ));
        }
        if brackets.table(sym, e.time).is_none() {
            problems.push(format!(
                "{}, line {}: signal {}: no maintenance bracket table for {sym} at {} (add a [[brackets]] file, or set exchange.bracket_fallback = \"OTHERUSDT\" or \"generic\")",
                e.source,
                e.line,
                e.id,
                iso(e.time)
            ));
        }
    }
    for a in &sc.accounts {
        for b in &a.background {
            if brackets
                .table(&b.symbol, b.open_time.max(market.times[0]))
                .is_none()
            {
                problems.push(format!(
                    "{}: account {}: no maintenance bracket table for background {}",
                    sc.path.display(),
                    a.name,
                    b.symbol
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(bad_input(format!(
            "{} coverage problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        )))
    }
}

/// Resolves a path for display relative to the current directory when possible.
pub fn shown(p: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|c| p.strip_prefix(c).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
}
