use super::{fused_probs, select_by_score, Strategy};
use crate::kernels::uncertainty;
use crate::{ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// Least confidence: smallest `max_c p_c` of the fused softmax (methods.md §4.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastConfidence;

impl LeastConfidence {
    /// `[n]` scores `1 - max_c p_c` (higher = selected first).
    pub fn score(&self, ctx: &mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError> {
        let c = ctx.classes();
        Ok(uncertainty::least_confidence(fused_probs(ctx)?, c))
    }
}

impl Strategy for LeastConfidence {
    fn name(&self) -> &'static str {
        "least_confidence"
    }

    fn select(
        &self,
        ctx: &mut dyn SelectionContext,
        budget: usize,
        _rng: &mut Rng,
    ) -> Result<Vec<usize>, ActiveError> {
        select_by_score(ctx, budget, "least-confidence score", |ctx| self.score(ctx))
    }
}
