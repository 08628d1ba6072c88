//! The report's input from a run: the runs, downsampled prices, warnings, the engine's assumptions
//! and the pre-signal checklist (all plain data). A run directory holds it as `report-input.json`
//! (compact JSON without the equity curves) and `report-curves.parquet` (the curves at the
//! report's bounded resolution), from which `ringfence report` re-renders.

use crate::exit::bad_input;
use crate::outputs::Finished;
use crate::pipeline;
use crate::prepare::Prepared;
use crate::scenario::{Job, Scenario};
use anyhow::Context;
use ringfence_data::tables::TableColumn;
use ringfence_model::{DataWarning, EquityPoint, Market, RunResult, WarningKind};
use ringfence_report::{PriceSeries, ReportInput};
use ringfence_sim::ChecklistRow;
use std::path::Path;

/// Close prices of the market's symbols, downsampled to at most `max` points each.
fn price_series(m: &Market, max: usize) -> Vec<PriceSeries> {
    m.series
        .iter()
        .map(|s| {
            let n = s.end - s.first;
            let step = n.div_ceil(max.max(1)).max(1);
            let idx: Vec<usize> = (s.first..s.end).step_by(step).collect();
            PriceSeries {
                symbol: s.symbol.clone(),
                times: idx.iter().map(|&i| m.times[i]).collect(),
                close: idx.iter().map(|&i| s.close[i]).collect(),
            }
        })
        .collect()
}

/// The report's input from what the writer kept of the runs ([`Finished`]: the runs shown in
/// detail, in job order, the claims comparison, a large sweep's distribution). The checklist
/// section checks the calls against the first job (first account × first policy × first sweep
/// point): `rows` are its rows, computed from that run at full resolution
/// ([`pipeline::checklist_rows`]; `None` when there is no run). When they could not be computed,
/// the report says why among its warnings (and so does stderr) instead of failing the run.
pub fn report_input(
    sc: &Scenario,
    p: &Prepared,
    jobs: &[Job],
    finished: Finished,
    rows: Option<anyhow::Result<Vec<ChecklistRow>>>,
) -> ReportInput {
    let Finished {
        runs,
        sweep,
        claims,
        victims,
        cross_runs,
    } = finished;
    let m = &p.market;
    let mut assumptions = sc.engine.assumptions(m, &p.brackets);
    if let Some(d) = &sc.description {
        assumptions.insert(0, ("Scenario".to_string(), d.clone()));
    }
    let mut warnings = m.warnings.clone();
    for w in p.signal_warnings.iter().chain(&p.bracket_warnings) {
        warnings.push(DataWarning {
            symbol: None,
            kind: WarningKind::Other,
            message: w.clone(),
        });
    }
    let rows = rows.unwrap_or_else(|| Err(anyhow::anyhow!("no run to check the calls against")));
    let checklist = match rows {
        Ok(rows) if !jobs.is_empty() => {
            let cross = cross_runs.iter().map(String::as_str).collect();
            Some(pipeline::Checked::from_victims(rows, &jobs[0], &victims, cross).section())
        }
        Ok(_) => None,
        Err(e) => {
            let message = format!("pre-signal checklist not computed: {e:#}");
            eprintln!("warning: {message}");
            warnings.push(DataWarning {
                symbol: None,
                kind: WarningKind::Other,
                message,
            });
            None
        }
    };
    ReportInput {
        title: sc.name.clone(),
        generated_by: format!("ringfence {}", env!("CARGO_PKG_VERSION")),
        runs,
        prices: price_series(m, 2000),
        warnings,
        assumptions,
        checklist,
        claims,
        sweep,
    }
}

/// The file holding the report's input without the equity curves (compact JSON).
pub const INPUT: &str = "report-input.json";
/// The file holding the report's equity curves (Parquet, one row per kept point of each run).
pub const CURVES: &str = "report-curves.parquet";

/// The columns of [`CURVES`], in order.
const CURVE_COLUMNS: [&str; 8] = [
    "run_index",
    "time_ms",
    "equity",
    "drawdown",
    "margin_ratio",
    "open_positions",
    "book_correlation",
    "correlated_exposure",
];

