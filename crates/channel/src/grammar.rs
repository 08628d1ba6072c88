//! Call grammars: keyword tables plus small field parsers over [`crate::tokens`].
//!
//! A message is read token by token. A *label* (a keyword phrase such as `Stop Loss`, `Take-Profit
//! Targets`, `Short Term`, `Entry Zone`, `Leverage`) sets the field the following numbers belong to,
//! until the next label or a blank line. Numbers without a field are ignored. The pair, direction,
//! leverage and margin mode are also recognised anywhere in the text. The keyword tables are data
//! ([`Grammar`]); a `--grammar` TOML file adds to them (see [`GrammarFile`]).

use crate::tokens::{Mark, Tok};
use serde::Deserialize;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: the vocabulary lookups hash short words, where SipHash's set-up dominates.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type WordMap = HashMap<String, u32, BuildHasherDefault<Fnv>>;

/// The field a label introduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `Coin:`, `Pair:`.
    Pair,
    /// `Direction:`, `Signal Type:`.
    Direction,
    /// `Entry`, `Entry Zone`, `Entry Targets`, `Buy Zone`.
    Entry,
    /// `OTE`: an optimal entry beside a zone.
    Ote,
    /// `Targets`, `TP`, `Take-Profit Targets`, `Short Term`, `Mid Term`.
    Targets,
    /// `Stop Loss`, `SL`, `Stop Targets`, `Invalidation`.
    Stop,
    /// `Leverage`, `Lev`.
    Leverage,
    /// `Mode`, `Margin`.
    Mode,
    /// Labels whose numbers are not part of a call (`Period`, `Risk`, `Volume`).
    Ignore,
}

/// Keyword tables of the built-in grammar (English plus common Russian, Spanish, German, Turkish and
/// Chinese words).
const LABELS: &[(Field, &[&str])] = &[
    (
        Field::Pair,
        &[
            "coin",
            "pair",
            "symbol",
            "asset",
            "монета",
            "пара",
            "moneda",
            "par",
        ],
    ),
    (
        Field::Direction,
        &[
            "direction",
            "side",
            "position",
            "signal type",
            "trade type",
            "type",
            "направление",
            "dirección",
            "richtung",
            "yön",
            "方向",
        ],
    ),
    (
        Field::Entry,
        &[
            "entry",
            "entries",
            "entry zone",
            "entry price",
            "entry prices",
            "entry targets",
            "entry point",
            "entry points",
            "entry range",
            "enter",
            "enter at",
            "entry at",
            "buy zone",
            "buy range",
            "buying zone",
            "buy between",
            "open",
            "open price",
            "вход",
            "точка входа",
            "зона входа",
            "entrada",
            "zona de entrada",
            "einstieg",
            "giriş",
            "入场",
            "进场",
        ],
    ),
    (
        Field::Ote,
        &["ote", "optimal entry", "best entry", "optimal"],
    ),
    (
        Field::Targets,
        &[
            "target",
            "targets",
            "tp",
            "tps",
            "take profit",
            "take profits",
            "take profit targets",
            "profit targets",
            "targets tp",
            "short term",
            "mid term",
            "medium term",
            "long term",
            "цели",
            "цель",
            "тейк",
            "тейки",
            "objetivo",
            "objetivos",
            "ziel",
            "ziele",
            "hedef",
            "hedefler",
            "目标",
            "止盈",
        ],
    ),
    (
        Field::Stop,
        &[
            "stop",
            "stop loss",
            "stoploss",
            "sl",
            "stop targets",
            "stop target",
            "stop price",
            "invalidation",
            "стоп",
            "стоп лосс",
            "стоплосс",
            "stop de pérdida",
            "zarar durdur",
            "止损",
        ],
    ),
    (
        Field::Leverage,
        &[
            "leverage",
            "lev",
            "плечо",
            "apalancamiento",
            "hebel",
            "kaldıraç",
            "杠杆",
        ],
    ),
    (
        Field::Mode,
        &["mode", "margin", "margin mode", "margin type", "маржа"],
    ),
    (
        Field::Ignore,
        &[
            "exchange",
            "exchanges",
            "period",
            "profit",
            "risk",
            "volume",
            "timeframe",
            "tf",
            "rr",
            "risk reward",
            "r r",
            "amount",
            "capital",
            "duration",
            "time",
            "date",
            "potential",
            "roi",
            "pnl",
            "gain",
            "биржа",
        ],
    ),
];

