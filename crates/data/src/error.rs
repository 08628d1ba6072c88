//! The one error type of the data crate: every message names the file, the row or key, and what is
//! wrong (lowercase, no trailing period).

use std::fmt;
use std::path::PathBuf;

/// A problem reading or validating an input file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The content is wrong: names the file, the row (1-based, when there is one) and what is wrong.
    #[error("{}", Located { file, row: *row, message })]
    Invalid {
        /// File name (or `dir/file`).
        file: String,
        /// 1-based row or line, when the problem has one.
        row: Option<usize>,
        /// What is wrong, with the values.
        message: String,
    },
    /// Several problems found in one pass (validation reports all of them, not just the first).
    #[error("{} problems found:\n{}", .0.len(), render_many(.0))]
    Many(Vec<DataError>),
}

impl DataError {
    /// A content error at `row` of `file`.
    pub fn at(file: impl Into<String>, row: usize, message: impl Into<String>) -> Self {
        DataError::Invalid {
            file: file.into(),
            row: Some(row),
            message: message.into(),
        }
    }

    /// A content error about `file` as a whole.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        DataError::Invalid {
            file: file.into(),
            row: None,
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// Folds a list of problems: `Ok(())` when empty, the single error, or [`DataError::Many`].
    pub fn collect(mut errors: Vec<DataError>) -> Result<(), DataError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(DataError::Many(errors)),
        }
    }
}

struct Located<'a> {
    file: &'a str,
    row: Option<usize>,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row {
            Some(r) => write!(f, "{}, row {}: {}", self.file, r, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// At most this many problems are listed; the rest are counted.
const MAX_LISTED: usize = 50;

fn render_many(errors: &[DataError]) -> String {
    let mut out: Vec<String> = errors
        .iter()
        .take(MAX_LISTED)
        .map(|e| format!("  - {e}"))
        .collect();
    if errors.len() > MAX_LISTED {
        out.push(format!("  ... and {} more", errors.len() - MAX_LISTED));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_row() {
        let e = DataError::at("BTC.csv", 7, "high 1 is below open 2");
        assert_eq!(e.to_string(), "BTC.csv, row 7: high 1 is below open 2");
        let many = DataError::collect(vec![e, DataError::file("x.json", "not json")]).unwrap_err();
        assert!(
            many.to_string()
                .starts_with("2 problems found:\n  - BTC.csv, row 7")
        );
    }
}
