//! Telling files apart: whether two paths are one file, and whether a file
//! looks like the output of `stance label`.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::output::{read_parquet_metadata, META_MODEL};

/// Whether `a` and `b` name the same existing file, through any mix of
/// `.`/`..`, symlinks and hard links. False when either does not exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (file_identity(a), file_identity(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// What makes a file itself, whatever path leads to it: the device and
/// inode on Unix, the canonical path elsewhere. None when it does not exist.
pub fn file_identity(path: &Path) -> Option<FileIdentity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(path).ok()?;
        Some(FileIdentity::Inode(meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        fs::canonicalize(path).ok().map(FileIdentity::Path)
    }
}

/// See [`file_identity`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileIdentity {
    Inode(u64, u64),
    Path(std::path::PathBuf),
}

/// Columns that every output of `stance label` has and documents rarely do.
const OUTPUT_MARKERS: [&str; 4] = ["doc_id", "char_start", "label", "confidence"];

/// Whether `path` looks like a file written by `stance label`: Parquet with
/// its provenance metadata, or JSONL or CSV (by extension) whose first record
/// or header has the output's `doc_id`, `char_start`, `label` and
/// `confidence`. Reads at most the first line; false on any error.
pub fn looks_like_label_output(path: &Path) -> bool {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("parquet") => read_parquet_metadata(path)
            .map(|kv| kv.iter().any(|(k, _)| k == META_MODEL))
            .unwrap_or(false),
        Some("jsonl") => first_line(path)
            .and_then(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
            .and_then(|v| v.as_object().cloned())
            .is_some_and(|o| OUTPUT_MARKERS.iter().all(|k| o.contains_key(*k))),
        Some("csv") => first_line(path).is_some_and(|header| {
            let columns: Vec<&str> = header.trim_end().split(',').collect();
            OUTPUT_MARKERS.iter().all(|k| columns.contains(k))
        }),
        _ => false,
    }
}

/// The first line of a file, without reading more than 1 MiB.
fn first_line(path: &Path) -> Option<String> {
    let file = fs::File::open(path).ok()?;
    let mut line = String::new();
    BufReader::new(file.take(1 << 20))
        .read_line(&mut line)
        .ok()?;
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_through_dots_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        fs::write(&a, "x").unwrap();
        let b = dir.path().join("b.txt");
        fs::write(&b, "x").unwrap();
        assert!(same_file(&a, &dir.path().join(".").join("a.txt")));
        assert!(!same_file(&a, &b));
        assert!(!same_file(&a, &dir.path().join("missing.txt")));
        #[cfg(unix)]
        {
            let hard = dir.path().join("hard.txt");
            fs::hard_link(&a, &hard).unwrap();
            assert!(same_file(&a, &hard));
            let soft = dir.path().join("soft.txt");
            std::os::unix::fs::symlink(&a, &soft).unwrap();
            assert!(same_file(&soft, &a));
        }
    }

    #[test]
    fn label_output_is_told_from_documents() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            path
        };
        let output_jsonl = write(
            "out.jsonl",
            "{\"doc_id\":\"a\",\"source\":\"a.txt\",\"char_start\":0,\"char_end\":3,\"text\":\"Hi.\",\"label\":\"other\",\"confidence\":0.9}\n",
        );
        assert!(looks_like_label_output(&output_jsonl));
        let documents_jsonl = write("docs.jsonl", "{\"id\":\"a\",\"text\":\"Hi.\"}\n");
        assert!(!looks_like_label_output(&documents_jsonl));
        let output_csv = write(
            "out.csv",
            "doc_id,source,paragraph,sentence,char_start,char_end,text,label,confidence\r\n",
        );
        assert!(looks_like_label_output(&output_csv));
        assert!(!looks_like_label_output(&write("docs.csv", "id,text\n")));
        assert!(!looks_like_label_output(&write(
            "a.txt",
            "doc_id char_start label confidence"
        )));
        assert!(!looks_like_label_output(&write("not.parquet", "PAR1")));
    }
}
