//! Self-supervised multimodal pretraining on an unlabelled pool (docs/METHODS.md §2.1):
//! `L = L_cross + β · (Σ_m L_proto^m [+ L_xproto])`.
//!
//! - `L_cross`: symmetric InfoNCE between the unit embeddings of every modality pair, learnable
//!   temperature, averaged over pairs and the two augmented views ([`loss::info_nce`]).
//! - `L_proto^m`: SwAV-style swapped prediction inside modality `m`: balanced codes
//!   ([`loss::sinkhorn`], no gradient) of view 1 are predicted from view 2 through the prototypes
//!   and vice versa.
//! - `L_xproto` (`cross_prototypes = true`): modality `a`'s codes predicted from modality
//!   `b`'s embedding through `a`'s prototypes, for every ordered pair and view.
//!
//! Labels cannot be read: the training function takes an [`Unlabelled`] view that holds only
//! ids, modality values and row numbers.

pub mod config;
pub mod loss;
pub mod model;

use crate::tensors::to_vec;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
pub use config::{PretrainConfig, PretrainConfigError, PretrainParams};
pub use model::{load_pretrained_encoders, PretrainModel};
use polymodal_core::seed::Rng;
use polymodal_core::{ModalityKind, SampleId, Split};
use polymodal_data::{AugmentConfig, Dataset, ModalityData};
use polymodal_nn::{ModelConfig, NnError};
use rand::seq::SliceRandom;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum PretrainError {
    #[error(transparent)]
    Config(#[from] PretrainConfigError),
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error("pretraining needs at least two modalities, the data has {0}")]
    TooFewModalities(usize),
    #[error("pretraining needs at least 2 pool samples, got {0}")]
    TooFewSamples(usize),
    #[error("pretraining loss became {value} at epoch {epoch}, batch {batch}: lower pretrain.lr")]
    NonFiniteLoss {
        epoch: usize,
        batch: usize,
        value: f32,
    },
}

/// A label-free view of some rows of a dataset: ids and modality values only.
#[derive(Clone, Copy)]
pub struct Unlabelled<'a> {
    pub ids: &'a [SampleId],
    pub modalities: &'a [ModalityData],
    pub rows: &'a [usize],
}

impl<'a> Unlabelled<'a> {
    /// The rows `rows` of `data`, without its labels.
    pub fn of(data: &'a Dataset, rows: &'a [usize]) -> Self {
        Self {
            ids: &data.ids,
            modalities: &data.modalities,
            rows,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Per modality `[b, numel]` inputs of the given positions (into `rows`) and presence.
    fn gather(&self, positions: &[usize]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let mut inputs = Vec::with_capacity(self.modalities.len());
        let mut present = Vec::with_capacity(self.modalities.len());
        for m in self.modalities {
            let d = m.spec.numel();
            let mut buf = Vec::with_capacity(positions.len() * d);
            let mut p = Vec::with_capacity(positions.len());
            for &k in positions {
                let i = self.rows[k];
                buf.extend_from_slice(&m.values[i * d..(i + 1) * d]);
                p.push(f32::from(u8::from(m.present[i])));
            }
            inputs.push(buf);
            present.push(p);
        }
        (inputs, present)
    }
}

/// The rows of the train split: the unlabelled pool pretraining learns from (labelled or not).
pub fn pool_rows(data: &Dataset) -> Vec<usize> {
    data.split_indices(Split::Train)
}

/// One epoch of pretraining (a row of `pretrain.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub lr: f64,
    /// Mean total loss over the epoch's batches.
    pub loss: f64,
    /// Mean `L_cross`.
    pub cross: f64,
    /// Per modality mean `L_proto^m` (computed, and logged, even when β = 0 so that runs
    /// without prototypes show what the term would be; it is then not trained).
    pub proto: Vec<f64>,
    /// Mean `L_xproto` (0 when `cross_prototypes` is off).
    pub cross_proto: f64,
    /// `τ` at the end of the epoch.
    pub temperature: f64,
    /// Per modality pair `(a, b)`, `a < b`, in order: the modality gap on the diagnostic set.
    pub gap: Vec<f64>,
    /// Per modality: entropy (nats) of the distribution of nearest-prototype assignments on the
    /// diagnostic set; `ln K` when every prototype is used equally.
    pub usage_entropy: Vec<f64>,
    pub seconds: f64,
}

/// Progress callbacks (the CLI draws bars with them).
pub trait PretrainObserver {
    fn on_epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize) {}
    fn on_batch(&mut self, _epoch: usize, _batch: usize, _loss: f32) {}
    /// After each epoch, the model in inference mode (e.g. to evaluate it on held-out data);
    /// called before [`Self::on_epoch_end`].
    fn on_epoch_model(&mut self, _epoch: usize, _model: &PretrainModel) {}
    fn on_epoch_end(&mut self, _log: &EpochLog) {}
}