const LONG_WORDS: &[&str] = &[
    "long",
    "buy",
    "bullish",
    "лонг",
    "покупка",
    "compra",
    "largo",
    "kaufen",
    "alış",
    "多",
    "做多",
];
const SHORT_WORDS: &[&str] = &[
    "short",
    "sell",
    "bearish",
    "шорт",
    "продажа",
    "venta",
    "corto",
    "verkaufen",
    "satış",
    "空",
    "做空",
];
const MARKET_WORDS: &[&str] = &[
    "market",
    "cmp",
    "now",
    "current",
    "рынок",
    "рынку",
    "mercado",
    "市价",
];
const CROSS_WORDS: &[&str] = &["cross", "crossed", "кросс", "cruzado"];
const ISOLATED_WORDS: &[&str] = &[
    "isolated",
    "isolate",
    "iso",
    "изолированная",
    "изолир",
    "aislado",
];
const QUOTES: &[&str] = &["USDT", "USDC", "BUSD", "FDUSD", "USD"];

/// Lifecycle vocabulary.
const HIT_WORDS: &[&str] = &[
    "reached",
    "hit",
    "achieved",
    "done",
    "completed",
    "smashed",
    "booked",
    "touched",
    "filled",
    "secured",
    "достигнута",
    "достигнут",
    "взята",
    "взят",
    "alcanzado",
    "erreicht",
];
const BREAKEVEN_WORDS: &[&str] = &["breakeven", "be", "bep", "безубыток", "бу"];
const MOVE_WORDS: &[&str] = &[
    "move",
    "moved",
    "moving",
    "set",
    "shift",
    "trail",
    "adjust",
    "raise",
    "lower",
    "update",
    "переносим",
    "перенести",
    "двигаем",
    "mover",
];
const CLOSE_WORDS: &[&str] = &[
    "close",
    "closed",
    "closing",
    "exit",
    "exited",
    "закрыть",
    "закрываем",
    "закрыта",
    "cerrar",
    "schließen",
];
const CLOSE_CONTEXT: &[&str] = &[
    "now",
    "all",
    "position",
    "positions",
    "trade",
    "it",
    "manually",
    "here",
    "market",
    "half",
    "partial",
    "partially",
    "in",
    "early",
    "rest",
    "remaining",
    "your",
    "this",
];
const PARTIAL_WORDS: &[&str] = &["half", "partial", "partially", "some", "part", "половину"];
const CANCEL_WORDS: &[&str] = &[
    "cancel",
    "cancelled",
    "canceled",
    "cancelling",
    "invalidated",
    "отмена",
    "отменяем",
    "cancelado",
    "storniert",
];
const NOT_REACHED: &[&str] = &["not", "didn't", "didnt", "never", "без", "no"];
const PROFIT_WORDS: &[&str] = &[
    "profit",
    "profits",
    "gain",
    "gains",
    "roi",
    "pnl",
    "прибыль",
    "ganancia",
];
const STOPPED_WORDS: &[&str] = &["stopped", "liquidated"];

/// A `--grammar` file: keywords and phrases per field, added to (or replacing) the built-in ones.
///
/// ```toml
/// replace = false            # true: use only the words below
/// [labels]
/// entry = ["einstiegszone", "kauf bei"]
/// targets = ["kursziele"]
/// stop = ["absicherung"]
/// [words]
/// long = ["hoch"]
/// quotes = ["EUR"]
/// [lifecycle]
/// hit = ["geschafft"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrammarFile {
    /// Use only the file's words, not the built-in ones.
    #[serde(default)]
    pub replace: bool,
    /// Label phrases per field.
    #[serde(default)]
    pub labels: LabelWords,
    /// Direction, entry and margin words.
    #[serde(default)]
    pub words: WordLists,
    /// Lifecycle words.
    #[serde(default)]
    pub lifecycle: LifecycleWords,
}

/// Label phrases per field in a [`GrammarFile`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LabelWords {
    #[serde(default)]
    pub pair: Vec<String>,
    #[serde(default)]
    pub direction: Vec<String>,
    #[serde(default)]
    pub entry: Vec<String>,
    #[serde(default)]
    pub ote: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default)]
    pub leverage: Vec<String>,
    #[serde(default)]
    pub mode: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
}

/// Word lists in a [`GrammarFile`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct WordLists {
    #[serde(default)]
    pub long: Vec<String>,
    #[serde(default)]
    pub short: Vec<String>,
    #[serde(default)]
    pub market: Vec<String>,
    #[serde(default)]
    pub cross: Vec<String>,
    #[serde(default)]
    pub isolated: Vec<String>,
    #[serde(default)]
    pub quotes: Vec<String>,
}

/// Lifecycle words in a [`GrammarFile`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LifecycleWords {
    #[serde(default)]
    pub hit: Vec<String>,
    #[serde(default)]
    pub breakeven: Vec<String>,
    #[serde(default)]
    pub close: Vec<String>,
    #[serde(default)]
    pub cancel: Vec<String>,
    #[serde(default)]
    pub profit: Vec<String>,
}

/// The keyword tables one import uses.
#[derive(Debug, Clone)]
pub struct Grammar {
    /// (phrase as words, field), longest phrases first.
    labels: Vec<(Vec<String>, Field)>,
    /// Indices into `labels` by the phrase's first word (looked up for every word of every
    /// message: a hash map, not a tree).
    by_first: HashMap<String, Vec<usize>, BuildHasherDefault<Fnv>>,
    /// Word -> the classes ([`wc`]) it belongs to: one lookup per word.
    words: WordMap,
    quotes: Vec<String>,
}

