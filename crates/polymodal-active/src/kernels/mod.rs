//! Framework-free kernels behind the strategies, all over plain row-major `f32` slices and
//! multi-threaded with rayon. Parallel reductions use fixed chunking and ordered or
//! order-independent combination, so results do not depend on the thread count.

pub mod argmax;
pub mod blocks;
pub mod dot;
pub mod grad_embedding;
pub mod kcenter;
pub mod kmeanspp;
pub mod lloyd;
pub mod nearest;
pub mod topk;
pub mod uncertainty;

pub use blocks::{Blocks, OwnedBlocks};
pub use grad_embedding::{kmeanspp_step_bytes, pseudo_labels, GradEmbedding};
pub use kcenter::kcenter_greedy;
pub use kmeanspp::{kmeanspp, FirstCentre, Metric};
pub use lloyd::{kmeans_select, lloyd, Clustering};
pub use nearest::nearest;
pub use topk::top_k;
