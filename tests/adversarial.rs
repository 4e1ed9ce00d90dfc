//! Hostile inputs through the real binary: every file of the adversarial
//! fixture set (`tests/adversarial/`, listed in its README) and the inputs too
//! large or too odd to commit (a 10 MB line, a 100,000-character sentence, a
//! deep directory tree, a symlink loop, Parquet with a mistyped text column),
//! generated here.
//!
//! Each run must end with exit status 0 and correct rows, or exit status 2
//! and an error naming the file (and line); it must never panic, and a failed
//! run must leave the previous output byte for byte and no temporary file.

mod common;

use common::*;
use stance_io::{read_documents, InputFile, ReadOptions};

fn adversarial(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("adversarial")
        .join(name)
}

/// What a fixture must give.
enum Expect {
    /// Exit 0 with this many sentences, each checked against the documents.
    Sentences(usize),
    /// Exit 2, with the file's name and these fragments on stderr.
    Error(&'static [&'static str]),
}

struct Case {
    file: &'static str,
    args: &'static [&'static str],
    expect: Expect,
}

const CASES: &[Case] = &[
    Case {
        file: "empty.txt",
        args: &[],
        expect: Expect::Sentences(0),
    },
    Case {
        file: "whitespace-only.txt",
        args: &[],
        expect: Expect::Sentences(0),
    },
    Case {
        file: "binary.txt",
        args: &[],
        expect: Expect::Error(&["looks like a binary file"]),
    },
    Case {
        file: "binary.txt",
        args: &["--lossy"],
        expect: Expect::Error(&["looks like a binary file"]),
    },
    Case {
        file: "invalid-utf8.txt",
        args: &[],
        expect: Expect::Error(&[":1: invalid UTF-8 at byte 64", "--lossy"]),
    },
    Case {
        file: "invalid-utf8.txt",
        args: &["--lossy"],
        expect: Expect::Sentences(2),
    },
    Case {
        file: "bom.txt",
        args: &[],
        expect: Expect::Sentences(2),
    },
    Case {
        file: "crlf.txt",
        args: &[],
        expect: Expect::Sentences(3),
    },
    Case {
        file: "lone-cr.txt",
        args: &[],
        expect: Expect::Sentences(3),
    },
    Case {
        file: "utf16le.txt",
        args: &[],
        expect: Expect::Sentences(3),
    },
    Case {
        file: "utf16be.csv",
        args: &[],
        expect: Expect::Sentences(2),
    },
    Case {
        file: "utf16-lone-surrogate.txt",
        args: &[],
        expect: Expect::Error(&["invalid UTF-16 at byte 48", "--lossy"]),
    },
    Case {
        file: "utf16-lone-surrogate.txt",
        args: &["--lossy"],
        expect: Expect::Sentences(2),
    },
    Case {
        file: "crlf-export.csv",
        args: &[],
        expect: Expect::Sentences(4),
    },
    Case {
        file: "nul-bytes.txt",
        args: &[],
        expect: Expect::Sentences(2),
    },
    Case {
        file: "scripts.txt",
        args: &[],
        expect: Expect::Sentences(5),
    },
    Case {
        file: "emoji-combining.txt",
        args: &[],
        expect: Expect::Sentences(4),
    },
    Case {
        file: "control-chars.txt",
        args: &[],
        expect: Expect::Sentences(6),
    },
    Case {
        file: "punctuation-only.txt",
        args: &[],
        expect: Expect::Sentences(6),
    },
    Case {
        file: "malformed-middle.jsonl",
        args: &[],
        expect: Expect::Error(&[":3: malformed JSON"]),
    },
    Case {
        file: "wrong-type.jsonl",
        args: &[],
        expect: Expect::Error(&[":2: field \"text\" must be a string, found a number"]),
    },
    Case {
        file: "not-objects.jsonl",
        args: &[],
        expect: Expect::Error(&[":1: expected a JSON object, found an array"]),
    },
    Case {
        file: "duplicate-key.jsonl",
        args: &[],
        expect: Expect::Error(&[":2: the object names key \"text\" twice"]),
    },
    Case {
        file: "duplicate-column.csv",
        args: &[],
        expect: Expect::Error(&["the header names column \"text\" twice (columns 2 and 3)"]),
    },
    Case {
        file: "quoted-newlines.csv",
        args: &[],
        expect: Expect::Sentences(3),
    },
    Case {
        file: "unterminated-quote.csv",
        args: &[],
        expect: Expect::Error(&[
            ":2: malformed CSV: a quoted field opened on this line is never closed",
        ]),
    },
];

