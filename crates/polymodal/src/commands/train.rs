//! `polymodal train`: train one model, write a complete run directory.

use crate::config::{self, RunConfig};
use crate::diagnostics::{self, ModalityDiagnostics};
use crate::progress::BarObserver;
use crate::report;
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use polymodal_core::fsutil;
use polymodal_core::Split;
use polymodal_data::Dataset;
use polymodal_train::trainer::TrainRequest;
use polymodal_train::{evaluate, predict, EpochMetrics, EvalReport, OgmStep, TrainObserver};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const CHECKPOINT: &str = "model.safetensors";
pub const METRICS_JSON: &str = "metrics.json";
pub const METRICS_CSV: &str = "metrics.csv";
pub const CONFIG_FILE: &str = "config.toml";
pub const CONTRIBUTIONS_CSV: &str = "contributions.csv";
pub const OGM_CSV: &str = "ogm.csv";

/// `metrics.json`: only what the same config and seed reproduce exactly (no timings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub class_names: Vec<String>,
    pub val: EvalReport,
    pub test: EvalReport,
    /// Shapley contributions and accuracy without each modality on the test split (absent for
    /// more than four modalities, and in runs made before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_diagnostics: Option<ModalityDiagnostics>,
}

pub struct TrainSummary {
    pub metrics: RunMetrics,
    /// Per modality, the encoder parameters OGM-GE modulates (empty when it is off).
    pub ogm_params: Vec<Vec<String>>,
    pub ogm_steps: Vec<OgmStep>,
    pub history: Vec<EpochMetrics>,
    pub seconds: f64,
}

/// Loads the dataset the config names (resolving its path, recording its inputs).
pub fn load_dataset(config: &mut RunConfig) -> Result<Dataset> {
    config::load_data(&mut config.dataset, &mut config.data)
}

struct CsvObserver {
    bars: BarObserver,
    path: PathBuf,
    ogm_path: PathBuf,
    modality_names: Vec<String>,
    ogm_params: Vec<Vec<String>>,
    error: Option<std::io::Error>,
}

/// Appends `row` to the CSV at `path`, writing `header()` first when the file is new: each
/// epoch (or OGM step) lands on disk as it finishes, so an interrupted run keeps its history.
fn append_csv(path: &Path, header: impl FnOnce() -> String, row: &str) -> std::io::Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if new {
        writeln!(f, "{}", header())?;
    }
    writeln!(f, "{row}")
}

