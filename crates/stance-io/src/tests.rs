use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use polars::prelude::*;
use tempfile::TempDir;

use super::*;
use crate::input::LineEnds;

/// `remove_pending_temp_files` removes every pending temporary file of the
/// process, so tests that write through temporary files hold this for reading
/// and the test of that function holds it for writing.
static TEMP_FILES: RwLock<()> = RwLock::new(());

fn temp_files_shared() -> RwLockReadGuard<'static, ()> {
    TEMP_FILES.read().unwrap_or_else(|p| p.into_inner())
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, contents).unwrap();
    path
}

fn read_one(path: &Path, opts: &ReadOptions) -> Result<Vec<Document>, IoError> {
    read_documents(&InputFile::file(path), opts)
}

fn err_string(r: Result<impl std::fmt::Debug, IoError>) -> String {
    r.expect_err("expected an error").to_string()
}

fn write_parquet(path: &Path, columns: Vec<Column>) {
    let height = columns.first().map_or(0, |c| c.len());
    let mut df = DataFrame::new(height, columns).unwrap();
    let file = fs::File::create(path).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
}

fn sentence(doc: &str, n: u32, label: &str) -> LabelledSentence {
    LabelledSentence {
        doc_id: doc.to_string(),
        source: format!("{doc}.txt"),
        paragraph: 1,
        sentence: n,
        char_start: u64::from(n) * 10,
        char_end: u64::from(n) * 10 + 9,
        text: format!("Sentence {n}, \"quoted\"\nnext line."),
        label: label.to_string(),
        confidence: 0.7,
        probabilities: [0.7, 0.1, 0.1, 0.1],
    }
}

fn metadata() -> OutputMetadata {
    OutputMetadata {
        stance_version: "0.1.0".into(),
        model_name: "stance-base".into(),
        model_sha256: "ab".repeat(32),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        precision: "f32".into(),
    }
}

// ---------------------------------------------------------------- text

#[test]
fn text_file_strips_bom_and_keeps_crlf() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "communique.txt",
        b"\xEF\xBB\xBFFirst line.\r\nSecond line.\r\n",
    );
    let docs = read_one(&path, &ReadOptions::default()).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].doc_id, "communique");
    assert_eq!(docs[0].source, path.to_string_lossy());
    assert_eq!(docs[0].text, "First line.\r\nSecond line.\r\n");
}

#[test]
fn text_invalid_utf8_names_file_and_byte() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "bad.md", b"abc\xFFdef");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}:1: invalid UTF-8 at byte 3 (use --lossy to replace)",
            path.display()
        )
    );
    // The offset counts the BOM.
    let path = write(dir.path(), "bad2.md", b"\xEF\xBB\xBFab\xC3");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert!(msg.contains("invalid UTF-8 at byte 5"), "{msg}");
}

#[test]
fn invalid_utf8_deep_in_a_file_names_its_line_streamed_or_whole() {
    let dir = TempDir::new().unwrap();
    // 500 records of about 200 bytes: the bad byte lies past the streaming
    // reader's first 64 KiB chunk.
    let mut body = Vec::new();
    for i in 1..=500 {
        let filler = "x".repeat(180);
        body.extend_from_slice(format!("{{\"id\":{i},\"text\":\"{filler}").as_bytes());
        if i == 500 {
            body.push(0xFF);
        }
        body.extend_from_slice(b"\"}\n");
    }
    let offset = body.iter().position(|&b| b == 0xFF).unwrap();
    let path = write(dir.path(), "big.jsonl", &body);
    let expected = format!(
        "{}:500: invalid UTF-8 at byte {offset} (use --lossy to replace)",
        path.display()
    );
    let opts = ReadOptions::default();
    assert_eq!(err_string(read_one(&path, &opts)), expected);
    let streamed = stream_documents(&InputFile::file(&path), &opts).map(|_| ());
    assert_eq!(err_string(streamed), expected);
}

#[test]
fn text_lossy_replaces_invalid_utf8() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "bad.txt", b"abc\xFFdef");
    let opts = ReadOptions {
        lossy: true,
        ..ReadOptions::default()
    };
    let docs = read_one(&path, &opts).unwrap();
    assert_eq!(docs[0].text, "abc\u{FFFD}def");
}

#[test]
fn binary_file_is_rejected_even_when_lossy() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "blob.txt", b"\x00\x01\xFF\xFEbinary");
    let opts = ReadOptions {
        lossy: true,
        ..ReadOptions::default()
    };
    let msg = err_string(read_one(&path, &opts));
    assert_eq!(msg, format!("{}: looks like a binary file", path.display()));
    // NUL alone (valid UTF-8) is not "binary".
    let path = write(dir.path(), "nul.txt", b"a\x00b");
    assert_eq!(
        read_one(&path, &ReadOptions::default()).unwrap()[0].text,
        "a\0b"
    );
}

