//! Every message to one class — call, update, result/claim, chatter, unparsed — with its reason,
//! and the signal events and claims the calls and updates give.
//!
//! Updates and claims are linked to their call by `reply_to_message_id` first (a reply to an update
//! follows that update to its call), else by the pair they name (the latest earlier call of that
//! pair). The parse rate is `(calls + updates + claims) / (calls + updates + claims + unparsed)`:
//! chatter is not trading content and does not count.

use crate::export::Message;
use crate::grammar::{Entry, Grammar, Lifecycle, Parsed, Said};
use crate::tokens::{Tok, tokenize};
use rayon::prelude::*;
use ringfence_model::{
    Action, EntryLevel, EntrySpec, MarginMode, Side, SignalEvent, Symbol, TimestampMs,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// A new call: an `open` event.
    Call,
    /// A lifecycle update of a call (move stop, close, cancel, entries filled).
    Update,
    /// A result or celebration: what the channel claims, never a call.
    Claim,
    /// Not trading content (news, ads, service messages, media without text).
    Chatter,
    /// Trading content that could not be taken: the reason says why.
    Unparsed,
}

impl Class {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Call => "call",
            Class::Update => "update",
            Class::Claim => "claim",
            Class::Chatter => "chatter",
            Class::Unparsed => "unparsed",
        }
    }
}

/// One row of the import report: one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Telegram message id.
    pub msg_id: i64,
    /// Posted at (ms UTC).
    pub time: TimestampMs,
    /// Its class.
    pub class: Class,
    /// Why it was not taken (chatter, unparsed), or a note on how it was taken; empty otherwise.
    pub reason: String,
    /// The call it belongs to (a call names itself).
    pub call_id: Option<i64>,
    /// The pair read from it or from its call.
    pub symbol: Option<String>,
    /// Edited after posting (the final text was taken).
    pub edited: bool,
    /// Forwarded from another chat.
    pub forwarded_from: Option<String>,
    /// What was read, in one line (`long BTCUSDT zone 100-105 stop 95 targets 110;120 10x cross`).
    pub detail: String,
    /// The message text on one line (first 200 characters).
    pub text: String,
}

/// What a claim says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// Target k reached.
    Target,
    /// All targets reached.
    AllTargets,
    /// Stop hit.
    Stop,
    /// A profit (or loss) figure without a target or stop named.
    Profit,
}

impl ClaimKind {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Target => "target",
            ClaimKind::AllTargets => "all_targets",
            ClaimKind::Stop => "stop",
            ClaimKind::Profit => "profit",
        }
    }
}

/// One claim of the channel about a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    /// The claim's message id.
    pub msg_id: i64,
    /// Posted at (ms UTC).
    pub time: TimestampMs,
    /// The call it is about, when it could be linked.
    pub call_id: Option<i64>,
    /// Pair.
    pub symbol: Option<String>,
    /// What it claims.
    pub kind: ClaimKind,
    /// Targets hit as claimed (0 for a stop).
    pub targets_hit: Option<u32>,
    /// Claimed profit in percent (negative: a loss), as the channel wrote it (often on margin).
    pub claimed_pct: Option<f64>,
}

/// The outcome of classifying an export.
#[derive(Debug, Clone, Default)]
pub struct Import {
    /// One record per message, in message order.
    pub records: Vec<Record>,
    /// Signal events (calls and updates), in message order.
    pub events: Vec<SignalEvent>,
    /// Claims, in message order.
    pub claims: Vec<Claim>,
}

/// Counts per class and the parse rate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Counts {
    /// Calls.
    pub calls: usize,
    /// Updates.
    pub updates: usize,
    /// Claims.
    pub claims: usize,
    /// Chatter.
    pub chatter: usize,
    /// Unparsed.
    pub unparsed: usize,
}

impl Counts {
    /// `(calls + updates + claims) / (those + unparsed)`; 1 when there is no trading content.
    pub fn parse_rate(&self) -> f64 {
        let taken = self.calls + self.updates + self.claims;
        let all = taken + self.unparsed;
        if all == 0 {
            1.0
        } else {
            taken as f64 / all as f64
        }
    }
}

impl Import {
    /// Counts per class.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.records {
            match r.class {
                Class::Call => c.calls += 1,
                Class::Update => c.updates += 1,
                Class::Claim => c.claims += 1,
                Class::Chatter => c.chatter += 1,
                Class::Unparsed => c.unparsed += 1,
            }
        }
        c
    }
}

