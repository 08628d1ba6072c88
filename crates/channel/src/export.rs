//! Telegram Desktop export readers: `result.json` (newer and older layouts) and the HTML export
//! (`messages.html`, `messages2.html`, ...), both to a list of [`Message`]s.

use crate::ImportError;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use rayon::prelude::*;
use ringfence_model::TimestampMs;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One message of a channel, whatever export it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Telegram's message id.
    pub id: i64,
    /// When it was posted (ms UTC).
    pub time: TimestampMs,
    /// Its text, entities joined in order (`<br>` as a line break for HTML).
    pub text: String,
    /// For a service message (pin, channel created, ...): what it did.
    pub service: Option<String>,
    /// The message it replies to.
    pub reply_to: Option<i64>,
    /// Edited after posting (the export holds the final text).
    pub edited: bool,
    /// Forwarded from another chat: its name.
    pub forwarded_from: Option<String>,
}

/// Which export reader to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// By extension and content.
    Auto,
    /// `result.json`.
    TelegramJson,
    /// `messages*.html`.
    TelegramHtml,
}

/// The time zone local dates of an older export are in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// An IANA zone such as `Europe/Berlin`.
    Named(chrono_tz::Tz),
    /// A fixed offset such as `+03:00` (or `UTC`).
    Fixed(FixedOffset),
}

impl Zone {
    /// Parses `UTC`, `+03:00` / `-0530`, or an IANA name.
    pub fn parse(s: &str) -> Result<Zone, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("z") {
            return Ok(Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset")));
        }
        if let Some(off) = parse_offset(s) {
            return Ok(Zone::Fixed(off));
        }
        s.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!("unknown time zone {s:?} (use an IANA name such as Europe/Berlin, or an offset such as +03:00)")
        })
    }

    /// Local wall-clock time to ms UTC (an ambiguous time takes the earlier instant; a time in a
    /// DST gap is an error).
    fn to_utc(self, local: NaiveDateTime) -> Option<TimestampMs> {
        match self {
            Zone::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.timestamp_millis()),
            Zone::Fixed(off) => off
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.timestamp_millis()),
        }
    }
}

/// `+03:00`, `-0530`, `UTC+03:00`, `+3`.
fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s
        .strip_prefix("UTC")
        .or_else(|| s.strip_prefix("GMT"))
        .unwrap_or(s);
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 && rest.is_ascii() => rest.split_at(2),
        None => (rest, "0"),
    };
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Reads an export: a `result.json`, one `messages*.html`, or a directory holding either (all its
/// `messages*.html` pages are read in page order).
pub fn read_export(
    path: &Path,
    format: Format,
    tz: Option<Zone>,
) -> Result<Vec<Message>, ImportError> {
    let files = export_files(path, format)?;
    // pages are read side by side; the first error in page order is the one reported
    let pages: Vec<Result<Vec<Message>, ImportError>> = files
        .par_iter()
        .map(|(file, fmt)| read_one(file, *fmt, tz))
        .collect();
    let mut out = Vec::new();
    for page in pages {
        let page = page?;
        if out.is_empty() {
            // the first page (a JSON export's only one) is taken as it is, not copied
            out = page;
        } else {
            out.extend(page);
        }
    }
    Ok(out)
}

fn read_one(file: &Path, fmt: Format, tz: Option<Zone>) -> Result<Vec<Message>, ImportError> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| ImportError::Io {
        file: name.clone(),
        source: e,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(e.as_bytes(), e.utf8_error().valid_up_to());
        ImportError::At {
            file: name.clone(),
            line,
            column,
            what: "not UTF-8 text (a Telegram export is UTF-8)".into(),
        }
    })?;
    match fmt {
        Format::TelegramHtml => parse_html(&name, &text, tz),
        _ => parse_json(&name, &text, tz),
    }
}

