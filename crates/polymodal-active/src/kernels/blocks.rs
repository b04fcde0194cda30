//! A borrowed view of per-modality feature blocks `M x [rows, d_m]`: the fused feature of row `i`
//! is the concatenation `[z_1i; ...; z_Mi]`, never built. Distances and dot products are summed
//! blockwise, so callers keep the blocks in place.

use rayon::prelude::*;

use super::dot::{dot, sq_dist};
use super::kmeanspp::Metric;
use crate::{check, ActiveError};

/// Rows per parallel work item for row-wise passes.
pub(crate) const ROW_CHUNK: usize = 1024;

#[derive(Debug, Clone)]
pub struct Blocks<'a> {
    blocks: Vec<&'a [f32]>,
    dims: Vec<usize>,
    rows: usize,
}

impl<'a> Blocks<'a> {
    /// Checks that `blocks[m]` is `[rows, dims[m]]`; `what` names the array in errors.
    pub fn new(
        what: &str,
        blocks: &'a [Vec<f32>],
        dims: &[usize],
        rows: usize,
    ) -> Result<Self, ActiveError> {
        check::blocks(what, blocks, rows, dims)?;
        Ok(Self {
            blocks: blocks.iter().map(Vec::as_slice).collect(),
            dims: dims.to_vec(),
            rows,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn modalities(&self) -> usize {
        self.dims.len()
    }

    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// `Σ_m d_m`.
    pub fn total_dim(&self) -> usize {
        self.dims.iter().sum()
    }

    /// Row `i` of block `m`: `[d_m]`.
    #[inline]
    pub fn row(&self, m: usize, i: usize) -> &'a [f32] {
        let d = self.dims[m];
        &self.blocks[m][i * d..(i + 1) * d]
    }

    /// `||z_mi||²` for every row of block `m`: `[rows]`.
    pub fn block_sq_norms(&self, m: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.rows];
        out.par_iter_mut().enumerate().for_each(|(i, o)| {
            let r = self.row(m, i);
            *o = dot(r, r);
        });
        out
    }

    /// `||z_i||²` of the fused row, summed over blocks: `[rows]`.
    pub fn sq_norms(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows];
        out.par_iter_mut().enumerate().for_each(|(i, o)| {
            *o = self.row_sq_norm(i);
        });
        out
    }

    #[inline]
    fn row_sq_norm(&self, i: usize) -> f32 {
        (0..self.modalities())
            .map(|m| {
                let r = self.row(m, i);
                dot(r, r)
            })
            .sum()
    }

    /// `||z_i - w_j||²` between row `i` of `self` and row `j` of `other` (same dims).
    #[inline]
    pub fn sq_dist_to(&self, i: usize, other: &Blocks<'_>, j: usize) -> f32 {
        (0..self.modalities())
            .map(|m| sq_dist(self.row(m, i), other.row(m, j)))
            .sum()
    }

    /// Column means of each block: `M x [d_m]`. Deterministic (fixed chunking, ordered reduction).
    pub fn mean(&self) -> Vec<Vec<f32>> {
        (0..self.modalities())
            .map(|m| {
                let d = self.dims[m];
                let partial: Vec<Vec<f64>> = (0..self.rows.div_ceil(ROW_CHUNK))
                    .into_par_iter()
                    .map(|c| {
                        let mut s = vec![0f64; d];
                        for i in c * ROW_CHUNK..((c + 1) * ROW_CHUNK).min(self.rows) {
                            for (a, &x) in s.iter_mut().zip(self.row(m, i)) {
                                *a += x as f64;
                            }
                        }
                        s
                    })
                    .collect();
                let mut total = vec![0f64; d];
                for p in partial {
                    for (t, x) in total.iter_mut().zip(p) {
                        *t += x;
                    }
                }
                let inv = 1.0 / self.rows.max(1) as f64;
                total.into_iter().map(|x| (x * inv) as f32).collect()
            })
            .collect()
    }
}

/// Plain Euclidean metric on the fused rows.
impl Metric for Blocks<'_> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn sq_norm(&self, i: usize) -> f32 {
        self.row_sq_norm(i)
    }

    fn sq_dist(&self, i: usize, j: usize) -> f32 {
        self.sq_dist_to(i, self, j)
    }
}

/// Owned blocks `M x [rows, d_m]` (centroids, copies of labelled features) with a [`Blocks`] view.
#[derive(Debug, Clone)]
pub struct OwnedBlocks {
    pub data: Vec<Vec<f32>>,
    pub dims: Vec<usize>,
    pub rows: usize,
}

impl OwnedBlocks {
    pub fn view(&self) -> Blocks<'_> {
        Blocks {
            blocks: self.data.iter().map(Vec::as_slice).collect(),
            dims: self.dims.clone(),
            rows: self.rows,
        }
    }

    /// Copies the given rows of `src`.
    pub fn gather(src: &Blocks<'_>, rows: &[usize]) -> Self {
        let data = (0..src.modalities())
            .map(|m| {
                let mut b = Vec::with_capacity(rows.len() * src.dims[m]);
                for &i in rows {
                    b.extend_from_slice(src.row(m, i));
                }
                b
            })
            .collect();
        Self {
            data,
            dims: src.dims.clone(),
            rows: rows.len(),
        }
    }
}
