//! Loading, inference invariants and damaged-model errors on tiny random models.

use std::path::Path;

use stance_model::testing::write_tiny_model;
use stance_model::{Classifier, ClassifierOptions, LabelSet, ModelError};

fn labels() -> LabelSet {
    LabelSet::new(
        ["condemnation", "commitment", "diplomatic-opening", "other"]
            .map(String::from)
            .to_vec(),
    )
}

fn tiny(dir: &Path) -> Classifier {
    write_tiny_model(dir, Some(&labels()), 7).unwrap();
    Classifier::load(dir, ClassifierOptions::default()).unwrap()
}

const SENTENCES: [&str; 4] = [
    "We condemn the attack.",
    "The ministers met in Seoul on Tuesday and will continue to work together on peace.",
    "Ready for dialogue!",
    "Strongly.",
];

#[test]
fn probabilities_are_a_distribution_and_confidence_is_the_max() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    for p in model.predict(&SENTENCES).unwrap() {
        assert_eq!(p.probabilities.len(), 4);
        let sum: f32 = p.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        let max = p.probabilities.iter().copied().fold(f32::MIN, f32::max);
        assert_eq!(p.confidence, max);
        assert_eq!(p.probabilities[p.label], max);
    }
}

#[test]
fn batching_and_padding_do_not_change_logits() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(dir.path());
    let together = model.predict(&SENTENCES).unwrap();
    for (sentence, batched) in SENTENCES.iter().zip(&together) {
        let alone = &model.predict(&[sentence]).unwrap()[0];
        for (a, b) in alone.logits.iter().zip(&batched.logits) {
            assert!((a - b).abs() < 1e-4, "{sentence}: {a} vs {b}");
        }
    }
    // Output order is input order even though batches are sorted by length.
    let reversed: Vec<&str> = SENTENCES.iter().rev().copied().collect();
    let back = model.predict(&reversed).unwrap();
    for (a, b) in together.iter().zip(back.iter().rev()) {
        assert_eq!(a.label, b.label);
    }
}

#[test]
fn long_sentences_are_truncated_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let model = Classifier::load(
        dir.path(),
        ClassifierOptions {
            max_tokens: 8,
            batch_size: 2,
            ..ClassifierOptions::default()
        },
    )
    .unwrap();
    let long = "we condemn the attack and we call for talks on peace";
    let encoded = model.tokenize(long).unwrap();
    assert!(encoded.truncated);
    assert_eq!(encoded.ids.len(), 8);
    assert_eq!(encoded.ids[7], 3, "the final [SEP] is kept");
    let p = model.predict(&[long, "we"]).unwrap();
    assert!(p[0].truncated && !p[1].truncated);
}

#[test]
fn missing_files_are_named_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = Classifier::load(dir.path(), ClassifierOptions::default())
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            ModelError::MissingFile {
                file: "model.safetensors",
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("stance train"), "{msg}");
}

#[test]
fn truncated_weights_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = Classifier::load(dir.path(), ClassifierOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn config_that_does_not_match_the_weights_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let config_path = dir.path().join("config.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        config.replace("\"intermediate_size\": 64", "\"intermediate_size\": 48"),
    )
    .unwrap();
    let err = Classifier::load(dir.path(), ClassifierOptions::default())
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::Weights { .. }), "{msg}");
    assert!(msg.contains("intermediate"), "{msg}");
}

#[test]
fn tokenizer_of_another_vocabulary_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let config_path = dir.path().join("config.json");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        config.replace("\"vocab_size\": 132", "\"vocab_size\": 100"),
    )
    .unwrap();
    let err = Classifier::load(dir.path(), ClassifierOptions::default())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("another model") || err.to_string().contains("vocab"),
        "{err}"
    );
}

#[test]
fn a_bare_encoder_is_not_a_classifier() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), None, 7).unwrap();
    let err = Classifier::load(dir.path(), ClassifierOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("bare encoder"), "{err}");
}

#[test]
fn f16_storage_stays_close_to_f32() {
    use stance_model::{save_model, testing, StorageDType};
    let dir = tempfile::tempdir().unwrap();
    let config = testing::tiny_config();
    let tensors = testing::random_weights(&config, Some(&labels()), 3).unwrap();
    let tokenizer = dir.path().join("tok.json");
    std::fs::write(&tokenizer, testing::TINY_TOKENIZER_JSON).unwrap();
    let (f32_dir, f16_dir) = (dir.path().join("f32"), dir.path().join("f16"));
    save_model(
        &f32_dir,
        &config,
        &labels(),
        1.0,
        &tokenizer,
        &tensors,
        StorageDType::F32,
    )
    .unwrap();
    save_model(
        &f16_dir,
        &config,
        &labels(),
        1.0,
        &tokenizer,
        &tensors,
        StorageDType::F16,
    )
    .unwrap();
    let full = Classifier::load(&f32_dir, ClassifierOptions::default()).unwrap();
    let half = Classifier::load(&f16_dir, ClassifierOptions::default()).unwrap();
    let size = |d: &Path| {
        std::fs::metadata(d.join("model.safetensors"))
            .unwrap()
            .len()
    };
    assert!(
        size(&f16_dir) * 10 < size(&f32_dir) * 6,
        "f16 file is about half the size"
    );
    for (a, b) in full
        .predict(&SENTENCES)
        .unwrap()
        .iter()
        .zip(half.predict(&SENTENCES).unwrap())
    {
        for (x, y) in a.probabilities.iter().zip(&b.probabilities) {
            assert!((x - y).abs() < 2e-2, "{x} vs {y}");
        }
    }
}

