//! Import benchmark: generates a deterministic ~50 MB Telegram export (JSON, and the same channel as
//! HTML pages), then times reading, classifying and rendering the signal file and report.
//!
//! ```text
//! cargo run --release -p ringfence-channel --example import_bench [-- MEGABYTES]
//! ```

use ringfence_channel::{Format, Grammar, classify, read_export, write};
use std::fmt::Write as _;
use std::time::Instant;

/// Message templates in the shapes real channels use; `{P}` pair, `{B}` base, `{E}` entry price.
const CALLS: &[&str] = &[
    "⚡️⚡️ #{P} ⚡️⚡️\nExchanges: Binance Futures\nSignal Type: Regular (Long)\nLeverage: Cross (20.0X)\n\nEntry Targets:\n1) {E}\n2) {E2}\n\nTake-Profit Targets:\n1) {T1}\n2) {T2}\n3) {T3}\n\nStop Targets:\n1) {S}",
    "📍Coin : #{B}\n🟢 LONG\n👉 Entry: {E} - {E2}\n🌐 Leverage: 20x\n\n🎯 Target 1: {T1}\n🎯 Target 2: {T2}\n🎯 Target 3: {T3}\n\n❌ StopLoss: {S}",
    "#{B}USDT.P\nDirection: Long\nLeverage: Cross 20x\nEntry: {E} - {E2}\nShort Term: {T1} - {T2}\nMid Term: {T3}\nStop-Loss: {S} or opposite signal",
];
const AFTER: &[&str] = &[
    "Binance Futures\n#{P} Take-Profit target 1 ✅\nProfit: 47.1% 📈\nPeriod: 3 Hours ⏰",
    "Move SL to entry 🔒",
    "Close half now",
    "Good morning traders! Market looks strong today, stay disciplined and manage your risk 🙏",
    "#{P} All take-profit targets achieved 😎\nProfit: 120.3% 📈",
];
const BASES: &[&str] = &[
    "BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "LINK", "ARB", "OP", "DOGE",
];

fn fill(t: &str, i: usize) -> String {
    let base = BASES[i % BASES.len()];
    let e = 10.0 + (i % 997) as f64 * 0.37;
    t.replace("{P}", &format!("{base}/USDT"))
        .replace("{B}", base)
        .replace("{E2}", &format!("{:.4}", e * 0.98))
        .replace("{E}", &format!("{e:.4}"))
        .replace("{T1}", &format!("{:.4}", e * 1.02))
        .replace("{T2}", &format!("{:.4}", e * 1.05))
        .replace("{T3}", &format!("{:.4}", e * 1.10))
        .replace("{S}", &format!("{:.4}", e * 0.93))
}

/// (id, unix seconds, text, reply_to) for `n` messages: a call then five follow-ups, repeated.
fn messages(bytes: usize) -> Vec<(i64, i64, String, Option<i64>)> {
    let mut out = Vec::new();
    let mut size = 0;
    let mut i = 0usize;
    let mut call_id = 0;
    while size < bytes {
        let id = i as i64 + 1;
        let k = i % 6;
        let (text, reply) = if k == 0 {
            call_id = id;
            (fill(CALLS[(i / 6) % CALLS.len()], i / 6), None)
        } else {
            (
                fill(AFTER[k - 1], (i / 6).max(1) - 1 + usize::from(k == 0)),
                Some(call_id),
            )
        };
        size += text.len() + 260;
        out.push((id, 1_678_000_000 + id * 97, text, reply));
        i += 1;
    }
    out
}

fn json_export(msgs: &[(i64, i64, String, Option<i64>)]) -> String {
    let mut s = String::from(
        "{\n \"name\": \"Bench Channel\",\n \"type\": \"public_channel\",\n \"id\": 1,\n \"messages\": [\n",
    );
    for (n, (id, t, text, reply)) in msgs.iter().enumerate() {
        let reply = reply
            .map(|r| format!(",\n   \"reply_to_message_id\": {r}"))
            .unwrap_or_default();
        // text as the array form: a hashtag entity, then the rest
        let (head, rest) = text.split_at(text.find(' ').unwrap_or(0));
        let _ = write!(
            s,
            "  {{\n   \"id\": {id},\n   \"type\": \"message\",\n   \"date\": \"2023-03-15T10:00:00\",\n   \"date_unixtime\": \"{t}\",\n   \"from\": \"Bench Channel\",\n   \"from_id\": \"channel1\"{reply},\n   \"text\": [{{\"type\": \"bold\", \"text\": {}}}, {}],\n   \"text_entities\": []\n  }}{}\n",
            serde_json::Value::String(head.to_string()),
            serde_json::Value::String(rest.to_string()),
            if n + 1 == msgs.len() { "" } else { "," }
        );
    }
    s.push_str(" ]\n}\n");
    s
}

