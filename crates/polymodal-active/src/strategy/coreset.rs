use super::{feature_dims, pool_features, to_ids, trivial, Strategy};
use crate::kernels::{kcenter_greedy, Blocks};
use crate::{check, ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// Core-set by k-center greedy (docs/METHODS.md §4.2) on the fused features `z = [z_1; ...; z_M]`,
/// Euclidean, with the labelled points as initial centres. With no labelled points the first pick
/// is the pool point farthest from the pool mean. Deterministic (ignores the rng); ties go to the
/// lower pool position.
///
/// Memory: the pool blocks are used in place; the labelled features are copied once (the context
/// cannot lend both at the same time). Time: `n · n_labelled · Σd` for the initial distances
/// (tiled), then `n · Σd` per pick.
#[derive(Debug, Clone, Copy, Default)]
pub struct Coreset;

impl Strategy for Coreset {
    fn name(&self) -> &'static str {
        "coreset"
    }

    fn select(
        &self,
        ctx: &mut dyn SelectionContext,
        budget: usize,
        _rng: &mut Rng,
    ) -> Result<Vec<usize>, ActiveError> {
        if let Some(ids) = trivial(ctx, budget)? {
            return Ok(ids);
        }
        let dims = feature_dims(ctx)?;
        let n_labelled = ctx.labelled().len();
        let labelled = if n_labelled > 0 {
            let lf = ctx.labelled_features()?;
            check::blocks("labelled_features", lf, n_labelled, &dims)?;
            Some(lf.to_vec())
        } else {
            None
        };
        let positions = {
            let points = pool_features(ctx, &dims)?;
            let centres = match &labelled {
                Some(l) => Some(Blocks::new("labelled_features", l, &dims, n_labelled)?),
                None => None,
            };
            kcenter_greedy(&points, centres.as_ref(), budget)?
        };
        Ok(to_ids(ctx, &positions))
    }
}
