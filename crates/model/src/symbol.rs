//! The one internal symbol form and the mapping from every other spelling.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A normalised perpetual symbol such as `BTCUSDT` or `1000PEPEUSDT` (upper case, no separators).
/// Letters of any script are kept (`币安人生USDT`): the text is UTF-8, not ASCII.
///
/// Shared text (`Arc<str>`): a clone (every trade, skip and liquidation record names its symbol)
/// is a reference count, not an allocation. Compared, ordered, hashed, printed and serialized as
/// its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Symbol(Arc<str>);

/// A symbol spelling that could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised symbol {input:?}: {reason}")]
pub struct SymbolError {
    /// What was given.
    pub input: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Quote currencies recognised when splitting a normalised symbol into base and quote.
const QUOTES: [&str; 4] = ["USDT", "USDC", "BUSD", "USD"];

impl Symbol {
    /// Normalises any accepted spelling: `BTCUSDT`, `btcusdt`, `#BTCUSDT`, `BTC/USDT`,
    /// `BTC/USDT:USDT` (ccxt), `BTC_USDT_USDT` and `BTC_USDT` (freqtrade file stems), `BTC-USDT`.
    pub fn parse(input: &str) -> Result<Self, SymbolError> {
        let err = |reason| SymbolError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim().trim_start_matches('#');
        if s.is_empty() {
            return Err(err("empty symbol"));
        }
        // ccxt `BASE/QUOTE:SETTLE` and freqtrade `BASE_QUOTE_SETTLE`: drop the settle part.
        let s = s.split(':').next().unwrap_or(s);
        let parts: Vec<&str> = s.split(['/', '_', '-']).collect();
        let joined = match parts.as_slice() {
            [one] => one.to_string(),
            [base, quote] => format!("{base}{quote}"),
            [base, quote, settle] if quote.eq_ignore_ascii_case(settle) => format!("{base}{quote}"),
            _ => return Err(err("expected BASEQUOTE, BASE/QUOTE or BASE/QUOTE:SETTLE")),
        };
        // Any script's letters and digits: venues list bases written in Chinese characters
        // (`币安人生USDT`), and every symbol a venue lists must be accepted.
        if joined.is_empty() || !joined.chars().all(char::is_alphanumeric) {
            return Err(err("symbols are letters and digits only"));
        }
        Ok(Symbol(joined.to_uppercase().into()))
    }

    /// The normalised form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base asset (`BTC` for `BTCUSDT`, `1000PEPE` for `1000PEPEUSDT`), if the quote is known.
    pub fn base(&self) -> Option<&str> {
        QUOTES
            .iter()
            .find(|q| self.0.len() > q.len() && self.0.ends_with(*q))
            .map(|q| &self.0[..self.0.len() - q.len()])
    }

    /// The ccxt spelling of a linear perpetual (`BTC/USDT:USDT`), if the quote is known.
    pub fn ccxt(&self) -> Option<String> {
        let base = self.base()?;
        let quote = &self.0[base.len()..];
        Some(format!("{base}/{quote}:{quote}"))
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_normalise() {
        for s in [
            "BTCUSDT",
            "btcusdt",
            "#BTCUSDT",
            "BTC/USDT",
            "BTC/USDT:USDT",
            "BTC_USDT_USDT",
            "BTC_USDT",
            "BTC-USDT",
        ] {
            assert_eq!(Symbol::parse(s).unwrap().as_str(), "BTCUSDT", "{s}");
        }
        let pepe = Symbol::parse("1000PEPE/USDT:USDT").unwrap();
        assert_eq!(pepe.as_str(), "1000PEPEUSDT");
        assert_eq!(pepe.base(), Some("1000PEPE"));
        assert_eq!(pepe.ccxt().unwrap(), "1000PEPE/USDT:USDT");
    }

    #[test]
    fn non_ascii_bases_are_symbols() {
        let s = Symbol::parse("币安人生/USDT:USDT").unwrap();
        assert_eq!(s.as_str(), "币安人生USDT");
        assert_eq!(s.base(), Some("币安人生"));
        assert_eq!(s.ccxt().unwrap(), "币安人生/USDT:USDT");
        assert_eq!(Symbol::parse("币安人生_USDT_USDT").unwrap(), s);
        assert_eq!(Symbol::parse("币安人生usdt").unwrap(), s);
    }

    #[test]
    fn bad_spellings_are_refused() {
        for s in [
            "",
            "#",
            "BTC/USDT/X/Y",
            "BTC USDT",
            "BTC_USDT_BUSD",
            "BTC.USDT",
            "币安 人生USDT",
        ] {
            assert!(Symbol::parse(s).is_err(), "{s}");
        }
    }
}
