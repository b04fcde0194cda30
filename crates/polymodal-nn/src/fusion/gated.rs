use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor};

/// Gated multimodal unit (Arevalo et al. 2017) generalised to M modalities: each modality's
/// projection `tanh(W_m z_m)` is weighed per dimension by `sigmoid(G_m [z_1; ...; z_M])`.
#[derive(Module, Debug)]
pub struct GatedFusion {
    proj: Vec<Linear>,
    gates: Vec<Linear>,
    head: Linear,
}

impl GatedFusion {
    pub fn new(dims: &[usize], hidden: usize, classes: usize, device: &Device) -> Self {
        let total: usize = dims.iter().sum();
        Self {
            proj: dims
                .iter()
                .map(|&d| LinearConfig::new(d, hidden).init(device))
                .collect(),
            gates: dims
                .iter()
                .map(|_| LinearConfig::new(total, hidden).init(device))
                .collect(),
            head: LinearConfig::new(hidden, classes).init(device),
        }
    }

    pub fn forward(&self, features: &[Tensor<2>]) -> Tensor<2> {
        let all = Tensor::cat(features.to_vec(), 1);
        let fused = features
            .iter()
            .zip(self.proj.iter().zip(&self.gates))
            .map(|(z, (p, g))| sigmoid(g.forward(all.clone())) * tanh(p.forward(z.clone())))
            .reduce(|a, b| a + b)
            .expect("at least one modality");
        self.head.forward(fused)
    }
}