/// Ignores progress.
pub struct Quiet;
impl PretrainObserver for Quiet {}

/// Every modality pair `(a, b)`, `a < b`, in order.
pub fn modality_pairs(m: usize) -> Vec<(usize, usize)> {
    (0..m)
        .flat_map(|a| (a + 1..m).map(move |b| (a, b)))
        .collect()
}

/// The modality gap `||mean_i u_a(i) − mean_i u_b(i)||` over samples with both modalities
/// (`u` rows L2-normalised here; `[n, d]` each). 0 when no sample has both.
pub fn modality_gap(a: &[f32], b: &[f32], both: &[bool], d: usize) -> f64 {
    let mut ca = vec![0f64; d];
    let mut cb = vec![0f64; d];
    let mut n = 0usize;
    for (i, _) in both.iter().enumerate().filter(|(_, &k)| k) {
        for (c, x) in [(&mut ca, a), (&mut cb, b)] {
            let row = &x[i * d..(i + 1) * d];
            let norm = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            if norm > 0.0 {
                for (s, &v) in c.iter_mut().zip(row) {
                    *s += v as f64 / norm;
                }
            }
        }
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    ca.iter()
        .zip(&cb)
        .map(|(x, y)| (x - y) / n as f64)
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
}

/// Entropy (nats) of how often each of `k` prototypes is the nearest of a row of `scores`
/// (`[n, k]`) over the rows where `keep`.
pub fn usage_entropy(scores: &[f32], keep: &[bool], k: usize) -> f64 {
    let mut counts = vec![0usize; k];
    for (row, _) in scores.chunks_exact(k).zip(keep).filter(|(_, &x)| x) {
        counts[polymodal_core::metrics::argmax(row)] += 1;
    }
    let total: usize = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.ln()
        })
        .sum()
}

/// What pretraining returns.
pub struct Pretrained {
    /// On the inference device.
    pub model: PretrainModel,
    pub history: Vec<EpochLog>,
}

/// Everything pretraining needs. `pool` is label-free by construction.
pub struct PretrainRequest<'a> {
    pub pool: Unlabelled<'a>,
    pub model: &'a ModelConfig,
    pub params: &'a PretrainParams,
    pub augment: &'a AugmentConfig,
}

/// Masks vector features / text tokens with probability `p` (0 = padding for tokens, 0 for
/// features); images and spectrograms are shifted by [`polymodal_data::augment::apply`].
fn augment_view(
    data: &ModalityData,
    augment: &AugmentConfig,
    mask_prob: f64,
    buf: &mut [f32],
    rng: &mut Rng,
) {
    match data.spec.kind {
        ModalityKind::Image | ModalityKind::Audio => {
            polymodal_data::augment::apply(&data.spec, augment, buf, rng)
        }
        ModalityKind::Sequence => {}
        ModalityKind::Vector | ModalityKind::Text => {
            if mask_prob > 0.0 {
                for v in buf.iter_mut() {
                    if rng.random_bool(mask_prob) {
                        *v = 0.0;
                    }
                }
            }
        }
    }
}

