//! The training loop.

use crate::config::{HeadMode, TrainConfig};
use crate::eval::{evaluate, predict, EvalReport};
use crate::ogm::{self, OgmStep};
use crate::tensors::{batch_inputs, labels_tensor};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor};
use polymodal_core::seed::Rng;
use polymodal_core::CoreError;
use polymodal_data::Batch;
use polymodal_data::{AugmentConfig, DataError, Dataset};
use polymodal_nn::{ModelConfig, MultimodalClassifier, NnError};
use rand::seq::SliceRandom;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Nn(#[from] NnError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("invalid train config: {0}")]
    Config(String),
    #[error("loss became {value} at epoch {epoch}, batch {batch} (samples {ids})")]
    NonFiniteLoss {
        epoch: usize,
        batch: usize,
        value: f32,
        ids: String,
    },
    #[error("no {0} samples to train on")]
    Empty(&'static str),
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
    /// Per modality (in dataset order) validation accuracy of the auxiliary heads.
    pub val_modality_accuracy: Vec<f64>,
    pub seconds: f64,
    pub samples_per_second: f64,
    pub is_best: bool,
}

/// Progress callbacks; the CLI draws bars and logs with them.
pub trait TrainObserver {
    fn on_epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize) {}
    fn on_batch(&mut self, _epoch: usize, _batch: usize, _loss: f32) {}
    fn on_epoch_end(&mut self, _metrics: &EpochMetrics) {}
    /// Once before training when OGM-GE is on: per modality, the parameters modulated when that
    /// modality dominates (every parameter its encoder owns).
    fn on_ogm_params(&mut self, _params: &[Vec<String>]) {}
    /// After every modulated step: scores, ρ and coefficients.
    fn on_ogm_step(&mut self, _step: &OgmStep) {}
}

/// Ignores all progress.
pub struct Silent;
impl TrainObserver for Silent {}

pub struct TrainOutcome {
    /// The best model (by validation accuracy), reloaded from its checkpoint on the
    /// inference device, so later predictions equal what `eval` recomputes from disk.
    pub model: MultimodalClassifier,
    pub history: Vec<EpochMetrics>,
    pub best_epoch: usize,
    pub best_val: EvalReport,
    pub checkpoint: PathBuf,
    /// Every OGM-GE step (empty when OGM-GE is off).
    pub ogm_steps: Vec<OgmStep>,
}

pub struct TrainRequest<'a> {
    pub data: &'a Dataset,
    pub model: &'a ModelConfig,
    pub train: &'a TrainConfig,
    pub augment: &'a AugmentConfig,
    pub train_indices: &'a [usize],
    pub val_indices: &'a [usize],
    pub seed: u64,
    /// Where the best weights are written (safetensors).
    pub checkpoint: &'a Path,
    /// Start from these weights instead of a fresh initialisation (fine-tuning).
    pub init_from: Option<&'a Path>,
}

fn masked_ce(logits: Tensor<2>, targets: Tensor<1, Int>, mask: Tensor<1>) -> Tensor<1> {
    let nll = log_softmax(logits, 1)
        .gather(1, targets.unsqueeze_dim::<2>(1))
        .squeeze_dim::<1>(1)
        .neg();
    (nll * mask.clone()).sum() / mask.sum().clamp_min(1.0)
}

