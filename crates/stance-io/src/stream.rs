//! Streaming documents out of files record by record, so that memory is
//! bounded by the longest record rather than by the file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use polars::prelude::{FileMetadataRef, ParquetReader, SerReader};

use crate::encoding::Utf16;
use crate::input::{
    csv_error, jsonl_object, resolve_format, unclosed_quote, CsvColumns, Ctx, LineEnds,
    BINARY_SNIFF_BYTES, UNCLOSED_QUOTE, UTF8_BOM,
};
use crate::{read_documents, Document, InputFile, InputFormat, IoError, ReadOptions};

/// The documents of one file, in order, read as they are needed.
///
/// JSONL and CSV files are read record by record and Parquet files
/// [`PARQUET_SLICE_ROWS`] rows at a time, twice: a first pass checks the
/// whole file, so that a bad record anywhere is an error before any document
/// is produced, and a second pass yields the documents. Plain text (one
/// document per file) and standard input are read whole.
pub struct DocumentStream {
    inner: Inner,
}

enum Inner {
    Loaded(std::vec::IntoIter<Document>),
    Jsonl(Box<JsonlRecords>),
    Csv(Box<CsvRecords>),
    Parquet(Box<ParquetRows>),
}

impl Iterator for DocumentStream {
    type Item = Result<Document, IoError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Loaded(docs) => docs.next().map(Ok),
            Inner::Jsonl(records) => records.next(),
            Inner::Csv(records) => records.next(),
            Inner::Parquet(rows) => rows.next(),
        }
    }
}

/// Opens the documents of one file (or standard input) as a stream: the same
/// documents and errors as [`read_documents`], with any error in the file
/// reported here, before the first document.
pub fn stream_documents(file: &InputFile, opts: &ReadOptions) -> Result<DocumentStream, IoError> {
    let format = resolve_format(file, opts)?;
    let loaded = || -> Result<DocumentStream, IoError> {
        Ok(DocumentStream {
            inner: Inner::Loaded(read_documents(file, opts)?.into_iter()),
        })
    };
    // A gzipped Parquet file is decompressed whole: Parquet readers seek.
    if file.is_stdin
        || (format == InputFormat::Parquet && crate::compression::file_is_gzip(&file.path))
    {
        return loaded();
    }
    let open = || -> Result<DocumentStream, IoError> {
        let ctx = Ctx::new(file, opts);
        let utf8 = || Utf8Reader::open(&file.path, opts.lossy);
        let inner = match format {
            InputFormat::Text | InputFormat::Html => return loaded(),
            InputFormat::Jsonl => Inner::Jsonl(Box::new(JsonlRecords::new(ctx, utf8()?))),
            InputFormat::Csv => Inner::Csv(Box::new(CsvRecords::new(
                ctx,
                utf8()?.with_lf_line_ends(),
                file,
                opts,
            )?)),
            InputFormat::Parquet => Inner::Parquet(Box::new(ParquetRows::open(ctx, &file.path)?)),
        };
        Ok(DocumentStream { inner })
    };
    if format.is_one_document() {
        return loaded();
    }
    // The first pass only checks; the second yields.
    for document in open()? {
        document?;
    }
    open()
}

/// Reads a file as UTF-8, as [`crate::input::decode`] does with the whole
/// file: a leading byte-order mark is dropped, and one for UTF-16 makes it
/// decode UTF-16 instead; invalid UTF-8 (or UTF-16) is an error
/// naming its byte offset in the file, or becomes U+FFFD when `lossy`; NUL
/// bytes in the first 8 KiB together with invalid UTF-8 mean a binary file.
/// Everything it yields is valid UTF-8.
pub(crate) struct Utf8Reader {
    /// The file, decompressed if it is gzip.
    inner: BufReader<Box<dyn Read + Send>>,
    path: PathBuf,
    lossy: bool,
    /// Whether the first 8 KiB of the file hold a NUL byte.
    binary_start: bool,
    /// The byte order of a UTF-16 file; `None` for UTF-8.
    utf16: Option<Utf16>,
    /// Set for CSV: line ends become LF as they are decoded.
    line_ends: Option<LineEnds>,
    /// Undecoded bytes (an incomplete character at most, between fills).
    raw: Vec<u8>,
    /// File offset of `raw[0]`.
    raw_offset: usize,
    /// Decoded bytes, and how many of them were consumed.
    decoded: Vec<u8>,
    consumed: usize,
    eof: bool,
    /// The first failure, kept to be reported as an [`IoError`].
    failure: Option<IoError>,
}

