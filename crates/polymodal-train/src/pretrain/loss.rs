//! The pieces of the pretraining loss (docs/METHODS.md §2.1): symmetric cross-modal InfoNCE,
//! Sinkhorn–Knopp balanced codes and the swapped-prediction cross-entropy.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Tensor, TensorData};

/// A logit for a column that must not be a candidate (a sample missing a modality): low enough
/// that `exp` underflows to 0 next to any real logit, finite so that `0 · it` stays 0.
const MASKED_LOGIT: f32 = -1e4;

/// Symmetric InfoNCE between the rows of `a` and `b` (`[n, D]`, unit rows): sample `i`'s
/// positive is the other modality's row `i`, every other row of the batch a negative, logits
/// `scale · a b^T`. `mask` (`[n]`, 0/1) keeps only samples that have both modalities, as
/// queries and as candidates. Returns `½ (CE_{a→b} + CE_{b→a})`, each the mean over kept rows.
pub fn info_nce(a: Tensor<2>, b: Tensor<2>, scale: Tensor<1>, mask: Tensor<1>) -> Tensor<1> {
    let [n, _] = a.dims();
    let device = a.device();
    let logits = a.matmul(b.transpose()) * scale.unsqueeze_dim::<2>(1);
    let eye = Tensor::<2>::from_data(TensorData::new(identity(n), [n, n]), &device);
    let col_off = (mask.clone() - 1.0).neg().unsqueeze_dim::<2>(0) * MASKED_LOGIT;
    let kept = mask.clone().sum().clamp_min(1.0);
    // a → b: row i over candidate columns j; b → a: the transpose.
    let ab = log_softmax(logits.clone() + col_off.clone(), 1);
    let ba = log_softmax(logits.transpose() + col_off, 1);
    let diag_ab = (ab * eye.clone()).sum_dim(1).squeeze_dim::<1>(1);
    let diag_ba = (ba * eye).sum_dim(1).squeeze_dim::<1>(1);
    let l_ab = (diag_ab * mask.clone()).sum().neg() / kept.clone();
    let l_ba = (diag_ba * mask).sum().neg() / kept;
    (l_ab + l_ba) * 0.5
}

