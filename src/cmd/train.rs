//! `stance train`: fine-tune the encoder and head on gold sentences.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use indicatif::ProgressBar;
use stance_model::{LabelSet, StorageDType};
use stance_train::{ClassWeighting, EpochReport, Example, TrainConfig, TrainObserver};

use crate::progress;

/// Fine-tune a BERT encoder and classification head on gold sentences.
///
/// Full fine-tuning in f32 on the CPU with AdamW, linear warm-up and decay,
/// and class-weighted cross-entropy. The dev set is scored after each epoch;
/// the best epoch by macro-F1 is saved to --out as a
/// BertForSequenceClassification directory (config.json, tokenizer.json,
/// model.safetensors), and training stops early after --patience epochs
/// without improvement. The same seed on the same machine gives the same
/// model. Gold files are JSONL, CSV or Parquet with `text` and `label`
/// (optional `secondary`).
///
/// The defaults are the recipe of the shipped model (see its MODEL_CARD.md):
/// on ../shared/datasets/train.jsonl and dev.jsonl they reproduce its
/// weights in about 55 minutes on 2 cores (`stance calibrate` then fits its
/// temperature). `--adversarial 0` takes about 30 minutes, for a model about
/// 0.018 macro-F1 weaker on dev.
#[derive(clap::Args)]
pub struct Args {
    /// Training gold file (.jsonl, .csv or .parquet).
    #[arg(long)]
    pub train: PathBuf,
    /// Dev gold file, scored after each epoch to pick the best one.
    #[arg(long)]
    pub dev: PathBuf,
    /// Base model directory (fetch it with scripts/fetch-base-model.sh).
    #[arg(long, default_value = "base-model/all-MiniLM-L6-v2")]
    pub base: PathBuf,
    /// Output model directory; written only when an epoch is the best so far.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 5, value_parser = crate::cmd::at_least::<1>)]
    pub epochs: usize,
    /// Peak learning rate.
    #[arg(long = "lr", default_value_t = 5e-5)]
    pub learning_rate: f64,
    /// Layer-wise learning-rate decay: the head trains at --lr, the top
    /// encoder layer at --lr × D, each layer below at one more factor of D,
    /// the embeddings lowest. 1: one rate for all.
    #[arg(long, default_value_t = 1.0, value_name = "D")]
    pub layer_decay: f64,
    /// Keep the base model's word embeddings (a third of its weights) as
    /// they are: words the training set lacks keep their place beside the
    /// words it has.
    #[arg(long)]
    pub freeze_word_embeddings: bool,
    #[arg(long, default_value_t = 16, value_parser = crate::cmd::at_least::<1>)]
    pub batch_size: usize,
    /// Sentences are cut to this many tokens, special tokens included.
    #[arg(long, default_value_t = 128, value_parser = crate::cmd::at_least::<2>)]
    pub max_tokens: usize,
    /// Give the model up to this many tokens of the previous sentence of the
    /// same document (by `doc_id`, in file order) as a second segment:
    /// `[CLS] sentence [SEP] previous [SEP]`. Stored in the model's
    /// config.json, so `label` and `eval` read the same context. 0: none.
    #[arg(long, default_value_t = 0)]
    pub context_tokens: usize,
    /// Fraction of all steps spent warming up the learning rate (0 to 1).
    #[arg(long, default_value_t = 0.1, value_parser = crate::cmd::unit_interval)]
    pub warmup: f64,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Hidden and classifier dropout, 0 to 1 (default: the base model's config).
    #[arg(long, value_parser = crate::cmd::unit_interval)]
    pub dropout: Option<f64>,
    /// Seed of every random choice: the new head, batch order and dropout.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Seed of the batch order and dropout only (default: --seed). Runs that
    /// share --seed but not this start from the same weights, so their
    /// weights can be averaged (a model soup).
    #[arg(long)]
    pub data_seed: Option<u64>,
    /// Loss weight per class from the training label counts.
    #[arg(long, value_enum, default_value_t = Weighting::Sqrt)]
    pub class_weights: Weighting,
    /// Epochs without a better dev macro-F1 before stopping (0: never stop early).
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Target mass moved to a sentence's `secondary` label (0: hard labels).
    #[arg(long, default_value_t = 0.0)]
    pub secondary_weight: f64,
    /// Label smoothing: this share of every target is spread evenly over
    /// the labels, so the model is not pushed towards certainty on labels
    /// that annotators could read either way (0: none; 0.1 is common).
    #[arg(long, default_value_t = 0.0, value_name = "EPSILON")]
    pub label_smoothing: f64,
    /// R-Drop: run each batch twice under different dropout masks and add
    /// this weight times the symmetric KL divergence between the two
    /// predictions to the loss, so the model learns to answer the same
    /// whatever dropout leaves out (0: off). Each step costs about twice as much.
    #[arg(long, default_value_t = 0.0, value_name = "WEIGHT")]
    pub rdrop: f64,
    /// Adversarial training (FGM): after each step's backward pass, move the
    /// word embeddings of the batch's tokens this far along their gradient
    /// (L2 norm over the whole matrix), run the batch again and add its
    /// gradients, so the model learns to answer the same for nearby inputs
    /// (0: off). Each step costs about twice as much.
    #[arg(long, default_value_t = 1.0, value_name = "EPSILON")]
    pub adversarial: f64,
    /// Distil from these fine-tuned models (comma-separated or repeated):
    /// their probabilities on each training sentence, averaged over the
    /// teachers (each at its calibrated temperature, reading context as it
    /// was trained to), become part of the target. See --teacher-weight.
    #[arg(long = "teacher", value_delimiter = ',', value_name = "DIR")]
    pub teachers: Vec<PathBuf>,
    /// Share of the target taken from the teachers (0: gold labels only,
    /// 1: the teachers only).
    #[arg(long, default_value_t = 0.5, value_parser = crate::cmd::unit_interval)]
    pub teacher_weight: f64,
    /// Also keep exponential moving averages of the weights with these
    /// decays (comma-separated, each in (0, 1); 0: none). Each average is
    /// scored on dev after every epoch beside the live weights, and the best
    /// of all is what gets saved. Averaging does not change training itself.
    #[arg(
        long = "ema",
        value_delimiter = ',',
        value_name = "DECAY",
        default_value = "0.998"
    )]
    pub ema: Vec<f64>,
    /// Precision of the saved weights.
    #[arg(long, value_enum, default_value_t = Storage::F16)]
    pub storage: Storage,
    /// Compute threads (default: all cores).
    #[arg(long, value_parser = crate::cmd::at_least::<1>)]
    pub threads: Option<usize>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Weighting {
    None,
    Sqrt,
    Inverse,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Storage {
    F16,
    F32,
}

/// The four labels of the codebook, in the fixed order of the model's outputs.
pub fn codebook_labels() -> LabelSet {
    LabelSet::new(stance_io::LABELS.iter().map(|s| s.to_string()).collect())
}

/// Reads a gold file into training examples with label indices.
pub fn read_examples(path: &std::path::Path, labels: &LabelSet) -> Result<Vec<Example>> {
    let names: Vec<&str> = labels.names().iter().map(String::as_str).collect();
    let records = stance_io::read_gold(path, &names)?;
    let previous = stance_io::previous_in_document(&records);
    Ok(records
        .iter()
        .zip(previous)
        .map(|(r, previous)| Example {
            label: labels.index_of(&r.label).expect("read_gold checks labels"),
            secondary: r.secondary.as_deref().and_then(|s| labels.index_of(s)),
            text: r.text.clone(),
            previous: previous.map(str::to_string),
            teacher: None,
        })
        .collect())
}

/// Sets each training example's teacher probabilities: the mean over
/// `teachers` of their calibrated probabilities (f32 arithmetic). Returns the
/// teachers' names and weight hashes for the training log.
fn teach(
    teachers: &[PathBuf],
    train: &mut [Example],
    max_tokens: usize,
    quiet: bool,
) -> Result<Vec<serde_json::Value>> {
    let mut described = Vec::new();
    if teachers.is_empty() {
        return Ok(described);
    }
    let texts: Vec<&str> = train.iter().map(|e| e.text.as_str()).collect();
    let previous: Vec<Option<&str>> = train.iter().map(|e| e.previous.as_deref()).collect();
    let mut sums = vec![vec![0f32; stance_io::LABELS.len()]; train.len()];
    for dir in teachers {
        let teacher =
            crate::cmd::load_classifier(dir, max_tokens, 32, crate::cmd::PrecisionArg::F32, 1)?;
        let predictions =
            crate::cmd::predict_with_progress(&teacher, &texts, &previous, "teacher", quiet)?;
        for (sum, p) in sums.iter_mut().zip(predictions) {
            for (s, q) in sum.iter_mut().zip(&p.probabilities) {
                *s += q;
            }
        }
        described.push(serde_json::json!({
            "model": dir.display().to_string(),
            "sha256": teacher.weights_sha256()?,
        }));
    }
    let mut agree = 0;
    for (example, sum) in train.iter_mut().zip(sums) {
        let mean: Vec<f32> = sum.iter().map(|s| s / teachers.len() as f32).collect();
        let top = (0..mean.len()).max_by(|&a, &b| mean[a].total_cmp(&mean[b]));
        agree += usize::from(top == Some(example.label));
        example.teacher = Some(mean);
    }
    eprintln!(
        "teachers ({}) agree with the gold label on {agree} of {} training sentences",
        teachers.len(),
        train.len()
    );
    Ok(described)
}

struct Observer {
    show: bool,
    bar: Option<ProgressBar>,
}

impl TrainObserver for Observer {
    fn epoch_started(&mut self, epoch: usize, steps: usize) {
        let bar = progress::bar(steps as u64, "batches", self.show);
        bar.set_prefix(format!("epoch {epoch}"));
        self.bar = Some(bar);
    }
    fn step(&mut self, _step: usize, loss: f64, lr: f64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("loss {loss:.4} lr {lr:.2e}"));
            bar.inc(1);
        }
    }
    fn evaluating(&mut self, _epoch: usize, sentences: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("scoring {sentences} dev sentences"));
        }
    }
    fn epoch_finished(&mut self, r: &EpochReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        eprintln!(
            "epoch {}: train loss {:.4}, dev macro-F1 {:.4}, dev accuracy {:.4}, {:.0} s{}",
            r.epoch,
            r.train_loss,
            r.live().macro_f1,
            r.live().accuracy,
            r.seconds,
            if r.improved && r.scores.len() == 1 {
                " (best so far, saved)"
            } else {
                ""
            }
        );
        if r.scores.len() > 1 {
            for s in &r.scores[1..] {
                eprintln!(
                    "  {}: dev macro-F1 {:.4}, dev accuracy {:.4}",
                    s.weights, s.macro_f1, s.accuracy
                );
            }
            if r.improved {
                eprintln!("  best so far: {}, saved", r.best().weights);
            }
        }
    }
}

