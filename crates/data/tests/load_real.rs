//! Loading the real Binance data in `../shared/data` (freqtrade Feather and the derived CSVs).

use ringfence_data::load::{
    FileSpec, GapPolicy, LoadOptions, SymbolSources, attach_lower, discover_dir, load_dir,
    load_market,
};
use ringfence_model::market::{Market, WarningKind};
use ringfence_model::symbol::Symbol;
use ringfence_model::time::HOUR_MS;

use ringfence_data::testing::shared_data;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

/// Equal arrays, NaN equal to NaN.
fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

fn assert_same_market(a: &Market, b: &Market) {
    assert_eq!(a.times, b.times);
    assert_eq!(a.series.len(), b.series.len());
    for (x, y) in a.series.iter().zip(&b.series) {
        let s = &x.symbol;
        assert_eq!(x.symbol, y.symbol);
        assert_eq!((x.first, x.end), (y.first, y.end), "{s}");
        assert_eq!(x.clean, y.clean, "{s}");
        assert!(same(&x.open, &y.open), "{s} open");
        assert!(same(&x.high, &y.high), "{s} high");
        assert!(same(&x.low, &y.low), "{s} low");
        assert!(same(&x.close, &y.close), "{s} close");
        let (mx, my) = (x.mark.as_ref().unwrap(), y.mark.as_ref().unwrap());
        assert!(same(&mx.open, &my.open), "{s} mark open");
        assert!(same(&mx.high, &my.high), "{s} mark high");
        assert!(same(&mx.low, &my.low), "{s} mark low");
        assert!(same(&mx.close, &my.close), "{s} mark close");
        assert_eq!(x.funding.times, y.funding.times, "{s} funding times");
        assert!(
            same(&x.funding.rates, &y.funding.rates),
            "{s} funding rates"
        );
    }
}

const HARTHOR: [&str; 9] = [
    "1000PEPEUSDT",
    "BCHUSDT",
    "BNBUSDT",
    "BTCUSDT",
    "DOGEUSDT",
    "ETHUSDT",
    "HYPEUSDT",
    "SOLUSDT",
    "XRPUSDT",
];

#[test]
fn harthor_nine_symbols_load_with_mark_and_funding() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("harthor_binance_futures_2025");
    let started = std::time::Instant::now();
    let market = load_dir(&dir, "1h", None, &LoadOptions::default()).unwrap();
    eprintln!(
        "loaded 9 harthor symbols (1h candles + mark + funding) in {:?}",
        started.elapsed()
    );
    let names: Vec<&str> = market.series.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(names, HARTHOR);
    assert_eq!(market.timeframe_ms, HOUR_MS);
    // 2024-12-31 00:00 .. 2026-02-19 21:00 (HYPE ends latest)
    assert_eq!(market.times[0], 1_735_603_200_000);
    assert_eq!(*market.times.last().unwrap(), 1_771_534_800_000);
    assert!(market.times.windows(2).all(|w| w[1] - w[0] == HOUR_MS));
    let btc = market.series_of(&sym("BTCUSDT")).unwrap();
    assert_eq!((btc.first, btc.end), (0, 9978));
    assert!(btc.close[9978..].iter().all(|v| v.is_nan()));
    assert_eq!(btc.funding.times.len(), 1247);
    let hype = market.series_of(&sym("HYPEUSDT")).unwrap();
    assert_eq!(hype.end - hype.first, 6372);
    assert_eq!(market.times[hype.first], 1_748_599_200_000); // 2025-05-30 10:00
    assert!(hype.open[..hype.first].iter().all(|v| v.is_nan()));
    // HYPE funding every 4 h
    assert_eq!(hype.funding.times[1] - hype.funding.times[0], 4 * HOUR_MS);
    for s in &market.series {
        assert!(s.mark.is_some(), "{}", s.symbol);
        assert!(!s.funding.is_empty(), "{}", s.symbol);
        assert!(s.volume.is_some(), "{}", s.symbol);
        // what the loader derives from its validation is what the columns say
        assert_eq!(s.clean, s.all_bars_clean(), "{}", s.symbol);
        for i in s.first..s.end {
            assert!(
                s.low[i] <= s.open[i].min(s.close[i]) && s.high[i] >= s.open[i].max(s.close[i])
            );
        }
    }
    assert!(
        !market.warnings.iter().any(|w| matches!(
            w.kind,
            WarningKind::MissingMark | WarningKind::MissingFunding
        )),
        "{:?}",
        market.warnings
    );
    // The 2025-10-10 21:00 candle: BNB last low 823.6 vs mark low 863.7 (SOURCES.md).
    let i = market.bar_at_or_after(1_760_130_000_000);
    let bnb = market.series_of(&sym("BNBUSDT")).unwrap();
    assert_eq!(bnb.low[i], 823.6);
    assert!((bnb.mark.as_ref().unwrap().low[i] - 863.7).abs() < 0.05);
    assert_eq!(bnb.liq_hlc(i).1, bnb.mark.as_ref().unwrap().low[i]);
}

