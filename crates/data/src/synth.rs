//! The demo market generator (DESIGN.md §3 "Demo dataset"): a seeded, deterministic synthetic
//! market of correlated USDT perpetuals with a market-wide crash, and a demo signal channel over it.
//!
//! # Model
//! - Returns are built on a 5-minute grid for the whole period and aggregated to 1-hour bars, so
//!   the 1h OHLC always equal the aggregation of their twelve 5m sub-bars.
//! - Per hour, a common market factor with GARCH(1,1) volatility (clustering) and Student-t
//!   innovations (fat tails) drives every symbol through a per-symbol beta; each symbol adds an
//!   idiosyncratic Student-t move whose scale follows the same volatility state.
//! - The market drifts through regimes: a grind up, a pull-back, a run-up into the crash, a
//!   sell-off after it, then sideways.
//! - One crash (by default on day 101 at 21:00 UTC): a sell-off hour, then an hour whose 5m lows
//!   spike far down (alts deeper than BTC, like 2025-10-10) and recover to close well above the lows.
//! - Mark prices lag the last price (a weighted blend of the current and previous close) and
//!   shave wicks (a mark wick is 80–97 % of the last-price wick).
//! - Funding every 8 h at 00/08/16 UTC follows the symbol's trailing 3-day trend: positive in
//!   run-ups, negative after the crash.
//!
//! Randomness comes from one [`ChaCha8Rng`] seeded with [`SynthConfig::seed`], drawn in a fixed
//! order; prices are rounded to each symbol's tick and written with a fixed number of decimals,
//! so the same seed gives the same bytes.

use crate::DataError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, StudentT};
use ringfence_model::time::{HOUR_MS, MINUTE_MS, iso};
use ringfence_model::{
    Action, EntrySpec, Funding, MarginMode, MarkColumns, Market, Side, SignalEvent, Symbol,
    SymbolSeries, TimestampMs,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const DAY_MS: TimestampMs = 24 * HOUR_MS;
const STEP_MS: TimestampMs = 5 * MINUTE_MS;
const STEPS_PER_HOUR: usize = 12;
/// The hour of day (UTC) at which the crash starts.
const CRASH_HOUR_OF_DAY: i64 = 21;
/// Maintenance margin rate assumed when judging whether a demo call's stop is beyond its
/// liquidation price (`LP ≈ entry × (1 − 1/lev + mmr)` for a long).
pub const DEMO_MMR: f64 = 0.005;

/// Settings of the generator.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Seed of the random generator: same seed, same market, same bytes.
    pub seed: u64,
    /// Length of the market in days (at least 90; smaller values are raised to 90).
    pub days: u32,
    /// Open time of the first bar (ms UTC; rounded down to a whole day).
    pub start: TimestampMs,
    /// Day (0-based, from `start`) of the crash at 21:00 UTC; clamped to `[14, days - 3]`.
    pub crash_day: u32,
    /// Days of 5m bars written around the crash (the window starts the day before it).
    pub fine_window_days: u32,
    /// Number of `open` calls in the demo channel (at least 60).
    pub calls: u32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 7,
            days: 120,
            // 2025-07-01T00:00:00Z
            start: 1_751_328_000_000,
            crash_day: 101,
            fine_window_days: 3,
            calls: 72,
        }
    }
}

impl SynthConfig {
    /// The configuration actually used: days >= 90, start on a day boundary, crash day in range,
    /// fine window 1..=days, calls >= 60.
    pub fn normalised(&self) -> SynthConfig {
        let days = self.days.max(90);
        SynthConfig {
            seed: self.seed,
            days,
            start: self.start.div_euclid(DAY_MS) * DAY_MS,
            crash_day: self.crash_day.clamp(14, days - 3),
            fine_window_days: self.fine_window_days.clamp(1, 3),
            calls: self.calls.max(60),
        }
    }
}

/// Static description of one demo symbol.
struct Spec {
    base: &'static str,
    price: f64,
    tick: f64,
    decimals: usize,
    beta: f64,
    idio: f64,
    /// 5m low in the crash hour, as a fraction below the open of the sell-off hour.
    wick: f64,
    /// Sell-off hour's fall (fraction).
    pre: f64,
    /// Crash hour's close, as a fraction below the open of the sell-off hour.
    close_fall: f64,
    /// Typical volume per hour (base units).
    volume: f64,
    volume_decimals: usize,
}

/// Market factor's long-run hourly volatility (log returns).
const MARKET_VOL: f64 = 0.0043;

