//! Encoders, fusion modules and heads for multimodal classification, on burn 0.22.
//!
//! A [`MultimodalClassifier`] has one encoder per modality (`encoders[m]`, so every parameter of
//! modality `m` is found by ownership), a [`fusion::Fusion`] producing fused logits, and an
//! auxiliary linear head per modality (`heads[m]`) trained jointly. Every forward pass returns
//! fused logits, per-modality logits and per-modality penultimate features ([`ModelOutput`]).
//!
//! Inputs are flat `[batch, numel]` tensors per modality plus a `[batch, 1]` presence mask; a
//! missing modality's features are zeroed at the fusion input (late fusion averages only the
//! present modalities' logits).

pub mod backend;
pub mod encoder;
pub mod fusion;
pub mod model;
pub mod params;
pub mod text_encoder;

pub use model::{encoder_name, Encoded, ModelConfig, ModelOutput, MultimodalClassifier, NnError};
