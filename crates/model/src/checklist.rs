//! The pre-signal checklist's plain records shared by the engine (which computes them) and the
//! report (which renders them): the verdict of a call and one channel's aggregate.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What the checklist advises for one call; ordered from least to most flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Verdict {
    /// Following it in cross margin is acceptable.
    #[serde(rename = "cross-ok")]
    CrossOk,
    /// Follow it only in isolated margin (at no more than the max safe leverage).
    #[serde(rename = "isolated")]
    Isolated,
    /// Do not follow it.
    #[serde(rename = "skip")]
    Skip,
}

impl Verdict {
    /// The verdict as written in tables: `cross-ok`, `isolated`, `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::CrossOk => "cross-ok",
            Verdict::Isolated => "isolated",
            Verdict::Skip => "skip",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line per channel (signal file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSummary {
    /// The channel (signal file).
    pub channel: String,
    /// `open` calls checked.
    pub calls: usize,
    /// Calls with a stop.
    pub calls_with_stop: usize,
    /// Share of calls with a stop whose stop sits beyond the liquidation price at the called leverage.
    pub stop_beyond_liq_share: Option<f64>,
    /// Cross runs looked at for cascade victims.
    pub cross_runs: usize,
    /// Share of calls whose position was a cascade victim (closed by another position's loss) in at
    /// least one of the cross runs; `None` without cross runs.
    pub cascade_victim_share: Option<f64>,
    /// Median max safe leverage over calls with a stop.
    pub median_safe_leverage: Option<f64>,
    /// Verdict counts.
    pub cross_ok: usize,
    /// Calls to follow only isolated.
    pub isolated: usize,
    /// Calls to skip.
    pub skip: usize,
}
