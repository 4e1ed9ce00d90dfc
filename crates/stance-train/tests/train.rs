//! Fine-tuning a tiny random encoder for a few steps on fixture sentences.

use stance_model::testing::write_tiny_model;
use stance_model::{Classifier, ClassifierOptions, LabelSet};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use stance_train::{
    train, ClassWeighting, EpochReport, Example, TrainConfig, TrainError, TrainObserver,
    TrainOutcome, Weights,
};

fn labels() -> LabelSet {
    LabelSet::new(
        ["condemnation", "commitment", "diplomatic-opening", "other"]
            .map(String::from)
            .to_vec(),
    )
}

fn examples() -> Vec<Example> {
    let rows = [
        ("we condemn the attack", 0),
        ("we strongly condemn the illegal attack", 0),
        ("the attack is a violation", 0),
        ("we reaffirm our support", 1),
        ("we will continue to work together", 1),
        ("ministers committed to support", 1),
        ("we are ready for dialogue", 2),
        ("we call for talks on peace", 2),
        ("the door to dialogue is open", 2),
        ("the ministers met in seoul", 3),
        ("it was held in 2008", 3),
        ("the talks took place on monday", 3),
    ];
    rows.iter()
        .map(|(t, l)| Example {
            text: t.to_string(),
            label: *l,
            secondary: None,
            previous: None,
            teacher: None,
        })
        .collect()
}

#[derive(Default)]
struct Record {
    losses: Vec<f64>,
    epochs: Vec<EpochReport>,
}

impl TrainObserver for Record {
    fn step(&mut self, _step: usize, loss: f64, _lr: f64) {
        self.losses.push(loss);
    }
    fn epoch_finished(&mut self, report: &EpochReport) {
        self.epochs.push(report.clone());
    }
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 30,
        learning_rate: 5e-3,
        batch_size: 4,
        warmup_ratio: 0.1,
        patience: 0,
        dropout: Some(0.0),
        class_weighting: ClassWeighting::Sqrt,
        ..TrainConfig::default()
    }
}

/// A temporary folder holding a tiny random encoder in `base/`.
fn tiny_base() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    write_tiny_model(&base, None, 11).unwrap();
    (dir, base)
}

/// Trains on `data` (also the dev set) with no observer.
fn train_on(
    base: &Path,
    data: &[Example],
    cfg: &TrainConfig,
    out: &Path,
) -> Result<TrainOutcome, TrainError> {
    train(
        base,
        &labels(),
        data,
        data,
        cfg,
        out,
        &mut Record::default(),
    )
}

/// Asserts that the model saved in `out` labels `data` (each example after
/// its previous sentence, for a model that reads it) as `dev_predictions`
/// (the predictions it was chosen by), up to one sentence of f16 rounding.
/// Returns the loaded model.
fn assert_saved_model_reproduces(
    out: &Path,
    data: &[Example],
    dev_predictions: &[usize],
) -> Classifier {
    let model = Classifier::load(out, ClassifierOptions::default()).unwrap();
    assert_eq!(model.labels(), &labels());
    let texts: Vec<&str> = data.iter().map(|e| e.text.as_str()).collect();
    let previous: Vec<Option<&str>> = data.iter().map(|e| e.previous.as_deref()).collect();
    let predicted: Vec<usize> = model
        .predict_in_context(&texts, &previous)
        .unwrap()
        .iter()
        .map(|p| p.label)
        .collect();
    let agree = predicted
        .iter()
        .zip(dev_predictions)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        agree >= texts.len() - 1,
        "{predicted:?} vs {dev_predictions:?}"
    );
    model
}

