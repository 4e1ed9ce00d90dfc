//! Discovering input files and reading documents from them.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use polars::io::mmap::MmapBytesReader;
use polars::prelude::*;
use serde_json::{Map, Value};

use crate::encoding::Utf16;
use crate::IoError;

/// Extensions (lower-case, without the dot) that directory walks pick up.
pub const KNOWN_EXTENSIONS: [&str; 9] = [
    "txt", "md", "html", "htm", "xhtml", "jsonl", "ndjson", "csv", "parquet",
];

const DOCUMENT_EXTENSIONS_HELP: &str =
    ".txt, .md, .html, .htm, .jsonl, .ndjson, .csv or .parquet, each also gzipped (.gz)";
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
pub(crate) const BINARY_SNIFF_BYTES: usize = 8192;

/// How an input file is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Plain text or Markdown: one document per file.
    Text,
    /// An HTML page: one document per file, its visible text laid out in
    /// lines (see [`crate::html`]).
    Html,
    /// JSON Lines: one document per non-blank line.
    Jsonl,
    /// CSV with a header row: one document per record.
    Csv,
    /// Parquet: one document per row.
    Parquet,
}

impl InputFormat {
    /// The format implied by a file's extension (case-insensitive):
    /// `.txt`/`.md` → Text, `.html`/`.htm`/`.xhtml` → Html,
    /// `.jsonl`/`.ndjson` → Jsonl, `.csv` → Csv,
    /// `.parquet` → Parquet; anything else → `None`. A final `.gz` is
    /// looked through: `a.jsonl.gz` is JSONL (gzip-compressed).
    pub fn from_path(path: &Path) -> Option<InputFormat> {
        let path = crate::compression::without_gz(path);
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "md" => Some(InputFormat::Text),
            "html" | "htm" | "xhtml" => Some(InputFormat::Html),
            "jsonl" | "ndjson" => Some(InputFormat::Jsonl),
            "csv" => Some(InputFormat::Csv),
            "parquet" => Some(InputFormat::Parquet),
            _ => None,
        }
    }

    /// Whether a file of this format is one document (rather than a table
    /// of documents, one per record).
    pub fn is_one_document(self) -> bool {
        matches!(self, InputFormat::Text | InputFormat::Html)
    }

    /// The canonical name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Text => "text",
            InputFormat::Html => "html",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Csv => "csv",
            InputFormat::Parquet => "parquet",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InputFormat {
    type Err = String;

    /// Accepts `text`/`txt`/`md`/`markdown`, `html`/`htm`, `jsonl`/`ndjson`,
    /// `csv`, `parquet`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "txt" | "md" | "markdown" => Ok(InputFormat::Text),
            "html" | "htm" | "xhtml" => Ok(InputFormat::Html),
            "jsonl" | "ndjson" => Ok(InputFormat::Jsonl),
            "csv" => Ok(InputFormat::Csv),
            "parquet" => Ok(InputFormat::Parquet),
            _ => Err(format!(
                "unknown input format \"{s}\"; expected one of text, html, jsonl, csv, parquet"
            )),
        }
    }
}

/// How documents are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Overrides the format implied by the extension, for every file; the
    /// format of standard input (default: Text).
    pub format: Option<InputFormat>,
    /// JSONL field / CSV or Parquet column holding the text (default `"text"`).
    pub text_field: String,
    /// Field / column holding the document id. `None`: `"id"` when present,
    /// otherwise `"{file id}:{line}"` (row number for Parquet). When given
    /// explicitly the column must exist.
    pub id_field: Option<String>,
    /// Replace invalid UTF-8 with U+FFFD instead of failing.
    pub lossy: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            text_field: "text".to_string(),
            id_field: None,
            lossy: false,
        }
    }
}

/// One document to be segmented and labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub doc_id: String,
    /// The input path as given on the command line (or found under a given
    /// directory), or `"-"` for standard input.
    pub source: String,
    pub text: String,
}

/// One file to read, as found by [`discover`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputFile {
    /// The file (`"-"` for standard input).
    pub path: PathBuf,
    /// The command-line argument it came from (the file itself, or the
    /// directory that was walked).
    pub root: PathBuf,
    pub is_stdin: bool,
}

impl InputFile {
    /// Standard input.
    pub fn stdin() -> InputFile {
        InputFile {
            path: PathBuf::from("-"),
            root: PathBuf::from("-"),
            is_stdin: true,
        }
    }

