//! `ringfence checklist` on the demo scenario: the calls the demo generator placed badly (their stop
//! beyond the liquidation price at the called leverage, listed in `datasets/demo/README.md`) are
//! exactly the ones the checklist flags so; outputs, report section and argument errors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ringfence(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("runs the binary")
}

/// The ids of the "Badly placed calls" table of the demo README.
fn badly_placed() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(root().join("datasets/demo/README.md")).expect("demo README");
    let section = text
        .split("## Badly placed calls")
        .nth(1)
        .expect("a badly placed calls section");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .filter(|id| id.starts_with('c') && id[1..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

fn checklist_json(out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "checklist",
        "scenarios/demo.toml",
        "--out",
        out.to_str().expect("utf-8 temp path"),
    ];
    args.extend_from_slice(extra);
    let o = ringfence(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("checklist.json")).expect("checklist.json");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn demo_checklist_flags_exactly_the_badly_placed_calls() {
    let expected = badly_placed();
    assert_eq!(expected.len(), 8, "{expected:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let v = checklist_json(dir.path(), &[]);
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 72);
    let beyond: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["stop_before_liq"] == false)
        .map(|r| r["signal_id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(beyond, expected);
    for r in rows {
        let id = r["signal_id"].as_str().expect("id");
        if expected.contains(id) {
            assert_ne!(r["verdict"], "cross-ok", "{id}: {r}");
            let reasons = r["reasons"].to_string();
            assert!(
                reasons.contains("beyond the liquidation price"),
                "{id}: {reasons}"
            );
            let lev = r["leverage"].as_f64().expect("leverage");
            let safe = r["max_safe_leverage"].as_f64().expect("max safe leverage");
            assert!(safe < lev, "{id}: safe {safe} vs called {lev}");
        }
    }
    // the channel line
    let ch = &v["channels"][0];
    assert_eq!(ch["calls"], 72);
    let share = ch["stop_beyond_liq_share"].as_f64().expect("share");
    assert!((share - 8.0 / ch["calls_with_stop"].as_f64().expect("n")).abs() < 1e-12);
    assert_eq!(
        ch["cross_runs"], 8,
        "two cross policies × four sweep points"
    );
    assert!(ch["cascade_victim_share"].as_f64().is_some());
    assert!(ch["median_safe_leverage"].as_f64().expect("median") > 1.0);
    // the CSV: a header and one line per call
    let csv = std::fs::read_to_string(dir.path().join("checklist.csv")).expect("checklist.csv");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .expect("header")
            .starts_with("channel,signal_id,time,symbol")
    );
    assert_eq!(lines.count(), 72);
}

#[test]
fn account_and_policy_are_chosen_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let v = checklist_json(
        dir.path(),
        &[
            "--account",
            "btc-holder",
            "--policy",
            "cross",
            "--buffer",
            "1",
        ],
    );
    assert_eq!(v["account"], "btc-holder");
    assert_eq!(v["policy"], "cross");
    assert_eq!(v["config"]["stop_buffer"], 0.01);
    let rows = v["rows"].as_array().expect("rows");
    // the background BTC long is in every book, and BTC collateral is counted with its haircut
    assert!(
        rows.iter()
            .all(|r| r["book"].as_str().unwrap_or("").contains("BTCUSDT long"))
    );
    assert!(
        rows.iter()
            .all(|r| r["haircut"].as_f64().unwrap_or(0.0) > 0.0)
    );
    // a BTC long on BTC collateral is never advised cross
    for r in rows
        .iter()
        .filter(|r| r["symbol"] == "BTCUSDT" && r["side"] == "long")
    {
        assert_ne!(r["verdict"], "cross-ok", "{r}");
    }
}

#[test]
fn unknown_account_is_bad_input() {
    let o = ringfence(&["checklist", "scenarios/demo.toml", "--account", "nobody"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no account \"nobody\"") && err.contains("small, btc-holder"),
        "{err}"
    );
    let o = ringfence(&["checklist", "scenarios/demo.toml", "--policy", "yolo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no policy \"yolo\""));
}

#[test]
fn the_run_report_has_the_checklist_section_flagged_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let o = ringfence(&[
        "run",
        "scenarios/demo.toml",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let at = html
        .find("Pre-signal checklist")
        .expect("the checklist section");
    let body = &html[at..];
    let first_ok = body.find("<tr class=\"cross-ok\">").expect("cross-ok rows");
    let last_flagged = body
        .rfind("<tr class=\"isolated\">")
        .max(body.rfind("<tr class=\"skip\">"))
        .expect("flagged rows");
    assert!(last_flagged < first_ok, "flagged calls come first");
    for id in badly_placed() {
        let row = body
            .find(&format!("<td>{id}</td>"))
            .expect("row of a badly placed call");
        assert!(row < first_ok, "{id} is flagged");
    }
}
