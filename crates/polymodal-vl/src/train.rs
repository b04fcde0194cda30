//! Teacher-forced training with per-token loss weights (docs/METHODS.md §6.2):
//! L = Σ_t w_t · (−log p(y_t | image, q, y_<t)) / Σ_t w_t, the weights normalised to mean 1 per
//! batch so the effective learning rate does not change. The variants differ only in w_t (or in
//! which samples are kept):
//!
//! - `baseline`: w_t = 1;
//! - `vd_discrete`: w_neg for image-negative tokens (VD_t < −δ), w_pos for image-positive, 1 else;
//! - `vd_continuous`: w_t = 1 + α·σ(−VD_t/κ);
//! - `filter`: w_t = 1, after dropping the `fraction` of training samples whose object words have
//!   the lowest mean VD (the most hallucination-prone);
//! - `prior`: PRIOR-style, w_t = (1 − p_txt(y_t))^γ with p_txt the reference model's probability
//!   without the image: tokens the text alone cannot predict weigh more.
//!
//! VD and p_txt come once, offline, from a reference model (a trained baseline run): the
//! "no additional inference cost" setting. Every variant trains with `image_dropout` (whole
//! batches without image tokens) so that the model's text-only pathway, which VD and PRIOR
//! read, is a trained language model rather than an untrained input condition.

use crate::error::{Result, VlError};
use crate::model::{teacher_forcing, VlModel, VlModelConfig};
use crate::scenes::{qa_samples, Instruction, QaSample, SceneSet, SceneSplit};
use crate::tokenizer::Tokenizer;
use crate::vd::{threshold_from_percentile, visual_dependence, TargetScorer, WordKind};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub fn inference_device() -> Device {
    Device::flex()
}

pub fn training_device() -> Device {
    Device::flex().autodiff()
}

/// `[train]` of a `vl train` config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub seed: u64,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Warm-up steps (linear), then cosine decay to lr/10.
    pub warmup: usize,
    /// Probability that a batch is trained without image tokens.
    pub image_dropout: f64,
    /// Use only this many training scenes (0 = all); for quick runs and tests.
    pub max_scenes: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            epochs: 21,
            batch: 32,
            lr: 2e-3,
            weight_decay: 0.01,
            warmup: 100,
            image_dropout: 0.1,
            max_scenes: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariantKind {
    Baseline,
    VdDiscrete,
    VdContinuous,
    Filter,
    Prior,
}

impl VariantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::VdDiscrete => "vd_discrete",
            Self::VdContinuous => "vd_continuous",
            Self::Filter => "filter",
            Self::Prior => "prior",
        }
    }
}

/// `[variant]` of a `vl train` config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VariantConfig {
    pub kind: VariantKind,
    /// Model directory (`<run>/model`) of the reference model VD / p_txt come from.
    pub reference: Option<PathBuf>,
    /// VD threshold δ (nats) of the discrete classes.
    pub delta: f32,
    /// If set, δ is this quantile of |VD| over the training answer tokens (per batch when
    /// `online`) instead of `delta`.
    pub delta_percentile: Option<f64>,
    /// VD from the model being trained, per batch (one extra forward pass without the image,
    /// no gradient), instead of once from the reference: only `vd_discrete` / `vd_continuous`.
    pub online: bool,
    /// Online VD: plain (unit-weight) training for this many steps first, so that VD is read
    /// from a model that has begun to use its image.
    pub online_start: usize,
    pub w_neg: f32,
    pub w_pos: f32,
    /// Continuous form: w = 1 + alpha * sigmoid(-VD / kappa).
    pub alpha: f32,
    pub kappa: f32,
    /// Filter: fraction of training samples dropped.
    pub fraction: f64,
    /// PRIOR: exponent γ of (1 − p_txt).
    pub gamma: f32,
}

impl Default for VariantConfig {
    fn default() -> Self {
        Self {
            kind: VariantKind::Baseline,
            reference: None,
            delta: 0.5,
            delta_percentile: None,
            online: false,
            online_start: 0,
            w_neg: 2.0,
            w_pos: 1.0,
            alpha: 2.0,
            kappa: 0.5,
            fraction: 0.1,
            gamma: 1.0,
        }
    }
}

impl VariantConfig {
    /// Whether VD comes per batch from the model being trained.
    pub fn is_online(&self) -> bool {
        self.online
            && matches!(
                self.kind,
                VariantKind::VdDiscrete | VariantKind::VdContinuous
            )
    }

