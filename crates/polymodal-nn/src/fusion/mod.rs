//! Fusion modules behind one interface: given per-modality features `[batch, d_m]` (already
//! zeroed where a modality is missing) and presence masks `[batch, 1]`, produce fused logits.
//! Per-modality logits come from the model's auxiliary heads and are passed in, which is what
//! decision-level (late) fusion combines.

mod concat;
mod gated;
mod late;
mod sum;

pub use concat::ConcatFusion;
pub use gated::GatedFusion;
pub use late::LateFusion;
pub use sum::SumFusion;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which fusion to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionKind {
    /// One linear head over the concatenated features (the BMMAL model).
    Concat,
    /// Features projected to a common width and summed.
    Sum,
    /// Gated multimodal unit: per-dimension sigmoid gates weigh each modality's projection.
    Gated,
    /// Decision level: the mean of the present modalities' head logits.
    Late,
}

// One value per modality (or per model): the size difference costs nothing, and burn's
// Module derive wants plain variants.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Fusion {
    Concat(ConcatFusion),
    Sum(SumFusion),
    Gated(GatedFusion),
    Late(LateFusion),
}

impl Fusion {
    pub fn new(
        kind: FusionKind,
        dims: &[usize],
        hidden: usize,
        classes: usize,
        device: &Device,
    ) -> Self {
        match kind {
            FusionKind::Concat => Fusion::Concat(ConcatFusion::new(dims, classes, device)),
            FusionKind::Sum => Fusion::Sum(SumFusion::new(dims, hidden, classes, device)),
            FusionKind::Gated => Fusion::Gated(GatedFusion::new(dims, hidden, classes, device)),
            FusionKind::Late => Fusion::Late(LateFusion::new()),
        }
    }

    /// features: per modality `[batch, d_m]`; present: per modality `[batch, 1]`;
    /// modality_logits: per modality `[batch, classes]` → fused logits `[batch, classes]`.
    pub fn forward(
        &self,
        features: &[Tensor<2>],
        present: &[Tensor<2>],
        modality_logits: &[Tensor<2>],
    ) -> Tensor<2> {
        match self {
            Fusion::Concat(f) => f.forward(features),
            Fusion::Sum(f) => f.forward(features),
            Fusion::Gated(f) => f.forward(features),
            Fusion::Late(f) => f.forward(present, modality_logits),
        }
    }
}
