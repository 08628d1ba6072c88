use super::*;
use ringfence_model::{Action, Side, Symbol};

const H: i64 = 3_600_000;

/// A market of `n` hourly bars: two symbols with made-up but distinct moves, mark below last,
/// funding every 8 bars.
fn market(n: usize) -> Market {
    let times: Vec<i64> = (0..n as i64)
        .map(|i| 1_700_000_000_000 - 1_700_000_000_000 % H + i * H)
        .collect();
    let series = ["BTCUSDT", "ETHUSDT"]
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let mut close = Vec::with_capacity(n);
            let mut p = 100.0 * (k + 1) as f64;
            for i in 0..n {
                p *= 1.0 + 0.01 * (((i * 7 + k * 3) % 11) as f64 - 5.0) / 5.0;
                close.push(p);
            }
            let open: Vec<f64> = (0..n)
                .map(|i| if i == 0 { close[0] } else { close[i - 1] })
                .collect();
            let high: Vec<f64> = (0..n).map(|i| open[i].max(close[i]) * 1.004).collect();
            let low: Vec<f64> = (0..n).map(|i| open[i].min(close[i]) * 0.995).collect();
            let mark = MarkColumns {
                open: open.iter().map(|x| x * 0.999).collect(),
                high: high.iter().map(|x| x * 0.999).collect(),
                low: low.iter().map(|x| x * 0.999).collect(),
                close: close.iter().map(|x| x * 0.999).collect(),
            };
            let ft: Vec<i64> = times.iter().step_by(8).copied().collect();
            let rates = (0..ft.len()).map(|i| 0.0001 * (i as f64 - 3.0)).collect();
            SymbolSeries {
                symbol: Symbol::parse(name).unwrap(),
                first: 0,
                end: n,
                open,
                high,
                low,
                close,
                volume: Some((0..n).map(|i| i as f64).collect()),
                mark: Some(mark),
                funding: Funding { times: ft, rates },
                clean: false,
            }
        })
        .collect();
    Market {
        timeframe_ms: H,
        times,
        series,
        lower: None,
        warnings: vec![],
    }
}

fn ratio(s: &SymbolSeries, i: usize) -> [f64; 4] {
    let p = s.close[i - 1];
    [s.open[i] / p, s.high[i] / p, s.low[i] / p, s.close[i] / p]
}

#[test]
fn same_seed_same_path_other_seed_other_path() {
    let m = market(300);
    let a = block_bootstrap(&m, 24, 7, 3).unwrap();
    let b = block_bootstrap(&m, 24, 7, 3).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, block_bootstrap(&m, 24, 8, 3).unwrap());
    assert_ne!(a, block_bootstrap(&m, 24, 7, 4).unwrap());
}

#[test]
fn bootstrap_bars_are_joint_moves_of_one_source_bar() {
    let m = market(300);
    let p = block_bootstrap(&m, 10, 1, 0).unwrap();
    assert_eq!(p.series[0].close[0], m.series[0].close[0]);
    for i in 1..m.len() {
        // both symbols' moves at bar i are those of one and the same source bar
        let j = (1..m.len())
            .find(|&j| ratio(&m.series[0], j) == ratio(&p.series[0], i))
            .or_else(|| {
                (1..m.len()).find(|&j| {
                    ratio(&m.series[0], j)
                        .iter()
                        .zip(ratio(&p.series[0], i))
                        .all(|(a, b)| (a - b).abs() < 1e-12)
                })
            })
            .expect("every bar's move comes from a source bar");
        for (a, b) in ratio(&m.series[1], j).iter().zip(ratio(&p.series[1], i)) {
            assert!((a - b).abs() < 1e-12, "bar {i}: ETH moved apart from BTC");
        }
    }
}

#[test]
fn blocks_have_the_mean_length_asked() {
    let mut rng = path_rng(11, 0);
    let src = bootstrap_sources(200_000, 1..5_000, 24, &mut rng);
    let breaks = src
        .windows(2)
        .skip(1)
        .filter(|w| w[1] != w[0] + 1 && !(w[0] == 4_999 && w[1] == 1))
        .count();
    let mean = 200_000.0 / (breaks + 1) as f64;
    assert!((mean - 24.0).abs() < 1.0, "mean block {mean}");
    assert!(src[1..].iter().all(|j| (1..5_000).contains(j)));
}

#[test]
fn crash_transplant_moves_the_window_exactly() {
    let m = market(400);
    let window = 200..212;
    let at = 50;
    let p = crash_transplant(&m, window.clone(), at).unwrap();
    for (h, s) in m.series.iter().zip(&p.series) {
        // before the target: the history, bit for bit
        assert_eq!(h.close[..at], s.close[..at]);
        assert_eq!(
            h.mark.as_ref().unwrap().low[..at],
            s.mark.as_ref().unwrap().low[..at]
        );
        for k in 0..window.len() {
            let (i, j) = (at + k, window.start + k);
            for (a, b) in ratio(h, j).iter().zip(ratio(s, i)) {
                assert!((a / b - 1.0).abs() < 1e-13, "bar {i}");
            }
            assert_eq!(s.volume.as_ref().unwrap()[i], h.volume.as_ref().unwrap()[j]);
        }
        // between the new and the old place: the bars that were there, one window later
        for i in at + window.len()..window.end {
            let j = i - window.len();
            for (a, b) in ratio(h, j).iter().zip(ratio(s, i)) {
                assert!((a / b - 1.0).abs() < 1e-12, "bar {i}");
            }
        }
        // after the old place: own moves and the history's level again
        for i in window.end..m.len() {
            for (a, b) in ratio(h, i).iter().zip(ratio(s, i)) {
                assert!((a / b - 1.0).abs() < 1e-12, "bar {i}");
            }
            assert!((h.close[i] / s.close[i] - 1.0).abs() < 1e-11, "bar {i}");
        }
        let drop_src = h.close[window.end - 1] / h.close[window.start - 1];
        let drop_dst = s.close[at + window.len() - 1] / s.close[at - 1];
        assert!((drop_src / drop_dst - 1.0).abs() < 1e-12);
    }
    // funding: a settlement takes the rate prevailing at its bar's source bar
    let sources = transplant_sources(m.len(), window.clone(), at);
    let f = &p.series[0].funding;
    let h = &m.series[0].funding;
    assert_eq!(f.times, h.times);
    for (k, &t) in f.times.iter().enumerate() {
        let i = m.bar_at_or_after(t);
        if i < at {
            assert_eq!(f.rates[k], h.rates[k]);
        } else {
            let j = sources[i];
            let prev = h.times.partition_point(|&x| x < m.times[j] + H) - 1;
            assert_eq!(f.rates[k], h.rates[prev]);
        }
    }
}

