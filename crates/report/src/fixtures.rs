//! Hand-built, deterministic [`ReportInput`]s for tests and for looking at the report
//! (feature `fixtures`; always compiled for this crate's tests).
//!
//! [`sample`] is realistic: 2 accounts (`small`: 1,000 USDT; `btc-stack`: 5,000 USDT + 0.1 BTC
//! with a background BTC long), 3 policies (`isolated`, `cross`, `hybrid`), a two-axis sweep
//! (`lev` 10/20 × `margin` 0.05/0.10), four weeks of hourly equity with a market-wide crash,
//! cross cascades with culprits and victims, skipped signals, data warnings, assumptions and a
//! pre-signal checklist. The numbers are made up to look plausible; they are not simulated.

use crate::checklist::{ChannelSummary, CheckedCall, ChecklistSection, Verdict};
use crate::{PriceSeries, ReportInput};
use ringfence_model::{
    DataWarning, EquityPoint, LiquidatedPosition, LiquidationEvent, MarginMode, RunResult,
    RunSummary, Side, SkippedSignal, Symbol, WarningKind,
};
use rust_decimal::Decimal;

/// 2024-03-01T00:00:00Z.
pub const START_MS: i64 = 1_709_251_200_000;
const HOUR: i64 = 3_600_000;
/// Hourly bars in the sample (four weeks).
pub const HOURS: usize = 24 * 28;
/// First hour of the crash.
pub const CRASH_HOUR: usize = 24 * 18 + 13;

fn d(v: f64) -> Decimal {
    Decimal::try_from(v).unwrap_or_default().round_dp(2)
}

fn sym(s: &str) -> Symbol {
    // The fixture's own constant names; parse cannot fail on them.
    Symbol::parse(s).unwrap_or_else(|_| Symbol::parse("BTCUSDT").expect("constant symbol"))
}

/// A small deterministic generator (64-bit LCG) so the fixture needs no `rand`.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly standard normal (sum of uniforms).
    fn normal(&mut self) -> f64 {
        (0..6).map(|_| self.uniform()).sum::<f64>() - 3.0
    }
}

/// The common market factor (log price, 0 at the start), hourly, with the crash.
fn market_factor() -> Vec<f64> {
    let mut rng = Lcg(7);
    let mut m = Vec::with_capacity(HOURS);
    let mut x = 0.0;
    for h in 0..HOURS {
        let shock = if (CRASH_HOUR..CRASH_HOUR + 6).contains(&h) {
            -0.032
        } else if (CRASH_HOUR + 6..CRASH_HOUR + 18).contains(&h) {
            0.006
        } else {
            0.0003
        };
        x += shock + 0.004 * rng.normal();
        m.push(x);
    }
    m
}

fn price_series(factor: &[f64]) -> Vec<PriceSeries> {
    let specs = [
        ("BTCUSDT", 62_000.0, 1.0, 11),
        ("ETHUSDT", 3_400.0, 1.2, 12),
        ("SOLUSDT", 130.0, 1.6, 13),
    ];
    specs
        .iter()
        .map(|&(s, p0, beta, seed)| {
            let mut rng = Lcg(seed);
            let mut idio = 0.0;
            let close = factor
                .iter()
                .map(|m| {
                    idio += 0.003 * rng.normal();
                    p0 * (beta * m + idio).exp()
                })
                .collect();
            PriceSeries {
                symbol: sym(s),
                times: (0..HOURS as i64).map(|h| START_MS + h * HOUR).collect(),
                close,
            }
        })
        .collect()
}

fn close_at(prices: &[PriceSeries], symbol: &str, hour: usize) -> f64 {
    prices
        .iter()
        .find(|p| p.symbol.as_str() == symbol)
        .and_then(|p| p.close.get(hour.min(HOURS - 1)).copied())
        .unwrap_or(1.0)
}

#[allow(clippy::too_many_arguments)] // a fixture helper: plain positional data
fn position(
    prices: &[PriceSeries],
    id: &str,
    symbol: &str,
    side: Side,
    hour: usize,
    loss_beyond: f64,
    upnl: f64,
    culprit: bool,
) -> LiquidatedPosition {
    LiquidatedPosition {
        signal_id: id.into(),
        symbol: sym(symbol),
        side,
        price: close_at(prices, symbol, hour),
        loss_beyond_margin: d(loss_beyond),
        upnl: d(upnl),
        culprit,
    }
}

