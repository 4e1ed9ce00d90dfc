//! Classification metrics of predicted labels against gold labels.
//!
//! Labels are indices into a label list (`&[String]`); every metric is
//! computed over the whole list, in its order.
//!
//! Conventions (scikit-learn's, where it has one):
//!
//! * Precision, recall and F1 are 0 when their denominator is 0
//!   (`zero_division=0`). A label with no gold rows and no predictions thus
//!   has F1 = 0 in the per-label table.
//! * Macro-F1 is the unweighted mean of per-label F1 over the labels that
//!   occur in the gold labels or the predictions (scikit-learn's
//!   `average="macro"` without `labels=`): a gold set without a label is not
//!   marked down for it, while predicting a label that gold lacks counts as
//!   F1 0. Weighted F1 weights each label's F1 by its gold support.
//! * Cohen's kappa = (p_o − p_e) / (1 − p_e), computed exactly from integer
//!   counts. When p_e = 1 (gold and predictions use one and the same label
//!   throughout) kappa is undefined (scikit-learn gives NaN); here it is 0,
//!   "no evidence of agreement beyond chance".
//! * With no rows every score is 0, and there is no bootstrap interval and
//!   no calibration section.
//! * Bootstrap intervals are 95% percentile intervals; percentiles are
//!   linear interpolations between order statistics (numpy's default).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::calibration::{self, ReliabilityBin};

/// Number of bootstrap resamples the project uses unless told otherwise.
pub const DEFAULT_BOOTSTRAP_RESAMPLES: usize = 1000;
/// Number of equal-width confidence bins of the calibration section.
pub const CALIBRATION_BINS: usize = 10;
/// Coverage of the bootstrap intervals.
pub const INTERVAL_LEVEL: f64 = 0.95;

/// Everything [`evaluate`] looks at. The optional columns may be empty
/// slices; when given they must have one entry per row.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    /// The label list; label `i` is `labels[i]`.
    pub labels: &'a [String],
    /// Gold label index per row.
    pub gold: &'a [usize],
    /// Predicted label index per row.
    pub predicted: &'a [usize],
    /// Predicted probabilities per row (`labels.len()` each); empty to skip
    /// calibration.
    pub probabilities: &'a [Vec<f32>],
    /// Gold runner-up label per row (the codebook's `secondary`); empty to
    /// skip lenient accuracy.
    pub secondary: &'a [Option<usize>],
    /// Document of each row; when every row has one, the bootstrap resamples
    /// documents instead of sentences.
    pub doc_ids: &'a [Option<String>],
    /// Kind of source document per row; empty to skip the breakdown.
    pub sources: &'a [Option<String>],
}

impl<'a> EvalInput<'a> {
    /// Input with only labels, gold and predictions.
    pub fn new(labels: &'a [String], gold: &'a [usize], predicted: &'a [usize]) -> Self {
        EvalInput {
            labels,
            gold,
            predicted,
            probabilities: &[],
            secondary: &[],
            doc_ids: &[],
            sources: &[],
        }
    }
}

/// Why an [`EvalInput`] cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A column's length differs from the number of gold rows.
    LengthMismatch {
        column: &'static str,
        expected: usize,
        found: usize,
    },
    /// A label index is not below the number of labels.
    LabelOutOfRange {
        column: &'static str,
        row: usize,
        index: usize,
        labels: usize,
    },
    /// A row of probabilities does not have one entry per label.
    ProbabilityWidth {
        row: usize,
        expected: usize,
        found: usize,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::LengthMismatch {
                column,
                expected,
                found,
            } => write!(f, "{column} has {found} rows, gold has {expected}"),
            EvalError::LabelOutOfRange {
                column,
                row,
                index,
                labels,
            } => write!(
                f,
                "{column} row {row}: label index {index} but only {labels} labels"
            ),
            EvalError::ProbabilityWidth {
                row,
                expected,
                found,
            } => write!(
                f,
                "probabilities row {row} has {found} entries, expected {expected}"
            ),
        }
    }
}

impl std::error::Error for EvalError {}

/// Scores of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold rows with this label.
    pub support: usize,
    /// Rows predicted as this label.
    pub predicted_count: usize,
}

/// Confusion matrix: `counts[gold][predicted]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<usize>>,
}

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies in the interval (ends included).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// What one bootstrap draw picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResampleUnit {
    /// Single rows.
    Sentence,
    /// Whole documents (all rows of a `doc_id`): a cluster bootstrap.
    Document,
}