fn tensor2(v: Vec<f32>, rows: usize, device: &Device) -> Tensor<2> {
    let cols = v.len() / rows.max(1);
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

fn tensor1(v: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// Sinkhorn codes of the detached `scores` (`[b, K]`) over the rows with the modality (rows
/// without it get zero codes).
fn codes(scores: &Tensor<2>, present: &[f32], p: &PretrainParams, device: &Device) -> Tensor<2> {
    let [b, k] = scores.dims();
    let s = to_vec(scores.clone().detach());
    let kept: Vec<usize> = (0..b).filter(|&i| present[i] > 0.0).collect();
    let mut sub = Vec::with_capacity(kept.len() * k);
    for &i in &kept {
        sub.extend_from_slice(&s[i * k..(i + 1) * k]);
    }
    let q = loss::sinkhorn(&sub, kept.len(), k, p.epsilon, p.sinkhorn_iters);
    let mut full = vec![0f32; b * k];
    for (r, &i) in kept.iter().enumerate() {
        full[i * k..(i + 1) * k].copy_from_slice(&q[r * k..(r + 1) * k]);
    }
    tensor2(full, b, device)
}

/// The parts of one batch's loss.
struct Parts {
    total: Tensor<1>,
    cross: f32,
    proto: Vec<f32>,
    cross_proto: f32,
}

/// One augmented view of a batch: per modality inputs `[b, numel]`, and presence.
type View<'a> = (Vec<Vec<f32>>, &'a [Vec<f32>]);

fn batch_loss(
    model: &PretrainModel,
    views: [View<'_>; 2],
    p: &PretrainParams,
    device: &Device,
) -> Parts {
    let m = model.num_modalities();
    let b = views[0].1[0].len();
    let present: Vec<Tensor<1>> = views[0]
        .1
        .iter()
        .map(|v| tensor1(v.clone(), device))
        .collect();
    let u: Vec<Vec<Tensor<2>>> = views
        .iter()
        .map(|(inputs, _)| {
            inputs
                .iter()
                .enumerate()
                .map(|(k, x)| model.embed(k, tensor2(x.clone(), b, device)))
                .collect()
        })
        .collect();
    let pairs = modality_pairs(m);
    let scale = model.scale(p);
    let mut cross = Tensor::<1>::zeros([1], device);
    for view in &u {
        for &(a, c) in &pairs {
            let mask = present[a].clone() * present[c].clone();
            cross = cross + loss::info_nce(view[a].clone(), view[c].clone(), scale.clone(), mask);
        }
    }
    let cross = cross / (2 * pairs.len()) as f64;
    let inv_tp = 1.0 / p.proto_temperature;
    let protos: Vec<Tensor<2>> = (0..m).map(|k| model.prototypes(k)).collect();
    // scores[v][k] = u_k(view v) · P_k^T, and the codes of those scores.
    let scores: Vec<Vec<Tensor<2>>> = u
        .iter()
        .map(|view| {
            (0..m)
                .map(|k| view[k].clone().matmul(protos[k].clone().transpose()))
                .collect()
        })
        .collect();
    let q: Vec<Vec<Tensor<2>>> = scores
        .iter()
        .map(|view| {
            (0..m)
                .map(|k| codes(&view[k], &views[0].1[k], p, device))
                .collect()
        })
        .collect();
    let mut proto_sum = Tensor::<1>::zeros([1], device);
    let mut proto_parts = Vec::with_capacity(m);
    for k in 0..m {
        let l = (loss::swapped_ce(
            q[0][k].clone(),
            scores[1][k].clone() * inv_tp,
            present[k].clone(),
        ) + loss::swapped_ce(
            q[1][k].clone(),
            scores[0][k].clone() * inv_tp,
            present[k].clone(),
        )) * 0.5;
        let value: f32 = l.clone().into_scalar();
        proto_parts.push(value);
        proto_sum = proto_sum + l;
    }
    let mut xproto = Tensor::<1>::zeros([1], device);
    if p.cross_prototypes {
        let mut count = 0usize;
        for (v, view) in u.iter().enumerate() {
            for a in 0..m {
                for c in (0..m).filter(|&c| c != a) {
                    // a's codes, predicted from c's embedding through a's prototypes.
                    let logits = view[c].clone().matmul(protos[a].clone().transpose()) * inv_tp;
                    let mask = present[a].clone() * present[c].clone();
                    xproto = xproto + loss::swapped_ce(q[v][a].clone(), logits, mask);
                    count += 1;
                }
            }
        }
        xproto = xproto / count.max(1) as f64;
    }
    let cross_value: f32 = cross.clone().into_scalar();
    let xproto_value: f32 = xproto.clone().into_scalar();
    let total = if p.beta > 0.0 {
        cross + (proto_sum + xproto) * p.beta
    } else {
        cross
    };
    Parts {
        total,
        cross: cross_value,
        proto: proto_parts,
        cross_proto: xproto_value,
    }
}

/// Unit embeddings of every modality for the rows of `view`, `M x [n, D]` row-major, with a
/// zero row where the sample lacks the modality. No augmentation.
pub fn embed_all(model: &PretrainModel, view: Unlabelled<'_>, batch: usize) -> Vec<Vec<f32>> {
    let device = polymodal_nn::backend::inference_device();
    let m = model.num_modalities();
    let mut out = vec![Vec::new(); m];
    let positions: Vec<usize> = (0..view.len()).collect();
    for chunk in positions.chunks(batch.max(1)) {
        let (inputs, present) = view.gather(chunk);
        for (k, x) in inputs.into_iter().enumerate() {
            let u = to_vec(model.embed(k, tensor2(x, chunk.len(), &device)));
            let d = u.len() / chunk.len();
            for (r, row) in u.chunks_exact(d).enumerate() {
                if present[k][r] > 0.0 {
                    out[k].extend_from_slice(row);
                } else {
                    out[k].extend(std::iter::repeat_n(0.0, d));
                }
            }
        }
    }
    out
}

/// Unit embeddings of `rows` raw inputs of modality `m` (`x`: `[rows, numel]` row-major), e.g.
/// a query typed by a user; `[rows, D]` row-major.
pub fn embed_inputs(model: &PretrainModel, m: usize, x: Vec<f32>, rows: usize) -> Vec<f32> {
    let device = polymodal_nn::backend::inference_device();
    to_vec(model.embed(m, tensor2(x, rows, &device)))
}

/// Modality gaps (per pair) and prototype usage entropies (per modality) on `view`.
pub fn diagnostics(
    model: &PretrainModel,
    view: Unlabelled<'_>,
    batch: usize,
) -> (Vec<f64>, Vec<f64>) {
    let emb = embed_all(model, view, batch);
    let m = model.num_modalities();
    let present: Vec<Vec<bool>> = view
        .modalities
        .iter()
        .map(|md| view.rows.iter().map(|&i| md.present[i]).collect())
        .collect();
    let d = emb[0].len() / view.len().max(1);
    let gaps = modality_pairs(m)
        .into_iter()
        .map(|(a, b)| {
            let both: Vec<bool> = present[a]
                .iter()
                .zip(&present[b])
                .map(|(&x, &y)| x && y)
                .collect();
            modality_gap(&emb[a], &emb[b], &both, d)
        })
        .collect();
    let device = polymodal_nn::backend::inference_device();
    let entropies = (0..m)
        .map(|k| {
            let protos = to_vec(model.prototypes(k));
            let kk = protos.len() / d;
            let u = tensor2(emb[k].clone(), view.len(), &device);
            let pt = tensor2(protos, kk, &device);
            let scores = to_vec(u.matmul(pt.transpose()));
            usage_entropy(&scores, &present[k], kk)
        })
        .collect();
    (gaps, entropies)
}

/// Trains a fresh [`PretrainModel`] on the pool and returns it with its per-epoch log.
pub fn pretrain(
    req: PretrainRequest<'_>,
    observer: &mut dyn PretrainObserver,
) -> Result<Pretrained, PretrainError> {
    let PretrainRequest {
        pool,
        model: model_cfg,
        params: p,
        augment,
    } = req;
    let m = pool.modalities.len();
    if m < 2 {
        return Err(PretrainError::TooFewModalities(m));
    }
    if pool.len() < 2 {
        return Err(PretrainError::TooFewSamples(pool.len()));
    }
    let specs: Vec<_> = pool.modalities.iter().map(|d| d.spec.clone()).collect();
    let device = polymodal_nn::backend::training_device();
    let mut model = PretrainModel::init(&specs, model_cfg, p, &device)?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(p.weight_decay as f32)
        .init();
    let mut order_rng = polymodal_core::seed::rng(p.seed, "pretrain/order");
    // A fixed seeded subsample for the per-epoch diagnostics.
    let diag_rows: Vec<usize> = {
        let mut r = polymodal_core::seed::rng(p.seed, "pretrain/diagnostics");
        let mut pos: Vec<usize> = (0..pool.len()).collect();
        pos.shuffle(&mut r);
        pos.truncate(p.diagnostic_samples);
        pos.sort_unstable();
        pos.into_iter().map(|k| pool.rows[k]).collect()
    };
    let diag_view = Unlabelled {
        rows: &diag_rows,
        ..pool
    };
    // A last batch of one sample has no negatives: drop it (it is in the next epoch's order).
    let batches = if pool.len() % p.batch_size == 1 {
        pool.len() / p.batch_size
    } else {
        pool.len().div_ceil(p.batch_size)
    };
    let total_steps = batches * p.epochs;
    let warmup = batches * p.warmup_epochs;
    let lr_at = |step: usize| {
        if step < warmup {
            return p.lr * (step + 1) as f64 / warmup as f64;
        }
        let t = (step - warmup) as f64 / total_steps.saturating_sub(warmup).max(1) as f64;
        let min = 0.02 * p.lr;
        min + 0.5 * (p.lr - min) * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
    };
    let mut history = Vec::with_capacity(p.epochs);
    let mut step = 0usize;
    for epoch in 1..=p.epochs {
        let started = Instant::now();
        observer.on_epoch_start(epoch, p.epochs, batches);
        let mut order: Vec<usize> = (0..pool.len()).collect();
        order.shuffle(&mut order_rng);
        let (mut sum, mut cross, mut xproto) = (0f64, 0f64, 0f64);
        let mut proto = vec![0f64; m];
        let mut lr = p.lr;
        for (b, chunk) in order.chunks(p.batch_size).take(batches).enumerate() {
            lr = lr_at(step);
            let (inputs, present) = pool.gather(chunk);
            let view = |v: usize| -> Vec<Vec<f32>> {
                inputs
                    .iter()
                    .enumerate()
                    .map(|(k, x)| {
                        let mut x = x.clone();
                        let mut rng = polymodal_core::seed::rng(
                            p.seed,
                            &format!("pretrain/augment/{epoch}/{b}/{v}/{k}"),
                        );
                        augment_view(&pool.modalities[k], augment, p.mask_prob, &mut x, &mut rng);
                        x
                    })
                    .collect()
            };
            let parts = batch_loss(
                &model,
                [(view(0), present.as_slice()), (view(1), present.as_slice())],
                p,
                &device,
            );
            let value: f32 = parts.total.clone().into_scalar();
            if !value.is_finite() {
                return Err(PretrainError::NonFiniteLoss {
                    epoch,
                    batch: b,
                    value,
                });
            }
            let grads = GradientsParams::from_grads(parts.total.backward(), &model);
            model = optim.step(lr, model, grads);
            sum += value as f64;
            cross += parts.cross as f64;
            xproto += parts.cross_proto as f64;
            for (s, v) in proto.iter_mut().zip(&parts.proto) {
                *s += *v as f64;
            }
            step += 1;
            observer.on_batch(epoch, b, value);
        }
        let seconds = started.elapsed().as_secs_f64();
        let valid = model.valid();
        observer.on_epoch_model(epoch, &valid);
        let (gap, usage_entropy) = diagnostics(&valid, diag_view, 256);
        let scale: f32 = valid.scale(p).into_scalar();
        let tau = 1.0 / scale as f64;
        let nb = batches.max(1) as f64;
        let log = EpochLog {
            epoch,
            lr,
            loss: sum / nb,
            cross: cross / nb,
            proto: proto.iter().map(|s| s / nb).collect(),
            cross_proto: xproto / nb,
            temperature: tau,
            gap,
            usage_entropy,
            seconds,
        };
        observer.on_epoch_end(&log);
        history.push(log);
    }
    Ok(Pretrained {
        model: model.valid(),
        history,
    })
}

/// Rebuilds the architecture and loads a checkpoint on the inference device.
pub fn load(
    specs: &[polymodal_core::ModalitySpec],
    model: &ModelConfig,
    params: &PretrainParams,
    path: &Path,
) -> Result<PretrainModel, NnError> {
    let device = polymodal_nn::backend::inference_device();
    PretrainModel::init(specs, model, params, &device)?.load_safetensors(path)
}
