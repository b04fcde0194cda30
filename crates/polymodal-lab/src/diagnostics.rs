//! Modality diagnostics of a trained model on a split: the exact Shapley value of every modality
//! per sample (all `2^M` subsets, the others zeroed at the fusion input; docs/METHODS.md §1.3), each
//! modality's normalised contribution at the true label and its mean (docs/METHODS.md §1.8), and the
//! fused accuracy with each modality dropped. Computed for every evaluation with `M <= 4`.

use crate::LabError;
use polymodal_core::metrics::argmax;
use polymodal_core::shapley;
use polymodal_data::Dataset;
use polymodal_nn::MultimodalClassifier;
use polymodal_train::probe::Probe;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Largest number of modalities the diagnostics enumerate all subsets for.
pub const MAX_MODALITIES: usize = 4;

/// Split-level summary (in `metrics.json` next to the test metrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalityDiagnostics {
    /// Mean over samples of `c_m = |phi_m| / Σ_k |phi_k|` at the true label; sums to 1.
    pub contribution: BTreeMap<String, f64>,
    /// Mean over samples of the Shapley value `phi_m` of the true class's probability.
    pub shapley: BTreeMap<String, f64>,
    /// Fused accuracy with this modality zeroed at the fusion input (all others kept).
    pub accuracy_without: BTreeMap<String, f64>,
}

/// Per sample: Shapley values and contributions at the true label, `M x [n]`.
pub struct PerSample {
    pub phi: Vec<Vec<f32>>,
    pub contribution: Vec<Vec<f32>>,
}

/// Diagnostics over `indices` (which must be labelled). `None` when the model has more than
/// [`MAX_MODALITIES`] modalities.
pub fn compute(
    model: &MultimodalClassifier,
    data: &Dataset,
    indices: &[usize],
    batch_size: usize,
) -> Result<Option<(ModalityDiagnostics, PerSample)>, LabError> {
    let m = model.num_modalities();
    if m > MAX_MODALITIES {
        return Ok(None);
    }
    let device = polymodal_nn::backend::inference_device();
    let probe = Probe::new(model, data, indices, batch_size, &device);
    let subsets = probe.subset_probs();
    let c = data.num_classes();
    let n = indices.len();
    let labels = data.labels_of(indices)?;
    let phi = shapley::shapley_values_at(&subsets, m, n, c, &labels)?;
    let contribution = shapley::normalise_contributions(&phi);
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / n.max(1) as f64;
    let all = (1usize << m) - 1;
    let mut diag = ModalityDiagnostics {
        contribution: BTreeMap::new(),
        shapley: BTreeMap::new(),
        accuracy_without: BTreeMap::new(),
    };
    for (k, name) in names.iter().enumerate() {
        diag.contribution
            .insert(name.clone(), mean(&contribution[k]));
        diag.shapley.insert(name.clone(), mean(&phi[k]));
        let probs = &subsets[all & !(1 << k)];
        let hits = labels
            .iter()
            .enumerate()
            .filter(|&(i, &y)| argmax(&probs[i * c..(i + 1) * c]) == y)
            .count();
        diag.accuracy_without
            .insert(name.clone(), hits as f64 / n.max(1) as f64);
    }
    Ok(Some((diag, PerSample { phi, contribution })))
}

/// `contributions.csv`: one row per sample: id, label (empty if unlabelled), then `c_<m>` and
/// `phi_<m>` per modality. Written with the csv crate, so ids with commas or quotes survive.
pub fn write_csv(
    path: &Path,
    data: &Dataset,
    indices: &[usize],
    per: &PerSample,
) -> Result<(), LabError> {
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let mut header = vec!["id".to_string(), "label".to_string()];
    header.extend(names.iter().map(|n| format!("contribution_{n}")));
    header.extend(names.iter().map(|n| format!("shapley_{n}")));
    let mut rows = Vec::with_capacity(indices.len());
    for (i, &s) in indices.iter().enumerate() {
        let mut row = vec![
            data.ids[s].to_string(),
            data.labels[s].map(|l| l.to_string()).unwrap_or_default(),
        ];
        row.extend(per.contribution.iter().map(|c| format!("{:.6}", c[i])));
        row.extend(per.phi.iter().map(|p| format!("{:.6}", p[i])));
        rows.push(row);
    }
    crate::csvfile::write(path, &header, &rows)
}
