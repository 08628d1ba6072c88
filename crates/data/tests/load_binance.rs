//! Binance public-data CSVs (12-column klines with or without header, ms or µs, plain or zipped;
//! funding CSVs), generic CSV with configured column names, and generic Parquet.

use polars::prelude::*;
use ringfence_data::load::{
    Columns, FileFormat, FileSpec, LoadOptions, SymbolSources, load_market,
};
use ringfence_model::market::Market;
use ringfence_model::symbol::Symbol;
use ringfence_model::time::HOUR_MS;
use std::io::Write;
use std::path::{Path, PathBuf};

/// 2025-10-10T20:00:00Z.
const T0: i64 = 1_760_126_400_000;
const KLINE_HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";
const BARS: [(f64, f64, f64, f64); 3] = [
    (121000.0, 122500.5, 120800.0, 122000.1),
    (122000.1, 122100.0, 105000.0, 113000.0),
    (113000.0, 114200.0, 112000.0, 113900.0),
];

fn kline_text(header: bool, micros: bool) -> String {
    let mut s = String::new();
    if header {
        s.push_str(KLINE_HEADER);
        s.push('\n');
    }
    for (i, (o, h, l, c)) in BARS.iter().enumerate() {
        let t = T0 + i as i64 * HOUR_MS;
        let (open_t, close_t) = if micros {
            (t * 1000, (t + HOUR_MS) * 1000 - 1)
        } else {
            (t, t + HOUR_MS - 1)
        };
        s.push_str(&format!(
            "{open_t},{o},{h},{l},{c},1234.5,{close_t},150000000.1,98765,600.2,73000000.3,0\n"
        ));
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn zip_one(dir: &Path, name: &str, inner: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let mut zw = ::zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    zw.start_file(inner, ::zip::write::SimpleFileOptions::default())
        .unwrap();
    zw.write_all(text.as_bytes()).unwrap();
    zw.finish().unwrap();
    p
}

fn load(candles: FileSpec, mark: Option<FileSpec>, funding: Option<FileSpec>) -> Market {
    let src = SymbolSources {
        symbol: Symbol::parse("BTCUSDT").unwrap(),
        candles,
        mark,
        funding,
    };
    load_market(&[src], HOUR_MS, &LoadOptions::default()).unwrap()
}

fn assert_bars(m: &Market) {
    assert_eq!(m.times, vec![T0, T0 + HOUR_MS, T0 + 2 * HOUR_MS]);
    let s = &m.series[0];
    for (i, (o, h, l, c)) in BARS.iter().enumerate() {
        assert_eq!(
            (s.open[i], s.high[i], s.low[i], s.close[i]),
            (*o, *h, *l, *c)
        );
    }
    assert_eq!(s.volume.as_ref().unwrap()[0], 1234.5);
}

#[test]
fn kline_csv_with_and_without_header_in_ms_and_us() {
    let dir = tempfile::tempdir().unwrap();
    for (header, micros) in [(true, false), (false, false), (true, true), (false, true)] {
        let name = format!("BTCUSDT-1h-2025-10-h{header}-us{micros}.csv");
        let text = kline_text(header, micros);
        for format in [FileFormat::Auto, FileFormat::BinanceKlineCsv] {
            let p = write(dir.path(), &name, &text);
            assert_bars(&load(FileSpec { path: p, format }, None, None));
        }
    }
}

#[test]
fn zipped_kline_and_mark_csvs() {
    let dir = tempfile::tempdir().unwrap();
    let candles = zip_one(
        dir.path(),
        "BTCUSDT-1h-2025-10.zip",
        "BTCUSDT-1h-2025-10.csv",
        &kline_text(false, false),
    );
    let mark = zip_one(
        dir.path(),
        "BTCUSDT-1h-mark-2025-10.zip",
        "BTCUSDT-1h-2025-10.csv",
        &kline_text(true, true),
    );
    let m = load(FileSpec::auto(candles), Some(FileSpec::auto(mark)), None);
    assert_bars(&m);
    assert_eq!(m.series[0].mark.as_ref().unwrap().low[1], 105000.0);
}

#[test]
fn zip_without_a_single_csv_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = zip_one(dir.path(), "odd.zip", "readme.txt", "hello");
    let src = SymbolSources {
        symbol: Symbol::parse("BTCUSDT").unwrap(),
        candles: FileSpec::auto(&p),
        mark: None,
        funding: None,
    };
    let msg = load_market(&[src], HOUR_MS, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("odd.zip: zip archive holds no .csv file"),
        "{msg}"
    );
}

#[test]
fn binance_funding_csv_with_and_without_header() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(dir.path(), "k.csv", &kline_text(true, false));
    let rows = format!(
        "{},8,0.00010000\n{},8,-0.00025000\n",
        T0 - 4 * HOUR_MS,
        T0 + 4 * HOUR_MS + 1
    );
    for (name, text) in [
        (
            "f1.csv",
            format!("calc_time,funding_interval_hours,last_funding_rate\n{rows}"),
        ),
        ("f2.csv", rows.clone()),
    ] {
        let f = write(dir.path(), name, &text);
        for format in [FileFormat::Auto, FileFormat::BinanceFundingCsv] {
            let m = load(
                FileSpec::auto(&candles),
                None,
                Some(FileSpec {
                    path: f.clone(),
                    format,
                }),
            );
            let fu = &m.series[0].funding;
            assert_eq!(fu.times, vec![T0 - 4 * HOUR_MS, T0 + 4 * HOUR_MS + 1]);
            assert_eq!(fu.rates, vec![0.0001, -0.00025]);
        }
    }
}

