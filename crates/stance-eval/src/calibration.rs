//! Calibration: softmax with a temperature, temperature fitting, expected
//! calibration error and reliability tables.
//!
//! Conventions used throughout:
//!
//! * The *confidence* of a row of probabilities is its largest value, and the
//!   row's prediction is its [`argmax`] (the first index holding the largest
//!   value, so ties go to the lower label index).
//! * A row is *correct* when that argmax equals the gold label.
//! * Confidence bins are equal-width over `[0, 1]`: bin `b` of `B` covers
//!   `[b/B, (b+1)/B)`, and the last bin also holds a confidence of exactly 1.
//!   A confidence `c` falls into bin `min(floor(c * B + 1e-6), B - 1)` after
//!   `c` is clamped to `[0, 1]`: the 1e-6 (in bin widths) absorbs `f32`
//!   rounding, so that a probability written as `0.7f32` (0.69999999)
//!   lands in `[0.7, 0.8)` as intended.
//! * ECE = Σ_b |accuracy_b − mean confidence_b| · n_b / n, summed over the
//!   non-empty bins (the Guo et al. 2017 definition).

use serde::{Deserialize, Serialize};

/// Tolerance, in bin widths, below a bin edge that still counts as the edge.
const EDGE_TOLERANCE: f64 = 1e-6;

/// Lower bound of the temperature search in [`fit_temperature`].
pub const MIN_TEMPERATURE: f64 = 0.05;
/// Upper bound of the temperature search in [`fit_temperature`].
pub const MAX_TEMPERATURE: f64 = 20.0;

/// One row of a reliability table: the rows of a confidence bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Inclusive lower edge of the bin.
    pub lower: f64,
    /// Upper edge of the bin (exclusive, except 1.0 for the last bin).
    pub upper: f64,
    /// Number of rows whose confidence falls into the bin.
    pub count: usize,
    /// Mean confidence of those rows; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// Share of those rows whose argmax equals gold; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// Index of the largest value; the first one on ties, 0 for an empty row.
/// NaN values never win a comparison.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] || row[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

/// Softmax of `logits / t`, computed in `f64` with the maximum subtracted for
/// stability. `t = 1` gives the plain softmax.
///
/// # Panics
/// If `t` is not a positive finite number.
pub fn softmax_with_temperature(logits: &[f32], t: f64) -> Vec<f32> {
    assert!(
        t.is_finite() && t > 0.0,
        "temperature must be positive and finite, got {t}"
    );
    log_softmax(logits, t)
        .into_iter()
        .map(|l| l.exp() as f32)
        .collect()
}

/// Plain softmax (temperature 1).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    softmax_with_temperature(logits, 1.0)
}

fn log_softmax(logits: &[f32], t: f64) -> Vec<f64> {
    if logits.is_empty() {
        return Vec::new();
    }
    let scaled: Vec<f64> = logits.iter().map(|&z| f64::from(z) / t).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = scaled.iter().map(|&s| (s - max).exp()).sum::<f64>().ln() + max;
    scaled.into_iter().map(|s| s - log_sum).collect()
}

/// Mean negative log-likelihood of the gold labels under
/// `softmax(logits / t)`; 0 for no rows.
///
/// # Panics
/// If the lengths differ, a gold index is outside its row, or `t` is not a
/// positive finite number.
pub fn mean_nll(logits: &[Vec<f32>], gold: &[usize], t: f64) -> f64 {
    assert_eq!(logits.len(), gold.len(), "logits and gold lengths differ");
    assert!(
        t.is_finite() && t > 0.0,
        "temperature must be positive and finite, got {t}"
    );
    if logits.is_empty() {
        return 0.0;
    }
    let total: f64 = logits
        .iter()
        .zip(gold)
        .map(|(row, &g)| {
            assert!(
                g < row.len(),
                "gold label {g} outside a row of {}",
                row.len()
            );
            -log_softmax(row, t)[g]
        })
        .sum();
    total / logits.len() as f64
}

