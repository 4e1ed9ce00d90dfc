//! Metrics against hand-computed values. The fixture numbers were also
//! cross-checked once with scikit-learn 1.x (`precision_recall_fscore_support`,
//! `f1_score(average="macro", zero_division=0)`, `cohen_kappa_score`); the
//! tests themselves only hold the numbers.

use stance_eval::calibration;
use stance_eval::metrics::{
    accuracy, confusion_matrix, evaluate, macro_f1, scores_from_confusion, try_evaluate, EvalError,
    EvalInput, ResampleUnit, CALIBRATION_BINS,
};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
}

fn labels() -> Vec<String> {
    ["a", "b", "c", "d"].map(String::from).to_vec()
}

/// Ten rows over labels a, b, c, d (d never occurs):
///
/// | row  | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 |
/// |------|---|---|---|---|---|---|---|---|---|----|
/// | gold | a | a | a | a | a | b | b | b | c | c  |
/// | pred | a | a | a | b | c | b | b | a | b | c  |
///
/// Confusion (rows gold, columns predicted):
///
/// ```text
///        a  b  c  d   support
///   a    3  1  1  0   5
///   b    1  2  0  0   3
///   c    0  1  1  0   2
///   d    0  0  0  0   0
/// pred   4  4  2  0
/// ```
///
/// accuracy = (3+2+1)/10 = 0.6
/// a: P = 3/4 = 0.75, R = 3/5 = 0.6, F1 = 2·3/(4+5) = 6/9 = 2/3
/// b: P = 2/4 = 0.5,  R = 2/3,       F1 = 2·2/(4+3) = 4/7
/// c: P = 1/2,        R = 1/2,       F1 = 2·1/(2+2) = 1/2
/// d: no support, no predictions → P = R = F1 = 0 (zero_division = 0)
/// macro-F1 over the labels that occur (a, b, c; d is in neither column)
///   = (2/3 + 4/7 + 1/2)/3 = (73/42)/3 = 73/126
/// weighted F1 = (5·2/3 + 3·4/7 + 2·1/2)/10 = (127/21)/10 = 127/210
/// kappa: po = 0.6, pe = (5·4 + 3·4 + 2·2 + 0)/100 = 0.36,
///        (0.6 − 0.36)/(1 − 0.36) = 0.24/0.64 = 0.375
fn fixture() -> (Vec<usize>, Vec<usize>) {
    (
        vec![0, 0, 0, 0, 0, 1, 1, 1, 2, 2],
        vec![0, 0, 0, 1, 2, 1, 1, 0, 1, 2],
    )
}

#[test]
fn confusion_matrix_of_fixture() {
    let (g, p) = fixture();
    assert_eq!(
        confusion_matrix(4, &g, &p),
        vec![
            vec![3, 1, 1, 0],
            vec![1, 2, 0, 0],
            vec![0, 1, 1, 0],
            vec![0, 0, 0, 0]
        ]
    );
}

#[test]
fn scores_of_fixture() {
    let (g, p) = fixture();
    let labels = labels();
    let r = evaluate(&EvalInput::new(&labels, &g, &p), 0, 0);
    assert_eq!(r.n, 10);
    close(r.accuracy, 0.6);
    let expected = [
        (0.75, 0.6, 2.0 / 3.0, 5, 4),
        (0.5, 2.0 / 3.0, 4.0 / 7.0, 3, 4),
        (0.5, 0.5, 0.5, 2, 2),
        (0.0, 0.0, 0.0, 0, 0),
    ];
    for (m, (p, r_, f, s, c)) in r.per_label.iter().zip(expected) {
        close(m.precision, p);
        close(m.recall, r_);
        close(m.f1, f);
        assert_eq!(m.support, s);
        assert_eq!(m.predicted_count, c);
    }
    assert_eq!(r.per_label[2].label, "c");
    close(r.macro_f1, 73.0 / 126.0); // 0.579365
    close(r.weighted_f1, 127.0 / 210.0); // 0.604762
    close(r.cohen_kappa, 0.375);
    assert_eq!(r.confusion.counts[0], vec![3, 1, 1, 0]);
    assert_eq!(r.confusion.labels, labels);
    // Optional sections are absent when their columns are.
    assert!(r.bootstrap.is_none());
    assert!(r.calibration.is_none());
    assert!(r.lenient_accuracy.is_none());
    assert!(r.by_source.is_empty());
}

