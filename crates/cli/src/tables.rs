//! Every table the cli writes, each defined by one column list per record type: a column's name,
//! its Parquet type and its cell for one record, side by side. The CSV writes every cell as text
//! (exactly as listed here); the Parquet copies type the numeric columns by parsing those cells,
//! so both files hold the same values.

use anyhow::{Context, Result};
use ringfence_data::tables::TableColumn;
use ringfence_model::time::iso;
use ringfence_model::{
    AdlRecord, ClaimCheck, EquityPoint, LiquidatedPosition, LiquidationEvent, RunResult,
    SkippedSignal, Trade,
};
use ringfence_sim::ChecklistRow;
use rust_decimal::Decimal;
use std::path::Path;

/// The Parquet type of a column (CSV cells are always text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Float,
    Int,
}

/// One column of a table of `R` records.
pub struct Column<R> {
    name: &'static str,
    kind: Kind,
    cell: fn(&R) -> String,
}

fn text<R>(name: &'static str, cell: fn(&R) -> String) -> Column<R> {
    Column {
        name,
        kind: Kind::Text,
        cell,
    }
}

fn float<R>(name: &'static str, cell: fn(&R) -> String) -> Column<R> {
    Column {
        name,
        kind: Kind::Float,
        cell,
    }
}

fn int<R>(name: &'static str, cell: fn(&R) -> String) -> Column<R> {
    Column {
        name,
        kind: Kind::Int,
        cell,
    }
}

/// Writes `records` as CSV: a header of the column names, then one line per record.
pub fn write_csv<R>(path: &Path, columns: &[Column<R>], records: &[R]) -> Result<()> {
    let mut w = CsvStream::create(path, columns)?;
    w.write(columns, records)?;
    w.finish()
}

/// A CSV table written as its records come (a run's rows as soon as the run is done): the header
/// on creation, then records in the order given. The bytes are those of [`write_csv`] with every
/// record at once.
pub struct CsvStream {
    path: std::path::PathBuf,
    w: csv::Writer<std::fs::File>,
}