/// Percentile bootstrap intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    pub unit: ResampleUnit,
    /// Number of units drawn from (rows or distinct documents); each
    /// resample draws this many with replacement.
    pub units: usize,
    pub resamples: usize,
    pub seed: u64,
    /// Coverage, 0.95.
    pub level: f64,
    pub accuracy: Interval,
    pub macro_f1: Interval,
}

/// Calibration of the predicted probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Expected calibration error over the bins below.
    pub ece: f64,
    /// Reliability table, [`CALIBRATION_BINS`] equal-width confidence bins.
    pub bins: Vec<ReliabilityBin>,
}

/// Scores of the rows of one kind of source document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceMetrics {
    /// The source; `None` groups rows without one.
    pub source: Option<String>,
    pub n: usize,
    pub accuracy: f64,
    /// Macro-F1 over the full label list.
    pub macro_f1: f64,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Number of rows.
    pub n: usize,
    pub labels: Vec<String>,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub weighted_f1: f64,
    pub cohen_kappa: f64,
    /// One entry per label, in label-list order.
    pub per_label: Vec<LabelMetrics>,
    pub confusion: ConfusionMatrix,
    /// `None` with no rows or no resamples.
    pub bootstrap: Option<Bootstrap>,
    /// `None` when no probabilities were given (or no rows).
    pub calibration: Option<Calibration>,
    /// Share of rows whose prediction equals gold or the gold secondary
    /// label; `None` when no secondary column was given.
    pub lenient_accuracy: Option<f64>,
    /// Per source, sorted by name with rows lacking a source last; empty
    /// when the sources column is empty or has no source at all.
    pub by_source: Vec<SourceMetrics>,
}

/// Scores derived from one confusion matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub weighted_f1: f64,
    pub cohen_kappa: f64,
    /// `(precision, recall, f1)` per label.
    pub per_label: Vec<(f64, f64, f64)>,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Confusion matrix `counts[gold][predicted]` over `labels_len` labels.
///
/// # Panics
/// If the lengths differ or an index is not below `labels_len`.
pub fn confusion_matrix(labels_len: usize, gold: &[usize], predicted: &[usize]) -> Vec<Vec<usize>> {
    assert_eq!(
        gold.len(),
        predicted.len(),
        "gold and predicted lengths differ"
    );
    let mut m = vec![vec![0usize; labels_len]; labels_len];
    for (&g, &p) in gold.iter().zip(predicted) {
        assert!(
            g < labels_len && p < labels_len,
            "label index out of range ({g}, {p}) for {labels_len} labels"
        );
        m[g][p] += 1;
    }
    m
}

/// All scores of a square confusion matrix (`m[gold][predicted]`).
pub fn scores_from_confusion(m: &[Vec<usize>]) -> Scores {
    let k = m.len();
    let n: usize = m.iter().map(|r| r.iter().sum::<usize>()).sum();
    let support: Vec<usize> = m.iter().map(|r| r.iter().sum()).collect();
    let predicted: Vec<usize> = (0..k).map(|j| m.iter().map(|r| r[j]).sum()).collect();
    let trace: usize = (0..k).map(|i| m[i][i]).sum();
    let per_label: Vec<(f64, f64, f64)> = (0..k)
        .map(|i| {
            let tp = m[i][i];
            let p = ratio(tp, predicted[i]);
            let r = ratio(tp, support[i]);
            // 2PR/(P+R) = 2tp / (2tp + fp + fn) = 2tp / (predicted + support).
            let f1 = ratio(2 * tp, predicted[i] + support[i]);
            (p, r, f1)
        })
        .collect();
    let present: Vec<f64> = (0..k)
        .filter(|&i| support[i] + predicted[i] > 0)
        .map(|i| per_label[i].2)
        .collect();
    let macro_f1 = if present.is_empty() {
        0.0
    } else {
        present.iter().sum::<f64>() / present.len() as f64
    };
    let weighted_f1 = if n == 0 {
        0.0
    } else {
        per_label
            .iter()
            .zip(&support)
            .map(|(s, &w)| s.2 * w as f64)
            .sum::<f64>()
            / n as f64
    };
    // kappa = (po − pe)/(1 − pe); multiply through by n²:
    // (n·trace − Σ row·col) / (n² − Σ row·col), exact in integers.
    let chance: u128 = (0..k)
        .map(|i| support[i] as u128 * predicted[i] as u128)
        .sum();
    let n2 = (n as u128) * (n as u128);
    let num = (n as u128 * trace as u128) as f64 - chance as f64;
    let den = n2 - chance;
    let cohen_kappa = if den == 0 { 0.0 } else { num / den as f64 };
    Scores {
        accuracy: ratio(trace, n),
        macro_f1,
        weighted_f1,
        cohen_kappa,
        per_label,
    }
}