const READ_CHUNK: usize = 64 * 1024;

/// The 1-based line of byte `offset` in `bytes`.
pub(crate) fn line_at(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The 1-based line of byte `offset` of the file at `path`, read again up to
/// there: for error messages only, so that reading never counts lines.
/// 0 if the file cannot be read again.
fn line_in_file(path: &Path, offset: usize) -> usize {
    let mut prefix = Vec::with_capacity(offset);
    let read = crate::compression::open(path)
        .ok()
        .map(|f| f.take(offset as u64).read_to_end(&mut prefix));
    match read {
        Some(Ok(n)) if n == offset => line_at(&prefix, offset),
        _ => 0,
    }
}

impl Utf8Reader {
    pub(crate) fn open(path: &Path, lossy: bool) -> Result<Self, IoError> {
        let mut inner = BufReader::with_capacity(READ_CHUNK, crate::compression::open(path)?);
        let mut raw = Vec::with_capacity(BINARY_SNIFF_BYTES);
        (&mut inner)
            .take(BINARY_SNIFF_BYTES as u64)
            .read_to_end(&mut raw)
            .map_err(|e| IoError::io(path, e))?;
        let utf16 = Utf16::from_bom(&raw);
        let binary_start = utf16.is_none() && raw.contains(&0);
        let mut raw_offset = 0;
        if utf16.is_some() {
            raw.drain(..Utf16::BOM_LEN);
            raw_offset = Utf16::BOM_LEN;
        } else if raw.starts_with(UTF8_BOM) {
            raw.drain(..UTF8_BOM.len());
            raw_offset = UTF8_BOM.len();
        }
        Ok(Utf8Reader {
            inner,
            path: path.to_path_buf(),
            lossy,
            binary_start,
            utf16,
            line_ends: None,
            raw,
            raw_offset,
            decoded: Vec::new(),
            consumed: 0,
            eof: false,
            failure: None,
        })
    }

    /// Makes CR LF and lone CR line ends read as LF (see [`LineEnds`]).
    pub(crate) fn with_lf_line_ends(mut self) -> Self {
        self.line_ends = Some(LineEnds::default());
        self
    }

    /// Decodes what `raw` holds into `decoded` (empty before), then
    /// normalises line ends if asked to.
    fn decode_next(&mut self) -> io::Result<()> {
        self.decode_raw()?;
        if let Some(line_ends) = &mut self.line_ends {
            line_ends.normalise(&mut self.decoded);
        }
        Ok(())
    }

    /// The failure behind an `io::Error` this reader returned, or that error
    /// as an I/O error on the file.
    pub(crate) fn error(&mut self, err: io::Error) -> IoError {
        self.failure
            .take()
            .unwrap_or_else(|| IoError::io(&self.path, err))
    }

    fn fail(&mut self, err: IoError) -> io::Error {
        self.failure = Some(err);
        io::Error::new(io::ErrorKind::InvalidData, "invalid UTF-8")
    }

    /// Decodes as much of `raw` as is complete; at the end of the file an
    /// incomplete character is invalid.
    fn decode_raw(&mut self) -> io::Result<()> {
        if let Some(order) = self.utf16 {
            return match order.decode(&self.raw, self.eof, self.lossy, &mut self.decoded) {
                Ok(used) => {
                    self.raw.drain(..used);
                    self.raw_offset += used;
                    Ok(())
                }
                Err(at) => {
                    let err = IoError::InvalidUtf16 {
                        path: self.path.clone(),
                        offset: self.raw_offset + at,
                    };
                    Err(self.fail(err))
                }
            };
        }
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.raw[start..]) {
                Ok(valid) => {
                    self.decoded.extend_from_slice(valid.as_bytes());
                    start = self.raw.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    self.decoded
                        .extend_from_slice(&self.raw[start..start + valid]);
                    start += valid;
                    let bad = match e.error_len() {
                        Some(n) => n,
                        None if self.eof => self.raw.len() - start,
                        // An incomplete character: wait for more bytes.
                        None => break,
                    };
                    if self.binary_start {
                        let path = self.path.clone();
                        return Err(self.fail(IoError::Binary { path }));
                    }
                    if !self.lossy {
                        let offset = self.raw_offset + start;
                        let err = IoError::InvalidUtf8 {
                            path: self.path.clone(),
                            line: line_in_file(&self.path, offset),
                            offset,
                        };
                        return Err(self.fail(err));
                    }
                    self.decoded
                        .extend_from_slice(char::REPLACEMENT_CHARACTER.to_string().as_bytes());
                    start += bad;
                }
            }
        }
        self.raw.drain(..start);
        self.raw_offset += start;
        Ok(())
    }
}

