//! `ringfence run scenarios/harthor-oct-2025.toml`: the hand-written channel on real Binance data
//! (`../shared/data/harthor_binance_futures_2025`, 1h + 5m refinement) around the 2025-10-10 crash.
//!
//! The facts checked follow from the data (see the scenario's comments and `SOURCES.md`):
//! - XRP (h15) and DOGE (h16), 10x longs with no stop: isolated LPs ≈ 2.528 / 0.2250 lie above the
//!   20:00 candle's mark lows (2.413 / 0.2158), so isolated liquidates them in the 20:00 hour; in
//!   cross the wallet carries them into the 21:00 crash, where they take the whole book with them
//!   (a cascade whose victim is the healthy ETH long h13, and the background BTC long of the
//!   BTC-collateral account).
//! - SOL h12 (25x, stop 210 below its LP ≈ 212.33): isolated liquidates it at the LP before the stop
//!   can fire; in cross (LP far away) the same stop is real and fills.
//! - ETH h13 (5x, stop 3450 below LP ≈ 3476.6) and BNB h14 (10x, stop 1150 below LP ≈ 1161.3):
//!   liquidated in isolated during the 21:00 crash, never at their stops.
//!
//! The test fails when the shared data is missing and `CI=true`; elsewhere it returns early.

use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

const SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/harthor-oct-2025.toml"
);
const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/harthor_binance_futures_2025"
);
const TIERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/freqtrade/binance_leverage_tiers.json"
);

/// True when the shared data is present; panics in CI when it is not.
fn have_data() -> bool {
    if Path::new(DATA).is_dir() && Path::new(TIERS).is_file() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{DATA} or {TIERS} missing in CI"
    );
    eprintln!("note: {DATA} missing, real-data test skipped");
    false
}

type Row = BTreeMap<String, String>;

fn read_csv(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.expect("record").iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s)
        .or_else(|_| Decimal::from_scientific(s))
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn run(out: &Path, threads: &str) {
    run_scenario(Path::new(SCENARIO), out, &["--threads", threads]);
}

struct Outputs {
    summary: Vec<Row>,
    trades: Vec<Row>,
    liqs: Vec<Row>,
    skipped: Vec<Row>,
}

impl Outputs {
    fn read(dir: &Path) -> Outputs {
        Outputs {
            summary: read_csv(&dir.join("summary.csv")),
            trades: read_csv(&dir.join("trades.csv")),
            liqs: read_csv(&dir.join("liquidations.csv")),
            skipped: read_csv(&dir.join("skipped.csv")),
        }
    }

    fn summary(&self, run: &str) -> &Row {
        self.summary
            .iter()
            .find(|r| r["run"] == run)
            .unwrap_or_else(|| panic!("no run {run}"))
    }

    fn trade(&self, run: &str, id: &str) -> &Row {
        self.trades
            .iter()
            .find(|t| t["run"] == run && t["signal_id"] == id)
            .unwrap_or_else(|| panic!("{run}: no trade {id}"))
    }

    /// Signal ids closed by a liquidation or cascade in `run`.
    fn liquidated(&self, run: &str) -> BTreeSet<String> {
        self.trades
            .iter()
            .filter(|t| t["run"] == run)
            .filter(|t| matches!(t["exit_reason"].as_str(), "liquidation" | "cascade"))
            .map(|t| t["signal_id"].clone())
            .collect()
    }