#[test]
fn generic_csv_with_configured_columns_and_iso_times() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        "Time;O;H;L;C\n2025-10-10T20:00:00Z;1;2;0.5;1.5\n2025-10-10 21:00:00;1.5;1.6;1.1;1.2\n";
    // the csv crate reads commas; write the semicolon file with commas instead
    let p = write(dir.path(), "generic.csv", &text.replace(';', ","));
    let cols = Columns {
        timestamp: "time".into(),
        open: "O".into(),
        high: "H".into(),
        low: "L".into(),
        close: "C".into(),
        volume: None,
        funding_rate: "rate".into(),
    };
    let f = write(
        dir.path(),
        "rates.csv",
        &format!("time,rate\n{T0},0.0003\n"),
    );
    let m = load(
        FileSpec {
            path: p,
            format: FileFormat::GenericCsv(cols.clone()),
        },
        None,
        Some(FileSpec {
            path: f,
            format: FileFormat::GenericCsv(cols.clone()),
        }),
    );
    let s = &m.series[0];
    assert_eq!(m.times, vec![T0, T0 + HOUR_MS]);
    assert_eq!(s.close, vec![1.5, 1.2]);
    assert!(s.volume.is_none());
    assert_eq!(s.funding.rates, vec![0.0003]);
    // a configured volume column that is absent is named
    let p = dir.path().join("generic.csv");
    let src = SymbolSources {
        symbol: Symbol::parse("BTCUSDT").unwrap(),
        candles: FileSpec {
            path: p,
            format: FileFormat::GenericCsv(Columns {
                volume: Some("vol".into()),
                ..cols
            }),
        },
        mark: None,
        funding: None,
    };
    let msg = load_market(&[src], HOUR_MS, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("generic.csv: missing column volume (looked for vol)"),
        "{msg}"
    );
}

#[test]
fn generic_parquet_with_integer_and_datetime_times() {
    let dir = tempfile::tempdir().unwrap();
    let times: Vec<i64> = (0..3).map(|i| T0 + i * HOUR_MS).collect();
    let col = |name: &str, k: usize| -> Column {
        let v: Vec<f64> = BARS.iter().map(|b| [b.0, b.1, b.2, b.3][k]).collect();
        Column::new(name.into(), v)
    };
    let cols = Columns {
        timestamp: "ts".into(),
        open: "o".into(),
        high: "h".into(),
        low: "l".into(),
        close: "c".into(),
        volume: None,
        funding_rate: "funding_rate".into(),
    };
    // integer ms
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("ts".into(), times.clone()),
        col("o", 0),
        col("h", 1),
        col("l", 2),
        col("c", 3),
    ])
    .unwrap();
    let p = dir.path().join("btc.parquet");
    ParquetWriter::new(std::fs::File::create(&p).unwrap())
        .finish(&mut df)
        .unwrap();
    let m = load(
        FileSpec {
            path: p,
            format: FileFormat::Parquet(cols.clone()),
        },
        None,
        None,
    );
    assert_eq!(m.times, times);
    assert_eq!(m.series[0].low[1], 105000.0);
    // datetime[ns]
    let ns: Vec<i64> = times.iter().map(|t| t * 1_000_000).collect();
    let ts = Column::new("ts".into(), ns)
        .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
        .unwrap();
    let mut df =
        DataFrame::new_infer_height(vec![ts, col("o", 0), col("h", 1), col("l", 2), col("c", 3)])
            .unwrap();
    let p = dir.path().join("btc_ns.parquet");
    ParquetWriter::new(std::fs::File::create(&p).unwrap())
        .finish(&mut df)
        .unwrap();
    let m = load(
        FileSpec {
            path: p,
            format: FileFormat::Parquet(cols),
        },
        None,
        None,
    );
    assert_eq!(m.times, times);
}