    /// Weight of a token with visual dependence `vd` under threshold `delta`.
    pub fn weight(&self, vd: f32, delta: f32) -> f32 {
        match self.kind {
            VariantKind::VdDiscrete => {
                if vd < -delta {
                    self.w_neg
                } else if vd > delta {
                    self.w_pos
                } else {
                    1.0
                }
            }
            VariantKind::VdContinuous => 1.0 + self.alpha * sigmoid(-vd / self.kappa),
            _ => 1.0,
        }
    }

    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(VlError::Config(m));
        if self.online
            && !matches!(
                self.kind,
                VariantKind::VdDiscrete | VariantKind::VdContinuous
            )
        {
            return bad(format!(
                "variant.online applies to vd_discrete and vd_continuous, not \"{}\"",
                self.kind.as_str()
            ));
        }
        if let Some(q) = self.delta_percentile {
            if !(0.0..=1.0).contains(&q) {
                return bad(format!("variant.delta_percentile = {q} must be in [0, 1]"));
            }
        }
        if self.kind != VariantKind::Baseline && !self.is_online() && self.reference.is_none() {
            return bad(format!(
                "variant.kind = \"{}\" needs variant.reference (the model directory of a trained baseline)",
                self.kind.as_str()
            ));
        }
        if !(self.delta >= 0.0
            && self.w_neg > 0.0
            && self.w_pos > 0.0
            && self.alpha >= 0.0
            && self.kappa > 0.0
            && self.gamma >= 0.0)
        {
            return bad(
                "variant: delta, alpha, gamma must be >= 0 and w_neg, w_pos, kappa > 0".into(),
            );
        }
        if !(0.0..1.0).contains(&self.fraction) {
            return bad(format!(
                "variant.fraction = {} must be in [0, 1)",
                self.fraction
            ));
        }
        Ok(())
    }
}

impl TrainConfig {
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 || self.batch == 0 || self.lr.is_nan() || self.lr <= 0.0 {
            return Err(VlError::Config(
                "train.epochs, train.batch and train.lr must be > 0".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.image_dropout) {
            return Err(VlError::Config(format!(
                "train.image_dropout = {} must be in [0, 1)",
                self.image_dropout
            )));
        }
        Ok(())
    }
}

/// One encoded training sample.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub scene: usize,
    pub seq: Vec<usize>,
    pub start: usize,
    pub instruction: Instruction,
}

pub fn encode(tok: &Tokenizer, samples: &[QaSample]) -> Result<Vec<Encoded>> {
    samples
        .iter()
        .map(|s| {
            let (seq, start) = tok.sequence(&s.question, &s.answer)?;
            Ok(Encoded {
                scene: s.scene,
                seq,
                start,
                instruction: s.instruction,
            })
        })
        .collect()
}

/// Canvases of `scenes` as `[b, side*side]` in [0, 1].
pub fn images_tensor(set: &SceneSet, scenes: &[usize], device: &Device) -> Tensor<2> {
    let d = set.side * set.side;
    let v: Vec<f32> = scenes.iter().flat_map(|&s| set.image_f32(s)).collect();
    Tensor::from_data(TensorData::new(v, [scenes.len(), d]), device)
}

/// The model as a [`TargetScorer`] over a scene set, in batches.
pub struct ModelScorer<'a> {
    pub model: &'a VlModel,
    pub set: &'a SceneSet,
    pub batch: usize,
}

impl TargetScorer for ModelScorer<'_> {
    fn target_logprobs(
        &self,
        scenes: &[usize],
        seqs: &[(Vec<usize>, usize)],
        with_image: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let device = inference_device();
        let mut out = Vec::with_capacity(seqs.len());
        for (sc, sq) in scenes
            .chunks(self.batch.max(1))
            .zip(seqs.chunks(self.batch.max(1)))
        {
            let img = with_image.then(|| images_tensor(self.set, sc, &device));
            out.extend(self.model.target_logprobs(img, sq)?);
        }
        Ok(out)
    }
}