impl BufRead for Utf8Reader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.failure.is_some() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "invalid UTF-8"));
        }
        while self.consumed == self.decoded.len() {
            self.decoded.clear();
            self.consumed = 0;
            if self.eof {
                if !self.raw.is_empty() {
                    self.decode_next()?;
                    continue;
                }
                break;
            }
            if self.raw.len() < READ_CHUNK {
                let want = (READ_CHUNK - self.raw.len()) as u64;
                let read = (&mut self.inner).take(want).read_to_end(&mut self.raw)?;
                self.eof = read == 0;
            }
            self.decode_next()?;
        }
        Ok(&self.decoded[self.consumed..])
    }

    fn consume(&mut self, amount: usize) {
        self.consumed = (self.consumed + amount).min(self.decoded.len());
    }
}

impl Read for Utf8Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// JSONL records, a line at a time, as [`crate::input::jsonl_objects`] splits them.
struct JsonlRecords {
    ctx: Ctx,
    reader: Utf8Reader,
    line: usize,
    buf: Vec<u8>,
    done: bool,
}

impl JsonlRecords {
    fn new(ctx: Ctx, reader: Utf8Reader) -> Self {
        JsonlRecords {
            ctx,
            reader,
            line: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    fn next(&mut self) -> Option<Result<Document, IoError>> {
        while !self.done {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.reader.error(e)));
                }
            }
            self.line += 1;
            let mut raw = self.buf.as_slice();
            raw = raw.strip_suffix(b"\n").unwrap_or(raw);
            raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            // The reader yields valid UTF-8 and a line ends on a whole character.
            let raw = std::str::from_utf8(raw).expect("the reader yields UTF-8");
            if raw.trim().is_empty() {
                continue;
            }
            let fields = self.ctx.jsonl_fields();
            let result = jsonl_object(raw, &self.ctx.path, self.line, &fields)
                .and_then(|obj| self.ctx.jsonl_document(self.line, obj));
            if result.is_err() {
                self.done = true;
            }
            return Some(result);
        }
        None
    }
}

/// CSV records with a header row, as [`crate::input::csv_reader`] reads them.
struct CsvRecords {
    ctx: Ctx,
    reader: csv::Reader<Utf8Reader>,
    columns: CsvColumns,
    record: csv::StringRecord,
    last: Option<csv::Position>,
    /// To scan the last record for a quote left open.
    file: PathBuf,
    lossy: bool,
    done: bool,
}

