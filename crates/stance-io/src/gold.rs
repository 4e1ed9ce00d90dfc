//! Reading hand-labelled ("gold") sentences.

use std::collections::HashMap;
use std::fs;
use std::io::Cursor;
use std::path::Path;

use polars::prelude::*;
use serde_json::{Map, Value};

use crate::input::{
    check_last_record_quotes, column_as_strings, csv_error, csv_reader, decode, find_column,
    json_type, jsonl_objects, missing_column, number_id, parquet_column_names, required_string,
    LineEnds,
};
use crate::{InputFormat, IoError};

/// One labelled sentence of a gold file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldRecord {
    /// 1-based line (JSONL; CSV: the line the record starts on) or row (Parquet).
    pub line: usize,
    pub text: String,
    pub label: String,
    /// A second acceptable label; `None` when absent, null or empty.
    pub secondary: Option<String>,
    pub doc_id: Option<String>,
    pub source: Option<String>,
}

/// Raw fields of one record before validation.
struct RawGold {
    line: usize,
    text: String,
    label: String,
    secondary: Option<String>,
    doc_id: Option<String>,
    source: Option<String>,
}

/// Reads a gold file: JSONL (`.jsonl`/`.ndjson`), CSV or Parquet, by extension.
///
/// `text` and `label` are required (a missing field/column is an error naming
/// the line, or listing the columns); `secondary`, `doc_id` and `source` are
/// optional. Labels (trimmed) must be among `labels`; `secondary` may be null
/// or empty. Empty or whitespace-only text is an error.
pub fn read_gold(path: &Path, labels: &[&str]) -> Result<Vec<GoldRecord>, IoError> {
    if path.is_dir() {
        return Err(IoError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory; expected a gold file (.jsonl, .ndjson, .csv or .parquet)",
            ),
        ));
    }
    let format = InputFormat::from_path(path)
        .filter(|f| !f.is_one_document())
        .ok_or_else(|| IoError::UnknownFormat {
            path: path.to_path_buf(),
            expected: ".jsonl, .ndjson, .csv or .parquet (each also gzipped, .gz)",
            hint: "",
        })?;
    let read = || {
        let bytes = fs::read(path).map_err(|e| IoError::io(path, e))?;
        crate::compression::decompressed(bytes, path)
    };
    let raw = match format {
        InputFormat::Jsonl => gold_jsonl(&decode(read()?, path, false)?, path)?,
        InputFormat::Csv => gold_csv(&decode(read()?, path, false)?, path)?,
        InputFormat::Parquet => gold_parquet(ParquetReader::new(Cursor::new(read()?)), path)?,
        InputFormat::Text | InputFormat::Html => unreachable!("filtered above"),
    };
    let expected = || labels.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    raw.into_iter()
        .map(|r| {
            if r.text.trim().is_empty() {
                return Err(IoError::EmptyText {
                    path: path.to_path_buf(),
                    line: r.line,
                });
            }
            let label = r.label.trim().to_string();
            if !labels.contains(&label.as_str()) {
                return Err(IoError::UnknownLabel {
                    path: path.to_path_buf(),
                    line: r.line,
                    label,
                    expected: expected(),
                });
            }
            let secondary = r
                .secondary
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            if let Some(s) = &secondary {
                if !labels.contains(&s.as_str()) {
                    return Err(IoError::UnknownSecondaryLabel {
                        path: path.to_path_buf(),
                        line: r.line,
                        label: s.clone(),
                        expected: expected(),
                    });
                }
            }
            Ok(GoldRecord {
                line: r.line,
                text: r.text,
                label,
                secondary,
                doc_id: r.doc_id.filter(|s| !s.is_empty()),
                source: r.source.filter(|s| !s.is_empty()),
            })
        })
        .collect()
}

fn gold_jsonl(text: &str, path: &Path) -> Result<Vec<RawGold>, IoError> {
    let mut out = Vec::new();
    let fields = ["text", "label", "secondary", "doc_id", "source"];
    for item in jsonl_objects(text, path, &fields) {
        let (line, obj) = item?;
        // Missing is an error listing the keys; null or another type names it.
        let text = required_string(&obj, "text", path, line)?;
        let label = required_string(&obj, "label", path, line)?;
        out.push(RawGold {
            line,
            text,
            label,
            secondary: json_field(&obj, "secondary", path, line, false)?,
            doc_id: json_field(&obj, "doc_id", path, line, true)?,
            source: json_field(&obj, "source", path, line, false)?,
        });
    }
    Ok(out)
}

/// A string field (numbers allowed when `numbers`); missing or null → `None`.
fn json_field(
    obj: &Map<String, Value>,
    field: &str,
    path: &Path,
    line: usize,
    numbers: bool,
) -> Result<Option<String>, IoError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if numbers => number_id(n, field, path, line).map(Some),
        Some(other) => Err(IoError::WrongFieldType {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            expected: if numbers {
                "a string or a number"
            } else {
                "a string"
            },
            found: json_type(other),
        }),
    }
}

