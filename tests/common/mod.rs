//! Helpers shared by the end-to-end tests: running the `stance` binary,
//! fixtures and tiny models, and reading its outputs back.

#![allow(dead_code)]

pub use std::collections::BTreeMap;
pub use std::ffi::OsStr;
pub use std::fs;
pub use std::path::{Path, PathBuf};
pub use std::process::{Command, Output, Stdio};

pub use polars::prelude::*;
pub use serde_json::Value;
pub use sha2::{Digest, Sha256};

/// The codebook's labels, in the order of the model's outputs.
pub const LABELS: [&str; 4] = ["condemnation", "commitment", "diplomatic-opening", "other"];

/// The output columns of `stance label`, in order.
pub const COLUMNS: [&str; 13] = [
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

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// The `stance` binary, with a quiet environment and no standard input.
pub fn stance() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stance"));
    // RUST_BACKTRACE=1 as many developers have it: error messages must stay
    // free of library backtraces even then.
    cmd.env("RAYON_NUM_THREADS", "1")
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LIB_BACKTRACE")
        .env_remove("STANCE_MODEL")
        .stdin(Stdio::null());
    cmd
}

/// What a finished run left behind.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn from_output(out: Output) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit status 0 and no panic.
    #[track_caller]
    pub fn ok(self) -> Ran {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.stderr,
            self.stdout
        );
        self.no_panic()
    }

    /// Asserts the exit status and no panic.
    #[track_caller]
    pub fn exits(self, code: i32) -> Ran {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit status {code}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.stderr,
            self.stdout
        );
        self.no_panic()
    }

    #[track_caller]
    pub fn no_panic(self) -> Ran {
        assert!(
            !self.stderr.contains("panicked"),
            "the command panicked:\n{}",
            self.stderr
        );
        let frames = self.stderr.lines().filter(|l| {
            let l = l.trim_start();
            l.starts_with("0: ") || l.starts_with("at /")
        });
        assert_eq!(frames.count(), 0, "backtrace on stderr:\n{}", self.stderr);
        self
    }

    /// Asserts that stderr contains every one of `needles`.
    #[track_caller]
    pub fn stderr_has(self, needles: &[&str]) -> Ran {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr lacks {needle:?}:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// Runs `stance ARGS...` to completion.
pub fn run(args: &[&dyn AsRef<OsStr>]) -> Ran {
    let out = stance()
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("the stance binary runs");
    Ran::from_output(out)
}

/// Runs `stance ARGS...` with `input` on standard input.
pub fn run_with_stdin(args: &[&dyn AsRef<OsStr>], input: &[u8]) -> Ran {
    use std::io::Write;
    let mut child = stance()
        .args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stance binary starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("the stance binary runs");
    writer.join().expect("stdin writer");
    Ran::from_output(out)
}

// ---------------------------------------------------------------------------
// Fixtures and models
// ---------------------------------------------------------------------------

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

pub fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn label_set() -> stance_model::LabelSet {
    stance_model::LabelSet::new(LABELS.iter().map(|s| s.to_string()).collect())
}

/// Writes a tiny classifier into `parent/name` and returns its path.
pub fn tiny_model_named(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    stance_model::testing::write_tiny_model(&dir, Some(&label_set()), 7)
        .expect("the tiny model is written");
    dir
}

/// Writes a tiny classifier into `parent/tiny-model` and returns its path.
pub fn tiny_model(parent: &Path) -> PathBuf {
    tiny_model_named(parent, "tiny-model")
}

pub fn sha256_hex(path: &Path) -> String {
    let bytes = fs::read(path).expect("readable");
    format!("{:x}", Sha256::digest(&bytes))
}

/// Names in `dir` that look like temporary output files (`.NAME.tmp-PID`).
pub fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

/// Generated plain-text communiqués: `files` files of `sentences` sentences
/// each, of varied lengths, in `dir`. Returns the paths in order.
pub fn generate_documents(dir: &Path, files: usize, sentences: usize, seed: usize) -> Vec<PathBuf> {
    const OPENERS: [&str; 6] = [
        "The Ministers condemned",
        "The three countries will continue to strengthen",
        "The delegations welcomed",
        "Officials said they would review",
        "The leaders urged a halt to",
        "Both sides agreed to discuss",
    ];
    const OBJECTS: [&str; 6] = [
        "the launch",
        "cooperation on missile warning data and maritime security in the region",
        "the resumption of dialogue",
        "the illegal transfer of arms in violation of sanctions",
        "the exercise",
        "a new round of talks on confidence-building measures next year",
    ];
    fs::create_dir_all(dir).expect("dir");
    let mut paths = Vec::new();
    for f in 0..files {
        let mut text = String::new();
        for s in 0..sentences {
            let k = seed + f * 31 + s * 7;
            text.push_str(OPENERS[k % OPENERS.len()]);
            text.push(' ');
            text.push_str(OBJECTS[(k / 3) % OBJECTS.len()]);
            text.push_str(&format!(" (item {s})."));
            text.push(if s % 4 == 3 { '\n' } else { ' ' });
        }
        let path = dir.join(format!("part-{f:03}.txt"));
        fs::write(&path, text).expect("write");
        paths.push(path);
    }
    paths
}

// ---------------------------------------------------------------------------
// Reading outputs
// ---------------------------------------------------------------------------

/// One output row of `stance label`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub doc_id: String,
    pub source: String,
    pub paragraph: u32,
    pub sentence: u32,
    pub char_start: u64,
    pub char_end: u64,
    pub text: String,
    pub label: String,
    pub confidence: f32,
    pub p: [f32; 4],
}