const SPECS: [Spec; 6] = [
    Spec {
        base: "BTC",
        price: 107_000.0,
        tick: 0.1,
        decimals: 1,
        beta: 1.0,
        idio: 0.0014,
        wick: 0.13,
        pre: 0.021,
        close_fall: 0.03,
        volume: 9_000.0,
        volume_decimals: 3,
    },
    Spec {
        base: "ETH",
        price: 2_480.0,
        tick: 0.01,
        decimals: 2,
        beta: 1.45,
        idio: 0.0032,
        wick: 0.155,
        pre: 0.033,
        close_fall: 0.035,
        volume: 250_000.0,
        volume_decimals: 3,
    },
    Spec {
        base: "SOL",
        price: 152.0,
        tick: 0.01,
        decimals: 2,
        beta: 1.6,
        idio: 0.0044,
        wick: 0.31,
        pre: 0.04,
        close_fall: 0.075,
        volume: 1_200_000.0,
        volume_decimals: 2,
    },
    Spec {
        base: "BNB",
        price: 655.0,
        tick: 0.01,
        decimals: 2,
        beta: 0.95,
        idio: 0.0032,
        wick: 0.335,
        pre: 0.03,
        close_fall: 0.10,
        volume: 60_000.0,
        volume_decimals: 2,
    },
    Spec {
        base: "XRP",
        price: 2.21,
        tick: 0.0001,
        decimals: 4,
        beta: 1.5,
        idio: 0.0046,
        wick: 0.56,
        pre: 0.067,
        close_fall: 0.13,
        volume: 60_000_000.0,
        volume_decimals: 1,
    },
    Spec {
        base: "DOGE",
        price: 0.165,
        tick: 0.00001,
        decimals: 5,
        beta: 1.7,
        idio: 0.0049,
        wick: 0.64,
        pre: 0.055,
        close_fall: 0.20,
        volume: 700_000_000.0,
        volume_decimals: 0,
    },
];

/// OHLC(V) bars on a regular grid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bars {
    /// Bar open times (ms UTC).
    pub times: Vec<TimestampMs>,
    /// Open.
    pub open: Vec<f64>,
    /// High.
    pub high: Vec<f64>,
    /// Low.
    pub low: Vec<f64>,
    /// Close.
    pub close: Vec<f64>,
    /// Base-asset volume (zero for mark bars).
    pub volume: Vec<f64>,
}

impl Bars {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True when there is no bar.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    fn push(&mut self, t: TimestampMs, o: f64, h: f64, l: f64, c: f64, v: f64) {
        self.times.push(t);
        self.open.push(o);
        self.high.push(h);
        self.low.push(l);
        self.close.push(c);
        self.volume.push(v);
    }

    /// Aggregates consecutive groups of `n` bars (the last partial group is dropped).
    fn aggregate(&self, n: usize) -> Bars {
        let mut out = Bars::default();
        for g in 0..self.len() / n {
            let r = g * n..(g + 1) * n;
            let high = self.high[r.clone()]
                .iter()
                .copied()
                .fold(f64::MIN, f64::max);
            let low = self.low[r.clone()].iter().copied().fold(f64::MAX, f64::min);
            let volume = self.volume[r.clone()].iter().sum();
            out.push(
                self.times[r.start],
                self.open[r.start],
                high,
                low,
                self.close[r.end - 1],
                volume,
            );
        }
        out
    }

    /// The bars whose open time lies in `[from, to)`.
    fn window(&self, from: TimestampMs, to: TimestampMs) -> Bars {
        let a = self.times.partition_point(|&t| t < from);
        let b = self.times.partition_point(|&t| t < to);
        Bars {
            times: self.times[a..b].to_vec(),
            open: self.open[a..b].to_vec(),
            high: self.high[a..b].to_vec(),
            low: self.low[a..b].to_vec(),
            close: self.close[a..b].to_vec(),
            volume: self.volume[a..b].to_vec(),
        }
    }
}

/// One generated symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSeries {
    /// The symbol (`BTCUSDT`, ...).
    pub symbol: Symbol,
    /// Price tick every last price is rounded to.
    pub tick: f64,
    /// Decimals of the tick (how prices are written).
    pub decimals: usize,
    /// Decimals volumes are written with.
    pub volume_decimals: usize,
    /// 1h last-price bars over the whole period.
    pub bars_1h: Bars,
    /// 1h mark-price bars (volume zero).
    pub mark_1h: Bars,
    /// 5m last-price bars over the fine window around the crash.
    pub bars_5m: Bars,
    /// 5m mark-price bars over the fine window.
    pub mark_5m: Bars,
    /// Funding settlements every 8 h at 00/08/16 UTC.
    pub funding: Funding,
}

/// A demo call whose stop lies beyond its liquidation price at the called leverage.
#[derive(Debug, Clone, PartialEq)]
pub struct BadlyPlaced {
    /// The call's id.
    pub id: String,
    /// Symbol.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Entry used for the check (limit price, or the zone edge / market price nearest the stop side).
    pub entry: f64,
    /// The call's stop.
    pub stop: f64,
    /// Called leverage.
    pub leverage: f64,
    /// Liquidation price estimate `entry × (1 ∓ 1/lev ± mmr)` with [`DEMO_MMR`].
    pub liq_price: f64,
}

/// The generated market and demo channel.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthMarket {
    /// The configuration used (normalised).
    pub config: SynthConfig,
    /// Open time of the 1h bar in which the crash wicks happen.
    pub crash_time: TimestampMs,
    /// `[from, to)` of the 5m window.
    pub fine_window: (TimestampMs, TimestampMs),
    /// Symbols in a fixed order (BTC, ETH, SOL, BNB, XRP, DOGE).
    pub series: Vec<SynthSeries>,
    /// The demo channel, sorted by time.
    pub signals: Vec<SignalEvent>,
    /// Calls whose stop is beyond the liquidation price at the called leverage, by id.
    pub badly_placed: Vec<BadlyPlaced>,
}

