//! One home for the rules of a policy and an account: which settings are valid, the leverage a call
//! gets, how big a position is (with the bracket's leverage cap), and which collateral assets count
//! as stable. The engine, the pre-signal checklist and the scenario loader all call these; none
//! keeps a copy.
//!
//! | rule | function |
//! |---|---|
//! | policy settings in range | [`validate`] |
//! | account settings in range | [`validate_account`] |
//! | leverage of a call | [`leverage`] (as called / fixed / capped, at least 1) |
//! | leverage the channel called, from a range | [`called_leverage`] |
//! | size of a position | [`notional`], then [`cap_leverage`] by the bracket of that notional |
//! | share of each level of an entry ladder | [`ladder_shares`] |
//! | stablecoin collateral (valued at 1, no market needed) | [`is_stable`] |

use crate::config::{
    Account, LeverageFromRange, LeverageRule, ModeRule, Policy, Sizing, StopDiscipline,
};
use crate::error::SimError;
use crate::num::flt;
use rust_decimal::Decimal;

/// The highest leverage a policy may name (the largest any venue's bracket table allows); the
/// bracket of each position's notional caps it further at run time.
pub const MAX_LEVERAGE: f64 = 125.0;

/// Collateral assets counted at 1 USDT (USDT itself is the wallet). Every other asset is valued
/// off its `<ASSET>USDT` market.
pub const STABLECOINS: [&str; 4] = ["USDT", "USDC", "BUSD", "FDUSD"];

/// Correlation windows shorter than this cannot give a correlation (three returns at least).
pub const MIN_CORRELATION_WINDOW: usize = 3;

/// True for a stablecoin of [`STABLECOINS`] (case and surrounding spaces ignored).
pub fn is_stable(asset: &str) -> bool {
    let a = asset.trim();
    STABLECOINS.iter().any(|s| s.eq_ignore_ascii_case(a))
}

/// Checks every setting of a policy. The error's key is `policy NAME.setting`, as in a scenario.
///
/// # Errors
/// [`SimError::BadConfig`] naming the setting and the value.
pub fn validate(p: &Policy) -> Result<(), SimError> {
    let bad = |key: &str, message: String| SimError::BadConfig {
        key: if key.is_empty() {
            format!("policy {}", p.name)
        } else {
            format!("policy {}.{key}", p.name)
        },
        message,
    };
    match &p.sizing {
        Sizing::FixedMargin(m) | Sizing::FixedNotional(m) if *m <= Decimal::ZERO => {
            return Err(bad("", format!("sizing amount {m} must be positive")));
        }
        Sizing::MarginFraction(x) | Sizing::RiskFraction(x) if !(*x > 0.0 && *x <= 1.0) => {
            return Err(bad("", format!("sizing fraction {x} is outside (0, 1]")));
        }
        _ => {}
    }
    let (key, lev) = match p.leverage {
        LeverageRule::AsCalled { default } => ("default_leverage", default),
        LeverageRule::Fixed(x) => ("leverage", x),
        LeverageRule::Capped(x) => ("max_leverage", x),
    };
    if !(1.0..=MAX_LEVERAGE).contains(&lev) {
        return Err(bad(key, format!("{lev} is outside [1, {MAX_LEVERAGE}]")));
    }
    if let StopDiscipline::Widen(x) = p.stops
        && !(x > 1.0 && x.is_finite())
    {
        return Err(bad("widen_factor", format!("{x} must be above 1")));
    }
    if let ModeRule::HybridCorrelation {
        max_correlation,
        window_bars,
    } = p.mode
    {
        if !(-1.0..=1.0).contains(&max_correlation) {
            return Err(bad(
                "max_correlation",
                format!("{max_correlation} is outside [-1, 1]"),
            ));
        }
        if window_bars < MIN_CORRELATION_WINDOW {
            return Err(bad(
                "correlation_window",
                format!("{window_bars} bars is too short (at least {MIN_CORRELATION_WINDOW} bars)"),
            ));
        }
    }
    let w = &p.target_weights;
    if w.iter().any(|x| x.is_nan() || *x <= 0.0) || w.iter().sum::<f64>() > 1.0 + 1e-9 {
        return Err(bad(
            "target_weights",
            format!("{w:?} must be positive and sum to at most 1"),
        ));
    }
    if p.max_open == Some(0) {
        return Err(bad("max_open", "0 would skip every signal".into()));
    }
    Ok(())
}

