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
        self.forward_with_tokens(x).0
    }

    /// The feature and the token embeddings `[batch, tokens, embed_dim]`, padding zeroed (a
    /// fusion that attends over them sees padding as empty tokens).
    pub fn forward_with_tokens(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<3>) {
        let [b, t] = x.dims();
        let mask = x.clone().greater_elem(0.5).float().reshape([b, t, 1]);
        let emb = self.embedding.forward(x.int()) * mask.clone();
        // An empty text (all padding) pools to zero rather than dividing by zero.
        let count = mask.sum_dim(1).clamp_min(1.0).reshape([b, 1]);
        let pooled = emb.clone().sum_dim(1).reshape([b, self.token_dim()]) / count;
        (relu(self.fc.forward(pooled)), emb)
    }

    /// Width of the token embeddings. Reads the lazy shape: forcing a parameter's
    /// initialisation here would reorder burn's RNG draws and change seeded weights.
    pub fn token_dim(&self) -> usize {
        // burn's Linear weight is [in, out].
        self.fc.weight.lazy_shape().as_slice()[0]
    }
}
