//! The (block-scaled) BADGE gradient embedding, never materialised (docs/METHODS.md §3.3).
//!
//! Row `i` is `g_i = concat_m (s_mi · a_i ⊗ z_mi)` with `a_i = p_i - onehot(argmax p_i)` from the
//! fused probabilities. BADGE is the case `s = 1` (then `g_i = a_i ⊗ [z_1i; ...; z_Mi]`). Distances
//! use the factorisation
//!
//! `||g_i - g_j||² = Σ_m [ s_mi²||a_i||²||z_mi||² + s_mj²||a_j||²||z_mj||² - 2 s_mi s_mj (a_i·a_j)(z_mi·z_mj) ]`,
//!
//! clamped at 0, so memory is `O(n (C + M))` on top of the borrowed feature blocks, and one
//! distance costs `O(C + Σ d_m)`.

use rayon::prelude::*;

use super::blocks::Blocks;
use super::dot::dot;
use super::kmeanspp::Metric;
use crate::{check, ActiveError};

#[derive(Debug, Clone)]
pub struct GradEmbedding<'a> {
    /// `[n, C]`: `p - onehot(argmax p)`.
    a: Vec<f32>,
    classes: usize,
    z: Blocks<'a>,
    /// `M x [n]`, or `None` for all ones.
    scales: Option<Vec<Vec<f32>>>,
    /// `[n]`: `||g_i||²`.
    sq_norms: Vec<f32>,
}

/// `argmax_c p_c` per row, ties to the lowest class: `[n]`.
pub fn pseudo_labels(probs: &[f32], classes: usize) -> Vec<usize> {
    probs
        .par_chunks(classes)
        .map(polymodal_core::metrics::argmax)
        .collect()
}

impl<'a> GradEmbedding<'a> {
    /// `probs`: fused softmax `[n, C]` (taken by value and turned into `a` in place); `z`: the
    /// fusion-input feature blocks `M x [n, d_m]`, borrowed; `scales`: per-modality block scales
    /// `M x [n]` (BMMAL) or `None` (BADGE).
    pub fn new(
        probs: Vec<f32>,
        classes: usize,
        z: Blocks<'a>,
        scales: Option<Vec<Vec<f32>>>,
    ) -> Result<Self, ActiveError> {
        let n = z.rows();
        check::probs("fused_probs", &probs, n, classes)?;
        if let Some(s) = &scales {
            check::blocks("scales", s, n, &vec![1; z.modalities()])?;
        }
        let labels = pseudo_labels(&probs, classes);
        let mut a = probs;
        a.par_chunks_mut(classes)
            .zip(labels.par_iter())
            .for_each(|(row, &y)| row[y] -= 1.0);
        let mut emb = Self {
            a,
            classes,
            z,
            scales,
            sq_norms: Vec::new(),
        };
        let block_norms: Vec<Vec<f32>> = (0..emb.z.modalities())
            .map(|m| emb.z.block_sq_norms(m))
            .collect();
        let mut sq_norms = vec![0f32; n];
        sq_norms.par_iter_mut().enumerate().for_each(|(i, o)| {
            let a = emb.a_row(i);
            let na = dot(a, a);
            *o = (0..block_norms.len())
                .map(|m| emb.scale(m, i).powi(2) * na * block_norms[m][i])
                .sum();
        });
        emb.sq_norms = sq_norms;
        Ok(emb)
    }

    /// `a_i = p_i - onehot(argmax p_i)`: `[C]`.
    #[inline]
    pub fn a_row(&self, i: usize) -> &[f32] {
        &self.a[i * self.classes..(i + 1) * self.classes]
    }

    /// `s_mi` (1 without scales).
    #[inline]
    pub fn scale(&self, m: usize, i: usize) -> f32 {
        self.scales.as_ref().map_or(1.0, |s| s[m][i])
    }

    pub fn features(&self) -> &Blocks<'a> {
        &self.z
    }
}

impl Metric for GradEmbedding<'_> {
    fn rows(&self) -> usize {
        self.z.rows()
    }

    fn sq_norm(&self, i: usize) -> f32 {
        self.sq_norms[i]
    }

    #[inline]
    fn sq_dist(&self, i: usize, j: usize) -> f32 {
        let aa = dot(self.a_row(i), self.a_row(j));
        let zz: f32 = match &self.scales {
            None => (0..self.z.modalities())
                .map(|m| dot(self.z.row(m, i), self.z.row(m, j)))
                .sum(),
            Some(s) => (0..self.z.modalities())
                .map(|m| s[m][i] * s[m][j] * dot(self.z.row(m, i), self.z.row(m, j)))
                .sum(),
        };
        (self.sq_norms[i] + self.sq_norms[j] - 2.0 * aa * zz).max(0.0)
    }
}

/// Bytes one k-means++ distance-update step over this embedding reads or writes, for an effective
/// bandwidth of `bytes * steps / seconds`: per row, `a_i` (`C` f32), the feature rows (`Σ d_m`
/// f32), the scales (`M` f32, BMMAL), `||g_i||²` (1 f32), plus the read and write of `D_i`
/// (2 f32) and the chosen flag (1 byte).
pub fn kmeanspp_step_bytes(n: usize, classes: usize, dims: &[usize]) -> usize {
    let floats = classes + dims.iter().sum::<usize>() + dims.len() + 1 + 2;
    n * (4 * floats + 1)
}
