//! The open book's correlation and correlated exposure over time (DESIGN.md §7 "Correlated books"),
//! computed after a run from its trades, outside the per-bar hot path.

use crate::returns::MarketStats;
use rayon::prelude::*;
use ringfence_model::{EquityPoint, RunResult, TimestampMs, Trade};

/// Fills `book_correlation` and `correlated_exposure` of every equity point of `result`.
///
/// At each point the open positions are the trades with `open_time <= t < close_time`; their signed
/// notionals `n_k = side × qty × close` are taken at the bar holding `t`, and `ρ` is the Pearson
/// correlation of hourly log returns over the window bars before it ([`MarketStats::correlation`],
/// shared by every run over the same market). The correlated exposure is
/// `sqrt(max(0, Σ_i Σ_j n_i n_j ρ_ij))`: two equal longs with ρ = 1 count twice, a long and a short
/// with ρ = 1 cancel, uncorrelated ones add in quadrature.
///
/// O(points × open positions² + trades): the open set is swept along the (time-ordered) points,
/// each trade's symbol and quantity are converted once, and nothing is allocated per point. A
/// long curve (from `2 × PART_POINTS` points: a year of 1m bars has eight times as many) is cut
/// into parts of at least `PART_POINTS` points, at most one per thread of rayon's pool, each part
/// starting from the open set at its first point: every point's figures are the same as in one
/// sweep, bit for bit (they depend on the point alone).
pub fn annotate_book_exposure(stats: &MarketStats<'_>, result: &mut RunResult) {
    let parts = (result.equity.len() / PART_POINTS).clamp(1, rayon::current_num_threads());
    annotate_in_parts(stats, result, parts);
}

/// Points a part of [`annotate_book_exposure`] takes at the least.
const PART_POINTS: usize = 65_536;

/// [`annotate_book_exposure`] with the points cut into `parts` parts (at least one).
fn annotate_in_parts(stats: &MarketStats<'_>, result: &mut RunResult, parts: usize) {
    let market = stats.market();
    // (trade index, symbol index, signed quantity) of every trade that can be open at a point.
    let legs: Vec<(usize, usize, f64)> = result
        .trades
        .iter()
        .enumerate()
        .filter_map(|(n, tr)| {
            let k = market.symbol_index(&tr.symbol)?;
            let qty: f64 = tr.qty.try_into().ok()?;
            Some((n, k, tr.side.sign() * qty))
        })
        .collect();
    let trades = &result.trades;
    let mut by_open: Vec<usize> = (0..legs.len()).collect();
    by_open.sort_by_key(|&l| (trades[legs[l].0].open_time, l));
    let sorted = result.equity.windows(2).all(|w| w[0].time <= w[1].time);
    let legs = Legs {
        legs: &legs,
        trades,
        by_open: &by_open,
    };
    let size = result.equity.len().div_ceil(parts.max(1)).max(1);
    result
        .equity
        .par_chunks_mut(size)
        .for_each(|points| annotate_points(stats, &legs, sorted, points));
}

/// The legs of a run's trades, as [`annotate_book_exposure`] sweeps them.
struct Legs<'a> {
    /// (trade index, symbol index, signed quantity) of every trade that can be open at a point.
    legs: &'a [(usize, usize, f64)],
    /// The run's trades.
    trades: &'a [Trade],
    /// Leg indices by (open time, leg index).
    by_open: &'a [usize],
}

impl Legs<'_> {
    fn open_time(&self, l: usize) -> TimestampMs {
        self.trades[self.legs[l].0].open_time
    }

    fn close_time(&self, l: usize) -> TimestampMs {
        self.trades[self.legs[l].0].close_time
    }
}

