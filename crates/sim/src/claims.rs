//! Claimed vs replayed: each call the channel claimed a result for, beside what the replay of one
//! run did with it (exit, net after fees, funding, delay and liquidation), and per run the
//! claimed win rate beside the replayed one with the liquidations the claims never mention.

use ringfence_model::{Claim, ClaimCheck, ClaimSummary, ExitReason, RunResult};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;

/// The claims of one call, folded.
struct Claimed {
    channel: String,
    words: Vec<String>,
    targets: Option<u32>,
    pct: Option<f64>,
    stop: bool,
    win: bool,
}

fn fold(claims: &[&Claim]) -> Claimed {
    let mut c = Claimed {
        channel: claims
            .first()
            .map(|c| c.channel.clone())
            .unwrap_or_default(),
        words: Vec::new(),
        targets: None,
        pct: None,
        stop: false,
        win: false,
    };
    for cl in claims {
        let mut w = match (cl.kind.as_str(), cl.targets_hit) {
            ("target", Some(k)) => format!("target {k}"),
            ("all_targets", _) => "all targets".to_string(),
            (kind, _) => kind.to_string(),
        };
        if let Some(p) = cl.claimed_pct {
            w.push_str(&format!(" ({p:+}%)"));
            c.pct = Some(p);
        }
        c.words.push(w);
        if let Some(k) = cl.targets_hit {
            c.targets = Some(c.targets.map_or(k, |t| t.max(k)));
        }
        c.stop |= cl.kind == "stop" || cl.claimed_pct.is_some_and(|p| p < 0.0);
        c.win |= matches!(cl.kind.as_str(), "target" | "all_targets")
            || cl.claimed_pct.is_some_and(|p| p > 0.0);
    }
    c.win &= !c.stop;
    c
}

/// Compares `claims` (linked to calls by `call_id`) with every run. Rows come run by run, calls in
/// order of their first claim; claims not linked to a call are left out (the import report lists
/// them). Summaries come per run and channel (channels in order of their first claim); a call
/// belongs to channel `c` when its id is `c:<id>` (several signal files), or to the one channel `""`.
pub fn claims_vs_replay(
    claims: &[Claim],
    runs: &[RunResult],
) -> (Vec<ClaimCheck>, Vec<ClaimSummary>) {
    let mut by_call: BTreeMap<&str, Vec<&Claim>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for c in claims {
        if let Some(id) = c.call_id.as_deref() {
            let list = by_call.entry(id).or_default();
            if list.is_empty() {
                order.push(id);
            }
            list.push(c);
        }
    }
    let folded: Vec<(&str, Claimed)> = order.iter().map(|id| (*id, fold(&by_call[id]))).collect();
    let mut channels: Vec<&str> = Vec::new();
    for (_, c) in &folded {
        if !channels.contains(&c.channel.as_str()) {
            channels.push(&c.channel);
        }
    }
    let mut rows = Vec::new();
    let mut summaries = Vec::new();
    for run in runs {
        let first_row = rows.len();
        for (id, c) in &folded {
            let trades: Vec<_> = run
                .trades
                .iter()
                .filter(|t| !t.background && &*t.signal_id == *id)
                .collect();
            let skipped = run.skipped.iter().find(|s| &*s.signal_id == *id);
            let net: Option<Decimal> =
                (!trades.is_empty()).then(|| trades.iter().map(|t| t.net()).sum());
            let margin: Decimal = trades.iter().map(|t| t.margin + t.margin_added).sum();
            let liquidated = trades
                .iter()
                .any(|t| matches!(t.exit_reason, ExitReason::Liquidation | ExitReason::Cascade));
            let replayed = match (trades.last(), skipped) {
                (Some(t), _) => t.exit_reason.to_string(),
                (None, Some(s)) => format!("not traded: {}", s.reason),
                (None, None) => "not traded".to_string(),
            };
            let symbol = trades
                .first()
                .map(|t| t.symbol.to_string())
                .or_else(|| skipped.and_then(|s| s.symbol.as_ref().map(|x| x.to_string())))
                .unwrap_or_default();
            let win = net.is_some_and(|n| n > Decimal::ZERO);
            rows.push(ClaimCheck {
                run: run.run.clone(),
                channel: c.channel.clone(),
                call_id: id.to_string(),
                symbol,
                claimed: c.words.join("; "),
                claimed_targets: c.targets,
                claimed_pct: c.pct,
                claimed_win: c.win,
                replayed,
                replayed_targets: trades
                    .iter()
                    .flat_map(|t| &t.exits)
                    .filter(|e| matches!(e.reason, ExitReason::Target(_)))
                    .count() as u32,
                replayed_net: net,
                replayed_pct: net
                    .filter(|_| margin > Decimal::ZERO)
                    .and_then(|n| (n / margin * Decimal::ONE_HUNDRED).to_f64()),
                replayed_win: win,
                liquidated,
                claims_mention_loss: c.stop,
            });
        }
        let run_rows = &rows[first_row..];
        for channel in &channels {
            let of_channel = |id: &str| {
                channel.is_empty() || id.strip_prefix(channel).is_some_and(|r| r.starts_with(':'))
            };
            let liquidated_ids: Vec<&str> = run
                .trades
                .iter()
                .filter(|t| {
                    !t.background
                        && of_channel(&t.signal_id)
                        && matches!(t.exit_reason, ExitReason::Liquidation | ExitReason::Cascade)
                })
                .map(|t| &*t.signal_id)
                .collect();
            let unmentioned = liquidated_ids
                .iter()
                .filter(|id| !folded.iter().any(|(c, cl)| c == *id && cl.stop))
                .count();
            let mine: Vec<&ClaimCheck> =
                run_rows.iter().filter(|r| r.channel == *channel).collect();
            let n = mine.len() as u32;
            let rate = |k: usize| {
                if n == 0 { 0.0 } else { k as f64 / f64::from(n) }
            };
            summaries.push(ClaimSummary {
                run: run.run.clone(),
                channel: channel.to_string(),
                calls_claimed: n,
                claimed_win_rate: rate(mine.iter().filter(|r| r.claimed_win).count()),
                replayed_win_rate: rate(mine.iter().filter(|r| r.replayed_win).count()),
                liquidated_calls: liquidated_ids.len() as u32,
                liquidations_unmentioned: unmentioned as u32,
            });
        }
    }
    (rows, summaries)
}
