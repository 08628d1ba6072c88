//! Every scenario validation error of `ringfence run`: exit code 2, a message naming the file and the
//! key (with the nearest valid key for unknown keys), and no output directory (nor a staging
//! directory) left behind.
//!
//! Each case starts from a small valid scenario over the demo market (written into a tempdir with
//! absolute data paths) and breaks exactly one thing; `base_scenario_runs` shows the base is valid.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");

/// Three calls inside the demo market (2025-07-01 .. 2025-10-28), one of them updated later.
const SIGNALS: &str = "\
id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode
a1,2025-07-02T10:00:00Z,open,BTCUSDT,long,,,100000,110000;112000,10x,
a2,2025-07-03T10:00:00Z,open,ETHUSDT,short,,,3000,2300,20x,cross
a1,2025-07-05T10:00:00Z,close,BTCUSDT,,,,,,,
";

fn base() -> String {
    format!(
        r#"name = "t"
signals = ["signals.csv"]

[data]
dir = "{DEMO}"
timeframe = "1h"

[[brackets]]
file = "{DEMO}/brackets.json"
effective = "2024-10-01"

[execution]
entry_delay = "2m"
slippage_bps = 5

[simulation]
intrabar = "adverse"

[[account]]
name = "small"
collateral = {{ USDT = 1000 }}

[[policy]]
name = "iso"
mode = "isolated"
fixed_margin = 50
"#
    )
}

/// A scenario directory: `scenario.toml`, `signals.csv`, and where `--out` points.
struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    scenario: PathBuf,
    out: PathBuf,
}

fn setup(scenario: &str, signals: &str) -> Case {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let path = dir.join("scenario.toml");
    std::fs::write(&path, scenario).expect("write scenario");
    std::fs::write(dir.join("signals.csv"), signals).expect("write signals");
    Case {
        _tmp: tmp,
        out: dir.join("out"),
        dir,
        scenario: path,
    }
}

fn run(case: &Case) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .arg("run")
        .arg(&case.scenario)
        .arg("--out")
        .arg(&case.out)
        .arg("--no-report")
        .output()
        .expect("the ringfence binary runs")
}

