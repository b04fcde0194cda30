//! Framework-free building blocks shared by every polymodal crate.
//!
//! Nothing here knows about tensors: modality descriptions, sample ids and splits, classification
//! metrics, exact Shapley contributions of the modalities, seed derivation, the run manifest written into every run directory, and atomic file
//! writes (so an interrupted run never leaves a file that looks complete).
//!
//! ```
//! use polymodal_core::metrics::ClassificationMetrics;
//! // two samples, two classes: one right, one wrong
//! let probs = [0.9, 0.1, 0.8, 0.2];
//! let m = ClassificationMetrics::from_probs(&probs, 2, &[0, 1]).unwrap();
//! assert_eq!(m.accuracy, 0.5);
//! ```

pub mod error;
pub mod fsutil;
pub mod metrics;
pub mod modality;
pub mod run;
pub mod sample;
pub mod seed;
pub mod shapley;

pub use error::CoreError;
pub use modality::{ModalityKind, ModalitySpec, TEXT_VOCAB};
pub use sample::{SampleId, Split, UnknownSplit};