    /// A single file given directly.
    pub fn file(path: impl Into<PathBuf>) -> InputFile {
        let path = path.into();
        InputFile {
            root: path.clone(),
            path,
            is_stdin: false,
        }
    }

    /// What goes into [`Document::source`]: the path as given, or `"-"`.
    pub fn source(&self) -> String {
        if self.is_stdin {
            "-".to_string()
        } else {
            self.path.to_string_lossy().into_owned()
        }
    }

    /// The path used in error messages (`<stdin>` for standard input).
    pub fn display_path(&self) -> PathBuf {
        if self.is_stdin {
            PathBuf::from("<stdin>")
        } else {
            self.path.clone()
        }
    }

    /// The id of the file itself: for standard input `"stdin"`; for a file
    /// given directly its stem; for a file found under a directory its path
    /// relative to that directory, without extension (nor `.gz`), with `/`
    /// separators.
    ///
    /// Text documents use it as their `doc_id`; JSONL, CSV and Parquet
    /// records without an id use `"{file_id}:{line}"`.
    pub fn file_id(&self) -> String {
        if self.is_stdin {
            return "stdin".to_string();
        }
        let stem_of = |p: &Path| {
            crate::compression::without_gz(p)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let rel = match self.path.strip_prefix(&self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel,
            _ => return stem_of(&self.path),
        };
        let mut parts: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if let Some(last) = parts.last_mut() {
            *last = stem_of(rel);
        }
        parts.join("/")
    }
}

/// Expands command-line inputs into files, in order.
///
/// `"-"` is standard input. A file is taken as is (whatever its extension).
/// A directory is walked recursively in sorted (byte-wise by name) order,
/// keeping only files with a known extension (see [`KNOWN_EXTENSIONS`]) and
/// skipping hidden entries (names starting with `.`) and dangling symlinks.
/// Symlinks are followed; each directory is visited at most once per argument
/// (by canonical path), so symlink loops terminate. A missing argument is an
/// error naming it.
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<InputFile>, IoError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            out.push(InputFile::stdin());
            continue;
        }
        let meta = fs::metadata(input).map_err(|e| IoError::io(input, e))?;
        if meta.is_dir() {
            let mut visited = HashSet::new();
            walk(input, input, &mut visited, &mut out)?;
        } else {
            out.push(InputFile::file(input.clone()));
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    root: &Path,
    visited: &mut HashSet<PathBuf>,
    out: &mut Vec<InputFile>,
) -> Result<(), IoError> {
    let canonical = fs::canonicalize(dir).map_err(|e| IoError::io(dir, e))?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    let mut entries: Vec<(OsString, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| IoError::io(dir, e))? {
        let entry = entry.map_err(|e| IoError::io(dir, e))?;
        entries.push((entry.file_name(), entry.path()));
    }
    entries.sort();
    for (name, path) in entries {
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        // Follows symlinks; a dangling one is skipped.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, root, visited, out)?;
        } else if meta.is_file() && InputFormat::from_path(&path).is_some() {
            out.push(InputFile {
                path,
                root: root.to_path_buf(),
                is_stdin: false,
            });
        }
    }
    Ok(())
}

/// The format a file will be read as: `opts.format` if given, else from the
/// extension (standard input: Text).
pub fn resolve_format(file: &InputFile, opts: &ReadOptions) -> Result<InputFormat, IoError> {
    if let Some(format) = opts.format {
        return Ok(format);
    }
    if file.is_stdin {
        return Ok(InputFormat::Text);
    }
    InputFormat::from_path(&file.path).ok_or_else(|| IoError::UnknownFormat {
        path: file.path.clone(),
        expected: DOCUMENT_EXTENSIONS_HELP,
        hint: " (or pass --input-format)",
    })
}

/// Reads all documents of one file (or standard input). Files are independent,
/// so a caller can stream over [`discover`]'s output file by file.
pub fn read_documents(file: &InputFile, opts: &ReadOptions) -> Result<Vec<Document>, IoError> {
    let format = resolve_format(file, opts)?;
    if format == InputFormat::Parquet
        && !file.is_stdin
        && !crate::compression::file_is_gzip(&file.path)
    {
        let f = fs::File::open(&file.path).map_err(|e| IoError::io(&file.path, e))?;
        return Ctx::new(file, opts).parquet(ParquetReader::new(f));
    }
    parse_documents(file, format, read_bytes(file)?, opts)
}

