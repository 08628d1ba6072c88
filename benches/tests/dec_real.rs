//! The engine's `f64` → `Decimal` conversion (`ringfence_sim::f64_to_decimal`, the closed form in
//! `sim::num`) against `Decimal::from_f64` on every price, volume and funding rate of the real
//! data in `../shared/data`, loaded by the project's own loader: same mantissa, scale and sign
//! (`serialize()`, 16 bytes).
//!
//! It lives in `benches` because this crate already depends on both `data` (the loader and the
//! shared-data locator) and `sim`; `sim` cannot depend on `data`, and a `cli` test would add
//! nothing but a longer build. In CI (`CI=true`) missing shared data fails the test.

use ringfence_data::load::{
    FileSpec, GapPolicy, LoadOptions, SymbolSources, load_dir, load_market,
};
use ringfence_data::testing::shared_data;
use ringfence_model::Market;
use ringfence_model::symbol::Symbol;
use ringfence_sim::{f64_to_decimal, f64_to_decimal_fast};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use std::path::Path;

/// Values checked, how many of them took the closed form (not the fallback), and how many were
/// NaN (gaps, missing mark values).
#[derive(Default)]
struct Tally {
    values: usize,
    fast: usize,
    non_finite: usize,
}

impl Tally {
    fn check(&mut self, what: &str, xs: &[f64]) {
        for &x in xs {
            let got = f64_to_decimal(x);
            let want = Decimal::from_f64(x).unwrap_or(Decimal::ZERO);
            assert_eq!(
                got.serialize(),
                want.serialize(),
                "{what}: {x:e} (bits {:#018x}) gives {got}, from_f64 {want}",
                x.to_bits()
            );
            self.values += 1;
            self.fast += usize::from(f64_to_decimal_fast(x).is_some());
            self.non_finite += usize::from(!x.is_finite());
        }
    }

    fn market(&mut self, name: &str, m: &Market) {
        for s in &m.series {
            let what = format!("{name} {}", s.symbol);
            for col in [&s.open, &s.high, &s.low, &s.close] {
                self.check(&what, col);
            }
            if let Some(v) = &s.volume {
                self.check(&what, v);
            }
            if let Some(mark) = &s.mark {
                for col in [&mark.open, &mark.high, &mark.low, &mark.close] {
                    self.check(&what, col);
                }
            }
            self.check(&what, &s.funding.rates);
        }
    }
}

fn options() -> LoadOptions {
    LoadOptions {
        gaps: GapPolicy::Fill,
        ..LoadOptions::default()
    }
}

/// Every `*-8h-mark.feather` of a directory read as 8h candles (the loader uses a mark file only
/// at the candle timeframe, so these would otherwise never be seen).
fn eight_hour_marks(dir: &Path) -> Market {
    let mut sources: Vec<SymbolSources> = std::fs::read_dir(dir)
        .expect("shared data directory lists")
        .filter_map(|e| {
            let path = e.expect("directory entry").path();
            let name = path.file_name()?.to_str()?.to_owned();
            let base = name.strip_suffix("_USDT_USDT-8h-mark.feather")?;
            Some(SymbolSources {
                symbol: Symbol::parse(&format!("{base}USDT")).expect("symbol"),
                candles: FileSpec::auto(path),
                mark: None,
                funding: None,
            })
        })
        .collect();
    sources.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    assert!(!sources.is_empty(), "no 8h mark files in {}", dir.display());
    load_market(&sources, 8 * 3_600_000, &options()).expect("8h mark files load")
}

#[test]
fn every_real_price_and_funding_rate_converts_like_from_f64() {
    let Some(data) = shared_data() else { return };
    let mut tally = Tally::default();
    for (dir, timeframes) in [
        ("harthor_binance_futures_2025", &["1h", "5m"][..]),
        ("carteroo1_binance_futures_2025", &["1h"][..]),
        ("freqtrade", &["1h", "5m"][..]),
    ] {
        let path = data.join(dir);
        for tf in timeframes {
            let market = load_dir(&path, tf, None, &options())
                .unwrap_or_else(|e| panic!("{dir} {tf} loads: {e}"));
            tally.market(&format!("{dir} {tf}"), &market);
        }
    }
    for dir in ["carteroo1_binance_futures_2025", "freqtrade"] {
        tally.market(
            &format!("{dir} 8h mark"),
            &eight_hour_marks(&data.join(dir)),
        );
    }
    eprintln!(
        "{} real values identical to from_f64; {} by the closed form, {} by the fallback ({} NaN)",
        tally.values,
        tally.fast,
        tally.values - tally.fast,
        tally.non_finite
    );
    assert!(tally.values > 1_000_000, "only {} values", tally.values);
    // prices and rates live in the closed form's range: only NaN takes the fallback
    assert_eq!(
        tally.fast + tally.non_finite,
        tally.values,
        "finite real values took the fallback"
    );
}