impl SynthMarket {
    /// The 1h market (with the 5m window as [`Market::lower`]) in the engine's layout.
    pub fn to_market(&self) -> Market {
        let mut series: Vec<SymbolSeries> =
            self.series.iter().map(|s| to_series(s, false)).collect();
        series.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let mut lower: Vec<SymbolSeries> = self.series.iter().map(|s| to_series(s, true)).collect();
        lower.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let times = self.series[0].bars_1h.times.clone();
        let lower_times = self.series[0].bars_5m.times.clone();
        Market {
            timeframe_ms: HOUR_MS,
            times,
            series,
            lower: Some(Box::new(Market {
                timeframe_ms: STEP_MS,
                times: lower_times,
                series: lower,
                lower: None,
                warnings: Vec::new(),
            })),
            warnings: Vec::new(),
        }
    }
}

fn to_series(s: &SynthSeries, fine: bool) -> SymbolSeries {
    let (b, m) = if fine {
        (&s.bars_5m, &s.mark_5m)
    } else {
        (&s.bars_1h, &s.mark_1h)
    };
    let mut out = SymbolSeries {
        symbol: s.symbol.clone(),
        first: 0,
        end: b.len(),
        open: b.open.clone(),
        high: b.high.clone(),
        low: b.low.clone(),
        close: b.close.clone(),
        volume: Some(b.volume.clone()),
        mark: Some(MarkColumns {
            open: m.open.clone(),
            high: m.high.clone(),
            low: m.low.clone(),
            close: m.close.clone(),
        }),
        funding: s.funding.clone(),
        clean: false,
    };
    out.clean = out.all_bars_clean();
    out
}

/// Rounds to a tick of the form `10^-d`; dividing by the exact integer `10^d` yields the float
/// nearest the decimal value, so the value prints and parses back unchanged.
fn round_to(x: f64, tick: f64) -> f64 {
    let per_unit = (1.0 / tick).round();
    (x * per_unit).round() / per_unit
}

fn round_dec(x: f64, decimals: usize) -> f64 {
    let p = 10f64.powi(decimals as i32);
    (x * p).round() / p
}

/// Market drift per hour (log) at hour `h`, given the crash hour.
fn regime_drift(h: usize, crash: usize) -> f64 {
    let day = h / 24;
    let crash_day = crash / 24;
    if h > crash + 1 {
        let after = h - crash;
        if after < 72 { -0.0006 } else { 0.00002 }
    } else if day + 25 >= crash_day {
        // Run-up into the crash.
        0.00022
    } else if day * 3 >= crash_day * 2 {
        // Pull-back.
        -0.00018
    } else {
        0.00009
    }
}