impl CsvStream {
    /// Creates `path` and writes the header of `columns`.
    pub fn create<R>(path: &Path, columns: &[Column<R>]) -> Result<Self> {
        let mut w = csv::Writer::from_path(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record(columns.iter().map(|c| c.name))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(CsvStream {
            path: path.to_path_buf(),
            w,
        })
    }

    /// Appends one line per record.
    pub fn write<R>(&mut self, columns: &[Column<R>], records: &[R]) -> Result<()> {
        for r in records {
            self.w
                .write_record(columns.iter().map(|c| (c.cell)(r)))
                .with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<()> {
        self.w
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// The typed Parquet columns of `records`: float and integer columns parsed from their cells (a
/// cell that does not parse is NaN / 0), the rest text.
pub fn parquet_columns<R>(columns: &[Column<R>], records: &[R]) -> Vec<(String, TableColumn)> {
    columns
        .iter()
        .map(|c| {
            let cells = records.iter().map(|r| (c.cell)(r));
            let col = match c.kind {
                Kind::Float => {
                    TableColumn::F64(cells.map(|x| x.parse().unwrap_or(f64::NAN)).collect())
                }
                Kind::Int => TableColumn::I64(cells.map(|x| x.parse().unwrap_or(0)).collect()),
                Kind::Text => TableColumn::Str(cells.collect()),
            };
            (c.name.to_string(), col)
        })
        .collect()
}

/// A float as Rust prints it; NaN empty, infinities `inf`.
fn f(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else if x.is_nan() {
        String::new()
    } else {
        "inf".into()
    }
}

/// A ledger amount rounded to `dp` places; zero is written `0` (never `-0` or `0.00`).
fn money(x: Decimal, dp: u32) -> String {
    let r = x.round_dp(dp);
    if r.is_zero() {
        "0".into()
    } else {
        r.to_string()
    }
}

fn opt_f(x: Option<f64>) -> String {
    x.map(f).unwrap_or_default()
}

/// A correlation rounded to four places.
fn rho(x: Option<f64>) -> String {
    opt_f(x.map(|c| (c * 1e4).round() / 1e4))
}

/// An exact decimal without trailing zeros.
fn exact(x: Decimal) -> String {
    x.normalize().to_string()
}

/// A record that belongs to one run: its tables start with the run, account and policy.
trait OfRun {
    fn of(&self) -> &RunResult;
}

/// `run`, `account`, `policy`, then `rest`.
fn with_run<R: OfRun>(rest: Vec<Column<R>>) -> Vec<Column<R>> {
    let mut cols = vec![
        text("run", |r: &R| r.of().run.clone()),
        text("account", |r: &R| r.of().account.clone()),
        text("policy", |r: &R| r.of().policy.clone()),
    ];
    cols.extend(rest);
    cols
}

impl OfRun for RunResult {
    fn of(&self) -> &RunResult {
        self
    }
}

/// One item (trade, equity point, skipped signal) of one run.
pub struct InRun<'a, T> {
    run: &'a RunResult,
    item: &'a T,
}

impl<T> OfRun for InRun<'_, T> {
    fn of(&self) -> &RunResult {
        self.run
    }
}

/// The items `of` one run lists, with their run.
pub fn in_run<'a, T>(run: &'a RunResult, of: fn(&RunResult) -> &[T]) -> Vec<InRun<'a, T>> {
    of(run).iter().map(|item| InRun { run, item }).collect()
}

/// `summary.csv`: one line per run.
pub fn summary() -> Vec<Column<RunResult>> {
    with_run(vec![
        text("params", |r| {
            r.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";")
        }),
        float("final_equity", |r| money(r.summary.final_equity, 2)),
        float("return_pct", |r| format!("{:.2}", r.summary.return_pct)),
        float("max_drawdown_pct", |r| {
            format!("{:.2}", r.summary.max_drawdown_pct)
        }),
        int("liquidations", |r| r.summary.liquidations.to_string()),
        int("liquidations_adverse", |r| {
            r.liquidation_band
                .map(|(a, _)| a.to_string())
                .unwrap_or_default()
        }),
        int("liquidations_close", |r| {
            r.liquidation_band
                .map(|(_, c)| c.to_string())
                .unwrap_or_default()
        }),
        int("cascades", |r| r.summary.cascades.to_string()),
        int("cascade_victims", |r| r.summary.cascade_victims.to_string()),
        int("wipeouts", |r| r.summary.wipeouts.to_string()),
        float("insurance_shortfall", |r| {
            money(r.summary.insurance_shortfall, 2)
        }),
        float("fees", |r| money(r.summary.fees, 2)),
        float("funding", |r| money(r.summary.funding, 2)),
        int("trades", |r| r.summary.trades.to_string()),
        int("skipped_signals", |r| r.summary.skipped_signals.to_string()),
        float("win_rate", |r| format!("{:.4}", r.summary.win_rate)),
        float("profit_factor", |r| f(r.summary.profit_factor)),
    ])
}