#[test]
fn loss_goes_down_and_the_saved_model_labels() {
    let (dir, base) = tiny_base();
    let out = dir.path().join("out");
    let data = examples();
    let mut record = Record::default();
    let outcome = train(&base, &labels(), &data, &data, &config(), &out, &mut record).unwrap();

    let first = record.epochs.first().unwrap().train_loss;
    let last = record.epochs.last().unwrap().train_loss;
    assert!(
        last < first * 0.5,
        "training loss should fall: {first} -> {last}"
    );
    assert_eq!(record.epochs.len(), 30);
    assert!(
        outcome.best_macro_f1 > 0.5,
        "fits its own training data: {}",
        outcome.best_macro_f1
    );

    // The saved (f16) best epoch reproduces the dev predictions it was chosen by.
    assert_saved_model_reproduces(&out, &data, &outcome.best_dev_predictions);
}

#[test]
fn the_same_seed_gives_the_same_model() {
    let (dir, base) = tiny_base();
    let data = examples();
    let cfg = TrainConfig {
        epochs: 2,
        dropout: Some(0.1),
        ..config()
    };
    let run = |name: &str| {
        let out = dir.path().join(name);
        let outcome = train_on(&base, &data, &cfg, &out).unwrap();
        (
            outcome
                .epochs
                .iter()
                .map(|e| e.train_loss)
                .collect::<Vec<_>>(),
            std::fs::read(out.join("model.safetensors")).unwrap(),
        )
    };
    let (loss_a, weights_a) = run("a");
    let (loss_b, weights_b) = run("b");
    assert_eq!(loss_a, loss_b);
    assert!(weights_a == weights_b, "same seed, same weights");
    let other = TrainConfig {
        seed: 7,
        ..cfg.clone()
    };
    let out = dir.path().join("c");
    train_on(&base, &data, &other, &out).unwrap();
    assert!(
        std::fs::read(out.join("model.safetensors")).unwrap() != weights_a,
        "another seed differs"
    );
}

#[test]
fn the_data_seed_changes_the_batches_but_not_the_starting_weights() {
    let (dir, base) = tiny_base();
    let data = examples();
    let weights = |name: &str, seed: u64, data_seed: Option<u64>, learning_rate: f64| {
        let cfg = TrainConfig {
            epochs: 1,
            dropout: Some(0.1),
            seed,
            data_seed,
            learning_rate,
            storage: stance_model::StorageDType::F32,
            ..config()
        };
        let out = dir.path().join(name);
        train_on(&base, &data, &cfg, &out).unwrap();
        std::fs::read(out.join("model.safetensors")).unwrap()
    };
    // With a learning rate of 0 the saved weights are the starting weights.
    assert!(weights("a", 3, Some(5), 0.0) == weights("b", 3, Some(9), 0.0));
    assert!(weights("c", 3, Some(5), 0.0) != weights("d", 4, Some(5), 0.0));
    // Trained, the data seed matters.
    assert!(weights("e", 3, Some(5), 5e-3) != weights("f", 3, Some(9), 5e-3));
}

#[test]
fn weight_averages_are_scored_without_changing_training() {
    let (dir, base) = tiny_base();
    let data = examples();
    let cfg = TrainConfig {
        epochs: 6,
        dropout: Some(0.1),
        ..config()
    };
    let plain = train_on(&base, &data, &cfg, &dir.path().join("plain")).unwrap();
    let averaged_cfg = TrainConfig {
        average_decays: vec![0.5, 0.9],
        ..cfg.clone()
    };
    let out = dir.path().join("averaged");
    let averaged = train_on(&base, &data, &averaged_cfg, &out).unwrap();
    for (p, a) in plain.epochs.iter().zip(&averaged.epochs) {
        // The live weights follow the same path.
        assert_eq!(p.train_loss, a.train_loss);
        assert_eq!(p.live().macro_f1, a.live().macro_f1);
        let kinds: Vec<Weights> = a.scores.iter().map(|s| s.weights).collect();
        assert_eq!(
            kinds,
            vec![
                Weights::Live,
                Weights::Average { decay: 0.5 },
                Weights::Average { decay: 0.9 }
            ]
        );
    }
    let best_of_all = averaged
        .epochs
        .iter()
        .flat_map(|e| e.scores.iter().map(|s| s.macro_f1))
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(averaged.best_macro_f1, best_of_all);
    // Whatever was chosen, the saved directory reproduces its dev predictions.
    assert_saved_model_reproduces(&out, &data, &averaged.best_dev_predictions);

    let bad = TrainConfig {
        average_decays: vec![1.0],
        ..cfg
    };
    let err = train_on(&base, &data, &bad, &dir.path().join("bad")).unwrap_err();
    assert!(
        err.to_string().contains("decay 1 must be in (0, 1)"),
        "{err}"
    );
}