/// Parses the contents of `file` (given as `bytes`, e.g. by a fuzzer or a
/// caller that already holds them) as `format`: the same documents and errors
/// as [`read_documents`], with nothing read from disk.
pub fn parse_documents(
    file: &InputFile,
    format: InputFormat,
    bytes: Vec<u8>,
    opts: &ReadOptions,
) -> Result<Vec<Document>, IoError> {
    let ctx = Ctx::new(file, opts);
    let shown = ctx.path.clone();
    let bytes = crate::compression::decompressed(bytes, &shown)?;
    match format {
        InputFormat::Parquet => ctx.parquet(ParquetReader::new(Cursor::new(bytes))),
        InputFormat::Text => {
            let text = decode(bytes, &shown, opts.lossy)?;
            Ok(vec![Document {
                doc_id: ctx.file_id,
                source: ctx.source,
                text,
            }])
        }
        InputFormat::Html => {
            let page = if std::str::from_utf8(&bytes).is_err()
                && Utf16::from_bom(&bytes).is_none()
                && !bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0)
                && crate::html::declared_windows_1252(&bytes)
            {
                crate::html::decode_windows_1252(&bytes)
            } else {
                decode(bytes, &shown, opts.lossy)?
            };
            Ok(vec![Document {
                doc_id: ctx.file_id,
                source: ctx.source,
                text: crate::html::visible_text(&page),
            }])
        }
        InputFormat::Jsonl => {
            let text = decode(bytes, &shown, opts.lossy)?;
            ctx.jsonl(&text)
        }
        InputFormat::Csv => {
            let text = decode(bytes, &shown, opts.lossy)?;
            ctx.csv(&text)
        }
    }
}

fn read_bytes(file: &InputFile) -> Result<Vec<u8>, IoError> {
    if file.is_stdin {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| IoError::io(&file.display_path(), e))?;
        Ok(buf)
    } else {
        fs::read(&file.path).map_err(|e| IoError::io(&file.path, e))
    }
}

/// Decodes file contents as UTF-8, dropping a leading BOM, or as UTF-16 when
/// they start with a UTF-16 byte-order mark. Invalid UTF-8 or UTF-16 is an
/// error naming the byte offset (in the file, and for UTF-8 the line) unless `lossy`; NUL bytes in the
/// first 8 KiB together with invalid UTF-8 mean a binary file (always an error).
pub(crate) fn decode(mut bytes: Vec<u8>, path: &Path, lossy: bool) -> Result<String, IoError> {
    if let Some(order) = Utf16::from_bom(&bytes) {
        let mut text = Vec::with_capacity(bytes.len());
        return match order.decode(&bytes[Utf16::BOM_LEN..], true, lossy, &mut text) {
            Ok(_) => Ok(String::from_utf8(text).expect("decoded UTF-16 is valid UTF-8")),
            Err(at) => Err(IoError::InvalidUtf16 {
                path: path.to_path_buf(),
                offset: Utf16::BOM_LEN + at,
            }),
        };
    }
    let bom = if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
        UTF8_BOM.len()
    } else {
        0
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => {
            let offset = err.utf8_error().valid_up_to() + bom;
            let bytes = err.into_bytes();
            let sniff = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES.saturating_sub(bom))];
            if sniff.contains(&0) {
                return Err(IoError::Binary {
                    path: path.to_path_buf(),
                });
            }
            if lossy {
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                Err(IoError::InvalidUtf8 {
                    path: path.to_path_buf(),
                    line: crate::stream::line_at(&bytes, offset - bom),
                    offset,
                })
            }
        }
    }
}

/// The string field `field` of a JSONL record on `line`: missing is an
/// error listing the keys there are, any other type (null included) an error
/// naming it.
pub(crate) fn required_string(
    obj: &Map<String, Value>,
    field: &str,
    path: &Path,
    line: usize,
) -> Result<String, IoError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(IoError::WrongFieldType {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            expected: "a string",
            found: json_type(other),
        }),
        None => Err(IoError::MissingField {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            keys: obj.keys().cloned().collect(),
        }),
    }
}

