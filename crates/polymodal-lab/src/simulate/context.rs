//! The model-backed selection context: strategies ask for arrays, this computes them from the
//! current round's model once and caches them.

use polymodal_active::{ActiveError, SelectionContext};
use polymodal_data::Dataset;
use polymodal_nn::MultimodalClassifier;
use polymodal_train::probe::Probe;

pub struct ModelContext<'a> {
    model: &'a MultimodalClassifier,
    data: &'a Dataset,
    pool: Vec<usize>,
    labelled: Vec<usize>,
    probe: Probe<'a>,
    batch_size: usize,
    mc_seed: u64,
    fused: Option<Vec<f32>>,
    per_modality: Option<Vec<Vec<f32>>>,
    features: Option<Vec<Vec<f32>>>,
    labelled_features: Option<Vec<Vec<f32>>>,
    mc: Option<(usize, Vec<f32>)>,
    subsets: Option<Vec<Vec<f32>>>,
}

impl<'a> ModelContext<'a> {
    pub fn new(
        model: &'a MultimodalClassifier,
        data: &'a Dataset,
        pool: Vec<usize>,
        labelled: Vec<usize>,
        batch_size: usize,
        mc_seed: u64,
    ) -> Self {
        let device = polymodal_nn::backend::inference_device();
        let probe = Probe::new(model, data, &pool, batch_size, &device);
        Self {
            model,
            data,
            pool,
            labelled,
            probe,
            batch_size,
            mc_seed,
            fused: None,
            per_modality: None,
            features: None,
            labelled_features: None,
            mc: None,
            subsets: None,
        }
    }

    fn ensure_probs(&mut self) {
        if self.fused.is_none() {
            let (f, p) = self.probe.probs();
            self.fused = Some(f);
            self.per_modality = Some(p);
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
        self.ensure_probs();
        Ok(self.fused.as_deref().expect("computed"))
    }

    fn modality_probs(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        self.ensure_probs();
        Ok(self.per_modality.as_deref().expect("computed"))
    }

    fn features(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        if self.features.is_none() {
            self.features = Some(self.probe.features());
        }
        Ok(self.features.as_deref().expect("computed"))
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
            let mut rng = polymodal_core::seed::rng(self.mc_seed, "mc-dropout");
            self.mc = Some((passes, self.probe.mc_probs(passes, &mut rng)));
        }
        Ok(&self.mc.as_ref().expect("computed").1)
    }

    fn subset_probs(&mut self) -> Result<&[Vec<f32>], ActiveError> {
        if self.subsets.is_none() {
            self.subsets = Some(self.probe.subset_probs());
        }
        Ok(self.subsets.as_deref().expect("computed"))
    }
}
