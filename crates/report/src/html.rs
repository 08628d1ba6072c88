//! The self-contained HTML page: the verdict first, then the ranking by money, money by cause,
//! the interactive explorer ([`crate::interactive`]), the static SVG charts, per-account sections
//! and the long lists. Inline CSS and scripts (sortable tables, uPlot charts); the page reads the
//! same with scripts off. Nothing is fetched from the network. Every string that comes from data
//! is escaped with [`escape_html`].

use crate::analysis::{
    CAUSES, LiqCount, Standing, dec_f64, event_loss, fate_in_words, max_drawdown_money,
    rank_by_money,
};
use crate::charts::{self, ChartKind, accounts, policies};
use crate::{ReportError, ReportInput};
use ringfence_model::time::iso;
use ringfence_model::{LiquidationEvent, MarginMode, RunResult, WarningKind};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Most rows in the worst-liquidations table.
const WORST_EVENTS: usize = 20;
/// Most rows in the skipped-signals table.
const MAX_SKIPPED_ROWS: usize = 300;

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn e(s: &str) -> String {
    escape_html(s)
}

/// `12,345.67` (two decimals, thousands separated).
pub(crate) fn money(d: Decimal) -> String {
    let r = d.round_dp(2);
    // A loss rounded to zero is shown as 0.00, never -0.00.
    let r = if r.is_zero() { Decimal::ZERO } else { r };
    group_thousands(&format!("{r:.2}"))
}

pub(crate) fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `2024-03-19 17:00` for whole minutes (tables say the times are UTC), else full ISO-8601.
pub(crate) fn short_time(ts: i64) -> String {
    let s = iso(ts);
    match s.strip_suffix(":00Z") {
        Some(head) if head.len() == 16 => head.replacen('T', " ", 1),
        _ => s,
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}%")
    } else {
        "–".to_string()
    }
}

fn ratio(v: f64) -> String {
    if v.is_infinite() && v > 0.0 {
        "∞".to_string()
    } else if v.is_finite() {
        format!("{v:.2}")
    } else {
        "–".to_string()
    }
}

/// A `data-v` attribute value for sorting: finite numbers as is, +∞ as `Infinity`, else empty.
fn sort_key(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v.is_infinite() && v > 0.0 {
        "Infinity".to_string()
    } else if v.is_infinite() {
        "-Infinity".to_string()
    } else {
        String::new()
    }
}

fn swatch(input: &ReportInput, policy: &str) -> String {
    format!(
        "<span class=\"pol\"><span class=\"sw\" style=\"background:{}\"></span>{}</span>",
        charts::policy_colour_hex(input, policy),
        e(policy)
    )
}