#[test]
fn a_window_moved_later_shifts_the_bars_between_back() {
    assert_eq!(transplant_sources(8, 2..4, 5), vec![0, 1, 4, 5, 6, 2, 3, 7]);
    assert_eq!(transplant_sources(8, 5..7, 1), vec![0, 5, 6, 1, 2, 3, 4, 7]);
    assert_eq!(transplant_sources(8, 3..5, 3), (0..8).collect::<Vec<_>>());
    let m = market(300);
    let p = crash_transplant(&m, 40..52, 200).unwrap();
    for (h, s) in m.series.iter().zip(&p.series) {
        assert_eq!(h.close[..40], s.close[..40]);
        for k in 0..12 {
            for (a, b) in ratio(h, 40 + k).iter().zip(ratio(s, 200 + k)) {
                assert!((a / b - 1.0).abs() < 1e-12);
            }
        }
        for i in 212..300 {
            assert!((h.close[i] / s.close[i] - 1.0).abs() < 1e-11, "bar {i}");
        }
    }
}

#[test]
fn transplant_targets_keep_the_offset_and_fit() {
    assert_eq!(transplant_targets(100, 30, 10, 24), vec![6, 30, 54, 78]);
    assert_eq!(transplant_targets(100, 48, 10, 24), vec![24, 48, 72]);
    assert!(transplant_targets(5, 1, 10, 24).is_empty());
    // placed onto itself, the transplant is the history (to rounding)
    let m = market(200);
    let p = crash_transplant(&m, 60..70, 60).unwrap();
    for (h, s) in m.series.iter().zip(&p.series) {
        for i in 0..m.len() {
            assert!((h.close[i] / s.close[i] - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn bad_parameters_are_errors() {
    let m = market(50);
    assert!(crash_transplant(&m, 0..5, 10).is_err());
    assert!(crash_transplant(&m, 10..20, 45).is_err());
    assert!(crash_transplant(&m, 10..10, 5).is_err());
    assert!(block_bootstrap(&m, 0, 1, 0).is_err());
    let mut bad = market(50);
    bad.series[1].close[20] = f64::NAN;
    let e = block_bootstrap(&bad, 5, 1, 0).unwrap_err();
    assert!(e.to_string().contains("ETHUSDT: close NaN"), "{e}");
    let mut short = market(50);
    short.series[1].first = 49;
    assert!(bootstrap_pool(&short).is_err());
}

#[test]
fn signals_move_with_the_path_level() {
    let m = market(100);
    let p = crash_transplant(&m, 60..70, 20).unwrap();
    let e = SignalEvent {
        id: "1".into(),
        time: m.times[40] + 60_000,
        action: Action::Open,
        symbol: Some(Symbol::parse("BTCUSDT").unwrap()),
        side: Some(Side::Long),
        entry: EntrySpec::Zone {
            low: 90.0,
            high: 95.0,
        },
        stop: Some(80.0),
        targets: vec![100.0, 110.0],
        leverage: Some(10.0),
        margin_mode: None,
        ladder: vec![],
        leverage_high: None,
        msg_id: None,
        source: "t".into(),
        line: 1,
    };
    let early = SignalEvent {
        time: m.times[10],
        ..e.clone()
    };
    let out = rescale_signals(&[e.clone(), early.clone()], &m, &p);
    let r = p.series[0].close[39] / m.series[0].close[39];
    assert!((r - 1.0).abs() > 1e-6, "the transplant moved the level");
    assert_eq!(out[0].stop, Some(80.0 * r));
    assert_eq!(out[0].targets, vec![100.0 * r, 110.0 * r]);
    assert_eq!(
        out[0].entry,
        EntrySpec::Zone {
            low: 90.0 * r,
            high: 95.0 * r
        }
    );
    assert_eq!(out[1], early, "a call before the transplant is unchanged");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Every bootstrapped bar is positive and keeps high ≥ open, close ≥ low (the moves are
        /// ratios of a valid bar applied to a positive close).
        #[test]
        fn bootstrap_bars_stay_valid(seed in any::<u64>(), path in 0u64..1000, block in 1usize..60) {
            let m = market(240);
            let p = block_bootstrap(&m, block, seed, path).unwrap();
            for s in &p.series {
                for i in 0..p.len() {
                    prop_assert!(s.close[i] > 0.0 && s.low[i] > 0.0);
                    prop_assert!(s.high[i] >= s.open[i].max(s.close[i]) * (1.0 - 1e-12));
                    prop_assert!(s.low[i] <= s.open[i].min(s.close[i]) * (1.0 + 1e-12));
                }
            }
        }
    }
}