#[test]
fn harthor_feather_and_derived_csv_are_identical() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("harthor_binance_futures_2025");
    let feather = load_dir(&dir, "1h", None, &LoadOptions::default()).unwrap();
    let sources: Vec<SymbolSources> = HARTHOR
        .iter()
        .map(|s| {
            let stem = format!("{}_USDT_USDT", s.trim_end_matches("USDT"));
            SymbolSources {
                symbol: sym(s),
                candles: FileSpec::auto(dir.join(format!("{stem}-1h-futures.csv"))),
                mark: Some(FileSpec::auto(dir.join(format!("{stem}-1h-mark.csv")))),
                funding: Some(FileSpec::auto(
                    dir.join(format!("{stem}-1h-funding_rate.csv")),
                )),
            }
        })
        .collect();
    let started = std::time::Instant::now();
    let csv = load_market(&sources, HOUR_MS, &LoadOptions::default()).unwrap();
    eprintln!(
        "loaded 9 harthor symbols from the derived CSVs in {:?}",
        started.elapsed()
    );
    assert_same_market(&feather, &csv);
    // feather is preferred by discovery
    let found = discover_dir(&dir, "1h", Some(&[sym("BTCUSDT")])).unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .candles
            .path
            .ends_with("BTC_USDT_USDT-1h-futures.feather")
    );
}

#[test]
fn mixed_sources_for_one_symbol_load() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("harthor_binance_futures_2025");
    let src = SymbolSources {
        symbol: sym("ETHUSDT"),
        candles: FileSpec::auto(dir.join("ETH_USDT_USDT-1h-futures.csv")),
        mark: Some(FileSpec::auto(dir.join("ETH_USDT_USDT-1h-mark.feather"))),
        funding: Some(FileSpec::auto(
            dir.join("ETH_USDT_USDT-1h-funding_rate.feather"),
        )),
    };
    let m = load_market(&[src], HOUR_MS, &LoadOptions::default()).unwrap();
    let eth = &m.series[0];
    assert_eq!(eth.end - eth.first, 9978);
    assert_eq!(eth.funding.times.len(), 1247);
    assert!(eth.mark.is_some());
}

