//! Human-readable renderings of a [`Report`]: Markdown (for `report.md`)
//! and aligned plain text (for a terminal). JSON is `serde_json` on the
//! report itself.
//!
//! Both renderings carry the same sections: summary with bootstrap
//! intervals, per-label scores, confusion matrix, and, when present, the
//! reliability table and the breakdown by source. Scores are printed with
//! three decimals; an empty cell is "–".

use crate::metrics::{Report, ResampleUnit};

const EMPTY: &str = "–";

fn num(x: f64) -> String {
    format!("{x:.3}")
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| EMPTY.to_string(), num)
}

/// A section: heading, optional note under it, and a table.
struct Section {
    heading: String,
    note: Option<String>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn sections(report: &Report) -> Vec<Section> {
    let mut out = Vec::new();

    // Summary.
    let ci = |i: Option<crate::metrics::Interval>| {
        i.map_or_else(String::new, |i| {
            format!("[{}, {}]", num(i.low), num(i.high))
        })
    };
    let boot = report.bootstrap.as_ref();
    let mut rows = vec![
        vec!["n".to_string(), report.n.to_string(), String::new()],
        vec![
            "accuracy".to_string(),
            num(report.accuracy),
            ci(boot.map(|b| b.accuracy)),
        ],
        vec![
            "macro-F1".to_string(),
            num(report.macro_f1),
            ci(boot.map(|b| b.macro_f1)),
        ],
        vec![
            "weighted F1".to_string(),
            num(report.weighted_f1),
            String::new(),
        ],
        vec![
            "Cohen's kappa".to_string(),
            num(report.cohen_kappa),
            String::new(),
        ],
    ];
    if let Some(l) = report.lenient_accuracy {
        rows.push(vec![
            "lenient accuracy (gold or secondary)".to_string(),
            num(l),
            String::new(),
        ]);
    }
    if let Some(c) = &report.calibration {
        rows.push(vec![
            format!("ECE ({} bins)", c.bins.len()),
            num(c.ece),
            String::new(),
        ]);
    }
    let note = boot.map(|b| {
        let unit = match b.unit {
            ResampleUnit::Sentence => "sentences",
            ResampleUnit::Document => "documents (cluster bootstrap)",
        };
        format!(
            "Intervals: {:.0}% percentile bootstrap, {} resamples of {} {}, seed {}.",
            b.level * 100.0,
            b.resamples,
            b.units,
            unit,
            b.seed
        )
    });
    out.push(Section {
        heading: "Summary".to_string(),
        note,
        headers: ["metric", "value", "95% CI"].map(String::from).to_vec(),
        rows,
    });

    // Per label.
    out.push(Section {
        heading: "Per label".to_string(),
        note: None,
        headers: ["label", "precision", "recall", "F1", "support", "predicted"]
            .map(String::from)
            .to_vec(),
        rows: report
            .per_label
            .iter()
            .map(|m| {
                vec![
                    m.label.clone(),
                    num(m.precision),
                    num(m.recall),
                    num(m.f1),
                    m.support.to_string(),
                    m.predicted_count.to_string(),
                ]
            })
            .collect(),
    });

    // Confusion matrix.
    let mut headers = vec!["gold \\ predicted".to_string()];
    headers.extend(report.confusion.labels.iter().cloned());
    headers.push("total".to_string());
    out.push(Section {
        heading: "Confusion matrix".to_string(),
        note: Some("Rows are gold labels, columns predicted labels.".to_string()),
        headers,
        rows: report
            .confusion
            .labels
            .iter()
            .zip(&report.confusion.counts)
            .map(|(l, row)| {
                let mut r = vec![l.clone()];
                r.extend(row.iter().map(usize::to_string));
                r.push(row.iter().sum::<usize>().to_string());
                r
            })
            .collect(),
    });

    // Calibration.
    if let Some(c) = &report.calibration {
        out.push(Section {
            heading: "Calibration".to_string(),
            note: Some(format!(
                "Confidence is the largest predicted probability; accuracy is the share of \
                 rows whose most probable label is gold. ECE = {}.",
                num(c.ece)
            )),
            headers: ["confidence", "n", "mean confidence", "accuracy"]
                .map(String::from)
                .to_vec(),
            rows: c
                .bins
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let close = if i + 1 == c.bins.len() { ']' } else { ')' };
                    vec![
                        format!("[{:.1}, {:.1}{close}", b.lower, b.upper),
                        b.count.to_string(),
                        opt(b.mean_confidence),
                        opt(b.accuracy),
                    ]
                })
                .collect(),
        });
    }

    // By source.
    if !report.by_source.is_empty() {
        out.push(Section {
            heading: "By source".to_string(),
            note: None,
            headers: ["source", "n", "accuracy", "macro-F1"]
                .map(String::from)
                .to_vec(),
            rows: report
                .by_source
                .iter()
                .map(|s| {
                    vec![
                        s.source.clone().unwrap_or_else(|| "(none)".to_string()),
                        s.n.to_string(),
                        num(s.accuracy),
                        num(s.macro_f1),
                    ]
                })
                .collect(),
        });
    }
    out
}

