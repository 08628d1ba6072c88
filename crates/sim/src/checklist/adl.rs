//! Check 6 (with ADL on): auto-deleveraging exposure at the call. The position's ADL quantile if the
//! price reached its first target (what the venue's queue would make of it when it is winning),
//! and, in cross, the share of the book's margin balance made of the unrealised profit of open
//! positions ADL would take first (quantile 3 or 4 at the call): the hedges and winners whose
//! sudden removal the rest of the book would feel.

use super::*;
use crate::adl::{leverage_pnl, quantile};
use crate::config::ModeRule;

/// The ADL columns of one row.
pub(super) struct AdlExposure {
    pub(super) score_at_target: Option<f64>,
    pub(super) quantile_at_target: Option<u8>,
    pub(super) first_margin_share: Option<f64>,
}

/// True when the policy puts `symbol` in cross (cross; hybrid listing it).
pub(super) fn in_cross(policy: &Policy, symbol: &Symbol) -> bool {
    match &policy.mode {
        ModeRule::Cross => true,
        ModeRule::Hybrid { cross_symbols } => cross_symbols.contains(symbol),
        ModeRule::Isolated | ModeRule::HybridCorrelation { .. } => false,
    }
}

/// Maintenance of the open book at the call (each position in its own table at its notional).
fn book_maintenance(brackets: &BracketBook, open: &[Open], t: TimestampMs) -> f64 {
    open.iter()
        .filter_map(|o| {
            let tiers = brackets.table(&o.symbol, t).filter(|x| !x.is_empty())?;
            let n = dec(o.notional.abs());
            Some(flt(bracket_for(tiers, n).maintenance(n)))
        })
        .fold(0.0, |a, b| a + b)
}

/// The ADL exposure of a call sized at `qty` (margin `margin`) from `price`, side sign `s`.
#[allow(clippy::too_many_arguments)]
pub(super) fn exposure(
    sig: &SignalEvent,
    tiers: &[Bracket],
    brackets: &BracketBook,
    open: &[Open],
    equity: f64,
    cross: bool,
    cfg: &EngineConfig,
    sized: (Decimal, f64, f64, f64),
) -> AdlExposure {
    let (qty, margin, price, s) = sized;
    let cuts = &cfg.adl.quantile_thresholds;
    let open_upnl = open.iter().map(|o| o.upnl).fold(0.0, |a, b| a + b);
    // the cross wallet: equity without the open positions' unrealised PnL
    let wallet = equity - open_upnl;
    let book_mm = if cross {
        book_maintenance(brackets, open, sig.time)
    } else {
        0.0
    };
    let score_at_target = sig.targets.first().map(|&tp| {
        let n = qty * dec(tp);
        let mm = flt(bracket_for(tiers, n).maintenance(n));
        let upnl = s * flt(qty) * (tp - price);
        if cross {
            leverage_pnl(upnl, wallet, book_mm + mm, equity + upnl)
        } else {
            leverage_pnl(upnl, margin, mm, margin + upnl)
        }
    });
    let first_margin_share = (cross && equity > 0.0).then(|| {
        let first: f64 = open
            .iter()
            .filter(|o| o.upnl > 0.0)
            .filter(|o| quantile(leverage_pnl(o.upnl, wallet, book_mm, equity), cuts) >= 3)
            .map(|o| o.upnl)
            // from +0: an empty f64 sum is −0
            .fold(0.0, |a, b| a + b);
        first / equity
    });
    AdlExposure {
        score_at_target,
        quantile_at_target: score_at_target.map(|x| quantile(x, cuts)),
        first_margin_share,
    }
}
