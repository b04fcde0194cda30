//! k-center greedy (Sener & Savarese 2018; docs/METHODS.md §4.2): repeatedly pick the point farthest
//! from every centre so far. Memory `O(n)` beyond the borrowed blocks (no n × n matrix); each
//! step is one parallel pass that both lowers `δ_j = min(δ_j, ||x_j - x_new||²)` and finds the
//! next arg-max.

use rayon::prelude::*;

use super::argmax::{argmax, better};
use super::blocks::{Blocks, OwnedBlocks, ROW_CHUNK};
use super::nearest::nearest;
use crate::ActiveError;

/// Marks a selected point: never the arg-max again.
const TAKEN: f32 = f32::NEG_INFINITY;

/// Chooses `k` distinct rows of `points`, in pick order.
///
/// `centres`: initial centres (the labelled set) with the same dims, or `None`/empty. Without
/// initial centres the first pick is the point farthest from the mean of `points`. Ties go to the
/// lowest row index.
pub fn kcenter_greedy(
    points: &Blocks<'_>,
    centres: Option<&Blocks<'_>>,
    k: usize,
) -> Result<Vec<usize>, ActiveError> {
    let n = points.rows();
    crate::check::budget(k, n)?;
    if k == 0 {
        return Ok(Vec::new());
    }
    let (mut delta, mut next) = match centres {
        Some(c) if c.rows() > 0 => {
            let d: Vec<f32> = nearest(points, c)?.into_iter().map(|(_, d)| d).collect();
            let first = argmax(&d);
            (d, first)
        }
        _ => {
            let mean = OwnedBlocks {
                data: points.mean(),
                dims: points.dims().to_vec(),
                rows: 1,
            };
            let mv = mean.view();
            let mut d = vec![0f32; n];
            d.par_iter_mut()
                .enumerate()
                .for_each(|(i, o)| *o = points.sq_dist_to(i, &mv, 0));
            let first = argmax(&d);
            // no centre yet: the first pick's distances replace these
            d.fill(f32::INFINITY);
            (d, first)
        }
    };
    let mut picks = Vec::with_capacity(k);
    while picks.len() < k {
        let Some(new) = next else {
            let position = delta.iter().position(|x| x.is_nan()).unwrap_or(0);
            return Err(ActiveError::NonFinite {
                what: "core-set distances",
                position,
            });
        };
        picks.push(new);
        delta[new] = TAKEN;
        if picks.len() == k {
            break;
        }
        next = delta
            .par_chunks_mut(ROW_CHUNK)
            .enumerate()
            .map(|(c, d)| {
                let mut best = None;
                for (o, x) in d.iter_mut().enumerate() {
                    if *x == TAKEN {
                        continue;
                    }
                    let i = c * ROW_CHUNK + o;
                    let v = points.sq_dist_to(i, points, new);
                    if v < *x {
                        *x = v;
                    }
                    if !x.is_nan() {
                        best = better(best, Some((i, *x)));
                    }
                }
                best
            })
            .reduce(|| None, better)
            .map(|(i, _)| i);
    }
    Ok(picks)
}
