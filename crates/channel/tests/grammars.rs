//! Every grammar element and lifecycle form of issue 12, as data: message text in, a one-line
//! rendering of what was read out.

use ringfence_channel::{Grammar, GrammarFile, Message, classify};

const T0: i64 = 1_700_000_000_000;

fn msg(id: i64, text: &str, reply_to: Option<i64>) -> Message {
    Message {
        id,
        time: T0 + id * 60_000,
        text: text.to_string(),
        service: None,
        reply_to,
        edited: false,
        forwarded_from: None,
    }
}

/// Class, then detail or reason, of one message read alone.
fn read_with(g: &Grammar, text: &str) -> String {
    let imp = classify(&[msg(1, text, None)], g, "t.json");
    let r = &imp.records[0];
    match r.class {
        ringfence_channel::Class::Call => format!("call: {}", r.detail),
        c => format!("{}: {}", c.as_str(), r.reason),
    }
}

fn read(text: &str) -> String {
    read_with(&Grammar::builtin(), text)
}

#[track_caller]
fn check(text: &str, expect: &str) {
    let got = read(text);
    assert_eq!(got, expect, "\nmessage:\n{text}\n");
}

#[test]
fn pair_forms() {
    check(
        "$BTC/USDT LONG\nEntry: 27400\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT entry 27400 stop 26000 targets 28000",
    );
    check(
        "#BTCUSDT short\nEntry 27400\nSL 28000\nTP 27000",
        "call: short BTCUSDT entry 27400 stop 28000 targets 27000",
    );
    check(
        "BTC/USDT Long\nEntry: 27400\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT entry 27400 stop 26000 targets 28000",
    );
    check(
        "BTCUSDT.P Buy\nEntry: 27400\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT entry 27400 stop 26000 targets 28000",
    );
    check(
        "1000BONK/USDT LONG\nEntry: 0.0123\nSL: 0.0110\nTP: 0.0140",
        "call: long 1000BONKUSDT entry 0.0123 stop 0.011 targets 0.014",
    );
    check(
        "COIN: $ETH/USDT\nDirection: Short\nEntry: 1800\nStop: 1900\nTargets: 1700",
        "call: short ETHUSDT entry 1800 stop 1900 targets 1700",
    );
    check(
        "⚡️⚡️ #SOL/USDT ⚡️⚡️\nLong\nEntry: 20\nSL: 18\nTP: 22",
        "call: long SOLUSDT entry 20 stop 18 targets 22",
    );
    check(
        "📍Coin : #BNB\n🟢 LONG\n👉 Entry: 310 - 302\n🎯 Target 1: 312.5\n❌ StopLoss: 294",
        "call: long BNBUSDT zone 302-310 stop 294 targets 312.5",
    );
}

#[test]
fn direction_forms() {
    check(
        "ETH/USDT\nSell\nEntry: 1800\nSL: 1900\nTP: 1700",
        "call: short ETHUSDT entry 1800 stop 1900 targets 1700",
    );
    check(
        "ETH/USDT\nDirection: Long\nEntry: 1800\nSL: 1700\nTP: 1900",
        "call: long ETHUSDT entry 1800 stop 1700 targets 1900",
    );
    check(
        "ETH/USDT 📉\nEntry: 1800\nSL: 1900\nTP: 1700",
        "call: short ETHUSDT entry 1800 stop 1900 targets 1700",
    );
    check(
        "ETH/USDT 📈\nEntry: 1800\nSL: 1700\nTP: 1900",
        "call: long ETHUSDT entry 1800 stop 1700 targets 1900",
    );
    // inferred from targets vs stop
    let got = read("ETH/USDT\nEntry: 1800\nSL: 1900\nTP: 1700 - 1650");
    assert!(
        got.starts_with("call: short ETHUSDT entry 1800 stop 1900 targets 1700;1650"),
        "{got}"
    );
}

