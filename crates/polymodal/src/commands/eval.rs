//! `polymodal eval`: reload a run's checkpoint and recompute its test metrics.

use super::train::{load_dataset, RunMetrics, CHECKPOINT, CONFIG_FILE, METRICS_JSON};
use crate::config;
use crate::rundir::RunDir;
use anyhow::{bail, Result};
use polymodal_core::{fsutil, Split};
use polymodal_train::{evaluate, predict, EvalReport};
use std::path::Path;

pub struct EvalOutcome {
    pub test: EvalReport,
    /// Whether the recomputed metrics equal the ones written at training time.
    pub matches_training: bool,
}

/// `dataset`: where the imported dataset is now, if it moved since training.
pub fn run(run_dir: &Path, dataset: Option<&Path>) -> Result<EvalOutcome> {
    let dir = RunDir::open_complete(run_dir)?;
    let mut cfg = config::load(&dir.file(CONFIG_FILE), &[])?;
    if let Some(d) = dataset {
        cfg.dataset.path = Some(d.to_path_buf());
    }
    let data = load_dataset(&mut cfg)?;
    if data.fingerprint != dir.manifest.dataset_fingerprint {
        bail!(
            "{}: dataset fingerprint {} differs from the one the run was trained on ({}): the data or its settings changed",
            config::data_origin(&cfg.dataset, &cfg.data),
            data.fingerprint,
            dir.manifest.dataset_fingerprint
        );
    }
    let device = polymodal_nn::backend::inference_device();
    let model = cfg
        .model
        .init(&data.specs(), data.num_classes(), &device)?
        .load_safetensors(&dir.file(CHECKPOINT))?;
    let test_idx = data.split_indices(Split::Test);
    let preds = predict(&model, &data, &test_idx, cfg.train.eval_batch_size, &device);
    let test = evaluate(&data, &preds)?;
    let written: RunMetrics = fsutil::read_json(&dir.file(METRICS_JSON))?;
    Ok(EvalOutcome {
        matches_training: written.test == test,
        test,
    })
}
