//! Maintenance-margin bracket files (DESIGN.md §3 "Maintenance-margin brackets", §5).
//!
//! Two shapes are read, detected from the JSON itself:
//! - the **ccxt leverage-tier** JSON (freqtrade's `binance_leverage_tiers.json`): an object
//!   `{ "BTC/USDT:USDT": [ {tier, minNotional, maxNotional, maintenanceMarginRate, maxLeverage,
//!   info: {cum, ...}}, ... ], ... }`;
//! - the **Binance `/fapi/v1/leverageBracket`** JSON: an array `[ {symbol, brackets: [ {bracket,
//!   initialLeverage, notionalCap, notionalFloor, maintMarginRatio, cum}, ... ]}, ... ]` (or one
//!   such object).
//!
//! Numbers become `Decimal` through their decimal text (no binary rounding). Tables are sorted by
//! floor and checked with [`validate_brackets`]; every problem is returned in
//! [`LoadedBrackets::issues`], nothing is corrected. Dated delivery contracts (`BTC/USDT:USDT-241227`)
//! are not perpetuals: they are skipped and listed in [`LoadedBrackets::skipped`].

use crate::error::DataError;
use ringfence_model::bracket::{Bracket, BracketIssue, BracketSnapshot, validate_brackets};
use ringfence_model::symbol::Symbol;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// A bracket file read into one snapshot, with every inconsistency found.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedBrackets {
    /// The tables, effective from the given time.
    pub snapshot: BracketSnapshot,
    /// Problems found by [`validate_brackets`] (reported, never fixed).
    pub issues: Vec<BracketIssue>,
    /// Keys not loaded (dated delivery contracts), as written in the file.
    pub skipped: Vec<String>,
}

/// Reads a ccxt leverage-tier JSON or a Binance `leverageBracket` JSON (detected), effective from
/// `effective_from` (ms UTC; `i64::MIN` for "always").
pub fn load_bracket_file(path: &Path, effective_from: i64) -> Result<LoadedBrackets, DataError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_brackets(&bytes, &file, effective_from)
}

/// Like [`load_bracket_file`], from bytes already read; `file` names the source in messages.
pub fn parse_brackets(
    bytes: &[u8],
    file: &str,
    effective_from: i64,
) -> Result<LoadedBrackets, DataError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| DataError::at(file, e.line(), format!("invalid json: {e}")))?;
    let mut errors = Vec::new();
    let mut tables: BTreeMap<Symbol, Vec<Bracket>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut add =
        |key: &str, tiers: Vec<Bracket>, errors: &mut Vec<DataError>| match perpetual_symbol(key) {
            Ok(None) => skipped.push(key.to_string()),
            Ok(Some(sym)) => {
                if tables.insert(sym.clone(), tiers).is_some() {
                    errors.push(DataError::file(
                        file,
                        format!("symbol {sym} appears twice (key {key:?})"),
                    ));
                }
            }
            Err(e) => errors.push(DataError::file(file, format!("key {key:?}: {e}"))),
        };
    match &value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match binance_item(item, file, &format!("[{i}]")) {
                    Ok((key, tiers)) => add(&key, tiers, &mut errors),
                    Err(e) => errors.push(e),
                }
            }
        }
        Value::Object(map) if map.contains_key("brackets") => {
            match binance_item(&value, file, "") {
                Ok((key, tiers)) => add(&key, tiers, &mut errors),
                Err(e) => errors.push(e),
            }
        }
        Value::Object(map) => {
            for (key, tiers) in map {
                match ccxt_tiers(tiers, file, key) {
                    Ok(t) => add(key, t, &mut errors),
                    Err(e) => errors.push(e),
                }
            }
        }
        _ => {
            return Err(DataError::file(
                file,
                "expected a ccxt leverage-tier object or a Binance leverageBracket array",
            ));
        }
    }
    DataError::collect(errors)?;
    let mut issues = Vec::new();
    for (sym, tiers) in tables.iter_mut() {
        tiers.sort_by(|a, b| a.floor.cmp(&b.floor).then(a.tier.cmp(&b.tier)));
        issues.extend(validate_brackets(sym, tiers));
    }
    let source = Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file)
        .to_string();
    Ok(LoadedBrackets {
        snapshot: BracketSnapshot {
            effective_from,
            source,
            tables,
        },
        issues,
        skipped,
    })
}

/// `Some(symbol)` for a perpetual key, `None` for a dated delivery contract (`...:USDT-241227`).
fn perpetual_symbol(key: &str) -> Result<Option<Symbol>, String> {
    if let Some((_, settle)) = key.split_once(':')
        && settle.contains('-')
    {
        return Ok(None);
    }
    Symbol::parse(key).map(Some).map_err(|e| e.to_string())
}

