//! The demo market generator: determinism, bar consistency, mark and funding behaviour, the demo
//! channel, and that the written dataset loads cleanly with the data loader.

use ringfence_data::load::{LoadOptions, load_dir};
use ringfence_data::signals::load_signals;
use ringfence_data::synth::{Bars, DEMO_MMR, SynthConfig, SynthMarket, generate, write_demo};
use ringfence_model::{Action, EntrySpec, Side, Symbol};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

fn market() -> &'static SynthMarket {
    static M: OnceLock<SynthMarket> = OnceLock::new();
    M.get_or_init(|| generate(&SynthConfig::default()))
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("readable file"))
        })
        .collect()
}

fn write(seed: u64) -> (tempfile::TempDir, Vec<(String, Vec<u8>)>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let sig = tmp.path().join("signals").join("demo-signals.csv");
    let cfg = SynthConfig {
        seed,
        ..SynthConfig::default()
    };
    let written = write_demo(&dir, &sig, &cfg).expect("demo written");
    assert_eq!(
        written.len(),
        6 * 5 + 2,
        "30 market files + README + signals"
    );
    let mut all = read_all(&dir);
    all.push((
        "signals".into(),
        std::fs::read(&sig).expect("signals written"),
    ));
    (tmp, all)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (_a, first) = write(7);
    let (_b, second) = write(7);
    assert_eq!(first.len(), second.len());
    for ((n1, b1), (n2, b2)) in first.iter().zip(&second) {
        assert_eq!(n1, n2);
        assert!(b1 == b2, "{n1} differs between two runs with the same seed");
    }
    let (_c, other) = write(8);
    let differing = first.iter().zip(&other).filter(|(a, b)| a.1 != b.1).count();
    assert!(
        differing >= 30,
        "only {differing} files differ for another seed"
    );
    // A few MB at most.
    let total: usize = first.iter().map(|(_, b)| b.len()).sum();
    assert!(total < 4_000_000, "demo dataset is {total} bytes");
}

fn check_ohlc(name: &str, b: &Bars, step: i64) {
    for i in 0..b.len() {
        let (o, h, l, c) = (b.open[i], b.high[i], b.low[i], b.close[i]);
        assert!(
            l > 0.0 && o.is_finite() && h.is_finite(),
            "{name} row {i}: non-positive"
        );
        assert!(
            l <= o.min(c) && h >= o.max(c),
            "{name} row {i}: o {o} h {h} l {l} c {c}"
        );
        if i > 0 {
            assert_eq!(b.times[i] - b.times[i - 1], step, "{name} row {i}: gap");
        }
    }
}

#[test]
fn bars_are_valid_and_1h_aggregates_5m() {
    let m = market();
    for s in &m.series {
        let name = s.symbol.as_str();
        check_ohlc(name, &s.bars_1h, 3_600_000);
        check_ohlc(name, &s.mark_1h, 3_600_000);
        check_ohlc(name, &s.bars_5m, 300_000);
        check_ohlc(name, &s.mark_5m, 300_000);
        assert_eq!(s.bars_1h.len(), 120 * 24);
        assert_eq!(s.bars_5m.len(), 3 * 288);
        assert_eq!(s.bars_5m.times[0], m.fine_window.0);
        // Every 1h bar in the window equals the aggregation of its twelve 5m bars.
        let first = s
            .bars_1h
            .times
            .iter()
            .position(|&t| t == m.fine_window.0)
            .expect("window start");
        for (g, chunk) in (0..s.bars_5m.len())
            .collect::<Vec<_>>()
            .chunks(12)
            .enumerate()
        {
            let i = first + g;
            let (a, z) = (chunk[0], chunk[11]);
            for (last, fine) in [(&s.bars_1h, &s.bars_5m), (&s.mark_1h, &s.mark_5m)] {
                assert_eq!(last.open[i], fine.open[a], "{name} hour {i} open");
                assert_eq!(last.close[i], fine.close[z], "{name} hour {i} close");
                let hi = fine.high[a..=z].iter().copied().fold(f64::MIN, f64::max);
                let lo = fine.low[a..=z].iter().copied().fold(f64::MAX, f64::min);
                assert_eq!(last.high[i], hi, "{name} hour {i} high");
                assert_eq!(last.low[i], lo, "{name} hour {i} low");
            }
            let v: f64 = s.bars_5m.volume[a..=z].iter().sum();
            assert!(
                (s.bars_1h.volume[i] - v).abs() <= 1e-6 * v.max(1.0),
                "{name} hour {i} volume"
            );
        }
    }
}