#[test]
fn freqtrade_xrp_fixtures_mark_offset_and_jittered_funding() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("freqtrade");
    let m = load_dir(&dir, "1h", None, &LoadOptions::default()).unwrap();
    assert_eq!(m.series.len(), 1);
    let xrp = &m.series[0];
    assert_eq!(xrp.symbol.as_str(), "XRPUSDT");
    assert_eq!(m.times.len(), 100);
    assert_eq!(m.times[0], 1_637_110_800_000); // 2021-11-17 01:00
    let mark = xrp.mark.as_ref().unwrap();
    // mark runs 2021-11-15 06:00 .. 2021-11-19 09:00: it covers bars 0..=56 only
    let covered = mark.close.iter().filter(|v| v.is_finite()).count();
    assert_eq!(covered, 57);
    assert!(mark.close[56].is_finite() && mark.close[57].is_nan());
    assert_eq!(xrp.liq_hlc(60), (xrp.high[60], xrp.low[60], xrp.close[60]));
    let w = m
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::Other)
        .expect("partial mark coverage is a warning");
    assert!(w.message.contains("cover 57 of 100 bars"), "{}", w.message);
    // funding times kept as given, with their ms jitter
    assert_eq!(xrp.funding.times[0], 1_637_193_600_017);
    assert_eq!(xrp.funding.times.len(), 91);
    assert_eq!(xrp.funding.rates[0], 0.0001);
    let min = xrp
        .funding
        .rates
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert!((min + 0.00219334).abs() < 1e-12, "{min}");
    // same from the CSV copies
    let csv = load_market(
        &[SymbolSources {
            symbol: sym("XRPUSDT"),
            candles: FileSpec::auto(dir.join("XRP_USDT_USDT-1h-futures.csv")),
            mark: Some(FileSpec::auto(dir.join("XRP_USDT_USDT-1h-mark.csv"))),
            funding: Some(FileSpec::auto(
                dir.join("XRP_USDT_USDT-8h-funding_rate.csv"),
            )),
        }],
        HOUR_MS,
        &LoadOptions::default(),
    )
    .unwrap();
    assert_same_market(&m, &csv);
}

#[test]
fn freqtrade_5m_has_no_mark_and_refines_the_1h_market() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("freqtrade");
    let lower = load_dir(&dir, "5m", None, &LoadOptions::default()).unwrap();
    let xrp = &lower.series[0];
    assert!(xrp.mark.is_none());
    let kinds: Vec<WarningKind> = lower.warnings.iter().map(|w| w.kind).collect();
    assert!(kinds.contains(&WarningKind::MissingMark), "{kinds:?}");
    let note = lower
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::Other)
        .unwrap();
    assert!(note.message.contains("only at 1h"), "{}", note.message);
    assert_eq!(lower.times.len(), 1999);

    let mut upper = load_dir(&dir, "1h", None, &LoadOptions::default()).unwrap();
    attach_lower(&mut upper, lower.clone()).unwrap();
    let (sub, range) = upper.sub_bars(0).unwrap();
    assert_eq!(range.len(), 12);
    assert_eq!(sub.times[range.start], upper.times[0]);
    // the 1h bar's extremes contain its sub-bars'
    let up = &upper.series[0];
    let lo = &sub.series[0];
    let min_low = range
        .clone()
        .map(|j| lo.low[j])
        .fold(f64::INFINITY, f64::min);
    assert!(up.low[0] <= min_low + 1e-9);
    // a 1h market cannot refine a 5m one
    let mut five = lower;
    let one = load_dir(&dir, "1h", None, &LoadOptions::default()).unwrap();
    let err = attach_lower(&mut five, one).unwrap_err().to_string();
    assert!(err.contains("lower timeframe 1h must be shorter"), "{err}");
}

#[test]
fn window_options_restrict_the_grid() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("harthor_binance_futures_2025");
    let opts = LoadOptions {
        gaps: GapPolicy::Error,
        start: Some(1_760_054_400_000), // 2025-10-10
        end: Some(1_760_227_200_000),   // 2025-10-12
    };
    let m = load_dir(&dir, "1h", Some(&[sym("SOLUSDT"), sym("BTCUSDT")]), &opts).unwrap();
    assert_eq!(m.times.len(), 48);
    assert_eq!(m.series.len(), 2);
    assert!(m.series[0].funding.times.len() == 6);
    let err = load_dir(&dir, "1h", Some(&[sym("ADAUSDT")]), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ADAUSDT") && err.contains("ADA_USDT_USDT-1h-futures"),
        "{err}"
    );
}