/// Temperature `T` in `[MIN_TEMPERATURE, MAX_TEMPERATURE]` that minimises
/// [`mean_nll`] of `softmax(logits / T)`.
///
/// The NLL is convex in `1/T`, hence unimodal in `ln T`. The search scans 81
/// evenly spaced points of `ln T` over the whole range to bracket the
/// minimum, then runs golden-section search on `ln T` inside the bracket to a
/// width below 1e-9. Returns 1.0 when there are no rows or when every row's
/// logits are all equal (the NLL does not depend on `T`). When the data are
/// perfectly separated the NLL keeps falling as `T` shrinks and the result
/// is `MIN_TEMPERATURE`.
///
/// # Panics
/// If the lengths differ or a gold index is outside its row.
pub fn fit_temperature(logits: &[Vec<f32>], gold: &[usize]) -> f64 {
    assert_eq!(logits.len(), gold.len(), "logits and gold lengths differ");
    let informative = logits.iter().any(|row| row.iter().any(|&z| z != row[0]));
    if logits.is_empty() || !informative {
        return 1.0;
    }
    let f = |u: f64| mean_nll(logits, gold, u.exp());
    let (lo, hi) = (MIN_TEMPERATURE.ln(), MAX_TEMPERATURE.ln());
    const GRID: usize = 80;
    let step = (hi - lo) / GRID as f64;
    let grid: Vec<f64> = (0..=GRID).map(|i| f(lo + step * i as f64)).collect();
    let best = grid
        .iter()
        .enumerate()
        .fold(0, |b, (i, &v)| if v < grid[b] { i } else { b });
    let mut a = lo + step * best.saturating_sub(1) as f64;
    let mut b = lo + step * (best + 1).min(GRID) as f64;
    let inv_phi = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - inv_phi * (b - a);
    let mut d = a + inv_phi * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    while b - a > 1e-9 {
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - inv_phi * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + inv_phi * (b - a);
            fd = f(d);
        }
    }
    let u = (a + b) / 2.0;
    // The grid end points are candidates too (a monotone NLL).
    let candidates = [(u, f(u)), (lo, grid[0]), (hi, grid[GRID])];
    let (u, _) = candidates.into_iter().fold(
        (u, f64::INFINITY),
        |acc, x| if x.1 < acc.1 { x } else { acc },
    );
    u.exp().clamp(MIN_TEMPERATURE, MAX_TEMPERATURE)
}

/// Reliability table over `bins` equal-width confidence bins (see the module
/// conventions).
///
/// # Panics
/// If the lengths differ or `bins` is 0.
pub fn reliability_table(probs: &[Vec<f32>], gold: &[usize], bins: usize) -> Vec<ReliabilityBin> {
    assert_eq!(
        probs.len(),
        gold.len(),
        "probabilities and gold lengths differ"
    );
    assert!(bins > 0, "need at least one bin");
    let mut count = vec![0usize; bins];
    let mut conf_sum = vec![0f64; bins];
    let mut correct = vec![0usize; bins];
    for (row, &g) in probs.iter().zip(gold) {
        let k = argmax(row);
        let conf = row.get(k).map_or(0.0, |&p| f64::from(p)).clamp(0.0, 1.0);
        let b = ((conf * bins as f64 + EDGE_TOLERANCE).floor() as usize).min(bins - 1);
        count[b] += 1;
        conf_sum[b] += conf;
        if k == g {
            correct[b] += 1;
        }
    }
    (0..bins)
        .map(|b| {
            let n = count[b];
            let (mean_confidence, accuracy) = if n == 0 {
                (None, None)
            } else {
                (
                    Some(conf_sum[b] / n as f64),
                    Some(correct[b] as f64 / n as f64),
                )
            };
            ReliabilityBin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: n,
                mean_confidence,
                accuracy,
            }
        })
        .collect()
}

/// ECE computed from a reliability table: Σ |acc_b − conf_b| · n_b / n.
pub fn ece_from_table(table: &[ReliabilityBin]) -> f64 {
    let n: usize = table.iter().map(|b| b.count).sum();
    if n == 0 {
        return 0.0;
    }
    table
        .iter()
        .filter_map(|b| match (b.accuracy, b.mean_confidence) {
            (Some(acc), Some(conf)) => Some((acc - conf).abs() * b.count as f64 / n as f64),
            _ => None,
        })
        .sum()
}

