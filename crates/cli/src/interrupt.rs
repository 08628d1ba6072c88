//! Ctrl-C during `run`: the staging directory being written is removed before the process exits
//! (exit code 130), so an interrupted run leaves nothing behind.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Staging directories to remove on Ctrl-C.
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Removes `dir` if the user interrupts the process before [`forget`] is called.
pub fn remove_on_interrupt(dir: &Path) {
    INSTALL.call_once(|| {
        // If no handler can be installed, an interrupted run leaves its staging directory, which
        // the next run removes (see `outputs::Staging::new`).
        let _ = ctrlc::set_handler(|| {
            if let Ok(dirs) = STAGING.lock() {
                for d in dirs.iter() {
                    let _ = std::fs::remove_dir_all(d);
                }
            }
            eprintln!("interrupted: partial output removed");
            std::process::exit(130);
        });
    });
    if let Ok(mut dirs) = STAGING.lock() {
        dirs.push(dir.to_path_buf());
    }
}

/// `dir` was committed or removed: nothing to do on Ctrl-C any more.
pub fn forget(dir: &Path) {
    if let Ok(mut dirs) = STAGING.lock() {
        dirs.retain(|d| d != dir);
    }
}
