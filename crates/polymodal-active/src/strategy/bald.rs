use crate::kernels::uncertainty;
use crate::{ActiveError, SelectionContext};

/// BALD with MC dropout (docs/METHODS.md §4.3): top mutual information
/// `MI = H(mean_t p_t) - mean_t H(p_t)` over `passes` stochastic fused passes.
#[derive(Debug, Clone, Copy)]
pub struct Bald {
    /// Number of MC-dropout passes `T >= 1`.
    pub passes: usize,
}

impl Bald {
    /// `[n]` mutual information (higher = selected first).
    pub fn score(&self, ctx: &mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError> {
        if self.passes == 0 {
            return Err(ActiveError::InvalidParam {
                name: "mc_passes",
                value: "0".into(),
                reason: "BALD needs at least one MC-dropout pass",
            });
        }
        let (n, c, t) = (ctx.pool().len(), ctx.classes(), self.passes);
        let mc = ctx.mc_probs(t)?;
        if mc.len() != t * n * c {
            return Err(ActiveError::shape(
                format!("mc_probs [T={t}, n={n}, C={c}]"),
                t * n * c,
                mc.len(),
            ));
        }
        Ok(uncertainty::mutual_information(mc, t, n, c))
    }
}

score_strategy!(Bald, "bald", "BALD mutual information");
