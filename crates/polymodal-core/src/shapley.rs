//! Exact per-sample Shapley values of the modalities, from the fused softmax of every modality
//! subset (the others' features zeroed at the fusion input, docs/METHODS.md §1.3). Used by BMMAL and
//! as an evaluation metric (mean contribution at the true label, docs/METHODS.md §1.8).
//!
//! Cost: `O(n · C · M · 2^(M-1))` time and `M · n · C` floats of output, plus the `2^M` subset
//! forward passes the caller already made. [`MAX_MODALITIES`] bounds M.
//!
//! ```
//! use polymodal_core::shapley::{contributions_at, shapley_values};
//! // one sample, two classes, two modalities; index = bitmask of kept modalities
//! let v = vec![
//!     vec![0.5, 0.5], // {}      (both dropped)
//!     vec![0.7, 0.3], // {m0}
//!     vec![0.5, 0.5], // {m1}
//!     vec![0.9, 0.1], // {m0, m1} = fused
//! ];
//! let phi = shapley_values(&v, 2, 1, 2).unwrap();
//! // phi_0 = ((0.9 - 0.5) + (0.7 - 0.5)) / 2 = 0.3, phi_1 = ((0.9 - 0.7) + (0.5 - 0.5)) / 2 = 0.1
//! assert!((phi[0][0] - 0.3).abs() < 1e-6 && (phi[1][0] - 0.1).abs() < 1e-6);
//! let c = contributions_at(&phi, 1, 2, &[0]).unwrap();
//! assert!((c[0][0] - 0.75).abs() < 1e-6 && (c[1][0] - 0.25).abs() < 1e-6);
//! ```

use rayon::prelude::*;

/// Inputs the Shapley computation cannot use; each names the array at fault.
#[derive(Debug, thiserror::Error)]
pub enum ShapleyError {
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        what: String,
        expected: usize,
        got: usize,
    },
    #[error("at least one modality and one class are needed")]
    Empty,
    #[error(
        "{modalities} modalities: exact Shapley values support at most {max} (cost grows as 2^M)"
    )]
    TooManyModalities { modalities: usize, max: usize },
    #[error("class {class} of sample {sample} is out of range for {classes} classes")]
    ClassOutOfRange {
        class: usize,
        sample: usize,
        classes: usize,
    },
    #[error("row {row} is out of range for {n} samples")]
    RowOutOfRange { row: usize, n: usize },
}

/// `probs` must be `[n, classes]`.
fn check_probs(what: &str, probs: &[f32], n: usize, classes: usize) -> Result<(), ShapleyError> {
    if classes == 0 {
        return Err(ShapleyError::Empty);
    }
    if probs.len() != n * classes {
        return Err(ShapleyError::Shape {
            what: format!("{what} [n={n}, C={classes}]"),
            expected: n * classes,
            got: probs.len(),
        });
    }
    Ok(())
}

/// `subset` must hold `2^modalities` arrays of `[n, classes]`.
pub fn check_subset_probs(
    subset: &[Vec<f32>],
    modalities: usize,
    n: usize,
    classes: usize,
) -> Result<(), ShapleyError> {
    check_modalities(modalities)?;
    let count = 1usize << modalities;
    if subset.len() != count {
        return Err(ShapleyError::Shape {
            what: format!("subset_probs (number of subsets, 2^M for M={modalities})"),
            expected: count,
            got: subset.len(),
        });
    }
    for (s, p) in subset.iter().enumerate() {
        check_probs(&format!("subset_probs[{s}]"), p, n, classes)?;
    }
    Ok(())
}

/// Largest number of modalities the exact Shapley computation accepts (`2^M` subsets).
pub const MAX_MODALITIES: usize = 8;

/// `1 <= modalities <= MAX_MODALITIES`.
pub fn check_modalities(modalities: usize) -> Result<(), ShapleyError> {
    if modalities == 0 {
        return Err(ShapleyError::Empty);
    }
    if modalities > MAX_MODALITIES {
        return Err(ShapleyError::TooManyModalities {
            modalities,
            max: MAX_MODALITIES,
        });
    }
    Ok(())
}

