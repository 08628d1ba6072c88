//! The fetcher against a local archive on 127.0.0.1 serving generated zips and checksums in the
//! archive's exact layout: success, a second run that downloads nothing, checksum mismatch, 404s
//! before listing, an unknown symbol, a truncated body, 500 then success, a stalled server, and
//! an interrupted run that resumes.

use chrono::NaiveDate;
use ringfence_fetch::testing::{ArchiveServer, Behaviour, Reply, archive_files, hourly_bars};
use ringfence_fetch::{
    FetchError, FetchOptions, FetchReport, FileStatus, Item, MANIFEST_NAME, Plan, Request,
    archive_dir, fetch, plan,
};
use ringfence_model::symbol::Symbol;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// 2024-01 (monthly) and 2024-02-01..02 (daily) for the given symbols; today 2024-02-10.
fn request(symbols: &[&str]) -> (Request, Plan) {
    let req = Request {
        symbols: symbols.iter().map(|s| Symbol::parse(s).unwrap()).collect(),
        from: day("2024-01-01"),
        to: day("2024-02-02"),
        intervals: vec!["1h".into()],
        mark: true,
        funding: true,
    };
    let p = plan(&req, day("2024-02-10")).unwrap();
    (req, p)
}

/// BTCUSDT trades from 2024-01-01, ETHUSDT from 2024-02-01 (listed later); 26 days of data for
/// nothing else.
fn files(p: &Plan) -> BTreeMap<String, Vec<u8>> {
    let bars = |item: &Item| match item.symbol.as_str() {
        "BTCUSDT" => hourly_bars(day("2024-01-01"), 33 * 24, 40_000.0),
        "ETHUSDT" => hourly_bars(day("2024-02-01"), 2 * 24, 2_000.0),
        _ => Vec::new(),
    };
    let funding = |item: &Item| {
        bars(item)
            .iter()
            .step_by(8)
            .map(|b| (b.0, 0.0001))
            .collect()
    };
    archive_files(&p.items, &bars, &funding)
}

fn quick() -> FetchOptions {
    FetchOptions {
        base_url: String::new(),
        jobs: 3,
        retries: 2,
        backoff: Duration::from_millis(5),
        timeout: Duration::from_millis(300),
    }
}

fn run(
    server: &ArchiveServer,
    req: &Request,
    p: &Plan,
    out: &Path,
) -> Result<FetchReport, FetchError> {
    let opts = FetchOptions {
        base_url: server.url().to_string(),
        ..quick()
    };
    fetch(p, req, out, &opts, &|_| {})
}

fn normal() -> Box<Behaviour> {
    Box::new(|_, _| None)
}

/// Every file below `dir` (relative paths), sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Neither the file served at `url_path` nor its `.part` / `.CHECKSUM` is below `out`.
fn assert_absent(out: &Path, url_path: &str) {
    let local = format!("archive/{}", &url_path["/data/".len()..]);
    let left = tree(out);
    assert!(left.iter().all(|f| !f.starts_with(&local)), "{left:?}");
}

#[test]
fn success_then_a_second_run_downloads_nothing() {
    let (req, p) = request(&["BTCUSDT"]);
    let served = files(&p);
    let server = ArchiveServer::start(served.clone(), normal());
    let out = tempfile::tempdir().unwrap();
    let calls = AtomicUsize::new(0);
    let opts = FetchOptions {
        base_url: server.url().to_string(),
        ..quick()
    };
    let report = fetch(&p, &req, out.path(), &opts, &|pr| {
        assert_eq!(pr.total, 7);
        calls.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 7);
    // Jan monthly + Feb 1, 2 daily, for klines and mark; funding monthly for Jan only.
    assert_eq!(report.count(FileStatus::Downloaded), 7);
    assert_eq!(
        report.notes,
        ["funding for 2024-02 is published only once the month is complete: not fetched"]
    );
    // every file is byte-identical to the served one, next to its checksum file
    for rec in &report.files {
        let local = std::fs::read(out.path().join(&rec.path)).unwrap();
        let url_path = rec.url.strip_prefix(server.url()).unwrap();
        assert_eq!(local, served[url_path], "{}", rec.path);
        assert!(out.path().join(format!("{}.CHECKSUM", rec.path)).is_file());
        assert_eq!(rec.sha256.as_ref().unwrap().len(), 64);
    }
    assert!(tree(out.path()).iter().all(|f| !f.ends_with(".part")));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join(MANIFEST_NAME)).unwrap()).unwrap();
    assert_eq!(manifest["source"], server.url());
    assert_eq!(manifest["files"].as_array().unwrap().len(), 7);
    assert_eq!(
        manifest["files"][0]["path"],
        "archive/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip"
    );
    assert_eq!(manifest["files"][0]["status"], "downloaded");
    assert!(manifest["fetched_at"].as_str().unwrap().ends_with('Z'));

    let before = server.requests().len();
    let again = run(&server, &req, &p, out.path()).unwrap();
    assert_eq!(
        server.requests().len(),
        before,
        "the second run asked the server"
    );
    assert_eq!(again.count(FileStatus::Present), 7);
    assert_eq!(again.bytes_downloaded(), 0);
}

