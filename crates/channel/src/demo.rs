//! Renders a signal list as a Telegram Desktop JSON export, the way a real channel would have
//! posted it: calls in three grammars (Cornix-style blocks, emoji lines, `Short Term / Mid Term`
//! blocks), updates as replies, result claims and chatter in between. `data synth` writes the demo
//! channel with it, so the demo has an export to import.

use ringfence_model::{Action, EntrySpec, MarginMode, Side, SignalEvent, TimestampMs};
use serde_json::{Value, json};

/// One message before ids are given: time, text, and the call it replies to (by call index).
struct Draft {
    time: TimestampMs,
    text: String,
    reply_to_call: Option<usize>,
    /// Index of the call this message is (for replies to point at).
    is_call: Option<usize>,
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Long => "Long",
        Side::Short => "Short",
    }
}

fn lev_text(ev: &SignalEvent) -> String {
    let lev = match (ev.leverage, ev.leverage_high) {
        (Some(a), Some(b)) => format!("{a}-{b}x"),
        (Some(a), None) => format!("{a}x"),
        _ => return String::new(),
    };
    match ev.margin_mode {
        Some(MarginMode::Cross) => format!("Cross {lev}"),
        Some(MarginMode::Isolated) => format!("Isolated {lev}"),
        None => lev,
    }
}

fn list(v: &[f64], sep: &str) -> String {
    v.iter().map(f64::to_string).collect::<Vec<_>>().join(sep)
}

/// The text of a call in grammar `style` (0, 1, 2).
fn call_text(ev: &SignalEvent, style: usize) -> String {
    let symbol = ev
        .symbol
        .as_ref()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let base = symbol.strip_suffix("USDT").unwrap_or(&symbol).to_string();
    let side = ev.side.unwrap_or(Side::Long);
    let entry_line = match ev.entry {
        EntrySpec::Market => "market".to_string(),
        EntrySpec::Limit { price } => price.to_string(),
        EntrySpec::Zone { low, high } => format!("{low} - {high}"),
    };
    let stop = ev.stop.map(|s| s.to_string());
    let lev = lev_text(ev);
    let mut t = String::new();
    match style {
        0 => {
            t.push_str(&format!(
                "⚡️⚡️ #{base}/USDT ⚡️⚡️\nExchanges: Binance Futures\nSignal Type: Regular ({})\n",
                side_word(side)
            ));
            if !lev.is_empty() {
                t.push_str(&format!("Leverage: {lev}\n"));
            }
            t.push_str(&format!(
                "\nEntry Zone: {entry_line}\n\nTake-Profit Targets:\n"
            ));
            for (i, x) in ev.targets.iter().enumerate() {
                t.push_str(&format!("{}) {x}\n", i + 1));
            }
            if let Some(s) = stop {
                t.push_str(&format!("\nStop Targets:\n1) {s}"));
            }
        }
        1 => {
            let dot = if side == Side::Long { "🟢" } else { "🔴" };
            t.push_str(&format!(
                "📍Coin : #{base}\n{dot} {}\n\n👉 Entry: {entry_line}\n",
                side_word(side).to_uppercase()
            ));
            if !lev.is_empty() {
                t.push_str(&format!("🌐 Leverage: {lev}\n"));
            }
            t.push('\n');
            for (i, x) in ev.targets.iter().enumerate() {
                t.push_str(&format!("🎯 Target {}: {x}\n", i + 1));
            }
            if let Some(s) = stop {
                t.push_str(&format!("\n❌ StopLoss: {s}"));
            }
        }
        _ => {
            t.push_str(&format!("#{base}USDT.P\nDirection: {}\n", side_word(side)));
            if !lev.is_empty() {
                t.push_str(&format!("Leverage: {lev}\n"));
            }
            t.push_str(&format!("Entry: {entry_line}\n"));
            let (short, mid) = ev.targets.split_at(ev.targets.len().min(2));
            if !short.is_empty() {
                t.push_str(&format!("Short Term: {}\n", list(short, " - ")));
            }
            if !mid.is_empty() {
                t.push_str(&format!("Mid Term: {}\n", list(mid, " - ")));
            }
            if let Some(s) = stop {
                t.push_str(&format!("Stop-Loss: {s} or opposite signal"));
            }
        }
    }
    t
}

