//! Other tables the CLI writes and reads: eval predictions and per-document summaries.

use std::fs;
use std::path::Path;

use polars::prelude::*;

use crate::input::{
    csv_error, csv_reader, decode, find_column, jsonl_objects, missing_column, required_string,
    LineEnds,
};
use crate::output::{
    label_dtype, read_labelled, write_dataframe_parquet_atomic, OutputFormat, LABELS,
};
use crate::IoError;

/// One gold sentence with the model's (or a baseline's) verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub doc_id: Option<String>,
    pub source: Option<String>,
    pub text: String,
    pub gold: String,
    pub secondary: Option<String>,
    pub predicted: String,
    pub confidence: f32,
    /// In the order of [`LABELS`].
    pub probabilities: [f32; 4],
}

/// Writes eval predictions as Parquet (atomically): doc_id, source, text,
/// gold, secondary, predicted (all three label columns categorical in the
/// codebook's order), confidence, p_* and `correct`.
pub fn write_predictions(
    path: &Path,
    rows: &[PredictionRow],
    metadata: &[(String, String)],
) -> Result<(), IoError> {
    let err = |e: PolarsError| IoError::parquet(path, "cannot build", e);
    let labels = |name: &str, values: Vec<Option<&str>>| -> Result<Column, IoError> {
        Ok(Series::new(name.into(), values)
            .strict_cast(&label_dtype())
            .map_err(err)?
            .into_column())
    };
    let prob = |i: usize| -> Vec<f32> { rows.iter().map(|r| r.probabilities[i]).collect() };
    let columns = vec![
        Column::new(
            "doc_id".into(),
            rows.iter().map(|r| r.doc_id.as_deref()).collect::<Vec<_>>(),
        ),
        Column::new(
            "source".into(),
            rows.iter().map(|r| r.source.as_deref()).collect::<Vec<_>>(),
        ),
        Column::new(
            "text".into(),
            rows.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(),
        ),
        labels("gold", rows.iter().map(|r| Some(r.gold.as_str())).collect())?,
        labels(
            "secondary",
            rows.iter().map(|r| r.secondary.as_deref()).collect(),
        )?,
        labels(
            "predicted",
            rows.iter().map(|r| Some(r.predicted.as_str())).collect(),
        )?,
        Column::new(
            "confidence".into(),
            rows.iter().map(|r| r.confidence).collect::<Vec<f32>>(),
        ),
        Column::new("p_condemnation".into(), prob(0)),
        Column::new("p_commitment".into(), prob(1)),
        Column::new("p_diplomatic_opening".into(), prob(2)),
        Column::new("p_other".into(), prob(3)),
        Column::new(
            "correct".into(),
            rows.iter()
                .map(|r| r.gold == r.predicted)
                .collect::<Vec<bool>>(),
        ),
    ];
    let mut df = DataFrame::new(rows.len(), columns).map_err(err)?;
    write_dataframe_parquet_atomic(&mut df, path, metadata)
}

/// Label counts of one document of a labelled file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentCounts {
    pub doc_id: String,
    /// In the order of [`LABELS`].
    pub counts: [u64; 4],
}