/// Per-token loss weights of every sample, before per-batch normalisation, and which samples
/// are kept.
pub struct Weights {
    pub per_token: Vec<Vec<f32>>,
    pub keep: Vec<bool>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Weights of a variant, from the reference model where one is needed.
pub fn variant_weights(
    v: &VariantConfig,
    data: &[Encoded],
    set: &SceneSet,
    tok: &Tokenizer,
    reference: Option<&VlModel>,
) -> Result<Weights> {
    let ones: Vec<Vec<f32>> = data
        .iter()
        .map(|e| vec![1.0; e.seq.len() - e.start])
        .collect();
    let mut keep = vec![true; data.len()];
    if v.kind == VariantKind::Baseline || v.is_online() {
        return Ok(Weights {
            per_token: ones,
            keep,
        });
    }
    let model =
        reference.ok_or_else(|| VlError::Config("this variant needs a reference model".into()))?;
    let scorer = ModelScorer {
        model,
        set,
        batch: 128,
    };
    let scenes: Vec<usize> = data.iter().map(|e| e.scene).collect();
    let seqs: Vec<(Vec<usize>, usize)> = data.iter().map(|e| (e.seq.clone(), e.start)).collect();
    let per_token = match v.kind {
        VariantKind::Baseline => unreachable!("returned above"),
        VariantKind::VdDiscrete | VariantKind::VdContinuous | VariantKind::Filter => {
            let vd = visual_dependence(&scorer, &scenes, &seqs)?;
            let delta = v
                .delta_percentile
                .map_or(v.delta, |q| threshold_from_percentile(&vd, q));
            match v.kind {
                VariantKind::VdDiscrete | VariantKind::VdContinuous => vd
                    .iter()
                    .map(|r| r.iter().map(|&x| v.weight(x, delta)).collect())
                    .collect(),
                _ => {
                    // Risk = mean VD over the object words of the answer; lowest first.
                    let names = &set.class_names;
                    let mut risk: Vec<(f32, usize)> = Vec::new();
                    for (i, (e, r)) in data.iter().zip(&vd).enumerate() {
                        let words: Vec<String> = e.seq[e.start..]
                            .iter()
                            .map(|&t| tok.words[t].clone())
                            .collect();
                        let obj: Vec<f32> = words
                            .iter()
                            .zip(r)
                            .filter(|(w, _)| WordKind::of(w, names) == WordKind::Object)
                            .map(|(_, &x)| x)
                            .collect();
                        if !obj.is_empty() {
                            risk.push((obj.iter().sum::<f32>() / obj.len() as f32, i));
                        }
                    }
                    risk.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    let drop = (data.len() as f64 * v.fraction).round() as usize;
                    for &(_, i) in risk.iter().take(drop) {
                        keep[i] = false;
                    }
                    ones
                }
            }
        }
        VariantKind::Prior => {
            let lp = scorer.target_logprobs(&scenes, &seqs, false)?;
            lp.iter()
                .map(|r| {
                    r.iter()
                        .map(|&x| (1.0 - x.exp()).max(1e-3).powf(v.gamma))
                        .collect()
                })
                .collect()
        }
    };
    Ok(Weights { per_token, keep })
}

/// Progress of one epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub loss: f64,
    pub val_loss: f64,
    pub seconds: f64,
    /// Target (answer) tokens trained on per second.
    pub tokens_per_second: f64,
}

pub struct Trained {
    pub model: VlModel,
    pub log: Vec<EpochLog>,
    pub samples: usize,
    pub dropped: usize,
}

/// Builds the tokenizer from the training text (all question and answer words of every
/// instruction type, so that any probe is encodable).
pub fn build_tokenizer(set: &SceneSet, seed: u64) -> Tokenizer {
    let samples = qa_samples(set, SceneSplit::Train, seed);
    let mut texts: Vec<String> = samples
        .iter()
        .flat_map(|s| [s.question.clone(), s.answer.clone()])
        .collect();
    // Every class and count must be expressible even if a split lacked it.
    for n in &set.class_names {
        texts.push(format!(
            "is there a {n} ? how many {n} ? no , there is no {n} . yes , there is a {n} ."
        ));
    }
    texts.extend(
        crate::scenes::DESCRIBE_PROMPTS
            .iter()
            .map(|s| s.to_string()),
    );
    texts.push("there is i see the image shows a , and .".into());
    for k in 0..=set.config.max_objects {
        texts.push(format!("there are {k} ."));
    }
    Tokenizer::build(texts.iter().map(String::as_str))
}

/// The training samples of a run (seeded), optionally capped to the first `max_scenes` scenes.
pub fn train_samples(set: &SceneSet, cfg: &TrainConfig) -> Vec<QaSample> {
    let mut s = qa_samples(set, SceneSplit::Train, cfg.seed);
    if cfg.max_scenes > 0 {
        let allowed: Vec<usize> = set
            .indices(SceneSplit::Train)
            .into_iter()
            .take(cfg.max_scenes)
            .collect();
        s.retain(|q| allowed.contains(&q.scene));
    }
    s
}

