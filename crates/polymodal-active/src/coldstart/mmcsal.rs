//! MMCSAL selection (docs/METHODS.md §2): exact lazy greedy on
//! `F(S) = Cov(S) + γ · Div(S) + λ_align · Align(S)` (definitions in the module docs of
//! [`coldstart`](super)).
//!
//! Why the lazy greedy is exact here, in floating point too: a candidate's gain is a fixed-order
//! sum of terms `max(0, k(p, c) − best_p)` (each non-increasing as `best_p` grows), minus a
//! running sum of non-negative similarities to the selected samples, plus a constant. Rounding is
//! monotone, so a recomputed gain never exceeds a stored one, and the heap order (gain, then
//! lowest position) makes the first fresh entry the naive greedy's arg-max.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use super::embed::{self, subsample, Joint};
use super::{ColdStartParams, SelectionStats, Similarity};
use crate::kernels::dot::dot;
use crate::ActiveError;
use polymodal_core::seed::Rng;

/// Candidates per parallel work item of the first-gain pass.
const TILE: usize = 8;

/// A candidate whose coverage gain is carried by at most this many coverage points keeps them
/// and their similarities (see [`Active`]) ...
const ACTIVE_CAP: usize = 256;
/// ... while all cached lists together hold at most `ACTIVE_PER_ROW · n` entries (8 bytes each),
/// so the cache adds at most 256 bytes per pool row.
const ACTIVE_PER_ROW: usize = 32;

/// The coverage points `p` (ascending) with `k(p, c) > best_p` at a candidate's last evaluation,
/// with `k(p, c)`. Since `best_p` only grows, every other point adds exactly `+0.0` to the gain
/// from then on, so summing over this list in order gives the bit-identical gain without any dot
/// product; the list is pruned as points get covered.
type Active = Vec<(u32, f32)>;

/// The pairwise similarity `k` as a function of the joint cosine.
#[derive(Clone, Copy)]
struct Kernel {
    similarity: Similarity,
    inv_temperature: f32,
}

impl Kernel {
    fn new(p: &ColdStartParams) -> Self {
        Self {
            similarity: p.similarity,
            inv_temperature: (1.0 / p.temperature) as f32,
        }
    }

    #[inline]
    fn k(self, cos: f32) -> f32 {
        match self.similarity {
            Similarity::Cosine => cos.max(0.0),
            Similarity::Exp => ((cos - 1.0) * self.inv_temperature).exp(),
        }
    }
}

/// The weights that turn term sums into a gain.
#[derive(Clone, Copy)]
struct Weights {
    inv_cover: f64,
    diversity: f64,
    alignment: f64,
}

impl Weights {
    fn new(p: &ColdStartParams, budget: usize, cover: usize) -> Self {
        let b = budget as f64;
        Self {
            inv_cover: p.coverage_weight / cover as f64,
            diversity: if budget >= 2 {
                p.gamma * 2.0 / (b * (b - 1.0))
            } else {
                0.0
            },
            alignment: p.lambda_align / b,
        }
    }

    /// `F(S ∪ {c}) − F(S)` from the coverage sum, the similarity sum to `S` and `a(c)`.
    #[inline]
    fn gain(self, cover_sum: f64, div_sum: f64, align: f64) -> f64 {
        let mut g = cover_sum * self.inv_cover;
        if self.diversity > 0.0 {
            g -= self.diversity * div_sum;
        }
        if self.alignment > 0.0 {
            g += self.alignment * align;
        }
        g
    }
}

/// A heap entry: max gain first, then the lowest position.
#[derive(Clone, Copy)]
struct Entry {
    gain: f64,
    idx: usize,
    /// `|S|` when `gain` was computed.
    stamp: usize,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.gain
            .total_cmp(&other.gain)
            .then_with(|| other.idx.cmp(&self.idx))
    }
}

/// Coverage sum `Σ_p max(0, k(p, c) − best_p)` in coverage-point order (the order must be the
/// same wherever a gain is computed, see the module docs).
#[inline]
fn cover_sum(kern: Kernel, row: &[f32], cover: &[f32], dim: usize, best: &[f32]) -> f64 {
    let mut s = 0f64;
    for (p, &b) in cover.chunks_exact(dim).zip(best) {
        s += (kern.k(dot(row, p)) - b).max(0.0) as f64;
    }
    s
}

