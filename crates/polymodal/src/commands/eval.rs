//! `polymodal eval`: reload a run's checkpoint, recompute its test metrics and modality
//! diagnostics, and optionally measure robustness with modalities dropped or corrupted.

use super::train::{load_dataset, RunMetrics, CHECKPOINT, CONFIG_FILE, METRICS_JSON};
use crate::config;
use crate::diagnostics::{self, ModalityDiagnostics};
use crate::rundir::RunDir;
use anyhow::{anyhow, bail, Result};
use polymodal_core::{fsutil, Split};
use polymodal_data::{Batch, Dataset};
use polymodal_train::{evaluate, predict, predict_with, EvalReport};
use rand::Rng as _;
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

impl std::str::FromStr for NoiseSpec {
    type Err = anyhow::Error;

    /// `audio=6dB` (SNR) or `image=0.5` (standard deviation).
    fn from_str(s: &str) -> Result<Self> {
        let (m, v) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("expected MODALITY=SNR_DB(dB) or MODALITY=STD, got `{s}`"))?;
        let v = v.trim();
        let level = if let Some(db) = v
            .strip_suffix("dB")
            .or_else(|| v.strip_suffix("db"))
            .or_else(|| v.strip_suffix("DB"))
        {
            let db: f64 = db
                .trim()
                .parse()
                .map_err(|_| anyhow!("`{v}`: SNR must be a number followed by dB"))?;
            if !db.is_finite() {
                bail!("`{v}`: SNR must be finite");
            }
            NoiseLevel::SnrDb(db)
        } else {
            let std: f64 = v
                .parse()
                .map_err(|_| anyhow!("`{v}`: expected a standard deviation or an SNR like 6dB"))?;
            if !(std.is_finite() && std >= 0.0) {
                bail!("`{v}`: standard deviation must be >= 0");
            }
            NoiseLevel::Std(std)
        };
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

fn modality(data: &Dataset, name: &str) -> Result<usize> {
    data.modality_index(name).ok_or_else(|| {
        anyhow!(
            "unknown modality `{name}` (this dataset has: {})",
            data.specs()
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn normal(rng: &mut polymodal_core::seed::Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
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
                *x += (sigma * normal(&mut rng)) as f32;
            }
        }
    }
}

/// `dataset`: where the imported dataset is now, if it moved since training.
pub fn run(run_dir: &Path, corruption: &Corruption, dataset: Option<&Path>) -> Result<EvalOutcome> {
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
    let drop: Vec<usize> = corruption
        .drop
        .iter()
        .map(|n| modality(&data, n))
        .collect::<Result<_>>()?;
    let noise: Vec<(usize, NoiseLevel)> = corruption
        .noise
        .iter()
        .map(|s| {
            let m = modality(&data, &s.modality)?;
            // Token ids are categories: noise on them is not a corruption of the text but a
            // different, possibly invalid, id.
            if data.modalities[m].spec.kind == polymodal_core::ModalityKind::Text {
                bail!(
                    "--noise {}: `{}` is text (token ids); noise applies to images, audio and vectors, use --drop",
                    s.modality,
                    s.modality
                );
            }
            Ok((m, s.level))
        })
        .collect::<Result<_>>()?;
    if !drop.is_empty() && drop.len() == data.modalities.len() {
        bail!("--drop removes every modality; keep at least one");
    }
    let device = polymodal_nn::backend::inference_device();
    let model = cfg
        .model
        .init(&data.specs(), data.num_classes(), &device)?
        .load_safetensors(&dir.file(CHECKPOINT))?;
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
    let written: RunMetrics = fsutil::read_json(&dir.file(METRICS_JSON))?;
    let matches_training = written.test == test
        && (written.test_diagnostics.is_none() || written.test_diagnostics == diag);
    Ok(EvalOutcome {
        matches_training,
        test,
        diagnostics: diag,
        robustness,
    })
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
