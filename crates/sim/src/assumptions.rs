//! The engine states its own assumptions: the modelling choices a run's numbers rest on, in words,
//! for the report (intrabar model and refinement, mark vs last, brackets, fees, liquidation process,
//! funding, execution, data range, margin mode).

use crate::config::{AdlMode, EngineConfig};
use ringfence_model::time::{iso, timeframe_label};
use ringfence_model::{BracketBook, Market, WarningKind};
use rust_decimal::Decimal;

impl EngineConfig {
    /// What the numbers of a run with these settings over `market` and `brackets` rest on, as
    /// `(name, text)` pairs in a fixed order. Symbols without mark prices or funding history (the
    /// market's [`WarningKind::MissingMark`] / [`WarningKind::MissingFunding`] warnings) are named.
    pub fn assumptions(&self, market: &Market, brackets: &BracketBook) -> Vec<(String, String)> {
        let ex = &self.exchange;
        let exec = &self.execution;
        let missing = |kind: WarningKind| -> Vec<String> {
            market
                .warnings
                .iter()
                .filter(|w| w.kind == kind)
                .filter_map(|w| w.symbol.as_ref().map(|s| s.to_string()))
                .collect()
        };
        let missing_mark = missing(WarningKind::MissingMark);
        let missing_funding = missing(WarningKind::MissingFunding);
        let pct = |rate: Decimal| rate * Decimal::ONE_HUNDRED;
        let intrabar = format!(
            "{}{}{}",
            format!("{:?}", self.intrabar).to_lowercase(),
            if self.band {
                "; band computed under adverse and close"
            } else {
                ""
            },
            match (&market.lower, self.refine) {
                (Some(l), true) => format!(
                    "; bars touching a trigger replayed on {} sub-bars",
                    timeframe_label(l.timeframe_ms)
                ),
                _ => "; no lower-timeframe refinement".to_string(),
            }
        );
        let mark = if missing_mark.is_empty() {
            "liquidations checked on mark prices; stops, targets and entries on last prices"
                .to_string()
        } else {
            format!(
                "liquidations checked on mark prices, except {} (no mark data: last prices); stops and targets on last prices",
                missing_mark.join(", ")
            )
        };
        let snapshots = brackets
            .snapshots()
            .iter()
            .map(|s| format!("{} (from {})", s.source, s.effective_label()))
            .collect::<Vec<_>>()
            .join("; ");
        let fees = format!(
            "taker {}%, maker {}% of notional (times each account's fee multiplier); clearance fee {}% of liquidated notional, capped at the margin left",
            pct(ex.taker_fee),
            pct(ex.maker_fee),
            pct(ex.clearance_fee_rate)
        );
        let fees = if ex.clearance_fee_rates.is_empty() {
            fees
        } else {
            format!(
                "{fees}; per-symbol clearance fees: {}",
                ex.clearance_fee_rates
                    .iter()
                    .map(|(s, r)| format!("{s} {}%", pct(*r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let funding = if missing_funding.is_empty() {
            "settlements from the funding history, valued at mark".to_string()
        } else {
            format!(
                "settlements from the funding history; assumed zero for {}",
                missing_funding.join(", ")
            )
        };
        let execution = format!(
            "entry delay {}, slippage {} bps on market entries, closes and stops; zone entries expire after {}",
            if exec.entry_delay_ms == 0 {
                "none".to_string()
            } else {
                timeframe_label(exec.entry_delay_ms)
            },
            exec.slippage_bps,
            exec.zone_expiry_ms
                .map(timeframe_label)
                .unwrap_or_else(|| "never".into())
        );
        let data = match (market.times.first(), market.times.last()) {
            (Some(&first), Some(&last)) => format!(
                "{} bars of {} from {} to {}",
                market.len(),
                timeframe_label(market.timeframe_ms),
                iso(first),
                iso(last)
            ),
            _ => "no bars".to_string(),
        };
        let mut out: Vec<(String, String)> = [
            ("Intrabar model", intrabar),
            ("Mark vs last", mark),
            ("Brackets", snapshots),
            ("Fees", fees),
            ("Liquidation process", liquidation_words(ex)),
            ("Funding", funding),
            ("Execution", execution),
            ("Data", data),
            (
                "Margin mode",
                "USDT-margined linear perpetuals, one-way mode (one position per symbol)".into(),
            ),
        ]
        .into_iter()
        .map(|(name, text)| (name.to_string(), text))
        .collect();
        if let Some(adl) = self.adl_assumption() {
            out.push(("Auto-deleveraging".to_string(), adl));
        }
        out
    }
}

/// The liquidation process in words: the setting's name as before, plus the trigger's fee term.
fn liquidation_words(ex: &crate::config::ExchangePreset) -> String {
    let name = ex.liquidation.name().to_string();
    if ex.trigger_fee_rate.is_zero() {
        name
    } else {
        format!(
            "{name}; liquidation when the margin balance reaches maintenance plus {}% of notional (the liquidation fee)",
            (ex.trigger_fee_rate * Decimal::ONE_HUNDRED).normalize()
        )
    }
}

impl EngineConfig {
    /// The `[adl]` settings in words (`None` with ADL off: the list stays as before ADL existed).
    fn adl_assumption(&self) -> Option<String> {
        let adl = &self.adl;
        let how = match &adl.trigger {
            AdlMode::Off => return None,
            AdlMode::Data(rows) => format!(
                "replayed from an ADL event file ({} events): each takes the share of the winning side's open interest from the top of the ranking, a position in quantile q losing the part of its 20 % band inside that share",
                rows.len()
            ),
            AdlMode::Rule(r) => format!(
                "by rule: a move of more than {} % within {} (on the finest bars available) deleverages the winning side's profitable positions by {} of the position for quantiles 0–4, once per window per symbol and side",
                r.move_pct,
                timeframe_label(r.window_ms),
                r.fractions
                    .iter()
                    .map(|f| format!("{:.0} %", f * 100.0))
                    .collect::<Vec<_>>()
                    .join(" / ")
            ),
        };
        let t = adl.quantile_thresholds;
        Some(format!(
            "{how}. Ranking: Binance's leverage PnL = max(0, uPnL) / max(1, wallet) × maintenance / margin balance (isolated: the position's margin; cross: the cross wallet and book); quantile cut points {}, {}, {}, {} stand in for the other traders a backtest cannot see. Closed at the event's price, else the mark at the first (sub-)bar open after the trigger, without trading fee; only profitable positions are taken. PnL lost or saved is measured against the same run with ADL off",
            t[0], t[1], t[2], t[3]
        ))
    }
}