#[test]
fn empty_sets_and_bad_settings_are_errors() {
    let (dir, base) = tiny_base();
    let data = examples();
    let out = dir.path().join("out");
    let err = train(
        &base,
        &labels(),
        &[],
        &data,
        &config(),
        &out,
        &mut Record::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("training set is empty"), "{err}");
    let bad = TrainConfig {
        batch_size: 0,
        ..config()
    };
    assert!(train_on(&base, &data, &bad, &out).is_err());
    assert!(!out.exists(), "nothing written on error");
}

#[test]
fn class_weights_follow_the_counts() {
    let w = stance_train::class_weights(&[0, 0, 0, 0, 1], 2, ClassWeighting::Sqrt);
    assert_eq!(w, vec![1.0, 2.0]);
    let w = stance_train::class_weights(&[0, 0, 0, 0, 1], 2, ClassWeighting::Inverse);
    assert_eq!(w, vec![1.0, 4.0]);
}

/// Twelve copies of one sentence whose label is set only by the sentence
/// before it: learnable with context, not without.
fn examples_told_apart_by_context() -> Vec<Example> {
    examples()
        .into_iter()
        .map(|e| Example {
            text: "as said.".into(),
            previous: Some(e.text),
            ..e
        })
        .collect()
}

#[test]
fn the_previous_sentence_is_read_when_asked_for_and_saved_with_the_model() {
    let (dir, base) = tiny_base();
    let data = examples_told_apart_by_context();
    let cfg = TrainConfig {
        max_tokens: 24,
        context_tokens: 16,
        ..config()
    };

    let out = dir.path().join("with-context");
    let outcome = train_on(&base, &data, &cfg, &out).unwrap();
    assert!(
        outcome.best_macro_f1 > 0.8,
        "the previous sentence gives the label away: {}",
        outcome.best_macro_f1
    );
    let model = assert_saved_model_reproduces(&out, &data, &outcome.best_dev_predictions);
    assert_eq!(model.context_tokens(), 16);

    // Without context the twelve inputs are one: at most one label is right
    // per class, so macro-F1 stays low.
    let out = dir.path().join("without-context");
    let cfg = TrainConfig {
        context_tokens: 0,
        ..cfg
    };
    let outcome = train_on(&base, &data, &cfg, &out).unwrap();
    assert!(outcome.best_macro_f1 < 0.3, "{}", outcome.best_macro_f1);
    let model = Classifier::load(&out, ClassifierOptions::default()).unwrap();
    assert_eq!(model.context_tokens(), 0);
}

#[test]
fn a_teacher_weight_of_one_learns_the_teacher_not_the_gold_labels() {
    let (dir, base) = tiny_base();
    // The teacher says "the next label" for every sentence; dev is scored
    // against the teacher's labels.
    let shifted = |l: usize| (l + 1) % 4;
    let train_set: Vec<Example> = examples()
        .into_iter()
        .map(|e| {
            let mut teacher = vec![0.0f32; 4];
            teacher[shifted(e.label)] = 1.0;
            Example {
                teacher: Some(teacher),
                ..e
            }
        })
        .collect();
    let dev_set: Vec<Example> = examples()
        .into_iter()
        .map(|e| Example {
            label: shifted(e.label),
            ..e
        })
        .collect();
    let score = |teacher_weight: f64, name: &str| {
        let cfg = TrainConfig {
            teacher_weight,
            ..config()
        };
        train(
            &base,
            &labels(),
            &train_set,
            &dev_set,
            &cfg,
            &dir.path().join(name),
            &mut Record::default(),
        )
        .unwrap()
        .best_macro_f1
    };
    let from_teacher = score(1.0, "teacher");
    let from_gold = score(0.0, "gold");
    assert!(from_teacher > 0.8, "{from_teacher}");
    assert!(from_gold < 0.5, "{from_gold}");

    let bad = vec![Example {
        teacher: Some(vec![0.5, 0.5]),
        ..examples()[0].clone()
    }];
    let err = train_on(&base, &bad, &config(), &dir.path().join("bad")).unwrap_err();
    assert!(err.to_string().contains("teacher probabilities"), "{err}");
}

