//! What `run` prints on stderr before its summary: the data warnings the report lists, grouped by
//! kind and counted, and the signals skipped, grouped by reason and counted (the report's "Data
//! warnings" and "Skipped signals" sections, in a few lines).

use ringfence_model::WarningKind;
use ringfence_report::ReportInput;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Most skip reasons listed; the rest are summed in one line.
const MAX_REASONS: usize = 6;

/// The warnings of a run as lines for stderr (empty when there is nothing to say).
pub fn format(input: &ReportInput) -> String {
    let mut out = String::new();
    // Data warnings: per kind, the symbols concerned; other warnings per distinct message.
    let mut by_kind: BTreeMap<&str, (usize, Vec<String>, String)> = BTreeMap::new();
    let mut other: BTreeMap<&str, usize> = BTreeMap::new();
    for w in &input.warnings {
        let kind = match w.kind {
            WarningKind::MissingMark => "no mark prices",
            WarningKind::MissingFunding => "no funding data",
            WarningKind::GapFilled => "gaps filled",
            WarningKind::Other => {
                *other.entry(w.message.as_str()).or_default() += 1;
                continue;
            }
        };
        let e = by_kind.entry(kind).or_default();
        e.0 += 1;
        if let Some(s) = &w.symbol
            && !e.1.contains(&s.to_string())
        {
            e.1.push(s.to_string());
        }
        if e.2.is_empty() {
            e.2 = w.message.clone();
        }
    }
    let total = input.warnings.len();
    if total > 0 {
        let _ = writeln!(
            out,
            "warning: {total} data warning{} (listed in report.html, \"Data warnings\"):",
            if total == 1 { "" } else { "s" }
        );
        for (kind, (n, symbols, example)) in &by_kind {
            let _ = writeln!(
                out,
                "  {n} × {kind}{}: {example}",
                if symbols.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", symbols.join(", "))
                }
            );
        }
        for (message, n) in &other {
            let _ = writeln!(out, "  {n} × {message}");
        }
    }
    // Skipped signals: per reason (its numbers replaced by `…`), over every run.
    let mut reasons: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut skipped = 0usize;
    for r in &input.runs {
        let mut seen: Vec<String> = Vec::new();
        for s in &r.skipped {
            skipped += 1;
            let key = without_numbers(&s.reason);
            if !seen.contains(&key) {
                seen.push(key.clone());
                reasons.entry(key.clone()).or_default().1 += 1;
            }
            reasons.entry(key).or_default().0 += 1;
        }
    }
    if skipped > 0 {
        let runs = input.runs.iter().filter(|r| !r.skipped.is_empty()).count();
        let of = match &input.sweep {
            Some(s) => format!(
                "{} runs shown in detail (of {}; every run's in skipped.csv)",
                input.runs.len(),
                s.runs
            ),
            None => format!("{} runs (every one in skipped.csv)", input.runs.len()),
        };
        let _ = writeln!(
            out,
            "note: {skipped} signal{} skipped in {runs} of {of}:",
            if skipped == 1 { "" } else { "s" },
        );
        let mut list: Vec<(String, (usize, usize))> = reasons.into_iter().collect();
        list.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        for (reason, (n, in_runs)) in list.iter().take(MAX_REASONS) {
            let runs_word = if *in_runs == 1 { "run" } else { "runs" };
            let _ = writeln!(out, "  {n} × {reason} ({in_runs} {runs_word})");
        }
        if list.len() > MAX_REASONS {
            let rest: usize = list[MAX_REASONS..].iter().map(|x| x.1.0).sum();
            let _ = writeln!(
                out,
                "  {rest} more, for {} other reasons",
                list.len() - MAX_REASONS
            );
        }
    }
    out
}

/// `needs 52.3 USDT, wallet -4` → `needs … USDT, wallet …`: reasons that differ only in their
/// amounts are one group.
fn without_numbers(reason: &str) -> String {
    let chars: Vec<char> = reason.chars().collect();
    let mut out = String::with_capacity(reason.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let digit_at = |k: usize| chars.get(k).is_some_and(char::is_ascii_digit);
        let starts = !after_word && (c.is_ascii_digit() || (c == '-' && digit_at(i + 1)));
        if starts {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            // `1000PEPEUSDT`, `10x`: part of a word, not an amount.
            if !chars.get(j).is_some_and(|n| n.is_alphabetic()) {
                out.push('…');
                i = j;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Prints [`format`] on stderr.
pub fn print(input: &ReportInput) {
    let text = format(input);
    if !text.is_empty() {
        eprint!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringfence_model::{DataWarning, SkippedSignal, Symbol};

    #[test]
    fn warnings_are_grouped_and_counted() {
        let mut input = ringfence_report::fixtures::sample_with(&[10], &[0.05]);
        let sym = |s: &str| Symbol::parse(s).expect("symbol");
        input.warnings = vec![
            DataWarning {
                symbol: Some(sym("SOLUSDT")),
                kind: WarningKind::MissingMark,
                message: "no mark-price data: liquidations checked against last price".into(),
            },
            DataWarning {
                symbol: Some(sym("XRPUSDT")),
                kind: WarningKind::MissingMark,
                message: "no mark-price data: liquidations checked against last price".into(),
            },
            DataWarning {
                symbol: None,
                kind: WarningKind::Other,
                message: "signal 7: leverage 500x capped at 125x".into(),
            },
        ];
        for r in &mut input.runs {
            r.skipped = vec![
                SkippedSignal {
                    signal_id: "a".into(),
                    time: 0,
                    symbol: None,
                    reason: "BTCUSDT already open or pending".into(),
                };
                2
            ];
        }
        let text = format(&input);
        let runs = input.runs.len();
        assert!(text.contains("warning: 3 data warnings"), "{text}");
        assert!(
            text.contains("2 × no mark prices (SOLUSDT, XRPUSDT): no mark-price data"),
            "{text}"
        );
        assert!(
            text.contains("1 × signal 7: leverage 500x capped at 125x"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "note: {} signals skipped in {runs} of {runs} runs",
                2 * runs
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "{} × BTCUSDT already open or pending ({runs} runs)",
                2 * runs
            )),
            "{text}"
        );
        assert_eq!(
            without_numbers("insufficient margin: needs 52.30 USDT, USDT wallet -4.5"),
            "insufficient margin: needs … USDT, USDT wallet …"
        );
        assert_eq!(
            without_numbers("1000PEPEUSDT already open; signal h12 at 10x"),
            "1000PEPEUSDT already open; signal h12 at 10x",
            "digits inside words are not amounts"
        );
        input.warnings.clear();
        for r in &mut input.runs {
            r.skipped.clear();
        }
        assert_eq!(format(&input), "");
    }
}
