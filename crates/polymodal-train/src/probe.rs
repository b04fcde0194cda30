//! What active learning and the balance diagnostics read from a trained model, as plain arrays:
//! fused and per-modality probabilities, penultimate features, MC-dropout samples and the fused
//! probabilities with each subset of modalities zeroed at the fusion input (for exact Shapley
//! values). Encoders run once per sample; everything else re-runs only the cheap heads.

use crate::tensors::{batch_inputs, to_vec};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use polymodal_data::Dataset;
use polymodal_nn::{Encoded, MultimodalClassifier};

/// Model outputs over a fixed list of samples.
pub struct Probe<'a> {
    model: &'a MultimodalClassifier,
    device: Device,
    classes: usize,
    n: usize,
    batch_size: usize,
    /// Per batch: per-modality encoder outputs and presence `[b, 1]`.
    batches: Vec<(Encoded, Vec<Tensor<2>>)>,
}

fn probs(t: Tensor<2>) -> Vec<f32> {
    to_vec(softmax(t, 1))
}

impl<'a> Probe<'a> {
    /// Encodes `indices` (in batches of `batch_size`); the heads are run on demand.
    pub fn new(
        model: &'a MultimodalClassifier,
        data: &Dataset,
        indices: &[usize],
        batch_size: usize,
        device: &Device,
    ) -> Self {
        let batches = indices
            .chunks(batch_size.max(1))
            .map(|chunk| {
                let batch = data.batch(chunk, None);
                let (inputs, present) = batch_inputs(&batch, device);
                (model.encode(inputs, &present), present)
            })
            .collect();
        Self {
            model,
            device: device.clone(),
            classes: data.num_classes(),
            n: indices.len(),
            batch_size,
            batches,
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Fused `[n, C]` and per-modality `M x [n, C]` softmax outputs, without dropout.
    pub fn probs(&self) -> (Vec<f32>, Vec<Vec<f32>>) {
        let m = self.model.num_modalities();
        let mut fused = Vec::with_capacity(self.n * self.classes);
        let mut per = vec![Vec::with_capacity(self.n * self.classes); m];
        for (encoded, present) in &self.batches {
            let out = self.model.head_forward(encoded.clone(), present, None);
            fused.extend(probs(out.fused));
            for (acc, l) in per.iter_mut().zip(out.per_modality) {
                acc.extend(probs(l));
            }
        }
        (fused, per)
    }

    /// Per-modality penultimate features `M x [n, d_m]` (zero rows where a modality is missing).
    pub fn features(&self) -> Vec<Vec<f32>> {
        let m = self.model.num_modalities();
        let mut out = vec![Vec::new(); m];
        for (encoded, _) in &self.batches {
            for (acc, f) in out.iter_mut().zip(&encoded.features) {
                acc.extend(to_vec(f.clone()));
            }
        }
        out
    }

    /// `passes` fused softmax samples with dropout active: `[T, n, C]`.
    pub fn mc_probs(&self, passes: usize, rng: &mut polymodal_core::seed::Rng) -> Vec<f32> {
        let mut out = Vec::with_capacity(passes * self.n * self.classes);
        for _ in 0..passes {
            for (encoded, present) in &self.batches {
                let o = self.model.head_forward(encoded.clone(), present, Some(rng));
                out.extend(probs(o.fused));
            }
        }
        out
    }

    /// Fused softmax with only the modalities in each subset kept: index = bitmask over the
    /// modalities, `2^M` entries of `[n, C]`. Dropped modalities are zeroed at the fusion input
    /// (and left out of late fusion's average), as a missing modality is.
    pub fn subset_probs(&self) -> Vec<Vec<f32>> {
        let m = self.model.num_modalities();
        (0..1usize << m)
            .map(|mask| {
                let mut acc = Vec::with_capacity(self.n * self.classes);
                for (encoded, present) in &self.batches {
                    let b = encoded.features[0].dims()[0];
                    let keep: Vec<Tensor<2>> = (0..m)
                        .map(|k| {
                            let on = if mask >> k & 1 == 1 { 1.0f32 } else { 0.0 };
                            present[k].clone()
                                * Tensor::from_data(
                                    TensorData::new(vec![on; b], [b, 1]),
                                    &self.device,
                                )
                        })
                        .collect();
                    let out = self.model.head_forward(encoded.masked(&keep), &keep, None);
                    acc.extend(probs(out.fused));
                }
                acc
            })
            .collect()
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
}
