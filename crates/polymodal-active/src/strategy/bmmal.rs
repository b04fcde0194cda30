use super::{feature_dims, fused_probs, pool_features, to_ids, trivial, Strategy};
use crate::kernels::{kmeanspp, pseudo_labels, FirstCentre, GradEmbedding};
use crate::shapley::{dominance_scales, normalise_contributions, shapley_values_at};
use crate::{check, ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// BMMAL (docs/METHODS.md §1): BADGE with each modality's block of the gradient embedding scaled by
/// how much that modality dominates the sample's prediction.
///
/// 1. Exact Shapley values of the modalities from `ctx.subset_probs()` at the pseudo-label
///    `ŷ = argmax p` of the fused head, normalised to contributions `c_m` (sum 1).
/// 2. Scales `s_m = 1 - (max_k c_k - c_m)`: the dominant modality keeps 1; for M = 2 the weak one
///    gets `1 - |c1 - c2|` (docs/METHODS.md §1.4).
/// 3. `g_i = concat_m (s_mi · a_i ⊗ z_mi)` with `a_i = p_i - onehot(ŷ_i)` from the fused
///    probabilities for every block (docs/METHODS.md §1.5), and k-means++ seeding exactly as
///    [`Badge`](super::Badge), with the blockwise factorised distance.
///
/// With all scales 1 this is BADGE (same seed ⇒ same selection).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bmmal;

/// BMMAL block scales `M x [n]` from the subset probabilities `2^M x [n, C]` and the fused
/// probabilities `[n, C]` (steps 1–2 above).
pub fn bmmal_scales(
    subset_probs: &[Vec<f32>],
    fused_probs: &[f32],
    modalities: usize,
    n: usize,
    classes: usize,
) -> Result<Vec<Vec<f32>>, ActiveError> {
    check::probs("fused_probs", fused_probs, n, classes)?;
    let labels = pseudo_labels(fused_probs, classes);
    let phi = shapley_values_at(subset_probs, modalities, n, classes, &labels)?;
    Ok(dominance_scales(&normalise_contributions(&phi)))
}

impl Strategy for Bmmal {
    fn name(&self) -> &'static str {
        "bmmal"
    }

    fn select(
        &self,
        ctx: &mut dyn SelectionContext,
        budget: usize,
        rng: &mut Rng,
    ) -> Result<Vec<usize>, ActiveError> {
        if let Some(ids) = trivial(ctx, budget)? {
            return Ok(ids);
        }
        let dims = feature_dims(ctx)?;
        let (n, classes, m) = (ctx.pool().len(), ctx.classes(), ctx.modalities());
        let probs = fused_probs(ctx)?.to_vec();
        let scales = bmmal_scales(ctx.subset_probs()?, &probs, m, n, classes)?;
        let positions = {
            let z = pool_features(ctx, &dims)?;
            let g = GradEmbedding::new(probs, classes, z, Some(scales))?;
            kmeanspp(&g, budget, FirstCentre::MaxNorm, rng)?
        };
        Ok(to_ids(ctx, &positions))
    }
}