/// `prefix_<modality>` for every modality, comma separated.
fn per_modality_columns(names: &[String], prefix: &str) -> String {
    names
        .iter()
        .map(|n| format!("{prefix}_{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn joined(values: &[f64], precision: usize) -> String {
    values
        .iter()
        .map(|v| format!("{v:.precision$}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl CsvObserver {
    fn write_ogm_row(&mut self, s: &OgmStep) -> std::io::Result<()> {
        let names = &self.modality_names;
        let row = format!(
            "{},{},{},{:.6},{},{}",
            s.epoch,
            s.batch,
            names[s.dominant],
            s.rho,
            joined(&s.scores, 4),
            joined(&s.coefficients, 6)
        );
        append_csv(
            &self.ogm_path,
            || {
                format!(
                    "epoch,batch,dominant,rho,{},{}",
                    per_modality_columns(names, "score"),
                    per_modality_columns(names, "k")
                )
            },
            &row,
        )
    }

    fn write_row(&mut self, m: &EpochMetrics) -> std::io::Result<()> {
        let row = format!(
            "{},{:.6e},{:.6},{:.6},{:.6},{:.6},{},{:.3},{:.1},{}",
            m.epoch,
            m.lr,
            m.train_loss,
            m.train_accuracy,
            m.val_loss,
            m.val_accuracy,
            joined(&m.val_modality_accuracy, 6),
            m.seconds,
            m.samples_per_second,
            m.is_best
        );
        append_csv(
            &self.path,
            || {
                format!(
                    "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,{},seconds,samples_per_second,is_best",
                    per_modality_columns(&self.modality_names, "val_accuracy")
                )
            },
            &row,
        )
    }
}

impl TrainObserver for CsvObserver {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        self.bars.on_epoch_start(epoch, epochs, batches);
    }
    fn on_batch(&mut self, epoch: usize, batch: usize, loss: f32) {
        self.bars.on_batch(epoch, batch, loss);
    }
    fn on_epoch_end(&mut self, m: &EpochMetrics) {
        self.bars.on_epoch_end(m);
        if let Err(e) = self.write_row(m) {
            self.error.get_or_insert(e);
        }
    }
    fn on_ogm_params(&mut self, params: &[Vec<String>]) {
        for (name, list) in self.modality_names.iter().zip(params) {
            tracing::info!(
                "OGM-GE modulates, when {name} dominates, its {} encoder parameters: {}",
                list.len(),
                list.join(", ")
            );
        }
        self.ogm_params = params.to_vec();
    }
    fn on_ogm_step(&mut self, s: &OgmStep) {
        if let Err(e) = self.write_ogm_row(s) {
            self.error.get_or_insert(e);
        }
    }
}

/// Trains with `config` into a new run directory at `out`.
pub fn run(mut config: RunConfig, out: &Path) -> Result<TrainSummary> {
    let data = load_dataset(&mut config)?;
    let mut dir = RunDir::create(out, "train", config.seed, &data.fingerprint)?;
    let outcome = train_into(&config, &data, &dir);
    dir.finish(
        &outcome
            .as_ref()
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{e:#}")),
    )?;
    outcome
}

fn train_into(config: &RunConfig, data: &Dataset, dir: &RunDir) -> Result<TrainSummary> {
    fsutil::write_atomic(&dir.file(CONFIG_FILE), config::to_toml(config)?.as_bytes())?;
    let started = Instant::now();
    let mut train_idx = data.split_indices(Split::Train);
    if config.train.max_train_samples > 0 {
        train_idx.truncate(config.train.max_train_samples);
    }
    let val_idx = data.split_indices(Split::Val);
    let test_idx = data.split_indices(Split::Test);
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let mut observer = CsvObserver {
        bars: BarObserver::new(names.clone()),
        path: dir.file(METRICS_CSV),
        ogm_path: dir.file(OGM_CSV),
        modality_names: names,
        ogm_params: Vec::new(),
        error: None,
    };
    let checkpoint = dir.file(CHECKPOINT);
    tracing::info!(
        "training {:?} fusion on {} samples (val {}, test {}), seed {}",
        config.model.fusion,
        train_idx.len(),
        val_idx.len(),
        test_idx.len(),
        config.seed
    );
    let outcome = polymodal_train::train(
        TrainRequest {
            data,
            model: &config.model,
            train: &config.train,
            augment: &config.augment,
            train_indices: &train_idx,
            val_indices: &val_idx,
            seed: config.seed,
            checkpoint: &checkpoint,
            init_from: None,
        },
        &mut observer,
    )?;
    if let Some(e) = observer.error {
        return Err(e).context(format!("{}: cannot write", dir.file(METRICS_CSV).display()));
    }
    let device = polymodal_nn::backend::inference_device();
    let preds = predict(
        &outcome.model,
        data,
        &test_idx,
        config.train.eval_batch_size,
        &device,
    );
    let test = evaluate(data, &preds)?;
    let diag = diagnostics::compute(
        &outcome.model,
        data,
        &test_idx,
        config.train.eval_batch_size,
    )?;
    if let Some((_, per)) = &diag {
        diagnostics::write_csv(&dir.file(CONTRIBUTIONS_CSV), data, &test_idx, per)?;
    }
    let metrics = RunMetrics {
        best_epoch: outcome.best_epoch,
        epochs_run: outcome.history.len(),
        class_names: data.class_names.clone(),
        val: outcome.best_val.clone(),
        test,
        test_diagnostics: diag.map(|(d, _)| d),
    };
    let summary = TrainSummary {
        metrics,
        ogm_params: observer.ogm_params,
        ogm_steps: outcome.ogm_steps,
        history: outcome.history,
        seconds: started.elapsed().as_secs_f64(),
    };
    report::write_train_report(dir, config, data, &summary)?;
    // Last: its presence (with run.json complete) means the run finished.
    fsutil::write_json_atomic(&dir.file(METRICS_JSON), &summary.metrics)?;
    tracing::info!(
        "test accuracy {:.4} (fused), {} | run directory {}",
        summary.metrics.test.fused.accuracy,
        summary
            .metrics
            .test
            .per_modality
            .iter()
            .map(|(k, v)| format!("{k} {:.4}", v.accuracy))
            .collect::<Vec<_>>()
            .join(", "),
        dir.path.display()
    );
    Ok(summary)
}
