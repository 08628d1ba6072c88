//! The "Auto-deleveraging" section, present only when a run had ADL on: per run, what ADL took,
//! the PnL it cost or saved against the same run with ADL off (and that as a share of the ADL-off
//! PnL), and the cross liquidations that followed an ADL of the book's own positions.

use crate::ReportInput;
use crate::analysis::dec_f64;
use crate::html::{e, money, short_time};
use std::fmt::Write as _;

/// True when any run of the input had ADL on.
pub(crate) fn any(input: &ReportInput) -> bool {
    input.runs.iter().any(|r| r.adl_off_final_equity.is_some())
}

/// The section's HTML (`None` when no run had ADL on: the page stays as before ADL existed).
pub(crate) fn section(input: &ReportInput) -> Option<String> {
    if !any(input) {
        return None;
    }
    let mut h = String::from("<section id=\"adl\"><h2>Auto-deleveraging</h2>\n");
    h.push_str(
        "<p class=\"hint\">ADL closes the account's own profitable positions on the winning side \
         of a move, first in line the most profitable and most leveraged. <i>Effect</i>: final \
         equity minus the final equity of the same run with ADL off (negative: ADL cost money); \
         <i>share of PnL</i>: that as a share of the ADL-off run's PnL (its size); <i>of start</i>: \
         as a share of the starting equity. Every close is in \
         <a href=\"adl.csv\"><code>adl.csv</code></a>.</p>\n",
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"sortable\" id=\"adl-table\"><thead><tr><th>Run</th>\
         <th>ADL closes</th><th>Realised by ADL</th><th>Final equity</th><th>Final equity, ADL off</th>\
         <th>Effect</th><th>Share of PnL</th><th>Of start</th></tr></thead><tbody>\n",
    );
    for r in input
        .runs
        .iter()
        .filter(|r| r.adl_off_final_equity.is_some())
    {
        let Some((effect, share)) = r.adl_effect() else {
            continue;
        };
        let realised: rust_decimal::Decimal = r.adl.iter().map(|a| a.pnl).sum();
        let off = r.adl_off_final_equity.unwrap_or_default();
        let word = if effect.is_sign_negative() && !effect.is_zero() {
            "<b class=\"bad\">lost</b> "
        } else if effect.is_zero() {
            ""
        } else {
            "saved "
        };
        let share = share.map_or_else(|| "–".to_string(), |s| format!("{:+.1} %", s * 100.0));
        let start = dec_f64(r.summary.start_equity);
        let of_start = if start > 0.0 {
            format!("{:+.1} %", dec_f64(effect) / start * 100.0)
        } else {
            "–".to_string()
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>\
             <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>\
             <td class=\"n\" data-v=\"{}\">{word}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            e(&r.run),
            r.adl.len(),
            r.adl.len(),
            dec_f64(realised),
            money(realised),
            dec_f64(r.summary.final_equity),
            money(r.summary.final_equity),
            dec_f64(off),
            money(off),
            dec_f64(effect),
            money(effect),
            e(&share),
            e(&of_start),
        );
    }
    h.push_str("</tbody></table></div>\n");
    let chains: Vec<String> = input
        .runs
        .iter()
        .flat_map(|r| {
            r.liquidations.iter().filter_map(move |ev| {
                ev.after_adl.as_ref().map(|why| {
                    format!(
                        "<li><b>{}</b>: {} → book liquidated {} ({} positions{})</li>",
                        e(&r.run),
                        e(why),
                        e(&short_time(ev.time)),
                        ev.positions.len(),
                        if ev.wipeout { ", wiped out" } else { "" }
                    )
                })
            })
        })
        .collect();
    if chains.is_empty() {
        h.push_str("<p class=\"note\">No cross liquidation followed an ADL of the book's own positions.</p>\n");
    } else {
        h.push_str("<p>Cross liquidations that followed an ADL of the book's own positions (within 24 hours):</p><ul>\n");
        for c in chains {
            h.push_str(&c);
            h.push('\n');
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
    Some(h)
}
