//! Claims tables: a channel's own result messages, as `ringfence signals import` writes them
//! (`claims.csv`: `msg_id, time, call_msg_id, symbol, kind, targets_hit, claimed_pct`).

use crate::error::DataError;
use crate::signals::parse_time;
use ringfence_model::Claim;
use std::path::Path;

/// The claim kinds the importer writes.
const KINDS: [&str; 4] = ["target", "all_targets", "stop", "profit"];

/// Reads a claims CSV. Every problem names the file, the row and the column.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; [`DataError::Invalid`] (or
/// [`DataError::Many`]) for a missing column, an unparseable time or number, or an unknown kind.
pub fn load_claims(path: &Path) -> Result<Vec<Claim>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    parse_claims(&path.display().to_string(), &text)
}

/// [`load_claims`] on text already read (`file` names it in errors).
///
/// # Errors
/// As [`load_claims`].
pub fn parse_claims(file: &str, text: &str) -> Result<Vec<Claim>, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .map_err(|e| DataError::at(file, 1, format!("cannot read the header: {e}")))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let need = ["msg_id", "time", "call_msg_id", "kind"];
    let missing: Vec<&str> = need.iter().copied().filter(|n| col(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(DataError::at(
            file,
            1,
            format!(
                "missing column(s) {}: a claims table has msg_id, time, call_msg_id, symbol, kind, \
                 targets_hit, claimed_pct (as `ringfence signals import` writes it)",
                missing.join(", ")
            ),
        ));
    }
    let (c_msg, c_time, c_call, c_kind) = (
        col("msg_id").unwrap_or(0),
        col("time").unwrap_or(0),
        col("call_msg_id").unwrap_or(0),
        col("kind").unwrap_or(0),
    );
    let (c_hit, c_pct) = (col("targets_hit"), col("claimed_pct"));
    let mut claims = Vec::new();
    let mut problems = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let row = k + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(DataError::at(file, row, e.to_string()));
                continue;
            }
        };
        let cell = |c: usize| rec.get(c).unwrap_or("").trim();
        let opt = |c: Option<usize>| c.map(cell).filter(|s| !s.is_empty());
        let mut bad = |what: &str, v: &str, why: String| {
            problems.push(DataError::at(file, row, format!("{what} {v:?}: {why}")));
        };
        let time = match parse_time(cell(c_time)) {
            Ok(t) => t,
            Err(e) => {
                bad("time", cell(c_time), e);
                continue;
            }
        };
        let kind = cell(c_kind);
        if !KINDS.contains(&kind) {
            bad(
                "kind",
                kind,
                format!("expected one of {}", KINDS.join(", ")),
            );
            continue;
        }
        let targets_hit = match opt(c_hit).map(str::parse::<u32>) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                bad("targets_hit", opt(c_hit).unwrap_or(""), e.to_string());
                continue;
            }
        };
        let claimed_pct = match opt(c_pct).map(str::parse::<f64>) {
            None => None,
            Some(Ok(x)) if x.is_finite() => Some(x),
            Some(_) => {
                bad(
                    "claimed_pct",
                    opt(c_pct).unwrap_or(""),
                    "not a finite number".into(),
                );
                continue;
            }
        };
        claims.push(Claim {
            channel: String::new(),
            msg_id: cell(c_msg).to_string(),
            time,
            call_id: Some(cell(c_call).to_string()).filter(|s| !s.is_empty()),
            kind: kind.to_string(),
            targets_hit,
            claimed_pct,
        });
    }
    DataError::collect(problems)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_importer_writes() {
        let text = "msg_id,time,call_msg_id,symbol,kind,targets_hit,claimed_pct\n\
                    12,2025-10-10T21:00:00Z,7,BTCUSDT,target,2,47.1\n\
                    13,2025-10-11T08:00:00Z,,ETHUSDT,profit,,\n";
        let c = parse_claims("c.csv", text).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].call_id.as_deref(), Some("7"));
        assert_eq!((c[0].targets_hit, c[0].claimed_pct), (Some(2), Some(47.1)));
        assert_eq!(c[1].call_id, None);
        assert_eq!(c[1].kind, "profit");
    }

    #[test]
    fn bad_rows_name_file_row_and_value() {
        let text = "msg_id,time,call_msg_id,symbol,kind,targets_hit,claimed_pct\n\
                    12,yesterday,7,BTCUSDT,target,2,47.1\n\
                    13,2025-10-11T08:00:00Z,7,BTCUSDT,moon,,\n\
                    14,2025-10-11T08:00:00Z,7,BTCUSDT,target,two,\n";
        let err = parse_claims("c.csv", text).unwrap_err().to_string();
        assert!(
            err.contains("c.csv") && err.contains("row 2") && err.contains("yesterday"),
            "{err}"
        );
        assert!(err.contains("row 3") && err.contains("moon"), "{err}");
        assert!(err.contains("row 4") && err.contains("two"), "{err}");
        let err = parse_claims("c.csv", "msg_id,time\n1,2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing column(s) call_msg_id, kind"), "{err}");
    }
}
