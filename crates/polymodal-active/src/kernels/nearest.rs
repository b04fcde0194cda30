//! Nearest centre for every point, blockwise over the modality blocks: the Lloyd assignment step
//! and the initial core-set distances to the labelled set.
//!
//! `||x - c||² = ||x||² + ||c||² - 2 x·c` (clamped at 0), with the dot products computed in
//! cache-sized tiles (`POINT_TILE` points × `CENTRE_TILE` centres) and a 1 × 4 register block, so
//! the centre set is streamed from memory once per point tile rather than once per point.

use rayon::prelude::*;

use super::blocks::Blocks;
use super::dot::{dot, dot4};
use crate::ActiveError;

const POINT_TILE: usize = 16;
const CENTRE_TILE: usize = 32;

/// For every row of `points`: `(index of the nearest row of centres, squared distance)`; ties go
/// to the lower centre index. With no centres every entry is `(usize::MAX, +inf)`. The two
/// block lists must have the same dims.
pub fn nearest(
    points: &Blocks<'_>,
    centres: &Blocks<'_>,
) -> Result<Vec<(usize, f32)>, ActiveError> {
    same_dims(points, centres)?;
    let pn = points.sq_norms();
    let cn = centres.sq_norms();
    let n = points.rows();
    let k = centres.rows();
    let mut out = vec![(usize::MAX, f32::INFINITY); n];
    out.par_chunks_mut(POINT_TILE)
        .enumerate()
        .for_each(|(t, best)| {
            let p0 = t * POINT_TILE;
            let mut dots = [[0f32; CENTRE_TILE]; POINT_TILE];
            for c0 in (0..k).step_by(CENTRE_TILE) {
                let cw = CENTRE_TILE.min(k - c0);
                for row in dots.iter_mut() {
                    row.fill(0.0);
                }
                for m in 0..points.modalities() {
                    for (p, row) in dots.iter_mut().enumerate().take(best.len()) {
                        let x = points.row(m, p0 + p);
                        let mut c = 0;
                        while c + 4 <= cw {
                            let r = dot4(
                                x,
                                [
                                    centres.row(m, c0 + c),
                                    centres.row(m, c0 + c + 1),
                                    centres.row(m, c0 + c + 2),
                                    centres.row(m, c0 + c + 3),
                                ],
                            );
                            for (o, v) in row[c..c + 4].iter_mut().zip(r) {
                                *o += v;
                            }
                            c += 4;
                        }
                        for (cc, o) in row.iter_mut().enumerate().take(cw).skip(c) {
                            *o += dot(x, centres.row(m, c0 + cc));
                        }
                    }
                }
                for (p, (b, row)) in best.iter_mut().zip(&dots).enumerate() {
                    let i = p0 + p;
                    for (c, &d) in row.iter().enumerate().take(cw) {
                        let j = c0 + c;
                        let d2 = (pn[i] + cn[j] - 2.0 * d).max(0.0);
                        if d2 < b.1 || (b.0 == usize::MAX && !d2.is_nan()) {
                            *b = (j, d2);
                        }
                    }
                }
            }
        });
    Ok(out)
}

/// Errors unless `a` and `b` have the same per-modality dims.
pub fn same_dims(a: &Blocks<'_>, b: &Blocks<'_>) -> Result<(), ActiveError> {
    if a.modalities() != b.modalities() {
        return Err(ActiveError::shape(
            "centres (number of modality blocks)",
            a.modalities(),
            b.modalities(),
        ));
    }
    for (m, (&da, &db)) in a.dims().iter().zip(b.dims()).enumerate() {
        if da != db {
            return Err(ActiveError::shape(
                format!("centres[{m}] (feature dim)"),
                da,
                db,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_brute_force() {
        let dims = [5usize, 3];
        let (n, k) = (37, 41);
        let gen = |rows: usize, salt: f32| -> Vec<Vec<f32>> {
            dims.iter()
                .map(|&d| {
                    (0..rows * d)
                        .map(|i| ((i as f32 + salt) * 0.731).sin())
                        .collect()
                })
                .collect()
        };
        let (pd, cd) = (gen(n, 0.0), gen(k, 0.5));
        let p = Blocks::new("p", &pd, &dims, n).unwrap();
        let c = Blocks::new("c", &cd, &dims, k).unwrap();
        let got = nearest(&p, &c).unwrap();
        for (i, &(j, d)) in got.iter().enumerate() {
            let brute: Vec<f32> = (0..k).map(|j| p.sq_dist_to(i, &c, j)).collect();
            let min = brute.iter().cloned().fold(f32::INFINITY, f32::min);
            assert!((d - min).abs() < 1e-4, "row {i}: {d} vs {min}");
            assert!((brute[j] - min).abs() < 1e-4);
        }
    }
}