#[test]
fn helpers_agree_with_report() {
    let (g, p) = fixture();
    close(accuracy(&g, &p), 0.6);
    close(macro_f1(4, &g, &p), 73.0 / 126.0);
    // d, in neither column, does not count: the same without it in the list.
    close(macro_f1(3, &g, &p), 73.0 / 126.0); // 0.579365
                                              // A label that is predicted but not in gold counts, with F1 0.
    close(macro_f1(4, &[0, 1], &[0, 3]), (1.0 + 0.0 + 0.0) / 3.0);
    // A perfect run on a gold set with one label scores 1.
    close(macro_f1(4, &[2, 2, 2], &[2, 2, 2]), 1.0);
    assert_eq!(accuracy(&[], &[]), 0.0);
    assert_eq!(macro_f1(4, &[], &[]), 0.0);
}

#[test]
fn kappa_edge_cases() {
    // Perfect agreement with two labels used: po = 1, pe = (2·2 + 2·2)/16 = 0.5 → 1.
    let s = scores_from_confusion(&confusion_matrix(2, &[0, 0, 1, 1], &[0, 0, 1, 1]));
    close(s.cohen_kappa, 1.0);
    // Everything one label on both sides: pe = 1, kappa undefined → 0 by convention.
    let s = scores_from_confusion(&confusion_matrix(3, &[1, 1, 1], &[1, 1, 1]));
    close(s.cohen_kappa, 0.0);
    close(s.accuracy, 1.0);
    // Systematic disagreement: gold [0,0,1,1], pred [1,1,0,0]: po = 0,
    // pe = (2·2 + 2·2)/16 = 0.5 → (0 − 0.5)/0.5 = −1.
    let s = scores_from_confusion(&confusion_matrix(2, &[0, 0, 1, 1], &[1, 1, 0, 0]));
    close(s.cohen_kappa, -1.0);
    // No rows.
    let s = scores_from_confusion(&confusion_matrix(2, &[], &[]));
    assert_eq!((s.accuracy, s.macro_f1, s.cohen_kappa), (0.0, 0.0, 0.0));
}

/// Secondary labels on the fixture: row 4 (gold a, pred b) has secondary b
/// → right; row 8 (gold b, pred a) has secondary c → still wrong; row 9
/// (gold c, pred b) has secondary b → right. Lenient = (6 + 2)/10 = 0.8.
#[test]
fn lenient_accuracy() {
    let (g, p) = fixture();
    let labels = labels();
    let mut secondary = vec![None; 10];
    secondary[3] = Some(1);
    secondary[7] = Some(2);
    secondary[8] = Some(1);
    secondary[0] = Some(3); // a correct row stays correct
    let input = EvalInput {
        secondary: &secondary,
        ..EvalInput::new(&labels, &g, &p)
    };
    let r = evaluate(&input, 0, 0);
    close(r.lenient_accuracy.unwrap(), 0.8);
    close(r.accuracy, 0.6); // strict accuracy unchanged
}

