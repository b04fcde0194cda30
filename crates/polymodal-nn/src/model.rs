use crate::encoder::{ConvEncoder, Encoder, MlpEncoder};
use crate::fusion::{Fusion, FusionKind, FusionShape, MAX_FULL_TENSOR_WIDTH};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor, TensorData};
use polymodal_core::seed::Rng;
use polymodal_core::{ModalityKind, ModalitySpec};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("modality `{name}` of kind {kind} with shape {shape:?} has no encoder yet")]
    UnsupportedModality {
        name: String,
        kind: ModalityKind,
        shape: Vec<usize>,
    },
    #[error("invalid model config: {0}")]
    Config(String),
    #[error("{path}: cannot save checkpoint: {reason}")]
    Save { path: PathBuf, reason: String },
    #[error("{path}: cannot load checkpoint: {reason}")]
    Load { path: PathBuf, reason: String },
}

/// The encoder a modality gets, by kind and shape; `None` if polymodal has none for it.
pub fn encoder_name(spec: &ModalitySpec) -> Option<&'static str> {
    match (spec.kind, spec.shape.as_slice()) {
        (ModalityKind::Image | ModalityKind::Audio, &[_, h, w]) if h >= 4 && w >= 4 => Some("cnn"),
        (ModalityKind::Text, &[_]) => Some("token_bag"),
        (ModalityKind::Vector, &[_]) => Some("mlp"),
        _ => None,
    }
}

/// Architecture settings (`[model]` in a config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub fusion: FusionKind,
    /// Width of every modality's penultimate feature.
    pub feature_dim: usize,
    /// Width of the fused representation for sum, gated, cross-attention and tensor fusion.
    pub fusion_dim: usize,
    /// Attention heads of cross-attention fusion (must divide `fusion_dim`).
    pub attention_heads: usize,
    /// Tensor fusion: 0 = the full outer product, r > 0 = its rank-r (LMF) form.
    pub tensor_rank: usize,
    /// Channels of the two conv layers of CNN encoders.
    pub conv_channels: [usize; 2],
    /// Hidden width of MLP encoders.
    pub mlp_hidden: usize,
    /// Dropout on the penultimate features (also what MC-dropout samples).
    pub dropout: f64,
    /// Token-embedding width of the from-scratch text encoder.
    pub text_embed_dim: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            fusion: FusionKind::Concat,
            feature_dim: 128,
            fusion_dim: 128,
            attention_heads: 4,
            tensor_rank: 0,
            conv_channels: [16, 32],
            mlp_hidden: 256,
            dropout: 0.2,
            text_embed_dim: 64,
        }
    }
}

