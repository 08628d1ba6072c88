//! Data options a new user reaches for: spot candles as a stated proxy (`data.spot_proxy`),
//! `lower` files in `[data.files]`, `entry_delay = "0s"`, and `data inspect` exiting 2 on
//! problems that would make a run fail. Built on the demo market (`datasets/demo`).

use std::path::Path;
use std::process::{Command, Output};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");

const SIGNALS: &str = "\
id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode
a1,2025-07-02T10:00:00Z,open,BTCUSDT,long,,,100000,110000;112000,10x,
";

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

/// A scenario over `data` (a TOML `[data]` body) in `dir`, with the demo bracket file.
fn scenario(dir: &Path, data: &str, entry_delay: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("signals.csv"), SIGNALS).unwrap();
    let text = format!(
        r#"name = "t"
signals = ["signals.csv"]

[data]
timeframe = "1h"
{data}

[[brackets]]
file = "{DEMO}/brackets.json"
effective = "2024-10-01"

[execution]
entry_delay = "{entry_delay}"

[[account]]
name = "small"
collateral = {{ USDT = 1000 }}

[[policy]]
name = "iso"
mode = "isolated"
fixed_margin = 50
"#
    );
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn spot_candles_are_a_stated_opt_in_proxy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("spot");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(
        Path::new(DEMO).join("BTC_USDT_USDT-1h-futures.csv"),
        data.join("BTC_USDT-1h.csv"),
    )
    .unwrap();

    // inspect lists the spot file, names the naming it expects, and exits 2 (a run would fail)
    let o = ringfence(&["data", "inspect", data.to_str().unwrap()]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(said.contains("BTCUSDT  spot  1h"), "{said}");
    assert!(
        said.contains("Perpetual files are named BASE_QUOTE_QUOTE-TF-futures"),
        "{said}"
    );
    assert!(
        said.contains("to run on the spot candles set data.spot_proxy = true"),
        "{said}"
    );

    // without the opt-in: refused, naming the file found and the key
    let sc = scenario(
        tmp.path(),
        &format!("dir = {:?}", data.display().to_string()),
        "0s",
    );
    let o = ringfence(&["validate", sc.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("found spot candles BTC_USDT-1h.csv: set data.spot_proxy = true"),
        "{}",
        text(&o)
    );

    // with it: runs, and says what the proxy lacks
    let sc = scenario(
        tmp.path(),
        &format!("dir = {:?}\nspot_proxy = true", data.display().to_string()),
        "0s",
    );
    let o = ringfence(&["validate", sc.to_str().unwrap()]);
    let said = text(&o);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("spot candles") && said.contains("used as a proxy for the perpetual (data.spot_proxy): no mark price (liquidations on last price), no funding"),
        "{said}"
    );
}

#[test]
fn data_files_honour_the_lower_timeframe() {
    let tmp = tempfile::tempdir().unwrap();
    let file = |name: &str| Path::new(DEMO).join(name).display().to_string();
    let files = format!(
        "lower_timeframe = \"5m\"\n[data.files.BTCUSDT]\ncandles = {:?}\nmark = {:?}\nfunding = {:?}\n",
        file("BTC_USDT_USDT-1h-futures.csv"),
        file("BTC_USDT_USDT-1h-mark.csv"),
        file("BTC_USDT_USDT-8h-funding_rate.csv"),
    );
    // no `lower` file: the refinement is missing, and validate says so
    let sc = scenario(tmp.path(), &files, "0m");
    let o = ringfence(&["validate", sc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "no 5m candles found (give `lower` files in [data.files]): bars are not refined"
        ),
        "{}",
        text(&o)
    );
    // with `lower`: refined, no such warning
    let with_lower = format!(
        "{files}lower = {:?}\n",
        file("BTC_USDT_USDT-5m-futures.csv")
    );
    let sc = scenario(tmp.path(), &with_lower, "0m");
    let o = ringfence(&["validate", sc.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("not refined"), "{}", text(&o));
    let o = ringfence(&[
        "run",
        sc.to_str().unwrap(),
        "--no-report",
        "--out",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn inspect_exits_2_on_gaps() {
    let tmp = tempfile::tempdir().unwrap();
    let src =
        std::fs::read_to_string(Path::new(DEMO).join("BTC_USDT_USDT-1h-futures.csv")).unwrap();
    // drop two bars in the middle
    let lines: Vec<&str> = src.lines().collect();
    let kept: Vec<&str> = lines[..100].iter().chain(&lines[102..]).copied().collect();
    std::fs::write(
        tmp.path().join("BTC_USDT_USDT-1h-futures.csv"),
        kept.join("\n"),
    )
    .unwrap();
    let o = ringfence(&["data", "inspect", tmp.path().to_str().unwrap()]);
    let said = text(&o);
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(said.contains("a run on this data would fail:"), "{said}");
    assert!(
        said.contains("1 gap(s), 2 missing bar(s) (a run fails unless data.gaps = \"fill\")"),
        "{said}"
    );
}
