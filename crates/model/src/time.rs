//! Millisecond UTC timestamps.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, UTC. Bar times are bar **open** times.
pub type TimestampMs = i64;

/// One hour in milliseconds.
pub const HOUR_MS: TimestampMs = 3_600_000;
/// One minute in milliseconds.
pub const MINUTE_MS: TimestampMs = 60_000;

/// Renders a timestamp as ISO-8601 UTC (`2025-10-10T21:00:00Z`; milliseconds shown only when non-zero).
pub fn iso(ts: TimestampMs) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ts) {
        Some(dt) if ts % 1000 == 0 => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("{ts}ms"),
    }
}

/// Renders a timeframe length as `1h`, `5m`, `1d`, `30s`, or `<n>ms`.
pub fn timeframe_label(ms: TimestampMs) -> String {
    const DAY: i64 = 24 * HOUR_MS;
    if ms > 0 && ms % DAY == 0 {
        format!("{}d", ms / DAY)
    } else if ms > 0 && ms % HOUR_MS == 0 {
        format!("{}h", ms / HOUR_MS)
    } else if ms > 0 && ms % MINUTE_MS == 0 {
        format!("{}m", ms / MINUTE_MS)
    } else if ms > 0 && ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Parses a timeframe label (`1m`, `5m`, `1h`, `4h`, `8h`, `1d`, `1w`) into milliseconds.
pub fn parse_timeframe(label: &str) -> Option<TimestampMs> {
    let label = label.trim();
    let split = label.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = label.split_at(split);
    let n: i64 = n.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" => MINUTE_MS,
        "h" => HOUR_MS,
        "d" => 24 * HOUR_MS,
        "w" => 7 * 24 * HOUR_MS,
        _ => return None,
    };
    // a count so large that the milliseconds overflow is not a timeframe either
    n.checked_mul(unit_ms).filter(|_| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframes_parse_and_overflow_is_refused() {
        assert_eq!(parse_timeframe("5m"), Some(5 * MINUTE_MS));
        assert_eq!(parse_timeframe(" 1d "), Some(24 * HOUR_MS));
        assert_eq!(parse_timeframe("0h"), None);
        assert_eq!(parse_timeframe("1x"), None);
        // found by fuzzing the scenario parser: this multiplied past i64::MAX
        assert_eq!(parse_timeframe("9999999999999999w"), None);
    }

    #[test]
    fn iso_rendering() {
        assert_eq!(iso(1_760_130_000_000), "2025-10-10T21:00:00Z");
        assert_eq!(iso(1_760_130_000_017), "2025-10-10T21:00:00.017Z");
    }

    #[test]
    fn timeframes_round_trip() {
        for label in ["1m", "5m", "1h", "4h", "8h", "1d"] {
            assert_eq!(timeframe_label(parse_timeframe(label).unwrap()), label);
        }
        assert_eq!(parse_timeframe("h"), None);
        assert_eq!(parse_timeframe("0h"), None);
        assert_eq!(parse_timeframe("3x"), None);
    }
}
