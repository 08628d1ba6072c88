//! The export readers on fixtures modelled on real Telegram Desktop exports: both JSON layouts,
//! the multi-page HTML export, split-number entities, replies, edits, forwards, service messages,
//! time zones, and the inputs that must be refused with file and position.

use ringfence_channel::{Class, Format, Grammar, ImportError, Zone, classify, read_export};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn rows(path: &Path, format: Format, tz: Option<Zone>) -> Vec<String> {
    let msgs = read_export(path, format, tz).expect("export reads");
    let imp = classify(&msgs, &Grammar::builtin(), "x");
    imp.records
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} call={:?} edited={} | {} | {}",
                r.msg_id,
                ringfence_model::time::iso(r.time),
                r.class.as_str(),
                r.symbol.as_deref().unwrap_or("-"),
                r.call_id,
                r.edited,
                r.detail,
                r.reason
            )
        })
        .collect()
}

const NEW_JSON: [&str; 10] = [
    "1 2023-03-15T10:00:00Z chatter - call=None edited=false |  | service message (create_channel)",
    "2 2023-03-15T10:05:00Z chatter - call=None edited=false |  | no call, update or result in it",
    "3 2023-03-16T09:00:00Z call ARBUSDT call=Some(3) edited=true | long ARBUSDT ladder 1.85;1.8 stop 1.7 targets 1.9366995;2.05 20x cross | edited after posting: final text taken",
    "4 2023-03-16T12:00:00Z claim ARBUSDT call=Some(3) edited=false | claims target 1 47.1% | ",
    "5 2023-03-16T12:01:00Z update ARBUSDT call=Some(3) edited=false | move stop to 1.825 | ",
    "6 2023-03-17T08:00:00Z call ETHUSDT call=Some(6) edited=false | short ETHUSDT zone 1850-1870 stop 1900 targets 1820;1790;1740 3x | optimal entry (OTE) 1862 beside the entry: kept here, the entry is the zone; forwarded from Crypto Insider",
    "7 2023-03-17T09:00:00Z chatter - call=None edited=false |  | no text (media, sticker or empty)",
    "8 2023-03-17T10:00:00Z update ETHUSDT call=Some(6) edited=false | close | ",
    "9 2023-03-17T11:00:00Z unparsed - call=None edited=false |  | prices without a pair: no call can be made of it",
    "10 2023-03-17T11:05:00Z chatter - call=None edited=false |  | service message (pin_message)",
];

#[test]
fn newer_json_export() {
    let got = rows(&fixture("result_new.json"), Format::Auto, None);
    assert_eq!(got, NEW_JSON, "\n{}", got.join("\n"));
}

#[test]
fn older_json_export_needs_tz_and_then_matches() {
    let err = read_export(&fixture("result_old.json"), Format::Auto, None).expect_err("no --tz");
    let msg = err.to_string();
    assert!(
        msg.contains("result_old.json, message 1") && msg.contains("--tz"),
        "{msg}"
    );
    // the fixture's local dates are UTC wall clock: --tz UTC gives the newer export's times
    let got = rows(
        &fixture("result_old.json"),
        Format::TelegramJson,
        Some(Zone::parse("UTC").unwrap()),
    );
    assert_eq!(got, NEW_JSON);
    // Moscow is UTC+3 all year since 2014: every time moves three hours earlier
    let msk = read_export(
        &fixture("result_old.json"),
        Format::Auto,
        Some(Zone::parse("Europe/Moscow").unwrap()),
    )
    .unwrap();
    let utc = read_export(&fixture("result_new.json"), Format::Auto, None).unwrap();
    for (a, b) in msk.iter().zip(&utc) {
        assert_eq!(b.time - a.time, 3 * 3_600_000, "message {}", a.id);
    }
    let plus3 = read_export(
        &fixture("result_old.json"),
        Format::Auto,
        Some(Zone::parse("+03:00").unwrap()),
    )
    .unwrap();
    assert_eq!(plus3, msk);
    assert!(
        Zone::parse("Mars/Olympus")
            .unwrap_err()
            .contains("unknown time zone")
    );
}