#[test]
fn unknown_extension_needs_a_format() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "notes.rtf", "Hello.");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert!(
        msg.starts_with(&format!(
            "{}: cannot tell the format from the extension",
            path.display()
        )),
        "{msg}"
    );
    let opts = ReadOptions {
        format: Some(InputFormat::Text),
        ..ReadOptions::default()
    };
    let docs = read_one(&path, &opts).unwrap();
    assert_eq!(docs[0].doc_id, "notes");
    assert_eq!(docs[0].text, "Hello.");
}

#[test]
fn format_names_parse() {
    assert_eq!("md".parse::<InputFormat>().unwrap(), InputFormat::Text);
    assert_eq!("NDJSON".parse::<InputFormat>().unwrap(), InputFormat::Jsonl);
    assert!("xml".parse::<InputFormat>().is_err());
    assert_eq!("csv".parse::<OutputFormat>().unwrap(), OutputFormat::Csv);
    assert_eq!(
        OutputFormat::from_path(Path::new("x.PARQUET")),
        Some(OutputFormat::Parquet)
    );
    assert_eq!(
        InputFormat::from_path(Path::new("a/b.c.ndjson")),
        Some(InputFormat::Jsonl)
    );
    assert_eq!(InputFormat::from_path(Path::new("README")), None);
}

// ---------------------------------------------------------------- JSONL

#[test]
fn jsonl_reads_ids_and_skips_blank_lines() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "batch.jsonl",
        "{\"id\": \"a1\", \"text\": \"One.\"}\n\n  \r\n{\"id\": 42, \"text\": \"Two.\"}\r\n{\"text\": \"Three.\"}\n{\"id\": null, \"text\": \"Four.\"}\n",
    );
    let docs = read_one(&path, &ReadOptions::default()).unwrap();
    let ids: Vec<_> = docs.iter().map(|d| d.doc_id.as_str()).collect();
    assert_eq!(ids, ["a1", "42", "batch:5", "batch:6"]);
    let texts: Vec<_> = docs.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(texts, ["One.", "Two.", "Three.", "Four."]);
}

#[test]
fn jsonl_number_ids_keep_their_digits_or_fail() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "n.jsonl",
        "{\"id\": 18446744073709551615, \"text\": \"A.\"}\n\
         {\"id\": 1e2, \"text\": \"B.\"}\n\
         {\"id\": -0, \"text\": \"C.\"}\n\
         {\"id\": 100.0, \"text\": \"D.\"}\n\
         {\"id\": 1.5, \"text\": \"E.\"}\n",
    );
    let docs = read_one(&path, &ReadOptions::default()).unwrap();
    let ids: Vec<_> = docs.iter().map(|d| d.doc_id.as_str()).collect();
    assert_eq!(ids, ["18446744073709551615", "100", "0", "100", "1.5"]);
    // Past u64, JSON parsers read a double: neighbouring ids would merge.
    let path = write(
        dir.path(),
        "big.jsonl",
        "{\"id\": 1, \"text\": \"A.\"}\n{\"id\": 18446744073709551616, \"text\": \"B.\"}\n",
    );
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert!(msg.contains("big.jsonl:2:"), "{msg}");
    assert!(msg.contains("write larger ids as strings"), "{msg}");
    let streamed = stream_documents(&InputFile::file(&path), &ReadOptions::default()).map(|_| ());
    assert_eq!(err_string(streamed), msg);
}

#[test]
fn jsonl_custom_fields() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "x.ndjson",
        "{\"body\": \"One.\", \"ref\": \"r-1\"}\n",
    );
    let opts = ReadOptions {
        text_field: "body".into(),
        id_field: Some("ref".into()),
        ..ReadOptions::default()
    };
    let docs = read_one(&path, &opts).unwrap();
    assert_eq!(docs[0].doc_id, "r-1");
    assert_eq!(docs[0].text, "One.");
    // An explicit id field must exist.
    let opts = ReadOptions {
        text_field: "body".into(),
        id_field: Some("uid".into()),
        ..ReadOptions::default()
    };
    let msg = err_string(read_one(&path, &opts));
    assert_eq!(
        msg,
        format!(
            "{}:1: no field \"uid\"; keys are: body, ref",
            path.display()
        )
    );
}

#[test]
fn jsonl_errors_name_file_and_line() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "m.jsonl",
        "{\"text\": \"ok\"}\n{\"text\": \"x\",}\n",
    );
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert!(
        msg.starts_with(&format!("{}:2: malformed JSON: ", path.display())),
        "{msg}"
    );
    assert!(!msg.contains("line 1"), "{msg}");

    let path = write(dir.path(), "k.jsonl", "\n{\"body\": \"x\", \"id\": 1}\n");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}:2: no field \"text\"; keys are: body, id",
            path.display()
        )
    );

    let path = write(dir.path(), "t.jsonl", "{\"text\": 5}\n");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}:1: field \"text\" must be a string, found a number",
            path.display()
        )
    );

    let path = write(dir.path(), "a.jsonl", "[1, 2]\n");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}:1: expected a JSON object, found an array",
            path.display()
        )
    );
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_quoted_newlines_and_line_numbers() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "docs.csv",
        "\u{FEFF}text,other\n\"First para.\n\nSecond, para.\",x\n\"Plain \"\"quoted\"\".\",y\n",
    );
    let docs = read_one(&path, &ReadOptions::default()).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].text, "First para.\n\nSecond, para.");
    assert_eq!(docs[0].doc_id, "docs:2");
    assert_eq!(docs[1].text, "Plain \"quoted\".");
    assert_eq!(docs[1].doc_id, "docs:5");
}

