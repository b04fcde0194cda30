use super::{feature_dims, pool_features, to_ids, trivial, Strategy};
use crate::kernels::kmeans_select;
use crate::{ActiveError, SelectionContext};
use polymodal_core::seed::Rng;

/// k-means sampling (docs/METHODS.md §4.4): Lloyd k-means with `budget` clusters on the fused pool
/// features (k-means++ initialisation from the rng, `iters` iterations), then from each cluster
/// the member nearest its centroid. Empty clusters are filled with the unselected point nearest
/// their centroid, so exactly `budget` distinct ids come back.
///
/// Time `O(iters · n · budget · Σd)`; memory: the blocks in place plus `budget · Σd` centroids.
#[derive(Debug, Clone, Copy)]
pub struct Kmeans {
    pub iters: usize,
}

impl Strategy for Kmeans {
    fn name(&self) -> &'static str {
        "kmeans"
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
        let dims = feature_dims(ctx)?;
        let positions = {
            let points = pool_features(ctx, &dims)?;
            kmeans_select(&points, budget, self.iters, rng)?
        };
        Ok(to_ids(ctx, &positions))
    }
}
