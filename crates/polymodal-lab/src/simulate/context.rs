//! The model-backed selection context: strategies ask for arrays, this computes them from the
//! current round's model once and caches them.
//!
//! The pool is encoded lazily (a strategy that asks for nothing, such as random, costs no
//! encoding) and in one batched pass that yields everything the strategies read from the
//! encoders: fused and per-modality probabilities, penultimate features and the subset
//! probabilities. Strategies whose selection starts from the same model and pool (every
//! strategy of a seed in round 1, which starts from the shared round-0 model) share that pass
//! through a [`SharedPool`]. MC-dropout passes are not shared: their dropout stream is seeded
//! per strategy, and sharing them would change the selections.

use polymodal_active::{ActiveError, SelectionContext};
use polymodal_data::Dataset;
use polymodal_nn::MultimodalClassifier;
use polymodal_train::probe::Probe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Everything the strategies read from one encoding pass over the pool.
pub struct PoolArrays {
    fused: Vec<f32>,
    per_modality: Vec<Vec<f32>>,
    features: Vec<Vec<f32>>,
    subsets: Vec<Vec<f32>>,
}

impl PoolArrays {
    fn compute(
        model: &MultimodalClassifier,
        data: &Dataset,
        pool: &[usize],
        batch_size: usize,
        encodings: Option<&AtomicUsize>,
    ) -> Self {
        let device = polymodal_nn::backend::inference_device();
        let probe = Probe::new(model, data, pool, batch_size, &device);
        count(encodings);
        // The heads are cheap next to the encoders: run all of them on the one encoding, so a
        // later strategy of the same round never encodes again.
        let (fused, per_modality) = probe.probs();
        Self {
            fused,
            per_modality,
            features: probe.features(),
            subsets: probe.subset_probs(),
        }
    }
}

fn count(encodings: Option<&AtomicUsize>) {
    if let Some(c) = encodings {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// One pool encoding shared by every strategy that selects with the same model from the same
/// pool; computed by the first strategy that needs it (the others wait for it).
pub type SharedPool = Arc<OnceLock<PoolArrays>>;

enum Arrays {
    Own(Option<PoolArrays>),
    Shared(SharedPool),
}

pub struct ModelContext<'a> {
    model: &'a MultimodalClassifier,
    data: &'a Dataset,
    pool: Vec<usize>,
    labelled: Vec<usize>,
    batch_size: usize,
    mc_seed: u64,
    encodings: Option<&'a AtomicUsize>,
    arrays: Arrays,
    labelled_features: Option<Vec<Vec<f32>>>,
    mc: Option<(usize, Vec<f32>)>,
}

impl<'a> ModelContext<'a> {
    /// A context that encodes the pool itself, on first need.
    pub fn new(
        model: &'a MultimodalClassifier,
        data: &'a Dataset,
        pool: Vec<usize>,
        labelled: Vec<usize>,
        batch_size: usize,
        mc_seed: u64,
    ) -> Self {
        Self {
            model,
            data,
            pool,
            labelled,
            batch_size,
            mc_seed,
            encodings: None,
            arrays: Arrays::Own(None),
            labelled_features: None,
            mc: None,
        }
    }

    /// Counts every pass that encodes the pool in `encodings` (the simulation reports the
    /// count; tests check the sharing with it).
    pub fn counting(mut self, encodings: &'a AtomicUsize) -> Self {
        self.encodings = Some(encodings);
        self
    }

    /// Reads the pool arrays from `shared` (computing them there if no other strategy has yet).
    /// Every context given the same `shared` must have the same model weights and pool.
    pub fn sharing(mut self, shared: SharedPool) -> Self {
        self.arrays = Arrays::Shared(shared);
        self
    }

    fn arrays(&mut self) -> &PoolArrays {
        let (model, data, pool, bs, enc) = (
            self.model,
            self.data,
            &self.pool,
            self.batch_size,
            self.encodings,
        );
        match &mut self.arrays {
            Arrays::Own(own) => {
                own.get_or_insert_with(|| PoolArrays::compute(model, data, pool, bs, enc))
            }
            Arrays::Shared(shared) => {
                shared.get_or_init(|| PoolArrays::compute(model, data, pool, bs, enc))
            }
        }
    }
}

impl SelectionContext for ModelContext<'_> {
    fn pool(&self) -> &[usize] {
        &self.pool
    }

    fn labelled(&self) -> &[usize] {
        &self.labelled
    }

    fn classes(&self) -> usize {
        self.data.num_classes()
    }

    fn modalities(&self) -> usize {
        self.model.num_modalities()
    }

    fn fused_probs(&mut self) -> Result<&[f32], ActiveError> {
        Ok(&self.arrays().fused)
    }

    fn modality_probs(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        Ok(&self.arrays().per_modality)
    }

    fn features(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        Ok(&self.arrays().features)
    }

    fn feature_dims(&self) -> Vec<usize> {
        self.model.feature_dims()
    }

    fn labelled_features(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        if self.labelled_features.is_none() {
            let device = polymodal_nn::backend::inference_device();
            let probe = Probe::new(
                self.model,
                self.data,
                &self.labelled,
                self.batch_size,
                &device,
            );
            self.labelled_features = Some(probe.features());
        }
        Ok(self.labelled_features.as_deref().expect("computed"))
    }

    fn mc_probs(&mut self, passes: usize) -> Result<&[f32], ActiveError> {
        if self.mc.as_ref().map(|(t, _)| *t) != Some(passes) {
            // MC dropout needs the encoder outputs, not only the arrays: its own encoding
            // (only BALD asks for it, and BALD asks for nothing else).
            let device = polymodal_nn::backend::inference_device();
            let probe = Probe::new(self.model, self.data, &self.pool, self.batch_size, &device);
            count(self.encodings);
            let mut rng = polymodal_core::seed::rng(self.mc_seed, "mc-dropout");
            self.mc = Some((passes, probe.mc_probs(passes, &mut rng)));
        }
        Ok(&self.mc.as_ref().expect("computed").1)
    }

    fn subset_probs(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        Ok(&self.arrays().subsets)
    }
}
