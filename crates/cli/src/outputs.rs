//! The output directory of a run (DESIGN.md §8): CSV and JSON tables, Parquet copies of the large
//! ones, `run.json`, and the report — written atomically, each run's rows as soon as it finishes
//! ([`RunWriter`]).
//!
//! Everything is first written into a sibling staging directory (`<out>.partial-<pid>`); only when
//! every file is complete is the old output removed and the staging directory renamed into place.
//! A failed run leaves no directory that looks complete.

use crate::tables::{self, CsvStream};
use anyhow::{Context, Result};
use ringfence_data::tables::ParquetStream;
use ringfence_model::RunResult;
use ringfence_report::charts::{STORED_CURVE_POINTS, thin_equity};
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

/// What a run directory holds beyond the default tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// Also write `equity.parquet`: every equity point of every run (`run --full-equity`).
    pub full_equity: bool,
    /// The runs have ADL on (the scenario's `[adl]`; then every run has, with its ADL-off
    /// counterfactual): `adl.csv` and the ADL columns of `summary.csv` and `liquidations.csv` are
    /// written. With ADL off every table is as before ADL existed.
    pub adl: bool,
}

/// The per-run tables of a run directory, written as the runs come, in job order.
///
/// [`RunWriter::push`] writes one finished run's rows to `summary.csv`, `trades.csv`,
/// `liquidations.csv`, `equity.csv` (at the report's bounded resolution, see
/// [`ringfence_report::charts::thin_equity`]), `skipped.csv`, with [`OutputOptions::adl`]
/// `adl.csv`, and with [`OutputOptions::full_equity`] `equity.parquet` (every point), then keeps the run with its
/// equity at that bounded resolution. [`RunWriter::finish`] writes what needs every run
/// (`summary.json`, `trades.parquet`, the report's curves `report-curves.parquet`) and returns the
/// kept runs. Memory grows with trades, not with bars × runs. The bytes depend only on the runs
/// and their order: `run` (runs as they finish) and a merge of shards (runs read back) that hand
/// the same runs in the same order write the same files.
pub struct RunWriter {
    dir: PathBuf,
    summary: CsvStream,
    trades: CsvStream,
    liquidations: CsvStream,
    equity: CsvStream,
    skipped: CsvStream,
    adl: Option<CsvStream>,
    full_equity: Option<ParquetStream>,
    runs: Vec<RunResult>,
    opts: OutputOptions,
}

impl RunWriter {
    /// Creates the tables in `dir` (their headers).
    pub fn create(dir: &Path, opts: OutputOptions) -> Result<Self> {
        Ok(RunWriter {
            dir: dir.to_path_buf(),
            summary: CsvStream::create(&dir.join("summary.csv"), &summary_columns(opts))?,
            trades: CsvStream::create(&dir.join("trades.csv"), &tables::trades())?,
            liquidations: CsvStream::create(
                &dir.join("liquidations.csv"),
                &liquidation_columns(opts),
            )?,
            adl: if opts.adl {
                Some(CsvStream::create(&dir.join("adl.csv"), &tables::adl())?)
            } else {
                None
            },
            equity: CsvStream::create(&dir.join("equity.csv"), &tables::equity())?,
            skipped: CsvStream::create(&dir.join("skipped.csv"), &tables::skipped())?,
            full_equity: if opts.full_equity {
                Some(ParquetStream::create(&dir.join("equity.parquet"))?)
            } else {
                None
            },
            runs: Vec::new(),
            opts,
        })
    }

    /// Writes the rows of the next run (runs come in job order) and keeps it with its equity
    /// at the bounded resolution.
    pub fn push(&mut self, mut run: RunResult) -> Result<()> {
        self.summary
            .write(&summary_columns(self.opts), std::slice::from_ref(&run))?;
        self.trades
            .write(&tables::trades(), &tables::in_run(&run, |r| &r.trades))?;
        self.liquidations.write(
            &liquidation_columns(self.opts),
            &tables::liquidation_rows(std::slice::from_ref(&run)),
        )?;
        if let Some(adl) = &mut self.adl {
            adl.write(&tables::adl(), &tables::in_run(&run, |r| &r.adl))?;
        }
        if let Some(full) = &mut self.full_equity {
            let rows = tables::in_run(&run, |r| &r.equity);
            full.write(tables::parquet_columns(&tables::equity(), &rows))?;
        }
        run.equity = thin_equity(&run.equity, STORED_CURVE_POINTS);
        self.equity
            .write(&tables::equity(), &tables::in_run(&run, |r| &r.equity))?;
        self.skipped
            .write(&tables::skipped(), &tables::in_run(&run, |r| &r.skipped))?;
        self.runs.push(run);
        Ok(())
    }

    /// Writes `summary.json`, `trades.parquet` and `report-curves.parquet`, closes every table
    /// and returns the runs (equity at the bounded resolution), in the order they were pushed.
    pub fn finish(self) -> Result<Vec<RunResult>> {
        let RunWriter {
            dir,
            summary,
            trades,
            liquidations,
            equity,
            skipped,
            adl,
            full_equity,
            runs,
            opts: _,
        } = self;
        for t in [summary, trades, liquidations, equity, skipped]
            .into_iter()
            .chain(adl)
        {
            t.finish()?;
        }
        if let Some(full) = full_equity {
            full.finish(tables::parquet_columns(&tables::equity(), &[]))?;
        }
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
        let rows = tables::in_runs(&runs, |r| &r.trades);
        tables::write_parquet(&dir.join("trades.parquet"), &tables::trades(), &rows)?;
        crate::report_input::write_curves(&dir.join(crate::report_input::CURVES), &runs)?;
        Ok(runs)
    }
}

/// The columns of `summary.csv`: with the ADL columns when ADL is on.
fn summary_columns(opts: OutputOptions) -> Vec<tables::Column<RunResult>> {
    if opts.adl {
        tables::summary_adl()
    } else {
        tables::summary()
    }
}

/// The columns of `liquidations.csv`: with the ADL columns when ADL is on.
fn liquidation_columns<'a>(opts: OutputOptions) -> Vec<tables::Column<tables::LiquidationRow<'a>>> {
    if opts.adl {
        tables::liquidations_adl()
    } else {
        tables::liquidations()
    }
}

/// Writes pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