#[test]
fn csv_columns() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "c.csv", "id,body\n7,Hello.\n,Bye.\n");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}: no column \"text\"; columns are: id, body",
            path.display()
        )
    );
    let opts = ReadOptions {
        text_field: "body".into(),
        ..ReadOptions::default()
    };
    let docs = read_one(&path, &opts).unwrap();
    assert_eq!(docs[0].doc_id, "7");
    assert_eq!(docs[1].doc_id, "c:3");
    let opts = ReadOptions {
        text_field: "body".into(),
        id_field: Some("ref".into()),
        ..ReadOptions::default()
    };
    let msg = err_string(read_one(&path, &opts));
    assert_eq!(
        msg,
        format!(
            "{}: no column \"ref\"; columns are: id, body",
            path.display()
        )
    );
}

/// A key or column that the reader uses, named twice: `twice` (a file name
/// and its body) is an error ending in `expected` (after the path), read
/// whole and streamed; `harmless` repeats a name the reader does not use and
/// reads; the gold file `gold` is an error containing `gold_error`.
fn check_named_twice(
    twice: (&str, &str),
    expected: &str,
    harmless: (&str, &str),
    gold: (&str, &str),
    gold_error: &str,
) {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), twice.0, twice.1);
    let expected = format!("{}{expected}", path.display());
    let opts = ReadOptions::default();
    assert_eq!(err_string(read_one(&path, &opts)), expected);
    let streamed = stream_documents(&InputFile::file(&path), &opts).map(|_| ());
    assert_eq!(err_string(streamed), expected);

    let path = write(dir.path(), harmless.0, harmless.1);
    assert_eq!(read_one(&path, &opts).unwrap()[0].text, "A.");

    let gold = write(dir.path(), gold.0, gold.1);
    let msg = read_gold(&gold, &LABELS).unwrap_err().to_string();
    assert!(msg.contains(gold_error), "{msg}");
}

#[test]
fn a_column_named_twice_in_a_csv_header_is_an_error_naming_both_positions() {
    check_named_twice(
        ("twice.csv", "text,id,text\nA.,1,B.\n"),
        ": the header names column \"text\" twice (columns 1 and 3); \
         rename one so that it is clear which to read",
        ("notes.csv", "note,text,note\nx,A.,y\n"),
        (
            "gold.csv",
            "text,label,label\nWe condemn it.,condemnation,other\n",
        ),
        "names column \"label\" twice (columns 2 and 3)",
    );
}

#[test]
fn a_jsonl_key_named_twice_is_an_error_on_its_line_when_the_reader_uses_it() {
    check_named_twice(
        (
            "twice.jsonl",
            "{\"text\": \"A.\"}\n{\"text\": \"B.\", \"id\": 2, \"te\\u0078t\": \"C.\"}\n",
        ),
        ":2: the object names key \"text\" twice; JSON tools differ on which value counts, \
         so remove one",
        (
            "notes.jsonl",
            "{\"note\": 1, \"text\": \"A.\", \"note\": {\"x\": [1, 2]}}\n",
        ),
        (
            "gold.jsonl",
            "{\"text\": \"We condemn it.\", \"label\": \"condemnation\", \"label\": \"other\"}\n",
        ),
        "gold.jsonl:1: the object names key \"label\" twice",
    );
}

#[test]
fn csv_ragged_row_names_line() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "r.csv", "id,text\n1,ok\n2,too,many\n");
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}:3: malformed CSV: expected 2 fields, found 3",
            path.display()
        )
    );
}

#[test]
fn csv_with_cr_lf_line_ends_numbers_rows_by_their_own_lines() {
    let dir = TempDir::new().unwrap();
    // An LF header, CR LF rows (as spreadsheets write them), a quoted field
    // over two lines and a lone CR.
    let body =
        "text\n\"We condemn it.\"\r\nWe will help.\r\n\"Two\r\nlines.\"\r\nTalks.\rLast.\r\n";
    let path = write(dir.path(), "w.csv", body);
    let file = InputFile::file(&path);
    let opts = ReadOptions::default();
    let whole = read_one(&path, &opts).unwrap();
    let streamed: Vec<Document> = stream_documents(&file, &opts)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(streamed, whole);
    let rows: Vec<(&str, &str)> = whole
        .iter()
        .map(|d| (d.doc_id.as_str(), d.text.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("w:2", "We condemn it."),
            ("w:3", "We will help."),
            ("w:4", "Two\nlines."),
            ("w:6", "Talks."),
            ("w:7", "Last.")
        ]
    );

    // Errors name the right line too, streamed or whole.
    let path = write(
        dir.path(),
        "r.csv",
        "id,text\r\n1,ok\r\n2,fine\r\n3,too,many\r\n",
    );
    let expected = format!(
        "{}:4: malformed CSV: expected 2 fields, found 3",
        path.display()
    );
    assert_eq!(err_string(read_one(&path, &opts)), expected);
    let streamed = stream_documents(&InputFile::file(&path), &opts).map(|_| ());
    assert_eq!(err_string(streamed), expected);
    let gold = write(
        dir.path(),
        "g.csv",
        "text,label\r\nA.,other\r\nB.,otter\r\n",
    );
    let msg = err_string(read_gold(&gold, &LABELS));
    assert!(msg.contains("g.csv:3:"), "{msg}");
}

