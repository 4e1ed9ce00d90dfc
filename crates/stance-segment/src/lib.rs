//! Sentence segmentation for security communiqués.
//!
//! This crate splits the plain text of joint statements, ministerial readouts
//! and (pasted) news reports into sentences, each carrying its paragraph
//! index and both byte and Unicode code-point offsets into the original text.
//!
//! What it does:
//!
//! * Every non-empty line is a paragraph of its own (lines end at `\n`,
//!   `\r\n`, a lone `\r`, `U+2028`, `U+2029`, and also `U+000B`, `U+000C`,
//!   `U+0085`). A sentence never crosses a line break, so headlines, bylines
//!   and menu items without final punctuation are units of their own, and
//!   every paragraph yields at least one sentence.
//! * Within a line it splits after `.`, `!`, `?`, `…` (plus any closing
//!   quotes or brackets) when whitespace follows, and after the CJK full stops
//!   `。！？` even without whitespace. It does not split before a lowercase
//!   word, after abbreviations and titles (`Gen.`, `Mr.`, `No.`, `e.g.` …),
//!   after initials (`John F. Kennedy`), inside numbers (`6.7%`, `$1.5`), and
//!   after dotted acronyms (`U.S.`, `A.S.E.A.N.`) unless a typical sentence
//!   starter (`The`, `It`, `However` …) follows.
//! * The number of a numbered item at the start of a line (`1.`, `2.1.`,
//!   `IV.`) is a sentence of its own, as in the annotated data; bullets
//!   (`•`, `△`, `-`, …), bracketed enumerators (`2)`, `(a)`) and single
//!   letters (`a.`) stay part of the sentence they open. Inline markers such
//!   as `△` in the middle of a line never split a sentence.
//! * Sentences are trimmed of surrounding whitespace (a byte-order mark and
//!   zero-width spaces count as whitespace) and never empty.
//!
//! What it does not do: segmentation never fails and knows nothing of models
//! or files. [`segment`] accepts any `&str` (arbitrary Unicode, NUL bytes,
//! megabyte-long lines), never panics and runs in time linear in the length
//! of the text. It performs no normalisation: offsets always point into the
//! text exactly as given.
//!
//! ```
//! let doc = "Joint Statement\nThe U.S. and Japan met. Gen. Smith spoke.";
//! let sentences = stance_segment::segment(doc);
//! let texts: Vec<&str> = sentences.iter().map(|s| s.text(doc)).collect();
//! assert_eq!(texts, ["Joint Statement", "The U.S. and Japan met.", "Gen. Smith spoke."]);
//! assert_eq!(sentences[2].paragraph, 1);
//! ```

use std::collections::VecDeque;

/// One sentence of a document, located by offsets into the document text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// 0-based paragraph (non-empty line) index in the document.
    pub paragraph: usize,
    /// 0-based sentence index in the document.
    pub index: usize,
    /// Byte offset of the first byte of the sentence.
    pub byte_start: usize,
    /// Byte offset one past the last byte of the sentence.
    pub byte_end: usize,
    /// Code-point offset of the first character (Python `text[char_start:char_end]`).
    pub char_start: usize,
    /// Code-point offset one past the last character.
    pub char_end: usize,
}

impl Sentence {
    /// The sentence text, `&doc[byte_start..byte_end]`.
    ///
    /// `doc` must be the text the sentence was segmented from; for any other
    /// string whose offsets do not fit, an empty string is returned.
    pub fn text<'a>(&self, doc: &'a str) -> &'a str {
        doc.get(self.byte_start..self.byte_end).unwrap_or("")
    }
}

/// Splits `text` into sentences, in document order.
///
/// Never panics; runs in linear time. See the crate documentation for the
/// rules.
pub fn segment(text: &str) -> Vec<Sentence> {
    let spans = Splitter::new(text).run();
    to_sentences(text, spans)
}

// ---------------------------------------------------------------------------
// Character classes
// ---------------------------------------------------------------------------

/// Whitespace for segmentation purposes: Unicode White_Space plus invisible
/// format characters that behave like spaces (BOM, zero-width space, word
/// joiner).
fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{feff}' | '\u{200b}' | '\u{2060}')
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// CJK sentence terminators: split after them even without whitespace.
fn is_cjk_term(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '｡')
}

/// Terminators that end a sentence regardless of abbreviations.
fn is_strong_term(c: char) -> bool {
    matches!(c, '!' | '?' | '‼' | '⁇' | '⁈' | '⁉')
}

