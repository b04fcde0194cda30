//! TypiClust (Hacohen, Dekel and Weinshall, ICML 2022), following its reference code: k-means
//! into `min(budget, max_clusters)` clusters, then repeatedly take the cluster with the fewest
//! picks so far (ties: the larger, then the lower cluster id; clusters of at most
//! `min_cluster_size` members only after every larger cluster is exhausted, where the reference
//! drops them, so that any `budget <= n` can be met) and pick its most typical unselected member.
//!
//! Typicality of `x` among the unselected members `R` of its cluster:
//! `1 / (mean of the K smallest ||x − y||², y ∈ R \ {x}) + 1e-5)`, `K = min(neighbors, |R| / 2)`
//! (squared distances, as faiss `IndexFlatL2` returns in the reference code). With `K = 0` the
//! lowest position is taken. Clusters larger than `max_reference` measure the neighbours among a
//! seeded subsample of `max_reference` members, bounding the cost at
//! `O(|R| · max_reference · Σd)` per visit.

use rayon::prelude::*;

use super::embed::{subsample, Joint};
use super::ColdStartParams;
use crate::kernels::argmax::better;
use crate::kernels::dot::sq_dist;
use crate::kernels::lloyd::lloyd;
use crate::ActiveError;
use polymodal_core::seed::Rng;

pub(super) fn select(
    joint: &Joint,
    budget: usize,
    p: &ColdStartParams,
    rng: &mut Rng,
) -> Result<Vec<usize>, ActiveError> {
    let k = budget.min(p.typiclust_max_clusters);
    let clustering = lloyd(&joint.view(), k, p.kmeans_iters, rng)?;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &(c, _)) in clustering.assignment.iter().enumerate() {
        members[c.min(k - 1)].push(i);
    }
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    let mut picks = vec![0usize; k];
    let mut selected = Vec::with_capacity(budget);
    for _ in 0..budget {
        let c = (0..k)
            .filter(|&c| !members[c].is_empty())
            .min_by_key(|&c| {
                (
                    sizes[c] <= p.typiclust_min_cluster_size,
                    picks[c],
                    std::cmp::Reverse(sizes[c]),
                    c,
                )
            })
            .expect("budget <= n leaves an unselected member");
        let pos = most_typical(joint, &members[c], p, rng);
        selected.push(members[c].remove(pos));
        picks[c] += 1;
    }
    Ok(selected)
}

/// Index into `remaining` (ascending pool positions) of its most typical member; ties go to the
/// lowest position.
fn most_typical(joint: &Joint, remaining: &[usize], p: &ColdStartParams, rng: &mut Rng) -> usize {
    let kk = p.typiclust_neighbors.min(remaining.len() / 2);
    if kk == 0 {
        return 0;
    }
    let reference: Vec<usize> = if remaining.len() > p.typiclust_max_reference {
        subsample(rng, remaining.len(), p.typiclust_max_reference)
            .into_iter()
            .map(|r| remaining[r])
            .collect()
    } else {
        remaining.to_vec()
    };
    remaining
        .par_iter()
        .enumerate()
        .map(|(pos, &x)| {
            let row = joint.row(x);
            // the kk smallest distances, ascending (kk <= 20 by default: insertion is cheapest)
            let mut near: Vec<f32> = Vec::with_capacity(kk + 1);
            for &y in &reference {
                if y == x {
                    continue;
                }
                let d = sq_dist(row, joint.row(y));
                if near.len() < kk || d < near[kk - 1] {
                    let at = near.partition_point(|&v| v <= d);
                    near.insert(at, d);
                    near.truncate(kk);
                }
            }
            let mean = near.iter().map(|&d| d as f64).sum::<f64>() / near.len().max(1) as f64;
            Some((pos, (1.0 / (mean + 1e-5)) as f32))
        })
        .reduce(|| None, better)
        .map_or(0, |(pos, _)| pos)
}
