//! `stance eval`: score a model (or a rule baseline) against gold labels.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use stance_eval::{baseline, render, EvalInput, Lexicon};
use stance_io::{GoldRecord, PredictionRow};
use stance_model::Classifier;

use crate::cmd::train::codebook_labels;

/// Measure a model against hand-labelled gold sentences.
///
/// Prints accuracy; per-label precision, recall, F1 and support; macro and
/// weighted F1; Cohen's kappa; 95% bootstrap intervals for macro-F1 and
/// accuracy (resampling documents when the gold file has doc_id); the
/// confusion matrix; expected calibration error with a reliability table;
/// lenient accuracy (a prediction equal to `secondary` counts as right); and
/// a breakdown by `source`. With --report DIR it also writes report.md,
/// metrics.json and predictions.parquet there.
///
/// Exit status: 0 on success; 1 when macro-F1 is below --min-macro-f1; 2 on
/// bad input or model.
#[derive(clap::Args)]
pub struct Args {
    /// Gold file (.jsonl, .csv or .parquet) with `text` and `label`; optional
    /// `secondary`, `doc_id`, `source`.
    #[arg(long)]
    pub gold: PathBuf,
    /// Model directory (default: the shipped model).
    #[arg(long, conflicts_with = "baseline")]
    pub model: Option<PathBuf>,
    /// Score a rule baseline instead of a model: `majority` predicts the gold
    /// file's most frequent label; `lexicon` applies cue phrases from the codebook.
    #[arg(long, value_enum)]
    pub baseline: Option<Baseline>,
    /// Directory for report.md, metrics.json and predictions.parquet.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Exit with status 1 when macro-F1 falls below this (0 to 1).
    #[arg(long, value_parser = crate::cmd::unit_interval)]
    pub min_macro_f1: Option<f64>,
    /// Bootstrap resamples for the 95% intervals.
    #[arg(long, default_value_t = stance_eval::DEFAULT_BOOTSTRAP_RESAMPLES)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 128, value_parser = crate::cmd::at_least::<2>)]
    pub max_tokens: usize,
    #[arg(long, default_value_t = 32, value_parser = crate::cmd::at_least::<1>)]
    pub batch_size: usize,
    /// Arithmetic of the encoder's dense layers: `auto` is int8 on CPUs with
    /// AVX-512 VNNI (about 2x faster; labels agree with f32 on over 99% of
    /// sentences), else f32; `f32` reproduces PyTorch's logits.
    #[arg(long, value_enum, default_value_t = crate::cmd::PrecisionArg::Auto)]
    pub precision: crate::cmd::PrecisionArg,
    /// Compute threads (default: all cores).
    #[arg(long, value_parser = crate::cmd::at_least::<1>)]
    pub threads: Option<usize>,
    /// No progress and no warnings on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Baseline {
    Majority,
    Lexicon,
}

/// Predictions for gold texts: label index and probabilities in codebook order.
pub struct Verdicts {
    pub labels: Vec<usize>,
    pub probabilities: Vec<Vec<f32>>,
    pub name: String,
    pub sha256: String,
    /// `f32` or `int8`; empty for baselines.
    pub precision: String,
}

/// The files that --report writes into its folder.
const REPORT_FILES: [&str; 3] = ["report.md", "metrics.json", "predictions.parquet"];