/// Word classes of the grammar's vocabulary (bit flags).
mod wc {
    pub const LONG: u32 = 1;
    pub const SHORT: u32 = 1 << 1;
    pub const MARKET: u32 = 1 << 2;
    pub const CROSS: u32 = 1 << 3;
    pub const ISOLATED: u32 = 1 << 4;
    pub const HIT: u32 = 1 << 5;
    pub const BREAKEVEN: u32 = 1 << 6;
    pub const CLOSE: u32 = 1 << 7;
    pub const CANCEL: u32 = 1 << 8;
    pub const PROFIT: u32 = 1 << 9;
    pub const MOVE: u32 = 1 << 10;
    pub const CLOSE_CTX: u32 = 1 << 11;
    pub const PARTIAL: u32 = 1 << 12;
    pub const NOT: u32 = 1 << 13;
    pub const STOPPED: u32 = 1 << 14;
}

/// Splits a phrase into the words the tokenizer would produce.
fn phrase_words(phrase: &str) -> Vec<String> {
    crate::tokens::tokenize_line(phrase)
        .into_iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w.into_string()),
            _ => None,
        })
        .collect()
}

impl Default for Grammar {
    fn default() -> Self {
        Grammar::builtin()
    }
}

impl Grammar {
    /// The built-in grammar.
    pub fn builtin() -> Grammar {
        let mut labels = Vec::new();
        for (field, phrases) in LABELS {
            for p in *phrases {
                labels.push((phrase_words(p), *field));
            }
        }
        let mut g = Grammar {
            labels,
            by_first: HashMap::default(),
            words: WordMap::default(),
            quotes: QUOTES.iter().map(|q| q.to_string()).collect(),
        };
        for (list, class) in [
            (LONG_WORDS, wc::LONG),
            (SHORT_WORDS, wc::SHORT),
            (MARKET_WORDS, wc::MARKET),
            (CROSS_WORDS, wc::CROSS),
            (ISOLATED_WORDS, wc::ISOLATED),
            (HIT_WORDS, wc::HIT),
            (BREAKEVEN_WORDS, wc::BREAKEVEN),
            (CLOSE_WORDS, wc::CLOSE),
            (CANCEL_WORDS, wc::CANCEL),
            (PROFIT_WORDS, wc::PROFIT),
            (MOVE_WORDS, wc::MOVE),
            (CLOSE_CONTEXT, wc::CLOSE_CTX),
            (PARTIAL_WORDS, wc::PARTIAL),
            (NOT_REACHED, wc::NOT),
            (STOPPED_WORDS, wc::STOPPED),
        ] {
            g.add_words(list.iter().copied(), class);
        }
        g.sort();
        g
    }

    /// The built-in grammar extended (or replaced) by a grammar file's words.
    pub fn with_file(file: &GrammarFile) -> Grammar {
        let mut g = if file.replace {
            Grammar {
                labels: Vec::new(),
                by_first: HashMap::default(),
                words: WordMap::default(),
                quotes: Vec::new(),
            }
        } else {
            Grammar::builtin()
        };
        let l = &file.labels;
        for (field, phrases) in [
            (Field::Pair, &l.pair),
            (Field::Direction, &l.direction),
            (Field::Entry, &l.entry),
            (Field::Ote, &l.ote),
            (Field::Targets, &l.targets),
            (Field::Stop, &l.stop),
            (Field::Leverage, &l.leverage),
            (Field::Mode, &l.mode),
            (Field::Ignore, &l.ignore),
        ] {
            for p in phrases {
                let words = phrase_words(p);
                if !words.is_empty() {
                    g.labels.push((words, field));
                }
            }
        }
        let w = &file.words;
        let lc = &file.lifecycle;
        for (list, class) in [
            (&w.long, wc::LONG),
            (&w.short, wc::SHORT),
            (&w.market, wc::MARKET),
            (&w.cross, wc::CROSS),
            (&w.isolated, wc::ISOLATED),
            (&lc.hit, wc::HIT),
            (&lc.breakeven, wc::BREAKEVEN),
            (&lc.close, wc::CLOSE),
            (&lc.cancel, wc::CANCEL),
            (&lc.profit, wc::PROFIT),
        ] {
            g.add_words(list.iter().map(String::as_str), class);
        }
        g.quotes.extend(
            w.quotes
                .iter()
                .map(|q| q.trim().to_uppercase())
                .filter(|q| !q.is_empty()),
        );
        g.sort();
        g
    }

