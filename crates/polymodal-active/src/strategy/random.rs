use rand::seq::SliceRandom;

use super::{trivial, Strategy};
use crate::{ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// Uniform random sampling: a seeded shuffle of the pool, first `budget`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl Strategy for Random {
    fn name(&self) -> &'static str {
        "random"
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
        let mut ids = ctx.pool().to_vec();
        ids.shuffle(rng);
        ids.truncate(budget);
        Ok(ids)
    }
}
