//! Downloading a [`Plan`]: workers, verification, the manifest, and what the 404s mean.

use crate::client::{Client, parse_checksum, sha256_file};
use crate::error::FetchError;
use crate::plan::{Dataset, Item, Plan, Request};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The manifest's file name inside the output directory.
pub const MANIFEST_NAME: &str = "fetch-manifest.json";

/// After this many files failed for good, no new download is started (a dead server or a wrong
/// `--base-url` should not cost minutes of retries per file).
const MAX_FAILED_FILES: usize = 8;

/// Where the archive files land: `OUT/archive/futures/um/...`.
pub fn archive_dir(out: &Path) -> PathBuf {
    out.join("archive")
}

/// How to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Base URL of the archive (its files are under `BASE/data/futures/um/...`).
    pub base_url: String,
    /// Downloads at once (at least 1).
    pub jobs: usize,
    /// Extra attempts after a retryable failure.
    pub retries: u32,
    /// Wait before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// Longest wait for a connection or for the next bytes of an answer.
    pub timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            base_url: crate::DEFAULT_BASE_URL.to_string(),
            jobs: 4,
            retries: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Downloaded and verified in this run.
    Downloaded,
    /// Already present, checksum verified: not downloaded again.
    Present,
    /// The archive has no such file (404).
    NotInArchive,
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// Path relative to the output directory (`archive/futures/um/...`).
    pub path: String,
    /// Where it comes from.
    pub url: String,
    /// Its verified SHA-256 (none when not in the archive).
    pub sha256: Option<String>,
    /// Its size in bytes.
    pub bytes: u64,
    /// What happened.
    pub status: FileStatus,
}

/// One finished file, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Files finished so far (this one included).
    pub done: usize,
    /// Files in the plan.
    pub total: usize,
    /// The file just finished.
    pub item: &'a Item,
    /// What happened to it.
    pub status: FileStatus,
}

/// The manifest: what was fetched, from where, when, with checksums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchReport {
    /// The archive's base URL.
    pub source: String,
    /// When this run ended (ISO-8601 UTC).
    pub fetched_at: String,
    /// Symbols requested.
    pub symbols: Vec<String>,
    /// First day requested.
    pub from: String,
    /// Last day covered.
    pub to: String,
    /// Candle intervals.
    pub intervals: Vec<String>,
    /// Every file of the plan, in plan order.
    pub files: Vec<FileRecord>,
    /// What the archive could not give (months before listing, funding not yet published).
    pub notes: Vec<String>,
}

impl FetchReport {
    /// Files with the given status.
    pub fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }

    /// Bytes downloaded in this run.
    pub fn bytes_downloaded(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| f.status == FileStatus::Downloaded)
            .map(|f| f.bytes)
            .sum()
    }
}