    fn sort(&mut self) {
        // longest phrase first, so `stop targets` wins over `stop` and `short term` over `short`
        self.labels.sort_by_key(|l| std::cmp::Reverse(l.0.len()));
        self.by_first.clear();
        for (i, (words, _)) in self.labels.iter().enumerate() {
            if let Some(first) = words.first() {
                self.by_first.entry(first.clone()).or_default().push(i);
            }
        }
        // longest quote first, so `BTCUSDT` is BTC+USDT, not BTCUS+DT
        self.quotes.sort_by_key(|q| std::cmp::Reverse(q.len()));
    }

    fn add_words<'w>(&mut self, words: impl Iterator<Item = &'w str>, class: u32) {
        for w in words {
            let w = w.trim().to_lowercase();
            if !w.is_empty() {
                *self.words.entry(w).or_default() |= class;
            }
        }
    }

    /// Whether `w` belongs to any of the word classes in `class`.
    fn has(&self, w: &str, class: u32) -> bool {
        self.classes(w) & class != 0
    }

    /// Every word class `w` belongs to (0 for none): one lookup where several classes are asked.
    fn classes(&self, w: &str) -> u32 {
        self.words.get(w).copied().unwrap_or(0)
    }

    /// [`Grammar::classes`] of `w` lowercased (a tag); short ASCII tags are lowercased on the
    /// stack.
    fn classes_lowercase(&self, w: &str) -> u32 {
        let mut buf = [0u8; 32];
        if w.len() <= buf.len() && w.is_ascii() {
            let buf = &mut buf[..w.len()];
            buf.copy_from_slice(w.as_bytes());
            buf.make_ascii_lowercase();
            if let Ok(lower) = std::str::from_utf8(buf) {
                return self.classes(lower);
            }
        }
        self.classes(&w.to_lowercase())
    }

    /// The label starting at `toks[i]`: its field, how many tokens it spans, and an index glued to
    /// its last word (`tp1` gives 1).
    fn label_at<T: Borrow<Tok>>(
        &self,
        toks: &[T],
        i: usize,
    ) -> Option<(Field, usize, Option<u32>)> {
        let tok = |j: usize| toks.get(j).map(Borrow::borrow);
        let Some(Tok::Word(first)) = tok(i) else {
            return None;
        };
        // candidates: phrases starting with this word, or with its stem (`tp1` -> `tp`)
        let stem = first.trim_end_matches(|c: char| c.is_ascii_digit());
        let a = self
            .by_first
            .get(first.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let b = if stem.len() < first.len() {
            self.by_first
                .get(stem)
                .map(Vec::as_slice)
                .unwrap_or_default()
        } else {
            &[]
        };
        let mut best: Option<(Field, usize, Option<u32>)> = None;
        'phrases: for (words, field) in a.iter().chain(b).map(|&k| &self.labels[k]) {
            let mut j = i;
            let mut glued = None;
            for (k, want) in words.iter().enumerate() {
                // skip hyphens between words (`Take-Profit`, `Stop-Loss`)
                if k > 0 {
                    while matches!(tok(j), Some(Tok::Punct('-' | '/'))) {
                        j += 1;
                    }
                }
                let Some(Tok::Word(w)) = tok(j) else {
                    continue 'phrases;
                };
                if w != want {
                    // `tp1`, `target2`: the last word with an index glued on
                    let stem = w.trim_end_matches(|c: char| c.is_ascii_digit());
                    let last = k + 1 == words.len();
                    if !(last && stem.len() < w.len() && stem == want) {
                        continue 'phrases;
                    }
                    glued = w[stem.len()..].parse().ok();
                }
                j += 1;
            }
            let span = j - i;
            if best.is_none_or(|(_, n, _)| span > n) {
                best = Some((*field, span, glued));
            }
        }
        best
    }
}

/// How the entry was called.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// At market (`market`, `CMP`, `now`), or no entry written.
    Market,
    /// One price.
    Single(f64),
    /// A zone `a - b`.
    Zone(f64, f64),
    /// Several levels with optional weights (`1) a 2) b`, `a - b - c`).
    Ladder(Vec<(f64, Option<f64>)>),
}

/// What the field parsers found in one message (every part optional).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Normalised symbol such as `BTCUSDT`.
    pub symbol: Option<String>,
    /// Written direction (`Some(true)` long, `Some(false)` short).
    pub long: Option<bool>,
    /// Direction read from an emoji only (📈/📉), weaker than a word.
    pub emoji_long: Option<bool>,
    /// Entry prices in the order given; `market` when a market word was in the entry field.
    pub entries: Vec<(f64, Option<f64>)>,
    /// Entry levels were numbered (`1) a 2) b`): a ladder even with two levels.
    pub entries_numbered: bool,
    /// A market word in the entry field.
    pub market: bool,
    /// An entry label was seen.
    pub entry_label: bool,
    /// Optimal entry beside a zone.
    pub ote: Option<f64>,
    /// Targets in order.
    pub targets: Vec<f64>,
    /// First stop price.
    pub stop: Option<f64>,
    /// A stop label was seen.
    pub stop_label: bool,
    /// A target label was seen.
    pub target_label: bool,
    /// Percentages given where prices were expected (targets or stop as `%`).
    pub pct_prices: bool,
    /// Leverage `(low, high)`; equal for a single value.
    pub leverage: Option<(f64, f64)>,
    /// Margin mode: `Some(true)` cross, `Some(false)` isolated.
    pub cross: Option<bool>,
    /// Numbers that sit in no field.
    pub loose_numbers: usize,
}

