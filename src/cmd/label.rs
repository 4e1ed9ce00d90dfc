//! `stance label`: documents in, one labelled row per sentence out.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::ValueEnum;
use stance_io::{
    Document, InputFile, InputFormat, LabelledSentence, OutputFormat, OutputMetadata, ReadOptions,
    SentenceWriter,
};
use stance_model::Classifier;

use crate::progress;

/// Split documents into sentences and label each one.
///
/// Inputs are files, directories (walked recursively in sorted order) or `-`
/// for standard input. `.txt` and `.md` files are one document each (doc_id:
/// the path relative to the argument, without extension); `.jsonl` holds one
/// document per line, `.csv` and `.parquet` one per row (see --text-field and
/// --id-field). Pasted web pages are fine: headlines, bylines and menu lines
/// become sentences of their own, mostly labelled `other`. Saved web pages
/// (`.html`, `.htm`) are one document each, read as the text a browser
/// shows: each paragraph, heading, list item or table cell is a line, and
/// scripts, styles and comments are dropped (char_start and char_end then
/// point into that text, not into the HTML). Gzip-compressed files are read
/// as the file they hold, named by it (`a.jsonl.gz` is JSONL). Text is read as
/// UTF-8, or as UTF-16 when it starts with a UTF-16 byte-order mark.
///
/// Memory does not grow with the input: JSONL, CSV and Parquet files are
/// checked whole first (a bad record anywhere fails before any output), then
/// read a record at a time (Parquet: 4,096 rows; a gzipped Parquet file is
/// decompressed whole first), and sentences are labelled and written in
/// chunks of 4,096, even inside one long document.
///
/// Output has one row per sentence: doc_id, source, paragraph, sentence,
/// char_start, char_end (Unicode code points: Python's text[start:end]),
/// text, label, confidence and one probability per label. It is written to a
/// temporary file and renamed at the end, so a failed or interrupted run
/// leaves no partial file and keeps any previous output.
///
/// The output may not be one of the inputs (a run that would overwrite its
/// input is refused); a file given twice is labelled once.
///
/// Exit status: 0 on success (also with --skip-errors when some files were
/// skipped: they are listed), 2 on bad input or model or when every input
/// was skipped, 130 on SIGINT and 143 on SIGTERM.
#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to label; `-` reads standard input. A directory
    /// walk skips hidden files and this run's own output file.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output file (`-` for standard output). Format from the extension
    /// (.parquet, .jsonl, .csv; none: Parquet) unless --format is given.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Output format (default: from the output's extension, else parquet).
    #[arg(long, value_enum)]
    pub format: Option<OutFormat>,
    /// Input format for every input (default: from each file's extension;
    /// standard input defaults to text).
    #[arg(long, value_enum)]
    pub input_format: Option<InFormat>,
    /// JSONL field or CSV/Parquet column holding the text.
    #[arg(long, visible_alias = "text-column", default_value = "text")]
    pub text_field: String,
    /// JSONL field or CSV/Parquet column holding the document id (default:
    /// `id` when present, else FILE:LINE). For a model that reads the
    /// previous sentence, consecutive records with the same id are parts of
    /// one document: the first sentence of a record follows the last one of
    /// the record before.
    #[arg(long, visible_alias = "id-column")]
    pub id_field: Option<String>,
    /// Model directory (default: the shipped model, models/stance-minilm-l6,
    /// or $STANCE_MODEL).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Sentences longer than this many tokens are cut (counted in the summary).
    #[arg(long, default_value_t = 128, value_parser = crate::cmd::at_least::<2>)]
    pub max_tokens: usize,
    /// Sentences per forward pass; sentences of similar length are batched together.
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
    /// Replace invalid UTF-8 (or UTF-16) with U+FFFD instead of failing.
    #[arg(long)]
    pub lossy: bool,
    /// Go on past missing, unreadable or malformed files, and list them at
    /// the end.
    #[arg(long)]
    pub skip_errors: bool,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Parquet,
    Jsonl,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InFormat {
    Text,
    Html,
    Jsonl,
    Csv,
    Parquet,
}

/// Sentences are labelled in chunks of this many, so memory stays flat.
const CHUNK_SENTENCES: usize = 4096;

