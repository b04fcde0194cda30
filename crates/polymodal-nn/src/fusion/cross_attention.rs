use burn::module::Module;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Cross-modal attention: each modality's token sequence (CNN feature-map cells, spectrogram
/// frames, text tokens; an MLP feature is one token) is projected to a common width `d`, attends
/// to the concatenated tokens of all other modalities (every direction), and is added back
/// (residual + layer norm). Each modality's attended sequence is mean-pooled; the head reads
/// every modality's pooled vector next to its feature `z_m`, `[z_1; pool_1; ...; z_M; pool_M]`.
/// (Mean-pooled cells alone lose the spatial layout the encoder's feature keeps: without `z_m`
/// this fusion reached only 0.39 fused accuracy where concat reached 0.92, on AV-Digits after
/// 4 epochs on 2,000 samples.)
///
/// A missing (or dropped) modality arrives as all-zero features and tokens, as in the other
/// fusions.
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
        dims: &[usize],
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
            head: LinearConfig::new(dims.iter().sum::<usize>() + hidden * m, classes).init(device),
        }
    }

    /// features: per modality `[batch, d_m]`; tokens: per modality `[batch, T_m, token_dim_m]`
    /// → fused logits `[batch, classes]`.
    pub fn forward(&self, features: &[Tensor<2>], tokens: &[Tensor<3>]) -> Tensor<2> {
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
                relu(attended.mean_dim(1).squeeze_dim::<2>(1))
            })
            .collect();
        let parts: Vec<Tensor<2>> = features
            .iter()
            .zip(pooled)
            .flat_map(|(z, p)| [z.clone(), p])
            .collect();
        self.head.forward(Tensor::cat(parts, 1))
    }
}