/// `trades.csv` / `trades.parquet`.
pub fn trades<'a>() -> Vec<Column<InRun<'a, Trade>>> {
    with_run(vec![
        text("signal_id", |r| r.item.signal_id.to_string()),
        text("symbol", |r| r.item.symbol.to_string()),
        text("side", |r| r.item.side.to_string()),
        text("mode", |r| r.item.mode.to_string()),
        text("background", |r| r.item.background.to_string()),
        text("open_time", |r| iso(r.item.open_time)),
        float("entry_price", |r| f(r.item.entry_price)),
        float("qty", |r| exact(r.item.qty)),
        float("leverage", |r| exact(r.item.leverage)),
        float("margin", |r| exact(r.item.margin)),
        float("margin_added", |r| exact(r.item.margin_added)),
        float("liq_price_at_entry", |r| opt_f(r.item.liq_price_at_entry)),
        text("close_time", |r| iso(r.item.close_time)),
        float("exit_price", |r| f(r.item.exit_price)),
        text("exit_reason", |r| r.item.exit_reason.to_string()),
        text("exits", |r| {
            r.item
                .exits
                .iter()
                .map(|e| format!("{}@{}x{}", e.reason, f(e.price), e.qty.normalize()))
                .collect::<Vec<_>>()
                .join(";")
        }),
        float("pnl", |r| exact(r.item.pnl)),
        float("fees", |r| exact(r.item.fees)),
        float("clearance_fee", |r| exact(r.item.clearance_fee)),
        float("funding", |r| exact(r.item.funding)),
        float("net", |r| exact(r.item.net())),
        int("entry_levels", |r| r.item.entry_levels.to_string()),
        int("levels_filled", |r| r.item.levels_filled.to_string()),
    ])
}

/// One position closed by one liquidation event of one run.
pub struct LiquidationRow<'a> {
    run: &'a RunResult,
    /// 1-based number of the event in its run.
    event_no: usize,
    event: &'a LiquidationEvent,
    position: &'a LiquidatedPosition,
    role: &'static str,
}

impl OfRun for LiquidationRow<'_> {
    fn of(&self) -> &RunResult {
        self.run
    }
}

/// Every position of every liquidation event of every run, with its role: `culprit`, `victim`, or
/// `largest_loser` when no position's loss exceeded its own margin (collateral or funding drove
/// the book under) — the engine then records the largest loser as `liquidation`, not `cascade`,
/// and the role column agrees with trades.csv.
pub fn liquidation_rows(runs: &[RunResult]) -> Vec<LiquidationRow<'_>> {
    let mut rows = Vec::new();
    for run in runs {
        for (k, event) in run.liquidations.iter().enumerate() {
            let any_culprit = event.positions.iter().any(|p| p.culprit);
            let largest_loser = event
                .positions
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.upnl.cmp(&b.1.upnl).then(a.0.cmp(&b.0)))
                .map(|(j, _)| j);
            for (j, position) in event.positions.iter().enumerate() {
                let role = if position.culprit {
                    "culprit"
                } else if !any_culprit && Some(j) == largest_loser {
                    "largest_loser"
                } else {
                    "victim"
                };
                rows.push(LiquidationRow {
                    run,
                    event_no: k + 1,
                    event,
                    position,
                    role,
                });
            }
        }
    }
    rows
}

/// `summary.csv` of runs with ADL on: [`summary`] plus the ADL closes and the PnL ADL cost or
/// saved against the same run with ADL off.
pub fn summary_adl() -> Vec<Column<RunResult>> {
    let mut cols = summary();
    cols.extend([
        int("adl_closes", |r: &RunResult| r.adl.len().to_string()),
        float("adl_realised_pnl", |r: &RunResult| {
            money(r.adl.iter().map(|a| a.pnl).sum(), 2)
        }),
        float("final_equity_adl_off", |r: &RunResult| {
            r.adl_off_final_equity
                .map(|x| money(x, 2))
                .unwrap_or_default()
        }),
        float("adl_effect", |r: &RunResult| {
            r.adl_effect().map(|(e, _)| money(e, 2)).unwrap_or_default()
        }),
        float("adl_effect_share", |r: &RunResult| {
            opt_f(
                r.adl_effect()
                    .and_then(|(_, s)| s)
                    .map(|s| (s * 1e4).round() / 1e4),
            )
        }),
    ]);
    cols
}

