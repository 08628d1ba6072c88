//! The tokenizer under the call grammars: message text to lines of tokens.
//!
//! It knows numbers the way channels write them (`27,400`, `$0.0123`, `0,5`, `27.4k`), leverage
//! (`10x`, `3.0X`, `x20`), percentages, hashtags/cashtags (`#BTCUSDT`, `$ETH`), `/` pairs,
//! the `.P` perpetual suffix, keycap digits (`1️⃣`) and the few emoji that carry meaning. Every
//! other symbol is dropped. It never fails: any text gives some tokens.

use compact_str::CompactString;

/// One token of a message line.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A word, lowercased (letters and digits, starting with a letter or digits followed by letters
    /// such as `1000bonk`). Held inline when short (most words are), so a message's tokens cost
    /// few allocations.
    Word(CompactString),
    /// A `#tag` or `$tag`, uppercased without its sign.
    Tag(CompactString),
    /// A number (commas as thousands separators removed, `k` multiplied out).
    Num(f64),
    /// A list index: `1)`, `1.` at the start of a line, or a keycap digit.
    Index(u32),
    /// Leverage such as `10x`, `3.0X`, `x20`.
    Lev(f64),
    /// A percentage such as `47.1%`.
    Pct(f64),
    /// Punctuation that separates fields: `:`, `-`, `/`, `(`, `)`, `@`, `,`, `|`, `~`.
    Punct(char),
    /// An emoji that carries meaning.
    Emoji(Mark),
}

/// Emoji with a meaning in call grammars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// 📈 (also 🟢, ⬆️): long.
    Up,
    /// 📉 (also 🔴, ⬇️): short.
    Down,
    /// ✅ ✔️ 🎯 hit: something was reached.
    Check,
    /// ⛔ 🛑 ❌: stopped or cancelled.
    Cross,
    /// 🚀 🔥 💰 🤑 💸 🎉 🥳 💎: celebration.
    Party,
}

fn mark_of(c: char) -> Option<Mark> {
    Some(match c {
        '📈' | '🟢' | '⬆' | '🔼' | '🐂' => Mark::Up,
        '📉' | '🔴' | '⬇' | '🔽' | '🐻' => Mark::Down,
        '✅' | '✔' | '☑' => Mark::Check,
        '⛔' | '🛑' | '❌' | '🚫' => Mark::Cross,
        '🚀' | '🔥' | '💰' | '🤑' | '💸' | '🎉' | '🥳' | '💎' | '🏆' => {
            Mark::Party
        }
        _ => return None,
    })
}

/// Splits `text` into lines of tokens (empty lines kept as empty vectors: they end blocks).
pub fn tokenize(text: &str) -> Vec<Vec<Tok>> {
    // one character buffer, one token buffer and one number buffer for all lines; each line's
    // tokens are then moved into a vector of exactly their number (one allocation a line)
    let mut chars = Vec::new();
    let mut toks = Vec::new();
    let mut digits = String::new();
    text.split('\n')
        .map(|line| {
            chars.clear();
            chars.extend(line.chars());
            tokenize_chars(&chars, &mut toks, &mut digits);
            let mut line_toks = Vec::with_capacity(toks.len());
            line_toks.append(&mut toks);
            line_toks
        })
        .collect()
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—' | '−' | '‐' | '‑' | '→' | '➡' | '=')
}

/// Tokens of one line.
pub fn tokenize_line(line: &str) -> Vec<Tok> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    tokenize_chars(&chars, &mut out, &mut String::new());
    out
}

/// Tokens of one line given as characters, pushed to `out` (`digits` is a scratch buffer).
fn tokenize_chars(chars: &[char], out: &mut Vec<Tok>, digits: &mut String) {
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            i = lex_number(chars, i, out, digits);
        } else if c == '$' || c == '#' {
            if chars
                .get(i + 1)
                .is_some_and(|d| d.is_ascii_digit() || *d == '.')
                && c == '$'
            {
                i += 1; // `$27,400`: a dollar sign before a number
                continue;
            }
            let start = i + 1;
            let end = word_end(chars, start);
            if end > start {
                let word = cased(&chars[start..end], true);
                let (word, next) = perp_suffix(chars, end, word);
                out.push(Tok::Tag(word));
                i = next;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() {
            let end = word_end(chars, i);
            let lower = cased(&chars[i..end], false);
            // `x20`: leverage written before the number
            if let Some(n) = lower.strip_prefix(['x', 'х'])
                && !n.is_empty()
                && n.chars().all(|c| c.is_ascii_digit())
                && let Ok(v) = n.parse::<f64>()
            {
                out.push(Tok::Lev(v));
                i = end;
                continue;
            }
            let (word, next) = perp_suffix(chars, end, lower);
            out.push(Tok::Word(word));
            i = next;
        } else if is_dash(c) {
            out.push(Tok::Punct('-'));
            i += 1;
        } else if matches!(
            c,
            ':' | '/' | '(' | ')' | '@' | ',' | '|' | '~' | '：' | '[' | ']'
        ) {
            let p = match c {
                '：' => ':',
                '[' => '(',
                ']' => ')',
                other => other,
            };
            out.push(Tok::Punct(p));
            i += 1;
        } else if let Some(m) = mark_of(c) {
            out.push(Tok::Emoji(m));
            i += 1;
        } else {
            i += 1;
        }
    }
}