#[test]
fn checksum_mismatch_names_the_file_and_leaves_nothing() {
    let (req, p) = request(&["BTCUSDT"]);
    let served = files(&p);
    let target = "/data/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02-01.zip";
    let mut corrupt = served[target].clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    let server = ArchiveServer::start(
        served,
        Box::new(move |path, _| (path == target).then(|| Reply::Body(corrupt.clone()))),
    );
    let out = tempfile::tempdir().unwrap();
    let err = run(&server, &req, &p, out.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, FetchError::Checksum { .. }), "{msg}");
    assert!(
        msg.contains("BTCUSDT-1h-2024-02-01.zip: checksum mismatch"),
        "{msg}"
    );
    assert!(msg.contains("not kept"), "{msg}");
    assert_absent(out.path(), target);
    // the other six are in place
    let left = tree(out.path());
    assert_eq!(
        left.iter().filter(|f| f.ends_with(".zip")).count(),
        6,
        "{left:?}"
    );
    // three attempts (1 + 2 retries), then the error
    assert_eq!(server.requests().iter().filter(|r| *r == target).count(), 3);
}

#[test]
fn months_before_listing_are_a_note_and_an_unknown_symbol_an_error() {
    let (req, p) = request(&["BTCUSDT", "ETHUSDT"]);
    let server = ArchiveServer::start(files(&p), normal());
    let out = tempfile::tempdir().unwrap();
    let report = run(&server, &req, &p, out.path()).unwrap();
    assert!(
        report.notes.contains(
            &"ETHUSDT klines 1h: no file before 2024-02-01 (not listed yet): 2024-01 to 2024-01 skipped"
                .to_string()
        ),
        "{:?}",
        report.notes
    );
    assert!(report.notes.contains(
        &"ETHUSDT fundingRate: not in the archive from 2024-01-01 to 2024-02-02".to_string()
    ));
    assert_eq!(report.count(FileStatus::NotInArchive), 3);
    let eth_jan = out
        .path()
        .join(archive_dir(Path::new("")))
        .join("futures/um/monthly/klines/ETHUSDT/1h/ETHUSDT-1h-2024-01.zip");
    assert!(!eth_jan.exists());

    let (req, p) = request(&["BTCUSDT", "NOPEUSDT"]);
    let server = ArchiveServer::start(files(&p), normal());
    let out = tempfile::tempdir().unwrap();
    let err = run(&server, &req, &p, out.path()).unwrap_err().to_string();
    assert!(err.starts_with("unknown symbol NOPEUSDT:"), "{err}");
    assert!(err.contains("from 2024-01-01 to 2024-02-02"), "{err}");
}

#[test]
fn a_truncated_body_is_retried() {
    let (req, p) = request(&["BTCUSDT"]);
    let served = files(&p);
    let target = "/data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip";
    let body = served[target].clone();
    let server = ArchiveServer::start(
        served.clone(),
        Box::new(move |path, nth| {
            (path == target && nth == 0).then(|| Reply::Truncated(body.clone()))
        }),
    );
    let out = tempfile::tempdir().unwrap();
    let report = run(&server, &req, &p, out.path()).unwrap();
    assert_eq!(report.count(FileStatus::Downloaded), 7);
    let local = std::fs::read(out.path().join("archive").join(&target["/data/".len()..])).unwrap();
    assert_eq!(local, served[target]);

    // truncated every time: a clear error, nothing left behind
    let body = served[target].clone();
    let server = ArchiveServer::start(
        served,
        Box::new(move |path, _| (path == target).then(|| Reply::Truncated(body.clone()))),
    );
    let out = tempfile::tempdir().unwrap();
    let err = run(&server, &req, &p, out.path()).unwrap_err().to_string();
    assert!(
        err.contains("BTCUSDT-1h-2024-01.zip: the transfer broke after"),
        "{err}"
    );
    assert!(err.contains("gave up after 3 attempt(s)"), "{err}");
    assert_absent(out.path(), target);
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let (req, p) = request(&["BTCUSDT"]);
    let target = "/data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip";
    let server = ArchiveServer::start(
        files(&p),
        Box::new(move |path, nth| (path == target && nth < 2).then_some(Reply::Status(500))),
    );
    let out = tempfile::tempdir().unwrap();
    let report = run(&server, &req, &p, out.path()).unwrap();
    assert_eq!(report.count(FileStatus::Downloaded), 7);
    assert_eq!(server.requests().iter().filter(|r| *r == target).count(), 3);
}

