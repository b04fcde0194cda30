//! Training and evaluation of multimodal classifiers.
//!
//! [`trainer::train`] runs a seeded AdamW loop with warm-up + cosine learning-rate schedule,
//! early stopping on the validation split and a best checkpoint in safetensors; it reports
//! progress through a [`trainer::TrainObserver`] so the library itself never prints.
//! [`eval`] turns a model into probabilities (fused and per modality) and metrics.

pub mod bench;
pub mod config;
pub mod eval;
pub mod probe;
pub mod tensors;
pub mod trainer;

pub use config::TrainConfig;
pub use eval::{evaluate, predict, EvalReport, Predictions};
pub use trainer::{
    train, EpochMetrics, Silent, TrainError, TrainObserver, TrainOutcome, TrainRequest,
};
