//! Downloads the Binance public market-data archive for USDⓈ-M futures into a local directory.
//!
//! The archive publishes, per symbol, zipped CSV files under
//! `data/futures/um/{monthly,daily}/{klines,markPriceKlines,fundingRate}/SYMBOL/...`, each with a
//! `.CHECKSUM` file holding its SHA-256. [`plan`] turns a request (symbols, dates, timeframes)
//! into the list of files to fetch: monthly files for months that are complete, daily files for
//! the rest (funding is only published monthly). [`fetch`] downloads them:
//!
//! - every file is verified against its published SHA-256;
//! - a file is written to `NAME.part` and renamed only once verified, so an interruption never
//!   leaves a file that looks complete;
//! - a file already present whose checksum verifies is not downloaded again (a second run
//!   downloads nothing);
//! - at most [`FetchOptions::jobs`] downloads run at once;
//! - server errors (5xx, 429), time-outs and broken transfers are retried with exponential
//!   back-off;
//! - a 404 is never an error by itself: months before a symbol was listed become a note, and a
//!   symbol with no candle file at all is an [`FetchError::UnknownSymbol`] error naming it.
//!
//! The files land under `OUT/archive/` in the archive's own layout (without the leading `data/`),
//! and `OUT/fetch-manifest.json` lists what was fetched, from where, when, with checksums. This
//! crate never parses the CSVs: `ringfence-data` turns the archive directory into the candle,
//! mark and funding files the loader reads.

mod client;
mod error;
mod plan;
mod run;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::FetchError;
pub use plan::{Dataset, Item, Period, Plan, Request, plan};
pub use run::{
    FetchOptions, FetchReport, FileRecord, FileStatus, MANIFEST_NAME, Progress, archive_dir, fetch,
};

/// The public archive's base URL (the default of `--base-url`).
pub const DEFAULT_BASE_URL: &str = "https://data.binance.vision";
