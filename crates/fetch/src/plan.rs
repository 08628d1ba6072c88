//! Which archive files a request needs.

use crate::error::FetchError;
use chrono::{Datelike, Days, Months, NaiveDate};
use ringfence_model::symbol::Symbol;
use serde::Serialize;
use std::fmt;

/// Days after a month's end before its monthly file is expected in the archive.
const MONTHLY_PUBLISH_LAG_DAYS: u64 = 3;

/// One kind of archive file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Dataset {
    /// Last-price candles.
    Klines,
    /// Mark-price candles.
    MarkPriceKlines,
    /// Funding settlements (published monthly only).
    FundingRate,
}

impl Dataset {
    /// The folder name in the archive.
    pub fn archive_name(self) -> &'static str {
        match self {
            Dataset::Klines => "klines",
            Dataset::MarkPriceKlines => "markPriceKlines",
            Dataset::FundingRate => "fundingRate",
        }
    }
}

/// The period one file covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A calendar month (UTC): `(year, month)`.
    Month(i32, u32),
    /// One UTC day.
    Day(NaiveDate),
}

impl Period {
    /// `monthly` or `daily`, as in the archive's paths.
    pub fn cadence(self) -> &'static str {
        match self {
            Period::Month(..) => "monthly",
            Period::Day(_) => "daily",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month(y, m) => write!(f, "{y:04}-{m:02}"),
            Period::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

/// One archive file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    /// The symbol (`BTCUSDT`).
    pub symbol: Symbol,
    /// What the file holds.
    pub dataset: Dataset,
    /// Candle interval (`1h`); `None` for funding.
    pub interval: Option<String>,
    /// The period covered.
    pub period: Period,
}

impl Item {
    /// `BTCUSDT-1h-2024-01.zip`, `BTCUSDT-fundingRate-2024-01.zip`.
    pub fn file_name(&self) -> String {
        let middle = self
            .interval
            .as_deref()
            .unwrap_or(Dataset::FundingRate.archive_name());
        format!("{}-{middle}-{}.zip", self.symbol, self.period)
    }

    /// The path inside the archive below `data/`:
    /// `futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-01.zip`.
    pub fn rel_path(&self) -> String {
        let mut parts = vec![
            "futures".to_string(),
            "um".to_string(),
            self.period.cadence().to_string(),
            self.dataset.archive_name().to_string(),
            self.symbol.to_string(),
        ];
        if let Some(i) = &self.interval {
            parts.push(i.clone());
        }
        parts.push(self.file_name());
        parts.join("/")
    }

    /// The series this file belongs to: `(symbol, dataset, interval)`.
    pub fn series(&self) -> (&Symbol, Dataset, Option<&str>) {
        (&self.symbol, self.dataset, self.interval.as_deref())
    }

    /// `BTCUSDT markPriceKlines 1h`.
    pub fn series_label(&self) -> String {
        match &self.interval {
            Some(i) => format!("{} {} {i}", self.symbol, self.dataset.archive_name()),
            None => format!("{} {}", self.symbol, self.dataset.archive_name()),
        }
    }
}

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Symbols (normalised).
    pub symbols: Vec<Symbol>,
    /// First day (UTC, inclusive).
    pub from: NaiveDate,
    /// Last day (UTC, inclusive).
    pub to: NaiveDate,
    /// Candle intervals: the timeframe first, then the lower timeframe if any (`["1h", "5m"]`).
    pub intervals: Vec<String>,
    /// Also fetch mark-price candles at every interval.
    pub mark: bool,
    /// Also fetch funding settlements.
    pub funding: bool,
}

/// The files a request needs, and notes about what the archive cannot give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Files, sorted by series then period.
    pub items: Vec<Item>,
    /// Notes (e.g. funding of a month not yet published).
    pub notes: Vec<String>,
    /// The last day covered (the request's `to`, or yesterday when `to` is today or later).
    pub to: NaiveDate,
}

/// Candle intervals the archive publishes.
const INTERVALS: [&str; 15] = [
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1mo",
];