#[test]
fn entry_forms() {
    check(
        "BTC/USDT LONG\nEntry: 27,400\nSL: 26,000\nTP: 28,000",
        "call: long BTCUSDT entry 27400 stop 26000 targets 28000",
    );
    check(
        "BTC/USDT LONG\nEntry Zone: 27100 - 27400\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT zone 27100-27400 stop 26000 targets 28000",
    );
    // Cornix ladder
    check(
        "⚡️⚡️ #BTC/USDT ⚡️⚡️\nExchanges: Binance Futures\nSignal Type: Regular (Long)\nLeverage: Cross (20.0X)\n\nEntry Targets:\n1) 27400\n2) 27100\n\nTake-Profit Targets:\n1) 27600\n2) 27900\n3) 28500\n\nStop Targets:\n1) 26500",
        "call: long BTCUSDT ladder 27400;27100 stop 26500 targets 27600;27900;28500 20x cross",
    );
    check(
        "BTC/USDT LONG\nEntry Targets: 1) 27400 2) 27100\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT ladder 27400;27100 stop 26000 targets 28000",
    );
    check(
        "BTC/USDT LONG\nENTRY: 27400 - 27100 - 26800\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT ladder 27400;27100;26800 stop 26000 targets 28000",
    );
    check(
        "BTC/USDT LONG\nEntry 1: 27400 (50%)\nEntry 2: 27100 (50%)\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT ladder 27400@50;27100@50 stop 26000 targets 28000",
    );
    check(
        "BTC/USDT LONG\nEntry: market\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT market stop 26000 targets 28000",
    );
    check(
        "BTC/USDT LONG\nEntry: CMP\nSL: 26000\nTP: 28000",
        "call: long BTCUSDT market stop 26000 targets 28000",
    );
    check(
        "$ETH/USDT SHORT\nEntry: 1,850 - 1,870\nOTE: 1,862\nTargets: 1,820 - 1,790 - 1,740\nStop: Above 1,900\nLev 3.0X",
        "call: short ETHUSDT zone 1850-1870 stop 1900 targets 1820;1790;1740 3x",
    );
    let imp = classify(
        &[msg(
            1,
            "$ETH/USDT SHORT\nEntry: 1850 - 1870\nOTE: 1862\nTargets: 1820\nStop: 1900",
            None,
        )],
        &Grammar::builtin(),
        "t",
    );
    assert!(
        imp.records[0].reason.contains("OTE) 1862"),
        "{:?}",
        imp.records[0]
    );
}

#[test]
fn target_forms() {
    check(
        "BTC/USDT LONG\nEntry: 100\nSL: 90\nTargets: 110 - 120 - 130",
        "call: long BTCUSDT entry 100 stop 90 targets 110;120;130",
    );
    check(
        "BTC/USDT LONG\nEntry: 100\nSL: 90\nTarget 1: 110\nTarget 2: 120\nTarget 3: 130",
        "call: long BTCUSDT entry 100 stop 90 targets 110;120;130",
    );
    check(
        "BTC/USDT LONG\nEntry: 100\nSL: 90\nTP1 110\nTP2 120\nTP3: 130",
        "call: long BTCUSDT entry 100 stop 90 targets 110;120;130",
    );
    check(
        "#LINKUSDT.P\nDirection: Long\nLeverage: Cross 20x\nEntry: 7.25 - 7.05\nShort Term: 7.35 - 7.45 - 7.60\nMid Term: 7.90 - 8.30\nStop-Loss: 6.80 or opposite signal",
        "call: long LINKUSDT zone 7.05-7.25 stop 6.8 targets 7.35;7.45;7.6;7.9;8.3 20x cross",
    );
    check(
        "BTC/USDT LONG\nEntry: 100\nTake-Profit Targets:\n1) 110\n2) 120\nStop: 90",
        "call: long BTCUSDT entry 100 stop 90 targets 110;120",
    );
    // a price Telegram split into a phone entity, rejoined by the reader: here already joined
    check(
        "ARB/USDT LONG\nEntry: 1.85\nTarget 1: 1.9366995\nSL: 1.70",
        "call: long ARBUSDT entry 1.85 stop 1.7 targets 1.9366995",
    );
}

#[test]
fn stop_forms() {
    for (stop_line, want) in [
        ("STOP LOSS: 90", "90"),
        ("SL 90", "90"),
        ("Stop: Below 90", "90"),
        ("Stop-Loss: 90 or opposite signal", "90"),
        ("Stop Targets: 1) 90", "90"),
        ("Invalidation: 90", "90"),
        ("❌ StopLoss: 90", "90"),
    ] {
        check(
            &format!("BTC/USDT LONG\nEntry: 100\n{stop_line}\nTP: 110"),
            &format!("call: long BTCUSDT entry 100 stop {want} targets 110"),
        );
    }
}

#[test]
fn leverage_forms() {
    for (lev_line, want) in [
        ("10x", "10x"),
        ("Leverage: Cross 20x", "20x cross"),
        ("Lev 3.0X", "3x"),
        ("Leverage (5-10x)", "5-10x"),
        ("(5-10x)", "5-10x"),
        ("Mode: Cross 20x", "20x cross"),
        ("Leverage: Isolated 15x", "15x isolated"),
        ("Leverage: x25", "25x"),
        ("Leverage: 10", "10x"),
    ] {
        check(
            &format!("BTC/USDT LONG\n{lev_line}\nEntry: 100\nSL: 90\nTP: 110"),
            &format!("call: long BTCUSDT entry 100 stop 90 targets 110 {want}"),
        );
    }
}

