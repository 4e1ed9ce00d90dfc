//! The stance classifier: a BERT encoder with the `BertForSequenceClassification`
//! head, its WordPiece tokenizer, and batched inference.
//!
//! A model is a directory in the Hugging Face layout (`config.json` with
//! `id2label`, `tokenizer.json`, `model.safetensors` in f32 or f16), so the same
//! directory loads in Python's `transformers` unchanged.
//!
//! This crate knows nothing of documents, sentences segmentation or output
//! files, and never prints: it turns texts into label probabilities, and
//! provides the differentiable forward pass that `stance-train` builds on.

mod bert;
mod config;
mod dir;
mod error;
pub mod init;
mod kernels;
mod predict;
pub mod quant;
pub mod testing;
mod tokenize;

pub use bert::{BertEncoder, ClassificationHead, Dropout, ForwardMode, SequenceClassifier};
pub use config::{LabelSet, ModelConfig};
pub use dir::{
    load_weights_for_training, save_model, weights_sha256, ModelDir, StorageDType, CONFIG_FILE,
    TOKENIZER_FILE, WEIGHTS_FILE,
};
pub use error::ModelError;
pub use predict::{softmax, Classifier, ClassifierOptions, Precision, Prediction};
pub use tokenize::{prefix_to_tokenize, Batch, Encoded, SentenceTokenizer};

/// Re-exported so that callers name devices and dtypes without depending on candle.
pub use candle_core::{DType, Device};