#[test]
fn a_stalled_server_times_out_with_a_clear_error() {
    let (req, p) = request(&["BTCUSDT"]);
    let target = "/data/futures/um/daily/markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2024-02-02.zip";
    let server = ArchiveServer::start(
        files(&p),
        Box::new(move |path, _| (path == target).then_some(Reply::Stall(Duration::from_secs(3)))),
    );
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = run(&server, &req, &p, out.path()).unwrap_err().to_string();
    // three attempts of 300 ms each plus back-off, far less than one 3 s stall
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("BTCUSDT-1h-2024-02-02.zip: timed out"),
        "{err}"
    );
    assert!(err.contains("gave up after 3 attempt(s)"), "{err}");
    assert_absent(out.path(), target);
}

#[test]
fn an_interrupted_run_resumes_where_it_stopped() {
    let (req, p) = request(&["BTCUSDT"]);
    let served = files(&p);
    // First run: the mark-price files fail (the connection "dies" for them).
    let server = ArchiveServer::start(
        served.clone(),
        Box::new(|path, _| {
            path.contains("markPriceKlines")
                .then_some(Reply::Status(503))
        }),
    );
    let out = tempfile::tempdir().unwrap();
    let err = run(&server, &req, &p, out.path()).unwrap_err();
    assert!(
        matches!(&err, FetchError::Many(list) if list.len() == 3),
        "{err}"
    );
    let kept = tree(out.path());
    assert_eq!(
        kept.iter().filter(|f| f.ends_with(".zip")).count(),
        4,
        "{kept:?}"
    );
    // ... and a partial file from a killed process
    let part = out
        .path()
        .join("archive/futures/um/monthly/markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip.part");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, b"half a zip").unwrap();

    // Second run: only the three missing files are downloaded.
    let server = ArchiveServer::start(served, normal());
    let report = run(&server, &req, &p, out.path()).unwrap();
    assert_eq!(report.count(FileStatus::Present), 4);
    assert_eq!(report.count(FileStatus::Downloaded), 3);
    assert_eq!(server.zip_requests(), 3);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.contains("markPriceKlines"))
    );
    assert!(!part.exists());
    assert_eq!(
        tree(out.path())
            .iter()
            .filter(|f| f.ends_with(".zip"))
            .count(),
        7
    );
}

#[test]
fn a_dead_server_stops_the_run_early() {
    // 29 daily files per series: far more than the failures tolerated
    let req = Request {
        symbols: vec![Symbol::parse("BTCUSDT").unwrap()],
        from: day("2024-04-01"),
        to: day("2024-04-29"),
        intervals: vec!["1h".into()],
        mark: true,
        funding: false,
    };
    let p = plan(&req, day("2024-04-30")).unwrap();
    assert_eq!(p.items.len(), 58);
    let server = ArchiveServer::start(BTreeMap::new(), Box::new(|_, _| Some(Reply::Status(503))));
    let out = tempfile::tempdir().unwrap();
    let err = run(&server, &req, &p, out.path()).unwrap_err();
    let msg = err.to_string();
    let FetchError::Stopped { not_attempted, .. } = err else {
        panic!("{msg}")
    };
    assert!(not_attempted >= 40, "{msg}");
    assert!(
        msg.contains("file(s) not attempted; run again to resume"),
        "{msg}"
    );
    // at most 8 failed files plus those already in flight, three requests each
    assert!(
        server.requests().len() <= (8 + 3) * 3,
        "{}",
        server.requests().len()
    );
}

#[test]
fn a_tampered_local_file_is_fetched_again() {
    let (req, p) = request(&["BTCUSDT"]);
    let server = ArchiveServer::start(files(&p), normal());
    let out = tempfile::tempdir().unwrap();
    run(&server, &req, &p, out.path()).unwrap();
    let f = out
        .path()
        .join("archive/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02-01.zip");
    std::fs::write(&f, b"not the archive's bytes").unwrap();
    let before = server.zip_requests();
    let report = run(&server, &req, &p, out.path()).unwrap();
    assert_eq!(server.zip_requests(), before + 1);
    assert_eq!(report.count(FileStatus::Downloaded), 1);
}