/// The files of `req`, given today's UTC date: a monthly file for every month touched that is
/// complete (ended at least three days before `today`), daily files up to yesterday otherwise.
pub fn plan(req: &Request, today: NaiveDate) -> Result<Plan, FetchError> {
    if req.symbols.is_empty() {
        return Err(FetchError::Request("no symbols to fetch".into()));
    }
    for i in &req.intervals {
        if !INTERVALS.contains(&i.as_str()) {
            return Err(FetchError::Request(format!(
                "timeframe {i:?} is not published in the archive: use one of {}",
                INTERVALS.join(", ")
            )));
        }
    }
    let yesterday = today
        .checked_sub_days(Days::new(1))
        .ok_or_else(|| FetchError::Request("today's date is out of range".into()))?;
    let to = req.to.min(yesterday);
    if req.from > to {
        return Err(FetchError::Request(format!(
            "nothing to fetch: --from {} is after --to {} (the archive holds days up to yesterday, {})",
            req.from, req.to, yesterday
        )));
    }
    let mut periods: Vec<Period> = Vec::new();
    let mut funding_months: Vec<Period> = Vec::new();
    let mut notes = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(req.from.year(), req.from.month(), 1)
        .ok_or_else(|| FetchError::Request(format!("bad date {}", req.from)))?;
    while month <= to {
        let next = month
            .checked_add_months(Months::new(1))
            .ok_or_else(|| FetchError::Request(format!("bad date {month}")))?;
        let published = next
            .checked_add_days(Days::new(MONTHLY_PUBLISH_LAG_DAYS))
            .is_some_and(|d| d <= today);
        let label = Period::Month(month.year(), month.month());
        if published {
            periods.push(label);
            funding_months.push(label);
        } else {
            let mut day = month.max(req.from);
            while day < next && day <= to {
                periods.push(Period::Day(day));
                day = day.succ_opt().unwrap_or(next);
            }
            if req.funding {
                notes.push(format!(
                    "funding for {label} is published only once the month is complete: not fetched"
                ));
            }
        }
        month = next;
    }
    let mut items = Vec::new();
    for symbol in &req.symbols {
        let mut datasets = vec![Dataset::Klines];
        if req.mark {
            datasets.push(Dataset::MarkPriceKlines);
        }
        for dataset in datasets {
            for interval in &req.intervals {
                items.extend(periods.iter().map(|&period| Item {
                    symbol: symbol.clone(),
                    dataset,
                    interval: Some(interval.clone()),
                    period,
                }));
            }
        }
        if req.funding {
            items.extend(funding_months.iter().map(|&period| Item {
                symbol: symbol.clone(),
                dataset: Dataset::FundingRate,
                interval: None,
                period,
            }));
        }
    }
    items.sort();
    items.dedup();
    Ok(Plan { items, notes, to })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn request(from: &str, to: &str) -> Request {
        Request {
            symbols: vec![Symbol::parse("BTCUSDT").unwrap()],
            from: day(from),
            to: day(to),
            intervals: vec!["1h".into()],
            mark: true,
            funding: true,
        }
    }

    fn paths(p: &Plan) -> Vec<String> {
        p.items.iter().map(Item::rel_path).collect()
    }

    #[test]
    fn complete_months_are_monthly_the_rest_daily() {
        let p = plan(&request("2026-10-30", "2026-12-31"), day("2026-11-04")).unwrap();
        assert_eq!(p.to, day("2026-11-03"));
        let p = plan(&request("2026-10-30", "2026-11-02"), day("2026-11-05")).unwrap();
        assert_eq!(p.to, day("2026-11-02"));
        assert_eq!(
            paths(&p),
            [
                "futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2026-10.zip",
                "futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-11-01.zip",
                "futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-11-02.zip",
                "futures/um/monthly/markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2026-10.zip",
                "futures/um/daily/markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2026-11-01.zip",
                "futures/um/daily/markPriceKlines/BTCUSDT/1h/BTCUSDT-1h-2026-11-02.zip",
                "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2026-10.zip",
            ]
        );
        assert_eq!(
            p.notes,
            ["funding for 2026-11 is published only once the month is complete: not fetched"]
        );
    }

    #[test]
    fn a_month_just_ended_is_fetched_daily_until_published() {
        let p = plan(&request("2026-10-30", "2026-10-31"), day("2026-11-02")).unwrap();
        assert_eq!(
            paths(&p)[..2],
            [
                "futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-10-30.zip",
                "futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-10-31.zip",
            ]
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        let mut r = request("2026-10-01", "2026-09-01");
        assert!(
            plan(&r, day("2026-12-01"))
                .unwrap_err()
                .to_string()
                .contains("after --to")
        );
        r = request("2026-10-01", "2026-10-02");
        r.intervals = vec!["7m".into()];
        assert!(
            plan(&r, day("2026-12-01"))
                .unwrap_err()
                .to_string()
                .contains("\"7m\"")
        );
    }

    #[test]
    fn any_symbol_name_makes_a_path() {
        let mut r = request("2026-01-05", "2026-01-05");
        r.symbols = vec![Symbol::parse("币安人生USDT").unwrap()];
        let p = plan(&r, day("2026-12-01")).unwrap();
        assert_eq!(
            p.items[0].rel_path(),
            "futures/um/monthly/klines/币安人生USDT/1h/币安人生USDT-1h-2026-01.zip"
        );
    }
}
