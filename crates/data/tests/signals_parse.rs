//! Signal files: one test per validation rule (checking file, line and values in the message),
//! warnings, and CSV / JSON Lines equivalence.

use ringfence_data::signals::{SignalSet, load_signals, parse_signals};
use ringfence_model::{Action, EntrySpec, MarginMode, Side, Symbol};
use std::collections::BTreeSet;

const HEADER: &str =
    "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode";

fn csv(rows: &[&str]) -> String {
    let mut s = format!("{HEADER}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

fn ok(rows: &[&str]) -> SignalSet {
    parse_signals("ch.csv", &csv(rows), None).unwrap_or_else(|e| panic!("should parse: {e}"))
}

/// The error text for `rows`; asserts every expected fragment is in it.
fn err(rows: &[&str], expect: &[&str]) -> String {
    err_known(rows, None, expect)
}

fn err_known(rows: &[&str], known: Option<&BTreeSet<Symbol>>, expect: &[&str]) -> String {
    let e = parse_signals("ch.csv", &csv(rows), known)
        .expect_err("should fail")
        .to_string();
    for frag in expect {
        assert!(e.contains(frag), "{frag:?} not in:\n{e}");
    }
    e
}

#[test]
fn a_complete_channel_parses() {
    let set = ok(&[
        "a1,2025-10-10T12:00:00Z,open,BTC/USDT:USDT,long,100,105,95,110;120,10x,isolated",
        "a2,1760101200000,,#ETHUSDT,sell,,,2100,1900;1800,20,cross",
        "a1,2025-10-10T14:00:00Z,move_stop,,,,,101,,,",
        "a2,2025-10-10 15:00,close,,,,,,,,",
        "a3,2025-10-10T16:00:00Z,open,SOLUSDT,buy,200,,190,210,,",
        "a3,2025-10-10T17:00:00Z,cancel,SOLUSDT,,,,,,,",
    ]);
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);
    assert_eq!(set.events.len(), 6);
    // 1760101200000 ms = 2025-10-10T13:00:00Z: the ETH call sorts after the 12:00 BTC call.
    let e = &set.events[1];
    assert_eq!(e.symbol.as_ref().map(Symbol::as_str), Some("ETHUSDT"));
    assert_eq!(e.time, 1_760_101_200_000);
    let a1 = set
        .events
        .iter()
        .find(|e| &*e.id == "a1" && e.action == Action::Open)
        .expect("a1");
    assert_eq!(
        a1.entry,
        EntrySpec::Zone {
            low: 100.0,
            high: 105.0
        }
    );
    assert_eq!(a1.leverage, Some(10.0));
    assert_eq!(a1.margin_mode, Some(MarginMode::Isolated));
    assert_eq!(a1.targets, vec![110.0, 120.0]);
    assert_eq!(a1.line, 2);
    assert_eq!(a1.source, "ch.csv");
    let a2 = set
        .events
        .iter()
        .find(|e| &*e.id == "a2" && e.action == Action::Open)
        .expect("a2");
    assert_eq!(a2.entry, EntrySpec::Market);
    assert_eq!(a2.side, Some(Side::Short));
    // Updates inherit the call's symbol and side.
    let mv = set
        .events
        .iter()
        .find(|e| e.action == Action::MoveStop)
        .expect("move");
    assert_eq!(mv.symbol.as_ref().map(Symbol::as_str), Some("BTCUSDT"));
    assert_eq!(mv.side, Some(Side::Long));
    assert_eq!(mv.stop, Some(101.0));
    // Sorted by time.
    assert!(set.events.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn zone_in_either_order_and_equal_edges_is_a_limit() {
    let set = ok(&[
        "z1,2025-10-10T12:00:00Z,open,BTCUSDT,long,105,100,95,110,,",
        "z2,2025-10-10T12:00:00Z,open,BTCUSDT,long,100,100,95,110,,",
    ]);
    assert_eq!(
        set.events[0].entry,
        EntrySpec::Zone {
            low: 100.0,
            high: 105.0
        }
    );
    assert_eq!(set.events[1].entry, EntrySpec::Limit { price: 100.0 });
}

#[test]
fn long_stop_above_entry_is_an_error() {
    err(
        &["x,2025-10-10T12:00:00Z,open,BTCUSDT,long,100,,101,110,,"],
        &["ch.csv, row 2", "long stop 101 must be below entry 100"],
    );
}

#[test]
fn long_stop_inside_zone_is_an_error() {
    err(
        &["x,2025-10-10T12:00:00Z,open,BTCUSDT,long,100,105,102,110,,"],
        &["row 2", "long stop 102 must be below entry zone 100-105"],
    );
}

#[test]
fn long_target_below_entry_is_an_error() {
    err(
        &["x,2025-10-10T12:00:00Z,open,BTCUSDT,long,100,,95,99;110,,"],
        &["row 2", "long target 99 must be above entry 100"],
    );
}

#[test]
fn short_prices_are_mirrored() {
    err(
        &[
            "s1,2025-10-10T12:00:00Z,open,BTCUSDT,short,100,,99,90,,",
            "s2,2025-10-10T12:00:00Z,open,BTCUSDT,short,100,,105,101,,",
        ],
        &[
            "row 2: short stop 99 must be above entry 100",
            "row 3: short target 101 must be below entry 100",
        ],
    );
    ok(&["s3,2025-10-10T12:00:00Z,open,BTCUSDT,short,100,,105,95;90,,"]);
}

#[test]
fn market_entry_checks_targets_against_stop() {
    err(
        &["m,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,100,99;120,,"],
        &[
            "row 2",
            "long market entry: target 99 must be above its stop 100",
        ],
    );
    err(
        &["m,2025-10-10T12:00:00Z,open,BTCUSDT,short,,,100,101,,"],
        &["short market entry: target 101 must be below its stop 100"],
    );
}

#[test]
fn unknown_symbol_is_an_error() {
    let known: BTreeSet<Symbol> = [Symbol::parse("BTCUSDT").expect("symbol")].into();
    err_known(
        &["x,2025-10-10T12:00:00Z,open,DOGE/USDT,long,,,,,,"],
        Some(&known),
        &["row 2", "unknown symbol DOGEUSDT"],
    );
}

#[test]
fn unparseable_symbol_is_an_error() {
    err(
        &["x,2025-10-10T12:00:00Z,open,BTC USDT,long,,,,,,"],
        &["row 2", "unrecognised symbol \"BTC USDT\""],
    );
}

#[test]
fn non_positive_prices_are_errors() {
    err(
        &[
            "x,2025-10-10T12:00:00Z,open,BTCUSDT,long,0,,,,,",
            "y,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,-5,,,",
            "z,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,10;-1,,",
        ],
        &[
            "row 2: entry 0 must be a positive price",
            "row 3: stop -5 must be a positive price",
            "row 4: target -1 must be a positive price",
        ],
    );
}

#[test]
fn unparseable_numbers_are_errors() {
    err(
        &[
            "x,2025-10-10T12:00:00Z,open,BTCUSDT,long,abc,,,,,",
            "y,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,,ten,",
            "z,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,,0.5x,",
        ],
        &[
            "row 2: entry \"abc\" is not a number",
            "row 3: leverage \"ten\" is not a number",
            "row 4: leverage 0.5x must be at least 1",
        ],
    );
}

#[test]
fn unparseable_times_are_errors() {
    err(
        &[
            "x,yesterday,open,BTCUSDT,long,,,,,,",
            "y,1760101200,open,BTCUSDT,long,,,,,,",
            "z,,open,BTCUSDT,long,,,,,,",
        ],
        &[
            "row 2: unparseable time \"yesterday\"",
            "row 3: time 1760101200 is not a millisecond timestamp",
            "row 4: missing time",
        ],
    );
}

#[test]
fn bad_enums_are_errors() {
    err(
        &["x,2025-10-10T12:00:00Z,flip,BTCUSDT,up,,,,,,hedged"],
        &[
            "unknown action \"flip\"",
            "unknown side \"up\"",
            "unknown margin_mode \"hedged\"",
        ],
    );
}

#[test]
fn update_of_unknown_id_is_an_error() {
    err(
        &["ghost,2025-10-10T12:00:00Z,close,,,,,,,,"],
        &["row 2: close refers to unknown id \"ghost\""],
    );
}

#[test]
fn update_before_its_open_is_an_error() {
    err(
        &[
            "a,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,,,",
            "b,2025-10-10T13:00:00Z,open,BTCUSDT,long,,,,,,",
            "b,2025-10-10T11:00:00Z,cancel,,,,,,,,",
        ],
        &["row 4: cancel of \"b\" at 2025-10-10T11:00:00Z appears before its open (line 3"],
    );
}

#[test]
fn move_stop_without_stop_is_an_error() {
    err(
        &[
            "a,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,,,",
            "a,2025-10-10T13:00:00Z,move_stop,,,,,,,,",
        ],
        &["row 3: move_stop of \"a\" has no stop"],
    );
}

#[test]
fn duplicate_open_ids_are_errors() {
    err(
        &[
            "a,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,,,",
            "a,2025-10-10T13:00:00Z,open,ETHUSDT,long,,,,,,",
        ],
        &["row 3: duplicate open id \"a\" (first opened at line 2)"],
    );
}

#[test]
fn open_without_symbol_or_side_is_an_error() {
    err(
        &["a,2025-10-10T12:00:00Z,open,,,,,,,,"],
        &[
            "row 2: open \"a\" has no symbol",
            "row 2: open \"a\" has no side",
        ],
    );
}

#[test]
fn update_naming_another_symbol_is_an_error() {
    err(
        &[
            "a,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,,,",
            "a,2025-10-10T13:00:00Z,close,ETHUSDT,,,,,,,",
        ],
        &["row 3: close of \"a\" names symbol ETHUSDT but the call (line 2) is BTCUSDT"],
    );
}

#[test]
fn entry_high_without_entry_and_missing_id_are_errors() {
    err(
        &[
            "a,2025-10-10T12:00:00Z,open,BTCUSDT,long,,105,,,,",
            ",2025-10-10T12:00:00Z,open,BTCUSDT,long,,,,,,",
        ],
        &[
            "row 2: entry_high 105 given without entry",
            "row 3: missing id",
        ],
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let e = err(
        &[
            "a,2025-10-10T12:00:00Z,open,BTCUSDT,long,100,,101,,,",
            "b,nope,open,BTCUSDT,long,,,,,,",
            "c,2025-10-10T12:00:00Z,close,,,,,,,,",
        ],
        &["3 problems found"],
    );
    assert!(e.find("row 2").expect("row 2") < e.find("row 3").expect("row 3"));
}

#[test]
fn unknown_and_missing_columns_are_errors() {
    let e = parse_signals("ch.csv", "id,time,symbl,sde\n", None)
        .expect_err("unknown columns")
        .to_string();
    assert!(e.contains("ch.csv, row 1: unknown columns \"symbl\" (did you mean \"symbol\"?), \"sde\" (did you mean \"side\"?)"), "{e}");
    let e = parse_signals("ch.csv", "id,symbol\n", None)
        .expect_err("missing time")
        .to_string();
    assert!(
        e.contains("ch.csv, row 1: missing required column(s) time"),
        "{e}"
    );
    let e = parse_signals("ch.csv", "id,time\na,2025-10-10,extra\n", None)
        .expect_err("ragged row")
        .to_string();
    assert!(
        e.contains("row 2: expected 2 fields like the header, found 3"),
        "{e}"
    );
}

#[test]
fn optional_columns_may_be_absent_and_in_any_order() {
    let set = parse_signals(
        "ch.csv",
        "side,symbol,time,id\nlong,BTCUSDT,2025-10-10T12:00:00Z,a\n",
        None,
    )
    .expect("parses");
    assert_eq!(set.events[0].entry, EntrySpec::Market);
    assert_eq!(set.events[0].stop, None);
}

#[test]
fn warnings_for_what_real_channels_do() {
    let set = ok(&[
        "a,2025-10-10T12:00:00Z,open,BTCUSDT,long,100,,95,120;110,150x,",
        "a,2025-10-10T13:00:00Z,close,,,,,,,,",
        "a,2025-10-10T14:00:00Z,close,,,,,,,,",
        "b,2025-10-10T12:00:00Z,open,BTCUSDT,short,100,,105,90;95,,",
    ]);
    let w = set.warnings.join("\n");
    assert!(
        w.contains(
            "ch.csv, line 2: targets 120;110 of \"a\" are not in ascending order (kept as given)"
        ),
        "{w}"
    );
    assert!(
        w.contains("ch.csv, line 2: leverage 150x of \"a\" is above 125x"),
        "{w}"
    );
    assert!(
        w.contains("ch.csv, line 4: close of \"a\" after it was already closed at line 3"),
        "{w}"
    );
    assert!(
        w.contains("ch.csv, line 5: targets 90;95 of \"b\" are not in descending order"),
        "{w}"
    );
    let a = set.events.iter().find(|e| &*e.id == "a").expect("a");
    assert_eq!(a.targets, vec![120.0, 110.0], "targets kept as given");
}

const JSONL: &str = r##"{"id":"a1","time":"2025-10-10T12:00:00Z","action":"open","symbol":"BTC/USDT:USDT","side":"long","entry":100,"entry_high":105,"stop":95,"targets":[110,120],"leverage":"10x","margin_mode":"isolated"}
{"id":"a2","time":1760101200000,"symbol":"#ETHUSDT","side":"sell","entry":null,"stop":"2100","targets":"1900;1800","leverage":20,"margin_mode":"cross"}

{"id":"a1","time":"2025-10-10T14:00:00Z","action":"move_stop","stop":101}
{"id":"a2","time":"2025-10-10 15:00","action":"close"}
"##;

const CSV_TWIN: &str =
    "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode
a1,2025-10-10T12:00:00Z,open,BTC/USDT:USDT,long,100,105,95,110;120,10x,isolated
a2,1760101200000,,#ETHUSDT,sell,,,2100,1900;1800,20,cross
a1,2025-10-10T14:00:00Z,move_stop,,,,,101,,,
a2,2025-10-10 15:00,close,,,,,,,,
";

#[test]
fn csv_and_jsonl_give_the_same_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, j, n) = (
        dir.path().join("ch.csv"),
        dir.path().join("ch.jsonl"),
        dir.path().join("ch.txt"),
    );
    std::fs::write(&c, CSV_TWIN).expect("write");
    std::fs::write(&j, JSONL).expect("write");
    std::fs::write(&n, JSONL).expect("write");
    let a = load_signals(&c, None).expect("csv");
    let b = load_signals(&j, None).expect("jsonl");
    let sniffed = load_signals(&n, None).expect("jsonl detected by content");
    assert_eq!(a.events.len(), 4);
    let strip = |s: &SignalSet| {
        s.events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.source.clear();
                e.line = 0;
                e
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(strip(&b), strip(&sniffed));
    // JSON Lines counts physical lines (the blank line 3 is skipped but counted).
    let close = b
        .events
        .iter()
        .find(|e| e.action == Action::Close)
        .expect("close");
    assert_eq!(close.line, 5);
}

#[test]
fn jsonl_errors_name_the_line_and_key() {
    let text = "{\"id\":\"a\",\"time\":\"2025-10-10T12:00:00Z\",\"symbol\":\"BTCUSDT\",\"side\":\"long\",\"stopp\":1}\nnot json\n[1,2]\n{\"id\":\"b\",\"time\":\"2025-10-10T12:00:00Z\",\"symbol\":\"BTCUSDT\",\"side\":true}\n";
    let e = parse_signals("ch.jsonl", text, None)
        .expect_err("bad jsonl")
        .to_string();
    for frag in [
        "ch.jsonl, row 1: unknown column \"stopp\" (did you mean \"stop\"?)",
        "ch.jsonl, row 2: invalid json",
        "ch.jsonl, row 3: expected a json object, found an array",
        "ch.jsonl, row 4: side: expected a string or number, found a boolean",
    ] {
        assert!(e.contains(frag), "{frag:?} not in:\n{e}");
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let e = load_signals(std::path::Path::new("/nonexistent/ch.csv"), None)
        .expect_err("missing")
        .to_string();
    assert!(e.contains("/nonexistent/ch.csv"), "{e}");
}

/// The columns an imported channel adds: `msg_id`, an `entries` ladder, a leverage range.
const HEADER_IMPORT: &str =
    "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode,msg_id,entries";

fn import_csv(rows: &[&str]) -> Result<SignalSet, String> {
    let mut s = format!("{HEADER_IMPORT}\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    parse_signals("imp.csv", &s, None).map_err(|e| e.to_string())
}

#[test]
fn ladder_leverage_range_and_msg_id_parse() {
    let set = import_csv(&[
        "101,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,26000,28000;29000,5-10x,cross,101,27400;27100@2;26800",
        "101,2025-10-10T13:00:00Z,move_stop,,,,,27000,,,,105,",
        "102,2025-10-10T14:00:00Z,open,ETHUSDT,short,1800,,1900,1700,20,,102,",
    ])
    .expect("parses");
    let call = &set.events[0];
    assert_eq!(call.msg_id.as_deref(), Some("101"));
    assert_eq!(call.leverage, Some(5.0));
    assert_eq!(call.leverage_high, Some(10.0));
    let levels: Vec<(f64, Option<f64>)> = call.ladder.iter().map(|l| (l.price, l.weight)).collect();
    assert_eq!(
        levels,
        vec![(27400.0, None), (27100.0, Some(2.0)), (26800.0, None)]
    );
    assert_eq!(
        call.entry,
        EntrySpec::Zone {
            low: 26800.0,
            high: 27400.0
        }
    );
    let update = &set.events[1];
    assert_eq!(&*update.id, "101");
    assert_eq!(update.msg_id.as_deref(), Some("105"));
    assert_eq!(set.events[2].leverage_high, None);
    assert!(set.events[2].ladder.is_empty());
}

#[test]
fn ladder_is_checked_against_stop_and_targets_and_refuses_bad_values() {
    let e =
        import_csv(&["1,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,27200,28000,10,,1,27400;27100"])
            .expect_err("stop inside the ladder");
    assert!(e.contains("imp.csv") && e.contains("row 2"), "{e}");
    assert!(e.contains("stop 27200"), "{e}");
    for (cell, frag) in [
        ("27400;abc", "not a number"),
        ("27400@0", "weight"),
        ("27400@-1", "weight"),
    ] {
        let row = format!("1,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,26000,28000,10,,1,{cell}");
        let e = import_csv(&[&row]).expect_err(cell);
        assert!(e.contains(frag), "{cell}: {e}");
    }
    let e = import_csv(&[
        "1,2025-10-10T12:00:00Z,open,BTCUSDT,long,27000,,26000,28000,10,,1,27400;27100",
    ])
    .expect_err("both entry and entries");
    assert!(e.contains("either entries"), "{e}");
    for (lev, frag) in [
        ("10-5x", "reversed"),
        ("0-5", "at least 1"),
        ("a-b", "not a number"),
    ] {
        let row = format!("1,2025-10-10T12:00:00Z,open,BTCUSDT,long,27000,,26000,28000,{lev},,1,");
        let e = import_csv(&[&row]).expect_err(lev);
        assert!(e.contains(frag), "{lev}: {e}");
    }
}

#[test]
fn ladder_in_json_lines_matches_csv() {
    let jsonl = r#"{"id":"7","time":"2025-10-10T12:00:00Z","symbol":"BTCUSDT","side":"long","stop":26000,"targets":[28000],"leverage":"5-10x","msg_id":"7","entries":[27400,"27100@2"]}"#;
    let j = parse_signals("imp.jsonl", jsonl, None).expect("jsonl parses");
    let c =
        import_csv(&["7,2025-10-10T12:00:00Z,,BTCUSDT,long,,,26000,28000,5-10x,,7,27400;27100@2"])
            .expect("csv parses");
    let strip = |s: &SignalSet| {
        s.events
            .iter()
            .map(|e| {
                (
                    e.ladder.clone(),
                    e.leverage,
                    e.leverage_high,
                    e.msg_id.clone(),
                    e.entry,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&j), strip(&c));
}

/// A file of many rows (read in parallel) gives its events, warnings and errors in row order, the
/// same from CSV and JSON Lines.
#[test]
fn large_files_keep_row_order_in_csv_and_jsonl() {
    let n = 5000;
    let row = |i: usize| {
        // every 97th call above 125x: a warning naming its line
        let lev = if i.is_multiple_of(97) { "150x" } else { "10x" };
        let secs = 1_760_000_000 + i * 60;
        (
            format!("c{i},{secs}000,open,BTCUSDT,long,100,,95,110,{lev},isolated"),
            format!(
                "{{\"id\":\"c{i}\",\"time\":{secs}000,\"action\":\"open\",\"symbol\":\"BTCUSDT\",\"side\":\"long\",\"entry\":100,\"stop\":95,\"targets\":\"110\",\"leverage\":\"{lev}\",\"margin_mode\":\"isolated\"}}"
            ),
        )
    };
    let (csv_rows, jsonl_rows): (Vec<String>, Vec<String>) = (0..n).map(row).unzip();
    let csv_text = format!("{HEADER}\n{}\n", csv_rows.join("\n"));
    let jsonl_text = format!("{}\n", jsonl_rows.join("\n"));
    let a = parse_signals("ch.csv", &csv_text, None).expect("csv");
    let b = parse_signals("ch.jsonl", &jsonl_text, None).expect("jsonl");
    let ids: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    for set in [&a, &b] {
        assert_eq!(
            set.events
                .iter()
                .map(|e| e.id.to_string())
                .collect::<Vec<_>>(),
            ids
        );
    }
    let warned: Vec<usize> = (0..n).filter(|i| i.is_multiple_of(97)).collect();
    // CSV line = row + 2 (the header is line 1); JSON Lines line = row + 1
    for (set, file, first_line) in [(&a, "ch.csv", 2), (&b, "ch.jsonl", 1)] {
        assert_eq!(set.warnings.len(), warned.len(), "{:?}", set.warnings);
        for (w, i) in set.warnings.iter().zip(&warned) {
            let want = format!("{file}, line {}: leverage 150x of \"c{i}\"", i + first_line);
            assert!(w.starts_with(&want), "{w}");
        }
    }
    // errors scattered through the file are all reported, in row order
    let mut bad = csv_rows.clone();
    for i in [4321, 17, 2500] {
        bad[i] = bad[i].replace(",95,", ",105,");
    }
    let e = parse_signals("ch.csv", &format!("{HEADER}\n{}\n", bad.join("\n")), None)
        .expect_err("stops above the entry")
        .to_string();
    let at = |line: usize| {
        e.find(&format!("ch.csv, row {line}:"))
            .unwrap_or_else(|| panic!("row {line} not in:\n{e}"))
    };
    assert!(at(19) < at(2502) && at(2502) < at(4323), "{e}");
}