/// What later messages need to know about a call.
#[derive(Debug, Clone)]
struct CallInfo {
    time: TimestampMs,
    symbol: String,
    side: Side,
    /// Reference entry for "stop to breakeven" (None for market).
    entry_ref: Option<f64>,
    targets: Vec<f64>,
}

/// Classifies messages (in id order). `source` names the export in the events.
pub fn classify(messages: &[Message], grammar: &Grammar, source: &str) -> Import {
    let mut order: Vec<&Message> = messages.iter().collect();
    order.sort_by_key(|m| m.id);
    let mut st = State {
        source,
        line: String::new(),
        calls: BTreeMap::new(),
        link: BTreeMap::new(),
        last_by_symbol: BTreeMap::new(),
        out: Import::default(),
    };
    st.out.records.reserve(order.len());
    // Reading a message's text (tokens, fields, lifecycle words) depends on nothing but the text
    // and the grammar, so it runs in parallel, a chunk at a time (bounded memory); linking updates
    // to calls depends on the order of messages and stays sequential, one chunk linked while the
    // next is read.
    let read_chunk = |chunk: &[&Message]| -> Vec<Reading> {
        chunk
            .par_iter()
            .map(|m| Reading::of(m, grammar, source))
            .collect()
    };
    let chunks: Vec<&[&Message]> = order.chunks(ANALYSIS_CHUNK).collect();
    let mut next = chunks.first().map(|c| read_chunk(c));
    for (k, chunk) in chunks.iter().enumerate() {
        let read = next.take().unwrap_or_default();
        let ((), after) = rayon::join(
            || {
                for (m, reading) in chunk.iter().zip(read) {
                    st.line = reading.line;
                    st.message(m, reading.text);
                }
            },
            || chunks.get(k + 1).map(|c| read_chunk(c)),
        );
        next = after;
    }
    st.out
}

/// Messages read in parallel before the sequential linking pass (bounds the tokens held at once).
const ANALYSIS_CHUNK: usize = 8192;

/// What a message's text says, read without any state: its one-line form for the report, and
/// (for a message with text) the call fields and, for a complete call, the call checked and
/// rendered (its event and report detail), else the lifecycle words. The tokens are dropped on
/// the worker that made them.
struct Reading {
    line: String,
    text: Option<TextReading>,
}

struct TextReading {
    parsed: Parsed,
    /// `None` for a complete call (its lifecycle words are never consulted).
    said: Option<Said>,
    /// For a complete call: the call checked, or why it cannot be taken.
    call: Option<Result<ReadCall, String>>,
}

/// A checked call with what its record and the signal file need.
struct ReadCall {
    call: Call,
    detail: String,
    event: SignalEvent,
    entry_ref: Option<f64>,
}

impl ReadCall {
    fn of(p: &Parsed, m: &Message, source: &str) -> Result<ReadCall, String> {
        let call = build_call(p)?;
        Ok(ReadCall {
            detail: call.detail(),
            event: call.event(m, source),
            entry_ref: call.entry_ref(),
            call,
        })
    }
}

impl Reading {
    fn of(m: &Message, grammar: &Grammar, source: &str) -> Reading {
        let line = one_line(&m.text);
        if m.service.is_some() || m.text.trim().is_empty() {
            return Reading { line, text: None };
        }
        let lines = tokenize(&m.text);
        let parsed = grammar.parse(&lines);
        let (said, call) = if is_full_call(&parsed) {
            (None, Some(ReadCall::of(&parsed, m, source)))
        } else {
            (Some(grammar.lifecycle(&lines)), None)
        };
        Reading {
            line,
            text: Some(TextReading { parsed, said, call }),
        }
    }
}

/// A pair, an entry (labelled, market or a price) and a stop or a target.
fn is_full_call(parsed: &Parsed) -> bool {
    parsed.symbol.is_some()
        && (parsed.entry_label || parsed.market || !parsed.entries.is_empty())
        && (parsed.stop.is_some() || !parsed.targets.is_empty())
}

struct State<'a> {
    /// The current message's text on one line, taken by its record.
    line: String,
    source: &'a str,
    calls: BTreeMap<i64, CallInfo>,
    /// message id -> call id, for every message linked to a call (calls link to themselves)
    link: BTreeMap<i64, i64>,
    last_by_symbol: BTreeMap<String, i64>,
    out: Import,
}

