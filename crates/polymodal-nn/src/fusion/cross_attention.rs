use burn::module::Module;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Cross-modal attention: each modality's token sequence (CNN feature-map cells, spectrogram
/// frames, text tokens; an MLP feature is one token) is projected to a common width `d`, attends
/// to the concatenated tokens of all other modalities (every direction), and is added back
/// (residual + layer norm). Each modality's attended sequence is mean-pooled; the pooled vectors
/// are concatenated into the fused head.
///
/// A missing (or dropped) modality arrives as all-zero tokens, as in the other fusions.
#[derive(Module, Debug)]
pub struct CrossAttentionFusion {
    /// `proj[m]`: token width of modality m → d.
    proj: Vec<Linear>,
    /// `attn[m]`: modality m's queries over the other modalities' keys/values.
    attn: Vec<MultiHeadAttention>,
    norm: Vec<LayerNorm>,
    head: Linear,
}

impl CrossAttentionFusion {
    pub fn new(
        token_dims: &[usize],
        hidden: usize,
        heads: usize,
        classes: usize,
        device: &Device,
    ) -> Self {
        let m = token_dims.len();
        Self {
            proj: token_dims
                .iter()
                .map(|&d| LinearConfig::new(d, hidden).init(device))
                .collect(),
            // Dropout 0: burn's dropout draws from its global RNG, which would make runs
            // irreproducible; the model's own feature dropout regularises instead.
            attn: (0..m)
                .map(|_| {
                    MultiHeadAttentionConfig::new(hidden, heads)
                        .with_dropout(0.0)
                        .init(device)
                })
                .collect(),
            norm: (0..m)
                .map(|_| LayerNormConfig::new(hidden).init(device))
                .collect(),
            head: LinearConfig::new(hidden * m, classes).init(device),
        }
    }

    /// tokens: per modality `[batch, T_m, token_dim_m]` → fused logits `[batch, classes]`.
    pub fn forward(&self, tokens: &[Tensor<3>]) -> Tensor<2> {
        let x: Vec<Tensor<3>> = tokens
            .iter()
            .zip(&self.proj)
            .map(|(t, p)| p.forward(t.clone()))
            .collect();
        let pooled: Vec<Tensor<2>> = (0..x.len())
            .map(|m| {
                let others: Vec<Tensor<3>> = x
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != m)
                    .map(|(_, t)| t.clone())
                    .collect();
                let attended = if others.is_empty() {
                    x[m].clone()
                } else {
                    let kv = Tensor::cat(others, 1);
                    let ctx = self.attn[m]
                        .forward(MhaInput::new(x[m].clone(), kv.clone(), kv))
                        .context;
                    self.norm[m].forward(x[m].clone() + ctx)
                };
                attended.mean_dim(1).squeeze_dim::<2>(1)
            })
            .collect();
        self.head.forward(relu(Tensor::cat(pooled, 1)))
    }
}
