//! Conversions between plain batches and tensors.

use burn::tensor::{Device, Int, Tensor, TensorData};
use polymodal_data::Batch;

/// Per-modality input tensors `[b, numel]` and presence masks `[b, 1]`.
pub fn batch_inputs(batch: &Batch, device: &Device) -> (Vec<Tensor<2>>, Vec<Tensor<2>>) {
    let b = batch.indices.len();
    let inputs = batch
        .inputs
        .iter()
        .map(|v| Tensor::from_data(TensorData::new(v.clone(), [b, v.len() / b.max(1)]), device))
        .collect();
    let present = batch
        .present
        .iter()
        .map(|v| Tensor::from_data(TensorData::new(v.clone(), [b, 1]), device))
        .collect();
    (inputs, present)
}

pub fn labels_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(v, [labels.len()]), device)
}

pub fn to_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 tensor")
}
