//! ADL event files (docs/data-formats.md "ADL event file"): one auto-deleveraging episode per
//! row, replayed by a scenario's `[adl] mode = "data"`.
//!
//! ```text
//! time,symbol,side,share,price
//! 2025-10-10T21:15:00Z,BTCUSDT,short,0.3,
//! 2025-10-10T21:20:00Z,SOLUSDT,long,0.1,
//! ```
//!
//! `side` is the side deleveraged (the winning side); `share` the share of that side's open
//! interest deleveraged, 0 < share ≤ 1; `price` (optional, may be empty) the fill price, the
//! bankruptcy price of the liquidated counterparty. Every bad row is reported, with its row.

use crate::error::DataError;
use crate::signals::parse_time;
use ringfence_model::{Side, Symbol, TimestampMs};
use std::path::Path;

/// One row of an ADL event file.
#[derive(Debug, Clone, PartialEq)]
pub struct AdlEventRow {
    /// 1-based line of the row in the file (the header is line 1).
    pub line: usize,
    /// When (ms UTC).
    pub time: TimestampMs,
    /// Symbol.
    pub symbol: Symbol,
    /// Side deleveraged.
    pub side: Side,
    /// Share of that side's open interest, (0, 1].
    pub share: f64,
    /// Fill price, when given.
    pub price: Option<f64>,
}

const COLUMNS: [&str; 5] = ["time", "symbol", "side", "share", "price"];

/// Reads an ADL event file.
///
/// # Errors
/// [`DataError`] naming the file and row: a missing column, a bad time, symbol, side, share or
/// price; every bad row at once.
pub fn read(path: &Path) -> Result<Vec<AdlEventRow>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    parse(&path.display().to_string(), &text)
}

/// Parses the text of an ADL event file named `file` (for messages).
///
/// # Errors
/// As [`read`].
pub fn parse(file: &str, text: &str) -> Result<Vec<AdlEventRow>, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| DataError::file(file, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    for h in &header {
        if !COLUMNS.contains(&h.as_str()) {
            return Err(DataError::at(
                file,
                1,
                format!(
                    "unknown column {h:?}; the columns are {}",
                    COLUMNS.join(", ")
                ),
            ));
        }
    }
    let need = |name: &str| {
        col(name).ok_or_else(|| {
            DataError::at(
                file,
                1,
                format!(
                    "missing column {name:?}; the header must name time, symbol, side, share (price optional)"
                ),
            )
        })
    };
    let (ct, cs, cd, csh) = (
        need("time")?,
        need("symbol")?,
        need("side")?,
        need("share")?,
    );
    let cp = col("price");
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (k, rec) in rdr.records().enumerate() {
        let line = k + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(DataError::at(file, line, format!("unreadable row: {e}")));
                continue;
            }
        };
        let cell = |c: usize| rec.get(c).unwrap_or("");
        match row(
            line,
            cell(ct),
            cell(cs),
            cell(cd),
            cell(csh),
            cp.map_or("", cell),
        ) {
            Ok(r) => rows.push(r),
            Err(m) => errors.push(DataError::at(file, line, m)),
        }
    }
    DataError::collect(errors)?;
    if rows.is_empty() {
        return Err(DataError::file(file, "no ADL events (only a header)"));
    }
    Ok(rows)
}

fn row(
    line: usize,
    time: &str,
    symbol: &str,
    side: &str,
    share: &str,
    price: &str,
) -> Result<AdlEventRow, String> {
    let time = parse_time(time).map_err(|e| format!("time: {e}"))?;
    let symbol = Symbol::parse(symbol).map_err(|e| format!("symbol: {e}"))?;
    let side = match side.to_ascii_lowercase().as_str() {
        "long" | "buy" => Side::Long,
        "short" | "sell" => Side::Short,
        other => return Err(format!("side: {other:?} is not long or short")),
    };
    let share: f64 = share.parse().map_err(|_| {
        format!("share: {share:?} is not a number (a share of open interest, e.g. 0.3)")
    })?;
    if !(share > 0.0 && share <= 1.0) {
        return Err(format!(
            "share: {share} is outside (0, 1] (a share of open interest, e.g. 0.3)"
        ));
    }
    let price = if price.is_empty() {
        None
    } else {
        let p: f64 = price
            .parse()
            .map_err(|_| format!("price: {price:?} is not a number"))?;
        if !(p.is_finite() && p > 0.0) {
            return Err(format!("price: {p} must be positive"));
        }
        Some(p)
    };
    Ok(AdlEventRow {
        line,
        time,
        symbol,
        side,
        share,
        price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_and_without_price() {
        let rows = parse(
            "adl.csv",
            "time,symbol,side,share,price\n2025-10-10T21:15:00Z,BTCUSDT,short,0.3,\n2025-10-10T21:20:00Z,sol/usdt,long,1,150.5\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].side, Side::Short);
        assert_eq!(rows[0].price, None);
        assert_eq!(rows[1].symbol.as_str(), "SOLUSDT");
        assert_eq!(rows[1].price, Some(150.5));
    }

    #[test]
    fn every_bad_row_is_named() {
        let e = parse(
            "adl.csv",
            "time,symbol,side,share\nyesterday,BTCUSDT,short,0.3\n2025-10-10T21:15:00Z,BTCUSDT,flat,0.3\n2025-10-10T21:15:00Z,BTCUSDT,short,1.5\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("3 problems"), "{e}");
        assert!(
            e.contains("adl.csv") && e.contains("row 2") && e.contains("time"),
            "{e}"
        );
        assert!(e.contains("row 3") && e.contains("flat"), "{e}");
        assert!(e.contains("row 4") && e.contains("outside (0, 1]"), "{e}");
        let e = parse("adl.csv", "time,symbol,share\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing column \"side\""), "{e}");
        let e = parse("adl.csv", "time,symbol,side,share,qty\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown column \"qty\""), "{e}");
    }
}
