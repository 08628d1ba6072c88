//! The HTTP side: one `ureq` agent, retries with exponential back-off, streamed and hashed
//! downloads.

use crate::error::FetchError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// Largest `.CHECKSUM` answer read (the real ones are about 100 bytes).
const CHECKSUM_LIMIT: u64 = 64 * 1024;

/// Why one attempt failed.
enum Failure {
    /// Worth another attempt (5xx, 429, time-out, broken transfer).
    Retry(String),
    /// The bytes did not match; another attempt may help, and if none does this is the error.
    Mismatch(FetchError),
    /// Retrying cannot help.
    Final(FetchError),
}

pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    retries: u32,
    backoff: Duration,
}

impl Client {
    pub(crate) fn new(base_url: &str, timeout: Duration, retries: u32, backoff: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_per_read(Some(timeout))
            .user_agent(concat!("ringfence/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            base: base_url.trim_end_matches('/').to_string(),
            retries,
            backoff,
        }
    }

    /// The URL of an archive path below `data/`, each segment percent-encoded.
    pub(crate) fn url(&self, rel: &str) -> String {
        format!("{}/data/{}", self.base, encode_path(rel))
    }

    /// A small text file; `None` when the server answers 404.
    pub(crate) fn text(&self, url: &str) -> Result<Option<String>, FetchError> {
        self.retrying(url, || {
            let Some(mut resp) = self.get(url)? else {
                return Ok(None);
            };
            let mut text = String::new();
            resp.body_mut()
                .as_reader()
                .take(CHECKSUM_LIMIT)
                .read_to_string(&mut text)
                .map_err(|e| Failure::Retry(format!("reading the answer failed: {e}")))?;
            Ok(Some(text))
        })
    }

    /// Streams `url` into `tmp`, hashing as it goes, and checks the SHA-256 against `expected`.
    /// Returns the size, or `None` when the server answers 404. On any failure `tmp` is removed.
    pub(crate) fn download(
        &self,
        url: &str,
        tmp: &Path,
        expected: &str,
        name: &str,
    ) -> Result<Option<u64>, FetchError> {
        let result = self.retrying(url, || {
            let Some(mut resp) = self.get(url)? else {
                return Ok(None);
            };
            let mut file = File::create(tmp).map_err(|e| Failure::Final(FetchError::io(tmp, e)))?;
            let mut reader = resp.body_mut().as_reader();
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 64 * 1024];
            let mut bytes = 0u64;
            loop {
                let n = reader.read(&mut buf).map_err(|e| {
                    Failure::Retry(format!("the transfer broke after {bytes} bytes: {e}"))
                })?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|e| Failure::Final(FetchError::io(tmp, e)))?;
                bytes += n as u64;
            }
            file.sync_all()
                .map_err(|e| Failure::Final(FetchError::io(tmp, e)))?;
            let actual = hex(&hasher.finalize());
            if actual != expected {
                return Err(Failure::Mismatch(FetchError::Checksum {
                    file: name.to_string(),
                    url: url.to_string(),
                    expected: expected.to_string(),
                    actual,
                }));
            }
            Ok(Some(bytes))
        });
        if !matches!(result, Ok(Some(_))) {
            let _ = std::fs::remove_file(tmp);
        }
        result
    }

    /// One GET: `Ok(None)` for 404, the response for 2xx, a [`Failure`] otherwise.
    fn get(&self, url: &str) -> Result<Option<ureq::http::Response<ureq::Body>>, Failure> {
        match self.agent.get(url).call() {
            Ok(resp) => match resp.status().as_u16() {
                404 => Ok(None),
                200..=299 => Ok(Some(resp)),
                s @ (408 | 429 | 500..=599) => Err(Failure::Retry(format!("HTTP {s}"))),
                status => Err(Failure::Final(FetchError::Status {
                    url: url.to_string(),
                    status,
                })),
            },
            Err(ureq::Error::Timeout(t)) => Err(Failure::Retry(format!("timed out ({t})"))),
            Err(e @ (ureq::Error::BadUri(_) | ureq::Error::RequireHttpsOnly(_))) => {
                Err(Failure::Final(FetchError::Request(format!("{url}: {e}"))))
            }
            Err(e) => Err(Failure::Retry(e.to_string())),
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent; waits
    /// `backoff`, then twice that, and so on between attempts.
    fn retrying<T>(
        &self,
        url: &str,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, FetchError> {
        let mut last = Failure::Retry(String::new());
        for k in 0..=self.retries {
            if k > 0 {
                std::thread::sleep(self.backoff.saturating_mul(1 << (k - 1).min(16)));
            }
            match attempt() {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => return Err(e),
                Err(f) => last = f,
            }
        }
        Err(match last {
            Failure::Mismatch(e) | Failure::Final(e) => e,
            Failure::Retry(reason) => FetchError::Transfer {
                url: url.to_string(),
                reason,
                attempts: self.retries + 1,
            },
        })
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a file, in lower-case hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut file = File::open(path).map_err(|e| FetchError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| FetchError::io(path, e))?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// The SHA-256 in a `.CHECKSUM` file (`<64 hex>  <file name>`), lower-cased.
pub(crate) fn parse_checksum(text: &str, origin: &str) -> Result<String, FetchError> {
    let bad = |reason: &str| FetchError::BadChecksumFile {
        url: origin.to_string(),
        reason: reason.to_string(),
    };
    let first = text.split_whitespace().next().ok_or_else(|| bad("empty"))?;
    if first.len() != 64 || !first.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("expected 64 hex digits, then the file name"));
    }
    Ok(first.to_ascii_lowercase())
}

/// Percent-encodes every byte of a path except unreserved characters and `/`.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(encode_path("a/BTCUSDT-1h.zip"), "a/BTCUSDT-1h.zip");
        assert_eq!(encode_path("牛来USDT"), "%E7%89%9B%E6%9D%A5USDT");
    }

    #[test]
    fn checksum_files_parse() {
        let sum = "A".repeat(64);
        assert_eq!(
            parse_checksum(&format!("{sum}  BTCUSDT-1h-2024-01.zip\n"), "u").unwrap(),
            "a".repeat(64)
        );
        assert!(parse_checksum("", "u").is_err());
        assert!(parse_checksum("<html>not found</html>", "u").is_err());
    }
}