pub fn read_parquet(path: &Path) -> DataFrame {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file)
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn str_column(df: &DataFrame, name: &str) -> Vec<String> {
    let col = df
        .column(name)
        .expect("column")
        .cast(&DataType::String)
        .expect("cast to String");
    col.str()
        .expect("String column")
        .iter()
        .map(|v| v.expect("no nulls").to_string())
        .collect()
}

pub fn f32_column(df: &DataFrame, name: &str) -> Vec<f32> {
    df.column(name)
        .expect("column")
        .f32()
        .expect("Float32 column")
        .iter()
        .map(|v| v.expect("no nulls"))
        .collect()
}

pub fn u32_column(df: &DataFrame, name: &str) -> Vec<u32> {
    df.column(name)
        .expect("column")
        .u32()
        .expect("UInt32 column")
        .iter()
        .map(|v| v.expect("no nulls"))
        .collect()
}

pub fn u64_column(df: &DataFrame, name: &str) -> Vec<u64> {
    df.column(name)
        .expect("column")
        .u64()
        .expect("UInt64 column")
        .iter()
        .map(|v| v.expect("no nulls"))
        .collect()
}

/// Checks the labelled-sentence schema (names, order and dtypes, the label
/// Enum's categories in codebook order) and returns the rows.
pub fn labelled_rows(path: &Path) -> Vec<Row> {
    let df = read_parquet(path);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, COLUMNS, "{}: columns", path.display());
    for (name, dtype) in [
        ("doc_id", DataType::String),
        ("source", DataType::String),
        ("paragraph", DataType::UInt32),
        ("sentence", DataType::UInt32),
        ("char_start", DataType::UInt64),
        ("char_end", DataType::UInt64),
        ("text", DataType::String),
        ("confidence", DataType::Float32),
        ("p_condemnation", DataType::Float32),
        ("p_commitment", DataType::Float32),
        ("p_diplomatic_opening", DataType::Float32),
        ("p_other", DataType::Float32),
    ] {
        assert_eq!(df.column(name).unwrap().dtype(), &dtype, "dtype of {name}");
    }
    let label = df.column("label").unwrap();
    match label.dtype() {
        DataType::Enum(categories, _) => {
            let cats: Vec<&str> = categories.categories().values_iter().collect();
            assert_eq!(cats, LABELS, "label categories in codebook order");
        }
        other => panic!("label should be an Enum, found {other:?}"),
    }
    let labels = str_column(&df, "label");
    let (doc_id, source, text) = (
        str_column(&df, "doc_id"),
        str_column(&df, "source"),
        str_column(&df, "text"),
    );
    let (paragraph, sentence) = (u32_column(&df, "paragraph"), u32_column(&df, "sentence"));
    let (start, end) = (u64_column(&df, "char_start"), u64_column(&df, "char_end"));
    let confidence = f32_column(&df, "confidence");
    let p: Vec<Vec<f32>> = COLUMNS[9..].iter().map(|c| f32_column(&df, c)).collect();
    (0..df.height())
        .map(|i| Row {
            doc_id: doc_id[i].clone(),
            source: source[i].clone(),
            paragraph: paragraph[i],
            sentence: sentence[i],
            char_start: start[i],
            char_end: end[i],
            text: text[i].clone(),
            label: labels[i].clone(),
            confidence: confidence[i],
            p: [p[0][i], p[1][i], p[2][i], p[3][i]],
        })
        .collect()
}

pub fn row_from_json(v: &Value) -> Row {
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {v}"))
            .to_string()
    };
    let u = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}")) as f32;
    Row {
        doc_id: s("doc_id"),
        source: s("source"),
        paragraph: u("paragraph") as u32,
        sentence: u("sentence") as u32,
        char_start: u("char_start"),
        char_end: u("char_end"),
        text: s("text"),
        label: s("label"),
        confidence: f("confidence"),
        p: [
            f("p_condemnation"),
            f("p_commitment"),
            f("p_diplomatic_opening"),
            f("p_other"),
        ],
    }
}

/// Parses JSONL output, checking that every line is a JSON object with
/// exactly the output columns, in order.
pub fn jsonl_rows(text: &str) -> Vec<Row> {
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("invalid JSON line {line:?}: {e}"));
            let keys: Vec<&str> = v
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            let mut sorted_columns = COLUMNS.to_vec();
            sorted_columns.sort_unstable();
            let mut sorted_keys = keys.clone();
            sorted_keys.sort_unstable();
            assert_eq!(sorted_keys, sorted_columns, "JSONL keys");
            row_from_json(&v)
        })
        .collect()
}

