//! Property tests: `segment` never panics and its output is always
//! well-formed, on arbitrary Unicode and on communiqué-flavoured noise.

use proptest::prelude::*;
use stance_segment::{segment, Sentence};

/// Checks every structural invariant of a segmentation of `doc`.
fn check_invariants(doc: &str, sentences: &[Sentence]) -> Result<(), TestCaseError> {
    let chars: Vec<char> = doc.chars().collect();
    // char offset of each char boundary, for cross-checking
    let mut prev_end = 0usize;
    let mut prev_para = 0usize;
    for (i, s) in sentences.iter().enumerate() {
        prop_assert_eq!(s.index, i);
        prop_assert!(s.byte_start < s.byte_end, "empty sentence {:?}", s);
        prop_assert!(s.byte_end <= doc.len());
        prop_assert!(doc.is_char_boundary(s.byte_start));
        prop_assert!(doc.is_char_boundary(s.byte_end));
        prop_assert!(s.byte_start >= prev_end, "overlap or disorder at {}", i);
        prop_assert!(s.char_start < s.char_end && s.char_end <= chars.len());
        prop_assert_eq!(doc[..s.byte_start].chars().count(), s.char_start);
        let text = s.text(doc);
        let by_chars: String = chars[s.char_start..s.char_end].iter().collect();
        prop_assert_eq!(&by_chars, text);
        prop_assert!(!text.is_empty());
        prop_assert_eq!(text.trim(), text, "untrimmed sentence");
        let bom = '\u{feff}';
        prop_assert!(!text.starts_with(bom) && !text.ends_with(bom), "BOM kept");
        prop_assert!(
            !text.contains(['\n', '\r', '\u{2028}', '\u{2029}']),
            "sentence crosses a line break: {:?}",
            text
        );
        if i == 0 {
            prop_assert_eq!(s.paragraph, 0);
        } else {
            // non-decreasing, and contiguous: every paragraph has a sentence
            prop_assert!(s.paragraph == prev_para || s.paragraph == prev_para + 1);
        }
        prev_end = s.byte_end;
        prev_para = s.paragraph;
    }
    // paragraphs are exactly the non-empty lines
    let lines = doc
        .split([
            '\n', '\r', '\u{2028}', '\u{2029}', '\u{0b}', '\u{0c}', '\u{85}',
        ])
        .filter(|l| {
            l.chars()
                .any(|c| !(c.is_whitespace() || matches!(c, '\u{feff}' | '\u{200b}' | '\u{2060}')))
        })
        .count();
    prop_assert_eq!(sentences.last().map_or(0, |s| s.paragraph + 1), lines);
    Ok(())
}

/// Pieces that exercise the rules: stops, abbreviations, markers, quotes,
/// CJK, emoji, combining marks, odd whitespace and line breaks.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(". ".to_string()),
        Just(".".to_string()),
        Just("U.S.".to_string()),
        Just("U.S. ".to_string()),
        Just("Gen. ".to_string()),
        Just("No. 2".to_string()),
        Just("6.7%".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\r\n".to_string()),
        Just("\u{2028}".to_string()),
        Just("\u{feff}".to_string()),
        Just("\u{200b}".to_string()),
        Just("\0".to_string()),
        Just("“".to_string()),
        Just("”".to_string()),
        Just("’ ".to_string()),
        Just(")".to_string()),
        Just("△".to_string()),
        Just("• ".to_string()),
        Just("- ".to_string()),
        Just("1. ".to_string()),
        Just("(a) ".to_string()),
        Just("iv. ".to_string()),
        Just("… ".to_string()),
        Just("... ".to_string()),
        Just("?! ".to_string()),
        Just("。".to_string()),
        Just("！".to_string()),
        Just("」".to_string()),
        Just("The ".to_string()),
        Just("However, ".to_string()),
        Just("北朝鮮".to_string()),
        Just("😀".to_string()),
        Just("👩‍👩‍👧".to_string()),
        Just("e\u{301}".to_string()),
        Just("\u{301}".to_string()),
        Just(" ".to_string()),
        Just("\u{a0}".to_string()),
        "[a-zA-Z0-9]{1,6}",
        "[ \t]{1,3}",
    ]
}

fn communique_noise() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_unicode_is_well_formed(doc in any::<String>()) {
        let s = segment(&doc);
        check_invariants(&doc, &s)?;
    }

    #[test]
    fn communique_noise_is_well_formed(doc in communique_noise()) {
        let s = segment(&doc);
        check_invariants(&doc, &s)?;
    }

    #[test]
    fn printable_with_breaks_is_well_formed(doc in "[\\PC\n\r\u{2028}\u{feff}. ]{0,200}") {
        let s = segment(&doc);
        check_invariants(&doc, &s)?;
    }

    /// Segmentation is deterministic and local to lines: segmenting each
    /// line on its own gives the same sentence texts.
    #[test]
    fn lines_are_independent(doc in communique_noise()) {
        let whole: Vec<&str> = segment(&doc).iter().map(|s| s.text(&doc)).collect();
        let mut per_line: Vec<&str> = Vec::new();
        for line in doc.split(['\n', '\r', '\u{2028}']) {
            per_line.extend(segment(line).iter().map(|s| s.text(line)));
        }
        prop_assert_eq!(whole, per_line);
    }
}
