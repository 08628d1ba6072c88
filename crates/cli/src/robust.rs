//! Guards around the output directory of `run`: an output path that is a file is bad input, the
//! staging directories of runs that died are removed, and the checklist written into an earlier
//! output (`<out>/checklist/`) survives a re-run.

use crate::exit::bad_input;
use anyhow::{Context, Result};
use std::path::Path;

/// Fails (exit 2) when `dest` or one of its ancestors exists and is not a directory.
pub fn check_output_dir(dest: &Path) -> Result<()> {
    for p in dest.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        if p.exists() && !p.is_dir() {
            return Err(bad_input(format!(
                "output path {}: {} is a file, not a directory; give another --out (or `output` \
                 in the scenario) or remove the file",
                dest.display(),
                p.display()
            )));
        }
    }
    Ok(())
}

/// Whether process `pid` is still running (Linux: `/proc/<pid>`; elsewhere assumed running).
fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Removes `.<name>.partial-<pid>` siblings of `dest` left by runs that no longer exist (killed,
/// or interrupted before their handler ran). Staging directories of live runs are left alone.
pub fn remove_stale_staging(dest: &Path, name: &str) {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!(".{name}.partial-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !alive(pid) && entry.path().is_dir() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Moves `<dest>/checklist/` (written by `ringfence checklist`) into the new output `staged`
/// before the old output is replaced, unless the new output has its own.
pub fn keep_checklist(dest: &Path, staged: &Path) -> Result<()> {
    let old = dest.join("checklist");
    let new = staged.join("checklist");
    if old.is_dir() && !new.exists() {
        std::fs::rename(&old, &new)
            .with_context(|| format!("cannot keep {} in the new output", old.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_on_the_output_path_is_bad_input() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("report");
        std::fs::write(&file, "x").expect("write");
        for dest in [file.clone(), file.join("inner")] {
            let err = check_output_dir(&dest).expect_err("a file");
            assert!(crate::exit::is_bad_input(&err));
            assert!(err.to_string().contains("is a file"), "{err}");
        }
        assert!(check_output_dir(&tmp.path().join("new/dir")).is_ok());
    }

    #[test]
    fn stale_staging_of_dead_runs_is_removed_live_ones_kept() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dest = tmp.path().join("out");
        // No process has pid 4,000,000,000 (above Linux's pid_max).
        let dead = tmp.path().join(".out.partial-4000000000");
        let live = tmp
            .path()
            .join(format!(".out.partial-{}", std::process::id()));
        let other = tmp.path().join(".other.partial-4000000000");
        for d in [&dead, &live, &other] {
            std::fs::create_dir_all(d.join("sub")).expect("mkdir");
        }
        remove_stale_staging(&dest, "out");
        assert!(!dead.exists(), "stale staging left behind");
        assert!(live.exists() && other.exists());
    }
}
