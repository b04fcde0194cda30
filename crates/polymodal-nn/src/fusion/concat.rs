use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct ConcatFusion {
    head: Linear,
}

impl ConcatFusion {
    pub fn new(dims: &[usize], classes: usize, device: &Device) -> Self {
        Self {
            head: LinearConfig::new(dims.iter().sum(), classes).init(device),
        }
    }

    pub fn forward(&self, features: &[Tensor<2>]) -> Tensor<2> {
        self.head.forward(Tensor::cat(features.to_vec(), 1))
    }
}