#[test]
fn csv_quote_that_never_closes_is_an_error_on_its_line() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "q.csv",
        "id,text\na,fine\nb,\"This quote never ends.\nc,Ready for dialogue.\n",
    );
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert!(
        msg.starts_with(&format!(
            "{}:3: malformed CSV: a quoted field",
            path.display()
        )),
        "{msg}"
    );
    let gold = write(dir.path(), "g.csv", "label,text\nother,\"never closed\n");
    let msg = err_string(read_gold(&gold, &LABELS));
    assert!(
        msg.contains("g.csv:2: malformed CSV: a quoted field"),
        "{msg}"
    );

    // Quotes inside unquoted fields, escaped quotes and quoted newlines in
    // the last record are fine.
    for (i, body) in [
        "id,text\na,a 5\" screen\n",
        "id,text\na,\"He said \"\"no\"\".\"\n",
        "id,text\na,\"two\nlines\"",
        "id,text\n\"a\",\"x\"\"\"\n",
    ]
    .into_iter()
    .enumerate()
    {
        let path = write(dir.path(), &format!("ok{i}.csv"), body);
        let docs = read_one(&path, &ReadOptions::default()).unwrap();
        assert_eq!(docs.len(), 1, "{body:?}");
    }
}

// ---------------------------------------------------------------- Parquet input

#[test]
fn parquet_documents() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("in.parquet");
    write_parquet(
        &path,
        vec![
            Column::new("id".into(), [10i64, 11]),
            Column::new("text".into(), ["Alpha.", "Beta."]),
            Column::new("extra".into(), [1.0f64, 2.0]),
        ],
    );
    let docs = read_one(&path, &ReadOptions::default()).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].doc_id, "10");
    assert_eq!(docs[1].text, "Beta.");

    let path = dir.path().join("noid.parquet");
    write_parquet(&path, vec![Column::new("text".into(), ["A.", "B."])]);
    let docs = read_one(&path, &ReadOptions::default()).unwrap();
    assert_eq!(docs[1].doc_id, "noid:2");
}

#[test]
fn parquet_categorical_text_reads_as_strings() {
    // pandas writes a `category` column as a dictionary, read as categorical.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("cat.parquet");
    let text = Column::new("text".into(), ["Alpha.", "Beta.", "Alpha."])
        .cast(&DataType::from_categories(Categories::global()))
        .unwrap();
    write_parquet(&path, vec![text]);
    let docs = read_one(&path, &ReadOptions::default()).unwrap();
    let texts: Vec<_> = docs.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(texts, ["Alpha.", "Beta.", "Alpha."]);
}

#[test]
fn parquet_input_errors() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("wrong.parquet");
    write_parquet(
        &path,
        vec![
            Column::new("id".into(), ["a"]),
            Column::new("text".into(), [5i64]),
        ],
    );
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}: column \"text\" must be a String column, found i64",
            path.display()
        )
    );

    let path = dir.path().join("missing.parquet");
    write_parquet(
        &path,
        vec![
            Column::new("id".into(), ["a"]),
            Column::new("body".into(), ["x"]),
        ],
    );
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!(
            "{}: no column \"text\"; columns are: id, body",
            path.display()
        )
    );

    let path = dir.path().join("null.parquet");
    write_parquet(&path, vec![Column::new("text".into(), [Some("x"), None])]);
    let msg = err_string(read_one(&path, &ReadOptions::default()));
    assert_eq!(
        msg,
        format!("{}:2: null value in column \"text\"", path.display())
    );
}

// ---------------------------------------------------------------- discovery

fn rel_paths(files: &[InputFile], root: &Path) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            f.path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect()
}