fn is_term(c: char) -> bool {
    matches!(c, '.' | '…' | '．') || is_strong_term(c) || is_cjk_term(c)
}

/// Closing quotes and brackets kept with the sentence after a terminator.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '”'
            | '’'
            | ')'
            | ']'
            | '}'
            | '»'
            | '›'
            | '」'
            | '』'
            | '）'
            | '】'
            | '〕'
            | '〉'
            | '》'
            | '］'
    )
}

// ---------------------------------------------------------------------------
// Word lists
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abbrev {
    /// Precedes what it qualifies (titles, `No.`, `e.g.`): never ends a sentence.
    Never,
    /// May end a sentence (`Inc.`, `Jr.`, months): split only before a typical
    /// sentence starter.
    Ambiguous,
}

/// `(form, kind, capital_required)`: forms are lowercase without the final
/// dot; when `capital_required` the word must start with an uppercase letter
/// (because the lowercase form is an ordinary word: `no.`, `art.`).
const ABBREVIATIONS: &[(&str, Abbrev, bool)] = &[
    // titles and ranks
    ("mr", Abbrev::Never, false),
    ("mrs", Abbrev::Never, false),
    ("ms", Abbrev::Never, false),
    ("messrs", Abbrev::Never, false),
    ("dr", Abbrev::Never, false),
    ("prof", Abbrev::Never, false),
    ("gen", Abbrev::Never, true),
    ("lt", Abbrev::Never, false),
    ("col", Abbrev::Never, true),
    ("maj", Abbrev::Never, true),
    ("capt", Abbrev::Never, false),
    ("cmdr", Abbrev::Never, false),
    ("adm", Abbrev::Never, false),
    ("brig", Abbrev::Never, false),
    ("sgt", Abbrev::Never, false),
    ("sen", Abbrev::Never, true),
    ("rep", Abbrev::Never, true),
    ("gov", Abbrev::Never, true),
    ("pres", Abbrev::Never, true),
    ("amb", Abbrev::Never, true),
    ("hon", Abbrev::Never, true),
    ("rev", Abbrev::Never, true),
    ("h.e", Abbrev::Never, false),
    ("st", Abbrev::Never, true),
    ("mt", Abbrev::Never, true),
    // references and numbering
    ("no", Abbrev::Never, true),
    ("nos", Abbrev::Never, true),
    ("art", Abbrev::Never, true),
    ("arts", Abbrev::Never, true),
    ("para", Abbrev::Never, false),
    ("paras", Abbrev::Never, false),
    ("sec", Abbrev::Never, true),
    ("vol", Abbrev::Never, true),
    ("p", Abbrev::Never, false),
    ("pp", Abbrev::Never, false),
    ("fig", Abbrev::Never, true),
    ("figs", Abbrev::Never, true),
    // Latin and other connectives
    ("e.g", Abbrev::Never, false),
    ("i.e", Abbrev::Never, false),
    ("cf", Abbrev::Never, false),
    ("viz", Abbrev::Never, false),
    ("vs", Abbrev::Never, false),
    ("approx", Abbrev::Never, false),
    ("incl", Abbrev::Never, false),
    // may end a sentence
    ("jr", Abbrev::Ambiguous, false),
    ("sr", Abbrev::Ambiguous, false),
    ("co", Abbrev::Ambiguous, true),
    ("corp", Abbrev::Ambiguous, false),
    ("inc", Abbrev::Ambiguous, false),
    ("ltd", Abbrev::Ambiguous, false),
    ("dept", Abbrev::Ambiguous, false),
    ("gov't", Abbrev::Ambiguous, false),
    ("govt", Abbrev::Ambiguous, false),
    ("jan", Abbrev::Ambiguous, false),
    ("feb", Abbrev::Ambiguous, false),
    ("mar", Abbrev::Ambiguous, true),
    ("apr", Abbrev::Ambiguous, false),
    ("jun", Abbrev::Ambiguous, true),
    ("jul", Abbrev::Ambiguous, false),
    ("aug", Abbrev::Ambiguous, false),
    ("sep", Abbrev::Ambiguous, false),
    ("sept", Abbrev::Ambiguous, false),
    ("oct", Abbrev::Ambiguous, false),
    ("nov", Abbrev::Ambiguous, false),
    ("dec", Abbrev::Ambiguous, true),
];

