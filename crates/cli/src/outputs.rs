//! The output directory of a run (DESIGN.md §8): CSV and JSON tables, Parquet copies of the large
//! ones, `run.json`, and the report — written atomically.
//!
//! Everything is first written into a sibling staging directory (`<out>.partial-<pid>`); only when
//! every file is complete is the old output removed and the staging directory renamed into place.
//! A failed run leaves no directory that looks complete.

use anyhow::{Context, Result};
use ringfence_data::tables::{TableColumn, write_parquet};
use ringfence_model::time::iso;
use ringfence_model::{RunResult, Trade};
use std::path::{Path, PathBuf};

/// A staging directory renamed into place by [`Staging::commit`], removed on drop otherwise.
pub struct Staging {
    tmp: PathBuf,
    dest: PathBuf,
    done: bool,
}

impl Staging {
    /// Creates `<dest>.partial-<pid>` (removing a stale one, and those of runs that died).
    /// An output path that exists as a file (or under a file) is bad input.
    pub fn new(dest: &Path) -> Result<Self> {
        crate::robust::check_output_dir(dest)?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        crate::robust::remove_stale_staging(dest, &name);
        let tmp = dest.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("cannot remove {}", tmp.display()))?;
        }
        // Registered before it exists, so that Ctrl-C never finds it unregistered.
        crate::interrupt::remove_on_interrupt(&tmp);
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(Staging {
            tmp,
            dest: dest.to_path_buf(),
            done: false,
        })
    }

    /// Where files are written before the commit.
    pub fn dir(&self) -> &Path {
        crate::interrupt::pause_if_interrupted();
        &self.tmp
    }

    /// Replaces the destination with the staged directory.
    pub fn commit(mut self) -> Result<PathBuf> {
        crate::interrupt::pause_if_interrupted();
        crate::robust::keep_checklist(&self.dest, &self.tmp)?;
        if self.dest.exists() {
            std::fs::remove_dir_all(&self.dest)
                .with_context(|| format!("cannot replace {}", self.dest.display()))?;
        }
        std::fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("cannot move output into {}", self.dest.display()))?;
        crate::interrupt::forget(&self.tmp);
        self.done = true;
        Ok(self.dest.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        crate::interrupt::pause_if_interrupted();
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
            crate::interrupt::forget(&self.tmp);
        }
    }
}