impl Parsed {
    /// The entry as called.
    pub fn entry(&self) -> Entry {
        if self.market || self.entries.is_empty() {
            return Entry::Market;
        }
        match self.entries.as_slice() {
            [(p, _)] => Entry::Single(*p),
            [(a, None), (b, None)] if !self.entries_numbered => Entry::Zone(a.min(*b), a.max(*b)),
            levels => Entry::Ladder(levels.to_vec()),
        }
    }
}

fn int_value(t: Option<&Tok>) -> Option<u32> {
    match t {
        Some(Tok::Num(v)) if v.fract() == 0.0 && *v >= 0.0 && *v <= 30.0 => Some(*v as u32),
        Some(Tok::Index(n)) => Some(*n),
        _ => None,
    }
}

impl Grammar {
    /// Runs the field parsers over a message's token lines.
    pub fn parse(&self, lines: &[Vec<Tok>]) -> Parsed {
        let mut p = Parsed {
            symbol: self.find_symbol(lines),
            ..Parsed::default()
        };
        let mut field: Option<Field> = None;
        for toks in lines {
            if toks.is_empty() {
                field = None;
                continue;
            }
            let mut i = 0;
            while i < toks.len() {
                if let Some((f, span, glued)) = self.label_at(toks, i) {
                    field = Some(f);
                    match f {
                        Field::Entry => p.entry_label = true,
                        Field::Stop => p.stop_label = true,
                        Field::Targets => p.target_label = true,
                        _ => {}
                    }
                    i += span;
                    // `Target 1: x`, `Entry 2) x`: an index right after the label
                    if glued.is_none()
                        && int_value(toks.get(i)).is_some()
                        && matches!(toks.get(i + 1), Some(Tok::Punct(':' | ')' | '-')))
                        && matches!(f, Field::Targets | Field::Entry | Field::Stop)
                        && toks.get(i + 2).is_some()
                    {
                        if f == Field::Entry {
                            p.entries_numbered = true;
                        }
                        i += 1;
                    }
                    continue;
                }
                let tok = &toks[i];
                i += 1;
                match tok {
                    Tok::Word(w) => {
                        // `Buy: 0.1 - 0.2`, `LONG 27400`: a direction word before prices is an
                        // entry label; after a long entry `Sell:` gives targets (spot style)
                        let before = p.long;
                        let classes = self.classes(w);
                        Grammar::word(classes, field, &mut p);
                        let dir = classes & (wc::LONG | wc::SHORT) != 0;
                        if dir && matches!(toks.get(i), Some(Tok::Punct(':') | Tok::Num(_))) {
                            let this_long = classes & wc::LONG != 0;
                            field = Some(
                                if before.is_some_and(|b| b != this_long) && !p.entries.is_empty() {
                                    Field::Targets
                                } else {
                                    p.entry_label = true;
                                    Field::Entry
                                },
                            );
                        }
                    }
                    Tok::Tag(t) => {
                        let classes = self.classes_lowercase(t);
                        if classes & wc::LONG != 0 {
                            p.long.get_or_insert(true);
                        } else if classes & wc::SHORT != 0 {
                            p.long.get_or_insert(false);
                        }
                    }
                    Tok::Num(v) => {
                        // `5-10x`: a leverage range
                        if let (Some(Tok::Punct('-')), Some(Tok::Lev(hi))) =
                            (toks.get(i), toks.get(i + 1))
                        {
                            if *v >= 1.0 && v <= hi {
                                p.leverage.get_or_insert((*v, *hi));
                            }
                            i += 2;
                            continue;
                        }
                        self.number(*v, field, &mut p);
                    }
                    Tok::Index(_) => {
                        if field == Some(Field::Entry) {
                            p.entries_numbered = true;
                        }
                    }
                    Tok::Lev(v) => {
                        if *v >= 1.0 {
                            p.leverage.get_or_insert((*v, *v));
                        }
                    }
                    Tok::Pct(v) => match field {
                        Some(Field::Entry) => {
                            if let Some(last) = p.entries.last_mut()
                                && last.1.is_none()
                                && *v > 0.0
                            {
                                last.1 = Some(*v);
                            }
                        }
                        Some(Field::Targets | Field::Stop) => p.pct_prices = true,
                        _ => {}
                    },
                    Tok::Emoji(Mark::Up) => {
                        p.emoji_long.get_or_insert(true);
                    }
                    Tok::Emoji(Mark::Down) => {
                        p.emoji_long.get_or_insert(false);
                    }
                    Tok::Emoji(_) | Tok::Punct(_) => {}
                }
            }
        }
        p
    }

