//! Writing labelled sentences (and other tables) to Parquet, JSONL or CSV.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use polars::prelude::*;
use serde::Serialize;

use crate::atomic::TempFile;
use crate::IoError;

/// The labels, in canonical order (also the order of the `label` Enum's
/// categories and of [`LabelledSentence::probabilities`]).
pub const LABELS: [&str; 4] = ["condemnation", "commitment", "diplomatic-opening", "other"];

/// Version of the output schema, stored as `stance.schema_version`.
pub const SCHEMA_VERSION: &str = "1";

/// Output columns, in order.
pub const OUTPUT_COLUMNS: [&str; 13] = [
    "doc_id",
    "source",
    "paragraph",
    "sentence",
    "char_start",
    "char_end",
    "text",
    "label",
    "confidence",
    "p_condemnation",
    "p_commitment",
    "p_diplomatic_opening",
    "p_other",
];

/// Parquet key-value metadata keys.
pub const META_VERSION: &str = "stance.version";
pub const META_MODEL: &str = "stance.model";
pub const META_MODEL_SHA256: &str = "stance.model_sha256";
pub const META_LABELS: &str = "stance.labels";
pub const META_SCHEMA_VERSION: &str = "stance.schema_version";
pub const META_PRECISION: &str = "stance.precision";

/// Rows buffered before a Parquet row group is written.
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Text bytes buffered before a Parquet row group is written.
const ROW_GROUP_TEXT_BYTES: usize = 64 * 1024 * 1024;

/// One labelled sentence: one output row.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSentence {
    pub doc_id: String,
    pub source: String,
    pub paragraph: u32,
    pub sentence: u32,
    /// Character (not byte) offsets into the document text, end exclusive.
    pub char_start: u64,
    pub char_end: u64,
    pub text: String,
    /// One of [`LABELS`].
    pub label: String,
    pub confidence: f32,
    /// In the order of [`LABELS`].
    pub probabilities: [f32; 4],
}

/// Provenance stored in Parquet key-value metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutputMetadata {
    pub stance_version: String,
    pub model_name: String,
    pub model_sha256: String,
    pub labels: Vec<String>,
    /// Arithmetic of the model's dense layers: `f32` or `int8`.
    pub precision: String,
}

impl OutputMetadata {
    /// The key-value pairs written to Parquet files: `stance.version`,
    /// `stance.model`, `stance.model_sha256`, `stance.labels` (a JSON array),
    /// `stance.schema_version` and `stance.precision`.
    pub fn key_values(&self) -> Vec<(String, String)> {
        let labels = serde_json::to_string(&self.labels).unwrap_or_else(|_| "[]".to_string());
        vec![
            (META_VERSION.to_string(), self.stance_version.clone()),
            (META_MODEL.to_string(), self.model_name.clone()),
            (META_MODEL_SHA256.to_string(), self.model_sha256.clone()),
            (META_LABELS.to_string(), labels),
            (META_SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
            (META_PRECISION.to_string(), self.precision.clone()),
        ]
    }
}

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Parquet,
    Jsonl,
    Csv,
}

impl OutputFormat {
    /// From the extension: `.parquet`, `.jsonl`/`.ndjson`, `.csv`.
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" => Some(OutputFormat::Parquet),
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            "csv" => Some(OutputFormat::Csv),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Csv => "csv",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" => Ok(OutputFormat::Parquet),
            "jsonl" | "ndjson" => Ok(OutputFormat::Jsonl),
            "csv" => Ok(OutputFormat::Csv),
            _ => Err(format!(
                "unknown output format \"{s}\"; expected one of parquet, jsonl, csv"
            )),
        }
    }
}

/// The polars dtype of the `label` column: an `Enum` with categories
/// [`LABELS`] in that order (a dictionary column for Arrow readers).
pub fn label_dtype() -> DataType {
    let cats = FrozenCategories::new(LABELS.iter().copied())
        .expect("LABELS are unique, so the categories are valid");
    DataType::from_frozen_categories(cats)
}

