use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::ModelError;

/// The ordered labels a classifier predicts, index `i` being logit `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSet {
    names: Vec<String>,
}

impl LabelSet {
    pub fn new(names: Vec<String>) -> Self {
        Self { names }
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    pub fn name(&self, index: usize) -> &str {
        &self.names[index]
    }
}

/// The fields of a Hugging Face BERT `config.json` that the encoder needs,
/// plus the whole JSON object so that a saved model keeps every other field.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: String,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    pub classifier_dropout: Option<f64>,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: u32,
    /// Labels from `id2label`; `None` for a bare encoder.
    pub labels: Option<LabelSet>,
    /// Softmax temperature fitted by `stance calibrate` (key `stance_temperature`).
    pub temperature: f64,
    /// Tokens of the previous sentence of the same document given to the
    /// model as a second segment (key `stance_context_tokens`); 0: none.
    pub context_tokens: usize,
    /// The complete JSON object as read.
    pub raw: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawConfig {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default = "default_dropout")]
    hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    attention_probs_dropout_prob: f64,
    #[serde(default)]
    classifier_dropout: Option<f64>,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    pad_token_id: u32,
    #[serde(default)]
    id2label: Option<BTreeMap<String, String>>,
    #[serde(default)]
    stance_temperature: Option<f64>,
    #[serde(default)]
    stance_context_tokens: usize,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