fn event(
    hour: usize,
    mode: MarginMode,
    positions: Vec<LiquidatedPosition>,
    margin_balance: f64,
    maintenance: f64,
    wipeout: bool,
) -> LiquidationEvent {
    let notional_fee = 0.0125 * maintenance * 10.0;
    LiquidationEvent {
        time: START_MS + hour as i64 * HOUR,
        mode,
        margin_ratio: if margin_balance > 0.0 {
            maintenance / margin_balance
        } else {
            9.99
        },
        book_correlation: (mode == MarginMode::Cross && positions.len() > 1).then_some(0.82),
        positions,
        margin_balance: d(margin_balance),
        maintenance: d(maintenance),
        clearance_fee: d(notional_fee.min(margin_balance.max(0.0))),
        insurance_shortfall: d(if wipeout { 3.5 } else { 0.0 }),
        wipeout,
        after_adl: None,
    }
}

/// Liquidation events of one run, by policy and exposure (`lev × margin`).
fn liquidations(
    prices: &[PriceSeries],
    account: &str,
    policy: &str,
    exposure: f64,
    start: f64,
) -> Vec<LiquidationEvent> {
    let c = CRASH_HOUR;
    let bg = account == "btc-stack";
    let mut out = Vec::new();
    let isolated_n = ((exposure * 2.0).round() as usize).clamp(1, 4);
    let iso = |out: &mut Vec<LiquidationEvent>, n: usize| {
        let calls = [
            ("c-41", "SOLUSDT", Side::Long),
            ("c-44", "ETHUSDT", Side::Long),
            ("c-45", "BTCUSDT", Side::Long),
            ("c-39", "SOLUSDT", Side::Long),
        ];
        for (k, (id, s, side)) in calls.iter().take(n).enumerate() {
            let m = start * 0.05;
            out.push(event(
                c + 2 + k,
                MarginMode::Isolated,
                vec![position(prices, id, s, *side, c + 2 + k, 0.0, -m, true)],
                m * 0.1,
                m * 0.1,
                false,
            ));
        }
    };
    match policy {
        "isolated" => iso(&mut out, isolated_n),
        "cross" if exposure >= 0.9 => {
            let mut positions = vec![
                position(
                    prices,
                    "c-41",
                    "SOLUSDT",
                    Side::Long,
                    c + 4,
                    start * 0.12 * exposure,
                    -start * 0.2 * exposure,
                    true,
                ),
                position(
                    prices,
                    "c-44",
                    "ETHUSDT",
                    Side::Long,
                    c + 4,
                    0.0,
                    -start * 0.03,
                    false,
                ),
                position(
                    prices,
                    "c-40",
                    "BTCUSDT",
                    Side::Short,
                    c + 4,
                    0.0,
                    start * 0.02,
                    false,
                ),
            ];
            if bg {
                positions.push(position(
                    prices,
                    "bg:1",
                    "BTCUSDT",
                    Side::Long,
                    c + 4,
                    0.0,
                    -start * 0.04,
                    false,
                ));
            }
            let wipe = exposure >= 1.9;
            out.push(event(
                c + 4,
                MarginMode::Cross,
                positions,
                start * 0.02,
                start * 0.021,
                wipe,
            ));
            if exposure >= 1.9 {
                out.push(event(
                    c + 60,
                    MarginMode::Cross,
                    vec![position(
                        prices,
                        "c-52",
                        "ETHUSDT",
                        Side::Long,
                        c + 60,
                        start * 0.01,
                        -start * 0.05,
                        true,
                    )],
                    start * 0.004,
                    start * 0.0041,
                    false,
                ));
            }
        }
        "cross" => {}
        _ => {
            // hybrid: the correlated alt calls isolated, the rest cross.
            iso(&mut out, isolated_n.saturating_sub(1).max(1));
            if exposure >= 1.5 {
                let mut positions = vec![
                    position(
                        prices,
                        "c-44",
                        "ETHUSDT",
                        Side::Long,
                        c + 5,
                        start * 0.05,
                        -start * 0.09,
                        true,
                    ),
                    position(
                        prices,
                        "c-40",
                        "BTCUSDT",
                        Side::Short,
                        c + 5,
                        0.0,
                        start * 0.01,
                        false,
                    ),
                ];
                if bg {
                    positions.push(position(
                        prices,
                        "bg:1",
                        "BTCUSDT",
                        Side::Long,
                        c + 5,
                        0.0,
                        -start * 0.04,
                        false,
                    ));
                }
                out.push(event(
                    c + 5,
                    MarginMode::Cross,
                    positions,
                    start * 0.03,
                    start * 0.031,
                    false,
                ));
            }
        }
    }
    out
}

