//! The [`Strategy`] trait, one file per strategy, and the budget handling they share.
//!
//! Every strategy returns exactly `budget` distinct dataset indices taken from `ctx.pool()`, in
//! pick order (best first for score-based strategies). `budget > pool` is
//! [`ActiveError::BudgetTooLarge`]; `budget == 0` returns nothing and `budget == pool` returns the
//! whole pool (in pool order), both without reading any array.

/// Implements [`Strategy`] for a score-only strategy: one with an inherent
/// `score(&self, ctx) -> Result<Vec<f32>, ActiveError>` (higher = selected first). Selection is
/// then the shared top-k of [`select_by_score`].
macro_rules! score_strategy {
    ($ty:ty, $name:literal, $what:literal) => {
        impl $crate::strategy::Strategy for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn select(
                &self,
                ctx: &mut dyn $crate::SelectionContext,
                budget: usize,
                _rng: &mut polymodal_core::seed::Rng,
            ) -> Result<Vec<usize>, $crate::ActiveError> {
                $crate::strategy::select_by_score(ctx, budget, $what, |ctx| self.score(ctx))
            }
        }
    };
}

mod badge;
mod bald;
mod bmmal;
mod coreset;
mod entropy;
mod kmeans;
mod least_confidence;
mod margin;
mod random;

pub use badge::Badge;
pub use bald::Bald;
pub use bmmal::{bmmal_scales, Bmmal};
pub use coreset::Coreset;
pub use entropy::Entropy;
pub use kmeans::Kmeans;
pub use least_confidence::LeastConfidence;
pub use margin::Margin;
pub use random::Random;

use crate::kernels::{top_k, Blocks};
use crate::{ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// An active-learning acquisition strategy.
pub trait Strategy: Send + Sync {
    /// The snake_case name, as in [`StrategyKind`](crate::StrategyKind).
    fn name(&self) -> &'static str;
    /// Returns `budget` distinct dataset indices taken from `ctx.pool()`.
    fn select(
        &self,
        ctx: &mut dyn SelectionContext,
        budget: usize,
        rng: &mut Rng,
    ) -> Result<Vec<usize>, ActiveError>;
}

/// Checks the budget and the pool; `Some(answer)` when the budget makes the selection trivial
/// (0 or the whole pool).
pub(crate) fn trivial(
    ctx: &dyn SelectionContext,
    budget: usize,
) -> Result<Option<Vec<usize>>, ActiveError> {
    let pool = ctx.pool();
    crate::check::budget(budget, pool.len())?;
    let mut sorted = pool.to_vec();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(ActiveError::DuplicatePoolIndex { index: w[0] });
    }
    Ok(match budget {
        0 => Some(Vec::new()),
        b if b == pool.len() => Some(pool.to_vec()),
        _ => None,
    })
}

/// Maps pool positions to dataset indices.
pub(crate) fn to_ids(ctx: &dyn SelectionContext, positions: &[usize]) -> Vec<usize> {
    let pool = ctx.pool();
    positions.iter().map(|&p| pool[p]).collect()
}

/// The shared path of score-only strategies: trivial budgets, `score`, then top-k (ties to the
/// lower pool position).
pub(crate) fn select_by_score(
    ctx: &mut dyn SelectionContext,
    budget: usize,
    what: &'static str,
    score: impl FnOnce(&mut dyn SelectionContext) -> Result<Vec<f32>, ActiveError>,
) -> Result<Vec<usize>, ActiveError> {
    if let Some(ids) = trivial(ctx, budget)? {
        return Ok(ids);
    }
    let scores = score(ctx)?;
    let n = ctx.pool().len();
    if scores.len() != n {
        return Err(ActiveError::shape(
            format!("{what} [n={n}]"),
            n,
            scores.len(),
        ));
    }
    let positions = top_k(&scores, budget, what)?;
    Ok(to_ids(ctx, &positions))
}

/// The fused probabilities `[n, C]`, shape-checked.
pub(crate) fn fused_probs(ctx: &mut dyn SelectionContext) -> Result<&[f32], ActiveError> {
    let (n, c) = (ctx.pool().len(), ctx.classes());
    let p = ctx.fused_probs()?;
    crate::check::probs("fused_probs", p, n, c)?;
    Ok(p)
}

/// The feature dims, checked against `ctx.modalities()`.
pub(crate) fn feature_dims(ctx: &dyn SelectionContext) -> Result<Vec<usize>, ActiveError> {
    let dims = ctx.feature_dims();
    if dims.len() != ctx.modalities() {
        return Err(ActiveError::shape(
            "feature_dims (one per modality)",
            ctx.modalities(),
            dims.len(),
        ));
    }
    Ok(dims)
}

/// The pool features as shape-checked blocks `M x [n, d_m]`.
pub(crate) fn pool_features<'a>(
    ctx: &'a mut dyn SelectionContext,
    dims: &[usize],
) -> Result<Blocks<'a>, ActiveError> {
    let n = ctx.pool().len();
    Blocks::new("features", ctx.features()?, dims, n)
}