/// `text` with control characters (newlines, tabs, terminal escapes)
/// written as escapes, so that text from an input file (a `source`, a
/// `doc_id`) cannot break a table or drive the terminal.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Columns `text` takes on a terminal: wide (CJK) characters take two,
/// combining marks none.
pub fn display_width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// A Markdown table cell: printable, with `|` escaped.
fn escape_cell(s: &str) -> String {
    printable(s).replace('|', "\\|")
}

/// A Markdown pipe table; the first column is left-aligned, the others
/// right-aligned.
pub fn markdown_table<S: AsRef<str>>(headers: &[S], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(
        headers.iter().map(|h| escape_cell(h.as_ref())).collect(),
    ));
    out.push_str(&line(
        (0..headers.len())
            .map(|i| if i == 0 { "---" } else { "---:" }.to_string())
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(row.iter().map(|c| escape_cell(c)).collect()));
    }
    out
}

/// An aligned plain-text table for a terminal: columns separated by two
/// spaces, the first left-aligned and the others right-aligned, a dashed
/// rule under the header.
pub fn text_table<S: AsRef<str>>(headers: &[S], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().take(cols).map(|c| printable(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| display_width(h.as_ref())).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(display_width(c));
        }
    }
    let fmt_row = |cells: &mut dyn Iterator<Item = &str>| {
        let line: Vec<String> = cells
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i].saturating_sub(display_width(c)));
                if i == 0 {
                    format!("{c}{pad}")
                } else {
                    format!("{pad}{c}")
                }
            })
            .collect();
        format!("{}\n", line.join("  ").trim_end())
    };
    let mut out = fmt_row(&mut headers.iter().map(|h| h.as_ref()));
    out.push_str(&fmt_row(
        &mut widths
            .iter()
            .map(|&w| "-".repeat(w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    ));
    for row in &rows {
        out.push_str(&fmt_row(&mut row.iter().map(String::as_str)));
    }
    out
}

/// The report as Markdown, under a `# title` heading.
pub fn markdown(report: &Report, title: &str) -> String {
    let mut out = format!("# {title}\n");
    for s in sections(report) {
        out.push_str(&format!("\n## {}\n\n", s.heading));
        if let Some(note) = &s.note {
            out.push_str(&format!("{note}\n\n"));
        }
        out.push_str(&markdown_table(&s.headers, &s.rows));
    }
    out
}

/// The report as aligned plain text for a terminal.
pub fn text(report: &Report, title: &str) -> String {
    let mut out = format!("{title}\n{}\n", "=".repeat(title.chars().count()));
    for s in sections(report) {
        out.push_str(&format!("\n{}\n", s.heading));
        if let Some(note) = &s.note {
            out.push_str(&format!("{note}\n"));
        }
        out.push('\n');
        out.push_str(&text_table(&s.headers, &s.rows));
    }
    out
}
