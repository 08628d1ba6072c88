//! Typed errors of the engine: input the engine cannot run on.

use ringfence_model::Symbol;

/// Input the engine cannot run on. Every message names the signal, symbol, date or key at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// No maintenance-bracket table for a symbol at a date.
    #[error("no bracket table for {symbol} at {date}")]
    NoBrackets {
        /// The symbol.
        symbol: Symbol,
        /// The date (ISO-8601 UTC) the table was needed for.
        date: String,
    },
    /// A signal names a symbol the market has no data for.
    #[error("signal {id} ({source_file} line {line}) names {symbol}, which has no market data")]
    NoMarketData {
        /// The signal id.
        id: String,
        /// The signal file.
        source_file: String,
        /// The line in the signal file.
        line: usize,
        /// The symbol.
        symbol: Symbol,
    },
    /// An `open` signal without a symbol or side.
    #[error("signal {id} ({source_file} line {line}): open without {missing}")]
    IncompleteSignal {
        /// The signal id.
        id: String,
        /// The signal file.
        source_file: String,
        /// The line in the signal file.
        line: usize,
        /// What is missing (`symbol`, `side`).
        missing: &'static str,
    },
    /// A collateral asset or background position that cannot be valued or placed.
    #[error("account {account}: {message}")]
    BadAccount {
        /// The account name.
        account: String,
        /// What is wrong, with the values.
        message: String,
    },
    /// A policy or engine setting out of range.
    #[error("{key}: {message}")]
    BadConfig {
        /// The setting (`policy wide.sizing`, `execution.slippage_bps`, ...).
        key: String,
        /// What is wrong, with the value.
        message: String,
    },
    /// The market has no bars.
    #[error("the market has no bars")]
    EmptyMarket,
    /// A worker thread pool could not be built.
    #[error("cannot build a thread pool of {threads} threads: {message}")]
    ThreadPool {
        /// Requested threads.
        threads: usize,
        /// The pool builder's message.
        message: String,
    },
    /// One job of [`crate::run_all`] failed.
    #[error("job {index}: {error}")]
    Job {
        /// The job's index in the list given.
        index: usize,
        /// Why it failed.
        error: Box<SimError>,
    },
}