#[test]
fn discover_walks_sorted_and_filters() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("corpus");
    for name in [
        "b.txt",
        "a.md",
        "sub/z.jsonl",
        "sub/a.csv",
        "sub/deeper/x.parquet",
        "c.ndjson",
        ".hidden.txt",
        ".git/config.txt",
        "image.png",
        "README",
    ] {
        write(&root, name, "x");
    }
    let single = write(dir.path(), "single.weird", "x");
    let files = discover(&[root.clone(), single.clone(), PathBuf::from("-")]).unwrap();
    assert_eq!(
        rel_paths(&files[..6], &root),
        [
            "a.md",
            "b.txt",
            "c.ndjson",
            "sub/a.csv",
            "sub/deeper/x.parquet",
            "sub/z.jsonl"
        ]
    );
    assert!(files[..6].iter().all(|f| f.root == root && !f.is_stdin));
    assert_eq!(files[6], InputFile::file(single));
    assert_eq!(files[7], InputFile::stdin());
    assert_eq!(files.len(), 8);

    assert_eq!(files[4].file_id(), "sub/deeper/x");
    assert_eq!(files[0].file_id(), "a");
    assert_eq!(files[7].file_id(), "stdin");
    assert_eq!(files[7].source(), "-");

    // Text documents found in a directory get relative ids.
    let docs = read_documents(&files[0], &ReadOptions::default()).unwrap();
    assert_eq!(docs[0].doc_id, "a");
    let nested = write(&root, "sub/n.txt", "Nested.");
    let file = InputFile {
        path: nested,
        root: root.clone(),
        is_stdin: false,
    };
    assert_eq!(
        read_documents(&file, &ReadOptions::default()).unwrap()[0].doc_id,
        "sub/n"
    );
}

#[test]
fn discover_missing_path_is_named() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.txt");
    let msg = err_string(discover(std::slice::from_ref(&missing)));
    assert_eq!(
        msg,
        format!("{}: no such file or directory", missing.display())
    );
}

#[cfg(unix)]
#[test]
fn discover_symlink_loop_terminates() {
    use std::os::unix::fs::symlink;
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = TempDir::new().unwrap();
    let root = dir.path().join("loop");
    write(&root, "a.txt", "x");
    write(&root, "sub/b.txt", "x");
    symlink(&root, root.join("sub/back")).unwrap();
    symlink(".", root.join("self")).unwrap();
    symlink(root.join("missing"), root.join("dangling.txt")).unwrap();
    let (tx, rx) = mpsc::channel();
    let arg = root.clone();
    std::thread::spawn(move || {
        let _ = tx.send(discover(&[arg]).map(|f| f.len()));
    });
    let count = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("discover hung on a symlink loop")
        .unwrap();
    assert_eq!(count, 2);
}

// ---------------------------------------------------------------- gold

#[test]
fn gold_jsonl_csv_parquet() {
    let dir = TempDir::new().unwrap();
    let jsonl = write(
        dir.path(),
        "gold.jsonl",
        "{\"text\": \"We condemn it.\", \"label\": \"condemnation\", \"secondary\": null, \"doc_id\": 3}\n\n{\"text\": \"We will act.\", \"label\": \" commitment \", \"secondary\": \"other\", \"source\": \"a.txt\"}\n",
    );
    let recs = read_gold(&jsonl, &LABELS).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].line, 1);
    assert_eq!(recs[0].doc_id.as_deref(), Some("3"));
    assert_eq!(recs[0].secondary, None);
    assert_eq!(recs[1].line, 3);
    assert_eq!(recs[1].label, "commitment");
    assert_eq!(recs[1].secondary.as_deref(), Some("other"));
    assert_eq!(recs[1].source.as_deref(), Some("a.txt"));

    let csv = write(
        dir.path(),
        "gold.csv",
        "text,label,secondary\n\"Multi\nline.\",other,\nTalks.,diplomatic-opening,commitment\n",
    );
    let recs = read_gold(&csv, &LABELS).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].text, "Multi\nline.");
    assert_eq!(recs[0].secondary, None);
    assert_eq!(recs[1].line, 4);
    assert_eq!(recs[1].secondary.as_deref(), Some("commitment"));

    let pq = dir.path().join("gold.parquet");
    write_parquet(
        &pq,
        vec![
            Column::new("text".into(), ["A.", "B."]),
            Column::new("label".into(), ["other", "condemnation"]),
            Column::new("doc_id".into(), [1i32, 2]),
        ],
    );
    let recs = read_gold(&pq, &LABELS).unwrap();
    assert_eq!(recs[1].label, "condemnation");
    assert_eq!(recs[1].doc_id.as_deref(), Some("2"));
    assert_eq!(recs[1].line, 2);
}

