//! Reading documents and gold files, and writing labelled sentences. The only
//! crate that knows file formats and the output schema. Never prints.
//!
//! * [`discover`] expands command-line inputs (files, directories, `-`) into
//!   [`InputFile`]s; [`read_documents`] reads one of them into [`Document`]s
//!   (plain text/Markdown, HTML pages, JSONL, CSV or Parquet); [`stream_documents`]
//!   yields them one at a time, reading JSONL and CSV files record by record
//!   so that memory does not grow with the file.
//! * [`read_gold`] reads hand-labelled sentences; [`gold_warnings`] reports
//!   duplicated texts.
//! * [`SentenceWriter`] writes [`LabelledSentence`]s as Parquet (with
//!   provenance in the file metadata), JSONL or CSV, atomically for files.
//!   Temporary files still being written are listed by
//!   [`pending_temp_files`] and removed by [`remove_pending_temp_files`]
//!   (for signal handling). [`same_file`] and [`looks_like_label_output`]
//!   keep an output from overwriting an input.
//!
//! Text is read as UTF-8, or as UTF-16 when it starts with a UTF-16
//! byte-order mark. Gzip-compressed files (`a.jsonl.gz`) are read as the file
//! they hold.
//!
//! All errors are [`IoError`]s whose messages name the file, and the line or
//! row where there is one.

mod atomic;
mod compression;
mod encoding;
mod error;
mod gold;
mod html;
mod input;
mod output;
mod paths;
mod stream;
mod tables;

pub use atomic::{pending_temp_files, remove_pending_temp_files, temp_path_for, write_file_atomic};
pub use error::IoError;
pub use gold::{gold_warnings, previous_in_document, read_gold, GoldRecord};
pub use html::looks_like_html;
pub use input::{
    discover, parse_documents, read_documents, resolve_format, Document, InputFile, InputFormat,
    ReadOptions, KNOWN_EXTENSIONS,
};
pub use output::{
    label_dtype, output_schema, read_labelled, read_parquet_metadata, sentences_to_dataframe,
    write_dataframe_parquet_atomic, LabelledSentence, OutputFormat, OutputMetadata, SentenceWriter,
    LABELS, META_LABELS, META_MODEL, META_MODEL_SHA256, META_PRECISION, META_SCHEMA_VERSION,
    META_VERSION, OUTPUT_COLUMNS, SCHEMA_VERSION,
};
pub use paths::{file_identity, looks_like_label_output, same_file, FileIdentity};
pub use stream::{stream_documents, DocumentStream};
pub use tables::{
    document_label_counts, summary_dataframe, write_predictions, write_summary, DocumentCounts,
    PredictionRow,
};

#[cfg(test)]
mod tests;