/// Generates the demo market and its channel.
pub fn generate(cfg: &SynthConfig) -> SynthMarket {
    let cfg = cfg.normalised();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let hours = cfg.days as usize * 24;
    let steps = hours * STEPS_PER_HOUR;
    let crash_h = cfg.crash_day as usize * 24 + CRASH_HOUR_OF_DAY as usize;
    let n = SPECS.len();

    // Slight seed-dependent jitter of the crash profile (ordering of depths is kept).
    let jitter: Vec<f64> = (0..n).map(|_| rng.random_range(0.96..1.04)).collect();

    let t_market = StudentT::new(5.0).expect("valid degrees of freedom");
    let t_idio = StudentT::new(4.0).expect("valid degrees of freedom");
    let t_scale_m = (3.0f64 / 5.0).sqrt(); // unit variance for t(5)
    let t_scale_i = (2.0f64 / 4.0).sqrt(); // unit variance for t(4)

    // GARCH(1,1) on the hourly market factor.
    let (alpha, beta) = (0.08, 0.90);
    let omega = MARKET_VOL * MARKET_VOL * (1.0 - alpha - beta);
    let mut var = MARKET_VOL * MARKET_VOL;

    // Log prices at 5m step boundaries (steps + 1 points) and 5m wick sizes.
    let mut logp: Vec<Vec<f64>> = SPECS
        .iter()
        .map(|s| {
            let mut v = Vec::with_capacity(steps + 1);
            v.push(s.price.ln());
            v
        })
        .collect();
    let mut wick_up: Vec<Vec<f64>> = vec![Vec::with_capacity(steps); n];
    let mut wick_dn: Vec<Vec<f64>> = vec![Vec::with_capacity(steps); n];
    let mut vol_state: Vec<f64> = Vec::with_capacity(hours);

    for h in 0..hours {
        let sigma_m = var.sqrt();
        vol_state.push(sigma_m / MARKET_VOL);
        let drift = regime_drift(h, crash_h);
        let step_sigma = sigma_m / (STEPS_PER_HOUR as f64).sqrt();
        // The hour's total moves are Student-t (fat tails survive aggregation); the twelve 5m
        // increments are Gaussian noise bridged to add up to them.
        let zm: f64 = t_market.sample(&mut rng) * t_scale_m;
        let mut market_hour = drift + sigma_m * zm;
        let mut incs = vec![[0.0f64; STEPS_PER_HOUR]; n];
        let mut market_steps = [0.0f64; STEPS_PER_HOUR];
        for x in &mut market_steps {
            *x = step_sigma * rng.sample::<f64, _>(StandardNormal);
        }
        let market_steps = bridge(&market_steps, &[(0, 0.0), (STEPS_PER_HOUR, market_hour)]);
        for (i, s) in SPECS.iter().enumerate() {
            let zi: f64 = t_idio.sample(&mut rng) * t_scale_i;
            let idio_sigma = s.idio * (sigma_m / MARKET_VOL);
            let idio_total = idio_sigma * zi;
            let mut steps_i = [0.0f64; STEPS_PER_HOUR];
            for x in &mut steps_i {
                *x = idio_sigma / (STEPS_PER_HOUR as f64).sqrt()
                    * rng.sample::<f64, _>(StandardNormal);
            }
            let steps_i = bridge(&steps_i, &[(0, 0.0), (STEPS_PER_HOUR, idio_total)]);
            for k in 0..STEPS_PER_HOUR {
                incs[i][k] = s.beta * market_steps[k] + steps_i[k];
                let su = s.beta.hypot(s.idio / MARKET_VOL) * step_sigma;
                let u: f64 = rng.random::<f64>();
                let d: f64 = rng.random::<f64>();
                wick_up[i].push(su * 0.45 * u * u);
                wick_dn[i].push(su * 0.45 * d * d);
            }
        }
        if h + 1 == crash_h || h == crash_h {
            for (i, s) in SPECS.iter().enumerate() {
                let p0 = if h + 1 == crash_h {
                    *logp[i].last().unwrap_or(&0.0)
                } else {
                    logp[i][logp[i].len() - 1 - STEPS_PER_HOUR] // open of the sell-off hour
                };
                let start = *logp[i].last().unwrap_or(&0.0);
                let j = jitter[i];
                let anchors: Vec<(usize, f64)> = if h + 1 == crash_h {
                    vec![(0, start), (12, p0 + (1.0 - s.pre * j).ln())]
                } else {
                    vec![
                        (0, start),
                        (3, p0 + (1.0 - 2.0 * s.pre * j).ln()),
                        (4, p0 + (1.0 - 0.45 * s.wick * j).ln()),
                        (12, p0 + (1.0 - s.close_fall * j).ln()),
                    ]
                };
                incs[i] = bridge(&incs[i], &anchors);
                if h == crash_h {
                    // The spike: the 21:15 bar's low reaches the wick depth; neighbours dip too.
                    let base = logp[i].len() - 1;
                    let low_target = p0 + (1.0 - s.wick * j).ln();
                    let bar_open = logp[i][base] + incs[i][..3].iter().sum::<f64>();
                    let bar_close = bar_open + incs[i][3];
                    let wick = bar_open.min(bar_close) - low_target;
                    let idx = h * STEPS_PER_HOUR;
                    wick_dn[i][idx + 3] = wick.max(0.0);
                    wick_dn[i][idx + 2] += 0.25 * wick.max(0.0);
                    wick_dn[i][idx + 4] += 0.15 * wick.max(0.0);
                }
            }
            market_hour = 0.0;
        }
        for i in 0..n {
            let mut x = *logp[i].last().unwrap_or(&0.0);
            for inc in incs[i] {
                x += inc;
                logp[i].push(x);
            }
        }
        // Volatility update; after the crash the state is set high and decays.
        var = if h == crash_h {
            (3.5 * MARKET_VOL).powi(2)
        } else {
            omega + alpha * (market_hour - drift).powi(2) + beta * var
        };
    }

    // 5m bars (full period), rounded to the tick; then 1h by aggregation.
    let start = cfg.start;
    let fine_from = start + (cfg.crash_day as i64 - 1) * DAY_MS;
    let fine_to = fine_from + cfg.fine_window_days as i64 * DAY_MS;
    let mut series = Vec::with_capacity(n);
    let mut raw_5m: Vec<Bars> = Vec::with_capacity(n);
    for (i, s) in SPECS.iter().enumerate() {
        let mut bars = Bars::default();
        let mut mark = Bars::default();
        let mut prev_close_raw = logp[i][0].exp();
        let mut basis = 0.0f64;
        for k in 0..steps {
            let t = start + k as i64 * STEP_MS;
            let o_raw = logp[i][k].exp();
            let c_raw = logp[i][k + 1].exp();
            let o = round_to(o_raw, s.tick);
            let c = round_to(c_raw, s.tick);
            let h = round_to(o_raw.max(c_raw) * wick_up[i][k].exp(), s.tick).max(o.max(c));
            let l = round_to(o_raw.min(c_raw) * (-wick_dn[i][k]).exp(), s.tick)
                .min(o.min(c))
                .max(s.tick);
            let move_size = (logp[i][k + 1] - logp[i][k]).abs() + wick_dn[i][k] + wick_up[i][k];
            let vs = vol_state[k / STEPS_PER_HOUR];
            let noise: f64 = rng.random_range(0.6..1.4);
            let v = round_dec(
                s.volume / STEPS_PER_HOUR as f64 * noise * (0.5 + 0.5 * vs + 120.0 * move_size),
                s.volume_decimals,
            );
            bars.push(t, o, h, l, c, v);

            // Mark: lags (blend of this and the previous close) plus a small basis; shaves wicks.
            let z: f64 = rng.sample(StandardNormal);
            basis = 0.8 * basis + 0.00004 * z;
            let mc = (0.65 * c_raw + 0.35 * prev_close_raw) * (1.0 + basis);
            let mo = mark.close.last().copied().unwrap_or(o_raw);
            let shave_up: f64 = rng.random_range(0.8..0.97);
            let shave_dn: f64 = rng.random_range(0.8..0.97);
            let dp = s.decimals + 2;
            let mh = round_dec(mo.max(mc) + shave_up * (h - o.max(c)).max(0.0), dp);
            let ml = round_dec(
                (mo.min(mc) - shave_dn * (o.min(c) - l).max(0.0)).max(s.tick),
                dp,
            );
            let (mo, mc) = (round_dec(mo, dp), round_dec(mc, dp));
            mark.push(t, mo, mh.max(mo).max(mc), ml.min(mo).min(mc), mc, 0.0);
            prev_close_raw = c_raw;
        }
        raw_5m.push(bars.clone());
        let bars_1h = round_volumes(bars.aggregate(STEPS_PER_HOUR), s.volume_decimals);
        let mark_1h = mark.aggregate(STEPS_PER_HOUR);
        series.push(SynthSeries {
            symbol: Symbol::parse(&format!("{}USDT", s.base)).expect("static symbol is valid"),
            tick: s.tick,
            decimals: s.decimals,
            volume_decimals: s.volume_decimals,
            bars_5m: bars.window(fine_from, fine_to),
            mark_5m: mark.window(fine_from, fine_to),
            funding: Funding::default(),
            bars_1h,
            mark_1h,
        });
    }

    // Funding at 00/08/16 UTC from the trailing 72h trend of the mark close before settlement.
    for s in &mut series {
        let mut f = Funding::default();
        let closes = &s.mark_1h.close;
        for h in (0..hours).step_by(8) {
            let t = start + h as i64 * HOUR_MS;
            let now = if h == 0 { closes[0] } else { closes[h - 1] };
            let back = closes[h.saturating_sub(72)];
            let trend = (now / back).ln();
            let z: f64 = rng.sample(StandardNormal);
            let premium = 0.00004 + 0.0045 * trend + 0.00002 * z;
            f.times.push(t);
            f.rates.push(round_dec(premium.clamp(-0.0075, 0.0075), 8));
        }
        s.funding = f;
    }

    let crash_time = start + crash_h as i64 * HOUR_MS;
    let (signals, badly_placed) = demo_channel(&cfg, &series, crash_h, &mut rng);
    SynthMarket {
        config: cfg,
        crash_time,
        fine_window: (fine_from, fine_to),
        series,
        signals,
        badly_placed,
    }
}