/// [`cover_sum`], also returning the active points when there are at most [`ACTIVE_CAP`].
fn cover_sum_active(
    kern: Kernel,
    row: &[f32],
    cover: &[f32],
    dim: usize,
    best: &[f32],
) -> (f64, Option<Active>) {
    let mut s = 0f64;
    let mut active = Vec::new();
    let mut keep = true;
    for (q, (p, &b)) in cover.chunks_exact(dim).zip(best).enumerate() {
        let k = kern.k(dot(row, p));
        s += (k - b).max(0.0) as f64;
        if keep && k > b {
            if active.len() == ACTIVE_CAP {
                keep = false;
                active = Vec::new();
            } else {
                active.push((q as u32, k));
            }
        }
    }
    (s, keep.then_some(active))
}

/// The gain's coverage sum from a cached active list, pruned in place.
fn cover_sum_cached(active: &mut Active, best: &[f32]) -> f64 {
    let mut s = 0f64;
    active.retain(|&(q, k)| {
        let b = best[q as usize];
        s += (k - b).max(0.0) as f64;
        k > b
    });
    s
}

pub(super) fn select(
    joint: &Joint,
    budget: usize,
    params: &ColdStartParams,
    rng: &mut Rng,
) -> (Vec<usize>, SelectionStats) {
    let (n, dim) = (joint.n, joint.dim);
    let cover_rows = subsample(rng, n, params.coverage_points);
    let cover = joint.gather(&cover_rows);
    let kern = Kernel::new(params);
    let w = Weights::new(params, budget, cover_rows.len());
    let align = |c: usize| joint.align.get(c).map_or(0.0, |&a| a as f64);
    let mut best = vec![0f32; cover_rows.len()];

    // first gains (S = ∅): the same per-candidate sum as a re-evaluation with best = 0
    let mut first = vec![0f64; n];
    first.par_chunks_mut(TILE).enumerate().for_each(|(t, out)| {
        for (j, o) in out.iter_mut().enumerate() {
            let c = t * TILE + j;
            *o = w.gain(
                cover_sum(kern, joint.row(c), &cover, dim, &best),
                0.0,
                align(c),
            );
        }
    });
    let mut heap: BinaryHeap<Entry> = first
        .into_iter()
        .enumerate()
        .map(|(idx, gain)| Entry {
            gain,
            idx,
            stamp: 0,
        })
        .collect();
    let mut stats = SelectionStats {
        gain_evaluations: n,
        coverage_points: cover_rows.len(),
        ..Default::default()
    };
    drop(cover_rows);

    let track_div = w.diversity > 0.0;
    let mut div_sum = vec![0f64; if track_div { n } else { 0 }];
    let mut div_seen = vec![0usize; if track_div { n } else { 0 }];
    let mut active: Vec<Option<Active>> = vec![None; n];
    let (mut active_len, active_budget) = (0usize, ACTIVE_PER_ROW * n);
    let batch = rayon::current_num_threads().max(1);
    let mut selected = Vec::with_capacity(budget);
    let mut stale = Vec::with_capacity(batch);
    while selected.len() < budget {
        let top = heap.pop().expect("budget < n leaves a candidate");
        if top.stamp == selected.len() {
            let x = joint.row(top.idx);
            best.par_iter_mut()
                .zip(cover.par_chunks_exact(dim))
                .for_each(|(b, p)| *b = b.max(kern.k(dot(x, p))));
            selected.push(top.idx);
            continue;
        }
        // re-evaluate the top stale entries together (extra re-evaluations only tighten bounds,
        // so the selection does not depend on the batch size)
        stale.clear();
        stale.push(top);
        while stale.len() < batch {
            match heap.peek() {
                Some(e) if e.stamp != selected.len() => stale.push(heap.pop().expect("peeked")),
                _ => break,
            }
        }
        let cached: Vec<Option<Active>> = stale
            .iter()
            .map(|e| {
                let a = active[e.idx].take();
                active_len -= a.as_ref().map_or(0, Vec::len);
                a
            })
            .collect();
        stats.cached_gain_evaluations += cached.iter().filter(|c| c.is_some()).count();
        let fresh: Vec<(f64, f64, Option<Active>)> = stale
            .par_iter()
            .zip(cached)
            .map(|(e, cache)| {
                let row = joint.row(e.idx);
                let (cov, cache) = match cache {
                    Some(mut a) => (cover_sum_cached(&mut a, &best), Some(a)),
                    None => cover_sum_active(kern, row, &cover, dim, &best),
                };
                let mut ds = 0f64;
                if track_div {
                    ds = div_sum[e.idx];
                    for &s in &selected[div_seen[e.idx]..] {
                        ds += kern.k(dot(row, joint.row(s))) as f64;
                    }
                }
                (cov, ds, cache)
            })
            .collect();
        stats.gain_evaluations += stale.len();
        for (e, (cov, ds, cache)) in stale.iter().zip(fresh) {
            // a new list is kept only while the total stays within the memory bound
            if let Some(mut a) = cache.filter(|a| active_len + a.len() <= active_budget) {
                // the bound counts entries, so the list must not keep spare capacity
                a.shrink_to_fit();
                active_len += a.len();
                active[e.idx] = Some(a);
            }
            if track_div {
                div_sum[e.idx] = ds;
                div_seen[e.idx] = selected.len();
            }
            heap.push(Entry {
                gain: w.gain(cov, ds, align(e.idx)),
                idx: e.idx,
                stamp: selected.len(),
            });
        }
    }
    (selected, stats)
}

