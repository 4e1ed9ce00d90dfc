//! A `BertForSequenceClassification` created and saved by Python's
//! `transformers` (`scripts/make-python-model-fixture.py`) loads in stance and
//! gives PyTorch's logits within 1e-4.

use std::path::Path;

use serde::Deserialize;
use stance_model::{Classifier, ClassifierOptions};

#[derive(Deserialize)]
struct Expected {
    sentences: Vec<String>,
    logits: Vec<Vec<f32>>,
}

#[test]
fn model_saved_by_transformers_loads_and_agrees() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python-model");
    let expected: Expected =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let model = Classifier::load(&dir, ClassifierOptions::default()).unwrap();
    assert_eq!(
        model.labels().names(),
        ["condemnation", "commitment", "diplomatic-opening", "other"]
    );
    let texts: Vec<&str> = expected.sentences.iter().map(String::as_str).collect();
    let predictions = model.predict(&texts).unwrap();
    let mut worst = 0f32;
    for (p, want) in predictions.iter().zip(&expected.logits) {
        for (a, b) in p.logits.iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= 1e-4, "largest logit difference {worst}");
}