/// A JSON number in id field `field` of record `line`, as a document id:
/// integers with their digits (`1e2` and `100.0` read as `100`, `-0` as
/// `0`), other numbers as JSON writes them. A whole number too large for a
/// double to hold exactly is an error: JSON parsers read
/// `18446744073709551616` as a double, which would merge it with its
/// neighbours.
pub(crate) fn number_id(
    n: &serde_json::Number,
    field: &str,
    path: &Path,
    line: usize,
) -> Result<String, IoError> {
    if n.is_i64() || n.is_u64() {
        return Ok(n.to_string());
    }
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match n.as_f64() {
        Some(x) if x.fract() != 0.0 => Ok(n.to_string()),
        Some(x) if x.abs() < EXACT => Ok(format!("{}", x as i64)),
        _ => Err(IoError::WrongFieldType {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            expected: "a string, or a number below 2^53 (write larger ids as strings)",
            found: "a number too large to keep all its digits",
        }),
    }
}

pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Splits JSONL text into (1-based line number, parsed object), skipping
/// blank lines. A trailing `\r` is ignored.
pub(crate) fn jsonl_objects<'a>(
    text: &'a str,
    path: &'a Path,
    fields: &'a [&'a str],
) -> impl Iterator<Item = Result<(usize, Map<String, Value>), IoError>> + 'a {
    text.split('\n').enumerate().filter_map(move |(i, raw)| {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            return None;
        }
        Some(jsonl_object(raw, path, line, fields).map(|map| (line, map)))
    })
}

/// Parses one non-blank JSONL line into an object. A key among `fields` (the
/// ones the reader uses) that the object names twice is an error: JSON
/// parsers keep one of the two values, and which one differs between tools.
pub(crate) fn jsonl_object(
    raw: &str,
    path: &Path,
    line: usize,
    fields: &[&str],
) -> Result<Map<String, Value>, IoError> {
    // One pass builds the object and notes repeated keys; only a line that is
    // not an object is parsed again, to say what it is instead.
    let Ok(ObjectWithRepeats { map, repeated }) = serde_json::from_str(raw) else {
        return Err(match serde_json::from_str::<Value>(raw) {
            Ok(other) => IoError::NotAnObject {
                path: path.to_path_buf(),
                line,
                found: json_type(&other),
            },
            Err(err) => IoError::MalformedJson {
                path: path.to_path_buf(),
                line,
                err: json_error_message(&err),
            },
        });
    };
    match repeated.into_iter().find(|k| fields.contains(&k.as_str())) {
        Some(key) => Err(IoError::DuplicateKey {
            path: path.to_path_buf(),
            line,
            key,
        }),
        None => Ok(map),
    }
}

/// A JSON object as serde_json reads it (a repeated key keeps its last
/// value), with the top-level keys that it names more than once, in order.
struct ObjectWithRepeats {
    map: Map<String, Value>,
    repeated: Vec<String>,
}

impl<'de> serde::Deserialize<'de> for ObjectWithRepeats {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = ObjectWithRepeats;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut entries: A,
            ) -> Result<ObjectWithRepeats, A::Error> {
                let mut map = Map::new();
                let mut repeated = Vec::new();
                while let Some(key) = entries.next_key::<String>()? {
                    let value = entries.next_value::<Value>()?;
                    if map.insert(key.clone(), value).is_some() && !repeated.contains(&key) {
                        repeated.push(key);
                    }
                }
                Ok(ObjectWithRepeats { map, repeated })
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// serde_json's message without its "at line 1 column N" suffix (the line is
/// reported separately), with the column kept.
pub(crate) fn json_error_message(err: &serde_json::Error) -> String {
    let msg = err.to_string();
    match msg.rfind(" at line ") {
        Some(i) => format!("{} at column {}", &msg[..i], err.column()),
        None => msg,
    }
}

pub(crate) fn csv_error(path: &Path, err: csv::Error) -> IoError {
    let line = err.position().map(|p| p.line() as usize);
    let msg = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        _ => {
            let msg = err.to_string();
            // Drop csv's own position prefix; the line is reported separately.
            match msg.find("): ") {
                Some(i) if msg.starts_with("CSV") => msg[i + 3..].to_string(),
                _ => msg,
            }
        }
    };
    IoError::MalformedCsv {
        path: path.to_path_buf(),
        line,
        err: msg,
    }
}

/// Opens CSV text with a header row; returns the reader and the (trimmed)
/// header names.
pub(crate) fn csv_reader<'a>(
    text: &'a str,
    path: &Path,
) -> Result<(csv::Reader<&'a [u8]>, Vec<String>), IoError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_string)
        .collect();
    Ok((reader, header))
}