    /// liquidations.csv rows of `run`, grouped by event number.
    fn events(&self, run: &str) -> BTreeMap<u32, Vec<&Row>> {
        let mut m: BTreeMap<u32, Vec<&Row>> = BTreeMap::new();
        for l in self.liqs.iter().filter(|l| l["run"] == run) {
            m.entry(l["event"].parse().expect("event"))
                .or_default()
                .push(l);
        }
        m
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

const RUNS: [&str; 6] = [
    "usdt/isolated",
    "usdt/cross",
    "usdt/hybrid",
    "btc-holder/isolated",
    "btc-holder/cross",
    "btc-holder/hybrid",
];

#[test]
fn october_2025_crash_cascades_in_cross_and_not_in_isolated() {
    if !have_data() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("harthor");
    run(&out, "2");
    let o = Outputs::read(&out);
    let runs: Vec<&str> = o.summary.iter().map(|r| r["run"].as_str()).collect();
    assert_eq!(runs, RUNS);

    for account in ["usdt", "btc-holder"] {
        let iso = format!("{account}/isolated");
        let cross = format!("{account}/cross");
        let hybrid = format!("{account}/hybrid");

        // Isolated: five single liquidations, no cascade; the crash longs are liquidated one by one.
        let s = o.summary(&iso);
        assert_eq!(s["cascades"], "0", "{iso}");
        assert_eq!(s["cascade_victims"], "0", "{iso}");
        assert_eq!(s["wipeouts"], "0", "{iso}");
        assert_eq!(s["liquidations"], "5", "{iso}");
        assert_eq!(
            o.liquidated(&iso),
            set(&["h12", "h13", "h14", "h15", "h16"]),
            "{iso}"
        );
        for (_, rows) in o.events(&iso) {
            assert_eq!(rows.len(), 1, "{iso}: an isolated event closed several");
            assert_eq!(rows[0]["role"], "culprit");
        }
        // XRP and DOGE without stops: liquidated at 20:55, in the 20:00 candle, before the crash bar.
        for id in ["h15", "h16"] {
            assert_eq!(
                o.trade(&iso, id)["close_time"],
                "2025-10-10T20:55:00Z",
                "{iso} {id}"
            );
        }
        // Stops beyond the liquidation price: the isolated position is liquidated at its LP first.
        for (id, stop) in [("h12", 210.0), ("h13", 3450.0), ("h14", 1150.0)] {
            let t = o.trade(&iso, id);
            let lp = num(&t["liq_price_at_entry"]);
            assert!(
                lp > stop,
                "{iso} {id}: LP {lp} is not above the stop {stop}"
            );
            assert_eq!(t["exit_reason"], "liquidation", "{iso} {id}");
            let px = num(&t["exit_price"]);
            assert!(
                (px - lp).abs() / lp < 1e-3,
                "{iso} {id}: liquidated at {px}, LP at entry {lp}"
            );
        }
        assert!(o.trade(&iso, "h12")["close_time"].as_str() < "2025-10-10T21:00:00Z");
        for id in ["h13", "h14"] {
            let t = o.trade(&iso, id)["close_time"].clone();
            assert!(
                t.as_str() >= "2025-10-10T21:00:00Z" && t.as_str() < "2025-10-10T22:00:00Z",
                "{iso} {id} at {t}"
            );
        }
        // Isolated losses are bounded by the position's margin.
        for t in o
            .trades
            .iter()
            .filter(|t| t["run"] == iso && t["mode"] == "isolated")
        {
            let loss = -(dec(&t["pnl"]) - dec(&t["clearance_fee"]) + dec(&t["funding"]));
            let bound = dec(&t["margin"]) + dec(&t["margin_added"]) + Decimal::new(1, 6);
            assert!(
                loss <= bound,
                "{iso} {}: lost {loss} on margin {bound}",
                t["signal_id"]
            );
        }

        // Cross: one cascade in the 21:00 crash candle, XRP and DOGE the culprits, ETH a victim.
        let s = o.summary(&cross);
        assert_eq!(s["liquidations"], "1", "{cross}");
        assert_eq!(s["cascades"], "1", "{cross}");
        let events = o.events(&cross);
        assert_eq!(events.len(), 1, "{cross}");
        let rows = &events[&1];
        let time = rows[0]["time"].as_str();
        assert!(
            ("2025-10-10T21:00:00Z".."2025-10-10T22:00:00Z").contains(&time),
            "{cross}: cascade at {time}"
        );
        let role = |r: &str| -> BTreeSet<String> {
            rows.iter()
                .filter(|x| x["role"] == r)
                .map(|x| x["signal_id"].clone())
                .collect()
        };
        assert_eq!(role("culprit"), set(&["h15", "h16"]), "{cross}");
        let victims = if account == "btc-holder" {
            set(&["bg:1", "h13"])
        } else {
            set(&["h13"])
        };
        assert_eq!(role("victim"), victims, "{cross}");
        assert_eq!(
            s["cascade_victims"],
            victims.len().to_string(),
            "{cross}: summary victims"
        );
        assert_eq!(o.trade(&cross, "h13")["exit_reason"], "cascade");
        // ETH was closed above its own stop: it was healthy when the book went.
        assert!(num(&o.trade(&cross, "h13")["exit_price"]) > 3450.0);
        // In cross the SOL stop is real: it fills (at 210 less slippage) instead of a liquidation.
        let sol = o.trade(&cross, "h12");
        assert_eq!(sol["exit_reason"], "stop", "{cross}");
        assert!((num(&sol["exit_price"]) - 210.0).abs() < 0.5, "{sol:?}");

        // Hybrid (BTC and ETH in cross, alts isolated): the alts are ring-fenced, no cascade; the
        // ETH long in cross survives to its stop.
        let s = o.summary(&hybrid);
        assert_eq!(s["cascades"], "0", "{hybrid}");
        assert_eq!(
            o.liquidated(&hybrid),
            set(&["h12", "h14", "h15", "h16"]),
            "{hybrid}"
        );
        assert_eq!(o.trade(&hybrid, "h13")["mode"], "cross");
        assert_eq!(o.trade(&hybrid, "h13")["exit_reason"], "stop");

        // Cross loses more than isolated on the same calls.
        let eq = |run: &str| dec(&o.summary(run)["final_equity"]);
        assert!(
            eq(&cross) < eq(&iso),
            "{account}: cross {} vs isolated {}",
            eq(&cross),
            eq(&iso)
        );
    }

    // The USDT-only account is wiped out in cross and skips the later calls.
    let s = o.summary("usdt/cross");
    assert_eq!(s["wipeouts"], "1");
    assert_eq!(dec(&s["final_equity"]), Decimal::ZERO);
    let skipped: BTreeSet<String> = o
        .skipped
        .iter()
        .filter(|r| r["run"] == "usdt/cross" && r["reason"].contains("wiped out"))
        .map(|r| r["signal_id"].clone())
        .collect();
    assert_eq!(skipped, set(&["h18", "h19"]));

    // The BTC-collateral account: the background long is cascaded at the bottom in cross and held
    // to the end of the data in isolated; cross leaves a small fraction of what isolated leaves.
    let bg = o.trade("btc-holder/cross", "bg:1");
    assert_eq!(bg["exit_reason"], "cascade");
    assert!(bg["close_time"].starts_with("2025-10-10T21:"), "{bg:?}");
    for run in ["btc-holder/isolated", "btc-holder/hybrid"] {
        assert_eq!(o.trade(run, "bg:1")["exit_reason"], "end_of_data", "{run}");
    }
    let (c, i) = (
        dec(&o.summary("btc-holder/cross")["final_equity"]),
        dec(&o.summary("btc-holder/isolated")["final_equity"]),
    );
    assert!(
        c * Decimal::from(4) < i,
        "btc-holder cross {c} vs isolated {i}"
    );

    // Money is conserved for the USDT-only account, from trades.csv alone.
    for run in ["usdt/isolated", "usdt/cross", "usdt/hybrid"] {
        let net: Decimal = o
            .trades
            .iter()
            .filter(|t| t["run"] == run)
            .map(|t| {
                dec(&t["pnl"]) - dec(&t["fees"]) - dec(&t["clearance_fee"]) + dec(&t["funding"])
            })
            .sum();
        let shortfall: Decimal = o
            .events(run)
            .values()
            .map(|rows| dec(&rows[0]["event_insurance_shortfall"]))
            .sum();
        let final_equity = dec(&o.summary(run)["final_equity"]);
        let expected = Decimal::from(2000) + net + shortfall;
        assert!(
            (expected - final_equity).abs() <= Decimal::new(1, 2),
            "{run}: 2000 + {net} + {shortfall} = {expected} vs {final_equity}"
        );
    }

    // Deterministic whatever the thread count.
    let one = tmp.path().join("one");
    run(&one, "1");
    let mut compared = 0;
    for entry in std::fs::read_dir(&out).expect("out") {
        let name: PathBuf = entry.expect("entry").file_name().into();
        let a = std::fs::read(out.join(&name)).expect("file");
        let b = std::fs::read(one.join(&name)).expect("file in the --threads 1 run");
        assert!(a == b, "{} differs between thread counts", name.display());
        compared += 1;
    }
    assert!(compared >= 8, "{compared} files compared");
}

/// The ADL scenario: a hedged book through the same crash, ADL by rule.
const ADL_SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/harthor-adl-hedge.toml"
);

/// `ringfence run SCENARIO --out OUT --no-report [extra]`, which must succeed.
fn run_scenario(scenario: &Path, out: &Path, extra: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--no-report")
        .args(extra)
        .output()
        .expect("the ringfence binary runs");
    assert!(
        o.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `ringfence run scenarios/harthor-adl-hedge.toml`: alt longs (SOL, XRP, DOGE, BNB at 6x) hedged by
/// a BTC short (25x) through the 2025-10-10 cascade on real Binance data, ADL by rule, isolated vs
/// cross — and the same scenario with ADL off.
///
/// What the data makes happen (see the scenario's comments): BTC's 21:10 5m bar completes a drop of
/// 6.9 % from the hour's high (117 145.3 → 109 069), more than the rule's 5 %: at 21:15 the BTC
/// shorts are deleveraged at the 21:15 open, 112 137.6. The isolated 25x short ranks in the top
/// quantile and loses all of it; the cross short, ranked against the healthier cross book, is in
/// quantile 2 and loses half. In the 21:15-21:20 crash the half-hedged cross book is liquidated
/// (the record names the ADL first); with ADL off the full hedge carries the same book through.
///
/// The test fails when the shared data is missing and `CI=true`; elsewhere it returns early.
#[test]
fn adl_of_the_btc_hedge_liquidates_the_cross_book_that_survives_without_it() {
    if !have_data() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let on = tmp.path().join("on");
    run_scenario(Path::new(ADL_SCENARIO), &on, &[]);

    // the same scenario with ADL off, paths made absolute
    let dir = Path::new(SCENARIO)
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap();
    let text = std::fs::read_to_string(ADL_SCENARIO).unwrap();
    let mut off_text = String::new();
    let mut in_adl = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_adl = line.trim() == "[adl]";
        }
        if in_adl {
            continue;
        }
        let line = line
            .replace("\"../", &format!("\"{}/../", dir.display()))
            .replace(
                "\"harthor-adl-hedge-signals.csv\"",
                &format!("\"{}/harthor-adl-hedge-signals.csv\"", dir.display()),
            );
        off_text.push_str(&line);
        off_text.push('\n');
    }
    let off_toml = tmp.path().join("off.toml");
    std::fs::write(&off_toml, off_text).unwrap();
    let off = tmp.path().join("off");
    run_scenario(&off_toml, &off, &[]);

    // ADL off: none of the ADL outputs
    assert!(!off.join("adl.csv").exists());
    assert!(!read_csv(&off.join("summary.csv"))[0].contains_key("adl_effect"));

    let adl = read_csv(&on.join("adl.csv"));
    let row = |run: &str| {
        adl.iter()
            .find(|r| r["run"] == run && r["signal_id"] == "a05")
            .unwrap_or_else(|| panic!("{run}: the BTC hedge was not deleveraged: {adl:?}"))
    };
    for run in ["usdt/isolated", "usdt/cross"] {
        let r = row(run);
        assert_eq!(r["time"], "2025-10-10T21:15:00Z");
        assert_eq!(
            (r["symbol"].as_str(), r["side"].as_str()),
            ("BTCUSDT", "short")
        );
        assert_eq!(num(&r["price"]), 112137.6);
        assert!(num(&r["pnl"]) > 0.0);
        assert!(
            r["source"].starts_with("BTCUSDT −6.9 % in 60 min"),
            "{}",
            r["source"]
        );
    }
    // isolated: the 25x short ranks first in line and goes whole; cross: quantile 2, half
    assert_eq!(row("usdt/isolated")["quantile"], "4");
    assert_eq!(num(&row("usdt/isolated")["fraction"]), 1.0);
    assert_eq!(row("usdt/cross")["quantile"], "2");
    assert_eq!(num(&row("usdt/cross")["fraction"]), 0.5);
    // only the hedge: the alt longs were never profitable on the winning side
    assert_eq!(adl.len(), 2, "{adl:?}");

    let sum_on = read_csv(&on.join("summary.csv"));
    let sum_off = read_csv(&off.join("summary.csv"));
    let s = |rows: &[Row], run: &str| rows.iter().find(|r| r["run"] == run).unwrap().clone();
    let (cross_on, cross_off) = (s(&sum_on, "usdt/cross"), s(&sum_off, "usdt/cross"));
    // the counterfactual inside the ADL run is the ADL-off run
    assert_eq!(cross_on["final_equity_adl_off"], cross_off["final_equity"]);
    assert_eq!(
        s(&sum_on, "usdt/isolated")["final_equity_adl_off"],
        s(&sum_off, "usdt/isolated")["final_equity"]
    );
    // cross: without ADL the hedge carries the book; with ADL the book is wiped out
    assert_eq!(cross_off["liquidations"], "0");
    assert!(num(&cross_off["final_equity"]) > 1500.0, "{cross_off:?}");
    assert_eq!(cross_on["liquidations"], "1");
    assert_eq!(cross_on["wipeouts"], "1");
    assert_eq!(num(&cross_on["final_equity"]), 0.0);
    assert_eq!(
        num(&cross_on["adl_effect"]),
        -num(&cross_off["final_equity"])
    );
    // isolated: the four alts are liquidated either way (each on its own margin); ADL cost the
    // hedge's later gains
    let (iso_on, iso_off) = (s(&sum_on, "usdt/isolated"), s(&sum_off, "usdt/isolated"));
    assert_eq!(iso_on["liquidations"], "4");
    assert_eq!(iso_off["liquidations"], "4");
    assert!(num(&iso_on["adl_effect"]) < 0.0);
    assert!(num(&iso_on["final_equity"]) > 1000.0);

    // the cross liquidation names the ADL that came before it
    let liqs = read_csv(&on.join("liquidations.csv"));
    let cross: Vec<&Row> = liqs.iter().filter(|r| r["run"] == "usdt/cross").collect();
    assert!(!cross.is_empty());
    for r in &cross {
        assert_eq!(r["mode"], "cross");
        assert_eq!(
            r["after_adl"],
            "BTCUSDT short deleveraged 2025-10-10 21:15 (quantile 2, 50 %)"
        );
        assert!(r["time"].as_str() > "2025-10-10T21:15:00Z" || r["time"] == "2025-10-10T21:15:00Z");
    }
    // the same episode replayed from an ADL event file: half of BTC's short open interest
    // deleveraged at 21:13 (applied at the 21:15 sub-bar open) takes half of quantile 2's band
    let events = tmp.path().join("events.csv");
    std::fs::write(
        &events,
        "time,symbol,side,share,price\n2025-10-10T21:13:00Z,BTCUSDT,short,0.5,\n",
    )
    .unwrap();
    let data_toml = tmp.path().join("data.toml");
    let base = std::fs::read_to_string(&off_toml).unwrap();
    std::fs::write(
        &data_toml,
        format!(
            "{base}\n[adl]\nmode = \"data\"\nfile = \"{}\"\n",
            events.display()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    run_scenario(&data_toml, &data, &[]);
    let adl_data = read_csv(&data.join("adl.csv"));
    let cross_data = adl_data
        .iter()
        .find(|r| r["run"] == "usdt/cross")
        .expect("the cross hedge deleveraged by the file's event");
    assert_eq!(cross_data["trigger"], "data");
    assert!(
        cross_data["source"].ends_with("events.csv row 2"),
        "{}",
        cross_data["source"]
    );
    assert_eq!(cross_data["time"], "2025-10-10T21:15:00Z");
    assert_eq!(cross_data["quantile"], "2");
    assert_eq!(num(&cross_data["fraction"]), 0.5);
    let liq_data = read_csv(&data.join("liquidations.csv"));
    assert!(liq_data.iter().any(|r| r["run"] == "usdt/cross"
        && r["after_adl"].starts_with("BTCUSDT short deleveraged 2025-10-10 21:15")));
    // the isolated 25x short is in quantile 4: the top half of open interest takes all of it
    let iso_data = adl_data
        .iter()
        .find(|r| r["run"] == "usdt/isolated")
        .unwrap();
    assert_eq!(num(&iso_data["fraction"]), 1.0);

    let trades = read_csv(&on.join("trades.csv"));
    let hedge = trades
        .iter()
        .find(|t| t["run"] == "usdt/isolated" && t["signal_id"] == "a05")
        .unwrap();
    assert_eq!(hedge["exit_reason"], "adl");
}
