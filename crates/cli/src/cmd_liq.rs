//! `ringfence liq-price`: the liquidation price of one position, with the bracket used.
//!
//! Isolated: `LP = (WB + cum − side·qty·entry) / (qty·mmr − side·qty)` with the bracket at LP
//! (DESIGN.md §5). Cross with nothing else open reduces to the same formula with `WB` = the cross
//! wallet balance. Brackets: the built-in Binance BTCUSDT/ETHUSDT late-2024 tables, or `--brackets FILE`
//! (ccxt leverage tiers or Binance `leverageBracket` JSON).

use crate::exit::bad_input;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use ringfence_model::bracket::bracket_for;
use ringfence_model::time::iso;
use ringfence_model::{Bracket, BracketBook, MarginMode, Side, Symbol};
use ringfence_model::{Price, Qty, Usdt};
use ringfence_sim::margin::{bankruptcy_price, isolated_liq_price};
use rust_decimal::Decimal;
use serde_json::json;
use std::path::PathBuf;
use std::str::FromStr;

/// Arguments of `ringfence liq-price`.
#[derive(Debug, Args)]
pub struct LiqPriceArgs {
    /// Symbol, e.g. `BTCUSDT` (also `BTC/USDT:USDT`).
    #[arg(long)]
    pub symbol: String,
    /// `long` or `short`.
    #[arg(long)]
    pub side: String,
    /// Entry price.
    #[arg(long)]
    pub entry: String,
    /// Quantity (base asset).
    #[arg(long)]
    pub qty: String,
    /// Isolated margin, or the cross wallet balance (USDT).
    #[arg(long)]
    pub wallet: String,
    /// `isolated` (default) or `cross` (this position alone on the wallet).
    #[arg(long, default_value = "isolated")]
    pub mode: String,
    /// Bracket file (ccxt leverage tiers or Binance leverageBracket JSON) instead of the built-in tables.
    #[arg(long)]
    pub brackets: Option<PathBuf>,
    /// Date the bracket table is looked up at (`2024-11-01`, RFC 3339, or ms); default: the latest.
    #[arg(long)]
    pub at: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn positive(name: &str, text: &str) -> anyhow::Result<Decimal> {
    let v = Decimal::from_str(text.trim())
        .or_else(|_| Decimal::from_scientific(text.trim()))
        .map_err(|_| bad_input(format!("--{name} {text:?} is not a number")))?;
    if v <= Decimal::ZERO {
        return Err(bad_input(format!("--{name} must be positive, got {text}")));
    }
    Ok(v)
}

fn parse_at(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc).timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d")
        && let Some(dt) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc().timestamp_millis());
    }
    Err(bad_input(format!(
        "--at {text:?} is not a date (expected 2024-11-01, RFC 3339 or milliseconds)"
    )))
}

fn bracket_json(b: &Bracket) -> serde_json::Value {
    json!({
        "tier": b.tier,
        "floor": b.floor.normalize().to_string(),
        "cap": b.cap.normalize().to_string(),
        "mmr": b.mmr.normalize().to_string(),
        "cum": b.cum.normalize().to_string(),
        "max_leverage": b.max_leverage.normalize().to_string(),
    })
}

fn round(d: Decimal) -> Decimal {
    d.round_dp(8).normalize()
}

