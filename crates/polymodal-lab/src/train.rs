//! `train`: train one model into a complete run directory.

use crate::cell::{run_cell, CellRequest};
use crate::config::{Checked, RunConfig};
use crate::csvfile;
use crate::data::{load_data, Locations};
use crate::diagnostics::ModalityDiagnostics;
use crate::report;
use crate::rundir::RunDir;
use crate::LabError;
use polymodal_core::fsutil;
use polymodal_core::Split;
use polymodal_data::Dataset;
use polymodal_train::{EpochMetrics, EvalReport, HeadMode, OgmStep, TrainObserver};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::cell::CHECKPOINT;
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
    /// How the per-modality heads trained (`train.heads`): joint auxiliary heads, or linear
    /// probes on detached features. Runs made before it existed were all joint.
    #[serde(default)]
    pub heads: HeadMode,
    pub val: EvalReport,
    pub test: EvalReport,
    /// Shapley contributions and accuracy without each modality on the test split (absent for
    /// more than four modalities, and in runs made before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_diagnostics: Option<ModalityDiagnostics>,
}

pub struct TrainSummary {
    pub dir: PathBuf,
    pub metrics: RunMetrics,
    /// Per modality, the encoder parameters OGM-GE modulates (empty when it is off).
    pub ogm_params: Vec<Vec<String>>,
    pub ogm_steps: Vec<OgmStep>,
    pub history: Vec<EpochMetrics>,
    pub seconds: f64,
}

/// Writes `metrics.csv` and `ogm.csv` as training goes, and forwards progress to `inner`.
struct CsvObserver<'a> {
    inner: &'a mut dyn TrainObserver,
    path: PathBuf,
    ogm_path: PathBuf,
    modality_names: Vec<String>,
    ogm_params: Vec<Vec<String>>,
    error: Option<LabError>,
}

impl CsvObserver<'_> {
    fn write_ogm_row(&self, s: &OgmStep) -> Result<(), LabError> {
        let names = &self.modality_names;
        let mut header: Vec<String> = ["epoch", "batch", "dominant", "rho"]
            .map(String::from)
            .to_vec();
        header.extend(csvfile::columns(names, "score"));
        header.extend(csvfile::columns(names, "k"));
        let mut row = vec![
            s.epoch.to_string(),
            s.batch.to_string(),
            names[s.dominant].clone(),
            format!("{:.6}", s.rho),
        ];
        row.extend(csvfile::fixed(&s.scores, 4));
        row.extend(csvfile::fixed(&s.coefficients, 6));
        csvfile::append(&self.ogm_path, &header, &row)
    }

    fn write_row(&self, m: &EpochMetrics) -> Result<(), LabError> {
        let mut header: Vec<String> = [
            "epoch",
            "lr",
            "train_loss",
            "train_accuracy",
            "val_loss",
            "val_accuracy",
        ]
        .map(String::from)
        .to_vec();
        header.extend(csvfile::columns(&self.modality_names, "val_accuracy"));
        header.extend(["seconds", "samples_per_second", "is_best"].map(String::from));
        let mut row = vec![
            m.epoch.to_string(),
            format!("{:.6e}", m.lr),
            format!("{:.6}", m.train_loss),
            format!("{:.6}", m.train_accuracy),
            format!("{:.6}", m.val_loss),
            format!("{:.6}", m.val_accuracy),
        ];
        row.extend(csvfile::fixed(&m.val_modality_accuracy, 6));
        row.extend([
            format!("{:.3}", m.seconds),
            format!("{:.1}", m.samples_per_second),
            m.is_best.to_string(),
        ]);
        csvfile::append(&self.path, &header, &row)
    }
}

