use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Largest full outer-product width accepted (`Π_m (d_m + 1)`); beyond it use the low-rank form.
pub const MAX_FULL_TENSOR_WIDTH: usize = 1 << 20;

/// Tensor fusion (Zadeh et al. 2017): every modality's feature gets a constant 1 appended and
/// their outer product `⊗_m [z_m; 1]` (unimodal, bimodal, ... interaction terms) goes through a
/// linear layer of width `hidden`, ReLU, and the head. With `rank > 0` the low-rank form
/// (Liu et al. 2018, LMF) is used instead: `h = Σ_r ⊙_m (W_m^r [z_m; 1])`, never materialising
/// the outer product; it equals a full tensor fusion whose weight tensor has CP rank `rank`.
#[derive(Module, Debug)]
pub struct TensorFusion {
    /// Full form: one linear over the flattened outer product. Low-rank: empty.
    full: Vec<Linear>,
    /// Low-rank form: `factors[m]`: `d_m + 1` → `rank * hidden` (no bias: the appended 1 is it).
    factors: Vec<Linear>,
    head: Linear,
    rank: usize,
    hidden: usize,
}

impl TensorFusion {
    pub fn new(
        dims: &[usize],
        hidden: usize,
        rank: usize,
        classes: usize,
        device: &Device,
    ) -> Self {
        let (full, factors) = if rank == 0 {
            let width: usize = dims.iter().map(|d| d + 1).product();
            (vec![LinearConfig::new(width, hidden).init(device)], vec![])
        } else {
            let factors = dims
                .iter()
                .map(|&d| {
                    LinearConfig::new(d + 1, rank * hidden)
                        .with_bias(false)
                        .init(device)
                })
                .collect();
            (vec![], factors)
        };
        Self {
            full,
            factors,
            head: LinearConfig::new(hidden, classes).init(device),
            rank,
            hidden,
        }
    }

    /// features: per modality `[batch, d_m]` → fused logits `[batch, classes]`.
    pub fn forward(&self, features: &[Tensor<2>]) -> Tensor<2> {
        let [b, _] = features[0].dims();
        let device = features[0].device();
        let with_one: Vec<Tensor<2>> = features
            .iter()
            .map(|z| Tensor::cat(vec![z.clone(), Tensor::ones([b, 1], &device)], 1))
            .collect();
        let h = if let Some(full) = self.full.first() {
            let outer = with_one
                .into_iter()
                .reduce(|acc, z| {
                    let [_, da] = acc.dims();
                    let [_, dz] = z.dims();
                    (acc.unsqueeze_dim::<3>(2) * z.unsqueeze_dim::<3>(1)).reshape([b, da * dz])
                })
                .expect("at least one modality");
            full.forward(outer)
        } else {
            let prod = with_one
                .into_iter()
                .zip(&self.factors)
                .map(|(z, f)| f.forward(z))
                .reduce(|a, c| a * c)
                .expect("at least one modality");
            prod.reshape([b, self.rank, self.hidden])
                .sum_dim(1)
                .squeeze_dim::<2>(1)
        };
        self.head.forward(relu(h))
    }
}
