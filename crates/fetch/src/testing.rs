//! Test support (feature `testing`): a local archive server on 127.0.0.1 and fixture builders
//! that write zips and `.CHECKSUM` files in the archive's exact layout.
//!
//! The server is a few lines of `std::net` answering one request per connection; it exists only
//! for tests (the fetcher's own HTTP goes through `ureq`).

use crate::client::hex;
use crate::plan::{Dataset, Item, Period};
use chrono::{DateTime, Datelike, NaiveDate};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One answer of the test server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// This status, empty body.
    Status(u16),
    /// 200 announcing the full length, but only the first half is sent, then the connection closes.
    Truncated(Vec<u8>),
    /// Accept the request, then send nothing for this long, then close.
    Stall(Duration),
}

/// Decides the answer from the path and how many times it was asked before (0 the first time);
/// `None` serves the file (or 404).
pub type Behaviour = dyn Fn(&str, usize) -> Option<Reply> + Send + Sync;

/// A local archive: `GET /data/...` serves the files given; every request is logged.
pub struct ArchiveServer {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ArchiveServer {
    /// Starts serving `files` (URL path → bytes) with `behaviour` overriding answers.
    pub fn start(files: BTreeMap<String, Vec<u8>>, behaviour: Box<Behaviour>) -> ArchiveServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new((files, behaviour, log.clone()));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let (files, behaviour, log) = &*shared;
                    let _ = answer(stream, files, behaviour.as_ref(), log);
                });
            }
        });
        ArchiveServer { url, log }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every path requested so far, in order of arrival.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Requests for zip files (not checksums).
    pub fn zip_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|p| p.ends_with(".zip"))
            .count()
    }
}

fn answer(
    stream: TcpStream,
    files: &BTreeMap<String, Vec<u8>>,
    behaviour: &Behaviour,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let nth = {
        let mut log = log.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        let nth = log.iter().filter(|p| **p == path).count();
        log.push(path.clone());
        nth
    };
    let reply = behaviour(&path, nth).unwrap_or_else(|| match files.get(&percent_decode(&path)) {
        Some(b) => Reply::Body(b.clone()),
        None => Reply::Status(404),
    });
    let mut out = stream;
    match reply {
        Reply::Body(b) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            )?;
            out.write_all(&b)?;
        }
        Reply::Status(s) => write!(
            out,
            "HTTP/1.1 {s} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
        Reply::Truncated(b) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            )?;
            out.write_all(&b[..b.len() / 2])?;
        }
        Reply::Stall(d) => std::thread::sleep(d),
    }
    out.flush()?;
    out.shutdown(std::net::Shutdown::Both)
}

/// Decodes `%XX` escapes, as a web server does before looking a path up.
fn percent_decode(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex =
            |j: usize| (b.get(j)?.is_ascii_hexdigit()).then(|| (b[j] as char).to_digit(16))?;
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One candle: open time (ms), open, high, low, close, volume.
pub type Bar = (i64, f64, f64, f64, f64, f64);

/// A Binance kline CSV (header + 12 columns) of `bars` at `interval_ms`.
pub fn kline_csv(bars: &[Bar], interval_ms: i64) -> String {
    let mut s = String::from(
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n",
    );
    for &(t, o, h, l, c, v) in bars {
        s.push_str(&format!(
            "{t},{o},{h},{l},{c},{v},{},0,0,0,0,0\n",
            t + interval_ms - 1
        ));
    }
    s
}

/// A Binance funding CSV (`calc_time,funding_interval_hours,last_funding_rate`).
pub fn funding_csv(rows: &[(i64, f64)]) -> String {
    let mut s = String::from("calc_time,funding_interval_hours,last_funding_rate\n");
    for &(t, r) in rows {
        s.push_str(&format!("{t},8,{r}\n"));
    }
    s
}

/// A zip holding one file `name` with `text`.
pub fn zip_one(name: &str, text: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(name, opts).expect("zip entry");
        zip.write_all(text.as_bytes()).expect("zip write");
        zip.finish().expect("zip finish");
    }
    buf.into_inner()
}

/// The `.CHECKSUM` text of `bytes` named `name`.
pub fn checksum_text(bytes: &[u8], name: &str) -> String {
    format!("{}  {name}\n", hex(&Sha256::digest(bytes)))
}

/// Whether `t` (ms) falls in `period`.
pub fn in_period(t: i64, period: Period) -> bool {
    let Some(d) = DateTime::from_timestamp_millis(t).map(|d| d.date_naive()) else {
        return false;
    };
    match period {
        Period::Month(y, m) => d.year() == y && d.month() == m,
        Period::Day(day) => d == day,
    }
}

/// The archive files of `items` (URL path → bytes, zip and `.CHECKSUM`), each holding the rows of
/// its period: `bars(item)` gives a symbol's candles (klines or mark), `funding(item)` its
/// settlements. A period without rows gets no file (a 404, as before listing).
pub fn archive_files(
    items: &[Item],
    bars: &dyn Fn(&Item) -> Vec<Bar>,
    funding: &dyn Fn(&Item) -> Vec<(i64, f64)>,
) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for item in items {
        let csv = match item.dataset {
            Dataset::FundingRate => {
                let rows: Vec<_> = funding(item)
                    .into_iter()
                    .filter(|r| in_period(r.0, item.period))
                    .collect();
                (!rows.is_empty()).then(|| funding_csv(&rows))
            }
            _ => {
                let interval = item.interval.as_deref().unwrap_or("1h");
                let ms = ringfence_model::time::parse_timeframe(interval).unwrap_or(3_600_000);
                let rows: Vec<_> = bars(item)
                    .into_iter()
                    .filter(|r| in_period(r.0, item.period))
                    .collect();
                (!rows.is_empty()).then(|| kline_csv(&rows, ms))
            }
        };
        let Some(csv) = csv else { continue };
        let name = item.file_name();
        let zip = zip_one(&name.replace(".zip", ".csv"), &csv);
        let path = format!("/data/{}", item.rel_path());
        files.insert(
            format!("{path}.CHECKSUM"),
            checksum_text(&zip, &name).into_bytes(),
        );
        files.insert(path, zip);
    }
    files
}

/// Hourly bars from `from` (UTC midnight) for `hours` hours: a deterministic zig-zag.
pub fn hourly_bars(from: NaiveDate, hours: usize, base: f64) -> Vec<Bar> {
    let t0 = from
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp_millis())
        .unwrap_or(0);
    (0..hours)
        .map(|i| {
            let o = base + (i % 7) as f64 * 0.5;
            let c = base + ((i + 3) % 7) as f64 * 0.5;
            (
                t0 + i as i64 * 3_600_000,
                o,
                o.max(c) + 0.25,
                o.min(c) - 0.25,
                c,
                10.0 + i as f64,
            )
        })
        .collect()
}
