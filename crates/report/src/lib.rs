//! Ringfence reports: PNG/SVG charts (plotters) and one self-contained HTML page (DESIGN.md §8).
//!
//! The input is plain data, [`ReportInput`], which the `run` command also writes as
//! `report-input.json` so a report can be re-rendered without re-running the simulation.
//!
//! - [`write_report`] writes one PNG per chart and `report.html` into a directory;
//! - [`render_html`] returns the HTML page as a string (charts inlined as SVG);
//! - [`charts`] holds the backend-generic drawing functions, one per chart, used for both
//!   PNG ([`plotters::prelude::BitMapBackend`]) and SVG ([`plotters::prelude::SVGBackend`]).
//! - [`stress`] renders the stress report (distributions over market paths, fan charts);
//! - [`checklist`] renders the pre-signal checklist from the plain rows of [`ReportInput::checklist`]:
//!   the report's section, the channel lines and the terminal table of the `checklist` command.
//!
//! Text in charts is drawn with the DejaVu Sans font embedded in the binary (crate `dejavu`,
//! Bitstream Vera licence + public domain), registered with plotters' `ab_glyph` feature: no system
//! font is needed. The HTML fetches nothing from the network: no external scripts, styles, fonts
//! or images.

use ringfence_model::{DataWarning, RunResult, Symbol, TimestampMs};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod adl;
pub mod analysis;
pub mod charts;
pub mod checklist;
pub mod claims;
mod font;
mod html;
mod interactive;
mod png_out;
pub mod stress;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

#[cfg(test)]
mod tests;

pub use charts::{ChartKind, policy_colour_hex, render_png, render_svg};
pub use checklist::ChecklistSection;
pub use html::escape_html;

/// Everything a report needs; plain data.
///
/// The run command writes it next to the CSVs as `report-input.json` so that
/// `ringfence report <run-dir>` can re-render without re-running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// Scenario name (the page title).
    pub title: String,
    /// Program and version that produced the runs, e.g. `ringfence 0.1.0`.
    pub generated_by: String,
    /// Every run (account × policy × sweep point), in input order.
    pub runs: Vec<RunResult>,
    /// Close prices of the symbols involved (downsampled is fine), for the liquidation timeline.
    pub prices: Vec<PriceSeries>,
    /// Warnings from the data (missing mark or funding, filled gaps).
    pub warnings: Vec<DataWarning>,
    /// What the numbers rest on, as `(name, value)`: intrabar model and band, mark vs last,
    /// bracket snapshot date, fees, funding source, slippage, entry delay, ...
    pub assumptions: Vec<(String, String)>,
    /// The pre-signal checklist of the run's calls, when there is one (rendered by
    /// [`checklist`]).
    #[serde(default)]
    pub checklist: Option<ChecklistSection>,
    /// The channel's claims beside the runs, when the scenario names claims tables (rendered by
    /// [`claims`]).
    #[serde(default)]
    pub claims: Option<claims::ClaimsSection>,
    /// A sweep with more runs than the report shows in detail: the distribution of every run per
    /// account × policy, while [`ReportInput::runs`] holds only the runs chosen for detail (see
    /// [`SweepSection::detail`]). `None` when every run is in [`ReportInput::runs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSection>,
}

/// The whole of a sweep too large to show run by run: one distribution per account × policy over
/// its sweep points, computed from every run as it finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSection {
    /// Runs in the sweep (each one is a row of `summary.csv`).
    pub runs: u64,
    /// How the runs shown in detail were chosen, in words.
    pub detail: String,
    /// One row per account × policy, in job order: its runs counted in
    /// [`stress::StressRow::paths`], `run` and `params` empty.
    pub groups: Vec<stress::StressRow>,
}

impl SweepSection {
    /// The number of runs of `account` × `policy` in the whole sweep.
    pub fn runs_of(&self, account: &str, policy: &str) -> Option<u64> {
        self.groups
            .iter()
            .find(|g| g.account == account && g.policy == policy)
            .map(|g| g.paths)
    }
}

/// Close prices of one symbol over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceSeries {
    /// The symbol.
    pub symbol: Symbol,
    /// Bar times (ms UTC), increasing; same length as `close`.
    pub times: Vec<TimestampMs>,
    /// Close prices (USDT).
    pub close: Vec<f64>,
}

/// The files [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    /// `report.html`.
    pub html: PathBuf,
    /// One PNG per chart drawn, in [`ChartKind::ALL`] order (the heatmap only when the sweep has
    /// two varying axes).
    pub pngs: Vec<PathBuf>,
}

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A PNG could not be encoded.
    #[error("cannot encode png {}: {source}", path.display())]
    Png {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
    },
    /// Plotters failed while drawing a chart.
    #[error("cannot draw the {chart} chart: {message}")]
    Chart {
        /// Which chart (its file stem).
        chart: &'static str,
        /// What plotters said.
        message: String,
    },
    /// The embedded chart font could not be loaded.
    #[error("cannot load the embedded chart font {name}")]
    Font {
        /// The font's name.
        name: &'static str,
    },
    /// The input cannot be charted (e.g. a price series whose lengths disagree).
    #[error("invalid report input: {0}")]
    Input(String),
}

impl ReportInput {
    /// Checks what the charts rely on: every price series has as many times as closes.
    pub fn validate(&self) -> Result<(), ReportError> {
        for p in &self.prices {
            if p.times.len() != p.close.len() {
                return Err(ReportError::Input(format!(
                    "price series {} has {} times but {} closes",
                    p.symbol,
                    p.times.len(),
                    p.close.len()
                )));
            }
        }
        Ok(())
    }
}

/// Writes one PNG per applicable chart (`<chart>.png`, see [`ChartKind::file_stem`]) and
/// `report.html` into `out_dir` (created if missing).
pub fn write_report(input: &ReportInput, out_dir: &Path) -> Result<ReportFiles, ReportError> {
    input.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut pngs = Vec::new();
    for kind in ChartKind::ALL {
        if !kind.applies(input) {
            continue;
        }
        let path = out_dir.join(format!("{}.png", kind.file_stem()));
        render_png(kind, input, &path)?;
        pngs.push(path);
    }
    let html_text = render_html(input)?;
    let html = out_dir.join("report.html");
    std::fs::write(&html, html_text).map_err(|source| ReportError::Io {
        path: html.clone(),
        source,
    })?;
    Ok(ReportFiles { html, pngs })
}

/// Renders the self-contained HTML report (charts inlined as SVG).
pub fn render_html(input: &ReportInput) -> Result<String, ReportError> {
    input.validate()?;
    html::render(input)
}
