use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use sha2::{Digest, Sha256};

use crate::config::{LabelSet, ModelConfig};
use crate::error::{ModelError, HOW_TO_GET_A_MODEL};

pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// A model directory whose three files exist and whose config parses.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub path: PathBuf,
    pub config: ModelConfig,
}

impl ModelDir {
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        if path.is_file() {
            let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
            let hint = match folder {
                Some(folder) if folder.join(CONFIG_FILE).is_file() => {
                    format!(" (here: {})", folder.display())
                }
                _ => String::new(),
            };
            return Err(ModelError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("is a file; a model is the folder that holds it{hint}"),
                ),
            });
        }
        if !path.is_dir() {
            return Err(ModelError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no such model directory. {HOW_TO_GET_A_MODEL}"),
                ),
            });
        }
        for file in [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE] {
            if !path.join(file).is_file() {
                return Err(ModelError::MissingFile {
                    dir: path.to_owned(),
                    file,
                    hint: HOW_TO_GET_A_MODEL,
                });
            }
        }
        let config = ModelConfig::from_file(&path.join(CONFIG_FILE))?;
        Ok(Self {
            path: path.to_owned(),
            config,
        })
    }

    pub fn weights_path(&self) -> PathBuf {
        self.path.join(WEIGHTS_FILE)
    }

    pub fn tokenizer_path(&self) -> PathBuf {
        self.path.join(TOKENIZER_FILE)
    }

    /// A name for the model: the directory's final component.
    pub fn name(&self) -> String {
        let canonical = self
            .path
            .canonicalize()
            .unwrap_or_else(|_| self.path.clone());
        canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| canonical.display().to_string())
    }

    /// Memory-maps the weights, checking that the file is a valid safetensors file.
    pub fn var_builder(
        &self,
        dtype: DType,
        device: &Device,
    ) -> Result<VarBuilder<'static>, ModelError> {
        let path = self.weights_path();
        // SAFETY: the file is mapped read-only; the model directory is not
        // expected to change while a command runs.
        unsafe { VarBuilder::from_mmaped_safetensors(&[&path], dtype, device) }.map_err(|e| {
            ModelError::Weights {
                path: path.clone(),
                message: format!(
                    "not a readable safetensors file ({e}); the file may be truncated"
                ),
            }
        })
    }
}

/// The sha256 of a file, as lowercase hex.
pub fn weights_sha256(path: &Path) -> Result<String, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Reads every tensor of a model directory in f32 under `transformers`'
/// `BertForSequenceClassification` names: a bare encoder's names
/// (`embeddings.*`) get the `bert.` prefix.
pub fn load_weights_for_training(
    dir: &ModelDir,
    device: &Device,
) -> Result<HashMap<String, Tensor>, ModelError> {
    let path = dir.weights_path();
    let tensors =
        candle_core::safetensors::load(&path, device).map_err(|e| ModelError::Weights {
            path: path.clone(),
            message: format!("not a readable safetensors file ({e}); the file may be truncated"),
        })?;
    let mut out = HashMap::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        if !tensor.dtype().is_float() {
            continue; // e.g. `embeddings.position_ids`
        }
        let name = if name.starts_with("bert.") || name.starts_with("classifier.") {
            name
        } else {
            format!("bert.{name}")
        };
        out.insert(name, tensor.to_dtype(DType::F32)?);
    }
    Ok(out)
}

/// How weights are stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDType {
    F32,
    F16,
}

/// Writes a `BertForSequenceClassification` directory: config, tokenizer and
/// weights, each through a temporary file renamed into place.
pub fn save_model(
    out: &Path,
    base_config: &ModelConfig,
    labels: &LabelSet,
    temperature: f64,
    tokenizer_json: &Path,
    tensors: &HashMap<String, Tensor>,
    storage: StorageDType,
) -> Result<(), ModelError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ModelError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let dtype = match storage {
        StorageDType::F32 => DType::F32,
        StorageDType::F16 => DType::F16,
    };
    let mut converted: Vec<(String, Tensor)> = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        converted.push((name.clone(), tensor.to_dtype(dtype)?.contiguous()?));
    }
    converted.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    let bytes = safetensors::serialize(
        converted.iter().map(|(n, t)| (n.as_str(), t)),
        Some(metadata),
    )
    .map_err(|e| ModelError::Weights {
        path: out.join(WEIGHTS_FILE),
        message: e.to_string(),
    })?;
    write_atomic(&out.join(WEIGHTS_FILE), &bytes)?;
    let config = base_config.to_classifier_json(labels, temperature);
    let mut config_text = serde_json::to_string_pretty(&config).expect("config serialises");
    config_text.push('\n');
    write_atomic(&out.join(CONFIG_FILE), config_text.as_bytes())?;
    let tokenizer = std::fs::read(tokenizer_json).map_err(io(tokenizer_json))?;
    write_atomic(&out.join(TOKENIZER_FILE), &tokenizer)?;
    Ok(())
}

/// Writes through `stance-atomic`: a temporary file beside `path`, renamed
/// into place, and removed by an interrupt while pending.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    stance_atomic::write_file_atomic(path, bytes).map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })
}
