//! Per-row uncertainty scores on softmax rows `[n, C]` (docs/METHODS.md §4.1, §4.3). Every score is
//! "higher = more informative", so all of them feed the same top-k.

use rayon::prelude::*;

/// `H(p) = -Σ_c p_c ln p_c` of one row (`0 ln 0 = 0`).
#[inline]
pub fn entropy_of(p: &[f32]) -> f32 {
    -p.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| x * x.ln())
        .sum::<f32>()
}

/// `[n]` entropies of `[n, C]` rows.
pub fn entropy(probs: &[f32], classes: usize) -> Vec<f32> {
    probs.par_chunks(classes).map(entropy_of).collect()
}

/// The two largest entries of a row (`p(2) = -inf` for a single class).
#[inline]
pub fn top2(p: &[f32]) -> (f32, f32) {
    let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &x in p {
        if x > a {
            b = a;
            a = x;
        } else if x > b {
            b = x;
        }
    }
    (a, b)
}

/// `[n]` scores `-(p(1) - p(2))`: the smallest margin scores highest. With one class the margin
/// is taken against 0.
pub fn neg_margin(probs: &[f32], classes: usize) -> Vec<f32> {
    probs
        .par_chunks(classes)
        .map(|p| {
            let (a, b) = top2(p);
            -(a - b.max(0.0))
        })
        .collect()
}

/// `[n]` scores `1 - max_c p_c`: the least confident row scores highest.
pub fn least_confidence(probs: &[f32], classes: usize) -> Vec<f32> {
    probs.par_chunks(classes).map(|p| 1.0 - top2(p).0).collect()
}

/// `[n]` BALD mutual information `H(mean_t p_t) - mean_t H(p_t)` from `[T, n, C]` MC probs.
/// Computed in f64 and clamped at 0 (it is non-negative by Jensen; rounding can dip below).
pub fn mutual_information(mc: &[f32], passes: usize, n: usize, classes: usize) -> Vec<f32> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let mut mean = vec![0f64; classes];
            let mut mean_h = 0f64;
            for t in 0..passes {
                let row = &mc[(t * n + i) * classes..(t * n + i + 1) * classes];
                let mut h = 0f64;
                for (m, &x) in mean.iter_mut().zip(row) {
                    *m += x as f64;
                    if x > 0.0 {
                        h -= x as f64 * (x as f64).ln();
                    }
                }
                mean_h += h;
            }
            let inv = 1.0 / passes as f64;
            let h_mean: f64 = -mean
                .iter()
                .map(|&m| m * inv)
                .filter(|&m| m > 0.0)
                .map(|m| m * m.ln())
                .sum::<f64>();
            (h_mean - mean_h * inv).max(0.0) as f32
        })
        .collect()
}
