//! `[pretrain]`: the self-supervised stage's settings, validated once into [`PretrainParams`].

use serde::{Deserialize, Serialize};

/// Largest number of prototypes per modality (a typo guard: each prototype is a `D`-vector and
/// the Sinkhorn codes are `batch x K`).
pub const MAX_PROTOTYPES: usize = 4096;
/// Largest epoch count and batch size accepted (typo guards, not limits of the method).
pub const MAX_EPOCHS: usize = 10_000;
pub const MAX_BATCH: usize = 65_536;

/// A `[pretrain]` value that cannot be run, named by its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("pretrain.{key} = {value}: {reason}")]
pub struct PretrainConfigError {
    pub key: &'static str,
    pub value: String,
    pub reason: &'static str,
}

fn bad(key: &'static str, value: impl ToString, reason: &'static str) -> PretrainConfigError {
    PretrainConfigError {
        key,
        value: value.to_string(),
        reason,
    }
}

/// Self-supervised pretraining settings (docs/METHODS.md §2.1). Every key has a default;
/// unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PretrainConfig {
    /// Seed of the initial weights, batch order and augmentation.
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Linear warm-up steps as a fraction of the first epoch's batches (1 = one epoch).
    pub warmup_epochs: usize,
    /// Width `D` of the shared embedding space (output of every projection head).
    pub embed_dim: usize,
    /// Hidden width of the projection heads (encoder feature → hidden → `D`).
    pub proj_hidden: usize,
    /// Initial InfoNCE temperature τ (the learnable logit scale starts at `1/τ`).
    pub tau: f64,
    /// Learn the temperature (clamped to `tau_min`); `false` keeps `tau` fixed.
    pub learn_temperature: bool,
    /// Smallest temperature the learnable one may reach (CLIP clamps the scale at 100).
    pub tau_min: f64,
    /// β: weight of the prototype losses (0 = pure cross-modal InfoNCE, no prototypes).
    pub beta: f64,
    /// K: learnable unit prototypes per modality.
    pub prototypes: usize,
    /// ε of the Sinkhorn–Knopp codes `exp(score / ε)`.
    pub epsilon: f64,
    /// Sinkhorn–Knopp iterations.
    pub sinkhorn_iters: usize,
    /// τ_p: temperature of the prototype predictions `softmax(P u / τ_p)`.
    pub proto_temperature: f64,
    /// Also predict each modality's codes from the other modality's embedding through the
    /// first modality's prototypes (cross-modal swapped prediction).
    pub cross_prototypes: bool,
    /// Probability that a vector feature or a text token is masked in an augmented view
    /// (images and spectrograms are shifted as in `[augment]`).
    pub mask_prob: f64,
    /// Pool samples (a seeded subsample) on which the per-epoch modality gap and prototype
    /// usage are measured.
    pub diagnostic_samples: usize,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            epochs: 10,
            batch_size: 128,
            lr: 1e-3,
            weight_decay: 1e-4,
            warmup_epochs: 1,
            embed_dim: 64,
            proj_hidden: 128,
            tau: 0.1,
            learn_temperature: true,
            tau_min: 0.01,
            beta: 1.0,
            prototypes: 32,
            epsilon: 0.05,
            sinkhorn_iters: 3,
            proto_temperature: 0.1,
            cross_prototypes: false,
            mask_prob: 0.1,
            diagnostic_samples: 2000,
        }
    }
}

/// A [`PretrainConfig`] whose every value was checked; the only way to start pretraining.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainParams(PretrainConfig);

impl std::ops::Deref for PretrainParams {
    type Target = PretrainConfig;
    fn deref(&self) -> &PretrainConfig {
        &self.0
    }
}

fn positive(key: &'static str, v: f64) -> Result<(), PretrainConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(key, v, "must be finite and > 0"))
    }
}

impl PretrainConfig {
    /// Checks every value once.
    pub fn validate(self) -> Result<PretrainParams, PretrainConfigError> {
        if self.epochs == 0 || self.epochs > MAX_EPOCHS {
            return Err(bad("epochs", self.epochs, "must be in 1..=10000"));
        }
        // InfoNCE needs negatives, Sinkhorn a batch to balance over.
        if self.batch_size < 2 || self.batch_size > MAX_BATCH {
            return Err(bad("batch_size", self.batch_size, "must be in 2..=65536"));
        }
        positive("lr", self.lr)?;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(bad(
                "weight_decay",
                self.weight_decay,
                "must be finite and >= 0",
            ));
        }
        if self.embed_dim == 0 || self.embed_dim > 4096 {
            return Err(bad("embed_dim", self.embed_dim, "must be in 1..=4096"));
        }
        if self.proj_hidden == 0 || self.proj_hidden > 16384 {
            return Err(bad("proj_hidden", self.proj_hidden, "must be in 1..=16384"));
        }
        positive("tau", self.tau)?;
        positive("tau_min", self.tau_min)?;
        if self.tau < self.tau_min {
            return Err(bad("tau", self.tau, "must be >= pretrain.tau_min"));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(bad("beta", self.beta, "must be finite and >= 0"));
        }
        if self.prototypes < 2 || self.prototypes > MAX_PROTOTYPES {
            return Err(bad("prototypes", self.prototypes, "must be in 2..=4096"));
        }
        positive("epsilon", self.epsilon)?;
        if self.sinkhorn_iters == 0 || self.sinkhorn_iters > 1000 {
            return Err(bad(
                "sinkhorn_iters",
                self.sinkhorn_iters,
                "must be in 1..=1000",
            ));
        }
        positive("proto_temperature", self.proto_temperature)?;
        if !(0.0..1.0).contains(&self.mask_prob) {
            return Err(bad("mask_prob", self.mask_prob, "must be in [0, 1)"));
        }
        if self.diagnostic_samples == 0 {
            return Err(bad(
                "diagnostic_samples",
                self.diagnostic_samples,
                "must be at least 1",
            ));
        }
        Ok(PretrainParams(self))
    }
}

impl PretrainParams {
    pub fn config(&self) -> &PretrainConfig {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_value_names_its_key() {
        let cases: Vec<(PretrainConfig, &str)> = vec![
            (
                PretrainConfig {
                    epochs: 0,
                    ..Default::default()
                },
                "pretrain.epochs = 0",
            ),
            (
                PretrainConfig {
                    batch_size: 1,
                    ..Default::default()
                },
                "pretrain.batch_size = 1",
            ),
            (
                PretrainConfig {
                    beta: -1.0,
                    ..Default::default()
                },
                "pretrain.beta = -1",
            ),
            (
                PretrainConfig {
                    prototypes: 1,
                    ..Default::default()
                },
                "pretrain.prototypes = 1",
            ),
            (
                PretrainConfig {
                    epsilon: 0.0,
                    ..Default::default()
                },
                "pretrain.epsilon = 0",
            ),
            (
                PretrainConfig {
                    tau: f64::NAN,
                    ..Default::default()
                },
                "pretrain.tau = NaN",
            ),
            (
                PretrainConfig {
                    tau: 0.001,
                    ..Default::default()
                },
                "must be >= pretrain.tau_min",
            ),
            (
                PretrainConfig {
                    proto_temperature: -0.1,
                    ..Default::default()
                },
                "pretrain.proto_temperature",
            ),
            (
                PretrainConfig {
                    mask_prob: 1.0,
                    ..Default::default()
                },
                "pretrain.mask_prob = 1",
            ),
        ];
        for (cfg, want) in cases {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{e} should contain {want}");
        }
        assert!(PretrainConfig::default().validate().is_ok());
    }
}
