//! `ringfence data inspect` end to end: table and JSON on the real data, exit 2 on a bad file.

use std::process::Command;

use ringfence_data::testing::shared_data;

fn ringfence(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn inspect_harthor_table_and_json() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("harthor_binance_futures_2025");
    let dir = dir.to_str().unwrap();
    let out = ringfence(&["data", "inspect", dir]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("9 symbol(s)"), "{text}");
    for s in [
        "1000PEPEUSDT",
        "BCHUSDT",
        "BNBUSDT",
        "BTCUSDT",
        "DOGEUSDT",
        "ETHUSDT",
        "HYPEUSDT",
        "SOLUSDT",
        "XRPUSDT",
    ] {
        assert!(text.contains(&format!("{s}: candles")), "{s}\n{text}");
    }
    assert_eq!(text.matches("; funding yes").count(), 9, "{text}");
    // mark candles exist at 1h only: the 5m candles of six symbols have none
    assert_eq!(
        text.matches("mark yes at 1h, not at 5m;").count(),
        6,
        "{text}"
    );
    assert!(text.contains("HYPEUSDT: candles 1h; mark yes;"), "{text}");

    let out = ringfence(&["data", "inspect", dir, "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let symbols = json["symbols"].as_array().unwrap();
    assert_eq!(symbols.len(), 9);
    assert!(
        symbols
            .iter()
            .all(|s| !s["mark"].as_array().unwrap().is_empty())
    );
    assert!(
        symbols
            .iter()
            .all(|s| !s["funding"].as_array().unwrap().is_empty())
    );
}

#[test]
fn inspect_bad_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.csv");
    std::fs::write(&path, "timestamp,open\n1,2\n").unwrap();
    let out = ringfence(&["data", "inspect", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.csv: missing column high"), "{err}");
    let out = ringfence(&[
        "data",
        "inspect",
        dir.path().join("absent").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
