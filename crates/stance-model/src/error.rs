use std::path::PathBuf;

/// Everything that can go wrong while loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{dir}: not a model directory: missing {file}. {hint}")]
    MissingFile {
        dir: PathBuf,
        file: &'static str,
        hint: &'static str,
    },
    #[error("{path}: invalid config: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: cannot read the tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("{path}: the weights do not match config.json: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tokenizing failed: {0}")]
    Encode(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub(crate) const HOW_TO_GET_A_MODEL: &str = "A model directory holds config.json, tokenizer.json \
and model.safetensors: use the shipped one in models/, train one with `stance train`, or fetch the \
base encoder with scripts/fetch-base-model.sh.";