#[test]
fn numbers_in_other_languages_and_dressings() {
    check(
        "BTC/USDT LONG\nEntry: $27,400\nSL: $26,000.5\nTP: $28,000",
        "call: long BTCUSDT entry 27400 stop 26000.5 targets 28000",
    );
    check(
        "#BTCUSDT ЛОНГ\n💰Вход: 27400\n🎯Цели: 28000 - 28500\n⛔️Стоп: 26000\nПлечо: 10x",
        "call: long BTCUSDT entry 27400 stop 26000 targets 28000;28500 10x",
    );
    check(
        "ETH/USDT VENTA\nEntrada: 1800\nObjetivos: 1700 - 1650\nStop: 1900",
        "call: short ETHUSDT entry 1800 stop 1900 targets 1700;1650",
    );
    check(
        "BTC/USDT 做多\n入场: 27400\n目标: 28000\n止损: 26000",
        "call: long BTCUSDT entry 27400 stop 26000 targets 28000",
    );
    check(
        "SOL/USDT LONG\nEntry: 0,5\nSL: 0,45\nTP: 0,55",
        "call: long SOLUSDT entry 0.5 stop 0.45 targets 0.55",
    );
}

#[test]
fn refused_messages_carry_their_reason() {
    check(
        "Good morning traders! Market looks bullish today 🚀",
        "chatter: no call, update or result in it",
    );
    check(
        "Entry: 100\nSL: 90\nTP: 110",
        "unparsed: prices without a pair: no call can be made of it",
    );
    check(
        "BTC/USDT\nEntry: 100",
        "unparsed: no stop and no targets: not a complete call",
    );
    check(
        "BTC/USDT LONG\nEntry: 100\nSL: 105\nTP: 110",
        "unparsed: long stop 105 is on the wrong side of the entry 100",
    );
    check(
        "BTC/USDT SHORT\nEntry: 100\nSL: 110\nTP: 120",
        "unparsed: short target 120 is on the wrong side of the entry 100",
    );
    check(
        "BTC/USDT LONG\nEntry: 100\nSL: 5%\nTP: 10%",
        "unparsed: targets and stop given only as percentages: no prices to replay",
    );
}

#[test]
fn results_are_claims_never_calls() {
    check(
        "#BTC/USDT Take-Profit target 1 ✅\nProfit: 14.6% 📈\nPeriod: 2 Hours",
        "claim: a claim not linked to a call (no reply, no pair of an earlier call)",
    );
    check(
        "47.1% Profit (10x) 🚀🚀",
        "claim: a claim not linked to a call (no reply, no pair of an earlier call)",
    );
}

/// A channel's history: a call, then updates and claims replying to it or naming its pair.
fn history(lines: &[(i64, &str, Option<i64>)]) -> ringfence_channel::Import {
    let msgs: Vec<Message> = lines.iter().map(|(id, t, r)| msg(*id, t, *r)).collect();
    classify(&msgs, &Grammar::builtin(), "h.json")
}

const CALL: &str = "#BTC/USDT LONG\nEntry: 27100 - 27400\nSL: 26000\nTargets: 27600 - 27900 - 28500\nLeverage: Cross 10x";

fn rows(imp: &ringfence_channel::Import) -> Vec<String> {
    imp.records
        .iter()
        .map(|r| {
            format!(
                "{} {} call={:?} {} | {}",
                r.msg_id,
                r.class.as_str(),
                r.call_id,
                r.detail,
                r.reason
            )
        })
        .collect()
}

