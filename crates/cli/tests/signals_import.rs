//! `ringfence signals import`: the outputs of a real-shaped export, their round trip through the
//! signal parser, and bad input (exit 2, file and position named, nothing left behind).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../channel/tests/fixtures")
        .join(name)
}

fn ringfence(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .args(extra)
        .output()
        .expect("ringfence runs")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn json_export_to_signal_file_report_and_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ch.csv");
    let o = ringfence(
        &["signals", "import"],
        &[&fixture("result_new.json"), Path::new("--out"), &out],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains(
            "10 messages; calls 2, updates 2, claims 1, chatter 4, unparsed 1; parse rate 83.3%"
        ),
        "{stdout}"
    );
    assert_eq!(
        files_in(tmp.path()),
        [
            "ch-import/claims.csv",
            "ch-import/import-report.csv",
            "ch-import/import-report.json",
            "ch.csv"
        ]
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode,msg_id,entries",
            "3,2023-03-16T09:00:00Z,open,ARBUSDT,long,,,1.7,1.9366995;2.05,20,cross,3,1.85;1.8",
            "3,2023-03-16T12:01:00Z,move_stop,ARBUSDT,long,,,1.825,,,,5,",
            "6,2023-03-17T08:00:00Z,open,ETHUSDT,short,1850,1870,1900,1820;1790;1740,3,,6,",
            "6,2023-03-17T10:00:00Z,close,ETHUSDT,short,,,,,,,8,",
        ]
    );
    // the file loads with the project's signal parser, ladder and msg_id intact
    let set = ringfence_data::signals::load_signals(&out, None).expect("loads");
    assert_eq!(set.events[0].ladder.len(), 2);
    assert_eq!(set.events[1].msg_id.as_deref(), Some("5"));
    let claims = std::fs::read_to_string(tmp.path().join("ch-import/claims.csv")).unwrap();
    assert_eq!(
        claims,
        "msg_id,time,call_msg_id,symbol,kind,targets_hit,claimed_pct\n4,2023-03-16T12:00:00Z,3,ARBUSDT,target,1,47.1\n"
    );
    let report = std::fs::read_to_string(tmp.path().join("ch-import/import-report.csv")).unwrap();
    assert_eq!(report.lines().count(), 11);
    assert!(
        report.contains(
            "3,2023-03-16T09:00:00Z,call,edited after posting: final text taken,3,ARBUSDT,true,"
        ),
        "{report}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("ch-import/import-report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["unparsed"], 1);
    assert_eq!(
        json["messages"][8]["reason"],
        "prices without a pair: no call can be made of it"
    );
}

#[test]
fn html_export_dir_to_jsonl_with_report_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ch.jsonl");
    let rep = tmp.path().join("rep");
    let o = ringfence(
        &["signals", "import", "--format", "telegram-html"],
        &[
            &fixture("html_export"),
            Path::new("--out"),
            &out,
            Path::new("--report"),
            &rep,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let set = ringfence_data::signals::load_signals(&out, None).expect("loads");
    assert_eq!(set.events.len(), 2);
    assert_eq!(set.events[1].msg_id.as_deref(), Some("23"));
    assert!(rep.join("claims.csv").is_file());
}

#[track_caller]
fn refused(args: &[&str], extra: &[&Path], expect: &[&str], dir: &Path) {
    let o = ringfence(args, extra);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for e in expect {
        assert!(err.contains(e), "{e:?} not in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        files_in(dir),
        Vec::<String>::new(),
        "nothing may be written"
    );
}

#[test]
fn bad_exports_exit_2_naming_file_and_position_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("s.csv");
    let inputs = tempfile::tempdir().unwrap();
    let full = std::fs::read_to_string(fixture("result_new.json")).unwrap();
    let truncated = inputs.path().join("result.json");
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    refused(
        &["signals", "import"],
        &[&truncated, Path::new("--out"), &out],
        &["result.json, line ", "ends early"],
        &out_dir,
    );
    let invalid = inputs.path().join("bad.json");
    std::fs::write(&invalid, "{\"messages\": [ {\"id\": 1,, } ]}").unwrap();
    refused(
        &["signals", "import"],
        &[&invalid, Path::new("--out"), &out],
        &["bad.json, line 1, column 25", "invalid JSON"],
        &out_dir,
    );
    refused(
        &["signals", "import"],
        &[&fixture("not_telegram.html"), Path::new("--out"), &out],
        &["not_telegram.html", "not a Telegram Desktop HTML export"],
        &out_dir,
    );
    refused(
        &["signals", "import"],
        &[&fixture("result_old.json"), Path::new("--out"), &out],
        &["result_old.json, message 1", "--tz"],
        &out_dir,
    );
    refused(
        &["signals", "import", "--tz", "Mars/Base"],
        &[&fixture("result_old.json"), Path::new("--out"), &out],
        &["--tz", "unknown time zone"],
        &out_dir,
    );
    let grammar = inputs.path().join("g.toml");
    std::fs::write(&grammar, "[labels]\nentyr = [\"x\"]\n").unwrap();
    refused(
        &["signals", "import"],
        &[
            &fixture("result_new.json"),
            Path::new("--grammar"),
            &grammar,
            Path::new("--out"),
            &out,
        ],
        &["g.toml", "entyr"],
        &out_dir,
    );
    refused(
        &["signals", "import"],
        &[
            &fixture("result_new.json"),
            Path::new("--out"),
            &out_dir.join("s.txt"),
        ],
        &[".csv or .jsonl"],
        &out_dir,
    );
}

#[test]
fn older_export_with_tz_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s.csv");
    let o = ringfence(
        &["signals", "import", "--tz", "Europe/Moscow"],
        &[&fixture("result_old.json"), Path::new("--out"), &out],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    // 09:00 Moscow = 06:00 UTC
    assert!(csv.contains("3,2023-03-16T06:00:00Z,open,ARBUSDT"), "{csv}");
}