fn gold_csv(text: &str, path: &Path) -> Result<Vec<RawGold>, IoError> {
    let text = &LineEnds::normalise_text(text);
    let (mut reader, header) = csv_reader(text, path)?;
    let find = |name: &str| find_column(&header, name, path);
    let text_idx = find("text")?.ok_or_else(|| missing_column(path, "text", &header))?;
    let label_idx = find("label")?.ok_or_else(|| missing_column(path, "label", &header))?;
    let secondary_idx = find("secondary")?;
    let doc_idx = find("doc_id")?;
    let source_idx = find("source")?;
    let mut out = Vec::new();
    let mut last = None;
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        last = record.position().cloned();
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::to_string);
        out.push(RawGold {
            line,
            text: get(Some(text_idx)).unwrap_or_default(),
            label: get(Some(label_idx)).unwrap_or_default(),
            secondary: get(secondary_idx),
            doc_id: get(doc_idx),
            source: get(source_idx),
        });
    }
    check_last_record_quotes(text, last, path)?;
    Ok(out)
}

fn gold_parquet(
    mut reader: ParquetReader<Cursor<Vec<u8>>>,
    path: &Path,
) -> Result<Vec<RawGold>, IoError> {
    let columns = parquet_column_names(&mut reader, path)?;
    for required in ["text", "label"] {
        if !columns.iter().any(|c| c == required) {
            return Err(missing_column(path, required, &columns));
        }
    }
    let wanted: Vec<String> = ["text", "label", "secondary", "doc_id", "source"]
        .into_iter()
        .filter(|c| columns.iter().any(|have| have == c))
        .map(str::to_string)
        .collect();
    let df = reader
        .with_columns(Some(wanted.clone()))
        .finish()
        .map_err(|e| IoError::parquet(path, "cannot read", e))?;
    let mut cols: HashMap<&str, Vec<Option<String>>> = HashMap::new();
    for name in &wanted {
        let (expected, cast) = if name == "text" {
            ("a String column", false)
        } else {
            ("a String, categorical or integer column", true)
        };
        cols.insert(
            name.as_str(),
            column_as_strings(&df, name, path, expected, cast)?,
        );
    }
    let mut take = |name: &str| cols.remove(name);
    let texts = take("text").unwrap_or_default();
    let labels = take("label").unwrap_or_default();
    let mut secondary = take("secondary").map(Vec::into_iter);
    let mut doc_ids = take("doc_id").map(Vec::into_iter);
    let mut sources = take("source").map(Vec::into_iter);
    let mut out = Vec::with_capacity(texts.len());
    for (i, (text, label)) in texts.into_iter().zip(labels).enumerate() {
        let line = i + 1;
        let null = |column: &str| IoError::NullValue {
            path: path.to_path_buf(),
            line,
            column: column.to_string(),
        };
        let next = |it: &mut Option<std::vec::IntoIter<Option<String>>>| {
            it.as_mut().and_then(|it| it.next()).flatten()
        };
        out.push(RawGold {
            line,
            text: text.ok_or_else(|| null("text"))?,
            label: label.ok_or_else(|| null("label"))?,
            secondary: next(&mut secondary),
            doc_id: next(&mut doc_ids),
            source: next(&mut sources),
        });
    }
    Ok(out)
}

/// The previous sentence of each record's document: the text of the record
/// just before it when both name the same `doc_id`, else `None` (a
/// document's first sentence, or records without `doc_id`). Gold files list
/// a document's sentences in order, as the codebook's record format does.
pub fn previous_in_document(records: &[GoldRecord]) -> Vec<Option<&str>> {
    let mut previous = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let before = i.checked_sub(1).map(|j| &records[j]);
        previous.push(match (before, &record.doc_id) {
            (Some(b), Some(doc)) if b.doc_id.as_ref() == Some(doc) => Some(b.text.as_str()),
            _ => None,
        });
    }
    previous
}

/// Warnings about a gold set: texts (compared after trimming) that occur on
/// several lines, with the lines listed and whether the labels agree. In
/// order of first occurrence.
pub fn gold_warnings(records: &[GoldRecord]) -> Vec<String> {
    let mut groups: Vec<Vec<&GoldRecord>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in records {
        let key = r.text.trim();
        match index.get(key) {
            Some(&g) => groups[g].push(r),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![r]);
            }
        }
    }
    groups
        .into_iter()
        .filter(|g| g.len() > 1)
        .map(|g| {
            let lines = g
                .iter()
                .map(|r| r.line.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let mut labels: Vec<&str> = Vec::new();
            for r in &g {
                if !labels.contains(&r.label.as_str()) {
                    labels.push(&r.label);
                }
            }
            let snippet = snippet(g[0].text.trim(), 60);
            if labels.len() == 1 {
                format!(
                    "lines {lines}: duplicate text (same label \"{}\"): \"{snippet}\"",
                    labels[0]
                )
            } else {
                format!(
                    "lines {lines}: duplicate text with conflicting labels {}: \"{snippet}\"",
                    labels.join(", ")
                )
            }
        })
        .collect()
}

fn snippet(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: usize, doc: Option<&str>, text: &str) -> GoldRecord {
        GoldRecord {
            line,
            text: text.into(),
            label: "other".into(),
            secondary: None,
            doc_id: doc.map(str::to_string),
            source: None,
        }
    }

    #[test]
    fn previous_sentence_stays_inside_its_document() {
        let records = [
            record(1, Some("a"), "a0"),
            record(2, Some("a"), "a1"),
            record(3, Some("b"), "b0"),
            record(4, Some("b"), "b1"),
            record(5, None, "x"),
            record(6, None, "y"),
            record(7, Some("a"), "a2"),
        ];
        assert_eq!(
            previous_in_document(&records),
            [None, Some("a0"), None, Some("b0"), None, None, None]
        );
        assert!(previous_in_document(&[]).is_empty());
    }
}
