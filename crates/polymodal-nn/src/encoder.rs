//! Per-modality encoders: a small CNN for `[c, h, w]` inputs (images, log-mel spectrograms) and
//! an MLP for vectors, a token bag for text ids (`text_encoder`). Besides a pooled feature vector, every encoder exposes a token sequence
//! `[batch, tokens, token_dim]` for fusions that attend across modalities (cross-attention):
//! the CNN's last feature-map cells, or the MLP's feature as a single token.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::ops::PadMode;
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
        self.forward_with_tokens(x).0
    }

    /// x: `[batch, c*h*w]` → (`[batch, out_dim]`, tokens `[batch, (h/4)*(w/4), channels[1]]`):
    /// the feature and the cells of the last feature map, from one pass.
    ///
    /// Computes exactly what `conv → ReLU → maxpool` on NCHW computes (same parameters, same
    /// checkpoints), but channels-last, with each convolution as im2col + one matrix product
    /// ([`conv3x3_same_nhwc`]). burn-flex differentiates its own `conv2d` through a transposed
    /// convolution and a batch-as-channels convolution, which made the convolution backward
    /// passes most of a training step; as a matrix product, both gradients are matrix products
    /// too, run by the multi-threaded gemm (measurements in docs/BENCHMARKS.md).
    pub fn forward_with_tokens(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<3>) {
        let [b, _] = x.dims();
        let [c, h, w] = self.input_shape;
        let x = if c == 1 {
            x.reshape([b, h, w, 1])
        } else {
            x.reshape([b, c, h, w]).permute([0, 2, 3, 1])
        };
        // max and ReLU commute (both monotone), so pooling first does the ReLU on a quarter
        // of the values, with the same outputs and gradients.
        let x = relu(maxpool2_nhwc(conv3x3_same_nhwc(&self.conv1, x)));
        let map = relu(maxpool2_nhwc(conv3x3_same_nhwc(&self.conv2, x)));
        let [_, h4, w4, c2] = map.dims();
        let tokens = map.clone().reshape([b, h4 * w4, c2]);
        // The linear layer's rows are in NCHW flatten order (channel, row, column).
        let flat = map.permute([0, 3, 1, 2]).reshape([b, c2 * h4 * w4]);
        (relu(self.fc.forward(flat)), tokens)
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

/// A 3x3, stride 1, zero-padded ("same") convolution of a channels-last `[b, h, w, c_in]`
/// tensor with `conv`'s NCHW parameters, as im2col + one matrix product: the nine shifted
/// views of the padded input are concatenated along channels (`[b*h*w, 9*c_in]`, ordered
/// kernel row, kernel column, channel) and multiplied by the weight laid out the same way.
/// Returns `[b, h, w, c_out]`.
pub(crate) fn conv3x3_same_nhwc(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    let weight = conv.weight.val();
    let [c_out, c_in, kh, kw] = weight.dims();
    debug_assert_eq!((c_in, kh, kw), (c, 3, 3), "conv3x3_same_nhwc: weight shape");
    let padded = x.pad([(0, 0), (1, 1), (1, 1), (0, 0)], PadMode::Constant(0.0));
    let mut shifted = Vec::with_capacity(9);
    for dy in 0..3 {
        for dx in 0..3 {
            shifted.push(padded.clone().slice([0..b, dy..dy + h, dx..dx + w, 0..c]));
        }
    }
    let cols = Tensor::cat(shifted, 3).reshape([b * h * w, 9 * c]);
    let weight = weight.permute([2, 3, 1, 0]).reshape([9 * c, c_out]);
    let mut y = cols.matmul(weight);
    if let Some(bias) = &conv.bias {
        y = y + bias.val().unsqueeze_dim::<2>(0);
    }
    y.reshape([b, h, w, c_out])
}

/// 2x2, stride 2 max pooling of a channels-last `[b, h, w, c]` tensor (odd trailing rows and
/// columns dropped, as burn's `MaxPool2d` does) → `[b, h/2, w/2, c]`.
pub(crate) fn maxpool2_nhwc(x: Tensor<4>) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    let (h2, w2) = (h / 2, w / 2);
    let x = if h % 2 == 1 || w % 2 == 1 {
        x.slice([0..b, 0..2 * h2, 0..2 * w2, 0..c])
    } else {
        x
    };
    // Rows in pairs, then columns in pairs: two reductions over a dimension of 2.
    let rows = x.reshape([b * h2, 2, w2 * 2 * c]).max_dim(1);
    rows.reshape([b * h2 * w2, 2, c])
        .max_dim(1)
        .reshape([b, h2, w2, c])
}

#[cfg(test)]
mod tests {
    //! The channels-last im2col encoder against burn's own NCHW `Conv2d` → ReLU → `MaxPool2d`
    //! (the implementation it replaced), on the same parameters: outputs, tokens and the
    //! gradients of every parameter and of the input must agree to float tolerance.
    use super::*;
    use burn::tensor::TensorData;

