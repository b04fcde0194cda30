use crate::{ActiveError, SelectionContext};

/// A [`SelectionContext`] over precomputed arrays, for tests, benchmarks and callers that already
/// hold the model outputs. Shapes are as documented on [`SelectionContext`]; an input left `None`
/// makes the accessor return [`ActiveError::Missing`] naming it. Shapes are checked by the
/// strategies that read the arrays, not here.
#[derive(Debug, Clone, Default)]
pub struct ArrayContext {
    /// Dataset indices of the unlabelled candidates (distinct).
    pub pool: Vec<usize>,
    /// Dataset indices already labelled.
    pub labelled: Vec<usize>,
    pub classes: usize,
    /// `d_m` per modality; `modalities() = feature_dims.len()`.
    pub feature_dims: Vec<usize>,
    /// `[n, C]`.
    pub fused_probs: Option<Vec<f32>>,
    /// `M x [n, C]`.
    pub modality_probs: Option<Vec<Vec<f32>>>,
    /// `M x [n, d_m]`.
    pub features: Option<Vec<Vec<f32>>>,
    /// `M x [n_labelled, d_m]`.
    pub labelled_features: Option<Vec<Vec<f32>>>,
    /// `[T, n, C]`; `mc_probs(passes)` fails unless its length is `passes * n * C`.
    pub mc_probs: Option<Vec<f32>>,
    /// `2^M x [n, C]`, indexed by modality bitmask.
    pub subset_probs: Option<Vec<Vec<f32>>>,
}

impl ArrayContext {
    /// A context with the index sets and sizes filled in and every array missing.
    pub fn new(
        pool: Vec<usize>,
        labelled: Vec<usize>,
        classes: usize,
        feature_dims: Vec<usize>,
    ) -> Self {
        Self {
            pool,
            labelled,
            classes,
            feature_dims,
            ..Self::default()
        }
    }
}

fn present<'a, T: ?Sized>(x: Option<&'a T>, what: &'static str) -> Result<&'a T, ActiveError> {
    x.ok_or(ActiveError::Missing { what })
}

impl SelectionContext for ArrayContext {
    fn pool(&self) -> &[usize] {
        &self.pool
    }

    fn labelled(&self) -> &[usize] {
        &self.labelled
    }

    fn classes(&self) -> usize {
        self.classes
    }

    fn modalities(&self) -> usize {
        self.feature_dims.len()
    }

    fn fused_probs(&mut self) -> Result<&[f32], ActiveError> {
        present(self.fused_probs.as_deref(), "fused_probs")
    }

    fn modality_probs(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        present(self.modality_probs.as_deref(), "modality_probs")
    }

    fn features(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        present(self.features.as_deref(), "features")
    }

    fn feature_dims(&self) -> Vec<usize> {
        self.feature_dims.clone()
    }

    fn labelled_features(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        present(self.labelled_features.as_deref(), "labelled_features")
    }

    fn mc_probs(&mut self, passes: usize) -> Result<&[f32], ActiveError> {
        let n = self.pool.len();
        let c = self.classes;
        let probs = present(self.mc_probs.as_deref(), "mc_probs")?;
        let expected = passes * n * c;
        if probs.len() != expected {
            return Err(ActiveError::shape(
                format!("mc_probs [T={passes}, n={n}, C={c}]"),
                expected,
                probs.len(),
            ));
        }
        Ok(probs)
    }

    fn subset_probs(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        present(self.subset_probs.as_deref(), "subset_probs")
    }
}