/// Computes and prints the liquidation price.
pub fn run(args: LiqPriceArgs) -> anyhow::Result<()> {
    let symbol = Symbol::parse(&args.symbol).map_err(|e| bad_input(format!("--symbol: {e}")))?;
    let side = Side::parse(&args.side)
        .ok_or_else(|| bad_input(format!("--side {:?}: expected long or short", args.side)))?;
    let mode = MarginMode::parse(&args.mode).ok_or_else(|| {
        bad_input(format!(
            "--mode {:?}: expected isolated or cross",
            args.mode
        ))
    })?;
    let entry = positive("entry", &args.entry)?;
    let qty = positive("qty", &args.qty)?;
    let wallet = positive("wallet", &args.wallet)?;
    let at = args
        .at
        .as_deref()
        .map(parse_at)
        .transpose()?
        .unwrap_or(i64::MAX);
    let (book, source) = match &args.brackets {
        Some(path) => {
            let loaded = ringfence_data::brackets::load_bracket_file(path, i64::MIN)?;
            if let Some(issue) = loaded.issues.iter().find(|i| i.symbol == symbol) {
                return Err(bad_input(format!(
                    "{}: bracket table of {symbol} is inconsistent: {issue}",
                    path.display()
                )));
            }
            (
                BracketBook::new(vec![loaded.snapshot]),
                path.display().to_string(),
            )
        }
        None => (
            ringfence_sim::binance_default_brackets(),
            "built-in binance usdm late 2024".to_string(),
        ),
    };
    let snapshot_date = book
        .snapshot_at(at)
        .map(|s| s.effective_label())
        .unwrap_or_default();
    let tiers = book
        .table(&symbol, at)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            anyhow::Error::new(ringfence_sim::SimError::NoBrackets {
                symbol: symbol.clone(),
                date: if at == i64::MAX {
                    "the latest snapshot".into()
                } else {
                    iso(at)
                },
            })
            .context(format!(
                "the brackets from {source} have no table for {symbol}; \
                 pass --brackets FILE (ccxt leverage tiers or Binance leverageBracket JSON)"
            ))
        })?;
    let notional = qty * entry;
    let entry_bracket = bracket_for(tiers, notional);
    let mm_entry = entry_bracket.maintenance(notional);
    let (q, e, w) = (Qty(qty), Price(entry), Usdt(wallet));
    let lp = isolated_liq_price(side, q, e, w, tiers);
    let bankrupt = bankruptcy_price(side, q, e, w).0.max(Decimal::ZERO);
    let mm_lp = lp.as_ref().map(|l| l.bracket.maintenance((q * l.price).0));
    if args.json {
        let out = json!({
            "symbol": symbol.as_str(),
            "side": side.to_string(),
            "mode": mode.to_string(),
            "entry": entry.normalize().to_string(),
            "qty": qty.normalize().to_string(),
            "wallet": wallet.normalize().to_string(),
            "notional": notional.normalize().to_string(),
            "liquidation_price": lp.as_ref().map(|l| round(l.price.0).to_string()),
            "bankruptcy_price": round(bankrupt).to_string(),
            "bracket": lp.as_ref().map_or_else(|| bracket_json(entry_bracket), |l| bracket_json(&l.bracket)),
            "entry_bracket": bracket_json(entry_bracket),
            "maintenance_margin": {
                "at_entry": round(mm_entry).to_string(),
                "at_liquidation": mm_lp.map(|m| round(m).to_string()),
            },
            "brackets_source": source,
            "brackets_effective": snapshot_date,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{symbol} {side} {qty} @ {entry} ({mode}, {} {wallet} USDT)",
        if mode == MarginMode::Cross {
            "cross wallet"
        } else {
            "isolated margin"
        },
        qty = qty.normalize(),
        entry = entry.normalize(),
        wallet = wallet.normalize()
    );
    match &lp {
        Some(l) => println!("liquidation price  {}", l.price.0.round_dp(2)),
        None => println!("liquidation price  none (the margin covers the whole notional)"),
    }
    println!("bankruptcy price   {}", bankrupt.round_dp(2));
    let b = lp.as_ref().map_or(entry_bracket, |l| &l.bracket);
    println!(
        "bracket at LP      tier {} [{} .. {}) mmr {} cum {} (max {}x)",
        b.tier,
        b.floor.normalize(),
        b.cap.normalize(),
        b.mmr.normalize(),
        b.cum.normalize(),
        b.max_leverage.normalize()
    );
    if b.tier != entry_bracket.tier {
        println!(
            "bracket at entry   tier {} (the LP lands in another bracket)",
            entry_bracket.tier
        );
    }
    println!(
        "maintenance        {} at entry, {} at LP",
        mm_entry.round_dp(2),
        mm_lp.map_or("-".into(), |m| m.round_dp(2).to_string())
    );
    if mode == MarginMode::Cross {
        println!(
            "note               cross: this position alone on the wallet; other cross positions move it"
        );
    }
    println!("brackets           {source} (effective {snapshot_date})");
    Ok(())
}