/// Words that typically begin a new sentence; after an ambiguous
/// abbreviation, an initial or a dotted acronym (`U.S.`) a split happens only
/// before one of these.
const SENTENCE_STARTERS: &[&str] = &[
    "The",
    "This",
    "That",
    "These",
    "Those",
    "There",
    "It",
    "Its",
    "We",
    "Our",
    "They",
    "Their",
    "He",
    "His",
    "She",
    "Her",
    "I",
    "In",
    "On",
    "At",
    "A",
    "An",
    "As",
    "And",
    "But",
    "So",
    "Yet",
    "However",
    "Meanwhile",
    "Moreover",
    "Furthermore",
    "Additionally",
    "Also",
    "Both",
    "After",
    "Before",
    "During",
    "Since",
    "While",
    "When",
    "If",
    "Although",
    "Despite",
    "According",
    "For",
    "With",
    "Under",
    "Such",
    "Following",
    "Today",
    "Officials",
    "Nevertheless",
    "Separately",
];

fn abbrev_kind(word: &str) -> Option<Abbrev> {
    if word.is_empty() || word.len() > 8 {
        return None;
    }
    let normal: String = word
        .chars()
        .map(|c| if c == '’' { '\'' } else { c })
        .flat_map(char::to_lowercase)
        .collect();
    let capitalised = word.chars().next().is_some_and(char::is_uppercase);
    ABBREVIATIONS
        .iter()
        .find(|(form, _, cap)| *form == normal && (!cap || capitalised))
        .map(|(_, kind, _)| *kind)
}

/// A letter of a script with case (Latin, Greek, Cyrillic …). Initials and
/// acronyms only exist there; a single Hangul or Han character before a full
/// stop is an ordinary word.
fn is_cased_letter(c: char) -> bool {
    c.is_uppercase() || c.is_lowercase()
}

/// `U.S`, `A.S.E.A.N`, `Ph.D`, `a.m` (final dot already removed): at least
/// two dot-separated segments of one or two cased letters each.
fn is_acronym(word: &str) -> bool {
    if word.len() > 40 || !word.contains('.') {
        return false;
    }
    word.split('.').all(|seg| {
        let n = seg.chars().count();
        (1..=2).contains(&n) && seg.chars().all(is_cased_letter)
    })
}

/// A single cased letter: an initial (`F` of `John F. Kennedy`).
fn is_initial(word: &str) -> bool {
    let mut cs = word.chars();
    matches!((cs.next(), cs.next()), (Some(c), None) if is_cased_letter(c))
}

fn is_roman(body: &str) -> bool {
    !body.is_empty()
        && body.len() <= 5
        && (body.bytes().all(|b| matches!(b, b'i' | b'v' | b'x'))
            || body.bytes().all(|b| matches!(b, b'I' | b'V' | b'X')))
}

/// List enumerators: `1.`, `12)`, `2.1.`, `(a)`, `(iv)`, `a)`, `b.`, `iv.`,
/// `IV.`, `A)`. A single uppercase letter with a dot (`J.`) is an initial,
/// not an enumerator.
fn is_enumerator(tok: &str) -> bool {
    if tok.len() < 2 || tok.len() > 12 {
        return false;
    }
    if let Some(inner) = tok.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        return is_enum_body(inner, true);
    }
    if let Some(body) = tok.strip_suffix(')') {
        return is_enum_body(body, true);
    }
    if let Some(body) = tok.strip_suffix('.') {
        return is_enum_body(body, false);
    }
    false
}

