//! `ringfence-channel`: bring a real signal channel in.
//!
//! Reads Telegram Desktop exports ([`export`]), reads every message with the call grammars
//! ([`grammar`] over [`tokens`]) and classifies it ([`classify`]): a **call** becomes an `open`
//! event, an **update** (move stop, close, cancel) an event naming its call, a **result/claim**
//! ("Target 2 ✅ Profit 47.1%") a row of the claims table, and **chatter** or **unparsed** messages
//! are kept in the report with the reason they were not taken. [`write`] renders the signal file
//! (the project's CSV / JSON Lines format), the import report and the claims table.
//!
//! Depends only on `model`; no polars, no file system except reading the export.

pub mod classify;
pub mod demo;
pub mod export;
pub mod grammar;
pub mod tokens;
pub mod write;

pub use classify::{Claim, ClaimKind, Class, Import, Record, classify};
pub use export::{Format, Message, Zone, read_export};
pub use grammar::{Grammar, GrammarFile};

/// What can go wrong reading an export.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Something wrong at a line and column of the file.
    #[error("{file}, line {line}, column {column}: {what}")]
    At {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong and what to do.
        what: String,
    },
    /// Something wrong with one message of the export.
    #[error("{file}, message {id}: {what}")]
    Message {
        /// The file.
        file: String,
        /// Telegram's message id.
        id: i64,
        /// What is wrong and what to do.
        what: String,
    },
    /// Something wrong with the file as a whole.
    #[error("{file}: {what}")]
    File {
        /// The file.
        file: String,
        /// What is wrong and what to do.
        what: String,
    },
}
