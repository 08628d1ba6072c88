//! The output directory of a run (DESIGN.md §8): CSV and JSON tables, Parquet copies of the large
//! ones, `run.json`, and the report — written atomically, each run's rows as soon as it finishes
//! ([`RunWriter`]).
//!
//! Everything is first written into a sibling staging directory (`<out>.partial-<pid>`); only when
//! every file is complete is the old output removed and the staging directory renamed into place.
//! A failed run leaves no directory that looks complete.

use crate::scenario::Job;
use crate::tables::{self, CsvStream};
use anyhow::{Context, Result};
use ringfence_data::tables::{ParquetStream, TableColumn};
use ringfence_model::{Claim, ClaimCheck, ClaimSummary, RunResult};
use ringfence_paths::distribution::PathOutcome;
use ringfence_report::analysis::Standing;
use ringfence_report::charts::{STORED_CURVE_POINTS, thin_equity};
use std::collections::BTreeSet;
use std::io::Write as _;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputOptions {
    /// Also write `equity.parquet`: every equity point of every run (`run --full-equity`).
    pub full_equity: bool,
    /// The runs have ADL on (the scenario's `[adl]`; then every run has, with its ADL-off
    /// counterfactual): `adl.csv` and the ADL columns of `summary.csv` and `liquidations.csv` are
    /// written. With ADL off every table is as before ADL existed.
    pub adl: bool,
    /// The most runs the report shows one by one (`report.detail_runs`; see [`RunWriter`]).
    pub detail_runs: usize,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            full_equity: false,
            adl: false,
            detail_runs: DETAIL_RUNS,
        }
    }
}

/// The default of `report.detail_runs`: sweeps of more runs than this are reported by their
/// distribution per account × policy and, in detail, by the best and the worst run of each account
/// × policy ([`RunWriter`]); smaller ones show every run. The tables always hold every run.
pub const DETAIL_RUNS: usize = 200;

/// Rows of `trades.parquet` gathered before they are written as one row group.
const TRADE_BATCH: usize = 8_192;

/// The per-run tables of a run directory, written as the runs come, in job order.
///
/// [`RunWriter::push`] writes one finished run's rows to `summary.csv`, `summary.json`,
/// `trades.csv`, `trades.parquet`, `liquidations.csv`, `equity.csv` (at the report's bounded
/// resolution, see [`ringfence_report::charts::thin_equity`]; past `detail_runs`, written at the
/// end for the runs shown in detail only), `skipped.csv`, with claims
/// `claims_vs_replay.csv`, with [`OutputOptions::adl`] `adl.csv`, and with
/// [`OutputOptions::full_equity`] `equity.parquet` (every point). It keeps for the report:
/// - with at most [`OutputOptions::detail_runs`] jobs, every run (equity at the bounded resolution);
/// - with more, the best and the worst run of each account × policy (ranked by money as the
///   report ranks them), and of every run only what its distribution needs (a few numbers), so
///   that memory does not grow with the runs' trades or curves.
///
/// [`RunWriter::finish`] closes the tables, writes the report's curves
/// (`report-curves.parquet`) and returns what the report needs ([`Finished`]). The bytes depend
/// only on the runs and their order: `run` (runs as they finish) and a merge of shards (runs read
/// back) that hand the same runs in the same order write the same files.
pub struct RunWriter {
    dir: PathBuf,
    summary: CsvStream,
    summary_json: JsonArray,
    trades: CsvStream,
    trades_parquet: ParquetStream,
    pending_trades: Vec<(String, TableColumn)>,
    liquidations: CsvStream,
    equity: CsvStream,
    skipped: CsvStream,
    adl: Option<CsvStream>,
    full_equity: Option<ParquetStream>,
    claims: Option<(Vec<Claim>, CsvStream)>,
    keep: Keep,
    /// Per job: true when it is a cross run of the first job's account (the checklist counts
    /// cascade victims there).
    cross_of_first: Vec<bool>,
    victims: BTreeSet<String>,
    cross_runs: Vec<String>,
    pushed: usize,
    opts: OutputOptions,
}

