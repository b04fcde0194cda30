//! The pretraining model: the classifier's own per-modality encoders (so pretrained weights
//! load into a [`MultimodalClassifier`] by name), a small projection head per modality into one
//! shared `D`-space, `K` prototypes per modality and the learnable InfoNCE logit scale.

use super::config::PretrainParams;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use polymodal_core::seed::{standard_normal, Rng};
use polymodal_core::ModalitySpec;
use polymodal_nn::encoder::Encoder;
use polymodal_nn::fusion::FusionKind;
use polymodal_nn::{ModelConfig, MultimodalClassifier, NnError};
use rand::Rng as _;
use std::path::Path;

/// encoder feature → hidden → ReLU → `D`.
#[derive(Module, Debug)]
pub struct Projection {
    l1: Linear,
    l2: Linear,
}

impl Projection {
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.l2.forward(relu(self.l1.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct PretrainModel {
    /// The same modules (and parameter paths, `encoders.<m>.*`) as a classifier's encoders.
    pub encoders: Vec<Encoder>,
    pub projections: Vec<Projection>,
    /// `prototypes[m]`: `[K, D]`, used row-normalised.
    pub prototypes: Vec<Param<Tensor<2>>>,
    /// `ln(1/τ)`, one value.
    pub log_scale: Param<Tensor<1>>,
}

/// A linear layer with weights `U(−1/√in, 1/√in)` (as burn's default) drawn from our own RNG,
/// so the weights depend only on the seed, not on burn's process-global RNG.
fn linear(rng: &mut Rng, d_in: usize, d_out: usize, device: &Device) -> Linear {
    let bound = 1.0 / (d_in as f64).sqrt();
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| (rng.random::<f64>() * 2.0 - 1.0) as f32 * bound as f32)
            .collect()
    };
    let w = draw(d_in * d_out);
    let b = draw(d_out);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [d_out]),
            device,
        ))),
    }
}

/// Rows divided by their L2 norm (a zero row stays zero).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    x / norm
}

impl PretrainModel {
    /// A fresh model whose weights depend only on `params.seed`.
    pub fn init(
        specs: &[ModalitySpec],
        model: &ModelConfig,
        params: &PretrainParams,
        device: &Device,
    ) -> Result<Self, NnError> {
        // Only the encoders are kept, so the fusion is irrelevant; concat never refuses a width.
        let cfg = ModelConfig {
            fusion: FusionKind::Concat,
            ..model.clone()
        };
        let seed = polymodal_core::seed::derive(params.seed, "pretrain/encoders");
        let classifier = cfg.init_seeded(specs, 2, device, seed)?;
        let feature_dims = classifier.feature_dims();
        let mut rng = polymodal_core::seed::rng(params.seed, "pretrain/heads");
        let (d, h, k) = (params.embed_dim, params.proj_hidden, params.prototypes);
        let projections = feature_dims
            .iter()
            .map(|&f| Projection {
                l1: linear(&mut rng, f, h, device),
                l2: linear(&mut rng, h, d, device),
            })
            .collect();
        let prototypes = feature_dims
            .iter()
            .map(|_| {
                let v: Vec<f32> = (0..k * d)
                    .map(|_| standard_normal(&mut rng) as f32)
                    .collect();
                Param::from_tensor(Tensor::from_data(TensorData::new(v, [k, d]), device))
            })
            .collect();
        let scale = (1.0 / params.tau).ln() as f32;
        Ok(Self {
            encoders: classifier.encoders,
            projections,
            prototypes,
            log_scale: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![scale], [1]),
                device,
            )),
        })
    }

    pub fn num_modalities(&self) -> usize {
        self.encoders.len()
    }

    /// Unit embeddings `u_m` `[b, D]` of modality `m`'s inputs `[b, numel]`.
    pub fn embed(&self, m: usize, x: Tensor<2>) -> Tensor<2> {
        l2_normalize(self.projections[m].forward(self.encoders[m].forward(x)))
    }

    /// Modality `m`'s prototypes, rows normalised: `[K, D]`.
    pub fn prototypes(&self, m: usize) -> Tensor<2> {
        l2_normalize(self.prototypes[m].val())
    }

    /// The InfoNCE logit scale `1/τ`, `[1]`, with `τ >= tau_min`; a fixed temperature when
    /// `learn_temperature` is off.
    pub fn scale(&self, params: &PretrainParams) -> Tensor<1> {
        let s = self.log_scale.val();
        let s = if params.learn_temperature {
            s
        } else {
            s.detach()
        };
        s.clamp_max((1.0 / params.tau_min).ln()).exp()
    }

    pub fn save_safetensors(&self, path: &Path) -> Result<(), NnError> {
        polymodal_nn::model::save_safetensors(self, path)
    }

    /// Loads weights saved by [`Self::save_safetensors`] into a model of the same architecture.
    pub fn load_safetensors(self, path: &Path) -> Result<Self, NnError> {
        polymodal_nn::model::load_safetensors(self, path)
    }
}

/// Replaces `classifier`'s encoders by the pretrained ones in `path` (written by
/// [`PretrainModel::save_safetensors`]); heads and fusion keep their initial weights. Every
/// encoder tensor must be found: a checkpoint of other modalities or shapes is an error.
pub fn load_pretrained_encoders(
    mut classifier: MultimodalClassifier,
    path: &Path,
) -> Result<MultimodalClassifier, NnError> {
    if !path.exists() {
        return Err(NnError::Load {
            path: path.to_path_buf(),
            reason: "file not found".into(),
        });
    }
    let mut store = SafetensorsStore::from_file(path.to_path_buf())
        .allow_partial(true)
        .with_regex(r"^encoders\.");
    let result = classifier
        .load_from(&mut store)
        .map_err(|e| NnError::Load {
            path: path.to_path_buf(),
            reason: format!("{e:?}"),
        })?;
    // Heads and fusion are missing by design; an encoder tensor must not be.
    let missing: Vec<&String> = result
        .missing
        .iter()
        .map(|(path, _)| path)
        .filter(|path| path.starts_with("encoders."))
        .collect();
    if !missing.is_empty() || !result.errors.is_empty() || result.applied.is_empty() {
        return Err(NnError::Load {
            path: path.to_path_buf(),
            reason: format!(
                "not pretrained encoders of this model: missing {missing:?}, errors {:?}",
                result.errors
            ),
        });
    }
    Ok(classifier)
}
