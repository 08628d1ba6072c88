//! Locating the real market data the tests read (`../shared/data` beside the workspace).
//!
//! The data is never committed into the project. Tests call [`shared_data`]: in CI (`CI=true`) a
//! missing directory is a failure, never a silent skip; elsewhere the test is skipped with a note.

use std::path::{Path, PathBuf};

/// `<workspace>/../shared/data`, when it exists.
///
/// # Panics
/// When the directory is missing and the environment variable `CI` is `true`.
pub fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if dir.is_dir() {
        return Some(dir.to_path_buf());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "shared data directory {} is missing (required when CI=true)",
        dir.display()
    );
    eprintln!("note: {} missing; test skipped", dir.display());
    None
}