fn round_volumes(mut b: Bars, decimals: usize) -> Bars {
    for v in &mut b.volume {
        *v = round_dec(*v, decimals);
    }
    b
}

/// Adjusts increments so that the cumulative path passes through the anchors `(step, level)`
/// (levels relative to the same origin as the first anchor): a Brownian bridge between anchors.
fn bridge(incs: &[f64; STEPS_PER_HOUR], anchors: &[(usize, f64)]) -> [f64; STEPS_PER_HOUR] {
    let mut out = *incs;
    for w in anchors.windows(2) {
        let ((a, la), (b, lb)) = (w[0], w[1]);
        let noise: f64 = incs[a..b].iter().sum();
        let fix = (lb - la - noise) / (b - a) as f64;
        for x in &mut out[a..b] {
            *x += fix;
        }
    }
    out
}

/// One call under construction.
struct Call {
    id: String,
    time: TimestampMs,
    sym: usize,
    side: Side,
    entry: EntrySpec,
    stop: f64,
    targets: Vec<f64>,
    leverage: f64,
    mode: Option<MarginMode>,
}

fn liq_price(side: Side, entry: f64, lev: f64) -> f64 {
    match side {
        Side::Long => entry * (1.0 - 1.0 / lev + DEMO_MMR),
        Side::Short => entry * (1.0 + 1.0 / lev - DEMO_MMR),
    }
}