impl CsvRecords {
    fn new(
        ctx: Ctx,
        reader: Utf8Reader,
        file: &InputFile,
        opts: &ReadOptions,
    ) -> Result<Self, IoError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::Headers)
            .from_reader(reader);
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(str::to_string).collect(),
            Err(e) => return Err(csv_failure(&mut reader, &ctx.path, e)),
        };
        let columns = ctx.csv_columns(&header)?;
        Ok(CsvRecords {
            ctx,
            reader,
            columns,
            record: csv::StringRecord::new(),
            last: None,
            file: file.path.clone(),
            lossy: opts.lossy,
            done: false,
        })
    }

    fn next(&mut self) -> Option<Result<Document, IoError>> {
        if self.done {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {
                self.last = self.record.position().cloned();
                Some(Ok(self.ctx.csv_document(&self.record, self.columns)))
            }
            Ok(false) => {
                self.done = true;
                self.check_last_record().err().map(Err)
            }
            Err(e) => {
                self.done = true;
                Some(Err(csv_failure(&mut self.reader, &self.ctx.path, e)))
            }
        }
    }

    /// As [`crate::input::check_last_record_quotes`], reading the file again
    /// from the start of the last record.
    fn check_last_record(&self) -> Result<(), IoError> {
        let Some(position) = &self.last else {
            return Ok(());
        };
        let mut reader = Utf8Reader::open(&self.file, self.lossy)?.with_lf_line_ends();
        let skip = position.byte();
        io::copy(&mut (&mut reader).take(skip), &mut io::sink()).map_err(|e| reader.error(e))?;
        let mut scan = unclosed_quote();
        loop {
            let (n, ended) = match reader.fill_buf() {
                Ok([]) => break,
                Ok(chunk) => (chunk.len(), scan.feed(chunk)),
                Err(e) => return Err(reader.error(e)),
            };
            reader.consume(n);
            if ended {
                return Ok(());
            }
        }
        if scan.is_open() {
            return Err(IoError::MalformedCsv {
                path: self.ctx.path.clone(),
                line: Some(position.line() as usize),
                err: UNCLOSED_QUOTE.into(),
            });
        }
        Ok(())
    }
}

/// Rows of a Parquet file are read this many at a time.
pub const PARQUET_SLICE_ROWS: usize = 4096;

/// A Parquet file's documents, read a slice of rows at a time.
struct ParquetRows {
    ctx: Ctx,
    file: PathBuf,
    metadata: FileMetadataRef,
    columns: Vec<String>,
    rows: usize,
    next_row: usize,
    buffered: std::vec::IntoIter<Document>,
    done: bool,
}

impl ParquetRows {
    fn open(ctx: Ctx, path: &Path) -> Result<Self, IoError> {
        let mut reader = ParquetReader::new(File::open(path).map_err(|e| IoError::io(path, e))?);
        let columns = ctx.parquet_columns(&mut reader)?;
        let metadata = reader
            .get_metadata()
            .map_err(|e| IoError::parquet(&ctx.path, "cannot read", e))?
            .clone();
        Ok(ParquetRows {
            rows: metadata.num_rows,
            ctx,
            file: path.to_path_buf(),
            metadata,
            columns,
            next_row: 0,
            buffered: Vec::new().into_iter(),
            done: false,
        })
    }

    fn read_slice(&mut self) -> Result<Vec<Document>, IoError> {
        let first = self.next_row;
        let file = File::open(&self.file).map_err(|e| IoError::io(&self.file, e))?;
        let mut reader = ParquetReader::new(file);
        reader.set_metadata(self.metadata.clone());
        let df = reader
            .with_columns(Some(self.columns.clone()))
            .with_slice(Some((first, PARQUET_SLICE_ROWS)))
            .finish()
            .map_err(|e| IoError::parquet(&self.ctx.path, "cannot read", e))?;
        self.next_row += PARQUET_SLICE_ROWS;
        self.ctx.parquet_documents(&df, &self.columns, first)
    }

    fn next(&mut self) -> Option<Result<Document, IoError>> {
        loop {
            if let Some(doc) = self.buffered.next() {
                return Some(Ok(doc));
            }
            if self.done || self.next_row >= self.rows {
                return None;
            }
            match self.read_slice() {
                Ok(docs) => self.buffered = docs.into_iter(),
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
            }
        }
    }
}