/// The trainer's settings from the command line.
fn train_config(args: &Args) -> TrainConfig {
    TrainConfig {
        epochs: args.epochs,
        learning_rate: args.learning_rate,
        layer_decay: args.layer_decay,
        freeze_word_embeddings: args.freeze_word_embeddings,
        batch_size: args.batch_size,
        max_tokens: args.max_tokens,
        context_tokens: args.context_tokens,
        warmup_ratio: args.warmup,
        weight_decay: args.weight_decay,
        dropout: args.dropout,
        seed: args.seed,
        data_seed: args.data_seed,
        class_weighting: match args.class_weights {
            Weighting::None => ClassWeighting::None,
            Weighting::Sqrt => ClassWeighting::Sqrt,
            Weighting::Inverse => ClassWeighting::Inverse,
        },
        patience: args.patience,
        secondary_weight: args.secondary_weight,
        teacher_weight: if args.teachers.is_empty() {
            0.0
        } else {
            args.teacher_weight
        },
        label_smoothing: args.label_smoothing,
        rdrop: args.rdrop,
        adversarial: args.adversarial,
        max_grad_norm: 1.0,
        storage: match args.storage {
            Storage::F16 => StorageDType::F16,
            Storage::F32 => StorageDType::F32,
        },
        average_decays: ema_decays(&args.ema),
    }
}