impl TrainObserver for CsvObserver<'_> {
    fn on_epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        self.inner.on_epoch_start(epoch, epochs, batches);
    }
    fn on_batch(&mut self, epoch: usize, batch: usize, loss: f32) {
        self.inner.on_batch(epoch, batch, loss);
    }
    fn on_epoch_end(&mut self, m: &EpochMetrics) {
        self.inner.on_epoch_end(m);
        let per: Vec<String> = self
            .modality_names
            .iter()
            .zip(&m.val_modality_accuracy)
            .map(|(n, a)| format!("{n} {a:.4}"))
            .collect();
        tracing::info!(
            "epoch {:>2}: train loss {:.4} acc {:.4} | val acc {:.4} ({}) | {:.0} samples/s{}",
            m.epoch,
            m.train_loss,
            m.train_accuracy,
            m.val_accuracy,
            per.join(", "),
            m.samples_per_second,
            if m.is_best { " | best" } else { "" }
        );
        if let Err(e) = self.write_row(m) {
            self.error.get_or_insert(e);
        }
    }
    fn on_ogm_params(&mut self, params: &[Vec<String>]) {
        self.inner.on_ogm_params(params);
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
        self.inner.on_ogm_step(s);
        if let Err(e) = self.write_ogm_row(s) {
            self.error.get_or_insert(e);
        }
    }
}

/// Trains with `config` into a new run directory at `out`. `observer` sees every epoch and
/// batch (the binary draws progress bars with it).
pub fn run(
    mut config: Checked<RunConfig>,
    out: &Path,
    at: &Locations,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary, LabError> {
    let cfg = config.get_mut();
    let data = load_data(&mut cfg.dataset, &mut cfg.data, at)?;
    let mut dir = RunDir::create(out, "train", config.seed, &data.fingerprint)?;
    dir.run(|dir| train_into(&config, &data, dir, observer))
}

fn train_into(
    config: &RunConfig,
    data: &Dataset,
    dir: &RunDir,
    observer: &mut dyn TrainObserver,
) -> Result<TrainSummary, LabError> {
    fsutil::write_atomic(&dir.file(CONFIG_FILE), config.to_toml()?.as_bytes())?;
    let started = Instant::now();
    let mut train_idx = data.split_indices(Split::Train);
    // Unlabelled rows are the active-learning pool: training uses the labelled ones.
    train_idx.retain(|&i| data.labels[i].is_some());
    if config.train.max_train_samples > 0 {
        train_idx.truncate(config.train.max_train_samples);
    }
    let val_idx = data.split_indices(Split::Val);
    let test_idx = data.split_indices(Split::Test);
    if test_idx.is_empty() {
        return Err(LabError::Invalid(format!(
            "{}: no test samples; import with a test split (or let the import make one)",
            data.name
        )));
    }
    let names: Vec<String> = data.specs().into_iter().map(|s| s.name).collect();
    let mut csv = CsvObserver {
        inner: observer,
        path: dir.file(METRICS_CSV),
        ogm_path: dir.file(OGM_CSV),
        modality_names: names,
        ogm_params: Vec::new(),
        error: None,
    };
    tracing::info!(
        "training {:?} fusion on {} samples (val {}, test {}), seed {}",
        config.model.fusion,
        train_idx.len(),
        val_idx.len(),
        test_idx.len(),
        config.seed
    );
    let cell = run_cell(
        CellRequest {
            data,
            model: &config.model,
            train: &config.train,
            augment: &config.augment,
            train_indices: &train_idx,
            val_indices: &val_idx,
            test_indices: &test_idx,
            seed: config.seed,
            dir: &dir.path,
            init_from: None,
        },
        &mut csv,
    )?;
    if let Some(e) = csv.error {
        return Err(e);
    }
    if let Some((_, per)) = &cell.diagnostics {
        crate::diagnostics::write_csv(&dir.file(CONTRIBUTIONS_CSV), data, &test_idx, per)?;
    }
    let test = cell
        .test
        .clone()
        .ok_or_else(|| LabError::Invalid("no test metrics were computed".into()))?;
    let metrics = RunMetrics {
        best_epoch: cell.outcome.best_epoch,
        epochs_run: cell.outcome.history.len(),
        class_names: data.class_names.clone(),
        heads: config.train.heads,
        val: cell.outcome.best_val.clone(),
        test,
        test_diagnostics: cell.diagnostics.map(|(d, _)| d),
    };
    let summary = TrainSummary {
        dir: dir.path.clone(),
        metrics,
        ogm_params: csv.ogm_params,
        ogm_steps: cell.outcome.ogm_steps,
        history: cell.outcome.history,
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