#[test]
fn layer_decay_slows_the_encoder_but_not_the_head() {
    let (dir, base) = tiny_base();
    let data = examples();
    let load =
        |path: &Path| candle_core::safetensors::load(path, &candle_core::Device::Cpu).unwrap();
    let base_weights = load(&base.join("model.safetensors"));
    let starting = |suffix: &str| {
        base_weights
            .iter()
            .find(|(n, _)| n.ends_with(suffix))
            .map(|(_, t)| t.clone())
    };
    // Mean absolute change of the tensor named `*suffix` after one epoch;
    // the new head starts from the same seeded values in both runs.
    let changes = |name: &str, layer_decay: f64| {
        let cfg = TrainConfig {
            epochs: 1,
            layer_decay,
            storage: stance_model::StorageDType::F32,
            ..config()
        };
        let out = dir.path().join(name);
        train_on(&base, &data, &cfg, &out).unwrap();
        let trained = load(&out.join("model.safetensors"));
        let untrained_head = {
            let cfg = TrainConfig {
                learning_rate: 0.0,
                ..cfg
            };
            let out = dir.path().join(format!("{name}-start"));
            train_on(&base, &data, &cfg, &out).unwrap();
            load(&out.join("model.safetensors"))
        };
        let change = |suffix: &str| {
            let (name, after) = trained.iter().find(|(n, _)| n.ends_with(suffix)).unwrap();
            let before = starting(suffix).unwrap_or_else(|| untrained_head[name].clone());
            (after - before)
                .unwrap()
                .abs()
                .unwrap()
                .mean_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        (
            change("embeddings.word_embeddings.weight"),
            change("encoder.layer.0.attention.self.query.weight"),
            change("classifier.weight"),
        )
    };
    let (embeddings, layer0, head) = changes("full", 1.0);
    let (slow_embeddings, slow_layer0, slow_head) = changes("decayed", 1e-3);
    assert!(embeddings > 0.0 && layer0 > 0.0 && head > 0.0);
    assert!(
        slow_embeddings < embeddings * 1e-2,
        "{slow_embeddings} vs {embeddings}"
    );
    assert!(slow_layer0 < layer0 * 1e-2, "{slow_layer0} vs {layer0}");
    assert!(slow_head > head * 0.3, "{slow_head} vs {head}");

    let bad = TrainConfig {
        layer_decay: 0.0,
        ..config()
    };
    let err = train_on(&base, &data, &bad, &dir.path().join("bad")).unwrap_err();
    assert!(err.to_string().contains("layer decay"), "{err}");
}

#[test]
fn label_smoothing_outside_zero_to_one_is_refused() {
    let (dir, base) = tiny_base();
    let data = examples();
    for smoothing in [-0.1, 1.0, f64::NAN] {
        let bad = TrainConfig {
            label_smoothing: smoothing,
            ..config()
        };
        let err = train_on(&base, &data, &bad, &dir.path().join("bad")).unwrap_err();
        assert!(err.to_string().contains("label smoothing"), "{err}");
    }
}

#[test]
fn frozen_word_embeddings_stay_as_the_base_has_them() {
    let (dir, base) = tiny_base();
    let load =
        |path: &Path| candle_core::safetensors::load(path, &candle_core::Device::Cpu).unwrap();
    let base_weights = load(&base.join("model.safetensors"));
    let tensor = |weights: &HashMap<String, candle_core::Tensor>, suffix: &str| {
        weights
            .iter()
            .find(|(n, _)| n.ends_with(suffix))
            .map(|(_, t)| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .unwrap()
    };
    let trained = |freeze_word_embeddings: bool, name: &str| {
        let cfg = TrainConfig {
            epochs: 2,
            freeze_word_embeddings,
            storage: stance_model::StorageDType::F32,
            ..config()
        };
        let out = dir.path().join(name);
        train_on(&base, &examples(), &cfg, &out).unwrap();
        load(&out.join("model.safetensors"))
    };
    let words = "embeddings.word_embeddings.weight";
    let layer0 = "encoder.layer.0.attention.self.query.weight";
    let frozen = trained(true, "frozen");
    assert_eq!(tensor(&frozen, words), tensor(&base_weights, words));
    assert_ne!(tensor(&frozen, layer0), tensor(&base_weights, layer0));
    let free = trained(false, "free");
    assert_ne!(tensor(&free, words), tensor(&base_weights, words));
}

#[test]
fn r_drop_adds_nothing_when_dropout_is_off_and_trains_when_it_is_on() {
    let (dir, base) = tiny_base();
    let data = examples();
    let epoch_losses = |cfg: &TrainConfig, name: &str| {
        let mut record = Record::default();
        let outcome = train(
            &base,
            &labels(),
            &data,
            &data,
            cfg,
            &dir.path().join(name),
            &mut record,
        )
        .unwrap();
        let losses: Vec<f64> = record.epochs.iter().map(|e| e.train_loss).collect();
        (losses, outcome)
    };
    let short = TrainConfig {
        epochs: 5,
        ..config()
    };

    // With no dropout anywhere (--dropout leaves attention dropout to the
    // base config) both passes see the same network: the divergence is 0
    // and the loss is the plain cross-entropy, so training follows the same
    // path (up to the order of float sums over the doubled batch).
    let config_path = base.join("config.json");
    let config_text = std::fs::read_to_string(&config_path).unwrap();
    let no_attention_dropout = config_text.replace(
        "\"attention_probs_dropout_prob\": 0.1",
        "\"attention_probs_dropout_prob\": 0.0",
    );
    assert_ne!(config_text, no_attention_dropout, "{config_text}");
    std::fs::write(&config_path, &no_attention_dropout).unwrap();
    let (plain, _) = epoch_losses(&short, "plain");
    let (doubled, _) = epoch_losses(
        &TrainConfig {
            rdrop: 4.0,
            ..short.clone()
        },
        "doubled",
    );
    for (a, b) in plain.iter().zip(&doubled) {
        assert!(
            (a - b).abs() < 1e-4 * a.max(1.0),
            "{plain:?} vs {doubled:?}"
        );
    }

    std::fs::write(&config_path, &config_text).unwrap();

    // With dropout, the two passes differ: the loss carries the divergence,
    // yet training still fits and the saved model labels.
    let with_dropout = TrainConfig {
        dropout: Some(0.2),
        ..config()
    };
    let (without_rdrop, _) = epoch_losses(&with_dropout, "dropout");
    let (losses, outcome) = epoch_losses(
        &TrainConfig {
            rdrop: 4.0,
            ..with_dropout.clone()
        },
        "rdrop",
    );
    assert_ne!(losses, without_rdrop);
    assert!(
        losses.last().unwrap() < &(losses[0] * 0.7),
        "training loss should fall: {losses:?} (without R-Drop: {without_rdrop:?})"
    );
    assert!(outcome.best_macro_f1 > 0.5, "{}", outcome.best_macro_f1);
    assert_saved_model_reproduces(
        &dir.path().join("rdrop"),
        &data,
        &outcome.best_dev_predictions,
    );

    for weight in [-1.0, f64::NAN, f64::INFINITY] {
        let bad = TrainConfig {
            rdrop: weight,
            ..config()
        };
        let err = train_on(&base, &data, &bad, &dir.path().join("bad")).unwrap_err();
        assert!(err.to_string().contains("R-Drop"), "{err}");
    }
}