/// Shapley weight `|S|! (M - |S| - 1)! / M!` for a coalition of size `s` not containing the player.
fn weight(s: usize, m: usize) -> f64 {
    let fact = |k: usize| (1..=k).map(|x| x as f64).product::<f64>();
    fact(s) * fact(m - s - 1) / fact(m)
}

/// `(coalition bitmask without player m, Shapley weight)` pairs in a fixed order, so the sums
/// over them are deterministic.
fn coalitions_without(m: usize, modalities: usize) -> Vec<(usize, f32)> {
    let bit = 1usize << m;
    (0..1usize << modalities)
        .filter(|s| s & bit == 0)
        .map(|s| (s, weight(s.count_ones() as usize, modalities) as f32))
        .collect()
}

/// Exact Shapley value of each modality per sample and class.
///
/// `subset_probs`: `2^M x [n, C]`, index = bitmask of kept modalities (entry 0 = all dropped,
/// entry `2^M - 1` = fused). Returns `M x [n, C]` with
/// `phi_m = Σ_{S ⊆ M\{m}} |S|!(M-|S|-1)!/M! · (v(S ∪ {m}) - v(S))`, v = subset probs.
/// For M = 2 this is docs/METHODS.md §1.3. Efficiency holds: `Σ_m phi_m = v(all) - v(∅)`.
pub fn shapley_values(
    subset_probs: &[Vec<f32>],
    modalities: usize,
    n: usize,
    classes: usize,
) -> Result<Vec<Vec<f32>>, ShapleyError> {
    check_subset_probs(subset_probs, modalities, n, classes)?;
    let out = (0..modalities)
        .map(|m| {
            let bit = 1usize << m;
            let terms = coalitions_without(m, modalities);
            let mut phi = vec![0f32; n * classes];
            phi.par_iter_mut().enumerate().for_each(|(k, out)| {
                *out = terms
                    .iter()
                    .map(|&(s, w)| w * (subset_probs[s | bit][k] - subset_probs[s][k]))
                    .sum();
            });
            phi
        })
        .collect();
    Ok(out)
}

/// Shapley value of each modality at one class per sample: `M x [n]`, equal to
/// `shapley_values(..)[m][i * C + class_of_sample[i]]` without the `M x [n, C]` intermediate.
pub fn shapley_values_at(
    subset_probs: &[Vec<f32>],
    modalities: usize,
    n: usize,
    classes: usize,
    class_of_sample: &[usize],
) -> Result<Vec<Vec<f32>>, ShapleyError> {
    check_subset_probs(subset_probs, modalities, n, classes)?;
    check_classes(class_of_sample, n, classes)?;
    let out = (0..modalities)
        .map(|m| {
            let bit = 1usize << m;
            let terms = coalitions_without(m, modalities);
            class_of_sample
                .par_iter()
                .enumerate()
                .map(|(i, &c)| {
                    let k = i * classes + c;
                    terms
                        .iter()
                        .map(|&(s, w)| w * (subset_probs[s | bit][k] - subset_probs[s][k]))
                        .sum()
                })
                .collect()
        })
        .collect();
    Ok(out)
}

fn check_classes(class_of_sample: &[usize], n: usize, classes: usize) -> Result<(), ShapleyError> {
    if class_of_sample.len() != n {
        return Err(ShapleyError::Shape {
            what: format!("class_of_sample [n={n}]"),
            expected: n,
            got: class_of_sample.len(),
        });
    }
    if let Some((i, &c)) = class_of_sample
        .iter()
        .enumerate()
        .find(|(_, &c)| c >= classes)
    {
        return Err(ShapleyError::ClassOutOfRange {
            class: c,
            sample: i,
            classes,
        });
    }
    Ok(())
}

/// `c_m = |phi_m| / Σ_k |phi_k|` per sample from Shapley values at one class, `M x [n]`
/// (see [`contributions_at`]; all-zero samples get `1/M`).
pub fn normalise_contributions(phi_at: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let m = phi_at.len();
    let n = phi_at.first().map_or(0, Vec::len);
    let mut out = vec![vec![0f32; n]; m];
    for i in 0..n {
        let total: f32 = phi_at.iter().map(|p| p[i].abs()).sum();
        for (o, p) in out.iter_mut().zip(phi_at) {
            o[i] = if total > 0.0 {
                p[i].abs() / total
            } else {
                1.0 / m as f32
            };
        }
    }
    out
}