/// Per-token weights of a batch from VD of the model being trained (online form): log p with
/// the image comes from the training forward pass (`logp`, detached here), log p without it
/// from one more forward pass that records no gradient.
fn online_weights(
    model: &VlModel,
    variant: &VariantConfig,
    batch: &[&Encoded],
    logp: &Tensor<2>,
    inp: &Tensor<2, Int>,
    tgt: &Tensor<3, Int>,
) -> Vec<Vec<f32>> {
    let t = inp.dims()[1];
    let with: Vec<f32> = logp
        .clone()
        .detach()
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let without: Vec<f32> = log_softmax(model.forward(None, inp.clone()).detach(), 2)
        .gather(2, tgt.clone())
        .squeeze_dim::<2>(2)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let vd: Vec<Vec<f32>> = batch
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (i * t + e.start - 1..i * t + e.seq.len() - 1)
                .map(|k| {
                    with.get(k).copied().unwrap_or(0.0) - without.get(k).copied().unwrap_or(0.0)
                })
                .collect()
        })
        .collect();
    let delta = variant
        .delta_percentile
        .map_or(variant.delta, |q| threshold_from_percentile(&vd, q));
    vd.iter()
        .map(|r| r.iter().map(|&x| variant.weight(x, delta)).collect())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn weighted_loss(
    model: &VlModel,
    set: &SceneSet,
    batch: &[&Encoded],
    weights: &[&Vec<f32>],
    with_image: bool,
    online: Option<&VariantConfig>,
    device: &Device,
) -> (Tensor<1>, usize) {
    let seqs: Vec<(Vec<usize>, usize)> = batch.iter().map(|e| (e.seq.clone(), e.start)).collect();
    let (inputs, targets, t) = teacher_forcing(&seqs);
    let b = batch.len();
    let scenes: Vec<usize> = batch.iter().map(|e| e.scene).collect();
    let img = with_image.then(|| images_tensor(set, &scenes, device));
    let inp = Tensor::<2, Int>::from_data(TensorData::new(inputs, [b, t]), device);
    let tgt = Tensor::<3, Int>::from_data(TensorData::new(targets, [b, t, 1]), device);
    let logp = log_softmax(model.forward(img, inp.clone()), 2)
        .gather(2, tgt.clone())
        .squeeze_dim::<2>(2);
    // Without the image in this batch VD is undefined: such batches keep the given weights.
    let computed = match online {
        Some(v) if with_image => Some(online_weights(model, v, batch, &logp, &inp, &tgt)),
        _ => None,
    };
    let weights: Vec<&Vec<f32>> = match &computed {
        Some(c) => c.iter().collect(),
        None => weights.to_vec(),
    };
    // Weight of each target position: the token's weight on answer positions, 0 elsewhere,
    // rescaled so that the answer positions of the batch average 1.
    let mut w = vec![0f32; b * t];
    let mut n = 0usize;
    for (i, (e, ws)) in batch.iter().zip(&weights).enumerate() {
        for (j, &x) in ws.iter().enumerate() {
            w[i * t + e.start - 1 + j] = x;
            n += 1;
        }
    }
    let total: f32 = w.iter().sum();
    let scale = n as f32 / total.max(1e-12);
    for x in &mut w {
        *x *= scale;
    }
    let wt = Tensor::<2>::from_data(TensorData::new(w, [b, t]), device);
    ((logp.neg() * wt).sum() / n.max(1) as f64, n)
}

/// Mean unweighted target NLL on `data` (with images).
pub fn mean_nll(model: &VlModel, set: &SceneSet, data: &[Encoded]) -> Result<f64> {
    let scorer = ModelScorer {
        model,
        set,
        batch: 128,
    };
    let scenes: Vec<usize> = data.iter().map(|e| e.scene).collect();
    let seqs: Vec<(Vec<usize>, usize)> = data.iter().map(|e| (e.seq.clone(), e.start)).collect();
    let lp = scorer.target_logprobs(&scenes, &seqs, true)?;
    let (s, n) = lp
        .iter()
        .flatten()
        .fold((0.0f64, 0usize), |(s, n), &x| (s - x as f64, n + 1));
    Ok(if n == 0 { f64::NAN } else { s / n as f64 })
}