/// Turns CR LF and lone CR line ends into LF, in pieces: a CR at the end of
/// one piece and an LF at the start of the next are one line end.
///
/// CSV files go through this before parsing: the `csv` crate ends a record
/// at the CR of a CR LF and counts the line only at the LF, so every record
/// after a CR LF would be given the line before its own (two records could
/// then share a line-number id). Text inside quoted fields reads the same
/// with LF line ends.
#[derive(Debug, Default)]
pub(crate) struct LineEnds {
    after_cr: bool,
}

impl LineEnds {
    /// Rewrites `bytes`, the next piece of the file, in place.
    pub(crate) fn normalise(&mut self, bytes: &mut Vec<u8>) {
        let mut kept = 0;
        for read in 0..bytes.len() {
            let b = bytes[read];
            if b == b'\n' && self.after_cr {
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            bytes[kept] = if b == b'\r' { b'\n' } else { b };
            kept += 1;
        }
        bytes.truncate(kept);
    }

    /// The whole of `text`, normalised.
    pub(crate) fn normalise_text(text: &str) -> std::borrow::Cow<'_, str> {
        if !text.contains('\r') {
            return text.into();
        }
        let mut bytes = text.as_bytes().to_vec();
        LineEnds::default().normalise(&mut bytes);
        String::from_utf8(bytes)
            .expect("only ASCII bytes change")
            .into()
    }
}

/// The message for a CSV quote that never closes.
pub(crate) const UNCLOSED_QUOTE: &str =
    "a quoted field opened on this line is never closed (it runs to the end of the file)";

/// The `csv` crate reads a quote that never closes as a field running to the
/// end of the file, silently swallowing every later row into one text. Only
/// the last record can be such a field, so this scans it (from `start`, its
/// byte offset) and reports a quote left open as an error on its line.
pub(crate) fn check_last_record_quotes(
    text: &str,
    last: Option<csv::Position>,
    path: &Path,
) -> Result<(), IoError> {
    let Some(position) = last else {
        return Ok(());
    };
    let rest = text
        .as_bytes()
        .get(position.byte() as usize..)
        .unwrap_or_default();
    let mut scan = unclosed_quote();
    if !scan.feed(rest) && scan.is_open() {
        return Err(IoError::MalformedCsv {
            path: path.to_path_buf(),
            line: Some(position.line() as usize),
            err: UNCLOSED_QUOTE.into(),
        });
    }
    Ok(())
}

/// Scans one CSV record, fed in pieces from its first byte, for a quoted
/// field that stays open.
pub(crate) struct QuoteScan {
    state: QuoteState,
    field_start: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    Unquoted,
    Quoted,
    /// A `"` inside quotes: an escaped quote if another follows, else the end of the quotes.
    QuoteInQuoted,
}

pub(crate) fn unclosed_quote() -> QuoteScan {
    QuoteScan {
        state: QuoteState::Unquoted,
        field_start: true,
    }
}

impl QuoteScan {
    /// Feeds the next bytes; true once the record has ended (a line end
    /// outside quotes), after which nothing more needs feeding.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            match self.state {
                QuoteState::Quoted => {
                    if b == b'"' {
                        self.state = QuoteState::QuoteInQuoted;
                    }
                    continue;
                }
                QuoteState::QuoteInQuoted if b == b'"' => {
                    self.state = QuoteState::Quoted;
                    continue;
                }
                QuoteState::QuoteInQuoted => {
                    self.state = QuoteState::Unquoted;
                    self.field_start = false;
                }
                QuoteState::Unquoted => {}
            }
            if self.field_start && b == b'"' {
                self.state = QuoteState::Quoted;
                self.field_start = false;
            } else if b == b'\n' {
                return true;
            } else {
                self.field_start = b == b',';
            }
        }
        false
    }

    /// Whether a quote is open at the end of what was fed.
    pub(crate) fn is_open(&self) -> bool {
        self.state == QuoteState::Quoted
    }
}

/// Where the text and id columns are in a CSV header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvColumns {
    text: usize,
    id: Option<usize>,
}

