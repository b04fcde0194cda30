//! A from-scratch text encoder over token ids: a learned embedding per token, mean-pooled over
//! the non-padding tokens, then linear → ReLU. Small enough to train on a few hundred labelled
//! samples; for a strong pretrained text tower use cached MiniLM vectors (`polymodal embed`),
//! which arrive as a `vector` modality instead.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct BagEncoder {
    embedding: Embedding,
    fc: Linear,
}

impl BagEncoder {
    pub fn new(vocab: usize, embed_dim: usize, out_dim: usize, device: &Device) -> Self {
        Self {
            embedding: EmbeddingConfig::new(vocab, embed_dim).init(device),
            fc: LinearConfig::new(embed_dim, out_dim).init(device),
        }
    }

    /// x: `[batch, tokens]` token ids stored as floats (id 0 = padding) → `[batch, out_dim]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, t] = x.dims();
        let mask = x.clone().greater_elem(0.5).float().reshape([b, t, 1]);
        let emb = self.embedding.forward(x.int()) * mask.clone();
        // An empty text (all padding) pools to zero rather than dividing by zero.
        let count = mask.sum_dim(1).clamp_min(1.0).reshape([b, 1]);
        let pooled = emb.sum_dim(1).reshape([b, self.fc_in()]) / count;
        relu(self.fc.forward(pooled))
    }

    fn fc_in(&self) -> usize {
        self.fc.weight.dims()[0]
    }
}
