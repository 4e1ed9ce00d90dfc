//! Real example: a pasted news page about the 2024 trilateral DTT, with gold
//! sentences. The data lives outside the crate (shared/examples); the test
//! skips when it is absent.

use std::path::PathBuf;

use stance_segment::segment;

fn examples_dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("STANCE_EXAMPLES").map(PathBuf::from),
        Some(manifest.join("../../shared/examples")),
        Some(manifest.join("../../../shared/examples")),
        Some(PathBuf::from("/work/shared/examples")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("trilateral-dtt-2024.txt").is_file())
}

/// Decodes the JSON string literal starting right after an opening quote;
/// returns the value. Handles the standard escapes and surrogate pairs.
fn json_string(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    let hex4 = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
        let h: String = chars.by_ref().take(4).collect();
        u32::from_str_radix(&h, 16).ok()
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hi = hex4(&mut chars)?;
                    let cp = if (0xD800..0xDC00).contains(&hi) {
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let lo = hex4(&mut chars)?;
                        0x10000 + ((hi - 0xD800) << 10) + (lo.checked_sub(0xDC00)?)
                    } else {
                        hi
                    };
                    out.push(char::from_u32(cp)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The `"text"` field of one JSONL record.
fn text_field(line: &str) -> Option<String> {
    let key = line.find("\"text\"")?;
    let rest = line[key + 6..].trim_start().strip_prefix(':')?.trim_start();
    json_string(rest.strip_prefix('"')?)
}

/// Whitespace-insensitive form: runs of whitespace (incl. no-break space)
/// collapse to one space.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The gold file keeps list bullets (`• Apple …`); the segmenter drops line
/// start markers by design, so compare without them.
fn strip_bullet(s: &str) -> &str {
    match s.strip_prefix('•') {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => s,
    }
}

#[test]
fn json_string_decoding() {
    assert_eq!(
        text_field(
            r#"{"id": "x", "text": "a \"q\" \u00e9 \ud83d\ude00 \\ end", "label": "other"}"#
        ),
        Some("a \"q\" é 😀 \\ end".to_string())
    );
}

#[test]
fn trilateral_dtt_2024_gold_sentences_are_found() {
    let Some(dir) = examples_dir() else {
        eprintln!(
            "SKIPPED: trilateral-dtt-2024.txt not found (set STANCE_EXAMPLES to the shared/examples folder)"
        );
        return;
    };
    let doc = std::fs::read_to_string(dir.join("trilateral-dtt-2024.txt")).unwrap();
    let gold_src = match std::fs::read_to_string(dir.join("trilateral-dtt-2024.gold.jsonl")) {
        Ok(g) => g,
        Err(_) => {
            eprintln!(
                "SKIPPED: trilateral-dtt-2024.gold.jsonl not found in {}",
                dir.display()
            );
            return;
        }
    };
    let gold: Vec<String> = gold_src
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| text_field(l).expect("gold line without a text field"))
        .collect();
    assert!(!gold.is_empty());

    let sentences = segment(&doc);
    let ours: Vec<&str> = sentences.iter().map(|s| s.text(&doc)).collect();
    let ours_squashed: Vec<String> = ours.iter().map(|t| squash(t)).collect();

    let mut exact = 0;
    let mut normalised = 0;
    let mut missing = Vec::new();
    for g in &gold {
        if ours.contains(&g.as_str()) {
            exact += 1;
        }
        let want = squash(strip_bullet(g));
        if ours_squashed.contains(&want) {
            normalised += 1;
        } else {
            missing.push(g.clone());
        }
    }
    eprintln!(
        "trilateral-dtt-2024: {} segmented sentences, {} gold; {} gold match exactly, \
         {} match after dropping the gold's list bullet and collapsing whitespace",
        ours.len(),
        gold.len(),
        exact,
        normalised
    );
    for m in &missing {
        eprintln!("  missing: {m:?}");
    }
    assert!(
        missing.is_empty(),
        "{} gold sentences not found",
        missing.len()
    );
    // every segmented sentence is accounted for by the gold
    assert_eq!(ours.len(), gold.len());
}