#[test]
fn a_huge_sentence_is_tokenised_from_a_prefix_with_the_same_kept_tokens() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let tokenizer = stance_model::SentenceTokenizer::from_file(
        &dir.path().join("tokenizer.json"),
        128,
        stance_model::testing::tiny_config().vocab_size,
    )
    .unwrap();
    // 2 MB: far past the prefix budget (128 tokens × 128 bytes).
    let huge = "we condemn the attack and reaffirm our commitment ".repeat(40_000);
    let prefix = stance_model::prefix_to_tokenize(&huge, 128);
    assert!(prefix.len() <= 128 * 128 && prefix.len() > 10_000);
    assert!(
        huge[prefix.len()..].starts_with(char::is_whitespace),
        "cut inside a word"
    );

    let cut = tokenizer.encode(&huge).unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.ids.len(), 128);
    let short = "we condemn the attack and reaffirm our commitment ".repeat(40);
    let reference = tokenizer.encode(&short).unwrap();
    assert!(reference.truncated);
    assert_eq!(cut.ids, reference.ids);

    // One giant word with no whitespace is cut on a character boundary.
    let word = "é".repeat(1_000_000);
    let encoded = tokenizer.encode(&word).unwrap();
    assert!(encoded.truncated);
    assert!(stance_model::prefix_to_tokenize(&word, 128).len() <= 128 * 128);
}

#[test]
fn int8_and_parallel_workers_agree_with_the_f32_reference() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let load = |precision, workers| {
        Classifier::load(
            dir.path(),
            ClassifierOptions {
                batch_size: 2,
                precision,
                workers,
                ..ClassifierOptions::default()
            },
        )
        .unwrap()
    };
    let texts: Vec<String> = (0..40)
        .map(|i| format!("{} {}", SENTENCES[i % 4], "and peace ".repeat(i % 7)))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let reference = load(stance_model::Precision::F32, 1)
        .predict(&texts)
        .unwrap();

    // Workers change only who computes a batch, not the result.
    let parallel = load(stance_model::Precision::F32, 3)
        .predict(&texts)
        .unwrap();
    assert_eq!(reference, parallel);

    let int8 = load(stance_model::Precision::Int8, 2);
    assert_eq!(int8.precision(), stance_model::Precision::Int8);
    for (a, b) in reference.iter().zip(int8.predict(&texts).unwrap()) {
        for (x, y) in a.logits.iter().zip(&b.logits) {
            assert!((x - y).abs() < 0.05, "int8 logit {y} vs f32 {x}");
        }
    }
}

#[test]
fn context_is_a_second_segment_of_type_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, stance_model::testing::TINY_TOKENIZER_JSON).unwrap();
    let tokenizer = stance_model::SentenceTokenizer::from_file(
        &path,
        16,
        stance_model::testing::tiny_config().vocab_size,
    )
    .unwrap();
    let alone = tokenizer.encode("we condemn the attack").unwrap();
    assert_eq!(alone.context_start, None);
    // No context, an empty one or a zero budget: the sentence alone.
    for (context, budget) in [(None, 8), (Some(""), 8), (Some("the talks"), 0)] {
        assert_eq!(
            tokenizer
                .encode_with_context("we condemn the attack", context, budget)
                .unwrap(),
            alone
        );
    }
    let pair = tokenizer
        .encode_with_context("we condemn the attack", Some("the ministers met"), 8)
        .unwrap();
    let sep = *alone.ids.last().unwrap();
    assert_eq!(pair.context_start, Some(alone.ids.len()));
    assert_eq!(&pair.ids[..alone.ids.len()], alone.ids.as_slice());
    assert_eq!(pair.ids.len(), alone.ids.len() + 4, "three words and [SEP]");
    assert_eq!(*pair.ids.last().unwrap(), sep);
    // A long context keeps its first `budget` tokens, then [SEP].
    let long = tokenizer
        .encode_with_context("we", Some(&"peace talks ".repeat(50)), 5)
        .unwrap();
    let we = tokenizer.encode("we").unwrap();
    assert_eq!(long.ids.len(), we.ids.len() + 6);
    assert_eq!(*long.ids.last().unwrap(), sep);
    // The sentence is cut to its own budget before the context is added.
    let cut = tokenizer
        .encode_with_context(&"peace ".repeat(40), Some("we"), 4)
        .unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.context_start, Some(16));
    assert_eq!(cut.ids.len(), 18);

    // Token types: 0 for the sentence, 1 for the context, 0 for padding.
    let batch = tokenizer
        .batch(&[&pair, &alone], &stance_model::Device::Cpu)
        .unwrap();
    let types = batch.token_type_ids.to_vec2::<u32>().unwrap();
    let n = alone.ids.len();
    let mut expected_pair = vec![0u32; n];
    expected_pair.extend([1, 1, 1, 1]);
    assert_eq!(types[0], expected_pair);
    assert_eq!(types[1], vec![0u32; n + 4]);
    let mask = batch.attention_mask.to_vec2::<u32>().unwrap();
    assert_eq!(mask[1].iter().sum::<u32>() as usize, n);
}