#[test]
fn html_export_pages_in_order() {
    let got = rows(&fixture("html_export"), Format::Auto, None);
    let want = [
        "-1 1970-01-01T00:00:00Z chatter - call=None edited=false |  | service message (15 March 2023)",
        "20 2023-03-15T11:22:11Z call BNBUSDT call=Some(20) edited=false | long BNBUSDT zone 302-310 stop 294 targets 312.5;315;320 20x | ",
        "21 2023-03-15T13:00:00Z claim BNBUSDT call=Some(20) edited=false | claims target 2 60% | ",
        "22 2023-03-16T06:00:00Z claim BNBUSDT call=Some(20) edited=false | claims stop hit | ",
        "23 2023-03-16T07:00:00Z call LINKUSDT call=Some(23) edited=false | long LINKUSDT zone 7.05-7.25 stop 6.8 targets 7.35;7.45;7.6;7.9;8.3 20x cross | forwarded from Crypto Insider",
    ];
    assert_eq!(got, want, "\n{}", got.join("\n"));
    // one page alone reads as HTML by its extension
    let one = read_export(&fixture("html_export/messages2.html"), Format::Auto, None).unwrap();
    assert_eq!(one.iter().map(|m| m.id).collect::<Vec<_>>(), [22, 23]);
    assert!(
        one[0].text.contains("<sad>"),
        "entities decoded: {:?}",
        one[0].text
    );
}

#[test]
fn older_html_export_needs_tz() {
    let err = read_export(&fixture("messages_old.html"), Format::Auto, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("messages_old.html, message 20") && err.contains("--tz"),
        "{err}"
    );
    let msgs = read_export(
        &fixture("messages_old.html"),
        Format::Auto,
        Some(Zone::parse("+03:00").unwrap()),
    )
    .unwrap();
    assert_eq!(
        ringfence_model::time::iso(msgs[1].time),
        "2023-03-15T11:22:11Z"
    );
}

