//! Helpers shared by the kernel tests (pooling, convolution, ReLU/pool order).

use burn::tensor::Tensor;

/// A float tensor's values as f32, in row-major order.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}
