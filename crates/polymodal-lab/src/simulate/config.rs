//! Simulation configs (`configs/al-avdigits*.toml`): the base training config plus `[active]`,
//! the protocol.

use crate::config::{Extended, Extension, RunConfig};
use crate::LabError;
use polymodal_active::coldstart::{ColdStartKind, ColdStartParams};
use polymodal_active::{StrategyKind, StrategyParams};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How each round's model is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retrain {
    /// A fresh model trained on all labels so far (the BMMAL protocol).
    Scratch,
    /// Continue from the previous round's weights.
    Finetune,
}

/// Upper bounds that turn a typo into an error instead of hours of training or an abort.
pub const MAX_SEEDS: usize = 1000;
pub const MAX_ROUNDS: usize = 10_000;
pub const MAX_WORKERS: usize = 256;

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
    /// Round 0 chosen by a cold-start strategy on the embeddings of `pretrained`
    /// (docs/COLD_START.md) instead of uniformly at random; needs `pretrained`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_strategy: Option<ColdStartKind>,
    /// A `polymodal pretrain` run directory of the same dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PathBuf>,
    /// Initialise every trained model's encoders from `pretrained`'s encoders (heads and
    /// fusion fresh) instead of at random.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pretrained_init: bool,
    /// Parameters of `initial_strategy`.
    #[serde(skip_serializing_if = "is_default_coldstart")]
    pub coldstart: ColdStartParams,
}

fn is_default_coldstart(p: &ColdStartParams) -> bool {
    *p == ColdStartParams::default()
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
            initial_strategy: None,
            pretrained: None,
            pretrained_init: false,
            coldstart: ColdStartParams::default(),
        }
    }
}

impl ActiveConfig {
    /// Labels needed by the end of the last round, or `None` if that overflows.
    pub fn labels_needed(&self) -> Option<usize> {
        self.per_round
            .checked_mul(self.rounds)?
            .checked_add(self.initial)
    }
}

fn duplicates<T: PartialEq>(v: &[T]) -> bool {
    v.iter().enumerate().any(|(i, x)| v[..i].contains(x))
}

impl Extension for ActiveConfig {
    const KEY: &'static str = "active";

    fn validate(&self, _base: &RunConfig) -> Result<(), LabError> {
        if self.strategies.is_empty() {
            return Err(LabError::Invalid("active.strategies is empty".into()));
        }
        if duplicates(&self.strategies) {
            return Err(LabError::Invalid("active.strategies has duplicates".into()));
        }
        if self.seeds.is_empty() {
            return Err(LabError::Invalid("active.seeds is empty".into()));
        }
        if duplicates(&self.seeds) {
            return Err(LabError::Invalid("active.seeds has duplicates".into()));
        }
        if self.seeds.len() > MAX_SEEDS {
            return Err(LabError::Invalid(format!(
                "active.seeds: {} seeds, at most {MAX_SEEDS}",
                self.seeds.len()
            )));
        }
        if self.initial == 0 || self.per_round == 0 {
            return Err(LabError::Invalid(
                "active.initial and active.per_round must be at least 1".into(),
            ));
        }
        if self.rounds > MAX_ROUNDS {
            return Err(LabError::Invalid(format!(
                "active.rounds = {} exceeds {MAX_ROUNDS}",
                self.rounds
            )));
        }
        if self.labels_needed().is_none() {
            return Err(LabError::Invalid(format!(
                "active: initial + per_round x rounds = {} + {} x {} overflows",
                self.initial, self.per_round, self.rounds
            )));
        }
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(LabError::Invalid(format!(
                "active.workers = {} must be in 1..={MAX_WORKERS}",
                self.workers
            )));
        }
        self.params
            .check()
            .map_err(|e| LabError::Invalid(format!("active.params: {e}")))?;
        self.coldstart
            .check()
            .map_err(|e| LabError::Invalid(format!("active.coldstart: {e}")))?;
        if (self.initial_strategy.is_some() || self.pretrained_init) && self.pretrained.is_none() {
            return Err(LabError::Invalid(
                "active.initial_strategy and active.pretrained_init need active.pretrained (a \
                 `polymodal pretrain` run directory)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A simulation config: the training config every round uses plus `[active]`.
pub type SimConfig = Extended<ActiveConfig>;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> String {
        SimConfig::parse(text, "sim.toml", &[])
            .and_then(|c| c.check("sim.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn every_bad_value_is_refused_before_work_starts() {
        let cases = [
            ("[active]\nparams = { mc_passes = 0 }", "mc_passes"),
            ("[active]\nparams = { kmeans_iters = 0 }", "kmeans_iters"),
            ("[active]\nstrategies = []", "strategies is empty"),
            ("[active]\nseeds = [1, 1]", "duplicates"),
            ("[active]\nworkers = 0", "active.workers"),
            ("[active]\ninitial = 0", "at least 1"),
            (
                "[active]\ninitial = 1\nper_round = 9223372036854775807\nrounds = 3",
                "overflows",
            ),
            ("[active]\nrounds = 1000000", "active.rounds"),
            ("seed = 3", "active.seeds"),
            ("[active]\nstrategy = [\"random\"]", "active.strategy"),
            ("[active]\nstrategies = [\"best\"]", "active.strategies"),
            ("[train]\nepochs = 0", "train.epochs"),
            (
                "[active]\ninitial_strategy = \"mmcsal\"",
                "need active.pretrained",
            ),
            (
                "[active]\ninitial_strategy = \"best\"",
                "active.initial_strategy",
            ),
            (
                "[active]\npretrained = \"p\"\ncoldstart = { gamma = -1.0 }",
                "active.coldstart",
            ),
        ];
        for (text, expected) in cases {
            let e = check(text);
            assert!(
                e.contains("sim.toml") && e.contains(expected),
                "{text}: {e}"
            );
        }
        assert_eq!(check(""), "");
    }

    #[test]
    fn resolved_config_round_trips() {
        let c = SimConfig::parse("[active]\nrounds = 2\n[train]\nepochs = 3", "x", &[]).unwrap();
        let back = SimConfig::parse(&c.to_toml().unwrap(), "x", &[]).unwrap();
        assert_eq!(c, back);
        assert!(c.to_toml().unwrap().starts_with("[active]"));
    }
}