fn equity_curve(
    factor: &[f64],
    start: f64,
    exposure: f64,
    events: &[LiquidationEvent],
    seed: u64,
) -> Vec<EquityPoint> {
    let mut rng = Lcg(seed);
    let mut peak = start;
    let mut level = start;
    let mut noise = 0.0;
    let mut out = Vec::with_capacity(HOURS);
    let mut exp_now = exposure;
    for (h, m) in factor.iter().enumerate() {
        let t = START_MS + h as i64 * HOUR;
        let dm = if h == 0 { 0.0 } else { m - factor[h - 1] };
        noise = 0.9 * noise + 0.002 * rng.normal();
        level *= 1.0 + exp_now * 0.7 * dm + 0.0004 * exposure + noise * 0.1;
        for e in events.iter().filter(|e| e.time == t) {
            let hit: f64 = e
                .positions
                .iter()
                .map(|p| {
                    let beyond: f64 = p.loss_beyond_margin.to_string().parse().unwrap_or(0.0);
                    start * 0.05 + beyond
                })
                .sum();
            level -= hit;
            exp_now *= 0.6;
            if e.wipeout {
                level = 0.0;
            }
        }
        level = level.max(0.0);
        peak = peak.max(level);
        let open = ((exp_now * 3.0).round() as u32).max(u32::from(level > 0.0));
        out.push(EquityPoint {
            time: t,
            equity: level,
            drawdown: if peak > 0.0 { 1.0 - level / peak } else { 0.0 },
            margin_ratio: (0.1 * exp_now).min(1.0),
            open_positions: open,
            book_correlation: None,
            correlated_exposure: 0.0,
        });
        if level <= 0.0 {
            // A wiped-out account stays flat at zero.
            exp_now = 0.0;
            level = 0.0;
        }
    }
    out
}

fn skipped(policy: &str, lev: u32, margin: f64, start: f64) -> Vec<SkippedSignal> {
    let mut v = vec![SkippedSignal {
        signal_id: "c-47".into(),
        time: START_MS + (CRASH_HOUR as i64 + 9) * HOUR,
        symbol: Some(sym("SOLUSDT")),
        reason: format!(
            "insufficient margin: needs {:.2} USDT, free {:.2} USDT",
            start * margin,
            start * margin * 0.4
        ),
    }];
    if lev == 20 {
        v.push(SkippedSignal {
            signal_id: "c-12".into(),
            time: START_MS + 30 * HOUR,
            symbol: Some(sym("ETHUSDT")),
            reason: "max open positions (4) reached; stop distance <0.5% & \"tight\"".into(),
        });
    }
    if policy == "hybrid" {
        v.push(SkippedSignal {
            signal_id: "c-33".into(),
            time: START_MS + 200 * HOUR,
            symbol: None,
            reason: "correlation with the open cross book 0.91 above ρ = 0.80 and isolated budget exhausted".into(),
        });
    }
    v
}

/// The realistic sample with the given sweep values (`lev` × `margin`).
pub fn sample_with(levs: &[u32], margins: &[f64]) -> ReportInput {
    let factor = market_factor();
    let prices = price_series(&factor);
    let accounts = [("small", 1_000.0), ("btc-stack", 5_000.0 + 0.1 * 62_000.0)];
    let policies = ["isolated", "cross", "hybrid"];
    let mut runs = Vec::new();
    let mut seed = 100;
    for (account, start) in accounts {
        for policy in policies {
            for &lev in levs {
                for &margin in margins {
                    seed += 1;
                    let exposure = f64::from(lev) * margin;
                    let liqs = liquidations(&prices, account, policy, exposure, start);
                    let equity = equity_curve(&factor, start, exposure, &liqs, seed);
                    let last = equity.last().map_or(start, |p| p.equity);
                    let max_dd = equity.iter().map(|p| p.drawdown).fold(0.0, f64::max);
                    let skipped = skipped(policy, lev, margin, start);
                    let cascades = liqs.iter().filter(|e| e.is_cascade()).count() as u32;
                    let victims = liqs
                        .iter()
                        .filter(|e| e.is_cascade())
                        .flat_map(|e| e.positions.iter().filter(|p| !p.culprit))
                        .count() as u32;
                    let wipeouts = liqs.iter().filter(|e| e.wipeout).count() as u32;
                    let n = liqs.len() as u32;
                    let summary = RunSummary {
                        start_equity: d(start),
                        final_equity: d(last),
                        return_pct: 100.0 * (last / start - 1.0),
                        max_drawdown_pct: 100.0 * max_dd,
                        liquidations: n,
                        cascades,
                        cascade_victims: victims,
                        wipeouts,
                        insurance_shortfall: liqs.iter().map(|e| e.insurance_shortfall).sum(),
                        fees: d(start * 0.004 * exposure),
                        funding: d(-start * 0.0015 * exposure),
                        trades: 38 + lev / 10,
                        skipped_signals: skipped.len() as u32,
                        win_rate: 0.52 - 0.04 * exposure,
                        profit_factor: if policy == "isolated" { 1.12 } else { 0.93 }
                            - 0.05 * exposure,
                    };
                    runs.push(RunResult {
                        run: format!("{account}/{policy}/lev={lev}/margin={margin}"),
                        account: account.to_string(),
                        policy: policy.to_string(),
                        params: vec![
                            ("lev".into(), lev.to_string()),
                            ("margin".into(), margin.to_string()),
                        ],
                        trades: Vec::new(),
                        liquidations: liqs,
                        equity,
                        skipped,
                        summary,
                        liquidation_band: Some((n, n.saturating_sub(1 + lev / 20))),
                        adl: Vec::new(),
                        adl_off_final_equity: None,
                    });
                }
            }
        }
    }
    ReportInput {
        title: "demo-channel <2024-03>".to_string(),
        generated_by: "ringfence 0.1.0 (fixture)".to_string(),
        runs,
        prices,
        warnings: vec![
            DataWarning {
                symbol: Some(sym("SOLUSDT")),
                kind: WarningKind::MissingMark,
                message: "no mark-price data: liquidations checked against last price".into(),
            },
            DataWarning {
                symbol: Some(sym("SOLUSDT")),
                kind: WarningKind::MissingFunding,
                message: "no funding data: funding assumed zero".into(),
            },
            DataWarning {
                symbol: Some(sym("ETHUSDT")),
                kind: WarningKind::GapFilled,
                message:
                    "3 missing 1h bars filled from 2024-03-09T02:00:00Z to 2024-03-09T04:00:00Z"
                        .into(),
            },
        ],
        assumptions: vec![
            (
                "intrabar model".into(),
                "adverse (band: adverse and close)".into(),
            ),
            (
                "liquidation price".into(),
                "mark price for BTCUSDT, ETHUSDT; last price for SOLUSDT (no mark data)".into(),
            ),
            (
                "bracket snapshot".into(),
                "binance_leverage_tiers.json, 2024-11-20".into(),
            ),
            (
                "fees".into(),
                "taker 0.05%, maker 0.02%, clearance 1.25%".into(),
            ),
            (
                "funding source".into(),
                "Binance funding-rate CSVs, 8h settlements".into(),
            ),
            ("slippage".into(), "5 bps against the trader".into()),
            ("entry delay".into(), "1 bar after the message".into()),
        ],
        checklist: Some(checklist()),
        claims: None,
        sweep: None,
    }
}