fn is_enum_body(body: &str, paren: bool) -> bool {
    let n = body.len();
    if n == 0 {
        return false;
    }
    if is_section_number(body) {
        return true;
    }
    if n == 1 {
        let b = body.as_bytes()[0];
        return b.is_ascii_lowercase() || (paren && b.is_ascii_uppercase());
    }
    // multi-letter roman numerals; uppercase ones only when unambiguous
    is_roman(body)
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextKind {
    /// Starts with a terminator (`...`, `.`): part of a spaced ellipsis.
    Term,
    Lower,
    Digit,
    /// Uppercase or uncased letter (CJK, Hangul).
    Upper,
    /// No letter or digit near the start (`—`, `&`, emoji).
    Other,
}

/// Classifies the token that follows a candidate boundary by its first
/// letter or digit, skipping up to a few opening quotes, brackets or inline
/// markers (`“We`, `(The`, `△the`, `$1.5`).
fn classify(tok: &str) -> NextKind {
    if tok.chars().next().is_some_and(is_term) {
        return NextKind::Term;
    }
    // A slash opens an agency tag (`MOSCOW, March 27. /TASS/. The …`) or an
    // alternative (`/or`), never a sentence: read it as a continuation.
    if tok.starts_with('/') {
        return NextKind::Lower;
    }
    for c in tok.chars().take(8) {
        if c.is_alphanumeric() {
            return if c.is_lowercase() {
                NextKind::Lower
            } else if c.is_numeric() {
                NextKind::Digit
            } else {
                NextKind::Upper
            };
        }
    }
    NextKind::Other
}

/// Whether the token begins with a typical sentence starter (`The`,
/// `However,`, `“We`). An initial or acronym (`A.`, `A.S.E.A.N.`) does not
/// count even when its first letter is a starter.
fn starts_new_sentence(tok: &str) -> bool {
    let mut it = tok.char_indices().take(8);
    let Some(start) = it.find(|(_, c)| c.is_alphanumeric()).map(|(i, _)| i) else {
        return false;
    };
    let rest = &tok[start..];
    let mut end = rest.len();
    for (n, (i, c)) in rest.char_indices().enumerate() {
        if n > 16 {
            return false;
        }
        if !c.is_alphabetic() {
            end = i;
            break;
        }
    }
    let word = &rest[..end];
    !rest[end..].starts_with('.') && SENTENCE_STARTERS.contains(&word)
}

/// The word before a terminator, cleaned of leading punctuation and trailing
/// closers, and reduced to its last hyphen/slash component
/// (`Korea-U.S` → `U.S`).
fn last_word(body: &str) -> &str {
    let w = body
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .trim_end_matches(is_closer);
    w.rsplit(['-', '–', '—', '/']).next().unwrap_or("")
}

/// Decides whether a sentence ends after `part` (the current whitespace
/// delimited token, or its tail after a CJK split). `next`/`next2` are the
/// following tokens on the same line. `enum_slot` says that `part` sits where
/// an inline enumerator would (first token of a sentence or after a colon).
fn should_split(part: &str, next: Option<&str>, next2: Option<&str>, enum_slot: bool) -> bool {
    let core = part.trim_end_matches(is_closer);
    let body = core.trim_end_matches(is_term);
    let run = &core[body.len()..];
    if run.is_empty() {
        return false;
    }
    if run.chars().any(is_cjk_term) {
        return true;
    }
    let Some(next) = next else {
        return true;
    };
    let kind = classify(next);
    if kind == NextKind::Term {
        return false;
    }
    // "… first item. 2. The second item": an inline enumerator followed by a
    // capitalised word starts a new sentence even though a digit follows.
    let enum_next = is_enumerator(next) && next2.is_some_and(|t| classify(t) == NextKind::Upper);
    if kind == NextKind::Lower && !enum_next {
        return false;
    }
    if run.chars().any(is_strong_term) {
        return true;
    }
    if enum_slot && is_enumerator(part) {
        return false;
    }
    // A single capital opening a sentence is a section letter or an
    // initial (`I. In accordance with …`, `J. Smith said`), not a sentence.
    if enum_slot && run == "." && is_initial(body) {
        return false;
    }
    let dots = run.chars().filter(|&c| c == '.' || c == '．').count();
    if dots >= 2 || run.contains('…') {
        return kind != NextKind::Digit || enum_next;
    }
    // a single full stop
    if kind == NextKind::Digit && !enum_next {
        return false;
    }
    let word = last_word(body);
    match abbrev_kind(word) {
        Some(Abbrev::Never) => false,
        Some(Abbrev::Ambiguous) => enum_next || starts_new_sentence(next),
        None if is_acronym(word) || is_initial(word) => enum_next || starts_new_sentence(next),
        None => true,
    }
}

/// The number of a numbered list item at the start of a line (`1.`, `2.1.`,
/// `IV.`, `iv.`). The annotated data makes it a sentence of its own, as a
/// split at every full stop before a capital would. Bullets, bracketed
/// numbers (`1)`, `(a)`) and single letters (`a.`, or `I.`, which may be an
/// initial or the pronoun) stay part of the sentence they open.
fn is_numbered_item(tok: &str) -> bool {
    let Some(body) = tok.strip_suffix('.') else {
        return false;
    };
    (2..=12).contains(&tok.len())
        && (is_section_number(body) || (body.len() >= 2 && is_roman(body)))
}

/// `1`, `12`, `2.1`, `3.1.4`: groups of one to three digits joined by dots.
fn is_section_number(body: &str) -> bool {
    body.split('.')
        .all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

// ---------------------------------------------------------------------------
// Scanning
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    /// A line break occurred between the previous token and this one.
    line_break_before: bool,
}

/// Whitespace-delimited tokens with byte spans, produced in one pass.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl Iterator for Tokens<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        let rest = &self.text[self.pos..];
        let mut line_break_before = false;
        let mut start = None;
        for (i, c) in rest.char_indices() {
            if is_space(c) {
                line_break_before |= is_line_break(c);
            } else {
                start = Some(self.pos + i);
                break;
            }
        }
        let Some(start) = start else {
            self.pos = self.text.len();
            return None;
        };
        let end = self.text[start..]
            .char_indices()
            .find(|&(_, c)| is_space(c))
            .map_or(self.text.len(), |(i, _)| start + i);
        self.pos = end;
        Some(Tok {
            start,
            end,
            line_break_before,
        })
    }
}