/// A run kept for the report, with its claims comparison.
struct Kept {
    index: usize,
    run: RunResult,
    claims: (Vec<ClaimCheck>, Vec<ClaimSummary>),
}

/// True when `a` ranks before `b` by money, as the report ranks runs
/// ([`Standing::money_order`]).
fn better(a: &RunResult, b: &RunResult) -> bool {
    Standing::of(a).money_order(&Standing::of(b)).is_lt()
}

/// One account × policy of a large sweep: its best and worst run so far and every run's outcome.
struct Group {
    account: String,
    policy: String,
    best: Option<Kept>,
    worst: Option<Kept>,
    outcomes: Vec<PathOutcome>,
}

/// What the writer keeps for the report.
enum Keep {
    /// Every run.
    All(Vec<Kept>),
    /// A large sweep: per account × policy, in job order of first appearance.
    Extremes(Vec<Group>),
}

/// What [`RunWriter::finish`] hands to the report.
pub struct Finished {
    /// The runs the report shows in detail, in job order (every run, unless the sweep is large).
    pub runs: Vec<RunResult>,
    /// A large sweep's distribution per account × policy (`None` when every run is in `runs`).
    pub sweep: Option<ringfence_report::SweepSection>,
    /// The claims comparison of the runs in `runs` (`None` without claims).
    pub claims: Option<ringfence_report::claims::ClaimsSection>,
    /// The calls that were cascade victims in the cross runs of the first job's account.
    pub victims: BTreeSet<String>,
    /// Those cross runs' names.
    pub cross_runs: Vec<String>,
}

impl RunWriter {
    /// Creates the tables in `dir` (their headers) for the runs of `jobs`, in order; `claims`
    /// are the channels' claims (none: no claims table).
    pub fn create(dir: &Path, opts: OutputOptions, jobs: &[Job], claims: &[Claim]) -> Result<Self> {
        let cross_of_first = match jobs.first() {
            Some(first) => jobs
                .iter()
                .map(|j| crate::pipeline::counts_cascades_for(j, first))
                .collect(),
            None => Vec::new(),
        };
        Self::with_plan(dir, opts, cross_of_first, claims)
    }

    /// [`RunWriter::create`] for `cross_of_first.len()` runs, of which those marked are the cross
    /// runs of the first job's account.
    pub fn with_plan(
        dir: &Path,
        opts: OutputOptions,
        cross_of_first: Vec<bool>,
        claims: &[Claim],
    ) -> Result<Self> {
        Ok(RunWriter {
            dir: dir.to_path_buf(),
            summary: CsvStream::create(&dir.join("summary.csv"), &summary_columns(opts))?,
            summary_json: JsonArray::create(&dir.join("summary.json"))?,
            trades: CsvStream::create(&dir.join("trades.csv"), &tables::trades())?,
            trades_parquet: ParquetStream::create(&dir.join("trades.parquet"))?,
            pending_trades: Vec::new(),
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
            claims: if claims.is_empty() {
                None
            } else {
                let path = dir.join("claims_vs_replay.csv");
                Some((
                    claims.to_vec(),
                    CsvStream::create(&path, &tables::claims())?,
                ))
            },
            keep: if cross_of_first.len() <= opts.detail_runs {
                Keep::All(Vec::with_capacity(cross_of_first.len()))
            } else {
                Keep::Extremes(Vec::new())
            },
            cross_of_first,
            victims: BTreeSet::new(),
            cross_runs: Vec::new(),
            pushed: 0,
            opts,
        })
    }

    /// Writes the rows of the next run (runs come in job order) and keeps what the report needs
    /// of it.
    pub fn push(&mut self, run: RunResult) -> Result<()> {
        self.push_run(run, false)
    }

    /// [`RunWriter::push`] of a run whose equity is already at the bounded resolution
    /// (`thin_equity(…, STORED_CURVE_POINTS)` of its full curve, as a shard stores it): the same
    /// bytes as pushing the run with its full curve, without `equity.parquet`'s points.
    pub fn push_thinned(&mut self, run: RunResult) -> Result<()> {
        self.push_run(run, true)
    }