/// `adl.csv`: every auto-deleveraging of every run (written with ADL on).
pub fn adl<'a>() -> Vec<Column<InRun<'a, AdlRecord>>> {
    with_run(vec![
        text("time", |r| iso(r.item.time)),
        text("signal_id", |r| r.item.signal_id.to_string()),
        text("symbol", |r| r.item.symbol.to_string()),
        text("side", |r| r.item.side.to_string()),
        text("mode", |r| r.item.mode.to_string()),
        float("price", |r| f(r.item.price)),
        float("qty", |r| exact(r.item.qty)),
        float("fraction", |r| format!("{:.4}", r.item.fraction)),
        float("pnl", |r| money(r.item.pnl, 4)),
        float("score", |r| format!("{:.6}", r.item.score)),
        int("quantile", |r| r.item.quantile.to_string()),
        text("trigger", |r| r.item.trigger.to_string()),
        text("source", |r| r.item.source.clone()),
    ])
}

/// `liquidations.csv` of runs with ADL on: [`liquidations`] plus `after_adl`, the cross ADL that
/// came before the liquidation.
pub fn liquidations_adl<'a>() -> Vec<Column<LiquidationRow<'a>>> {
    let mut cols = liquidations();
    cols.push(text("after_adl", |r| {
        r.event.after_adl.clone().unwrap_or_default()
    }));
    cols
}

/// `liquidations.csv`.
pub fn liquidations<'a>() -> Vec<Column<LiquidationRow<'a>>> {
    with_run(vec![
        int("event", |r| r.event_no.to_string()),
        text("time", |r| iso(r.event.time)),
        text("mode", |r| r.event.mode.to_string()),
        text("signal_id", |r| r.position.signal_id.to_string()),
        text("symbol", |r| r.position.symbol.to_string()),
        text("side", |r| r.position.side.to_string()),
        float("price", |r| f(r.position.price)),
        text("role", |r| r.role.to_string()),
        float("upnl", |r| money(r.position.upnl, 4)),
        float("loss_beyond_margin", |r| {
            money(r.position.loss_beyond_margin, 4)
        }),
        float("margin_ratio", |r| format!("{:.4}", r.event.margin_ratio)),
        float("margin_balance", |r| money(r.event.margin_balance, 4)),
        float("maintenance", |r| money(r.event.maintenance, 4)),
        float("book_correlation", |r| rho(r.event.book_correlation)),
        float("event_clearance_fee", |r| money(r.event.clearance_fee, 4)),
        float("event_insurance_shortfall", |r| {
            money(r.event.insurance_shortfall, 4)
        }),
        text("wipeout", |r| r.event.wipeout.to_string()),
    ])
}

/// `equity.csv` / `equity.parquet`.
pub fn equity<'a>() -> Vec<Column<InRun<'a, EquityPoint>>> {
    with_run(vec![
        text("time", |r| iso(r.item.time)),
        int("time_ms", |r| r.item.time.to_string()),
        float("equity", |r| format!("{:.4}", r.item.equity)),
        float("drawdown", |r| format!("{:.6}", r.item.drawdown)),
        float("margin_ratio", |r| format!("{:.6}", r.item.margin_ratio)),
        int("open_positions", |r| r.item.open_positions.to_string()),
        float("book_correlation", |r| rho(r.item.book_correlation)),
        float("correlated_exposure", |r| {
            format!("{:.2}", r.item.correlated_exposure)
        }),
    ])
}

/// `skipped.csv`.
pub fn skipped<'a>() -> Vec<Column<InRun<'a, SkippedSignal>>> {
    with_run(vec![
        text("signal_id", |r| r.item.signal_id.to_string()),
        text("time", |r| iso(r.item.time)),
        text("symbol", |r| {
            r.item
                .symbol
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default()
        }),
        text("reason", |r| r.item.reason.clone()),
    ])
}