fn line_col(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = at
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

/// The files to read and their format.
fn export_files(path: &Path, format: Format) -> Result<Vec<(PathBuf, Format)>, ImportError> {
    let name = path.display().to_string();
    if path.is_dir() {
        let json = path.join("result.json");
        if format != Format::TelegramHtml && json.is_file() {
            return Ok(vec![(json, Format::TelegramJson)]);
        }
        let mut pages: Vec<(u32, PathBuf)> = std::fs::read_dir(path)
            .map_err(|e| ImportError::Io {
                file: name.clone(),
                source: e,
            })?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let f = e.file_name().to_string_lossy().to_string();
                let n = f.strip_prefix("messages")?.strip_suffix(".html")?;
                let page = if n.is_empty() { 1 } else { n.parse().ok()? };
                Some((page, e.path()))
            })
            .collect();
        pages.sort();
        if pages.is_empty() || format == Format::TelegramJson {
            return Err(ImportError::File {
                file: name,
                what: "holds no result.json and no messages.html: point at a Telegram Desktop export (Export chat history)".into(),
            });
        }
        return Ok(pages
            .into_iter()
            .map(|(_, p)| (p, Format::TelegramHtml))
            .collect());
    }
    if !path.exists() {
        return Err(ImportError::File {
            file: name,
            what: "no such file or directory".into(),
        });
    }
    let fmt = match format {
        Format::Auto => {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            match ext.as_deref() {
                Some("html" | "htm") => Format::TelegramHtml,
                Some("json") => Format::TelegramJson,
                _ => {
                    let head = std::fs::read(path).map_err(|e| ImportError::Io {
                        file: name.clone(),
                        source: e,
                    })?;
                    let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
                    if first == Some(b'<') {
                        Format::TelegramHtml
                    } else {
                        Format::TelegramJson
                    }
                }
            }
        }
        f => f,
    };
    Ok(vec![(path.to_path_buf(), fmt)])
}

/// Times a message can have: 1970-01-01 .. 3000-01-01 (ms UTC).
const PLAUSIBLE: std::ops::RangeInclusive<TimestampMs> = 0..=32_503_680_000_000;

// ---------------------------------------------------------------------------------------------
// JSON

#[derive(Deserialize)]
struct JExport<'a> {
    #[serde(default, borrow)]
    messages: Option<Vec<JMessage<'a>>>,
    #[serde(default)]
    chats: Option<serde::de::IgnoredAny>,
}

/// One message: [`JFields`], read with the note that no `text` has been seen yet (see
/// [`JEntities`]).
struct JMessage<'a>(JFields<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for JMessage<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TEXT_READ.set(false);
        JFields::deserialize(d).map(JMessage)
    }
}

thread_local! {
    /// Whether the message being read has a non-empty `text` read already: its `text_entities`
    /// (the same text again, split into entities) are then checked but not joined.
    static TEXT_READ: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Deserialize)]
struct JFields<'a> {
    id: i64,
    #[serde(rename = "type", default, borrow)]
    kind: JStr<'a>,
    #[serde(default, borrow)]
    date: Option<JStr<'a>>,
    #[serde(default)]
    date_unixtime: Option<JNum>,
    #[serde(default, borrow)]
    edited: Option<JStr<'a>>,
    #[serde(default)]
    edited_unixtime: Option<JNum>,
    #[serde(default)]
    forwarded_from: Option<String>,
    #[serde(default)]
    reply_to_message_id: Option<i64>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    text: Option<JText>,
    #[serde(default)]
    text_entities: Option<JEntities>,
}

