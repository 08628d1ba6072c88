//! The output directory of a run (DESIGN.md §8): CSV and JSON tables, Parquet copies of the large
//! ones, `run.json`, and the report — written atomically.
//!
//! Everything is first written into a sibling staging directory (`<out>.partial-<pid>`); only when
//! every file is complete is the old output removed and the staging directory renamed into place.
//! A failed run leaves no directory that looks complete.

use crate::tables;
use anyhow::{Context, Result};
use ringfence_model::RunResult;
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

/// Writes `summary.csv`, `summary.json`, `trades.csv`, `liquidations.csv`, `equity.csv`,
/// `skipped.csv` and Parquet copies of trades and equity into `dir`; with ADL on in any run,
/// also `adl.csv` and the ADL columns of `summary.csv` and `liquidations.csv`.
pub fn write_tables(dir: &Path, runs: &[RunResult]) -> Result<()> {
    let adl_on = tables::adl_on(runs);
    let summary = if adl_on {
        tables::summary_adl()
    } else {
        tables::summary()
    };
    tables::write_csv(&dir.join("summary.csv"), &summary, runs)?;
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
    let trades = tables::in_runs(runs, |r| &r.trades);
    tables::write_csv(&dir.join("trades.csv"), &tables::trades(), &trades)?;
    tables::write_parquet(&dir.join("trades.parquet"), &tables::trades(), &trades)?;
    let liquidations = tables::liquidation_rows(runs);
    let liquidation_columns = if adl_on {
        tables::liquidations_adl()
    } else {
        tables::liquidations()
    };
    tables::write_csv(
        &dir.join("liquidations.csv"),
        &liquidation_columns,
        &liquidations,
    )?;
    if adl_on {
        let adl = tables::in_runs(runs, |r| &r.adl);
        tables::write_csv(&dir.join("adl.csv"), &tables::adl(), &adl)?;
    }
    let equity = tables::in_runs(runs, |r| &r.equity);
    tables::write_csv(&dir.join("equity.csv"), &tables::equity(), &equity)?;
    tables::write_parquet(&dir.join("equity.parquet"), &tables::equity(), &equity)?;
    let skipped = tables::in_runs(runs, |r| &r.skipped);
    tables::write_csv(&dir.join("skipped.csv"), &tables::skipped(), &skipped)?;
    Ok(())
}

/// Writes pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
