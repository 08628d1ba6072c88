//! Text helpers for error messages: the edit distance between two names and the nearest valid name
//! to a misspelt one (scenario keys and values, signal-file columns).

/// Levenshtein distance between `a` and `b`, counted in `char`s: the fewest insertions, deletions
/// and substitutions that turn one into the other.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `given` by [`edit_distance`] among those at most `max_distance(candidate)`
/// edits away (a typo, not a different word); ties go to the candidate that sorts first. `None`
/// when no candidate is close enough.
pub fn nearest<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max_distance: impl Fn(&str) -> usize,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(given, c), c))
        .filter(|(d, c)| *d <= max_distance(c))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("slipage_bps", "slippage_bps"), 1);
        assert_eq!(edit_distance("ρx", "px"), 1);
    }

    #[test]
    fn nearest_within_the_limit() {
        let keys = ["leverage", "max_leverage", "margin_fraction"];
        assert_eq!(nearest("leverag", keys, |_| 2), Some("leverage"));
        assert_eq!(nearest("zzzzzz", keys, |_| 2), None);
        // A tie goes to the candidate that sorts first.
        assert_eq!(nearest("ab", ["ac", "aa"], |_| 1), Some("aa"));
        // The limit is per candidate.
        assert_eq!(nearest("abcd", ["wxyz"], |c| c.len()), Some("wxyz"));
    }
}
