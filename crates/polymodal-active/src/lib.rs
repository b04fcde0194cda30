//! Multimodal active-learning selection over plain `f32` arrays (no tensor framework).
//!
//! A strategy reads what it needs about the unlabelled pool from a [`SelectionContext`] (fused
//! and per-modality softmax, per-modality penultimate features, MC-dropout passes, the fused
//! softmax of every modality subset) and returns `budget` distinct dataset indices from
//! `ctx.pool()`. The contract, shared by every [`StrategyKind`]:
//!
//! - arrays are row-major over the pool in pool order: `[n, C]`, `M x [n, d_m]`, `[T, n, C]`,
//!   `2^M x [n, C]`; a wrong length is an [`ActiveError::Shape`] naming the array;
//! - `budget > pool` is [`ActiveError::BudgetTooLarge`], `budget == pool` returns the whole pool
//!   and `budget == 0` nothing;
//! - the same rng state gives the same selection, whatever the number of threads; score ties go
//!   to the lower pool position.
//!
//! Strategies (docs/METHODS.md §1, §3, §4): `random`, `entropy`, `margin`, `least_confidence`,
//! `bald` (MC dropout), `coreset` (k-center greedy), `kmeans` (Lloyd), `badge` and `bmmal`
//! (Shapley-balanced BADGE). BADGE and BMMAL never build the `n x C·Σd` gradient embedding:
//! distances are factorised (see [`kernels::GradEmbedding`]), so memory stays `O(n (C + Σd))`
//! and the feature blocks are read in place. The exact [`shapley`] values double as the
//! modality-balance metric.
//!
//! ```
//! use polymodal_active::{ArrayContext, StrategyKind, StrategyParams};
//! use polymodal_core::seed::rng;
//!
//! // pool of 4 samples (dataset ids 10..14), 2 classes, one modality with 1-d features
//! let mut ctx = ArrayContext::new(vec![10, 11, 12, 13], vec![], 2, vec![1]);
//! ctx.fused_probs = Some(vec![0.9, 0.1, 0.5, 0.5, 0.99, 0.01, 0.6, 0.4]);
//! let entropy = StrategyKind::Entropy.build(&StrategyParams::default());
//! let picked = entropy.select(&mut ctx, 2, &mut rng(0, "select")).unwrap();
//! assert_eq!(picked, vec![11, 13]); // the two flattest rows, most uncertain first
//! ```

pub mod array_context;
pub mod bench;
mod check;
pub mod coldstart;
pub mod context;
pub mod error;
pub mod kernels;
pub mod kind;
pub mod strategy;

/// Exact Shapley contributions live in `polymodal_core` (training's diagnostics use them too).
pub use polymodal_core::shapley;

pub use array_context::ArrayContext;
pub use context::SelectionContext;
pub use error::ActiveError;
pub use kind::{StrategyKind, StrategyParams};
pub use strategy::Strategy;
