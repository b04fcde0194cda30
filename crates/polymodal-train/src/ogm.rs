//! OGM-GE: on-the-fly gradient modulation with generalisation enhancement (Peng et al.,
//! CVPR 2022; docs/METHODS.md §5), between `backward()` and the optimiser step.
//!
//! Per mini-batch, each modality's score is the summed softmax probability of the true class
//! from its own logits (docs/METHODS.md §5.2: `score_m = Σ_i softmax(out_m(i))[y_i]`; our per-modality
//! logits are the auxiliary heads', the role `out_a` / `out_v` play in the paper). The dominant
//! modality is the one with the highest score, its discrepancy ratio is
//! `ρ = score_dom / mean(score_others)` (for two modalities exactly the paper's `ρ_v` or
//! `ρ_a = 1/ρ_v`, whichever is ≥ 1), and every gradient of its encoder is multiplied by
//! `k = 1 - tanh(α·ρ)` (docs/METHODS.md §5.3); the other encoders keep `k = 1`. Parameters are chosen
//! by ownership — every parameter of `encoders[m]` — not by tensor rank (the paper's code
//! modulates only 4-D conv kernels).
//!
//! The GE part, when enabled, adds `N(0, σ²)` with `σ = std(grad before scaling) + 1e-8`, fresh
//! per tensor, to every encoder's gradients every active step, including modalities with `k = 1`
//! (docs/METHODS.md §5.3). Noise is drawn from our seeded RNG, so runs stay reproducible.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use polymodal_core::seed::Rng;
use polymodal_nn::MultimodalClassifier;
use serde::{Deserialize, Serialize};

/// `[train.ogm]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OgmConfig {
    pub enabled: bool,
    /// α of `k = 1 - tanh(α·ρ)`; the paper recommends 0.8 on CREMA-D, 0.1 on VGGSound.
    pub alpha: f64,
    /// First epoch (1-based) with modulation.
    pub start_epoch: usize,
    /// Last epoch with modulation (0 = until the end).
    pub end_epoch: usize,
    /// Add the GE Gaussian noise.
    pub noise: bool,
}

impl Default for OgmConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            alpha: 0.8,
            start_epoch: 1,
            end_epoch: 0,
            noise: true,
        }
    }
}

impl OgmConfig {
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(format!("train.ogm.alpha = {} must be > 0", self.alpha).into());
        }
        if self.start_epoch == 0 {
            return Err("train.ogm.start_epoch is 1-based: must be >= 1".into());
        }
        if self.end_epoch != 0 && self.end_epoch < self.start_epoch {
            return Err("train.ogm.end_epoch must be 0 (no end) or >= start_epoch".into());
        }
        Ok(())
    }

    /// Whether modulation runs in `epoch` (1-based).
    pub fn active_in(&self, epoch: usize) -> bool {
        self.enabled
            && epoch >= self.start_epoch
            && (self.end_epoch == 0 || epoch <= self.end_epoch)
    }
}

/// `1 - tanh(α·ρ)`, computed as `2 / (exp(2αρ) + 1)` so it stays positive where `tanh` rounds
/// to 1; always in (0, 1] for `α·ρ >= 0` (the argument is capped at 300).
pub fn coefficient(alpha: f64, rho: f64) -> f64 {
    let x = (alpha * rho).clamp(0.0, 300.0);
    2.0 / ((2.0 * x).exp() + 1.0)
}

/// What one modulated step did (a row of `ogm.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OgmStep {
    pub epoch: usize,
    pub batch: usize,
    /// Per modality `Σ_i p_m(i)[y_i]` over the samples that have the modality.
    pub scores: Vec<f64>,
    /// Index of the dominant modality (highest score).
    pub dominant: usize,
    /// `score_dom / mean(score_others)`; NaN if the others scored 0 (nothing modulated).
    pub rho: f64,
    /// Per modality coefficient applied to its encoder's gradients.
    pub coefficients: Vec<f64>,
}

/// Dominant modality, ρ and per-modality coefficients from per-modality scores.
pub fn plan(scores: &[f64], alpha: f64) -> (usize, f64, Vec<f64>) {
    let m = scores.len();
    let dominant = (0..m).fold(0, |best, k| if scores[k] > scores[best] { k } else { best });
    let mut coefficients = vec![1.0; m];
    if m < 2 {
        return (dominant, f64::NAN, coefficients);
    }
    let others = scores
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != dominant)
        .map(|(_, s)| s)
        .sum::<f64>()
        / (m - 1) as f64;
    if others.is_nan() || others <= 0.0 {
        return (dominant, f64::NAN, coefficients);
    }
    let rho = scores[dominant] / others;
    coefficients[dominant] = coefficient(alpha, rho);
    (dominant, rho, coefficients)
}

fn normal(rng: &mut Rng) -> f32 {
    polymodal_core::seed::standard_normal(rng) as f32
}

struct Modulate<'a> {
    grads: &'a mut GradientsParams,
    k: f32,
    noise: Option<&'a mut Rng>,
}

impl ModuleVisitor for Modulate<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(g) = self.grads.remove::<D>(param.id) else {
            return;
        };
        let device = g.device();
        let shape = g.shape();
        let mut v = g
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 gradient");
        let sigma = self.noise.as_ref().map(|_| {
            let n = v.len().max(1) as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
            (var.sqrt() + 1e-8) as f32
        });
        for x in v.iter_mut() {
            *x *= self.k;
        }
        if let (Some(rng), Some(sigma)) = (self.noise.as_deref_mut(), sigma) {
            for x in v.iter_mut() {
                *x += sigma * normal(rng);
            }
        }
        self.grads.register(
            param.id,
            Tensor::<D>::from_data(TensorData::new(v, shape), &device),
        );
    }
}

/// Scales every gradient of `encoders[m]` by `coefficients[m]` and, with `noise`, adds the GE
/// noise. Encoders with coefficient 1 and no noise are left untouched (bit for bit); heads and
/// fusion never change.
pub fn modulate(
    grads: &mut GradientsParams,
    model: &MultimodalClassifier,
    coefficients: &[f64],
    mut noise: Option<&mut Rng>,
) {
    for (m, &k) in coefficients.iter().enumerate() {
        if k == 1.0 && noise.is_none() {
            continue;
        }
        let mut v = Modulate {
            grads,
            k: k as f32,
            noise: noise.as_deref_mut(),
        };
        model.encoders[m].visit(&mut v);
    }
}