/// Downloads every file of `plan` into [`archive_dir`]`(out)` and writes the manifest
/// `out/`[`MANIFEST_NAME`] (also when some files failed: it then lists the files that are in
/// place, and a rerun fetches only the rest). `progress` is called once per finished file, from
/// the worker threads.
pub fn fetch(
    plan: &Plan,
    req: &Request,
    out: &Path,
    opts: &FetchOptions,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<FetchReport, FetchError> {
    std::fs::create_dir_all(out).map_err(|e| FetchError::io(out, e))?;
    let client = Client::new(&opts.base_url, opts.timeout, opts.retries, opts.backoff);
    let total = plan.items.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<FileRecord, FetchError>>>> =
        Mutex::new((0..total).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, total.max(1)) {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) >= MAX_FAILED_FILES {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = plan.items.get(i) else { break };
                    let result = fetch_one(&client, out, item);
                    if result.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Ok(rec) = &result {
                        progress(Progress {
                            done: done.fetch_add(1, Ordering::Relaxed) + 1,
                            total,
                            item,
                            status: rec.status,
                        });
                    }
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(result);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let not_attempted = results.iter().filter(|r| r.is_none()).count();
    let mut files = Vec::with_capacity(total);
    let mut errors = Vec::new();
    for r in results.into_iter().flatten() {
        match r {
            Ok(rec) => files.push(rec),
            Err(e) => errors.push(e),
        }
    }
    let mut notes = plan.notes.clone();
    if errors.is_empty() {
        let statuses: Vec<FileStatus> = files.iter().map(|f| f.status).collect();
        let (more_notes, unknown) = explain_missing(plan, req, &statuses);
        notes.extend(more_notes);
        errors.extend(unknown);
    }
    let report = FetchReport {
        source: opts.base_url.clone(),
        fetched_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        symbols: req.symbols.iter().map(|s| s.to_string()).collect(),
        from: req.from.to_string(),
        to: plan.to.to_string(),
        intervals: req.intervals.clone(),
        files,
        notes,
    };
    write_manifest(out, &report)?;
    let error = match errors.len() {
        0 => return Ok(report),
        1 => errors.remove(0),
        _ => FetchError::Many(errors),
    };
    Err(if not_attempted > 0 {
        FetchError::Stopped {
            failures: Box::new(error),
            not_attempted,
        }
    } else {
        error
    })
}

/// One file: keep it if present and verified, else fetch its checksum and then the file.
fn fetch_one(client: &Client, out: &Path, item: &Item) -> Result<FileRecord, FetchError> {
    let rel = item.rel_path();
    let dest = archive_dir(out).join(&rel);
    let sum_path = with_suffix(&dest, ".CHECKSUM");
    let url = client.url(&rel);
    let record = |sha256: Option<String>, bytes: u64, status| FileRecord {
        path: format!("archive/{rel}"),
        url: url.clone(),
        sha256,
        bytes,
        status,
    };
    if dest.is_file() && sum_path.is_file() {
        let text = std::fs::read_to_string(&sum_path).map_err(|e| FetchError::io(&sum_path, e))?;
        if let Ok(expected) = parse_checksum(&text, &sum_path.display().to_string())
            && sha256_file(&dest)? == expected
        {
            let bytes = dest.metadata().map(|m| m.len()).unwrap_or(0);
            return Ok(record(Some(expected), bytes, FileStatus::Present));
        }
    }
    let sum_url = format!("{url}.CHECKSUM");
    let Some(sum_text) = client.text(&sum_url)? else {
        return Ok(record(None, 0, FileStatus::NotInArchive));
    };
    let expected = parse_checksum(&sum_text, &sum_url)?;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FetchError::io(dir, e))?;
    }
    let tmp = with_suffix(&dest, ".part");
    let Some(bytes) = client.download(&url, &tmp, &expected, &item.file_name())? else {
        return Ok(record(None, 0, FileStatus::NotInArchive));
    };
    std::fs::rename(&tmp, &dest).map_err(|e| FetchError::io(&dest, e))?;
    write_atomic(&sum_path, sum_text.as_bytes())?;
    Ok(record(Some(expected), bytes, FileStatus::Downloaded))
}

/// Notes for files the archive does not have, and an [`FetchError::UnknownSymbol`] for a symbol
/// without any candle file.
fn explain_missing(
    plan: &Plan,
    req: &Request,
    statuses: &[FileStatus],
) -> (Vec<String>, Vec<FetchError>) {
    let mut notes = Vec::new();
    let mut unknown: Vec<FetchError> = Vec::new();
    let mut start = 0;
    while start < plan.items.len() {
        let series = plan.items[start].series();
        let end = start
            + plan.items[start..]
                .iter()
                .take_while(|i| i.series() == series)
                .count();
        let items = &plan.items[start..end];
        let found: Vec<bool> = statuses[start..end]
            .iter()
            .map(|s| *s != FileStatus::NotInArchive)
            .collect();
        let label = items[0].series_label();
        match found.iter().position(|&f| f) {
            None if items[0].dataset == Dataset::Klines => {
                let symbol = items[0].symbol.to_string();
                if !unknown.iter().any(
                    |e| matches!(e, FetchError::UnknownSymbol { symbol: s, .. } if *s == symbol),
                ) {
                    unknown.push(FetchError::UnknownSymbol {
                        symbol,
                        from: req.from.to_string(),
                        to: plan.to.to_string(),
                    });
                }
            }
            None => notes.push(format!(
                "{label}: not in the archive from {} to {}",
                req.from, plan.to
            )),
            Some(first) => {
                if first > 0 {
                    notes.push(format!(
                        "{label}: no file before {} (not listed yet): {} to {} skipped",
                        items[first].period,
                        items[0].period,
                        items[first - 1].period
                    ));
                }
                let later: Vec<String> = items[first..]
                    .iter()
                    .zip(&found[first..])
                    .filter(|(_, f)| !**f)
                    .map(|(i, _)| i.period.to_string())
                    .collect();
                if !later.is_empty() {
                    notes.push(format!(
                        "{label}: not in the archive for {}",
                        later.join(", ")
                    ));
                }
            }
        }
        start = end;
    }
    (notes, unknown)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes to `NAME.part`, then renames into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    let tmp = with_suffix(path, ".part");
    std::fs::write(&tmp, bytes).map_err(|e| FetchError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| FetchError::io(path, e))
}

fn write_manifest(out: &Path, report: &FetchReport) -> Result<(), FetchError> {
    let path = out.join(MANIFEST_NAME);
    let mut json = serde_json::to_vec_pretty(report)
        .map_err(|e| FetchError::io(&path, std::io::Error::other(e)))?;
    json.push(b'\n');
    write_atomic(&path, &json)
}