fn err_of(name: &str, text: &str, format: Format) -> ImportError {
    let dir = std::env::temp_dir().join(format!(
        "ringfence-channel-test-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    let e = read_export(&p, format, None).expect_err("must be refused");
    let _ = std::fs::remove_dir_all(&dir);
    e
}

#[test]
fn bad_inputs_name_file_and_position() {
    let full = std::fs::read_to_string(fixture("result_new.json")).unwrap();
    // truncated in the middle of message 6
    let cut = &full[..full.find("\"Crypto Insider\"").unwrap()];
    let e = err_of("result.json", cut, Format::Auto).to_string();
    assert!(
        e.contains("result.json, line ") && e.contains("ends early"),
        "{e}"
    );
    let e = err_of(
        "result.json",
        "{\"messages\": [ {\"id\": 1,, } ]}",
        Format::Auto,
    )
    .to_string();
    assert!(
        e.contains("line 1, column 25") && e.contains("invalid JSON"),
        "{e}"
    );
    let e = err_of(
        "result.json",
        "{\"messages\": [ {\"id\": \"one\"} ]}",
        Format::Auto,
    )
    .to_string();
    assert!(e.contains("not a Telegram chat export"), "{e}");
    let e = err_of(
        "result.json",
        "{\"personal_information\": {}, \"chats\": {\"list\": []}}",
        Format::Auto,
    )
    .to_string();
    assert!(e.contains("full-account export"), "{e}");
    let e = err_of("result.json", "[1, 2, 3]", Format::Auto).to_string();
    assert!(e.contains("not a Telegram chat export"), "{e}");
    let far = "{\"messages\": [{\"id\": 7, \"type\": \"message\", \"date\": \"-5023-03-16T09:00:00\", \"text\": \"x\"}]}";
    let dir = std::env::temp_dir().join(format!("ringfence-channel-far-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("result.json"), far).unwrap();
    let e = read_export(
        &dir.join("result.json"),
        Format::Auto,
        Some(Zone::parse("UTC").unwrap()),
    )
    .unwrap_err()
    .to_string();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        e.contains("message 7") && e.contains("between 1970 and 3000"),
        "{e}"
    );
    let other = std::fs::read_to_string(fixture("not_telegram.html")).unwrap();
    let e = err_of("messages.html", &other, Format::Auto).to_string();
    assert!(
        e.contains("messages.html") && e.contains("another program"),
        "{e}"
    );
    let e = err_of("export.bin", "\u{0}\u{1}garbage", Format::Auto).to_string();
    assert!(e.contains("export.bin, line 1, column 1"), "{e}");
    let e = read_export(Path::new("/nonexistent/result.json"), Format::Auto, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/result.json") && e.contains("no such file"),
        "{e}"
    );
}

#[test]
fn edited_and_reply_links_survive_into_events() {
    let msgs = read_export(&fixture("result_new.json"), Format::Auto, None).unwrap();
    let imp = classify(&msgs, &Grammar::builtin(), "result.json");
    let ev: Vec<String> = imp
        .events
        .iter()
        .map(|e| {
            format!(
                "{} {:?} msg={:?} ladder={}",
                e.id,
                e.action,
                e.msg_id,
                e.ladder.len()
            )
        })
        .collect();
    assert_eq!(
        ev,
        [
            "3 Open msg=Some(\"3\") ladder=2",
            "3 MoveStop msg=Some(\"5\") ladder=0",
            "6 Open msg=Some(\"6\") ladder=0",
            "6 Close msg=Some(\"8\") ladder=0",
        ]
    );
    assert!(
        imp.records
            .iter()
            .all(|r| r.class != Class::Call || !r.detail.is_empty())
    );
}

/// `text_entities` repeat the text split into entities: the `text` is taken when it has any
/// (whichever key comes first), the entities when it is empty, and malformed entities are refused
/// either way.
#[test]
fn text_entities_are_taken_only_without_text_and_always_checked() {
    let dir = std::env::temp_dir().join(format!("ringfence-channel-ents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("result.json");
    let msg = |id: u32, body: &str| {
        format!(
            "{{\"id\": {id}, \"type\": \"message\", \"date\": \"2023-03-15T10:00:00\", \"date_unixtime\": \"1678874400\", {body}}}"
        )
    };
    let export = format!(
        "{{\"messages\": [{}, {}, {}, {}]}}",
        msg(
            1,
            "\"text\": \"from text\", \"text_entities\": [{\"type\": \"plain\", \"text\": \"from entities\"}]"
        ),
        msg(
            2,
            "\"text\": \"\", \"text_entities\": [{\"type\": \"bold\", \"text\": \"only \"}, \"entities\"]"
        ),
        msg(
            3,
            "\"text_entities\": [{\"type\": \"plain\", \"text\": \"entities first\"}], \"text\": [\"text \", {\"type\": \"bold\", \"text\": \"second\"}]"
        ),
        msg(4, "\"text_entities\": [], \"text\": \"\""),
    );
    std::fs::write(&p, &export).unwrap();
    let texts: Vec<String> = read_export(&p, Format::Auto, None)
        .expect("export reads")
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["from text", "only entities", "text second", ""]);
    // entities that are not text are refused even when the text is taken
    for bad in [
        "\"text\": \"fine\", \"text_entities\": 5",
        "\"text\": \"fine\", \"text_entities\": [{\"type\": \"plain\", \"text\": 7}]",
    ] {
        std::fs::write(&p, format!("{{\"messages\": [{}]}}", msg(9, bad))).unwrap();
        let e = read_export(&p, Format::Auto, None)
            .expect_err("malformed entities")
            .to_string();
        assert!(e.contains("not a Telegram chat export"), "{bad}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
