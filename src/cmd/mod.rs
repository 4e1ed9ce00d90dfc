//! One module per subcommand, and what they share.

pub mod calibrate;
pub mod eval;
pub mod interrupt;
pub mod label;
pub mod summarize;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use stance_model::{Classifier, ClassifierOptions, Precision, Prediction};

/// Parses a count flag that must be at least `MIN`, so that
/// `--batch-size 0` is a usage error naming the flag.
pub fn at_least<const MIN: usize>(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= MIN => Ok(n),
        Ok(_) => Err(format!("must be at least {MIN}")),
        Err(_) => Err(format!("expected a whole number of at least {MIN}")),
    }
}

/// Checks, before any work, that `path` can be an output file: not an
/// existing directory, and in a folder that exists.
pub fn check_output_file(path: &std::path::Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "{} is a directory; -o takes a file path (e.g. {})",
            path.display(),
            path.join("labels.parquet").display()
        );
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        anyhow::bail!(
            "cannot write {}: the folder {} does not exist",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

/// Clap value parser for a share or score: a number from 0 to 1 (NaN and
/// infinities refused).
pub fn unit_interval(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        Ok(_) => Err("must be a number from 0 to 1".to_string()),
        Err(_) => Err("expected a number from 0 to 1".to_string()),
    }
}

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
/// For labelling: `threads` workers (default: every core), each running whole
/// batches with single-threaded operations. Returns the worker count.
pub fn set_inference_threads(threads: Option<usize>) -> usize {
    let workers = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    // Read by candle's operations (at each call) and by rayon's pool when it starts.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    workers
}

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

/// `--precision`: the arithmetic of the encoder's dense layers.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum PrecisionArg {
    /// int8 where the CPU has AVX-512 VNNI, else f32.
    #[default]
    Auto,
    /// int8 weights and activations: fastest, labels agree with f32 on nearly every sentence.
    Int8,
    /// f32 throughout: PyTorch's logits within 1e-4.
    F32,
}

impl PrecisionArg {
    pub fn resolve(self) -> Precision {
        match self {
            PrecisionArg::Auto => Precision::fastest(),
            PrecisionArg::Int8 => Precision::Int8,
            PrecisionArg::F32 => Precision::F32,
        }
    }
}

/// Loads a classifier and checks that it predicts the codebook's labels.
pub fn load_classifier(
    dir: &Path,
    max_tokens: usize,
    batch_size: usize,
    precision: PrecisionArg,
    workers: usize,
) -> Result<Classifier> {
    let mut classifier = Classifier::load(
        dir,
        ClassifierOptions {
            max_tokens,
            batch_size,
            precision: precision.resolve(),
            workers,
        },
    )
    .with_context(|| format!("cannot load the model in {}", dir.display()))?;
    let model_order = classifier.labels().names().to_vec();
    if classifier
        .order_labels_as(train::codebook_labels().names())
        .is_err()
    {
        bail!(
            "{}: the model's labels {:?} are not the codebook's {:?}",
            dir.display(),
            model_order,
            stance_io::LABELS
        );
    }
    Ok(classifier)
}

/// Predictions for gold sentences, each read after the previous sentence of
/// its document (by `doc_id`, for models that read it), with a progress bar.
/// Warns when such a model gets gold records without `doc_id`.
pub fn predict_gold(
    classifier: &Classifier,
    gold: &[stance_io::GoldRecord],
    path: &Path,
    prefix: &str,
    quiet: bool,
) -> Result<Vec<Prediction>> {
    if !quiet && classifier.context_tokens() > 0 && gold.iter().all(|g| g.doc_id.is_none()) {
        eprintln!(
            "warning: {}: no doc_id field, so sentences are scored without the sentence \
             before them, which this model ({}) reads",
            path.display(),
            classifier.model_dir().name()
        );
    }
    let texts: Vec<&str> = gold.iter().map(|g| g.text.as_str()).collect();
    let previous = stance_io::previous_in_document(gold);
    predict_with_progress(classifier, &texts, &previous, prefix, quiet)
}

/// Labels sentences, each after its previous sentence (`None`: none), in
/// chunks of 512 with a progress bar; in input order.
pub fn predict_with_progress(
    classifier: &Classifier,
    texts: &[&str],
    previous: &[Option<&str>],
    prefix: &str,
    quiet: bool,
) -> Result<Vec<Prediction>> {
    let bar = crate::progress::bar(
        texts.len() as u64,
        "sentences",
        crate::progress::enabled(quiet),
    );
    bar.set_prefix(prefix.to_string());
    let mut predictions = Vec::with_capacity(texts.len());
    for (texts, previous) in texts.chunks(512).zip(previous.chunks(512)) {
        predictions.extend(classifier.predict_in_context(texts, previous)?);
        bar.inc(texts.len() as u64);
    }
    bar.finish_and_clear();
    Ok(predictions)
}
