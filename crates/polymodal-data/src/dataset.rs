use crate::augment::{self, AugmentConfig};
use crate::DataError;
use polymodal_core::{ModalityKind, ModalitySpec, SampleId, Split};

/// All samples' values of one modality, model-ready.
#[derive(Debug, Clone)]
pub struct ModalityData {
    pub spec: ModalitySpec,
    /// Row-major `[n_samples, spec.numel()]`. Rows of absent samples are zeros and must be
    /// ignored: `present` is the truth.
    pub values: Vec<f32>,
    pub present: Vec<bool>,
}

impl ModalityData {
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.spec.numel();
        &self.values[i * d..(i + 1) * d]
    }
}

/// A multimodal classification dataset held in memory.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub ids: Vec<SampleId>,
    /// `None` for an unlabelled sample.
    pub labels: Vec<Option<usize>>,
    pub class_names: Vec<String>,
    pub splits: Vec<Split>,
    pub modalities: Vec<ModalityData>,
    /// Content hash of the source files plus the loader settings that shaped the values.
    pub fingerprint: String,
}

/// A gathered batch, ready to become tensors.
#[derive(Debug, Clone)]
pub struct Batch {
    pub indices: Vec<usize>,
    /// Per modality, row-major `[batch, numel]`.
    pub inputs: Vec<Vec<f32>>,
    /// Per modality, 1.0 where the sample has that modality.
    pub present: Vec<Vec<f32>>,
    /// Labels (unlabelled samples get 0 and must not be trained on).
    pub labels: Vec<usize>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    pub fn specs(&self) -> Vec<ModalitySpec> {
        self.modalities.iter().map(|m| m.spec.clone()).collect()
    }

    pub fn modality_index(&self, name: &str) -> Option<usize> {
        self.modalities.iter().position(|m| m.spec.name == name)
    }

    pub fn modality_of_kind(&self, kind: ModalityKind) -> Option<usize> {
        self.modalities.iter().position(|m| m.spec.kind == kind)
    }

    /// Indices of the samples in `split`, in dataset order.
    pub fn split_indices(&self, split: Split) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.splits[i] == split)
            .collect()
    }

    /// Labelled samples of `split`, in dataset order (what training and evaluation use).
    pub fn labelled_indices(&self, split: Split) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.splits[i] == split && self.labels[i].is_some())
            .collect()
    }

    /// Samples without a label, in dataset order: the active-learning pool. Only the train
    /// split can hold them (import refuses unlabelled val/test rows; see docs/YOUR_OWN_DATA.md).
    pub fn unlabelled_indices(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.labels[i].is_none())
            .collect()
    }

    /// Checks the invariants every consumer relies on, so that a hand-edited or truncated
    /// dataset fails here with a message instead of an index panic deep inside training:
    /// one label, split and presence flag per id, `values` of `n x numel` per modality,
    /// non-empty shapes, labels below the class count, ids unique and non-empty.
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |reason: String| DataError::Invalid {
            name: self.name.clone(),
            reason,
        };
        let n = self.ids.len();
        for (what, len) in [("labels", self.labels.len()), ("splits", self.splits.len())] {
            if len != n {
                return Err(bad(format!("{len} {what} for {n} ids")));
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(n);
        for id in &self.ids {
            if id.0.is_empty() {
                return Err(bad("an id is empty".into()));
            }
            if !seen.insert(id.0.as_str()) {
                return Err(bad(format!("id `{id}` appears twice")));
            }
        }
        let classes = self.class_names.len();
        if let Some(i) = (0..n).find(|&i| self.labels[i].is_some_and(|l| l >= classes)) {
            return Err(bad(format!(
                "sample {} has label {}, but there are {classes} classes",
                self.ids[i],
                self.labels[i].unwrap_or_default()
            )));
        }
        if self.modalities.is_empty() {
            return Err(bad("no modalities".into()));
        }
        for m in &self.modalities {
            let name = &m.spec.name;
            if m.spec.shape.is_empty() || m.spec.shape.contains(&0) {
                return Err(bad(format!(
                    "modality `{name}` has the empty shape {:?}",
                    m.spec.shape
                )));
            }
            let want = m.spec.shape.iter().try_fold(n, |a, &d| a.checked_mul(d));
            if want != Some(m.values.len()) {
                return Err(bad(format!(
                    "modality `{name}` has {} values, expected {n} x {:?}",
                    m.values.len(),
                    m.spec.shape
                )));
            }
            if m.present.len() != n {
                return Err(bad(format!(
                    "modality `{name}` has {} presence flags for {n} ids",
                    m.present.len()
                )));
            }
        }
        Ok(())
    }

    /// Labels of `indices`; an unlabelled sample is an error naming its id.
    pub fn labels_of(&self, indices: &[usize]) -> Result<Vec<usize>, DataError> {
        indices
            .iter()
            .map(|&i| {
                self.labels[i].ok_or_else(|| {
                    DataError::Config(format!("sample {} has no label", self.ids[i]))
                })
            })
            .collect()
    }

    /// Rejects NaN/inf anywhere in the values, naming the first offending sample.
    pub fn validate_finite(&self) -> Result<(), DataError> {
        for m in &self.modalities {
            let d = m.spec.numel();
            if let Some(pos) = m.values.iter().position(|v| !v.is_finite()) {
                return Err(DataError::NonFinite {
                    id: self.ids[pos / d].to_string(),
                    modality: m.spec.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Gathers `indices` into a batch; with `augment`, applies seeded load-time augmentation.
    pub fn batch(&self, indices: &[usize], augment: Option<(&AugmentConfig, u64)>) -> Batch {
        let mut inputs = Vec::with_capacity(self.modalities.len());
        let mut present = Vec::with_capacity(self.modalities.len());
        for (m, data) in self.modalities.iter().enumerate() {
            let d = data.spec.numel();
            let mut buf = Vec::with_capacity(indices.len() * d);
            for &i in indices {
                buf.extend_from_slice(data.row(i));
            }
            if let Some((cfg, seed)) = augment {
                let mut rng = polymodal_core::seed::rng(seed, &format!("augment/{m}"));
                augment::apply(&data.spec, cfg, &mut buf, &mut rng);
            }
            inputs.push(buf);
            present.push(
                indices
                    .iter()
                    .map(|&i| f32::from(u8::from(data.present[i])))
                    .collect(),
            );
        }
        Batch {
            indices: indices.to_vec(),
            inputs,
            present,
            labels: indices
                .iter()
                .map(|&i| self.labels[i].unwrap_or(0))
                .collect(),
        }
    }
}
