//! `ringfence brackets show`, and scenarios that name no bracket file (the built-in dated
//! library, with its warnings) or a file without `effective`.

use ringfence_data::testing::shared_data;
use std::path::Path;
use std::process::{Command, Output};

fn ringfence(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(args)
        .output()
        .expect("run ringfence")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn show_prints_the_table_in_force() {
    let o = ringfence(&["brackets", "show", "BTC/USDT:USDT", "--at", "2025-10-10"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "BTCUSDT at 2025-10-10T00:00:00Z: built-in Binance USDⓈ-M snapshot 2024-10-01 (binance_leverage_tiers.json)"
    );
    assert_eq!(
        lines[1],
        "tier    notional from      notional to  max lev  maint rate           cum"
    );
    assert_eq!(
        lines[2],
        "   1                0            50000     125x        0.4%             0"
    );
    assert_eq!(
        lines[9],
        "   8        230000000        480000000       5x         10%      14481450"
    );
    assert_eq!(lines.len(), 14);

    let o = ringfence(&["brackets", "show", "BTCUSDT", "--at", "2026-10-01"]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("   1                0           300000     150x        0.4%             0"),
        "{}",
        text(&o)
    );

    let o = ringfence(&["brackets", "show", "HYPEUSDT", "--at", "2025-10-10"]);
    assert!(
        text(&o).contains(
            "note: HYPEUSDT is not in the 2024-10-01 snapshot: the table of the 2026-09-01 snapshot is shown"
        ),
        "{}",
        text(&o)
    );

    let o = ringfence(&["brackets", "show", "MATICUSDT"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("MATICUSDT: in no built-in bracket snapshot (2024-10-01, 2026-09-01)"),
        "{}",
        text(&o)
    );
}

/// The harthor scenario with its own signals and bracket lines, without the 5m refinement.
fn scenario(repo: &Path, data_dir: &Path, signals: &Path, brackets: &str) -> String {
    let original = std::fs::read_to_string(repo.join("scenarios/harthor-oct-2025.toml")).unwrap();
    let mut out = Vec::new();
    let mut skip = 0;
    for l in original.lines() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if l.starts_with("[[brackets]]") {
            skip = 2;
            out.push(brackets.to_string());
        } else if l.starts_with("signals =") {
            out.push(format!("signals = [{:?}]", signals.display().to_string()));
        } else if l.starts_with("dir =") {
            out.push(format!("dir = {:?}", data_dir.display().to_string()));
        } else if !l.starts_with("lower_timeframe") && !l.starts_with("output =") {
            out.push(l.to_string());
        }
    }
    out.join("\n")
}

#[test]
fn scenarios_without_bracket_files_use_the_dated_library() {
    let Some(data) = shared_data() else { return };
    let repo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let tmp = tempfile::tempdir().unwrap();
    let signals = tmp.path().join("signals.csv");
    std::fs::write(
        &signals,
        "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode\n\
         a,2025-10-01T10:00:00Z,open,BTCUSDT,long,,,100000,130000,5x,\n\
         b,2025-10-02T10:00:00Z,open,HYPEUSDT,long,,,30,60,5x,\n",
    )
    .unwrap();
    let dir = data.join("harthor_binance_futures_2025");

    // no [[brackets]]: HYPE (listed after the 2024-10 table) borrows the 2026-09 table, with a warning
    let sc = tmp.path().join("builtin.toml");
    std::fs::write(&sc, scenario(repo, &dir, &signals, "")).unwrap();
    let o = ringfence(&["validate", sc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("HYPEUSDT: not in the built-in 2024-10-01 bracket snapshot (listed later, or delisted by then): its 2026-09-01 table is used from 2024-10-01 until 2026-09-01"),
        "{}",
        text(&o)
    );

    // a file without `effective`, dated 2026-09 by its name, used for October 2025
    let tiers = data.join("freqtrade/binance_leverage_tiers_2026-09.json");
    let sc = tmp.path().join("undated.toml");
    std::fs::write(
        &sc,
        scenario(
            repo,
            &dir,
            &signals,
            &format!("[[brackets]]\nfile = {:?}\n", tiers.display().to_string()),
        ),
    )
    .unwrap();
    let o = ringfence(&["validate", sc.to_str().unwrap()]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("binance_leverage_tiers_2026-09.json: [[brackets]] without `effective`: its tables are applied to every date of the run"),
        "{said}"
    );
    assert!(
        said.contains("the file is dated 2026-09-01T00:00:00Z by its name, but the run starts 2025-10-01T10:00:00Z, 334 days earlier"),
        "{said}"
    );
}