#[test]
fn gold_errors() {
    let dir = TempDir::new().unwrap();
    let path = write(
        dir.path(),
        "g.jsonl",
        "{\"text\": \"A.\", \"label\": \"other\"}\n{\"text\": \"B.\", \"label\": \"foo\"}\n",
    );
    assert_eq!(
        err_string(read_gold(&path, &LABELS)),
        format!(
            "{}:2: unknown label \"foo\"; expected one of condemnation, commitment, diplomatic-opening, other",
            path.display()
        )
    );

    // A known label written another way gets a hint.
    let path = write(
        dir.path(),
        "h.csv",
        "text,label,secondary\nA.,Other,\nB.,other,Diplomatic_Opening\n",
    );
    assert!(err_string(read_gold(&path, &LABELS)).ends_with(
        ":2: unknown label \"Other\"; expected one of condemnation, commitment, diplomatic-opening, other (did you mean \"other\"?)"
    ));
    let path = write(
        dir.path(),
        "h.csv",
        "text,label,secondary\nB.,other,Diplomatic opening\n",
    );
    assert!(
        err_string(read_gold(&path, &LABELS)).ends_with("(did you mean \"diplomatic-opening\"?)")
    );

    let path = write(dir.path(), "l.csv", "text,label\nA.,other\nB., \n");
    assert!(
        err_string(read_gold(&path, &LABELS))
            .ends_with(":3: unknown label \"\"; expected one of condemnation, commitment, diplomatic-opening, other (the label is empty: every gold sentence needs one)"),
    );

    let path = write(dir.path(), "e.csv", "text,label\nA.,other\n\"  \",other\n");
    assert_eq!(
        err_string(read_gold(&path, &LABELS)),
        format!("{}:3: empty text", path.display())
    );

    let path = write(dir.path(), "semi.csv", "text;label\nA.;other\n");
    assert!(err_string(read_gold(&path, &LABELS))
        .ends_with("columns are: text;label (the header is separated by semicolons: stance reads comma-separated CSV, so save it with commas)"));

    let path = write(dir.path(), "m.csv", "sentence,label\nA.,other\n");
    assert_eq!(
        err_string(read_gold(&path, &LABELS)),
        format!(
            "{}: no column \"text\"; columns are: sentence, label",
            path.display()
        )
    );

    let path = write(
        dir.path(),
        "n.jsonl",
        "{\"label\": \"other\", \"txt\": \"A.\"}\n",
    );
    assert_eq!(
        err_string(read_gold(&path, &LABELS)),
        format!(
            "{}:1: no field \"text\"; keys are: label, txt",
            path.display()
        )
    );

    let path = write(dir.path(), "s.csv", "text,label,secondary\nA.,other,bar\n");
    assert!(err_string(read_gold(&path, &LABELS)).contains(":2: unknown secondary label \"bar\""));

    let path = write(dir.path(), "g.txt", "A.");
    assert!(err_string(read_gold(&path, &LABELS)).contains("cannot tell the format"));

    let path = dir.path().join("p.parquet");
    write_parquet(&path, vec![Column::new("text".into(), ["A."])]);
    assert_eq!(
        err_string(read_gold(&path, &LABELS)),
        format!("{}: no column \"label\"; columns are: text", path.display())
    );
}

#[test]
fn gold_duplicate_warnings() {
    let rec = |line: usize, text: &str, label: &str| GoldRecord {
        line,
        text: text.into(),
        label: label.into(),
        secondary: None,
        doc_id: None,
        source: None,
    };
    let recs = vec![
        rec(1, "We condemn.", "condemnation"),
        rec(2, "Unique.", "other"),
        rec(3, "We will act.", "commitment"),
        rec(4, " We condemn. ", "condemnation"),
        rec(7, "We will act.", "other"),
    ];
    let warnings = gold_warnings(&recs);
    assert_eq!(
        warnings,
        [
            "lines 1, 4: duplicate text (same label \"condemnation\"): \"We condemn.\"",
            "lines 3, 7: duplicate text with conflicting labels commitment, other: \"We will act.\"",
        ]
    );
    assert!(gold_warnings(&recs[..3]).is_empty());
}

// ---------------------------------------------------------------- writing

fn kv_map(path: &Path) -> std::collections::HashMap<String, String> {
    read_parquet_metadata(path).unwrap().into_iter().collect()
}

fn enum_categories(dtype: &DataType) -> Vec<String> {
    match dtype {
        DataType::Enum(fcats, _) => fcats
            .categories()
            .values_iter()
            .map(str::to_string)
            .collect(),
        other => panic!("expected Enum, got {other:?}"),
    }
}

fn expected_schema() -> Vec<(&'static str, DataType)> {
    vec![
        ("doc_id", DataType::String),
        ("source", DataType::String),
        ("paragraph", DataType::UInt32),
        ("sentence", DataType::UInt32),
        ("char_start", DataType::UInt64),
        ("char_end", DataType::UInt64),
        ("text", DataType::String),
        ("label", label_dtype()),
        ("confidence", DataType::Float32),
        ("p_condemnation", DataType::Float32),
        ("p_commitment", DataType::Float32),
        ("p_diplomatic_opening", DataType::Float32),
        ("p_other", DataType::Float32),
    ]
}

fn assert_output_schema(df: &DataFrame) {
    let got: Vec<(String, DataType)> = df
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.dtype().clone()))
        .collect();
    let want = expected_schema();
    assert_eq!(got.len(), want.len());
    for ((gn, gt), (wn, wt)) in got.iter().zip(&want) {
        assert_eq!(gn, wn);
        if *wn == "label" {
            assert_eq!(enum_categories(gt), LABELS);
        } else {
            assert_eq!(gt, wt, "column {gn}");
        }
    }
}

