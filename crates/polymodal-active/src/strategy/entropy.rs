use super::{fused_probs, select_by_score, Strategy};
use crate::kernels::uncertainty;
use crate::{ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// Maximum entropy `H(p) = -Σ_c p_c ln p_c` of the fused softmax (methods.md §4.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Entropy;

impl Entropy {
    /// `[n]` entropies of the fused probabilities (higher = selected first).
    pub fn score(&self, ctx: &mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError> {
        let c = ctx.classes();
        Ok(uncertainty::entropy(fused_probs(ctx)?, c))
    }
}

impl Strategy for Entropy {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn select(
        &self,
        ctx: &mut dyn SelectionContext,
        budget: usize,
        _rng: &mut Rng,
    ) -> Result<Vec<usize>, ActiveError> {
        select_by_score(ctx, budget, "entropy score", |ctx| self.score(ctx))
    }
}