/// The documents of `path` as stance-io reads them, by doc_id.
fn documents_of(path: &Path, lossy: bool) -> BTreeMap<String, String> {
    let opts = ReadOptions {
        lossy,
        ..ReadOptions::default()
    };
    let documents = read_documents(&InputFile::file(path), &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let count = documents.len();
    let by_id: BTreeMap<String, String> =
        documents.into_iter().map(|d| (d.doc_id, d.text)).collect();
    assert_eq!(
        by_id.len(),
        count,
        "{}: two documents share an id",
        path.display()
    );
    by_id
}

const PREVIOUS: &[u8] = b"previous output, kept on failure";

/// Labels `inputs` into `dir/out.parquet`, over a previous output, and checks
/// what the run left: on failure the previous output and no temporary file.
fn label_over_previous(
    model: &Path,
    dir: &Path,
    inputs: &[&Path],
    args: &[&str],
) -> (Ran, PathBuf) {
    let out = dir.join("out.parquet");
    fs::write(&out, PREVIOUS).unwrap();
    let ran = label_to(model, inputs, &out, args).no_panic();
    assert!(
        matches!(ran.code, Some(0) | Some(2)),
        "exit status {:?} (documented: 0 or 2)\n{}",
        ran.code,
        ran.stderr
    );
    assert_eq!(
        temp_files(dir),
        Vec::<String>::new(),
        "temporary files left behind"
    );
    if ran.code == Some(2) {
        assert_eq!(fs::read(&out).unwrap(), PREVIOUS, "previous output changed");
    }
    (ran, out)
}

/// Rows of a successful run, checked against the documents they came from.
fn check_success(out: &Path, documents: &BTreeMap<String, String>) -> Vec<Row> {
    let rows = labelled_rows(out);
    check_rows(&rows, documents);
    for r in &rows {
        assert!(
            !r.text.contains('\r'),
            "line end inside a sentence: {:?}",
            r.text
        );
        assert!(
            !r.text.starts_with('\u{feff}'),
            "byte-order mark kept: {:?}",
            r.text
        );
        assert_eq!(r.text.trim(), r.text, "untrimmed sentence: {:?}", r.text);
    }
    rows
}

#[test]
fn every_fixture_gives_correct_rows_or_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let mut listed: Vec<String> = fs::read_dir(adversarial(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    listed.sort();
    let mut covered: Vec<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    covered.sort();
    covered.dedup();
    assert_eq!(
        listed, covered,
        "every fixture has a case, every case a fixture"
    );

    for case in CASES {
        let path = adversarial(case.file);
        let work = tempfile::tempdir().unwrap();
        let (ran, out) = label_over_previous(&model, work.path(), &[&path], case.args);
        let context = format!("{} {:?}", case.file, case.args);
        match case.expect {
            Expect::Sentences(n) => {
                assert_eq!(ran.code, Some(0), "{context}: {}", ran.stderr);
                let documents = documents_of(&path, case.args.contains(&"--lossy"));
                let rows = check_success(&out, &documents);
                assert_eq!(rows.len(), n, "{context}: {:#?}", texts(&rows));
            }
            Expect::Error(fragments) => {
                assert_eq!(ran.code, Some(2), "{context}: {}", ran.stderr);
                assert!(
                    ran.stderr.contains(case.file),
                    "{context}: file not named: {}",
                    ran.stderr
                );
                for fragment in fragments {
                    assert!(
                        ran.stderr.contains(fragment),
                        "{context}: lacks {fragment:?}: {}",
                        ran.stderr
                    );
                }
                assert_eq!(
                    ran.stderr.lines().count(),
                    1,
                    "{context}: one line: {}",
                    ran.stderr
                );
            }
        }
    }
}

#[test]
fn the_whole_set_with_skip_errors_labels_the_good_files_and_lists_the_bad() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    // The fixtures without their README (a .md file is a document too).
    let set = dir.path().join("set");
    fs::create_dir(&set).unwrap();
    for case in CASES {
        fs::copy(adversarial(case.file), set.join(case.file)).unwrap();
    }
    let (ran, out) = label_over_previous(&model, dir.path(), &[&set], &["--skip-errors"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    for bad in [
        "binary.txt",
        "invalid-utf8.txt",
        "malformed-middle.jsonl",
        "unterminated-quote.csv",
    ] {
        assert!(ran.stderr.contains(bad), "{bad} not listed: {}", ran.stderr);
    }
    let rows = labelled_rows(&out);
    let expected: usize = CASES
        .iter()
        .filter(|c| c.args.is_empty())
        .map(|c| match c.expect {
            Expect::Sentences(n) => n,
            Expect::Error(_) => 0,
        })
        .sum();
    assert_eq!(rows.len(), expected);
}

#[test]
fn a_ten_megabyte_line_without_punctuation_is_one_truncated_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let words = [
        "we", "condemn", "the", "attack", "and", "ready", "for", "dialogue",
    ];
    let mut line = String::with_capacity(10_500_000);
    let mut i = 0usize;
    while line.len() < 10_000_000 {
        line.push_str(words[i % words.len()]);
        line.push(' ');
        i = i.wrapping_mul(31).wrapping_add(7) % 1_000_003;
    }
    let path = dir.path().join("long-line.txt");
    fs::write(&path, line.trim_end()).unwrap();
    let out = dir.path().join("out.jsonl");
    let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"label", &path, &"-o", &out, &"--model", &model];
    args.push(&"--max-tokens");
    args.push(&"64");
    let ran = run(&args).ok();
    assert!(
        ran.stderr.contains("1 truncated to 64 tokens"),
        "{}",
        ran.stderr
    );
    let rows = jsonl_rows(&read_text(&out));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text.len(), line.trim_end().len());
}

