//! `data synth` writes the demo channel as a Telegram export too; importing it gives back every
//! call of the demo signal file (same pair, side, entry, stop, targets, leverage, margin mode),
//! its updates, claims and chatter: export -> import -> run.

use ringfence_model::Action;
use std::process::Command;

#[test]
fn demo_export_imports_back_to_the_demo_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let signals = tmp.path().join("demo-signals.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["data", "synth", "--out"])
        .arg(tmp.path().join("demo"))
        .arg("--signals")
        .arg(&signals)
        .output()
        .expect("ringfence runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export = tmp.path().join("demo-signals-telegram.json");
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/demo-signals-telegram.json");
    assert!(
        std::fs::read(&export).unwrap() == std::fs::read(&committed).unwrap(),
        "scenarios/demo-signals-telegram.json is stale: regenerate with ringfence data synth --out datasets/demo"
    );
    let imported = tmp.path().join("imported.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["signals", "import"])
        .arg(&export)
        .arg("--out")
        .arg(&imported)
        .output()
        .expect("ringfence runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("unparsed 0; parse rate 100.0%"), "{stdout}");
    let demo = ringfence_data::signals::load_signals(&signals, None).unwrap();
    let back = ringfence_data::signals::load_signals(&imported, None).unwrap();
    let calls = |set: &ringfence_data::signals::SignalSet| {
        set.events
            .iter()
            .filter(|e| e.action == Action::Open)
            .map(|e| {
                format!(
                    "{} {} {:?} {:?} {:?} {:?} {:?} {:?}",
                    e.time,
                    e.symbol
                        .as_ref()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    e.side,
                    e.entry,
                    e.stop,
                    e.targets,
                    e.leverage,
                    e.margin_mode
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(calls(&back), calls(&demo));
    let updates = |set: &ringfence_data::signals::SignalSet| {
        set.events
            .iter()
            .filter(|e| e.action != Action::Open)
            .map(|e| format!("{} {:?} {:?}", e.time, e.action, e.stop))
            .collect::<Vec<_>>()
    };
    assert_eq!(updates(&back), updates(&demo));
    let claims = std::fs::read_to_string(tmp.path().join("imported-import/claims.csv")).unwrap();
    assert!(claims.lines().count() > 5, "{claims}");
    let report =
        std::fs::read_to_string(tmp.path().join("imported-import/import-report.csv")).unwrap();
    assert!(report.contains(",chatter,"), "demo export has chatter");
}