/// `chars` upper- or lowercased (ASCII fast, any script correct).
fn cased(chars: &[char], upper: bool) -> CompactString {
    // most words are short and ASCII: case them into a stack buffer and copy that in once
    const INLINE: usize = 24;
    if chars.len() <= INLINE && chars.iter().all(char::is_ascii) {
        let mut buf = [0u8; INLINE];
        for (b, c) in buf.iter_mut().zip(chars) {
            // ASCII (checked above): one byte each
            let byte = *c as u8;
            *b = if upper {
                byte.to_ascii_uppercase()
            } else {
                byte.to_ascii_lowercase()
            };
        }
        if let Ok(text) = std::str::from_utf8(&buf[..chars.len()]) {
            return CompactString::new(text);
        }
    }
    cased_any(chars, upper)
}

/// [`cased`] for any characters, one at a time.
fn cased_any(chars: &[char], upper: bool) -> CompactString {
    let mut s = CompactString::with_capacity(chars.len());
    for &c in chars {
        match (c.is_ascii(), upper) {
            (true, true) => s.push(c.to_ascii_uppercase()),
            (true, false) => s.push(c.to_ascii_lowercase()),
            (false, true) => s.extend(c.to_uppercase()),
            (false, false) => s.extend(c.to_lowercase()),
        }
    }
    s
}

/// End of a word starting at `start`: letters, digits and `_`.
fn word_end(chars: &[char], start: usize) -> usize {
    let mut j = start;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    j
}

/// Consumes a `.P` perpetual suffix after a word (`BTCUSDT.P`).
fn perp_suffix(chars: &[char], end: usize, word: CompactString) -> (CompactString, usize) {
    if chars.get(end) == Some(&'.')
        && chars.get(end + 1).is_some_and(|c| matches!(c, 'P' | 'p'))
        && chars.get(end + 2).is_none_or(|c| !c.is_alphanumeric())
    {
        (word, end + 2)
    } else {
        (word, end)
    }
}

/// Lexes a number at `start` (a digit or `.digit`), with what follows it (`x`, `%`, `k`, `)`,
/// letters); returns the index after it.
fn lex_number(chars: &[char], start: usize, out: &mut Vec<Tok>, digits: &mut String) -> usize {
    let mut j = start;
    digits.clear();
    while j < chars.len() && chars[j].is_ascii_digit() {
        digits.push(chars[j]);
        j += 1;
    }
    // keycap digit 1️⃣: digit, optional U+FE0F, U+20E3
    {
        let mut k = j;
        if chars.get(k) == Some(&'\u{fe0f}') {
            k += 1;
        }
        if chars.get(k) == Some(&'\u{20e3}') {
            if let Ok(n) = digits.parse::<u32>() {
                out.push(Tok::Index(n));
            }
            return k + 1;
        }
    }
    // digits followed by letters: a word such as `1000BONK`, `1INCH` (not `10x`, `27k`)
    if j < chars.len() && chars[j].is_alphabetic() && !digits.is_empty() {
        let end = word_end(chars, j);
        let tail: String = chars[j..end].iter().collect::<String>().to_lowercase();
        if !matches!(tail.as_str(), "x" | "х" | "k" | "к") {
            let word: String = chars[start..end].iter().collect();
            let (word, next) = perp_suffix(chars, end, word.to_lowercase().into());
            out.push(Tok::Word(word));
            return next;
        }
    }
    // thousands groups `27,400,000` (a comma then exactly three digits), or a decimal comma after a
    // lone zero (`0,5`)
    loop {
        if chars.get(j) == Some(&',') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
            let mut k = j + 1;
            while k < chars.len() && chars[k].is_ascii_digit() {
                k += 1;
            }
            let group = k - (j + 1);
            if group == 3 && !digits.is_empty() {
                digits.extend(&chars[j + 1..k]);
                j = k;
                continue;
            }
            if digits.as_str() == "0" {
                digits.push('.');
                digits.extend(&chars[j + 1..k]);
                j = k;
                return finish_number(chars, j, digits, out);
            }
        }
        break;
    }
    if chars.get(j) == Some(&'.') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
        digits.push('.');
        j += 1;
        while j < chars.len() && chars[j].is_ascii_digit() {
            digits.push(chars[j]);
            j += 1;
        }
    } else if chars.get(j) == Some(&'.')
        && start == first_non_space(chars)
        && chars.get(j + 1).is_none_or(|c| c.is_whitespace())
    {
        // `1. 27400` at the start of a line: a list index
        if let Ok(n) = digits.parse::<u32>() {
            out.push(Tok::Index(n));
        }
        return j + 1;
    }
    finish_number(chars, j, digits, out)
}

fn first_non_space(chars: &[char]) -> usize {
    chars
        .iter()
        .position(|c| !c.is_whitespace() && !matches!(c, '•' | '-' | '*' | '▪' | '➖'))
        .unwrap_or(0)
}

