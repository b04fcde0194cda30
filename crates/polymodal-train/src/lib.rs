//! Training and evaluation of multimodal classifiers.
//!
//! [`trainer::train`] runs a seeded AdamW loop with warm-up + cosine learning-rate schedule,
//! early stopping on the validation split and a best checkpoint in safetensors; it reports
//! progress through a [`trainer::TrainObserver`] so the library itself never prints.
//! [`eval`] turns a model into probabilities (fused and per modality) and metrics; [`ogm`] is
//! OGM-GE gradient modulation; [`probe`] gives the arrays active learning and the modality
//! diagnostics read (including every modality subset's fused output).

pub mod bench;
pub mod config;
pub mod eval;
pub mod ogm;
pub mod pretrain;
pub mod probe;
pub mod tensors;
pub mod trainer;

pub use config::{ConfigError, HeadMode, OptimizerKind, TrainConfig};
pub use eval::{evaluate, predict, predict_with, EvalReport, Predictions};
pub use ogm::{OgmConfig, OgmStep};
pub use trainer::{
    train, EpochMetrics, Silent, TrainError, TrainObserver, TrainOutcome, TrainRequest,
};