/// Nothing named like the output (the output itself or a `.out.partial-*` staging dir) exists.
fn assert_no_output(case: &Case) {
    assert!(!case.out.exists(), "{} was created", case.out.display());
    let left: Vec<String> = std::fs::read_dir(&case.dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Runs a broken scenario: exit 2, stderr names `file` (default: the scenario) and every `expect`.
fn check_with(scenario: &str, signals: &str, file: Option<&Path>, expect: &[&str]) {
    let case = setup(scenario, signals);
    let o = run(&case);
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("{err}");
    assert_eq!(o.status.code(), Some(2), "expected exit 2, stderr:\n{err}");
    assert!(err.starts_with("error: "), "not one readable error:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let named = file.map(Path::to_path_buf).unwrap_or(case.scenario.clone());
    let named = if named.is_absolute() {
        named
    } else {
        case.dir.join(named)
    };
    assert!(
        err.contains(&named.display().to_string()),
        "stderr does not name {}:\n{err}",
        named.display()
    );
    for e in expect {
        assert!(err.contains(e), "stderr lacks {e:?}:\n{err}");
    }
    assert_no_output(&case);
}

fn check(scenario: &str, expect: &[&str]) {
    check_with(scenario, SIGNALS, None, expect);
}

fn replace(s: &str, from: &str, to: &str) -> String {
    assert!(s.contains(from), "{from:?} not in the base scenario");
    s.replacen(from, to, 1)
}

#[test]
fn base_scenario_runs() {
    let case = setup(&base(), SIGNALS);
    let o = run(&case);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(case.out.join("summary.csv").is_file());
    let trades = std::fs::read_to_string(case.out.join("trades.csv")).expect("trades.csv");
    assert!(trades.contains(",a1,BTCUSDT,long,") && trades.contains(",a2,ETHUSDT,short,"));
}

#[test]
fn unknown_top_level_key_names_the_nearest() {
    let s = replace(&base(), "signals = ", "outptu = \"x\"\nsignals = ");
    check(&s, &["outptu", "did you mean `output`?", "line 2"]);
}

#[test]
fn unknown_key_in_execution() {
    let s = replace(&base(), "slippage_bps = 5", "slipage_bps = 5");
    check(&s, &["slipage_bps", "did you mean `slippage_bps`?"]);
}

#[test]
fn unknown_key_in_policy() {
    let s = replace(
        &base(),
        "fixed_margin = 50",
        "fixed_margin = 50\nbreakeven_after_first_targt = true",
    );
    check(
        &s,
        &[
            "breakeven_after_first_targt",
            "did you mean `breakeven_after_first_target`?",
        ],
    );
}

#[test]
fn unknown_key_in_account() {
    let s = replace(
        &base(),
        "collateral = { USDT = 1000 }",
        "collateral = { USDT = 1000 }\nfee_multipler = 1",
    );
    check(&s, &["fee_multipler", "did you mean `fee_multiplier`?"]);
}

#[test]
fn bad_intrabar_value() {
    let s = replace(&base(), "intrabar = \"adverse\"", "intrabar = \"advers\"");
    check(&s, &["intrabar", "advers", "did you mean `adverse`?"]);
}

/// Every value the scenario spells as a name is a typed enum: a misspelt one names the file, the
/// line, the dotted key and the nearest valid name.
#[test]
fn misspelt_names_of_every_enum() {
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "mode = \"isolated\"",
            "mode = \"isolatd\"",
            &[
                "line 25",
                "key `policy.mode`",
                "isolatd",
                "did you mean `isolated`?",
            ],
        ),
        (
            "fixed_margin = 50",
            "fixed_margin = 50\nstops = \"widn\"",
            &[
                "line 27",
                "key `policy.stops`",
                "widn",
                "did you mean `widen`?",
            ],
        ),
        (
            "timeframe = \"1h\"",
            "timeframe = \"1h\"\ngaps = \"fil\"",
            &["line 7", "key `data.gaps`", "did you mean `fill`?"],
        ),
        (
            "[execution]",
            "[exchange]\npreset = \"binance_usd\"\n\n[execution]",
            &[
                "line 13",
                "key `exchange.preset`",
                "did you mean `binance_usdm`?",
            ],
        ),
        (
            "collateral = { USDT = 1000 }",
            "collateral = { USDT = 1000 }\n\n[[account.background]]\nsymbol = \"BTCUSDT\"\nside = \"lng\"\nqty = 0.001\nleverage = 5",
            &[
                "key `account.background.side`",
                "lng",
                "did you mean `long`?",
            ],
        ),
        (
            "timeframe = \"1h\"",
            "timeframe = \"1h\"\n\n[data.files.BTCUSDT]\ncandles = \"x.csv\"\nformat = \"binance_kline\"",
            &[
                "key `data.files.BTCUSDT.format`",
                "did you mean `binance_klines`?",
            ],
        ),
    ];
    for (from, to, expect) in cases {
        check(&replace(&base(), from, to), expect);
    }
}

#[test]
fn bad_duration() {
    let s = replace(
        &base(),
        "entry_delay = \"2m\"",
        "entry_delay = \"2 minutes\"",
    );
    check(&s, &["execution.entry_delay", "2 minutes"]);
}

#[test]
fn bad_time() {
    let s = replace(
        &base(),
        "timeframe = \"1h\"",
        "timeframe = \"1h\"\nstart = \"2025-13-01\"",
    );
    check(&s, &["data.start", "2025-13-01"]);
}

#[test]
fn missing_signals_key() {
    let s = replace(&base(), "signals = [\"signals.csv\"]\n", "");
    check(&s, &["signals"]);
}

#[test]
fn empty_signals_list() {
    let s = replace(&base(), "signals = [\"signals.csv\"]", "signals = []");
    check(&s, &["signals", "at least one signal file"]);
}

#[test]
fn missing_signal_file() {
    let s = replace(&base(), "\"signals.csv\"", "\"nowhere.csv\"");
    check_with(&s, SIGNALS, Some(Path::new("nowhere.csv")), &["signals"]);
}

#[test]
fn no_account() {
    let s = replace(
        &base(),
        "[[account]]\nname = \"small\"\ncollateral = { USDT = 1000 }\n",
        "",
    );
    check(&s, &["account"]);
}

#[test]
fn no_policy() {
    let s = replace(
        &base(),
        "[[policy]]\nname = \"iso\"\nmode = \"isolated\"\nfixed_margin = 50\n",
        "",
    );
    check(&s, &["policy"]);
}

#[test]
fn duplicate_account_names() {
    let s = base() + "\n[[account]]\nname = \"small\"\ncollateral = { USDT = 5 }\n";
    check(&s, &["two [[account]] entries are named \"small\""]);
}

#[test]
fn duplicate_policy_names() {
    let s = base() + "\n[[policy]]\nname = \"iso\"\nmode = \"cross\"\nfixed_margin = 50\n";
    check(&s, &["two [[policy]] entries are named \"iso\""]);
}

#[test]
fn sizing_none() {
    let s = replace(&base(), "fixed_margin = 50\n", "");
    check(&s, &["policy iso", "give one sizing"]);
}

#[test]
fn sizing_two() {
    let s = replace(
        &base(),
        "fixed_margin = 50",
        "fixed_margin = 50\nmargin_fraction = 0.1",
    );
    check(&s, &["policy iso", "only one of"]);
}

#[test]
fn leverage_fixed_and_capped() {
    let s = replace(
        &base(),
        "fixed_margin = 50",
        "fixed_margin = 50\nleverage = 10\nmax_leverage = 20",
    );
    check(&s, &["policy iso", "not both"]);
}

#[test]
fn bad_sweep_key_with_suggestion() {
    let s = base() + "\n[sweep]\nleverge = [5, 10]\n";
    check(&s, &["sweep.leverge", "did you mean `leverage`?"]);
}

#[test]
fn empty_sweep_list() {
    let s = base() + "\n[sweep]\nleverage = []\n";
    check(&s, &["sweep.leverage", "empty"]);
}

#[test]
fn lower_timeframe_not_dividing() {
    let s = replace(
        &base(),
        "timeframe = \"1h\"",
        "timeframe = \"1h\"\nlower_timeframe = \"7m\"",
    );
    check(&s, &["data.lower_timeframe", "7m", "must divide"]);
}

#[test]
fn bad_haircut() {
    let s = base() + "\n[exchange]\nhaircuts = { BTC = 1.5 }\n";
    check(&s, &["exchange.haircuts.BTC", "1.5"]);
}

#[test]
fn negative_collateral() {
    let s = replace(&base(), "USDT = 1000", "USDT = -5");
    check(&s, &["account small", "collateral.USDT", "-5"]);
}

#[test]
fn hybrid_without_rule() {
    let s = replace(&base(), "mode = \"isolated\"", "mode = \"hybrid\"");
    check(&s, &["policy iso", "cross_symbols or max_correlation"]);
}

#[test]
fn missing_data_dir() {
    let s = replace(
        &base(),
        &format!("dir = \"{DEMO}\""),
        "dir = \"no-such-data\"",
    );
    let case_dir_relative = Path::new("no-such-data");
    check_with(&s, SIGNALS, Some(case_dir_relative), &["data.dir"]);
}

#[test]
fn signal_naming_a_symbol_without_data() {
    let signals = SIGNALS.replace(
        "a2,2025-07-03T10:00:00Z,open,ETHUSDT",
        "a2,2025-07-03T10:00:00Z,open,ADAUSDT",
    );
    // The file named is the data directory searched (or the signal file); the symbol is named.
    let case = setup(&base(), &signals);
    let o = run(&case);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("ADAUSDT"), "{err}");
    assert!(
        err.contains(DEMO) || err.contains(&case.dir.join("signals.csv").display().to_string()),
        "names neither the data dir nor the signal file:\n{err}"
    );
    assert_no_output(&case);
}

