//! Test harness: markets, signals and setups written as text.
#![allow(dead_code)]

use ringfence_model::{
    Action, Bracket, BracketBook, BracketSnapshot, EntryLevel, EntrySpec, ExitReason, Funding,
    MarkColumns, Market, RunResult, Side, SignalEvent, Symbol, SymbolSeries,
};
use ringfence_sim::{
    Account, EngineConfig, Intrabar, LeverageFromRange, LeverageRule, LiquidationProcess, ModeRule,
    Policy, Sizing, StopDiscipline, binance_default_brackets,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// 2025-01-01T00:00:00Z: hour 0 of every test market.
pub const T0: i64 = 1_735_689_600_000;
pub const H: i64 = 3_600_000;

fn sym(base: &str) -> Symbol {
    Symbol::parse(&format!("{base}USDT")).unwrap()
}

/// Builds a 1h market from lines `SYM: o h l c [/ mo mh ml mc] [f=rate]; ...` (one `;`-separated
/// bar per hour from T0; `f=` is a funding settlement at that bar's open).
pub fn market(text: &str) -> Market {
    let mut series = Vec::new();
    let mut n = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, bars) = line.split_once(':').expect("SYM: bars");
        let mut s = SymbolSeries {
            symbol: sym(name.trim()),
            first: 0,
            end: 0,
            open: vec![],
            high: vec![],
            low: vec![],
            close: vec![],
            volume: None,
            mark: Some(MarkColumns::default()),
            funding: Funding::default(),
            clean: false,
        };
        for (i, bar) in bars.split(';').enumerate() {
            let mut words: Vec<&str> = bar.split_whitespace().collect();
            if let Some(pos) = words.iter().position(|w| w.starts_with("f=")) {
                let rate: f64 = words[pos][2..].parse().unwrap();
                s.funding.times.push(T0 + i as i64 * H);
                s.funding.rates.push(rate);
                words.remove(pos);
            }
            let (last, mark) = match words.iter().position(|w| *w == "/") {
                Some(p) => (&words[..p], &words[p + 1..]),
                None => (&words[..], &words[..]),
            };
            let v = |w: &[&str], k: usize| w[k].parse::<f64>().unwrap();
            s.open.push(v(last, 0));
            s.high.push(v(last, 1));
            s.low.push(v(last, 2));
            s.close.push(v(last, 3));
            let m = s.mark.as_mut().unwrap();
            m.open.push(v(mark, 0));
            m.high.push(v(mark, 1));
            m.low.push(v(mark, 2));
            m.close.push(v(mark, 3));
        }
        s.end = s.open.len();
        s.clean = s.all_bars_clean();
        n = n.max(s.end);
        series.push(s);
    }
    series.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    Market {
        timeframe_ms: H,
        times: (0..n as i64).map(|i| T0 + i * H).collect(),
        series,
        lower: None,
        warnings: vec![],
    }
}

/// The BTCUSDT late-2024 table for every symbol of the market.
pub fn brackets(m: &Market) -> BracketBook {
    let btc: Vec<Bracket> = binance_default_brackets()
        .table(&sym("BTC"), i64::MAX)
        .unwrap()
        .to_vec();
    let tables: BTreeMap<Symbol, Vec<Bracket>> = m
        .series
        .iter()
        .map(|s| (s.symbol.clone(), btc.clone()))
        .collect();
    BracketBook::new(vec![BracketSnapshot {
        effective_from: i64::MIN,
        source: "test".into(),
        tables,
    }])
}

/// Parses lines `id hour action [SYM side] [entry=mkt|p|lo-hi] [stop=p] [tp=a,b] [lev=x]`.
pub fn signals(text: &str) -> Vec<SignalEvent> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(line, l)| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let action = Action::parse(w[2]).unwrap();
            let mut ev = SignalEvent {
                id: w[0].into(),
                time: T0 + w[1].parse::<i64>().unwrap() * H,
                action,
                symbol: None,
                side: None,
                entry: EntrySpec::Market,
                stop: None,
                targets: vec![],
                leverage: None,
                margin_mode: None,
                ladder: Vec::new(),
                leverage_high: None,
                msg_id: None,
                source: "inline".into(),
                line: line + 1,
            };
            let mut rest = &w[3..];
            if action == Action::Open {
                ev.symbol = Some(sym(rest[0]));
                ev.side = Side::parse(rest[1]);
                rest = &rest[2..];
            }
            for kv in rest {
                let (k, v) = kv.split_once('=').unwrap();
                match k {
                    "entry" if v == "mkt" => {}
                    "entry" => {
                        ev.entry = match v.split_once('-') {
                            Some((a, b)) => EntrySpec::Zone {
                                low: a.parse().unwrap(),
                                high: b.parse().unwrap(),
                            },
                            None => EntrySpec::Limit {
                                price: v.parse().unwrap(),
                            },
                        }
                    }
                    "stop" => ev.stop = Some(v.parse().unwrap()),
                    "tp" => ev.targets = v.split(',').map(|x| x.parse().unwrap()).collect(),
                    "lev" => match v.split_once('-') {
                        Some((lo, hi)) => {
                            ev.leverage = Some(lo.parse().unwrap());
                            ev.leverage_high = Some(hi.parse().unwrap());
                        }
                        None => ev.leverage = Some(v.parse().unwrap()),
                    },
                    // an entry ladder `a,b,c` or with weights `a@w,b@w`
                    "entries" => {
                        ev.ladder = v
                            .split(',')
                            .map(|l| {
                                let (p, w) = match l.split_once('@') {
                                    Some((p, w)) => (p, Some(w.parse().unwrap())),
                                    None => (l, None),
                                };
                                EntryLevel {
                                    price: p.parse().unwrap(),
                                    weight: w,
                                }
                            })
                            .collect();
                        let prices = ev.ladder.iter().map(|l| l.price);
                        ev.entry = EntrySpec::Zone {
                            low: prices.clone().fold(f64::INFINITY, f64::min),
                            high: prices.fold(f64::NEG_INFINITY, f64::max),
                        };
                    }
                    _ => panic!("unknown signal key {k}"),
                }
            }
            ev
        })
        .collect()
}

