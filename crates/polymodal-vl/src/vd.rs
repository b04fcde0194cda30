//! Visual dependence of each target token (docs/METHODS.md §6.2):
//! VD_t = log p(y_t | image, q, y_<t) − log p(y_t | no image, q, y_<t),
//! and the token classes image-positive (VD_t > δ), invariant (|VD_t| ≤ δ) and image-negative
//! (VD_t < −δ, the image lowers the probability of the label token).

use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Anything that scores target tokens teacher-forced, with and without the image. The model
/// implements it; tests implement it with probabilities written by hand.
pub trait TargetScorer {
    /// For each sample (a scene index and `(sequence, answer start)`), log p of every target
    /// token from the answer start on.
    fn target_logprobs(
        &self,
        scenes: &[usize],
        seqs: &[(Vec<usize>, usize)],
        with_image: bool,
    ) -> Result<Vec<Vec<f32>>>;
}

/// VD_t per target token of each sample.
pub fn visual_dependence<S: TargetScorer>(
    scorer: &S,
    scenes: &[usize],
    seqs: &[(Vec<usize>, usize)],
) -> Result<Vec<Vec<f32>>> {
    let with = scorer.target_logprobs(scenes, seqs, true)?;
    let without = scorer.target_logprobs(scenes, seqs, false)?;
    Ok(with
        .iter()
        .zip(&without)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x - y).collect())
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenClass {
    ImagePositive,
    Invariant,
    ImageNegative,
}

impl TokenClass {
    pub const ALL: [TokenClass; 3] = [Self::ImagePositive, Self::Invariant, Self::ImageNegative];

    pub fn of(vd: f32, delta: f32) -> Self {
        if vd > delta {
            Self::ImagePositive
        } else if vd < -delta {
            Self::ImageNegative
        } else {
            Self::Invariant
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImagePositive => "image-positive",
            Self::Invariant => "invariant",
            Self::ImageNegative => "image-negative",
        }
    }
}

/// The threshold δ: fixed, or the `q`-quantile of |VD| over the given values.
pub fn threshold_from_percentile(vds: &[Vec<f32>], q: f64) -> f32 {
    let mut all: Vec<f32> = vds.iter().flatten().map(|v| v.abs()).collect();
    if all.is_empty() {
        return 0.0;
    }
    all.sort_by(f32::total_cmp);
    let i = ((all.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    all[i]
}

/// Part of speech of a target token, for the per-class shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordKind {
    /// A class name ("three").
    Object,
    /// A count ("2").
    Count,
    /// "yes" / "no".
    Answer,
    /// Everything else, including `[eos]`.
    Function,
}

impl WordKind {
    pub const ALL: [WordKind; 4] = [Self::Object, Self::Count, Self::Answer, Self::Function];

    pub fn of(word: &str, class_names: &[String]) -> Self {
        if class_names.iter().any(|c| c == word) {
            Self::Object
        } else if word.parse::<usize>().is_ok() {
            Self::Count
        } else if word == "yes" || word == "no" {
            Self::Answer
        } else {
            Self::Function
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Object => "object",
            Self::Count => "count",
            Self::Answer => "yes/no",
            Self::Function => "function",
        }
    }
}

/// Shares of the three classes per word kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VdStats {
    pub delta: f32,
    /// Per word kind: tokens, [positive, invariant, negative] shares, mean VD.
    pub rows: Vec<VdRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VdRow {
    pub kind: WordKind,
    pub tokens: usize,
    pub positive: f64,
    pub invariant: f64,
    pub negative: f64,
    pub mean_vd: f64,
}

/// `words[i][t]` is the target word of `vds[i][t]`.
pub fn stats(
    vds: &[Vec<f32>],
    words: &[Vec<String>],
    class_names: &[String],
    delta: f32,
) -> VdStats {
    let mut rows = Vec::new();
    for kind in WordKind::ALL.into_iter().map(Some).chain([None]) {
        let mut counts = [0usize; 3];
        let mut sum = 0.0f64;
        for (v, w) in vds.iter().zip(words) {
            for (&x, word) in v.iter().zip(w) {
                if kind.is_some_and(|k| WordKind::of(word, class_names) != k) {
                    continue;
                }
                let c = TokenClass::of(x, delta);
                counts[TokenClass::ALL
                    .iter()
                    .position(|&t| t == c)
                    .expect("listed")] += 1;
                sum += x as f64;
            }
        }
        let n = counts.iter().sum::<usize>();
        let share = |i: usize| {
            if n == 0 {
                0.0
            } else {
                counts[i] as f64 / n as f64
            }
        };
        rows.push(VdRow {
            kind: kind.unwrap_or(WordKind::Function),
            tokens: n,
            positive: share(0),
            invariant: share(1),
            negative: share(2),
            mean_vd: if n == 0 { 0.0 } else { sum / n as f64 },
        });
    }
    // The last row (all tokens) is labelled by the caller; keep kind-specific rows first.
    VdStats { delta, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "model" whose next-token probabilities are written by hand: with the image, the
    /// target gets p_img[t]; without, p_txt[t].
    struct HandModel {
        p_img: Vec<f32>,
        p_txt: Vec<f32>,
    }

    impl TargetScorer for HandModel {
        fn target_logprobs(
            &self,
            scenes: &[usize],
            seqs: &[(Vec<usize>, usize)],
            with_image: bool,
        ) -> Result<Vec<Vec<f32>>> {
            assert_eq!(scenes.len(), seqs.len());
            let p = if with_image { &self.p_img } else { &self.p_txt };
            Ok(seqs
                .iter()
                .map(|(s, start)| p[..s.len() - start].iter().map(|x| x.ln()).collect())
                .collect())
        }
    }

    #[test]
    fn golden_visual_dependence_and_classes() {
        // Reference: VD = ln(p_img) - ln(p_txt), by hand:
        // ln(0.9/0.3) = 1.098612, ln(0.5/0.5) = 0, ln(0.2/0.8) = -1.386294
        let m = HandModel {
            p_img: vec![0.9, 0.5, 0.2],
            p_txt: vec![0.3, 0.5, 0.8],
        };
        let vd = visual_dependence(&m, &[0], &[(vec![1, 3, 7, 8, 9], 2)]).unwrap();
        let want = [1.098_612, 0.0, -1.386_294];
        assert_eq!(vd[0].len(), 3);
        for (a, b) in vd[0].iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let classes: Vec<TokenClass> = vd[0].iter().map(|&v| TokenClass::of(v, 0.5)).collect();
        assert_eq!(
            classes,
            [
                TokenClass::ImagePositive,
                TokenClass::Invariant,
                TokenClass::ImageNegative
            ]
        );
        let names: Vec<String> = ["three", "eight"].iter().map(|s| s.to_string()).collect();
        let words = vec![vec![
            "three".to_string(),
            "and".to_string(),
            "eight".to_string(),
        ]];
        let s = stats(&vd, &words, &names, 0.5);
        let obj = &s.rows[0];
        assert_eq!(obj.kind, WordKind::Object);
        assert_eq!(obj.tokens, 2);
        assert_eq!((obj.positive, obj.invariant, obj.negative), (0.5, 0.0, 0.5));
        assert!((obj.mean_vd - (1.098_612 - 1.386_294) / 2.0).abs() < 1e-5);
        let all = s.rows.last().unwrap();
        assert_eq!(all.tokens, 3);
        // |VD| = {1.10, 0, 1.39}: the median is 1.10.
        assert!((threshold_from_percentile(&vd, 0.5) - 1.098_612).abs() < 1e-5);
    }
}