/// Checks an account's own settings (what needs no market data): collateral present and not
/// negative, background positions with a positive quantity and leverage of at least 1.
///
/// # Errors
/// [`SimError::BadAccount`] naming the asset or background position and the value.
pub fn validate_account(a: &Account) -> Result<(), SimError> {
    let bad = |message: String| SimError::BadAccount {
        account: a.name.clone(),
        message,
    };
    if a.collateral.is_empty() {
        return Err(bad("collateral is empty".into()));
    }
    for (asset, amount) in &a.collateral {
        if *amount < Decimal::ZERO {
            return Err(bad(format!("collateral.{asset}: {amount} is negative")));
        }
    }
    for (k, bg) in a.background.iter().enumerate() {
        if bg.qty <= Decimal::ZERO || bg.leverage < Decimal::ONE {
            return Err(bad(format!(
                "background[{k}]: qty {} must be positive and leverage {} at least 1",
                bg.qty, bg.leverage
            )));
        }
    }
    Ok(())
}

/// The leverage a call gets under `rule` (`called`: what the channel said), at least 1; a
/// non-finite result counts as 1.
pub fn leverage(rule: &LeverageRule, called: Option<f64>) -> f64 {
    let lev = match *rule {
        LeverageRule::AsCalled { default } => called.unwrap_or(default),
        LeverageRule::Fixed(x) => x,
        LeverageRule::Capped(x) => called.map_or(x, |c| c.min(x)),
    };
    if lev.is_finite() && lev >= 1.0 {
        lev
    } else {
        1.0
    }
}

/// The leverage the channel called: `low` alone, or for a range `low..high` the end `choice`
/// picks. `None` when the call names none.
pub fn called_leverage(
    choice: LeverageFromRange,
    low: Option<f64>,
    high: Option<f64>,
) -> Option<f64> {
    match (low, high) {
        (Some(lo), Some(hi)) => Some(match choice {
            LeverageFromRange::Low => lo,
            LeverageFromRange::High => hi,
            LeverageFromRange::Mid => (lo + hi) / 2.0,
        }),
        (low, _) => low,
    }
}

/// The share of the call's size each level of an entry ladder gets, summing to 1: the given
/// relative weights normalised; a level without a weight gets the mean of the given ones (all
/// equal when none is given).
pub fn ladder_shares(weights: &[Option<f64>]) -> Vec<f64> {
    let given: Vec<f64> = weights
        .iter()
        .flatten()
        .copied()
        .filter(|w| w.is_finite() && *w > 0.0)
        .collect();
    let fill = if given.is_empty() {
        1.0
    } else {
        given.iter().sum::<f64>() / given.len() as f64
    };
    let raw: Vec<f64> = weights
        .iter()
        .map(|w| w.filter(|w| w.is_finite() && *w > 0.0).unwrap_or(fill))
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| w / total).collect()
}

/// The notional (USDT) a position gets at leverage `lev`: `equity` is the account's equity for
/// sizing, `price` the entry price, `stop` the stop in force. `None` when risk sizing has no
/// stop (or a stop at the entry price) to size against.
pub fn notional(
    sizing: &Sizing,
    lev: f64,
    equity: f64,
    price: f64,
    stop: Option<f64>,
) -> Option<f64> {
    match sizing {
        Sizing::FixedMargin(m) => Some(flt(*m) * lev),
        Sizing::MarginFraction(x) => Some(x * equity * lev),
        Sizing::RiskFraction(x) => {
            let dist = (price - stop?).abs();
            (dist > 0.0).then(|| x * equity / dist * price)
        }
        Sizing::FixedNotional(n) => Some(flt(*n)),
    }
}