/// A token stream with a bounded lookahead.
struct Lookahead<'a> {
    tokens: Tokens<'a>,
    buf: VecDeque<Tok>,
}

impl<'a> Lookahead<'a> {
    fn new(text: &'a str) -> Self {
        Lookahead {
            tokens: Tokens { text, pos: 0 },
            buf: VecDeque::with_capacity(3),
        }
    }

    fn next(&mut self) -> Option<Tok> {
        self.buf.pop_front().or_else(|| self.tokens.next())
    }

    fn peek(&mut self, k: usize) -> Option<Tok> {
        while self.buf.len() <= k {
            let t = self.tokens.next()?;
            self.buf.push_back(t);
        }
        self.buf.get(k).copied()
    }

    /// The `k`-th upcoming token if it is on the current line.
    fn peek_same_line(&mut self, k: usize) -> Option<Tok> {
        for i in 0..=k {
            if self.peek(i)?.line_break_before {
                return None;
            }
        }
        self.peek(k)
    }
}

/// `(paragraph, byte_start, byte_end)` of every sentence.
type Span = (usize, usize, usize);

struct Splitter<'a> {
    text: &'a str,
    out: Vec<Span>,
    paragraph: usize,
    /// Byte start of the open sentence.
    open: Option<usize>,
    /// Byte end of the last token of the open sentence.
    open_end: usize,
}

impl<'a> Splitter<'a> {
    fn new(text: &'a str) -> Self {
        Splitter {
            text,
            out: Vec::new(),
            paragraph: 0,
            open: None,
            open_end: 0,
        }
    }

    fn close(&mut self, end: usize) {
        if let Some(start) = self.open.take() {
            if start < end {
                self.out.push((self.paragraph, start, end));
            }
        }
    }