impl DocumentCounts {
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Per-document label counts of a file written by `stance label` (Parquet,
/// or JSONL or CSV by extension), in order of first appearance.
pub fn document_label_counts(path: &Path) -> Result<Vec<DocumentCounts>, IoError> {
    let rows = match OutputFormat::from_path(path) {
        Some(OutputFormat::Jsonl) => jsonl_doc_labels(path)?,
        Some(OutputFormat::Csv) => csv_doc_labels(path)?,
        _ => parquet_doc_labels(path)?,
    };
    let mut out: Vec<DocumentCounts> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (doc, label, line) in rows {
        let Some(l) = LABELS.iter().position(|x| *x == label) else {
            return Err(IoError::UnknownLabel {
                path: path.to_path_buf(),
                line,
                label,
                expected: LABELS.iter().map(|l| l.to_string()).collect(),
            });
        };
        let i = *index.entry(doc.clone()).or_insert_with(|| {
            out.push(DocumentCounts {
                doc_id: doc.clone(),
                counts: [0; 4],
            });
            out.len() - 1
        });
        out[i].counts[l] += 1;
    }
    Ok(out)
}

/// `(doc_id, label, where)` of each row of a labelled file: `where` is the
/// 1-based line (JSONL, CSV) or row (Parquet), as error messages show it.
type DocLabel = (String, String, usize);

/// `(doc_id, label, row)` of every row of a labelled Parquet file.
fn parquet_doc_labels(path: &Path) -> Result<Vec<DocLabel>, IoError> {
    let df = read_labelled(path)?;
    let err = |e: PolarsError| IoError::parquet(path, "cannot read", e);
    let doc_ids = df
        .column("doc_id")
        .map_err(err)?
        .str()
        .map_err(err)?
        .clone();
    let labels = df
        .column("label")
        .map_err(err)?
        .cast(&DataType::String)
        .map_err(err)?;
    let labels = labels.str().map_err(err)?.clone();
    Ok(doc_ids
        .iter()
        .zip(labels.iter())
        .enumerate()
        .map(|(row, (d, l))| {
            (
                d.unwrap_or("").to_string(),
                l.unwrap_or("").to_string(),
                row + 1,
            )
        })
        .collect())
}

/// A labelled JSONL or CSV file, decoded.
fn read_text(path: &Path) -> Result<String, IoError> {
    decode(
        fs::read(path).map_err(|e| IoError::io(path, e))?,
        path,
        false,
    )
}

/// `(doc_id, label, line)` of every line of a labelled JSONL file.
fn jsonl_doc_labels(path: &Path) -> Result<Vec<DocLabel>, IoError> {
    let text = read_text(path)?;
    let mut rows = Vec::new();
    for item in jsonl_objects(&text, path, &["doc_id", "label"]) {
        let (line, object) = item?;
        rows.push((
            required_string(&object, "doc_id", path, line)?,
            required_string(&object, "label", path, line)?,
            line,
        ));
    }
    Ok(rows)
}

/// `(doc_id, label, line)` of every record of a labelled CSV file.
fn csv_doc_labels(path: &Path) -> Result<Vec<DocLabel>, IoError> {
    let text = read_text(path)?;
    let text = LineEnds::normalise_text(&text);
    let (mut reader, header) = csv_reader(&text, path)?;
    let find = |name: &str| {
        find_column(&header, name, path)?.ok_or_else(|| missing_column(path, name, &header))
    };
    let (doc, label) = (find("doc_id")?, find("label")?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let get = |i: usize| record.get(i).unwrap_or_default().to_string();
        let line = record.position().map_or(0, |p| p.line() as usize);
        rows.push((get(doc), get(label), line));
    }
    Ok(rows)
}

/// The per-document summary table: doc_id, sentences, n_* counts and share_* fractions.
pub fn summary_dataframe(docs: &[DocumentCounts]) -> Result<DataFrame, IoError> {
    let err = |e: PolarsError| IoError::parquet(Path::new("<summary>"), "cannot build", e);
    let mut columns = vec![
        Column::new(
            "doc_id".into(),
            docs.iter().map(|d| d.doc_id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "sentences".into(),
            docs.iter().map(|d| d.total()).collect::<Vec<u64>>(),
        ),
    ];
    for (i, label) in LABELS.iter().enumerate() {
        let name = label.replace('-', "_");
        columns.push(Column::new(
            format!("n_{name}").into(),
            docs.iter().map(|d| d.counts[i]).collect::<Vec<u64>>(),
        ));
    }
    for (i, label) in LABELS.iter().enumerate() {
        let name = label.replace('-', "_");
        columns.push(Column::new(
            format!("share_{name}").into(),
            docs.iter()
                .map(|d| d.counts[i] as f64 / d.total().max(1) as f64)
                .collect::<Vec<f64>>(),
        ));
    }
    DataFrame::new(docs.len(), columns).map_err(err)
}

/// Writes the per-document summary atomically, as CSV when the path ends in
/// `.csv`, else as Parquet.
pub fn write_summary(path: &Path, docs: &[DocumentCounts]) -> Result<(), IoError> {
    let mut df = summary_dataframe(docs)?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_csv {
        return write_dataframe_parquet_atomic(&mut df, path, &[]);
    }
    let (temp, file) = crate::atomic::TempFile::create(path)?;
    let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let csv_err = |e: csv::Error| IoError::io(path, std::io::Error::other(e.to_string()));
    let mut header = vec!["doc_id".to_string(), "sentences".to_string()];
    header.extend(LABELS.iter().map(|l| format!("n_{}", l.replace('-', "_"))));
    header.extend(
        LABELS
            .iter()
            .map(|l| format!("share_{}", l.replace('-', "_"))),
    );
    csv.write_record(&header).map_err(csv_err)?;
    for d in docs {
        let mut record = vec![d.doc_id.clone(), d.total().to_string()];
        record.extend(d.counts.iter().map(|c| c.to_string()));
        record.extend(
            d.counts
                .iter()
                .map(|&c| format!("{:.6}", c as f64 / d.total().max(1) as f64)),
        );
        csv.write_record(&record).map_err(csv_err)?;
    }
    let file = csv
        .into_inner()
        .map_err(|e| IoError::io(path, std::io::Error::other(e.to_string())))?
        .into_inner()
        .map_err(|e| IoError::io(path, e.into_error()))?;
    crate::atomic::sync(&file).map_err(|e| IoError::io(path, e))?;
    drop(file);
    temp.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LabelledSentence, OutputFormat, OutputMetadata, SentenceWriter};

    fn row(doc: &str, label: &str) -> LabelledSentence {
        LabelledSentence {
            doc_id: doc.into(),
            source: "s".into(),
            paragraph: 0,
            sentence: 0,
            char_start: 0,
            char_end: 1,
            text: "x".into(),
            label: label.into(),
            confidence: 0.5,
            probabilities: [0.25; 4],
        }
    }

    #[test]
    fn counts_labels_per_document_in_order_of_appearance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.parquet");
        let mut w = SentenceWriter::new(
            Some(path.clone()),
            OutputFormat::Parquet,
            OutputMetadata::default(),
        )
        .unwrap();
        w.write_batch(&[
            row("b", "other"),
            row("a", "commitment"),
            row("b", "other"),
            row("b", "condemnation"),
        ])
        .unwrap();
        w.finish().unwrap();
        let counts = document_label_counts(&path).unwrap();
        assert_eq!(
            counts,
            vec![
                DocumentCounts {
                    doc_id: "b".into(),
                    counts: [1, 0, 0, 2]
                },
                DocumentCounts {
                    doc_id: "a".into(),
                    counts: [0, 1, 0, 0]
                },
            ]
        );
        let df = summary_dataframe(&counts).unwrap();
        assert_eq!(df.height(), 2);
        let share = df
            .column("share_other")
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
            .unwrap();
        assert!((share - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            df.column("n_diplomatic_opening")
                .unwrap()
                .u64()
                .unwrap()
                .get(1),
            Some(0)
        );
    }

    #[test]
    fn predictions_round_trip_with_categorical_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        let rows = vec![PredictionRow {
            doc_id: None,
            source: Some("news".into()),
            text: "We condemn it.".into(),
            gold: "condemnation".into(),
            secondary: None,
            predicted: "other".into(),
            confidence: 0.6,
            probabilities: [0.3, 0.05, 0.05, 0.6],
        }];
        write_predictions(&path, &rows, &[]).unwrap();
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert_eq!(df.column("gold").unwrap().dtype(), &label_dtype());
        assert_eq!(
            df.column("correct").unwrap().bool().unwrap().get(0),
            Some(false)
        );
        assert_eq!(df.column("secondary").unwrap().null_count(), 1);
    }
}