    fn push_run(&mut self, mut run: RunResult, thinned: bool) -> Result<()> {
        let index = self.pushed;
        self.pushed += 1;
        self.summary
            .write(&summary_columns(self.opts), std::slice::from_ref(&run))?;
        self.summary_json.push(&summary_json(&run))?;
        let trades = tables::in_run(&run, |r| &r.trades);
        self.trades.write(&tables::trades(), &trades)?;
        append_columns(
            &mut self.pending_trades,
            tables::parquet_columns(&tables::trades(), &trades),
        );
        if self.pending_trades.first().map_or(0, |c| c.1.len()) >= TRADE_BATCH {
            self.trades_parquet
                .write(std::mem::take(&mut self.pending_trades))?;
        }
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
        if !thinned {
            run.equity = thin_equity(&run.equity, STORED_CURVE_POINTS);
        }
        if let Keep::All(_) = self.keep {
            self.equity
                .write(&tables::equity(), &tables::in_run(&run, |r| &r.equity))?;
        }
        self.skipped
            .write(&tables::skipped(), &tables::in_run(&run, |r| &r.skipped))?;
        let claims = match &mut self.claims {
            Some((claims, csv)) => {
                let (rows, summaries) =
                    ringfence_sim::claims::claims_vs_replay(claims, std::slice::from_ref(&run));
                csv.write(&tables::claims(), &rows)?;
                (rows, summaries)
            }
            None => Default::default(),
        };
        if self.cross_of_first.get(index) == Some(&true) {
            ringfence_sim::add_cascade_victims(&run, &mut self.victims);
            self.cross_runs.push(run.run.clone());
        }
        let kept = Kept { index, run, claims };
        match &mut self.keep {
            Keep::All(runs) => runs.push(kept),
            Keep::Extremes(groups) => keep_extremes(groups, kept),
        }
        Ok(())
    }

    /// Closes every table, writes `report-curves.parquet` and returns what the report needs.
    pub fn finish(self) -> Result<Finished> {
        let RunWriter {
            dir,
            summary,
            summary_json,
            trades,
            mut trades_parquet,
            pending_trades,
            liquidations,
            mut equity,
            skipped,
            adl,
            full_equity,
            claims,
            keep,
            cross_of_first: _,
            victims,
            cross_runs,
            pushed,
            opts: _,
        } = self;
        let has_claims = claims.is_some();
        for t in [summary, trades, liquidations, skipped]
            .into_iter()
            .chain(adl)
            .chain(claims.map(|(_, csv)| csv))
        {
            t.finish()?;
        }
        summary_json.finish()?;
        if !pending_trades.is_empty() {
            trades_parquet.write(pending_trades)?;
        }
        trades_parquet.finish(tables::parquet_columns(&tables::trades(), &[]))?;
        if let Some(full) = full_equity {
            full.finish(tables::parquet_columns(&tables::equity(), &[]))?;
        }
        let (kept, sweep) = match keep {
            Keep::All(runs) => (runs, None),
            Keep::Extremes(groups) => {
                let rows = groups
                    .iter()
                    .map(|g| {
                        crate::cmd_stress::distribution_row(
                            "",
                            &g.account,
                            &g.policy,
                            "",
                            &g.outcomes,
                        )
                    })
                    .collect();
                let mut kept: Vec<Kept> = groups
                    .into_iter()
                    .flat_map(|g| [g.best, g.worst])
                    .flatten()
                    .collect();
                kept.sort_by_key(|k| k.index);
                kept.dedup_by_key(|k| k.index);
                let sweep = ringfence_report::SweepSection {
                    runs: pushed as u64,
                    detail: "In detail: the best and the worst run of each account × policy \
                             (ranked by money: wipeouts, final equity, drawdown in USDT)."
                        .into(),
                    groups: rows,
                };
                (kept, Some(sweep))
            }
        };
        if sweep.is_some() {
            // A large sweep's curves: those of the runs shown in detail (the others' thinned
            // curves would be tens of kilobytes per run; `--full-equity` writes every point).
            for k in &kept {
                equity.write(&tables::equity(), &tables::in_run(&k.run, |r| &r.equity))?;
            }
        }
        equity.finish()?;
        let mut runs = Vec::with_capacity(kept.len());
        let (mut rows, mut summaries) = (Vec::new(), Vec::new());
        for k in kept {
            runs.push(k.run);
            rows.extend(k.claims.0);
            summaries.extend(k.claims.1);
        }
        crate::report_input::write_curves(&dir.join(crate::report_input::CURVES), &runs)?;
        Ok(Finished {
            runs,
            sweep,
            claims: has_claims
                .then_some(ringfence_report::claims::ClaimsSection { summaries, rows }),
            victims,
            cross_runs,
        })
    }
}