/// Trains a model from scratch; `on_epoch` sees each epoch's log as it ends.
#[allow(clippy::too_many_arguments)]
pub fn train(
    set: &SceneSet,
    tok: &Tokenizer,
    model_cfg: &VlModelConfig,
    cfg: &TrainConfig,
    variant: &VariantConfig,
    reference: Option<&VlModel>,
    mut on_epoch: impl FnMut(&EpochLog),
) -> Result<Trained> {
    cfg.check()?;
    variant.check()?;
    model_cfg.check()?;
    let data = encode(tok, &train_samples(set, cfg))?;
    let max_len = data.iter().map(|e| e.seq.len()).max().unwrap_or(0);
    if max_len > model_cfg.max_text_len {
        return Err(VlError::Config(format!(
            "model.max_text_len = {} is shorter than the longest training sequence ({max_len})",
            model_cfg.max_text_len
        )));
    }
    let val = encode(tok, &qa_samples(set, SceneSplit::Val, cfg.seed))?;
    let weights = variant_weights(variant, &data, set, tok, reference)?;
    let kept: Vec<usize> = (0..data.len()).filter(|&i| weights.keep[i]).collect();
    let dropped = data.len() - kept.len();
    let device = training_device();
    let mut model = model_cfg.init_seeded(
        set.side,
        tok.len(),
        &device,
        polymodal_core::seed::derive(cfg.seed, "init"),
    )?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init();
    let mut shuffle = polymodal_core::seed::rng(cfg.seed, "shuffle");
    let mut drop_rng = polymodal_core::seed::rng(cfg.seed, "image-dropout");
    let steps_per_epoch = kept.len().div_ceil(cfg.batch);
    let total_steps = (steps_per_epoch * cfg.epochs).max(1);
    let mut step = 0usize;
    let mut log = Vec::new();
    for epoch in 0..cfg.epochs {
        let started = std::time::Instant::now();
        let mut order = kept.clone();
        order.shuffle(&mut shuffle);
        let (mut sum, mut count, mut tokens) = (0.0f64, 0usize, 0usize);
        for chunk in order.chunks(cfg.batch) {
            let lr = if step < cfg.warmup {
                cfg.lr * (step + 1) as f64 / cfg.warmup as f64
            } else {
                let p = (step - cfg.warmup) as f64
                    / (total_steps.saturating_sub(cfg.warmup)).max(1) as f64;
                cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p.min(1.0)).cos()))
            };
            let with_image = !drop_rng.random_bool(cfg.image_dropout);
            let batch: Vec<&Encoded> = chunk.iter().map(|&i| &data[i]).collect();
            let ws: Vec<&Vec<f32>> = chunk.iter().map(|&i| &weights.per_token[i]).collect();
            let online = (variant.is_online() && step >= variant.online_start).then_some(variant);
            let (loss, n) = weighted_loss(&model, set, &batch, &ws, with_image, online, &device);
            let value: f32 = loss.clone().into_scalar();
            if !value.is_finite() {
                return Err(VlError::Input(format!(
                    "loss became {value} at epoch {epoch}, step {step}: lower train.lr"
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            sum += value as f64;
            count += 1;
            tokens += n;
            step += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        let val_loss = mean_nll(&model.valid(), set, &val)?;
        let entry = EpochLog {
            epoch,
            loss: sum / count.max(1) as f64,
            val_loss,
            seconds,
            tokens_per_second: tokens as f64 / seconds.max(1e-9),
        };
        tracing::info!(epoch, loss = entry.loss, val_loss, seconds, "vl epoch");
        on_epoch(&entry);
        log.push(entry);
    }
    Ok(Trained {
        model: model.valid(),
        log,
        samples: kept.len(),
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_normalised_to_mean_one_per_batch() {
        // The loss with weights (2, 2, 2) equals the loss with (1, 1, 1): only relative weights
        // matter after normalisation.
        let set = crate::run::tests::tiny_set();
        let tok = build_tokenizer(&set, 0);
        let data = encode(&tok, &qa_samples(&set, SceneSplit::Train, 0)).unwrap();
        let cfg = VlModelConfig {
            d_model: 16,
            heads: 2,
            ff: 16,
            layers: 1,
            max_text_len: 24,
            conv_channels: [4, 4, 4],
            ..VlModelConfig::default()
        };
        let dev = inference_device();
        let m = cfg.init_seeded(set.side, tok.len(), &dev, 0).unwrap();
        let batch: Vec<&Encoded> = data.iter().take(4).collect();
        let ones: Vec<Vec<f32>> = batch
            .iter()
            .map(|e| vec![1.0; e.seq.len() - e.start])
            .collect();
        let twos: Vec<Vec<f32>> = ones
            .iter()
            .map(|r| r.iter().map(|x| x * 2.0).collect())
            .collect();
        let l1: f32 = weighted_loss(
            &m,
            &set,
            &batch,
            &ones.iter().collect::<Vec<_>>(),
            true,
            None,
            &dev,
        )
        .0
        .into_scalar();
        let l2: f32 = weighted_loss(
            &m,
            &set,
            &batch,
            &twos.iter().collect::<Vec<_>>(),
            true,
            None,
            &dev,
        )
        .0
        .into_scalar();
        assert!((l1 - l2).abs() < 1e-5, "{l1} vs {l2}");
        // And with unit weights it is the mean target NLL.
        let nll = mean_nll(&m, &set, &data[..4]).unwrap();
        assert!((l1 as f64 - nll).abs() < 1e-4, "{l1} vs {nll}");
    }

    /// The online weights of a batch (VD from the training forward pass and one pass without
    /// the image) equal the offline weights computed by `visual_dependence` from the same
    /// model, for both forms and for a percentile threshold.
    #[test]
    fn online_weights_equal_offline_weights_of_the_same_model() {
        let set = crate::run::tests::tiny_set();
        let tok = build_tokenizer(&set, 0);
        let data = encode(&tok, &qa_samples(&set, SceneSplit::Train, 0)).unwrap();
        let cfg = VlModelConfig {
            d_model: 16,
            heads: 2,
            ff: 16,
            layers: 1,
            max_text_len: 24,
            conv_channels: [4, 4, 4],
            ..VlModelConfig::default()
        };
        let dev = inference_device();
        let m = cfg.init_seeded(set.side, tok.len(), &dev, 7).unwrap();
        let batch: Vec<&Encoded> = data.iter().collect();
        let seqs: Vec<(Vec<usize>, usize)> =
            batch.iter().map(|e| (e.seq.clone(), e.start)).collect();
        let (inputs, targets, t) = teacher_forcing(&seqs);
        let b = batch.len();
        let scenes: Vec<usize> = batch.iter().map(|e| e.scene).collect();
        let inp = Tensor::<2, Int>::from_data(TensorData::new(inputs, [b, t]), &dev);
        let tgt = Tensor::<3, Int>::from_data(TensorData::new(targets, [b, t, 1]), &dev);
        let logp = log_softmax(
            m.forward(Some(images_tensor(&set, &scenes, &dev)), inp.clone()),
            2,
        )
        .gather(2, tgt.clone())
        .squeeze_dim::<2>(2);
        for (kind, pct) in [
            (VariantKind::VdDiscrete, None),
            (VariantKind::VdDiscrete, Some(0.5)),
            (VariantKind::VdContinuous, None),
        ] {
            let v = VariantConfig {
                kind,
                delta: 0.01,
                delta_percentile: pct,
                w_neg: 3.0,
                w_pos: 0.5,
                reference: Some("unused".into()),
                ..VariantConfig::default()
            };
            let online = online_weights(&m, &v, &batch, &logp, &inp, &tgt);
            let offline = variant_weights(&v, &data, &set, &tok, Some(&m)).unwrap();
            assert_eq!(online.len(), offline.per_token.len());
            let mut differs_from_one = false;
            for (a, b) in online.iter().zip(&offline.per_token) {
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-4, "{kind:?} {pct:?}: {x} vs {y}");
                    differs_from_one |= (x - 1.0).abs() > 1e-3;
                }
            }
            assert!(differs_from_one, "{kind:?}: every weight is 1");
        }
        let bad = VariantConfig {
            kind: VariantKind::Prior,
            online: true,
            ..VariantConfig::default()
        };
        assert_eq!(
            bad.check().unwrap_err().to_string(),
            "invalid config: variant.online applies to vd_discrete and vd_continuous, not \"prior\""
        );
    }

    #[test]
    fn variants_need_a_reference() {
        let v = VariantConfig {
            kind: VariantKind::VdDiscrete,
            ..VariantConfig::default()
        };
        assert_eq!(
            v.check().unwrap_err().to_string(),
            "invalid config: variant.kind = \"vd_discrete\" needs variant.reference (the model directory of a trained baseline)"
        );
    }
}