#[test]
fn a_hundred_thousand_character_sentence_and_a_giant_word() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let sentence = format!(
        "{}.",
        "The ministers condemned the attack "
            .repeat(2_858)
            .trim_end()
    );
    assert!(sentence.chars().count() >= 100_000);
    let word = "x".repeat(100_000);
    let path = dir.path().join("long.txt");
    fs::write(&path, format!("{sentence}\n{word}\nShort one.\n")).unwrap();
    let (ran, out) = label_over_previous(&model, dir.path(), &[&path], &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let rows = check_success(&out, &documents_of(&path, false));
    assert_eq!(
        texts(&rows),
        vec![sentence.as_str(), word.as_str(), "Short one."]
    );
}

#[test]
fn a_deep_directory_tree_and_a_symlink_loop() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let root = dir.path().join("tree");
    let mut deep = root.clone();
    for level in 0..100 {
        deep.push(format!("level{level}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(
        deep.join("doc.txt"),
        "A sentence at the bottom. Another one.",
    )
    .unwrap();
    fs::write(root.join("top.txt"), "A sentence at the top.").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("..", root.join("level0").join("up")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("self")).unwrap();
    }
    let (ran, out) = label_over_previous(&model, dir.path(), &[&root], &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let rows = labelled_rows(&out);
    let deep_id = format!(
        "{}/doc",
        (0..100)
            .map(|l| format!("level{l}"))
            .collect::<Vec<_>>()
            .join("/")
    );
    let ids: Vec<&str> = rows.iter().map(|r| r.doc_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![deep_id.as_str(), deep_id.as_str(), "top"],
        "each file once"
    );
}

#[test]
fn parquet_with_a_mistyped_or_damaged_text_column() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());

    let numbers = dir.path().join("numbers.parquet");
    let mut df = df!("id" => ["a", "b"], "text" => [1.5f64, 2.5]).unwrap();
    ParquetWriter::new(fs::File::create(&numbers).unwrap())
        .finish(&mut df)
        .unwrap();
    let (ran, _) = label_over_previous(&model, dir.path(), &[&numbers], &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    for needle in ["numbers.parquet", "\"text\"", "f64"] {
        assert!(
            ran.stderr.contains(needle),
            "lacks {needle:?}: {}",
            ran.stderr
        );
    }

    let lists = dir.path().join("lists.parquet");
    let inner = Series::new("x".into(), ["one", "two"]);
    let mut df = DataFrame::new(
        1,
        vec![
            Column::new("id".into(), ["a"]),
            Column::new("text".into(), [inner]),
        ],
    )
    .unwrap();
    ParquetWriter::new(fs::File::create(&lists).unwrap())
        .finish(&mut df)
        .unwrap();
    let (ran, _) = label_over_previous(&model, dir.path(), &[&lists], &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("lists.parquet") && ran.stderr.contains("\"text\""),
        "{}",
        ran.stderr
    );

    // A file cut short and a file that is not Parquet at all.
    let good = dir.path().join("good.parquet");
    let mut df = df!("text" => ["One sentence.", "Another."]).unwrap();
    ParquetWriter::new(fs::File::create(&good).unwrap())
        .finish(&mut df)
        .unwrap();
    let bytes = fs::read(&good).unwrap();
    let cut = dir.path().join("cut.parquet");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let fake = dir.path().join("fake.parquet");
    fs::write(&fake, "id,text\na,not parquet\n").unwrap();
    for path in [&cut, &fake] {
        let (ran, _) = label_over_previous(&model, dir.path(), &[path.as_path()], &[]);
        assert_eq!(ran.code, Some(2), "{}", ran.stderr);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(ran.stderr.contains(&name), "{}", ran.stderr);
    }
}