#[test]
fn crash_has_long_wicks_that_mark_shaves() {
    let m = market();
    let depth: Vec<f64> = m
        .series
        .iter()
        .map(|s| {
            let i = s
                .bars_1h
                .times
                .iter()
                .position(|&t| t == m.crash_time)
                .expect("crash bar");
            let (o, l, c) = (s.bars_1h.open[i], s.bars_1h.low[i], s.bars_1h.close[i]);
            // A long lower wick: the close recovers most of the way.
            assert!(
                (c - l) > 2.0 * (o - c).abs(),
                "{}: o {o} l {l} c {c}",
                s.symbol
            );
            // Mark low shallower than last low, mark high no higher than last high.
            assert!(
                s.mark_1h.low[i] > l,
                "{}: mark low {} vs last {l}",
                s.symbol,
                s.mark_1h.low[i]
            );
            1.0 - l / s.bars_1h.open[i - 1]
        })
        .collect();
    assert!(depth[0] > 0.08, "BTC crash depth {}", depth[0]);
    assert!(
        depth.iter().skip(1).all(|d| *d > depth[0]),
        "alts deeper than BTC: {depth:?}"
    );
    assert!(depth[5] > 0.5, "DOGE crash depth {}", depth[5]);
}

#[test]
fn funding_every_8h_and_swings_with_the_trend() {
    let m = market();
    for s in &m.series {
        let f = &s.funding;
        assert_eq!(f.times.len(), 120 * 3);
        for t in &f.times {
            assert_eq!(t % (8 * 3_600_000), 0, "{}: funding at {t}", s.symbol);
        }
        let mean = |a: i64, b: i64| {
            let r: Vec<f64> = f
                .times
                .iter()
                .zip(&f.rates)
                .filter(|(t, _)| **t >= a && **t < b)
                .map(|(_, r)| *r)
                .collect();
            r.iter().sum::<f64>() / r.len() as f64
        };
        let day = 86_400_000;
        let run_up = mean(m.crash_time - 20 * day, m.crash_time - day);
        let after = mean(m.crash_time + 3_600_000, m.crash_time + 3 * day);
        assert!(run_up > 0.0, "{}: run-up funding {run_up}", s.symbol);
        assert!(after < 0.0, "{}: post-crash funding {after}", s.symbol);
    }
}