    /// The previous forward pass, kept as the reference: burn's NCHW modules.
    fn reference(e: &ConvEncoder, x: Tensor<2>) -> (Tensor<2>, Tensor<3>) {
        let [b, _] = x.dims();
        let [c, h, w] = e.input_shape;
        let x = x.reshape([b, c, h, w]);
        let x = e.pool.forward(relu(e.conv1.forward(x)));
        let map = e.pool.forward(relu(e.conv2.forward(x)));
        let tokens = map.clone().flatten::<3>(2, 3).swap_dims(1, 2);
        (relu(e.fc.forward(map.flatten::<2>(1, 3))), tokens)
    }

    /// Deterministic values in [-1.5, 1.5) (a small LCG, so the test needs no RNG crate state).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 3.0 - 1.5
            })
            .collect()
    }

    fn tensor<const D: usize>(v: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b).abs().max().into_scalar()
    }

    fn scale<const D: usize>(t: &Tensor<D>) -> f32 {
        t.clone().abs().max().into_scalar().max(1.0)
    }

    fn check(input_shape: [usize; 3], channels: [usize; 2], batch: usize) {
        let device = crate::backend::training_device();
        let e = ConvEncoder::new(input_shape, channels, 12, &device);
        let [c, h, w] = input_shape;
        let n = c * h * w;
        let x_data = values(batch * n, 7 + n as u64);
        let x_new = tensor(x_data.clone(), [batch, n], &device).require_grad();
        let x_ref = tensor(x_data, [batch, n], &device).require_grad();
        let (f_new, t_new) = e.forward_with_tokens(x_new.clone());
        let (f_ref, t_ref) = reference(&e, x_ref.clone());
        let [_, tokens, td] = t_ref.dims();
        assert!(max_abs_diff(f_new.clone(), f_ref.clone()) <= 1e-5 * scale(&f_ref));
        assert!(max_abs_diff(t_new.clone(), t_ref.clone()) <= 1e-5 * scale(&t_ref));

        // A loss that weights every output and token differently, so each gradient entry is
        // distinct.
        let wf = tensor(values(batch * 12, 11), [batch, 12], &device);
        let wt = tensor(values(batch * tokens * td, 13), [batch, tokens, td], &device);
        let g_new = ((f_new * wf.clone()).sum() + (t_new * wt.clone()).sum()).backward();
        let g_ref = ((f_ref * wf).sum() + (t_ref * wt).sum()).backward();
        let close = |what: &str, a: Tensor<4>, b: Tensor<4>| {
            let tol = 1e-4 * scale(&b);
            let d = max_abs_diff(a, b);
            assert!(d <= tol, "{what}: max |Δ| = {d} > {tol}");
        };
        let params = [&e.conv1, &e.conv2];
        for (i, conv) in params.iter().enumerate() {
            let w = conv.weight.val();
            close(
                &format!("conv{} weight gradient", i + 1),
                w.grad(&g_new).expect("weight grad"),
                w.grad(&g_ref).expect("weight grad"),
            );
            let bias = conv.bias.as_ref().expect("bias").val();
            close(
                &format!("conv{} bias gradient", i + 1),
                bias.grad(&g_new).expect("bias grad").reshape([1, 1, 1, channels[i]]),
                bias.grad(&g_ref).expect("bias grad").reshape([1, 1, 1, channels[i]]),
            );
        }
        let fc = e.fc.weight.val();
        let [fi, fo] = fc.dims();
        close(
            "fc weight gradient",
            fc.grad(&g_new).expect("fc grad").reshape([1, 1, fi, fo]),
            fc.grad(&g_ref).expect("fc grad").reshape([1, 1, fi, fo]),
        );
        close(
            "input gradient",
            x_new.grad(&g_new).expect("x grad").reshape([1, 1, batch, n]),
            x_ref.grad(&g_ref).expect("x grad").reshape([1, 1, batch, n]),
        );
    }

    #[test]
    fn im2col_encoder_matches_burn_conv_and_pool_with_gradients() {
        // The default AV-Digits shapes, a multi-channel input, and odd sizes that pooling
        // truncates.
        check([1, 28, 28], [4, 6], 3);
        check([1, 32, 32], [3, 5], 2);
        check([3, 9, 7], [4, 5], 2);
        check([2, 5, 11], [3, 2], 1);
    }

    #[test]
    fn im2col_encoder_matches_on_the_inference_device() {
        let device = crate::backend::inference_device();
        let e = ConvEncoder::new([3, 12, 10], [4, 8], 16, &device);
        let x = tensor(values(4 * 360, 3), [4, 360], &device);
        let (f_new, t_new) = e.forward_with_tokens(x.clone());
        let (f_ref, t_ref) = reference(&e, x);
        assert!(max_abs_diff(f_new, f_ref.clone()) <= 1e-5 * scale(&f_ref));
        assert!(max_abs_diff(t_new, t_ref.clone()) <= 1e-5 * scale(&t_ref));
    }
}
