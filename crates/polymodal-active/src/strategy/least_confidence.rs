use super::fused_probs;
use crate::kernels::uncertainty;
use crate::{ActiveError, SelectionContext};

/// Least confidence: smallest `max_c p_c` of the fused softmax (docs/METHODS.md §4.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastConfidence;

impl LeastConfidence {
    /// `[n]` scores `1 - max_c p_c` (higher = selected first).
    pub fn score(&self, ctx: &mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError> {
        let c = ctx.classes();
        Ok(uncertainty::least_confidence(fused_probs(ctx)?, c))
    }
}

score_strategy!(
    LeastConfidence,
    "least_confidence",
    "least-confidence score"
);
