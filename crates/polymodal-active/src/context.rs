use crate::ActiveError;

/// Everything a strategy may read about the candidate pool.
///
/// Implementations compute lazily and cache; the trainer-side implementation runs the model.
/// Arrays are row-major over the pool, in pool order: row `i` belongs to dataset index
/// `pool()[i]`. `n = pool().len()`, `C = classes()`, `M = modalities()`, `d_m = feature_dims()[m]`.
///
/// The array methods take `&mut self` so implementations can fill a cache on first use; a strategy
/// therefore holds at most one returned borrow at a time and copies what it must keep.
pub trait SelectionContext {
    /// Dataset indices of the unlabelled candidates (`n = pool().len()`); must be distinct.
    fn pool(&self) -> &[usize];
    /// Dataset indices already labelled.
    fn labelled(&self) -> &[usize];
    /// Number of classes `C`.
    fn classes(&self) -> usize;
    /// Number of modalities `M >= 1`.
    fn modalities(&self) -> usize;
    /// `[n, C]` softmax of the fused head.
    fn fused_probs(&mut self) -> Result<&[f32], ActiveError>;
    /// `M x [n, C]` softmax of the per-modality auxiliary heads.
    fn modality_probs(&mut self) -> Result<&[Vec<f32>], ActiveError>;
    /// `M x [n, d_m]` penultimate features (the fusion input).
    fn features(&mut self) -> Result<&[Vec<f32>], ActiveError>;
    /// `d_m` for each modality.
    fn feature_dims(&self) -> Vec<usize>;
    /// `M x [n_labelled, d_m]` features of the labelled samples (core-set centres), in
    /// `labelled()` order.
    fn labelled_features(&mut self) -> Result<&[Vec<f32>], ActiveError>;
    /// `[T, n, C]` fused softmax of `T = passes` forward passes with dropout active.
    fn mc_probs(&mut self, passes: usize) -> Result<&[f32], ActiveError>;
    /// Fused softmax with only the modalities in `subset` (bitmask over M) kept and the others'
    /// features zeroed at the fusion input: index = bitmask, `2^M` entries each `[n, C]`.
    /// Entry `2^M - 1` equals [`fused_probs`](Self::fused_probs).
    fn subset_probs(&mut self) -> Result<&[Vec<f32>], ActiveError>;
}