#[test]
fn a_context_model_reads_the_previous_sentence_and_others_ignore_it() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let plain = Classifier::load(dir.path(), ClassifierOptions::default()).unwrap();
    assert_eq!(plain.context_tokens(), 0);
    let texts = ["we condemn the attack", "we condemn the attack"];
    let previous = [Some("the ministers met"), Some("ready for dialogue")];
    let ignored = plain.predict_in_context(&texts, &previous).unwrap();
    let alone = plain.predict(&texts).unwrap();
    assert_eq!(ignored[0].logits, alone[0].logits);
    assert_eq!(ignored[1].logits, alone[1].logits);

    // The same weights, told to read 8 tokens of context.
    let config_path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["stance_context_tokens"] = serde_json::json!(8);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let reader = Classifier::load(dir.path(), ClassifierOptions::default()).unwrap();
    assert_eq!(reader.context_tokens(), 8);
    // 64 positions: a sentence keeps 64 - 8 - 1 of them.
    assert_eq!(reader.max_tokens(), 55);
    let read = reader.predict_in_context(&texts, &previous).unwrap();
    assert_ne!(read[0].logits, read[1].logits, "context changes the logits");
    // A first sentence (no previous) is read alone.
    let first = reader.predict_in_context(&texts[..1], &[None]).unwrap();
    for (x, y) in first[0].logits.iter().zip(&alone[0].logits) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

#[test]
fn a_model_with_the_labels_in_another_order_answers_in_the_asked_order() {
    // Two tiny models with the same weights (same seed), whose config names
    // the outputs in different orders.
    let codebook = labels();
    let sorted = LabelSet::new(
        ["commitment", "condemnation", "diplomatic-opening", "other"]
            .map(String::from)
            .to_vec(),
    );
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_tiny_model(a.path(), Some(&codebook), 7).unwrap();
    write_tiny_model(b.path(), Some(&sorted), 7).unwrap();
    let as_written = Classifier::load(a.path(), ClassifierOptions::default()).unwrap();
    let mut reordered = Classifier::load(b.path(), ClassifierOptions::default()).unwrap();

    assert!(reordered.order_labels_as(codebook.names()).unwrap());
    assert_eq!(reordered.labels(), &codebook);
    let before = as_written.predict(&SENTENCES).unwrap();
    let after = reordered.predict(&SENTENCES).unwrap();
    for (x, y) in before.iter().zip(&after) {
        // Output i of the reordered model is the shared output that `sorted`
        // calls codebook label i.
        for (i, name) in codebook.names().iter().enumerate() {
            let shared = sorted.index_of(name).unwrap();
            assert_eq!(y.logits[i], x.logits[shared], "{name}");
            assert_eq!(y.probabilities[i], x.probabilities[shared], "{name}");
        }
        assert_eq!(codebook.name(y.label), sorted.name(x.label));
    }
    // Asking again for the same order changes nothing.
    assert!(!reordered.order_labels_as(codebook.names()).unwrap());

    // Another label set is refused and the model keeps its own.
    let mut other = Classifier::load(a.path(), ClassifierOptions::default()).unwrap();
    let three: Vec<String> = ["condemnation", "commitment", "other"]
        .map(String::from)
        .to_vec();
    let err = other.order_labels_as(&three).unwrap_err().to_string();
    assert!(
        err.contains("are not [\"condemnation\", \"commitment\", \"other\"] in any order"),
        "{err}"
    );
    assert_eq!(other.labels(), &codebook);
}

#[test]
fn a_file_of_the_model_given_as_the_model_names_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), Some(&labels()), 7).unwrap();
    let weights = dir.path().join("model.safetensors");
    let msg = Classifier::load(&weights, ClassifierOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        msg,
        format!(
            "{}: is a file; a model is the folder that holds it (here: {})",
            weights.display(),
            dir.path().display()
        )
    );
}
