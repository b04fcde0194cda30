//! Datasets for polymodal.
//!
//! A [`Dataset`] is a set of samples with stable ids, optional labels, a stored split, and one
//! entry per modality with an explicit presence mask (a missing modality is never a silent zero).
//! Modality values are held as model-ready `f32` arrays; [`Dataset::batch`] gathers a batch and
//! applies seeded load-time augmentation.
//!
//! The built-in set is AV-Digits ([`avdigits`]): real MNIST digits paired with spoken digits
//! synthesised by espeak-ng; its audio goes through the Rust front end in [`audio`]
//! (mu-law decode → noise at a stored SNR → log-mel).
//!
//! A user's own data arrives through [`import`]: a CSV/JSONL manifest of image, audio, text and
//! feature files is decoded once ([`import::decode`]), checked row by row, and written as a
//! dataset directory ([`store`]) with a data card; [`store::load`] turns it into a [`Dataset`].
//!
//! Bad input is refused, never crashed on: the import schema is checked against upper bounds
//! before any work ([`import::schema::Schema::check`]), media headers are checked before
//! decoding and a decoder panic fails only its row, and every loader ends with
//! [`Dataset::validate`], so a hand-edited dataset directory is an error naming the file.

pub mod audio;
pub mod augment;
pub mod avdigits;
pub mod dataset;
pub mod error;
pub mod import;
pub mod split;
pub mod store;
pub mod text;

pub use augment::AugmentConfig;
pub use avdigits::{AudioDegradation, AvDigitsConfig, ImageDegradation};
pub use dataset::{Batch, Dataset, ModalityData};
pub use error::DataError;