/// Builds the demo channel: opens across symbols and time, a pile of correlated longs before the
/// crash, some badly placed stops, late closes, move_stops and cancels.
fn demo_channel(
    cfg: &SynthConfig,
    series: &[SynthSeries],
    crash_h: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<SignalEvent>, Vec<BadlyPlaced>) {
    let hours = series[0].bars_1h.len();
    let n_calls = cfg.calls as usize;
    let pile = series.len(); // one long per symbol in the two days before the crash
    let spread = n_calls - pile;
    // Call hours: spread over [24, hours - 48), avoiding the crash's own hours.
    let mut call_hours: Vec<(usize, Option<usize>)> = Vec::new();
    for _ in 0..spread {
        let mut h = rng.random_range(24..hours - 48);
        while h.abs_diff(crash_h) < 3 {
            h = rng.random_range(24..hours - 48);
        }
        call_hours.push((h, None));
    }
    for (i, _) in series.iter().enumerate() {
        call_hours.push((crash_h - 44 + i * 7, Some(i)));
    }
    call_hours.sort();

    let mut calls = Vec::new();
    let mut updates: Vec<SignalEvent> = Vec::new();
    let mut bad = Vec::new();
    for (k, (h, forced)) in call_hours.into_iter().enumerate() {
        let sym = forced.unwrap_or_else(|| rng.random_range(0..series.len()));
        let s = &series[sym];
        let price = s.bars_1h.open[h];
        let trend = (price / s.bars_1h.close[h.saturating_sub(48)]).ln();
        let side =
            if forced.is_some() || rng.random::<f64>() < 0.55 + 4.0 * trend.clamp(-0.05, 0.05) {
                Side::Long
            } else {
                Side::Short
            };
        let sg = side.sign();
        let levs = [5.0, 10.0, 10.0, 15.0, 20.0, 20.0, 25.0, 50.0];
        let mut leverage = levs[rng.random_range(0..levs.len())];
        if forced.is_some() {
            leverage = [10.0, 20.0, 25.0][rng.random_range(0..3)];
        }
        let kind = rng.random_range(0..10);
        let entry = if kind < 3 || (kind >= 7 && leverage > 25.0) {
            EntrySpec::Market
        } else if kind < 7 {
            EntrySpec::Limit {
                price: round_to(price * (1.0 - sg * rng.random_range(0.0005..0.004)), s.tick),
            }
        } else {
            let near = price * (1.0 - sg * rng.random_range(0.001..0.004));
            let far = near * (1.0 - sg * rng.random_range(0.005..0.015));
            let (a, b) = (round_to(near, s.tick), round_to(far, s.tick));
            EntrySpec::Zone {
                low: a.min(b),
                high: a.max(b),
            }
        };
        // Entry range over which the call may fill (market: the price +- 0.5 %).
        let (lo, hi) = match entry {
            EntrySpec::Market => (price * 0.998, price * 1.002),
            EntrySpec::Limit { price } => (price, price),
            EntrySpec::Zone { low, high } => (low, high),
        };
        // Stop 1-8 % from the entry nearest the stop; about one call in five badly placed. The
        // verdict must not depend on where in the entry range the call fills: a good stop is
        // inside the liquidation price of every fill in the range (by 0.4 % at least), a bad one
        // beyond all of them (by 1 % at least).
        let (stop_ref, far_ref) = if side == Side::Long {
            (lo, hi)
        } else {
            (hi, lo)
        };
        let lp_near = liq_price(side, stop_ref, leverage);
        let lp_far = liq_price(side, far_ref, leverage);
        let liq_gap = 1.0 / leverage - DEMO_MMR;
        let mut make_bad = rng.random::<f64>() < 0.2 && leverage >= 15.0;
        let mut stop = stop_ref * (1.0 - sg * rng.random_range(0.01..0.08));
        if !make_bad {
            let limit = lp_far * (1.0 + sg * 0.004);
            if (stop - limit) * sg < 0.0 {
                stop = limit;
            }
            if (stop_ref - stop) * sg < 0.003 * stop_ref {
                make_bad = true;
            }
        }
        if make_bad {
            stop = stop_ref * (1.0 - sg * (liq_gap + rng.random_range(0.01..0.03)));
        }
        let stop = round_to(stop, s.tick);
        let dist = ((stop_ref - stop) * sg / stop_ref).max(0.01);
        let beyond = |lp: f64| (stop - lp) * sg < 0.0;
        let n_targets = rng.random_range(2..=4);
        let risk = dist;
        let targets: Vec<f64> = (1..=n_targets)
            .map(|j| round_to(far_ref * (1.0 + sg * risk * (0.8 * j as f64 + 0.2)), s.tick))
            .collect();
        let id = format!("c{:03}", k + 1);
        let time = s.bars_1h.times[h] + rng.random_range(1..55) * MINUTE_MS;
        let mode = match rng.random_range(0..4) {
            0 => Some(MarginMode::Isolated),
            1 => Some(MarginMode::Cross),
            _ => None,
        };
        if beyond(lp_near) && beyond(lp_far) {
            bad.push(BadlyPlaced {
                id: id.clone(),
                symbol: s.symbol.clone(),
                side,
                entry: stop_ref,
                stop,
                leverage,
                liq_price: lp_near,
            });
        }
        // Updates: some move_stop to break-even, some late closes, cancels of zone entries.
        let u = rng.random::<f64>();
        if matches!(entry, EntrySpec::Zone { .. }) && u < 0.12 {
            updates.push(update(
                &id,
                time + rng.random_range(2..6) * HOUR_MS,
                Action::Cancel,
                None,
            ));
        } else if u < 0.3 {
            let be = match entry {
                EntrySpec::Market => round_to(price, s.tick),
                EntrySpec::Limit { price } => price,
                EntrySpec::Zone { low, high } => (low + high) / 2.0,
            };
            let be = round_to(be, s.tick);
            updates.push(update(
                &id,
                time + rng.random_range(6..36) * HOUR_MS,
                Action::MoveStop,
                Some(be),
            ));
        } else if u < 0.45 {
            updates.push(update(
                &id,
                time + rng.random_range(24..120) * HOUR_MS,
                Action::Close,
                None,
            ));
        }
        calls.push(Call {
            id,
            time,
            sym,
            side,
            entry,
            stop,
            targets,
            leverage,
            mode,
        });
    }
    // Make sure the channel shows at least two cancels and the updates land inside the data.
    let end = series[0].bars_1h.times[hours - 1];
    let cancels = updates
        .iter()
        .filter(|u| u.action == Action::Cancel)
        .count();
    if cancels < 2 {
        let extra: Vec<SignalEvent> = calls
            .iter()
            .filter(|c| matches!(c.entry, EntrySpec::Zone { .. }))
            .filter(|c| !updates.iter().any(|u| *u.id == *c.id))
            .take(2 - cancels)
            .map(|c| update(&c.id, c.time + 3 * HOUR_MS, Action::Cancel, None))
            .collect();
        updates.extend(extra);
    }
    updates.retain(|u| u.time < end);

    let mut events: Vec<SignalEvent> = calls
        .iter()
        .map(|c| SignalEvent {
            id: c.id.as_str().into(),
            time: c.time,
            action: Action::Open,
            symbol: Some(series[c.sym].symbol.clone()),
            side: Some(c.side),
            entry: c.entry,
            stop: Some(c.stop),
            targets: c.targets.clone(),
            leverage: Some(c.leverage),
            margin_mode: c.mode,
            ladder: Vec::new(),
            leverage_high: None,
            msg_id: None,
            source: String::new(),
            line: 0,
        })
        .collect();
    for u in &mut updates {
        if let Some(c) = calls.iter().find(|c| *c.id == *u.id) {
            u.symbol = Some(series[c.sym].symbol.clone());
            u.side = Some(c.side);
        }
    }
    events.extend(updates);
    events.sort_by(|a, b| {
        (a.time, a.action != Action::Open, &a.id).cmp(&(b.time, b.action != Action::Open, &b.id))
    });
    (events, bad)
}

