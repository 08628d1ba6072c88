//! The report's input from a run: the runs, downsampled prices, warnings, the engine's assumptions
//! and the pre-signal checklist (all plain data, also written as `report-input.json`).

use crate::pipeline;
use crate::prepare::Prepared;
use crate::scenario::{Job, Scenario};
use ringfence_model::{DataWarning, Market, RunResult, WarningKind};
use ringfence_report::{PriceSeries, ReportInput};

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

/// The report's input. The checklist section checks the calls against the first job (first
/// account × first policy × first sweep point); when it cannot be computed, the report says why
/// among its warnings (and so does stderr) instead of failing the run.
pub fn report_input(
    sc: &Scenario,
    p: &Prepared,
    jobs: &[Job],
    runs: Vec<RunResult>,
) -> ReportInput {
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
    let checked = pipeline::checklist(sc, p, jobs, &runs, &pipeline::default_checklist_config(sc));
    let checklist = match checked {
        Ok(c) => Some(c.section()),
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
    let claims = (!p.claims.is_empty()).then(|| {
        let (rows, summaries) = ringfence_sim::claims::claims_vs_replay(&p.claims, &runs);
        ringfence_report::claims::ClaimsSection { summaries, rows }
    });
    ReportInput {
        title: sc.name.clone(),
        generated_by: format!("ringfence {}", env!("CARGO_PKG_VERSION")),
        runs,
        prices: price_series(m, 2000),
        warnings,
        assumptions,
        checklist,
        claims,
    }
}