/// Parses CSV output, checking the header.
pub fn csv_rows(path: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).expect("CSV output");
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, COLUMNS, "CSV header");
    reader
        .records()
        .map(|r| {
            let r = r.expect("CSV record");
            let get = |i: usize| r.get(i).expect("field").to_string();
            let num = |i: usize| get(i).parse::<f32>().expect("float");
            Row {
                doc_id: get(0),
                source: get(1),
                paragraph: get(2).parse().unwrap(),
                sentence: get(3).parse().unwrap(),
                char_start: get(4).parse().unwrap(),
                char_end: get(5).parse().unwrap(),
                text: get(6),
                label: get(7),
                confidence: num(8),
                p: [num(9), num(10), num(11), num(12)],
            }
        })
        .collect()
}

/// Checks every row against itself and against the documents it came from:
/// probabilities sum to one, confidence and label are the arg-max, `text` is
/// `chars[char_start..char_end]` of the document, and sentences are numbered
/// 0..n per document, in order, with paragraphs never going back.
pub fn check_rows(rows: &[Row], documents: &BTreeMap<String, String>) {
    let mut next_sentence: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for r in rows {
        let sum: f32 = r.p.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-4,
            "probabilities sum to {sum}: {r:?}"
        );
        assert!(r.p.iter().all(|p| (0.0..=1.0).contains(p)), "{r:?}");
        let best = r.p.iter().copied().fold(f32::MIN, f32::max);
        assert!(
            (r.confidence - best).abs() < 1e-6,
            "confidence is the top probability: {r:?}"
        );
        let index = LABELS
            .iter()
            .position(|l| *l == r.label)
            .expect("known label");
        assert!(
            (r.p[index] - best).abs() < 1e-6,
            "label is the arg-max: {r:?}"
        );
        let doc = documents
            .get(&r.doc_id)
            .unwrap_or_else(|| panic!("unexpected doc_id {:?}", r.doc_id));
        let chars: Vec<char> = doc.chars().collect();
        assert!(
            r.char_start < r.char_end && r.char_end as usize <= chars.len(),
            "{r:?}"
        );
        let slice: String = chars[r.char_start as usize..r.char_end as usize]
            .iter()
            .collect();
        assert_eq!(
            slice, r.text,
            "text is chars[char_start..char_end] of {}",
            r.doc_id
        );
        assert!(!r.text.trim().is_empty());
        let (expected, paragraph) = next_sentence.entry(r.doc_id.as_str()).or_insert((0, 0));
        assert_eq!(r.sentence, *expected, "sentence index in {}", r.doc_id);
        assert!(
            r.paragraph >= *paragraph,
            "paragraphs in order in {}",
            r.doc_id
        );
        *expected += 1;
        *paragraph = r.paragraph;
    }
    for doc in documents.keys() {
        if !documents[doc].trim().is_empty() {
            assert!(
                next_sentence.contains_key(doc.as_str()),
                "no rows for {doc}"
            );
        }
    }
}

pub fn docs(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The order in which doc_ids first appear.
pub fn doc_order(rows: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        if out.last() != Some(&r.doc_id) {
            assert!(
                !out.contains(&r.doc_id),
                "rows of {} are not contiguous",
                r.doc_id
            );
            out.push(r.doc_id.clone());
        }
    }
    out
}

pub fn texts(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| r.text.as_str()).collect()
}

/// Asserts two runs gave the same sentences with the same verdicts (up to
/// float noise from different batch shapes).
#[track_caller]
pub fn assert_same_verdicts(a: &[Row], b: &[Row]) {
    assert_eq!(a.len(), b.len(), "row counts");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (&x.text, x.paragraph, x.sentence, x.char_start, x.char_end),
            (&y.text, y.paragraph, y.sentence, y.char_start, y.char_end)
        );
        for k in 0..4 {
            assert!(
                (x.p[k] - y.p[k]).abs() < 1e-4,
                "probabilities differ:\n{x:?}\n{y:?}"
            );
        }
        let mut sorted = x.p;
        sorted.sort_by(|m, n| n.total_cmp(m));
        if sorted[0] - sorted[1] > 1e-3 {
            assert_eq!(x.label, y.label, "labels differ:\n{x:?}\n{y:?}");
        }
    }
}

pub fn metadata(path: &Path) -> BTreeMap<String, String> {
    stance_io::read_parquet_metadata(path)
        .expect("parquet metadata")
        .into_iter()
        .collect()
}

/// `stance label INPUTS... -o OUT --model MODEL --quiet EXTRA...`
pub fn label_to(model: &Path, inputs: &[&Path], out: &Path, extra: &[&str]) -> Ran {
    let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"label"];
    for i in inputs {
        args.push(i);
    }
    args.extend([
        &"-o" as &dyn AsRef<OsStr>,
        &out,
        &"--model",
        &model,
        &"--quiet",
    ]);
    for e in extra {
        args.push(e);
    }
    run(&args)
}
