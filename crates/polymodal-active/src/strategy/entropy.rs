use super::fused_probs;
use crate::kernels::uncertainty;
use crate::{ActiveError, SelectionContext};

/// Maximum entropy `H(p) = -Σ_c p_c ln p_c` of the fused softmax (docs/METHODS.md §4.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Entropy;

impl Entropy {
    /// `[n]` entropies of the fused probabilities (higher = selected first).
    pub fn score(&self, ctx: &mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError> {
        let c = ctx.classes();
        Ok(uncertainty::entropy(fused_probs(ctx)?, c))
    }
}

score_strategy!(Entropy, "entropy", "entropy score");
