//! Benchmark entry points: a synthetic but consistent [`ArrayContext`] of any size, and a timed
//! selection. Generation is parallel and deterministic in `seed`.
//!
//! Memory of [`synthetic_context`]: `n · Σd` floats of features, `(2^M + M + 1) · n · C` floats
//! of probabilities and `n_labelled · Σd` floats of labelled features. MC probabilities
//! (`T · n · C`) are only added by [`add_mc_probs`].

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::Rng as _;
use rayon::prelude::*;

pub use crate::kernels::kmeanspp_step_bytes;
use crate::{ActiveError, ArrayContext, SelectionContext, StrategyKind, StrategyParams};
use polymodal_core::seed;

const GEN_ROWS: usize = 1024;

/// `[rows, width]` of values uniform in `[-1, 1)`, row chunks drawn from independent streams.
fn uniform_rows(rows: usize, width: usize, seed: u64, tag: &str) -> Vec<f32> {
    let mut out = vec![0f32; rows * width];
    out.par_chunks_mut((GEN_ROWS * width).max(1))
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut rng = seed::rng(seed, &format!("{tag}/{c}"));
            for x in chunk {
                *x = rng.random::<f32>() * 2.0 - 1.0;
            }
        });
    out
}

/// Row-wise softmax in place over `[rows, classes]`.
fn softmax_rows(x: &mut [f32], classes: usize) {
    x.par_chunks_mut(classes).for_each(|row| {
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    });
}

/// A context over `n` pool samples and `n_labelled` labelled ones (dataset indices
/// `0..n + n_labelled`, split at random), `classes` classes and one feature block per entry of
/// `dims`.
///
/// Features are uniform in `[-1, 1)`. Each modality contributes logits `l_m = w_mi · u` with a
/// per-sample strength `w_mi ∈ [0, 4)`, so dominance varies between samples; the subset
/// probabilities are `softmax(Σ_{m ∈ S} l_m)` (entry 0 is uniform, the last equals
/// `fused_probs`), the auxiliary head of modality m is `softmax(l_m)`. This mimics a linear
/// fusion head cheaply, without an `n · C · Σd` forward pass.
pub fn synthetic_context(
    n: usize,
    classes: usize,
    dims: &[usize],
    n_labelled: usize,
    seed: u64,
) -> ArrayContext {
    let total = n + n_labelled;
    let mut ids: Vec<usize> = (0..total).collect();
    ids.shuffle(&mut seed::rng(seed, "bench/split"));
    let mut labelled = ids[..n_labelled].to_vec();
    let mut pool = ids[n_labelled..].to_vec();
    labelled.sort_unstable();
    pool.sort_unstable();

    let m = dims.len();
    let features: Vec<Vec<f32>> = dims
        .iter()
        .enumerate()
        .map(|(k, &d)| uniform_rows(n, d, seed, &format!("bench/features/{k}")))
        .collect();
    let labelled_features: Vec<Vec<f32>> = dims
        .iter()
        .enumerate()
        .map(|(k, &d)| uniform_rows(n_labelled, d, seed, &format!("bench/labelled/{k}")))
        .collect();
    let logits: Vec<Vec<f32>> = (0..m)
        .map(|k| {
            let strength = uniform_rows(n, 1, seed, &format!("bench/strength/{k}"));
            let mut l = uniform_rows(n, classes, seed, &format!("bench/logits/{k}"));
            l.par_chunks_mut(classes.max(1))
                .zip(strength.par_iter())
                .for_each(|(row, &w)| {
                    let w = 2.0 * (w + 1.0);
                    row.iter_mut().for_each(|x| *x *= w);
                });
            l
        })
        .collect();
    let subset_probs: Vec<Vec<f32>> = (0..1usize << m)
        .map(|s| {
            let mut p = vec![0f32; n * classes];
            for (k, l) in logits.iter().enumerate() {
                if s & (1 << k) != 0 {
                    p.par_iter_mut()
                        .zip(l.par_iter())
                        .for_each(|(a, b)| *a += b);
                }
            }
            softmax_rows(&mut p, classes.max(1));
            p
        })
        .collect();
    let modality_probs = (0..m).map(|k| subset_probs[1 << k].clone()).collect();
    let fused = subset_probs[(1 << m) - 1].clone();
    ArrayContext {
        pool,
        labelled,
        classes,
        feature_dims: dims.to_vec(),
        fused_probs: Some(fused),
        modality_probs: Some(modality_probs),
        features: Some(features),
        labelled_features: Some(labelled_features),
        mc_probs: None,
        subset_probs: Some(subset_probs),
    }
}

/// Adds `[T, n, C]` MC probabilities: pass t is `softmax(ln p + ε_t)` with `ε_t` uniform in
/// `[-1, 1)`, so passes disagree most where `p` is flat.
pub fn add_mc_probs(ctx: &mut ArrayContext, passes: usize, seed: u64) {
    let c = ctx.classes.max(1);
    let fused = ctx.fused_probs.as_deref().unwrap_or(&[]);
    let n = fused.len() / c;
    let mut mc = Vec::with_capacity(passes * n * c);
    for t in 0..passes {
        let mut p = uniform_rows(n, c, seed, &format!("bench/mc/{t}"));
        p.par_iter_mut()
            .zip(fused.par_iter())
            .for_each(|(e, &q)| *e += q.max(1e-12).ln());
        softmax_rows(&mut p, c);
        mc.extend_from_slice(&p);
    }
    ctx.mc_probs = Some(mc);
}

/// Runs `kind` (default [`StrategyParams`]) once with the rng stream `"active/select"` of `seed`;
/// returns the selection and the wall time of `select` in seconds.
pub fn time_selection(
    kind: StrategyKind,
    ctx: &mut dyn SelectionContext,
    budget: usize,
    seed: u64,
) -> Result<(Vec<usize>, f64), ActiveError> {
    let strategy = kind.build(&StrategyParams::default());
    let mut rng = seed::rng(seed, "active/select");
    let start = Instant::now();
    let ids = strategy.select(ctx, budget, &mut rng)?;
    Ok((ids, start.elapsed().as_secs_f64()))
}
