use super::{feature_dims, fused_probs, pool_features, to_ids, trivial, Strategy};
use crate::kernels::{kmeanspp, FirstCentre, GradEmbedding};
use crate::{ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// BADGE (docs/METHODS.md §3): k-means++ seeding on the gradient embeddings
/// `g_i = (p_i - onehot(argmax p_i)) ⊗ [z_1i; ...; z_Mi]` of the fused head. The first centre is
/// the largest `||g_i||` (ties to the lowest pool position), then D² sampling from the rng.
///
/// `g` is never built: distances use the factorisation of docs/METHODS.md §3.3 (see
/// [`GradEmbedding`]). Memory: one `[n, C]` copy of the probabilities plus `O(n)`; the feature
/// blocks are read in place. Each pick is one parallel pass of `O(n (C + Σd))`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Badge;

impl Strategy for Badge {
    fn name(&self) -> &'static str {
        "badge"
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
        let classes = ctx.classes();
        let probs = fused_probs(ctx)?.to_vec();
        let positions = {
            let z = pool_features(ctx, &dims)?;
            let g = GradEmbedding::new(probs, classes, z, None)?;
            kmeanspp(&g, budget, FirstCentre::MaxNorm, rng)?
        };
        Ok(to_ids(ctx, &positions))
    }
}