/// The polars schema of the labelled-sentence table.
pub fn output_schema() -> Schema {
    let mut schema = Schema::with_capacity(OUTPUT_COLUMNS.len());
    for name in OUTPUT_COLUMNS {
        let dtype = match name {
            "doc_id" | "source" | "text" => DataType::String,
            "paragraph" | "sentence" => DataType::UInt32,
            "char_start" | "char_end" => DataType::UInt64,
            "label" => label_dtype(),
            _ => DataType::Float32,
        };
        schema.with_column(name.into(), dtype);
    }
    schema
}

/// Builds the labelled-sentence table from rows (labels must be in [`LABELS`]).
pub fn sentences_to_dataframe(rows: &[LabelledSentence]) -> Result<DataFrame, IoError> {
    sentences_df(rows, Path::new("<memory>"))
}

fn sentences_df(rows: &[LabelledSentence], path: &Path) -> Result<DataFrame, IoError> {
    for r in rows {
        check_row(r, path)?;
    }
    let err = |e: PolarsError| IoError::parquet(path, "cannot build", e);
    let strs = |f: fn(&LabelledSentence) -> &str| -> Vec<&str> { rows.iter().map(f).collect() };
    let prob = |i: usize| -> Vec<f32> { rows.iter().map(|r| r.probabilities[i]).collect() };
    let labels = Series::new("label".into(), strs(|r| &r.label))
        .strict_cast(&label_dtype())
        .map_err(err)?;
    let columns: Vec<Column> = vec![
        Column::new("doc_id".into(), strs(|r| &r.doc_id)),
        Column::new("source".into(), strs(|r| &r.source)),
        Column::new(
            "paragraph".into(),
            rows.iter().map(|r| r.paragraph).collect::<Vec<u32>>(),
        ),
        Column::new(
            "sentence".into(),
            rows.iter().map(|r| r.sentence).collect::<Vec<u32>>(),
        ),
        Column::new(
            "char_start".into(),
            rows.iter().map(|r| r.char_start).collect::<Vec<u64>>(),
        ),
        Column::new(
            "char_end".into(),
            rows.iter().map(|r| r.char_end).collect::<Vec<u64>>(),
        ),
        Column::new("text".into(), strs(|r| &r.text)),
        labels.into_column(),
        Column::new(
            "confidence".into(),
            rows.iter().map(|r| r.confidence).collect::<Vec<f32>>(),
        ),
        Column::new("p_condemnation".into(), prob(0)),
        Column::new("p_commitment".into(), prob(1)),
        Column::new("p_diplomatic_opening".into(), prob(2)),
        Column::new("p_other".into(), prob(3)),
    ];
    DataFrame::new(rows.len(), columns).map_err(err)
}

fn check_row(r: &LabelledSentence, path: &Path) -> Result<(), IoError> {
    if !LABELS.contains(&r.label.as_str()) {
        return Err(IoError::InvalidRow {
            path: path.to_path_buf(),
            doc_id: r.doc_id.clone(),
            sentence: r.sentence,
            problem: format!(
                "unknown label \"{}\"; expected one of {}",
                r.label,
                LABELS.join(", ")
            ),
        });
    }
    Ok(())
}

/// Where bytes go: a (temporary) file or standard output. Records a broken
/// pipe on stdout so that it can be reported as [`IoError::BrokenPipe`] even
/// when the error travelled through polars or csv.
enum Target {
    File(File),
    Stdout(io::Stdout, Arc<AtomicBool>),
}

impl Target {
    fn note<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if let (Target::Stdout(_, broken), Err(e)) = (self, &result) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                broken.store(true, Ordering::SeqCst);
            }
        }
        result
    }
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = match self {
            Target::File(f) => f.write(buf),
            Target::Stdout(s, _) => s.write(buf),
        };
        self.note(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = match self {
            Target::File(f) => f.flush(),
            Target::Stdout(s, _) => s.flush(),
        };
        self.note(result)
    }
}

