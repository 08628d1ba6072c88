//! `claims = [...]` in a scenario: the channel's claims beside every run's replay, in
//! `claims_vs_replay.csv` and the report; a bad claims table is a clear error (exit 2, nothing
//! written).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The demo scenario rewritten into `dir` with absolute paths and `claims` pointing at `claims`.
fn scenario(dir: &Path, claims: &str) -> PathBuf {
    let root = repo().canonicalize().expect("repo root");
    let text = std::fs::read_to_string(root.join("scenarios/demo.toml")).expect("demo scenario");
    let text = text
        .replace(
            "signals = [\"demo-signals.csv\"]",
            &format!(
                "signals = [\"{}\"]\nclaims = [\"{}\"]",
                root.join("scenarios/demo-signals.csv").display(),
                dir.join("claims.csv").display()
            ),
        )
        .replace("\"../", &format!("\"{}/", root.display()));
    std::fs::write(dir.join("claims.csv"), claims).expect("claims");
    let path = dir.join("demo-claims.toml");
    std::fs::write(&path, text).expect("scenario");
    path
}

const HEADER: &str = "msg_id,time,call_msg_id,symbol,kind,targets_hit,claimed_pct\n";

#[test]
fn claims_sit_beside_every_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let claims = format!(
        "{HEADER}m1,2025-07-03T10:00:00Z,c001,SOLUSDT,target,1,80\n\
         m2,2025-07-05T10:00:00Z,c003,ETHUSDT,stop,0,-20\n\
         m3,2025-07-05T11:00:00Z,,BTCUSDT,profit,,12\n"
    );
    let sc = scenario(tmp.path(), &claims);
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["run", sc.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("claims_vs_replay.csv")).expect("csv");
    assert_eq!(
        csv.lines().next(),
        Some(
            "run,channel,call_id,symbol,claimed,claimed_targets,claimed_pct,claimed_win,replayed,\
             replayed_targets,replayed_net,replayed_pct,replayed_win,liquidated,claims_mention_loss"
        )
    );
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("a csv row"))
        .collect();
    let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().collect()).collect();
    // 40 runs × the 2 linked calls (the unlinked claim m3 is left out)
    assert_eq!(rows.len(), 80);
    for r in &rows {
        match r[2] {
            "c001" => assert_eq!((r[4], r[7], r[14]), ("target 1 (+80%)", "true", "false")),
            "c003" => assert_eq!((r[4], r[7], r[14]), ("stop (-20%)", "false", "true")),
            other => panic!("unexpected call {other}"),
        }
        // a replay either traded (an exit reason and a net result) or says why not
        assert!(
            (!r[10].is_empty() && !r[8].starts_with("not traded"))
                || r[8].starts_with("not traded"),
            "{r:?}"
        );
    }
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(html.contains("Claimed vs replayed"));
    assert!(html.contains("claims_vs_replay.csv"));
}

#[test]
fn a_bad_claims_table_names_file_and_row_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = scenario(
        tmp.path(),
        &format!("{HEADER}m1,2025-07-03T10:00:00Z,c001,SOLUSDT,moon,1,80\n"),
    );
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["run", sc.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("claims.csv") && err.contains("row 2") && err.contains("moon"),
        "{err}"
    );
    assert!(!out.exists());
}
