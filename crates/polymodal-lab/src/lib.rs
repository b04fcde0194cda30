//! Experiments and projects on top of `polymodal-train` and `polymodal-active`: run directories
//! and the resumable cell grid, one train-a-cell pipeline ([`cell::run_cell`]) shared by
//! `train`, `compare` and `simulate`, the fusion comparison, the active-learning simulation,
//! labelling projects and reports. Nothing here prints or exits: long work reports through
//! [`progress::Progress`] and `polymodal_train::TrainObserver`, and every failure is a
//! [`LabError`]. Configs are parsed, then validated once ([`config::Checked`]) before any work.
//!
//! ```
//! use polymodal_lab::config::RunConfig;
//! let cfg = RunConfig::built_in(&["train.epochs=2".into()]).unwrap();
//! let checked = cfg.check("built-in").unwrap();
//! assert_eq!(checked.train.epochs, 2);
//! assert!(RunConfig::built_in(&["train.epochs=0".into()]).unwrap().check("x").is_err());
//! ```

pub mod arrays;
pub mod bench;
pub mod cell;
pub mod compare;
pub mod config;
pub mod csvfile;
pub mod data;
pub mod demo;
pub mod diagnostics;
pub mod embed;
pub mod error;
pub mod eval;
pub mod laziness;
pub mod plot;
pub mod progress;
pub mod report;
pub mod rounds;
pub mod rundir;
pub mod simulate;
pub mod stats;
pub mod train;
// Cold start (docs/COLD_START.md): self-supervised pretraining, retrieval, first-batch selection.
pub mod coldstart;
pub mod pretrain;
pub mod retrieve;

pub use error::LabError;
pub mod project;
pub mod serve;