/// Parses a setup line: `isolated|cross margin=100 lev=10 wallet=1000 btc=0.1 bybit|okx
/// clearance=0.001 close|ohlc widen=2 autoadd=50 breakeven`.
pub fn setup(text: &str) -> (Account, Policy, EngineConfig) {
    let mut account = Account::usdt("acct", Decimal::ZERO);
    let mut policy = Policy::new(
        "pol",
        ModeRule::Isolated,
        Sizing::FixedMargin(Decimal::from(100)),
    );
    policy.leverage = LeverageRule::Fixed(10.0);
    let mut cfg = EngineConfig::default();
    cfg.execution.zone_expiry_ms = None;
    let d = |v: &str| Decimal::from_str(v).unwrap();
    for w in text.split_whitespace() {
        match w.split_once('=') {
            None => match w {
                "isolated" => policy.mode = ModeRule::Isolated,
                "cross" => policy.mode = ModeRule::Cross,
                "bybit" => cfg.exchange.liquidation = LiquidationProcess::BybitTiers,
                "okx" => {
                    // the OKX preset's procedure and trigger (maintenance + 0.05 % fee)
                    cfg.exchange.liquidation = LiquidationProcess::OkxTiers;
                    cfg.exchange.trigger_fee_rate =
                        ringfence_sim::ExchangePreset::okx_swap().trigger_fee_rate;
                }
                "close" => cfg.intrabar = Intrabar::Close,
                "ohlc" => cfg.intrabar = Intrabar::Ohlc,
                "breakeven" => policy.breakeven_after_first_target = true,
                "ignore" => policy.stops = StopDiscipline::Ignore,
                _ => panic!("unknown setup word {w}"),
            },
            Some((k, v)) => match k {
                "margin" => policy.sizing = Sizing::FixedMargin(d(v)),
                "notional" => policy.sizing = Sizing::FixedNotional(d(v)),
                "lev" => policy.leverage = LeverageRule::Fixed(v.parse().unwrap()),
                "wallet" => account.collateral[0].1 = d(v),
                "clearance" => cfg.exchange.clearance_fee_rate = d(v),
                "fees" => {
                    cfg.exchange.taker_fee = d(v);
                    cfg.exchange.maker_fee = d(v);
                }
                "widen" => policy.stops = StopDiscipline::Widen(v.parse().unwrap()),
                "autoadd" => policy.auto_add_margin_cap = Some(d(v)),
                "max" => policy.max_open = Some(v.parse().unwrap()),
                "range" => {
                    policy.leverage_from_range = match v {
                        "low" => LeverageFromRange::Low,
                        "high" => LeverageFromRange::High,
                        _ => LeverageFromRange::Mid,
                    }
                }
                "called" => {
                    policy.leverage = LeverageRule::AsCalled {
                        default: v.parse().unwrap(),
                    }
                }
                asset => account.collateral.push((asset.to_ascii_uppercase(), d(v))),
            },
        }
    }
    (account, policy, cfg)
}

/// One line per exit leg (`id reason h<hour> price`), per liquidation and per skipped signal.
pub fn render(r: &RunResult) -> String {
    let mut out = Vec::new();
    let mut legs = Vec::new();
    for t in &r.trades {
        for e in &t.exits {
            legs.push((e.time, t.signal_id.clone(), e.reason, e.price));
        }
    }
    legs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    for (time, id, reason, price) in legs {
        let reason = match reason {
            ExitReason::Target(k) => format!("target_{k}"),
            r => r.to_string(),
        };
        out.push(format!("{id} {reason} h{} {price:.2}", (time - T0) / H));
    }
    for l in &r.liquidations {
        let who: Vec<String> = l
            .positions
            .iter()
            .map(|p| format!("{}{}", p.signal_id, if p.culprit { "*" } else { "" }))
            .collect();
        let mut line = format!("liq {} h{} [{}]", l.mode, (l.time - T0) / H, who.join(" "));
        if !l.insurance_shortfall.is_zero() {
            line.push_str(&format!(" shortfall={:.2}", l.insurance_shortfall));
        }
        out.push(line);
    }
    for s in &r.skipped {
        out.push(format!(
            "skip {} h{}: {}",
            s.signal_id,
            (s.time - T0) / H,
            s.reason
        ));
    }
    out.join("\n")
}

/// Runs a setup over inline bars and signals.
pub fn run_text(setup_text: &str, bars: &str, sigs: &str) -> RunResult {
    let m = market(bars);
    let b = brackets(&m);
    let (account, policy, cfg) = setup(setup_text);
    ringfence_sim::run(&m, &b, &signals(sigs), &account, &policy, &cfg).unwrap()
}

/// Money conservation in Decimal: start USDT + Σ pnl − Σ fees + Σ funding − Σ clearance +
/// Σ shortfall = final USDT wallet, where the final wallet is final equity minus collateral value.
pub fn conservation_gap(r: &RunResult, start_usdt: Decimal, collateral_value: Decimal) -> Decimal {
    let mut total = start_usdt;
    for t in &r.trades {
        total += t.pnl - t.fees + t.funding - t.clearance_fee;
    }
    for l in &r.liquidations {
        total += l.insurance_shortfall;
    }
    (r.summary.final_equity - collateral_value) - total
}