/// The --ema decays, without the zeros that turn averaging off.
fn ema_decays(ema: &[f64]) -> Vec<f64> {
    ema.iter().copied().filter(|&d| d != 0.0).collect()
}

/// Checks `out` before any training, so that a bad path fails now and not
/// when the first epoch is saved: it must not be a file or the base model's
/// folder, and it is created if missing.
fn prepare_out_dir(out: &std::path::Path, base: &std::path::Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        bail!(
            "--out {} is a file; it takes a folder for the trained model",
            out.display()
        );
    }
    if stance_io::same_file(out, base) {
        bail!(
            "--out {} is the base model's folder; training would overwrite the base",
            out.display()
        );
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the --out folder {}", out.display()))
}

/// What a user should know before a long run: labels that no training
/// sentence teaches (the model will never predict them well), labels the dev
/// set cannot score, and a dev set that is the training file itself (its
/// scores then say nothing about new data).
fn coverage_warnings(
    train: &[Example],
    dev: &[Example],
    labels: &LabelSet,
    train_path: &std::path::Path,
    dev_path: &std::path::Path,
) -> Vec<String> {
    let missing = |examples: &[Example]| -> Vec<&str> {
        let mut seen = vec![false; labels.len()];
        for e in examples {
            seen[e.label] = true;
        }
        labels
            .names()
            .iter()
            .zip(seen)
            .filter(|(_, seen)| !seen)
            .map(|(name, _)| name.as_str())
            .collect()
    };
    let mut warnings = Vec::new();
    for (examples, path, which, consequence) in [
        (train, train_path, "training", "the model cannot learn"),
        (
            dev,
            dev_path,
            "dev",
            "dev scores cannot tell how well the model finds",
        ),
    ] {
        let absent = missing(examples);
        if !absent.is_empty() {
            warnings.push(format!(
                "{}: no {which} sentence is labelled {}; {consequence} {}",
                path.display(),
                absent.join(", "),
                if absent.len() == 1 { "it" } else { "them" }
            ));
        }
    }
    if stance_io::same_file(train_path, dev_path) {
        warnings.push(format!(
            "--dev is the training file {}: dev scores measure memory, not how the model does on new text",
            train_path.display()
        ));
    }
    warnings
}

