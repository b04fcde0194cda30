//! A small vision-language model trained from scratch on composed scenes, and the machinery to
//! study object hallucination with it (docs/HALLUCINATION.md, docs/METHODS.md §6):
//!
//! - [`scenes`]: canvases of 1–4 source images (the built-in digits or any imported image set
//!   with class labels) with a planted co-occurrence bias in training, an in-distribution and a
//!   bias-breaking test split, and three templated instruction types;
//! - [`tokenizer`]: a word-level vocabulary built from the training text, saved with the model;
//! - [`model`]: CNN patch tokens → projector → causal transformer decoder, conditioned by an
//!   image prefix or by cross-attention, with greedy and top-k decoding over a KV cache;
//! - [`vd`]: per-token visual dependence and token classes;
//! - [`metrics`]: CHAIR and POPE computed exactly from scene ground truth;
//! - [`train`]: teacher-forced training with the baseline, image-negative reweighting
//!   (discrete and continuous), filtering and PRIOR-style variants;
//! - [`run`]: run directories, reports and the example grid used by `polymodal vl`.

pub mod bench;
pub mod error;
pub mod metrics;
pub mod model;
pub mod run;
pub mod scenes;
pub mod tokenizer;
pub mod train;
pub mod vd;

pub use error::VlError;