/// Where a document's sentences came from.
struct DocumentOrigin {
    doc_id: String,
    source: String,
}

struct Pending {
    doc: Rc<DocumentOrigin>,
    paragraph: u32,
    sentence: u32,
    char_start: u64,
    char_end: u64,
    text: String,
    /// The document's previous sentence, kept only for models that read it.
    previous: Option<String>,
}

#[derive(Default)]
struct Tally {
    documents: usize,
    sentences: usize,
    truncated: usize,
    per_label: BTreeMap<String, usize>,
}

/// The output format: --format, else the output's extension, else Parquet.
/// An extension that names no output format gets Parquet with a warning, so
/// that `-o out.json` or `-o out.xlsx` does not quietly hold Parquet.
fn output_format(args: &Args) -> OutputFormat {
    match args.format {
        Some(OutFormat::Parquet) => OutputFormat::Parquet,
        Some(OutFormat::Jsonl) => OutputFormat::Jsonl,
        Some(OutFormat::Csv) => OutputFormat::Csv,
        None => OutputFormat::from_path(&args.output).unwrap_or_else(|| {
            if let Some(ext) = args.output.extension() {
                eprintln!(
                    "warning: {}: .{} is not an output format (.parquet, .jsonl, .csv); \
                     writing Parquet (--format chooses)",
                    args.output.display(),
                    ext.to_string_lossy()
                );
            }
            OutputFormat::Parquet
        }),
    }
}