fn one_line(text: &str) -> String {
    let mut s = String::with_capacity(text.len().min(256));
    for (n, w) in text.split_whitespace().enumerate() {
        if s.len() >= 200 {
            break;
        }
        if n > 0 {
            s.push(' ');
        }
        s.push_str(w);
    }
    match s.char_indices().nth(200) {
        Some((i, _)) => s[..i].to_string(),
        None => s,
    }
}

fn fmt_list(v: &[f64]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

impl State<'_> {
    fn record(&mut self, m: &Message, class: Class, reason: impl Into<String>) -> &mut Record {
        let mut reason: String = reason.into();
        if m.edited && matches!(class, Class::Call | Class::Update) {
            reason = join_note(&reason, "edited after posting: final text taken");
        }
        if let Some(f) = &m.forwarded_from {
            reason = join_note(&reason, &format!("forwarded from {f}"));
        }
        self.out.records.push(Record {
            msg_id: m.id,
            time: m.time,
            class,
            reason,
            call_id: None,
            symbol: None,
            edited: m.edited,
            forwarded_from: m.forwarded_from.clone(),
            detail: String::new(),
            text: std::mem::take(&mut self.line),
        });
        self.out.records.last_mut().expect("just pushed")
    }

    fn message(&mut self, m: &Message, reading: Option<TextReading>) {
        if self.out.records.last().is_some_and(|r| r.msg_id == m.id) {
            self.record(
                m,
                Class::Unparsed,
                "a second message with the same id: only the first is read",
            );
            return;
        }
        if let Some(action) = &m.service {
            self.record(m, Class::Chatter, format!("service message ({action})"));
            return;
        }
        let Some(TextReading { parsed, said, call }) = reading else {
            self.record(m, Class::Chatter, "no text (media, sticker or empty)");
            return;
        };
        let has_prices =
            !parsed.entries.is_empty() || parsed.stop.is_some() || !parsed.targets.is_empty();
        let Some(said) = said else {
            self.call(m, &parsed, call);
            return;
        };
        if !said.forms.is_empty() {
            self.lifecycle(m, &parsed, &said);
        } else if parsed.symbol.is_some() && has_prices && said.pct.is_none() {
            self.call(m, &parsed, None);
        } else if said.pct.is_some() {
            self.lifecycle(m, &parsed, &said);
        } else if has_prices || (parsed.entry_label && parsed.symbol.is_some()) {
            let reason = if parsed.symbol.is_none() {
                "prices without a pair: no call can be made of it"
            } else {
                "a pair and labels but no price"
            };
            self.record(m, Class::Unparsed, reason);
        } else {
            self.record(m, Class::Chatter, "no call, update or result in it");
        }
    }

    /// The call a message refers to: by reply, else by the pair it names, else by a bare base
    /// asset word (`ETH close now`) matching an earlier call's pair.
    fn linked_call(&self, m: &Message, parsed: &Parsed) -> Option<i64> {
        if let Some(r) = m.reply_to
            && let Some(c) = self.link.get(&r)
        {
            return Some(*c);
        }
        if let Some(c) = parsed
            .symbol
            .as_ref()
            .and_then(|s| self.last_by_symbol.get(s))
        {
            return Some(*c);
        }
        // the rare path (no reply to a known call, no pair of an earlier call): tokenize again
        tokenize(&m.text).iter().flatten().find_map(|t| {
            let base = match t {
                Tok::Word(w) => w.to_uppercase(),
                Tok::Tag(w) => w.clone(),
                _ => return None,
            };
            self.last_by_symbol.get(&format!("{base}USDT")).copied()
        })
    }

    /// Takes a call (`read`: the call as read beforehand, else it is read here).
    fn call(&mut self, m: &Message, p: &Parsed, read: Option<Result<ReadCall, String>>) {
        match read.unwrap_or_else(|| ReadCall::of(p, m, self.source)) {
            Err(reason) => {
                let sym = p.symbol.clone();
                let r = self.record(m, Class::Unparsed, reason);
                r.symbol = sym;
            }
            Ok(ReadCall {
                call,
                detail,
                event,
                entry_ref,
            }) => {
                let symbol = call.symbol.clone();
                let mut note = String::new();
                if let Some(o) = p.ote {
                    note = join_note(
                        &note,
                        &format!(
                            "optimal entry (OTE) {o} beside the entry: kept here, the entry is the zone"
                        ),
                    );
                }
                if call.inferred_side {
                    note = join_note(
                        &note,
                        &format!(
                            "direction not written: {} inferred from stop and targets",
                            call.side
                        ),
                    );
                }
                if p.pct_prices {
                    note = join_note(
                        &note,
                        "some targets or the stop were given as %: not converted",
                    );
                }
                if matches!(call.entry, Entry::Market) && !p.market && p.entries.is_empty() {
                    note = join_note(&note, "no entry price written: taken at market");
                }
                self.calls.insert(
                    m.id,
                    CallInfo {
                        time: m.time,
                        symbol: symbol.clone(),
                        side: call.side,
                        entry_ref,
                        targets: call.targets,
                    },
                );
                self.link.insert(m.id, m.id);
                self.last_by_symbol.insert(symbol.clone(), m.id);
                self.out.events.push(event);
                let r = self.record(m, Class::Call, note);
                r.call_id = Some(m.id);
                r.symbol = Some(symbol);
                r.detail = detail;
            }
        }
    }

    fn lifecycle(&mut self, m: &Message, p: &Parsed, said: &Said) {
        let call_id = self.linked_call(m, p);
        let call = call_id.and_then(|c| self.calls.get(&c)).cloned();
        if let Some(c) = &call
            && m.time < c.time
        {
            let r = self.record(
                m,
                Class::Unparsed,
                "posted before the call it refers to (the export's times are out of order)",
            );
            r.call_id = call_id;
            r.symbol = Some(c.symbol.clone());
            return;
        }
        let mut events = Vec::new();
        let mut claims = Vec::new();
        let mut notes = Vec::new();
        let mut details = Vec::new();
        for form in &said.forms {
            match form {
                Lifecycle::TargetHit(k) => {
                    let (kind, hit) = match k {
                        Some(k) => (ClaimKind::Target, Some(*k)),
                        None => (ClaimKind::AllTargets, call.as_ref().map(|c| c.targets.len() as u32)),
                    };
                    claims.push((kind, hit));
                }
                Lifecycle::StopHit => claims.push((ClaimKind::Stop, Some(0))),
                Lifecycle::EntriesFilled => {
                    details.push("entries filled".to_string());
                    notes.push("entries filled: informational, the replay fills entries from prices".to_string());
                }
                Lifecycle::ClosePartial => {
                    details.push("close part".to_string());
                    notes.push("partial close is not in the signal format: recorded, not replayed".to_string());
                }
                Lifecycle::Close => events.push((Action::Close, None)),
                Lifecycle::Cancel => events.push((Action::Cancel, None)),
                Lifecycle::StopTo(px) => events.push((Action::MoveStop, Some(*px))),
                Lifecycle::StopToEntry => match call.as_ref().map(|c| c.entry_ref) {
                    Some(Some(px)) => events.push((Action::MoveStop, Some(px))),
                    Some(None) => notes.push("stop to breakeven on a market call: its entry price is unknown, not replayed".to_string()),
                    None => events.push((Action::MoveStop, None)),
                },
                Lifecycle::StopToTarget(k) => {
                    match call.as_ref().and_then(|c| c.targets.get((*k as usize).wrapping_sub(1))) {
                        Some(px) => events.push((Action::MoveStop, Some(*px))),
                        None if call.is_some() => notes.push(format!("stop to target {k}: the call has no target {k}, not replayed")),
                        None => events.push((Action::MoveStop, None)),
                    }
                }
            }
        }
        if claims.is_empty() && said.pct.is_some() {
            claims.push((ClaimKind::Profit, None));
        }
        // one event per message: the first (close beats a stop move written beside it)
        events.sort_by_key(|(a, _)| match a {
            Action::Close => 0,
            Action::Cancel => 1,
            _ => 2,
        });
        events.truncate(1);
        let symbol = call
            .as_ref()
            .map(|c| c.symbol.clone())
            .or_else(|| p.symbol.clone());
        if !events.is_empty() && call.is_none() {
            let r = self.record(
                m,
                Class::Unparsed,
                "an update that names no call: not a reply to a call and no pair of an earlier call",
            );
            r.symbol = symbol;
            return;
        }
        let Some(call_id) = call_id.filter(|_| call.is_some()) else {
            if claims.is_empty() {
                let r = self.record(m, Class::Unparsed, "an update that names no call: not a reply to a call and no pair of an earlier call");
                r.symbol = symbol;
                return;
            }
            for (kind, hit) in &claims {
                self.out.claims.push(Claim {
                    msg_id: m.id,
                    time: m.time,
                    call_id: None,
                    symbol: symbol.clone(),
                    kind: *kind,
                    targets_hit: *hit,
                    claimed_pct: said.pct,
                });
            }
            let r = self.record(
                m,
                Class::Claim,
                "a claim not linked to a call (no reply, no pair of an earlier call)",
            );
            r.symbol = symbol;
            r.detail = claim_detail(&claims, said.pct);
            return;
        };
        self.link.insert(m.id, call_id);
        let info = call.expect("linked call");
        for (kind, hit) in &claims {
            self.out.claims.push(Claim {
                msg_id: m.id,
                time: m.time,
                call_id: Some(call_id),
                symbol: Some(info.symbol.clone()),
                kind: *kind,
                targets_hit: *hit,
                claimed_pct: said.pct,
            });
        }
        if !claims.is_empty() {
            details.push(claim_detail(&claims, said.pct));
        }
        let class = if let Some((action, stop)) = events.first().copied() {
            let what = match (action, stop) {
                (Action::MoveStop, Some(px)) => format!("move stop to {px}"),
                (Action::MoveStop, None) => "move stop".to_string(),
                (Action::Close, _) => "close".to_string(),
                _ => "cancel".to_string(),
            };
            details.insert(0, what);
            if let (Action::MoveStop, None) = (action, stop) {
                // a move without a price we can know: keep it in the report only
                notes.push("stop move without a price: not replayed".to_string());
                Class::Update
            } else {
                self.out.events.push(SignalEvent {
                    symbol: Symbol::parse(&info.symbol).ok(),
                    side: Some(info.side),
                    msg_id: Some(m.id.to_string()),
                    source: self.source.to_string(),
                    ..SignalEvent::update(&call_id.to_string(), m.time, action, stop)
                });
                Class::Update
            }
        } else if !claims.is_empty() {
            Class::Claim
        } else {
            Class::Update
        };
        let note = notes.join("; ");
        let r = self.record(m, class, note);
        r.call_id = Some(call_id);
        r.symbol = Some(info.symbol);
        r.detail = details.join("; ");
    }
}

