//! k-means++ seeding (D² sampling), the selection step of BADGE and BMMAL (docs/METHODS.md §1.6, §3.2)
//! and the initialisation of Lloyd k-means.
//!
//! Per step: one parallel pass `D_i = min(D_i, d(i, new)²)` over all rows, which also yields
//! per-chunk sums of `D`, then one draw. Rows already chosen keep weight 0, which is the same as
//! redrawing on a duplicate. The chunking is fixed, so sums (and therefore draws) do not depend on
//! the thread count: same seed ⇒ same selection.

use rand::Rng as _;
use rayon::prelude::*;

use super::argmax::argmax;
use super::blocks::ROW_CHUNK;
use crate::ActiveError;
use polymodal_core::seed::Rng;

/// Squared distances between rows of an embedding that is never materialised.
pub trait Metric: Sync {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// `||x_i||²`.
    fn sq_norm(&self, i: usize) -> f32;
    /// `||x_i - x_j||²`, non-negative.
    fn sq_dist(&self, i: usize, j: usize) -> f32;
}

/// How the first centre is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstCentre {
    /// The row of largest norm, ties to the lowest index (BADGE / BMMAL).
    MaxNorm,
    /// A uniformly random row (classic k-means++).
    Random,
}

/// Chooses `k` distinct rows by k-means++ seeding; returns them in pick order.
///
/// If every remaining row has `D = 0` (duplicates of chosen rows, or zero embeddings), the next
/// pick is uniform among the unchosen rows, drawn from `rng`.
pub fn kmeanspp<M: Metric>(
    metric: &M,
    k: usize,
    first: FirstCentre,
    rng: &mut Rng,
) -> Result<Vec<usize>, ActiveError> {
    let n = metric.rows();
    crate::check::budget(k, n)?;
    if k == 0 {
        return Ok(Vec::new());
    }
    let first = match first {
        FirstCentre::MaxNorm => {
            let mut norms = vec![0f32; n];
            norms
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, o)| *o = metric.sq_norm(i));
            argmax(&norms).ok_or(ActiveError::NonFinite {
                what: "embedding norms",
                position: 0,
            })?
        }
        FirstCentre::Random => rng.random_range(0..n),
    };
    let mut chosen = vec![false; n];
    let mut picks = Vec::with_capacity(k);
    let mut d2 = vec![f32::INFINITY; n];
    let mut sums = vec![0f64; n.div_ceil(ROW_CHUNK)];
    let mut new = first;
    loop {
        chosen[new] = true;
        picks.push(new);
        if picks.len() == k {
            return Ok(picks);
        }
        update(metric, new, &chosen, &mut d2, &mut sums);
        let total: f64 = sums.iter().sum();
        new = if total.is_nan() {
            let position = d2.iter().position(|x| x.is_nan()).unwrap_or(0);
            return Err(ActiveError::NonFinite {
                what: "k-means++ distances",
                position,
            });
        } else if total > 0.0 && total.is_finite() {
            draw(rng.random::<f64>() * total, &d2, &sums)
        } else {
            let remaining = n - picks.len();
            let r = rng.random_range(0..remaining);
            (0..n)
                .filter(|&i| !chosen[i])
                .nth(r)
                .expect("r < number of unchosen rows")
        };
    }
}

/// `D_i = min(D_i, d(i, new)²)` (0 for chosen rows), and the per-chunk sums of `D`.
fn update<M: Metric>(metric: &M, new: usize, chosen: &[bool], d2: &mut [f32], sums: &mut [f64]) {
    d2.par_chunks_mut(ROW_CHUNK)
        .zip(sums.par_iter_mut())
        .enumerate()
        .for_each(|(c, (d, s))| {
            let base = c * ROW_CHUNK;
            let mut acc = 0f64;
            for (o, x) in d.iter_mut().enumerate() {
                let i = base + o;
                if chosen[i] {
                    *x = 0.0;
                } else {
                    let v = metric.sq_dist(i, new);
                    // `<` keeps D when v is NaN; a NaN D (from the first centre) stays NaN
                    if v < *x || x.is_infinite() {
                        *x = v;
                    }
                }
                acc += *x as f64;
            }
            *s = acc;
        });
}

/// The row where the running sum of `d2` first exceeds `u` (`0 <= u < Σ d2`); rows of weight 0 are
/// never returned.
fn draw(u: f64, d2: &[f32], sums: &[f64]) -> usize {
    let mut acc = 0f64;
    let mut last_positive = None;
    for (c, &s) in sums.iter().enumerate() {
        if s > 0.0 {
            last_positive = Some(c);
        }
        if acc + s > u {
            // same summation order as the chunk sum in `update`
            let (base, rel) = (c * ROW_CHUNK, u - acc);
            let mut a = 0f64;
            for (o, &x) in d2[base..(base + ROW_CHUNK).min(d2.len())]
                .iter()
                .enumerate()
            {
                a += x as f64;
                if x > 0.0 && a > rel {
                    return base + o;
                }
            }
        }
        acc += s;
    }
    // rounding put u at the very end: take the last row of positive weight
    let c = last_positive.expect("total > 0");
    let base = c * ROW_CHUNK;
    let chunk = &d2[base..(base + ROW_CHUNK).min(d2.len())];
    base + chunk.iter().rposition(|&x| x > 0.0).expect("chunk sum > 0")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Line(Vec<f32>);

    impl Metric for Line {
        fn rows(&self) -> usize {
            self.0.len()
        }
        fn sq_norm(&self, i: usize) -> f32 {
            self.0[i] * self.0[i]
        }
        fn sq_dist(&self, i: usize, j: usize) -> f32 {
            (self.0[i] - self.0[j]).powi(2)
        }
    }

    #[test]
    fn picks_are_distinct_even_with_duplicate_points() {
        let line = Line(vec![1.0; 10]);
        let mut rng = polymodal_core::seed::rng(1, "t");
        let mut p = kmeanspp(&line, 10, FirstCentre::MaxNorm, &mut rng).unwrap();
        assert_eq!(p[0], 0);
        p.sort();
        assert_eq!(p, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn far_point_is_drawn_second() {
        // one far outlier carries almost all the D² mass
        let mut x = vec![0.0f32; 50];
        x[0] = 0.001;
        x[37] = -1000.0;
        let line = Line(x);
        let mut rng = polymodal_core::seed::rng(3, "t");
        let p = kmeanspp(&line, 2, FirstCentre::MaxNorm, &mut rng).unwrap();
        assert_eq!(p[0], 37);
        assert_ne!(p[1], 37);
    }

    #[test]
    fn draw_skips_zero_weights() {
        let d2 = vec![0.0, 1.0, 0.0, 2.0];
        let sums = vec![3.0];
        assert_eq!(draw(0.0, &d2, &sums), 1);
        assert_eq!(draw(0.999, &d2, &sums), 1);
        assert_eq!(draw(1.0, &d2, &sums), 3);
        assert_eq!(draw(2.9999, &d2, &sums), 3);
        assert_eq!(draw(3.0, &d2, &sums), 3);
    }
}