/// A cloneable handle on the buffered target, so the writer can flush and
/// sync it after polars' Parquet writer (which keeps its own handle) is done.
#[derive(Clone)]
struct Shared(Arc<Mutex<BufWriter<Target>>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BufWriter<Target>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.lock().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

enum Encoder {
    Parquet {
        writer: Box<BatchedWriter<Shared>>,
        buffer: Vec<LabelledSentence>,
        buffered_text: usize,
    },
    Jsonl(Shared),
    Csv(Box<csv::Writer<Shared>>),
}

#[derive(Serialize)]
struct JsonRow<'a> {
    doc_id: &'a str,
    source: &'a str,
    paragraph: u32,
    sentence: u32,
    char_start: u64,
    char_end: u64,
    text: &'a str,
    label: &'a str,
    confidence: f32,
    p_condemnation: f32,
    p_commitment: f32,
    p_diplomatic_opening: f32,
    p_other: f32,
}

impl<'a> From<&'a LabelledSentence> for JsonRow<'a> {
    fn from(r: &'a LabelledSentence) -> Self {
        JsonRow {
            doc_id: &r.doc_id,
            source: &r.source,
            paragraph: r.paragraph,
            sentence: r.sentence,
            char_start: r.char_start,
            char_end: r.char_end,
            text: &r.text,
            label: &r.label,
            confidence: r.confidence,
            p_condemnation: r.probabilities[0],
            p_commitment: r.probabilities[1],
            p_diplomatic_opening: r.probabilities[2],
            p_other: r.probabilities[3],
        }
    }
}

/// Streams labelled sentences to a file (atomically) or to standard output.
///
/// A file target is written to `.{name}.tmp-{pid}` beside it and renamed into
/// place by [`SentenceWriter::finish`]; if the writer is dropped without
/// finishing (error, panic, early return) the temporary file is removed and
/// any previous file at the target is left intact. While writing, the
/// temporary path is listed by [`crate::pending_temp_files`].
///
/// Parquet rows are buffered and written as row groups of up to 65,536 rows,
/// so memory stays flat however large the input. JSONL and CSV rows are
/// streamed. An empty run still produces a complete file (Parquet: full
/// schema and zero rows; CSV: the header; JSONL: empty).
pub struct SentenceWriter {
    // Field order matters: the encoder and the shared handle are dropped
    // (closing the file) before the temporary file is removed.
    encoder: Option<Encoder>,
    shared: Shared,
    broken: Arc<AtomicBool>,
    shown: PathBuf,
    rows: u64,
    temp: Option<TempFile>,
}