/// Lowers `lev` to the maximum leverage of the bracket its notional lands in, until it fits
/// (`notional_at(lev)`: the notional at a leverage, as [`notional`]; `max_leverage(n)`: the
/// maximum leverage of the bracket holding notional `n`, as [`crate::margin::max_leverage_of`]). Returns the
/// leverage and notional, or `None` when `notional_at` gives none.
pub fn cap_leverage(
    max_leverage: impl Fn(f64) -> f64,
    mut lev: f64,
    notional_at: impl Fn(f64) -> Option<f64>,
) -> Option<(f64, f64)> {
    let mut n = notional_at(lev)?;
    for _ in 0..64 {
        let max = max_leverage(n);
        if lev <= max {
            break;
        }
        lev = max;
        n = notional_at(lev)?;
    }
    Some((lev, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackgroundPosition;
    use ringfence_model::{MarginMode, Side, Symbol};
    use rust_decimal_macros::dec as d;

    fn policy() -> Policy {
        Policy::new("p", ModeRule::Isolated, Sizing::FixedMargin(d!(50)))
    }

    fn err(p: &Policy) -> String {
        validate(p).unwrap_err().to_string()
    }

    #[test]
    fn stablecoins_are_one_list() {
        for a in ["USDT", "usdc", " BUSD ", "FDUSD"] {
            assert!(is_stable(a), "{a}");
        }
        for a in ["BTC", "ETH", "USDE", ""] {
            assert!(!is_stable(a), "{a}");
        }
    }

    #[test]
    fn leverage_bounds_are_one_and_125_for_every_rule() {
        assert!(validate(&policy()).is_ok());
        let mut p = policy();
        p.leverage = LeverageRule::Fixed(126.0);
        assert_eq!(err(&p), "policy p.leverage: 126 is outside [1, 125]");
        p.leverage = LeverageRule::Capped(0.5);
        assert_eq!(err(&p), "policy p.max_leverage: 0.5 is outside [1, 125]");
        p.leverage = LeverageRule::AsCalled { default: f64::NAN };
        assert!(err(&p).starts_with("policy p.default_leverage: NaN"));
        p.leverage = LeverageRule::Fixed(125.0);
        assert!(validate(&p).is_ok());
    }

    #[test]
    fn every_setting_is_checked() {
        type Change = Box<dyn Fn(&mut Policy)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|p| p.sizing = Sizing::FixedMargin(d!(0))),
                "policy p: sizing amount 0 must be positive",
            ),
            (
                Box::new(|p| p.sizing = Sizing::MarginFraction(1.5)),
                "policy p: sizing fraction 1.5 is outside (0, 1]",
            ),
            (
                Box::new(|p| p.stops = StopDiscipline::Widen(1.0)),
                "policy p.widen_factor: 1 must be above 1",
            ),
            (
                Box::new(|p| {
                    p.mode = ModeRule::HybridCorrelation {
                        max_correlation: 0.5,
                        window_bars: 2,
                    }
                }),
                "policy p.correlation_window: 2 bars is too short (at least 3 bars)",
            ),
            (
                Box::new(|p| {
                    p.mode = ModeRule::HybridCorrelation {
                        max_correlation: 1.5,
                        window_bars: 72,
                    }
                }),
                "policy p.max_correlation: 1.5 is outside [-1, 1]",
            ),
            (
                Box::new(|p| p.target_weights = vec![0.6, 0.6]),
                "policy p.target_weights: [0.6, 0.6] must be positive and sum to at most 1",
            ),
            (
                Box::new(|p| p.max_open = Some(0)),
                "policy p.max_open: 0 would skip every signal",
            ),
        ];
        for (change, want) in cases {
            let mut p = policy();
            change(&mut p);
            assert_eq!(err(&p), want);
        }
    }

    #[test]
    fn accounts_are_checked_without_market_data() {
        let mut a = Account {
            name: "a".into(),
            collateral: vec![("USDT".into(), d!(100))],
            background: Vec::new(),
            fee_multiplier: Decimal::ONE,
        };
        assert!(validate_account(&a).is_ok());
        a.collateral.push(("BTC".into(), d!(-1)));
        assert_eq!(
            validate_account(&a).unwrap_err().to_string(),
            "account a: collateral.BTC: -1 is negative"
        );
        a.collateral.pop();
        a.background.push(BackgroundPosition {
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            side: Side::Long,
            qty: d!(1),
            leverage: d!(0.5),
            mode: MarginMode::Cross,
            open_time: 0,
        });
        assert!(
            validate_account(&a)
                .unwrap_err()
                .to_string()
                .contains("background[0]: qty 1 must be positive and leverage 0.5 at least 1")
        );
        a.collateral.clear();
        a.background.clear();
        assert_eq!(
            validate_account(&a).unwrap_err().to_string(),
            "account a: collateral is empty"
        );
    }

    #[test]
    fn leverage_of_a_call() {
        let called = Some(50.0);
        assert_eq!(
            leverage(&LeverageRule::AsCalled { default: 10.0 }, called),
            50.0
        );
        assert_eq!(
            leverage(&LeverageRule::AsCalled { default: 10.0 }, None),
            10.0
        );
        assert_eq!(leverage(&LeverageRule::Fixed(5.0), called), 5.0);
        assert_eq!(leverage(&LeverageRule::Capped(20.0), called), 20.0);
        assert_eq!(leverage(&LeverageRule::Capped(20.0), Some(3.0)), 3.0);
        assert_eq!(
            leverage(&LeverageRule::AsCalled { default: 10.0 }, Some(0.2)),
            1.0
        );
    }

    #[test]
    fn leverage_ranges_and_ladder_shares() {
        use LeverageFromRange::*;
        assert_eq!(called_leverage(Low, Some(5.0), Some(10.0)), Some(5.0));
        assert_eq!(called_leverage(High, Some(5.0), Some(10.0)), Some(10.0));
        assert_eq!(called_leverage(Mid, Some(5.0), Some(10.0)), Some(7.5));
        assert_eq!(called_leverage(High, Some(20.0), None), Some(20.0));
        assert_eq!(called_leverage(Mid, None, None), None);
        assert_eq!(ladder_shares(&[None, None, None, None]), vec![0.25; 4]);
        assert_eq!(ladder_shares(&[Some(1.0), Some(3.0)]), vec![0.25, 0.75]);
        // the unweighted level gets the mean of the given weights (2)
        assert_eq!(
            ladder_shares(&[Some(1.0), None, Some(3.0)]),
            vec![1.0 / 6.0, 2.0 / 6.0, 0.5]
        );
    }

    #[test]
    fn sizing_and_the_bracket_cap() {
        assert_eq!(
            notional(&Sizing::FixedMargin(d!(50)), 10.0, 0.0, 100.0, None),
            Some(500.0)
        );
        assert_eq!(
            notional(&Sizing::MarginFraction(0.1), 10.0, 1000.0, 100.0, None),
            Some(1000.0)
        );
        // risk 1 % of 1000 to a stop 5 away at 100: 2 units, 200 USDT, whatever the leverage
        assert_eq!(
            notional(&Sizing::RiskFraction(0.01), 3.0, 1000.0, 100.0, Some(95.0)),
            Some(200.0)
        );
        assert_eq!(
            notional(&Sizing::RiskFraction(0.01), 3.0, 1000.0, 100.0, None),
            None
        );
        // BTCUSDT late 2024: 125x up to 50k notional, 100x up to 600k
        let tiers = crate::binance_default_brackets()
            .table(&Symbol::parse("BTCUSDT").unwrap(), i64::MAX)
            .unwrap()
            .to_vec();
        let at = |lev: f64| notional(&Sizing::FixedMargin(d!(1000)), lev, 0.0, 1.0, None);
        // 1000 × 125 = 125k lands in the 100x bracket: 100x, 100k
        let max = |n| crate::margin::max_leverage_of(&tiers, n);
        assert_eq!(cap_leverage(max, 125.0, at), Some((100.0, 100_000.0)));
        assert_eq!(cap_leverage(max, 20.0, at), Some((20.0, 20_000.0)));
    }
}