/// Two checked calls of the sample's channel: one to skip (stop beyond the liquidation price), one
/// cross-ok.
fn checklist() -> ChecklistSection {
    let call = |id: &str, symbol: &str, hour: usize, verdict: Verdict| CheckedCall {
        signal_id: id.into(),
        time: START_MS + hour as i64 * HOUR,
        time_iso: ringfence_model::time::iso(START_MS + hour as i64 * HOUR),
        symbol: sym(symbol),
        side: Side::Long,
        reference_price: Some(145.2),
        stop: Some(120.0),
        leverage: 20.0,
        liq_price: Some(139.1),
        stop_distance_pct: Some(17.36),
        liq_distance_pct: Some(4.2),
        max_safe_leverage: Some(5.4),
        max_book_correlation: Some(0.81),
        margin_share: Some(0.05),
        funding_headwind_pct: Some(0.012),
        tier: Some(1),
        adl_quantile_at_target: None,
        adl_first_margin_share: None,
        verdict,
        reasons: match verdict {
            Verdict::Skip => vec!["stop beyond liquidation price <20x>".into()],
            _ => vec![],
        },
        notes: vec!["funding & fees included".into()],
    };
    ChecklistSection {
        run: "small/isolated/lev=10/margin=0.05".into(),
        channels: vec![ChannelSummary {
            channel: "calls.csv".into(),
            calls: 2,
            calls_with_stop: 2,
            stop_beyond_liq_share: Some(0.5),
            cross_runs: 4,
            cascade_victim_share: Some(0.25),
            median_safe_leverage: Some(5.4),
            cross_ok: 1,
            isolated: 0,
            skip: 1,
        }],
        calls: vec![
            call("c-40", "BTCUSDT", 100, Verdict::CrossOk),
            call("c-41", "SOLUSDT", 200, Verdict::Skip),
        ],
    }
}

/// The realistic sample: `lev` 10/20 × `margin` 0.05/0.10 (24 runs).
pub fn sample() -> ReportInput {
    sample_with(&[10, 20], &[0.05, 0.10])
}

/// One run (account `small`, policy `isolated`), no liquidations, no sweep.
pub fn single_run_no_liquidations() -> ReportInput {
    let mut input = sample_with(&[10], &[0.05]);
    input.runs.truncate(1);
    for r in &mut input.runs {
        r.liquidations.clear();
        r.summary.liquidations = 0;
        r.summary.cascades = 0;
        r.summary.cascade_victims = 0;
        r.summary.wipeouts = 0;
        r.params.clear();
        r.liquidation_band = None;
    }
    input.prices.truncate(1);
    input
}
