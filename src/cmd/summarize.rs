//! `stance summarize`: label counts and shares per document of a labelled file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use stance_eval::render::{display_width, printable};

/// Print label counts and shares per document of a file written by `stance label`.
///
/// With -o FILE the table (doc_id, sentences, n_<label>, share_<label>) is
/// also written, as CSV when FILE ends in .csv and as Parquet otherwise.
#[derive(clap::Args)]
pub struct Args {
    /// A file written by `stance label`: Parquet, or JSONL or CSV by extension.
    pub input: PathBuf,
    /// Also write the table here (.parquet or .csv).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(output) = &args.output {
        crate::cmd::check_output_file(output)?;
        if stance_io::same_file(output, &args.input) {
            anyhow::bail!(
                "{} is both the input and the output (-o): writing would overwrite it; \
                 choose another output path",
                args.input.display()
            );
        }
        let extension = output
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        if let Some(ext) = extension.filter(|e| e != "csv" && e != "parquet") {
            eprintln!(
                "warning: {}: .{ext} is not a summary format (.parquet, .csv); writing Parquet",
                output.display()
            );
        }
    }
    let docs = stance_io::document_label_counts(&args.input)?;
    let labels = stance_io::LABELS;
    // Ids as the terminal will show them, escaped once for both the column
    // width and the rows.
    let ids: Vec<String> = docs.iter().map(|d| printable(&d.doc_id)).collect();
    let width = ids
        .iter()
        .map(|id| display_width(id))
        .max()
        .unwrap_or(6)
        .clamp(6, MAX_ID_WIDTH);
    let mut out = String::new();
    out.push_str(&format!("{:<width$} {:>9}", "doc_id", "sentences"));
    for l in labels {
        out.push_str(&format!(" {:>22}", l));
    }
    out.push('\n');
    let mut totals = [0u64; 4];
    for (d, id) in docs.iter().zip(ids) {
        out.push_str(&format!("{} {:>9}", fit(id, width), d.total()));
        for (i, &c) in d.counts.iter().enumerate() {
            totals[i] += c;
            let share = 100.0 * c as f64 / d.total().max(1) as f64;
            out.push_str(&format!(" {:>14} ({:>5.1}%)", c, share));
        }
        out.push('\n');
    }
    let all: u64 = totals.iter().sum();
    out.push_str(&format!("{:<width$} {:>9}", "all", all));
    for c in totals {
        out.push_str(&format!(
            " {:>14} ({:>5.1}%)",
            c,
            100.0 * c as f64 / all.max(1) as f64
        ));
    }
    out.push('\n');
    use std::io::Write;
    std::io::stdout().write_all(out.as_bytes())?;
    if let Some(path) = &args.output {
        stance_io::write_summary(path, &docs)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The widest doc_id column; longer ids are cut short with "…".
const MAX_ID_WIDTH: usize = 60;

/// Printable `text` (see [`printable`]) padded with spaces to `width`
/// terminal columns, or cut short with "…" where it is wider.
fn fit(text: String, width: usize) -> String {
    let mut used = display_width(&text);
    let mut cell = if used <= width {
        text
    } else {
        let mut cut = String::new();
        used = 1; // the "…"
        for c in text.chars() {
            let w = display_width(c.encode_utf8(&mut [0; 4]));
            if used + w > width {
                break;
            }
            used += w;
            cut.push(c);
        }
        cut.push('…');
        cut
    };
    cell.extend(std::iter::repeat_n(' ', width - used));
    cell
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_padded_by_terminal_columns() {
        assert_eq!(fit(printable("abc"), 6), "abc   ");
        // Two columns per CJK character; none for a combining accent.
        assert_eq!(fit(printable("日本"), 6), "日本  ");
        assert_eq!(
            fit(printable("e\u{301}t\u{301}e\u{301}"), 6),
            "e\u{301}t\u{301}e\u{301}   "
        );
    }

    #[test]
    fn long_ids_are_cut_short_within_the_column() {
        assert_eq!(fit(printable("abcdefgh"), 6), "abcde…");
        // A wide character that would cross the edge is left out whole.
        assert_eq!(fit(printable("ab日本語"), 6), "ab日… ");
        assert_eq!(display_width(&fit(printable("ab日本語"), 6)), 6);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\nb\tc\u{1b}[2J"), "a\\nb\\tc\\u{1b}[2J");
        assert_eq!(fit(printable("a\nb"), 6), "a\\nb  ");
    }
}
