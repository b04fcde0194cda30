//! Per-modality encoders: a small CNN for `[c, h, w]` inputs (images, log-mel spectrograms) and
//! an MLP for vectors, a token bag for text ids (`text_encoder`). Besides a pooled feature vector, every encoder exposes a token sequence
//! `[batch, tokens, token_dim]` for fusions that attend across modalities (cross-attention):
//! the CNN's last feature-map cells, or the MLP's feature as a single token.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// conv3x3 → ReLU → maxpool2 → conv3x3 → ReLU → maxpool2 → linear → ReLU.
///
/// The code applies each ReLU after its max pooling: ReLU is monotone, so `relu(max(window))`
/// equals `max(relu(window))`, and the gradients agree bit for bit (flex's ReLU maps every
/// non-positive value to `+0.0`; when the window maximum is positive both orders pick the same
/// element, otherwise both send `+0.0` everywhere). The ReLU then runs, forward and backward,
/// on a quarter of the elements (docs/BENCHMARKS.md, "Issue 11, fourth pass").
#[derive(Module, Debug)]
pub struct ConvEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc: Linear,
    input_shape: [usize; 3],
}

impl ConvEncoder {
    pub fn new(
        input_shape: [usize; 3],
        channels: [usize; 2],
        out_dim: usize,
        device: &Device,
    ) -> Self {
        let [c, h, w] = input_shape;
        let flat = channels[1] * (h / 4) * (w / 4);
        Self {
            conv1: Conv2dConfig::new([c, channels[0]], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            conv2: Conv2dConfig::new([channels[0], channels[1]], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc: LinearConfig::new(flat, out_dim).init(device),
            input_shape,
        }
    }

    /// x: `[batch, c*h*w]` → `[batch, out_dim]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        let [c, h, w] = self.input_shape;
        let x = x.reshape([b, c, h, w]);
        let x = relu(self.pool.forward(self.conv1.forward(x)));
        let x = relu(self.pool.forward(self.conv2.forward(x)));
        relu(self.fc.forward(x.flatten::<2>(1, 3)))
    }

    /// x: `[batch, c*h*w]` → (`[batch, out_dim]`, tokens `[batch, (h/4)*(w/4), channels[1]]`):
    /// the feature and the cells of the last feature map, from one pass.
    pub fn forward_with_tokens(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<3>) {
        let [b, _] = x.dims();
        let [c, h, w] = self.input_shape;
        let x = x.reshape([b, c, h, w]);
        let x = relu(self.pool.forward(self.conv1.forward(x)));
        let map = relu(self.pool.forward(self.conv2.forward(x)));
        let tokens = map.clone().flatten::<3>(2, 3).swap_dims(1, 2);
        (relu(self.fc.forward(map.flatten::<2>(1, 3))), tokens)
    }

    /// Width of each token (the second conv layer's channels). Reads the lazy shape: forcing a
    /// parameter's initialisation here would reorder burn's RNG draws and change seeded weights.
    pub fn token_dim(&self) -> usize {
        self.conv2.weight.lazy_shape().as_slice()[0]
    }
}

/// linear → ReLU → linear → ReLU.
#[derive(Module, Debug)]
pub struct MlpEncoder {
    l1: Linear,
    l2: Linear,
}

impl MlpEncoder {
    pub fn new(in_dim: usize, hidden: usize, out_dim: usize, device: &Device) -> Self {
        Self {
            l1: LinearConfig::new(in_dim, hidden).init(device),
            l2: LinearConfig::new(hidden, out_dim).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        relu(self.l2.forward(relu(self.l1.forward(x))))
    }
}

// One value per modality (or per model): the size difference costs nothing, and burn's
// Module derive wants plain variants.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    Conv(ConvEncoder),
    Mlp(MlpEncoder),
    Text(crate::text_encoder::BagEncoder),
}

impl Encoder {
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Encoder::Conv(e) => e.forward(x),
            Encoder::Mlp(e) => e.forward(x),
            Encoder::Text(e) => e.forward(x),
        }
    }

    /// The feature `[batch, d]` and the token sequence `[batch, tokens, token_dim]`.
    pub fn forward_with_tokens(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<3>) {
        match self {
            Encoder::Conv(e) => e.forward_with_tokens(x),
            Encoder::Mlp(e) => {
                let z = e.forward(x);
                (z.clone(), z.unsqueeze_dim::<3>(1))
            }
            Encoder::Text(e) => e.forward_with_tokens(x),
        }
    }

    /// Width of the tokens of [`Self::forward_with_tokens`].
    pub fn token_dim(&self) -> usize {
        match self {
            Encoder::Conv(e) => e.token_dim(),
            // burn's Linear weight is [in, out].
            Encoder::Mlp(e) => e.l2.weight.lazy_shape().as_slice()[1],
            Encoder::Text(e) => e.token_dim(),
        }
    }
}
