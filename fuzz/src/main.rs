//! `ringfence-fuzz`: a mutation fuzzer for the parsers that take untrusted text, run outside
//! `cargo test` (no nightly or cargo-fuzz needed).
//!
//! ```text
//! cargo run --profile fuzz -p ringfence-fuzz -- <target> <inputs> [seed]                 # json, html, grammar
//! cargo run --profile fuzz -p ringfence-fuzz --features full -- <target> <inputs> [seed]  # + import, signals, scenario
//! ringfence-fuzz <target> replay FILE...   # re-run saved inputs with the panic message shown
//! ```
//!
//! Each input is a seed from the target's corpus (the repository's fixtures, demo files and grammar
//! examples) with 1-8 random mutations: byte flips, inserted dictionary tokens (`Entry`, `1)`,
//! `,`, `x`, `%`, `{`, `<div class="message"`, `&#`, huge numbers, emoji, keycaps...), deleted,
//! duplicated or spliced ranges, truncation. Every call runs under `catch_unwind`; a panicking
//! input is saved to `fuzz/crashes/<target>-<seed>-<n>.txt` and counted. The `import` target also
//! checks a property: the signal file the importer writes from any export must load. The summary line gives inputs
//! run, panics and inputs per second.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[cfg(feature = "full")]
#[path = "../../crates/cli/src/exit.rs"]
#[allow(dead_code, missing_docs)]
mod exit;
#[cfg(feature = "full")]
#[path = "../../crates/cli/src/scenario.rs"]
#[allow(dead_code, missing_docs)]
mod scenario;

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const DICT: &[&str] = &[
    "Entry",
    "Entry Targets:",
    "ENTRY:",
    "Target 1:",
    "TP1",
    "Take-Profit Targets:",
    "Stop",
    "SL",
    "Stop-Loss:",
    "Stop Targets:",
    "Invalidation:",
    "Leverage: Cross 20x",
    "(5-10x)",
    "Lev 3.0X",
    "x20",
    "Mode:",
    "OTE:",
    "Short Term:",
    "Mid Term:",
    "LONG",
    "SHORT",
    "Buy",
    "Sell",
    "📈",
    "📉",
    "✅",
    "⛔",
    "🚀",
    "1)",
    "2)",
    "1.",
    "1\u{fe0f}\u{20e3}",
    "$",
    "#",
    "/USDT",
    "USDT",
    ".P",
    "27,400",
    ",",
    ".",
    "-",
    "–",
    "%",
    ":",
    "(",
    ")",
    "\n",
    "\n\n",
    " ",
    "0",
    "0,5",
    "1e308",
    "99999999999999999999999",
    "-1",
    "NaN",
    "inf",
    "k",
    "market",
    "CMP",
    "reached",
    "move SL to entry",
    "close half",
    "cancelled",
    "all entries filled",
    "Profit: 47.1%",
    "breakeven",
    "to",
    "TP",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "\"text\":",
    "\"id\":",
    "\"date_unixtime\":\"",
    "\"reply_to_message_id\":",
    "\"messages\":[",
    "{\"type\":\"phone\",\"text\":\"",
    "<div class=\"message default clearfix\" id=\"message",
    "<div class=\"text\">",
    "</div>",
    "<br>",
    "<div class=\"pull_right date details\" title=\"",
    "UTC+03:00",
    "UTC-99:99",
    "&amp;",
    "&#",
    "&#x1F4C8;",
    "&#99999999;",
    "<a href=\"#go_to_message",
    "<!--",
    "<",
    ">",
    "=\"",
    "\u{feff}",
    "\r\n",
    "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode,msg_id,entries\n",
    "2025-10-10T12:00:00Z",
    "1760101200000",
    "move_stop",
    "5-10x",
    "a@2;b@0",
    "@",
    ";",
    "[[accounts]]",
    "[[policies]]",
    "= ",
    "\"x\"",
    "[execution]",
    "1e400",
    "-0",
    "9223372036854775807",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    let n = 1 + rng.below(8);
    for _ in 0..n {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                v.insert(i, (rng.next() & 0xff) as u8);
            }
            2 | 3 => {
                let i = rng.below(len + 1);
                let tok = DICT[rng.below(DICT.len())].as_bytes();
                v.splice(i..i, tok.iter().copied());
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                v.drain(a..b);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256)).min(len);
                let chunk: Vec<u8> = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(512)).min(other.len());
                    let at = rng.below(len + 1);
                    v.splice(at..at, other[a..b].iter().copied());
                }
            }
            7 if len > 0 => v.truncate(rng.below(len)),
            8 if len > 0 => {
                // replace a digit run with a dictionary number
                let i = rng.below(len);
                if v[i].is_ascii_digit() {
                    let nums = [
                        "0",
                        "1e308",
                        "99999999999999999999",
                        "0.0000000001",
                        "-5",
                        "4294967296",
                    ];
                    let tok = nums[rng.below(nums.len())].as_bytes();
                    v.splice(i..i + 1, tok.iter().copied());
                }
            }
            _ => {}
        }
    }
    if v.len() > 1 << 16 {
        v.truncate(1 << 16);
    }
    v
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read_seeds(paths: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in paths {
        let path = repo().join(p);
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            for f in files {
                if let Ok(b) = std::fs::read(&f) {
                    out.push(b);
                }
            }
        } else if let Ok(b) = std::fs::read(&path) {
            // large files: keep the head so mutations stay fast
            out.push(b[..b.len().min(16 * 1024)].to_vec());
        }
    }
    out
}

