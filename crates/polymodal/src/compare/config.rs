//! `polymodal compare` configs: a training config (`[data]`, `[augment]`, `[model]`, `[train]`,
//! as `polymodal train` reads) plus `[compare]`, the grid to sweep.

use crate::config::RunConfig;
use anyhow::{anyhow, bail, Result};
use polymodal_data::{AugmentConfig, AvDigitsConfig};
use polymodal_nn::fusion::FusionKind;
use polymodal_nn::ModelConfig;
use polymodal_train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompareSpec {
    /// Fusions to train (`model.fusion` is ignored).
    pub fusions: Vec<FusionKind>,
    /// OGM-GE variants: `false` = off, `true` = on with the `[train.ogm]` settings
    /// (`train.ogm.enabled` is ignored).
    pub ogm: Vec<bool>,
    /// Training seeds; both OGM variants of a fusion share each seed's initial weights.
    pub seeds: Vec<u64>,
    /// Cells trained concurrently.
    pub workers: usize,
}

impl Default for CompareSpec {
    fn default() -> Self {
        Self {
            fusions: FusionKind::ALL.to_vec(),
            ogm: vec![false, true],
            seeds: vec![1, 2, 3],
            workers: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompareConfig {
    pub compare: CompareSpec,
    pub data: AvDigitsConfig,
    pub augment: AugmentConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
}

impl Default for CompareConfig {
    fn default() -> Self {
        let run = RunConfig::default();
        Self {
            compare: CompareSpec::default(),
            data: run.data,
            augment: run.augment,
            model: run.model,
            train: run.train,
        }
    }
}

fn no_duplicates<T: PartialEq>(v: &[T], what: &str) -> Result<()> {
    for (i, x) in v.iter().enumerate() {
        if v[..i].contains(x) {
            bail!("compare.{what} has duplicates");
        }
    }
    Ok(())
}

impl CompareConfig {
    fn validate(&self) -> Result<()> {
        let c = &self.compare;
        if c.fusions.is_empty() || c.ogm.is_empty() || c.seeds.is_empty() {
            bail!("compare.fusions, compare.ogm and compare.seeds must not be empty");
        }
        no_duplicates(&c.fusions, "fusions")?;
        no_duplicates(&c.ogm, "ogm")?;
        no_duplicates(&c.seeds, "seeds")?;
        if c.workers == 0 {
            bail!("compare.workers must be at least 1");
        }
        for &f in &c.fusions {
            self.run_config(f, false, 1).model.validate()?;
        }
        self.train.validate().map_err(|e| anyhow!(e))?;
        Ok(())
    }

    /// The training config of one cell.
    pub fn run_config(&self, fusion: FusionKind, ogm: bool, seed: u64) -> RunConfig {
        let mut run = RunConfig {
            seed,
            dataset: Default::default(),
            data: self.data.clone(),
            augment: self.augment.clone(),
            model: self.model.clone(),
            train: self.train.clone(),
        };
        run.model.fusion = fusion;
        run.train.ogm.enabled = ogm;
        run
    }
}

pub fn load(path: &Path, overrides: &[String]) -> Result<CompareConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read config: {e}", path.display()))?;
    let origin = path.display().to_string();
    let cfg: CompareConfig = crate::config::parse_as(&text, &origin, overrides)?;
    cfg.validate().map_err(|e| anyhow!("{origin}: {e:#}"))?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_unknown_keys_fail() {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../configs/fusion-compare.toml"
        );
        let c = load(Path::new(root), &[]).unwrap();
        assert_eq!(c.compare.fusions.len(), 6);
        let e = crate::config::parse_as::<CompareConfig>("[compare]\nfusion = []\n", "x", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("compare.fusion"), "{e}");
    }
}