#[test]
fn demo_channel_parses_and_has_the_promised_shape() {
    let m = market();
    let tmp = tempfile::tempdir().expect("tempdir");
    let sig = tmp.path().join("demo-signals.csv");
    write_demo(&tmp.path().join("demo"), &sig, &SynthConfig::default()).expect("written");
    let known: BTreeSet<Symbol> = m.series.iter().map(|s| s.symbol.clone()).collect();
    let set = load_signals(&sig, Some(&known)).expect("demo channel is valid");
    assert!(set.warnings.is_empty(), "warnings: {:?}", set.warnings);
    let opens: Vec<_> = set
        .events
        .iter()
        .filter(|e| e.action == Action::Open)
        .collect();
    assert!(opens.len() >= 60, "{} opens", opens.len());
    for a in [Action::Close, Action::MoveStop, Action::Cancel] {
        assert!(set.events.iter().any(|e| e.action == a), "no {a:?}");
    }
    assert!(
        set.events
            .iter()
            .filter(|e| e.action == Action::Cancel)
            .count()
            >= 2
    );
    let symbols: BTreeSet<_> = opens.iter().filter_map(|e| e.symbol.clone()).collect();
    assert_eq!(symbols.len(), 6, "calls on every symbol");
    assert!(opens.iter().any(|e| e.entry == EntrySpec::Market));
    assert!(
        opens
            .iter()
            .any(|e| matches!(e.entry, EntrySpec::Zone { .. }))
    );
    // Correlated longs piled in during the two days before the crash.
    let piled: BTreeSet<_> = opens
        .iter()
        .filter(|e| {
            e.side == Some(Side::Long)
                && e.time < m.crash_time
                && e.time > m.crash_time - 2 * 86_400_000
        })
        .filter_map(|e| e.symbol.clone())
        .collect();
    assert!(piled.len() >= 5, "longs before the crash on {piled:?}");

    // Badly placed = stop beyond the liquidation price for every fill in the entry range;
    // recomputed from the parsed file, it must match the list the README carries.
    let mut bad = Vec::new();
    for e in &opens {
        let (side, lev, stop) = (
            e.side.expect("side"),
            e.leverage.expect("leverage"),
            e.stop.expect("stop"),
        );
        assert!((5.0..=50.0).contains(&lev), "{}: leverage {lev}", e.id);
        assert!(
            (2..=4).contains(&e.targets.len()),
            "{}: {} targets",
            e.id,
            e.targets.len()
        );
        let s = m
            .series
            .iter()
            .find(|s| Some(&s.symbol) == e.symbol.as_ref())
            .expect("series");
        let i = s.bars_1h.times.partition_point(|&t| t <= e.time) - 1;
        let price = s.bars_1h.open[i];
        let (lo, hi) = match e.entry {
            EntrySpec::Market => (price * 0.998, price * 1.002),
            EntrySpec::Limit { price } => (price, price),
            EntrySpec::Zone { low, high } => (low, high),
        };
        assert!(
            (lo / price - 1.0).abs() < 0.03,
            "{}: entry {lo} far from price {price}",
            e.id
        );
        let sg = side.sign();
        let lp = |entry: f64| entry * (1.0 - sg / lev + sg * DEMO_MMR);
        let beyond = |entry: f64| (stop - lp(entry)) * sg < 0.0;
        assert_eq!(
            beyond(lo),
            beyond(hi),
            "{}: verdict depends on the fill",
            e.id
        );
        let near = if side == Side::Long { lo } else { hi };
        let dist = (near - stop) * sg / near;
        assert!(
            (0.003..0.12).contains(&dist),
            "{}: stop distance {dist}",
            e.id
        );
        if beyond(lo) {
            bad.push(e.id.to_string());
        }
    }
    let listed: Vec<String> = m.badly_placed.iter().map(|b| b.id.clone()).collect();
    assert_eq!(bad, listed);
    assert!(
        bad.len() >= 5 && bad.len() <= opens.len() / 2,
        "{} badly placed",
        bad.len()
    );
    let readme = std::fs::read_to_string(tmp.path().join("demo/README.md")).expect("readme");
    for id in &bad {
        assert!(
            readme.contains(&format!("| {id} |")),
            "{id} missing from README"
        );
    }
}

#[test]
fn written_dataset_loads_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    write_demo(&dir, &tmp.path().join("s.csv"), &SynthConfig::default()).expect("written");
    let m = market();
    let hourly = load_dir(&dir, "1h", None, &LoadOptions::default()).expect("1h loads");
    assert_eq!(hourly.times.len(), 120 * 24);
    assert_eq!(hourly.series.len(), 6);
    for s in &hourly.series {
        assert!(s.mark.is_some(), "{}: mark", s.symbol);
        assert_eq!(s.funding.times.len(), 360, "{}: funding", s.symbol);
        let g = m
            .series
            .iter()
            .find(|g| g.symbol == s.symbol)
            .expect("same symbols");
        let same = s.close.iter().zip(&g.bars_1h.close).all(|(a, b)| a == b)
            && s.low.iter().zip(&g.bars_1h.low).all(|(a, b)| a == b);
        assert!(same, "{}: prices do not survive the round trip", s.symbol);
    }
    let fine = load_dir(&dir, "5m", None, &LoadOptions::default()).expect("5m loads");
    assert_eq!(fine.times.len(), 3 * 288);
    assert_eq!(fine.times[0], m.fine_window.0);
}