/// Fills the figures of consecutive equity `points` (time-ordered when `sorted`).
fn annotate_points(
    stats: &MarketStats<'_>,
    legs: &Legs<'_>,
    sorted: bool,
    points: &mut [EquityPoint],
) {
    let market = stats.market();
    let Some(t0) = points.first().map(|p| p.time) else {
        return;
    };
    // Legs open at the current point, in leg order (the order the sums run in): at the first
    // point, those opened by then and not yet closed, as a sweep from the first point of the
    // curve leaves them.
    // (Unordered points rebuild the set at every point: this start is then unused.)
    let mut next = legs.by_open.partition_point(|&l| legs.open_time(l) <= t0);
    let mut open: Vec<usize> = legs.by_open[..next]
        .iter()
        .copied()
        .filter(|&l| t0 < legs.close_time(l))
        .collect();
    open.sort_unstable();
    let mut bar = market.times.partition_point(|&x| x < t0);
    let mut book: Vec<(usize, f64)> = Vec::new();
    for point in points {
        let t = point.time;
        if sorted {
            while let Some(&l) = legs.by_open.get(next).filter(|&&l| legs.open_time(l) <= t) {
                let at = open.partition_point(|&o| o < l);
                open.insert(at, l);
                next += 1;
            }
            open.retain(|&l| t < legs.close_time(l));
        } else {
            open.clear();
            open.extend(
                (0..legs.legs.len()).filter(|&l| legs.open_time(l) <= t && t < legs.close_time(l)),
            );
        }
        // The bar holding `t`: found by a cursor along time-ordered points (what
        // `bar_at_or_after` gives), by a binary search otherwise.
        let at_or_after = if sorted {
            while bar < market.times.len() && market.times[bar] < t {
                bar += 1;
            }
            bar
        } else {
            market.bar_at_or_after(t)
        };
        let i = at_or_after.min(market.len().saturating_sub(1));
        book.clear();
        book.extend(open.iter().filter_map(|&l| {
            let (_, k, sq) = legs.legs[l];
            let px = market.series[k].close[i];
            px.is_finite().then_some((k, sq * px))
        }));
        let (exposure, corr) = book_stats(&book, |a, b| stats.correlation(a, b, i));
        point.correlated_exposure = exposure;
        point.book_correlation = corr;
    }
}