/// Checks and creates the --report folder before any scoring, so that a bad
/// path fails at once: it must not be a file, and none of the files it will
/// hold may be the gold file itself.
fn prepare_report_dir(dir: &std::path::Path, gold: &std::path::Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "--report {} is a file; it takes a folder for {}",
            dir.display(),
            REPORT_FILES.join(", ")
        );
    }
    for name in REPORT_FILES {
        if stance_io::same_file(&dir.join(name), gold) {
            bail!(
                "--report {} would overwrite the gold file {} with its own {name}",
                dir.display(),
                gold.display()
            );
        }
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the --report folder {}", dir.display()))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let workers = crate::cmd::set_inference_threads(args.threads);
    let labels = codebook_labels();
    let names: Vec<&str> = labels.names().iter().map(String::as_str).collect();
    let gold = stance_io::read_gold(&args.gold, &names)?;
    if gold.is_empty() {
        bail!("{}: no gold sentences", args.gold.display());
    }
    if !args.quiet {
        for warning in stance_io::gold_warnings(&gold) {
            eprintln!("warning: {}: {warning}", args.gold.display());
        }
    }
    if let Some(dir) = &args.report {
        prepare_report_dir(dir, &args.gold)?;
    }
    let gold_index: Vec<usize> = gold
        .iter()
        .map(|g| labels.index_of(&g.label).expect("read_gold checks labels"))
        .collect();
    let verdicts = match args.baseline {
        Some(Baseline::Majority) => {
            let majority = baseline::majority(&gold_index).expect("gold is not empty");
            let mut p = vec![0f32; labels.len()];
            p[majority] = 1.0;
            Verdicts {
                labels: vec![majority; gold.len()],
                probabilities: vec![p; gold.len()],
                name: "baseline:majority".into(),
                sha256: String::new(),
                precision: String::new(),
            }
        }
        Some(Baseline::Lexicon) => {
            let lexicon = Lexicon::new();
            let (l, p): (Vec<usize>, Vec<Vec<f32>>) = gold
                .iter()
                .map(|g| {
                    let (l, p) = lexicon.classify(&g.text);
                    (l, p.to_vec())
                })
                .unzip();
            Verdicts {
                labels: l,
                probabilities: p,
                name: "baseline:lexicon".into(),
                sha256: String::new(),
                precision: String::new(),
            }
        }
        None => {
            let dir = args
                .model
                .clone()
                .unwrap_or_else(crate::cmd::default_model_dir);
            let classifier = crate::cmd::load_classifier(
                &dir,
                args.max_tokens,
                args.batch_size,
                args.precision,
                workers,
            )?;
            model_verdicts(&classifier, &gold, &args.gold, args.quiet)?
        }
    };
    let secondary: Vec<Option<usize>> = gold
        .iter()
        .map(|g| g.secondary.as_deref().and_then(|s| labels.index_of(s)))
        .collect();
    let doc_ids: Vec<Option<String>> = gold.iter().map(|g| g.doc_id.clone()).collect();
    let sources: Vec<Option<String>> = gold.iter().map(|g| g.source.clone()).collect();
    let has_secondary = gold.iter().any(|g| g.secondary.is_some());
    let input = EvalInput {
        labels: labels.names(),
        gold: &gold_index,
        predicted: &verdicts.labels,
        probabilities: &verdicts.probabilities,
        secondary: if has_secondary { &secondary } else { &[] },
        doc_ids: if doc_ids.iter().any(Option::is_some) {
            &doc_ids
        } else {
            &[]
        },
        sources: if sources.iter().any(Option::is_some) {
            &sources
        } else {
            &[]
        },
    };
    let report = stance_eval::try_evaluate(&input, args.bootstrap, args.seed)?;
    let title = format!("{} on {}", verdicts.name, args.gold.display());
    print!("{}", render::text(&report, &title));

    if let Some(dir) = &args.report {
        stance_io::write_file_atomic(
            &dir.join("report.md"),
            render::markdown(&report, &title).as_bytes(),
        )?;
        let mut metrics = serde_json::to_value(&report)?;
        metrics["model"] = serde_json::json!(verdicts.name);
        metrics["model_sha256"] = serde_json::json!(verdicts.sha256);
        metrics["precision"] = serde_json::json!(verdicts.precision);
        metrics["gold"] = serde_json::json!(args.gold.display().to_string());
        stance_io::write_file_atomic(
            &dir.join("metrics.json"),
            (serde_json::to_string_pretty(&metrics)? + "\n").as_bytes(),
        )?;
        let rows: Vec<PredictionRow> = gold
            .iter()
            .zip(verdicts.labels.iter().zip(&verdicts.probabilities))
            .map(|(g, (&p, probs))| {
                let mut probabilities = [0f32; 4];
                probabilities.copy_from_slice(&probs[..4]);
                PredictionRow {
                    doc_id: g.doc_id.clone(),
                    source: g.source.clone(),
                    text: g.text.clone(),
                    gold: g.label.clone(),
                    secondary: g.secondary.clone(),
                    predicted: labels.name(p).to_string(),
                    confidence: probs[p],
                    probabilities,
                }
            })
            .collect();
        let meta = vec![
            (
                "stance.version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("stance.model".to_string(), verdicts.name.clone()),
            ("stance.model_sha256".to_string(), verdicts.sha256.clone()),
            (
                "stance.labels".to_string(),
                serde_json::to_string(labels.names())?,
            ),
            (
                "stance.schema_version".to_string(),
                stance_io::SCHEMA_VERSION.to_string(),
            ),
            ("stance.precision".to_string(), verdicts.precision.clone()),
        ];
        stance_io::write_predictions(&dir.join("predictions.parquet"), &rows, &meta)?;
        if !args.quiet {
            eprintln!(
                "wrote report.md, metrics.json and predictions.parquet to {}",
                dir.display()
            );
        }
    }
    if let Some(min) = args.min_macro_f1 {
        if report.macro_f1 < min {
            eprintln!(
                "macro-F1 {:.4} is below --min-macro-f1 {min}",
                report.macro_f1
            );
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the classifier over the gold sentences of `path`.
pub fn model_verdicts(
    classifier: &Classifier,
    gold: &[GoldRecord],
    path: &Path,
    quiet: bool,
) -> Result<Verdicts> {
    let (labels, probabilities) =
        crate::cmd::predict_gold(classifier, gold, path, "scoring", quiet)?
            .into_iter()
            .map(|p| (p.label, p.probabilities))
            .unzip();
    Ok(Verdicts {
        labels,
        probabilities,
        name: classifier.model_dir().name(),
        sha256: classifier.weights_sha256()?,
        precision: classifier.precision().name().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_folder_must_not_be_a_file_or_hold_the_gold_file() {
        let dir = tempfile::tempdir().unwrap();
        let gold = dir.path().join("predictions.parquet");
        std::fs::write(&gold, "").unwrap();

        let err = prepare_report_dir(&gold, &gold).unwrap_err().to_string();
        assert!(
            err.contains("predictions.parquet is a file; it takes a folder"),
            "{err}"
        );
        let err = prepare_report_dir(dir.path(), &gold)
            .unwrap_err()
            .to_string();
        assert!(err.contains("would overwrite the gold file"), "{err}");
        assert!(err.ends_with("with its own predictions.parquet"), "{err}");

        let report = dir.path().join("reports/dev");
        prepare_report_dir(&report, &gold).unwrap();
        assert!(report.is_dir());
    }
}