fn html_page(msgs: &[(i64, i64, String, Option<i64>)]) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/><title>Exported Data</title></head><body><div class=\"page_wrap\"><div class=\"page_body chat_page\"><div class=\"history\">\n",
    );
    for (id, t, text, reply) in msgs {
        let dt = chrono::DateTime::from_timestamp(*t, 0).unwrap_or_default();
        let title = dt.format("%d.%m.%Y %H:%M:%S UTC+00:00");
        let body = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\n', "<br>");
        let reply = reply
            .map(|r| format!("<div class=\"reply_to details\">In reply to <a href=\"#go_to_message{r}\" onclick=\"return GoToMessage({r})\">this message</a></div>\n"))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<div class=\"message default clearfix\" id=\"message{id}\">\n <div class=\"body\">\n  <div class=\"pull_right date details\" title=\"{title}\">10:00</div>\n  <div class=\"from_name\">Bench Channel</div>\n  {reply}  <div class=\"text\">{body}</div>\n </div>\n</div>\n"
        );
    }
    s.push_str("</div></div></div></body></html>\n");
    s
}

/// CPU time in seconds of this thread (`/proc/thread-self/stat`) or of the whole process with all
/// its threads (`/proc/self/stat`), in 10 ms ticks, so the figures mean something on a shared
/// machine where wall time includes waiting for a core.
fn cpu_secs(stat: &str) -> f64 {
    let stat = std::fs::read_to_string(stat).unwrap_or_default();
    // fields after the command name (which is in parentheses and may hold spaces)
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the command name
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    // RINGFENCE_BENCH_KEEP=DIR writes the exports there and keeps them (to diff importer outputs)
    let keep = std::env::var_os("RINGFENCE_BENCH_KEEP").map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ringfence-import-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).expect("temp dir");
    let msgs = messages(mb * 1_000_000);
    let json_path = dir.join("result.json");
    std::fs::write(&json_path, json_export(&msgs)).expect("write json");
    let html_dir = dir.join("html");
    std::fs::create_dir_all(&html_dir).expect("html dir");
    // Telegram pages hold 1000 messages each
    for (p, chunk) in msgs.chunks(1000).enumerate() {
        let name = if p == 0 {
            "messages.html".to_string()
        } else {
            format!("messages{}.html", p + 1)
        };
        std::fs::write(html_dir.join(name), html_page(chunk)).expect("write html");
    }
    let size = |p: &std::path::Path| -> f64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .expect("dir")
                .filter_map(Result::ok)
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum::<u64>() as f64
                / 1e6
        } else {
            std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1e6
        }
    };
    let grammar = Grammar::builtin();
    for (label, path, fmt) in [
        ("telegram-json", json_path.as_path(), Format::TelegramJson),
        ("telegram-html", html_dir.as_path(), Format::TelegramHtml),
    ] {
        let mut times = Vec::new();
        let mut summary = String::new();
        let mut cpu = Vec::new();
        for _ in 0..3 {
            let c0 = cpu_secs("/proc/self/stat");
            let m0 = cpu_secs("/proc/thread-self/stat");
            let t0 = Instant::now();
            let m = read_export(path, fmt, None).expect("reads");
            let t1 = Instant::now();
            let imp = classify(&m, &grammar, "bench");
            let t2 = Instant::now();
            // what `ringfence signals import` renders (it also reads the signal file back to
            // check it loads, in the data crate: not timed here)
            let r = write::render_all(&imp, false);
            let t3 = Instant::now();
            cpu.push((
                cpu_secs("/proc/self/stat") - c0,
                cpu_secs("/proc/thread-self/stat") - m0,
            ));
            let c = imp.counts();
            summary = format!(
                "{} messages: calls {}, updates {}, claims {}, chatter {}, unparsed {} ({} bytes written)",
                m.len(),
                c.calls,
                c.updates,
                c.claims,
                c.chatter,
                c.unparsed,
                r.signals.len() + r.report_csv.len() + r.report_json.len() + r.claims_csv.len()
            );
            times.push((t1 - t0, t2 - t1, t3 - t2, t3 - t0));
        }
        times.sort_by_key(|t| t.3);
        cpu.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (read, cls, out, total) = times[1];
        println!(
            "{label}: {:.1} MB, median of 3: cpu {:.2} s all threads, {:.2} s main thread, wall {:.3} s (read {:.3} s, classify {:.3} s, render {:.3} s) = {:.0} MB/s wall; {summary}",
            size(path),
            cpu[1].0,
            cpu[1].1,
            total.as_secs_f64(),
            read.as_secs_f64(),
            cls.as_secs_f64(),
            out.as_secs_f64(),
            size(path) / total.as_secs_f64()
        );
    }
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
