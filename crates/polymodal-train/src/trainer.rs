//! The training loop.

use crate::config::TrainConfig;
use crate::eval::{evaluate, predict, EvalReport};
use crate::tensors::{batch_inputs, labels_tensor};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};
use polymodal_core::CoreError;
use polymodal_data::Batch;
use polymodal_data::{AugmentConfig, DataError, Dataset};
use polymodal_nn::{ModelConfig, MultimodalClassifier, NnError};
use rand::seq::SliceRandom;
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

/// One optimisation step on `batch`: returns the updated model, the loss before the update and
/// the number of fused-head hits. A non-finite loss is returned as is (the caller names the
/// samples); the update is still applied, so callers must stop on it.
pub fn train_step(
    model: MultimodalClassifier,
    optim: &mut ModuleOptimizer,
    batch: &Batch,
    cfg: &TrainConfig,
    lr: f64,
    device: &Device,
    dropout_rng: &mut polymodal_core::seed::Rng,
) -> (MultimodalClassifier, f32, usize) {
    let w = &cfg.loss_weights;
    let norm = w.fused + w.per_modality * model.num_modalities() as f64;
    let (inputs, present) = batch_inputs(batch, device);
    let targets = labels_tensor(&batch.labels, device);
    let out = model.forward(inputs, present.clone(), Some(dropout_rng));
    let ones = Tensor::<1>::ones([batch.labels.len()], device);
    let mut loss = masked_ce(out.fused.clone(), targets.clone(), ones) * (w.fused / norm);
    for (logits, p) in out.per_modality.iter().zip(&present) {
        let mask = p.clone().squeeze_dim::<1>(1);
        loss = loss + masked_ce(logits.clone(), targets.clone(), mask) * (w.per_modality / norm);
    }
    let loss_value: f32 = loss.clone().into_scalar();
    let pred = out.fused.argmax(1).squeeze_dim::<1>(1);
    let hits: i64 = pred.equal(targets).int().sum().into_scalar();
    if !loss_value.is_finite() {
        return (model, loss_value, hits as usize);
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(lr, model, grads);
    (model, loss_value, hits as usize)
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
    cfg.validate().map_err(TrainError::Config)?;
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
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init();

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
            let (next, loss_value, hits) = train_step(
                model,
                &mut optim,
                &batch,
                cfg,
                lr,
                &device,
                &mut dropout_rng,
            );
            model = next;
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
    })
}

fn checkpoint_tmp(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.file_name().unwrap_or_default().to_os_string();
    name.push(".epoch.tmp");
    checkpoint.with_file_name(name)
}