/// Normalised absolute contributions `c_m = |phi_m| / Σ_k |phi_k|` at one class per sample.
///
/// `phi`: `M x [n, C]` from [`shapley_values`]; `class_of_sample`: `[n]` (the pseudo-label for
/// BMMAL, the true label for evaluation). Returns `M x [n]`; each sample's contributions sum to 1.
/// If every `|phi_m|` is 0 the sample gets `1/M` each. (This replaces the `+ 1e-12` of the
/// denominator in docs/METHODS.md §1.3: same values whenever the sum is not tiny, exact normalisation
/// always, no 0/0.)
pub fn contributions_at(
    phi: &[Vec<f32>],
    n: usize,
    classes: usize,
    class_of_sample: &[usize],
) -> Result<Vec<Vec<f32>>, ShapleyError> {
    let m = phi.len();
    check_modalities(m)?;
    for (k, p) in phi.iter().enumerate() {
        check_probs(&format!("phi[{k}]"), p, n, classes)?;
    }
    check_classes(class_of_sample, n, classes)?;
    let at: Vec<Vec<f32>> = phi
        .iter()
        .map(|p| {
            class_of_sample
                .iter()
                .enumerate()
                .map(|(i, &c)| p[i * classes + c])
                .collect()
        })
        .collect();
    Ok(normalise_contributions(&at))
}

/// Mean contribution of each modality over all samples: `M x [n]` → `[M]`.
pub fn mean_contributions(contributions: &[Vec<f32>]) -> Vec<f32> {
    contributions
        .iter()
        .map(|c| {
            if c.is_empty() {
                0.0
            } else {
                (c.iter().map(|&x| x as f64).sum::<f64>() / c.len() as f64) as f32
            }
        })
        .collect()
}

/// Mean contribution of each modality over the samples at `rows` (positions into `[n]`).
/// An empty `rows` gives zeros.
pub fn mean_contributions_of(
    contributions: &[Vec<f32>],
    rows: &[usize],
) -> Result<Vec<f32>, ShapleyError> {
    contributions
        .iter()
        .map(|c| {
            let mut sum = 0f64;
            for &r in rows {
                let x = c
                    .get(r)
                    .ok_or(ShapleyError::RowOutOfRange { row: r, n: c.len() })?;
                sum += *x as f64;
            }
            Ok(if rows.is_empty() {
                0.0
            } else {
                (sum / rows.len() as f64) as f32
            })
        })
        .collect()
}

/// BMMAL dominance scales from contributions `M x [n]`: `s_m = 1 - (max_k c_k - c_m)`.
/// For M = 2 this is docs/METHODS.md §1.4: the dominant modality gets 1, the weak one `1 - |c1 - c2|`,
/// ties give both 1.
pub fn dominance_scales(contributions: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let n = contributions.first().map_or(0, Vec::len);
    let mut out = vec![vec![0f32; n]; contributions.len()];
    for i in 0..n {
        let max = contributions
            .iter()
            .map(|c| c[i])
            .fold(f32::NEG_INFINITY, f32::max);
        for (o, c) in out.iter_mut().zip(contributions) {
            o[i] = 1.0 - (max - c[i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_over_coalitions() {
        for m in 1..=MAX_MODALITIES {
            // Σ_S w(|S|) over subsets of the other m-1 players = 1
            let total: f64 = (0..m)
                .map(|s| {
                    let binom = (1..=s).fold(1f64, |b, k| b * (m - 1 - s + k) as f64 / k as f64);
                    binom * weight(s, m)
                })
                .sum();
            assert!((total - 1.0).abs() < 1e-12, "m={m}: {total}");
        }
    }

    #[test]
    fn rejects_too_many_modalities() {
        let err = shapley_values(&[], MAX_MODALITIES + 1, 1, 1).unwrap_err();
        assert!(matches!(err, ShapleyError::TooManyModalities { .. }));
    }

    #[test]
    fn all_zero_phi_gives_uniform_contributions() {
        let phi = vec![vec![0.0; 2]; 3];
        let c = contributions_at(&phi, 1, 2, &[1]).unwrap();
        for m in &c {
            assert!((m[0] - 1.0 / 3.0).abs() < 1e-7);
        }
    }
}