/// Share of rows where `predicted == gold`; 0 for no rows.
///
/// # Panics
/// If the lengths differ.
pub fn accuracy(gold: &[usize], predicted: &[usize]) -> f64 {
    assert_eq!(
        gold.len(),
        predicted.len(),
        "gold and predicted lengths differ"
    );
    ratio(
        gold.iter().zip(predicted).filter(|(g, p)| g == p).count(),
        gold.len(),
    )
}

/// Macro-F1 over those of the `labels_len` labels that occur in `gold` or
/// `predicted` (see the module conventions).
///
/// # Panics
/// If the lengths differ or an index is not below `labels_len`.
pub fn macro_f1(labels_len: usize, gold: &[usize], predicted: &[usize]) -> f64 {
    scores_from_confusion(&confusion_matrix(labels_len, gold, predicted)).macro_f1
}

/// Checks an input's shape.
fn validate(input: &EvalInput) -> Result<(), EvalError> {
    let n = input.gold.len();
    let k = input.labels.len();
    let lengths = [
        ("predicted", input.predicted.len(), false),
        ("probabilities", input.probabilities.len(), true),
        ("secondary", input.secondary.len(), true),
        ("doc_ids", input.doc_ids.len(), true),
        ("sources", input.sources.len(), true),
    ];
    for (column, found, optional) in lengths {
        if found != n && !(optional && found == 0) {
            return Err(EvalError::LengthMismatch {
                column,
                expected: n,
                found,
            });
        }
    }
    let columns = [
        (
            "gold",
            input.gold.iter().map(|&x| Some(x)).collect::<Vec<_>>(),
        ),
        (
            "predicted",
            input.predicted.iter().map(|&x| Some(x)).collect(),
        ),
        ("secondary", input.secondary.to_vec()),
    ];
    for (column, values) in columns {
        for (row, v) in values.into_iter().enumerate() {
            if let Some(index) = v.filter(|&i| i >= k) {
                return Err(EvalError::LabelOutOfRange {
                    column,
                    row,
                    index,
                    labels: k,
                });
            }
        }
    }
    for (row, p) in input.probabilities.iter().enumerate() {
        if p.len() != k {
            return Err(EvalError::ProbabilityWidth {
                row,
                expected: k,
                found: p.len(),
            });
        }
    }
    Ok(())
}

/// Evaluates predictions against gold; see the module docs for conventions.
///
/// `bootstrap_resamples` resamples (use [`DEFAULT_BOOTSTRAP_RESAMPLES`]) are
/// drawn from a `StdRng` seeded with `seed`, so the same input and seed give
/// the same report. When `doc_ids` is non-empty and every row has a
/// document, whole documents are resampled (cluster bootstrap); otherwise
/// rows are.
///
/// # Panics
/// If the input is malformed; [`try_evaluate`] returns the error instead.
pub fn evaluate(input: &EvalInput, bootstrap_resamples: usize, seed: u64) -> Report {
    match try_evaluate(input, bootstrap_resamples, seed) {
        Ok(r) => r,
        Err(e) => panic!("cannot evaluate: {e}"),
    }
}

