use crate::ogm::OgmConfig;
use serde::{Deserialize, Serialize};

/// Learning-rate schedule after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// Cosine decay to `min_lr_ratio * lr` at the last epoch.
    Cosine,
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// AdamW (decoupled weight decay).
    Adamw,
    /// SGD with momentum `train.momentum` (no dampening) and L2 weight decay, as OGM-GE's
    /// paper trains. Adam's per-parameter normalisation largely undoes a gradient scale that
    /// changes slowly, so OGM's coefficient acts most directly with SGD.
    Sgd,
}

/// How the per-modality heads train (`train.heads`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadMode {
    /// Auxiliary heads trained jointly: their losses (weighted by `train.loss_weights`) reach
    /// the encoders, so every encoder gets a direct unimodal learning signal.
    #[default]
    Joint,
    /// The encoders train on the fused loss alone; each head is a linear probe trained
    /// alongside on stop-gradient features, so it measures what the jointly trained encoder
    /// learned without changing it (docs/MODALITY_BALANCE.md, "Head modes").
    /// `train.loss_weights` does not apply: the fused loss and each probe's loss have weight 1.
    Probe,
}

impl HeadMode {
    pub fn is_joint(&self) -> bool {
        *self == HeadMode::Joint
    }
}

impl std::fmt::Display for HeadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeadMode::Joint => "joint",
            HeadMode::Probe => "probe",
        })
    }
}

/// Relative weights of the fused loss and of each auxiliary per-modality loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossWeights {
    pub fused: f64,
    /// Weight of each modality's auxiliary head loss (the same for every modality).
    pub per_modality: f64,
}

impl Default for LossWeights {
    /// Equal weights, as the BMMAL model (1/3 each with two modalities).
    fn default() -> Self {
        Self {
            fused: 1.0,
            per_modality: 1.0,
        }
    }
}

/// Optimisation settings (`[train]` in a config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    pub optimizer: OptimizerKind,
    /// SGD momentum (ignored by AdamW).
    pub momentum: f64,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub warmup_epochs: usize,
    pub schedule: Schedule,
    pub min_lr_ratio: f64,
    /// Stop after this many epochs without a better validation accuracy (0 = never stop early).
    pub patience: usize,
    pub loss_weights: LossWeights,
    /// Jointly trained auxiliary heads or detached linear probes. Left out of a resolved
    /// config when it is the default, so run directories made before the key existed resume.
    #[serde(skip_serializing_if = "HeadMode::is_joint")]
    pub heads: HeadMode,
    /// Train on only the first N samples of the training split (0 = all): for quick runs.
    pub max_train_samples: usize,
    /// Training-time modality dropout: each present modality of each training sample is zeroed
    /// at the fusion input with this probability (never all of a sample's modalities), so the
    /// model learns to survive a missing modality. 0 = off.
    pub modality_dropout: f64,
    /// OGM-GE gradient modulation (`[train.ogm]`).
    pub ogm: OgmConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 15,
            optimizer: OptimizerKind::Adamw,
            momentum: 0.9,
            batch_size: 64,
            eval_batch_size: 256,
            lr: 2e-3,
            weight_decay: 1e-2,
            warmup_epochs: 1,
            schedule: Schedule::Cosine,
            min_lr_ratio: 0.02,
            patience: 4,
            loss_weights: LossWeights::default(),
            heads: HeadMode::Joint,
            max_train_samples: 0,
            modality_dropout: 0.0,
            ogm: OgmConfig::default(),
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.epochs == 0 {
            return Err("train.epochs must be at least 1".into());
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return Err("train.batch_size and train.eval_batch_size must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("train.lr = {} must be a positive number", self.lr).into());
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err("train.weight_decay must be >= 0".into());
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return Err("train.min_lr_ratio must be in [0, 1]".into());
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!("train.momentum = {} must be in [0, 1)", self.momentum).into());
        }
        if !(0.0..1.0).contains(&self.modality_dropout) {
            return Err(format!(
                "train.modality_dropout = {} must be in [0, 1)",
                self.modality_dropout
            )
            .into());
        }
        self.ogm.validate()?;
        let w = &self.loss_weights;
        if !(w.fused >= 0.0 && w.per_modality >= 0.0 && w.fused + w.per_modality > 0.0) {
            return Err("train.loss_weights must be >= 0 and not all zero".into());
        }
        Ok(())
    }

    /// The checks that need the model too: late fusion's output is the mean of the heads'
    /// logits, so with probe heads (stop-gradient) its encoders would never train.
    pub fn validate_for(&self, model: &polymodal_nn::ModelConfig) -> Result<(), ConfigError> {
        self.validate()?;
        if self.heads == HeadMode::Probe && model.fusion == polymodal_nn::fusion::FusionKind::Late {
            return Err(
                "train.heads = \"probe\" cannot be used with model.fusion = \"late\": late fusion averages the heads' logits, so its encoders would get no gradient".into(),
            );
        }
        Ok(())
    }

    /// A fresh optimiser of the configured kind.
    pub fn optimizer(&self) -> burn::optim::ModuleOptimizer {
        match self.optimizer {
            OptimizerKind::Adamw => burn::optim::AdamWConfig::new()
                .with_weight_decay(self.weight_decay as f32)
                .init(),
            OptimizerKind::Sgd => {
                let momentum = (self.momentum > 0.0).then(|| {
                    burn::optim::momentum::MomentumConfig::new()
                        .with_momentum(self.momentum)
                        .with_dampening(0.0)
                });
                let decay = (self.weight_decay > 0.0)
                    .then(|| burn::optim::decay::WeightDecayConfig::new(self.weight_decay as f32));
                burn::optim::SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(decay)
                    .init()
            }
        }
    }

    /// Learning rate at `step` of `total` steps, with `warmup` warm-up steps.
    pub fn lr_at(&self, step: usize, warmup: usize, total: usize) -> f64 {
        if step < warmup {
            return self.lr * (step + 1) as f64 / warmup as f64;
        }
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine => {
                let span = total.saturating_sub(warmup).max(1) as f64;
                let t = ((step - warmup) as f64 / span).min(1.0);
                let min = self.lr * self.min_lr_ratio;
                min + 0.5 * (self.lr - min) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        let c = TrainConfig::default();
        assert!((c.lr_at(0, 10, 100) - c.lr / 10.0).abs() < 1e-12);
        assert!((c.lr_at(9, 10, 100) - c.lr).abs() < 1e-12);
        assert!((c.lr_at(10, 10, 100) - c.lr).abs() < 1e-12);
        assert!((c.lr_at(100, 10, 100) - c.lr * c.min_lr_ratio).abs() < 1e-12);
        assert!(c.lr_at(50, 10, 100) < c.lr);
    }
}

/// A training-config value no run can use; the message names the dotted key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<String> for ConfigError {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for ConfigError {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}
