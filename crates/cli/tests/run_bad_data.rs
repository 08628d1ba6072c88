//! `ringfence run` on broken market data: exit 2 naming the file, the row and the values, no output
//! directory and no staging directory left behind, and a previous output left untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");

const SIGNALS: &str = "\
id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode
b1,2025-07-02T10:00:00Z,open,BTCUSDT,long,,,100000,110000,10x,
b2,2025-07-03T10:00:00Z,open,ETHUSDT,short,,,3000,2300,20x,
";

/// A tempdir with a copy of the demo BTC and ETH data (`data/`), brackets, signals and a scenario.
struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let data = dir.join("data");
        std::fs::create_dir(&data).expect("mkdir");
        for entry in std::fs::read_dir(DEMO).expect("demo dataset") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("BTC_") || name.starts_with("ETH_") || name == "brackets.json" {
                std::fs::copy(entry.path(), data.join(&name)).expect("copy");
            }
        }
        std::fs::write(dir.join("signals.csv"), SIGNALS).expect("signals");
        std::fs::write(
            dir.join("scenario.toml"),
            r#"signals = ["signals.csv"]
[data]
dir = "data"
timeframe = "1h"
lower_timeframe = "5m"
[[brackets]]
file = "data/brackets.json"
[[account]]
name = "a"
collateral = { USDT = 1000 }
[[policy]]
name = "iso"
mode = "isolated"
fixed_margin = 50
[[policy]]
name = "cross"
mode = "cross"
fixed_margin = 50
"#,
        )
        .expect("scenario");
        Setup { _tmp: tmp, dir }
    }

    fn candles(&self) -> PathBuf {
        self.dir.join("data/BTC_USDT_USDT-1h-futures.csv")
    }

    /// Breaks data row `row` (1-based, after the header) of the BTC 1h candles: high below close.
    fn break_high(&self, row: usize) -> (String, String) {
        let path = self.candles();
        let text = std::fs::read_to_string(&path).expect("candles");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let cells: Vec<String> = lines[row].split(',').map(str::to_string).collect();
        // date,timestamp_ms,open,high,low,close,volume
        let close: f64 = cells[5].parse().expect("close");
        let high = format!("{}", (close - 50.0).max(1.0));
        let mut broken = cells.clone();
        broken[3] = high.clone();
        broken[4] = format!("{}", (close - 100.0).max(0.5));
        lines[row] = broken.join(",");
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        (high, cells[5].clone())
    }

    fn run(&self, out: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ringfence"))
            .arg("run")
            .arg(self.dir.join("scenario.toml"))
            .arg("--out")
            .arg(out)
            .arg("--no-report")
            .output()
            .expect("the ringfence binary runs")
    }

    /// Names in the tempdir that look like an output or a staging directory.
    fn outputs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("out"))
            .collect();
        v.sort();
        v
    }
}

#[test]
fn broken_candle_row_is_named_and_nothing_is_written() {
    let s = Setup::new();
    let (high, close) = s.break_high(100);
    let out = s.dir.join("out");
    let o = s.run(&out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: ") && !err.contains("panicked"),
        "{err}"
    );
    assert!(
        err.contains(&s.candles().display().to_string())
            || err.contains("BTC_USDT_USDT-1h-futures.csv"),
        "file not named:\n{err}"
    );
    // Data row 100 is line 101 of the file (the header is line 1): rows are named as file lines.
    assert!(err.contains("row 101:"), "row not named:\n{err}");
    assert!(
        err.contains(&high) && err.contains(&close),
        "values not named:\n{err}"
    );
    assert!(s.outputs().is_empty(), "left behind: {:?}", s.outputs());
}

#[test]
fn a_failed_run_leaves_the_previous_output_untouched() {
    let s = Setup::new();
    let out = s.dir.join("out");
    let o = s.run(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = std::fs::read(out.join("summary.csv")).expect("summary.csv");
    let trades = std::fs::read(out.join("trades.csv")).expect("trades.csv");
    std::fs::write(out.join("my-notes.txt"), "keep me").expect("marker");

    s.break_high(200);
    let o = s.run(&out);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(s.outputs(), vec!["out".to_string()], "staging left behind");
    assert_eq!(
        std::fs::read(out.join("summary.csv")).expect("summary"),
        summary
    );
    assert_eq!(
        std::fs::read(out.join("trades.csv")).expect("trades"),
        trades
    );
    assert_eq!(
        std::fs::read_to_string(out.join("my-notes.txt")).expect("marker kept"),
        "keep me"
    );
}

#[test]
fn a_broken_lower_timeframe_file_is_an_error_too() {
    let s = Setup::new();
    let path = s.dir.join("data/ETH_USDT_USDT-5m-futures.csv");
    let text = std::fs::read_to_string(&path).expect("5m candles");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // A duplicated timestamp: row 10 repeated.
    let dup = lines[10].clone();
    lines.insert(11, dup);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let out = s.dir.join("out");
    let o = s.run(&out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("ETH_USDT_USDT-5m-futures.csv"), "{err}");
    assert!(s.outputs().is_empty(), "left behind: {:?}", s.outputs());
}