fn finish_number(chars: &[char], mut j: usize, digits: &str, out: &mut Vec<Tok>) -> usize {
    let Ok(mut v) = digits.parse::<f64>() else {
        return j.max(1);
    };
    if !v.is_finite() {
        return j;
    }
    let is_int = !digits.contains('.');
    // allow one space between the number and `x` / `%`
    let peek = |k: usize| chars.get(k).copied();
    let mut k = j;
    if peek(k) == Some(' ') && matches!(peek(k + 1), Some('x' | 'X' | '%')) {
        k += 1;
    }
    match peek(k) {
        Some('x' | 'X' | 'х' | 'Х') if peek(k + 1).is_none_or(|c| !c.is_alphanumeric()) => {
            out.push(Tok::Lev(v));
            return k + 1;
        }
        Some('%') => {
            out.push(Tok::Pct(v));
            return k + 1;
        }
        Some('k' | 'K' | 'к' | 'К')
            if peek(k + 1).is_none_or(|c| !c.is_alphanumeric()) && k == j =>
        {
            v *= 1000.0;
            j = k + 1;
        }
        Some(')')
            if is_int
                && (j == first_digit_run_end(chars)
                    || (v <= 30.0 && !matches!(out.last(), Some(Tok::Punct('('))))) =>
        {
            if let Ok(n) = digits.parse::<u32>() {
                out.push(Tok::Index(n));
            }
            return j + 1;
        }
        _ => {}
    }
    out.push(Tok::Num(v));
    j
}

/// Where the first run of digits on the line ends (an `N)` there is a list index).
fn first_digit_run_end(chars: &[char]) -> usize {
    let start = first_non_space(chars);
    let mut j = start;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize_line(s)
    }

    #[test]
    fn numbers_as_channels_write_them() {
        assert_eq!(toks("27,400"), vec![Tok::Num(27400.0)]);
        assert_eq!(toks("$1,234,567.5"), vec![Tok::Num(1_234_567.5)]);
        assert_eq!(toks("0,5"), vec![Tok::Num(0.5)]);
        assert_eq!(toks("27.4k"), vec![Tok::Num(27400.0)]);
        assert_eq!(toks(".5"), vec![Tok::Num(0.5)]);
        assert_eq!(
            toks("0.1, 0.2"),
            vec![Tok::Num(0.1), Tok::Punct(','), Tok::Num(0.2)]
        );
        assert_eq!(
            toks("💰Вход: 1.2"),
            vec![
                Tok::Emoji(Mark::Party),
                Tok::Word("вход".into()),
                Tok::Punct(':'),
                Tok::Num(1.2)
            ]
        );
    }

    #[test]
    fn leverage_percent_index() {
        assert_eq!(toks("10x"), vec![Tok::Lev(10.0)]);
        assert_eq!(
            toks("Lev 3.0X"),
            vec![Tok::Word("lev".into()), Tok::Lev(3.0)]
        );
        assert_eq!(toks("x20"), vec![Tok::Lev(20.0)]);
        assert_eq!(
            toks("(5-10x)"),
            vec![
                Tok::Punct('('),
                Tok::Num(5.0),
                Tok::Punct('-'),
                Tok::Lev(10.0),
                Tok::Punct(')')
            ]
        );
        assert_eq!(toks("47.1%"), vec![Tok::Pct(47.1)]);
        assert_eq!(toks("1) 27400"), vec![Tok::Index(1), Tok::Num(27400.0)]);
        assert_eq!(toks("2. 27400"), vec![Tok::Index(2), Tok::Num(27400.0)]);
        assert_eq!(
            toks("1\u{fe0f}\u{20e3} 5"),
            vec![Tok::Index(1), Tok::Num(5.0)]
        );
    }

    #[test]
    fn long_and_non_ascii_words_are_cased_too() {
        assert_eq!(
            toks("Supercalifragilisticexpialidocious #ÉtéUSDT"),
            vec![
                Tok::Word("supercalifragilisticexpialidocious".into()),
                Tok::Tag("ÉTÉUSDT".into())
            ]
        );
    }

    proptest::proptest! {
        /// The ASCII fast path cases words exactly as the character-by-character path.
        #[test]
        fn fast_casing_matches_the_general_path(word in "[a-zA-Z0-9_éÉßДд]{0,40}", upper: bool) {
            let chars: Vec<char> = word.chars().collect();
            proptest::prop_assert_eq!(cased(&chars, upper), cased_any(&chars, upper));
        }
    }

    #[test]
    fn pairs_and_tags() {
        assert_eq!(
            toks("$BTC/USDT"),
            vec![
                Tok::Tag("BTC".into()),
                Tok::Punct('/'),
                Tok::Word("usdt".into())
            ]
        );
        assert_eq!(toks("#BTCUSDT.P"), vec![Tok::Tag("BTCUSDT".into())]);
        assert_eq!(toks("BTCUSDT.P"), vec![Tok::Word("btcusdt".into())]);
        assert_eq!(
            toks("1000BONK/USDT"),
            vec![
                Tok::Word("1000bonk".into()),
                Tok::Punct('/'),
                Tok::Word("usdt".into())
            ]
        );
    }
}
