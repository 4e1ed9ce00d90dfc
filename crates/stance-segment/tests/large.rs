//! Large inputs must be handled in linear time.

use stance_segment::segment;

#[test]
fn ten_megabyte_line_without_punctuation() {
    let doc = "word ".repeat(2 * 1024 * 1024); // 10 MiB, one line, no stops
    let s = segment(&doc);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].byte_start, 0);
    assert_eq!(s[0].byte_end, doc.len() - 1);
    assert_eq!(s[0].char_end, doc.len() - 1);
}

#[test]
fn ten_megabyte_token_without_whitespace() {
    let doc = "a".repeat(10 * 1024 * 1024);
    let s = segment(&doc);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].text(&doc).len(), doc.len());
}

#[test]
fn megabytes_of_abbreviations_and_stops() {
    // ~2 MB with a candidate boundary every few bytes: none may trigger a rescan
    let doc = "Gen. U.S. 6.7% x. ".repeat(120_000);
    let s = segment(&doc);
    assert!(!s.is_empty());
    let doc = "。".repeat(1_000_000);
    let s = segment(&doc);
    assert_eq!(s.len(), 1); // a run of full stops is one terminator
}

#[test]
fn hundred_thousand_char_sentence_is_one_sentence() {
    let mut doc = String::from("The ministers ");
    while doc.chars().count() < 100_000 {
        doc.push_str("reaffirmed, with the U.S. and Gen. Smith, ");
    }
    doc.push_str("their commitment.");
    let s = segment(&doc);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].text(&doc), doc);
    assert_eq!(s[0].char_end, doc.chars().count());
}

#[test]
fn many_short_sentences_and_lines() {
    let doc = "A ship sank. Seoul protested!\r\n".repeat(100_000);
    let s = segment(&doc);
    assert_eq!(s.len(), 200_000);
    assert_eq!(s.last().unwrap().paragraph, 99_999);
}