impl ModelConfig {
    pub fn validate(&self) -> Result<(), NnError> {
        if self.feature_dim == 0
            || self.fusion_dim == 0
            || self.mlp_hidden == 0
            || self.text_embed_dim == 0
        {
            return Err(NnError::Config("model widths must be positive".into()));
        }
        if self.conv_channels.contains(&0) {
            return Err(NnError::Config(
                "model.conv_channels must be positive".into(),
            ));
        }
        if self.fusion_dim.checked_rem(self.attention_heads) != Some(0) {
            return Err(NnError::Config(format!(
                "model.attention_heads = {} must be positive and divide model.fusion_dim = {}",
                self.attention_heads, self.fusion_dim
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(NnError::Config(format!(
                "model.dropout = {} must be in [0, 1)",
                self.dropout
            )));
        }
        Ok(())
    }

    /// Builds a model whose initial weights depend only on `seed`.
    ///
    /// burn's backend RNG is process-global, so seeding and drawing happen under one lock:
    /// two models initialised concurrently (tests, parallel simulations) cannot interleave.
    pub fn init_seeded(
        &self,
        specs: &[ModalitySpec],
        classes: usize,
        device: &Device,
        seed: u64,
    ) -> Result<MultimodalClassifier, NnError> {
        static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        device.seed(seed);
        let model = self.init(specs, classes, device)?;
        // burn initialises parameters lazily, at first use: force it now, under the lock.
        model.visit(&mut ForceInit);
        Ok(model)
    }

    /// Builds a freshly initialised model for these modalities (weights from burn's global RNG;
    /// use [`Self::init_seeded`] for reproducible weights).
    pub fn init(
        &self,
        specs: &[ModalitySpec],
        classes: usize,
        device: &Device,
    ) -> Result<MultimodalClassifier, NnError> {
        self.validate()?;
        if specs.is_empty() {
            return Err(NnError::Config(
                "a model needs at least one modality".into(),
            ));
        }
        if classes < 2 {
            return Err(NnError::Config(format!(
                "need at least 2 classes, got {classes}"
            )));
        }
        let mut encoders = Vec::new();
        for spec in specs {
            let enc = match (spec.kind, spec.shape.as_slice()) {
                (ModalityKind::Image | ModalityKind::Audio, &[c, h, w]) if h >= 4 && w >= 4 => {
                    Encoder::Conv(ConvEncoder::new(
                        [c, h, w],
                        self.conv_channels,
                        self.feature_dim,
                        device,
                    ))
                }
                (ModalityKind::Text, &[_tokens]) => {
                    Encoder::Text(crate::text_encoder::BagEncoder::new(
                        polymodal_core::TEXT_VOCAB,
                        self.text_embed_dim,
                        self.feature_dim,
                        device,
                    ))
                }
                (ModalityKind::Vector, &[d]) => Encoder::Mlp(MlpEncoder::new(
                    d,
                    self.mlp_hidden,
                    self.feature_dim,
                    device,
                )),
                _ => {
                    return Err(NnError::UnsupportedModality {
                        name: spec.name.clone(),
                        kind: spec.kind,
                        shape: spec.shape.clone(),
                    })
                }
            };
            encoders.push(enc);
        }
        let dims = vec![self.feature_dim; specs.len()];
        if self.fusion == FusionKind::Tensor && self.tensor_rank == 0 {
            let width = dims
                .iter()
                .try_fold(1usize, |acc, d| acc.checked_mul(d + 1))
                .unwrap_or(usize::MAX);
            if width > MAX_FULL_TENSOR_WIDTH {
                return Err(NnError::Config(format!(
                    "full tensor fusion of {} modalities of width {} has {width} inputs (max {MAX_FULL_TENSOR_WIDTH}): set model.tensor_rank > 0 for the low-rank form",
                    dims.len(),
                    self.feature_dim
                )));
            }
        }
        let shape = FusionShape {
            token_dims: encoders.iter().map(Encoder::token_dim).collect(),
            dims: dims.clone(),
            hidden: self.fusion_dim,
            heads: self.attention_heads,
            rank: self.tensor_rank,
            classes,
        };
        Ok(MultimodalClassifier {
            encoders,
            heads: dims
                .iter()
                .map(|&d| LinearConfig::new(d, classes).init(device))
                .collect(),
            fusion: Fusion::new(self.fusion, &shape, device),
            dropout: self.dropout,
        })
    }
}

struct ForceInit;

impl burn::module::ModuleVisitor for ForceInit {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// What the encoders hand to the fusion, zeroed where a modality is missing.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Per modality `[batch, d_m]` penultimate features.
    pub features: Vec<Tensor<2>>,
    /// Per modality `[batch, T_m, t_m]` token sequences, only for fusions that read them.
    pub tokens: Option<Vec<Tensor<3>>>,
}

impl Encoded {
    /// Zeroes modality `m` where `keep[m]` (`[batch, 1]`) is 0: how a modality is dropped at the
    /// fusion input.
    pub fn masked(&self, keep: &[Tensor<2>]) -> Encoded {
        Encoded {
            features: self
                .features
                .iter()
                .zip(keep)
                .map(|(f, k)| f.clone() * k.clone())
                .collect(),
            tokens: self.tokens.as_ref().map(|ts| {
                ts.iter()
                    .zip(keep)
                    .map(|(t, k)| t.clone() * k.clone().unsqueeze_dim::<3>(2))
                    .collect()
            }),
        }
    }
}

/// What every forward pass returns.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// `[batch, classes]`
    pub fused: Tensor<2>,
    /// Per modality `[batch, classes]`, from the auxiliary heads.
    pub per_modality: Vec<Tensor<2>>,
    /// Per modality `[batch, feature_dim]` penultimate features (after masking, before dropout).
    pub features: Vec<Tensor<2>>,
}

#[derive(Module, Debug)]
pub struct MultimodalClassifier {
    /// `encoders[m]` owns every encoder parameter of modality `m`.
    pub encoders: Vec<Encoder>,
    /// Auxiliary unimodal heads, `heads[m]` over modality `m`'s features.
    pub heads: Vec<Linear>,
    pub fusion: Fusion,
    dropout: f64,
}

impl MultimodalClassifier {
    pub fn num_modalities(&self) -> usize {
        self.encoders.len()
    }

    /// Width of each modality's penultimate feature (the input of its head).
    pub fn feature_dims(&self) -> Vec<usize> {
        // burn's Linear weight is [in, out].
        self.heads.iter().map(|h| h.weight.dims()[0]).collect()
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.num_params()
    }

    /// Every float parameter of modality `m`'s encoder (`encoders.m.*`), found by ownership.
    pub fn encoder_params(&self, m: usize) -> Vec<crate::params::NamedParam> {
        crate::params::named_params(&self.encoders[m], &format!("encoders.{m}"))
    }

    /// Which fusion this model uses.
    pub fn fusion_kind(&self) -> FusionKind {
        match &self.fusion {
            Fusion::Concat(_) => FusionKind::Concat,
            Fusion::Sum(_) => FusionKind::Sum,
            Fusion::Gated(_) => FusionKind::Gated,
            Fusion::Late(_) => FusionKind::Late,
            Fusion::CrossAttention(_) => FusionKind::CrossAttention,
            Fusion::Tensor(_) => FusionKind::Tensor,
        }
    }

    /// Per-modality features (and token sequences if the fusion reads them), zeroed where the
    /// modality is missing. inputs: per modality `[batch, numel]`; present: per modality `[batch, 1]`.
    pub fn encode(&self, inputs: Vec<Tensor<2>>, present: &[Tensor<2>]) -> Encoded {
        if !self.fusion_kind().needs_tokens() {
            return Encoded {
                features: inputs
                    .into_iter()
                    .zip(&self.encoders)
                    .zip(present)
                    .map(|((x, enc), p)| enc.forward(x) * p.clone())
                    .collect(),
                tokens: None,
            };
        }
        let (features, tokens) = inputs
            .into_iter()
            .zip(&self.encoders)
            .zip(present)
            .map(|((x, enc), p)| {
                let (z, t) = enc.forward_with_tokens(x);
                (z * p.clone(), t * p.clone().unsqueeze_dim::<3>(2))
            })
            .unzip();
        Encoded {
            features,
            tokens: Some(tokens),
        }
    }

    /// Heads and fusion over given features. With `dropout`, an explicit inverted-dropout mask
    /// drawn from the given RNG is applied (used in training and for MC-dropout at query time,
    /// where burn's own dropout would be a no-op); drawing from our RNG rather than burn's
    /// global one keeps runs reproducible even when several run in one process.
    pub fn head_forward(
        &self,
        encoded: Encoded,
        present: &[Tensor<2>],
        dropout: Option<&mut Rng>,
    ) -> ModelOutput {
        self.head_forward_with(encoded, present, dropout, false)
    }

    /// [`Self::head_forward`], with the per-modality heads optionally reading stop-gradient
    /// features (`detach_heads`): the heads are then linear probes, and no loss on their
    /// logits can reach the encoders (the "probe" head mode, docs/MODALITY_BALANCE.md). The
    /// forward values are the same either way. Late fusion averages the heads' logits, so
    /// with detached heads its encoders would get no gradient at all; training refuses that
    /// combination.
    pub fn head_forward_with(
        &self,
        encoded: Encoded,
        present: &[Tensor<2>],
        dropout: Option<&mut Rng>,
        detach_heads: bool,
    ) -> ModelOutput {
        let Encoded { features, tokens } = encoded;
        let dropped: Vec<Tensor<2>> = match dropout {
            Some(rng) if self.dropout > 0.0 => {
                let keep = 1.0 - self.dropout;
                let scale = (1.0 / keep) as f32;
                features
                    .iter()
                    .map(|z| {
                        let dims = z.dims();
                        let mask: Vec<f32> = (0..dims[0] * dims[1])
                            .map(|_| if rng.random_bool(keep) { scale } else { 0.0 })
                            .collect();
                        z.clone() * Tensor::from_data(TensorData::new(mask, dims), &z.device())
                    })
                    .collect()
            }
            _ => features.clone(),
        };
        let per_modality: Vec<Tensor<2>> = dropped
            .iter()
            .zip(&self.heads)
            .map(|(z, h)| {
                if detach_heads {
                    h.forward(z.clone().detach())
                } else {
                    h.forward(z.clone())
                }
            })
            .collect();
        let fused = self
            .fusion
            .forward(&dropped, tokens.as_deref(), present, &per_modality);
        ModelOutput {
            fused,
            per_modality,
            features,
        }
    }

    pub fn forward(
        &self,
        inputs: Vec<Tensor<2>>,
        present: Vec<Tensor<2>>,
        dropout: Option<&mut Rng>,
    ) -> ModelOutput {
        let encoded = self.encode(inputs, &present);
        self.head_forward(encoded, &present, dropout)
    }

    /// [`Self::forward`] with the per-modality heads on stop-gradient features when
    /// `detach_heads` (see [`Self::head_forward_with`]).
    pub fn forward_with(
        &self,
        inputs: Vec<Tensor<2>>,
        present: Vec<Tensor<2>>,
        dropout: Option<&mut Rng>,
        detach_heads: bool,
    ) -> ModelOutput {
        let encoded = self.encode(inputs, &present);
        self.head_forward_with(encoded, &present, dropout, detach_heads)
    }

    /// Writes the weights as safetensors.
    pub fn save_safetensors(&self, path: &Path) -> Result<(), NnError> {
        save_safetensors(self, path)
    }

    /// Loads weights saved by [`Self::save_safetensors`] into a model of the same architecture.
    pub fn load_safetensors(self, path: &Path) -> Result<Self, NnError> {
        load_safetensors(self, path)
    }
}

/// Writes any module's weights as safetensors (the one checkpoint writer of the workspace).
pub fn save_safetensors<M: ModuleSnapshot>(module: &M, path: &Path) -> Result<(), NnError> {
    // burn's default header metadata is a HashMap of three keys, written in a different order
    // on every run; one key keeps the file byte-identical for the same weights.
    let mut store = SafetensorsStore::from_file(path.to_path_buf())
        .overwrite(true)
        .clear_metadata()
        .metadata("producer", "polymodal (burn 0.22.1)");
    module.save_into(&mut store).map_err(|e| NnError::Save {
        path: path.to_path_buf(),
        reason: format!("{e:?}"),
    })
}

/// Loads weights written by [`save_safetensors`] into a module of the same architecture; a
/// tensor the file lacks is an error rather than a silently fresh weight.
pub fn load_safetensors<M: ModuleSnapshot>(mut module: M, path: &Path) -> Result<M, NnError> {
    if !path.exists() {
        return Err(NnError::Load {
            path: path.to_path_buf(),
            reason: "file not found".into(),
        });
    }
    let mut store = SafetensorsStore::from_file(path.to_path_buf());
    let result = module.load_from(&mut store).map_err(|e| NnError::Load {
        path: path.to_path_buf(),
        reason: format!("{e:?}"),
    })?;
    if !result.missing.is_empty() {
        return Err(NnError::Load {
            path: path.to_path_buf(),
            reason: format!("missing tensors: {:?}", result.missing),
        });
    }
    Ok(module)
}
