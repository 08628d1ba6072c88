//! Claimed vs replayed: a channel's own result messages ([`crate::Claim`]) beside what a follower
//! would have had in one run. Plain records: the engine crate computes them, the report renders
//! them, the cli writes them as `claims_vs_replay.csv`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One call the channel made claims about, in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// Run name (`account/policy[/sweep]`).
    pub run: String,
    /// The channel the call came from (signal file stem; empty with one channel).
    pub channel: String,
    /// The call's id.
    pub call_id: String,
    /// Symbol of the call, when it traded or was skipped with one.
    pub symbol: String,
    /// The claims in words, in posting order (`target 2 (+47.1%)`, `stop`).
    pub claimed: String,
    /// Most targets the channel said were hit.
    pub claimed_targets: Option<u32>,
    /// The last percentage the channel claimed.
    pub claimed_pct: Option<f64>,
    /// The channel presented the call as a win (a target or a profit, and no stop).
    pub claimed_win: bool,
    /// What the replay did: the exit reason, or `not traded: <why>`.
    pub replayed: String,
    /// Targets the replay filled.
    pub replayed_targets: u32,
    /// Net result of the replay (PnL − fees − clearance fee + funding), USDT; `None` when it did not trade.
    pub replayed_net: Option<Decimal>,
    /// Net result on the margin committed, in percent (comparable with a channel's "% on margin").
    pub replayed_pct: Option<f64>,
    /// The replay made money.
    pub replayed_win: bool,
    /// The replay was liquidated (or closed as a cascade victim).
    pub liquidated: bool,
    /// Some claim about the call admits a stop or a loss.
    pub claims_mention_loss: bool,
}

/// Per run and channel: the channel's claimed record beside the replayed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimSummary {
    /// Run name.
    pub run: String,
    /// The channel (signal file stem; empty with one channel).
    pub channel: String,
    /// Calls with at least one claim.
    pub calls_claimed: u32,
    /// Share of those the channel presented as wins.
    pub claimed_win_rate: f64,
    /// Share of those the replay won (net > 0); not-traded calls count as not won.
    pub replayed_win_rate: f64,
    /// Calls of the channel the replay liquidated (claimed or not).
    pub liquidated_calls: u32,
    /// Liquidated calls the channel's claims never admit as a stop or loss.
    pub liquidations_unmentioned: u32,
}
