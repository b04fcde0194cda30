//! Input checks and the joint embedding shared by every cold-start strategy.

use rand::seq::index::sample;
use rayon::prelude::*;

use crate::kernels::Blocks;
use crate::ActiveError;
use polymodal_core::seed::Rng;

/// Names for [`ActiveError::NonFinite`], whose `what` is `&'static str`.
const BLOCK_NAMES: [&str; 8] = [
    "embeddings[0]",
    "embeddings[1]",
    "embeddings[2]",
    "embeddings[3]",
    "embeddings[4]",
    "embeddings[5]",
    "embeddings[6]",
    "embeddings[7]",
];

fn block_name(m: usize) -> &'static str {
    BLOCK_NAMES.get(m).copied().unwrap_or("embeddings[>=8]")
}

/// Checks `M x [n, d_m]` shapes (dims >= 1, every block the same `n`) and finiteness; returns `n`.
pub(super) fn check(embeddings: &[Vec<f32>], dims: &[usize]) -> Result<usize, ActiveError> {
    if let Some(m) = dims.iter().position(|&d| d == 0) {
        return Err(ActiveError::InvalidParam {
            name: "dims",
            value: format!("{dims:?} (modality {m})"),
            reason: "every embedding needs at least one dimension",
        });
    }
    let n = match (embeddings.first(), dims.first()) {
        (Some(b), Some(&d)) => b.len() / d,
        _ => 0,
    };
    crate::check::blocks("embeddings", embeddings, n, dims)?;
    for (m, (b, &d)) in embeddings.iter().zip(dims).enumerate() {
        if let Some(k) = b.iter().position(|x| !x.is_finite()) {
            return Err(ActiveError::NonFinite {
                what: block_name(m),
                position: k / d,
            });
        }
    }
    Ok(n)
}

/// The alignment term compares a sample's modalities as vectors of one shared space.
pub(super) fn check_shared_space(dims: &[usize]) -> Result<(), ActiveError> {
    for (m, &d) in dims.iter().enumerate().skip(1) {
        if d != dims[0] {
            return Err(ActiveError::shape(
                format!(
                    "embeddings[{m}] (feature dim; the alignment term needs every modality in one \
                     shared space, or lambda_align = 0)"
                ),
                dims[0],
                d,
            ));
        }
    }
    Ok(())
}

/// The joint embedding `e(i) = [u_1(i); ...; u_M(i)] / √M` of the L2-normalised modality rows,
/// `[n, Σd]`, and optionally each sample's mean cross-modal cosine `a(i)`.
pub(super) struct Joint {
    pub n: usize,
    pub dim: usize,
    /// One block, so that [`Blocks`] kernels (k-means) run on it.
    data: Vec<Vec<f32>>,
    /// `a(i)`: mean over modality pairs of `u_m(i)·u_m'(i)`; 0 with one modality.
    pub align: Vec<f32>,
}

impl Joint {
    pub fn new(embeddings: &[Vec<f32>], dims: &[usize], n: usize, alignment: bool) -> Self {
        let dim: usize = dims.iter().sum();
        let modalities = dims.len();
        let scale = 1.0 / (modalities as f64).sqrt();
        let mut data = vec![0f32; n * dim];
        let mut align = vec![0f32; if alignment { n } else { 0 }];
        let pairs = modalities * modalities.saturating_sub(1) / 2;
        data.par_chunks_mut(dim)
            .enumerate()
            .for_each(|(i, row)| fill_row(embeddings, dims, i, scale, row));
        if alignment && pairs > 0 {
            align.par_iter_mut().enumerate().for_each(|(i, a)| {
                let mut s = 0f64;
                for m in 0..modalities {
                    for m2 in m + 1..modalities {
                        let d = dims[m];
                        let (x, y) = (
                            &embeddings[m][i * d..(i + 1) * d],
                            &embeddings[m2][i * d..(i + 1) * d],
                        );
                        let (nx, ny) = (norm(x), norm(y));
                        if nx > 0.0 && ny > 0.0 {
                            let xy: f64 = x.iter().zip(y).map(|(&a, &b)| a as f64 * b as f64).sum();
                            s += xy / (nx * ny);
                        }
                    }
                }
                *a = (s / pairs as f64) as f32;
            });
        }
        Self {
            n,
            dim,
            data: vec![data],
            align,
        }
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[0][i * self.dim..(i + 1) * self.dim]
    }

    /// The joint rows as a one-block [`Blocks`] view.
    pub fn view(&self) -> Blocks<'_> {
        Blocks::new("joint embedding", &self.data, &[self.dim], self.n)
            .expect("the joint block has n x dim values by construction")
    }

    /// Copies the given rows: `[rows.len(), dim]`.
    pub fn gather(&self, rows: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * self.dim);
        for &i in rows {
            out.extend_from_slice(self.row(i));
        }
        out
    }
}

/// Writes `e(i)` into `row`: each modality normalised to unit length (a zero row stays zero),
/// scaled by `1/√M`.
fn fill_row(embeddings: &[Vec<f32>], dims: &[usize], i: usize, scale: f64, row: &mut [f32]) {
    let mut off = 0;
    for (b, &d) in embeddings.iter().zip(dims) {
        let x = &b[i * d..(i + 1) * d];
        let nx = norm(x);
        let f = if nx > 0.0 { scale / nx } else { 0.0 };
        for (o, &v) in row[off..off + d].iter_mut().zip(x) {
            *o = (v as f64 * f) as f32;
        }
        off += d;
    }
}

/// `||x||` in f64, so large finite values cannot overflow.
fn norm(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt()
}

/// A seeded uniform subsample of at most `r` of `0..n`, ascending (all of them when `r >= n`).
pub(super) fn subsample(rng: &mut Rng, n: usize, r: usize) -> Vec<usize> {
    if r >= n {
        return (0..n).collect();
    }
    let mut s = sample(rng, n, r).into_vec();
    s.sort_unstable();
    s
}
