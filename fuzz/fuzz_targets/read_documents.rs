//! The input readers (text, HTML, JSONL, CSV, Parquet) on arbitrary bytes: each
//! must return documents or an error naming the file, and never panic. The
//! first byte picks the format and the options, the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stance_io::{parse_documents, InputFile, InputFormat, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (format, name) = match selector % 5 {
        0 => (InputFormat::Text, "fuzz.txt"),
        1 => (InputFormat::Jsonl, "fuzz.jsonl"),
        2 => (InputFormat::Csv, "fuzz.csv"),
        3 => (InputFormat::Html, "fuzz.html"),
        _ => (InputFormat::Parquet, "fuzz.parquet"),
    };
    let opts = ReadOptions {
        lossy: selector & 8 != 0,
        id_field: (selector & 16 != 0).then(|| "id".to_string()),
        ..ReadOptions::default()
    };
    let file = InputFile::file(name);
    match parse_documents(&file, format, body.to_vec(), &opts) {
        Ok(docs) => {
            for doc in docs {
                assert!(!doc.doc_id.is_empty());
            }
        }
        Err(err) => {
            let message = err.to_string();
            assert!(message.contains(name), "error does not name the file: {message}");
        }
    }
});
