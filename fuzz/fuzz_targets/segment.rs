//! The segmenter on arbitrary text: it must not panic, and its sentences must
//! be in bounds, on character boundaries, in order, non-overlapping, trimmed,
//! and consistent between byte and code-point offsets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let sentences = stance_segment::segment(&text);
    let mut previous_end = 0;
    let mut previous_paragraph = 0;
    for (i, s) in sentences.iter().enumerate() {
        assert_eq!(s.index, i);
        assert!(s.byte_start < s.byte_end && s.byte_end <= text.len());
        assert!(text.is_char_boundary(s.byte_start) && text.is_char_boundary(s.byte_end));
        assert!(s.byte_start >= previous_end, "sentences overlap or go back");
        assert!(s.paragraph >= previous_paragraph);
        assert_eq!(s.char_start, text[..s.byte_start].chars().count());
        assert_eq!(s.char_end, s.char_start + text[s.byte_start..s.byte_end].chars().count());
        let sentence = &text[s.byte_start..s.byte_end];
        assert!(!sentence.trim().is_empty());
        previous_end = s.byte_end;
        previous_paragraph = s.paragraph;
    }
});