#[test]
fn parquet_roundtrip_schema_and_metadata() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("out.parquet");
    let mut w = SentenceWriter::new(Some(path.clone()), OutputFormat::Parquet, metadata()).unwrap();
    w.write_batch(&[
        sentence("d1", 1, "other"),
        sentence("d1", 2, "condemnation"),
    ])
    .unwrap();
    w.write_batch(&[]).unwrap();
    w.write_batch(&[sentence("d2", 1, "diplomatic-opening")])
        .unwrap();
    assert_eq!(w.rows_written(), 3);
    w.finish().unwrap();

    let df = read_labelled(&path).unwrap();
    assert_eq!(df.height(), 3);
    assert_output_schema(&df);
    let labels = df.column("label").unwrap().cast(&DataType::String).unwrap();
    let labels: Vec<_> = labels.str().unwrap().iter().map(Option::unwrap).collect();
    assert_eq!(labels, ["other", "condemnation", "diplomatic-opening"]);
    let text = df.column("text").unwrap();
    assert_eq!(
        text.str().unwrap().get(0),
        Some("Sentence 1, \"quoted\"\nnext line.")
    );
    let ends = df.column("char_end").unwrap();
    assert_eq!(ends.u64().unwrap().get(1), Some(29));

    let kv = kv_map(&path);
    assert_eq!(kv["stance.version"], "0.1.0");
    assert_eq!(kv["stance.model"], "stance-base");
    assert_eq!(kv["stance.model_sha256"], "ab".repeat(32));
    assert_eq!(
        kv["stance.labels"],
        r#"["condemnation","commitment","diplomatic-opening","other"]"#
    );
    assert_eq!(kv["stance.schema_version"], SCHEMA_VERSION);
    assert!(kv.contains_key("ARROW:schema"));
    // No temporary file left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1);
}

#[test]
fn empty_parquet_output_has_full_schema() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("empty.parquet");
    let w = SentenceWriter::new(Some(path.clone()), OutputFormat::Parquet, metadata()).unwrap();
    w.finish().unwrap();
    let df = read_labelled(&path).unwrap();
    assert_eq!(df.height(), 0);
    assert_output_schema(&df);
    assert_eq!(kv_map(&path)["stance.schema_version"], "1");
}

#[test]
fn parquet_many_rows_multiple_row_groups() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("big.parquet");
    let mut w = SentenceWriter::new(Some(path.clone()), OutputFormat::Parquet, metadata()).unwrap();
    let batch: Vec<_> = (0..1000)
        .map(|i| sentence("big", i, LABELS[i as usize % 4]))
        .collect();
    for _ in 0..70 {
        w.write_batch(&batch).unwrap();
    }
    w.finish().unwrap();
    let df = read_labelled(&path).unwrap();
    assert_eq!(df.height(), 70_000);
    let file = fs::File::open(&path).unwrap();
    let mut reader = ParquetReader::new(file);
    assert_eq!(reader.get_metadata().unwrap().row_groups.len(), 2);
}

#[test]
fn drop_without_finish_removes_temp_and_keeps_previous_file() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    for format in [
        OutputFormat::Parquet,
        OutputFormat::Jsonl,
        OutputFormat::Csv,
    ] {
        let path = dir.path().join(format!("out.{format}"));
        fs::write(&path, "previous contents").unwrap();
        let mut w = SentenceWriter::new(Some(path.clone()), format, metadata()).unwrap();
        w.write_batch(&[sentence("d", 1, "other")]).unwrap();
        let temp = w.temp_path().unwrap().to_path_buf();
        assert_eq!(
            temp,
            dir.path()
                .join(format!(".out.{format}.tmp-{}", std::process::id()))
        );
        assert!(temp.exists());
        assert!(pending_temp_files().contains(&temp));
        drop(w);
        assert!(!temp.exists(), "{format}: temp file left behind");
        assert!(!pending_temp_files().contains(&temp));
        assert_eq!(fs::read_to_string(&path).unwrap(), "previous contents");
    }
}

#[test]
fn finish_replaces_previous_file_and_rejects_unknown_labels() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("out.jsonl");
    fs::write(&path, "old").unwrap();
    let mut w = SentenceWriter::new(Some(path.clone()), OutputFormat::Jsonl, metadata()).unwrap();
    let msg = err_string(w.write_batch(&[sentence("d", 4, "praise")]));
    assert_eq!(
        msg,
        format!(
            "{}: cannot write sentence 4 of document \"d\": unknown label \"praise\"; expected one of condemnation, commitment, diplomatic-opening, other",
            path.display()
        )
    );
    w.write_batch(&[sentence("d", 1, "commitment")]).unwrap();
    w.finish().unwrap();
    let contents = fs::read_to_string(&path).unwrap();
    assert_eq!(contents.lines().count(), 1);
}

#[test]
fn remove_pending_temp_files_cleans_up() {
    let _guard = TEMP_FILES.write().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sig.parquet");
    let w = SentenceWriter::new(Some(path.clone()), OutputFormat::Parquet, metadata()).unwrap();
    let temp = w.temp_path().unwrap().to_path_buf();
    assert!(temp.exists());
    remove_pending_temp_files();
    assert!(!temp.exists());
    assert!(!pending_temp_files().contains(&temp));
    drop(w);
    assert!(!path.exists());
}