    fn run(mut self) -> Vec<Span> {
        let text = self.text;
        let mut toks = Lookahead::new(text);
        let mut first_line = true;
        // the previous token (or token tail) of the open sentence
        let mut prev: Option<(usize, usize)> = None;
        while let Some(tok) = toks.next() {
            if first_line || tok.line_break_before {
                self.close(self.open_end);
                if !first_line {
                    self.paragraph += 1;
                }
                first_line = false;
                prev = None;
                let more_on_line = toks.peek_same_line(0).is_some();
                if more_on_line && is_numbered_item(&text[tok.start..tok.end]) {
                    self.out.push((self.paragraph, tok.start, tok.end));
                    continue;
                }
            }
            if self.open.is_none() {
                self.open = Some(tok.start);
                prev = None;
            }
            // CJK full stops split inside a token.
            let mut part_start = tok.start;
            let mut chars = text[tok.start..tok.end].char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if !is_cjk_term(c) {
                    continue;
                }
                let mut j = i + c.len_utf8();
                while let Some(&(k, d)) = chars.peek() {
                    if is_term(d) || is_closer(d) {
                        j = k + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let at = tok.start + j;
                if at < tok.end {
                    self.close(at);
                    self.open = Some(at);
                    part_start = at;
                    prev = None;
                }
            }
            let part = &text[part_start..tok.end];
            let next = toks.peek_same_line(0).map(|t| &text[t.start..t.end]);
            let next2 = toks.peek_same_line(1).map(|t| &text[t.start..t.end]);
            let enum_slot = self.open == Some(part_start)
                || prev.is_some_and(|(a, b)| text[a..b].ends_with(':'));
            self.open_end = tok.end;
            if should_split(part, next, next2, enum_slot) {
                self.close(tok.end);
                prev = None;
            } else {
                prev = Some((part_start, tok.end));
            }
        }
        self.close(self.open_end);
        self.out
    }
}

/// Adds sentence indices and code-point offsets in one pass over the text.
fn to_sentences(text: &str, spans: Vec<Span>) -> Vec<Sentence> {
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut chars = 0usize;
    let mut advance = |to: usize| {
        // spans are sorted, so `to` never moves backwards
        let to = to.clamp(pos, bytes.len());
        chars += bytes[pos..to]
            .iter()
            .filter(|&&b| (b as i8) >= -0x40)
            .count();
        pos = to;
        chars
    };
    spans
        .into_iter()
        .enumerate()
        .map(|(index, (paragraph, byte_start, byte_end))| {
            let char_start = advance(byte_start);
            let char_end = advance(byte_end);
            Sentence {
                paragraph,
                index,
                byte_start,
                byte_end,
                char_start,
                char_end,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(doc: &str) -> Vec<&str> {
        segment(doc).iter().map(|s| s.text(doc)).collect()
    }

    fn paras(doc: &str) -> Vec<(usize, &str)> {
        segment(doc)
            .iter()
            .map(|s| (s.paragraph, s.text(doc)))
            .collect()
    }

    #[test]
    fn empty_and_blank_inputs() {
        assert!(segment("").is_empty());
        assert!(segment("   \n\r\n\t \u{feff} \u{2028}").is_empty());
        assert!(segment("\u{feff}").is_empty());
    }

    #[test]
    fn basic_split_and_trim() {
        assert_eq!(
            texts("  The ministers met.  They agreed!  Why?  "),
            ["The ministers met.", "They agreed!", "Why?"]
        );
    }

    #[test]
    fn bom_is_skipped() {
        let doc = "\u{feff}Joint Statement\r\nThe sides met.";
        let s = segment(doc);
        assert_eq!(s[0].text(doc), "Joint Statement");
        assert_eq!(s[0].byte_start, 3);
        assert_eq!(s[0].char_start, 1);
        assert_eq!(s[1].paragraph, 1);
    }

    #[test]
    fn line_breaks_of_all_kinds_are_paragraph_breaks() {
        let doc = "a\nb\r\nc\rd\u{2028}e\u{2029}f\n\n\ng";
        assert_eq!(
            paras(doc),
            [
                (0, "a"),
                (1, "b"),
                (2, "c"),
                (3, "d"),
                (4, "e"),
                (5, "f"),
                (6, "g")
            ]
        );
    }

    #[test]
    fn sentence_never_crosses_a_line() {
        assert_eq!(
            texts("The U.S.\nThe ministers met"),
            ["The U.S.", "The ministers met"]
        );
    }

    #[test]
    fn closing_quotes_stay_with_sentence() {
        assert_eq!(
            texts(
                "He said, “We condemn this.” The ministers agreed. (It was late.) Then 'ok.' Done"
            ),
            [
                "He said, “We condemn this.”",
                "The ministers agreed.",
                "(It was late.)",
                "Then 'ok.'",
                "Done"
            ]
        );
    }

    #[test]
    fn titles_and_abbreviations() {
        assert_eq!(
            texts("Gen. Smith met Lt. Col. Jones and Dr. Lee. Mr. Kim and H.E. Mr. Park spoke."),
            [
                "Gen. Smith met Lt. Col. Jones and Dr. Lee.",
                "Mr. Kim and H.E. Mr. Park spoke."
            ]
        );
        assert_eq!(
            texts("See Art. 5 and para. 3, e.g. Annex B, cf. Fig. 2 and pp. 4-5."),
            ["See Art. 5 and para. 3, e.g. Annex B, cf. Fig. 2 and pp. 4-5."]
        );
        assert_eq!(
            texts("Resolution No. 2397 applies. Nos. 1 and 2 too."),
            ["Resolution No. 2397 applies.", "Nos. 1 and 2 too."]
        );
    }

    #[test]
    fn lowercase_no_is_a_word() {
        assert_eq!(
            texts("They said no. The talks ended."),
            ["They said no.", "The talks ended."]
        );
    }

    #[test]
    fn ambiguous_abbreviations_split_only_before_starters() {
        assert_eq!(
            texts("He works at Acme Inc. The firm grew. Acme Inc. Board met."),
            [
                "He works at Acme Inc.",
                "The firm grew.",
                "Acme Inc. Board met."
            ]
        );
        assert_eq!(
            texts("They met on Jan. 5 in Seoul."),
            ["They met on Jan. 5 in Seoul."]
        );
    }

    #[test]
    fn etc_splits_unless_lowercase_follows() {
        assert_eq!(
            texts("Ships, aircraft, etc. are banned. Missiles, drones, etc. The ban holds."),
            [
                "Ships, aircraft, etc. are banned.",
                "Missiles, drones, etc.",
                "The ban holds."
            ]
        );
    }

    #[test]
    fn initials() {
        assert_eq!(
            texts("John F. Kennedy met J. R. Smith and J. A. Doe. They talked."),
            [
                "John F. Kennedy met J. R. Smith and J. A. Doe.",
                "They talked."
            ]
        );
        assert_eq!(
            texts("This is covered in Annex A. The parties agree."),
            ["This is covered in Annex A.", "The parties agree."]
        );
    }

    #[test]
    fn acronyms() {
        assert_eq!(
            texts("The U.S. and the Republic of Korea met. The U.S. Forces Korea attended."),
            [
                "The U.S. and the Republic of Korea met.",
                "The U.S. Forces Korea attended."
            ]
        );
        assert_eq!(
            texts("Talks were held in the U.S. The next round is in Seoul."),
            ["Talks were held in the U.S.", "The next round is in Seoul."]
        );
        assert_eq!(
            texts("Members of A.S.E.A.N. Foreign Ministers met. The U.N. However, objected."),
            [
                "Members of A.S.E.A.N. Foreign Ministers met.",
                "The U.N.",
                "However, objected."
            ]
        );
        assert_eq!(
            texts("the Korea-U.S. alliance and the U.S. A.S.E.A.N. summit"),
            ["the Korea-U.S. alliance and the U.S. A.S.E.A.N. summit"]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            texts("Growth was 6.7% and aid $1.5 billion. Version 1.2.3 shipped. Pi is 3.14."),
            [
                "Growth was 6.7% and aid $1.5 billion.",
                "Version 1.2.3 shipped.",
                "Pi is 3.14."
            ]
        );
        assert_eq!(
            texts("It was founded in 2008. The DTT resumed."),
            ["It was founded in 2008.", "The DTT resumed."]
        );
        assert_eq!(
            texts("The total was 5. 6 more came."),
            ["The total was 5. 6 more came."]
        );
    }

    #[test]
    fn lowercase_after_stop_does_not_split() {
        assert_eq!(
            texts("It was approx. five. and then... they left… quietly. End."),
            [
                "It was approx. five. and then... they left… quietly.",
                "End."
            ]
        );
        assert_eq!(
            texts("“Why?” he asked. Wait... What?! Yes."),
            ["“Why?” he asked.", "Wait...", "What?!", "Yes."]
        );
    }

    #[test]
    fn question_before_digit_splits() {
        assert_eq!(
            texts("Are You Ignoring the Signs? 75% of People Suffer"),
            ["Are You Ignoring the Signs?", "75% of People Suffer"]
        );
    }

    #[test]
    fn spaced_ellipsis_is_kept_together() {
        assert_eq!(
            texts("He paused . . . Then left."),
            ["He paused . . .", "Then left."]
        );
    }

    #[test]
    fn cjk_full_stops_need_no_space() {
        assert_eq!(
            texts("北朝鮮を非難した。日米韓は協力する！本当か？はい"),
            [
                "北朝鮮を非難した。",
                "日米韓は協力する！",
                "本当か？",
                "はい"
            ]
        );
        assert_eq!(
            texts("他说：“我们谴责。”然后离开。"),
            ["他说：“我们谴责。”", "然后离开。"]
        );
    }

    #[test]
    fn bullets_at_line_start_stay_in_their_sentence() {
        let doc = "• First item\n△North Korea’s tests\n- Second. Third\n* star\n※ Note\n○ circle";
        assert_eq!(
            paras(doc),
            [
                (0, "• First item"),
                (1, "△North Korea’s tests"),
                (2, "- Second."),
                (2, "Third"),
                (3, "* star"),
                (4, "※ Note"),
                (5, "○ circle")
            ]
        );
        let s = segment(doc);
        assert_eq!((s[0].byte_start, s[0].char_start), (0, 0));
    }

    #[test]
    fn lone_markers_and_dash_words_are_content() {
        assert_eq!(
            texts("•\n-5 degrees\n---\n1.\n*Note"),
            ["•", "-5 degrees", "---", "1.", "*Note"]
        );
    }

    #[test]
    fn item_numbers_at_line_start_are_sentences_and_other_enumerators_stay() {
        let doc = "1. The ministers met.\n2) They agreed.\n(a) First.\na) Second.\niv. Fourth.\nIV. Regional Issues\n(3) Third\nI. In accordance.\na. Uphold.";
        assert_eq!(
            paras(doc),
            [
                (0, "1."),
                (0, "The ministers met."),
                (1, "2) They agreed."),
                (2, "(a) First."),
                (3, "a) Second."),
                (4, "iv."),
                (4, "Fourth."),
                (5, "IV."),
                (5, "Regional Issues"),
                (6, "(3) Third"),
                (7, "I. In accordance."),
                (8, "a. Uphold.")
            ]
        );
        let s = segment(doc);
        assert_eq!((s[1].char_start, s[1].char_end), (3, 21));
    }

    #[test]
    fn agency_datelines_stay_whole() {
        assert_eq!(
            texts("MOSCOW, March 27. /TASS/. Russia sees no grounds for talks."),
            [
                "MOSCOW, March 27. /TASS/.",
                "Russia sees no grounds for talks."
            ]
        );
    }

    #[test]
    fn section_numbers() {
        assert_eq!(
            texts("1.1. Background\n2.3.1 Scope\nSee section 2.1. The rest follows."),
            [
                "1.1.",
                "Background",
                "2.3.1 Scope",
                "See section 2.1.",
                "The rest follows."
            ]
        );
    }

    #[test]
    fn uncased_single_characters_are_not_initials() {
        assert_eq!(
            texts("그는 간다. 나는 남는다. 北. 京"),
            ["그는 간다.", "나는 남는다.", "北.", "京"]
        );
    }

    #[test]
    fn initial_at_line_start_is_not_an_enumerator() {
        assert_eq!(texts("J. R. Smith said so."), ["J. R. Smith said so."]);
    }

    #[test]
    fn inline_markers_do_not_split() {
        let doc = "They cited △North Korea’s nuclear advancement △the possibility of China invading Taiwan, △and Russia’s war.";
        assert_eq!(texts(doc), [doc]);
    }

    #[test]
    fn inline_enumerations() {
        assert_eq!(
            texts("The ministers agreed on the following: 1. The first item. 2. The second item."),
            [
                "The ministers agreed on the following: 1. The first item.",
                "2. The second item."
            ]
        );
    }

    #[test]
    fn char_offsets_follow_code_points() {
        let doc = "Ünïcödé ✓ 😀. Next “one”.";
        let s = segment(doc);
        assert_eq!(s.len(), 2);
        let chars: Vec<char> = doc.chars().collect();
        for x in &s {
            let by_chars: String = chars[x.char_start..x.char_end].iter().collect();
            assert_eq!(by_chars, x.text(doc));
        }
        assert_eq!((s[1].char_start, s[1].char_end), (13, 24));
    }

    #[test]
    fn text_with_foreign_doc_does_not_panic() {
        let s = segment("héllo world. Again.");
        assert_eq!(s[1].text("short"), "");
        assert_eq!(s[0].text("hé"), "");
    }

    #[test]
    fn helpers() {
        assert!(is_acronym("U.S"));
        assert!(is_acronym("A.S.E.A.N"));
        assert!(!is_acronym("example.com"));
        assert!(!is_acronym("1.2"));
        assert!(is_enumerator("1."));
        assert!(is_enumerator("(iv)"));
        assert!(is_enumerator("b)"));
        assert!(!is_enumerator("J."));
        assert!(!is_enumerator("2024."));
        assert!(is_enumerator("3.1.4."));
        assert!(!is_enumerator("1..2."));
        assert_eq!(abbrev_kind("Gen"), Some(Abbrev::Never));
        assert_eq!(abbrev_kind("gen"), None);
        assert_eq!(abbrev_kind("Gov’t"), Some(Abbrev::Ambiguous));
        assert!(starts_new_sentence("“However,"));
        assert!(!starts_new_sentence("A.S.E.A.N."));
        assert!(!starts_new_sentence("Indo-Pacific"));
        assert_eq!(classify("(the"), NextKind::Lower);
        assert_eq!(classify("$10"), NextKind::Digit);
        assert_eq!(classify("—"), NextKind::Other);
        assert_eq!(last_word("“Korea-U.S”"), "U.S");
    }
}