/// `checklist.csv` of the `checklist` command: one line per call.
pub fn checklist() -> Vec<Column<ChecklistRow>> {
    vec![
        text("channel", |r| r.channel.clone()),
        text("signal_id", |r| r.signal_id.clone()),
        text("time", |r| r.time_iso.clone()),
        text("symbol", |r| r.symbol.to_string()),
        text("side", |r| r.side.to_string()),
        text("entry_kind", |r| r.entry_kind.to_string()),
        float("reference_price", |r| g(r.reference_price)),
        float("stop", |r| g(r.stop)),
        float("leverage", |r| r.leverage.to_string()),
        float("notional", |r| g(r.notional)),
        float("margin", |r| g(r.margin)),
        float("fees", |r| g(r.fees)),
        float("liq_price", |r| g(r.liq_price)),
        float("stop_distance_pct", |r| g(r.stop_distance_pct)),
        float("liq_distance_pct", |r| g(r.liq_distance_pct)),
        text("stop_before_liq", |r| {
            r.stop_before_liq.map(|b| b.to_string()).unwrap_or_default()
        }),
        float("max_safe_leverage", |r| g(r.max_safe_leverage)),
        int("book_positions", |r| r.book_positions.to_string()),
        text("book", |r| r.book.clone()),
        float("max_book_correlation", |r| g(r.max_book_correlation)),
        float("exposure_before", |r| r.exposure_before.to_string()),
        float("exposure_after", |r| r.exposure_after.to_string()),
        float("equity", |r| r.equity.to_string()),
        float("haircut", |r| r.haircut.to_string()),
        float("usable_margin", |r| r.usable_margin.to_string()),
        float("margin_share", |r| g(r.margin_share)),
        float("volatile_collateral_share", |r| {
            r.volatile_collateral_share.to_string()
        }),
        float("collateral_correlation", |r| g(r.collateral_correlation)),
        float("funding_rate", |r| g(r.funding_rate)),
        float("expected_hold_hours", |r| r.expected_hold_hours.to_string()),
        text("hold_basis", |r| r.hold_basis.clone()),
        float("funding_headwind_pct", |r| g(r.funding_headwind_pct)),
        float("funding_share_of_stop", |r| g(r.funding_share_of_stop)),
        int("tier", |r| {
            r.tier.map(|t| t.to_string()).unwrap_or_default()
        }),
        float("next_tier_distance_pct", |r| g(r.next_tier_distance_pct)),
        text("verdict", |r| r.verdict.to_string()),
        text("reasons", |r| r.reasons.join("; ")),
        text("notes", |r| r.notes.join("; ")),
    ]
}

/// `checklist.csv` of a scenario with ADL on: [`checklist`] plus the ADL exposure at the call.
pub fn checklist_adl() -> Vec<Column<ChecklistRow>> {
    let mut cols = checklist();
    cols.extend([
        float("adl_score_at_target", |r: &ChecklistRow| {
            g(r.adl_score_at_target)
        }),
        int("adl_quantile_at_target", |r: &ChecklistRow| {
            r.adl_quantile_at_target
                .map(|q| q.to_string())
                .unwrap_or_default()
        }),
        float("adl_first_margin_share", |r: &ChecklistRow| {
            g(r.adl_first_margin_share)
        }),
    ]);
    cols
}

