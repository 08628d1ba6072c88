//! Ctrl-C during `run`: the staging directory being written is removed before the process exits
//! (exit code 130), so an interrupted run leaves nothing behind.
//!
//! The handler runs on its own thread while the main thread may still be writing. It first sets
//! a flag: from then on the main thread stops at the next staging step ([`pause_if_interrupted`],
//! called by `outputs::Staging`) instead of re-creating the directory or committing it; then the
//! handler removes the directory and exits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

/// Set once Ctrl-C was pressed.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Staging directories to remove on Ctrl-C.
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Removes `dir` if the user interrupts the process before [`forget`] is called.
pub fn remove_on_interrupt(dir: &Path) {
    INSTALL.call_once(|| {
        // If no handler can be installed, an interrupted run leaves its staging directory, which
        // the next run removes (see `outputs::Staging::new`).
        let _ = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            if let Ok(dirs) = STAGING.lock() {
                for d in dirs.iter() {
                    remove_while_written(d);
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

/// After Ctrl-C, blocks the calling (main) thread until the handler has cleaned up and exited.
pub fn pause_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Removes `dir` while the main thread may still be writing into it (and re-creating it): retries
/// until it stays gone for a moment.
fn remove_while_written(dir: &Path) {
    for _ in 0..50 {
        let _ = std::fs::remove_dir_all(dir);
        std::thread::sleep(std::time::Duration::from_millis(20));
        if !dir.exists() {
            return;
        }
    }
}

/// `dir` was committed or removed: nothing to do on Ctrl-C any more.
pub fn forget(dir: &Path) {
    if let Ok(mut dirs) = STAGING.lock() {
        dirs.retain(|d| d != dir);
    }
}
