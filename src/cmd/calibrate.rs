//! `stance calibrate`: fit a softmax temperature on dev data and store it in the model.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use stance_eval::calibration;

use crate::cmd::load_classifier;
use crate::cmd::train::codebook_labels;

/// Fit a softmax temperature on a dev set and store it in the model directory.
///
/// The temperature T minimises the dev negative log-likelihood of
/// softmax(logits / T). It is saved as `stance_temperature` in the model's
/// config.json; `stance label` and `stance eval` apply it. Predicted labels do
/// not change, only the probabilities. Prints the expected calibration error
/// (10 bins) before and after.
///
/// A fit that ends at the edge of the search range (T = 0.05 or 20: the dev
/// set is too small, or the model separates it perfectly) is an error and
/// nothing is stored. Fewer than 200 dev sentences get a warning.
#[derive(clap::Args)]
pub struct Args {
    /// Dev gold file (.jsonl, .csv or .parquet) with `text` and `label`.
    #[arg(long)]
    pub dev: PathBuf,
    /// Model directory to calibrate (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Print the fitted temperature without writing it.
    #[arg(long)]
    pub dry_run: bool,
    /// Sentences longer than this many tokens are cut.
    #[arg(long, default_value_t = 128, value_parser = crate::cmd::at_least::<2>)]
    pub max_tokens: usize,
    /// Arithmetic of the encoder's dense layers: `auto` is int8 on CPUs with
    /// AVX-512 VNNI (about 2x faster; labels agree with f32 on over 99% of
    /// sentences), else f32; `f32` reproduces PyTorch's logits.
    #[arg(long, value_enum, default_value_t = crate::cmd::PrecisionArg::Auto)]
    pub precision: crate::cmd::PrecisionArg,
    /// Compute threads (default: all cores).
    #[arg(long, value_parser = crate::cmd::at_least::<1>)]
    pub threads: Option<usize>,
    /// No progress bar and no "stored" note.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let workers = crate::cmd::set_inference_threads(args.threads);
    let labels = codebook_labels();
    let names: Vec<&str> = labels.names().iter().map(String::as_str).collect();
    let gold = stance_io::read_gold(&args.dev, &names)?;
    if gold.is_empty() {
        bail!("{}: no gold sentences", args.dev.display());
    }
    let dir = args
        .model
        .clone()
        .unwrap_or_else(crate::cmd::default_model_dir);
    let classifier = load_classifier(&dir, args.max_tokens, 32, args.precision, workers)?;
    let gold_index: Vec<usize> = gold
        .iter()
        .map(|g| labels.index_of(&g.label).expect("checked"))
        .collect();
    let logits: Vec<Vec<f32>> =
        crate::cmd::predict_gold(&classifier, &gold, &args.dev, "", args.quiet)?
            .into_iter()
            .map(|p| p.logits)
            .collect();
    let probs_at = |t: f64| -> Vec<Vec<f32>> {
        logits
            .iter()
            .map(|l| calibration::softmax_with_temperature(l, t))
            .collect()
    };
    let previous = classifier.temperature();
    let ece_before = calibration::expected_calibration_error(&probs_at(previous), &gold_index, 10);
    let fitted = calibration::fit_temperature(&logits, &gold_index);
    let ece_after = calibration::expected_calibration_error(&probs_at(fitted), &gold_index, 10);
    println!(
        "temperature {previous:.4} -> {fitted:.4}; expected calibration error (10 bins) {ece_before:.4} -> {ece_after:.4}; NLL {:.4} -> {:.4} on {} sentences",
        calibration::mean_nll(&logits, &gold_index, previous),
        calibration::mean_nll(&logits, &gold_index, fitted),
        gold.len()
    );
    if gold.len() < 200 {
        eprintln!(
            "warning: {}: a temperature fitted on {} sentences is unreliable; \
             use a few hundred or more",
            args.dev.display(),
            gold.len()
        );
    }
    let at_bound = [calibration::MIN_TEMPERATURE, calibration::MAX_TEMPERATURE]
        .iter()
        .any(|bound| (fitted / bound - 1.0).abs() < 1e-6);
    if at_bound {
        bail!(
            "{}: the fitted temperature {fitted:.4} is at the edge of the search range \
             ({} to {}): the dev set is too small or the model separates it perfectly; \
             nothing stored",
            args.dev.display(),
            calibration::MIN_TEMPERATURE,
            calibration::MAX_TEMPERATURE
        );
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let config_path = dir.join(stance_model::CONFIG_FILE);
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let mut config: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: invalid JSON", config_path.display()))?;
    config["stance_temperature"] = serde_json::json!(fitted);
    stance_io::write_file_atomic(
        &config_path,
        (serde_json::to_string_pretty(&config)? + "\n").as_bytes(),
    )?;
    if !args.quiet {
        eprintln!(
            "stored stance_temperature {fitted:.4} in {}",
            config_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
