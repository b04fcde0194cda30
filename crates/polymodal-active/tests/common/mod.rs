//! Test fixtures: an [`ArrayContext`] whose arrays all come from one tiny random linear fusion
//! head, so fused, subset, auxiliary and MC probabilities are mutually consistent.

#![allow(dead_code)]

use polymodal_active::ArrayContext;
use polymodal_core::seed::{rng, Rng};
use rand::seq::SliceRandom;
use rand::Rng as _;

pub fn uniform(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|x| (x - max).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// Sizes of the fixture dataset.
pub struct Sizes {
    pub pool: usize,
    pub labelled: usize,
    /// Dataset indices in neither set (so the pool is a strict subset of the rest).
    pub excluded: usize,
    pub classes: usize,
    pub dims: Vec<usize>,
    pub mc_passes: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            pool: 60,
            labelled: 12,
            excluded: 8,
            classes: 5,
            dims: vec![6, 4],
            mc_passes: 10,
        }
    }
}

/// Logits of the linear head `W [z_1; ...; z_M] + b` with the modalities outside `keep` (bitmask)
/// zeroed and the kept features multiplied by `mask` (dropout), for pool row `i`.
fn head_logits(
    w: &[Vec<f32>],
    b: &[f32],
    z: &[Vec<f32>],
    dims: &[usize],
    i: usize,
    keep: usize,
    mask: Option<&[Vec<f32>]>,
) -> Vec<f32> {
    let classes = b.len();
    let mut out = b.to_vec();
    for (m, &d) in dims.iter().enumerate() {
        if keep & (1 << m) == 0 {
            continue;
        }
        for (c, o) in out.iter_mut().enumerate() {
            for k in 0..d {
                let x = z[m][i * d + k] * mask.map_or(1.0, |mk| mk[m][i * d + k]);
                *o += w[m][c * d + k] * x;
            }
        }
    }
    debug_assert_eq!(out.len(), classes);
    out
}

/// A context whose arrays are all produced by one random linear fusion head.
pub fn linear_head_context(sizes: &Sizes, seed: u64) -> ArrayContext {
    let mut r = rng(seed, "fixture");
    let Sizes {
        pool: n,
        labelled: nl,
        excluded,
        classes: c,
        ref dims,
        mc_passes: t,
    } = *sizes;
    let mut ids: Vec<usize> = (0..n + nl + excluded).collect();
    ids.shuffle(&mut r);
    let labelled = ids[..nl].to_vec();
    let pool = ids[nl + excluded..].to_vec();
    let m = dims.len();
    let z: Vec<Vec<f32>> = dims.iter().map(|&d| uniform(&mut r, n * d)).collect();
    let zl: Vec<Vec<f32>> = dims.iter().map(|&d| uniform(&mut r, nl * d)).collect();
    // fused head (modality m's block of W scaled so the modalities differ in strength)
    let w: Vec<Vec<f32>> = dims
        .iter()
        .enumerate()
        .map(|(k, &d)| {
            uniform(&mut r, c * d)
                .into_iter()
                .map(|x| x * (1.0 + 2.0 * k as f32))
                .collect()
        })
        .collect();
    let b = uniform(&mut r, c);
    let full = (1 << m) - 1;
    let subset: Vec<Vec<f32>> = (0..=full)
        .map(|s| {
            (0..n)
                .flat_map(|i| softmax(&head_logits(&w, &b, &z, dims, i, s, None)))
                .collect()
        })
        .collect();
    // auxiliary heads: their own weights over one block
    let modality_probs: Vec<Vec<f32>> = (0..m)
        .map(|k| {
            let wa: Vec<Vec<f32>> = dims.iter().map(|&d| uniform(&mut r, c * d)).collect();
            let ba = uniform(&mut r, c);
            (0..n)
                .flat_map(|i| softmax(&head_logits(&wa, &ba, &z, dims, i, 1 << k, None)))
                .collect()
        })
        .collect();
    // MC dropout: inverted dropout with p = 0.5 on the fusion input
    let mut mc = Vec::with_capacity(t * n * c);
    for _ in 0..t {
        let mask: Vec<Vec<f32>> = dims
            .iter()
            .map(|&d| {
                (0..n * d)
                    .map(|_| if r.random::<bool>() { 2.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        for i in 0..n {
            mc.extend(softmax(&head_logits(
                &w,
                &b,
                &z,
                dims,
                i,
                full,
                Some(&mask),
            )));
        }
    }
    ArrayContext {
        pool,
        labelled,
        classes: c,
        feature_dims: dims.clone(),
        fused_probs: Some(subset[full].clone()),
        modality_probs: Some(modality_probs),
        features: Some(z),
        labelled_features: Some(zl),
        mc_probs: Some(mc),
        subset_probs: Some(subset),
    }
}