    /// What a word of the word classes `classes` says (direction, market, margin mode).
    fn word(classes: u32, field: Option<Field>, p: &mut Parsed) {
        let is = |class: u32| classes & class != 0;
        if is(wc::LONG) {
            p.long.get_or_insert(true);
        } else if is(wc::SHORT) {
            p.long.get_or_insert(false);
        } else if field == Some(Field::Entry) && is(wc::MARKET) {
            p.market = true;
        } else if is(wc::CROSS) {
            p.cross.get_or_insert(true);
        } else if is(wc::ISOLATED) {
            p.cross.get_or_insert(false);
        }
    }

    fn number(&self, v: f64, field: Option<Field>, p: &mut Parsed) {
        if !(v.is_finite() && v > 0.0) {
            return;
        }
        match field {
            Some(Field::Entry) => p.entries.push((v, None)),
            Some(Field::Ote) => {
                p.ote.get_or_insert(v);
            }
            Some(Field::Targets) => p.targets.push(v),
            Some(Field::Stop) => {
                p.stop.get_or_insert(v);
            }
            Some(Field::Leverage | Field::Mode) => {
                if v >= 1.0 {
                    p.leverage.get_or_insert((v, v));
                }
            }
            _ => p.loose_numbers += 1,
        }
    }

    /// The pair the message names: `BASE/QUOTE`, a word or tag ending in a quote (`BTCUSDT`,
    /// `#BTCUSDT.P`), a word after a `Coin:` label, else a bare `#TAG` / `$TAG` (USDT assumed).
    pub fn find_symbol(&self, lines: &[Vec<Tok>]) -> Option<String> {
        let mut labelled = None;
        let mut bare_tag = None;
        for toks in lines {
            for i in 0..toks.len() {
                let (raw, is_tag) = match &toks[i] {
                    Tok::Word(w) => (w.as_str(), false),
                    Tok::Tag(t) => (t.as_str(), true),
                    _ => continue,
                };
                // cheap rejections first: most words are not a base asset
                let slash = matches!(toks.get(i + 1), Some(Tok::Punct('/')));
                let glued_quote = self.quotes.iter().any(|q| {
                    raw.len() > q.len()
                        && raw.is_char_boundary(raw.len() - q.len())
                        && raw[raw.len() - q.len()..].eq_ignore_ascii_case(q)
                });
                let maybe_label = labelled.is_none()
                    && i > 0
                    && matches!(
                        toks[i - 1],
                        Tok::Punct(':' | '-') | Tok::Emoji(_) | Tok::Word(_)
                    );
                if !(slash || glued_quote || is_tag || maybe_label)
                    || raw.len() > 20
                    || !raw.is_ascii()
                {
                    continue;
                }
                // A word with no `/` after it, no quote glued on and no `#`/`$` can only be a pair
                // after a pair label (`Coin: ETH`): most words stop here, before any copy.
                let after_label = maybe_label && self.pair_label_before(toks, i);
                if !(slash || glued_quote || is_tag || after_label) {
                    continue;
                }
                let base = raw.to_ascii_uppercase();
                // BASE/QUOTE
                if let (Some(Tok::Punct('/')), Some(Tok::Word(q))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    let q = q.as_str().to_uppercase();
                    if self.quotes.contains(&q) && self.plausible_base(&base) {
                        return Some(format!("{base}{q}"));
                    }
                }
                // BASEQUOTE
                if let Some(q) = self.quotes.iter().find(|q| base.ends_with(q.as_str())) {
                    let b = &base[..base.len() - q.len()];
                    if self.plausible_base(b) {
                        return Some(format!("{b}{}", if q == "USD" { "USDT" } else { q }));
                    }
                }
                if after_label && self.plausible_base(&base) {
                    labelled = Some(format!("{base}USDT"));
                }
                if bare_tag.is_none() && is_tag && self.plausible_base(&base) {
                    bare_tag = Some(format!("{base}USDT"));
                }
            }
        }
        labelled.or(bare_tag)
    }

    fn pair_label_before(&self, toks: &[Tok], i: usize) -> bool {
        let mut j = i;
        while j > 0 && matches!(toks[j - 1], Tok::Punct(':' | '-') | Tok::Emoji(_)) {
            j -= 1;
        }
        (0..j).rev().take(3).any(|s| {
            self.label_at(toks, s)
                .is_some_and(|(f, span, _)| f == Field::Pair && s + span == j)
        })
    }