/// The terms of the MMCSAL objective for a selection, as the greedy defines them with
/// `B = selection.len()` (see [`mmcsal_terms`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmcsalTerms {
    /// `Cov(S)`, in `[0, 1]`.
    pub coverage: f64,
    /// `Div(S)`: minus the mean pairwise similarity, in `[−1, 0]`.
    pub diversity: f64,
    /// `Align(S)`: the mean cross-modal cosine of the selected samples, in `[−1, 1]` (0 when the
    /// modalities have different dims or there is only one).
    pub alignment: f64,
    /// `Cov + γ · Div + λ_align · Align`.
    pub objective: f64,
}

/// Evaluates the MMCSAL objective of `selection` (pool positions) from scratch, e.g. to log the
/// terms of a cold-start batch. The coverage subsample is drawn from `rng` exactly as
/// [`ColdStart::select`](super::ColdStart::select) draws it, so the same rng state gives the
/// objective the greedy maximised. `O(|C| |S| Σd + |S|² Σd)`.
pub fn mmcsal_terms(
    embeddings: &[Vec<f32>],
    dims: &[usize],
    selection: &[usize],
    params: &ColdStartParams,
    rng: &mut Rng,
) -> Result<MmcsalTerms, ActiveError> {
    params.check()?;
    let n = embed::check(embeddings, dims)?;
    if let Some(&bad) = selection.iter().find(|&&i| i >= n) {
        return Err(ActiveError::InvalidParam {
            name: "selection",
            value: bad.to_string(),
            reason: "a selected position is outside the pool",
        });
    }
    if params.lambda_align > 0.0 {
        embed::check_shared_space(dims)?;
    }
    // reported whenever it is defined, even with λ_align = 0 (the ablation still logs it)
    let alignment = embed::check_shared_space(dims).is_ok();
    let joint = Joint::new(embeddings, dims, n, alignment);
    let kern = Kernel::new(params);
    let cover_rows = subsample(rng, n, params.coverage_points);
    let coverage = cover_rows
        .par_iter()
        .map(|&p| {
            selection
                .iter()
                .map(|&s| kern.k(dot(joint.row(p), joint.row(s))))
                .fold(0f32, f32::max) as f64
        })
        .sum::<f64>()
        / cover_rows.len().max(1) as f64;
    let b = selection.len();
    let mut pair_sum = 0f64;
    for (a, &i) in selection.iter().enumerate() {
        for &j in &selection[a + 1..] {
            pair_sum += kern.k(dot(joint.row(i), joint.row(j))) as f64;
        }
    }
    let diversity = if b >= 2 {
        -2.0 * pair_sum / (b as f64 * (b as f64 - 1.0))
    } else {
        0.0
    };
    let alignment = if b > 0 && alignment {
        selection
            .iter()
            .map(|&i| joint.align[i] as f64)
            .sum::<f64>()
            / b as f64
    } else {
        0.0
    };
    Ok(MmcsalTerms {
        coverage,
        diversity,
        alignment,
        objective: params.coverage_weight * coverage
            + params.gamma * diversity
            + params.lambda_align * alignment,
    })
}
