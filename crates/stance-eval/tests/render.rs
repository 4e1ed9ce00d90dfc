//! Renderings carry every section and the numbers of the report.

use stance_eval::metrics::{evaluate, EvalInput};
use stance_eval::render::{markdown, markdown_table, text, text_table};

fn report(with_extras: bool) -> stance_eval::Report {
    let labels: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    let gold = vec![0, 0, 0, 0, 0, 1, 1, 1, 2, 2];
    let pred = vec![0, 0, 0, 1, 2, 1, 1, 0, 1, 2];
    let probs: Vec<Vec<f32>> = pred
        .iter()
        .map(|&k| {
            let mut r = vec![0.1f32; 4];
            r[k] = 0.7;
            r
        })
        .collect();
    let secondary = vec![None; 10];
    let docs: Vec<Option<String>> = (0..10).map(|i| Some(format!("d{}", i / 2))).collect();
    let sources: Vec<Option<String>> = (0..10)
        .map(|i| (i < 9).then(|| if i < 5 { "speech" } else { "readout" }.to_string()))
        .collect();
    let input = if with_extras {
        EvalInput {
            labels: &labels,
            gold: &gold,
            predicted: &pred,
            probabilities: &probs,
            secondary: &secondary,
            doc_ids: &docs,
            sources: &sources,
        }
    } else {
        EvalInput::new(&labels, &gold, &pred)
    };
    evaluate(&input, 100, 1)
}

#[test]
fn markdown_has_all_sections() {
    let md = markdown(&report(true), "Lexicon on dev");
    assert!(md.starts_with("# Lexicon on dev\n"));
    for needle in [
        "## Summary",
        "## Per label",
        "## Confusion matrix",
        "## Calibration",
        "## By source",
        "| accuracy | 0.600 | [",
        "| macro-F1 | 0.579 | [",
        "| weighted F1 | 0.605 |",
        "| Cohen's kappa | 0.375 |",
        "| lenient accuracy (gold or secondary) | 0.600 |",
        "| a | 0.750 | 0.600 | 0.667 | 5 | 4 |",
        "| a | 3 | 1 | 1 | 0 | 5 |",
        "| [0.7, 0.8) | 10 | 0.700 | 0.600 |",
        "| [0.9, 1.0] | 0 | – | – |",
        "| (none) | 1 | 1.000 | 1.000 |",
        "100 resamples of 5 documents (cluster bootstrap), seed 1",
        "| gold \\ predicted | a | b | c | d | total |",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
}

#[test]
fn optional_sections_are_left_out() {
    let md = markdown(&report(false), "t");
    assert!(!md.contains("## Calibration"));
    assert!(!md.contains("## By source"));
    assert!(!md.contains("lenient"));
    assert!(md.contains("resamples of 10 sentences"));
}

#[test]
fn text_rendering() {
    let t = text(&report(true), "Lexicon on dev");
    assert!(t.starts_with("Lexicon on dev\n==============\n"));
    assert!(t.contains("Confusion matrix"));
    assert!(!t.contains('|'));
    // Columns line up: every line of the per-label table has the same width
    // up to its last column.
    let per_label: Vec<&str> = t
        .split("Per label\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(per_label.len(), 2 + 4);
    let w = per_label[0].len();
    assert!(per_label.iter().all(|l| l.len() == w), "{per_label:#?}");
}

#[test]
fn tables() {
    let rows = vec![vec!["x|y".to_string(), "1".to_string()]];
    assert_eq!(
        markdown_table(&["k", "v"], &rows),
        "| k | v |\n| --- | ---: |\n| x\\|y | 1 |\n"
    );
    let rows = vec![
        vec!["long name".to_string(), "1".to_string()],
        vec!["s".to_string(), "100".to_string()],
    ];
    assert_eq!(
        text_table(&["name", "n"], &rows),
        "name         n\n---------  ---\nlong name    1\ns          100\n"
    );
}

#[test]
fn cells_from_input_files_cannot_break_a_table() {
    // A newline or a terminal escape in a cell is written as an escape; wide
    // characters count two columns, combining accents none.
    let rows = vec![
        vec!["a\nb\u{1b}[2J".to_string(), "1".to_string()],
        vec!["日本".to_string(), "2".to_string()],
        vec!["e\u{301}".to_string(), "3".to_string()],
    ];
    assert_eq!(
        markdown_table(&["k", "v"], &rows),
        "| k | v |\n| --- | ---: |\n| a\\nb\\u{1b}[2J | 1 |\n| 日本 | 2 |\n| e\u{301} | 3 |\n"
    );
    assert_eq!(
        text_table(&["k", "v"], &rows),
        "k              v\n-------------  -\na\\nb\\u{1b}[2J  1\n日本           2\ne\u{301}              3\n"
    );
}