    /// A base asset: 2-12 letters/digits with a letter, not a keyword of the grammar.
    fn plausible_base(&self, b: &str) -> bool {
        let n = b.chars().count();
        if !(2..=12).contains(&n)
            || !b.chars().all(|c| c.is_ascii_alphanumeric())
            || !b.chars().any(|c| c.is_ascii_alphabetic())
        {
            return false;
        }
        let lower = b.to_lowercase();
        !(self.has(&lower, wc::LONG)
            || self.has(&lower, wc::SHORT)
            || self.quotes.iter().any(|q| q == b)
            || self
                .by_first
                .get(&lower)
                .is_some_and(|v| v.iter().any(|&k| self.labels[k].0.len() == 1))
            || matches!(
                lower.as_str(),
                "signal"
                    | "signals"
                    | "binance"
                    | "bybit"
                    | "futures"
                    | "spot"
                    | "update"
                    | "vip"
                    | "free"
                    | "crypto"
                    | "result"
                    | "results"
                    | "news"
                    | "alert"
            ))
    }
}

/// A lifecycle form recognised in a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Lifecycle {
    /// Target `k` reached (`None` = "all targets").
    TargetHit(Option<u32>),
    /// The stop was hit / closed at stop / stopped out.
    StopHit,
    /// Stop moved to entry / breakeven.
    StopToEntry,
    /// Stop moved to a price.
    StopTo(f64),
    /// Stop moved to target `k`'s price.
    StopToTarget(u32),
    /// Close now (all).
    Close,
    /// Close part (half) of the position.
    ClosePartial,
    /// Cancelled / entry not reached.
    Cancel,
    /// All entries filled (or entry `k` filled).
    EntriesFilled,
}

/// What a message says about calls already made.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Said {
    /// Lifecycle forms, in the order found.
    pub forms: Vec<Lifecycle>,
    /// A claimed profit (or, negative, loss) in percent.
    pub pct: Option<f64>,
    /// A celebration emoji or profit word without a figure.
    pub celebrates: bool,
}

impl Grammar {
    /// Finds lifecycle forms and claimed results in a message.
    pub fn lifecycle(&self, lines: &[Vec<Tok>]) -> Said {
        let mut said = Said::default();
        let flat: Vec<&Tok> = lines.iter().flatten().collect();
        let word = |k: usize| -> Option<&str> {
            match flat.get(k) {
                Some(Tok::Word(w)) => Some(w.as_str()),
                _ => None,
            }
        };
        let is_hit = |k: usize| -> bool {
            matches!(flat.get(k), Some(Tok::Emoji(Mark::Check)))
                || word(k).is_some_and(|w| self.has(w, wc::HIT))
        };
        let near =
            |k: usize, n: usize, f: &dyn Fn(usize) -> bool| (k..(k + n).min(flat.len())).any(f);
        let mut k = 0;
        let mut has_profit_word = false;
        let mut minus_before_pct = false;
        while k < flat.len() {
            if let Some((field, span, glued)) = self.label_at(&flat, k) {
                let after = k + span;
                match field {
                    Field::Targets => {
                        // `Target 2 reached`, `TP1 ✅`, `all targets achieved`
                        let (idx, rest) = match glued {
                            Some(n) => (Some(n), after),
                            None => match int_value(flat.get(after).copied()) {
                                Some(n)
                                    if !matches!(
                                        flat.get(after + 1),
                                        Some(Tok::Punct(':')) | Some(Tok::Num(_))
                                    ) =>
                                {
                                    (Some(n), after + 1)
                                }
                                _ => (None, after),
                            },
                        };
                        let all = k > 0 && word(k - 1) == Some("all")
                            || (k > 1 && word(k - 2) == Some("all"));
                        if near(rest, 3, &is_hit) && (idx.is_some() || all) {
                            said.forms
                                .push(Lifecycle::TargetHit(if all { None } else { idx }));
                        }
                    }
                    Field::Stop => {
                        if near(after, 3, &is_hit)
                            || (k > 0 && word(k - 1).is_some_and(|w| self.has(w, wc::CLOSE)))
                            || (k > 1 && word(k - 2).is_some_and(|w| self.has(w, wc::CLOSE)))
                        {
                            said.forms.push(Lifecycle::StopHit);
                        } else if let Some(form) = self.stop_move(&flat, k, after) {
                            said.forms.push(form);
                        }
                    }
                    Field::Entry => {
                        let all = (k > 0 && word(k - 1) == Some("all"))
                            || (k > 1 && word(k - 2) == Some("all"));
                        let not = (after..(after + 4).min(flat.len()))
                            .any(|j| word(j).is_some_and(|w| self.has(w, wc::NOT)))
                            || (k.saturating_sub(3)..k)
                                .any(|j| word(j).is_some_and(|w| self.has(w, wc::NOT)));
                        if not {
                            said.forms.push(Lifecycle::Cancel);
                        } else if near(after, 4, &is_hit)
                            && (all || int_value(flat.get(after).copied()).is_some())
                        {
                            said.forms.push(Lifecycle::EntriesFilled);
                        }
                    }
                    Field::Ignore
                        if flat[k..after]
                            .iter()
                            .any(|t| matches!(t, Tok::Word(w) if self.has(w, wc::PROFIT))) =>
                    {
                        has_profit_word = true;
                    }
                    _ => {}
                }
                k = after;
                continue;
            }
            let classes = match flat[k] {
                Tok::Word(w) => self.classes(w),
                _ => 0,
            };
            match flat[k] {
                Tok::Word(_) if classes & wc::CANCEL != 0 => said.forms.push(Lifecycle::Cancel),
                Tok::Word(_) if classes & wc::STOPPED != 0 => said.forms.push(Lifecycle::StopHit),
                Tok::Word(_) if classes & wc::PROFIT != 0 => has_profit_word = true,
                Tok::Word(_) if classes & wc::CLOSE != 0 => {
                    let ctx = (k + 1..(k + 3).min(flat.len())).any(|j| {
                        word(j).is_some_and(|x| self.has(x, wc::CLOSE_CTX | wc::PARTIAL))
                            || matches!(flat.get(j), Some(Tok::Pct(_)))
                    });
                    let short_msg = flat.iter().filter(|t| matches!(t, Tok::Word(_))).count() <= 6;
                    if ctx || short_msg {
                        let partial = (k + 1..(k + 4).min(flat.len())).any(|j| {
                            word(j).is_some_and(|x| self.has(x, wc::PARTIAL))
                                || matches!(flat.get(j), Some(Tok::Pct(p)) if *p < 100.0)
                        });
                        said.forms.push(if partial {
                            Lifecycle::ClosePartial
                        } else {
                            Lifecycle::Close
                        });
                    }
                }
                Tok::Punct('-') if matches!(flat.get(k + 1), Some(Tok::Pct(_))) => {
                    minus_before_pct = true
                }
                Tok::Pct(v) if said.pct.is_none() => {
                    let profit_near = (k.saturating_sub(4)..(k + 4).min(flat.len()))
                        .any(|j| word(j).is_some_and(|w| self.has(w, wc::PROFIT)));
                    let lead = k > 0 && matches!(flat[k - 1], Tok::Punct('-'));
                    if profit_near
                        || said
                            .forms
                            .iter()
                            .any(|f| matches!(f, Lifecycle::TargetHit(_) | Lifecycle::StopHit))
                    {
                        said.pct = Some(if lead || minus_before_pct { -v } else { *v });
                    }
                }
                Tok::Emoji(Mark::Party) => said.celebrates = true,
                _ => {}
            }
            k += 1;
        }
        if said.pct.is_none() && has_profit_word {
            // `Profit: 47.1%` where the label consumed the word
            if let Some(v) = flat.iter().find_map(|t| match t {
                Tok::Pct(v) => Some(*v),
                _ => None,
            }) {
                said.pct = Some(if minus_before_pct { -v } else { v });
            }
        }
        said.celebrates |= has_profit_word;
        if said.forms.contains(&Lifecycle::StopHit) {
            said.forms
                .retain(|f| !matches!(f, Lifecycle::Close | Lifecycle::ClosePartial));
        }
        said
    }