fn update(id: &str, time: TimestampMs, action: Action, stop: Option<f64>) -> SignalEvent {
    SignalEvent::update(id, time, action, stop)
}

fn fmt_price(x: f64, decimals: usize) -> String {
    format!("{x:.decimals$}")
}

pub(crate) fn iso_ms(t: TimestampMs) -> String {
    // `2025-10-10T21:00:00.000Z`, the shape of the freqtrade-derived CSVs.
    let s = iso(t - t.rem_euclid(1000));
    format!("{}.{:03}Z", s.trim_end_matches('Z'), t.rem_euclid(1000))
}

fn bars_csv(b: &Bars, decimals: usize, volume_decimals: Option<usize>) -> String {
    let mut out = String::with_capacity(b.len() * 80);
    out.push_str("date,timestamp_ms,open,high,low,close");
    out.push_str(if volume_decimals.is_some() {
        ",volume\n"
    } else {
        "\n"
    });
    for i in 0..b.len() {
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            iso_ms(b.times[i]),
            b.times[i],
            fmt_price(b.open[i], decimals),
            fmt_price(b.high[i], decimals),
            fmt_price(b.low[i], decimals),
            fmt_price(b.close[i], decimals)
        );
        if let Some(vd) = volume_decimals {
            let _ = write!(out, ",{}", fmt_price(b.volume[i], vd));
        }
        out.push('\n');
    }
    out
}

fn funding_csv(f: &Funding) -> String {
    let mut out = String::from("date,timestamp_ms,funding_rate\n");
    for (t, r) in f.times.iter().zip(&f.rates) {
        let _ = writeln!(out, "{},{},{:.8}", iso_ms(*t), t, r);
    }
    out
}

/// Renders the demo channel as a DESIGN.md §4 CSV signal file.
pub fn signals_csv(market: &SynthMarket) -> String {
    let mut out = String::from(
        "id,time,action,symbol,side,entry,entry_high,stop,targets,leverage,margin_mode\n",
    );
    for ev in &market.signals {
        let dec = ev
            .symbol
            .as_ref()
            .and_then(|sym| market.series.iter().find(|s| &s.symbol == sym))
            .map_or(8, |s| s.decimals);
        let p = |x: f64| fmt_price(x, dec);
        let (entry, entry_high) = match (ev.action, ev.entry) {
            (Action::Open, EntrySpec::Limit { price }) => (p(price), String::new()),
            (Action::Open, EntrySpec::Zone { low, high }) => (p(low), p(high)),
            _ => (String::new(), String::new()),
        };
        let action = match ev.action {
            Action::Open => "open",
            Action::Close => "close",
            Action::Cancel => "cancel",
            Action::MoveStop => "move_stop",
        };
        let (symbol, side) = if ev.action == Action::Open {
            (
                ev.symbol
                    .as_ref()
                    .map(Symbol::to_string)
                    .unwrap_or_default(),
                ev.side.map(|s| s.to_string()).unwrap_or_default(),
            )
        } else {
            (
                ev.symbol
                    .as_ref()
                    .map(Symbol::to_string)
                    .unwrap_or_default(),
                String::new(),
            )
        };
        let targets: Vec<String> = ev.targets.iter().map(|t| p(*t)).collect();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            ev.id,
            iso(ev.time),
            action,
            symbol,
            side,
            entry,
            entry_high,
            ev.stop.map(p).unwrap_or_default(),
            targets.join(";"),
            ev.leverage.map(|l| format!("{l}x")).unwrap_or_default(),
            ev.margin_mode.map(|m| m.to_string()).unwrap_or_default(),
        );
    }
    out
}

