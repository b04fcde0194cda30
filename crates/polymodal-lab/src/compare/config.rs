//! `compare` configs: the base training config plus `[compare]`, the grid to sweep.

use crate::config::{Extended, Extension, RunConfig};
use crate::LabError;
use polymodal_nn::fusion::FusionKind;
use serde::{Deserialize, Serialize};

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

fn duplicates<T: PartialEq>(v: &[T]) -> bool {
    v.iter().enumerate().any(|(i, x)| v[..i].contains(x))
}

impl Extension for CompareSpec {
    const KEY: &'static str = "compare";

    fn validate(&self, base: &RunConfig) -> Result<(), LabError> {
        if self.fusions.is_empty() || self.ogm.is_empty() || self.seeds.is_empty() {
            return Err(LabError::Invalid(
                "compare.fusions, compare.ogm and compare.seeds must not be empty".into(),
            ));
        }
        for (what, dup) in [
            ("fusions", duplicates(&self.fusions)),
            ("ogm", duplicates(&self.ogm)),
            ("seeds", duplicates(&self.seeds)),
        ] {
            if dup {
                return Err(LabError::Invalid(format!("compare.{what} has duplicates")));
            }
        }
        if self.seeds.len() > crate::simulate::config::MAX_SEEDS {
            return Err(LabError::Invalid(format!(
                "compare.seeds: more than {} seeds",
                crate::simulate::config::MAX_SEEDS
            )));
        }
        if self.workers == 0 || self.workers > crate::simulate::config::MAX_WORKERS {
            return Err(LabError::Invalid(format!(
                "compare.workers = {} must be in 1..={}",
                self.workers,
                crate::simulate::config::MAX_WORKERS
            )));
        }
        for &f in &self.fusions {
            let mut model = base.model.clone();
            model.fusion = f;
            model
                .validate()
                .map_err(|e| LabError::Invalid(format!("fusion {f}: {e}")))?;
        }
        Ok(())
    }
}

/// A comparison config: the training config every cell uses plus `[compare]`.
pub type CompareConfig = Extended<CompareSpec>;

impl CompareConfig {
    /// The training config of one cell.
    pub fn run_config(&self, fusion: FusionKind, ogm: bool, seed: u64) -> RunConfig {
        let mut run = self.base.clone();
        run.seed = seed;
        run.model.fusion = fusion;
        run.train.ogm.enabled = ogm;
        run
    }
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
        let c = CompareConfig::load(std::path::Path::new(root), &[])
            .unwrap()
            .check("x")
            .unwrap();
        assert_eq!(c.ext.fusions.len(), 6);
        let e = CompareConfig::parse("[compare]\nfusion = []\n", "x", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("compare.fusion"), "{e}");
        let e = CompareConfig::parse("[compare]\nworkers = 0\n", "x", &[])
            .unwrap()
            .check("x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("compare.workers"), "{e}");
    }
}
