//! Scores the cue-phrase lexicon (and the majority baseline) on a gold
//! JSON-lines file (`text`, `label`, optional `secondary`, `doc_id`,
//! `source`) and prints the Markdown report.
//!
//! ```text
//! cargo run -p stance-eval --example lexicon_eval -- /work/shared/datasets/dev.jsonl
//! ```

use std::io::BufRead;

use serde_json::Value;
use stance_eval::baseline::{majority_predictions, Lexicon, CANONICAL_LABELS};
use stance_eval::metrics::{evaluate, macro_f1, EvalInput, DEFAULT_BOOTSTRAP_RESAMPLES};
use stance_eval::render::markdown;

fn label_index(v: &Value) -> Option<usize> {
    let s = v.as_str()?;
    CANONICAL_LABELS.iter().position(|l| *l == s)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: lexicon_eval GOLD.jsonl")?;
    let file = std::io::BufReader::new(std::fs::File::open(&path)?);
    let lexicon = Lexicon::new();
    let (mut gold, mut pred, mut probs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut secondary, mut docs, mut sources) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Value = serde_json::from_str(&line)?;
        let g = label_index(&row["label"]).ok_or(format!("line {}: bad label", i + 1))?;
        let (p, pr) = lexicon.classify(row["text"].as_str().unwrap_or_default());
        gold.push(g);
        pred.push(p);
        probs.push(pr.to_vec());
        secondary.push(label_index(&row["secondary"]));
        docs.push(row["doc_id"].as_str().map(String::from));
        sources.push(row["source"].as_str().map(String::from));
    }
    let labels: Vec<String> = CANONICAL_LABELS.iter().map(|s| s.to_string()).collect();
    let input = EvalInput {
        labels: &labels,
        gold: &gold,
        predicted: &pred,
        probabilities: &probs,
        secondary: &secondary,
        doc_ids: &docs,
        sources: &sources,
    };
    let report = evaluate(&input, DEFAULT_BOOTSTRAP_RESAMPLES, 42);
    print!(
        "{}",
        markdown(&report, &format!("Lexicon baseline on {path}"))
    );
    let majority = majority_predictions(&gold, gold.len());
    println!(
        "\nMajority baseline (majority of this file's gold labels): macro-F1 {:.3}",
        macro_f1(labels.len(), &gold, &majority)
    );
    Ok(())
}
