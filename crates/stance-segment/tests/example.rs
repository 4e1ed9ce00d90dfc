//! Real text against the annotated data's sentences: a pasted news page
//! about the 2024 trilateral DTT with its gold file, and every document of
//! the corpus against the train and dev sentences cut from it. The data lives
//! outside the crate (../shared); the tests skip when it is absent.

use std::collections::{HashMap, HashSet};
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

/// The shared data folder (holding `corpus/docs` and `datasets`), if present.
fn shared_dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared"),
        manifest.join("../../../shared"),
    ]
    .into_iter()
    .find(|d| d.join("corpus/docs").is_dir() && d.join("datasets/train.jsonl").is_file())
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

/// The string field `name` of one JSONL record.
fn string_field(line: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let at = line.find(&key)?;
    let rest = line[at + key.len()..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    json_string(rest.strip_prefix('"')?)
}

/// The `"text"` field of one JSONL record.
fn text_field(line: &str) -> Option<String> {
    string_field(line, "text")
}

/// Whitespace-insensitive form: runs of whitespace (incl. no-break space)
/// collapse to one space.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
        let want = squash(g);
        if ours_squashed.contains(&want) {
            normalised += 1;
        } else {
            missing.push(g.clone());
        }
    }
    eprintln!(
        "trilateral-dtt-2024: {} segmented sentences, {} gold; {} gold match exactly, \
         {} match after collapsing whitespace",
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

/// The train and dev sets were cut from the corpus documents by the
/// annotators' sentence splitting: segmenting the documents should give back
/// their sentences. (The datasets leave out the last sentence of most
/// documents, so only the gold side is counted.)
#[test]
fn corpus_documents_give_back_the_annotated_sentences() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIPPED: ../shared (corpus/docs and datasets) not found");
        return;
    };
    let mut gold: HashMap<String, Vec<String>> = HashMap::new();
    for set in ["train.jsonl", "dev.jsonl"] {
        let path = shared.join("datasets").join(set);
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if line.trim().is_empty() {
                continue;
            }
            let doc_id = string_field(line, "doc_id").expect("a doc_id");
            let text = text_field(line).expect("a text");
            gold.entry(doc_id).or_default().push(squash(&text));
        }
    }
    let (mut found, mut total, mut documents) = (0, 0, 0);
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(shared.join("corpus/docs")).unwrap() {
        let path = entry.unwrap().path();
        let doc_id = path.file_stem().unwrap().to_string_lossy().into_owned();
        let Some(sentences) = gold.get(&doc_id) else {
            continue;
        };
        documents += 1;
        let doc = std::fs::read_to_string(&path).unwrap();
        let ours: HashSet<String> = segment(&doc).iter().map(|s| squash(s.text(&doc))).collect();
        for g in sentences {
            total += 1;
            if ours.contains(g) {
                found += 1;
            } else if missing.len() < 20 {
                missing.push(format!("{doc_id}: {g:?}"));
            }
        }
    }
    let share = found as f64 / total as f64;
    eprintln!(
        "corpus: {found} of {total} annotated sentences of {documents} documents segmented exactly ({:.1}%)",
        100.0 * share
    );
    for m in &missing {
        eprintln!("  missing: {m}");
    }
    assert!(
        documents > 100,
        "only {documents} corpus documents have gold sentences"
    );
    // 99.2% when written; the misses are mostly the annotators' own splits
    // after abbreviations (`U.S.`, `Mr.`) that the segmenter rightly avoids.
    assert!(
        share >= 0.985,
        "only {:.1}% of annotated sentences found",
        100.0 * share
    );
}