pub fn run(args: Args) -> Result<ExitCode> {
    crate::cmd::set_threads(args.threads);
    let started = Instant::now();
    let labels = codebook_labels();
    let mut train = read_examples(&args.train, &labels)?;
    let dev = read_examples(&args.dev, &labels)?;
    for (examples, path, role) in [
        (&train, &args.train, "train on"),
        (&dev, &args.dev, "score"),
    ] {
        if examples.is_empty() {
            bail!("{}: no sentences to {role}", path.display());
        }
    }
    // The base's folder and config, checked before --out is created.
    stance_model::ModelDir::open(&args.base)
        .with_context(|| format!("cannot use --base {}", args.base.display()))?;
    prepare_out_dir(&args.out, &args.base)?;
    let teachers = teach(&args.teachers, &mut train, args.max_tokens, args.quiet)?;
    eprintln!(
        "training on {} sentences ({}), scoring on {} ({}), base {}",
        train.len(),
        args.train.display(),
        dev.len(),
        args.dev.display(),
        args.base.display()
    );
    for warning in coverage_warnings(&train, &dev, &labels, &args.train, &args.dev) {
        eprintln!("warning: {warning}");
    }
    let config = train_config(&args);
    let mut observer = Observer {
        show: progress::enabled(args.quiet),
        bar: None,
    };
    let outcome = stance_train::train(
        &args.base,
        &labels,
        &train,
        &dev,
        &config,
        &args.out,
        &mut observer,
    )
    .with_context(|| format!("training on {} failed", args.train.display()))?;
    eprintln!(
        "best epoch {} ({}) with dev macro-F1 {:.4}{}; model saved to {}",
        outcome.best_epoch,
        outcome.best_weights,
        outcome.best_macro_f1,
        if outcome.stopped_early {
            " (stopped early)"
        } else {
            ""
        },
        args.out.display()
    );
    let gold: Vec<usize> = dev.iter().map(|e| e.label).collect();
    let dev_report = stance_eval::evaluate(
        &stance_eval::EvalInput::new(labels.names(), &gold, &outcome.best_dev_predictions),
        0,
        0,
    );
    let rows: Vec<Vec<String>> = dev_report
        .per_label
        .iter()
        .map(|m| {
            vec![
                m.label.clone(),
                format!("{:.4}", m.precision),
                format!("{:.4}", m.recall),
                format!("{:.4}", m.f1),
                m.support.to_string(),
            ]
        })
        .chain(std::iter::once(vec![
            "macro".to_string(),
            String::new(),
            String::new(),
            format!("{:.4}", dev_report.macro_f1),
            dev_report.n.to_string(),
        ]))
        .collect();
    eprintln!(
        "\ndev scores of epoch {}:\n{}",
        outcome.best_epoch,
        stance_eval::render::text_table(&["label", "precision", "recall", "F1", "support"], &rows)
    );
    let epochs_run: Vec<serde_json::Value> = outcome
        .epochs
        .iter()
        .map(|e| {
            serde_json::json!({
                "epoch": e.epoch, "train_loss": e.train_loss, "dev_macro_f1": e.live().macro_f1,
                "dev_accuracy": e.live().accuracy, "seconds": e.seconds,
                "averages": e.scores[1..].iter().map(|s| serde_json::json!({
                    "weights": s.weights.to_string(), "dev_macro_f1": s.macro_f1,
                    "dev_accuracy": s.accuracy,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let summary = serde_json::json!({
        "train_file": args.train.display().to_string(),
        "dev_file": args.dev.display().to_string(),
        "train_sentences": train.len(),
        "dev_sentences": dev.len(),
        "train_truncated": outcome.train_truncated,
        "base": args.base.display().to_string(),
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "layer_decay": args.layer_decay,
        "freeze_word_embeddings": args.freeze_word_embeddings,
        "batch_size": args.batch_size,
        "max_tokens": args.max_tokens,
        "context_tokens": args.context_tokens,
        "warmup": args.warmup,
        "weight_decay": args.weight_decay,
        "dropout": args.dropout,
        "seed": args.seed,
        "data_seed": args.data_seed,
        "class_weights": outcome.class_weights,
        "patience": args.patience,
        "secondary_weight": args.secondary_weight,
        "teachers": teachers,
        "teacher_weight": if args.teachers.is_empty() { None } else { Some(args.teacher_weight) },
        "label_smoothing": args.label_smoothing,
        "rdrop": args.rdrop,
        "adversarial": args.adversarial,
        "ema": ema_decays(&args.ema),
        "best_epoch": outcome.best_epoch,
        "best_weights": outcome.best_weights.to_string(),
        "best_dev_macro_f1": outcome.best_macro_f1,
        "best_dev_per_label": dev_report.per_label,
        "best_dev_confusion": dev_report.confusion,
        "stopped_early": outcome.stopped_early,
        "seconds": started.elapsed().as_secs_f64(),
        "epochs_run": epochs_run,
    });
    let log_path = args.out.join("training.json");
    std::fs::write(&log_path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("writing {}", log_path.display()))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn examples(labels: &[usize]) -> Vec<Example> {
        labels
            .iter()
            .map(|&label| Example {
                label,
                secondary: None,
                text: "We condemn the attack.".to_string(),
                previous: None,
                teacher: None,
            })
            .collect()
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(flags: &[&str]) -> Args {
        let argv = std::iter::once("train").chain(flags.iter().copied());
        <Cli as clap::Parser>::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("{flags:?}: {e}"))
            .args
    }

    #[test]
    fn the_defaults_are_the_recipe_of_the_shipped_model() {
        // The flags that scripts/train-shipped-model.sh gives `stance train`.
        let script = include_str!("../../scripts/train-shipped-model.sh");
        let start = script
            .find("\"$bin\" train")
            .expect("the script runs train")
            + 12;
        let end = start
            + script[start..]
                .find("2>")
                .expect("train's stderr is logged");
        let recipe: Vec<&str> = script[start..end]
            .split_whitespace()
            .filter(|t| *t != "\\")
            .collect();
        assert!(recipe.contains(&"--adversarial"), "{recipe:?}");

        let io = [
            "--train",
            "\"$data/train.jsonl\"",
            "--dev",
            "\"$data/dev.jsonl\"",
            "--out",
            "\"$out\"",
        ];
        let scripted = format!("{:?}", train_config(&parse(&recipe)));
        let defaults = format!("{:?}", train_config(&parse(&io)));
        assert_eq!(defaults, scripted);
        assert_eq!(parse(&io).base, parse(&recipe).base);
        assert_eq!(
            ema_decays(&parse(&[&io[..], &["--ema", "0"]].concat()).ema),
            Vec::<f64>::new()
        );
    }

    #[test]
    fn out_must_not_be_a_file_or_the_base_and_is_created_before_training() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        std::fs::create_dir(&base).unwrap();
        let file = dir.path().join("gold.jsonl");
        std::fs::write(&file, "").unwrap();

        let err = prepare_out_dir(&file, &base).unwrap_err().to_string();
        assert!(
            err.ends_with("gold.jsonl is a file; it takes a folder for the trained model"),
            "{err}"
        );
        let err = prepare_out_dir(&dir.path().join("base/."), &base)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is the base model's folder"), "{err}");
        let err = prepare_out_dir(&file.join("model"), &base)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot create the --out folder"), "{err}");

        let out = dir.path().join("runs/new");
        prepare_out_dir(&out, &base).unwrap();
        assert!(out.is_dir());
        prepare_out_dir(&out, &base).unwrap();
    }

    #[test]
    fn warns_of_untaught_and_unscored_labels_and_a_dev_set_that_is_the_training_file() {
        let labels = codebook_labels();
        let (train, dev) = (Path::new("train.jsonl"), Path::new("dev.jsonl"));
        assert!(coverage_warnings(
            &examples(&[0, 1, 2, 3]),
            &examples(&[3, 2, 1, 0]),
            &labels,
            train,
            dev
        )
        .is_empty());

        let warnings = coverage_warnings(
            &examples(&[0, 0, 3]),
            &examples(&[0, 1, 3]),
            &labels,
            train,
            dev,
        );
        assert_eq!(
            warnings,
            [
                "train.jsonl: no training sentence is labelled commitment, diplomatic-opening; \
                 the model cannot learn them",
                "dev.jsonl: no dev sentence is labelled diplomatic-opening; dev scores cannot \
                 tell how well the model finds it",
            ]
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gold.jsonl");
        std::fs::write(&file, "").unwrap();
        let same = dir.path().join(".").join("gold.jsonl");
        let all = examples(&[0, 1, 2, 3]);
        let warnings = coverage_warnings(&all, &all, &labels, &file, &same);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("--dev is the training file"),
            "{warnings:?}"
        );
    }
}
