//! `ringfence data synth`: same seed writes identical bytes, another seed different ones, and the
//! output is what the demo scenario expects.

use std::path::Path;
use std::process::Command;

fn synth(dir: &Path, seed: u64) -> Vec<(String, Vec<u8>)> {
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["data", "synth", "--out"])
        .arg(dir.join("demo"))
        .args(["--seed", &seed.to_string(), "--signals"])
        .arg(dir.join("demo-signals.csv"))
        .output()
        .expect("ringfence runs");
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wrote 32 files"), "{stdout}");
    let mut files: Vec<_> = std::fs::read_dir(dir.join("demo"))
        .expect("demo dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.push(dir.join("demo-signals.csv"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect()
}

#[test]
fn same_seed_identical_bytes_other_seed_different() {
    let (a, b, c) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let first = synth(a.path(), 7);
    let second = synth(b.path(), 7);
    let other = synth(c.path(), 11);
    assert_eq!(first.len(), 32);
    assert!(
        first
            .iter()
            .any(|(n, _)| n == "BTC_USDT_USDT-1h-futures.csv")
    );
    assert!(first.iter().any(|(n, _)| n == "DOGE_USDT_USDT-5m-mark.csv"));
    assert!(
        first
            .iter()
            .any(|(n, _)| n == "SOL_USDT_USDT-8h-funding_rate.csv")
    );
    assert_eq!(first, second, "same seed, different bytes");
    let differing = first.iter().zip(&other).filter(|(x, y)| x.1 != y.1).count();
    assert!(
        differing >= 31,
        "only {differing} files differ for another seed"
    );
}

#[test]
fn default_seed_reproduces_the_committed_demo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let committed = root.join("datasets/demo/BTC_USDT_USDT-1h-futures.csv");
    let tmp = tempfile::tempdir().expect("tmp");
    let files = synth(tmp.path(), 7);
    let fresh = &files
        .iter()
        .find(|(n, _)| n == "BTC_USDT_USDT-1h-futures.csv")
        .expect("btc file")
        .1;
    let committed = std::fs::read(&committed).expect("datasets/demo is committed");
    assert!(
        fresh == &committed,
        "datasets/demo is stale: regenerate with `cargo run -p ringfence -- data synth --out datasets/demo --signals scenarios/demo-signals.csv`"
    );
    let signals =
        std::fs::read(root.join("scenarios/demo-signals.csv")).expect("committed signals");
    let fresh_signals = &files
        .iter()
        .find(|(n, _)| n == "demo-signals.csv")
        .expect("signals")
        .1;
    assert!(
        fresh_signals == &signals,
        "scenarios/demo-signals.csv is stale"
    );
}

#[test]
fn days_below_90_are_refused_with_exit_2() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["data", "synth", "--days", "30", "--out"])
        .arg(tmp.path())
        .output()
        .expect("ringfence runs");
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("30"));
}

#[test]
fn synth_never_writes_into_scenarios_unless_asked() {
    // Run where a `scenarios/` directory exists (as in a checkout): without --signals the channel
    // goes next to the market, and scenarios/ stays untouched.
    let tmp = tempfile::tempdir().expect("tmp");
    let scenarios = tmp.path().join("scenarios");
    std::fs::create_dir(&scenarios).expect("mkdir");
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .current_dir(tmp.path())
        .args(["data", "synth", "--out", "market", "--days", "90"])
        .output()
        .expect("ringfence runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tmp.path().join("market/demo-signals.csv").is_file());
    assert_eq!(
        std::fs::read_dir(&scenarios).expect("scenarios").count(),
        0,
        "data synth wrote into scenarios/"
    );
}