impl fmt::Debug for SentenceWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentenceWriter")
            .field("target", &self.shown)
            .field("temp", &self.temp_path())
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl SentenceWriter {
    /// Creates a writer. `target` `None` (or `Some("-")`) means standard output.
    pub fn new(
        target: Option<PathBuf>,
        format: OutputFormat,
        metadata: OutputMetadata,
    ) -> Result<SentenceWriter, IoError> {
        let target = target.filter(|p| p.as_os_str() != "-");
        let broken = Arc::new(AtomicBool::new(false));
        let (sink, temp, shown) = match &target {
            Some(path) => {
                let (temp, file) = TempFile::create(path)?;
                (Target::File(file), Some(temp), path.clone())
            }
            None => (
                Target::Stdout(io::stdout(), broken.clone()),
                None,
                PathBuf::from("<stdout>"),
            ),
        };
        let shared = Shared(Arc::new(Mutex::new(BufWriter::with_capacity(
            256 * 1024,
            sink,
        ))));
        let mut writer = SentenceWriter {
            encoder: None,
            shared: shared.clone(),
            broken,
            shown,
            rows: 0,
            temp,
        };
        let encoder = match format {
            OutputFormat::Parquet => {
                let kv = KeyValueMetadata::from_static(metadata.key_values());
                let batched = ParquetWriter::new(shared)
                    .with_compression(ParquetCompression::Zstd(None))
                    .with_key_value_metadata(Some(kv))
                    .batched(&output_schema())
                    .map_err(|e| writer.polars_error(e))?;
                Encoder::Parquet {
                    writer: Box::new(batched),
                    buffer: Vec::new(),
                    buffered_text: 0,
                }
            }
            OutputFormat::Jsonl => Encoder::Jsonl(shared),
            OutputFormat::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(shared);
                csv.write_record(OUTPUT_COLUMNS)
                    .map_err(|e| writer.csv_error(e))?;
                Encoder::Csv(Box::new(csv))
            }
        };
        writer.encoder = Some(encoder);
        Ok(writer)
    }

    /// The temporary file being written (`None` for standard output or after
    /// finishing).
    pub fn temp_path(&self) -> Option<&Path> {
        self.temp.as_ref().and_then(|t| t.temp_path())
    }

    /// Rows accepted so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Appends rows. Labels must be among [`LABELS`].
    pub fn write_batch(&mut self, rows: &[LabelledSentence]) -> Result<(), IoError> {
        for r in rows {
            check_row(r, &self.shown)?;
        }
        let mut encoder = self.encoder.take().ok_or_else(|| IoError::Io {
            path: self.shown.clone(),
            err: io::Error::other("writer already failed"),
        })?;
        let result = self.write_rows(&mut encoder, rows);
        if result.is_ok() {
            // After an error the encoder is dropped: later calls fail.
            self.encoder = Some(encoder);
            self.rows += rows.len() as u64;
        }
        result
    }

    fn write_rows(
        &mut self,
        encoder: &mut Encoder,
        rows: &[LabelledSentence],
    ) -> Result<(), IoError> {
        match encoder {
            Encoder::Parquet {
                writer,
                buffer,
                buffered_text,
            } => {
                for r in rows {
                    *buffered_text += r.text.len() + r.doc_id.len() + r.source.len();
                    buffer.push(r.clone());
                    if buffer.len() >= ROW_GROUP_ROWS || *buffered_text >= ROW_GROUP_TEXT_BYTES {
                        self.flush_row_group(writer, buffer)?;
                        *buffered_text = 0;
                    }
                }
            }
            Encoder::Jsonl(out) => {
                for r in rows {
                    serde_json::to_writer(&mut *out, &JsonRow::from(r))
                        .map_err(|e| self.io_error(e.into()))?;
                    out.write_all(b"\n").map_err(|e| self.io_error(e))?;
                }
            }
            Encoder::Csv(csv) => {
                for r in rows {
                    csv.serialize(JsonRow::from(r))
                        .map_err(|e| self.csv_error(e))?;
                }
            }
        }
        Ok(())
    }

    fn flush_row_group(
        &self,
        writer: &mut BatchedWriter<Shared>,
        buffer: &mut Vec<LabelledSentence>,
    ) -> Result<(), IoError> {
        if buffer.is_empty() {
            return Ok(());
        }
        let df = sentences_df(buffer, &self.shown)?;
        writer.write_batch(&df).map_err(|e| self.polars_error(e))?;
        buffer.clear();
        Ok(())
    }

    /// Writes what is buffered, closes the output and (for a file) renames the
    /// temporary file into place.
    pub fn finish(mut self) -> Result<(), IoError> {
        let encoder = self.encoder.take().ok_or_else(|| IoError::Io {
            path: self.shown.clone(),
            err: io::Error::other("writer already failed"),
        })?;
        match encoder {
            Encoder::Parquet {
                mut writer,
                mut buffer,
                ..
            } => {
                self.flush_row_group(&mut writer, &mut buffer)?;
                writer.finish().map_err(|e| self.polars_error(e))?;
            }
            Encoder::Jsonl(_) => {}
            Encoder::Csv(mut csv) => {
                csv.flush().map_err(|e| self.io_error(e))?;
            }
        }
        {
            let mut out = self.shared.lock();
            out.flush().map_err(|e| self.io_error(e))?;
            if let Target::File(f) = out.get_ref() {
                crate::atomic::sync(f).map_err(|e| self.io_error(e))?;
            }
        }
        if let Some(temp) = self.temp.take() {
            temp.commit()?;
        }
        Ok(())
    }

    fn io_error(&self, err: io::Error) -> IoError {
        if self.broken.load(Ordering::SeqCst) || err.kind() == io::ErrorKind::BrokenPipe {
            IoError::BrokenPipe
        } else {
            IoError::Io {
                path: self.shown.clone(),
                err,
            }
        }
    }

    fn csv_error(&self, err: csv::Error) -> IoError {
        if self.broken.load(Ordering::SeqCst) {
            return IoError::BrokenPipe;
        }
        let msg = err.to_string();
        match err.into_kind() {
            csv::ErrorKind::Io(e) => self.io_error(e),
            _ => IoError::Io {
                path: self.shown.clone(),
                err: io::Error::other(msg),
            },
        }
    }

    fn polars_error(&self, err: PolarsError) -> IoError {
        if self.broken.load(Ordering::SeqCst) {
            IoError::BrokenPipe
        } else {
            IoError::parquet(&self.shown, "cannot write", err)
        }
    }
}

