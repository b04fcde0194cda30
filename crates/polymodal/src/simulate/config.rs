//! Simulation configs (`configs/al-avdigits*.toml`): the `[active]` protocol plus the same
//! `[data]`, `[augment]`, `[model]` and `[train]` tables as a training config.

use crate::config::{DatasetConfig, RunConfig};
use anyhow::{anyhow, bail, Result};
use polymodal_active::{StrategyKind, StrategyParams};
use polymodal_data::{AugmentConfig, AvDigitsConfig};
use polymodal_nn::ModelConfig;
use polymodal_train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How each round's model is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retrain {
    /// A fresh model trained on all labels so far (the BMMAL protocol).
    Scratch,
    /// Continue from the previous round's weights.
    Finetune,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActiveConfig {
    pub strategies: Vec<StrategyKind>,
    /// One simulation per seed; all strategies of a seed share the round-0 set and model.
    pub seeds: Vec<u64>,
    /// Randomly labelled samples at round 0.
    pub initial: usize,
    /// Samples labelled per round.
    pub per_round: usize,
    /// Rounds after round 0.
    pub rounds: usize,
    pub retrain: Retrain,
    /// Chains (strategy, seed) run in parallel.
    pub workers: usize,
    pub params: StrategyParams,
}

impl Default for ActiveConfig {
    fn default() -> Self {
        Self {
            strategies: StrategyKind::ALL.to_vec(),
            seeds: vec![1, 2, 3],
            initial: 200,
            per_round: 200,
            rounds: 6,
            retrain: Retrain::Scratch,
            workers: 2,
            params: StrategyParams::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    pub active: ActiveConfig,
    pub dataset: DatasetConfig,
    pub data: AvDigitsConfig,
    pub augment: AugmentConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        let run = RunConfig::default();
        Self {
            active: ActiveConfig::default(),
            dataset: run.dataset,
            data: run.data,
            augment: run.augment,
            model: run.model,
            train: run.train,
        }
    }
}

impl SimConfig {
    fn validate(&self) -> Result<()> {
        let a = &self.active;
        if a.strategies.is_empty() {
            bail!("active.strategies is empty");
        }
        if a.seeds.is_empty() {
            bail!("active.seeds is empty");
        }
        let mut s = a.seeds.clone();
        s.sort_unstable();
        s.dedup();
        if s.len() != a.seeds.len() {
            bail!("active.seeds has duplicates");
        }
        if a.initial == 0 || a.per_round == 0 {
            bail!("active.initial and active.per_round must be at least 1");
        }
        if a.workers == 0 {
            bail!("active.workers must be at least 1");
        }
        self.model.validate()?;
        self.train.validate().map_err(|e| anyhow!(e))?;
        Ok(())
    }
}

pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<SimConfig> {
    let cfg: SimConfig = crate::config::parse_as(text, origin, overrides)?;
    cfg.validate().map_err(|e| anyhow!("{origin}: {e}"))?;
    Ok(cfg)
}

pub fn load(path: &Path, overrides: &[String]) -> Result<SimConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read config: {e}", path.display()))?;
    parse(&text, &path.display().to_string(), overrides)
}
