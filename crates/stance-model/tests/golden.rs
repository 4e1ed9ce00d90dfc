//! The golden numerical test: stance's logits and mean-pooled embeddings
//! match those of `transformers` + PyTorch for the same model directories
//! (fixtures written by `scripts/make-golden.py`), within 1e-4.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use stance_model::{Classifier, ClassifierOptions, LabelSet};

const TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Golden {
    sentences: Vec<String>,
    input_ids: Vec<Vec<u32>>,
    #[serde(default)]
    logits: Option<Vec<Vec<f32>>>,
    mean_pooled: Vec<Vec<f32>>,
    /// Sentences 1.. with the sentence before as context (classifiers only).
    #[serde(default)]
    pair_context_tokens: usize,
    #[serde(default)]
    pair_input_ids: Vec<Vec<u32>>,
    #[serde(default)]
    pair_token_type_ids: Vec<Vec<u32>>,
    #[serde(default)]
    pair_logits: Vec<Vec<f32>>,
}

fn golden(name: &str) -> Golden {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn assert_close(what: &str, ours: &[Vec<f32>], theirs: &[Vec<f32>]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: row count");
    let mut worst = 0f32;
    for (row, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a.len(), b.len(), "{what}: width of row {row}");
        for (x, y) in a.iter().zip(b) {
            worst = worst.max((x - y).abs());
        }
    }
    assert!(
        worst <= TOLERANCE,
        "{what}: largest difference {worst} exceeds {TOLERANCE}"
    );
}

/// Checks sentence pairs `[CLS] sentence [SEP] previous [SEP]`: a model that
/// reads context is loaded as is; any other is told to read the fixture's
/// number of context tokens (config.json copied with `stance_context_tokens`).
fn check_pairs(dir: &Path, golden: &Golden) {
    assert!(!golden.pair_logits.is_empty(), "fixture has pair logits");
    let copy = tempfile::tempdir().unwrap();
    for file in ["tokenizer.json", "model.safetensors"] {
        std::fs::copy(dir.join(file), copy.path().join(file)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config["stance_context_tokens"] = serde_json::json!(golden.pair_context_tokens);
    std::fs::write(copy.path().join("config.json"), config.to_string()).unwrap();
    let model = Classifier::load(copy.path(), ClassifierOptions::default()).unwrap();

    let texts: Vec<&str> = golden.sentences[1..].iter().map(String::as_str).collect();
    let previous: Vec<Option<&str>> = golden.sentences[..golden.sentences.len() - 1]
        .iter()
        .map(|s| Some(s.as_str()))
        .collect();
    let encoded = model.tokenize_many_in_context(&texts, &previous).unwrap();
    for ((e, ids), types) in encoded
        .iter()
        .zip(&golden.pair_input_ids)
        .zip(&golden.pair_token_type_ids)
    {
        assert_eq!(&e.ids, ids, "pair token ids");
        let start = e.context_start.expect("every pair has context");
        let ours: Vec<u32> = (0..e.ids.len()).map(|i| u32::from(i >= start)).collect();
        assert_eq!(&ours, types, "pair token types");
    }
    let logits: Vec<Vec<f32>> = model
        .predict_in_context(&texts, &previous)
        .unwrap()
        .into_iter()
        .map(|p| p.logits)
        .collect();
    assert_close("pair logits", &logits, &golden.pair_logits);
}

fn check_classifier(dir: &Path, golden: &Golden) {
    check_pairs(dir, golden);
    let model = Classifier::load(dir, ClassifierOptions::default()).unwrap();
    let texts: Vec<&str> = golden.sentences.iter().map(String::as_str).collect();
    for (text, ids) in texts.iter().zip(&golden.input_ids) {
        assert_eq!(
            &model.tokenize(text).unwrap().ids,
            ids,
            "token ids of {text:?}"
        );
    }
    // Each sentence alone (a model that reads context reads none here).
    let logits: Vec<Vec<f32>> = model
        .predict(&texts)
        .unwrap()
        .into_iter()
        .map(|p| p.logits)
        .collect();
    assert_close(
        "logits",
        &logits,
        golden
            .logits
            .as_ref()
            .expect("classifier fixture has logits"),
    );
    assert_close(
        "mean-pooled embeddings",
        &model.embed(&texts).unwrap(),
        &golden.mean_pooled,
    );
}

#[test]
fn tiny_random_model_matches_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    let labels = LabelSet::new(
        ["condemnation", "commitment", "diplomatic-opening", "other"]
            .map(String::from)
            .to_vec(),
    );
    stance_model::testing::write_tiny_model(dir.path(), Some(&labels), 7).unwrap();
    check_classifier(dir.path(), &golden("tiny-model.json"));
}

#[test]
fn shipped_model_matches_pytorch() {
    let dir = repo_root().join("models/stance-minilm-l6");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/shipped-model.json");
    if !dir.join("model.safetensors").exists() || !fixture.exists() {
        eprintln!(
            "skipped: no shipped model in {} or no fixture {}",
            dir.display(),
            fixture.display()
        );
        return;
    }
    check_classifier(&dir, &golden("shipped-model.json"));
}
