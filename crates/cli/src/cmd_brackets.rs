//! `ringfence brackets show SYMBOL [--at DATE]` (the table in force) and `ringfence brackets build`
//! (regenerates the built-in library from public leverage-tier tables).

use crate::exit::bad_input;
use crate::scenario;
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use ringfence_data::bracket_library::BracketLibrary;
use ringfence_data::brackets::load_bracket_file;
use ringfence_model::bracket::Bracket;
use ringfence_model::symbol::Symbol;
use ringfence_model::time::iso;
use std::fmt::Write as _;
use std::path::PathBuf;

/// `ringfence brackets ...`.
#[derive(Debug, Subcommand)]
pub enum BracketsCommand {
    /// Print the maintenance brackets of a symbol in force at a date (built-in library).
    Show(ShowArgs),
    /// Regenerate the built-in library from ccxt leverage-tier tables, each with its date.
    Build(BuildArgs),
}

/// Arguments of `ringfence brackets show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The symbol (`BTCUSDT`, `BTC/USDT:USDT`, ...), or `generic` for the generic alt table.
    pub symbol: String,
    /// The moment (ISO-8601 UTC or a date; default: now).
    #[arg(long)]
    pub at: Option<String>,
}

/// Arguments of `ringfence brackets build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Tables as `FILE@YYYY-MM-DD` (the day each takes effect), e.g.
    /// `binance_leverage_tiers_2026-09.json@2026-09-01`.
    #[arg(required = true)]
    pub tables: Vec<String>,
    /// Where to write the library.
    #[arg(long, default_value = "crates/data/brackets/binance_usdm.json")]
    pub out: PathBuf,
}

/// Runs a `brackets` subcommand.
pub fn run(cmd: BracketsCommand) -> Result<()> {
    match cmd {
        BracketsCommand::Show(a) => {
            print!("{}", show(BracketLibrary::builtin(), &a)?);
            Ok(())
        }
        BracketsCommand::Build(a) => build(&a),
    }
}

/// The text `brackets show` prints.
pub fn show(lib: &BracketLibrary, args: &ShowArgs) -> Result<String> {
    let at = match &args.at {
        Some(s) => scenario::parse_time("--at", s)?,
        None => chrono::Utc::now().timestamp_millis(),
    };
    let mut out = String::new();
    if args.symbol.trim().eq_ignore_ascii_case("generic") {
        let _ = writeln!(
            out,
            "generic alt table (the most common table of the {} snapshot)",
            lib.snapshots().last().map_or("", |s| s.date.as_str())
        );
        out.push_str(&table_text(lib.generic_alt()));
        return Ok(out);
    }
    let symbol = Symbol::parse(&args.symbol).map_err(|e| bad_input(format!("symbol: {e}")))?;
    let dates: Vec<&str> = lib.snapshots().iter().map(|s| s.date.as_str()).collect();
    let found = lib.in_force(&symbol, at).ok_or_else(|| {
        bad_input(format!(
            "{symbol}: in no built-in bracket snapshot ({}): delisted or renamed? A scenario can set exchange.bracket_fallback = \"OTHERUSDT\" or \"generic\"",
            dates.join(", ")
        ))
    })?;
    let _ = writeln!(
        out,
        "{symbol} at {}: built-in Binance USDⓈ-M snapshot {} ({})",
        iso(at),
        found.in_force.date,
        found.in_force.source
    );
    if found.from.date != found.in_force.date {
        let _ = writeln!(
            out,
            "note: {symbol} is not in the {} snapshot: the table of the {} snapshot is shown",
            found.in_force.date, found.from.date
        );
    }
    out.push_str(&table_text(found.table));
    Ok(out)
}

fn table_text(tiers: &[Bracket]) -> String {
    let mut out = format!(
        "{:>4}  {:>15}  {:>15}  {:>7}  {:>10}  {:>12}\n",
        "tier", "notional from", "notional to", "max lev", "maint rate", "cum"
    );
    for b in tiers {
        let _ = writeln!(
            out,
            "{:>4}  {:>15}  {:>15}  {:>7}  {:>10}  {:>12}",
            b.tier,
            b.floor.normalize(),
            b.cap.normalize(),
            format!("{}x", b.max_leverage.normalize()),
            format!(
                "{}%",
                (b.mmr * rust_decimal::Decimal::ONE_HUNDRED).normalize()
            ),
            b.cum.normalize()
        );
    }
    out
}

fn build(args: &BuildArgs) -> Result<()> {
    let mut inputs = Vec::new();
    let mut names = Vec::new();
    for spec in &args.tables {
        let (file, date) = spec.rsplit_once('@').ok_or_else(|| {
            bad_input(format!(
                "{spec:?}: expected FILE@YYYY-MM-DD (the day the table takes effect)"
            ))
        })?;
        let eff = scenario::parse_time(spec, date)?;
        let loaded = load_bracket_file(std::path::Path::new(file), eff)?;
        for issue in &loaded.issues {
            eprintln!("warning: {file}: {issue}");
        }
        println!(
            "{file}: {} perpetual tables from {date} ({} dated contracts skipped)",
            loaded.snapshot.tables.len(),
            loaded.skipped.len()
        );
        names.push(format!("{}@{date}", loaded.snapshot.source));
        inputs.push((loaded, date.to_string()));
    }
    let lib = BracketLibrary::from_tables(inputs)?;
    let text = lib.to_json(&format!("ringfence brackets build {}", names.join(" ")));
    let tmp = args.out.with_extension("json.part");
    std::fs::write(&tmp, &text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "wrote {} ({} bytes, {} snapshots)",
        args.out.display(),
        text.len(),
        lib.snapshots().len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in BTC/ETH tables the engine's DESIGN.md §11 worked examples use are exactly the
    /// library's 2024-10-01 tables, so the examples hold with the library too.
    #[test]
    fn library_2024_tables_are_the_engines_btc_eth_tables() {
        let lib = BracketLibrary::builtin();
        let engine = ringfence_sim::binance_default_brackets();
        let t = scenario::parse_time("t", "2025-06-01").unwrap();
        for s in ["BTCUSDT", "ETHUSDT"] {
            let sym = Symbol::parse(s).unwrap();
            let f = lib.in_force(&sym, t).unwrap();
            assert_eq!(f.from.date, "2024-10-01");
            assert_eq!(f.table, engine.table(&sym, t).unwrap(), "{s}");
        }
    }
}
