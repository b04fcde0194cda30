//! Experiments and projects on top of `polymodal-train` and `polymodal-active`: run directories
//! and the resumable cell grid, one train-a-cell pipeline shared by `train`, `compare` and
//! `simulate`, the fusion comparison, the active-learning simulation, labelling projects and
//! reports. Nothing here prints or exits: long work reports through observer traits and every
//! failure is a [`LabError`].

pub mod error;

pub use error::LabError;
pub mod project;
pub mod serve;