/// Message texts for the grammar target: the issue's forms.
const MESSAGES: &[&str] = &[
    "⚡️⚡️ #BTC/USDT ⚡️⚡️\nSignal Type: Regular (Long)\nLeverage: Cross (20.0X)\n\nEntry Targets:\n1) 27400\n2) 27100\n\nTake-Profit Targets:\n1) 27600\n2) 27900\n\nStop Targets:\n1) 26500",
    "$ETH/USDT SHORT\nEntry: 1,850 - 1,870\nOTE: 1,862\nTargets: 1,820 - 1,790 - 1,740\nStop: Above 1,900\nLev 3.0X",
    "#LINKUSDT.P\nDirection: Long\nLeverage: Cross 20x\nEntry: 7.25 - 7.05\nShort Term: 7.35 - 7.45 - 7.60\nMid Term: 7.90 - 8.30\nStop-Loss: 6.80 or opposite signal",
    "📍Coin : #BNB\n🟢 LONG\n👉 Entry: 310 - 302\n🎯 Target 1: 312.5\n❌ StopLoss: 294",
    "#BTC/USDT Take-Profit target 1 ✅\nProfit: 14.6% 📈\nPeriod: 2 Hours",
    "Move SL to entry",
    "Close half now",
    "Cancelled ❌ entry not reached",
    "47.1% Profit (10x) 🚀",
    "#BTCUSDT ЛОНГ\n💰Вход: 27400\n🎯Цели: 28000 - 28500\n⛔️Стоп: 26000\nПлечо: 10x",
    "BTC/USDT LONG\nEntry 1: 27400 (50%)\nEntry 2: 27100 (50%)\nSL: 26000\nTP: 28000 (5-10x)",
];

fn seeds_for(target: &str) -> Vec<Vec<u8>> {
    match target {
        "json" | "import" => read_seeds(&[
            "crates/channel/tests/fixtures/result_new.json",
            "crates/channel/tests/fixtures/result_old.json",
        ]),
        "html" => read_seeds(&[
            "crates/channel/tests/fixtures/html_export",
            "crates/channel/tests/fixtures/messages_old.html",
        ]),
        "grammar" => MESSAGES.iter().map(|m| m.as_bytes().to_vec()).collect(),
        "signals" => {
            // the heads of the real files (a few dozen rows): mutations reach every row type fast
            let mut s: Vec<Vec<u8>> = read_seeds(&[
                "scenarios/demo-signals.csv",
                "scenarios/harthor-oct-2025-signals.csv",
            ])
            .into_iter()
            .map(|b| b[..b.len().min(2048)].to_vec())
            .collect();
            s.push(b"id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode,msg_id,entries\n1,2025-10-10T12:00:00Z,open,BTCUSDT,long,,,26000,28000;29000,5-10x,cross,1,27400;27100@2\n1,2025-10-10T13:00:00Z,move_stop,,,,,27000,,,,2,\n".to_vec());
            s.push(b"{\"id\":\"7\",\"time\":\"2025-10-10T12:00:00Z\",\"symbol\":\"BTCUSDT\",\"side\":\"long\",\"stop\":26000,\"targets\":[28000],\"leverage\":\"5-10x\",\"entries\":[27400,\"27100@2\"]}\n".to_vec());
            s
        }
        "scenario" => read_seeds(&["scenarios/demo.toml", "scenarios/harthor-oct-2025.toml"]),
        _ => Vec::new(),
    }
}

