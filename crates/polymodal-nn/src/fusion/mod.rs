//! Fusion modules behind one interface: given per-modality features `[batch, d_m]` (already
//! zeroed where a modality is missing), presence masks `[batch, 1]` and, for cross-attention,
//! per-modality token sequences `[batch, T_m, t_m]` (zeroed likewise), produce fused logits.
//! Per-modality logits come from the model's auxiliary heads and are passed in, which is what
//! decision-level (late) fusion combines.

mod concat;
mod cross_attention;
mod gated;
mod late;
mod sum;
mod tensor;

pub use concat::ConcatFusion;
pub use cross_attention::CrossAttentionFusion;
pub use gated::GatedFusion;
pub use late::LateFusion;
pub use sum::SumFusion;
pub use tensor::{TensorFusion, MAX_FULL_TENSOR_WIDTH};

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
    /// Each modality's token sequence attends to the others' (every direction), then pooled.
    CrossAttention,
    /// Outer product of the features with a 1 appended (or its low-rank form).
    Tensor,
}

impl FusionKind {
    pub const ALL: [FusionKind; 6] = [
        FusionKind::Concat,
        FusionKind::Sum,
        FusionKind::Gated,
        FusionKind::Late,
        FusionKind::CrossAttention,
        FusionKind::Tensor,
    ];

    /// The config spelling (`cross_attention`).
    pub fn name(self) -> &'static str {
        match self {
            FusionKind::Concat => "concat",
            FusionKind::Sum => "sum",
            FusionKind::Gated => "gated",
            FusionKind::Late => "late",
            FusionKind::CrossAttention => "cross_attention",
            FusionKind::Tensor => "tensor",
        }
    }

    /// Whether the fusion reads token sequences (so encoders must produce them).
    pub fn needs_tokens(self) -> bool {
        self == FusionKind::CrossAttention
    }
}

impl std::fmt::Display for FusionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Sizes a fusion is built for.
#[derive(Debug, Clone)]
pub struct FusionShape {
    /// Per modality feature width.
    pub dims: Vec<usize>,
    /// Per modality token width (cross-attention).
    pub token_dims: Vec<usize>,
    /// Fused width (sum, gated, cross-attention, tensor).
    pub hidden: usize,
    /// Attention heads (cross-attention).
    pub heads: usize,
    /// Tensor-fusion rank (0 = full outer product).
    pub rank: usize,
    pub classes: usize,
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
    CrossAttention(CrossAttentionFusion),
    Tensor(TensorFusion),
}

impl Fusion {
    pub fn new(kind: FusionKind, shape: &FusionShape, device: &Device) -> Self {
        let FusionShape {
            dims,
            token_dims,
            hidden,
            heads,
            rank,
            classes,
        } = shape;
        let (hidden, classes) = (*hidden, *classes);
        match kind {
            FusionKind::Concat => Fusion::Concat(ConcatFusion::new(dims, classes, device)),
            FusionKind::Sum => Fusion::Sum(SumFusion::new(dims, hidden, classes, device)),
            FusionKind::Gated => Fusion::Gated(GatedFusion::new(dims, hidden, classes, device)),
            FusionKind::Late => Fusion::Late(LateFusion::new()),
            FusionKind::CrossAttention => Fusion::CrossAttention(CrossAttentionFusion::new(
                dims, token_dims, hidden, *heads, classes, device,
            )),
            FusionKind::Tensor => {
                Fusion::Tensor(TensorFusion::new(dims, hidden, *rank, classes, device))
            }
        }
    }

    /// features: per modality `[batch, d_m]`; tokens: per modality `[batch, T_m, t_m]` (required
    /// by cross-attention, ignored otherwise); present: per modality `[batch, 1]`;
    /// modality_logits: per modality `[batch, classes]` → fused logits `[batch, classes]`.
    pub fn forward(
        &self,
        features: &[Tensor<2>],
        tokens: Option<&[Tensor<3>]>,
        present: &[Tensor<2>],
        modality_logits: &[Tensor<2>],
    ) -> Tensor<2> {
        match self {
            Fusion::Concat(f) => f.forward(features),
            Fusion::Sum(f) => f.forward(features),
            Fusion::Gated(f) => f.forward(features),
            Fusion::Late(f) => f.forward(present, modality_logits),
            Fusion::CrossAttention(f) => f.forward(
                features,
                tokens.expect("cross-attention fusion needs token sequences"),
            ),
            Fusion::Tensor(f) => f.forward(features),
        }
    }
}