    /// `move SL to entry`, `stop moved to breakeven`, `SL to 27,500`, `move stop to TP1`.
    fn stop_move(&self, flat: &[&Tok], k: usize, after: usize) -> Option<Lifecycle> {
        let word = |j: usize| -> Option<&str> {
            match flat.get(j) {
                Some(Tok::Word(w)) => Some(w.as_str()),
                _ => None,
            }
        };
        let moved = (k.saturating_sub(3)..(after + 2).min(flat.len()))
            .any(|j| word(j).is_some_and(|w| self.has(w, wc::MOVE)));
        let window = after..(after + 5).min(flat.len());
        let to_at = window
            .clone()
            .find(|&j| matches!(word(j), Some("to" | "at" | "на" | "a")));
        if !moved && to_at.is_none() {
            return None;
        }
        let from = to_at.map_or(after, |j| j + 1);
        for j in from..(from + 3).min(flat.len()) {
            match flat[j] {
                Tok::Word(w)
                    if self.has(w, wc::BREAKEVEN)
                        || w == "entry"
                        || w == "вход"
                        || w == "входа" =>
                {
                    return Some(Lifecycle::StopToEntry);
                }
                Tok::Word(w) if w == "break" && word(j + 1) == Some("even") => {
                    return Some(Lifecycle::StopToEntry);
                }
                Tok::Word(w) if w.starts_with("tp") || w.starts_with("target") => {
                    let n = w
                        .trim_start_matches(|c: char| c.is_alphabetic())
                        .parse()
                        .ok()
                        .or_else(|| int_value(flat.get(j + 1).copied()));
                    return n.map(Lifecycle::StopToTarget);
                }
                Tok::Num(v) if *v > 0.0 && to_at.is_some() => return Some(Lifecycle::StopTo(*v)),
                _ => {}
            }
        }
        None
    }
}

/// Parses a grammar file's text; errors name the key and position.
pub fn parse_grammar_file(text: &str) -> Result<GrammarFile, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}
