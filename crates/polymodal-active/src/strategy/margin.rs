use super::fused_probs;
use crate::kernels::uncertainty;
use crate::{ActiveError, SelectionContext};

/// Smallest margin `p(1) - p(2)` between the two most probable classes of the fused softmax
/// (docs/METHODS.md §4.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Margin;

impl Margin {
    /// `[n]` scores `-(p(1) - p(2))` (higher = selected first).
    pub fn score(&self, ctx: &mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError> {
        let c = ctx.classes();
        Ok(uncertainty::neg_margin(fused_probs(ctx)?, c))
    }
}

score_strategy!(Margin, "margin", "margin score");
