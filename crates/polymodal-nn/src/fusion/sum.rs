use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct SumFusion {
    proj: Vec<Linear>,
    head: Linear,
}

impl SumFusion {
    pub fn new(dims: &[usize], hidden: usize, classes: usize, device: &Device) -> Self {
        Self {
            proj: dims
                .iter()
                .map(|&d| LinearConfig::new(d, hidden).init(device))
                .collect(),
            head: LinearConfig::new(hidden, classes).init(device),
        }
    }

    pub fn forward(&self, features: &[Tensor<2>]) -> Tensor<2> {
        let summed = features
            .iter()
            .zip(&self.proj)
            .map(|(z, p)| p.forward(z.clone()))
            .reduce(|a, b| a + b)
            .expect("at least one modality");
        self.head.forward(relu(summed))
    }
}
