//! Tiny randomly initialised models, for tests that must run in seconds.
//!
//! The tokenizer is a real WordPiece `tokenizer.json` with a 132-token
//! vocabulary (letters, digits, punctuation and a few communiqué words), so
//! any English text tokenises; the encoder has 2 layers of width 32.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use rand::{rngs::StdRng, SeedableRng};

use crate::config::{LabelSet, ModelConfig};
use crate::dir::{save_model, write_atomic, StorageDType, CONFIG_FILE, TOKENIZER_FILE};
use crate::error::ModelError;
use crate::init::normal_tensor;

/// The tiny tokenizer's JSON.
pub const TINY_TOKENIZER_JSON: &str = include_str!("testing/tiny-tokenizer.json");

/// The tiny encoder's `config.json` (a bare `BertModel`, no labels).
pub fn tiny_config() -> ModelConfig {
    ModelConfig::from_json(
        r#"{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 132,
            "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64,
            "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
            "position_embedding_type": "absolute"}"#,
    )
    .expect("the tiny config is valid")
}

/// Random weights for every tensor of a BERT with the given config, under
/// `BertForSequenceClassification` names (`bert.` prefix) when `labels` is
/// given, else under bare `BertModel` names.
pub fn random_weights(
    config: &ModelConfig,
    labels: Option<&LabelSet>,
    seed: u64,
) -> Result<HashMap<String, Tensor>, ModelError> {
    let device = Device::Cpu;
    let mut rng = StdRng::seed_from_u64(seed);
    let prefix = if labels.is_some() { "bert." } else { "" };
    let h = config.hidden_size;
    let i = config.intermediate_size;
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![config.vocab_size, h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![config.max_position_embeddings, h],
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![config.type_vocab_size, h],
        ),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
        ("pooler.dense.weight".into(), vec![h, h]),
        ("pooler.dense.bias".into(), vec![h]),
    ];
    for layer in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{layer}.");
        for name in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ] {
            shapes.push((format!("{p}{name}.weight"), vec![h, h]));
            shapes.push((format!("{p}{name}.bias"), vec![h]));
        }
        shapes.push((format!("{p}intermediate.dense.weight"), vec![i, h]));
        shapes.push((format!("{p}intermediate.dense.bias"), vec![i]));
        shapes.push((format!("{p}output.dense.weight"), vec![h, i]));
        shapes.push((format!("{p}output.dense.bias"), vec![h]));
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            shapes.push((format!("{p}{ln}.weight"), vec![h]));
            shapes.push((format!("{p}{ln}.bias"), vec![h]));
        }
    }
    let mut tensors = HashMap::new();
    for (name, shape) in shapes {
        let tensor = if name.contains("LayerNorm.weight") {
            (normal_tensor(&shape, 0.1, &mut rng, &device)? + 1.0)?
        } else {
            normal_tensor(&shape, 0.2, &mut rng, &device)?
        };
        tensors.insert(format!("{prefix}{name}"), tensor);
    }
    if let Some(labels) = labels {
        tensors.insert(
            "classifier.weight".into(),
            normal_tensor(&[labels.len(), h], 0.5, &mut rng, &device)?,
        );
        tensors.insert(
            "classifier.bias".into(),
            normal_tensor(&[labels.len()], 0.1, &mut rng, &device)?,
        );
    }
    Ok(tensors)
}

/// Writes a tiny model directory: a classifier when `labels` is given, else
/// a bare encoder shaped like the base model.
pub fn write_tiny_model(
    dir: &Path,
    labels: Option<&LabelSet>,
    seed: u64,
) -> Result<(), ModelError> {
    let config = tiny_config();
    let tensors = random_weights(&config, labels, seed)?;
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let tokenizer = dir.join(TOKENIZER_FILE);
    write_atomic(&tokenizer, TINY_TOKENIZER_JSON.as_bytes())?;
    match labels {
        Some(labels) => save_model(
            dir,
            &config,
            labels,
            1.0,
            &tokenizer,
            &tensors,
            StorageDType::F32,
        ),
        None => {
            let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), None)
                .map_err(|e| ModelError::Weights {
                    path: dir.to_owned(),
                    message: e.to_string(),
                })?;
            write_atomic(&dir.join(crate::dir::WEIGHTS_FILE), &bytes)?;
            let json = serde_json::to_string_pretty(&serde_json::Value::Object(config.raw.clone()))
                .expect("serialises");
            write_atomic(&dir.join(CONFIG_FILE), json.as_bytes())
        }
    }
}