/// Makes a plotters SVG document fit for inlining: no `xmlns` URL, width/height from CSS.
pub(crate) fn inline_svg(svg: &str, label: &str) -> String {
    let Some(start) = svg.find("<svg") else {
        return String::new();
    };
    let Some(end) = svg[start..].find('>').map(|i| start + i) else {
        return String::new();
    };
    let tag = &svg[start..end];
    let view_box = tag
        .split("viewBox=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("0 0 1400 760");
    format!(
        "<svg viewBox=\"{view_box}\" role=\"img\" aria-label=\"{}\">{}",
        e(label),
        &svg[end + 1..]
    )
}

/// Renders the whole page.
pub(crate) fn render(input: &ReportInput) -> Result<String, ReportError> {
    let mut h = String::with_capacity(256 * 1024);
    let title = format!("Ringfence report: {}", input.title);
    let accs = accounts(&input.runs);
    let pols = policies(&input.runs);

    h.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>{}</title>", e(&title));
    let _ = writeln!(
        h,
        "<style>{CSS}</style>\n<style>{}</style>\n</head>\n<body>",
        crate::interactive::UPLOT_CSS
    );

    // Header.
    let _ = writeln!(h, "<header><h1>{}</h1>", e(&title));
    let times = input
        .runs
        .iter()
        .flat_map(|r| r.equity.iter().map(|p| p.time));
    let span = match (times.clone().min(), times.max()) {
        (Some(a), Some(b)) => format!("{} to {}", iso(a), iso(b)),
        _ => "no equity data".to_string(),
    };
    let runs = match &input.sweep {
        Some(s) => format!(
            "{} runs ({} shown in detail)",
            group_thousands(&s.runs.to_string()),
            input.runs.len()
        ),
        None => format!("{} runs", input.runs.len()),
    };
    let _ = writeln!(
        h,
        "<p class=\"meta\">{runs} · {} accounts · {} policies · {} · generated by {}</p></header>",
        accs.len(),
        pols.len(),
        e(&span),
        e(&input.generated_by)
    );

    // Table of contents.
    h.push_str("<nav><ul>");
    let mut toc: Vec<(String, String)> = vec![("verdict".into(), "Verdict".into())];
    if input.sweep.is_some() {
        toc.push(("sweep".into(), "Whole sweep".into()));
    }
    toc.extend::<[(String, String); 4]>([
        ("summary".into(), "Ranking by money".into()),
        ("money".into(), "Money by cause".into()),
        ("explore".into(), "Explore a run".into()),
        ("charts".into(), "Charts".into()),
    ]);
    for (i, a) in accs.iter().enumerate() {
        toc.push((format!("account-{}", i + 1), format!("Account {a}")));
    }
    let adl_section = crate::adl::section(input);
    if adl_section.is_some() {
        toc.push(("adl".into(), "Auto-deleveraging".into()));
    }
    for (id, label) in [
        ("worst", "Worst liquidations"),
        ("skipped", "Skipped signals"),
        ("warnings", "Data warnings"),
        ("assumptions", "Assumptions"),
        ("files", "Files"),
    ] {
        toc.push((id.into(), label.into()));
    }
    for (id, label) in &toc {
        let _ = write!(h, "<li><a href=\"#{id}\">{}</a></li>", e(label));
    }
    let mut extra = crate::checklist::sections(input);
    extra.extend(crate::claims::sections(input));
    for (i, (title, _)) in extra.iter().enumerate() {
        let _ = write!(h, "<li><a href=\"#extra-{}\">{}</a></li>", i + 1, e(title));
    }
    h.push_str("</ul></nav>\n<main>\n");

    verdict(&mut h, input, &accs);
    if let Some(s) = &input.sweep {
        sweep_section(&mut h, input, s);
    }
    summary_table(&mut h, input, &accs);
    money_section(&mut h, input)?;
    crate::interactive::explore_section(&mut h, input);
    charts_section(&mut h, input)?;
    for (i, a) in accs.iter().enumerate() {
        account_section(&mut h, input, i + 1, a, &pols);
    }
    if let Some(s) = &adl_section {
        h.push_str(s);
    }
    worst_liquidations(&mut h, input);
    skipped(&mut h, input);
    warnings(&mut h, input);
    assumptions(&mut h, input);
    files_section(&mut h);
    for (i, (title, body)) in extra.iter().enumerate() {
        let _ = writeln!(
            h,
            "<section id=\"extra-{}\"><h2>{}</h2>\n<div class=\"scroll\">{}</div>\n</section>",
            i + 1,
            e(title),
            body
        );
    }
    let _ = writeln!(
        h,
        "</main>\n<footer>{} · times in UTC · amounts in USDT · interactive charts: uPlot {} (MIT licence, embedded)</footer>\n{}\n<script>{JS}</script>\n</body>\n</html>",
        e(&input.generated_by),
        crate::interactive::UPLOT_VERSION,
        crate::interactive::scripts(input),
    );
    Ok(h)
}

/// Per-policy aggregates over a set of runs.
struct Agg {
    runs: usize,
    liq: LiqCount,
    cascades: u64,
    victims: u64,
    wiped_runs: u64,
    finals: Vec<f64>,
    worst_dd: f64,
    skipped: u64,
}

fn aggregate<'a>(runs: impl Iterator<Item = &'a RunResult>) -> Agg {
    let mut a = Agg {
        runs: 0,
        liq: LiqCount::default(),
        cascades: 0,
        victims: 0,
        wiped_runs: 0,
        finals: Vec::new(),
        worst_dd: 0.0,
        skipped: 0,
    };
    for r in runs {
        let s = &r.summary;
        a.runs += 1;
        a.liq = a.liq + LiqCount::of(r);
        a.cascades += u64::from(s.cascades);
        a.victims += u64::from(s.cascade_victims);
        a.wiped_runs += u64::from(s.wipeouts > 0);
        a.finals.push(dec_f64(s.final_equity));
        a.worst_dd = a.worst_dd.max(max_drawdown_money(r));
        a.skipped += u64::from(s.skipped_signals);
    }
    a.finals.sort_by(f64::total_cmp);
    a
}

fn agg_row(h: &mut String, first_cell: &str, a: &Agg) {
    let r = &a.finals;
    let (worst, med, best) = match r.len() {
        0 => (f64::NAN, f64::NAN, f64::NAN),
        n => (r[0], r[n / 2], r[n - 1]),
    };
    let fin = if a.runs > 1 {
        format!("{} / {} / {}", money_f(worst), money_f(med), money_f(best))
    } else {
        money_f(med)
    };
    let _ = writeln!(
        h,
        "<tr><td>{first_cell}</td><td class=\"n\" data-v=\"{}\">{}</td>\
         <td class=\"n\" data-v=\"{}\">{fin}</td><td class=\"n\" data-v=\"{}\">{}</td>\
         <td class=\"n\" data-v=\"{w}\">{w}</td>\
         <td class=\"n\" data-v=\"{}\">{} / {}</td>\
         <td class=\"n\" data-v=\"{c}\">{c} ({v})</td><td class=\"n\" data-v=\"{s}\">{s}</td></tr>",
        a.runs,
        a.runs,
        sort_key(worst),
        sort_key(a.worst_dd),
        money_f(a.worst_dd),
        a.liq.positions,
        a.liq.positions,
        a.liq.events,
        c = a.cascades,
        v = a.victims,
        w = a.wiped_runs,
        s = a.skipped,
    );
}

const AGG_HEAD: &str = "<th>Runs</th><th>Final equity (worst / median / best)</th>\
<th>Worst drawdown (USDT)</th><th>Runs wiped out</th>\
<th>Liquidated: positions / events</th><th>Cascades (victims)</th><th>Skipped signals</th>";

fn money_f(v: f64) -> String {
    if v.is_finite() {
        money(Decimal::from_f64_retain(v).unwrap_or_default())
    } else {
        "–".into()
    }
}