/// A CSV error, or the UTF-8 failure of the reader beneath it.
fn csv_failure(reader: &mut csv::Reader<Utf8Reader>, path: &Path, err: csv::Error) -> IoError {
    if let csv::ErrorKind::Io(_) = err.kind() {
        if let Some(failure) = reader.get_mut().failure.take() {
            return failure;
        }
    }
    csv_error(path, err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_documents;
    use proptest::prelude::*;

    /// The streamed documents of `bytes` as `name`, and what the whole-file
    /// parser gives, each as documents or an error message.
    fn both(
        name: &str,
        bytes: &[u8],
        lossy: bool,
    ) -> (Result<Vec<Document>, String>, Result<Vec<Document>, String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let file = InputFile::file(&path);
        let opts = ReadOptions {
            lossy,
            ..ReadOptions::default()
        };
        let streamed = stream_documents(&file, &opts)
            .and_then(|docs| docs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| e.to_string());
        let format = InputFormat::from_path(&path).unwrap();
        let whole =
            parse_documents(&file, format, bytes.to_vec(), &opts).map_err(|e| e.to_string());
        (streamed, whole)
    }

    /// Pieces that exercise the readers: structure, quotes, line ends,
    /// multi-byte and invalid UTF-8, NUL and a byte-order mark.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"{\"text\": \"".to_vec()),
            Just(b"\"}".to_vec()),
            Just(b", \"id\": 3}".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\"\"".to_vec()),
            Just(b",".to_vec()),
            Just(b"text,id\n".to_vec()),
            Just(b"id,text\n".to_vec()),
            Just(b"[1]".to_vec()),
            Just(b"   ".to_vec()),
            Just("é€😀".as_bytes().to_vec()),
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just(b"\xF0\x9F".to_vec()),
            Just(b"\xFF".to_vec()),
            Just(b"\x00".to_vec()),
            "[a-z .]{0,12}".prop_map(|s| s.into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn streaming_reads_what_the_whole_file_parser_reads(
            pieces in proptest::collection::vec(piece(), 0..40),
            csv in any::<bool>(),
            lossy in any::<bool>(),
        ) {
            let bytes: Vec<u8> = pieces.concat();
            let name = if csv { "in.csv" } else { "in.jsonl" };
            let (streamed, whole) = both(name, &bytes, lossy);
            prop_assert_eq!(streamed, whole);
        }
    }

    #[test]
    fn characters_split_across_reads_decode_as_a_whole_file_does() {
        // Over 64 KiB, so multi-byte characters and invalid bytes straddle
        // the reader's chunks at several places.
        let mut bytes = b"\xEF\xBB\xBFtext\n".to_vec();
        let mut line = 0;
        while bytes.len() < 3 * READ_CHUNK {
            line += 1;
            bytes.extend_from_slice(format!("\"{line} é€😀 ").as_bytes());
            if line % 97 == 0 {
                bytes.extend_from_slice(b"\xF0\x9F\xFF");
            }
            bytes.extend_from_slice("ж\"\n".as_bytes());
        }
        let (streamed, whole) = both("big.csv", &bytes, true);
        let streamed = streamed.unwrap();
        assert_eq!(streamed.len(), line);
        assert_eq!(Ok(streamed), whole);
        // Without --lossy the first invalid byte is reported at its offset.
        let (streamed, whole) = both("big.csv", &bytes, false);
        assert!(
            streamed.as_ref().unwrap_err().contains("invalid UTF-8"),
            "{streamed:?}"
        );
        assert_eq!(streamed, whole);
        // The same as JSONL.
        let jsonl: Vec<u8> = bytes
            .split(|&b| b == b'\n')
            .skip(1)
            .filter(|l| !l.is_empty())
            .flat_map(|l| {
                let mut out = b"{\"text\": ".to_vec();
                out.extend_from_slice(l);
                out.extend_from_slice(b"}\n");
                out
            })
            .collect();
        let (streamed, whole) = both("big.jsonl", &jsonl, true);
        assert_eq!(streamed.as_ref().map(Vec::len), Ok(line));
        assert_eq!(streamed, whole);
    }

    #[test]
    fn utf16_files_read_as_their_utf8_text_streamed_or_whole() {
        // Over 64 KiB of UTF-16, so surrogate pairs straddle the reader's chunks.
        let mut text = String::from("text\n");
        let mut line = 0;
        while text.len() < 3 * READ_CHUNK {
            line += 1;
            text.push_str(&format!("\"{line} é€😀 ж\"\r\n"));
        }
        let contents = |docs: &[Document]| -> Vec<(String, String)> {
            docs.iter()
                .map(|d| (d.doc_id.clone(), d.text.clone()))
                .collect()
        };
        let (utf8, _) = both("big.csv", text.as_bytes(), false);
        let utf8 = contents(&utf8.unwrap());
        assert_eq!(utf8.len(), line);
        assert_eq!(utf8[line - 1].0, format!("big:{}", line + 1));
        for (bom, little) in [([0xFF, 0xFE], true), ([0xFE, 0xFF], false)] {
            let encode = |text: &str| -> Vec<u8> {
                bom.into_iter()
                    .chain(text.encode_utf16().flat_map(|u| {
                        if little {
                            u.to_le_bytes()
                        } else {
                            u.to_be_bytes()
                        }
                    }))
                    .collect()
            };
            let (streamed, whole) = both("big.csv", &encode(&text), false);
            assert_eq!(contents(streamed.as_ref().unwrap()), utf8);
            assert_eq!(streamed, whole);

            // A lone surrogate is reported at its byte offset, or replaced.
            let mut broken = encode(&text);
            let at = (broken.len() / 2) & !1;
            broken[at..at + 2].copy_from_slice(&if little {
                0xDC00u16.to_le_bytes()
            } else {
                0xDC00u16.to_be_bytes()
            });
            let (streamed, whole) = both("big.csv", &broken, false);
            let message = streamed.as_ref().unwrap_err();
            assert!(
                message.contains(&format!("invalid UTF-16 at byte {at}")),
                "{message}"
            );
            assert_eq!(streamed, whole);
            let (streamed, whole) = both("big.csv", &broken, true);
            assert!(streamed
                .as_ref()
                .unwrap()
                .iter()
                .any(|d| d.text.contains('\u{FFFD}')));
            assert_eq!(streamed, whole);
        }
    }

    #[test]
    fn parquet_is_read_in_slices_as_a_whole_file_is() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.parquet");
        let n = 2 * PARQUET_SLICE_ROWS + 123;
        let texts: Vec<String> = (0..n).map(|i| format!("Sentence {i}.")).collect();
        let ids: Vec<Option<i64>> = (0..n).map(|i| (i % 7 != 0).then_some(i as i64)).collect();
        let mut df = df!("text" => texts, "id" => ids).unwrap();
        let mut f = std::fs::File::create(&path).unwrap();
        // Small row groups, so slices start inside and across them.
        ParquetWriter::new(&mut f)
            .with_row_group_size(Some(1000))
            .finish(&mut df)
            .unwrap();
        let file = InputFile::file(&path);
        let opts = ReadOptions::default();
        let streamed: Vec<Document> = stream_documents(&file, &opts)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let whole = read_documents(&file, &opts).unwrap();
        assert_eq!(streamed.len(), n);
        assert_eq!(streamed, whole);
        assert_eq!(
            streamed[7].doc_id, "many:8",
            "row numbers count from 1 across slices"
        );

        // A null text in the last slice fails before any document.
        let mut texts: Vec<Option<String>> = (0..n).map(|i| Some(format!("S {i}."))).collect();
        texts[n - 2] = None;
        let mut df = df!("text" => texts).unwrap();
        let bad = dir.path().join("null.parquet");
        ParquetWriter::new(std::fs::File::create(&bad).unwrap())
            .finish(&mut df)
            .unwrap();
        let err = stream_documents(&InputFile::file(&bad), &opts)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            read_documents(&InputFile::file(&bad), &opts)
                .unwrap_err()
                .to_string()
        );
        assert!(
            err.to_string()
                .contains(&format!("null.parquet:{}:", n - 1)),
            "{err}"
        );
    }

    #[test]
    fn a_bad_record_is_an_error_before_any_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(
            &path,
            "{\"text\": \"fine\"}\n{\"text\": \"fine\"}\nnot json\n",
        )
        .unwrap();
        let err = stream_documents(&InputFile::file(&path), &ReadOptions::default())
            .err()
            .expect("the third line fails when the stream opens");
        assert!(
            err.to_string().contains("bad.jsonl:3: malformed JSON"),
            "{err}"
        );
    }
}