/// [`evaluate`], returning an error for a malformed input.
pub fn try_evaluate(
    input: &EvalInput,
    bootstrap_resamples: usize,
    seed: u64,
) -> Result<Report, EvalError> {
    validate(input)?;
    let k = input.labels.len();
    let n = input.gold.len();
    let counts = confusion_matrix(k, input.gold, input.predicted);
    let scores = scores_from_confusion(&counts);
    let per_label = (0..k)
        .map(|i| {
            let (precision, recall, f1) = scores.per_label[i];
            LabelMetrics {
                label: input.labels[i].clone(),
                precision,
                recall,
                f1,
                support: counts[i].iter().sum(),
                predicted_count: counts.iter().map(|r| r[i]).sum(),
            }
        })
        .collect();

    let calibration = (!input.probabilities.is_empty() && n > 0).then(|| {
        let bins =
            calibration::reliability_table(input.probabilities, input.gold, CALIBRATION_BINS);
        Calibration {
            ece: calibration::ece_from_table(&bins),
            bins,
        }
    });

    let lenient_accuracy = (!input.secondary.is_empty()).then(|| {
        let right = (0..n)
            .filter(|&i| {
                let p = input.predicted[i];
                p == input.gold[i] || input.secondary[i] == Some(p)
            })
            .count();
        ratio(right, n)
    });

    Ok(Report {
        n,
        labels: input.labels.to_vec(),
        accuracy: scores.accuracy,
        macro_f1: scores.macro_f1,
        weighted_f1: scores.weighted_f1,
        cohen_kappa: scores.cohen_kappa,
        per_label,
        confusion: ConfusionMatrix {
            labels: input.labels.to_vec(),
            counts,
        },
        bootstrap: bootstrap(input, bootstrap_resamples, seed),
        calibration,
        lenient_accuracy,
        by_source: by_source(input),
    })
}

fn by_source(input: &EvalInput) -> Vec<SourceMetrics> {
    if input.sources.iter().all(Option::is_none) {
        return Vec::new();
    }
    let k = input.labels.len();
    // `None` sorts first in an Option order; keep named sources first.
    let mut groups: BTreeMap<(bool, Option<&str>), Vec<usize>> = BTreeMap::new();
    for (i, s) in input.sources.iter().enumerate() {
        groups
            .entry((s.is_none(), s.as_deref()))
            .or_default()
            .push(i);
    }
    groups
        .into_iter()
        .map(|((_, source), rows)| {
            let gold: Vec<usize> = rows.iter().map(|&i| input.gold[i]).collect();
            let pred: Vec<usize> = rows.iter().map(|&i| input.predicted[i]).collect();
            let s = scores_from_confusion(&confusion_matrix(k, &gold, &pred));
            SourceMetrics {
                source: source.map(str::to_string),
                n: rows.len(),
                accuracy: s.accuracy,
                macro_f1: s.macro_f1,
            }
        })
        .collect()
}

/// Percentile of sorted values, linear interpolation at `q · (len − 1)`.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn interval(mut values: Vec<f64>) -> Interval {
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - INTERVAL_LEVEL) / 2.0;
    Interval {
        low: percentile(&values, tail),
        high: percentile(&values, 1.0 - tail),
    }
}

fn bootstrap(input: &EvalInput, resamples: usize, seed: u64) -> Option<Bootstrap> {
    let n = input.gold.len();
    if n == 0 || resamples == 0 {
        return None;
    }
    let k = input.labels.len();
    let clustered = !input.doc_ids.is_empty() && input.doc_ids.iter().all(Option::is_some);
    // Each unit is the list of its rows.
    let units: Vec<Vec<usize>> = if clustered {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut units: Vec<Vec<usize>> = Vec::new();
        for (row, id) in input.doc_ids.iter().enumerate() {
            let id = id.as_deref().unwrap_or_default();
            let u = *index.entry(id).or_insert_with(|| {
                units.push(Vec::new());
                units.len() - 1
            });
            units[u].push(row);
        }
        units
    } else {
        (0..n).map(|i| vec![i]).collect()
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accs = Vec::with_capacity(resamples);
    let mut f1s = Vec::with_capacity(resamples);
    let mut m = vec![vec![0usize; k]; k];
    for _ in 0..resamples {
        m.iter_mut().for_each(|r| r.fill(0));
        for _ in 0..units.len() {
            for &row in &units[rng.random_range(0..units.len())] {
                m[input.gold[row]][input.predicted[row]] += 1;
            }
        }
        let s = scores_from_confusion(&m);
        accs.push(s.accuracy);
        f1s.push(s.macro_f1);
    }
    Some(Bootstrap {
        unit: if clustered {
            ResampleUnit::Document
        } else {
            ResampleUnit::Sentence
        },
        units: units.len(),
        resamples,
        seed,
        level: INTERVAL_LEVEL,
        accuracy: interval(accs),
        macro_f1: interval(f1s),
    })
}
