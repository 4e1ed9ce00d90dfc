//! The error type of this crate.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading inputs or writing outputs.
///
/// Every message names the file it is about; messages about one record also
/// name the 1-based line (JSONL, CSV: the line the record starts on) or, for
/// Parquet, the 1-based row, written the same way (`file:N`). Messages about
/// a missing column list the columns that do exist.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// An input path given on the command line does not exist.
    #[error("{}: no such file or directory", .path.display())]
    NotFound { path: PathBuf },

    /// An operating-system error while opening, reading or writing `path`.
    #[error("{}: {err}", .path.display())]
    Io { path: PathBuf, err: std::io::Error },

    /// The format of a file cannot be told from its extension.
    #[error(
        "{}: cannot tell the format from the extension; expected {expected}{hint}",
        .path.display()
    )]
    UnknownFormat {
        path: PathBuf,
        expected: &'static str,
        /// How else to name the format, if there is a way (with a leading
        /// space), e.g. " (or pass --input-format)".
        hint: &'static str,
    },

    /// The file is not valid UTF-8 (and `lossy` was not asked for).
    #[error("{}:{line}: invalid UTF-8 at byte {offset} (use --lossy to replace)", .path.display())]
    InvalidUtf8 {
        path: PathBuf,
        /// 1-based line of the invalid byte.
        line: usize,
        offset: usize,
    },

    /// The file starts with a UTF-16 byte-order mark but is not valid
    /// UTF-16 (and `lossy` was not asked for).
    #[error("{}: invalid UTF-16 at byte {offset} (use --lossy to replace)", .path.display())]
    InvalidUtf16 { path: PathBuf, offset: usize },

    /// The file contains NUL bytes near its start and is not valid UTF-8.
    #[error("{}: looks like a binary file", .path.display())]
    Binary { path: PathBuf },

    /// A JSONL line is not valid JSON.
    #[error("{}:{line}: malformed JSON: {err}", .path.display())]
    MalformedJson {
        path: PathBuf,
        line: usize,
        err: String,
    },

    /// A JSONL line is valid JSON but not an object.
    #[error("{}:{line}: expected a JSON object, found {found}", .path.display())]
    NotAnObject {
        path: PathBuf,
        line: usize,
        found: &'static str,
    },

    /// A JSONL record lacks a required field.
    #[error("{}:{line}: no field \"{field}\"; keys are: {}", .path.display(), list(.keys))]
    MissingField {
        path: PathBuf,
        line: usize,
        field: String,
        keys: Vec<String>,
    },

    /// A JSONL object names a key that the reader uses twice.
    #[error(
        "{}:{line}: the object names key \"{key}\" twice; JSON tools differ on which \
         value counts, so remove one",
        .path.display()
    )]
    DuplicateKey {
        path: PathBuf,
        line: usize,
        key: String,
    },

    /// A JSONL field has the wrong JSON type.
    #[error("{}:{line}: field \"{field}\" must be {expected}, found {found}", .path.display())]
    WrongFieldType {
        path: PathBuf,
        line: usize,
        field: String,
        expected: &'static str,
        found: &'static str,
    },

    /// A CSV or Parquet file lacks a required column.
    #[error(
        "{}: no column \"{column}\"; columns are: {}{}",
        .path.display(),
        list(.columns),
        separator_hint(.path, .columns)
    )]
    MissingColumn {
        path: PathBuf,
        column: String,
        columns: Vec<String>,
    },

    /// A CSV header names a column that the reader needs twice, so which
    /// one to read is ambiguous.
    #[error(
        "{}: the header names column \"{column}\" twice (columns {first} and {second}); \
         rename one so that it is clear which to read",
        .path.display()
    )]
    DuplicateColumn {
        path: PathBuf,
        column: String,
        /// 1-based positions of the first two occurrences.
        first: usize,
        second: usize,
    },

    /// A Parquet column has the wrong type.
    #[error("{}: column \"{column}\" must be {expected}, found {found}", .path.display())]
    WrongColumnType {
        path: PathBuf,
        column: String,
        expected: &'static str,
        found: String,
    },

    /// A Parquet row has a null where a value is required (`line` is the 1-based row).
    #[error("{}:{line}: null value in column \"{column}\"", .path.display())]
    NullValue {
        path: PathBuf,
        line: usize,
        column: String,
    },

    /// A CSV file cannot be parsed.
    #[error("{}: malformed CSV: {err}", Loc(.path, *.line))]
    MalformedCsv {
        path: PathBuf,
        line: Option<usize>,
        err: String,
    },

    /// A gold record has a label outside the label set.
    #[error(
        "{}:{line}: unknown label \"{label}\"; expected one of {}{}",
        .path.display(),
        .expected.join(", "),
        did_you_mean(.label, .expected)
    )]
    UnknownLabel {
        path: PathBuf,
        line: usize,
        label: String,
        expected: Vec<String>,
    },

    /// A gold record has a secondary label outside the label set.
    #[error(
        "{}:{line}: unknown secondary label \"{label}\"; expected one of {}{}",
        .path.display(),
        .expected.join(", "),
        did_you_mean(.label, .expected)
    )]
    UnknownSecondaryLabel {
        path: PathBuf,
        line: usize,
        label: String,
        expected: Vec<String>,
    },

    /// A gold record has an empty (or whitespace-only) text.
    #[error("{}:{line}: empty text", .path.display())]
    EmptyText { path: PathBuf, line: usize },

    /// Polars failed to read or write a Parquet file.
    #[error("{}: {action} Parquet: {err}", .path.display())]
    Parquet {
        path: PathBuf,
        action: &'static str,
        err: String,
    },

    /// A row handed to the writer is invalid (e.g. an unknown label).
    #[error("{}: cannot write sentence {sentence} of document \"{doc_id}\": {problem}", .path.display())]
    InvalidRow {
        path: PathBuf,
        doc_id: String,
        sentence: u32,
        problem: String,
    },

    /// Standard output was closed by the reader (e.g. `stance label ... | head`).
    /// The CLI should exit quietly with status 0.
    #[error("broken pipe")]
    BrokenPipe,
}

