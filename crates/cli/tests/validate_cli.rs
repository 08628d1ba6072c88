//! `ringfence validate`: the demo scenario checks out and its coverage is printed; a bad scenario
//! exits 2 with the file and key named; validation writes nothing.

use std::process::{Command, Output};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/demo.toml");

fn validate(path: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .arg("validate")
        .arg(path)
        .output()
        .expect("the ringfence binary runs")
}

#[test]
fn demo_validates_and_prints_coverage() {
    let o = validate(std::path::Path::new(SCENARIO));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{}",
        out,
        String::from_utf8_lossy(&o.stderr)
    );
    // One coverage row per demo symbol, with bars, range, mark and funding presence.
    let mut calls = 0;
    for sym in [
        "BNBUSDT", "BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT",
    ] {
        let row = out
            .lines()
            .find(|l| l.starts_with(sym))
            .unwrap_or_else(|| panic!("no coverage row for {sym}:\n{out}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], "2880", "{row}");
        assert_eq!(cells[2], "2025-07-01T00:00:00Z", "{row}");
        assert_eq!(cells[3], "2025-10-28T23:00:00Z", "{row}");
        assert_eq!(cells[4], "yes", "{row}: mark data");
        assert!(cells[5].parse::<u32>().expect("funding count") > 0, "{row}");
        let n: u32 = cells[6].parse().expect("signal count");
        assert!(n > 0, "{row}");
        calls += n;
    }
    // The signal counts per symbol add up to the calls.
    let line = out
        .lines()
        .find(|l| l.starts_with("signals"))
        .expect("signals line");
    assert!(
        line.contains(&format!("({calls} calls)")),
        "{line} vs {calls}"
    );
    assert!(line.contains("every call is covered"), "{line}");
    assert!(out.contains("5m"), "refinement timeframe not shown:\n{out}");
    assert!(
        out.contains("runs       40"),
        "2 accounts × 5 policies × 4 sweep points:\n{out}"
    );
    assert!(
        out.contains("brackets   brackets.json from 2024-10-01"),
        "{out}"
    );
}

#[test]
fn bad_scenario_fails_validation_with_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(SCENARIO)
        .expect("demo scenario")
        .replace(
            "../datasets/demo",
            &format!("{}/../../datasets/demo", env!("CARGO_MANIFEST_DIR")),
        )
        .replace(
            "signals = [\"demo-signals.csv\"]",
            &format!(
                "signals = [\"{}/../../scenarios/demo-signals.csv\"]",
                env!("CARGO_MANIFEST_DIR")
            ),
        );
    // The copy, with absolute paths, validates.
    let good = tmp.path().join("good.toml");
    std::fs::write(&good, &text).expect("write");
    let o = validate(&good);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // One typo breaks it.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("max_leverage = [10, 25]", "max_leverag = [10, 25]"),
    )
    .expect("write");
    let o = validate(&bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&bad.display().to_string()), "{err}");
    assert!(err.contains("sweep.max_leverag"), "{err}");
    assert!(err.contains("did you mean `max_leverage`?"), "{err}");
    assert!(o.stdout.is_empty(), "printed coverage for a bad scenario");

    // A missing scenario file is bad input too.
    let o = validate(&tmp.path().join("missing.toml"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.toml"));

    // Validation never writes an output directory.
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, vec!["bad.toml", "good.toml"]);
}