/// The index of column `name` in a CSV header: `None` if absent, an error if
/// the header names it more than once.
pub(crate) fn find_column(
    header: &[String],
    name: &str,
    path: &Path,
) -> Result<Option<usize>, IoError> {
    let mut found = header.iter().enumerate().filter(|(_, h)| *h == name);
    match (found.next(), found.next()) {
        (Some((first, _)), Some((second, _))) => Err(IoError::DuplicateColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            first: first + 1,
            second: second + 1,
        }),
        (first, _) => Ok(first.map(|(i, _)| i)),
    }
}

pub(crate) fn missing_column(path: &Path, column: &str, columns: &[String]) -> IoError {
    IoError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        columns: columns.to_vec(),
    }
}

/// Parquet: the column names of a file, from its footer.
pub(crate) fn parquet_column_names<R: MmapBytesReader>(
    reader: &mut ParquetReader<R>,
    path: &Path,
) -> Result<Vec<String>, IoError> {
    let schema = reader
        .schema()
        .map_err(|e| IoError::parquet(path, "cannot read", e))?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// A column as `Option<String>` values: String columns as is, categorical
/// and enum columns cast, integer columns cast when `allow_cast` (ids);
/// other types are an error.
pub(crate) fn column_as_strings(
    df: &DataFrame,
    name: &str,
    path: &Path,
    expected: &'static str,
    allow_cast: bool,
) -> Result<Vec<Option<String>>, IoError> {
    let col = df
        .column(name)
        .map_err(|e| IoError::parquet(path, "cannot read", e))?;
    let dtype = col.dtype();
    // Categorical and enum columns (pandas' `category`) hold strings.
    let castable = dtype.is_categorical() || dtype.is_enum() || (allow_cast && dtype.is_integer());
    let col = if dtype == &DataType::String {
        col.clone()
    } else if castable {
        col.cast(&DataType::String)
            .map_err(|e| IoError::parquet(path, "cannot read", e))?
    } else {
        return Err(IoError::WrongColumnType {
            path: path.to_path_buf(),
            column: name.to_string(),
            expected,
            found: dtype.to_string(),
        });
    };
    let ca = col
        .str()
        .map_err(|e| IoError::parquet(path, "cannot read", e))?;
    Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
}

/// What turns one record of a file into a [`Document`]: the file's names
/// and the fields to read.
pub(crate) struct Ctx {
    /// The path shown in errors.
    pub(crate) path: PathBuf,
    source: String,
    file_id: String,
    text_field: String,
    id_field: Option<String>,
}

impl Ctx {
    pub(crate) fn new(file: &InputFile, opts: &ReadOptions) -> Self {
        Ctx {
            path: file.display_path(),
            source: file.source(),
            file_id: file.file_id(),
            text_field: opts.text_field.clone(),
            id_field: opts.id_field.clone(),
        }
    }

    fn fallback_id(&self, line: usize) -> String {
        format!("{}:{}", self.file_id, line)
    }

    fn id_column(&self) -> (&str, bool) {
        match &self.id_field {
            Some(f) => (f.as_str(), true),
            None => ("id", false),
        }
    }

    /// The JSONL keys this reader uses: the text field and the id field.
    pub(crate) fn jsonl_fields(&self) -> [&str; 2] {
        [self.text_field.as_str(), self.id_column().0]
    }

    fn jsonl(&self, text: &str) -> Result<Vec<Document>, IoError> {
        let fields = self.jsonl_fields();
        jsonl_objects(text, &self.path, &fields)
            .map(|item| item.and_then(|(line, obj)| self.jsonl_document(line, obj)))
            .collect()
    }

    /// The document of JSONL line `line`.
    pub(crate) fn jsonl_document(
        &self,
        line: usize,
        obj: Map<String, Value>,
    ) -> Result<Document, IoError> {
        let field = self.text_field.as_str();
        let (id_field, id_explicit) = self.id_column();
        let text = required_string(&obj, field, &self.path, line)?;
        let doc_id = match obj.get(id_field) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => number_id(n, id_field, &self.path, line)?,
            Some(Value::String(_)) | Some(Value::Null) => self.fallback_id(line),
            Some(other) => {
                return Err(IoError::WrongFieldType {
                    path: self.path.clone(),
                    line,
                    field: id_field.to_string(),
                    expected: "a string or a number",
                    found: json_type(other),
                });
            }
            None if id_explicit => {
                return Err(IoError::MissingField {
                    path: self.path.clone(),
                    line,
                    field: id_field.to_string(),
                    keys: obj.keys().cloned().collect(),
                });
            }
            None => self.fallback_id(line),
        };
        Ok(Document {
            doc_id,
            source: self.source.clone(),
            text,
        })
    }

    fn csv(&self, text: &str) -> Result<Vec<Document>, IoError> {
        let text = &LineEnds::normalise_text(text);
        let (mut reader, header) = csv_reader(text, &self.path)?;
        let columns = self.csv_columns(&header)?;
        let mut docs = Vec::new();
        let mut last = None;
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(&self.path, e))?;
            last = record.position().cloned();
            docs.push(self.csv_document(&record, columns));
        }
        check_last_record_quotes(text, last, &self.path)?;
        Ok(docs)
    }

    /// The indices of the text column and of the id column (if any) in a CSV header.
    pub(crate) fn csv_columns(&self, header: &[String]) -> Result<CsvColumns, IoError> {
        let field = self.text_field.as_str();
        let text = find_column(header, field, &self.path)?
            .ok_or_else(|| missing_column(&self.path, field, header))?;
        let (id_field, id_explicit) = self.id_column();
        let id = match find_column(header, id_field, &self.path)? {
            Some(i) => Some(i),
            None if id_explicit => return Err(missing_column(&self.path, id_field, header)),
            None => None,
        };
        Ok(CsvColumns { text, id })
    }

    /// The document of one CSV record.
    pub(crate) fn csv_document(&self, record: &csv::StringRecord, columns: CsvColumns) -> Document {
        let line = record.position().map_or(0, |p| p.line() as usize);
        let text = record.get(columns.text).unwrap_or_default().to_string();
        let doc_id = match columns.id.and_then(|i| record.get(i)) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => self.fallback_id(line),
        };
        Document {
            doc_id,
            source: self.source.clone(),
            text,
        }
    }

    fn parquet<R: MmapBytesReader>(
        &self,
        mut reader: ParquetReader<R>,
    ) -> Result<Vec<Document>, IoError> {
        let columns = self.parquet_columns(&mut reader)?;
        let df = reader
            .with_columns(Some(columns.clone()))
            .finish()
            .map_err(|e| IoError::parquet(&self.path, "cannot read", e))?;
        self.parquet_documents(&df, &columns, 0)
    }

    /// The columns to read from a Parquet file: the text column, then the id
    /// column if there is one; an error if a needed one is missing.
    pub(crate) fn parquet_columns<R: MmapBytesReader>(
        &self,
        reader: &mut ParquetReader<R>,
    ) -> Result<Vec<String>, IoError> {
        let columns = parquet_column_names(reader, &self.path)?;
        let field = self.text_field.as_str();
        if !columns.iter().any(|c| c == field) {
            return Err(missing_column(&self.path, field, &columns));
        }
        let (id_field, id_explicit) = self.id_column();
        let has_id = columns.iter().any(|c| c == id_field);
        if id_explicit && !has_id {
            return Err(missing_column(&self.path, id_field, &columns));
        }
        let mut wanted = vec![field.to_string()];
        if has_id && id_field != field {
            wanted.push(id_field.to_string());
        }
        Ok(wanted)
    }

    /// The documents of rows `first_row + 1 ..` of a Parquet file, read as
    /// `df` with the columns [`Self::parquet_columns`] chose.
    pub(crate) fn parquet_documents(
        &self,
        df: &DataFrame,
        columns: &[String],
        first_row: usize,
    ) -> Result<Vec<Document>, IoError> {
        let field = self.text_field.as_str();
        let texts = column_as_strings(df, field, &self.path, "a String column", false)?;
        let ids = match columns.get(1) {
            Some(id_field) => Some(column_as_strings(
                df,
                id_field,
                &self.path,
                "a String or integer column",
                true,
            )?),
            // The text column doubles as the id column.
            None if self.id_column().0 == field => Some(texts.clone()),
            None => None,
        };
        let mut docs = Vec::with_capacity(texts.len());
        for (i, text) in texts.into_iter().enumerate() {
            let row = first_row + i + 1;
            let text = text.ok_or_else(|| IoError::NullValue {
                path: self.path.clone(),
                line: row,
                column: field.to_string(),
            })?;
            let doc_id = match ids.as_ref().and_then(|ids| ids[i].as_deref()) {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => self.fallback_id(row),
            };
            docs.push(Document {
                doc_id,
                source: self.source.clone(),
                text,
            });
        }
        Ok(docs)
    }
}
