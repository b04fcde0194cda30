//! Inference and metrics.

use crate::tensors::{batch_inputs, to_vec};
use burn::tensor::activation::softmax;
use burn::tensor::Device;
use polymodal_core::metrics::ClassificationMetrics;
use polymodal_core::CoreError;
use polymodal_data::Dataset;
use polymodal_nn::MultimodalClassifier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Softmax outputs for a set of samples.
#[derive(Debug, Clone)]
pub struct Predictions {
    pub indices: Vec<usize>,
    pub classes: usize,
    /// Row-major `[n, classes]`.
    pub fused: Vec<f32>,
    /// Per modality, row-major `[n, classes]` from the auxiliary heads.
    pub per_modality: Vec<Vec<f32>>,
}

/// Runs the model without dropout over `indices` in batches of `batch_size`.
pub fn predict(
    model: &MultimodalClassifier,
    data: &Dataset,
    indices: &[usize],
    batch_size: usize,
    device: &Device,
) -> Predictions {
    predict_with(model, data, indices, batch_size, device, &mut |_, _| {})
}

/// [`predict`] with every batch passed through `alter(batch_number, batch)` first: how test-time
/// corruption (a modality dropped through its presence mask, noise added to an input) is applied.
pub fn predict_with(
    model: &MultimodalClassifier,
    data: &Dataset,
    indices: &[usize],
    batch_size: usize,
    device: &Device,
    alter: &mut dyn FnMut(usize, &mut polymodal_data::Batch),
) -> Predictions {
    let m = model.num_modalities();
    let mut fused = Vec::with_capacity(indices.len() * data.num_classes());
    let mut per_modality = vec![Vec::new(); m];
    for (k, chunk) in indices.chunks(batch_size.max(1)).enumerate() {
        let mut batch = data.batch(chunk, None);
        alter(k, &mut batch);
        let (inputs, present) = batch_inputs(&batch, device);
        let out = model.forward(inputs, present, None);
        fused.extend(to_vec(softmax(out.fused, 1)));
        for (acc, logits) in per_modality.iter_mut().zip(out.per_modality) {
            acc.extend(to_vec(softmax(logits, 1)));
        }
    }
    Predictions {
        indices: indices.to_vec(),
        classes: data.num_classes(),
        fused,
        per_modality,
    }
}

/// Metrics of the fused head and of each modality's head (scored on the samples that have it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Fused-head metrics, flattened so `accuracy` sits at the top level of the JSON.
    #[serde(flatten)]
    pub fused: ClassificationMetrics,
    pub per_modality: BTreeMap<String, ClassificationMetrics>,
}

pub fn evaluate(data: &Dataset, preds: &Predictions) -> Result<EvalReport, CoreError> {
    let labels: Vec<usize> = preds
        .indices
        .iter()
        .map(|&i| data.labels[i].unwrap_or(usize::MAX))
        .collect();
    let c = preds.classes;
    let fused = ClassificationMetrics::from_probs(&preds.fused, c, &labels)?;
    let mut per_modality = BTreeMap::new();
    for (m, probs) in preds.per_modality.iter().enumerate() {
        let modality = &data.modalities[m];
        let mut rows = Vec::new();
        let mut ys = Vec::new();
        for (k, &i) in preds.indices.iter().enumerate() {
            if modality.present[i] {
                rows.extend_from_slice(&probs[k * c..(k + 1) * c]);
                ys.push(labels[k]);
            }
        }
        if !ys.is_empty() {
            per_modality.insert(
                modality.spec.name.clone(),
                ClassificationMetrics::from_probs(&rows, c, &ys)?,
            );
        }
    }
    Ok(EvalReport {
        fused,
        per_modality,
    })
}
