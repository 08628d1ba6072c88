//! Errors of the fetcher: each names the file or URL and says what to do.

use std::path::PathBuf;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request itself is unusable (dates, timeframes, symbols).
    #[error("{0}")]
    Request(String),
    /// A transfer failed on every attempt (time-outs, server errors, broken connections).
    #[error(
        "{url}: {reason} (gave up after {attempts} attempt(s); check the connection or --base-url and run again: verified files are kept)"
    )]
    Transfer {
        /// What was requested.
        url: String,
        /// The last failure.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The server answered with a status that retrying cannot fix.
    #[error("{url}: the server answered HTTP {status}")]
    Status {
        /// What was requested.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The downloaded bytes do not match the published SHA-256.
    #[error(
        "{file}: checksum mismatch: the archive publishes sha256 {expected}, the download (from {url}) has {actual}; the file was not kept"
    )]
    Checksum {
        /// The file name.
        file: String,
        /// Where it came from.
        url: String,
        /// The published checksum.
        expected: String,
        /// The checksum of what arrived.
        actual: String,
    },
    /// A `.CHECKSUM` file that does not hold a SHA-256.
    #[error("{url}: not a checksum file ({reason})")]
    BadChecksumFile {
        /// What was requested.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No candle file at all for a symbol in the requested range.
    #[error(
        "unknown symbol {symbol}: the archive has no USDⓈ-M futures candles for it from {from} to {to} (check the spelling, e.g. BTCUSDT, or whether it was listed later)"
    )]
    UnknownSymbol {
        /// The symbol as requested.
        symbol: String,
        /// First day requested.
        from: String,
        /// Last day requested.
        to: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Several failures (the first ten shown).
    #[error("{} problem(s):\n  {}", .0.len(), list(.0))]
    Many(Vec<FetchError>),
    /// The run stopped starting new downloads after too many failures.
    #[error(
        "{failures}\nstopped after {} failed files: {not_attempted} file(s) not attempted; run again to resume (verified files are kept)",
        count(failures)
    )]
    Stopped {
        /// The failures so far.
        failures: Box<FetchError>,
        /// Files of the plan not attempted.
        not_attempted: usize,
    },
}

/// The first ten messages, one per line, and how many more.
fn list(errors: &[FetchError]) -> String {
    const SHOWN: usize = 10;
    let mut lines: Vec<String> = errors.iter().take(SHOWN).map(|e| e.to_string()).collect();
    if errors.len() > SHOWN {
        lines.push(format!("and {} more", errors.len() - SHOWN));
    }
    lines.join("\n  ")
}

fn count(e: &FetchError) -> usize {
    match e {
        FetchError::Many(list) => list.len(),
        _ => 1,
    }
}

impl FetchError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FetchError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_error_lists_are_cut() {
        let many = FetchError::Many(
            (0..14)
                .map(|i| FetchError::Request(format!("problem {i}")))
                .collect(),
        );
        let text = many.to_string();
        assert!(text.starts_with("14 problem(s):\n  problem 0\n"), "{text}");
        assert!(text.ends_with("problem 9\n  and 4 more"), "{text}");
    }
}