fn run_one(target: &str, input: &[u8], scratch: &Path) {
    let text = String::from_utf8_lossy(input);
    match target {
        "json" => {
            let tz = Some(ringfence_channel::Zone::parse("Europe/Berlin").expect("zone"));
            if let Ok(msgs) = ringfence_channel::export::parse_json("f.json", &text, tz) {
                let imp =
                    ringfence_channel::classify(&msgs, &ringfence_channel::Grammar::builtin(), "f");
                let _ = ringfence_channel::write::signals_csv(&imp.events);
            }
        }
        "html" => {
            let tz = Some(ringfence_channel::Zone::parse("+05:30").expect("zone"));
            if let Ok(msgs) = ringfence_channel::export::parse_html("f.html", &text, tz) {
                let _ =
                    ringfence_channel::classify(&msgs, &ringfence_channel::Grammar::builtin(), "f");
            }
        }
        "grammar" => {
            let msg = ringfence_channel::Message {
                id: 1,
                time: 0,
                text: text.into_owned(),
                service: None,
                reply_to: Some(1),
                edited: false,
                forwarded_from: None,
            };
            let mut reply = msg.clone();
            reply.id = 2;
            GRAMMAR.with(|g| {
                let imp = ringfence_channel::classify(&[msg, reply], g, "f");
                let _ = ringfence_channel::write::report_csv(&imp);
            });
        }
        #[cfg(feature = "full")]
        "import" => {
            // what the importer writes must always load with the project's signal parser
            let tz = Some(ringfence_channel::Zone::parse("UTC").expect("zone"));
            if let Ok(msgs) = ringfence_channel::export::parse_json("f.json", &text, tz) {
                let imp =
                    ringfence_channel::classify(&msgs, &ringfence_channel::Grammar::builtin(), "f");
                let csv = ringfence_channel::write::signals_csv(&imp.events);
                if let Err(e) = ringfence_data::signals::parse_signals("f.csv", &csv, None) {
                    panic!("imported signal file does not load: {e}");
                }
            }
        }
        #[cfg(feature = "full")]
        "signals" => {
            let _ = ringfence_data::signals::parse_signals("f.csv", &text, None);
            let _ = ringfence_data::signals::parse_signals("f.jsonl", &text, None);
        }
        #[cfg(feature = "full")]
        "scenario" => {
            let path = scratch.join("s.toml");
            if std::fs::write(&path, input).is_ok() {
                let _ = scenario::load(&path);
            }
        }
        other => {
            let _ = scratch;
            eprintln!(
                "unknown target {other:?} (json, html, grammar; with --features full also signals, scenario)"
            );
            std::process::exit(2);
        }
    }
}

thread_local! {
    static GRAMMAR: ringfence_channel::Grammar = ringfence_channel::Grammar::builtin();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ringfence-fuzz <json|html|grammar|signals|scenario> <inputs> [seed]");
        std::process::exit(2);
    }
    let target = args[1].as_str();
    if args[2] == "replay" {
        // `ringfence-fuzz <target> replay FILE...`: run saved inputs with the default panic hook
        let scratch = std::env::temp_dir().join(format!("ringfence-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&scratch);
        for f in &args[3..] {
            let input = std::fs::read(f).unwrap_or_default();
            run_one(target, &input, &scratch);
            println!("{f}: no panic");
        }
        return;
    }
    let inputs: u64 = args[2].parse().unwrap_or(1_000_000);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let seeds = seeds_for(target);
    if seeds.is_empty() {
        eprintln!("no seeds for target {target:?}");
        std::process::exit(2);
    }
    let scratch = std::env::temp_dir().join(format!("ringfence-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let crashes = repo().join("fuzz/crashes");
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut panics = 0u64;
    for i in 0..inputs {
        let base = &seeds[rng.below(seeds.len())];
        let input = if i < seeds.len() as u64 {
            base.clone()
        } else {
            mutate(&mut rng, &seeds, base)
        };
        let ok = catch_unwind(AssertUnwindSafe(|| run_one(target, &input, &scratch))).is_ok();
        if !ok {
            panics += 1;
            let _ = std::fs::create_dir_all(&crashes);
            let _ = std::fs::write(crashes.join(format!("{target}-{seed}-{i}.txt")), &input);
        }
        if (i + 1) % 1_000_000 == 0 {
            eprintln!(
                "{target}: {} inputs, {panics} panics, {:.0}/s",
                i + 1,
                (i + 1) as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{target}: {inputs} inputs, {panics} panics, {:.1} s, {:.0} inputs/s (seed {seed})",
        secs,
        inputs as f64 / secs
    );
    if panics > 0 {
        std::process::exit(1);
    }
}
