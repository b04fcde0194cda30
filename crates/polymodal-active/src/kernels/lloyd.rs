//! Lloyd k-means on the fused features, then one representative per cluster (docs/METHODS.md §4.4,
//! with full-batch Lloyd iterations instead of scikit-learn's MiniBatchKMeans).

use rayon::prelude::*;

use super::argmax::better;
use super::blocks::{Blocks, OwnedBlocks};
use super::kmeanspp::{kmeanspp, FirstCentre};
use super::nearest::nearest;
use crate::ActiveError;
use polymodal_core::seed::Rng;

/// Result of [`lloyd`]: final centroids `M x [k, d_m]` and each point's `(cluster, squared
/// distance to its centroid)`.
#[derive(Debug, Clone)]
pub struct Clustering {
    pub centroids: OwnedBlocks,
    pub assignment: Vec<(usize, f32)>,
    /// Lloyd iterations actually run (stops early once no point changes cluster).
    pub iterations: usize,
}

/// k-means++ initialisation (first centre uniform from `rng`), then up to `iters` Lloyd iterations
/// (centroid update, reassignment). An empty cluster keeps its previous centroid. Deterministic
/// for a given `rng` state.
pub fn lloyd(
    points: &Blocks<'_>,
    k: usize,
    iters: usize,
    rng: &mut Rng,
) -> Result<Clustering, ActiveError> {
    let init = kmeanspp(points, k, FirstCentre::Random, rng)?;
    let mut centroids = OwnedBlocks::gather(points, &init);
    let mut assignment = nearest(points, &centroids.view())?;
    let mut iterations = 0;
    while iterations < iters {
        iterations += 1;
        update_centroids(points, &assignment, &mut centroids);
        let next = nearest(points, &centroids.view())?;
        let changed = next.iter().zip(&assignment).any(|(a, b)| a.0 != b.0);
        assignment = next;
        if !changed {
            break;
        }
    }
    Ok(Clustering {
        centroids,
        assignment,
        iterations,
    })
}

/// Each centroid becomes the mean of its members (summed in f64 in row order, so the result does
/// not depend on threading); empty clusters keep their centroid.
fn update_centroids(points: &Blocks<'_>, assignment: &[(usize, f32)], centroids: &mut OwnedBlocks) {
    let k = centroids.rows;
    let members = members_by_cluster(assignment, k);
    for (m, block) in centroids.data.iter_mut().enumerate() {
        let d = points.dims()[m];
        block
            .par_chunks_mut(d)
            .zip(members.par_iter())
            .for_each(|(row, mem)| {
                if mem.is_empty() {
                    return;
                }
                let mut sum = vec![0f64; d];
                for &i in mem {
                    for (s, &x) in sum.iter_mut().zip(points.row(m, i)) {
                        *s += x as f64;
                    }
                }
                let inv = 1.0 / mem.len() as f64;
                for (o, s) in row.iter_mut().zip(sum) {
                    *o = (s * inv) as f32;
                }
            });
    }
}

/// Member rows of each cluster, ascending.
fn members_by_cluster(assignment: &[(usize, f32)], k: usize) -> Vec<Vec<usize>> {
    let mut members = vec![Vec::new(); k];
    for (i, &(c, _)) in assignment.iter().enumerate() {
        if c < k {
            members[c].push(i);
        }
    }
    members
}

/// k-means selection: cluster `points` into `k` clusters and return `k` distinct rows, one per
/// cluster (the member nearest its centroid, ties to the lowest row), in cluster order. A cluster
/// left empty gets the unselected point nearest its centroid instead, so exactly `k` distinct rows
/// come back.
pub fn kmeans_select(
    points: &Blocks<'_>,
    k: usize,
    iters: usize,
    rng: &mut Rng,
) -> Result<Vec<usize>, ActiveError> {
    let n = points.rows();
    crate::check::budget(k, n)?;
    if k == 0 {
        return Ok(Vec::new());
    }
    let clustering = lloyd(points, k, iters, rng)?;
    // ties: lowest distance, then lowest row (negated distance under `better`'s max rule)
    let mut rep: Vec<Option<(usize, f32)>> = vec![None; k];
    for (i, &(c, d)) in clustering.assignment.iter().enumerate() {
        if c < k && !d.is_nan() {
            rep[c] = better(rep[c], Some((i, -d)));
        }
    }
    let mut taken = vec![false; n];
    for &(i, _) in rep.iter().flatten() {
        taken[i] = true;
    }
    let centroids = clustering.centroids.view();
    let mut picks = Vec::with_capacity(k);
    for (c, r) in rep.iter().enumerate() {
        let i = match r {
            Some((i, _)) => *i,
            None => {
                let i = nearest_unselected(points, &centroids, c, &taken).ok_or(
                    ActiveError::NonFinite {
                        what: "k-means features",
                        position: 0,
                    },
                )?;
                taken[i] = true;
                i
            }
        };
        picks.push(i);
    }
    Ok(picks)
}

/// The unselected row nearest centroid `c` (ties to the lowest row).
fn nearest_unselected(
    points: &Blocks<'_>,
    centroids: &Blocks<'_>,
    c: usize,
    taken: &[bool],
) -> Option<usize> {
    (0..points.rows())
        .into_par_iter()
        .filter(|&i| !taken[i])
        .map(|i| {
            let d = points.sq_dist_to(i, centroids, c);
            (!d.is_nan()).then_some((i, -d))
        })
        .reduce(|| None, better)
        .map(|(i, _)| i)
}
