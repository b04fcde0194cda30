//! One train-a-cell pipeline, shared by `train`, `compare`, `simulate` and labelling rounds:
//! train on some indices (best checkpoint by validation accuracy), predict the test split,
//! evaluate, and compute the modality diagnostics (exact Shapley contributions, accuracy
//! without each modality).

use crate::diagnostics::{self, ModalityDiagnostics, PerSample};
use crate::LabError;
use polymodal_data::{AugmentConfig, Dataset};
use polymodal_nn::ModelConfig;
use polymodal_train::trainer::TrainRequest;
use polymodal_train::{evaluate, predict, EvalReport, TrainConfig, TrainObserver, TrainOutcome};
use std::path::Path;
use std::time::Instant;

pub const CHECKPOINT: &str = "model.safetensors";
/// The best validation report of the cell's training (the epoch its checkpoint is from), so
/// studies can choose settings on validation rather than test (docs/COLD_START.md).
pub const VAL_REPORT: &str = "val.json";

pub struct CellRequest<'a> {
    pub data: &'a Dataset,
    pub model: &'a ModelConfig,
    pub train: &'a TrainConfig,
    pub augment: &'a AugmentConfig,
    pub train_indices: &'a [usize],
    pub val_indices: &'a [usize],
    /// Evaluated after training; must be labelled. Empty skips the evaluation.
    pub test_indices: &'a [usize],
    pub seed: u64,
    /// The cell's directory: the best checkpoint is written to `dir/model.safetensors`.
    pub dir: &'a Path,
    /// Start from these weights instead of a fresh initialisation (fine-tuning).
    pub init_from: Option<&'a Path>,
}

pub struct Cell {
    pub outcome: TrainOutcome,
    pub test: Option<EvalReport>,
    /// `None` for more than [`diagnostics::MAX_MODALITIES`] modalities or no test split.
    pub diagnostics: Option<(ModalityDiagnostics, PerSample)>,
    pub train_seconds: f64,
}

impl Cell {
    /// Per modality, in `names` order, `f` of the test diagnostics (NaN where absent).
    pub fn per_modality(
        &self,
        names: &[String],
        f: impl Fn(&ModalityDiagnostics, &str) -> Option<f64>,
    ) -> Vec<f64> {
        names
            .iter()
            .map(|n| {
                self.diagnostics
                    .as_ref()
                    .and_then(|(d, _)| f(d, n))
                    .unwrap_or(f64::NAN)
            })
            .collect()
    }

    /// Per modality, in `names` order, the test accuracy of its own head (NaN where absent).
    pub fn modality_accuracy(&self, names: &[String]) -> Vec<f64> {
        names
            .iter()
            .map(|n| {
                self.test
                    .as_ref()
                    .and_then(|t| t.per_modality.get(n))
                    .map_or(f64::NAN, |m| m.accuracy)
            })
            .collect()
    }
}

/// Trains and evaluates one cell.
pub fn run_cell(req: CellRequest, observer: &mut dyn TrainObserver) -> Result<Cell, LabError> {
    std::fs::create_dir_all(req.dir).map_err(|e| LabError::io(req.dir, e))?;
    let checkpoint = req.dir.join(CHECKPOINT);
    let started = Instant::now();
    let outcome = polymodal_train::train(
        TrainRequest {
            data: req.data,
            model: req.model,
            train: req.train,
            augment: req.augment,
            train_indices: req.train_indices,
            val_indices: req.val_indices,
            seed: req.seed,
            checkpoint: &checkpoint,
            init_from: req.init_from,
        },
        observer,
    )?;
    let train_seconds = started.elapsed().as_secs_f64();
    polymodal_core::fsutil::write_json_atomic(&req.dir.join(VAL_REPORT), &outcome.best_val)?;
    let (test, diagnostics) = if req.test_indices.is_empty() {
        (None, None)
    } else {
        let device = polymodal_nn::backend::inference_device();
        let bs = req.train.eval_batch_size;
        let preds = predict(&outcome.model, req.data, req.test_indices, bs, &device);
        let test = evaluate(req.data, &preds)?;
        let diag = diagnostics::compute(&outcome.model, req.data, req.test_indices, bs)?;
        (Some(test), diag)
    };
    Ok(Cell {
        outcome,
        test,
        diagnostics,
        train_seconds,
    })
}

/// Runs `job(0..n)` on up to `workers` threads; the first error wins and stops the others
/// from starting new jobs.
pub fn run_parallel(
    n: usize,
    workers: usize,
    job: impl Fn(usize) -> Result<(), LabError> + Sync,
) -> Result<(), LabError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let error: Mutex<Option<LabError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers.min(n).max(1) {
            s.spawn(|| loop {
                if error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                if let Err(e) = job(i) {
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e);
                    }
                    return;
                }
            });
        }
    });
    match error.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}
