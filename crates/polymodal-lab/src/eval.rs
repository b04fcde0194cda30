//! `eval`: reload a run's checkpoint, recompute its test metrics and modality diagnostics, and
//! optionally measure robustness with modalities dropped or corrupted.

use crate::config::RunConfig;
use crate::data::{data_origin, load_data, Locations};
use crate::diagnostics::{self, ModalityDiagnostics};
use crate::rundir::RunDir;
use crate::train::{RunMetrics, CHECKPOINT, CONFIG_FILE, METRICS_JSON};
use crate::LabError;
use polymodal_core::{fsutil, Split};
use polymodal_data::{Batch, Dataset};
use polymodal_train::{evaluate, predict, predict_with, EvalReport};
use serde::Serialize;
use std::path::Path;

/// Test-time noise on one modality's model input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseLevel {
    /// Gaussian noise at this SNR (dB) relative to each sample's mean-square input.
    SnrDb(f64),
    /// Gaussian noise of this standard deviation.
    Std(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoiseSpec {
    pub modality: String,
    pub level: NoiseLevel,
}

/// A `--noise` value that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoiseSpecError(String);

impl std::str::FromStr for NoiseSpec {
    type Err = NoiseSpecError;

    /// `audio=6dB` (SNR) or `image=0.5` (standard deviation).
    fn from_str(s: &str) -> Result<Self, NoiseSpecError> {
        let bad = |m: String| NoiseSpecError(m);
        let (m, v) = s.split_once('=').ok_or_else(|| {
            bad(format!(
                "expected MODALITY=SNR_DB(dB) or MODALITY=STD, got `{s}`"
            ))
        })?;
        let v = v.trim();
        let level = if let Some(db) = v
            .strip_suffix("dB")
            .or_else(|| v.strip_suffix("db"))
            .or_else(|| v.strip_suffix("DB"))
        {
            let db: f64 = db
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{v}`: SNR must be a number followed by dB")))?;
            if !db.is_finite() {
                return Err(bad(format!("`{v}`: SNR must be finite")));
            }
            NoiseLevel::SnrDb(db)
        } else {
            let std: f64 = v.parse().map_err(|_| {
                bad(format!(
                    "`{v}`: expected a standard deviation or an SNR like 6dB"
                ))
            })?;
            if !(std.is_finite() && std >= 0.0) {
                return Err(bad(format!("`{v}`: standard deviation must be >= 0")));
            }
            NoiseLevel::Std(std)
        };
        if m.trim().is_empty() {
            return Err(bad(format!("`{s}`: no modality before `=`")));
        }
        Ok(NoiseSpec {
            modality: m.trim().to_string(),
            level,
        })
    }
}

/// What to do to the test inputs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Corruption {
    /// Modalities zeroed at the fusion input (presence mask 0), as a missing modality is.
    pub drop: Vec<String>,
    pub noise: Vec<NoiseSpec>,
    /// Seed of the noise.
    pub seed: u64,
}

impl Corruption {
    pub fn is_empty(&self) -> bool {
        self.drop.is_empty() && self.noise.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Robustness {
    pub corruption: Corruption,
    /// Test metrics under the corruption.
    pub test: EvalReport,
}

pub struct EvalOutcome {
    pub test: EvalReport,
    pub diagnostics: Option<ModalityDiagnostics>,
    pub robustness: Option<Robustness>,
    /// Whether the recomputed metrics equal the ones written at training time.
    pub matches_training: bool,
}

fn modality(data: &Dataset, name: &str) -> Result<usize, LabError> {
    data.modality_index(name).ok_or_else(|| {
        LabError::Invalid(format!(
            "unknown modality `{name}` (this dataset has: {})",
            data.specs()
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Applies `c` to one batch (numbered `k`): dropped modalities get presence 0; noisy ones get
/// Gaussian noise added to each present sample's input.
fn corrupt(batch: &mut Batch, k: usize, drop: &[usize], noise: &[(usize, NoiseLevel)], seed: u64) {
    for &m in drop {
        batch.present[m].iter_mut().for_each(|p| *p = 0.0);
    }
    let b = batch.indices.len();
    for &(m, level) in noise {
        let mut rng = polymodal_core::seed::rng(seed, &format!("eval-noise/{m}/{k}"));
        let width = batch.inputs[m].len() / b.max(1);
        for i in 0..b {
            if batch.present[m][i] == 0.0 {
                continue;
            }
            let row = &mut batch.inputs[m][i * width..(i + 1) * width];
            let sigma = match level {
                NoiseLevel::Std(s) => s,
                NoiseLevel::SnrDb(db) => {
                    let power =
                        row.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / width.max(1) as f64;
                    (power / 10f64.powf(db / 10.0)).sqrt()
                }
            };
            for x in row.iter_mut() {
                *x += (sigma * polymodal_core::seed::standard_normal(&mut rng)) as f32;
            }
        }
    }
}

/// `dataset`: where the imported dataset is now, if it moved since training.
pub fn run(
    run_dir: &Path,
    corruption: &Corruption,
    dataset: Option<&Path>,
    at: &Locations,
) -> Result<EvalOutcome, LabError> {
    let manifest = RunDir::read_complete(run_dir)?;
    let mut cfg = RunConfig::load(&run_dir.join(CONFIG_FILE), &[])?
        .check(&run_dir.join(CONFIG_FILE).display().to_string())?
        .into_inner();
    if let Some(d) = dataset {
        cfg.dataset.path = Some(d.to_path_buf());
    }
    let data = load_data(&mut cfg.dataset, &mut cfg.data, at)?;
    if data.fingerprint != manifest.dataset_fingerprint {
        return Err(LabError::DatasetChanged {
            origin: data_origin(&cfg.dataset, &cfg.data),
            what: "the run".into(),
            expected: manifest.dataset_fingerprint,
            found: data.fingerprint.clone(),
        });
    }
    let drop: Vec<usize> = corruption
        .drop
        .iter()
        .map(|n| modality(&data, n))
        .collect::<Result<_, _>>()?;
    let noise: Vec<(usize, NoiseLevel)> = corruption
        .noise
        .iter()
        .map(|s| {
            let m = modality(&data, &s.modality)?;
            // Token ids are categories: noise on them is not a corruption of the text but a
            // different, possibly invalid, id.
            if data.modalities[m].spec.kind == polymodal_core::ModalityKind::Text {
                return Err(LabError::Invalid(format!(
                    "--noise {}: `{}` is text (token ids); noise applies to images, audio and vectors, use --drop",
                    s.modality, s.modality
                )));
            }
            Ok((m, s.level))
        })
        .collect::<Result<_, LabError>>()?;
    if !drop.is_empty() && drop.len() == data.modalities.len() {
        return Err(LabError::Invalid(
            "--drop removes every modality; keep at least one".into(),
        ));
    }
    let device = polymodal_nn::backend::inference_device();
    let model = cfg
        .model
        .init(&data.specs(), data.num_classes(), &device)?
        .load_safetensors(&run_dir.join(CHECKPOINT))?;
    let test_idx = data.split_indices(Split::Test);
    let bs = cfg.train.eval_batch_size;
    let preds = predict(&model, &data, &test_idx, bs, &device);
    let test = evaluate(&data, &preds)?;
    let diag = diagnostics::compute(&model, &data, &test_idx, bs)?.map(|(d, _)| d);
    let robustness = if corruption.is_empty() {
        None
    } else {
        let preds = predict_with(&model, &data, &test_idx, bs, &device, &mut |k, batch| {
            corrupt(batch, k, &drop, &noise, corruption.seed)
        });
        let mut report = evaluate(&data, &preds)?;
        // A dropped modality's own head saw zero features: not a meaningful accuracy.
        for name in &corruption.drop {
            report.per_modality.remove(name);
        }
        Some(Robustness {
            corruption: corruption.clone(),
            test: report,
        })
    };
    let written: RunMetrics = fsutil::read_json(&run_dir.join(METRICS_JSON))?;
    let matches_training = metrics_match(&written, &test, diag.as_ref());
    Ok(EvalOutcome {
        matches_training,
        test,
        diagnostics: diag,
        robustness,
    })
}

/// Whether recomputed test metrics equal the ones written at training time. Predictions are
/// computed in batches, and a different `eval_batch_size` may change the last bits of a
/// float sum: counts must be equal, real-valued metrics equal to 1e-9.
fn metrics_match(
    written: &RunMetrics,
    test: &EvalReport,
    diag: Option<&ModalityDiagnostics>,
) -> bool {
    fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (a, b) {
            (V::Number(x), V::Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
                }
                _ => x == y,
            },
            (V::Array(x), V::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b))
            }
            (V::Object(x), V::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
            }
            _ => a == b,
        }
    }
    fn json<T: Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
    }
    close(&json(&written.test), &json(test))
        && match (&written.test_diagnostics, diag) {
            (None, _) => true,
            (Some(w), Some(d)) => close(&json(w), &json(d)),
            (Some(_), None) => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_specs_parse() {
        let s: NoiseSpec = "audio=6dB".parse().unwrap();
        assert_eq!(s.modality, "audio");
        assert_eq!(s.level, NoiseLevel::SnrDb(6.0));
        let s: NoiseSpec = "image=-3 dB".parse().unwrap();
        assert_eq!(s.level, NoiseLevel::SnrDb(-3.0));
        let s: NoiseSpec = "image=0.5".parse().unwrap();
        assert_eq!(s.level, NoiseLevel::Std(0.5));
        assert!("image".parse::<NoiseSpec>().is_err());
        assert!("image=-1".parse::<NoiseSpec>().is_err());
        assert!("image=loud".parse::<NoiseSpec>().is_err());
    }

    #[test]
    fn snr_noise_has_the_requested_power() {
        let b = 4;
        let width = 2000;
        let inputs: Vec<f32> = (0..b * width).map(|i| ((i % 7) as f32) - 3.0).collect();
        let mut batch = Batch {
            indices: (0..b).collect(),
            inputs: vec![inputs.clone()],
            present: vec![vec![1.0; b]],
            labels: vec![0; b],
        };
        corrupt(&mut batch, 0, &[], &[(0, NoiseLevel::SnrDb(0.0))], 7);
        let signal = inputs.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        let noise = batch.inputs[0]
            .iter()
            .zip(&inputs)
            .map(|(&y, &x)| ((y - x) as f64).powi(2))
            .sum::<f64>();
        // 0 dB: noise power equals signal power (to sampling error).
        assert!((noise / signal - 1.0).abs() < 0.05, "{}", noise / signal);
        let mut dropped = batch.clone();
        corrupt(&mut dropped, 0, &[0], &[], 7);
        assert_eq!(dropped.present[0], vec![0.0; b]);
    }
}