/// A string value, borrowed from the export where it has no escapes.
#[derive(Default)]
struct JStr<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for JStr<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<JStr<'de>, E> {
                Ok(JStr(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<JStr<'de>, E> {
                Ok(JStr(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// `date_unixtime` is a string in real exports (kept here as its value, `None` when it is not a
/// whole number); accept a number too.
enum JNum {
    S(Option<i64>),
    N(i64),
}

impl<'de> Deserialize<'de> for JNum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = JNum;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("seconds since 1970, as a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<JNum, E> {
                Ok(JNum::S(v.trim().parse::<i64>().ok()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<JNum, E> {
                Ok(JNum::N(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<JNum, E> {
                i64::try_from(v)
                    .map(JNum::N)
                    .map_err(|_| E::custom("date_unixtime is out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A message's `text` (or `text_entities`) joined into one string: Telegram writes either a plain
/// string or an array of strings and entity objects (`{"type": "bold", "text": "..."}`), and the
/// parts are joined in order. Read straight into the joined string, with no intermediate values.
struct JText(String);

impl<'de> Deserialize<'de> for JText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(TextVisitor { keep: true })?;
        if !text.0.is_empty() {
            TEXT_READ.set(true);
        }
        Ok(text)
    }
}

/// `text_entities`: read like [`JText`] (so checked the same), but joined only when the message's
/// `text` was empty or not read yet; otherwise left empty (the `text` is the one taken).
struct JEntities(String);

impl<'de> Deserialize<'de> for JEntities {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keep = !TEXT_READ.get();
        d.deserialize_any(TextVisitor { keep })
            .map(|JText(s)| JEntities(s))
    }
}

/// Reads a text (a string, or an array of strings and entity objects), joining it when `keep`.
struct TextVisitor {
    keep: bool,
}

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = JText;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a message text: a string, or an array of strings and entities")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<JText, E> {
        Ok(JText(if self.keep {
            v.to_string()
        } else {
            String::new()
        }))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<JText, E> {
        Ok(JText(if self.keep { v } else { String::new() }))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<JText, A::Error> {
        let mut s = String::new();
        let into = if self.keep { Some(&mut s) } else { None };
        let mut part = PartInto(into);
        while seq.next_element_seed(part.reborrow())?.is_some() {}
        Ok(JText(s))
    }
}

/// One part of a text array, appended to the string being joined (when there is one): a plain
/// string, or an entity object whose `text` is taken (its other keys are skipped).
struct PartInto<'s>(Option<&'s mut String>);

impl PartInto<'_> {
    fn reborrow(&mut self) -> PartInto<'_> {
        PartInto(self.0.as_deref_mut())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for PartInto<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PartInto<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string or an entity object with a \"text\"")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        if let Some(s) = self.0 {
            s.push_str(v);
        }
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "text" {
                let t: std::borrow::Cow<'de, str> = map.next_value()?;
                if let Some(s) = self.0.as_deref_mut() {
                    s.push_str(&t);
                }
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// Parses a Telegram `result.json`. `name` is used in messages.
pub fn parse_json(name: &str, text: &str, tz: Option<Zone>) -> Result<Vec<Message>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let export: JExport = serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Eof => {
                "the file ends early (truncated export?): the JSON is incomplete".to_string()
            }
            Category::Syntax => format!("invalid JSON: {}", strip_pos(&e.to_string())),
            Category::Data => format!("not a Telegram chat export: {}", strip_pos(&e.to_string())),
            Category::Io => e.to_string(),
        };
        ImportError::At {
            file: name.to_string(),
            line: e.line(),
            column: e.column(),
            what,
        }
    })?;
    let Some(messages) = export.messages else {
        let what = if export.chats.is_some() {
            "a full-account export (\"chats\"): export the channel alone with Export chat history"
        } else {
            "no \"messages\" array: not a Telegram chat export"
        };
        return Err(ImportError::File {
            file: name.to_string(),
            what: what.into(),
        });
    };
    let mut out = Vec::with_capacity(messages.len());
    for JMessage(mut m) in messages {
        let time = json_time(name, &m, tz)?;
        if !PLAUSIBLE.contains(&time) {
            return Err(ImportError::Message {
                file: name.to_string(),
                id: m.id,
                what: "its date is not between 1970 and 3000".into(),
            });
        }
        let mut body = m.text.take().map(|t| t.0).unwrap_or_default();
        if body.is_empty()
            && let Some(ents) = m.text_entities.take()
        {
            body = ents.0;
        }
        let service =
            (m.kind.0 == "service").then(|| m.action.clone().unwrap_or_else(|| "service".into()));
        out.push(Message {
            id: m.id,
            time,
            text: body,
            service,
            reply_to: m.reply_to_message_id,
            edited: m.edited.is_some() || m.edited_unixtime.is_some(),
            forwarded_from: m.forwarded_from,
        });
    }
    Ok(out)
}

/// serde_json appends " at line X column Y"; the error already names the position.
fn strip_pos(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

fn json_time(name: &str, m: &JFields<'_>, tz: Option<Zone>) -> Result<TimestampMs, ImportError> {
    let bad = |what: String| ImportError::Message {
        file: name.to_string(),
        id: m.id,
        what,
    };
    if let Some(u) = &m.date_unixtime {
        let secs = match u {
            JNum::N(n) => Some(*n),
            JNum::S(s) => *s,
        };
        return match secs.and_then(|s| s.checked_mul(1000)) {
            Some(ms) if PLAUSIBLE.contains(&ms) => Ok(ms),
            _ => Err(bad("date_unixtime is not a time in seconds".into())),
        };
    }
    let Some(JStr(date)) = &m.date else {
        return Err(bad("has no date".into()));
    };
    let local = NaiveDateTime::parse_from_str(date.trim(), "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| bad(format!("date {date:?} is not YYYY-MM-DDTHH:MM:SS")))?;
    let Some(zone) = tz else {
        return Err(bad(format!(
            "has only a local date ({date}, an older export without date_unixtime): give the zone it was exported in with --tz (e.g. --tz Europe/Berlin or --tz +03:00)"
        )));
    };
    zone.to_utc(local).ok_or_else(|| {
        bad(format!(
            "local date {date} does not exist in the time zone (DST gap)"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// HTML

/// Parses one Telegram HTML export page. `name` is used in messages.
pub fn parse_html(name: &str, text: &str, tz: Option<Zone>) -> Result<Vec<Message>, ImportError> {
    let not_telegram = || {
        ImportError::File {
        file: name.to_string(),
        what: "not a Telegram Desktop HTML export (no \"history\" block of \"message\" divs): was it saved by another program? Export again from Telegram Desktop, or use the JSON export".into(),
    }
    };
    if !text.contains("class=\"history\"") && !text.contains("class=\"page_wrap\"") {
        return Err(not_telegram());
    }
    let dom = tl::parse(text, tl::ParserOptions::default()).map_err(|e| ImportError::File {
        file: name.to_string(),
        what: format!("unreadable HTML: {e}"),
    })?;
    let parser = dom.parser();
    let mut out = Vec::new();
    let mut saw_history = false;
    for node in dom.nodes() {
        let Some(tag) = node.as_tag() else { continue };
        if tag.name().as_bytes() != b"div" {
            continue;
        }
        if has_class(tag, "history") {
            saw_history = true;
        }
        if !has_class(tag, "message") {
            continue;
        }
        let Some(id) = attr(tag, "id").and_then(|v| v.strip_prefix("message").map(str::to_string))
        else {
            continue;
        };
        let Ok(id) = id.parse::<i64>() else { continue };
        let service = has_class(tag, "service");
        let mut date_title = None;
        let mut body = None;
        let mut reply_to = None;
        let mut forwarded = None;
        let mut edited = false;
        let mut service_text = None;
        for h in tag.children().all(parser) {
            let Some(t) = h.as_tag() else { continue };
            if t.name().as_bytes() != b"div"
                && t.name().as_bytes() != b"span"
                && t.name().as_bytes() != b"a"
            {
                continue;
            }
            if date_title.is_none() && has_class(t, "date") && has_class(t, "details") {
                date_title = attr(t, "title");
                edited |= attr(t, "title").is_some_and(|s| s.contains("edited"));
            }
            if has_class(t, "text") && body.is_none() {
                body = Some(html_text(t, parser));
            }
            if has_class(t, "reply_to") {
                reply_to = reply_target(t, parser);
            }
            if has_class(t, "forwarded") && forwarded.is_none() {
                forwarded = Some(forward_name(t, parser));
            }
            if service && has_class(t, "body") && service_text.is_none() {
                service_text = Some(html_text(t, parser).trim().to_string());
            }
        }
        if service {
            // service rows (date separators, pins) carry no date title: keep the previous time
            let time = out.last().map_or(0, |m: &Message| m.time);
            out.push(Message {
                id,
                time,
                text: String::new(),
                service: Some(service_text.unwrap_or_else(|| "service".into())),
                reply_to: None,
                edited: false,
                forwarded_from: None,
            });
            continue;
        }
        let Some(title) = date_title else {
            return Err(ImportError::Message {
                file: name.to_string(),
                id,
                what: "has no date (no \"date details\" title)".into(),
            });
        };
        let time = html_time(&title, tz)
            .and_then(|t| {
                if PLAUSIBLE.contains(&t) {
                    Ok(t)
                } else {
                    Err(format!("date {title:?} is not between 1970 and 3000"))
                }
            })
            .map_err(|what| ImportError::Message {
                file: name.to_string(),
                id,
                what,
            })?;
        out.push(Message {
            id,
            time,
            text: body.unwrap_or_default(),
            service: None,
            reply_to,
            edited,
            forwarded_from: forwarded,
        });
    }
    if !saw_history {
        return Err(not_telegram());
    }
    Ok(out)
}

fn has_class(tag: &tl::HTMLTag<'_>, class: &str) -> bool {
    tag.attributes().is_class_member(class)
}

fn attr(tag: &tl::HTMLTag<'_>, key: &str) -> Option<String> {
    tag.attributes()
        .get(key)
        .flatten()
        .map(|b| decode_entities(&b.as_utf8_str()))
}

/// `15.03.2023 14:22:11 UTC+03:00` (newer) or `15.03.2023 14:22:11` (older, needs `--tz`).
fn html_time(title: &str, tz: Option<Zone>) -> Result<TimestampMs, String> {
    let title = title.trim();
    let (dt, zone) = match title.find(" UTC") {
        Some(i) => (&title[..i], Some(title[i + 1..].trim())),
        None => (title, None),
    };
    let local = NaiveDateTime::parse_from_str(dt.trim(), "%d.%m.%Y %H:%M:%S")
        .map_err(|_| format!("date {title:?} is not DD.MM.YYYY HH:MM:SS"))?;
    if let Some(z) = zone {
        let off =
            parse_offset(z).ok_or_else(|| format!("date {title:?} has an unreadable offset"))?;
        let t: Option<DateTime<FixedOffset>> = off.from_local_datetime(&local).single();
        return t
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| format!("date {title:?} is out of range"));
    }
    let Some(zone) = tz else {
        return Err(format!(
            "has only a local date ({title}, an older export without UTC offset): give the zone it was exported in with --tz (e.g. --tz Europe/Berlin or --tz +03:00)"
        ));
    };
    zone.to_utc(local)
        .ok_or_else(|| format!("local date {title} does not exist in the time zone (DST gap)"))
}

/// `<a href="#go_to_message123">` or `href="messages2.html#go_to_message123"`.
fn reply_target(tag: &tl::HTMLTag<'_>, parser: &tl::Parser<'_>) -> Option<i64> {
    tag.children().all(parser).iter().find_map(|n| {
        let a = n.as_tag()?;
        let href = attr(a, "href")?;
        let i = href.find("go_to_message")?;
        href[i + "go_to_message".len()..].parse().ok()
    })
}

fn forward_name(tag: &tl::HTMLTag<'_>, parser: &tl::Parser<'_>) -> String {
    for n in tag.children().all(parser) {
        if let Some(t) = n.as_tag()
            && has_class(t, "from_name")
        {
            // the name is the element's own text; a nested span holds the original date
            let own: String = t
                .children()
                .top()
                .iter()
                .filter_map(|h| {
                    h.get(parser)?
                        .as_raw()
                        .map(|b| decode_entities(&b.as_utf8_str()))
                })
                .collect();
            return own.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    String::new()
}

/// The text of an element: `<br>` as a line break, tags dropped, entities decoded. Iterative, so
/// deeply nested markup cannot overflow the stack.
fn html_text(tag: &tl::HTMLTag<'_>, parser: &tl::Parser<'_>) -> String {
    let mut s = String::new();
    let mut stack: Vec<tl::NodeHandle> = tag.children().top().iter().copied().collect();
    stack.reverse();
    let mut steps = 0usize;
    while let Some(h) = stack.pop() {
        steps += 1;
        if steps > 1_000_000 {
            break;
        }
        match h.get(parser) {
            Some(tl::Node::Raw(b)) => s.push_str(&decode_entities(&b.as_utf8_str())),
            Some(tl::Node::Tag(t)) => {
                if t.name().as_bytes().eq_ignore_ascii_case(b"br") {
                    s.push('\n');
                } else {
                    let start = stack.len();
                    stack.extend(t.children().top().iter().copied());
                    stack[start..].reverse();
                }
            }
            _ => {}
        }
    }
    // The export indents its markup: trim each line.
    s.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Decodes the HTML entities a Telegram export writes (`&lt;`, `&amp;`, `&quot;`, `&#39;`,
/// `&nbsp;`, numeric).
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let c = match ent {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    let num = ent.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok(),
                        None => num.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