/// Sources: rows 1–5 "x", rows 6–9 "y", row 10 none.
///
/// x: gold a a a a a, pred a a a b c → acc 3/5 = 0.6;
///    a: tp 3, fp 0, fn 2 → F1 = 6/8 = 0.75; b, c: only fp → 0; d absent
///    → macro = 0.75/3 = 0.25
/// y: gold b b b c, pred b b a b → acc 2/4 = 0.5;
///    b: tp 2, fp 1, fn 1 → F1 = 4/6 = 2/3; a: fp only → 0; c: fn only → 0
///    → macro = (2/3)/3 = 2/9
/// none: gold c, pred c → acc 1; c: F1 = 1, the only label → macro = 1
#[test]
fn by_source() {
    let (g, p) = fixture();
    let labels = labels();
    let mut sources: Vec<Option<String>> = vec![Some("x".into()); 5];
    sources.extend(vec![Some("y".to_string()); 4]);
    sources.push(None);
    let input = EvalInput {
        sources: &sources,
        ..EvalInput::new(&labels, &g, &p)
    };
    let r = evaluate(&input, 0, 0);
    assert_eq!(r.by_source.len(), 3);
    let x = &r.by_source[0];
    assert_eq!((x.source.as_deref(), x.n), (Some("x"), 5));
    close(x.accuracy, 0.6);
    close(x.macro_f1, 0.25);
    let y = &r.by_source[1];
    assert_eq!((y.source.as_deref(), y.n), (Some("y"), 4));
    close(y.accuracy, 0.5);
    close(y.macro_f1, 2.0 / 9.0);
    let none = &r.by_source[2];
    assert_eq!((none.source.as_deref(), none.n), (None, 1));
    close(none.accuracy, 1.0);
    close(none.macro_f1, 1.0);

    // Sources sorted by name whatever the row order; all-None → no breakdown.
    let rev: Vec<Option<String>> = sources.iter().rev().cloned().collect();
    let r = evaluate(
        &EvalInput {
            sources: &rev,
            ..EvalInput::new(&labels, &g, &p)
        },
        0,
        0,
    );
    let names: Vec<_> = r.by_source.iter().map(|s| s.source.clone()).collect();
    assert_eq!(names, vec![Some("x".into()), Some("y".into()), None]);
    let nones = vec![None; 10];
    let r = evaluate(
        &EvalInput {
            sources: &nones,
            ..EvalInput::new(&labels, &g, &p)
        },
        0,
        0,
    );
    assert!(r.by_source.is_empty());
}

/// The calibration section is the ECE/reliability table of
/// `calibration`, over 10 bins, with correctness = argmax(probs) == gold.
///
/// Two labels, five rows:
/// conf 0.95 (right), 0.92 (wrong) → bin 9: |0.5 − 0.935|·2/5 = 0.174
/// conf 0.65, 0.62 (both right)    → bin 6: |1 − 0.635|·2/5   = 0.146
/// conf 0.55 (wrong)               → bin 5: |0 − 0.55|·1/5    = 0.110
/// ECE = 0.430
#[test]
fn calibration_section() {
    let labels: Vec<String> = ["p", "q"].map(String::from).to_vec();
    let probs = vec![
        vec![0.95f32, 0.05],
        vec![0.92, 0.08],
        vec![0.35, 0.65],
        vec![0.62, 0.38],
        vec![0.45, 0.55],
    ];
    let gold = vec![0, 1, 1, 0, 0];
    let pred: Vec<usize> = probs.iter().map(|r| calibration::argmax(r)).collect();
    assert_eq!(pred, vec![0, 0, 1, 0, 1]);
    let input = EvalInput {
        probabilities: &probs,
        ..EvalInput::new(&labels, &gold, &pred)
    };
    let r = evaluate(&input, 0, 0);
    let c = r.calibration.unwrap();
    assert!((c.ece - 0.43).abs() < 1e-6, "{}", c.ece);
    assert_eq!(c.bins.len(), CALIBRATION_BINS);
    assert_eq!(c.bins[9].count, 2);
    assert_eq!(c.bins[6].count, 2);
    assert_eq!(c.bins[5].count, 1);
    assert!((c.ece - calibration::expected_calibration_error(&probs, &gold, 10)).abs() < 1e-12);
}