/// Writes any table to Parquet atomically (temporary file beside `path`,
/// renamed on success), zstd-compressed, with the given key-value metadata.
/// For eval predictions, summaries and the like.
pub fn write_dataframe_parquet_atomic(
    df: &mut DataFrame,
    path: &Path,
    metadata: &[(String, String)],
) -> Result<(), IoError> {
    let (temp, file) = TempFile::create(path)?;
    let mut out = BufWriter::new(file);
    let kv = (!metadata.is_empty()).then(|| KeyValueMetadata::from_static(metadata.to_vec()));
    ParquetWriter::new(&mut out)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(kv)
        .finish(df)
        .map_err(|e| IoError::parquet(path, "cannot write", e))?;
    let file = out
        .into_inner()
        .map_err(|e| IoError::io(path, e.into_error()))?;
    crate::atomic::sync(&file).map_err(|e| IoError::io(path, e))?;
    drop(file);
    temp.commit()
}

/// Reads a labelled-sentence Parquet file (as written by [`SentenceWriter`])
/// for summaries. Fails, listing the columns present, if any of
/// [`OUTPUT_COLUMNS`] is missing.
pub fn read_labelled(path: &Path) -> Result<DataFrame, IoError> {
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| IoError::parquet(path, "cannot read", e))?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    for column in OUTPUT_COLUMNS {
        if !names.iter().any(|n| n == column) {
            return Err(IoError::MissingColumn {
                path: path.to_path_buf(),
                column: column.to_string(),
                columns: names,
            });
        }
    }
    Ok(df)
}

/// The file-level key-value metadata of a Parquet file, in file order
/// (includes polars' `ARROW:schema` entry).
pub fn read_parquet_metadata(path: &Path) -> Result<Vec<(String, String)>, IoError> {
    let file = File::open(path).map_err(|e| IoError::io(path, e))?;
    let mut reader = ParquetReader::new(file);
    let meta = reader
        .get_metadata()
        .map_err(|e| IoError::parquet(path, "cannot read", e))?;
    Ok(meta
        .key_value_metadata()
        .iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_on_stdout_maps_to_broken_pipe() {
        let flag = Arc::new(AtomicBool::new(false));
        let target = Target::Stdout(io::stdout(), flag.clone());
        let _ = target.note::<()>(Err(io::Error::other("unrelated")));
        assert!(!flag.load(Ordering::SeqCst));
        let _ = target.note::<()>(Err(io::ErrorKind::BrokenPipe.into()));
        assert!(flag.load(Ordering::SeqCst));

        // Nothing is written to stdout: JSONL writes nothing up front.
        let w = SentenceWriter::new(None, OutputFormat::Jsonl, OutputMetadata::default()).unwrap();
        assert!(w.temp_path().is_none());
        assert!(matches!(
            w.io_error(io::ErrorKind::BrokenPipe.into()),
            IoError::BrokenPipe
        ));
        assert!(matches!(
            w.csv_error(csv::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))),
            IoError::BrokenPipe
        ));
        assert!(matches!(
            w.io_error(io::ErrorKind::PermissionDenied.into()),
            IoError::Io { .. }
        ));
        // Once the flag is set, errors that went through polars map too.
        w.broken.store(true, Ordering::SeqCst);
        assert!(matches!(
            w.polars_error(PolarsError::ComputeError("io".into())),
            IoError::BrokenPipe
        ));
        w.finish().unwrap();
    }
}