/// Per-step randomness and options beyond plain optimisation.
pub struct StepOptions<'a> {
    /// Feature dropout masks.
    pub dropout_rng: &'a mut Rng,
    /// Training-time modality dropout: probability and RNG (None = off).
    pub modality_dropout: Option<(f64, &'a mut Rng)>,
    /// OGM-GE this step: α and, for the GE noise, its RNG (None = no modulation).
    pub ogm: Option<(f64, Option<&'a mut Rng>)>,
}

/// What one step did.
pub struct StepOutcome {
    pub model: MultimodalClassifier,
    /// Loss before the update.
    pub loss: f32,
    /// Fused-head hits in the batch.
    pub hits: usize,
    /// The modulation applied, if OGM-GE was on (epoch and batch left 0 for the caller).
    pub ogm: Option<OgmStep>,
}

/// Zeroes each present modality of each sample with probability `p`, never all of a sample's
/// present modalities (one of them, uniformly, is then kept).
// `present` is `[modality][sample]`: the loop runs over samples, across modalities.
#[allow(clippy::needless_range_loop)]
pub fn drop_modalities(present: &mut [Vec<f32>], p: f64, rng: &mut Rng) {
    let m = present.len();
    let b = present.first().map_or(0, Vec::len);
    for i in 0..b {
        let had: Vec<usize> = (0..m).filter(|&k| present[k][i] > 0.0).collect();
        if had.len() < 2 {
            continue;
        }
        let keep: Vec<bool> = had.iter().map(|_| !rng.random_bool(p)).collect();
        let survivor = if keep.contains(&true) {
            None
        } else {
            Some(had[rng.random_range(0..had.len())])
        };
        for (&k, &kept) in had.iter().zip(&keep) {
            if !kept && survivor != Some(k) {
                present[k][i] = 0.0;
            }
        }
    }
}

/// One optimisation step on `batch`. A non-finite loss is returned as is (the caller names the
/// samples); the update is still applied, so callers must stop on it.
pub fn train_step(
    model: MultimodalClassifier,
    optim: &mut ModuleOptimizer,
    batch: &Batch,
    cfg: &TrainConfig,
    lr: f64,
    device: &Device,
    opts: StepOptions<'_>,
) -> StepOutcome {
    let StepOptions {
        dropout_rng,
        modality_dropout,
        ogm: ogm_opts,
    } = opts;
    let w = &cfg.loss_weights;
    let probe = cfg.heads == HeadMode::Probe;
    // Probe mode: the fused loss alone trains encoders and fusion, at weight 1 (what joint mode
    // gives with `per_modality = 0`), and each probe's loss reaches only its own head.
    let (fused_w, head_w) = if probe {
        (1.0, 1.0)
    } else {
        let norm = w.fused + w.per_modality * model.num_modalities() as f64;
        (w.fused / norm, w.per_modality / norm)
    };
    let (inputs, present) = match modality_dropout {
        Some((p, rng)) if p > 0.0 => {
            let mut dropped = batch.clone();
            drop_modalities(&mut dropped.present, p, rng);
            batch_inputs(&dropped, device)
        }
        _ => batch_inputs(batch, device),
    };
    let targets = labels_tensor(&batch.labels, device);
    let out = model.forward_with(inputs, present.clone(), Some(dropout_rng), probe);
    let ones = Tensor::<1>::ones([batch.labels.len()], device);
    let mut loss = masked_ce(out.fused.clone(), targets.clone(), ones) * fused_w;
    for (logits, p) in out.per_modality.iter().zip(&present) {
        let mask = p.clone().squeeze_dim::<1>(1);
        loss = loss + masked_ce(logits.clone(), targets.clone(), mask) * head_w;
    }
    let loss_value: f32 = loss.clone().into_scalar();
    let pred = out.fused.argmax(1).squeeze_dim::<1>(1);
    let hits: i64 = pred.equal(targets.clone()).int().sum().into_scalar();
    let hits = hits as usize;
    if !loss_value.is_finite() {
        return StepOutcome {
            model,
            loss: loss_value,
            hits,
            ogm: None,
        };
    }
    // docs/METHODS.md §5.2: score_m = Σ_i softmax(out_m(i))[y_i], here over the samples that have
    // modality m, from the detached per-modality logits.
    let ogm_plan = ogm_opts.map(|(alpha, noise)| {
        let scores: Vec<f64> = out
            .per_modality
            .iter()
            .zip(&present)
            .map(|(logits, p)| {
                let prob = softmax(logits.clone().detach(), 1)
                    .gather(1, targets.clone().unsqueeze_dim::<2>(1));
                let s: f32 = (prob * p.clone()).sum().into_scalar();
                s as f64
            })
            .collect();
        let (dominant, rho, coefficients) = ogm::plan(&scores, alpha);
        (
            OgmStep {
                epoch: 0,
                batch: 0,
                scores,
                dominant,
                rho,
                coefficients,
            },
            noise,
        )
    });
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    let ogm_step = ogm_plan.map(|(step, noise)| {
        ogm::modulate(&mut grads, &model, &step.coefficients, noise);
        step
    });
    let model = optim.step(lr, model, grads);
    StepOutcome {
        model,
        loss: loss_value,
        hits,
        ogm: ogm_step,
    }
}

/// Trains a fresh model and returns the best one.
pub fn train(
    req: TrainRequest<'_>,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, TrainError> {
    let TrainRequest {
        data,
        model: model_cfg,
        train: cfg,
        augment,
        train_indices,
        val_indices,
        seed,
        checkpoint,
        init_from,
    } = req;
    cfg.validate_for(model_cfg)
        .map_err(|e| TrainError::Config(e.0))?;
    if train_indices.is_empty() {
        return Err(TrainError::Empty("training"));
    }
    if val_indices.is_empty() {
        return Err(TrainError::Empty("validation"));
    }
    data.labels_of(train_indices)?;
    data.labels_of(val_indices)?;

    let device = polymodal_nn::backend::training_device();
    let eval_device = polymodal_nn::backend::inference_device();
    let specs = data.specs();
    let mut model = model_cfg.init_seeded(
        &specs,
        data.num_classes(),
        &device,
        polymodal_core::seed::derive(seed, "init"),
    )?;
    if let Some(path) = init_from {
        model = model.load_safetensors(path)?;
    }
    let mut dropout_rng = polymodal_core::seed::rng(seed, "dropout");
    // Separate streams, drawn only when the option is on: default runs stay bit-identical.
    let mut modality_rng = polymodal_core::seed::rng(seed, "modality-dropout");
    let mut ogm_rng = polymodal_core::seed::rng(seed, "ogm-noise");
    let mut ogm_steps = Vec::new();
    if cfg.ogm.enabled {
        let names: Vec<Vec<String>> = (0..model.num_modalities())
            .map(|m| {
                model
                    .encoder_params(m)
                    .into_iter()
                    .map(|p| p.name)
                    .collect()
            })
            .collect();
        observer.on_ogm_params(&names);
    }
    let mut optim = cfg.optimizer();

    let batches_per_epoch = train_indices.len().div_ceil(cfg.batch_size);
    let total_steps = batches_per_epoch * cfg.epochs;
    let warmup = batches_per_epoch * cfg.warmup_epochs;
    let mut order = train_indices.to_vec();
    let mut shuffle_rng = polymodal_core::seed::rng(seed, "shuffle");
    let mut history = Vec::new();
    let mut best: Option<(f64, f64, usize, EvalReport)> = None;
    let mut since_best = 0;
    let mut step = 0;

    for epoch in 1..=cfg.epochs {
        let started = Instant::now();
        order.shuffle(&mut shuffle_rng);
        observer.on_epoch_start(epoch, cfg.epochs, batches_per_epoch);
        let mut loss_sum = 0f64;
        let mut correct = 0usize;
        let mut lr = cfg.lr;
        for (b, chunk) in order.chunks(cfg.batch_size).enumerate() {
            lr = cfg.lr_at(step, warmup, total_steps);
            let aug_seed = polymodal_core::seed::derive(seed, &format!("augment/{epoch}/{b}"));
            let batch = data.batch(chunk, Some((augment, aug_seed)));
            let ogm_on = cfg.ogm.active_in(epoch);
            let step_out = train_step(
                model,
                &mut optim,
                &batch,
                cfg,
                lr,
                &device,
                StepOptions {
                    dropout_rng: &mut dropout_rng,
                    modality_dropout: Some((cfg.modality_dropout, &mut modality_rng)),
                    ogm: ogm_on.then(|| (cfg.ogm.alpha, cfg.ogm.noise.then_some(&mut ogm_rng))),
                },
            );
            model = step_out.model;
            let (loss_value, hits) = (step_out.loss, step_out.hits);
            if let Some(mut s) = step_out.ogm {
                s.epoch = epoch;
                s.batch = b;
                observer.on_ogm_step(&s);
                ogm_steps.push(s);
            }
            if !loss_value.is_finite() {
                let ids: Vec<String> = chunk.iter().map(|&i| data.ids[i].to_string()).collect();
                return Err(TrainError::NonFiniteLoss {
                    epoch,
                    batch: b,
                    value: loss_value,
                    ids: ids.join(","),
                });
            }
            correct += hits;
            loss_sum += loss_value as f64 * chunk.len() as f64;
            step += 1;
            observer.on_batch(epoch, b, loss_value);
        }
        let train_seconds = started.elapsed().as_secs_f64();

        // Validation on the inference device, from the weights as they are now.
        model.save_safetensors(checkpoint_tmp(checkpoint).as_path())?;
        let snapshot = model_cfg
            .init(&specs, data.num_classes(), &eval_device)?
            .load_safetensors(&checkpoint_tmp(checkpoint))?;
        let preds = predict(
            &snapshot,
            data,
            val_indices,
            cfg.eval_batch_size,
            &eval_device,
        );
        let report = evaluate(data, &preds)?;
        let val_acc = report.fused.accuracy;
        let val_loss = report.fused.nll;
        let improved = match &best {
            None => true,
            Some((acc, loss, _, _)) => val_acc > *acc || (val_acc == *acc && val_loss < *loss),
        };
        if improved {
            std::fs::rename(checkpoint_tmp(checkpoint), checkpoint)
                .map_err(|e| CoreError::io(checkpoint, e))?;
            best = Some((val_acc, val_loss, epoch, report.clone()));
            since_best = 0;
        } else {
            since_best += 1;
        }
        let metrics = EpochMetrics {
            epoch,
            lr,
            train_loss: loss_sum / order.len() as f64,
            train_accuracy: correct as f64 / order.len() as f64,
            val_loss,
            val_accuracy: val_acc,
            val_modality_accuracy: data
                .modalities
                .iter()
                .map(|md| {
                    report
                        .per_modality
                        .get(&md.spec.name)
                        .map_or(f64::NAN, |r| r.accuracy)
                })
                .collect(),
            seconds: started.elapsed().as_secs_f64(),
            samples_per_second: order.len() as f64 / train_seconds,
            is_best: improved,
        };
        observer.on_epoch_end(&metrics);
        history.push(metrics);
        if cfg.patience > 0 && since_best >= cfg.patience {
            break;
        }
    }
    let _ = std::fs::remove_file(checkpoint_tmp(checkpoint));
    let (_, _, best_epoch, best_val) = best.expect("at least one epoch ran");
    let model = model_cfg
        .init(&specs, data.num_classes(), &eval_device)?
        .load_safetensors(checkpoint)?;
    Ok(TrainOutcome {
        model,
        history,
        best_epoch,
        best_val,
        checkpoint: checkpoint.to_path_buf(),
        ogm_steps,
    })
}

fn checkpoint_tmp(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.file_name().unwrap_or_default().to_os_string();
    name.push(".epoch.tmp");
    checkpoint.with_file_name(name)
}