/// Per (account, policy): the runs of the group, best first by money.
fn ranked_groups<'a>(input: &'a ReportInput, account: &str) -> Vec<(String, Vec<Standing<'a>>)> {
    let mut groups: Vec<(String, Vec<Standing<'a>>)> = policies(&input.runs)
        .into_iter()
        .filter_map(|p| {
            let ranked = rank_by_money(
                input
                    .runs
                    .iter()
                    .filter(|r| r.account == account && r.policy == p),
            );
            (!ranked.is_empty()).then_some((p, ranked))
        })
        .collect();
    // Groups ranked by their worst run (the conservative reading of a sweep).
    groups.sort_by(|a, b| {
        let (x, y) = (a.1.last(), b.1.last());
        match (x, y) {
            (Some(x), Some(y)) => x
                .wipeouts
                .cmp(&y.wipeouts)
                .then(y.final_equity.total_cmp(&x.final_equity))
                .then(x.drawdown.total_cmp(&y.drawdown))
                .then(a.0.cmp(&b.0)),
            _ => a.0.cmp(&b.0),
        }
    });
    groups
}

/// The page's first section: per account, which policy survived, and what happened to the others.
fn verdict(h: &mut String, input: &ReportInput, accs: &[String]) {
    h.push_str("<section id=\"verdict\"><h2>Verdict</h2>\n");
    if input.runs.is_empty() {
        h.push_str("<p class=\"note\">No runs.</p></section>\n");
        return;
    }
    h.push_str(
        "<p class=\"hint\">Per account, policies ranked by money: wipeouts first, then final \
         equity, then the largest drawdown in USDT. With a sweep, a policy is judged by its worst \
         run.</p>\n<div class=\"verdicts\">\n",
    );
    for account in accs {
        let groups = ranked_groups(input, account);
        let Some(start) = input
            .runs
            .iter()
            .find(|r| &r.account == account)
            .map(|r| r.summary.start_equity)
        else {
            continue;
        };
        let survived: Vec<&str> = groups
            .iter()
            .filter(|(_, g)| g.iter().all(|s| s.wipeouts == 0))
            .map(|(p, _)| p.as_str())
            .collect();
        let wiped: Vec<&str> = groups
            .iter()
            .filter(|(_, g)| g.iter().any(|s| s.wipeouts > 0))
            .map(|(p, _)| p.as_str())
            .collect();
        let _ = write!(
            h,
            "<div class=\"verdict\" data-account=\"{}\"><h3>Account {} <span class=\"id\">start {} USDT</span></h3>\n<p class=\"headline\">",
            e(account),
            e(account),
            money(start)
        );
        match (survived.as_slice(), wiped.as_slice()) {
            (_, []) => {
                let worst = groups.last().and_then(|(p, g)| g.last().map(|s| (p, s)));
                match worst {
                    Some((p, s)) if groups.len() > 1 && s.run.summary.return_pct < -50.0 => {
                        let _ = write!(
                            h,
                            "No policy wiped the account out, but <b class=\"bad\">{}</b> lost {}.",
                            e(p),
                            pct(-s.run.summary.return_pct)
                        );
                    }
                    _ => {
                        let _ = write!(h, "No policy wiped the account out.");
                    }
                }
            }
            ([], _) => {
                let _ = write!(h, "<b>Every policy was wiped out.</b>");
            }
            (s, w) => {
                let _ = write!(
                    h,
                    "<b>{}</b> survived; <b class=\"bad\">{}</b> wiped out the account.",
                    e(&s.join(", ")),
                    e(&w.join(", "))
                );
            }
        }
        if let Some((best, g)) = groups.first()
            && let Some(worst_run) = g.last()
        {
            let _ = write!(
                h,
                " Best by money: {} — final equity {}, return {}, max drawdown {} USDT.",
                swatch(input, best),
                money(worst_run.run.summary.final_equity),
                pct(worst_run.run.summary.return_pct),
                money_f(worst_run.drawdown)
            );
        }
        h.push_str("</p>\n<ol class=\"fates\">\n");
        for (policy, g) in &groups {
            let Some(worst) = g.last() else { continue };
            let runs = input
                .sweep
                .as_ref()
                .and_then(|s| s.runs_of(account, policy))
                .map_or(g.len(), |n| n as usize);
            let prefix = if runs > 1 {
                format!(
                    "worst of {} runs ({}): ",
                    group_thousands(&runs.to_string()),
                    e(&params_text(worst.run))
                )
            } else {
                String::new()
            };
            let m = crate::analysis::MoneyByCause::of(worst.run);
            let reval = if m.collateral_revaluation.abs() >= Decimal::new(1, 2) {
                format!(
                    " Of the equity change, trading made {} and collateral revaluation {}.",
                    money(m.trading_total() + m.insurance_cover),
                    money(m.collateral_revaluation)
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                h,
                "<li>{}: {prefix}{}.{reval}</li>",
                swatch(input, policy),
                e(&fate_in_words(worst.run, money_f))
            );
        }
        h.push_str("</ol></div>\n");
    }
    h.push_str("</div></section>\n");
}

fn params_text(r: &RunResult) -> String {
    r.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The liquidation count under the scenario's model, and the band over the models computed.
fn liq_cell(r: &RunResult) -> String {
    let n = LiqCount::of(r);
    let mut s = format!("{} / {}", n.positions, n.events);
    match r.liquidation_band {
        Some((0, 0)) | None => {}
        Some((adverse, close)) if adverse == close => {
            let _ = write!(
                s,
                "<br><span class=\"id\">events: adverse {adverse}, close {close}</span>"
            );
        }
        Some((adverse, close)) => {
            let (lo, hi) = (adverse.min(close), adverse.max(close));
            let _ = write!(
                s,
                "<br><span class=\"id\">events {lo}–{hi}: adverse {adverse}, close {close}</span>"
            );
        }
    }
    s
}

/// The whole of a sweep too large to show run by run: the distribution of every run per account ×
/// policy.
fn sweep_section(h: &mut String, input: &ReportInput, s: &crate::SweepSection) {
    h.push_str("<section id=\"sweep\"><h2>Whole sweep</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"hint\">{} runs: more than this page shows one by one. Below, per account × \
         policy, the distribution over its sweep points (a run is a wipeout when the account's \
         equity reached zero; intervals are 95 %, Wilson). {} Every run is a row of \
         <code>summary.csv</code>; its trades are in <code>trades.csv</code>.</p>",
        group_thousands(&s.runs.to_string()),
        e(&s.detail)
    );
    let colours = charts::policy_colours(&input.runs);
    crate::stress::distribution_table(h, &s.groups, &colours, "run", false);
    h.push_str("</section>\n");
}

fn summary_table(h: &mut String, input: &ReportInput, accs: &[String]) {
    h.push_str("<section id=\"summary\"><h2>Ranking by money</h2>\n");
    if input.runs.is_empty() {
        h.push_str("<p class=\"note\">No runs.</p></section>\n");
        return;
    }
    let shortfall = input
        .runs
        .iter()
        .any(|r| !r.summary.insurance_shortfall.is_zero());
    if let Some(s) = &input.sweep {
        let _ = writeln!(
            h,
            "<p class=\"note\">Shown: {} of {} runs. {}</p>",
            input.runs.len(),
            group_thousands(&s.runs.to_string()),
            e(&s.detail)
        );
    }
    h.push_str(
        "<p class=\"hint\">One row per run (account × policy × sweep point), best first within \
         each account: fewer wipeouts, then higher final equity, then a smaller drawdown in USDT. \
         Click a column heading to sort. Liquidated: positions closed by a liquidation / \
         liquidation events, counted the same way in isolated and cross. When the scenario asks \
         for the band, the events under each intrabar model computed are named: in a cross book the \
         path decides, so neither model is always the lower one. Amounts in USDT.</p>\n\
         <div class=\"scroll\"><table class=\"sortable\" id=\"summary-table\"><thead><tr><th>Rank</th><th>Account</th>\
         <th>Policy</th>",
    );
    let with_params = input.runs.iter().any(|r| !r.params.is_empty());
    if with_params {
        h.push_str("<th>Params</th>");
    }
    h.push_str(
        "<th>Final equity (return)</th><th>Max drawdown (USDT, %)</th><th>Wipeouts</th>\
         <th>Liquidated: positions / events</th><th>Cascades (victims)</th>\
         <th>Trades (skipped)</th><th>Win rate</th><th>Profit factor</th>",
    );
    if shortfall {
        h.push_str("<th>Insurance shortfall</th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    for account in accs {
        let ranked = rank_by_money(input.runs.iter().filter(|r| &r.account == account));
        for (i, st) in ranked.iter().enumerate() {
            let r = st.run;
            let s = &r.summary;
            let n = LiqCount::of(r);
            let params = if with_params {
                format!("<td class=\"nw\">{}</td>", e(&params_text(r)))
            } else {
                String::new()
            };
            let _ = write!(
                h,
                "<tr title=\"{}\"><td class=\"n\" data-v=\"{}\">{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td>{params}\
                 <td class=\"n\" data-v=\"{}\">{}<br><span class=\"id\">{}</span></td>\
                 <td class=\"n\" data-v=\"{}\">{}<br><span class=\"id\">{}</span></td>\
                 <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>\
                 <td class=\"n\" data-v=\"{}\">{} ({})</td>\
                 <td class=\"n\" data-v=\"{}\">{} ({})</td>\
                 <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>",
                e(&r.run),
                i + 1,
                i + 1,
                e(&r.account),
                swatch(input, &r.policy),
                st.final_equity,
                money(s.final_equity),
                pct(s.return_pct),
                sort_key(st.drawdown),
                money_f(st.drawdown),
                pct(s.max_drawdown_pct),
                s.wipeouts,
                if s.wipeouts > 0 {
                    format!("<b class=\"bad\">{}</b>", s.wipeouts)
                } else {
                    "0".into()
                },
                n.positions,
                liq_cell(r),
                s.cascades,
                s.cascades,
                s.cascade_victims,
                s.trades,
                s.trades,
                s.skipped_signals,
                sort_key(s.win_rate * 100.0),
                pct(s.win_rate * 100.0),
                sort_key(s.profit_factor),
                ratio(s.profit_factor),
            );
            if shortfall {
                let _ = write!(
                    h,
                    "<td class=\"n\" data-v=\"{}\">{}</td>",
                    dec_f64(s.insurance_shortfall),
                    money(s.insurance_shortfall)
                );
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</tbody></table></div></section>\n");
}

/// Money by cause: the chart and the same numbers as a table.
fn money_section(h: &mut String, input: &ReportInput) -> Result<(), ReportError> {
    h.push_str("<section id=\"money\"><h2>Money by cause</h2>\n");
    if input.runs.is_empty() {
        h.push_str("<p class=\"note\">No runs.</p></section>\n");
        return Ok(());
    }
    h.push_str(
        "<p class=\"hint\">Where the money went, per account and policy (mean per run when a \
         policy has several sweep runs), USDT, negative = lost. Exits: realised PnL of the legs \
         closed at a stop, a target, the position's own liquidation, as a cascade victim (a healthy \
         cross position closed by another's loss), or otherwise (channel close, end of data, ADL). \
         Trading fees are the taker/maker fees of entries and exits; clearance fees are the \
         exchange's liquidation fees. Insurance cover: losses beyond zero equity the trader did \
         not pay. Collateral revaluation: the change in value of non-USDT collateral (e.g. BTC), \
         apart from the trading result.</p>\n",
    );
    let kind = ChartKind::MoneyByCause;
    let svg = charts::render_svg(kind, input)?;
    let _ = writeln!(
        h,
        "<figure id=\"chart-{}\" class=\"static\">{}<figcaption><b>{}.</b> (PNG: {}.png)</figcaption></figure>",
        kind.file_stem(),
        inline_svg(&svg, kind.title()),
        e(kind.title()),
        kind.file_stem()
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"sortable\" id=\"money-table\"><thead><tr><th>Account</th><th>Policy</th><th>Runs</th>",
    );
    for c in CAUSES {
        let _ = write!(h, "<th>{}</th>", e(&capitalise(c)));
    }
    h.push_str("<th>Trading result</th><th>Equity change</th></tr></thead><tbody>\n");
    for (account, policy, n, m) in charts::money_by_group(&input.runs) {
        let k = Decimal::from(n.max(1) as u64);
        let _ = write!(
            h,
            "<tr><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td class=\"n\">{n}</td>",
            e(&account),
            swatch(input, &policy)
        );
        for v in m.values() {
            let v = v / k;
            let _ = write!(
                h,
                "<td class=\"n{}\" data-v=\"{}\">{}</td>",
                if v.is_sign_negative() && !v.round_dp(2).is_zero() {
                    " neg"
                } else {
                    ""
                },
                dec_f64(v),
                money(v)
            );
        }
        let trading = (m.trading_total() + m.insurance_cover) / k;
        let change = (m.trading_total() + m.insurance_cover + m.collateral_revaluation) / k;
        let _ = writeln!(
            h,
            "<td class=\"n\" data-v=\"{}\"><b>{}</b></td><td class=\"n\" data-v=\"{}\">{}</td></tr>",
            dec_f64(trading),
            money(trading),
            dec_f64(change),
            money(change)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
    Ok(())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn charts_section(h: &mut String, input: &ReportInput) -> Result<(), ReportError> {
    h.push_str("<section id=\"charts\"><h2>Charts</h2>\n");
    h.push_str(
        "<p class=\"hint\">Static charts, also written as PNG files next to this page for \
         sharing. The interactive charts are under <a href=\"#explore\">Explore a run</a>.</p>\n",
    );
    if let Some(s) = &input.sweep {
        let _ = writeln!(
            h,
            "<p class=\"note\">These charts draw the {} runs shown in detail, not all {} runs of \
             the sweep: see <a href=\"#sweep\">Whole sweep</a> for every run.</p>",
            input.runs.len(),
            group_thousands(&s.runs.to_string())
        );
    }
    for kind in ChartKind::ALL {
        if !kind.applies(input) || kind == ChartKind::MoneyByCause {
            continue;
        }
        let svg = charts::render_svg(kind, input)?;
        let caption = match kind {
            ChartKind::Equity => {
                "Equity of each run, one panel per account; one colour per policy (thin lines: \
                 one per sweep run). Policies listed first are drawn wider, so a curve that \
                 coincides with another still shows. Every minimum, maximum and cliff of the \
                 curve is kept when it is thinned for drawing."
            }
            ChartKind::Drawdown => "Drawdown below the running equity peak, in percent.",
            ChartKind::LiquidationCounts => {
                "Positions liquidated per policy within each account, counted the same way in \
                 isolated and cross (a cross liquidation that closes five positions counts \
                 five); the label adds the number of liquidation events; the lighter top counts \
                 cascade victims."
            }
            ChartKind::LiquidationTimeline => {
                "Top: prices of the symbols traded, each named at its line end. Bottom: one lane \
                 per policy; a marker per cluster of liquidations (circle: isolated only, \
                 triangle: with a cross liquidation), labelled positions liquidated / events, \
                 summed over the policy's runs."
            }
            ChartKind::CascadeAttribution => {
                "Cross liquidations: positions closed because their own loss exceeded their \
                 margin (culprits) against healthy positions closed with them (victims)."
            }
            ChartKind::SweepHeatmap => {
                "Final equity over the two sweep parameters, coloured from red (wiped out) \
                 through white (unchanged) to green (gain); each cell shows the worst run it \
                 holds, with its positions liquidated / events and max drawdown."
            }
            ChartKind::MoneyByCause => "Money by cause.",
        };
        let _ = writeln!(
            h,
            "<figure id=\"chart-{}\">{}<figcaption><b>{}.</b> {} (PNG: {}.png)</figcaption></figure>",
            kind.file_stem(),
            inline_svg(&svg, kind.title()),
            e(kind.title()),
            e(caption),
            kind.file_stem()
        );
    }
    h.push_str("</section>\n");
    Ok(())
}

fn account_section(
    h: &mut String,
    input: &ReportInput,
    idx: usize,
    account: &str,
    pols: &[String],
) {
    let _ = writeln!(
        h,
        "<section id=\"account-{idx}\"><h2>Account {}</h2>",
        e(account)
    );
    let runs: Vec<&RunResult> = input.runs.iter().filter(|r| r.account == account).collect();
    if let Some(first) = runs.first() {
        let _ = writeln!(
            h,
            "<p>Starting equity {} USDT. {} runs.</p>",
            money(first.summary.start_equity),
            runs.len()
        );
    }
    h.push_str("<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>Policy</th>");
    h.push_str(AGG_HEAD);
    h.push_str("<th>Worst run (by money)</th></tr></thead><tbody>\n");
    for p in pols {
        let group: Vec<&&RunResult> = runs.iter().filter(|r| &r.policy == p).collect();
        if group.is_empty() {
            continue;
        }
        let a = aggregate(group.iter().map(|r| **r));
        agg_row(h, &swatch(input, p), &a);
        // Append the worst run's name to the row just written.
        let worst = rank_by_money(group.iter().map(|r| **r))
            .last()
            .map(|s| e(&s.run.run))
            .unwrap_or_default();
        if h.ends_with("</tr>\n") {
            h.truncate(h.len() - "</tr>\n".len());
            let _ = writeln!(h, "<td>{worst}</td></tr>");
        }
    }
    h.push_str("</tbody></table></div>\n");
    // Liquidations of this account, by mode, counted one way.
    let (mut iso_n, mut cross_n) = (LiqCount::default(), LiqCount::default());
    for r in &runs {
        for ev in &r.liquidations {
            let c = LiqCount {
                positions: ev.positions.len() as u64,
                events: 1,
            };
            match ev.mode {
                MarginMode::Isolated => iso_n = iso_n + c,
                MarginMode::Cross => cross_n = cross_n + c,
            }
        }
    }
    let _ = writeln!(
        h,
        "<p>By margin mode, over every policy and run of this account (hybrid policies count \
         in both): isolated, {}; cross, {}.</p></section>",
        iso_n.words(),
        cross_n.words()
    );
}

fn position_list(ev: &LiquidationEvent, culprits: bool) -> String {
    let items: Vec<String> = ev
        .positions
        .iter()
        .filter(|p| p.culprit == culprits)
        .map(|p| {
            let mut s = format!(
                "<span class=\"pos\">{} {} <span class=\"id\">{}</span> @ {}</span> ",
                e(p.symbol.as_str()),
                p.side,
                e(&p.signal_id),
                price(p.price)
            );
            // Every position: its PnL at the liquidation; a culprit that took more than its own
            // margin also says by how much (an isolated one never can).
            let _ = write!(s, "<span class=\"pos\">uPnL {}</span>", money(p.upnl));
            if culprits && p.loss_beyond_margin > Decimal::ZERO {
                let _ = write!(
                    s,
                    "<span class=\"pos\">, {} beyond its margin</span>",
                    money(p.loss_beyond_margin)
                );
            }
            s
        })
        .collect();
    if items.is_empty() {
        "–".to_string()
    } else {
        items.join("<br>")
    }
}

fn price(p: f64) -> String {
    if p >= 1000.0 {
        group_thousands(&format!("{p:.2}"))
    } else if p >= 1.0 {
        format!("{p:.4}")
    } else {
        format!("{p:.6}")
    }
}

fn worst_liquidations(h: &mut String, input: &ReportInput) {
    h.push_str("<section id=\"worst\"><h2>Worst liquidations</h2>\n");
    let mut events: Vec<(&RunResult, &LiquidationEvent)> = input
        .runs
        .iter()
        .flat_map(|r| r.liquidations.iter().map(move |ev| (r, ev)))
        .collect();
    if events.is_empty() {
        h.push_str("<p class=\"note\">No liquidations in any run.</p></section>\n");
        return;
    }
    // Most money lost first; ties by time and run.
    events.sort_by(|a, b| {
        event_loss(b.1)
            .cmp(&event_loss(a.1))
            .then(b.1.wipeout.cmp(&a.1.wipeout))
            .then(a.1.time.cmp(&b.1.time))
            .then(a.0.run.cmp(&b.0.run))
    });
    let total = events.len();
    let shown = if total <= WORST_EVENTS {
        format!("All {total} liquidation events, most money lost first,")
    } else {
        format!("The {WORST_EVENTS} liquidation events of {total} that cost the most money,")
    };
    let _ = writeln!(
        h,
        "<p class=\"hint\">{shown} isolated \
         and cross alike. Money lost: the losses of the positions closed (a victim's open gain \
         reduces it) plus the clearance fee. Culprits: positions whose loss exceeded their own \
         margin; victims: healthy positions closed with them. All events are in \
         <a href=\"liquidations.csv\"><code>liquidations.csv</code></a>.</p>"
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"sortable\" id=\"worst-table\"><thead><tr><th>Time (UTC)</th><th>Run</th>\
         <th>Mode</th><th>Money lost</th><th>Positions</th><th>Culprits</th><th>Victims</th>\
         <th>Clearance fee</th><th>Insurance shortfall</th></tr></thead><tbody>\n",
    );
    for (r, ev) in events.iter().take(WORST_EVENTS) {
        let mut mode = ev.mode.to_string();
        if ev.is_cascade() {
            mode.push_str(" cascade");
        }
        if let Some(c) = ev.book_correlation {
            let _ = write!(mode, "<br><span class=\"id\">book corr. {c:.2}</span>");
        }
        let shortfall = if ev.wipeout {
            format!(
                "{} <b class=\"bad\">wipeout</b>",
                money(ev.insurance_shortfall)
            )
        } else {
            money(ev.insurance_shortfall)
        };
        let loss = event_loss(ev);
        let _ = writeln!(
            h,
            "<tr><td class=\"nw\" data-v=\"{}\">{}</td><td>{}</td><td>{mode}</td>\
             <td class=\"n\" data-v=\"{}\"><b>{}</b></td><td class=\"n\" data-v=\"{}\">{}</td>\
             <td>{}</td><td>{}</td>\
             <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{shortfall}</td></tr>",
            ev.time,
            e(&short_time(ev.time)),
            e(&r.run),
            dec_f64(loss),
            money(loss),
            ev.positions.len(),
            ev.positions.len(),
            position_list(ev, true),
            position_list(ev, false),
            dec_f64(ev.clearance_fee),
            money(ev.clearance_fee),
            dec_f64(ev.insurance_shortfall),
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn skipped(h: &mut String, input: &ReportInput) {
    h.push_str("<section id=\"skipped\"><h2>Skipped signals</h2>\n");
    // (time, signal id, symbol, reason) -> runs, in a stable order.
    let mut by: BTreeMap<(i64, &str, String, &str), Vec<&str>> = BTreeMap::new();
    for r in &input.runs {
        for s in &r.skipped {
            let sym = s.symbol.as_ref().map(|x| x.to_string()).unwrap_or_default();
            by.entry((s.time, &*s.signal_id, sym, s.reason.as_str()))
                .or_default()
                .push(r.run.as_str());
        }
    }
    if by.is_empty() {
        h.push_str("<p class=\"note\">No signal was skipped.</p></section>\n");
        return;
    }
    let _ = writeln!(
        h,
        "<p class=\"hint\">{} distinct (signal, reason) pairs; identical skips in several runs \
         share a row. Every skip of every run is in <a href=\"skipped.csv\"><code>skipped.csv</code></a>.</p>",
        by.len()
    );
    // Printed, the list collapses to a count of skips per reason.
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, _, reason) in by.keys() {
        *reasons.entry(short_reason(reason)).or_default() += 1;
    }
    h.push_str("<div class=\"print-only\"><p>Skips by reason (the full list is in <code>skipped.csv</code>):</p><ul>");
    for (reason, n) in &reasons {
        let _ = write!(h, "<li>{n} × {}</li>", e(reason));
    }
    h.push_str("</ul></div>\n<div class=\"long\">");
    h.push_str(
        "<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>Time (UTC)</th>\
         <th>Signal</th><th>Symbol</th><th>Reason</th><th>Runs</th></tr></thead><tbody>\n",
    );
    for ((time, id, sym, reason), runs) in by.iter().take(MAX_SKIPPED_ROWS) {
        let shown: Vec<String> = runs.iter().take(3).map(|r| e(r)).collect();
        let more = if runs.len() > 3 {
            format!(" and {} more", runs.len() - 3)
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"nw\" data-v=\"{time}\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td data-v=\"{}\">{}: {}{more}</td></tr>",
            e(&short_time(*time)),
            e(id),
            e(sym),
            e(reason),
            runs.len(),
            runs.len(),
            shown.join(", "),
        );
    }
    h.push_str("</tbody></table></div>\n");
    if by.len() > MAX_SKIPPED_ROWS {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} more rows not shown; see <code>skipped.csv</code>.</p>",
            by.len() - MAX_SKIPPED_ROWS
        );
    }
    h.push_str("</div></section>\n");
}

/// A skip reason without its numbers (`max open positions (4) reached` → `max open positions`),
/// for the printed summary.
fn short_reason(reason: &str) -> &str {
    let cut = reason
        .find(|c: char| c.is_ascii_digit() || c == '(' || c == ':' || c == ';')
        .unwrap_or(reason.len());
    let head = reason[..cut].trim_end_matches([' ', ',', '=', '<', '>']);
    if head.is_empty() { reason } else { head }
}

/// Links to the tables written next to the page.
fn files_section(h: &mut String) {
    h.push_str(
        "<section id=\"files\"><h2>Files</h2>\n<p class=\"hint\">Written next to this page \
         (links work when the run directory is kept together).</p>\n<ul class=\"files\">",
    );
    for (f, what) in [
        ("summary.csv", "one row per run"),
        ("trades.csv", "every position's life, one row per position"),
        (
            "liquidations.csv",
            "every liquidation event and the positions it closed",
        ),
        ("equity.csv", "the equity curve of every run"),
        ("skipped.csv", "every signal a run skipped, with the reason"),
        ("summary.json", "the summaries as JSON"),
        ("report-input.json", "everything this page was drawn from"),
        ("run.json", "scenario, data coverage and brackets used"),
    ] {
        let _ = write!(h, "<li><a href=\"{f}\"><code>{f}</code></a> — {what}</li>");
    }
    h.push_str("</ul></section>\n");
}

fn warnings(h: &mut String, input: &ReportInput) {
    h.push_str("<section id=\"warnings\"><h2>Data warnings</h2>\n");
    if input.warnings.is_empty() {
        h.push_str("<p class=\"note\">No data warnings.</p></section>\n");
        return;
    }
    h.push_str("<ul class=\"warn\">\n");
    for w in &input.warnings {
        let kind = match w.kind {
            WarningKind::MissingMark => "missing mark prices",
            WarningKind::MissingFunding => "missing funding",
            WarningKind::GapFilled => "gap filled",
            WarningKind::Other => "note",
        };
        let sym = w
            .symbol
            .as_ref()
            .map(|s| format!("{}: ", e(s.as_str())))
            .unwrap_or_default();
        let _ = writeln!(h, "<li><b>{kind}</b> · {sym}{}</li>", e(&w.message));
    }
    h.push_str("</ul></section>\n");
}

fn assumptions(h: &mut String, input: &ReportInput) {
    h.push_str("<section id=\"assumptions\"><h2>Assumptions</h2>\n");
    if input.assumptions.is_empty() {
        h.push_str("<p class=\"note\">The run recorded no assumptions.</p></section>\n");
        return;
    }
    h.push_str("<dl>\n");
    for (k, v) in &input.assumptions {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", e(k), e(v));
    }
    h.push_str("</dl></section>\n");
}

pub(crate) const CSS: &str = r#"
:root { color-scheme: light; --fg:#1d1d1f; --muted:#5a5a5f; --line:#dcdce0; --bg:#fff; --head:#f4f4f6; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1320px; padding: 0 24px 48px; color: var(--fg); background: var(--bg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; }
header { padding: 28px 0 8px; border-bottom: 2px solid var(--fg); }
h1 { font-size: 1.8rem; margin: 0 0 4px; }
h2 { font-size: 1.35rem; margin: 40px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.meta, .hint, figcaption, footer { color: var(--muted); font-size: .92rem; }
.note { color: var(--muted); font-style: italic; }
nav ul { list-style: none; padding: 0; margin: 16px 0 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
nav a { color: #0b57d0; text-decoration: none; font-size: .95rem; }
nav a:hover { text-decoration: underline; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 6px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.n { text-align: right; white-space: nowrap; }
td.nw, .pol, .pos { white-space: nowrap; }
tbody tr:hover { background: #fafafc; }
th button { all: unset; cursor: pointer; }
th button::after { content: "\00a0\2195"; color: #9a9aa0; font-size: .8em; }
th[aria-sort=ascending] button::after { content: "\00a0\2191"; color: var(--fg); }
th[aria-sort=descending] button::after { content: "\00a0\2193"; color: var(--fg); }
th button:focus-visible { outline: 2px solid #0b57d0; }
.sw { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .4em; vertical-align: -.05em; }
figure { margin: 24px 0; }
figure svg { display: block; width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { margin-top: 6px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; }
dt { font-weight: 600; }
dd { margin: 0; }
ul.warn li { margin: 4px 0; }
.id { color: var(--muted); font-size: .85em; }
code { font-size: .9em; background: var(--head); padding: 1px 4px; border-radius: 3px; }
footer { margin-top: 48px; border-top: 1px solid var(--line); padding-top: 8px; }
.verdicts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
.verdict { border: 1px solid var(--line); border-left: 6px solid var(--fg); border-radius: 4px; padding: 4px 16px 8px; }
.verdict h3 { margin: 8px 0 4px; font-size: 1.1rem; }
.verdict .headline { font-size: 1.02rem; }
.fates { padding-left: 1.2em; margin: 6px 0; }
.fates li { margin: 4px 0; }
.bad { color: #b2182b; }
td.neg { color: #b2182b; }
h3 { font-size: 1.1rem; margin: 24px 0 8px; }
h4 { font-size: 1rem; margin: 18px 0 6px; }
.uplot-box { width: 100%; min-height: 200px; }
.run-info { font-weight: 600; }
select, input[type=search] { font: inherit; padding: 3px 6px; max-width: 100%; }
ul.files li { margin: 2px 0; }
.print-only { display: none; }
tr[hidden] { display: none; }
@media (max-width: 700px) {
  body { padding: 0 10px 32px; font-size: 15px; }
  h1 { font-size: 1.35rem; }
  figure { overflow-x: auto; }
  figure svg { min-width: 720px; }
  table { font-size: .78rem; }
  .verdicts { grid-template-columns: 1fr; }
  dl { grid-template-columns: 1fr; }
  #run-picker { width: 100%; }
  .u-legend { font-size: .72rem; }
  .u-legend .u-series > * { padding: 1px 2px; }
}
@media print {
  .print-only { display: block; }
  .long, .screen-only, #explore, .u-legend { display: none; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  section { break-before: page; }
  #verdict, #summary { break-before: auto; }
  figure { break-inside: avoid; }
  figure svg { max-height: 24cm; border: none; }
  table { font-size: 8pt; }
  tr { break-inside: avoid; }
  th button::after { content: none; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"#;

pub(crate) const JS: &str = r#"
(function () {
  function key(td) {
    var v = td.getAttribute('data-v');
    if (v !== null && v !== '' && !isNaN(+v)) return +v;
    return td.textContent.trim().toLowerCase();
  }
  function cmp(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = th.textContent;
      th.textContent = '';
      th.appendChild(b);
      b.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c = cmp(key(r1.cells[col]), key(r2.cells[col]));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"#;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<b>"x" & 'y'</b>"#),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group_thousands("1234567.89"), "1,234,567.89");
        assert_eq!(group_thousands("-1234.5"), "-1,234.5");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(money(Decimal::new(-1234567, 1)), "-123,456.70");
    }

    #[test]
    fn svg_is_inlined_without_namespace_url() {
        let svg = "<svg width=\"10\" height=\"5\" viewBox=\"0 0 10 5\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect/></svg>";
        let out = inline_svg(svg, "a <b>");
        assert_eq!(
            out,
            "<svg viewBox=\"0 0 10 5\" role=\"img\" aria-label=\"a &lt;b&gt;\">\n<rect/></svg>"
        );
    }
}

#[cfg(test)]
mod money_tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_never_shows_negative_zero() {
        assert_eq!(money(Decimal::new(-1, 3)), "0.00");
        assert_eq!(money(Decimal::new(123456789, 2)), "1,234,567.89");
        assert_eq!(money(Decimal::new(-5000, 0)), "-5,000.00");
    }
}