impl IoError {
    pub(crate) fn io(path: &Path, err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::NotFound {
            return IoError::NotFound {
                path: path.to_path_buf(),
            };
        }
        IoError::Io {
            path: path.to_path_buf(),
            err,
        }
    }

    pub(crate) fn parquet(path: &Path, action: &'static str, err: impl fmt::Display) -> Self {
        IoError::Parquet {
            path: path.to_path_buf(),
            action,
            err: err.to_string(),
        }
    }

    /// The file this error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        use IoError::*;
        match self {
            NotFound { path }
            | Io { path, .. }
            | UnknownFormat { path, .. }
            | InvalidUtf8 { path, .. }
            | InvalidUtf16 { path, .. }
            | Binary { path }
            | MalformedJson { path, .. }
            | NotAnObject { path, .. }
            | MissingField { path, .. }
            | DuplicateKey { path, .. }
            | WrongFieldType { path, .. }
            | MissingColumn { path, .. }
            | DuplicateColumn { path, .. }
            | WrongColumnType { path, .. }
            | NullValue { path, .. }
            | MalformedCsv { path, .. }
            | UnknownLabel { path, .. }
            | UnknownSecondaryLabel { path, .. }
            | EmptyText { path, .. }
            | Parquet { path, .. }
            | InvalidRow { path, .. } => Some(path),
            BrokenPipe => None,
        }
    }

    /// Whether this is [`IoError::BrokenPipe`].
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, IoError::BrokenPipe)
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

/// `path:line` or just `path`.
struct Loc<'a>(&'a Path, Option<usize>);

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(line) => write!(f, "{}:{}", self.0.display(), line),
            None => write!(f, "{}", self.0.display()),
        }
    }
}

/// ` (did you mean "x"?)` when `label` is one of `expected` written another
/// way (case, `_` or a space for `-`), else nothing.
fn did_you_mean(label: &str, expected: &[String]) -> String {
    if label.trim().is_empty() {
        return " (the label is empty: every gold sentence needs one)".to_string();
    }
    let fold = |l: &str| l.trim().to_lowercase().replace(['_', ' '], "-");
    expected
        .iter()
        .find(|e| fold(e) == fold(label))
        .map(|e| format!(" (did you mean \"{e}\"?)"))
        .unwrap_or_default()
}

/// A hint when a CSV header read as one column holds semicolons or tabs:
/// stance reads comma-separated files only.
fn separator_hint(path: &Path, columns: &[String]) -> &'static str {
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    match columns {
        _ if parquet => "",
        [only] if only.contains(';') => {
            " (the header is separated by semicolons: stance reads comma-separated CSV, so save it with commas)"
        }
        [only] if only.contains('\t') => {
            " (the header is separated by tabs: stance reads comma-separated CSV, so save it with commas)"
        }
        _ => "",
    }
}