#[test]
fn signal_outside_the_data_range() {
    let signals = SIGNALS.replace("a2,2025-07-03T10:00:00Z", "a2,2025-11-03T10:00:00Z");
    let case_signals = Path::new("signals.csv");
    check_with(
        &base(),
        &signals,
        Some(case_signals),
        &[
            "line 3",
            "a2",
            "ETHUSDT",
            "not covered",
            "2025-10-28T23:00:00Z",
        ],
    );
}

#[test]
fn update_after_the_data_ends_is_not_covered() {
    let signals = SIGNALS.replace(
        "a1,2025-07-05T10:00:00Z,close",
        "a1,2025-11-05T10:00:00Z,close",
    );
    check_with(
        &base(),
        &signals,
        Some(Path::new("signals.csv")),
        &["a1", "BTCUSDT", "not covered"],
    );
}

#[test]
fn bracket_file_inconsistent_for_a_traded_symbol() {
    let text = std::fs::read_to_string(format!("{DEMO}/brackets.json")).expect("demo brackets");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let btc = json
        .as_array_mut()
        .expect("list")
        .iter_mut()
        .find(|s| s["symbol"] == "BTCUSDT")
        .expect("BTCUSDT table");
    btc["brackets"][1]["cum"] = serde_json::json!(999.0);
    let case = setup(&base(), SIGNALS);
    let broken = case.dir.join("brackets.json");
    std::fs::write(&broken, serde_json::to_string(&json).expect("json")).expect("write");
    let s = replace(
        &base(),
        &format!("file = \"{DEMO}/brackets.json\""),
        "file = \"brackets.json\"",
    );
    std::fs::write(&case.scenario, s).expect("write scenario");
    let o = run(&case);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let named = broken.display().to_string();
    for e in [named.as_str(), "BTCUSDT", "999", "cum"] {
        assert!(err.contains(e), "stderr lacks {e:?}:\n{err}");
    }
    assert_no_output(&case);

    // The same break in a symbol nobody trades is a warning, not an error.
    let btc = json
        .as_array_mut()
        .expect("list")
        .iter_mut()
        .find(|s| s["symbol"] == "BTCUSDT")
        .expect("BTCUSDT table");
    btc["brackets"][1]["cum"] = serde_json::json!(50.0);
    let bnb = json
        .as_array_mut()
        .expect("list")
        .iter_mut()
        .find(|s| s["symbol"] == "BNBUSDT")
        .expect("BNBUSDT table");
    bnb["brackets"][1]["cum"] = serde_json::json!(999.0);
    std::fs::write(&broken, serde_json::to_string(&json).expect("json")).expect("write");
    let o = run(&case);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn bad_intrabar_flag() {
    let case = setup(&base(), SIGNALS);
    let o = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .arg("run")
        .arg(&case.scenario)
        .arg("--out")
        .arg(&case.out)
        .args(["--intrabar", "worst"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--intrabar") && err.contains("worst"), "{err}");
    assert_no_output(&case);
}

#[test]
fn the_old_partial_process_gets_a_migration_message() {
    check(
        &replace(
            &base(),
            "[execution]",
            "[exchange]\nliquidation = \"partial\"\n\n[execution]",
        ),
        &[
            "exchange.liquidation",
            "\"partial\"",
            "bybit_tiers",
            "okx_tiers",
        ],
    );
}

#[test]
fn adl_mistakes_are_named() {
    let with = |adl: &str| format!("{}\n[adl]\n{adl}\n", base());
    check(
        &with("mode = \"data\""),
        &["adl.file", "mode = \"data\" needs"],
    );
    check(
        &with("mode = \"rule\"\nfractions = [0, 0.5, 1]"),
        &["adl.fractions", "3 values given", "five shares"],
    );
    check(
        &with("mode = \"rule\"\nfractions = [0, 1, 0.5, 1, 1]"),
        &["adl.fractions", "non-decreasing"],
    );
    check(&with("move_pct = 5"), &["adl.mode", "ADL is off"]);
    check(
        &with("mode = \"rule\"\nmove_pct = 150"),
        &["adl.move_pct", "150"],
    );
    check(&with("mode = \"sometimes\""), &["adl.mode", "sometimes"]);
}

#[test]
fn a_bad_adl_event_file_names_its_rows() {
    let case = setup(
        &format!("{}\n[adl]\nmode = \"data\"\nfile = \"adl.csv\"\n", base()),
        SIGNALS,
    );
    std::fs::write(
        case.dir.join("adl.csv"),
        "time,symbol,side,share\n2024-03-05T21:13:00Z,BTCUSDT,short,0.3\n2024-03-05T21:14:00Z,BTCUSDT,sideways,0.3\n2024-03-05T21:15:00Z,BTCUSDT,long,2\n",
    )
    .unwrap();
    let o = run(&case);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for e in ["adl.csv", "row 3", "sideways", "row 4", "share"] {
        assert!(err.contains(e), "stderr lacks {e:?}:\n{err}");
    }
    assert_no_output(&case);
}