impl ModelConfig {
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text).map_err(|message| ModelError::Config {
            path: path.to_owned(),
            message,
        })
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let raw = match &value {
            serde_json::Value::Object(map) => map.clone(),
            _ => return Err("expected a JSON object".into()),
        };
        let c: RawConfig = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if c.hidden_size == 0 || c.num_attention_heads == 0 {
            return Err("hidden_size and num_attention_heads must be positive".into());
        }
        if !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size, c.num_attention_heads
            ));
        }
        if !matches!(
            c.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu"
        ) {
            return Err(format!("unsupported hidden_act {:?}", c.hidden_act));
        }
        if let Some(kind) = &c.position_embedding_type {
            if kind != "absolute" {
                return Err(format!("unsupported position_embedding_type {kind:?}"));
            }
        }
        let labels = match c.id2label {
            None => None,
            Some(map) => {
                let mut pairs = Vec::with_capacity(map.len());
                for (id, name) in map {
                    let id: usize = id
                        .parse()
                        .map_err(|_| format!("id2label key {id:?} is not an integer"))?;
                    pairs.push((id, name));
                }
                pairs.sort();
                for (expected, (id, _)) in pairs.iter().enumerate() {
                    if *id != expected {
                        return Err(format!("id2label ids must be 0..{}", pairs.len()));
                    }
                }
                Some(LabelSet::new(pairs.into_iter().map(|(_, n)| n).collect()))
            }
        };
        let temperature = c.stance_temperature.unwrap_or(1.0);
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(format!(
                "stance_temperature must be positive, got {temperature}"
            ));
        }
        let mut config = Self {
            vocab_size: c.vocab_size,
            hidden_size: c.hidden_size,
            num_hidden_layers: c.num_hidden_layers,
            num_attention_heads: c.num_attention_heads,
            intermediate_size: c.intermediate_size,
            hidden_act: c.hidden_act,
            hidden_dropout_prob: c.hidden_dropout_prob,
            attention_probs_dropout_prob: c.attention_probs_dropout_prob,
            classifier_dropout: c.classifier_dropout,
            max_position_embeddings: c.max_position_embeddings,
            type_vocab_size: c.type_vocab_size,
            layer_norm_eps: c.layer_norm_eps,
            pad_token_id: c.pad_token_id,
            labels,
            temperature,
            context_tokens: 0,
            raw,
        };
        config
            .set_context_tokens(c.stance_context_tokens)
            .map_err(|e| format!("stance_context_tokens: {e}"))?;
        Ok(config)
    }

    /// Sets the tokens of the previous sentence the model reads (0: none);
    /// an error when they would leave no room for a sentence.
    pub fn set_context_tokens(&mut self, tokens: usize) -> Result<(), String> {
        if tokens > 0 && tokens + 3 > self.max_position_embeddings {
            return Err(format!(
                "{tokens} context tokens leave no room for a sentence in {} positions",
                self.max_position_embeddings
            ));
        }
        self.context_tokens = tokens;
        Ok(())
    }

    /// The JSON to save beside fine-tuned weights: every field read, with the
    /// classification fields of `BertForSequenceClassification` set.
    pub fn to_classifier_json(&self, labels: &LabelSet, temperature: f64) -> serde_json::Value {
        use serde_json::{json, Value};
        let mut raw = self.raw.clone();
        let id2label: serde_json::Map<String, Value> = labels
            .names()
            .iter()
            .enumerate()
            .map(|(i, n)| (i.to_string(), Value::String(n.clone())))
            .collect();
        let label2id: serde_json::Map<String, Value> = labels
            .names()
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), json!(i)))
            .collect();
        raw.insert(
            "architectures".into(),
            json!(["BertForSequenceClassification"]),
        );
        raw.insert("model_type".into(), json!("bert"));
        raw.insert("id2label".into(), Value::Object(id2label));
        raw.insert("label2id".into(), Value::Object(label2id));
        raw.insert("problem_type".into(), json!("single_label_classification"));
        raw.insert(
            "hidden_dropout_prob".into(),
            json!(self.hidden_dropout_prob),
        );
        raw.insert("stance_temperature".into(), json!(temperature));
        if self.context_tokens > 0 {
            raw.insert("stance_context_tokens".into(), json!(self.context_tokens));
        } else {
            raw.remove("stance_context_tokens");
        }
        raw.remove("_name_or_path");
        raw.remove("torch_dtype");
        Value::Object(raw)
    }

    /// Tokens a sentence may take when `requested` are asked for: no more
    /// than the positions left beside the context segment and its `[SEP]`.
    pub fn sentence_tokens(&self, requested: usize) -> usize {
        let context = match self.context_tokens {
            0 => 0,
            n => n + 1,
        };
        requested.min(self.max_position_embeddings.saturating_sub(context))
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 16,
        "id2label": {"1": "b", "0": "a"}}"#;

    #[test]
    fn reads_labels_in_id_order() {
        let c = ModelConfig::from_json(MINI).unwrap();
        assert_eq!(
            c.labels.unwrap().names(),
            &["a".to_string(), "b".to_string()]
        );
        assert_eq!(c.temperature, 1.0);
    }

    #[test]
    fn rejects_heads_that_do_not_divide_hidden() {
        let bad = MINI.replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 3");
        let err = ModelConfig::from_json(&bad).unwrap_err();
        assert!(err.contains("not a multiple"), "{err}");
    }

    #[test]
    fn rejects_gapped_label_ids() {
        let bad = MINI.replace("\"1\": \"b\"", "\"2\": \"b\"");
        assert!(ModelConfig::from_json(&bad)
            .unwrap_err()
            .contains("id2label"));
    }

    #[test]
    fn classifier_json_round_trips() {
        let c = ModelConfig::from_json(MINI).unwrap();
        let labels = LabelSet::new(vec!["x".into(), "y".into(), "z".into()]);
        let json = c.to_classifier_json(&labels, 1.5);
        assert!(json.get("stance_context_tokens").is_none());
        let back = ModelConfig::from_json(&json.to_string()).unwrap();
        assert_eq!(back.labels.unwrap(), labels);
        assert_eq!(back.temperature, 1.5);
        assert_eq!(json["label2id"]["z"], 2);
        assert_eq!(back.context_tokens, 0);

        let with_context = ModelConfig {
            context_tokens: 8,
            ..c
        };
        let json = with_context.to_classifier_json(&labels, 1.0);
        assert_eq!(json["stance_context_tokens"], 8);
        let back = ModelConfig::from_json(&json.to_string()).unwrap();
        assert_eq!(back.context_tokens, 8);
        // 16 positions: 8 of context and its [SEP] leave 7 for the sentence.
        assert_eq!(back.sentence_tokens(4), 4);
        assert_eq!(back.sentence_tokens(128), 7);

        let too_long = json.to_string().replace(
            "\"stance_context_tokens\":8",
            "\"stance_context_tokens\":14",
        );
        assert!(ModelConfig::from_json(&too_long)
            .unwrap_err()
            .contains("no room"));
    }
}