/// A table as rows of text cells (for CSV) with typed columns (for Parquet).
struct Table {
    names: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(names: &[&'static str]) -> Self {
        Table {
            names: names.to_vec(),
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.names.len());
        self.rows.push(row);
    }

    fn write_csv(&self, path: &Path) -> Result<()> {
        let mut w = csv::Writer::from_path(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record(&self.names)?;
        for r in &self.rows {
            w.write_record(r)?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Parquet copy: columns listed in `floats` / `ints` are typed, the rest text.
    fn write_parquet(&self, path: &Path, floats: &[&str], ints: &[&str]) -> Result<()> {
        let cols = self
            .names
            .iter()
            .enumerate()
            .map(|(j, n)| {
                let cells = self.rows.iter().map(|r| r[j].as_str());
                let col = if floats.contains(n) {
                    TableColumn::F64(cells.map(|c| c.parse().unwrap_or(f64::NAN)).collect())
                } else if ints.contains(n) {
                    TableColumn::I64(cells.map(|c| c.parse().unwrap_or(0)).collect())
                } else {
                    TableColumn::Str(cells.map(str::to_string).collect())
                };
                (n.to_string(), col)
            })
            .collect();
        write_parquet(path, cols)?;
        Ok(())
    }
}

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
fn money(x: rust_decimal::Decimal, dp: u32) -> String {
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

fn params_text(r: &RunResult) -> String {
    r.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// Writes `summary.csv`, `summary.json`, `trades.csv`, `liquidations.csv`, `equity.csv`,
/// `skipped.csv` and Parquet copies of trades and equity into `dir`.
pub fn write_tables(dir: &Path, runs: &[RunResult]) -> Result<()> {
    let mut summary = Table::new(&[
        "run",
        "account",
        "policy",
        "params",
        "final_equity",
        "return_pct",
        "max_drawdown_pct",
        "liquidations",
        "liquidations_adverse",
        "liquidations_close",
        "cascades",
        "cascade_victims",
        "wipeouts",
        "insurance_shortfall",
        "fees",
        "funding",
        "trades",
        "skipped_signals",
        "win_rate",
        "profit_factor",
    ]);
    for r in runs {
        let s = &r.summary;
        let (band_a, band_c) = r
            .liquidation_band
            .map(|(a, c)| (a.to_string(), c.to_string()))
            .unwrap_or_default();
        summary.push(vec![
            r.run.clone(),
            r.account.clone(),
            r.policy.clone(),
            params_text(r),
            money(s.final_equity, 2),
            format!("{:.2}", s.return_pct),
            format!("{:.2}", s.max_drawdown_pct),
            s.liquidations.to_string(),
            band_a,
            band_c,
            s.cascades.to_string(),
            s.cascade_victims.to_string(),
            s.wipeouts.to_string(),
            money(s.insurance_shortfall, 2),
            money(s.fees, 2),
            money(s.funding, 2),
            s.trades.to_string(),
            s.skipped_signals.to_string(),
            format!("{:.4}", s.win_rate),
            f(s.profit_factor),
        ]);
    }
    summary.write_csv(&dir.join("summary.csv"))?;
    let json: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "run": r.run,
                "account": r.account,
                "policy": r.policy,
                "params": r.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
                "summary": r.summary,
                "liquidation_band": r.liquidation_band.map(|(a, c)| serde_json::json!({"adverse": a, "close": c})),
            })
        })
        .collect();
    write_json(&dir.join("summary.json"), &json)?;

    let mut trades = Table::new(&[
        "run",
        "account",
        "policy",
        "signal_id",
        "symbol",
        "side",
        "mode",
        "background",
        "open_time",
        "entry_price",
        "qty",
        "leverage",
        "margin",
        "margin_added",
        "liq_price_at_entry",
        "close_time",
        "exit_price",
        "exit_reason",
        "exits",
        "pnl",
        "fees",
        "clearance_fee",
        "funding",
        "net",
    ]);
    for r in runs {
        for t in &r.trades {
            trades.push(trade_row(r, t));
        }
    }
    trades.write_csv(&dir.join("trades.csv"))?;
    trades.write_parquet(
        &dir.join("trades.parquet"),
        &[
            "entry_price",
            "qty",
            "leverage",
            "margin",
            "margin_added",
            "liq_price_at_entry",
            "exit_price",
            "pnl",
            "fees",
            "clearance_fee",
            "funding",
            "net",
        ],
        &[],
    )?;

    let mut liqs = Table::new(&[
        "run",
        "account",
        "policy",
        "event",
        "time",
        "mode",
        "signal_id",
        "symbol",
        "side",
        "price",
        "role",
        "upnl",
        "loss_beyond_margin",
        "margin_ratio",
        "margin_balance",
        "maintenance",
        "book_correlation",
        "event_clearance_fee",
        "event_insurance_shortfall",
        "wipeout",
    ]);
    for r in runs {
        for (k, e) in r.liquidations.iter().enumerate() {
            // When no position's loss exceeded its own margin (collateral or funding drove the book
            // under), the engine records the largest loser as `liquidation`, not `cascade`: so does
            // the role column (`largest_loser`), to agree with trades.csv.
            let any_culprit = e.positions.iter().any(|p| p.culprit);
            let largest_loser = e
                .positions
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.upnl.cmp(&b.1.upnl).then(a.0.cmp(&b.0)))
                .map(|(j, _)| j);
            for (j, p) in e.positions.iter().enumerate() {
                let role = if p.culprit {
                    "culprit"
                } else if !any_culprit && Some(j) == largest_loser {
                    "largest_loser"
                } else {
                    "victim"
                };
                liqs.push(vec![
                    r.run.clone(),
                    r.account.clone(),
                    r.policy.clone(),
                    (k + 1).to_string(),
                    iso(e.time),
                    e.mode.to_string(),
                    p.signal_id.clone(),
                    p.symbol.to_string(),
                    p.side.to_string(),
                    f(p.price),
                    role.into(),
                    money(p.upnl, 4),
                    money(p.loss_beyond_margin, 4),
                    format!("{:.4}", e.margin_ratio),
                    money(e.margin_balance, 4),
                    money(e.maintenance, 4),
                    opt_f(e.book_correlation.map(|c| (c * 1e4).round() / 1e4)),
                    money(e.clearance_fee, 4),
                    money(e.insurance_shortfall, 4),
                    e.wipeout.to_string(),
                ]);
            }
        }
    }
    liqs.write_csv(&dir.join("liquidations.csv"))?;

    let mut equity = Table::new(&[
        "run",
        "account",
        "policy",
        "time",
        "time_ms",
        "equity",
        "drawdown",
        "margin_ratio",
        "open_positions",
        "book_correlation",
        "correlated_exposure",
    ]);
    for r in runs {
        for p in &r.equity {
            equity.push(vec![
                r.run.clone(),
                r.account.clone(),
                r.policy.clone(),
                iso(p.time),
                p.time.to_string(),
                format!("{:.4}", p.equity),
                format!("{:.6}", p.drawdown),
                format!("{:.6}", p.margin_ratio),
                p.open_positions.to_string(),
                opt_f(p.book_correlation.map(|c| (c * 1e4).round() / 1e4)),
                format!("{:.2}", p.correlated_exposure),
            ]);
        }
    }
    equity.write_csv(&dir.join("equity.csv"))?;
    equity.write_parquet(
        &dir.join("equity.parquet"),
        &[
            "equity",
            "drawdown",
            "margin_ratio",
            "book_correlation",
            "correlated_exposure",
        ],
        &["time_ms", "open_positions"],
    )?;

    let mut skipped = Table::new(&[
        "run",
        "account",
        "policy",
        "signal_id",
        "time",
        "symbol",
        "reason",
    ]);
    for r in runs {
        for s in &r.skipped {
            skipped.push(vec![
                r.run.clone(),
                r.account.clone(),
                r.policy.clone(),
                s.signal_id.clone(),
                iso(s.time),
                s.symbol.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                s.reason.clone(),
            ]);
        }
    }
    skipped.write_csv(&dir.join("skipped.csv"))?;
    Ok(())
}

fn trade_row(r: &RunResult, t: &Trade) -> Vec<String> {
    let exits = t
        .exits
        .iter()
        .map(|e| format!("{}@{}x{}", e.reason, f(e.price), e.qty.normalize()))
        .collect::<Vec<_>>()
        .join(";");
    vec![
        r.run.clone(),
        r.account.clone(),
        r.policy.clone(),
        t.signal_id.clone(),
        t.symbol.to_string(),
        t.side.to_string(),
        t.mode.to_string(),
        t.background.to_string(),
        iso(t.open_time),
        f(t.entry_price),
        t.qty.normalize().to_string(),
        t.leverage.normalize().to_string(),
        t.margin.normalize().to_string(),
        t.margin_added.normalize().to_string(),
        opt_f(t.liq_price_at_entry),
        iso(t.close_time),
        f(t.exit_price),
        t.exit_reason.to_string(),
        exits,
        t.pnl.normalize().to_string(),
        t.fees.normalize().to_string(),
        t.clearance_fee.normalize().to_string(),
        t.funding.normalize().to_string(),
        t.net().normalize().to_string(),
    ]
}

/// Writes pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
