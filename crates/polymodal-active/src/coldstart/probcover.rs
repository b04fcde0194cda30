//! ProbCover (Yehuda, Dekel, Hacohen and Weinshall, NeurIPS 2022): greedy maximum coverage of
//! δ-balls. A candidate covers a point when `||e(c) − e(p)|| < δ` (strict, Euclidean, as the
//! reference code's `torch.cdist(...) < delta`); each step takes the candidate covering the most
//! points not yet covered (ties: lowest position, like its `argmax` over degrees).
//!
//! Bounded memory instead of the reference's δ-ball edge list (up to `n²` edges): the covered
//! points are the seeded coverage subsample `C` (all of the pool when it is not larger), the
//! candidates are every pool row, and coverage counts are recomputed on demand, `O(|C| Σd)` each.
//! Counts only fall as points get covered, so the lazy greedy picks exactly what the greedy over
//! all candidates picks. Once `C` is fully covered the remaining picks are drawn uniformly from
//! the unselected rows (the reference would keep taking position 0 there).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::embed::{subsample, Joint};
use super::{ColdStartParams, SelectionStats};
use crate::kernels::dot::sq_dist;
use polymodal_core::seed::Rng;

/// Uncovered coverage points within `δ` of `row`.
fn count(row: &[f32], cover: &[f32], dim: usize, covered: &[bool], delta2: f32) -> usize {
    cover
        .chunks_exact(dim)
        .zip(covered)
        .filter(|(p, &c)| !c && sq_dist(row, p) < delta2)
        .count()
}

pub(super) fn select(
    joint: &Joint,
    budget: usize,
    p: &ColdStartParams,
    rng: &mut Rng,
) -> (Vec<usize>, SelectionStats) {
    let (n, dim) = (joint.n, joint.dim);
    let cover = joint.gather(&subsample(rng, n, p.coverage_points));
    let mut stats = SelectionStats {
        gain_evaluations: n,
        coverage_points: cover.len() / dim,
        ..Default::default()
    };
    let mut covered = vec![false; cover.len() / dim];
    let delta2 = (p.delta * p.delta) as f32;
    let first: Vec<usize> = (0..n)
        .into_par_iter()
        .map(|c| count(joint.row(c), &cover, dim, &covered, delta2))
        .collect();
    // (count, lowest position first, |S| when counted)
    let mut heap: BinaryHeap<(usize, Reverse<usize>, usize)> = first
        .into_iter()
        .enumerate()
        .map(|(i, g)| (g, Reverse(i), 0))
        .collect();
    let mut selected = Vec::with_capacity(budget);
    let mut taken = vec![false; n];
    while selected.len() < budget {
        let (g, Reverse(c), stamp) = heap.pop().expect("budget < n leaves a candidate");
        if stamp != selected.len() {
            let g = count(joint.row(c), &cover, dim, &covered, delta2);
            stats.gain_evaluations += 1;
            heap.push((g, Reverse(c), selected.len()));
            continue;
        }
        if g == 0 {
            break;
        }
        let row = joint.row(c);
        covered
            .par_iter_mut()
            .zip(cover.par_chunks_exact(dim))
            .for_each(|(cv, q)| *cv |= sq_dist(row, q) < delta2);
        taken[c] = true;
        selected.push(c);
    }
    if selected.len() < budget {
        let mut rest: Vec<usize> = (0..n).filter(|&i| !taken[i]).collect();
        rest.shuffle(rng);
        selected.extend_from_slice(&rest[..budget - selected.len()]);
    }
    (selected, stats)
}