fn claim_detail(claims: &[(ClaimKind, Option<u32>)], pct: Option<f64>) -> String {
    let mut parts: Vec<String> = claims
        .iter()
        .map(|(k, hit)| match (k, hit) {
            (ClaimKind::Target, Some(n)) => format!("claims target {n}"),
            (ClaimKind::AllTargets, _) => "claims all targets".to_string(),
            (ClaimKind::Stop, _) => "claims stop hit".to_string(),
            _ => "claims a result".to_string(),
        })
        .collect();
    if let Some(p) = pct {
        parts.push(format!("{p}%"));
    }
    parts.join(" ")
}

/// Rounds a computed price to 12 significant digits (`1.8250000000000002` is `1.825`).
fn tidy(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

fn join_note(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}

/// A call read from a message, checked.
struct Call {
    symbol: String,
    side: Side,
    inferred_side: bool,
    entry: Entry,
    stop: Option<f64>,
    targets: Vec<f64>,
    leverage: Option<(f64, f64)>,
    mode: Option<MarginMode>,
}

fn build_call(p: &Parsed) -> Result<Call, String> {
    let symbol = p.symbol.clone().ok_or("no pair")?;
    if Symbol::parse(&symbol).is_err() {
        return Err(format!("pair {symbol} is not a symbol"));
    }
    let entry = p.entry();
    if p.stop.is_none() && p.targets.is_empty() {
        return Err(if p.pct_prices {
            "targets and stop given only as percentages: no prices to replay".into()
        } else {
            "no stop and no targets: not a complete call".into()
        });
    }
    let (lo, hi) = match &entry {
        Entry::Market => (None, None),
        Entry::Single(x) => (Some(*x), Some(*x)),
        Entry::Zone(a, b) => (Some(*a), Some(*b)),
        Entry::Ladder(l) => (
            l.iter().map(|x| x.0).reduce(f64::min),
            l.iter().map(|x| x.0).reduce(f64::max),
        ),
    };
    let written = p.long.or(p.emoji_long);
    let inferred = match (p.stop, p.targets.first(), lo) {
        (Some(s), Some(t), _) => Some(*t > s),
        (Some(s), None, Some(e)) => Some(s < e),
        (None, Some(t), Some(e)) => Some(*t > e),
        _ => None,
    };
    let long = written.or(inferred).ok_or(
        "no direction written and none can be inferred (needs a stop or targets beside the entry)",
    )?;
    let side = if long { Side::Long } else { Side::Short };
    // the same checks the signal file will get, so the written file always loads
    let above = |a: f64, b: f64| if long { a > b } else { a < b };
    if let Some(s) = p.stop {
        let reference = if long { lo } else { hi };
        if let Some(e) = reference
            && !above(e, s)
        {
            return Err(format!(
                "{side} stop {s} is on the wrong side of the entry {e}"
            ));
        }
    }
    let t_ref = if long { hi } else { lo };
    for t in &p.targets {
        if let Some(e) = t_ref
            && !above(*t, e)
        {
            return Err(format!(
                "{side} target {t} is on the wrong side of the entry {e}"
            ));
        }
        if let (None, Some(s)) = (t_ref, p.stop)
            && !above(*t, s)
        {
            return Err(format!(
                "{side} target {t} is on the wrong side of the stop {s}"
            ));
        }
    }
    Ok(Call {
        symbol,
        side,
        inferred_side: written.is_none(),
        entry,
        stop: p.stop,
        targets: p.targets.clone(),
        leverage: p.leverage,
        mode: p.cross.map(|c| {
            if c {
                MarginMode::Cross
            } else {
                MarginMode::Isolated
            }
        }),
    })
}

impl Call {
    fn entry_ref(&self) -> Option<f64> {
        match &self.entry {
            Entry::Market => None,
            Entry::Single(x) => Some(*x),
            Entry::Zone(a, b) => Some(tidy((a + b) / 2.0)),
            Entry::Ladder(l) => {
                let w: Vec<f64> = l.iter().map(|x| x.1.unwrap_or(1.0)).collect();
                let total: f64 = w.iter().sum();
                (total > 0.0)
                    .then(|| tidy(l.iter().zip(&w).map(|(x, w)| x.0 * w).sum::<f64>() / total))
            }
        }
    }

    fn detail(&self) -> String {
        let mut s = format!("{} {} ", self.side, self.symbol);
        match &self.entry {
            Entry::Market => s.push_str("market"),
            Entry::Single(x) => s.push_str(&format!("entry {x}")),
            Entry::Zone(a, b) => s.push_str(&format!("zone {a}-{b}")),
            Entry::Ladder(l) => {
                let levels: Vec<String> = l
                    .iter()
                    .map(|(p, w)| match w {
                        Some(w) => format!("{p}@{w}"),
                        None => p.to_string(),
                    })
                    .collect();
                s.push_str(&format!("ladder {}", levels.join(";")));
            }
        }
        if let Some(x) = self.stop {
            s.push_str(&format!(" stop {x}"));
        }
        if !self.targets.is_empty() {
            s.push_str(&format!(" targets {}", fmt_list(&self.targets)));
        }
        match self.leverage {
            Some((a, b)) if a == b => s.push_str(&format!(" {a}x")),
            Some((a, b)) => s.push_str(&format!(" {a}-{b}x")),
            None => {}
        }
        if let Some(m) = self.mode {
            s.push_str(&format!(" {m}"));
        }
        s
    }

    fn event(&self, m: &Message, source: &str) -> SignalEvent {
        let (entry, ladder) = match &self.entry {
            Entry::Market => (EntrySpec::Market, Vec::new()),
            Entry::Single(x) => (EntrySpec::Limit { price: *x }, Vec::new()),
            Entry::Zone(a, b) => (EntrySpec::Zone { low: *a, high: *b }, Vec::new()),
            Entry::Ladder(l) => {
                let lo = l.iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
                let hi = l.iter().map(|x| x.0).fold(f64::NEG_INFINITY, f64::max);
                let levels = l
                    .iter()
                    .map(|(p, w)| EntryLevel {
                        price: *p,
                        weight: *w,
                    })
                    .collect();
                let spec = if lo < hi {
                    EntrySpec::Zone { low: lo, high: hi }
                } else {
                    EntrySpec::Limit { price: lo }
                };
                (spec, levels)
            }
        };
        let (leverage, leverage_high) = match self.leverage {
            Some((a, b)) if b > a => (Some(a), Some(b)),
            Some((a, _)) => (Some(a), None),
            None => (None, None),
        };
        SignalEvent {
            id: m.id.to_string().into(),
            time: m.time,
            action: Action::Open,
            symbol: Symbol::parse(&self.symbol).ok(),
            side: Some(self.side),
            entry,
            stop: self.stop,
            targets: self.targets.clone(),
            leverage,
            margin_mode: self.mode,
            ladder,
            leverage_high,
            msg_id: Some(m.id.to_string()),
            source: source.to_string(),
            line: 0,
        }
    }
}