/// Writes every run's equity points (as they are: exact floats; a missing book correlation is
/// NaN) to the Parquet file `path`, keyed by the run's index in `runs`.
pub fn write_curves(path: &Path, runs: &[RunResult]) -> anyhow::Result<()> {
    let points = || {
        runs.iter()
            .enumerate()
            .flat_map(|(k, r)| r.equity.iter().map(move |p| (k, p)))
    };
    let f = |g: fn(&EquityPoint) -> f64| TableColumn::F64(points().map(|(_, p)| g(p)).collect());
    let columns = vec![
        TableColumn::I64(points().map(|(k, _)| k as i64).collect()),
        TableColumn::I64(points().map(|(_, p)| p.time).collect()),
        f(|p| p.equity),
        f(|p| p.drawdown),
        f(|p| p.margin_ratio),
        TableColumn::I64(points().map(|(_, p)| i64::from(p.open_positions)).collect()),
        f(|p| p.book_correlation.unwrap_or(f64::NAN)),
        f(|p| p.correlated_exposure),
    ];
    let named = CURVE_COLUMNS
        .iter()
        .map(|n| n.to_string())
        .zip(columns)
        .collect();
    ringfence_data::tables::write_parquet(path, named)?;
    Ok(())
}

/// Writes [`INPUT`] into `dir`: the report's input as compact JSON without the equity curves,
/// which [`write_curves`] keeps in [`CURVES`].
pub fn write_input(dir: &Path, input: &mut ReportInput) -> anyhow::Result<()> {
    let curves: Vec<Vec<EquityPoint>> = input
        .runs
        .iter_mut()
        .map(|r| std::mem::take(&mut r.equity))
        .collect();
    let path = dir.join(INPUT);
    let written = serde_json::to_vec(&*input)
        .map_err(anyhow::Error::from)
        .and_then(|mut bytes| {
            bytes.push(b'\n');
            std::fs::write(&path, bytes).map_err(anyhow::Error::from)
        });
    for (r, c) in input.runs.iter_mut().zip(curves) {
        r.equity = c;
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a run directory's report input: [`INPUT`] and, when present, the curves in [`CURVES`]
/// (a directory written before the curves moved to Parquet holds them in the JSON). Bad input
/// names the file and what is wrong.
pub fn read_input(dir: &Path) -> anyhow::Result<ReportInput> {
    let path = dir.join(INPUT);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad_input(format!(
            "{}: {e} (is {} a directory written by `ringfence run`?)",
            path.display(),
            dir.display()
        ))
    })?;
    let mut input: ReportInput = serde_json::from_str(&text)
        .map_err(|e| bad_input(format!("{}: line {}: {e}", path.display(), e.line())))?;
    let curves = dir.join(CURVES);
    if !curves.exists() {
        return Ok(input);
    }
    let shown = curves.display().to_string();
    let table =
        ringfence_data::tables::read_parquet(&curves).map_err(|e| bad_input(e.to_string()))?;
    let column = |name: &str| {
        table
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .ok_or_else(|| {
                bad_input(format!(
                    "{shown}: no column {name}; write it again with `ringfence run`"
                ))
            })
    };
    let ints = |name: &str| match column(name)? {
        TableColumn::I64(v) => Ok(v),
        _ => Err(bad_input(format!(
            "{shown}: column {name} is not an integer column"
        ))),
    };
    let floats = |name: &str| match column(name)? {
        TableColumn::F64(v) => Ok(v),
        _ => Err(bad_input(format!(
            "{shown}: column {name} is not a float column"
        ))),
    };
    let (run, time, open) = (
        ints("run_index")?,
        ints("time_ms")?,
        ints("open_positions")?,
    );
    let (equity, drawdown, ratio, rho, exposure) = (
        floats("equity")?,
        floats("drawdown")?,
        floats("margin_ratio")?,
        floats("book_correlation")?,
        floats("correlated_exposure")?,
    );
    for r in &mut input.runs {
        r.equity.clear();
    }
    for i in 0..run.len() {
        let k = usize::try_from(run[i])
            .ok()
            .filter(|&k| k < input.runs.len())
            .ok_or_else(|| {
                bad_input(format!(
                    "{shown}: row {}: run_index {} is not one of the {} runs of {}",
                    i + 1,
                    run[i],
                    input.runs.len(),
                    path.display()
                ))
            })?;
        input.runs[k].equity.push(EquityPoint {
            time: time[i],
            equity: equity[i],
            drawdown: drawdown[i],
            margin_ratio: ratio[i],
            open_positions: u32::try_from(open[i]).unwrap_or(0),
            book_correlation: (!rho[i].is_nan()).then_some(rho[i]),
            correlated_exposure: exposure[i],
        });
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::{OutputOptions, RunWriter};

    /// A month of 1m points for every run of the sample: what a 1m sweep hands the writer.
    fn long_runs() -> ReportInput {
        let mut input = ringfence_report::fixtures::sample();
        for (k, r) in input.runs.iter_mut().enumerate() {
            let start = r.equity.first().map_or(0, |p| p.time);
            r.equity = (0..43_200)
                .map(|i| EquityPoint {
                    time: start + i as i64 * 60_000,
                    equity: 10_000.0 + ((i * (k + 7)) % 997) as f64
                        - if i > 30_000 { 8_000.0 } else { 0.0 },
                    drawdown: ((i * 13) % 101) as f64 / 1000.0,
                    margin_ratio: if i == 20_000 + k { 0.99 } else { 0.1 },
                    open_positions: (i % 5) as u32,
                    book_correlation: (i % 3 != 0).then_some(0.25 + k as f64 / 100.0),
                    correlated_exposure: i as f64 * 0.5,
                })
                .collect();
        }
        input
    }

    #[test]
    fn written_runs_read_back_exactly_at_the_bounded_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let full = long_runs();
        let mut w = RunWriter::with_plan(
            dir.path(),
            OutputOptions {
                full_equity: true,
                ..OutputOptions::default()
            },
            vec![false; full.runs.len()],
            &[],
        )
        .unwrap();
        for r in full.runs.clone() {
            w.push(r).unwrap();
        }
        let kept = w.finish().unwrap().runs;
        assert_eq!(kept.len(), full.runs.len());
        for (k, f) in kept.iter().zip(&full.runs) {
            assert!(
                k.equity.len() < 4_000,
                "{}: {} points",
                k.run,
                k.equity.len()
            );
            assert!(k.equity.iter().all(|p| f.equity.contains(p)));
            assert_eq!(k.trades, f.trades);
        }
        // The curves file and the compact JSON give back the kept runs exactly.
        let mut input = full.clone();
        input.runs = kept.clone();
        write_input(dir.path(), &mut input).unwrap();
        assert_eq!(input.runs, kept, "write_input leaves the input as it was");
        let back = read_input(dir.path()).unwrap();
        assert_eq!(back, input);
        // equity.csv: a header and one line per kept point; equity.parquet: every point.
        let csv = std::fs::read_to_string(dir.path().join("equity.csv")).unwrap();
        let kept_points: usize = kept.iter().map(|r| r.equity.len()).sum();
        assert_eq!(csv.lines().count(), 1 + kept_points);
        let full_rows = ringfence_data::tables::read_parquet(&dir.path().join("equity.parquet"))
            .unwrap()[0]
            .1
            .len();
        assert_eq!(full_rows, full.runs.len() * 43_200);
    }

    #[test]
    fn a_bad_curves_file_is_bad_input_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut input = ringfence_report::fixtures::sample();
        write_curves(&dir.path().join(CURVES), &input.runs).unwrap();
        input.runs.truncate(1);
        write_input(dir.path(), &mut input).unwrap();
        let err = read_input(dir.path()).unwrap_err();
        assert!(crate::exit::is_bad_input(&err));
        let msg = format!("{err:#}");
        assert!(msg.contains(CURVES) && msg.contains("run_index 1"), "{msg}");
        std::fs::write(dir.path().join(CURVES), b"not parquet").unwrap();
        let msg = format!("{:#}", read_input(dir.path()).unwrap_err());
        assert!(msg.contains(CURVES), "{msg}");
    }
}