const CHATTER: &[&str] = &[
    "Good morning traders! Stay disciplined and manage your risk 🙏",
    "Market update: volatility is high today, size down.",
    "Join our VIP group for more calls 🚀",
];

/// The channel as a Telegram Desktop `result.json` (newer layout: `date_unixtime`, text as
/// an array of strings and entities). Deterministic: the same events give the same bytes.
pub fn telegram_export(channel: &str, events: &[SignalEvent]) -> String {
    let mut drafts = Vec::new();
    let mut call_index: Vec<(String, usize)> = Vec::new();
    let mut calls = 0usize;
    for ev in events {
        match ev.action {
            Action::Open => {
                let k = calls;
                calls += 1;
                call_index.push((ev.id.to_string(), k));
                drafts.push(Draft {
                    time: ev.time,
                    text: call_text(ev, k % 3),
                    reply_to_call: None,
                    is_call: Some(k),
                });
                if k % 4 == 1 {
                    let sym = ev
                        .symbol
                        .as_ref()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    let pct = 10.0 + (k % 7) as f64 * 7.5;
                    drafts.push(Draft {
                        time: ev.time + 3 * 3_600_000,
                        text: format!("Binance Futures\n#{sym} Take-Profit target 1 ✅\nProfit: {pct}% 📈\nPeriod: 3 Hours ⏰"),
                        reply_to_call: Some(k),
                        is_call: None,
                    });
                }
                if k % 5 == 2 {
                    drafts.push(Draft {
                        time: ev.time + 60_000,
                        text: CHATTER[k % CHATTER.len()].to_string(),
                        reply_to_call: None,
                        is_call: None,
                    });
                }
            }
            action => {
                let Some(k) = call_index
                    .iter()
                    .rev()
                    .find(|(id, _)| **id == *ev.id)
                    .map(|x| x.1)
                else {
                    continue;
                };
                let text = match (action, ev.stop) {
                    (Action::MoveStop, Some(s)) => format!("Move SL to {s} 🔒"),
                    (Action::Close, _) => "Close now, take the money 💰".to_string(),
                    (Action::Cancel, _) => "Cancelled ❌ entry not reached".to_string(),
                    _ => continue,
                };
                drafts.push(Draft {
                    time: ev.time,
                    text,
                    reply_to_call: Some(k),
                    is_call: None,
                });
            }
        }
    }
    // ids in time order, as Telegram gives them
    drafts.sort_by_key(|d| d.time);
    let mut call_msg = vec![0i64; calls];
    for (n, d) in drafts.iter().enumerate() {
        if let Some(k) = d.is_call {
            call_msg[k] = n as i64 + 2;
        }
    }
    let mut messages = vec![json!({
        "id": 1, "type": "service", "date": iso_local(drafts.first().map_or(0, |d| d.time) - 60_000),
        "date_unixtime": ((drafts.first().map_or(0, |d| d.time) - 60_000) / 1000).to_string(),
        "actor": channel, "actor_id": "channel1", "action": "create_channel", "title": channel,
        "text": "", "text_entities": [],
    })];
    for (n, d) in drafts.iter().enumerate() {
        let id = n as i64 + 2;
        // the first word as a bold or hashtag entity, the rest plain: the array form of `text`
        let (head, rest) = d
            .text
            .split_at(d.text.find([' ', '\n']).unwrap_or(d.text.len()));
        let kind = if head.starts_with('#') {
            "hashtag"
        } else {
            "bold"
        };
        let mut m = json!({
            "id": id, "type": "message", "date": iso_local(d.time), "date_unixtime": (d.time / 1000).to_string(),
            "from": channel, "from_id": "channel1",
            "text": [ {"type": kind, "text": head}, rest ],
            "text_entities": [ {"type": kind, "text": head}, {"type": "plain", "text": rest} ],
        });
        if let (Some(k), Value::Object(obj)) = (d.reply_to_call, &mut m) {
            obj.insert("reply_to_message_id".into(), json!(call_msg[k]));
        }
        messages.push(m);
    }
    let export =
        json!({ "name": channel, "type": "public_channel", "id": 1, "messages": messages });
    serde_json::to_string_pretty(&export).unwrap_or_default() + "\n"
}

/// `date` as Telegram writes it (local time of the exporting machine; here UTC).
fn iso_local(ms: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}