/// The command-line inputs expanded into files (see [`stance_io::discover`]).
/// With --skip-errors an input that cannot be read is listed in `skipped`
/// instead of ending the run; a directory with nothing to label gets a warning.
fn discover_inputs(args: &Args, skipped: &mut Vec<String>) -> Result<Vec<InputFile>> {
    let mut files = Vec::new();
    for input in &args.inputs {
        match stance_io::discover(std::slice::from_ref(input)) {
            Ok(found) => {
                if found.is_empty() {
                    eprintln!(
                        "warning: {}: no files to label in this folder (looked for {}, \
                         each also gzipped as .gz)",
                        input.display(),
                        stance_io::KNOWN_EXTENSIONS
                            .iter()
                            .map(|e| format!(".{e}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                files.extend(found);
            }
            Err(err) if args.skip_errors => skipped.push(err.to_string()),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(files)
}

/// Keeps the output from destroying an input, and each file from being
/// labelled twice:
/// * an input that is the output file (by any path: `./`, symlinks, hard
///   links) is an error, except that a directory walk skips, with a note, a
///   file that is itself the output of `stance label` (a previous run's
///   output inside the folder being labelled);
/// * a file given again (or found again by another walk) is skipped with a
///   note;
/// * text documents from different files that get the same doc_id (two
///   `a.txt` in different folders) get a warning: `source` tells them apart.
fn check_inputs(
    files: Vec<InputFile>,
    args: &Args,
    read_options: &ReadOptions,
    to_stdout: bool,
) -> Result<Vec<InputFile>> {
    let output = if to_stdout {
        None
    } else {
        stance_io::file_identity(&args.output)
    };
    let mut seen: HashMap<stance_io::FileIdentity, PathBuf> = HashMap::new();
    let mut text_ids: HashMap<String, PathBuf> = HashMap::new();
    let mut kept = Vec::with_capacity(files.len());
    for file in files {
        if file.is_stdin {
            kept.push(file);
            continue;
        }
        let Some(identity) = stance_io::file_identity(&file.path) else {
            // Vanished since the walk; reading it reports the error.
            kept.push(file);
            continue;
        };
        if output.as_ref() == Some(&identity) {
            let walked = file.path != file.root;
            if walked && stance_io::looks_like_label_output(&file.path) {
                eprintln!(
                    "note: skipping {}: it is this run's output",
                    file.path.display()
                );
                continue;
            }
            bail!(
                "{} is both an input and the output (-o {}): labelling would overwrite it; \
                 choose another output path",
                file.path.display(),
                args.output.display()
            );
        }
        if let Some(first) = seen.get(&identity) {
            eprintln!(
                "note: skipping {}: the same file as {}, already an input",
                file.path.display(),
                first.display()
            );
            continue;
        }
        seen.insert(identity, file.path.clone());
        let one_document =
            stance_io::resolve_format(&file, read_options).is_ok_and(InputFormat::is_one_document);
        if one_document {
            if let Some(first) = text_ids.insert(file.file_id(), file.path.clone()) {
                eprintln!(
                    "warning: {} and {} both get doc_id \"{}\"; the source column tells \
                     them apart (or pass their common folder to get distinct ids)",
                    first.display(),
                    file.path.display(),
                    file.file_id()
                );
            }
        }
        kept.push(file);
    }
    Ok(kept)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let workers = crate::cmd::set_inference_threads(args.threads);
    let started = Instant::now();
    let format = output_format(&args);
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout {
        crate::cmd::check_output_file(&args.output)?;
    }
    if to_stdout && format == OutputFormat::Parquet && std::io::stdout().is_terminal() {
        bail!(
            "not writing Parquet (binary) to the terminal: pass --format jsonl or csv, \
             or redirect standard output"
        );
    }
    let model_dir = args
        .model
        .clone()
        .unwrap_or_else(crate::cmd::default_model_dir);
    let classifier = crate::cmd::load_classifier(
        &model_dir,
        args.max_tokens,
        args.batch_size,
        args.precision,
        workers,
    )?;
    let labels = classifier.labels().clone();
    let read_options = ReadOptions {
        format: args.input_format.map(|f| match f {
            InFormat::Text => InputFormat::Text,
            InFormat::Html => InputFormat::Html,
            InFormat::Jsonl => InputFormat::Jsonl,
            InFormat::Csv => InputFormat::Csv,
            InFormat::Parquet => InputFormat::Parquet,
        }),
        text_field: args.text_field.clone(),
        id_field: args.id_field.clone(),
        lossy: args.lossy,
    };
    let mut skipped: Vec<String> = Vec::new();
    let files = check_inputs(
        discover_inputs(&args, &mut skipped)?,
        &args,
        &read_options,
        to_stdout,
    )?;
    let metadata = OutputMetadata {
        stance_version: env!("CARGO_PKG_VERSION").to_string(),
        model_name: classifier.model_dir().name(),
        model_sha256: classifier.weights_sha256()?,
        labels: labels.names().to_vec(),
        precision: classifier.precision().name().to_string(),
    };
    let mut writer =
        SentenceWriter::new((!to_stdout).then(|| args.output.clone()), format, metadata)?;
    let show = progress::enabled(args.quiet);
    let bar = progress::bar(files.len() as u64, "files", show);
    bar.set_prefix("labelling");

    let mut tally = Tally::default();
    let mut pending: Vec<Pending> = Vec::new();
    let reads_context = classifier.context_tokens() > 0;
    for file in &files {
        // For models that read the previous sentence: the last sentence of
        // the file's previous record, which continues into the next record
        // when both carry the same doc_id (a document given a sentence or a
        // paragraph per record).
        let mut last_of_record: Option<(String, String)> = None;
        // JSONL and CSV files stream record by record; a bad record anywhere
        // in a file is reported here, before any of its documents.
        let docs = match stance_io::stream_documents(file, &read_options) {
            Ok(docs) => docs,
            Err(err) if args.skip_errors => {
                skipped.push(err.to_string());
                bar.inc(1);
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let read_as_text =
            stance_io::resolve_format(file, &read_options).ok() == Some(InputFormat::Text);
        for doc in docs {
            // Only if the file changed since it was checked.
            let Document {
                doc_id,
                source,
                text,
            } = doc?;
            if read_as_text && stance_io::looks_like_html(&text) {
                bar.suspend(|| {
                    eprintln!(
                        "warning: {source} looks like an HTML page, read here as plain text \
                         (tags and scripts included); pass --input-format html to read the \
                         text a browser shows"
                    )
                });
            }
            tally.documents += 1;
            let continued = last_of_record
                .take()
                .filter(|(last_doc, _)| reads_context && *last_doc == doc_id)
                .map(|(_, sentence)| sentence);
            let origin = Rc::new(DocumentOrigin { doc_id, source });
            let mut previous: Option<&str> = continued.as_deref();
            for s in stance_segment::segment(&text) {
                let sentence_text = s.text(&text);
                pending.push(Pending {
                    doc: Rc::clone(&origin),
                    paragraph: s.paragraph as u32,
                    sentence: s.index as u32,
                    char_start: s.char_start as u64,
                    char_end: s.char_end as u64,
                    text: sentence_text.to_string(),
                    previous: previous.filter(|_| reads_context).map(str::to_string),
                });
                previous = Some(sentence_text);
                // Chunks may end inside a document, so one huge document
                // is labelled in bounded memory too.
                if pending.len() >= CHUNK_SENTENCES {
                    flush(&classifier, &mut pending, &mut writer, &mut tally)?;
                    bar.set_message(format!("{} sentences", tally.sentences));
                }
            }
            if reads_context {
                last_of_record = previous.map(|p| (origin.doc_id.clone(), p.to_string()));
            }
        }
        bar.inc(1);
    }
    flush(&classifier, &mut pending, &mut writer, &mut tally)?;
    if !skipped.is_empty() && tally.documents == 0 {
        // Nothing was labelled: keep any previous output (the writer's
        // temporary file goes with it) and fail.
        drop(writer);
        bar.finish_and_clear();
        list_skipped(&skipped);
        bail!("every input was skipped; nothing written");
    }
    writer.finish()?;
    bar.finish_and_clear();

    if !args.quiet {
        let seconds = started.elapsed().as_secs_f64();
        let counts: Vec<String> = labels
            .names()
            .iter()
            .map(|l| format!("{l} {}", tally.per_label.get(l).copied().unwrap_or(0)))
            .collect();
        eprintln!(
            "labelled {}, {} ({}); {} truncated to {} tokens; {:.1} s, {:.0} sentences/s{}",
            count(tally.documents, "document"),
            count(tally.sentences, "sentence"),
            counts.join(", "),
            tally.truncated,
            // The model cannot take more tokens than it has positions.
            classifier.max_tokens(),
            seconds,
            tally.sentences as f64 / seconds.max(1e-9),
            if to_stdout {
                String::new()
            } else {
                format!("; wrote {}", args.output.display())
            },
        );
    }
    list_skipped(&skipped);
    Ok(ExitCode::SUCCESS)
}

/// Lists the files --skip-errors skipped, if any, with their errors.
fn list_skipped(skipped: &[String]) {
    if skipped.is_empty() {
        return;
    }
    eprintln!("skipped {}:", count(skipped.len(), "file"));
    for s in skipped {
        eprintln!("  {s}");
    }
}

/// Labels the pending sentences and writes them, in input order.
fn flush(
    classifier: &Classifier,
    pending: &mut Vec<Pending>,
    writer: &mut SentenceWriter,
    tally: &mut Tally,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let texts: Vec<&str> = pending.iter().map(|p| p.text.as_str()).collect();
    let previous: Vec<Option<&str>> = pending.iter().map(|p| p.previous.as_deref()).collect();
    let predictions = classifier.predict_in_context(&texts, &previous)?;
    let labels = classifier.labels();
    let rows: Vec<LabelledSentence> = pending
        .drain(..)
        .zip(predictions)
        .map(|(p, prediction)| {
            let doc = &p.doc;
            let label = labels.name(prediction.label).to_string();
            *tally.per_label.entry(label.clone()).or_default() += 1;
            tally.sentences += 1;
            tally.truncated += usize::from(prediction.truncated);
            let mut probabilities = [0f32; 4];
            probabilities.copy_from_slice(&prediction.probabilities[..4]);
            LabelledSentence {
                doc_id: doc.doc_id.clone(),
                source: doc.source.clone(),
                paragraph: p.paragraph,
                sentence: p.sentence,
                char_start: p.char_start,
                char_end: p.char_end,
                text: p.text,
                label,
                confidence: prediction.confidence,
                probabilities,
            }
        })
        .collect();
    writer.write_batch(&rows)?;
    Ok(())
}

/// `n` and the noun, plural unless `n` is 1: "1 document", "2 documents".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