/// An optional float as Rust prints it (empty when absent).
fn g(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// `claims_vs_replay.csv`: the channel's claims beside each run's replay of the call.
pub fn claims() -> Vec<Column<ClaimCheck>> {
    vec![
        text("run", |r| r.run.clone()),
        text("channel", |r| r.channel.clone()),
        text("call_id", |r| r.call_id.clone()),
        text("symbol", |r| r.symbol.clone()),
        text("claimed", |r| r.claimed.clone()),
        int("claimed_targets", |r| {
            r.claimed_targets.map(|k| k.to_string()).unwrap_or_default()
        }),
        float("claimed_pct", |r| opt_f(r.claimed_pct)),
        text("claimed_win", |r| r.claimed_win.to_string()),
        text("replayed", |r| r.replayed.clone()),
        int("replayed_targets", |r| r.replayed_targets.to_string()),
        float("replayed_net", |r| {
            r.replayed_net.map(exact).unwrap_or_default()
        }),
        float("replayed_pct", |r| opt_f(r.replayed_pct)),
        text("replayed_win", |r| r.replayed_win.to_string()),
        text("liquidated", |r| r.liquidated.to_string()),
        text("claims_mention_loss", |r| r.claims_mention_loss.to_string()),
    ]
}

/// Writes `records` as Parquet like [`write_parquet`], `batch` records at a time (one row group
/// each): memory holds one batch's cells, not the table's.
pub fn write_parquet_batched<R>(
    path: &Path,
    columns: &[Column<R>],
    records: &[R],
    batch: usize,
) -> Result<()> {
    let mut stream = ringfence_data::tables::ParquetStream::create(path)?;
    for chunk in records.chunks(batch.max(1)) {
        stream.write(parquet_columns(columns, chunk))?;
    }
    stream.finish(parquet_columns(columns, &[]))?;
    Ok(())
}

/// One run on one path of `ringfence stress`.
pub struct PathRow<'a> {
    /// Path number.
    pub path: u64,
    /// The run.
    pub job: &'a crate::cmd_stress::JobInfo,
    /// What it ended with.
    pub outcome: ringfence_paths::distribution::PathOutcome,
}

/// `stress_paths.csv` / `stress_paths.parquet`: one line per path and run, in path order.
pub fn stress_paths<'a>() -> Vec<Column<PathRow<'a>>> {
    vec![
        int("path", |r| r.path.to_string()),
        text("run", |r| r.job.name.clone()),
        text("account", |r| r.job.account.clone()),
        text("policy", |r| r.job.policy.clone()),
        text("params", |r| r.job.params.clone()),
        float("start_equity", |r| f(r.outcome.start_equity)),
        float("final_equity", |r| f(r.outcome.final_equity)),
        float("max_drawdown_pct", |r| f(r.outcome.max_drawdown_pct)),
        int("liquidations", |r| r.outcome.liquidations.to_string()),
        int("wipeouts", |r| r.outcome.wipeouts.to_string()),
        float("min_equity", |r| f(r.outcome.min_equity)),
        int("cascades", |r| r.outcome.cascades.to_string()),
    ]
}

/// `stress_summary.csv`: the distribution of each run over the paths.
pub fn stress_rows() -> Vec<Column<ringfence_report::stress::StressRow>> {
    vec![
        text("run", |r| r.run.clone()),
        text("account", |r| r.account.clone()),
        text("policy", |r| r.policy.clone()),
        text("params", |r| r.params.clone()),
        int("paths", |r| r.paths.to_string()),
        int("wipeouts", |r| r.wipeouts.to_string()),
        float("p_wipeout", |r| f(r.p_wipeout)),
        float("p_wipeout_low95", |r| f(r.p_wipeout_low)),
        float("p_wipeout_high95", |r| f(r.p_wipeout_high)),
        float("p_liquidated", |r| f(r.p_liquidated)),
        float("mean_liquidations", |r| f(r.mean_liquidations)),
        float("max_drawdown_pct_median", |r| f(r.max_drawdown_median)),
        float("max_drawdown_pct_p95", |r| f(r.max_drawdown_p95)),
        float("start_equity", |r| f(r.start_equity)),
        float("final_equity_p05", |r| f(r.final_p05)),
        float("final_equity_median", |r| f(r.final_median)),
        float("final_equity_p95", |r| f(r.final_p95)),
        float("final_equity_mean", |r| f(r.final_mean)),
    ]
}