#[test]
fn malformed_input_is_an_error() {
    let labels = labels();
    let (g, p) = fixture();
    let short = &p[..9];
    assert_eq!(
        try_evaluate(&EvalInput::new(&labels, &g, short), 0, 0).unwrap_err(),
        EvalError::LengthMismatch {
            column: "predicted",
            expected: 10,
            found: 9
        }
    );
    let mut bad = p.clone();
    bad[2] = 4;
    assert_eq!(
        try_evaluate(&EvalInput::new(&labels, &g, &bad), 0, 0).unwrap_err(),
        EvalError::LabelOutOfRange {
            column: "predicted",
            row: 2,
            index: 4,
            labels: 4
        }
    );
    let probs = vec![vec![0.5f32, 0.5]; 10];
    let err = try_evaluate(
        &EvalInput {
            probabilities: &probs,
            ..EvalInput::new(&labels, &g, &p)
        },
        0,
        0,
    )
    .unwrap_err();
    assert_eq!(
        err,
        EvalError::ProbabilityWidth {
            row: 0,
            expected: 4,
            found: 2
        }
    );
    assert!(err.to_string().contains("expected 4"));
    let docs = vec![Some("d".to_string()); 3];
    assert!(matches!(
        try_evaluate(
            &EvalInput {
                doc_ids: &docs,
                ..EvalInput::new(&labels, &g, &p)
            },
            0,
            0
        ),
        Err(EvalError::LengthMismatch {
            column: "doc_ids",
            ..
        })
    ));
}

#[test]
#[should_panic(expected = "cannot evaluate")]
fn evaluate_panics_on_malformed_input() {
    let labels = labels();
    evaluate(&EvalInput::new(&labels, &[0, 1], &[0]), 0, 0);
}

#[test]
fn empty_input() {
    let labels = labels();
    let r = evaluate(&EvalInput::new(&labels, &[], &[]), 1000, 1);
    assert_eq!(r.n, 0);
    assert_eq!((r.accuracy, r.macro_f1, r.cohen_kappa), (0.0, 0.0, 0.0));
    assert!(r.bootstrap.is_none());
}

/// 200 rows, four labels, about 70% right, from a seeded generator.
fn synthetic(n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    // A small LCG keeps the fixture independent of the rand crate.
    let mut s = seed;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) as usize
    };
    let gold: Vec<usize> = (0..n).map(|_| next() % 4).collect();
    let pred = gold
        .iter()
        .map(|&g| if next() % 10 < 7 { g } else { next() % 4 })
        .collect();
    (gold, pred)
}

#[test]
fn bootstrap_contains_point_estimate_and_is_deterministic() {
    let labels = labels();
    let (g, p) = synthetic(200, 3);
    let input = EvalInput::new(&labels, &g, &p);
    let r = evaluate(&input, 1000, 42);
    let b = r.bootstrap.as_ref().unwrap();
    assert_eq!(b.unit, ResampleUnit::Sentence);
    assert_eq!(b.units, 200);
    assert_eq!(b.resamples, 1000);
    assert_eq!(b.seed, 42);
    assert!(
        b.accuracy.contains(r.accuracy),
        "{:?} {}",
        b.accuracy,
        r.accuracy
    );
    assert!(
        b.macro_f1.contains(r.macro_f1),
        "{:?} {}",
        b.macro_f1,
        r.macro_f1
    );
    // A 95% interval for n = 200 and accuracy ≈ 0.75 is about ±0.06 wide:
    // neither degenerate nor absurd.
    let width = b.accuracy.high - b.accuracy.low;
    assert!(width > 0.05 && width < 0.2, "width {width}");
    // Same seed, same intervals; another seed, other intervals.
    assert_eq!(evaluate(&input, 1000, 42), r);
    let other = evaluate(&input, 1000, 43);
    assert_ne!(other.bootstrap, r.bootstrap);
    assert_eq!(other.macro_f1, r.macro_f1);
}

