use burn::module::Module;
use burn::tensor::Tensor;

/// Decision-level fusion: the mean of the present modalities' logits. It owns no parameters;
/// the per-modality heads do the classifying.
#[derive(Module, Debug, Default)]
pub struct LateFusion {}

impl LateFusion {
    pub fn new() -> Self {
        Self {}
    }

    pub fn forward(&self, present: &[Tensor<2>], modality_logits: &[Tensor<2>]) -> Tensor<2> {
        let weighted = modality_logits
            .iter()
            .zip(present)
            .map(|(l, p)| l.clone() * p.clone())
            .reduce(|a, b| a + b)
            .expect("at least one modality");
        let count = present
            .iter()
            .cloned()
            .reduce(|a, b| a + b)
            .expect("at least one modality")
            .clamp_min(1.0);
        weighted / count
    }
}
