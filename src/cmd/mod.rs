//! One module per subcommand, and what they share.

pub mod calibrate;
pub mod eval;
pub mod interrupt;
pub mod label;
pub mod summarize;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use stance_model::{Classifier, ClassifierOptions};

/// The directory name of the shipped default model under `models/`.
pub const DEFAULT_MODEL_NAME: &str = "stance-minilm-l6";

/// The model used when `--model` is not given: `$STANCE_MODEL`, else
/// `models/stance-minilm-l6` in the current directory, else the one in the
/// source tree this binary was built from.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STANCE_MODEL") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models").join(DEFAULT_MODEL_NAME);
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(DEFAULT_MODEL_NAME)
}

/// Sets the number of compute threads before any model code runs.
pub fn set_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        let n = n.max(1);
        // Read by candle's matmul and by rayon when their pools start.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
}

/// Whether the error chain holds a broken pipe (a closed `| head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<stance_io::IoError>()
                .is_some_and(|e| e.is_broken_pipe())
    })
}

/// Loads a classifier and checks that it predicts the codebook's labels.
pub fn load_classifier(dir: &Path, max_tokens: usize, batch_size: usize) -> Result<Classifier> {
    let classifier = Classifier::load(
        dir,
        ClassifierOptions {
            max_tokens,
            batch_size,
        },
    )
    .with_context(|| format!("cannot load the model in {}", dir.display()))?;
    if classifier.labels().names() != stance_io::LABELS {
        bail!(
            "{}: the model's labels {:?} are not the codebook's {:?}",
            dir.display(),
            classifier.labels().names(),
            stance_io::LABELS
        );
    }
    Ok(classifier)
}
