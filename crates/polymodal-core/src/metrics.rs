//! Classification metrics computed from predicted probabilities.
//!
//! "accuracy" is **micro** (fraction of samples right); `macro_accuracy` is the mean per-class
//! recall, which is what torchmetrics' `MulticlassAccuracy` reports by default (the BMMAL
//! reference code uses that), so both are kept.

use crate::CoreError;
use serde::{Deserialize, Serialize};

/// Bins used for the expected calibration error (equal-width confidence bins).
pub const ECE_BINS: usize = 15;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Micro accuracy: correct / total.
    pub accuracy: f64,
    /// Mean over classes (that occur in the labels) of per-class recall.
    pub macro_accuracy: f64,
    /// Mean over classes of F1 (a class never predicted nor present is skipped).
    pub macro_f1: f64,
    /// Expected calibration error with [`ECE_BINS`] equal-width bins on the top-1 confidence.
    pub ece: f64,
    /// Mean negative log-likelihood of the true class.
    pub nll: f64,
    pub n: usize,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
}

/// Index of the largest value; the first one wins ties so results never depend on float noise order.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

impl ClassificationMetrics {
    /// `probs` is row-major `[n, classes]`; `labels` has `n` entries.
    pub fn from_probs(probs: &[f32], classes: usize, labels: &[usize]) -> Result<Self, CoreError> {
        let n = labels.len();
        if n == 0 {
            return Err(CoreError::Empty("no samples to score"));
        }
        if probs.len() != n * classes {
            return Err(CoreError::Shape {
                what: "probabilities",
                expected: n * classes,
                got: probs.len(),
            });
        }
        let mut confusion = vec![vec![0u64; classes]; classes];
        let mut bin_count = [0usize; ECE_BINS];
        let mut bin_conf = [0f64; ECE_BINS];
        let mut bin_correct = [0f64; ECE_BINS];
        let mut nll = 0f64;
        for (i, (row, &y)) in probs.chunks_exact(classes).zip(labels).enumerate() {
            if y >= classes {
                return Err(CoreError::LabelOutOfRange {
                    index: i,
                    label: y,
                    classes,
                });
            }
            if row.iter().any(|p| !p.is_finite()) {
                return Err(CoreError::NonFinite { index: i });
            }
            let pred = argmax(row);
            confusion[y][pred] += 1;
            let conf = row[pred] as f64;
            let bin = ((conf * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
            bin_count[bin] += 1;
            bin_conf[bin] += conf;
            bin_correct[bin] += f64::from(u8::from(pred == y));
            nll -= (row[y] as f64).max(1e-12).ln();
        }
        let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
        let mut recalls = Vec::new();
        let mut f1s = Vec::new();
        for (c, row) in confusion.iter().enumerate() {
            let support: u64 = row.iter().sum();
            let predicted: u64 = confusion.iter().map(|r| r[c]).sum();
            let tp = row[c] as f64;
            if support > 0 {
                recalls.push(tp / support as f64);
            }
            if support + predicted > 0 {
                f1s.push(2.0 * tp / (support + predicted) as f64);
            }
        }
        let ece = (0..ECE_BINS)
            .filter(|&b| bin_count[b] > 0)
            .map(|b| (bin_correct[b] - bin_conf[b]).abs())
            .sum::<f64>()
            / n as f64;
        Ok(Self {
            accuracy: correct as f64 / n as f64,
            macro_accuracy: mean(&recalls),
            macro_f1: mean(&f1s),
            ece,
            nll: nll / n as f64,
            n,
            confusion,
        })
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_one_hot_predictions() {
        let probs = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let m = ClassificationMetrics::from_probs(&probs, 3, &[0, 1, 2]).unwrap();
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(m.macro_accuracy, 1.0);
        assert_eq!(m.macro_f1, 1.0);
        assert_eq!(m.ece, 0.0);
        assert!(m.nll.abs() < 1e-9);
    }

    #[test]
    fn hand_computed_imbalanced_case() {
        // labels: 0,0,0,1 ; predictions: 0,0,1,1 (confidences 0.9,0.6,0.7,0.8)
        let probs = [0.9, 0.1, 0.6, 0.4, 0.3, 0.7, 0.2, 0.8];
        let m = ClassificationMetrics::from_probs(&probs, 2, &[0, 0, 0, 1]).unwrap();
        assert_eq!(m.accuracy, 0.75);
        // recall class0 = 2/3, class1 = 1 -> macro 5/6
        assert!((m.macro_accuracy - 5.0 / 6.0).abs() < 1e-12);
        // F1 class0 = 2*2/(3+2) = 0.8, class1 = 2*1/(1+2) = 2/3
        assert!((m.macro_f1 - (0.8 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(m.confusion, vec![vec![2, 1], vec![0, 1]]);
        // bins (15 wide): 0.9->13, 0.6->9, 0.7->10, 0.8->12; |acc-conf| = 0.1,0.4,0.7,0.2
        assert!((m.ece - (0.1 + 0.4 + 0.7 + 0.2) / 4.0).abs() < 1e-6);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(ClassificationMetrics::from_probs(&[], 2, &[]).is_err());
        let e = ClassificationMetrics::from_probs(&[0.5, 0.5], 2, &[2]).unwrap_err();
        assert!(e.to_string().contains("out of range"));
        let e = ClassificationMetrics::from_probs(&[f32::NAN, 0.5], 2, &[0]).unwrap_err();
        assert!(e.to_string().contains("non-finite"));
        assert!(ClassificationMetrics::from_probs(&[0.5], 2, &[0]).is_err());
    }
}