/// `stress_paired.csv`: cross − isolated on the same paths.
pub fn stress_pairs() -> Vec<Column<ringfence_report::stress::PairRow>> {
    vec![
        text("account", |r| r.account.clone()),
        text("params", |r| r.params.clone()),
        text("cross", |r| r.cross.clone()),
        text("isolated", |r| r.isolated.clone()),
        int("paths", |r| r.paths.to_string()),
        float("wipeout_diff", |r| f(r.wipeout_diff)),
        float("wipeout_diff_low95", |r| f(r.wipeout_diff_low)),
        float("wipeout_diff_high95", |r| f(r.wipeout_diff_high)),
        int("only_cross_wiped", |r| r.only_cross_wiped.to_string()),
        int("only_isolated_wiped", |r| r.only_isolated_wiped.to_string()),
        float("final_diff_p05", |r| f(r.final_diff_p05)),
        float("final_diff_median", |r| f(r.final_diff_median)),
        float("final_diff_p95", |r| f(r.final_diff_p95)),
        float("final_diff_mean", |r| f(r.final_diff_mean)),
        float("final_diff_mean_low95", |r| f(r.final_diff_mean_low)),
        float("final_diff_mean_high95", |r| f(r.final_diff_mean_high)),
        float("cross_lower_share", |r| f(r.cross_lower_share)),
    ]
}

/// One time point of one run's fan chart.
pub struct FanRow<'a> {
    /// The fan.
    pub fan: &'a ringfence_report::stress::Fan,
    /// Its time point.
    pub i: usize,
}

/// `stress_fan.csv`: equity quantiles over the paths at each fan-chart time.
pub fn stress_fan<'a>() -> Vec<Column<FanRow<'a>>> {
    vec![
        text("run", |r| r.fan.run.clone()),
        text("time", |r| iso(r.fan.times[r.i])),
        float("equity_p05", |r| f(r.fan.quantiles[0][r.i])),
        float("equity_p25", |r| f(r.fan.quantiles[1][r.i])),
        float("equity_p50", |r| f(r.fan.quantiles[2][r.i])),
        float("equity_p75", |r| f(r.fan.quantiles[3][r.i])),
        float("equity_p95", |r| f(r.fan.quantiles[4][r.i])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<R>(cols: &[Column<R>]) -> Vec<&'static str> {
        cols.iter().map(|c| c.name).collect()
    }

    #[test]
    fn every_table_has_unique_column_names_and_starts_with_its_run() {
        let tables = [
            names(&summary()),
            names(&trades()),
            names(&liquidations()),
            names(&equity()),
            names(&skipped()),
            names(&checklist()),
            names(&summary_adl()),
            names(&checklist_adl()),
            names(&liquidations_adl()),
            names(&adl()),
        ];
        for t in &tables {
            let mut sorted = t.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), t.len(), "duplicate column in {t:?}");
        }
        for t in tables[..5]
            .iter()
            .chain([&tables[6], &tables[8], &tables[9]])
        {
            assert_eq!(t[..3], ["run", "account", "policy"]);
        }
        assert_eq!(tables[5].len(), 38);
    }

    #[test]
    fn parquet_types_follow_the_column_list() {
        let kinds = |cols: &[Column<InRun<'_, EquityPoint>>], kind: Kind| -> Vec<&'static str> {
            cols.iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.name)
                .collect()
        };
        let eq = equity();
        assert_eq!(kinds(&eq, Kind::Int), ["time_ms", "open_positions"]);
        assert_eq!(
            kinds(&eq, Kind::Float),
            [
                "equity",
                "drawdown",
                "margin_ratio",
                "book_correlation",
                "correlated_exposure"
            ]
        );
    }

    #[test]
    fn cells_render_money_and_floats_exactly() {
        assert_eq!(money(Decimal::new(-4, 3), 2), "0");
        // Half-way cases round to even (rust_decimal's `round_dp`).
        assert_eq!(money(Decimal::new(12345, 3), 2), "12.34");
        assert_eq!(money(Decimal::new(12355, 3), 2), "12.36");
        assert_eq!(f(f64::NAN), "");
        assert_eq!(f(f64::INFINITY), "inf");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(rho(Some(0.123456)), "0.1235");
        assert_eq!(exact(Decimal::new(1500, 3)), "1.5");
    }
}
