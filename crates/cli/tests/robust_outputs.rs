//! The output directory of `run` is robust: a file in the way exits 2, a re-run keeps the
//! checklist written into the previous output, Ctrl-C removes the staging directory, a later run
//! removes the staging directories of runs that died, and the warnings are printed grouped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");

/// Two BTC calls in a row: the second is skipped (one position per symbol).
const SIGNALS: &str = "\
id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode
b1,2025-07-02T10:00:00Z,open,BTCUSDT,long,,,100000,110000,10x,
b2,2025-07-02T12:00:00Z,open,BTCUSDT,long,,,100000,110000,10x,
e1,2025-07-03T10:00:00Z,open,ETHUSDT,short,,,3000,2300,20x,
";

/// A tempdir with the demo BTC and ETH data, brackets, signals and a two-policy scenario.
fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    for entry in std::fs::read_dir(DEMO).expect("demo dataset").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("BTC_") || name.starts_with("ETH_") || name == "brackets.json" {
            std::fs::copy(entry.path(), data.join(&name)).expect("copy");
        }
    }
    std::fs::write(tmp.path().join("signals.csv"), SIGNALS).expect("signals");
    std::fs::write(
        tmp.path().join("scenario.toml"),
        "signals = [\"signals.csv\"]\n[data]\ndir = \"data\"\ntimeframe = \"1h\"\n\
         [[brackets]]\nfile = \"data/brackets.json\"\neffective = \"2024-10-01\"\n[[account]]\nname = \"a\"\n\
         collateral = { USDT = 1000 }\n[[policy]]\nname = \"iso\"\nmode = \"isolated\"\n\
         fixed_margin = 50\n[[policy]]\nname = \"cross\"\nmode = \"cross\"\nfixed_margin = 50\n",
    )
    .expect("scenario");
    tmp
}

fn ringfence(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("ringfence runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn partials(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".partial-"))
        })
        .collect()
}

#[test]
fn an_output_path_that_is_a_file_exits_2() {
    let tmp = setup();
    std::fs::write(tmp.path().join("out"), "not a directory").expect("file");
    let o = ringfence(
        tmp.path(),
        &["run", "scenario.toml", "--out", "out", "--no-report"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("out is a file"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("out")).expect("file"),
        "not a directory",
        "the file was touched"
    );
    let o = ringfence(
        tmp.path(),
        &["run", "scenario.toml", "--out", "out/inner", "--no-report"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(partials(tmp.path()).is_empty());
}

#[test]
fn checklist_output_survives_a_re_run() {
    let tmp = setup();
    let run = ["run", "scenario.toml", "--out", "out", "--no-report"];
    assert!(ringfence(tmp.path(), &run).status.success());
    let o = ringfence(
        tmp.path(),
        &["checklist", "scenario.toml", "--out", "out/checklist"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = tmp.path().join("out/checklist/checklist.csv");
    let before = std::fs::read(&csv).expect("checklist.csv");
    let o = ringfence(tmp.path(), &run);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&csv).expect("checklist kept"), before);
    assert!(tmp.path().join("out/summary.csv").is_file());
}

#[test]
fn a_later_run_removes_stale_staging_directories() {
    let tmp = setup();
    // Left by a run that was killed: no process has this pid (above Linux's pid_max).
    let stale = tmp.path().join(".out.partial-4000000000");
    std::fs::create_dir_all(stale.join("charts")).expect("mkdir");
    std::fs::write(stale.join("trades.csv"), "x").expect("write");
    let o = ringfence(
        tmp.path(),
        &["run", "scenario.toml", "--out", "out", "--no-report"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists(), "stale staging directory left");
    assert!(partials(tmp.path()).is_empty());
}

#[test]
fn run_prints_its_warnings_grouped_and_counted() {
    let tmp = setup();
    let o = ringfence(
        tmp.path(),
        &["run", "scenario.toml", "--out", "out", "--no-report"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    // b2 is skipped in both runs; the funding and mark data of the demo are complete.
    assert!(
        err.contains("note: 2 signals skipped in 2 of 2 runs (every one in skipped.csv):"),
        "{err}"
    );
    assert!(
        err.contains(
            "2 × BTCUSDT already open or pending (one-way mode: one position per symbol) (2 runs)"
        ),
        "{err}"
    );
    assert!(!err.contains("data warning"), "{err}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_removes_the_staging_directory() {
    let tmp = setup();
    // The report (PNG charts) keeps the staging directory around long enough to interrupt.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .current_dir(tmp.path())
        .args(["run", "scenario.toml", "--out", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let mut seen = false;
    while start.elapsed() < Duration::from_secs(120) {
        if !partials(tmp.path()).is_empty() {
            seen = true;
            break;
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        seen,
        "the staging directory never appeared before the run ended"
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: partial output removed"), "{err}");
    assert!(
        partials(tmp.path()).is_empty(),
        "staging directory left behind"
    );
    assert!(
        !tmp.path().join("out").exists(),
        "a partial output was committed"
    );
}