/// Two documents of 50 rows each: all right in one, all wrong in the other.
/// Resampling documents, a resample holds 0, 1 or 2 copies of the good one:
/// accuracy 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so the 2.5th and
/// 97.5th percentiles of 1000 resamples are 0 and 1. Resampling sentences
/// gives accuracy ≈ 0.5 ± 0.1 instead.
#[test]
fn cluster_bootstrap_resamples_documents() {
    let labels = labels();
    let gold = vec![0usize; 100];
    let pred: Vec<usize> = (0..100).map(|i| if i < 50 { 0 } else { 1 }).collect();
    let docs: Vec<Option<String>> = (0..100)
        .map(|i| Some(if i < 50 { "good" } else { "bad" }.to_string()))
        .collect();
    let input = EvalInput {
        doc_ids: &docs,
        ..EvalInput::new(&labels, &gold, &pred)
    };
    let r = evaluate(&input, 1000, 7);
    let b = r.bootstrap.unwrap();
    assert_eq!(b.unit, ResampleUnit::Document);
    assert_eq!(b.units, 2);
    assert_eq!((b.accuracy.low, b.accuracy.high), (0.0, 1.0));

    // One row without a document → sentence resampling.
    let mut partial = docs.clone();
    partial[10] = None;
    let r = evaluate(
        &EvalInput {
            doc_ids: &partial,
            ..EvalInput::new(&labels, &gold, &pred)
        },
        1000,
        7,
    );
    let b = r.bootstrap.unwrap();
    assert_eq!(b.unit, ResampleUnit::Sentence);
    assert_eq!(b.units, 100);
    assert!(
        b.accuracy.low > 0.3 && b.accuracy.high < 0.7,
        "{:?}",
        b.accuracy
    );
    assert!(b.accuracy.contains(0.5));
}

#[test]
fn document_count_with_interleaved_documents() {
    let labels = labels();
    let (g, p) = synthetic(60, 11);
    // Six documents whose rows are interleaved: doc = row % 6.
    let docs: Vec<Option<String>> = (0..60).map(|i| Some(format!("doc{}", i % 6))).collect();
    let r = evaluate(
        &EvalInput {
            doc_ids: &docs,
            ..EvalInput::new(&labels, &g, &p)
        },
        200,
        1,
    );
    let b = r.bootstrap.unwrap();
    assert_eq!(
        (b.unit, b.units, b.resamples),
        (ResampleUnit::Document, 6, 200)
    );
    assert!(b.macro_f1.contains(r.macro_f1));
}

#[test]
fn report_round_trips_through_json() {
    let labels = labels();
    let (g, p) = synthetic(50, 5);
    let probs: Vec<Vec<f32>> = p
        .iter()
        .map(|&k| {
            let mut row = vec![0.1f32; 4];
            row[k] = 0.7;
            row
        })
        .collect();
    let secondary = vec![None; 50];
    let docs: Vec<Option<String>> = (0..50).map(|i| Some(format!("d{}", i / 10))).collect();
    let sources: Vec<Option<String>> = (0..50).map(|i| Some(format!("s{}", i % 2))).collect();
    let input = EvalInput {
        labels: &labels,
        gold: &g,
        predicted: &p,
        probabilities: &probs,
        secondary: &secondary,
        doc_ids: &docs,
        sources: &sources,
    };
    let r = evaluate(&input, 100, 9);
    let json = serde_json::to_string_pretty(&r).unwrap();
    assert!(json.contains("\"unit\": \"document\""));
    let back: stance_eval::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    // All rows have confidence 0.7 → one bin, ECE = |acc − 0.7|.
    let c = r.calibration.unwrap();
    assert_eq!(c.bins[7].count, 50);
    assert!((c.ece - (r.accuracy - 0.7).abs()).abs() < 1e-6);
}