/// A number given as JSON number or text, as an exact decimal.
fn decimal(v: &Value) -> Option<Decimal> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
        .map(|d| d.normalize())
}

fn field<'a>(obj: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| obj.get(*n).filter(|v| !v.is_null()))
}

fn need(
    obj: &Map<String, Value>,
    names: &[&str],
    file: &str,
    at: &str,
) -> Result<Decimal, DataError> {
    let v = field(obj, names)
        .ok_or_else(|| DataError::file(file, format!("{at}: missing {}", names.join(" / "))))?;
    decimal(v)
        .ok_or_else(|| DataError::file(file, format!("{at}: {} is not a number: {v}", names[0])))
}

fn tier_number(d: Decimal, file: &str, at: &str) -> Result<u32, DataError> {
    d.to_u32()
        .filter(|&n| n > 0 && d.fract().is_zero())
        .ok_or_else(|| {
            DataError::file(
                file,
                format!("{at}: tier number {d} is not a positive integer"),
            )
        })
}

/// One ccxt table: `[{tier, minNotional, maxNotional, maintenanceMarginRate, maxLeverage, info{cum}}]`.
/// `cum` comes from `info.cum`; a tier without it gets `cum` from the recurrence.
fn ccxt_tiers(v: &Value, file: &str, key: &str) -> Result<Vec<Bracket>, DataError> {
    let Some(list) = v.as_array() else {
        return Err(DataError::file(
            file,
            format!("{key}: expected a list of tiers, found {v}"),
        ));
    };
    let mut out: Vec<Bracket> = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let at = format!("{key} tier #{}", i + 1);
        let Some(obj) = t.as_object() else {
            return Err(DataError::file(
                file,
                format!("{at}: expected an object, found {t}"),
            ));
        };
        let info = obj.get("info").and_then(Value::as_object);
        let tier = match field(obj, &["tier"]).and_then(decimal) {
            Some(d) => tier_number(d, file, &at)?,
            None => i as u32 + 1,
        };
        let floor = need(obj, &["minNotional"], file, &at)?;
        let cap = need(obj, &["maxNotional"], file, &at)?;
        let mmr = need(obj, &["maintenanceMarginRate"], file, &at)?;
        let max_leverage = need(obj, &["maxLeverage"], file, &at)?;
        let cum = match info.and_then(|m| field(m, &["cum"])) {
            Some(c) => decimal(c).ok_or_else(|| {
                DataError::file(file, format!("{at}: info.cum is not a number: {c}"))
            })?,
            None => match out.last() {
                Some(prev) => prev.cum + floor * (mmr - prev.mmr),
                None => Decimal::ZERO,
            },
        };
        out.push(Bracket {
            tier,
            floor,
            cap,
            mmr,
            cum: cum.normalize(),
            max_leverage,
        });
    }
    Ok(out)
}

/// One Binance item: `{symbol, brackets: [{bracket, initialLeverage, notionalCap, notionalFloor,
/// maintMarginRatio, cum}]}`.
fn binance_item(v: &Value, file: &str, at: &str) -> Result<(String, Vec<Bracket>), DataError> {
    let Some(obj) = v.as_object() else {
        return Err(DataError::file(
            file,
            format!("{at}: expected an object with symbol and brackets, found {v}"),
        ));
    };
    let key = obj
        .get("symbol")
        .and_then(Value::as_str)
        .ok_or_else(|| DataError::file(file, format!("{at}: missing symbol")))?
        .to_string();
    let list = obj
        .get("brackets")
        .and_then(Value::as_array)
        .ok_or_else(|| DataError::file(file, format!("{key}: missing brackets list")))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, b) in list.iter().enumerate() {
        let at = format!("{key} bracket #{}", i + 1);
        let Some(b) = b.as_object() else {
            return Err(DataError::file(
                file,
                format!("{at}: expected an object, found {b}"),
            ));
        };
        let tier = match field(b, &["bracket"]).and_then(decimal) {
            Some(d) => tier_number(d, file, &at)?,
            None => i as u32 + 1,
        };
        out.push(Bracket {
            tier,
            floor: need(b, &["notionalFloor", "qtyFloor"], file, &at)?,
            cap: need(b, &["notionalCap", "qtyCap"], file, &at)?,
            mmr: need(b, &["maintMarginRatio"], file, &at)?,
            cum: need(b, &["cum"], file, &at)?,
            max_leverage: need(b, &["initialLeverage"], file, &at)?,
        });
    }
    Ok((key, out))
}