#[test]
fn jsonl_output_rows() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("out.jsonl");
    let mut w = SentenceWriter::new(Some(path.clone()), OutputFormat::Jsonl, metadata()).unwrap();
    w.write_batch(&[sentence("d1", 1, "other"), sentence("d1", 2, "commitment")])
        .unwrap();
    w.finish().unwrap();
    let contents = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = contents.lines().collect();
    assert_eq!(lines.len(), 2);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["doc_id"], "d1");
    assert_eq!(first["label"], "other");
    assert_eq!(first["text"], "Sentence 1, \"quoted\"\nnext line.");
    assert_eq!(first["char_end"], 19);
    // Column order follows OUTPUT_COLUMNS.
    let mut pos = 0;
    for col in OUTPUT_COLUMNS {
        let at = lines[0][pos..]
            .find(&format!("\"{col}\":"))
            .unwrap_or_else(|| panic!("{col} out of order"));
        pos += at;
    }
}

#[test]
fn csv_output_rows_and_empty_header() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("out.csv");
    let mut w = SentenceWriter::new(Some(path.clone()), OutputFormat::Csv, metadata()).unwrap();
    w.write_batch(&[sentence("d1", 1, "diplomatic-opening")])
        .unwrap();
    w.finish().unwrap();
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, OUTPUT_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][6], "Sentence 1, \"quoted\"\nnext line.");
    assert_eq!(&rows[0][7], "diplomatic-opening");
    assert_eq!(rows[0][8].parse::<f32>().unwrap(), 0.7);

    let empty = dir.path().join("empty.csv");
    SentenceWriter::new(Some(empty.clone()), OutputFormat::Csv, metadata())
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(
        fs::read_to_string(&empty).unwrap(),
        format!("{}\n", OUTPUT_COLUMNS.join(","))
    );
}

#[test]
fn output_into_missing_directory_names_target() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("no/such/dir/out.parquet");
    let msg = err_string(SentenceWriter::new(
        Some(path.clone()),
        OutputFormat::Parquet,
        metadata(),
    ));
    assert!(msg.starts_with(&format!("{}: ", path.display())), "{msg}");
}

#[test]
fn dataframe_helper_is_atomic_and_keeps_metadata() {
    let _guard = temp_files_shared();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("summary.parquet");
    let mut df = DataFrame::new(
        2,
        vec![
            Column::new("label".into(), ["other", "commitment"]),
            Column::new("n".into(), [3u32, 4]),
        ],
    )
    .unwrap();
    let kv = vec![("stance.version".to_string(), "9".to_string())];
    write_dataframe_parquet_atomic(&mut df, &path, &kv).unwrap();
    assert_eq!(kv_map(&path)["stance.version"], "9");
    let back = ParquetReader::new(fs::File::open(&path).unwrap())
        .finish()
        .unwrap();
    assert!(back.equals(&df));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    // read_labelled wants the labelled-sentence columns.
    let msg = err_string(read_labelled(&path));
    assert_eq!(
        msg,
        format!(
            "{}: no column \"doc_id\"; columns are: label, n",
            path.display()
        )
    );
}

#[test]
fn sentences_to_dataframe_matches_schema() {
    let df = sentences_to_dataframe(&[sentence("x", 1, "other")]).unwrap();
    assert_output_schema(&df);
    let schema = output_schema();
    assert_eq!(
        schema.iter_names().map(|n| n.as_str()).collect::<Vec<_>>(),
        OUTPUT_COLUMNS
    );
}

#[test]
fn broken_pipe_is_distinguishable() {
    assert!(IoError::BrokenPipe.is_broken_pipe());
    assert_eq!(IoError::BrokenPipe.path(), None);
    let e = IoError::EmptyText {
        path: "g.csv".into(),
        line: 3,
    };
    assert!(!e.is_broken_pipe());
    assert_eq!(e.path(), Some(Path::new("g.csv")));
}

#[test]
fn write_file_atomic_replaces_the_target_and_leaves_no_temp_file() {
    let _guard = temp_files_shared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.md");
    std::fs::write(&path, "old").unwrap();
    crate::write_file_atomic(&path, b"new").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["report.md".to_string()]);
    let missing = dir.path().join("no-such-dir").join("x");
    assert!(crate::write_file_atomic(&missing, b"x").is_err());
}

#[test]
fn line_ends_become_lf_even_when_cr_and_lf_arrive_apart() {
    let mut line_ends = LineEnds::default();
    let mut out = Vec::new();
    for piece in ["a\r", "\nb\r", "\r", "c\n\r\n", "\r"] {
        let mut bytes = piece.as_bytes().to_vec();
        line_ends.normalise(&mut bytes);
        out.extend(bytes);
    }
    assert_eq!(String::from_utf8(out).unwrap(), "a\nb\n\nc\n\n\n");
    assert_eq!(LineEnds::normalise_text("x\r\ny\rz\n"), "x\ny\nz\n");
    assert!(matches!(
        LineEnds::normalise_text("no cr\n"),
        std::borrow::Cow::Borrowed(_)
    ));
}