#[test]
fn lifecycle_forms() {
    let imp = history(&[
        (10, CALL, None),
        (11, "Target 1 reached ✅", Some(10)),
        (12, "Move SL to entry", Some(10)),
        (13, "BTC/USDT stop moved to breakeven", None),
        (14, "SL to 27,500", Some(10)),
        (15, "Move stop to TP1", Some(10)),
        (16, "Close half now", Some(10)),
        (17, "Close now!", Some(10)),
        (18, "All entry targets achieved", Some(10)),
        (19, "Cancelled ❌ entry not reached", Some(10)),
        (20, "Closed at stop 😔", Some(10)),
        (
            21,
            "#BTC/USDT All take-profit targets achieved 😎\nProfit: 120.3% 📈",
            None,
        ),
        (22, "Stop Target Hit ⛔\nLoss: -50%", Some(10)),
        (23, "Done ✅ 47.1% Profit (10x)", Some(17)),
    ]);
    let got = rows(&imp);
    let want = [
        "10 call call=Some(10) long BTCUSDT zone 27100-27400 stop 26000 targets 27600;27900;28500 10x cross | ",
        "11 claim call=Some(10) claims target 1 | ",
        "12 update call=Some(10) move stop to 27250 | ",
        "13 update call=Some(10) move stop to 27250 | ",
        "14 update call=Some(10) move stop to 27500 | ",
        "15 update call=Some(10) move stop to 27600 | ",
        "16 update call=Some(10) close part | partial close is not in the signal format: recorded, not replayed",
        "17 update call=Some(10) close | ",
        "18 update call=Some(10) entries filled | entries filled: informational, the replay fills entries from prices",
        "19 update call=Some(10) cancel | ",
        "20 claim call=Some(10) claims stop hit | ",
        "21 claim call=Some(10) claims all targets 120.3% | ",
        "22 claim call=Some(10) claims stop hit -50% | ",
        "23 claim call=Some(10) claims a result 47.1% | ",
    ];
    assert_eq!(got, want, "\n{}", got.join("\n"));
    let c = imp.counts();
    assert_eq!(
        (c.calls, c.updates, c.claims, c.chatter, c.unparsed),
        (1, 8, 5, 0, 0)
    );
    let claims: Vec<String> = imp
        .claims
        .iter()
        .map(|c| {
            format!(
                "{} {:?} {} {:?} {:?}",
                c.msg_id,
                c.call_id,
                c.kind.as_str(),
                c.targets_hit,
                c.claimed_pct
            )
        })
        .collect();
    assert_eq!(
        claims,
        [
            "11 Some(10) target Some(1) None",
            "20 Some(10) stop Some(0) None",
            "21 Some(10) all_targets Some(3) Some(120.3)",
            "22 Some(10) stop Some(0) Some(-50.0)",
            "23 Some(10) profit None Some(47.1)",
        ]
    );
    // events: the call plus move_stop x4, close, cancel, each naming the call and its own message
    let ev: Vec<String> = imp
        .events
        .iter()
        .map(|e| format!("{} {:?} {:?} {:?}", e.id, e.action, e.stop, e.msg_id))
        .collect();
    assert_eq!(ev.len(), 7, "{ev:#?}");
    assert_eq!(ev[1], "10 MoveStop Some(27250.0) Some(\"12\")");
    assert_eq!(ev[5], "10 Close None Some(\"17\")");
}

#[test]
fn an_update_without_a_call_is_unparsed_with_reason() {
    let imp = history(&[(5, "Close now!", None), (6, "Move SL to entry", Some(99))]);
    for r in &imp.records {
        assert_eq!(r.class, ringfence_channel::Class::Unparsed, "{r:?}");
        assert!(r.reason.contains("names no call"), "{r:?}");
    }
    assert!(imp.events.is_empty());
}

#[test]
fn grammar_file_adds_keywords() {
    let text = "ADA/USDT hoch\nKaufzone: 0.30 - 0.31\nKursziele: 0.33 - 0.35\nAbsicherung: 0.28";
    assert!(
        read(text).starts_with("unparsed") || read(text).starts_with("chatter"),
        "{}",
        read(text)
    );
    let file: GrammarFile = ringfence_channel::grammar::parse_grammar_file(
        "[labels]\nentry = [\"Kaufzone\"]\ntargets = [\"Kursziele\"]\nstop = [\"Absicherung\"]\n[words]\nlong = [\"hoch\"]\n",
    )
    .expect("grammar parses");
    let g = Grammar::with_file(&file);
    assert_eq!(
        read_with(&g, text),
        "call: long ADAUSDT zone 0.3-0.31 stop 0.28 targets 0.33;0.35"
    );
    let err =
        ringfence_channel::grammar::parse_grammar_file("[labels]\nentyr = [\"x\"]\n").unwrap_err();
    assert!(err.contains("entyr"), "{err}");
}

#[test]
fn out_of_order_times_and_duplicate_ids_are_refused_with_reason() {
    let mut call = msg(10, CALL, None);
    call.time = T0 + 100 * 60_000;
    let early = msg(11, "Close now!", Some(10)); // posted (by its date) before the call
    let dup = msg(11, "Move SL to entry", Some(10));
    let imp = classify(&[call, early, dup], &Grammar::builtin(), "h.json");
    let got = rows(&imp);
    assert_eq!(
        got[1],
        "11 unparsed call=Some(10)  | posted before the call it refers to (the export's times are out of order)"
    );
    assert_eq!(
        got[2],
        "11 unparsed call=None  | a second message with the same id: only the first is read"
    );
    assert_eq!(imp.events.len(), 1, "only the call");
}