fn identity(n: usize) -> Vec<f32> {
    let mut v = vec![0f32; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    v
}

/// Sinkhorn–Knopp balanced soft assignments of `rows` samples to `k` prototypes from `scores`
/// (`[rows, k]`, row-major, e.g. cosines `u·p`): `Q ∝ exp(score / epsilon)`, then `iters`
/// rounds of scaling every prototype's total mass to `1/k` and every sample's to `1/rows`.
/// The result is scaled so that **each sample's codes sum to 1 exactly** (the last
/// normalisation is over samples) and each prototype receives `rows / k` in the limit: an
/// equipartition, so no prototype can take every sample. `rows == 0` gives nothing.
pub fn sinkhorn(scores: &[f32], rows: usize, k: usize, epsilon: f64, iters: usize) -> Vec<f32> {
    assert_eq!(scores.len(), rows * k, "scores must be rows x k");
    if rows == 0 {
        return Vec::new();
    }
    // Shifting by the maximum leaves the normalised result unchanged and keeps exp finite.
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut q: Vec<f64> = scores
        .iter()
        .map(|&s| ((s as f64 - max) / epsilon).exp())
        .collect();
    let total: f64 = q.iter().sum();
    q.iter_mut().for_each(|v| *v /= total);
    let mut col = vec![0f64; k];
    for _ in 0..iters {
        col.iter_mut().for_each(|c| *c = 0.0);
        for r in q.chunks_exact(k) {
            for (c, v) in col.iter_mut().zip(r) {
                *c += v;
            }
        }
        for r in q.chunks_exact_mut(k) {
            for (v, c) in r.iter_mut().zip(&col) {
                // A prototype no sample reaches (all of its mass underflowed) stays at zero.
                if *c > 0.0 {
                    *v /= c * k as f64;
                }
            }
        }
        for r in q.chunks_exact_mut(k) {
            let s: f64 = r.iter().sum();
            if s > 0.0 {
                r.iter_mut().for_each(|v| *v /= s * rows as f64);
            }
        }
    }
    q.iter().map(|&v| (v * rows as f64) as f32).collect()
}

/// Swapped-prediction cross-entropy `−mean_{i kept} Σ_k codes(i,k) · log softmax_k(logits(i))`:
/// `codes` are constant targets (`[n, K]`, from [`sinkhorn`]), `logits` the prediction
/// (`P u / τ_p`); `mask` (`[n]`, 0/1) keeps the rows that have the modalities involved.
pub fn swapped_ce(codes: Tensor<2>, logits: Tensor<2>, mask: Tensor<1>) -> Tensor<1> {
    let per_row = (codes * log_softmax(logits, 1))
        .sum_dim(1)
        .squeeze_dim::<1>(1);
    (per_row * mask.clone()).sum().neg() / mask.sum().clamp_min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polymodal_nn::backend::inference_device;

    fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), &inference_device())
    }
    fn t1(v: Vec<f32>) -> Tensor<1> {
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), &inference_device())
    }
    fn scalar(t: Tensor<1>) -> f64 {
        let v: f32 = t.into_scalar();
        v as f64
    }

    #[test]
    fn info_nce_on_orthonormal_pairs_is_log_one_plus_e_inverse() {
        // a = b = I_2, scale 1: each row's logits are (1, 0) with the positive first, so
        // CE = −log(e / (e + 1)) = ln(1 + e^{-1}) = 0.31326168751822..., both directions.
        let a = t2(vec![1.0, 0.0, 0.0, 1.0], [2, 2]);
        let l = scalar(info_nce(a.clone(), a, t1(vec![1.0]), t1(vec![1.0, 1.0])));
        let want = (1.0 + (-1f64).exp()).ln();
        assert!((l - want).abs() < 1e-6, "{l} vs {want}");
    }

    #[test]
    fn info_nce_is_asymmetric_per_direction_and_averaged() {
        // a = I_3 rows; b row 0 = row 1 = e_0, row 2 = e_2; scale 2.
        // a→b: row 0 logits (2,2,0) → −log(e²/(2e²+1)); row 1 (0,0,0) → ln 3; row 2 (0,0,2) →
        // −log(e²/(e²+2)). b→a: rows of b·a^T: b0 (2,0,0) → −log(e²/(e²+2)); b1 (2,0,0), positive
        // index 1 → −log(1/(e²+2)); b2 (0,0,2) → −log(e²/(e²+2)).
        let a = t2(vec![1., 0., 0., 0., 1., 0., 0., 0., 1.], [3, 3]);
        let b = t2(vec![1., 0., 0., 1., 0., 0., 0., 0., 1.], [3, 3]);
        let l = scalar(info_nce(a, b, t1(vec![2.0]), t1(vec![1.0, 1.0, 1.0])));
        let e2 = 2f64.exp();
        let ab = (-(e2 / (2.0 * e2 + 1.0)).ln() + 3f64.ln() - (e2 / (e2 + 2.0)).ln()) / 3.0;
        let ba = (-(e2 / (e2 + 2.0)).ln() - (1.0 / (e2 + 2.0)).ln() - (e2 / (e2 + 2.0)).ln()) / 3.0;
        let want = 0.5 * (ab + ba);
        assert!((l - want).abs() < 1e-5, "{l} vs {want}");
    }

    #[test]
    fn a_masked_sample_is_neither_query_nor_candidate() {
        // With sample 2 masked the loss equals the 2-sample loss of the first two rows.
        let a = t2(vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8], [3, 2]);
        let b = t2(vec![1.0, 0.0, 0.0, 1.0, 0.8, 0.6], [3, 2]);
        let masked = scalar(info_nce(a, b, t1(vec![5.0]), t1(vec![1.0, 1.0, 0.0])));
        let two = t2(vec![1.0, 0.0, 0.0, 1.0], [2, 2]);
        let plain = scalar(info_nce(
            two.clone(),
            two,
            t1(vec![5.0]),
            t1(vec![1.0, 1.0]),
        ));
        assert!((masked - plain).abs() < 1e-6, "{masked} vs {plain}");
    }

    #[test]
    fn sinkhorn_rows_sum_to_one_and_columns_to_rows_over_k() {
        // Skewed scores: without balancing every sample would pick prototype 0.
        let (rows, k) = (6, 3);
        let scores: Vec<f32> = (0..rows * k)
            .map(|i| {
                if i % k == 0 {
                    0.9
                } else {
                    0.1 * (i % 5) as f32
                }
            })
            .collect();
        let q = sinkhorn(&scores, rows, k, 0.5, 200);
        for r in q.chunks_exact(k) {
            let s: f32 = r.iter().sum();
            assert!((s - 1.0).abs() < 1e-6, "sample sum {s}");
        }
        for c in 0..k {
            let s: f32 = (0..rows).map(|r| q[r * k + c]).sum();
            assert!(
                (s - rows as f32 / k as f32).abs() < 1e-4,
                "prototype sum {s}"
            );
        }
    }

    #[test]
    fn sinkhorn_of_equal_scores_is_uniform_and_of_a_permutation_is_that_permutation() {
        let q = sinkhorn(&[0.3; 8], 2, 4, 0.05, 3);
        assert!(q.iter().all(|&v| (v - 0.25).abs() < 1e-7), "{q:?}");
        // Two samples, two prototypes, sample 0 near prototype 1 and sample 1 near prototype
        // 0: small ε gives (nearly) the hard permutation.
        let q = sinkhorn(&[0.0, 1.0, 1.0, 0.0], 2, 2, 0.05, 3);
        assert!(q[1] > 0.999 && q[2] > 0.999, "{q:?}");
    }

    #[test]
    fn swapped_ce_of_one_hot_codes_is_the_log_softmax_at_the_code() {
        // codes (1, 0); logits (ln 3, 0): softmax = (3/4, 1/4), CE = −ln(3/4).
        let l = scalar(swapped_ce(
            t2(vec![1.0, 0.0], [1, 2]),
            t2(vec![3f32.ln(), 0.0], [1, 2]),
            t1(vec![1.0]),
        ));
        assert!((l + (0.75f64).ln()).abs() < 1e-6, "{l}");
    }
}
