//! Per-modality encoders: a small CNN for `[c, h, w]` inputs (images, log-mel spectrograms) and
//! an MLP for vectors.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// conv3x3 → ReLU → maxpool2 → conv3x3 → ReLU → maxpool2 → linear → ReLU.
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
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        relu(self.fc.forward(x.flatten::<2>(1, 3)))
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
}
