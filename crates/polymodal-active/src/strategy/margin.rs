use super::{fused_probs, select_by_score, Strategy};
use crate::kernels::uncertainty;
use crate::{ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// Smallest margin `p(1) - p(2)` between the two most probable classes of the fused softmax
/// (methods.md §4.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Margin;

impl Margin {
    /// `[n]` scores `-(p(1) - p(2))` (higher = selected first).
    pub fn score(&self, ctx: &mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError> {
        let c = ctx.classes();
        Ok(uncertainty::neg_margin(fused_probs(ctx)?, c))
    }
}

impl Strategy for Margin {
    fn name(&self) -> &'static str {
        "margin"
    }

    fn select(
        &self,
        ctx: &mut dyn SelectionContext,
        budget: usize,
        _rng: &mut Rng,
    ) -> Result<Vec<usize>, ActiveError> {
        select_by_score(ctx, budget, "margin score", |ctx| self.score(ctx))
    }
}
