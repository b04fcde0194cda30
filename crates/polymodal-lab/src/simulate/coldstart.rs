//! Starting a simulation from zero labels: round 0 chosen by a cold-start strategy on the
//! embeddings of a pretraining run, and models whose encoders start from the pretrained ones
//! (`[active] initial_strategy`, `pretrained`, `pretrained_init`; docs/COLD_START.md).

use super::config::ActiveConfig;
use crate::pretrain::{load_embeddings, Embeddings};
use crate::LabError;
use polymodal_data::Dataset;
use polymodal_nn::ModelConfig;
use std::path::{Path, PathBuf};

pub const INIT_CHECKPOINT: &str = "init.safetensors";

/// The pretraining run a simulation starts from, checked against its data.
pub struct Pretrained {
    pub dir: PathBuf,
    pub embeddings: Embeddings,
    /// Embedding row of each dataset index.
    rows: Vec<usize>,
}

impl Pretrained {
    /// Loads `a.pretrained` (if any); its dataset must be the simulation's.
    pub fn open(a: &ActiveConfig, data: &Dataset) -> Result<Option<Self>, LabError> {
        let Some(dir) = &a.pretrained else {
            return Ok(None);
        };
        let embeddings = load_embeddings(dir)?;
        if embeddings.dataset_fingerprint != data.fingerprint {
            return Err(LabError::DatasetChanged {
                origin: dir.display().to_string(),
                what: "the pretrained embeddings (active.pretrained)".into(),
                expected: embeddings.dataset_fingerprint,
                found: data.fingerprint.clone(),
            });
        }
        let rows = embeddings.rows_of(data.ids.iter().map(|id| id.0.as_str()), |id| {
            LabError::Invalid(format!(
                "{}: sample {id} has no pretrained embedding",
                dir.display()
            ))
        })?;
        Ok(Some(Self {
            dir: dir.clone(),
            embeddings,
            rows,
        }))
    }

    /// Round 0 of `seed`: `a.initial` of `pool` (dataset indices) chosen by
    /// `a.initial_strategy`, in selection order (the same stream as `polymodal coldstart`).
    pub fn initial_set(
        &self,
        a: &ActiveConfig,
        pool: &[usize],
        seed: u64,
    ) -> Result<Option<Vec<usize>>, LabError> {
        let Some(kind) = a.initial_strategy else {
            return Ok(None);
        };
        let emb_pool: Vec<usize> = pool.iter().map(|&i| self.rows[i]).collect();
        let (picked, _, _) = crate::coldstart::select(
            &self.embeddings,
            &emb_pool,
            kind,
            &a.coldstart,
            a.initial,
            seed,
        )?;
        let back: std::collections::HashMap<usize, usize> =
            pool.iter().map(|&i| (self.rows[i], i)).collect();
        Ok(Some(picked.iter().map(|r| back[r]).collect()))
    }

    /// Writes `dir/init.safetensors`: a classifier initialised as the trainer would
    /// (`derive(train_seed, "init")`), with its encoders replaced by the pretrained ones.
    pub fn init_checkpoint(
        &self,
        model: &ModelConfig,
        data: &Dataset,
        train_seed: u64,
        dir: &Path,
    ) -> Result<PathBuf, LabError> {
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        let device = polymodal_nn::backend::inference_device();
        let fresh = model.init_seeded(
            &data.specs(),
            data.num_classes(),
            &device,
            polymodal_core::seed::derive(train_seed, "init"),
        )?;
        let classifier = polymodal_train::pretrain::load_pretrained_encoders(
            fresh,
            &self.dir.join(crate::pretrain::CHECKPOINT),
        )?;
        let path = dir.join(INIT_CHECKPOINT);
        classifier.save_safetensors(&path)?;
        Ok(path)
    }
}