#[test]
fn generic_mark_without_volume_loads_with_default_columns() {
    let dir = tempfile::tempdir().unwrap();
    let candles = write(
        dir.path(),
        "c.csv",
        &format!("timestamp,open,high,low,close,volume\n{T0},1,2,0.5,1.5,10\n"),
    );
    let mark = write(
        dir.path(),
        "m.csv",
        &format!("timestamp,open,high,low,close\n{T0},1,1.9,0.6,1.5\n"),
    );
    let generic = |p: PathBuf| FileSpec {
        path: p,
        format: FileFormat::GenericCsv(Columns::default()),
    };
    let m = load(generic(candles), Some(generic(mark.clone())), None);
    assert_eq!(m.series[0].mark.as_ref().unwrap().high, vec![1.9]);
    // as candles, the configured volume column is required
    let src = SymbolSources {
        symbol: Symbol::parse("BTCUSDT").unwrap(),
        candles: generic(mark),
        mark: None,
        funding: None,
    };
    let msg = load_market(&[src], HOUR_MS, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("m.csv: missing column volume (looked for volume)"),
        "{msg}"
    );
}

/// Writes `o, h, l, c` bars at `T0 + hour × HOUR_MS` to a Parquet file with `timestamp` (ms).
fn parquet_bars(path: &Path, bars: &[(i64, [f64; 4])]) {
    let col = |name: &str, k: usize| -> Column {
        Column::new(
            name.into(),
            bars.iter().map(|b| b.1[k]).collect::<Vec<f64>>(),
        )
    };
    let times: Vec<i64> = bars.iter().map(|b| T0 + b.0 * HOUR_MS).collect();
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("timestamp".into(), times),
        col("open", 0),
        col("high", 1),
        col("low", 2),
        col("close", 3),
    ])
    .unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
}

#[test]
fn parquet_rows_are_record_numbers_after_a_window_and_a_partial_mark_is_placed_on_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let bar = |h: i64| (h, [100.0 + h as f64, 110.0, 90.0, 101.0 + h as f64]);
    let mut bars: Vec<_> = (0..6).map(bar).collect();
    bars[4].1[2] = 105.0; // record 5: low above min(open, close)
    let candles = dir.path().join("btc.parquet");
    parquet_bars(&candles, &bars);
    let spec = |path: &Path| FileSpec {
        path: path.to_path_buf(),
        format: FileFormat::Parquet(Columns {
            volume: None,
            ..Columns::default()
        }),
    };
    let src = |mark: Option<FileSpec>| SymbolSources {
        symbol: Symbol::parse("BTCUSDT").unwrap(),
        candles: spec(&candles),
        mark,
        funding: None,
    };
    let window = LoadOptions {
        start: Some(T0 + 2 * HOUR_MS),
        ..LoadOptions::default()
    };
    let msg = load_market(&[src(None)], HOUR_MS, &window)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("btc.parquet, row 5: ") && msg.contains("low 105 is above min(open 104"),
        "{msg}"
    );

    // Clean candles; a mark file from hour 1 to 4: inside the window [2h, 6h) it covers hours
    // 2 to 4, placed at grid bars 0 to 2, and the last bar falls back to last prices.
    bars[4] = bar(4);
    parquet_bars(&candles, &bars);
    let mark = dir.path().join("btc-mark.parquet");
    let mark_bars: Vec<_> = (1..5)
        .map(|h| (h, [50.0 + h as f64, 60.0, 40.0, 51.0]))
        .collect();
    parquet_bars(&mark, &mark_bars);
    let m = load_market(&[src(Some(spec(&mark)))], HOUR_MS, &window).unwrap();
    assert_eq!(
        m.times,
        (2..6).map(|h| T0 + h * HOUR_MS).collect::<Vec<_>>()
    );
    let s = &m.series[0];
    assert_eq!(s.open, vec![102.0, 103.0, 104.0, 105.0]);
    let mark = s.mark.as_ref().unwrap();
    assert_eq!(&mark.open[..3], &[52.0, 53.0, 54.0]);
    assert!(mark.open[3].is_nan());
    // a bar with last prices but no mark candle is not clean (its bounds are the last prices')
    assert!(!s.bar_is_clean(3) && !s.clean);
    assert!(
        m.warnings
            .iter()
            .any(|w| w.message.contains("mark-price candles cover 3 of 4 bars")),
        "{:?}",
        m.warnings
    );
}