/// The correlated exposure `sqrt(max(0, Σ_i Σ_j n_i n_j ρ_ij))` of `legs` (symbol index, signed
/// notional) and the average pairwise correlation of its distinct symbols (`None` with fewer than
/// two). `rho(a, b)` is the return correlation of two symbols; an unknown one counts as 0.
pub(crate) fn book_stats(
    legs: &[(usize, f64)],
    rho: impl Fn(usize, usize) -> Option<f64>,
) -> (f64, Option<f64>) {
    let mut var = 0.0;
    let (mut rho_sum, mut rho_n) = (0.0, 0);
    for (a, &(ka, na)) in legs.iter().enumerate() {
        for (b, &(kb, nb)) in legs.iter().enumerate() {
            let r = if a == b {
                1.0
            } else {
                rho(ka, kb).unwrap_or(0.0)
            };
            var += na * nb * r;
            if a < b && ka != kb {
                rho_sum += r;
                rho_n += 1;
            }
        }
    }
    (
        var.max(0.0).sqrt(),
        (rho_n > 0).then(|| rho_sum / rho_n as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringfence_model::{
        ExitReason, MarginMode, Market, RunSummary, Side, Symbol, SymbolSeries, Trade,
    };
    use rust_decimal::Decimal;

    fn series(name: &str, closes: &[f64]) -> SymbolSeries {
        crate::returns::tests::series(name, 0, closes)
    }

    fn trade(sym: &str, side: Side) -> Trade {
        Trade {
            signal_id: sym.into(),
            symbol: Symbol::parse(sym).unwrap(),
            side,
            mode: MarginMode::Cross,
            background: false,
            open_time: 0,
            entry_price: 100.0,
            qty: Decimal::ONE,
            leverage: Decimal::TEN,
            margin: Decimal::TEN,
            margin_added: Decimal::ZERO,
            liq_price_at_entry: None,
            close_time: 1_000,
            exit_price: 100.0,
            exit_reason: ExitReason::EndOfData,
            pnl: Decimal::ZERO,
            fees: Decimal::ZERO,
            clearance_fee: Decimal::ZERO,
            funding: Decimal::ZERO,
            exits: Vec::new(),
            entry_levels: 1,
            levels_filled: 1,
        }
    }

    /// A run result of `trades` with `equity` (the summary left at zero).
    fn run_result(trades: Vec<Trade>, equity: Vec<EquityPoint>) -> RunResult {
        RunResult {
            run: "r".into(),
            account: "a".into(),
            policy: "p".into(),
            params: Vec::new(),
            trades,
            liquidations: Vec::new(),
            equity,
            skipped: Vec::new(),
            summary: RunSummary {
                start_equity: Decimal::ZERO,
                final_equity: Decimal::ZERO,
                return_pct: 0.0,
                max_drawdown_pct: 0.0,
                liquidations: 0,
                cascades: 0,
                cascade_victims: 0,
                wipeouts: 0,
                insurance_shortfall: Decimal::ZERO,
                fees: Decimal::ZERO,
                funding: Decimal::ZERO,
                trades: 0,
                skipped_signals: 0,
                win_rate: 0.0,
                profit_factor: 0.0,
            },
            liquidation_band: None,
            adl: Vec::new(),
            adl_off_final_equity: None,
        }
    }

    fn point(time: i64) -> EquityPoint {
        EquityPoint {
            time,
            equity: 0.0,
            drawdown: 0.0,
            margin_ratio: 0.0,
            open_positions: 2,
            book_correlation: None,
            correlated_exposure: 0.0,
        }
    }

    fn exposure(sides: [Side; 2], b_closes: &[f64]) -> (Option<f64>, f64) {
        let a: Vec<f64> = vec![100.0, 101.0, 99.0, 102.0, 100.0, 103.0, 100.0];
        let market = Market {
            timeframe_ms: 100,
            times: (0..a.len() as i64).map(|i| i * 100).collect(),
            series: vec![series("AAAUSDT", &a), series("BBBUSDT", b_closes)],
            lower: None,
            warnings: Vec::new(),
        };
        let mut r = run_result(
            vec![trade("AAAUSDT", sides[0]), trade("BBBUSDT", sides[1])],
            vec![point(600)],
        );
        annotate_book_exposure(&MarketStats::new(&market, 10), &mut r);
        (
            r.equity[0].book_correlation,
            r.equity[0].correlated_exposure,
        )
    }

    #[test]
    fn perfectly_correlated_longs_add_and_long_short_cancels() {
        // B moves exactly like A (scaled): correlation 1.
        let b: Vec<f64> = [100.0, 101.0, 99.0, 102.0, 100.0, 103.0, 100.0]
            .iter()
            .map(|x| x * 2.0)
            .collect();
        let (rho, e) = exposure([Side::Long, Side::Long], &b);
        assert!((rho.unwrap() - 1.0).abs() < 1e-9);
        assert!((e - 300.0).abs() < 1e-6, "{e}"); // 100 + 200
        let (_, e) = exposure([Side::Long, Side::Short], &b);
        assert!((e - 100.0).abs() < 1e-6, "{e}"); // |100 - 200|
    }

    #[test]
    fn anti_correlated_longs_hedge() {
        let a = [100.0, 101.0, 99.0, 102.0, 100.0, 103.0, 100.0];
        let b: Vec<f64> = a.iter().map(|x| 20_000.0 / x).collect();
        let (rho, e) = exposure([Side::Long, Side::Long], &b);
        assert!(rho.unwrap() < -0.99, "{rho:?}");
        // 100 and 200 of notional at rho = -1 hedge down to |100 - 200|, far below the 300 gross.
        assert!((e - 100.0).abs() < 1.0, "{e}");
    }

    /// The figures are the same bit for bit whatever the number of parts the points are cut into:
    /// trades opening and closing inside parts and across their edges, a gap and a zero close in
    /// the prices, points at every bar (one time twice), and points out of time order.
    #[test]
    fn parts_give_the_figures_of_one_sweep() {
        let n = 3_000;
        let names = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"];
        let market = Market {
            timeframe_ms: 100,
            times: (0..n as i64).map(|i| i * 100).collect(),
            series: (0..4)
                .map(|k| series(names[k], &crate::returns::tests::walk(k as u64 + 1, n)))
                .collect(),
            lower: None,
            warnings: Vec::new(),
        };
        let mut x = 7u64;
        let mut draw = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let trades: Vec<Trade> = (0..60)
            .map(|k| {
                let side = if draw(2) == 0 {
                    Side::Long
                } else {
                    Side::Short
                };
                let mut t = trade(names[k % 4], side);
                t.open_time = draw(n as u64) as i64 * 100;
                t.close_time = t.open_time + draw(800) as i64 * 100 + 1;
                t.qty = Decimal::from(1 + draw(5));
                t
            })
            .collect();
        let mut times: Vec<i64> = (0..n as i64).map(|i| i * 100 + 50).collect();
        times.insert(1_234, times[1_233]);
        let mut shuffled = times.clone();
        shuffled.swap(10, 2_500);
        let stats = MarketStats::new(&market, 50);
        let figures = |r: &RunResult| -> Vec<(u64, Option<u64>)> {
            r.equity
                .iter()
                .map(|p| {
                    (
                        p.correlated_exposure.to_bits(),
                        p.book_correlation.map(f64::to_bits),
                    )
                })
                .collect()
        };
        for times in [times, shuffled] {
            let equity: Vec<EquityPoint> = times.iter().map(|&t| point(t)).collect();
            let mut one = run_result(trades.clone(), equity.clone());
            annotate_in_parts(&stats, &mut one, 1);
            assert!(one.equity.iter().any(|p| p.book_correlation.is_some()));
            assert!(
                one.equity
                    .iter()
                    .filter(|p| p.correlated_exposure > 0.0)
                    .count()
                    > n / 2
            );
            for parts in [2, 3, 7, 64, 5_000] {
                let mut cut = run_result(trades.clone(), equity.clone());
                annotate_in_parts(&stats, &mut cut, parts);
                assert_eq!(figures(&cut), figures(&one), "{parts} parts");
            }
        }
    }
}