fn demo_readme(m: &SynthMarket, signals_name: &str) -> String {
    let c = &m.config;
    let mut out = String::new();
    let _ = writeln!(out, "# Ringfence demo market (synthetic)\n");
    let _ = writeln!(
        out,
        "Generated by `ringfence data synth --out datasets/demo --seed {}` (DESIGN.md §3). \
         Nothing here is real market data: it is a seeded model (common market factor with \
         GARCH volatility and Student-t shocks, per-symbol betas, one market-wide crash with long \
         lower wicks, lagging mark prices, trend-following funding). See `datasets/README.md`.\n",
        c.seed
    );
    let _ = writeln!(
        out,
        "- period: {} to {} ({} days of 1h bars)",
        iso(c.start),
        iso(c.start + c.days as i64 * DAY_MS),
        c.days
    );
    let _ = writeln!(out, "- crash: the 1h bar opening {}", iso(m.crash_time));
    let _ = writeln!(
        out,
        "- 5m bars (last and mark): {} to {}",
        iso(m.fine_window.0),
        iso(m.fine_window.1)
    );
    let _ = writeln!(out, "- funding: every 8 h at 00/08/16 UTC");
    let _ = writeln!(
        out,
        "- symbols: {}",
        m.series
            .iter()
            .map(|s| s.symbol.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let opens = m
        .signals
        .iter()
        .filter(|e| e.action == Action::Open)
        .count();
    let _ = writeln!(
        out,
        "- demo channel: `{signals_name}`, {} events, {opens} calls\n",
        m.signals.len()
    );
    let _ = writeln!(out, "## Badly placed calls\n");
    let _ = writeln!(
        out,
        "Calls whose stop lies beyond the liquidation price at the called leverage, with \
         LP ≈ entry × (1 − 1/lev + {mmr}) for a long and entry × (1 + 1/lev − {mmr}) for a short \
         (entry: the limit price, the zone edge nearest the stop, or the price at call time for a \
         market call; the verdict is the same anywhere in the entry range). A follower at that \
         leverage is liquidated before the stop can fire.\n",
        mmr = DEMO_MMR
    );
    let _ = writeln!(out, "| id | symbol | side | entry | stop | leverage | LP |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for b in &m.badly_placed {
        let dec = m
            .series
            .iter()
            .find(|s| s.symbol == b.symbol)
            .map_or(8, |s| s.decimals);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}x | {} |",
            b.id,
            b.symbol,
            b.side,
            fmt_price(b.entry, dec),
            fmt_price(b.stop, dec),
            b.leverage,
            fmt_price(b.liq_price, dec)
        );
    }
    out
}

/// Writes the demo dataset into `dir` and the demo channel to `signals_path`.
///
/// Files (freqtrade names, the shape of the derived CSVs of `../shared/data`):
/// `<BASE>_USDT_USDT-1h-futures.csv`, `-1h-mark.csv`, `-8h-funding_rate.csv`, `-5m-futures.csv`,
/// `-5m-mark.csv` per symbol, and `README.md` (what the data is, the badly placed calls).
/// Deterministic: the same configuration gives the same bytes. Returns the files written.
pub fn write_demo(
    dir: &Path,
    signals_path: &Path,
    cfg: &SynthConfig,
) -> Result<Vec<PathBuf>, DataError> {
    let m = generate(cfg);
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let mut written = Vec::new();
    let mut put = |path: PathBuf, text: String| -> Result<(), DataError> {
        std::fs::write(&path, text).map_err(|e| DataError::io(&path, e))?;
        written.push(path);
        Ok(())
    };
    for s in &m.series {
        let stem = format!("{}_USDT_USDT", s.symbol.base().unwrap_or(s.symbol.as_str()));
        let d = s.decimals;
        let md = d + 2;
        put(
            dir.join(format!("{stem}-1h-futures.csv")),
            bars_csv(&s.bars_1h, d, Some(s.volume_decimals)),
        )?;
        put(
            dir.join(format!("{stem}-1h-mark.csv")),
            bars_csv(&s.mark_1h, md, None),
        )?;
        put(
            dir.join(format!("{stem}-8h-funding_rate.csv")),
            funding_csv(&s.funding),
        )?;
        put(
            dir.join(format!("{stem}-5m-futures.csv")),
            bars_csv(&s.bars_5m, d, Some(s.volume_decimals)),
        )?;
        put(
            dir.join(format!("{stem}-5m-mark.csv")),
            bars_csv(&s.mark_5m, md, None),
        )?;
    }
    let signals_name = signals_path.file_name().map_or_else(
        || signals_path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    put(dir.join("README.md"), demo_readme(&m, &signals_name))?;
    if let Some(parent) = signals_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    }
    put(signals_path.to_path_buf(), signals_csv(&m))?;
    Ok(written)
}