/// Expected calibration error over `bins` equal-width confidence bins; 0 for
/// no rows.
///
/// # Panics
/// If the lengths differ or `bins` is 0.
pub fn expected_calibration_error(probs: &[Vec<f32>], gold: &[usize], bins: usize) -> f64 {
    ece_from_table(&reliability_table(probs, gold, bins))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b} (tol {tol})");
    }

    #[test]
    fn softmax_matches_hand_values() {
        // softmax([0, ln 3]) = [1/4, 3/4]; with T = 2 the logits become
        // [0, ln 3 / 2] = [0, ln sqrt 3] → [1/(1+√3), √3/(1+√3)].
        let z = [0.0f32, 3f32.ln()];
        let p = softmax(&z);
        close(f64::from(p[0]), 0.25, 1e-6);
        close(f64::from(p[1]), 0.75, 1e-6);
        let p2 = softmax_with_temperature(&z, 2.0);
        let s3 = 3f64.sqrt();
        close(f64::from(p2[0]), 1.0 / (1.0 + s3), 1e-6);
        close(f64::from(p2[1]), s3 / (1.0 + s3), 1e-6);
        // Large logits do not overflow.
        let p3 = softmax(&[1000.0, 1000.0]);
        close(f64::from(p3[0]), 0.5, 1e-6);
    }

    #[test]
    fn argmax_takes_first_of_ties() {
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), 1);
        assert_eq!(argmax(&[0.5]), 0);
        assert_eq!(argmax(&[f32::NAN, 0.1]), 1);
    }

    #[test]
    fn mean_nll_hand_value() {
        // Row 1: softmax([0, ln 3]) gold 1 → −ln 0.75; row 2: gold 0 → −ln 0.25.
        // Mean = (ln(4/3) + ln 4) / 2 = (0.287682 + 1.386294) / 2 = 0.836988.
        let logits = vec![vec![0.0, 3f32.ln()], vec![0.0, 3f32.ln()]];
        close(mean_nll(&logits, &[1, 0], 1.0), 0.836988, 1e-5);
    }

    /// Fixture with hand-computed bins (two labels, five rows):
    ///
    /// | row | probs        | gold | conf | bin | correct |
    /// |-----|--------------|------|------|-----|---------|
    /// | 1   | [0.95, 0.05] | 0    | 0.95 | 9   | yes     |
    /// | 2   | [0.92, 0.08] | 1    | 0.92 | 9   | no      |
    /// | 3   | [0.35, 0.65] | 1    | 0.65 | 6   | yes     |
    /// | 4   | [0.62, 0.38] | 0    | 0.62 | 6   | yes     |
    /// | 5   | [0.45, 0.55] | 0    | 0.55 | 5   | no      |
    ///
    /// bin 9: n=2, conf 0.935, acc 0.5 → |0.5−0.935|·2/5 = 0.174
    /// bin 6: n=2, conf 0.635, acc 1.0 → |1−0.635|·2/5 = 0.146
    /// bin 5: n=1, conf 0.55,  acc 0.0 → 0.55·1/5      = 0.110
    /// ECE = 0.430
    pub(crate) fn ece_fixture() -> (Vec<Vec<f32>>, Vec<usize>) {
        (
            vec![
                vec![0.95, 0.05],
                vec![0.92, 0.08],
                vec![0.35, 0.65],
                vec![0.62, 0.38],
                vec![0.45, 0.55],
            ],
            vec![0, 1, 1, 0, 0],
        )
    }

    #[test]
    fn ece_hand_computed() {
        let (probs, gold) = ece_fixture();
        close(expected_calibration_error(&probs, &gold, 10), 0.43, 1e-6);
        let table = reliability_table(&probs, &gold, 10);
        assert_eq!(table.len(), 10);
        assert_eq!(
            table.iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![0, 0, 0, 0, 0, 1, 2, 0, 0, 2]
        );
        close(table[9].mean_confidence.unwrap(), 0.935, 1e-6);
        close(table[9].accuracy.unwrap(), 0.5, 1e-12);
        close(table[6].mean_confidence.unwrap(), 0.635, 1e-6);
        close(table[6].accuracy.unwrap(), 1.0, 1e-12);
        close(table[5].accuracy.unwrap(), 0.0, 1e-12);
        assert_eq!(table[0].mean_confidence, None);
        close(table[3].lower, 0.3, 1e-12);
        close(table[3].upper, 0.4, 1e-12);
        // Two bins: everything lands in [0.5, 1]: conf mean = (0.95+0.92+0.65+0.62+0.55)/5
        // = 0.738, acc = 3/5 = 0.6 → ECE = 0.138.
        close(expected_calibration_error(&probs, &gold, 2), 0.138, 1e-6);
        // f32 rounding does not push a confidence below its edge: 0.7f32 is
        // 0.699999988 as f64 but belongs to [0.7, 0.8).
        let t = reliability_table(&[vec![0.7, 0.3], vec![0.3f32, 0.7]], &[0, 0], 10);
        assert_eq!(t[7].count, 2);
        close(t[7].accuracy.unwrap(), 0.5, 1e-12);
        // Confidence 1.0 goes to the last bin.
        let t = reliability_table(&[vec![1.0, 0.0]], &[0], 10);
        assert_eq!(t[9].count, 1);
        assert_eq!(expected_calibration_error(&[], &[], 10), 0.0);
    }

    /// Logits `z` are drawn at random, labels are drawn from `softmax(z)`
    /// (so `z` is perfectly calibrated), and the fitter is given `2z`: the
    /// temperature that undoes the scaling is 2.
    #[test]
    fn fit_temperature_recovers_two() {
        let mut rng = StdRng::seed_from_u64(7);
        let k = 4;
        let mut logits = Vec::new();
        let mut gold = Vec::new();
        for _ in 0..6000 {
            let z: Vec<f32> = (0..k).map(|_| rng.random_range(-2.5f32..2.5)).collect();
            let p = softmax(&z);
            let u: f32 = rng.random();
            let mut acc = 0.0;
            let mut y = k - 1;
            for (i, &pi) in p.iter().enumerate() {
                acc += pi;
                if u < acc {
                    y = i;
                    break;
                }
            }
            logits.push(z.iter().map(|v| v * 2.0).collect::<Vec<f32>>());
            gold.push(y);
        }
        let t = fit_temperature(&logits, &gold);
        assert!((t - 2.0).abs() < 0.2, "fitted T = {t}");
        // It is a minimum: nudging T either way raises the NLL.
        let at = mean_nll(&logits, &gold, t);
        assert!(at <= mean_nll(&logits, &gold, t * 1.05));
        assert!(at <= mean_nll(&logits, &gold, t / 1.05));
        // NLL(x / 4, T) = NLL(x, 4T), so a quarter of the logits (that is
        // z / 2) is best at a quarter of the temperature (about 1/2).
        let quartered: Vec<Vec<f32>> = logits
            .iter()
            .map(|r| r.iter().map(|v| v / 4.0).collect())
            .collect();
        let t_quarter = fit_temperature(&quartered, &gold);
        assert!((t_quarter - t / 4.0).abs() < 1e-3, "{t_quarter} vs {t}/4");
    }

    #[test]
    fn fit_temperature_edge_cases() {
        assert_eq!(fit_temperature(&[], &[]), 1.0);
        assert_eq!(fit_temperature(&[vec![0.3, 0.3]], &[1]), 1.0);
        // Perfectly separated data: sharper is always better → lower bound.
        let t = fit_temperature(&[vec![1.0, 0.0], vec![0.0, 1.0]], &[0, 1]);
        close(t, MIN_TEMPERATURE, 1e-6);
        // Always wrong: flatter is always better → upper bound.
        let t = fit_temperature(&[vec![1.0, 0.0], vec![0.0, 1.0]], &[1, 0]);
        close(t, MAX_TEMPERATURE, 1e-6);
    }
}