/// Keeps `run` if it is the best or the worst of its account × policy so far, and its outcome.
fn keep_extremes(groups: &mut Vec<Group>, kept: Kept) {
    let at = match groups
        .iter()
        .position(|g| g.account == kept.run.account && g.policy == kept.run.policy)
    {
        Some(i) => i,
        None => {
            groups.push(Group {
                account: kept.run.account.clone(),
                policy: kept.run.policy.clone(),
                best: None,
                worst: None,
                outcomes: Vec::new(),
            });
            groups.len() - 1
        }
    };
    let g = &mut groups[at];
    g.outcomes.push(crate::cmd_stress::outcome_of(&kept.run));
    let is_best = g.best.as_ref().is_none_or(|b| better(&kept.run, &b.run));
    let is_worst = g.worst.as_ref().is_none_or(|w| better(&w.run, &kept.run));
    match (is_best, is_worst) {
        (true, true) => {
            // The first run of the group is both; a later one cannot be.
            g.worst = Some(Kept {
                index: kept.index,
                run: kept.run.clone(),
                claims: kept.claims.clone(),
            });
            g.best = Some(kept);
        }
        (true, false) => g.best = Some(kept),
        (false, true) => g.worst = Some(kept),
        (false, false) => {}
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

/// The `summary.json` entry of one run.
fn summary_json(r: &RunResult) -> serde_json::Value {
    serde_json::json!({
        "run": r.run,
        "account": r.account,
        "policy": r.policy,
        "params": r.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "summary": r.summary,
        "liquidation_band": r.liquidation_band.map(|(a, c)| serde_json::json!({"adverse": a, "close": c})),
    })
}

/// A JSON array written element by element, byte for byte as [`write_json`] writes the whole
/// array (pretty, two-space indent, a final newline).
struct JsonArray {
    path: PathBuf,
    w: std::io::BufWriter<std::fs::File>,
    items: usize,
}

impl JsonArray {
    fn create(path: &Path) -> Result<Self> {
        let f = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(JsonArray {
            path: path.to_path_buf(),
            w: std::io::BufWriter::new(f),
            items: 0,
        })
    }

    /// Appends one element: pretty-printed, every line indented as inside the array.
    fn push<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        let mut out = String::with_capacity(text.len() + text.len() / 8 + 4);
        out.push_str(if self.items == 0 { "[\n" } else { ",\n" });
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str("  ");
            out.push_str(line);
        }
        self.items += 1;
        self.w
            .write_all(out.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn finish(mut self) -> Result<()> {
        let end: &[u8] = if self.items == 0 { b"[]\n" } else { b"\n]\n" };
        self.w
            .write_all(end)
            .and_then(|_| self.w.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Appends the rows of `more` to `acc` (same columns in the same order; `acc` empty takes them).
fn append_columns(acc: &mut Vec<(String, TableColumn)>, more: Vec<(String, TableColumn)>) {
    if acc.is_empty() {
        *acc = more;
        return;
    }
    for ((_, a), (_, b)) in acc.iter_mut().zip(more) {
        match (a, b) {
            (TableColumn::Str(a), TableColumn::Str(b)) => a.extend(b),
            (TableColumn::F64(a), TableColumn::F64(b)) => a.extend(b),
            (TableColumn::I64(a), TableColumn::I64(b)) => a.extend(b),
            _ => unreachable!("one table's columns keep their types"),
        }
    }
}
