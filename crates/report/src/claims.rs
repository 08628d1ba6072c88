//! The "Claimed vs replayed" section: the channel's own result messages beside what following it
//! would really have given, per run, then call by call for the first run.

use crate::ReportInput;
use crate::html::escape_html as e;
use ringfence_model::{ClaimCheck, ClaimSummary};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Claims compared with the runs (built by the cli from `ringfence_sim::claims`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsSection {
    /// One line per run: claimed vs replayed win rate, liquidations never mentioned.
    pub summaries: Vec<ClaimSummary>,
    /// One line per run × claimed call (the page shows the first run's; the CSV has them all).
    pub rows: Vec<ClaimCheck>,
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// The section's HTML.
pub fn render_html(c: &ClaimsSection) -> String {
    let mut h = String::new();
    // one channel: no channel column
    let several = c.summaries.iter().any(|s| !s.channel.is_empty());
    let _ = write!(
        h,
        "<p>What the channel said about its calls, beside what a follower would have had in each \
         run (after fees, funding, entry delay and liquidation). Every run × call is in \
         <code>claims_vs_replay.csv</code>.</p>\n<table class=\"data\"><thead><tr><th>run</th>{}\
         <th>calls claimed</th><th>claimed win rate</th><th>replayed win rate</th>\
         <th>liquidated calls</th><th>liquidations the claims never mention</th></tr></thead><tbody>\n",
        if several { "<th>channel</th>" } else { "" }
    );
    for s in &c.summaries {
        let channel = if several {
            format!("<td>{}</td>", e(&s.channel))
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td>{channel}<td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            e(&s.run),
            s.calls_claimed,
            pct(s.claimed_win_rate),
            pct(s.replayed_win_rate),
            s.liquidated_calls,
            s.liquidations_unmentioned
        );
    }
    h.push_str("</tbody></table>\n");
    if let Some(first) = c.rows.first().map(|r| r.run.clone()) {
        let _ = writeln!(
            h,
            "<h3>Call by call in {}</h3>\n<table class=\"data\"><thead><tr><th>call</th>\
             <th>symbol</th><th>claimed</th><th>replayed</th><th>net (USDT)</th>\
             <th>on margin</th></tr></thead><tbody>",
            e(&first)
        );
        for r in c.rows.iter().filter(|r| r.run == first) {
            let flag = if r.liquidated && !r.claims_mention_loss {
                " class=\"skip\""
            } else {
                ""
            };
            let _ = writeln!(
                h,
                "<tr{flag}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td></tr>",
                e(&r.call_id),
                e(&r.symbol),
                e(&r.claimed),
                e(&r.replayed),
                r.replayed_net
                    .map_or("–".into(), |n| format!("{:.2}", n.round_dp(2))),
                r.replayed_pct.map_or("–".into(), |p| format!("{p:+.1} %"))
            );
        }
        h.push_str("</tbody></table>\n");
    }
    h
}

/// The sections the claims add to the page, as `(title, HTML body)`: none without claims.
pub(crate) fn sections(input: &ReportInput) -> Vec<(String, String)> {
    input
        .claims
        .iter()
        .filter(|c| !c.summaries.is_empty())
        .map(|c| ("Claimed vs replayed".to_string(), render_html(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn flags_liquidations_the_claims_never_mention_and_escapes() {
        let row = ClaimCheck {
            run: "usdt/cross".into(),
            channel: String::new(),
            call_id: "<7>".into(),
            symbol: "XRPUSDT".into(),
            claimed: "target 1 (+47.1%)".into(),
            claimed_targets: Some(1),
            claimed_pct: Some(47.1),
            claimed_win: true,
            replayed: "cascade".into(),
            replayed_targets: 0,
            replayed_net: Some(Decimal::new(-12345, 2)),
            replayed_pct: Some(-98.7),
            replayed_win: false,
            liquidated: true,
            claims_mention_loss: false,
        };
        let c = ClaimsSection {
            summaries: vec![ClaimSummary {
                run: "usdt/cross".into(),
                channel: String::new(),
                calls_claimed: 4,
                claimed_win_rate: 0.75,
                replayed_win_rate: 0.25,
                liquidated_calls: 2,
                liquidations_unmentioned: 1,
            }],
            rows: vec![row],
        };
        let h = render_html(&c);
        assert!(
            h.contains("<td class=\"n\">75 %</td><td class=\"n\">25 %</td>"),
            "{h}"
        );
        assert!(h.contains("<tr class=\"skip\"><td>&lt;7&gt;</td>"), "{h}");
        assert!(h.contains("-123.45") && h.contains("-98.7 %"), "{h}");
    }
}
